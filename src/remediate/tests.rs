//! The remediations against the in-memory IAM: behaviour, idempotence, the
//! never-less-permission invariant at every intermediate state, faults at
//! every call, and the calls each makes against its declared permissions.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;

use super::group_move::GroupFacts;
use super::groups::alternative_name;
use super::*;
use crate::effects::faults::{FaultyIam, When};
use crate::effects::memory::{IamState, MemoryIam, MemoryTrail};
use crate::effects::{AccessKey, EffectError, ErrorKind, GroupInfo, Iam, Quotas};
use crate::inventory::PasswordBaseline;

const READ_ONLY: &str = "arn:aws:iam::aws:policy/ReadOnlyAccess";
const VIEW_ONLY: &str = "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess";
const DOC: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}"#;

fn move_policy(user: &str) -> Action {
    Action::MovePolicyToGroup {
        user_name: user.into(),
        policy_arn: READ_ONLY.into(),
        group_name: "trailguard-read-only".into(),
        group_path: "/trailguard/".into(),
    }
}

fn move_inline(user: &str) -> Action {
    Action::MoveInlinePolicyToGroup {
        user_name: user.into(),
        policy_name: "s3-read".into(),
        group_name: format!("trailguard-inline-{user}-s3-read"),
        group_path: "/trailguard/".into(),
    }
}

/// bob with ReadOnlyAccess attached directly and an inline policy.
fn bob() -> IamState {
    let mut s = IamState::default();
    let u = s.user("bob");
    u.attached.insert(READ_ONLY.into());
    u.inline.insert("s3-read".into(), DOC.into());
    u.keys.push(AccessKey {
        id: "AKIAOLD".into(),
        active: true,
    });
    u.keys.push(AccessKey {
        id: "AKIANEW".into(),
        active: true,
    });
    s
}

async fn run_on(
    iam: &dyn Iam,
    trail: &MemoryTrail,
    action: &Action,
) -> Result<Report, RemediateError> {
    let ctx = Ctx {
        iam,
        trail,
        region: Some("us-east-1"),
        retry: Retry::quick(),
        sleep: &TokioSleep,
    };
    run(action, &ctx).await
}

async fn run_mem(iam: &MemoryIam, action: &Action) -> Result<Report, RemediateError> {
    run_on(iam, &MemoryTrail::default(), action).await
}

#[tokio::test]
async fn move_policy_creates_a_dedicated_group_then_detaches() {
    let iam = MemoryIam::new(bob());
    let report = run_mem(&iam, &move_policy("bob")).await.unwrap();
    assert_eq!(report.status, Status::Done, "{report:?}");
    let s = iam.state();
    let g = &s.groups["trailguard-read-only"];
    assert_eq!(g.path, "/trailguard/");
    assert!(g.attached.contains(READ_ONLY) && g.members.contains("bob"));
    assert!(!s.users["bob"].attached.contains(READ_ONLY));
    assert_eq!(
        report.calls,
        [
            "iam:CreateGroup GroupName=trailguard-read-only Path=/trailguard/",
            "iam:AttachGroupPolicy GroupName=trailguard-read-only PolicyArn=arn:aws:iam::aws:policy/ReadOnlyAccess",
            "iam:AddUserToGroup GroupName=trailguard-read-only UserName=bob",
            "iam:DetachUserPolicy UserName=bob PolicyArn=arn:aws:iam::aws:policy/ReadOnlyAccess",
        ]
    );
    assert_eq!(
        report.undo,
        [
            "aws iam attach-user-policy --user-name bob --policy-arn arn:aws:iam::aws:policy/ReadOnlyAccess",
            "aws iam remove-user-from-group --group-name trailguard-read-only --user-name bob",
            "aws iam detach-group-policy --group-name trailguard-read-only --policy-arn arn:aws:iam::aws:policy/ReadOnlyAccess",
            "aws iam delete-group --group-name trailguard-read-only",
        ]
    );
}

#[tokio::test]
async fn move_policy_never_leaves_the_user_without_it_at_any_step() {
    let iam = MemoryIam::new(bob());
    run_mem(&iam, &move_policy("bob")).await.unwrap();
    let history = iam.history();
    assert_eq!(history.len(), 4);
    for (i, state) in history.iter().enumerate() {
        assert!(state.user_has_policy("bob", READ_ONLY), "after write {i}");
    }
}

#[tokio::test]
async fn move_policy_twice_is_a_no_op_the_second_time() {
    let iam = MemoryIam::new(bob());
    run_mem(&iam, &move_policy("bob")).await.unwrap();
    let after_first = iam.state();
    let again = run_mem(&iam, &move_policy("bob")).await.unwrap();
    assert_eq!(again.status, Status::Unchanged);
    assert!(again.notes[0].starts_with("already moved"), "{again:?}");
    assert!(again.calls.is_empty());
    assert_eq!(iam.state(), after_first);
}

#[tokio::test]
async fn move_policy_reuses_the_dedicated_group_of_other_users() {
    let mut s = bob();
    let g = s.group("trailguard-read-only", "/trailguard/");
    g.attached.insert(READ_ONLY.into());
    g.members.insert("carol".into());
    s.user("carol");
    let iam = MemoryIam::new(s);
    let report = run_mem(&iam, &move_policy("bob")).await.unwrap();
    assert_eq!(report.status, Status::Done);
    assert_eq!(report.calls.len(), 2, "{:?}", report.calls);
    let g = &iam.state().groups["trailguard-read-only"];
    assert_eq!(g.members.len(), 2);
}

#[tokio::test]
async fn a_group_of_that_name_holding_another_policy_is_never_reused() {
    let mut s = bob();
    s.user("dave");
    let g = s.group("trailguard-read-only", "/trailguard/");
    g.attached.insert(VIEW_ONLY.into());
    g.members.insert("dave".into());
    let foreign = g.clone();
    let iam = MemoryIam::new(s);
    let report = run_mem(&iam, &move_policy("bob")).await.unwrap();
    assert_eq!(report.status, Status::Done);
    let alt = alternative_name("trailguard-read-only", READ_ONLY);
    let st = iam.state();
    assert_eq!(st.groups["trailguard-read-only"], foreign);
    assert!(st.groups[&alt].attached.contains(READ_ONLY));
    assert!(st.groups[&alt].members.contains("bob"));
    assert!(report.notes.iter().any(|n| n.contains("not dedicated")));
    // Deterministic: a second run finds the same alternative group.
    let again = run_mem(&iam, &move_policy("bob")).await.unwrap();
    assert_eq!(again.status, Status::Unchanged);
}

