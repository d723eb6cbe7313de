//! Findings in the AWS Security Finding Format, for Security Hub: one per
//! (event, rule), or per (scan, rule, target), with a deterministic `Id`
//! so a duplicate or a later state of the same finding updates it rather
//! than adding another. Pure: the executor imports them.

use chrono::{DateTime, Utc};

use super::{Facts, cut, partition_of_region};
use crate::effects::HubFinding;
use crate::engine::Decision;
use crate::remediate::{Report, Status};
use crate::rules::{self, Target};

/// ASFF's limits: title 256, description 1024, recommendation 512.
const TITLE_MAX: usize = 256;
const DESCRIPTION_MAX: usize = 1024;
const RECOMMENDATION_MAX: usize = 512;

/// The generator id prefix of the scan's findings.
pub const SCAN_GENERATOR: &str = "trailguard/scan/";

/// Was the finding fixed? Then it is compliant and archived.
fn remediated(report: Option<&Report>) -> bool {
    report.is_some_and(|r| matches!(r.status, Status::Done | Status::Unchanged))
}

fn outcome(report: Option<&Report>) -> String {
    match report {
        Some(r) => format!("{} {}", r.id, r.status.as_str()),
        None => "none".to_owned(),
    }
}

/// The ASFF types of a rule's findings.
fn types(rule: &str) -> Vec<String> {
    let mut t = vec![
        "Software and Configuration Checks/Industry and Regulatory Standards/CIS AWS Foundations Benchmark".to_owned(),
        "Software and Configuration Checks/AWS Security Best Practices".to_owned(),
    ];
    if matches!(rule, "cloudtrail-tampered" | "monitoring-disabled") {
        t.push("TTPs/Defense Evasion".to_owned());
    }
    t
}

/// The resources a finding is about, as Security Hub names them.
fn resources(target: &Target, partition: &str, account: &str) -> Vec<(String, String)> {
    let r = |kind: &str, id: String| vec![(kind.to_owned(), id)];
    match target {
        Target::Account { .. } | Target::RootUser { .. } => {
            r("AwsAccount", format!("AWS::::Account:{account}"))
        }
        Target::User { user_name } => r(
            "AwsIamUser",
            format!("arn:{partition}:iam::{account}:user/{user_name}"),
        ),
        Target::AccessKey {
            user_name,
            access_key_id,
        } => {
            let mut out = r(
                "AwsIamAccessKey",
                access_key_id.clone().unwrap_or_else(|| "unknown".into()),
            );
            if let Some(user) = user_name {
                out.push((
                    "AwsIamUser".into(),
                    format!("arn:{partition}:iam::{account}:user/{user}"),
                ));
            }
            out
        }
        Target::Group { group_name } => r(
            "AwsIamGroup",
            format!("arn:{partition}:iam::{account}:group/{group_name}"),
        ),
        Target::Role { role_name } => r(
            "AwsIamRole",
            format!("arn:{partition}:iam::{account}:role/{role_name}"),
        ),
        Target::Policy { policy } => r("AwsIamPolicy", policy.clone()),
        Target::Trail { trail } => r("AwsCloudTrailTrail", trail.clone()),
        other => r("Other", other.label()),
    }
}

/// The finding of one decision on one event; `None` without an event id
/// (nothing to make its `Id` from).
pub fn event_finding(facts: &Facts<'_>, now: DateTime<Utc>) -> Option<HubFinding> {
    let event_id = facts.event.event_id.as_deref()?;
    let f = &facts.decision.finding;
    let account = facts.account().to_owned();
    let partition = partition_of_region(facts.region()).unwrap_or("aws");
    let created = facts
        .event
        .event_time
        .clone()
        .unwrap_or_else(|| now.to_rfc3339());
    let mut finding = common(facts.decision, facts.remediation, &account, partition, now);
    finding.id = format!("trailguard/{account}/{event_id}/{}", f.rule);
    finding.generator_id = format!("trailguard/event/{}", f.rule);
    finding.created_at = created;
    finding.description = cut(
        &format!(
            "{} (at {}). Remediation: {}.",
            f.summary,
            facts.time(),
            facts.remediation_headline()
        ),
        DESCRIPTION_MAX,
    );
    finding
        .fields
        .push(("trailguard/event-id".into(), event_id.to_owned()));
    finding.source_url = facts.console_link();
    Some(finding)
}

/// The finding of one decision of the scan of `account`, run in `region`.
pub fn scan_finding(
    account: &str,
    region: Option<&str>,
    decision: &Decision,
    report: Option<&Report>,
    now: DateTime<Utc>,
) -> HubFinding {
    let f = &decision.finding;
    let partition = region.and_then(partition_of_region).unwrap_or("aws");
    let mut finding = common(decision, report, account, partition, now);
    finding.id = format!(
        "trailguard/{account}/scan/{}/{}",
        f.rule,
        id_part(&f.target.label())
    );
    finding.generator_id = format!("{SCAN_GENERATOR}{}", f.rule);
    finding
}

