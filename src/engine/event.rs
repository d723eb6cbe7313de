//! What only an event subject has: forged envelopes, trailguard's own
//! calls and failed calls, exemptions of the caller, the event's partition.

use super::{Evaluation, Subject, evaluate_subject};
use crate::config::Config;
use crate::event::input::Envelope;
use crate::event::view::RecordView;
use crate::event::{CloudTrailEvent, arn_parts};
use crate::rules::{self, Finding};

/// Is the caller trailguard's own role? Its fixes must never re-trigger it.
pub fn is_self(event: &CloudTrailEvent, config: &Config) -> bool {
    is_self_arns(event.principal_arns(), config)
}

/// [`is_self`] on the caller's ARNs ([`CloudTrailEvent::principal_arns`]):
/// the role's own ARN (a session's issuer), or a session of it, read as
/// the ARN it must be: `arn:PARTITION:sts::ACCOUNT:assumed-role/NAME/SESSION`
/// in the role's partition and account. Never a match anywhere in the
/// text: an IAM user's path may hold `:` and `/`, so a user named into
/// `/x:ACCOUNT:assumed-role/NAME/` has an ARN that reads like one.
fn is_self_arns<'a>(mut arns: impl Iterator<Item = &'a str>, config: &Config) -> bool {
    let Some(role_arn) = config.self_role_arn.as_deref() else {
        return false;
    };
    let Some((partition, account, role_name)) = role_of(role_arn) else {
        return false;
    };
    arns.any(|arn| arn == role_arn || session_of(arn) == Some((partition, account, role_name)))
}

/// `arn:P:iam::A:role/PATH/NAME` as (P, A, NAME).
fn role_of(arn: &str) -> Option<(&str, &str, &str)> {
    let ["arn", partition, "iam", "", account, resource] = arn_parts(arn)? else {
        return None;
    };
    let path = resource.strip_prefix("role/")?;
    Some((partition, account, path.rsplit('/').next()?))
}

/// `arn:P:sts::A:assumed-role/NAME/SESSION` as (P, A, NAME).
fn session_of(arn: &str) -> Option<(&str, &str, &str)> {
    let ["arn", partition, "sts", "", account, resource] = arn_parts(arn)? else {
        return None;
    };
    let (name, session) = resource.strip_prefix("assumed-role/")?.split_once('/')?;
    (!name.is_empty() && !session.is_empty() && !session.contains('/'))
        .then_some((partition, account, name))
}

/// The names of the roles whose calls are trailguard's own (its role,
/// and its member role in organisation mode): [`verdict_without_rules`]
/// finds one of them in the caller's ARN before it calls a record
/// trailguard's own.
pub fn own_role_names(config: &Config) -> Vec<&str> {
    let own = config
        .self_role_arn
        .as_deref()
        .and_then(role_of)
        .map(|(_, _, name)| name);
    own.into_iter()
        .chain(config.organization.member_role_name.as_deref())
        .collect()
}

/// Is the caller trailguard's member role in the event's account
/// (organisation mode)? Those are trailguard's own calls in member
/// accounts; see [`crate::config::Organization::is_member_session`].
pub fn is_member_session(event: &CloudTrailEvent, config: &Config) -> bool {
    let identity = &event.user_identity;
    // The record's own word for the account: the caller's account (the
    // fallback of `account_id`) does not say where the call acted.
    recipient(event.recipient_account_id.as_deref()).is_some_and(|account| {
        config.organization.is_member_session(
            identity.arn.as_deref(),
            identity.session_context.session_issuer.arn.as_deref(),
            account,
            own_account(config),
            (event.source(), event.name()),
        )
    })
}

/// A `recipientAccountId` that names an account.
fn recipient(id: Option<&str>) -> Option<&str> {
    id.filter(|a| !a.is_empty())
}

/// The function's own account, from its role's ARN when configured.
fn own_account(config: &Config) -> Option<&str> {
    config
        .self_role_arn
        .as_deref()
        .and_then(|arn| arn.split(':').nth(4))
        .filter(|a| !a.is_empty())
}

/// Where the effects of an event's decisions may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The function's own account (or an account it cannot tell from its
    /// own): its own credentials, as in the one-account mode.
    Own,
    /// Another account of the organisation: through the member role.
    Member { account: String, partition: String },
    /// Not acted on, alerted only, and why.
    AlertOnly(String),
}