#[tokio::test]
async fn groups_that_are_not_dedicated_are_rejected() {
    let facts = |path: &str, attached: &[&str], inline: &[&str], members: &[&str]| GroupFacts {
        info: GroupInfo {
            name: "g".into(),
            path: path.into(),
            members: members.iter().map(|m| m.to_string()).collect(),
        },
        attached: attached.iter().map(|m| m.to_string()).collect(),
        inline: inline.iter().map(|m| m.to_string()).collect(),
    };
    for (case, f) in [
        ("other path", facts("/", &[READ_ONLY], &[], &[])),
        (
            "inline policy",
            facts("/trailguard/", &[READ_ONLY], &["x"], &[]),
        ),
        (
            "another policy too",
            facts("/trailguard/", &[READ_ONLY, VIEW_ONLY], &[], &[]),
        ),
        (
            "empty, other members",
            facts("/trailguard/", &[], &[], &["dave"]),
        ),
    ] {
        let mut s = bob();
        s.users.insert("dave".into(), Default::default());
        let g = s.group("trailguard-read-only", &f.info.path);
        g.attached = f.attached.iter().cloned().collect();
        g.inline = f
            .inline
            .iter()
            .map(|n| (n.clone(), DOC.to_owned()))
            .collect();
        g.members = f.info.members.iter().cloned().collect();
        let before = s.groups["trailguard-read-only"].clone();
        let mem = MemoryIam::new(s);
        let report = run_mem(&mem, &move_policy("bob")).await.unwrap();
        assert_eq!(report.status, Status::Done, "{case}");
        assert_eq!(mem.state().groups["trailguard-read-only"], before, "{case}");
    }
}

#[tokio::test]
async fn both_candidate_names_taken_blocks_without_change() {
    let mut s = bob();
    let alt = alternative_name("trailguard-read-only", READ_ONLY);
    for name in ["trailguard-read-only", alt.as_str()] {
        s.group(name, "/trailguard/")
            .attached
            .insert(VIEW_ONLY.into());
    }
    let before = s.clone();
    let iam = MemoryIam::new(s);
    let report = run_mem(&iam, &move_policy("bob")).await.unwrap();
    assert_eq!(report.status, Status::Blocked);
    assert!(report.notes.last().unwrap().contains("move it by hand"));
    assert_eq!(iam.state(), before);
}

#[tokio::test]
async fn user_at_its_group_quota_is_left_unchanged_and_told_why() {
    let mut s = bob();
    s.quotas = Quotas {
        groups_per_user: 3,
        ..Quotas::default()
    };
    for i in 0..3 {
        s.group(&format!("team-{i}"), "/")
            .members
            .insert("bob".into());
    }
    let before = s.clone();
    let iam = MemoryIam::new(s);
    let report = run_mem(&iam, &move_policy("bob")).await.unwrap();
    assert_eq!(report.status, Status::Blocked);
    assert!(
        report.notes[0]
            .contains("is in 3 groups and the account allows 3 per user (GroupsPerUserQuota)"),
        "{report:?}"
    );
    assert_eq!(iam.state(), before);
    assert!(iam.history().is_empty());
}

/// bob is at his group quota and already in a group named like the
/// dedicated one, but holding something else: the alternative group would
/// be new to him, so nothing is created or attached (no orphan group) and
/// the move is blocked, not failed.
#[tokio::test]
async fn user_at_its_group_quota_in_a_foreign_candidate_group_is_blocked_without_change() {
    for (action, base) in [
        (move_policy("bob"), "trailguard-read-only"),
        (move_inline("bob"), "trailguard-inline-bob-s3-read"),
    ] {
        let mut s = bob();
        s.quotas.groups_per_user = 3;
        for i in 0..2 {
            s.group(&format!("team-{i}"), "/")
                .members
                .insert("bob".into());
        }
        let g = s.group(base, "/trailguard/");
        g.attached.insert(VIEW_ONLY.into());
        g.members.insert("bob".into());
        let before = s.clone();
        let iam = MemoryIam::new(s);
        let report = run_mem(&iam, &action).await.unwrap();
        assert_eq!(report.status, Status::Blocked, "{report:?}");
        assert!(report.calls.is_empty(), "{report:?}");
        assert!(
            report.notes.iter().any(|n| n.contains(
                "bob is in 3 groups and the account allows 3 per user (GroupsPerUserQuota)"
            )),
            "{report:?}"
        );
        assert_eq!(iam.state(), before, "{base}");
        assert!(iam.history().is_empty(), "{base}");
    }
}

/// At the quota, a dedicated group bob is already in is still used.
#[tokio::test]
async fn user_at_its_group_quota_already_in_the_dedicated_group_is_moved() {
    let mut s = bob();
    s.quotas.groups_per_user = 2;
    s.group("team-0", "/").members.insert("bob".into());
    let g = s.group("trailguard-read-only", "/trailguard/");
    g.attached.insert(READ_ONLY.into());
    g.members.insert("bob".into());
    let iam = MemoryIam::new(s);
    let report = run_mem(&iam, &move_policy("bob")).await.unwrap();
    assert_eq!(report.status, Status::Done, "{report:?}");
    assert_eq!(
        report.calls,
        ["iam:DetachUserPolicy UserName=bob PolicyArn=arn:aws:iam::aws:policy/ReadOnlyAccess"]
    );
}

#[tokio::test]
async fn account_at_its_group_quota_is_left_unchanged() {
    let mut s = bob();
    s.quotas.groups_quota = 1;
    s.group("other", "/");
    let before = s.clone();
    let iam = MemoryIam::new(s);
    let report = run_mem(&iam, &move_policy("bob")).await.unwrap();
    assert_eq!(report.status, Status::Blocked);
    assert!(report.notes[0].contains("GroupsQuota"));
    assert_eq!(iam.state(), before);
}

