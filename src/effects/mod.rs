//! Effects: the narrow interfaces through which trailguard changes or tells
//! the world, with their real adapters and in-memory stand-ins.
//!
//! Remediations, alerts and the scan's reads ([`CredentialSource`]) are
//! written against these traits only. The AWS SDK adapters ([`aws`], one per
//! service; the alert state table's in [`aws_state`]; [`s3`] for the
//! archives replay reads) and the webhook adapter ([`webhook`]) are the only
//! code that sees SDK or HTTP types; [`memory`] holds recording fakes for
//! unit tests and [`faults`] wraps any [`Iam`] (or S3 store) to fail at a
//! chosen call.
//!
//! Operation names (`iam:CreateGroup`, ...) are the IAM action names, so the
//! calls a remediation makes can be checked against the permissions its
//! registry entry declares.

pub mod alert_state;
pub mod aws;
pub mod aws_http;
pub mod aws_hub;
pub mod aws_member;
pub mod aws_state;
pub mod credentials;
pub mod held;
pub mod hub;
pub mod lazy;
pub mod member;
// The fakes stay out of the Lambda and the CLI: unit tests and the
// `test-util` feature (the integration tests) build them.
#[cfg(any(test, feature = "test-util"))]
pub mod faults;
#[cfg(any(test, feature = "test-util"))]
pub mod memory;
pub mod s3;
pub mod webhook;

use async_trait::async_trait;
use serde::Serialize;

use crate::inventory::PasswordBaseline;

pub use alert_state::{AlertState, Claim, ClaimTimes, Fold, Member, Window};
pub use credentials::{CredentialSource, ReportFetch, ReportState};
pub use hub::{FindingsHub, HubFinding};
pub use member::{
    AccountEffects, AccountLister, AccountNames, MemberAccess, MemberTarget, ScanQueue,
};

/// What kind of failure an effect met; decides retries and reactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The entity does not exist (IAM `NoSuchEntity`, CloudTrail `TrailNotFoundException`).
    NotFound,
    /// The entity already exists (IAM `EntityAlreadyExists`).
    AlreadyExists,
    /// A service quota was hit (IAM `LimitExceeded`).
    LimitExceeded,
    /// Throttling; worth a retry.
    Throttled,
    /// 5xx, timeout, connection failure, a concurrent change of the entity
    /// under way; worth a retry.
    Unavailable,
    /// The caller may not do this; a retry will not help.
    AccessDenied,
    /// The request was rejected as invalid; a retry will not help.
    Invalid,
    /// Anything else; not retried.
    Other,
}

impl ErrorKind {
    /// A short label for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::LimitExceeded => "limit exceeded",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::AccessDenied => "access denied",
            ErrorKind::Invalid => "invalid request",
            ErrorKind::Other => "error",
        }
    }

    /// Classifies a service error code and HTTP status.
    pub fn from_code(code: Option<&str>, status: Option<u16>) -> ErrorKind {
        match code.unwrap_or("") {
            "NoSuchEntity"
            | "NotFound"
            | "ResourceNotFoundException"
            | "TrailNotFoundException"
            | "NotFoundException" => return ErrorKind::NotFound,
            "EntityAlreadyExists" | "ResourceExistsException" => return ErrorKind::AlreadyExists,
            "LimitExceeded" | "LimitExceededException" => return ErrorKind::LimitExceeded,
            "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "TooManyRequestsException"
            | "RequestLimitExceeded"
            | "RequestThrottled"
            | "RequestThrottledException"
            | "SlowDown"
            | "PriorRequestNotComplete" => return ErrorKind::Throttled,
            "ServiceFailure"
            | "ServiceFailureException"
            | "InternalFailure"
            | "InternalError"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "RequestTimeout"
            | "RequestTimeoutException"
            | "InternalServiceError"
            | "InternalServiceErrorException"
            | "KMSThrottling"
            // IAM, HTTP 409: another change to the entity is under way.
            | "ConcurrentModification"
            | "ConcurrentModificationException"
            | "EntityTemporarilyUnmodifiable" => return ErrorKind::Unavailable,
            "AccessDenied"
            | "AccessDeniedException"
            | "AuthorizationError"
            | "UnauthorizedOperation"
            | "InvalidClientTokenId"
            | "UnrecognizedClientException"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "SignatureDoesNotMatch"
            | "MissingAuthenticationToken"
            | "InsufficientDependencyServiceAccessPermissionException" => {
                return ErrorKind::AccessDenied;
            }
            "ValidationError"
            | "ValidationException"
            | "InvalidInput"
            | "InvalidParameter"
            | "InvalidParameterValue"
            | "InvalidParameterException"
            | "MalformedPolicyDocument"
            | "PolicyNotAttachable"
            | "MalformedInput"
            | "DeleteConflict"
            | "PasswordPolicyViolation"
            | "InvalidTrailNameException"
            | "InvalidHomeRegionException"
            | "InvalidRequestException"
            | "DecryptionFailure" => return ErrorKind::Invalid,
            _ => {}
        }
        match status {
            Some(429) => ErrorKind::Throttled,
            Some(s) if s >= 500 => ErrorKind::Unavailable,
            Some(401 | 403) => ErrorKind::AccessDenied,
            Some(404) => ErrorKind::NotFound,
            Some(s) if s >= 400 => ErrorKind::Invalid,
            _ => ErrorKind::Other,
        }
    }
}

