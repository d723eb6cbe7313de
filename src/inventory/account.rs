//! The account as the scan sees it: the credential report joined with what
//! the IAM API says now.
//!
//! The report can be up to four hours old and names no access key ids, so
//! the live listing is the authority on which users and active keys exist,
//! and the report adds what only it knows (password and key last use, MFA).
//! A key is matched to its report slot by its creation time, to the second;
//! a key IAM created after the report has no known usage and is never
//! called unused.

use std::collections::BTreeMap;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use serde::Serialize;

use super::report::{CredentialReport, CredentialRow, Stamp};
use crate::inventory::PasswordBaseline;

/// A managed policy attached to a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachedPolicy {
    pub name: String,
    pub arn: String,
}

/// An access key as `ListAccessKeys` shows it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedKey {
    pub id: String,
    pub active: bool,
    pub created: Option<DateTime<Utc>>,
}

/// A user as the IAM API shows it now, with its direct grants and keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LiveUser {
    pub name: String,
    pub arn: String,
    pub attached_policies: Vec<AttachedPolicy>,
    /// Inline policy names.
    pub inline_policies: Vec<String>,
    pub access_keys: Vec<ListedKey>,
}

/// `GetAccountSummary`: counters and quotas by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AccountSummary(pub BTreeMap<String, i64>);

impl AccountSummary {
    fn flag(&self, key: &str) -> Option<bool> {
        self.0.get(key).map(|v| *v > 0)
    }

    /// `AccountMFAEnabled`: does the root user have an MFA device?
    pub fn root_mfa_enabled(&self) -> Option<bool> {
        self.flag("AccountMFAEnabled")
    }

    /// `AccountAccessKeysPresent`: does the root user have access keys?
    pub fn root_access_keys_present(&self) -> Option<bool> {
        self.flag("AccountAccessKeysPresent")
    }
}

/// What the scan read from the IAM API besides the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Inventory {
    pub summary: AccountSummary,
    /// `None`: the account has no password policy (IAM's defaults apply).
    /// `max_age_days` 0 means passwords never expire.
    pub password_policy: Option<PasswordBaseline>,
    pub users: Vec<LiveUser>,
}

/// When an access key was last used, as far as the report tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "at")]
pub enum KeyUsage {
    Used(DateTime<Utc>),
    Never,
    /// The report does not cover the key (created after it, or ambiguous).
    Unknown,
}

/// An active access key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyState {
    pub id: String,
    /// Its slot in the credential report (1 or 2), when matched.
    pub slot: Option<u8>,
    pub created: Option<DateTime<Utc>>,
    pub usage: KeyUsage,
}

/// A user's console password and MFA, from the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Console {
    pub user_created: Option<DateTime<Utc>>,
    pub password_enabled: bool,
    pub password_last_used: Stamp,
    pub password_last_changed: Stamp,
    /// `None` when the report said neither true nor false.
    pub mfa_active: Option<bool>,
}

/// An IAM user, report and live state joined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserState {
    pub name: String,
    pub arn: String,
    /// `None` when the user is not in the report (created after it).
    pub console: Option<Console>,
    /// Active keys only: inactive keys grant nothing.
    pub access_keys: Vec<KeyState>,
    pub attached_policies: Vec<AttachedPolicy>,
    pub inline_policies: Vec<String>,
}

/// The root user. The account summary is live, so it wins over the report
/// for MFA and key presence.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RootState {
    pub arn: Option<String>,
    pub mfa_enabled: Option<bool>,
    pub access_keys_present: Option<bool>,
    /// Report slots holding an active key.
    pub active_key_slots: Vec<u8>,
    pub password_last_used: Option<DateTime<Utc>>,
    /// `(slot, when)` for each key the report says was used.
    pub keys_last_used: Vec<(u8, DateTime<Utc>)>,
}

/// Everything the scan rules look at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Account {
    pub account_id: Option<String>,
    pub report_generated: Option<DateTime<Utc>>,
    pub root: RootState,
    pub users: Vec<UserState>,
    pub password_policy: Option<PasswordBaseline>,
    /// How report and live state disagreed, and rows that were skipped.
    pub notes: Vec<String>,
}