/// The account an event is about (its record's `recipientAccountId`, which
/// [`forgery`] has checked against the envelope's `account`) decides where
/// it may be acted on: in `own_account` as always; in another account only
/// in organisation mode, allowed and not excluded. An unknown own account
/// (a CLI run with no role of its own configured) is today's behaviour:
/// the credentials at hand act.
pub fn scope(event: &CloudTrailEvent, config: &Config, own_account: Option<&str>) -> Scope {
    // In organisation mode the account must be the record's own word: the
    // caller's account (the fallback of `account_id`) may be another, and
    // without either the function's own credentials would act on a
    // same-named user of its own account.
    if config.organization.enabled()
        && own_account.is_some()
        && event
            .recipient_account_id
            .as_deref()
            .is_none_or(str::is_empty)
    {
        return Scope::AlertOnly(
            "the event names no recipientAccountId, so the account it is about is unknown: alerted only"
                .into(),
        );
    }
    let (Some(account), Some(own)) = (event.account_id(), own_account) else {
        return Scope::Own;
    };
    if account == own {
        return Scope::Own;
    }
    match config.organization.refusal(account) {
        Some(why) => Scope::AlertOnly(why),
        None => Scope::Member {
            account: account.to_owned(),
            partition: partition(event).to_owned(),
        },
    }
}

/// How every forgery reason begins, so logs and reports can be searched.
pub const FORGED: &str = "forged event";

/// Why an EventBridge envelope must not be trusted, if it must not.
///
/// AWS refuses `aws.*` sources to `events:PutEvents` callers, so an event
/// with another source (or none) was posted by someone, not by CloudTrail,
/// whatever its `detail-type` says. And CloudTrail's envelope names the
/// account the record was delivered to: an envelope of one account carrying
/// a record of another was assembled by hand. (Whoever may invoke the
/// function directly can still hand it any payload: only EventBridge should
/// be allowed to invoke it.)
pub fn forgery(envelope: &Envelope, event: &CloudTrailEvent) -> Option<String> {
    let source = envelope.source.as_deref().unwrap_or("");
    if !source.starts_with("aws.") {
        return Some(if source.is_empty() {
            format!("{FORGED}: the envelope has no `source` (AWS services send `aws.*`)")
        } else {
            format!(
                "{FORGED}: source `{source}` is not an AWS service (`aws.*`, which only AWS may send)"
            )
        });
    }
    let envelope_account = envelope.account.as_deref().filter(|a| !a.is_empty());
    let record_account = event
        .recipient_account_id
        .as_deref()
        .filter(|a| !a.is_empty());
    if let (Some(outer), Some(inner)) = (envelope_account, record_account)
        && outer != inner
    {
        return Some(format!(
            "{FORGED}: envelope account `{outer}` disagrees with the record's recipientAccountId `{inner}`"
        ));
    }
    None
}

/// [`evaluate`] for an event as delivered: a forged envelope (see
/// [`forgery`]) is never evaluated, only reported as ignored.
pub fn evaluate_delivered(
    event: &CloudTrailEvent,
    envelope: Option<&Envelope>,
    config: &Config,
) -> Evaluation {
    if let Some(why) = envelope.and_then(|e| forgery(e, event)) {
        return Evaluation {
            ignored: Some(why),
            ..Evaluation::default()
        };
    }
    evaluate(event, config)
}

/// Runs every rule of the catalogue over one event.
pub fn evaluate(event: &CloudTrailEvent, config: &Config) -> Evaluation {
    if is_self(event, config) {
        return Evaluation {
            ignored: Some("made by trailguard's own role".into()),
            ..Evaluation::default()
        };
    }
    if is_member_session(event, config) {
        return Evaluation {
            ignored: Some("made by trailguard's member role".into()),
            ..Evaluation::default()
        };
    }
    let mut out = evaluate_subject(Subject::Event(event), config);
    if out.decisions.is_empty() && event.failed() {
        out.ignored = Some(match event.error_code.as_deref() {
            Some(code) if !code.is_empty() => format!("failed call ({code})"),
            _ => "failed sign-in".into(),
        });
    }
    out
}

