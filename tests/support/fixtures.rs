//! The live fixtures: real-shaped EventBridge payloads under
//! `tests/fixtures/live/`, adjusted per test.

use serde_json::Value;

/// The fixture `name` (without `.json`).
pub fn event(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/live/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fixture with `detail.requestParameters.<key>` set.
pub fn with_request(mut event: Value, key: &str, value: &str) -> Value {
    event["detail"]["requestParameters"][key] = value.into();
    event
}

/// The CreateAccessKey fixture for this user and key id.
pub fn access_key_created(user: &str, key_id: &str) -> Value {
    let mut e = with_request(event("create-access-key"), "userName", user);
    e["detail"]["responseElements"]["accessKey"]["userName"] = user.into();
    e["detail"]["responseElements"]["accessKey"]["accessKeyId"] = key_id.into();
    e
}

/// The path of the config file that switches every remediation on.
pub fn remediate_config_path() -> String {
    format!(
        "{}/tests/fixtures/live/remediate.toml",
        env!("CARGO_MANIFEST_DIR")
    )
}