#[tokio::test]
async fn deleted_user_is_a_clear_no_op() {
    let iam = MemoryIam::default();
    for action in [
        move_policy("ghost"),
        move_inline("ghost"),
        Action::DeactivateAccessKey {
            user_name: "ghost".into(),
            access_key_id: "AKIA1".into(),
        },
    ] {
        let report = run_mem(&iam, &action).await.unwrap();
        assert_eq!(report.status, Status::Unchanged);
        assert_eq!(
            report.notes[0],
            "user ghost no longer exists; nothing to change"
        );
        assert!(
            report.notes[1].starts_with("read again for 0.0"),
            "{report:?}"
        );
    }
    assert!(iam.history().is_empty());
}

#[tokio::test]
async fn policy_detached_meanwhile_is_not_granted_back() {
    let mut s = bob();
    s.user("bob").attached.clear();
    let iam = MemoryIam::new(s);
    let report = run_mem(&iam, &move_policy("bob")).await.unwrap();
    assert_eq!(report.status, Status::Unchanged);
    assert!(report.notes[0].contains("no longer attached"));
    assert!(iam.state().groups.is_empty());
}

/// What someone else does while a move runs: the user's own copy is
/// detached or deleted just before trailguard takes it away.
fn detached_meanwhile(s: &mut IamState) {
    s.user("bob").attached.clear();
}

fn deleted_meanwhile(s: &mut IamState) {
    s.user("bob").inline.clear();
}

fn changed_meanwhile(s: &mut IamState) {
    let narrower = DOC.replace("s3:GetObject", "s3:GetObjectTagging");
    s.user("bob").inline.insert("s3-read".into(), narrower);
}

/// Detached meanwhile: by an administrator, or by another delivery of the
/// same event running alongside. IAM cannot tell which; in the second case
/// taking the user out of the group would leave nothing, so the user keeps
/// it through the group and the note says how to revoke it.
#[tokio::test]
async fn a_policy_detached_during_the_move_stays_in_the_group_with_how_to_revoke_it() {
    let iam = MemoryIam::new(bob()).meanwhile("iam:DetachUserPolicy", detached_meanwhile);
    let report = run_mem(&iam, &move_policy("bob")).await.unwrap();
    assert_eq!(report.status, Status::Done, "{report:?}");
    let s = iam.state();
    assert!(s.users["bob"].attached.is_empty());
    assert!(s.groups["trailguard-read-only"].members.contains("bob"));
    assert!(
        report.notes.iter().any(|n| n.contains(
            "aws iam remove-user-from-group --group-name trailguard-read-only --user-name bob"
        )),
        "{report:?}"
    );
    assert!(!iam.calls().contains(&"iam:RemoveUserFromGroup"));
}

/// Two deliveries of one event at once: both add and verify, one takes
/// the user's copy away, the other finds it gone. The user keeps the grant.
#[tokio::test]
async fn two_deliveries_of_one_event_at_once_leave_the_user_the_grant() {
    for (action, iam) in [
        (
            move_policy("bob"),
            MemoryIam::new(bob()).meanwhile("iam:DetachUserPolicy", detached_meanwhile),
        ),
        (
            move_inline("bob"),
            MemoryIam::new(bob()).meanwhile("iam:DeleteUserPolicy", deleted_meanwhile),
        ),
    ] {
        let report = run_mem(&iam, &action).await.unwrap();
        assert_eq!(report.status, Status::Done, "{report:?}");
        let s = iam.state();
        let holds = s.groups.values().any(|g| {
            g.members.contains("bob")
                && (g.attached.contains(READ_ONLY) || g.inline.contains_key("s3-read"))
        });
        assert!(holds, "{s:?}");
    }
}

#[tokio::test]
async fn an_inline_policy_changed_during_the_move_is_not_granted_in_its_old_version() {
    let iam = MemoryIam::new(bob()).meanwhile("iam:PutGroupPolicy", changed_meanwhile);
    let err = run_mem(&iam, &move_inline("bob")).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    let group = "trailguard-inline-bob-s3-read";
    let s = iam.state();
    assert!(!s.groups[group].members.contains("bob"));
    assert!(s.users["bob"].inline["s3-read"].contains("s3:GetObjectTagging"));
    assert!(
        err.report
            .calls
            .iter()
            .any(|c| c == &format!("iam:RemoveUserFromGroup GroupName={group} UserName=bob"))
    );

    // A membership from before this run is left alone.
    let mut before = bob();
    before
        .group(group, "/trailguard/")
        .members
        .insert("bob".into());
    let iam = MemoryIam::new(before).meanwhile("iam:PutGroupPolicy", changed_meanwhile);
    assert!(run_mem(&iam, &move_inline("bob")).await.is_err());
    assert!(iam.state().groups[group].members.contains("bob"));
    assert!(!iam.calls().contains(&"iam:RemoveUserFromGroup"));
}

/// The final state of a fault-free run, to compare retried runs with.
async fn clean_final_state(initial: &IamState, action: &Action) -> IamState {
    let iam = MemoryIam::new(initial.clone());
    run_mem(&iam, action).await.unwrap();
    iam.state()
}

/// Runs `action` with a fault at every call, before and after it takes
/// effect; checks `holds` on every state reached, then retries.
async fn fault_at_every_call(initial: IamState, action: Action, holds: impl Fn(&IamState) -> bool) {
    let expected = clean_final_state(&initial, &action).await;
    let probe = FaultyIam::new(MemoryIam::new(initial.clone()));
    run_on(&probe, &MemoryTrail::default(), &action)
        .await
        .unwrap();
    let n = probe.calls().len();
    assert!(n >= 8, "{:?}", probe.calls());
    for call in 0..n {
        for when in [When::Before, When::After] {
            let faulty = FaultyIam::new(MemoryIam::new(initial.clone())).fail_at(call, when);
            let err = run_on(&faulty, &MemoryTrail::default(), &action)
                .await
                .expect_err("the fault surfaces");
            assert!(err.is_retryable(), "call {call} {when:?}: {err}");
            assert_eq!(err.report.status, Status::Failed);
            let mem = faulty.inner();
            for (i, s) in mem.history().iter().enumerate() {
                assert!(holds(s), "call {call} {when:?}, write {i}");
            }
            assert!(holds(&mem.state()), "call {call} {when:?}");
            // The retry completes and ends where a clean run ends.
            let retried = run_mem(mem, &action).await.unwrap();
            assert!(
                matches!(retried.status, Status::Done | Status::Unchanged),
                "call {call} {when:?}: {retried:?}"
            );
            assert_eq!(mem.state(), expected, "call {call} {when:?}");
            for s in mem.history() {
                assert!(holds(&s), "call {call} {when:?} during the retry");
            }
        }
    }
}