/// A failed effect: which operation, what kind of failure, what the service said.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{operation}` failed ({}{}): {message}", kind.as_str(), code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
pub struct EffectError {
    pub operation: &'static str,
    pub kind: ErrorKind,
    /// The service's error code, when it gave one.
    pub code: Option<String>,
    pub message: String,
}

impl EffectError {
    /// An error without a service code.
    pub fn new(operation: &'static str, kind: ErrorKind, message: impl Into<String>) -> Self {
        EffectError {
            operation,
            kind,
            code: None,
            message: message.into(),
        }
    }

    /// Throttling, 5xx and transport failures: the same call may succeed later.
    pub fn is_retryable(&self) -> bool {
        matches!(self.kind, ErrorKind::Throttled | ErrorKind::Unavailable)
    }

    /// The entity the call named does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }
}

/// The account quotas remediations respect (from `GetAccountSummary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quotas {
    /// `GroupsPerUserQuota`.
    pub groups_per_user: u32,
    /// `AttachedPoliciesPerGroupQuota`.
    pub policies_per_group: u32,
    /// `Groups` in the account now.
    pub groups: u32,
    /// `GroupsQuota`.
    pub groups_quota: u32,
}

impl Default for Quotas {
    /// IAM's documented defaults.
    fn default() -> Self {
        Quotas {
            groups_per_user: 10,
            policies_per_group: 10,
            groups: 0,
            groups_quota: 300,
        }
    }
}

/// A group a user belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupRef {
    pub name: String,
    pub path: String,
}

/// A group and its members (`GetGroup`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupInfo {
    pub name: String,
    pub path: String,
    pub members: Vec<String>,
}

/// A user as `GetUser` describes it: what its exemptions are checked on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserInfo {
    /// Its real ARN, with its path and partition
    /// (`arn:aws:iam::111122223333:user/ops/breakglass`).
    pub arn: String,
    /// `(key, value)` pairs.
    pub tags: Vec<(String, String)>,
}

/// A managed policy as `GetPolicy` describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyInfo {
    /// `IsAttachable`: false for a deprecated AWS managed policy, which IAM
    /// refuses to attach to anything new (`PolicyNotAttachable`).
    pub attachable: bool,
}

/// An access key of a user (`ListAccessKeys`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccessKey {
    pub id: String,
    pub active: bool,
}

