//! The tolerant CloudTrail event model.
//!
//! Every field is optional and parsed leniently (see [`lenient`]): the engine
//! reads what it needs through accessors and a missing or oddly typed field
//! never fails an event. `requestParameters`, `responseElements` and
//! `additionalEventData` are kept as raw JSON and decoded on first use, so an
//! event no rule looks at costs no more than a scan of its bytes.

pub mod archive;
mod gunzip;
pub mod input;
pub mod lenient;
pub mod paths;
pub mod policy;
pub mod skim;
pub mod view;

use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// One CloudTrail record, as found in a log file or an EventBridge `detail`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CloudTrailEvent {
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_version: Option<String>,
    #[serde(default, deserialize_with = "lenient::object")]
    pub user_identity: UserIdentity,
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_time: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_source: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub aws_region: Option<String>,
    #[serde(
        default,
        rename = "sourceIPAddress",
        deserialize_with = "lenient::string"
    )]
    pub source_ip_address: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_agent: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub error_code: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub error_message: Option<String>,
    #[serde(default)]
    pub request_parameters: RawObject,
    #[serde(default)]
    pub response_elements: RawObject,
    #[serde(default)]
    pub additional_event_data: RawObject,
    #[serde(default, rename = "requestID", deserialize_with = "lenient::string")]
    pub request_id: Option<String>,
    #[serde(default, rename = "eventID", deserialize_with = "lenient::string")]
    pub event_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub event_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub read_only: Option<bool>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub recipient_account_id: Option<String>,
}

/// Who made the call (`userIdentity`).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentity {
    #[serde(default, rename = "type", deserialize_with = "identity_type")]
    pub kind: Option<IdentityType>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub principal_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub arn: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub account_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub access_key_id: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_name: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub invoked_by: Option<String>,
    #[serde(default, deserialize_with = "lenient::object")]
    pub session_context: SessionContext,
}

/// `userIdentity.sessionContext`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContext {
    #[serde(default, deserialize_with = "lenient::object")]
    pub session_issuer: SessionIssuer,
    #[serde(default, deserialize_with = "lenient::object")]
    pub attributes: SessionAttributes,
}

/// `userIdentity.sessionContext.sessionIssuer`; often `{}`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuer {
    #[serde(default, rename = "type", deserialize_with = "lenient::string")]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub arn: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub user_name: Option<String>,
}

/// `userIdentity.sessionContext.attributes`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributes {
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub mfa_authenticated: Option<bool>,
    #[serde(default, deserialize_with = "lenient::string")]
    pub creation_date: Option<String>,
}

/// A JSON object kept as raw text until a rule asks for it.
///
/// Accepts an object, `null`, a missing field, or a string holding JSON (some
/// producers write `"null"` or a serialized object); anything else reads as
/// absent.
#[derive(Debug, Default)]
pub struct RawObject {
    raw: Option<Box<RawValue>>,
    decoded: OnceLock<Option<Map<String, Value>>>,
}

impl<'de> Deserialize<'de> for RawObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RawObject {
            raw: Option::<Box<RawValue>>::deserialize(d)?,
            decoded: OnceLock::new(),
        })
    }
}

impl RawObject {
    /// Raw JSON text kept as it came, decoded on first use.
    pub fn from_raw(raw: Option<Box<RawValue>>) -> Self {
        RawObject {
            raw,
            decoded: OnceLock::new(),
        }
    }

    /// The decoded object, or `None` when absent, null or not an object.
    pub fn get(&self) -> Option<&Map<String, Value>> {
        self.decoded
            .get_or_init(|| {
                let raw = self.raw.as_ref()?;
                // A raw value keeps a lone surrogate escape that decoding
                // refuses: replace it (U+FFFD) rather than lose the object.
                let value = serde_json::from_str::<Value>(raw.get()).ok().or_else(|| {
                    let repaired = input::repair_lone_surrogates(raw.get().as_bytes());
                    serde_json::from_slice::<Value>(&repaired).ok()
                })?;
                match value {
                    Value::Object(map) => Some(map),
                    Value::String(text) => match serde_json::from_str::<Value>(&text).ok()? {
                        Value::Object(map) => Some(map),
                        _ => None,
                    },
                    _ => None,
                }
            })
            .as_ref()
    }
}