#[tokio::test]
async fn move_policy_survives_a_fault_at_every_call() {
    fault_at_every_call(bob(), move_policy("bob"), |s| {
        s.user_has_policy("bob", READ_ONLY)
    })
    .await;
}

#[tokio::test]
async fn move_inline_policy_survives_a_fault_at_every_call() {
    fault_at_every_call(bob(), move_inline("bob"), |s| {
        s.user_has_document("bob", DOC)
    })
    .await;
}

#[tokio::test]
async fn access_denied_is_not_retryable_and_changes_nothing_after_it() {
    // The first write, CreateGroup, is refused.
    let probe = FaultyIam::new(MemoryIam::new(bob()));
    run_on(&probe, &MemoryTrail::default(), &move_policy("bob"))
        .await
        .unwrap();
    let create = probe
        .calls()
        .iter()
        .position(|c| *c == "iam:CreateGroup")
        .unwrap();
    let faulty = FaultyIam::new(MemoryIam::new(bob())).fail_at_with(
        create,
        When::Before,
        ErrorKind::AccessDenied,
    );
    let err = run_on(&faulty, &MemoryTrail::default(), &move_policy("bob"))
        .await
        .unwrap_err();
    assert!(!err.is_retryable());
    assert_eq!(faulty.inner().state(), bob());
}

/// bob, with trailguard's role limited to its group path as deployed.
fn bob_scoped() -> IamState {
    IamState {
        group_scope: Some("/trailguard/".into()),
        ..bob()
    }
}

#[tokio::test]
async fn a_role_scoped_to_its_group_path_moves_policies_all_the_same() {
    for action in [move_policy("bob"), move_inline("bob")] {
        let iam = MemoryIam::new(bob_scoped());
        let report = run_mem(&iam, &action).await.unwrap();
        assert_eq!(report.status, Status::Done, "{report:?}");
        let done = iam.state();
        let again = run_mem(&iam, &action).await.unwrap();
        assert_eq!(again.status, Status::Unchanged, "{again:?}");
        assert_eq!(iam.state(), done);
    }
}

#[tokio::test]
async fn a_same_named_group_outside_the_path_is_never_touched() {
    let mut s = bob_scoped();
    s.user("dave");
    let g = s.group("trailguard-read-only", "/");
    g.attached.insert(READ_ONLY.into());
    g.members.insert("dave".into());
    let foreign = g.clone();
    let iam = MemoryIam::new(s);
    let report = run_mem(&iam, &move_policy("bob")).await.unwrap();
    assert_eq!(report.status, Status::Done, "{report:?}");
    assert!(
        report.notes[0].contains("exists outside trailguard's path"),
        "{report:?}"
    );
    let st = iam.state();
    assert_eq!(st.groups["trailguard-read-only"], foreign);
    let alt = alternative_name("trailguard-read-only", READ_ONLY);
    assert!(st.groups[&alt].members.contains("bob"));
    assert_eq!(
        run_mem(&iam, &move_policy("bob")).await.unwrap().status,
        Status::Unchanged
    );
}

#[tokio::test]
async fn a_scoped_move_survives_a_fault_at_every_call() {
    fault_at_every_call(bob_scoped(), move_policy("bob"), |s| {
        s.user_has_policy("bob", READ_ONLY)
    })
    .await;
    fault_at_every_call(bob_scoped(), move_inline("bob"), |s| {
        s.user_has_document("bob", DOC)
    })
    .await;
}

#[tokio::test]
async fn move_inline_policy_copies_the_current_document_and_keeps_it_in_the_report() {
    let iam = MemoryIam::new(bob());
    let report = run_mem(&iam, &move_inline("bob")).await.unwrap();
    assert_eq!(report.status, Status::Done, "{report:?}");
    assert_eq!(report.document.as_deref(), Some(DOC));
    let s = iam.state();
    let g = &s.groups["trailguard-inline-bob-s3-read"];
    assert_eq!(g.inline["s3-read"], DOC);
    assert!(g.members.contains("bob"));
    assert!(s.users["bob"].inline.is_empty());
    for (i, st) in iam.history().iter().enumerate() {
        assert!(st.user_has_document("bob", DOC), "after write {i}");
    }
    assert!(report.undo[0].starts_with(
        "aws iam put-user-policy --user-name bob --policy-name s3-read --policy-document '{"
    ));
    let again = run_mem(&iam, &move_inline("bob")).await.unwrap();
    assert_eq!(again.status, Status::Unchanged);
    assert!(again.notes[0].starts_with("already moved"));
    assert_eq!(again.document.as_deref(), Some(DOC));
    assert_eq!(iam.state(), s);
}

/// An earlier move left v1 in the group; the user now has v2 under the same
/// name. Overwriting v1 and deleting v2 would take v1's permissions away and
/// lose v1: nothing changes, and a human gets both documents.
#[tokio::test]
async fn move_inline_policy_with_a_different_version_in_the_group_is_blocked() {
    const V2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"*"}]}"#;
    let mut s = bob();
    s.user("bob").inline.insert("s3-read".into(), V2.into());
    let g = s.group("trailguard-inline-bob-s3-read", "/trailguard/");
    g.inline.insert(
        "s3-read".into(),
        "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [{\"Effect\": \"Allow\", \"Action\": \"s3:GetObject\", \"Resource\": \"*\"}]\n}".into(),
    );
    g.members.insert("bob".into());
    let before = s.clone();
    let iam = MemoryIam::new(s);
    let report = run_mem(&iam, &move_inline("bob")).await.unwrap();
    assert_eq!(report.status, Status::Blocked, "{report:?}");
    assert!(report.calls.is_empty() && report.undo.is_empty());
    assert_eq!(iam.state(), before);
    assert!(iam.history().is_empty());
    let note = report.notes.last().unwrap();
    assert!(
        note.contains("already holds inline policy s3-read with a different document"),
        "{note}"
    );
    // Both documents, each on one line.
    let one_line = |d: &str| {
        serde_json::from_str::<serde_json::Value>(d)
            .unwrap()
            .to_string()
    };
    let v1 = &before.groups["trailguard-inline-bob-s3-read"].inline["s3-read"];
    assert!(note.contains(&one_line(v1)), "{note}");
    assert!(note.contains(&one_line(V2)), "{note}");
    assert!(!note.contains('\n'), "{note}");
    assert_eq!(report.document.as_deref(), Some(V2));
}

