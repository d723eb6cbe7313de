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

/// Does the document grant full administrator access: an `Allow` statement
/// with Action `*` (or `*:*`) on Resource `*`?
pub fn grants_full_admin(doc: &Value) -> bool {
    statements(doc).any(|stmt| {
        let allow = stmt.get("Effect").and_then(Value::as_str) == Some("Allow");
        let any_action = strings(stmt, "Action")
            .iter()
            .any(|a| *a == "*" || *a == "*:*");
        let any_resource = strings(stmt, "Resource").contains(&"*");
        allow && any_action && any_resource
    })
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
            assert!(grants_full_admin(&doc), "{text}");
        }
    }

    #[test]
    fn scoped_or_denying_statements_are_not_admin() {
        for text in [
            r#"{"Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
            r#"{"Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b"}]}"#,
            r#"{}"#,
        ] {
            assert!(!grants_full_admin(&decode(text).unwrap()), "{text}");
        }
    }

    #[test]
    fn truncated_document_is_an_error_not_a_panic() {
        assert!(matches!(decode("{"), Err(PolicyError::NotJson(_))));
        assert_eq!(decode("[1]"), Err(PolicyError::NotAnObject));
    }
}
