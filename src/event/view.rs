//! A CloudTrail record borrowed from the decompressed log file.
//!
//! [`RecordView`] has every field of [`CloudTrailEvent`], read as leniently,
//! but its strings point into the input wherever they hold no escape and its
//! raw JSON objects are slices of it: reading a record allocates nothing
//! for most records. Replay asks the engine, from a few of its fields,
//! whether any rule can look at the record, and builds the owned event
//! ([`RecordView::to_event`]) only when one can.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::lenient;
use super::{
    CloudTrailEvent, IdentityType, RawObject, SessionAttributes, SessionContext, SessionIssuer,
    UserIdentity,
};

/// A string field as [`lenient::string`] reads it, borrowed when it can be.
type Text<'a> = Option<Cow<'a, str>>;

/// One CloudTrail record, borrowed; the same fields as [`CloudTrailEvent`].
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordView<'a> {
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub event_version: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::object")]
    pub user_identity: UserIdentityView<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub event_time: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub event_source: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub event_name: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub aws_region: Text<'a>,
    #[serde(
        default,
        borrow,
        rename = "sourceIPAddress",
        deserialize_with = "lenient::text"
    )]
    pub source_ip_address: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub user_agent: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub error_code: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub error_message: Text<'a>,
    #[serde(default, borrow)]
    pub request_parameters: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub response_elements: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub additional_event_data: Option<&'a RawValue>,
    #[serde(
        default,
        borrow,
        rename = "requestID",
        deserialize_with = "lenient::text"
    )]
    pub request_id: Text<'a>,
    #[serde(
        default,
        borrow,
        rename = "eventID",
        deserialize_with = "lenient::text"
    )]
    pub event_id: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub event_type: Text<'a>,
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub read_only: Option<bool>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub recipient_account_id: Text<'a>,
}

/// `userIdentity`, borrowed.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserIdentityView<'a> {
    #[serde(default, borrow, rename = "type", deserialize_with = "lenient::text")]
    pub kind: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub principal_id: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub arn: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub account_id: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub access_key_id: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub user_name: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub invoked_by: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::object")]
    pub session_context: SessionContextView<'a>,
}

/// `userIdentity.sessionContext`, borrowed.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionContextView<'a> {
    #[serde(default, borrow, deserialize_with = "lenient::object")]
    pub session_issuer: SessionIssuerView<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::object")]
    pub attributes: SessionAttributesView<'a>,
}

/// `userIdentity.sessionContext.sessionIssuer`, borrowed.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionIssuerView<'a> {
    #[serde(default, borrow, rename = "type", deserialize_with = "lenient::text")]
    pub kind: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub arn: Text<'a>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub user_name: Text<'a>,
}

/// `userIdentity.sessionContext.attributes`, borrowed.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAttributesView<'a> {
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub mfa_authenticated: Option<bool>,
    #[serde(default, borrow, deserialize_with = "lenient::text")]
    pub creation_date: Text<'a>,
}

fn owned(text: &Text<'_>) -> Option<String> {
    text.as_deref().map(str::to_owned)
}

fn raw(value: Option<&RawValue>) -> RawObject {
    RawObject::from_raw(value.map(RawValue::to_owned))
}