impl Account {
    /// Joins the credential report with the live inventory.
    pub fn assemble(report: CredentialReport, inventory: Inventory) -> Account {
        let mut notes = report.notes.clone();
        let account_id = report
            .account_id()
            .or_else(|| {
                inventory
                    .users
                    .iter()
                    .find_map(|u| u.arn.split(':').nth(4).filter(|id| !id.is_empty()))
            })
            .map(String::from);
        let root = root_state(report.root.as_ref(), &inventory.summary);
        for row in &report.users {
            if !inventory.users.iter().any(|u| u.name == row.user) {
                notes.push(format!(
                    "user `{}` is in the credential report but no longer exists",
                    row.user
                ));
            }
        }
        let users = inventory
            .users
            .into_iter()
            .map(|live| {
                let row = report.user(&live.name);
                if row.is_none() {
                    notes.push(format!(
                        "user `{}` is not in the credential report (created after it): password, MFA and key use not checked",
                        live.name
                    ));
                }
                user_state(live, row, &mut notes)
            })
            .collect();
        Account {
            account_id,
            report_generated: report.generated,
            root,
            users,
            password_policy: inventory.password_policy,
            notes,
        }
    }

    /// A user by name.
    pub fn user(&self, name: &str) -> Option<&UserState> {
        self.users.iter().find(|u| u.name == name)
    }

    /// The root user's ARN, from the report or the account id.
    pub fn root_arn(&self) -> Option<String> {
        self.root.arn.clone().or_else(|| {
            self.account_id
                .as_ref()
                .map(|id| format!("arn:aws:iam::{id}:root"))
        })
    }
}

fn root_state(row: Option<&CredentialRow>, summary: &AccountSummary) -> RootState {
    let mut root = RootState {
        mfa_enabled: summary.root_mfa_enabled(),
        access_keys_present: summary.root_access_keys_present(),
        ..RootState::default()
    };
    let Some(row) = row else {
        return root;
    };
    root.arn = Some(row.arn.clone());
    root.mfa_enabled = root.mfa_enabled.or(row.mfa_active);
    root.active_key_slots = row
        .access_keys
        .iter()
        .filter(|k| k.active)
        .map(|k| k.slot)
        .collect();
    let in_report = row.access_keys.iter().any(|k| k.exists());
    root.access_keys_present = root.access_keys_present.or(Some(in_report));
    root.password_last_used = row.password_last_used.at();
    root.keys_last_used = row
        .access_keys
        .iter()
        .filter_map(|k| k.last_used.at().map(|t| (k.slot, t)))
        .collect();
    root
}

fn to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::seconds(1)).unwrap_or(t)
}

