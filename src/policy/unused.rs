//! What a principal holds but did not use: its policies' actions, wildcards
//! expanded against the action table, minus the actions of its activity.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use super::activity::Activity;
use super::table::{AccessLevel, ActionTable};
use crate::event::policy::statements;

/// A policy the principal holds, by where it came from.
#[derive(Debug, Clone)]
pub struct Held {
    /// A file name, or `attached:ARN`, `inline:NAME`, `group:G:...`.
    pub name: String,
    pub document: Value,
}

/// One granted action the principal did not use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnusedAction {
    pub action: String,
    pub level: AccessLevel,
}

/// The comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unused {
    /// Actions granted (after wildcards and explicit denies).
    pub granted: usize,
    /// Of those, used in the period.
    pub used: usize,
    /// Granted and unused, permissions management and write first.
    pub unused: Vec<UnusedAction>,
    /// Services granted of which no action was used.
    pub unused_services: Vec<String>,
    /// Action patterns of the policies that name no action of the table.
    pub unknown: Vec<String>,
    /// What could not be compared, with why (`NotAction`, conditions).
    pub notes: Vec<String>,
}

/// A statement's `Action` (or `NotAction`) as a list.
fn patterns(v: Option<&Value>) -> Vec<&str> {
    match v {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Compares what `held` grants with what `activity` used.
pub fn compare(held: &[Held], activity: &Activity, table: &ActionTable) -> Unused {
    let mut granted: BTreeMap<String, AccessLevel> = BTreeMap::new();
    let mut denied: BTreeSet<String> = BTreeSet::new();
    let mut unknown = BTreeSet::new();
    let mut notes = Vec::new();
    for policy in held {
        for s in statements(&policy.document) {
            let effect = s.get("Effect").and_then(Value::as_str).unwrap_or("");
            if s.get("NotAction").is_some() {
                notes.push(format!(
                    "`{}`: a `NotAction` statement is not expanded",
                    policy.name
                ));
            }
            if s.get("Condition").is_some() && effect == "Allow" {
                notes.push(format!(
                    "`{}`: conditions are not evaluated; the statement counts as granted",
                    policy.name
                ));
            }
            for pattern in patterns(s.get("Action")) {
                let actions = table.expand(pattern);
                if actions.is_empty() {
                    unknown.insert(pattern.to_owned());
                }
                for a in actions {
                    match effect {
                        "Allow" => {
                            granted.insert(a.full_name(), a.level);
                        }
                        "Deny" => {
                            denied.insert(a.full_name());
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    notes.dedup();
    granted.retain(|a, _| !denied.contains(a));
    let used: BTreeSet<String> = activity
        .actions
        .keys()
        .filter_map(|a| table.lookup(a).map(|i| i.full_name()))
        .collect();
    let mut unused: Vec<UnusedAction> = granted
        .iter()
        .filter(|(a, _)| !used.contains(*a))
        .map(|(a, level)| UnusedAction {
            action: a.clone(),
            level: *level,
        })
        .collect();
    unused.sort_by(|a, b| (a.level, &a.action).cmp(&(b.level, &b.action)));
    let services_used: BTreeSet<&str> = used.iter().filter_map(|a| a.split(':').next()).collect();
    let unused_services: BTreeSet<String> = granted
        .keys()
        .filter_map(|a| a.split(':').next())
        .filter(|s| !services_used.contains(s))
        .map(String::from)
        .collect();
    Unused {
        used: granted.keys().filter(|a| used.contains(*a)).count(),
        granted: granted.len(),
        unused,
        unused_services: unused_services.into_iter().collect(),
        unknown: unknown.into_iter().collect(),
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::activity::ActionUse;

    fn held(doc: &str) -> Vec<Held> {
        vec![Held {
            name: "p.json".into(),
            document: serde_json::from_str(doc).unwrap(),
        }]
    }

    #[test]
    fn unused_lists_granted_minus_used_sensitive_first() {
        let mut a = Activity::default();
        a.actions
            .insert("sqs:GetQueueUrl".into(), ActionUse::default());
        let doc = r#"{"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["sqs:GetQueueUrl", "sqs:DeleteQueue", "iam:PassRole", "nosuch:Thing"], "Resource": "*"},
            {"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}]}"#;
        let u = compare(&held(doc), &a, ActionTable::embedded());
        let names: Vec<(&str, AccessLevel)> = u
            .unused
            .iter()
            .map(|x| (x.action.as_str(), x.level))
            .collect();
        assert_eq!(
            names,
            [
                ("iam:PassRole", AccessLevel::Write),
                ("sqs:DeleteQueue", AccessLevel::Write),
                ("sqs:ListQueues", AccessLevel::Read),
            ]
        );
        assert_eq!((u.granted, u.used), (4, 1));
        assert_eq!(u.unused_services, ["iam"]);
        assert_eq!(u.unknown, ["nosuch:Thing"]);
    }

    #[test]
    fn wildcards_expand_and_denies_subtract() {
        let doc = r#"{"Statement": [
            {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
            {"Effect": "Deny", "Action": "sqs:Delete*", "Resource": "*"}]}"#;
        let t = ActionTable::embedded();
        let u = compare(&held(doc), &Activity::default(), t);
        let want = t.expand("sqs:*").len() - t.expand("sqs:Delete*").len();
        assert_eq!(u.granted, want);
        assert!(u.unused.iter().all(|x| !x.action.starts_with("sqs:Delete")));
        assert_eq!(u.unused_services, ["sqs"]);
    }
}