/// A target's label as part of a finding id: letters, digits and `-_.@`
/// kept, every other character `-`. When the label holds `+`, `=` or `,`
/// (which IAM names may hold, and `-` could otherwise stand for), the first
/// 8 hex digits of the label's SHA-256 follow, so `ops+x` and `ops=x` stay
/// two findings; every other label keeps the id it always had.
fn id_part(label: &str) -> String {
    let kept = |c: char| c.is_ascii_alphanumeric() || "-_.@".contains(c);
    let part: String = label
        .chars()
        .map(|c| if kept(c) { c } else { '-' })
        .collect();
    if !label.contains(['+', '=', ',']) {
        return part;
    }
    format!("{part}-{}", &super::sha256_hex(label)[..8])
}

fn common(
    decision: &Decision,
    report: Option<&Report>,
    account: &str,
    partition: &str,
    now: DateTime<Utc>,
) -> HubFinding {
    let f = &decision.finding;
    let rule = rules::find(f.rule);
    let practice = rule.map_or("", |r| r.practice);
    let fix = match (report, rule.and_then(|r| r.remediation)) {
        (Some(r), _) => format!(
            "trailguard's {} remediation: {}{}",
            r.id,
            r.status.as_str(),
            r.notes
                .first()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default()
        ),
        (None, Some(spec)) => format!("trailguard can remediate with {}", spec.id),
        (None, None) => "trailguard has no remediation for it".to_owned(),
    };
    HubFinding {
        id: String::new(),
        generator_id: String::new(),
        account: account.to_owned(),
        partition: partition.to_owned(),
        types: types(f.rule),
        created_at: now.to_rfc3339(),
        updated_at: now.to_rfc3339(),
        severity: f.severity.as_str().to_uppercase(),
        title: cut(
            &format!("{}: {}", rule.map_or(f.rule, |r| r.title), f.target.label()),
            TITLE_MAX,
        ),
        description: cut(&f.summary, DESCRIPTION_MAX),
        recommendation: cut(&format!("{practice}. {fix}."), RECOMMENDATION_MAX),
        resources: resources(&f.target, partition, account),
        passed: remediated(report),
        requirements: rule
            .map(|r| r.controls.iter().map(|c| c.to_string()).collect())
            .unwrap_or_default(),
        archived: remediated(report),
        fields: vec![
            ("trailguard/rule".into(), f.rule.to_owned()),
            ("trailguard/remediation".into(), outcome(report)),
        ],
        source_url: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::testing::decision;

    #[test]
    fn a_scan_finding_is_named_after_its_rule_and_target_in_the_scans_partition() {
        let d = decision("ops/bob", "ReadOnlyAccess attached directly");
        let now = Utc::now();
        let f = scan_finding("111122223333", Some("us-gov-west-1"), &d, None, now);
        assert_eq!(
            f.id,
            "trailguard/111122223333/scan/user-policy-attached/user-ops-bob"
        );
        let plain = decision("bob", "ReadOnlyAccess attached directly");
        let plain = scan_finding("111122223333", None, &plain, None, now);
        assert_eq!(
            plain.id,
            "trailguard/111122223333/scan/user-policy-attached/user-bob"
        );
        assert_eq!(f.generator_id, "trailguard/scan/user-policy-attached");
        assert_eq!(f.partition, "aws-us-gov");
        assert_eq!(
            f.resources,
            [(
                "AwsIamUser".to_owned(),
                "arn:aws-us-gov:iam::111122223333:user/ops/bob".to_owned()
            )]
        );
        // The same finding at another time keeps its id: an update.
        let later = scan_finding("111122223333", Some("us-gov-west-1"), &d, None, now);
        assert_eq!(later.id, f.id);
        assert!(!f.passed && !f.archived);
    }

    #[test]
    fn names_that_differ_only_in_replaced_characters_are_two_findings() {
        let now = Utc::now();
        let id = |user: &str| {
            let d = decision(user, "ReadOnlyAccess attached directly");
            scan_finding("111122223333", None, &d, None, now).id
        };
        let ids: std::collections::BTreeSet<String> = ["ops+x", "ops=x", "ops,x", "ops-x", "ops.x"]
            .iter()
            .map(|u| id(u))
            .collect();
        assert_eq!(ids.len(), 5, "{ids:?}");
        assert!(id("ops-x").ends_with("/user-ops-x"));
        // The first 8 hex digits of SHA-256("user ops+x").
        let hashed = "/user-ops-x-d84cbe92";
        assert!(id("ops+x").ends_with(hashed));
        assert!(
            id("ops+x")
                .starts_with("trailguard/111122223333/scan/user-policy-attached/user-ops-x-")
        );
    }
}
