//! Test helpers for rules: build events from JSON and run one rule.

use serde_json::Value;

use super::{Finding, Rule};
use crate::config::Config;
use crate::event::CloudTrailEvent;

pub fn event(json: Value) -> CloudTrailEvent {
    CloudTrailEvent::from_json(&json.to_string()).expect("test event parses")
}

/// Runs a rule as the engine would, minus modes and exemptions.
pub fn fire(rule: &Rule, json: Value) -> Option<Finding> {
    fire_with(rule, json, &Config::default())
}

pub fn fire_with(rule: &Rule, json: Value, config: &Config) -> Option<Finding> {
    let ev = event(json);
    let super::Check::Event { trigger, evaluate } = rule.check else {
        return None;
    };
    if !trigger.matches(&ev) || (ev.failed() && !rule.on_failure) {
        return None;
    }
    evaluate(&ev, &config.rule_settings()).ok()
}

/// Why a rule whose trigger matches the event declined it.
pub fn decline(rule: &Rule, json: Value) -> &'static str {
    let ev = event(json);
    let super::Check::Event { trigger, evaluate } = rule.check else {
        panic!("{} checks the inventory, not events", rule.id);
    };
    assert!(
        trigger.matches(&ev),
        "{} is not triggered by the event",
        rule.id
    );
    match evaluate(&ev, &Config::default().rule_settings()) {
        Ok(f) => panic!("{} fired: {}", rule.id, f.summary),
        Err(why) => why.0,
    }
}

/// An IAM API call by an IAM user, successful.
pub fn iam_call(name: &str, request: Value, response: Value) -> Value {
    serde_json::json!({
        "eventVersion": "1.08",
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "eventTime": "2024-05-01T10:00:00Z",
        "eventID": "e-1",
        "recipientAccountId": "111122223333",
        "userIdentity": {
            "type": "IAMUser",
            "arn": "arn:aws:iam::111122223333:user/alice",
            "accountId": "111122223333",
            "userName": "alice"
        },
        "requestParameters": request,
        "responseElements": response
    })
}

/// A console sign-in.
pub fn console_login(identity_type: &str, result: &str, mfa: &str) -> Value {
    let arn = if identity_type == "Root" {
        "arn:aws:iam::111122223333:root".to_owned()
    } else {
        "arn:aws:iam::111122223333:user/alice".to_owned()
    };
    serde_json::json!({
        "eventSource": "signin.amazonaws.com",
        "eventName": "ConsoleLogin",
        "eventType": "AwsConsoleSignIn",
        "recipientAccountId": "111122223333",
        "userIdentity": {"type": identity_type, "arn": arn, "userName": "alice", "accountId": "111122223333"},
        "responseElements": {"ConsoleLogin": result},
        "additionalEventData": {"MFAUsed": mfa, "LoginTo": "https://console.aws.amazon.com"}
    })
}
