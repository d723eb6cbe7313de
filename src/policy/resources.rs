//! The resources a call names, as ARNs, for the services where CloudTrail
//! names them reliably; `None` means the statement needs `*`.

use serde_json::{Map, Value};

use super::table::ActionInfo;
use crate::event::CloudTrailEvent;

/// Request parameters that pass a role to a service (`iam:PassRole`).
pub const PASSED_ROLE_KEYS: &[&str] = &[
    "role",
    "roleArn",
    "roleARN",
    "RoleArn",
    "executionRoleArn",
    "taskRoleArn",
    "serviceRoleArn",
    "ServiceRoleArn",
    "serviceRole",
    "iamRoleArn",
];

/// Where a call happened: the parts of the ARNs built from names.
struct Place<'e> {
    partition: &'e str,
    region: &'e str,
    account: &'e str,
}

impl<'e> Place<'e> {
    fn of(event: &'e CloudTrailEvent) -> Option<Self> {
        let partition = event
            .principal_arns()
            .next()
            .and_then(|a| a.split(':').nth(1))
            .filter(|p| !p.is_empty())
            .unwrap_or("aws");
        Some(Place {
            partition,
            region: event.aws_region.as_deref().filter(|r| !r.is_empty())?,
            account: event.account_id()?,
        })
    }

    fn arn(&self, service: &str, rest: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{rest}",
            self.partition, self.region, self.account
        )
    }
}

fn get<'r>(request: &'r Map<String, Value>, key: &str) -> Option<&'r str> {
    request
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The resource ARN this action of this call was on, or `None` for `*`
/// (a service not listed, a call that names no resource, an action that
/// takes none).
pub fn resource(event: &CloudTrailEvent, action: &ActionInfo) -> Option<String> {
    let request = event.request()?;
    match action.service.as_str() {
        "s3" => s3(event, request, action),
        "dynamodb" if action.takes("table") => {
            let table = get(request, "tableName")?;
            if table.starts_with("arn:") {
                return Some(table.to_owned());
            }
            Some(Place::of(event)?.arn("dynamodb", &format!("table/{table}")))
        }
        "lambda" if action.takes("function") => {
            let name = get(request, "functionName")?;
            if let Some((head, rest)) = name.split_once(":function:") {
                // Drop a version or alias qualifier: the grant is for the function.
                let bare = rest.split(':').next()?;
                return Some(format!("{head}:function:{bare}"));
            }
            let bare = name.split(':').next()?;
            Some(Place::of(event)?.arn("lambda", &format!("function:{bare}")))
        }
        "sqs" if action.takes("queue") => {
            if let Some(url) = get(request, "queueUrl") {
                return queue_arn(event, url);
            }
            let name = get(request, "queueName")?;
            Some(Place::of(event)?.arn("sqs", name))
        }
        "sns" if action.takes("topic") => {
            if let Some(arn) = get(request, "topicArn").filter(|a| a.starts_with("arn:")) {
                return Some(arn.to_owned());
            }
            let name = get(request, "name").filter(|_| action.name == "CreateTopic")?;
            Some(Place::of(event)?.arn("sns", name))
        }
        "kms" if action.takes("key") => {
            let key = get(request, "keyId")?;
            if key.contains(":key/") {
                return Some(key.to_owned());
            }
            // A key id (a UUID or an mrk- id); an alias names no key.
            let is_id = key.len() >= 32
                && key.bytes().all(|b| {
                    b.is_ascii_hexdigit() || b == b'-' || b == b'm' || b == b'r' || b == b'k'
                });
            if !is_id {
                return None;
            }
            Some(Place::of(event)?.arn("kms", &format!("key/{key}")))
        }
        _ => None,
    }
}

fn s3(
    event: &CloudTrailEvent,
    request: &Map<String, Value>,
    action: &ActionInfo,
) -> Option<String> {
    let bucket = get(request, "bucketName")?;
    if bucket.contains('/') || bucket.contains('*') {
        return None;
    }
    let partition = Place::of(event).map_or("aws", |p| p.partition).to_owned();
    if action.takes("object") {
        return Some(format!(
            "arn:{partition}:s3:::{bucket}/{}",
            object_prefix(get(request, "key"))
        ));
    }
    if action.takes("bucket") {
        return Some(format!("arn:{partition}:s3:::{bucket}"));
    }
    None
}

/// An object key generalised to its top-level prefix: `logs/2024/a.gz`
/// becomes `logs/*`, a key at the bucket's root (or none) `*`. Objects are
/// many and their names change; the prefix is what an application owns.
pub fn object_prefix(key: Option<&str>) -> String {
    match key.and_then(|k| k.split_once('/')) {
        Some((top, _)) if !top.is_empty() && !top.contains('*') => format!("{top}/*"),
        _ => "*".into(),
    }
}

