//! IAM policy documents as they appear in events and IAM responses.
//!
//! `policyDocument` is a JSON string: pretty, compact or tabbed in events,
//! URL-encoded in IAM responses (GetUserPolicy) and in some event producers.

use serde_json::Value;

/// Why a policy document could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("policy document is not valid JSON: {0}")]
    NotJson(String),
    #[error("policy document is not a JSON object")]
    NotAnObject,
}

/// Decodes a policy document string, URL-decoding it first when needed.
pub fn decode(text: &str) -> Result<Value, PolicyError> {
    let trimmed = text.trim_start();
    let decoded;
    let json = if trimmed.starts_with('{') {
        trimmed
    } else {
        decoded = percent_encoding::percent_decode_str(trimmed)
            .decode_utf8()
            .map_err(|e| PolicyError::NotJson(e.to_string()))?;
        &decoded
    };
    match serde_json::from_str::<Value>(json) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(PolicyError::NotAnObject),
        Err(e) => Err(PolicyError::NotJson(e.to_string())),
    }
}

/// Iterates the statements of a document (`Statement` may be one object or a list).
pub fn statements(doc: &Value) -> impl Iterator<Item = &Value> {
    let list: &[Value] = match doc.get("Statement") {
        Some(Value::Array(items)) => items,
        Some(one @ Value::Object(_)) => std::slice::from_ref(one),
        _ => &[],
    };
    list.iter()
}

/// A string-or-list field of a statement, as strings.
fn strings<'a>(stmt: &'a Value, key: &str) -> Vec<&'a str> {
    match stmt.get(key) {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// What an `Allow` statement of the document grants that amounts to
/// administrator access, as `ACTIONS on RESOURCES`; `None` when no
/// statement does. Every action is `*` or `*:*`, `iam:*` (which grants
/// the rest: IAM's AWS managed `IAMFullAccess` is admin-equivalent too) or
/// a `NotAction` (everything but what it names); every resource is `*`, an
/// ARN of wildcards only (`arn:*`, `arn:aws:*:*:*:*`) or a `NotResource`.
/// Conditions are not read: a condition narrows who may use the grant,
/// and the grant is still written to the account.
pub fn admin_grant(doc: &Value) -> Option<String> {
    statements(doc).find_map(|stmt| {
        if stmt.get("Effect").and_then(Value::as_str) != Some("Allow") {
            return None;
        }
        let actions = strings(stmt, "Action");
        let not_actions = strings(stmt, "NotAction");
        let action = if actions.iter().any(|a| *a == "*" || *a == "*:*") {
            "*"
        } else if actions.iter().any(|a| a.eq_ignore_ascii_case("iam:*")) {
            "iam:*"
        } else if stmt.get("NotAction").is_some() && !not_actions.contains(&"*") {
            "every action but its NotAction"
        } else {
            return None;
        };
        let resources = strings(stmt, "Resource");
        let resource = if resources.contains(&"*") {
            "*"
        } else if resources.iter().any(|r| every_arn(r)) {
            "every ARN"
        } else if resources.iter().any(|r| every_iam_arn(r)) {
            // IAM's own resources are enough: with them, any other grant.
            "every IAM resource"
        } else if stmt.get("NotResource").is_some() {
            "every resource but its NotResource"
        } else {
            return None;
        };
        Some(format!("{action} on {resource}"))
    })
}

/// An ARN pattern every IAM resource of an account (or of every account)
/// matches: `arn:PARTITION:iam::ACCOUNT:*`, the account `*` or twelve
/// digits, the partition any.
fn every_iam_arn(resource: &str) -> bool {
    let Some(["arn", _, service, "", account, rest]) = super::arn_parts(resource) else {
        return false;
    };
    service.eq_ignore_ascii_case("iam")
        && (account == "*" || (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())))
        && !rest.is_empty()
        && rest.chars().all(|c| c == '*')
}

/// An ARN pattern every ARN (of a partition) matches: `arn:` then, after
/// an optional partition, nothing but `*` and `:`.
fn every_arn(resource: &str) -> bool {
    let Some(rest) = resource.strip_prefix("arn:") else {
        return false;
    };
    let rest = match rest.split_once(':') {
        Some((partition, tail)) if !partition.contains('*') => tail,
        _ => rest,
    };
    rest.contains('*') && rest.chars().all(|c| c == '*' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_compact_pretty_tabbed_and_url_encoded_documents() {
        let compact = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        let pretty = "{\n  \"Statement\": {\n    \"Effect\": \"Allow\",\n    \"Action\": [\"*:*\"],\n    \"Resource\": [\"*\"]\n  }\n}";
        let tabbed = "{\n\t\"Statement\": [{\n\t\t\"Effect\": \"Allow\",\n\t\t\"Action\": \"*\",\n\t\t\"Resource\": \"*\"}]}";
        let encoded = "%7B%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22*%22%2C%22Resource%22%3A%22*%22%7D%5D%7D";
        for text in [compact, pretty, tabbed, encoded] {
            let doc = decode(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(admin_grant(&doc).as_deref(), Some("* on *"), "{text}");
        }
    }

    #[test]
    fn rewordings_of_admin_are_admin() {
        for (text, grant) in [
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
                "* on *",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","NotAction":"iam:ListUsers","Resource":"*"}]}"#,
                "every action but its NotAction on *",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"*","NotResource":"arn:aws:s3:::b"}]}"#,
                "* on every resource but its NotResource",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:*"}]}"#,
                "* on every ARN",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":["s3:GetObject","*:*"],"Resource":"arn:aws:*:*:*:*"}]}"#,
                "* on every ARN",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"IAM:*","Resource":"*"}]}"#,
                "iam:* on *",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::*:*"}]}"#,
                "iam:* on every IAM resource",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":["arn:aws:s3:::b","arn:aws-cn:iam::111122223333:*"]}]}"#,
                "* on every IAM resource",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"aws:MultiFactorAuthPresent":"true"}}}}"#,
                "* on *",
            ),
        ] {
            assert_eq!(
                admin_grant(&decode(text).unwrap()).as_deref(),
                Some(grant),
                "{text}"
            );
        }
    }

    #[test]
    fn scoped_or_denying_statements_are_not_admin() {
        for text in [
            r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:iam::*:user/*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Deny","NotAction":"iam:*","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","NotAction":"s3:*","Resource":"arn:aws:s3:::b"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","NotAction":"*","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::111122223333:user/*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"iam:*","Resource":"arn:aws:iam::1:*"}]}"#,
            r#"{}"#,
        ] {
            assert_eq!(admin_grant(&decode(text).unwrap()), None, "{text}");
        }
    }

    #[test]
    fn truncated_document_is_an_error_not_a_panic() {
        assert!(matches!(decode("{"), Err(PolicyError::NotJson(_))));
        assert_eq!(decode("[1]"), Err(PolicyError::NotAnObject));
    }
}
