//! From a CloudTrail call (`eventSource`, `eventName`) to the IAM actions it
//! needed. Most calls are named like their action; the exceptions are a
//! pinned table here, each with its test.

use super::table::{ActionInfo, ActionTable};

/// Event sources whose IAM service prefix is not the host's first label.
pub const SOURCE_PREFIXES: &[(&str, &str)] = &[
    ("monitoring", "cloudwatch"),
    ("email", "ses"),
    ("streams.dynamodb", "dynamodb"),
    ("tagging", "tag"),
    ("api.ecr", "ecr"),
    ("api.pricing", "pricing"),
    ("api.sagemaker", "sagemaker"),
    ("runtime.sagemaker", "sagemaker"),
    ("bedrock-runtime", "bedrock"),
    ("execute-api", "execute-api"),
    ("sso-directory", "sso-directory"),
    ("identitystore", "identitystore"),
    ("ssm-incidents", "ssm-incidents"),
    ("elasticfilesystem", "elasticfilesystem"),
    ("kinesisanalytics", "kinesisanalytics"),
];

/// Calls whose action is named differently from the call, by service
/// prefix and event name. The actions must exist in the table (a test
/// checks every one).
pub const RENAMED: &[(&str, &str, &[&str])] = &[
    ("s3", "ListObjects", &["ListBucket"]),
    ("s3", "ListObjectsV2", &["ListBucket"]),
    ("s3", "ListObjectVersions", &["ListBucketVersions"]),
    ("s3", "HeadObject", &["GetObject"]),
    ("s3", "HeadBucket", &["ListBucket"]),
    ("s3", "ListBuckets", &["ListAllMyBuckets"]),
    ("s3", "CreateMultipartUpload", &["PutObject"]),
    ("s3", "UploadPart", &["PutObject"]),
    ("s3", "CompleteMultipartUpload", &["PutObject"]),
    ("s3", "CopyObject", &["PutObject"]),
    ("s3", "UploadPartCopy", &["PutObject"]),
    ("s3", "DeleteObjects", &["DeleteObject"]),
    (
        "s3",
        "GetBucketLifecycleConfiguration",
        &["GetLifecycleConfiguration"],
    ),
    (
        "s3",
        "PutBucketLifecycleConfiguration",
        &["PutLifecycleConfiguration"],
    ),
    ("s3", "GetBucketEncryption", &["GetEncryptionConfiguration"]),
    ("s3", "PutBucketEncryption", &["PutEncryptionConfiguration"]),
    (
        "s3",
        "GetPublicAccessBlock",
        &["GetBucketPublicAccessBlock"],
    ),
    (
        "s3",
        "PutPublicAccessBlock",
        &["PutBucketPublicAccessBlock"],
    ),
    ("lambda", "Invoke", &["InvokeFunction"]),
];

/// Calls that need no IAM permission: no policy can grant or deny them, so
/// they are counted apart, never put in a policy.
pub const NO_PERMISSION: &[(&str, &str)] = &[
    ("sts", "GetCallerIdentity"),
    ("signin", "ConsoleLogin"),
    ("signin", "CheckMfa"),
    ("signin", "SwitchRole"),
    ("signin", "ExitRole"),
    ("signin", "RenewRole"),
    ("signin", "GetSigninToken"),
    ("signin", "CredentialVerification"),
    ("signin", "CredentialChallenge"),
    ("signin", "PasswordUpdated"),
    ("signin", "UserAuthentication"),
];

/// What a call maps to.
#[derive(Debug, PartialEq)]
pub enum Mapping<'t> {
    /// The actions it needed, each in the table.
    Actions(Vec<&'t ActionInfo>),
    /// The call needs no permission (`sts:GetCallerIdentity`, sign-in).
    NoPermission,
    /// No action of the table matches: reported, never guessed.
    Unmapped(String),
}

/// The IAM service prefix of an event source (`s3.amazonaws.com` → `s3`,
/// `monitoring.amazonaws.com` → `cloudwatch`).
pub fn service_prefix(event_source: &str) -> &str {
    let host = event_source
        .strip_suffix(".amazonaws.com.cn")
        .or_else(|| event_source.strip_suffix(".amazonaws.com"))
        .unwrap_or(event_source);
    SOURCE_PREFIXES
        .iter()
        .find(|(from, _)| *from == host)
        .map_or(host, |(_, to)| to)
}

/// Strips the API-version suffix some services log on event names
/// (`UpdateFunctionCode20150331v2`, `ListFunctions20150331`).
pub fn strip_version_suffix(name: &str) -> Option<&str> {
    let trimmed = match name.rfind('v') {
        Some(v)
            if v + 1 < name.len()
                && name[v + 1..].bytes().all(|b| b.is_ascii_digit())
                && v >= 8 =>
        {
            &name[..v]
        }
        _ => name,
    };
    let len = trimmed.len();
    if len > 8 && trimmed[len - 8..].bytes().all(|b| b.is_ascii_digit()) {
        Some(&trimmed[..len - 8])
    } else {
        None
    }
}

