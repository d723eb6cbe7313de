//! What a principal did in an archive: the actions its successful calls
//! needed, and apart from them its denied, failed, unmapped and
//! permission-free calls. Built per input, merged in input order.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::mapping::{self, Mapping};
use super::principal::Principals;
use super::resources;
use super::table::{AccessLevel, ActionTable};
use crate::event::CloudTrailEvent;

/// Error codes that mean IAM refused the call: listed apart, never granted.
pub const DENIED_CODES: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "Client.UnauthorizedOperation",
];

/// How often, and when, something was seen. CloudTrail writes UTC times as
/// `...Z`, so text order is time order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Seen {
    pub count: u64,
    pub first: Option<String>,
    pub last: Option<String>,
}

impl Seen {
    fn add(&mut self, time: Option<&str>) {
        self.count += 1;
        if let Some(t) = time.filter(|t| !t.is_empty()) {
            if self.first.as_deref().is_none_or(|f| t < f) {
                self.first = Some(t.to_owned());
            }
            if self.last.as_deref().is_none_or(|l| t > l) {
                self.last = Some(t.to_owned());
            }
        }
    }

    fn merge(&mut self, other: &Seen) {
        self.count += other.count;
        for t in [&other.first, &other.last].into_iter().flatten() {
            let count = self.count;
            self.add(Some(t));
            self.count = count;
        }
    }
}

/// One action the principal used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActionUse {
    pub level: Option<AccessLevel>,
    #[serde(flatten)]
    pub seen: Seen,
    /// The resources its calls named (ARNs, generalised).
    pub resources: BTreeSet<String>,
    /// Some call named no resource (or the service's resources are not
    /// read): the action needs `*`.
    pub any_resource: bool,
}

/// A call kept out of the policy, with why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Apart {
    #[serde(flatten)]
    pub seen: Seen,
    /// The error code (denied, failed) or why it has no action (unmapped).
    pub reason: String,
}

/// Everything read about the principal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// By full action name (`s3:GetObject`), as the table spells it.
    pub actions: BTreeMap<String, ActionUse>,
    /// Calls IAM refused, by `service:EventName`.
    pub denied: BTreeMap<String, Apart>,
    /// Calls that failed for another reason (throttling, a missing
    /// resource): not granted from, since they did not succeed.
    pub failed: BTreeMap<String, Apart>,
    /// Calls no action of the table matches.
    pub unmapped: BTreeMap<String, Apart>,
    /// Calls that need no permission (`sts:GetCallerIdentity`, sign-in).
    pub no_permission: BTreeMap<String, Seen>,
    /// Every CloudTrail event read, the principal's or not: the period the
    /// input covers.
    pub period: Seen,
    /// The principal's events.
    pub matched: Seen,
}

impl Activity {
    /// Takes one event into account.
    pub fn add(&mut self, table: &ActionTable, principals: &Principals, event: &CloudTrailEvent) {
        let time = event.event_time.as_deref();
        self.period.add(time);
        if !principals.made(event) {
            return;
        }
        self.matched.add(time);
        // Records AWS services write on their own (AwsServiceEvent) were not
        // calls the principal made.
        if event.event_type.as_deref() == Some("AwsServiceEvent") {
            return;
        }
        let call = format!(
            "{}:{}",
            mapping::service_prefix(event.source()),
            event.name()
        );
        if let Some(code) = event.error_code.as_deref().filter(|c| !c.is_empty()) {
            let into = if DENIED_CODES.contains(&code) {
                &mut self.denied
            } else {
                &mut self.failed
            };
            let apart = into.entry(call).or_default();
            apart.seen.add(time);
            apart.reason = code.to_owned();
            return;
        }
        if event.failed() {
            // A failed console sign-in carries no error code.
            let apart = self.failed.entry(call).or_default();
            apart.seen.add(time);
            apart.reason = "Failure".into();
            return;
        }
        match mapping::map(table, event.source(), event.name()) {
            Mapping::NoPermission => self.no_permission.entry(call).or_default().add(time),
            Mapping::Unmapped(reason) => {
                let apart = self.unmapped.entry(call).or_default();
                apart.seen.add(time);
                apart.reason = reason;
            }
            Mapping::Actions(actions) => {
                for action in actions {
                    let resource = resources::resource(event, action);
                    self.use_action(action.full_name(), action.level, resource, time);
                }
                for role in resources::passed_roles(event) {
                    self.use_action("iam:PassRole".into(), AccessLevel::Write, Some(role), time);
                }
            }
        }
    }

    fn use_action(
        &mut self,
        name: String,
        level: AccessLevel,
        resource: Option<String>,
        time: Option<&str>,
    ) {
        let used = self.actions.entry(name).or_default();
        used.level = Some(level);
        used.seen.add(time);
        match resource {
            Some(r) => {
                used.resources.insert(r);
            }
            None => used.any_resource = true,
        }
    }