#[tokio::test]
async fn deactivate_touches_only_the_named_key_and_never_deletes() {
    let iam = MemoryIam::new(bob());
    let action = Action::DeactivateAccessKey {
        user_name: "bob".into(),
        access_key_id: "AKIANEW".into(),
    };
    let report = run_mem(&iam, &action).await.unwrap();
    assert_eq!(report.status, Status::Done);
    assert_eq!(
        iam.state().users["bob"].keys,
        [
            AccessKey {
                id: "AKIAOLD".into(),
                active: true
            },
            AccessKey {
                id: "AKIANEW".into(),
                active: false
            },
        ]
    );
    assert_eq!(
        report.undo,
        ["aws iam update-access-key --user-name bob --access-key-id AKIANEW --status Active"]
    );
    let again = run_mem(&iam, &action).await.unwrap();
    assert_eq!(again.status, Status::Unchanged);
    assert_eq!(
        again.notes,
        ["access key AKIANEW of bob is already inactive"]
    );
    let gone = Action::DeactivateAccessKey {
        user_name: "bob".into(),
        access_key_id: "AKIAGONE".into(),
    };
    let report = run_mem(&iam, &gone).await.unwrap();
    assert_eq!(report.status, Status::Unchanged);
    assert!(report.notes[0].contains("no longer exists"));
}

#[tokio::test]
async fn password_policy_is_written_whole_and_only_when_needed() {
    let base = PasswordBaseline::default();
    let action = Action::RestorePasswordPolicy {
        baseline: base.clone(),
    };
    let iam = MemoryIam::default();
    let report = run_mem(&iam, &action).await.unwrap();
    assert_eq!(report.status, Status::Done);
    assert_eq!(report.undo, ["aws iam delete-account-password-policy"]);
    assert_eq!(iam.state().password_policy, Some(base.clone()));
    let again = run_mem(&iam, &action).await.unwrap();
    assert_eq!(again.status, Status::Unchanged);

    let s = IamState {
        password_policy: Some(PasswordBaseline {
            minimum_length: 8,
            require_symbols: false,
            ..base.clone()
        }),
        ..IamState::default()
    };
    let iam = MemoryIam::new(s);
    let report = run_mem(&iam, &action).await.unwrap();
    assert_eq!(report.status, Status::Done);
    assert!(report.undo[0].contains("--minimum-password-length 8"));
    assert!(report.undo[0].contains("--no-require-symbols"));
    assert_eq!(iam.state().password_policy, Some(base));
    assert_eq!(
        iam.calls(),
        [
            "iam:GetAccountPasswordPolicy",
            "iam:UpdateAccountPasswordPolicy"
        ]
    );
}

#[tokio::test]
async fn start_logging_is_done_only_on_a_stopped_trail() {
    let trail = MemoryTrail::default()
        .with_trail("main", false)
        .with_trail("other", true);
    let iam = MemoryIam::default();
    let go = |t: &str| Action::StartLogging { trail: t.into() };
    let r = run_on(&iam, &trail, &go("main")).await.unwrap();
    assert_eq!(r.status, Status::Done);
    assert_eq!(
        r.undo,
        ["aws cloudtrail stop-logging --name main --region us-east-1"]
    );
    assert_eq!(trail.is_logging_now("main"), Some(true));
    assert_eq!(
        run_on(&iam, &trail, &go("main")).await.unwrap().status,
        Status::Unchanged
    );
    assert_eq!(
        run_on(&iam, &trail, &go("other")).await.unwrap().status,
        Status::Unchanged
    );
    let gone = run_on(&iam, &trail, &go("deleted")).await.unwrap();
    assert_eq!(gone.status, Status::Unchanged);
    assert!(gone.notes[0].contains("no longer exists"));
    assert_eq!(
        run_on(&iam, &trail, &go("?")).await.unwrap().status,
        Status::Blocked
    );
}

#[tokio::test]
async fn start_logging_starts_a_trail_whose_status_read_predates_the_stop() {
    // StopLogging landed; the status read still answers "logging".
    let trail = MemoryTrail::default()
        .with_trail("main", false)
        .status_reads("main", true);
    let go = Action::StartLogging {
        trail: "main".into(),
    };
    let r = run_on(&MemoryIam::default(), &trail, &go).await.unwrap();
    assert_eq!(trail.is_logging_now("main"), Some(true));
    assert_eq!(r.status, Status::Unchanged);
    assert_eq!(r.calls, ["cloudtrail:StartLogging Name=main"]);
    assert!(r.undo.is_empty(), "{:?}", r.undo);
    assert!(r.notes[0].contains("may predate it"), "{:?}", r.notes);
}

/// The calls each remediation makes, through all its paths, are exactly
/// the permissions its registry entry declares (GetUser is the executor's
/// exemption read: the user's real ARN and its tags).
#[tokio::test]
async fn declared_permissions_are_exactly_the_calls_made() {
    let mut with_groups = bob();
    let g = with_groups.group("trailguard-read-only", "/trailguard/");
    g.attached.insert(VIEW_ONLY.into());
    let g = with_groups.group("trailguard-inline-bob-s3-read", "/trailguard/");
    g.inline.insert("s3-read".into(), "{}".into());
    let key = Action::DeactivateAccessKey {
        user_name: "bob".into(),
        access_key_id: "AKIANEW".into(),
    };
    let password = Action::RestorePasswordPolicy {
        baseline: PasswordBaseline::default(),
    };
    let trail = Action::StartLogging {
        trail: "main".into(),
    };
    for (spec, action) in [
        (&MOVE_POLICY_TO_GROUP, move_policy("bob")),
        (&MOVE_INLINE_POLICY_TO_GROUP, move_inline("bob")),
        (&DEACTIVATE_ACCESS_KEY, key),
        (&RESTORE_PASSWORD_POLICY, password),
        (&START_LOGGING, trail),
    ] {
        let mut used: BTreeSet<&str> = BTreeSet::new();
        for initial in [bob(), with_groups.clone()] {
            let iam = MemoryIam::new(initial);
            let trails = MemoryTrail::default().with_trail("main", false);
            // Twice: the second run takes the "already done" paths.
            for _ in 0..2 {
                run_on(&iam, &trails, &action).await.unwrap();
            }
            used.extend(iam.calls());
            used.extend(trails.calls());
        }
        // The user's inline copy changes during the move.
        if let Action::MoveInlinePolicyToGroup { .. } = &action {
            let iam = MemoryIam::new(bob()).meanwhile("iam:PutGroupPolicy", changed_meanwhile);
            run_mem(&iam, &action).await.unwrap_err();
            used.extend(iam.calls());
        }
        if action_has_user(&action) {
            used.insert("iam:GetUser");
        }
        let declared: BTreeSet<&str> = spec.permissions.iter().copied().collect();
        assert_eq!(used, declared, "{}", spec.id);
    }
}