/// The caller's identity type (`userIdentity.type`). Any string parses:
/// one AWS has not documented yet is kept as it came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityType {
    Root,
    IamUser,
    AssumedRole,
    Role,
    FederatedUser,
    AwsAccount,
    AwsService,
    IdentityCenterUser,
    SamlUser,
    WebIdentityUser,
    Unknown,
    Other(String),
}

impl IdentityType {
    /// The text CloudTrail writes: `Root`, `IAMUser`, `AWSService`, ...
    pub fn as_str(&self) -> &str {
        match self {
            IdentityType::Root => "Root",
            IdentityType::IamUser => "IAMUser",
            IdentityType::AssumedRole => "AssumedRole",
            IdentityType::Role => "Role",
            IdentityType::FederatedUser => "FederatedUser",
            IdentityType::AwsAccount => "AWSAccount",
            IdentityType::AwsService => "AWSService",
            IdentityType::IdentityCenterUser => "IdentityCenterUser",
            IdentityType::SamlUser => "SAMLUser",
            IdentityType::WebIdentityUser => "WebIdentityUser",
            IdentityType::Unknown => "Unknown",
            IdentityType::Other(s) => s,
        }
    }
}

impl From<String> for IdentityType {
    fn from(s: String) -> Self {
        match s.as_str() {
            "Root" => IdentityType::Root,
            "IAMUser" => IdentityType::IamUser,
            "AssumedRole" => IdentityType::AssumedRole,
            "Role" => IdentityType::Role,
            "FederatedUser" => IdentityType::FederatedUser,
            "AWSAccount" => IdentityType::AwsAccount,
            "AWSService" => IdentityType::AwsService,
            "IdentityCenterUser" => IdentityType::IdentityCenterUser,
            "SAMLUser" => IdentityType::SamlUser,
            "WebIdentityUser" => IdentityType::WebIdentityUser,
            "Unknown" => IdentityType::Unknown,
            _ => IdentityType::Other(s),
        }
    }
}

impl Serialize for IdentityType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// `userIdentity.type` as leniently as any other string field.
fn identity_type<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IdentityType>, D::Error> {
    Ok(lenient::string(d)?.map(IdentityType::from))
}

/// The actor of an event in the shape reports use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    #[serde(rename = "type")]
    pub kind: Option<IdentityType>,
    pub arn: Option<String>,
}

impl CloudTrailEvent {
    /// Parses one record from its JSON text.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    pub fn source(&self) -> &str {
        self.event_source.as_deref().unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.event_name.as_deref().unwrap_or("")
    }

    /// True for `eventSource == source && eventName == name`.
    pub fn is(&self, source: &str, name: &str) -> bool {
        self.source() == source && self.name() == name
    }

    /// The caller's identity type, when the event names one.
    pub fn identity_type(&self) -> Option<&IdentityType> {
        self.user_identity.kind.as_ref()
    }

    pub fn is_root(&self) -> bool {
        self.identity_type() == Some(&IdentityType::Root)
    }

    pub fn request(&self) -> Option<&Map<String, Value>> {
        self.request_parameters.get()
    }

    pub fn response(&self) -> Option<&Map<String, Value>> {
        self.response_elements.get()
    }

    pub fn additional(&self) -> Option<&Map<String, Value>> {
        self.additional_event_data.get()
    }

    /// A string field of `requestParameters`; empty strings read as absent.
    pub fn request_str(&self, key: &str) -> Option<&str> {
        non_empty_str(self.request()?.get(key)?)
    }

    /// `responseElements.ConsoleLogin` of a sign-in event.
    pub fn console_login_result(&self) -> Option<&str> {
        non_empty_str(self.response()?.get("ConsoleLogin")?)
    }

    /// Did the call fail? An `errorCode`, or a console sign-in whose result
    /// is anything but `Success` (failed sign-ins carry no `errorCode`).
    pub fn failed(&self) -> bool {
        if self.error_code.as_deref().is_some_and(|c| !c.is_empty()) {
            return true;
        }
        self.name() == "ConsoleLogin" && self.console_login_result() != Some("Success")
    }

    /// The account the event belongs to.
    pub fn account_id(&self) -> Option<&str> {
        self.recipient_account_id
            .as_deref()
            .or(self.user_identity.account_id.as_deref())
            .filter(|a| !a.is_empty())
    }

    /// The caller's IAM user name when the caller is an IAM user.
    pub fn calling_user(&self) -> Option<&str> {
        if self.identity_type() != Some(&IdentityType::IamUser) {
            return None;
        }
        self.user_identity
            .user_name
            .as_deref()
            .filter(|n| !n.is_empty())
            .or_else(|| {
                let arn = self.user_identity.arn.as_deref()?;
                arn.rsplit_once(":user/")
                    .map(|(_, path)| path.rsplit('/').next().unwrap_or(path))
            })
    }

    /// The ARNs that identify the caller: its own ARN and, for a role
    /// session, the role it assumed.
    pub fn principal_arns(&self) -> impl Iterator<Item = &str> {
        [
            self.user_identity.arn.as_deref(),
            self.user_identity
                .session_context
                .session_issuer
                .arn
                .as_deref(),
        ]
        .into_iter()
        .flatten()
        .filter(|a| !a.is_empty())
    }

    pub fn actor(&self) -> Actor {
        Actor {
            kind: self.user_identity.kind.clone(),
            arn: self.user_identity.arn.clone().filter(|a| !a.is_empty()),
        }
    }

    /// A label for the caller that reads well in an alert.
    pub fn actor_label(&self) -> String {
        let id = &self.user_identity;
        if self.is_root() {
            return format!("root ({})", self.account_id().unwrap_or("unknown account"));
        }
        id.arn
            .clone()
            .filter(|a| !a.is_empty())
            .or_else(|| id.user_name.clone())
            .or_else(|| id.principal_id.clone())
            .unwrap_or_else(|| {
                let kind = self.identity_type().map_or("", IdentityType::as_str);
                format!("{kind} caller")
            })
    }
}