/// The IAM operations remediations need, and nothing more.
///
/// Reads of a single named entity answer `Ok(None)` when it does not exist;
/// writes and list calls on a missing entity fail with [`ErrorKind::NotFound`].
/// Policy documents are returned URL-decoded.
#[async_trait]
pub trait Iam: Send + Sync {
    /// `iam:GetAccountSummary`.
    async fn quotas(&self) -> Result<Quotas, EffectError>;
    /// `iam:GetUser`: the user's ARN and tags; `None` when it does not exist.
    async fn user(&self, user: &str) -> Result<Option<UserInfo>, EffectError>;
    /// `iam:ListAttachedUserPolicies`: policy ARNs.
    async fn attached_user_policies(&self, user: &str) -> Result<Vec<String>, EffectError>;
    /// `iam:ListGroupsForUser`.
    async fn groups_for_user(&self, user: &str) -> Result<Vec<GroupRef>, EffectError>;
    /// `iam:GetGroup`; `None` when the group does not exist.
    async fn group(&self, group: &str) -> Result<Option<GroupInfo>, EffectError>;
    /// `iam:ListAttachedGroupPolicies`: policy ARNs.
    async fn attached_group_policies(&self, group: &str) -> Result<Vec<String>, EffectError>;
    /// `iam:ListGroupPolicies`: inline policy names.
    async fn group_policy_names(&self, group: &str) -> Result<Vec<String>, EffectError>;
    /// `iam:GetPolicy`; fails with [`ErrorKind::NotFound`] when the policy
    /// does not exist.
    async fn policy(&self, policy_arn: &str) -> Result<PolicyInfo, EffectError>;
    /// `iam:CreateGroup`.
    async fn create_group(&self, group: &str, path: &str) -> Result<(), EffectError>;
    /// `iam:AttachGroupPolicy`.
    async fn attach_group_policy(&self, group: &str, policy_arn: &str) -> Result<(), EffectError>;
    /// `iam:AddUserToGroup`.
    async fn add_user_to_group(&self, group: &str, user: &str) -> Result<(), EffectError>;
    /// `iam:RemoveUserFromGroup`.
    async fn remove_user_from_group(&self, group: &str, user: &str) -> Result<(), EffectError>;
    /// `iam:DetachUserPolicy`.
    async fn detach_user_policy(&self, user: &str, policy_arn: &str) -> Result<(), EffectError>;
    /// `iam:GetUserPolicy`; `None` when the user or the policy does not exist.
    async fn user_policy(&self, user: &str, name: &str) -> Result<Option<String>, EffectError>;
    /// `iam:GetGroupPolicy`; `None` when the group or the policy does not exist.
    async fn group_policy(&self, group: &str, name: &str) -> Result<Option<String>, EffectError>;
    /// `iam:PutGroupPolicy`.
    async fn put_group_policy(
        &self,
        group: &str,
        name: &str,
        document: &str,
    ) -> Result<(), EffectError>;
    /// `iam:DeleteUserPolicy`.
    async fn delete_user_policy(&self, user: &str, name: &str) -> Result<(), EffectError>;
    /// `iam:ListAccessKeys`.
    async fn access_keys(&self, user: &str) -> Result<Vec<AccessKey>, EffectError>;
    /// `iam:UpdateAccessKey` to `Inactive`.
    async fn deactivate_access_key(&self, user: &str, key_id: &str) -> Result<(), EffectError>;
    /// `iam:GetAccountPasswordPolicy`; `None` when the account has none.
    async fn password_policy(&self) -> Result<Option<PasswordBaseline>, EffectError>;
    /// `iam:UpdateAccountPasswordPolicy` with every field set.
    async fn update_password_policy(&self, policy: &PasswordBaseline) -> Result<(), EffectError>;
}

/// The CloudTrail operations remediations need.
#[async_trait]
pub trait TrailControl: Send + Sync {
    /// `cloudtrail:GetTrailStatus`: is the trail logging? `None` when it does
    /// not exist. `region` is the trail's home region when known.
    async fn is_logging(
        &self,
        region: Option<&str>,
        trail: &str,
    ) -> Result<Option<bool>, EffectError>;
    /// `cloudtrail:StartLogging`.
    async fn start_logging(&self, region: Option<&str>, trail: &str) -> Result<(), EffectError>;
}

/// One SNS message, ready to publish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SnsMessage {
    pub topic_arn: String,
    /// Printable ASCII, under 100 characters.
    pub subject: String,
    pub body: String,
    /// String message attributes, for subscription filter policies.
    pub attributes: Vec<(String, String)>,
    /// For FIFO topics: `(message group id, deduplication id)`.
    pub fifo: Option<(String, String)>,
}

/// Publishes alerts (`sns:Publish`).
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Returns the message id.
    async fn publish(&self, message: &SnsMessage) -> Result<String, EffectError>;
}