fn action_has_user(a: &Action) -> bool {
    matches!(
        a,
        Action::MovePolicyToGroup { .. }
            | Action::MoveInlinePolicyToGroup { .. }
            | Action::DeactivateAccessKey { .. }
    )
}

// The issue "a guardrail that cannot be turned against the account" -------

/// A clock for the waits: returns at once, and records each wait with the
/// number of IAM calls made before it and the IAM state at that moment.
struct Clock<'a> {
    iam: &'a FaultyIam<MemoryIam>,
    waits: std::sync::Mutex<Vec<(usize, Duration, IamState)>>,
}

impl<'a> Clock<'a> {
    fn new(iam: &'a FaultyIam<MemoryIam>) -> Self {
        Clock {
            iam,
            waits: Default::default(),
        }
    }

    fn waits(&self) -> Vec<(usize, Duration, IamState)> {
        self.waits.lock().unwrap().clone()
    }

    fn total(&self) -> Duration {
        self.waits().iter().map(|w| w.1).sum()
    }
}

#[async_trait]
impl Sleep for Clock<'_> {
    async fn sleep(&self, duration: Duration) {
        let seen = (self.iam.calls().len(), duration, self.iam.inner().state());
        self.waits.lock().unwrap().push(seen);
    }
}

async fn run_timed(
    iam: &FaultyIam<MemoryIam>,
    clock: &Clock<'_>,
    retry: Retry,
    action: &Action,
) -> Result<Report, RemediateError> {
    let ctx = Ctx {
        iam,
        trail: &MemoryTrail::default(),
        region: Some("us-east-1"),
        retry,
        sleep: clock,
    };
    run(action, &ctx).await
}

fn move_policy_arn(user: &str, policy_arn: &str) -> Action {
    Action::MovePolicyToGroup {
        user_name: user.into(),
        policy_arn: policy_arn.into(),
        group_name: "trailguard-moved".into(),
        group_path: "/trailguard/".into(),
    }
}

/// The template denies the role AttachGroupPolicy of these policies, so a
/// move would fail after creating a group: it is Blocked before any call,
/// and the direct grant stays (and stays alerted).
#[tokio::test]
async fn moving_an_admin_equivalent_aws_policy_is_blocked_before_any_call() {
    for partition in ["aws", "aws-cn", "aws-us-gov"] {
        for name in ["AdministratorAccess", "IAMFullAccess", "PowerUserAccess"] {
            let arn = format!("arn:{partition}:iam::aws:policy/{name}");
            let mut s = IamState::default();
            s.user("bob").attached.insert(arn.clone());
            let before = s.clone();
            let iam = MemoryIam::new(s);
            let report = run_mem(&iam, &move_policy_arn("bob", &arn)).await.unwrap();
            assert_eq!(report.status, Status::Blocked, "{arn}: {report:?}");
            assert!(report.calls.is_empty(), "{arn}");
            assert!(iam.calls().is_empty(), "{arn}: {:?}", iam.calls());
            assert_eq!(iam.state(), before, "{arn}");
            assert!(
                report.notes[0].contains("trailguard never attaches it to a group"),
                "{report:?}"
            );
            let planned = plan(&move_policy_arn("bob", &arn));
            assert!(planned.notes[0].contains("never attaches it to a group"));
        }
    }
    // A customer managed policy of that name is moved as any other.
    let arn = "arn:aws:iam::111122223333:policy/AdministratorAccess";
    let mut s = IamState::default();
    s.user("bob").attached.insert(arn.into());
    let iam = MemoryIam::new(s);
    let report = run_mem(&iam, &move_policy_arn("bob", arn)).await.unwrap();
    assert_eq!(report.status, Status::Done, "{report:?}");
}

/// moto cannot show PolicyNotAttachable: the in-memory IAM refuses to
/// attach a deprecated policy as IAM does, and answers IsAttachable false.
#[tokio::test]
async fn a_deprecated_policy_that_iam_will_not_attach_is_blocked_before_anything_is_created() {
    let mut s = bob();
    s.unattachable.insert(READ_ONLY.into());
    let before = s.clone();
    let iam = MemoryIam::new(s);
    let report = run_mem(&iam, &move_policy("bob")).await.unwrap();
    assert_eq!(report.status, Status::Blocked, "{report:?}");
    assert!(report.calls.is_empty());
    assert!(iam.history().is_empty(), "nothing written");
    assert_eq!(iam.state(), before);
    assert!(report.notes[0].contains("IsAttachable false"), "{report:?}");
    assert!(!iam.calls().contains(&"iam:CreateGroup"));
}

/// IAM's eventual consistency, which moto cannot show: the in-memory IAM
/// answers the first reads from before the event's write (user created,
/// policy attached, key created seconds before), then from after it.
#[tokio::test]
async fn what_the_event_names_but_iam_does_not_show_yet_is_read_again() {
    let without_attachment = {
        let mut s = bob();
        s.user("bob").attached.clear();
        s
    };
    let without_inline = {
        let mut s = bob();
        s.user("bob").inline.clear();
        s
    };
    let without_key = {
        let mut s = bob();
        s.user("bob").keys.pop();
        s
    };
    let key = Action::DeactivateAccessKey {
        user_name: "bob".into(),
        access_key_id: "AKIANEW".into(),
    };
    for (case, before, action) in [
        (
            "user not there yet",
            IamState::default(),
            move_policy("bob"),
        ),
        (
            "attachment not there yet",
            without_attachment,
            move_policy("bob"),
        ),
        (
            "user not there yet",
            IamState::default(),
            move_inline("bob"),
        ),
        (
            "inline policy not there yet",
            without_inline,
            move_inline("bob"),
        ),
        ("user not there yet", IamState::default(), key.clone()),
        ("key not there yet", without_key, key.clone()),
    ] {
        let iam = MemoryIam::eventually(before, bob(), 3);
        let report = run_mem(&iam, &action).await.unwrap();
        assert_eq!(report.status, Status::Done, "{case}: {report:?}");
    }
}