/// What [`evaluate`] makes of a log-file record, known from a few of its
/// fields when no rule can look at it: `Some(why it is ignored)`, the
/// evaluation having no decision, diagnostic nor declined rule. `None`
/// when a rule's trigger matches (or a console sign-in, whose failure is
/// read from `responseElements`): then the whole event must be evaluated.
///
/// Replay's skim ([`crate::event::skim`], built by replay's `skim_for`)
/// leaves unread the records it can tell come to `Some(None)` here from
/// their bytes: whatever this reads to answer anything else, the skim
/// must look for too (`src/replay/skim_tests.rs` holds the two together).
pub fn verdict_without_rules(record: &RecordView<'_>, config: &Config) -> Option<Option<String>> {
    if is_self_arns(record.principal_arns(), config) {
        return Some(Some("made by trailguard's own role".into()));
    }
    let identity = &record.user_identity;
    if recipient(record.recipient_account_id.as_deref()).is_some_and(|account| {
        config.organization.is_member_session(
            identity.arn.as_deref(),
            identity.session_context.session_issuer.arn.as_deref(),
            account,
            own_account(config),
            (record.source(), record.name()),
        )
    }) {
        return Some(Some("made by trailguard's member role".into()));
    }
    let (source, name) = (record.source(), record.name());
    if name == "ConsoleLogin" {
        return None;
    }
    let root = record.identity_type() == Some("Root");
    if rules::triggers().any(source, name, root) {
        return None;
    }
    // As `evaluate`: no decision, and a failed call is ignored as such.
    Some(match record.error_code.as_deref() {
        Some(code) if !code.is_empty() => Some(format!("failed call ({code})")),
        _ => None,
    })
}

/// Why a finding's target or actor is exempt from change, if it is.
pub(super) fn exemption(
    event: &CloudTrailEvent,
    finding: &Finding,
    config: &Config,
) -> Option<String> {
    let ex = &config.exemptions;
    if let Some((arn, pattern)) = event
        .principal_arns()
        .find_map(|arn| ex.principal(arn).map(|p| (arn, p)))
    {
        return Some(format!("caller {arn} matches exempt principal `{pattern}`"));
    }
    let user = finding.target.user_name()?;
    if let Some(pattern) = ex.user(user) {
        return Some(format!("user {user} matches exempt user glob `{pattern}`"));
    }
    let account = event.account_id()?;
    let partition = partition(event);
    let user_arn = format!("arn:{partition}:iam::{account}:user/{user}");
    ex.principal(&user_arn)
        .map(|p| format!("user {user_arn} matches exempt principal `{p}`"))
}