/// A JSON string that is not empty.
pub fn non_empty_str(value: &Value) -> Option<&str> {
    value.as_str().filter(|s| !s.is_empty())
}

/// An ARN's six parts (`arn`, partition, service, region, account,
/// resource); the last may hold `:`. `None` with fewer than six.
pub fn arn_parts(arn: &str) -> Option<[&str; 6]> {
    let mut it = arn.splitn(6, ':');
    Some([
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_field_types_read_as_absent_not_errors() {
        let ev = CloudTrailEvent::from_json(
            r#"{"eventName": 7, "readOnly": "True", "userIdentity": "x",
                "requestParameters": "null", "responseElements": [1],
                "eventSource": null, "errorCode": {"a": 1}}"#,
        )
        .unwrap();
        assert_eq!(ev.event_name.as_deref(), Some("7"));
        assert_eq!(ev.read_only, Some(true));
        assert!(ev.user_identity.kind.is_none());
        assert!(ev.request().is_none());
        assert!(ev.response().is_none());
        assert!(ev.event_source.is_none());
        assert!(ev.error_code.is_none());
    }

    #[test]
    fn request_parameters_serialized_as_a_string_are_decoded() {
        let ev = CloudTrailEvent::from_json(r#"{"requestParameters": "{\"userName\": \"bob\"}"}"#)
            .unwrap();
        assert_eq!(ev.request_str("userName"), Some("bob"));
    }

    #[test]
    fn failed_console_login_has_no_error_code_but_is_failed() {
        let ev = CloudTrailEvent::from_json(
            r#"{"eventName": "ConsoleLogin", "errorMessage": "Failed authentication",
                "responseElements": {"ConsoleLogin": "Failure"}}"#,
        )
        .unwrap();
        assert!(ev.failed());
        let ok = CloudTrailEvent::from_json(
            r#"{"eventName": "ConsoleLogin", "responseElements": {"ConsoleLogin": "Success"}}"#,
        )
        .unwrap();
        assert!(!ok.failed());
    }

    #[test]
    fn a_lone_surrogate_in_request_parameters_does_not_lose_them() {
        let ev = CloudTrailEvent::from_json(
            r#"{"requestParameters": {"userName": "bob", "note": "x\ud800"}}"#,
        )
        .unwrap();
        assert_eq!(ev.request_str("userName"), Some("bob"));
        assert_eq!(ev.request_str("note"), Some("x\u{FFFD}"));
    }

    #[test]
    fn calling_user_falls_back_to_the_arn() {
        let ev = CloudTrailEvent::from_json(
            r#"{"userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/team/alice"}}"#,
        )
        .unwrap();
        assert_eq!(ev.calling_user(), Some("alice"));
    }
}