/// Absent for good: read again with backoff for about 30 seconds (on a
/// clock that does not really wait), then Unchanged, saying so.
#[tokio::test]
async fn an_absent_user_is_read_again_for_the_budget_then_left_unchanged() {
    let iam = FaultyIam::new(MemoryIam::default());
    let clock = Clock::new(&iam);
    let report = run_timed(&iam, &clock, Retry::default(), &move_policy("ghost"))
        .await
        .unwrap();
    assert_eq!(report.status, Status::Unchanged);
    assert_eq!(
        report.notes[0],
        "user ghost no longer exists; nothing to change"
    );
    assert!(
        report.notes[1].starts_with("read again for 30.0 s"),
        "{report:?}"
    );
    assert_eq!(clock.total(), Duration::from_secs(30));
    assert!(clock.waits().iter().all(|w| w.1 <= MAX_ABSENT_DELAY));
    assert!(clock.waits().len() >= 5, "backoff, not one long wait");
    assert!(iam.inner().history().is_empty());
}

/// Between reading back the group grant and taking the user's copy away,
/// the configured delay passes (IAM propagates changes in seconds), with
/// the user holding both grants meanwhile; nothing else waits that long.
#[tokio::test]
async fn the_users_copy_is_removed_only_after_the_propagation_delay() {
    let retry = Retry {
        propagation_delay: Duration::from_secs(10),
        ..Retry::quick()
    };
    for (action, last, holds_both) in [
        (
            move_policy("bob"),
            "iam:DetachUserPolicy",
            (|s: &IamState| {
                s.users["bob"].attached.contains(READ_ONLY)
                    && s.groups["trailguard-read-only"]
                        .attached
                        .contains(READ_ONLY)
                    && s.groups["trailguard-read-only"].members.contains("bob")
            }) as fn(&IamState) -> bool,
        ),
        (
            move_inline("bob"),
            "iam:DeleteUserPolicy",
            |s: &IamState| {
                let g = &s.groups["trailguard-inline-bob-s3-read"];
                s.users["bob"].inline.contains_key("s3-read")
                    && g.inline.contains_key("s3-read")
                    && g.members.contains("bob")
            },
        ),
    ] {
        let iam = FaultyIam::new(MemoryIam::new(bob()));
        let clock = Clock::new(&iam);
        let report = run_timed(&iam, &clock, retry, &action).await.unwrap();
        assert_eq!(report.status, Status::Done, "{report:?}");
        let waits = clock.waits();
        assert_eq!(waits.len(), 1, "{last}");
        let (calls_before, delay, state) = &waits[0];
        assert_eq!(*delay, Duration::from_secs(10));
        let calls = iam.calls();
        // After every read back, right before the removal.
        assert_eq!(calls.last(), Some(&last));
        assert!(
            calls[..*calls_before].iter().all(|c| c != &last),
            "{calls:?}"
        );
        let removal = calls.iter().position(|c| c == &last).unwrap();
        assert!(*calls_before <= removal, "{calls:?}");
        assert!(
            calls[*calls_before..removal]
                .iter()
                .all(|c| c.starts_with("iam:Get") || c.starts_with("iam:List")),
            "{calls:?}"
        );
        assert!(holds_both(state), "{last}: {state:?}");
    }
    // An already moved user is not made to wait.
    let iam = FaultyIam::new(MemoryIam::new(bob()));
    run_mem(iam.inner(), &move_policy("bob")).await.unwrap();
    let clock = Clock::new(&iam);
    let again = run_timed(&iam, &clock, retry, &move_policy("bob"))
        .await
        .unwrap();
    assert_eq!(again.status, Status::Unchanged);
    assert!(clock.waits().is_empty());
}

/// A role scoped to trailguard's group path may be denied a group it just
/// created, until IAM resolves the group's path everywhere: retried as
/// "not there yet", unlike AccessDenied on a group that was already there.
/// moto evaluates no IAM conditions: the fault adapter answers AccessDenied.
#[tokio::test]
async fn access_denied_on_a_group_this_run_created_is_retried_as_not_there_yet() {
    for (action, op) in [
        (move_policy("bob"), "iam:AttachGroupPolicy"),
        (move_policy("bob"), "iam:AddUserToGroup"),
        (move_policy("bob"), "iam:ListAttachedGroupPolicies"),
        (move_inline("bob"), "iam:PutGroupPolicy"),
        (move_inline("bob"), "iam:AddUserToGroup"),
        (move_inline("bob"), "iam:GetGroupPolicy"),
    ] {
        let iam =
            FaultyIam::new(MemoryIam::new(bob_scoped())).fail_first(op, 2, ErrorKind::AccessDenied);
        let report = run_on(&iam, &MemoryTrail::default(), &action)
            .await
            .unwrap_or_else(|e| panic!("{op}: {e}"));
        assert_eq!(report.status, Status::Done, "{op}: {report:?}");
    }
    // The same answer on a group that existed before the run is final.
    let mut s = bob_scoped();
    s.group("trailguard-read-only", "/trailguard/");
    let iam = FaultyIam::new(MemoryIam::new(s)).fail_first(
        "iam:AttachGroupPolicy",
        1,
        ErrorKind::AccessDenied,
    );
    let err = run_on(&iam, &MemoryTrail::default(), &move_policy("bob"))
        .await
        .unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    assert_eq!(
        iam.calls()
            .iter()
            .filter(|c| **c == "iam:AttachGroupPolicy")
            .count(),
        1
    );
}