    /// Adds what another part of the input found (the next input's).
    pub fn merge(&mut self, other: Activity) {
        for (k, v) in other.actions {
            let used = self.actions.entry(k).or_default();
            used.level = used.level.or(v.level);
            used.seen.merge(&v.seen);
            used.resources.extend(v.resources);
            used.any_resource |= v.any_resource;
        }
        for (mine, theirs) in [
            (&mut self.denied, other.denied),
            (&mut self.failed, other.failed),
            (&mut self.unmapped, other.unmapped),
        ] {
            for (k, v) in theirs {
                let apart = mine.entry(k).or_default();
                apart.seen.merge(&v.seen);
                apart.reason = v.reason;
            }
        }
        for (k, v) in other.no_permission {
            self.no_permission.entry(k).or_default().merge(&v);
        }
        self.period.merge(&other.period);
        self.matched.merge(&other.matched);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(events: &[&str]) -> Activity {
        let p = Principals::new(&["arn:aws:iam::111122223333:role/App".into()]).unwrap();
        let mut a = Activity::default();
        for e in events {
            a.add(
                ActionTable::embedded(),
                &p,
                &CloudTrailEvent::from_json(e).unwrap(),
            );
        }
        a
    }

    fn call(name: &str, source: &str, extra: &str, time: &str) -> String {
        format!(
            r#"{{"eventSource": "{source}", "eventName": "{name}", "eventTime": "{time}", "awsRegion": "us-east-1",
                "recipientAccountId": "111122223333",
                "userIdentity": {{"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/App/s1"}}{extra}}}"#
        )
    }

    #[test]
    fn successful_calls_become_actions_denied_and_unmapped_stay_apart() {
        let a = activity(&[
            &call(
                "GetObject",
                "s3.amazonaws.com",
                r#", "requestParameters": {"bucketName": "b", "key": "k/1"}"#,
                "2024-05-02T00:00:00Z",
            ),
            &call(
                "GetObject",
                "s3.amazonaws.com",
                r#", "requestParameters": {"bucketName": "b", "key": "k/2"}"#,
                "2024-05-01T00:00:00Z",
            ),
            &call(
                "DeleteBucket",
                "s3.amazonaws.com",
                r#", "errorCode": "AccessDenied""#,
                "2024-05-03T00:00:00Z",
            ),
            &call(
                "TerminateInstances",
                "ec2.amazonaws.com",
                r#", "errorCode": "Client.UnauthorizedOperation""#,
                "2024-05-03T00:00:00Z",
            ),
            &call("NoSuchCall", "s3.amazonaws.com", "", "2024-05-03T00:00:00Z"),
            &call(
                "GetCallerIdentity",
                "sts.amazonaws.com",
                "",
                "2024-05-03T00:00:00Z",
            ),
            &call(
                "GetItem",
                "dynamodb.amazonaws.com",
                r#", "errorCode": "ResourceNotFoundException""#,
                "2024-05-03T00:00:00Z",
            ),
        ]);
        assert_eq!(a.actions.keys().collect::<Vec<_>>(), ["s3:GetObject"]);
        let get = &a.actions["s3:GetObject"];
        assert_eq!(get.seen.count, 2);
        assert_eq!(get.seen.first.as_deref(), Some("2024-05-01T00:00:00Z"));
        assert_eq!(get.seen.last.as_deref(), Some("2024-05-02T00:00:00Z"));
        assert_eq!(
            get.resources.iter().collect::<Vec<_>>(),
            ["arn:aws:s3:::b/k/*"]
        );
        assert_eq!(
            a.denied.keys().collect::<Vec<_>>(),
            ["ec2:TerminateInstances", "s3:DeleteBucket"]
        );
        assert_eq!(a.unmapped.keys().collect::<Vec<_>>(), ["s3:NoSuchCall"]);
        assert_eq!(
            a.no_permission.keys().collect::<Vec<_>>(),
            ["sts:GetCallerIdentity"]
        );
        assert_eq!(
            a.failed["dynamodb:GetItem"].reason,
            "ResourceNotFoundException"
        );
        assert_eq!(a.matched.count, 7);
    }

    #[test]
    fn other_principals_count_for_the_period_only() {
        let other = r#"{"eventSource": "s3.amazonaws.com", "eventName": "GetObject", "eventTime": "2024-04-01T00:00:00Z",
            "userIdentity": {"arn": "arn:aws:iam::111122223333:user/bob"}}"#;
        let a = activity(&[other]);
        assert!(a.actions.is_empty());
        assert_eq!((a.period.count, a.matched.count), (1, 0));
        assert_eq!(a.period.first.as_deref(), Some("2024-04-01T00:00:00Z"));
    }

    #[test]
    fn merge_adds_counts_and_widens_times() {
        let one = call("GetObject", "s3.amazonaws.com", "", "2024-05-02T00:00:00Z");
        let two = call("GetObject", "s3.amazonaws.com", "", "2024-05-01T00:00:00Z");
        let mut a = activity(&[&one]);
        a.merge(activity(&[&two]));
        assert_eq!(a, activity(&[&one, &two]));
    }
}
