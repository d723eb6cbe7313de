//! Test helpers for scan rules: report rows in the real layout, live users,
//! and running one check at a fixed time.

use chrono::{DateTime, Utc};

pub use super::account::Inventory;
use super::account::{Account, AccountSummary, AttachedPolicy, ListedKey, LiveUser};
use super::report::CredentialReport;
use crate::config::Config;
use crate::rules::{Finding, ScanCheck};

pub const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

/// The time the checks run at unless a test says otherwise.
pub const NOW: &str = "2024-05-10T00:00:00Z";

/// Root without MFA, signed in on 2024-04-30, with an active key from 2016
/// never used.
pub const ROOT_WITH_KEY: &str = "<root_account>,arn:aws:iam::111122223333:root,2015-03-09T17:58:26+00:00,not_supported,2024-04-30T08:12:03+00:00,not_supported,not_supported,false,true,2016-02-01T10:00:00+00:00,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A";

/// Root with MFA, no keys, last signed in long ago.
pub const ROOT_CLEAN: &str = "<root_account>,arn:aws:iam::111122223333:root,2015-03-09T17:58:26+00:00,not_supported,2023-01-01T00:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A";

pub fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("test time")
        .with_timezone(&Utc)
}

pub fn now() -> DateTime<Utc> {
    time(NOW)
}

pub fn config(text: &str) -> Config {
    Config::from_toml(text, "test", std::iter::empty()).expect("test config")
}

/// A user created 2024-01-01 without keys; with a password last used on
/// 2024-05-01 when `password`.
pub fn user_row(name: &str, password: bool, mfa: bool) -> String {
    let (enabled, used, changed) = if password {
        (
            "true",
            "2024-05-01T00:00:00+00:00",
            "2024-01-01T00:00:00+00:00",
        )
    } else {
        ("false", "N/A", "N/A")
    };
    format!(
        "{name},arn:aws:iam::111122223333:user/{name},2024-01-01T00:00:00+00:00,{enabled},{used},{changed},N/A,{mfa},false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
    )
}

/// A user with MFA and a password set 2024-01-01, last used `last_used`.
pub fn password_row(name: &str, last_used: &str) -> String {
    format!(
        "{name},arn:aws:iam::111122223333:user/{name},2024-01-01T00:00:00+00:00,true,{last_used},2024-01-01T00:00:00+00:00,N/A,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,N/A,false,N/A"
    )
}

/// A user without password and two active keys: `(created, last used)`.
pub fn keys_row(name: &str, k1: (&str, &str), k2: (&str, &str)) -> String {
    format!(
        "{name},arn:aws:iam::111122223333:user/{name},2020-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,{},{},us-east-1,iam,true,{},{},N/A,N/A,false,N/A,false,N/A",
        k1.0, k1.1, k2.0, k2.1
    )
}

pub fn live_user(name: &str) -> LiveUser {
    LiveUser {
        name: name.into(),
        arn: format!("arn:aws:iam::111122223333:user/{name}"),
        attached_policies: Vec::new(),
        inline_policies: Vec::new(),
        access_keys: Vec::new(),
    }
}

/// Live users without grants or keys.
pub fn users(names: &[&str]) -> Inventory {
    Inventory {
        users: names.iter().map(|n| live_user(n)).collect(),
        ..Inventory::default()
    }
}

/// Live users with keys: `(user, key id, active, created)`.
pub fn keys(list: &[(&str, &str, bool, &str)]) -> Inventory {
    let mut inv = Inventory::default();
    for (user, id, active, created) in list {
        if !inv.users.iter().any(|u| u.name == *user) {
            inv.users.push(live_user(user));
        }
        let u = inv
            .users
            .iter_mut()
            .find(|u| u.name == *user)
            .expect("just added");
        u.access_keys.push(ListedKey {
            id: (*id).into(),
            active: *active,
            created: Some(time(created)),
        });
    }
    inv
}

/// One live user with direct grants.
pub fn policies(user: &str, attached: &[&str], inline: &[&str]) -> Inventory {
    let mut u = live_user(user);
    u.attached_policies = attached
        .iter()
        .map(|arn| AttachedPolicy {
            name: arn.rsplit('/').next().unwrap_or(arn).into(),
            arn: (*arn).into(),
        })
        .collect();
    u.inline_policies = inline.iter().map(|n| (*n).into()).collect();
    Inventory {
        users: vec![u],
        ..Inventory::default()
    }
}

pub fn summary(pairs: &[(&str, i64)]) -> Inventory {
    Inventory {
        summary: AccountSummary(pairs.iter().map(|(k, v)| ((*k).into(), *v)).collect()),
        ..Inventory::default()
    }
}

/// The account from report rows (after the header) and live state.
pub fn account(rows: &[&str], inventory: Inventory) -> Account {
    let text = std::iter::once(HEADER)
        .chain(rows.iter().copied())
        .collect::<Vec<_>>()
        .join("\n");
    let report = CredentialReport::parse(text.as_bytes()).expect("test report");
    Account::assemble(report, inventory)
}

pub fn run(check: ScanCheck, rows: &[&str], inventory: Inventory) -> Vec<Finding> {
    run_at(check, rows, inventory, NOW)
}

pub fn run_at(check: ScanCheck, rows: &[&str], inventory: Inventory, at: &str) -> Vec<Finding> {
    run_with(check, rows, inventory, at, &Config::default())
}

pub fn run_with(
    check: ScanCheck,
    rows: &[&str],
    inventory: Inventory,
    at: &str,
    config: &Config,
) -> Vec<Finding> {
    check(&account(rows, inventory), &config.rule_settings(), time(at))
}