/// `https://sqs.REGION.amazonaws.com/ACCOUNT/NAME` as an ARN.
fn queue_arn(event: &CloudTrailEvent, url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let mut parts = rest.split('/');
    let host = parts.next()?;
    let account = parts.next().filter(|a| a.len() == 12)?;
    let name = parts.next().filter(|n| !n.is_empty())?;
    let place = Place::of(event);
    let region = host
        .strip_prefix("sqs.")
        .and_then(|h| h.split('.').next())
        .filter(|r| r.contains('-'))
        .or(place.as_ref().map(|p| p.region))?;
    let partition = place.as_ref().map_or("aws", |p| p.partition);
    Some(format!("arn:{partition}:sqs:{region}:{account}:{name}"))
}

/// The roles a call passed to a service: each needs `iam:PassRole` on it.
/// IAM's and STS's own calls name roles they act on, not pass.
pub fn passed_roles(event: &CloudTrailEvent) -> Vec<String> {
    let source = event.source();
    if source.starts_with("iam.") || source.starts_with("sts.") {
        return Vec::new();
    }
    let Some(request) = event.request() else {
        return Vec::new();
    };
    let mut roles: Vec<String> = PASSED_ROLE_KEYS
        .iter()
        .filter_map(|k| get(request, k))
        .filter(|v| v.starts_with("arn:") && v.contains(":role/"))
        .map(String::from)
        .collect();
    roles.sort();
    roles.dedup();
    roles
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::table::ActionTable;

    fn ev(source: &str, request: &str) -> CloudTrailEvent {
        CloudTrailEvent::from_json(&format!(
            r#"{{"eventSource": "{source}", "awsRegion": "eu-west-1", "recipientAccountId": "111122223333",
                "userIdentity": {{"arn": "arn:aws:iam::111122223333:user/a"}}, "requestParameters": {request}}}"#
        ))
        .unwrap()
    }

    fn res(action: &str, source: &str, request: &str) -> Option<String> {
        resource(
            &ev(source, request),
            ActionTable::embedded().lookup(action).unwrap(),
        )
    }

    #[test]
    fn resources_are_named_where_cloudtrail_names_them() {
        let s3 = "s3.amazonaws.com";
        assert_eq!(
            res(
                "s3:GetObject",
                s3,
                r#"{"bucketName": "b", "key": "logs/2024/x.gz"}"#
            )
            .as_deref(),
            Some("arn:aws:s3:::b/logs/*")
        );
        assert_eq!(
            res("s3:PutObject", s3, r#"{"bucketName": "b", "key": "x.gz"}"#).as_deref(),
            Some("arn:aws:s3:::b/*")
        );
        assert_eq!(
            res("s3:ListBucket", s3, r#"{"bucketName": "b"}"#).as_deref(),
            Some("arn:aws:s3:::b")
        );
        assert_eq!(res("s3:ListAllMyBuckets", s3, r#"{"host": "s3"}"#), None);
        assert_eq!(
            res(
                "dynamodb:GetItem",
                "dynamodb.amazonaws.com",
                r#"{"tableName": "t"}"#
            )
            .as_deref(),
            Some("arn:aws:dynamodb:eu-west-1:111122223333:table/t")
        );
        assert_eq!(
            res(
                "lambda:InvokeFunction",
                "lambda.amazonaws.com",
                r#"{"functionName": "arn:aws:lambda:eu-west-1:111122223333:function:f:live"}"#
            )
            .as_deref(),
            Some("arn:aws:lambda:eu-west-1:111122223333:function:f")
        );
        assert_eq!(
            res(
                "sqs:SendMessage",
                "sqs.amazonaws.com",
                r#"{"queueUrl": "https://sqs.us-east-2.amazonaws.com/444455556666/q"}"#
            )
            .as_deref(),
            Some("arn:aws:sqs:us-east-2:444455556666:q")
        );
        assert_eq!(
            res(
                "sns:Publish",
                "sns.amazonaws.com",
                r#"{"topicArn": "arn:aws:sns:eu-west-1:111122223333:t"}"#
            )
            .as_deref(),
            Some("arn:aws:sns:eu-west-1:111122223333:t")
        );
        assert_eq!(
            res(
                "kms:Decrypt",
                "kms.amazonaws.com",
                r#"{"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}"#
            )
            .as_deref(),
            Some("arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
        );
        assert_eq!(
            res(
                "kms:Decrypt",
                "kms.amazonaws.com",
                r#"{"keyId": "alias/app"}"#
            ),
            None
        );
        assert_eq!(
            res(
                "ec2:DescribeInstances",
                "ec2.amazonaws.com",
                r#"{"instancesSet": {}}"#
            ),
            None
        );
    }

    #[test]
    fn passed_roles_come_from_other_services_calls() {
        let e = ev(
            "lambda.amazonaws.com",
            r#"{"functionName": "f", "role": "arn:aws:iam::111122223333:role/f-exec"}"#,
        );
        assert_eq!(passed_roles(&e), ["arn:aws:iam::111122223333:role/f-exec"]);
        let assume = ev(
            "sts.amazonaws.com",
            r#"{"roleArn": "arn:aws:iam::111122223333:role/x"}"#,
        );
        assert!(passed_roles(&assume).is_empty());
    }
}
