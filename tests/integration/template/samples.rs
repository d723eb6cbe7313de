//! Sample events as EventBridge delivers them: the `events/` samples and the
//! corpus of real CloudTrail records (`tests/corpus/`), bare records wrapped
//! in the envelope EventBridge would put around them.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

pub struct Sample {
    /// File and position, for messages.
    pub name: String,
    pub envelope: Value,
}

/// The folders the samples come from.
pub fn dirs() -> [PathBuf; 2] {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    [repo.join("events"), repo.join("tests/corpus")]
}

/// Every sample of `events/` and of the corpus, in a stable order.
pub fn all() -> Vec<Sample> {
    let mut files: Vec<PathBuf> = dirs()
        .iter()
        .filter(|d| d.is_dir())
        .flat_map(|d| walkdir::WalkDir::new(d).sort_by_file_name())
        .map(|e| e.expect("a readable directory").into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("a readable sample");
        let Ok(doc) = serde_json::from_str::<Value>(&text) else {
            continue; // JSON lines, gzipped logs: not envelopes to test here.
        };
        let name = path.display().to_string();
        let items = match doc {
            Value::Array(items) => items,
            Value::Object(mut map) => match map.remove("Records") {
                Some(Value::Array(records)) => records,
                _ => vec![Value::Object(map)],
            },
            _ => continue,
        };
        for (i, item) in items.into_iter().enumerate() {
            if let Some(envelope) = envelope(item) {
                out.push(Sample {
                    name: format!("{name}#{i}"),
                    envelope,
                });
            }
        }
    }
    out
}

/// The item as an EventBridge event: envelopes as they are, CloudTrail
/// records wrapped as EventBridge wraps them.
pub fn envelope(item: Value) -> Option<Value> {
    if item.get("detail-type").is_some() || item.get("detail").is_some() {
        return Some(item);
    }
    let source = item["eventSource"].as_str()?;
    let service = source.strip_suffix(".amazonaws.com").unwrap_or(source);
    let detail_type = match item["eventType"].as_str() {
        Some("AwsConsoleSignIn") => "AWS Console Sign In via CloudTrail",
        Some("AwsServiceEvent") => "AWS Service Event via CloudTrail",
        _ => "AWS API Call via CloudTrail",
    };
    Some(json!({
        "version": "0",
        "id": item["eventID"].as_str().unwrap_or("00000000-0000-0000-0000-000000000000"),
        "detail-type": detail_type,
        "source": format!("aws.{service}"),
        "account": item["recipientAccountId"].as_str().unwrap_or("111122223333"),
        "time": item["eventTime"].as_str().unwrap_or("2026-01-01T00:00:00Z"),
        "region": item["awsRegion"].as_str().unwrap_or("us-east-1"),
        "resources": [],
        "detail": item,
    }))
}