/// IAM names are case-insensitive: the dedicated group stored as
/// `Trailguard-Read-Only` is the group `trailguard-read-only`, and bob in
/// it is already a member.
#[tokio::test]
async fn group_names_are_compared_regardless_of_case() {
    let mut s = bob();
    let g = s.group("Trailguard-Read-Only", "/trailguard/");
    g.attached.insert(READ_ONLY.into());
    g.members.insert("bob".into());
    let iam = MemoryIam::new(s);
    let report = run_mem(&iam, &move_policy("bob")).await.unwrap();
    assert_eq!(report.status, Status::Done, "{report:?}");
    assert_eq!(
        report.calls,
        ["iam:DetachUserPolicy UserName=bob PolicyArn=arn:aws:iam::aws:policy/ReadOnlyAccess"]
    );
    assert_eq!(iam.state().groups.len(), 1, "no alternative group");
    let again = run_mem(&iam, &move_policy("bob")).await.unwrap();
    assert_eq!(again.status, Status::Unchanged);
    assert!(again.notes[0].starts_with("already moved"), "{again:?}");
}

/// The event may name the user `Bob` for the IAM user `bob`: the group
/// whose only member is `bob` is still dedicated to that user.
#[tokio::test]
async fn user_names_are_compared_regardless_of_case() {
    let mut s = bob();
    let g = s.group("trailguard-inline-bob-s3-read", "/trailguard/");
    g.inline.insert("s3-read".into(), DOC.into());
    g.members.insert("bob".into());
    let iam = MemoryIam::new(s);
    let report = run_mem(&iam, &move_inline("Bob")).await.unwrap();
    assert_eq!(report.status, Status::Done, "{report:?}");
    assert_eq!(
        report.calls,
        ["iam:DeleteUserPolicy UserName=Bob PolicyName=s3-read"]
    );
    assert_eq!(iam.state().groups.len(), 1, "no alternative group");
    let again = run_mem(&iam, &move_inline("BOB")).await.unwrap();
    assert_eq!(again.status, Status::Unchanged, "{again:?}");
    assert!(again.notes[0].starts_with("already moved"), "{again:?}");
}

/// The account has hard expiry on and users barred from changing their
/// passwords: stricter than the baseline, so kept, while the weaker
/// settings are raised, in one call carrying the whole policy.
#[tokio::test]
async fn restoring_the_password_policy_keeps_every_stricter_setting() {
    let base = PasswordBaseline::default();
    let current = PasswordBaseline {
        minimum_length: 8,
        require_symbols: false,
        hard_expiry: true,
        allow_users_to_change: false,
        max_age_days: 30,
        ..base.clone()
    };
    let iam = MemoryIam::new(IamState {
        password_policy: Some(current),
        ..IamState::default()
    });
    let action = Action::RestorePasswordPolicy {
        baseline: base.clone(),
    };
    let report = run_mem(&iam, &action).await.unwrap();
    assert_eq!(report.status, Status::Done);
    assert_eq!(
        iam.state().password_policy,
        Some(PasswordBaseline {
            hard_expiry: true,
            allow_users_to_change: false,
            max_age_days: 30,
            ..base.clone()
        })
    );
    assert!(report.undo[0].contains("--hard-expiry"), "{report:?}");
    // Stricter everywhere: nothing to raise, nothing written.
    let strict = PasswordBaseline {
        minimum_length: 20,
        max_age_days: 60,
        hard_expiry: true,
        allow_users_to_change: false,
        ..base.clone()
    };
    let iam = MemoryIam::new(IamState {
        password_policy: Some(strict.clone()),
        ..IamState::default()
    });
    let report = run_mem(&iam, &action).await.unwrap();
    assert_eq!(report.status, Status::Unchanged, "{report:?}");
    assert!(iam.history().is_empty());
    assert_eq!(iam.state().password_policy, Some(strict));
}

/// The weakening that triggered the remediation is not visible at once:
/// the first reads still answer the stronger policy it replaced.
#[tokio::test]
async fn a_password_policy_read_that_predates_the_weakening_is_read_again() {
    let base = PasswordBaseline::default();
    let action = Action::RestorePasswordPolicy {
        baseline: base.clone(),
    };
    let weak = PasswordBaseline {
        minimum_length: 6,
        require_symbols: false,
        ..base.clone()
    };
    let with = |p: &PasswordBaseline| IamState {
        password_policy: Some(p.clone()),
        ..IamState::default()
    };
    let iam = MemoryIam::eventually(with(&base), with(&weak), 2);
    let report = run_mem(&iam, &action).await.unwrap();
    assert_eq!(report.status, Status::Done, "{report:?}");
    assert_eq!(iam.state().password_policy, Some(base.clone()));
    assert_eq!(
        iam.calls(),
        [
            "iam:GetAccountPasswordPolicy",
            "iam:GetAccountPasswordPolicy",
            "iam:GetAccountPasswordPolicy",
            "iam:UpdateAccountPasswordPolicy"
        ]
    );
    // Still at least as strict after the reads: unchanged, and it says how
    // long it read.
    let iam = MemoryIam::new(with(&base));
    let report = run_mem(&iam, &action).await.unwrap();
    assert_eq!(report.status, Status::Unchanged);
    assert!(
        report.notes.iter().any(|n| n.starts_with("read again for")),
        "{report:?}"
    );
    assert!(iam.history().is_empty());
}

/// CloudTrail answers ConflictException for a trail it has not finished
/// loading; it says to try again. The run retries it before giving up.
#[tokio::test]
async fn start_logging_retries_a_conflict() {
    let conflict = EffectError {
        operation: "cloudtrail:StartLogging",
        kind: ErrorKind::Unavailable,
        code: Some("ConflictException".into()),
        message: "trail not ready".into(),
    };
    let trail = MemoryTrail::default()
        .with_trail("main", false)
        .failing_start(2, conflict.clone());
    let go = Action::StartLogging {
        trail: "main".into(),
    };
    let r = run_on(&MemoryIam::default(), &trail, &go).await.unwrap();
    assert_eq!(r.status, Status::Done, "{r:?}");
    assert_eq!(trail.is_logging_now("main"), Some(true));
    // Still conflicting after every attempt: failed, worth a retry.
    let trail = MemoryTrail::default()
        .with_trail("main", false)
        .failing_start(10, conflict);
    let err = run_on(&MemoryIam::default(), &trail, &go)
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    assert_eq!(err.report.status, Status::Failed);
}