/// The partition the event happened in (`aws`, `aws-cn`, `aws-us-gov`...):
/// from the caller's ARNs, else from the region's name.
pub fn partition(event: &CloudTrailEvent) -> &str {
    let from_arn = event.principal_arns().find_map(|arn| {
        let p = arn.strip_prefix("arn:")?.split(':').next()?;
        rules::PARTITIONS.contains(&p).then_some(p)
    });
    from_arn.unwrap_or(match event.aws_region.as_deref().unwrap_or("") {
        r if r.starts_with("cn-") => "aws-cn",
        r if r.starts_with("us-gov-") => "aws-us-gov",
        _ => "aws",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Mode;
    use crate::rules::testing::{event, iam_call};
    use serde_json::json;

    fn attach(user: &str) -> serde_json::Value {
        iam_call(
            "AttachUserPolicy",
            json!({"userName": user, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
            json!(null),
        )
    }

    /// A call a remediation makes: moving an admin policy onto a group.
    fn attach_group(group: &str) -> serde_json::Value {
        iam_call(
            "AttachGroupPolicy",
            json!({"groupName": group, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
            json!(null),
        )
    }

    fn config(text: &str) -> Config {
        Config::from_toml(text, "t", std::iter::empty()).unwrap()
    }

    /// A rule whose trigger matched but that did not fire says why; a rule
    /// that never looked (another trigger) says nothing.
    #[test]
    fn rules_that_look_and_decline_say_why() {
        let read_only = iam_call(
            "AttachUserPolicy",
            json!({"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            json!(null),
        );
        let eval = evaluate(&event(read_only), &Config::default());
        let rules: Vec<_> = eval.decisions.iter().map(|d| d.finding.rule).collect();
        assert_eq!(rules, ["user-policy-attached"]);
        assert_eq!(
            eval.declined,
            [crate::engine::Declined {
                rule: "admin-policy-granted",
                why: "the AWS managed policy is not admin-equivalent",
            }]
        );
        assert_eq!(
            eval.declined[0].diagnostic().note,
            "declined: the AWS managed policy is not admin-equivalent"
        );
    }

    #[test]
    fn one_event_can_fire_several_rules() {
        let ev = event(attach("bob"));
        let rules: Vec<_> = evaluate(&ev, &Config::default())
            .decisions
            .iter()
            .map(|d| d.finding.rule)
            .collect();
        assert_eq!(rules, ["user-policy-attached", "admin-policy-granted"]);
    }

    #[test]
    fn root_creating_its_own_key_from_the_cli_fires_both_root_rules() {
        let mut raw = iam_call(
            "CreateAccessKey",
            json!(null),
            json!({"accessKey": {"accessKeyId": "AKIAROOT", "status": "Active"}}),
        );
        raw["userIdentity"] = json!({"type": "Root", "arn": "arn:aws:iam::111122223333:root"});
        let rules: Vec<_> = evaluate(&event(raw.clone()), &Config::default())
            .decisions
            .iter()
            .map(|d| d.finding.rule)
            .collect();
        assert_eq!(rules, ["root-api-call", "root-access-key-created"]);
        // From the console, CloudTrail names the service that acted for root
        // (`invokedBy`), which the root-api-call rule leaves out (CIS 1.7).
        raw["userIdentity"]["invokedBy"] = "signin.amazonaws.com".into();
        let rules: Vec<_> = evaluate(&event(raw), &Config::default())
            .decisions
            .iter()
            .map(|d| d.finding.rule)
            .collect();
        assert_eq!(rules, ["root-access-key-created"]);
    }

    #[test]
    fn own_role_events_are_ignored_by_role_session_or_issuer() {
        let c = config("self_role_arn = \"arn:aws:iam::111122223333:role/svc/trailguard-fn\"");
        let mut raw = attach("bob");
        raw["userIdentity"] = json!({"type": "AssumedRole",
            "arn": "arn:aws:sts::111122223333:assumed-role/trailguard-fn/trailguard-fn"});
        let eval = evaluate(&event(raw.clone()), &c);
        assert_eq!(
            eval.ignored.as_deref(),
            Some("made by trailguard's own role")
        );
        assert!(eval.decisions.is_empty());
        // Another account's role of the same name is not us.
        raw["userIdentity"]["arn"] =
            "arn:aws:sts::999999999999:assumed-role/trailguard-fn/x".into();
        assert!(evaluate(&event(raw), &c).ignored.is_none());
    }

    #[test]
    fn a_user_whose_path_spells_our_session_is_not_us() {
        // IAM paths may hold `:` and `/`: this user's ARN holds the text
        // of a session of trailguard's role, account and name included.
        let c = config("self_role_arn = \"arn:aws:iam::111122223333:role/svc/trailguard-fn\"");
        let mut raw = attach("bob");
        for arn in [
            "arn:aws:iam::111122223333:user/x:111122223333:assumed-role/trailguard-fn/bob",
            "arn:aws:iam::111122223333:user/x:111122223333:assumed-role/trailguard-fn/",
            "arn:aws:sts::111122223333:federated-user/x:111122223333:assumed-role/trailguard-fn/s",
            "arn:aws:sts::111122223333:assumed-role/trailguard-fn",
            "arn:aws:sts::111122223333:assumed-role/trailguard-fn/",
            "arn:aws-cn:sts::111122223333:assumed-role/trailguard-fn/s",
            "arn:aws:sts:us-east-1:111122223333:assumed-role/trailguard-fn/s",
        ] {
            raw["userIdentity"] = json!({"type": "IAMUser", "arn": arn});
            let eval = evaluate(&event(raw.clone()), &c);
            assert_eq!(eval.ignored, None, "{arn}");
            assert!(!eval.decisions.is_empty(), "{arn}");
        }
        // Its own session, in the role's partition, still is.
        raw["userIdentity"] = json!({"type": "AssumedRole",
            "arn": "arn:aws:sts::111122223333:assumed-role/trailguard-fn/trailguard-fn"});
        assert!(evaluate(&event(raw), &c).ignored.is_some());
        assert_eq!(own_role_names(&c), ["trailguard-fn"]);
    }

    #[test]
    fn off_rules_are_diagnosed_not_decided() {
        let c = config("[modes]\nadmin-policy-granted = \"off\"");
        let eval = evaluate(&event(attach("bob")), &c);
        assert_eq!(eval.decisions.len(), 1);
        assert_eq!(eval.diagnostics[0].rule, "admin-policy-granted");
    }

    #[test]
    fn exempt_user_is_alerted_not_remediated() {
        let c = config(
            "[modes]\nuser-policy-attached = \"remediate\"\n[exemptions]\nusers = [\"breakglass-*\"]",
        );
        let eval = evaluate(&event(attach("breakglass-ops")), &c);
        let d = &eval.decisions[0];
        assert_eq!(d.mode, Mode::Remediate);
        assert!(!d.remediates());
        assert!(d.exempt.as_deref().unwrap().contains("breakglass-*"));
        let eval = evaluate(&event(attach("bob")), &c);
        assert!(eval.decisions[0].remediates());
    }

    #[test]
    fn exempt_caller_is_alerted_not_remediated() {
        let c = config(
            "[modes]\nuser-policy-attached = \"remediate\"\n[exemptions]\nprincipals = [\"arn:aws:iam::111122223333:user/alice\"]",
        );
        let eval = evaluate(&event(attach("bob")), &c);
        assert!(!eval.decisions[0].remediates());
    }

    fn envelope(source: &str, account: &str) -> Envelope {
        Envelope {
            source: Some(source.into()).filter(|s: &String| !s.is_empty()),
            account: Some(account.into()),
            detail_type: Some("AWS API Call via CloudTrail".into()),
            ..Envelope::default()
        }
    }

    #[test]
    fn a_custom_source_event_is_never_evaluated() {
        // Anyone allowed events:PutEvents can post this: CreateAccessKey
        // would deactivate the key it names.
        let ev = event(iam_call(
            "CreateAccessKey",
            json!({"userName": "bob"}),
            json!({"accessKey": {"accessKeyId": "AKIAVICTIM", "userName": "bob"}}),
        ));
        let c = config("[modes]\naccess-key-created = \"remediate\"");
        let real = evaluate_delivered(&ev, Some(&envelope("aws.iam", "111122223333")), &c);
        assert!(real.decisions[0].remediates());
        for source in ["custom.iam", "iam", "", "AWS.iam"] {
            let eval = evaluate_delivered(&ev, Some(&envelope(source, "111122223333")), &c);
            assert!(eval.decisions.is_empty(), "{source}");
            let why = eval.ignored.unwrap();
            assert!(why.starts_with("forged event: "), "{why}");
        }
        let eval = evaluate_delivered(&ev, Some(&envelope("custom.iam", "1")), &c);
        assert_eq!(
            eval.ignored.as_deref(),
            Some(
                "forged event: source `custom.iam` is not an AWS service (`aws.*`, which only AWS may send)"
            )
        );
    }

    #[test]
    fn an_envelope_of_another_account_than_its_record_is_never_evaluated() {
        let ev = event(attach("bob"));
        let eval = evaluate_delivered(
            &ev,
            Some(&envelope("aws.iam", "999999999999")),
            &Config::default(),
        );
        assert_eq!(
            eval.ignored.as_deref(),
            Some(
                "forged event: envelope account `999999999999` disagrees with the record's recipientAccountId `111122223333`"
            )
        );
        assert!(eval.decisions.is_empty());
        // A bare record (a log file from S3) has no envelope to check.
        assert!(
            !evaluate_delivered(&ev, None, &Config::default())
                .decisions
                .is_empty()
        );
    }

    #[test]
    fn exempt_principal_target_user_is_matched_in_the_events_partition() {
        let c = config(
            "[modes]\nuser-policy-attached = \"remediate\"\n[exemptions]\nprincipals = [\"arn:aws-cn:iam::111122223333:user/breakglass\"]",
        );
        let mut raw = attach("breakglass");
        raw["awsRegion"] = "cn-north-1".into();
        raw["userIdentity"]["arn"] = "arn:aws-cn:iam::111122223333:user/alice".into();
        let d = &evaluate(&event(raw.clone()), &c).decisions[0];
        assert!(!d.remediates(), "{d:?}");
        assert!(
            d.exempt
                .as_deref()
                .unwrap()
                .contains("arn:aws-cn:iam::111122223333:user/breakglass")
        );
        // No caller ARN: the region tells the partition.
        raw["userIdentity"] = json!({"type": "AWSService", "invokedBy": "x.amazonaws.com"});
        assert!(!evaluate(&event(raw), &c).decisions[0].remediates());
    }

    #[test]
    fn exemptions_match_user_names_and_arns_whatever_their_case() {
        // IAM user names are unique case-insensitively, and IAM accepts a
        // request naming `BreakGlass-Ops` for the user `breakglass-ops`.
        let c = config(
            "[modes]\nuser-policy-attached = \"remediate\"\n[exemptions]\nusers = [\"breakglass-*\"]\nprincipals = [\"arn:aws:iam::111122223333:user/Carol\", \"arn:aws:iam::111122223333:user/ops-*\"]",
        );
        for user in ["BreakGlass-Ops", "BREAKGLASS-x", "carol", "CAROL", "OPS-1"] {
            let d = &evaluate(&event(attach(user)), &c).decisions[0];
            assert!(!d.remediates(), "{user} was not exempt");
        }
        let mut raw = attach("bob");
        raw["userIdentity"]["arn"] = "arn:aws:iam::111122223333:user/CAROL".into();
        assert!(!evaluate(&event(raw), &c).decisions[0].remediates());
        assert!(evaluate(&event(attach("bob")), &c).decisions[0].remediates());
    }

    #[test]
    fn failed_calls_are_ignored_with_their_error_code() {
        let mut raw = attach("bob");
        raw["errorCode"] = "AccessDenied".into();
        let eval = evaluate(&event(raw), &Config::default());
        assert_eq!(eval.ignored.as_deref(), Some("failed call (AccessDenied)"));
        assert!(eval.decisions.is_empty());
    }

    fn org(extra: &str) -> Config {
        config(&format!(
            "[organization]\nmember_role_name = \"trailguard-member\"\n{extra}"
        ))
    }

    #[test]
    fn an_event_of_the_own_account_or_of_an_unknown_own_account_acts_as_always() {
        let ev = event(attach("bob"));
        let one = Config::default();
        assert_eq!(scope(&ev, &one, Some("111122223333")), Scope::Own);
        assert_eq!(scope(&ev, &one, None), Scope::Own);
        assert_eq!(scope(&ev, &org(""), Some("111122223333")), Scope::Own);
    }

    #[test]
    fn another_account_is_alerted_only_unless_organisation_mode_allows_it() {
        let mut raw = attach("bob");
        raw["recipientAccountId"] = "222222222222".into();
        let ev = event(raw);
        let own = Some("111122223333");
        let Scope::AlertOnly(why) = scope(&ev, &Config::default(), own) else {
            panic!("acted on another account in one-account mode");
        };
        assert!(
            why.contains("`222222222222`") && why.contains("mode is off"),
            "{why}"
        );
        assert_eq!(
            scope(&ev, &org(""), own),
            Scope::Member {
                account: "222222222222".into(),
                partition: "aws".into()
            }
        );
        let allow = org("accounts = [\"333333333333\"]");
        assert!(
            matches!(scope(&ev, &allow, own), Scope::AlertOnly(w) if w.contains("organization.accounts"))
        );
        let excluded = org("exclude_accounts = [\"222222222222\"]");
        assert!(
            matches!(scope(&ev, &excluded, own), Scope::AlertOnly(w) if w.contains("exclude_accounts"))
        );
    }

    #[test]
    fn the_member_roles_sessions_are_ignored_in_every_account() {
        let mut raw = attach_group("trailguard-bob");
        raw["recipientAccountId"] = "222222222222".into();
        raw["userIdentity"] = json!({
            "type": "AssumedRole",
            "arn": "arn:aws:sts::222222222222:assumed-role/trailguard-member/trailguard",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::222222222222:role/trailguard-member"}}
        });
        let own = "self_role_arn = \"arn:aws:iam::111122223333:role/trailguard-fn\"";
        let cfg = config(&format!(
            "{own}\n[organization]\nmember_role_name = \"trailguard-member\"\n"
        ));
        let eval = evaluate(&event(raw.clone()), &cfg);
        assert_eq!(
            eval.ignored.as_deref(),
            Some("made by trailguard's member role")
        );
        assert!(eval.decisions.is_empty());
        // Only the calls a remediation makes: the same session attaching a
        // policy to a user is watched.
        let mut not_a_fix = attach("bob");
        for key in ["recipientAccountId", "userIdentity"] {
            not_a_fix[key] = raw[key].clone();
        }
        let eval = evaluate(&event(not_a_fix), &cfg);
        assert_eq!(eval.ignored, None);
        assert!(!eval.decisions.is_empty());
        // Without the function's own account nothing is taken for its own:
        // the member role's calls are evaluated (fail closed).
        assert!(!evaluate(&event(raw.clone()), &org("")).decisions.is_empty());
        // Nor without the record's own account: the caller's is no stand-in.
        let mut nameless = raw.clone();
        nameless["recipientAccountId"] = json!(null);
        nameless["userIdentity"]["accountId"] = "222222222222".into();
        assert!(evaluate(&event(nameless), &cfg).ignored.is_none());
        // In the one-account mode no role of that name is trailguard's.
        assert!(
            !evaluate(&event(raw), &Config::default())
                .decisions
                .is_empty()
        );
    }

    /// In organisation mode an event that does not name its account is
    /// alerted only: neither the caller's account nor the function's own
    /// stands in for it.
    #[test]
    fn an_event_without_its_account_is_alerted_only_in_organisation_mode() {
        for recipient in [json!(null), json!("")] {
            let mut raw = attach("bob");
            raw["recipientAccountId"] = recipient;
            let ev = event(raw);
            assert!(
                matches!(scope(&ev, &org(""), Some("999999999999")), Scope::AlertOnly(why) if why.contains("recipientAccountId")),
                "{:?}",
                scope(&ev, &org(""), Some("999999999999"))
            );
            // One-account mode is as before.
            assert_eq!(
                scope(&ev, &Config::default(), Some("111122223333")),
                Scope::Own
            );
        }
    }

    /// A role of the member role's name is watched wherever trailguard
    /// does not act through it: with a path (its sessions' ARNs hide the
    /// path), in the function's own account, in an excluded account, or
    /// named by a session of another account than the event's.
    #[test]
    fn look_alikes_of_the_member_role_are_evaluated() {
        let cfg = config(
            "self_role_arn = \"arn:aws:iam::111122223333:role/trailguard-fn\"\n\
             [organization]\nmember_role_name = \"trailguard-member\"\n\
             exclude_accounts = [\"444444444444\"]\n",
        );
        let by_session = |account: &str, issuer: &str, session: &str| {
            let mut raw = attach_group("trailguard-bob");
            raw["recipientAccountId"] = account.into();
            raw["userIdentity"] = json!({
                "type": "AssumedRole",
                "arn": format!("arn:aws:sts::{account}:assumed-role/trailguard-member/{session}"),
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": issuer}}
            });
            evaluate(&event(raw), &cfg)
        };
        let by = |account: &str, issuer: &str| by_session(account, issuer, "trailguard");
        // Someone else's session of the member role itself is watched.
        let other = by_session(
            "222222222222",
            "arn:aws:iam::222222222222:role/trailguard-member",
            "admin",
        );
        assert!(other.ignored.is_none() && !other.decisions.is_empty());
        let member = by(
            "222222222222",
            "arn:aws:iam::222222222222:role/trailguard-member",
        );
        assert_eq!(
            member.ignored.as_deref(),
            Some("made by trailguard's member role")
        );
        for (account, issuer) in [
            (
                "222222222222",
                "arn:aws:iam::222222222222:role/ops/trailguard-member",
            ),
            (
                "111122223333",
                "arn:aws:iam::111122223333:role/trailguard-member",
            ),
            (
                "444444444444",
                "arn:aws:iam::444444444444:role/trailguard-member",
            ),
            (
                "222222222222",
                "arn:aws:iam::555555555555:role/trailguard-member",
            ),
        ] {
            let eval = by(account, issuer);
            assert_eq!(eval.ignored, None, "{account} {issuer}");
            assert!(!eval.decisions.is_empty(), "{account} {issuer}");
        }
    }

    /// Replay skips the rules for a record no trigger matches: what it
    /// decides from a few fields must be what `evaluate` decides from the
    /// whole event, for the own role, member-role sessions, failed calls
    /// and every record of the corpus.
    #[test]
    fn the_shortcut_agrees_with_the_full_evaluation() {
        let cfg = config(
            "self_role_arn = \"arn:aws:iam::111122223333:role/trailguard-fn\"\n\
             [organization]\nmember_role_name = \"trailguard-member\"\n",
        );
        let as_caller = |mut record: serde_json::Value, arn: &str, issuer: &str| {
            record["recipientAccountId"] = json!(arn.split(':').nth(4));
            record["userIdentity"] = json!({
                "type": "AssumedRole",
                "arn": arn,
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": issuer}}
            });
            record
        };
        let mut records = vec![
            iam_call("CreateUser", json!({"userName": "x"}), json!(null)),
            as_caller(
                iam_call("CreateUser", json!({"userName": "x"}), json!(null)),
                "arn:aws:sts::222233334444:assumed-role/trailguard-member/trailguard",
                "arn:aws:iam::222233334444:role/trailguard-member",
            ),
            as_caller(
                iam_call("DeleteUser", json!({"userName": "x"}), json!(null)),
                "arn:aws:sts::111122223333:assumed-role/trailguard-fn/s",
                "arn:aws:iam::111122223333:role/trailguard-fn",
            ),
            as_caller(
                attach_group("trailguard-bob"),
                "arn:aws:sts::222233334444:assumed-role/trailguard-member/trailguard",
                "arn:aws:iam::222233334444:role/trailguard-member",
            ),
            as_caller(
                attach("bob"),
                "arn:aws:sts::222233334444:assumed-role/trailguard-member/trailguard",
                "arn:aws:iam::222233334444:role/trailguard-member",
            ),
        ];
        let mut failed = iam_call("CreateUser", json!({"userName": "x"}), json!(null));
        failed["errorCode"] = json!("AccessDenied");
        records.push(failed);
        let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
        for dir in std::fs::read_dir(&corpus).unwrap() {
            let dir = dir.unwrap().path();
            if !dir.is_dir() {
                continue;
            }
            for file in std::fs::read_dir(&dir).unwrap() {
                let file = file.unwrap().path();
                let text = std::fs::read_to_string(&file).unwrap();
                let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
                    continue;
                };
                // A log file's records, an envelope's detail, or one record.
                match (value.get("Records"), value.get("detail")) {
                    (Some(serde_json::Value::Array(all)), _) => records.extend(all.iter().cloned()),
                    (_, Some(detail)) => records.push(detail.clone()),
                    _ => records.push(value),
                }
            }
        }
        let mut skipped = 0;
        let mut reasons = std::collections::BTreeSet::new();
        for record in &records {
            let text = record.to_string();
            let Ok(view) = serde_json::from_str::<RecordView>(&text) else {
                continue;
            };
            let full = evaluate(&view.to_event(), &cfg);
            if let Some(why) = verdict_without_rules(&view, &cfg) {
                skipped += 1;
                assert!(full.decisions.is_empty(), "{text}");
                assert!(full.diagnostics.is_empty(), "{text}");
                assert!(full.declined.is_empty(), "{text}");
                assert_eq!(full.ignored, why, "{text}");
                reasons.extend(why);
            }
        }
        assert!(
            records.len() > 100,
            "corpus read: {} records",
            records.len()
        );
        assert!(skipped >= 4, "only {skipped} records took the shortcut");
        for why in [
            "made by trailguard's own role",
            "made by trailguard's member role",
            "failed call (AccessDenied)",
        ] {
            assert!(reasons.contains(why), "no record was {why}: {reasons:?}");
        }
    }
}