fn user_state(live: LiveUser, row: Option<&CredentialRow>, notes: &mut Vec<String>) -> UserState {
    let console = row.map(|r| Console {
        user_created: r.user_creation_time.at(),
        password_enabled: r.password_enabled == Some(true),
        password_last_used: r.password_last_used,
        password_last_changed: r.password_last_changed,
        mfa_active: r.mfa_active,
    });
    let access_keys = live
        .access_keys
        .iter()
        .filter(|k| k.active)
        .map(|key| {
            let slots: Vec<_> = row
                .into_iter()
                .flat_map(|r| &r.access_keys)
                .filter(|s| {
                    key.created.is_some_and(|c| {
                        s.last_rotated.at().map(to_second) == Some(to_second(c))
                    })
                })
                .collect();
            let usage_of = |s: &&super::report::KeySlot| match s.last_used {
                Stamp::At(t) => KeyUsage::Used(t),
                _ => KeyUsage::Never,
            };
            let (slot, usage) = match slots.as_slice() {
                [one] => (Some(one.slot), usage_of(one)),
                [] => {
                    if row.is_some() {
                        notes.push(format!(
                            "access key `{}` of `{}` is not in the credential report (created after it): its use is not checked",
                            key.id, live.name
                        ));
                    }
                    (None, KeyUsage::Unknown)
                }
                // Two keys created in the same second: the slots cannot be
                // told apart, unless they say the same.
                [a, b, ..] if usage_of(a) == usage_of(b) => (None, usage_of(a)),
                _ => {
                    notes.push(format!(
                        "access keys of `{}` were created in the same second: their use cannot be told apart and is not checked",
                        live.name
                    ));
                    (None, KeyUsage::Unknown)
                }
            };
            KeyState {
                id: key.id.clone(),
                slot,
                created: key.created,
                usage,
            }
        })
        .collect();
    UserState {
        name: live.name,
        arn: live.arn,
        console,
        access_keys,
        attached_policies: live.attached_policies,
        inline_policies: live.inline_policies,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::testing::{HEADER, keys as live_keys, time as t};

    fn live(name: &str, keys: &[(&str, bool, &str)]) -> LiveUser {
        let list: Vec<_> = keys.iter().map(|(id, a, c)| (name, *id, *a, *c)).collect();
        let mut inv = live_keys(&list);
        inv.users
            .pop()
            .unwrap_or_else(|| crate::inventory::testing::live_user(name))
    }

    fn report(rows: &[&str]) -> CredentialReport {
        let text = std::iter::once(HEADER)
            .chain(rows.iter().copied())
            .collect::<Vec<_>>()
            .join("\n");
        CredentialReport::parse(text.as_bytes()).unwrap()
    }

    const BOB: &str = "bob,arn:aws:iam::111122223333:user/bob,2022-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,2022-01-01T00:00:10+00:00,2024-01-01T00:00:00+00:00,us-east-1,iam,true,2023-01-01T00:00:00+00:00,N/A,N/A,N/A,false,N/A,false,N/A";

    #[test]
    fn keys_are_matched_to_slots_by_creation_second() {
        let inv = Inventory {
            users: vec![live(
                "bob",
                &[
                    ("AKIA1", true, "2022-01-01T00:00:10.734Z"),
                    ("AKIA2", true, "2023-01-01T00:00:00Z"),
                ],
            )],
            ..Inventory::default()
        };
        let a = Account::assemble(report(&[BOB]), inv);
        let keys = &a.user("bob").unwrap().access_keys;
        assert_eq!(keys[0].slot, Some(1));
        assert_eq!(keys[0].usage, KeyUsage::Used(t("2024-01-01T00:00:00Z")));
        assert_eq!(keys[1].slot, Some(2));
        assert_eq!(keys[1].usage, KeyUsage::Never);
        assert!(a.notes.is_empty(), "{:?}", a.notes);
        assert_eq!(a.account_id.as_deref(), Some("111122223333"));
    }

    #[test]
    fn live_state_wins_over_the_report() {
        // Key 1 was deactivated and key 2 deleted since the report; a new
        // key appeared; carol was deleted; dave was created.
        let inv = Inventory {
            users: vec![
                live(
                    "bob",
                    &[
                        ("AKIA1", false, "2022-01-01T00:00:10Z"),
                        ("AKIA3", true, "2024-06-01T00:00:00Z"),
                    ],
                ),
                live("dave", &[]),
            ],
            ..Inventory::default()
        };
        let carol = BOB.replace("bob", "carol");
        let a = Account::assemble(report(&[BOB, &carol]), inv);
        let bob = a.user("bob").unwrap();
        assert_eq!(bob.access_keys.len(), 1);
        assert_eq!(bob.access_keys[0].usage, KeyUsage::Unknown);
        assert!(a.user("carol").is_none());
        assert!(a.user("dave").unwrap().console.is_none());
        assert_eq!(a.notes.len(), 3, "{:?}", a.notes);
        assert!(a.notes[0].contains("`carol`"));
    }

    #[test]
    fn keys_created_in_the_same_second_with_different_use_are_unknown() {
        let row = BOB.replace(
            "2023-01-01T00:00:00+00:00,N/A",
            "2022-01-01T00:00:10+00:00,N/A",
        );
        let inv = Inventory {
            users: vec![live(
                "bob",
                &[
                    ("AKIA1", true, "2022-01-01T00:00:10Z"),
                    ("AKIA2", true, "2022-01-01T00:00:10Z"),
                ],
            )],
            ..Inventory::default()
        };
        let a = Account::assemble(report(&[&row]), inv);
        let keys = &a.user("bob").unwrap().access_keys;
        assert!(keys.iter().all(|k| k.usage == KeyUsage::Unknown));
        assert!(a.notes[0].contains("same second"));
    }

    #[test]
    fn summary_wins_for_root_and_the_row_fills_in() {
        let root = "<root_account>,arn:aws:iam::111122223333:root,2015-03-09T17:58:26+00:00,not_supported,2024-04-30T08:12:03+00:00,not_supported,not_supported,true,true,2016-02-01T10:00:00+00:00,2024-03-01T00:00:00+00:00,us-east-1,ec2,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A";
        let mut summary = AccountSummary::default();
        summary.0.insert("AccountMFAEnabled".into(), 0);
        let a = Account::assemble(
            report(&[root]),
            Inventory {
                summary,
                ..Inventory::default()
            },
        );
        assert_eq!(a.root.mfa_enabled, Some(false));
        assert_eq!(a.root.access_keys_present, Some(true));
        assert_eq!(a.root.active_key_slots, [1]);
        assert_eq!(a.root.keys_last_used, [(1, t("2024-03-01T00:00:00Z"))]);
        assert_eq!(
            a.root_arn().as_deref(),
            Some("arn:aws:iam::111122223333:root")
        );
    }
}