/// A secret string: never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself; only for the adapter that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Reads secrets (`secretsmanager:GetSecretValue`).
#[async_trait]
pub trait Secrets: Send + Sync {
    /// The string value of the secret.
    async fn secret_string(&self, secret_arn: &str) -> Result<Secret, EffectError>;
}

/// A Slack incoming-webhook URL. The URL is a credential: `Debug` and
/// `Display` never show it, and errors about it never include it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(Secret);

impl WebhookUrl {
    /// Accepts `https://` URLs, and `http://` only to a loopback host
    /// (local tests); never a user name or password. The error says which
    /// rule the URL broke and never repeats it (see [`webhook::check_url`]).
    pub fn parse(secret: Secret) -> Result<Self, &'static str> {
        webhook::check_url(secret.expose()).map(|url| WebhookUrl(Secret(url)))
    }

    /// The URL itself; only for the adapter that posts to it.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookUrl(<redacted>)")
    }
}

impl std::fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted webhook url>")
    }
}

/// Two policy documents with the same JSON value (IAM reformats what it
/// stores, so text comparison would see changes that are not there).
pub fn same_document(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Posts JSON to an incoming webhook (Slack).
#[async_trait]
pub trait Webhook: Send + Sync {
    /// POSTs `body` as JSON; any non-2xx answer is an error.
    async fn post_json(
        &self,
        url: &WebhookUrl,
        body: &serde_json::Value,
    ) -> Result<(), EffectError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_codes_and_statuses_are_classified() {
        let k = ErrorKind::from_code;
        assert_eq!(k(Some("Throttling"), Some(400)), ErrorKind::Throttled);
        assert_eq!(k(Some("ServiceFailure"), Some(500)), ErrorKind::Unavailable);
        assert_eq!(k(Some("AccessDenied"), Some(403)), ErrorKind::AccessDenied);
        assert_eq!(k(Some("ValidationError"), Some(400)), ErrorKind::Invalid);
        assert_eq!(k(Some("NoSuchEntity"), Some(404)), ErrorKind::NotFound);
        assert_eq!(k(None, Some(503)), ErrorKind::Unavailable);
        assert_eq!(k(Some("Whatever"), Some(502)), ErrorKind::Unavailable);
        assert_eq!(k(None, Some(429)), ErrorKind::Throttled);
        assert!(EffectError::new("iam:CreateGroup", ErrorKind::Throttled, "x").is_retryable());
        assert!(!EffectError::new("iam:CreateGroup", ErrorKind::AccessDenied, "x").is_retryable());
    }

    /// IAM answers these while another change to the same entity is under
    /// way (a concurrent delivery of the same event, a console edit): the
    /// same call succeeds a moment later.
    #[test]
    fn concurrent_changes_are_retryable() {
        for (code, status) in [
            ("ConcurrentModification", 409),
            ("ConcurrentModificationException", 409),
            ("EntityTemporarilyUnmodifiable", 409),
        ] {
            let kind = ErrorKind::from_code(Some(code), Some(status));
            assert_eq!(kind, ErrorKind::Unavailable, "{code}");
            assert!(EffectError::new("iam:AddUserToGroup", kind, "x").is_retryable());
        }
    }

    #[test]
    fn error_message_names_the_operation_and_code() {
        let mut e = EffectError::new("iam:CreateGroup", ErrorKind::AccessDenied, "no");
        e.code = Some("AccessDenied".into());
        assert_eq!(
            e.to_string(),
            "`iam:CreateGroup` failed (access denied, AccessDenied): no"
        );
    }

    #[test]
    fn webhook_url_never_prints_itself() {
        let url =
            WebhookUrl::parse(Secret::new("https://hooks.slack.com/services/T0/B0/XYZ")).unwrap();
        assert!(!format!("{url:?} {url}").contains("XYZ"));
        assert_eq!(url.expose(), "https://hooks.slack.com/services/T0/B0/XYZ");
        assert!(WebhookUrl::parse(Secret::new("http://example.com/x")).is_err());
        assert!(WebhookUrl::parse(Secret::new("http://127.0.0.1:9/hook")).is_ok());
        assert!(WebhookUrl::parse(Secret::new("ftp://x")).is_err());
        let err = WebhookUrl::parse(Secret::new("http://evil.example/SECRET")).unwrap_err();
        assert!(!err.contains("SECRET"));
    }
}