/// Maps a call to its actions, through the pinned exceptions, then the
/// name itself, then the name without an API-version suffix.
pub fn map<'t>(table: &'t ActionTable, event_source: &str, event_name: &str) -> Mapping<'t> {
    let service = service_prefix(event_source);
    if NO_PERMISSION
        .iter()
        .any(|(s, n)| *s == service && *n == event_name)
    {
        return Mapping::NoPermission;
    }
    if let Some((_, _, actions)) = RENAMED
        .iter()
        .find(|(s, n, _)| *s == service && *n == event_name)
    {
        let found: Option<Vec<_>> = actions.iter().map(|a| table.action(service, a)).collect();
        return match found {
            Some(found) => Mapping::Actions(found),
            None => Mapping::Unmapped(format!(
                "`{service}:{event_name}` is renamed to an action missing from the table"
            )),
        };
    }
    if !table.has_service(service) {
        return Mapping::Unmapped(format!(
            "no IAM service `{service}` for event source `{event_source}`"
        ));
    }
    if let Some(action) = table.action(service, event_name) {
        return Mapping::Actions(vec![action]);
    }
    if let Some(action) = strip_version_suffix(event_name).and_then(|n| table.action(service, n)) {
        return Mapping::Actions(vec![action]);
    }
    Mapping::Unmapped(format!("no IAM action `{service}:{event_name}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(m: Mapping) -> Vec<String> {
        match m {
            Mapping::Actions(a) => a.iter().map(|a| a.full_name()).collect(),
            other => panic!("{other:?}"),
        }
    }

    /// The known mismatches between CloudTrail and IAM, pinned.
    #[test]
    fn known_mismatches_map_to_the_right_actions() {
        let t = ActionTable::embedded();
        let cases = [
            (
                "monitoring.amazonaws.com",
                "PutMetricData",
                "cloudwatch:PutMetricData",
            ),
            ("email.amazonaws.com", "SendEmail", "ses:SendEmail"),
            ("s3.amazonaws.com", "ListObjects", "s3:ListBucket"),
            ("s3.amazonaws.com", "ListObjectsV2", "s3:ListBucket"),
            (
                "s3.amazonaws.com",
                "ListObjectVersions",
                "s3:ListBucketVersions",
            ),
            ("s3.amazonaws.com", "HeadObject", "s3:GetObject"),
            ("s3.amazonaws.com", "ListBuckets", "s3:ListAllMyBuckets"),
            ("s3.amazonaws.com", "DeleteObjects", "s3:DeleteObject"),
            (
                "lambda.amazonaws.com",
                "UpdateFunctionCode20150331v2",
                "lambda:UpdateFunctionCode",
            ),
            (
                "lambda.amazonaws.com",
                "ListFunctions20150331",
                "lambda:ListFunctions",
            ),
            ("lambda.amazonaws.com", "Invoke", "lambda:InvokeFunction"),
            (
                "streams.dynamodb.amazonaws.com",
                "GetRecords",
                "dynamodb:GetRecords",
            ),
            ("s3.amazonaws.com.cn", "GetObject", "s3:GetObject"),
            ("iam.amazonaws.com", "createuser", "iam:CreateUser"),
        ];
        for (source, name, want) in cases {
            assert_eq!(names(map(t, source, name)), [want], "{source} {name}");
        }
    }

    #[test]
    fn calls_needing_no_permission_are_apart() {
        let t = ActionTable::embedded();
        assert_eq!(
            map(t, "sts.amazonaws.com", "GetCallerIdentity"),
            Mapping::NoPermission
        );
        assert_eq!(
            map(t, "signin.amazonaws.com", "ConsoleLogin"),
            Mapping::NoPermission
        );
        assert_eq!(
            map(t, "signin.amazonaws.com", "SwitchRole"),
            Mapping::NoPermission
        );
    }

    #[test]
    fn unknown_calls_are_unmapped_never_guessed() {
        let t = ActionTable::embedded();
        assert_eq!(
            map(t, "s3.amazonaws.com", "NoSuchCall"),
            Mapping::Unmapped("no IAM action `s3:NoSuchCall`".into())
        );
        assert_eq!(
            map(t, "nosuch.amazonaws.com", "Get"),
            Mapping::Unmapped(
                "no IAM service `nosuch` for event source `nosuch.amazonaws.com`".into()
            )
        );
        // A suffix is stripped only when what remains is an action.
        assert!(matches!(
            map(t, "lambda.amazonaws.com", "Nothing20150331"),
            Mapping::Unmapped(_)
        ));
    }

    #[test]
    fn every_pinned_action_exists_in_the_table() {
        let t = ActionTable::embedded();
        for (service, name, actions) in RENAMED {
            for a in *actions {
                assert!(t.action(service, a).is_some(), "{service}:{a} (for {name})");
            }
        }
        for (_, to) in SOURCE_PREFIXES {
            assert!(t.has_service(to), "{to}");
        }
        for (service, name) in NO_PERMISSION {
            assert!(t.has_service(service), "{service}:{name}");
        }
    }

    #[test]
    fn version_suffixes_strip_only_dates() {
        assert_eq!(
            strip_version_suffix("UpdateFunctionCode20150331v2"),
            Some("UpdateFunctionCode")
        );
        assert_eq!(
            strip_version_suffix("GetFunction20150331"),
            Some("GetFunction")
        );
        assert_eq!(strip_version_suffix("ListObjectsV2"), None);
        assert_eq!(strip_version_suffix("Decrypt"), None);
    }
}