impl RecordView<'_> {
    pub fn source(&self) -> &str {
        self.event_source.as_deref().unwrap_or("")
    }

    pub fn name(&self) -> &str {
        self.event_name.as_deref().unwrap_or("")
    }

    /// `userIdentity.type` as CloudTrail wrote it.
    pub fn identity_type(&self) -> Option<&str> {
        self.user_identity.kind.as_deref()
    }

    /// As [`CloudTrailEvent::account_id`].
    pub fn account_id(&self) -> Option<&str> {
        self.recipient_account_id
            .as_deref()
            .or(self.user_identity.account_id.as_deref())
            .filter(|a| !a.is_empty())
    }

    /// As [`CloudTrailEvent::principal_arns`].
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

    /// The owned event, field for field what [`CloudTrailEvent`]'s own
    /// deserializer makes of the same record.
    pub fn to_event(&self) -> CloudTrailEvent {
        let id = &self.user_identity;
        let issuer = &id.session_context.session_issuer;
        let attributes = &id.session_context.attributes;
        CloudTrailEvent {
            event_version: owned(&self.event_version),
            user_identity: UserIdentity {
                kind: owned(&id.kind).map(IdentityType::from),
                principal_id: owned(&id.principal_id),
                arn: owned(&id.arn),
                account_id: owned(&id.account_id),
                access_key_id: owned(&id.access_key_id),
                user_name: owned(&id.user_name),
                invoked_by: owned(&id.invoked_by),
                session_context: SessionContext {
                    session_issuer: SessionIssuer {
                        kind: owned(&issuer.kind),
                        arn: owned(&issuer.arn),
                        user_name: owned(&issuer.user_name),
                    },
                    attributes: SessionAttributes {
                        mfa_authenticated: attributes.mfa_authenticated,
                        creation_date: owned(&attributes.creation_date),
                    },
                },
            },
            event_time: owned(&self.event_time),
            event_source: owned(&self.event_source),
            event_name: owned(&self.event_name),
            aws_region: owned(&self.aws_region),
            source_ip_address: owned(&self.source_ip_address),
            user_agent: owned(&self.user_agent),
            error_code: owned(&self.error_code),
            error_message: owned(&self.error_message),
            request_parameters: raw(self.request_parameters),
            response_elements: raw(self.response_elements),
            additional_event_data: raw(self.additional_event_data),
            request_id: owned(&self.request_id),
            event_id: owned(&self.event_id),
            event_type: owned(&self.event_type),
            read_only: self.read_only,
            recipient_account_id: owned(&self.recipient_account_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The owned event built from the view, shown field by field.
    fn via_view(text: &str) -> String {
        let view: RecordView = serde_json::from_str(text).unwrap();
        format!("{:?}", view.to_event())
    }

    fn direct(text: &str) -> String {
        format!("{:?}", CloudTrailEvent::from_json(text).unwrap())
    }

    #[test]
    fn the_view_makes_the_same_event_as_the_owned_model() {
        for text in [
            r#"{"eventVersion": "1.08", "eventName": "CreateUser", "eventSource": "iam.amazonaws.com",
                "eventTime": "2024-01-02T03:04:05Z", "awsRegion": "us-east-1", "sourceIPAddress": "192.0.2.1",
                "userAgent": "a\"b\u00e9", "errorCode": "AccessDenied", "errorMessage": "no",
                "requestParameters": {"userName": "bob"}, "responseElements": null,
                "additionalEventData": "{\"x\": 1}", "requestID": "r", "eventID": "e",
                "eventType": "AwsApiCall", "readOnly": "True", "recipientAccountId": "111122223333",
                "userIdentity": {"type": "AssumedRole", "principalId": "p", "arn": "arn:aws:sts::1:assumed-role/r/s",
                  "accountId": "1", "accessKeyId": "AKIA", "userName": "u", "invokedBy": "x",
                  "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::1:role/r", "userName": "r"},
                    "attributes": {"mfaAuthenticated": "false", "creationDate": "2024"}}}}"#,
            r#"{"eventName": 7, "readOnly": true, "userIdentity": "x", "requestParameters": "null",
                "responseElements": [1], "eventSource": null, "errorCode": {"a": 1}, "eventID": 1.5,
                "recipientAccountId": false}"#,
            r#"{"userIdentity": {"type": "SomethingNew", "sessionContext": [1, 2]}, "unknown": {"a": [1]}}"#,
        ] {
            assert_eq!(via_view(text), direct(text), "{text}");
        }
    }

    #[test]
    fn a_duplicate_field_fails_as_in_the_owned_model() {
        let text = r#"{"eventName": "A", "userIdentity": {"arn": "a", "arn": "b"}}"#;
        let owned = CloudTrailEvent::from_json(text).unwrap_err().to_string();
        let view = serde_json::from_str::<RecordView>(text)
            .unwrap_err()
            .to_string();
        assert_eq!(view, owned);
    }

    #[test]
    fn plain_strings_are_borrowed() {
        let view: RecordView =
            serde_json::from_str(r#"{"eventName": "CreateUser", "userAgent": "a\nb"}"#).unwrap();
        assert!(matches!(view.event_name, Some(Cow::Borrowed("CreateUser"))));
        assert!(matches!(view.user_agent, Some(Cow::Owned(_))));
    }
}
