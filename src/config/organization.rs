//! `[organization]`: one trailguard for every account of an AWS
//! Organization. Without `member_role_name` the function guards its own
//! account only, and alerts (never acts) on events of any other.

use serde::{Deserialize, Serialize};

use super::ConfigError;
use crate::effects::member::SESSION_NAME;
use crate::remediate::makes_call;

/// The organisation mode: the member role trailguard acts through in other
/// accounts, and which accounts it may act in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Organization {
    /// The member role's name (no path); set, organisation mode is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_role_name: Option<String>,
    /// The allow-list of account ids; empty, every account.
    #[serde(default)]
    pub accounts: Vec<String>,
    /// Account ids never acted on (alerted only).
    #[serde(default)]
    pub exclude_accounts: Vec<String>,
}

impl Organization {
    /// Is organisation mode on?
    pub fn enabled(&self) -> bool {
        self.member_role_name.is_some()
    }

    /// Nothing set: the section is left out of `config check`, so the
    /// one-account mode's output is as it always was.
    pub fn is_unset(&self) -> bool {
        *self == Organization::default()
    }

    /// Why trailguard must not act in `account`, another account than its
    /// own, if it must not: organisation mode off, the account excluded or
    /// outside the allow-list.
    pub fn refusal(&self, account: &str) -> Option<String> {
        if !self.enabled() {
            return Some(format!(
                "account `{account}` is not this function's own and organisation mode is off (organization.member_role_name unset): alerted only"
            ));
        }
        if self.exclude_accounts.iter().any(|a| a == account) {
            return Some(format!(
                "account `{account}` is in organization.exclude_accounts: alerted only"
            ));
        }
        if !self.accounts.is_empty() && !self.accounts.iter().any(|a| a == account) {
            return Some(format!(
                "account `{account}` is not in organization.accounts: alerted only"
            ));
        }
        None
    }

    /// Is a caller trailguard's member role acting in `account`, the
    /// account the event is about? Only there can a session be one it
    /// opened: the issuer is exactly `arn:P:iam::ACCOUNT:role/NAME` (the
    /// member stack's role has no path; a session's ARN omits a path, so
    /// the issuer decides), the session is
    /// `arn:P:sts::ACCOUNT:assumed-role/NAME/SESSION`, SESSION being the
    /// member adapter's [`SESSION_NAME`], and the account is one trailguard
    /// acts in through the member role: not its own (`own_account`, which
    /// must be known: without it nothing is taken for trailguard's own) and
    /// not refused by the configuration. And the call (`eventSource`,
    /// `eventName`) is one a remediation makes ([`makes_call`]), as the
    /// EventBridge patterns decide: the role can make no other, and any
    /// other is watched. Anywhere else a role of that name is someone
    /// else's, and watched.
    pub fn is_member_session(
        &self,
        session_arn: Option<&str>,
        issuer_arn: Option<&str>,
        account: &str,
        own_account: Option<&str>,
        (event_source, event_name): (&str, &str),
    ) -> bool {
        let (Some(name), Some(session), Some(issuer)) =
            (self.member_role_name.as_deref(), session_arn, issuer_arn)
        else {
            return false;
        };
        if own_account.is_none_or(|own| own == account)
            || self.refusal(account).is_some()
            || !makes_call(event_source, event_name)
        {
            return false;
        }
        let Some((partition, role)) = issuer
            .strip_prefix("arn:")
            .and_then(|rest| rest.split_once(':'))
        else {
            return false;
        };
        role == format!("iam::{account}:role/{name}")
            && session.strip_prefix(&format!(
                "arn:{partition}:sts::{account}:assumed-role/{name}/"
            )) == Some(SESSION_NAME)
    }
}

/// Account ids are twelve digits; the role name is IAM's (1 to 64 of
/// letters, digits and `+=,.@_-`), without a path.
pub(super) fn validate(org: &mut Organization) -> Result<(), ConfigError> {
    // An empty name is how CloudFormation passes "unset".
    if org.member_role_name.as_deref().is_some_and(str::is_empty) {
        org.member_role_name = None;
    }
    if let Some(name) = &org.member_role_name {
        let valid = name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c));
        if !valid {
            return Err(ConfigError::BadValue {
                key: "organization.member_role_name".into(),
                value: name.clone(),
                reason:
                    "is not an IAM role name (1 to 64 of letters, digits and `+=,.@_-`, no path)"
                        .into(),
            });
        }
    }
    for (key, list) in [
        ("organization.accounts", &org.accounts),
        ("organization.exclude_accounts", &org.exclude_accounts),
    ] {
        if let Some(bad) = list
            .iter()
            .find(|a| a.len() != 12 || !a.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(ConfigError::BadValue {
                key: key.into(),
                value: bad.clone(),
                reason: "is not a 12-digit account id".into(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;

    #[test]
    fn without_the_section_the_config_is_one_account_and_check_shows_nothing_new() {
        let c = parse("").unwrap();
        assert!(!c.organization.enabled());
        assert!(!toml::to_string(&c).unwrap().contains("organization"));
    }

    #[test]
    fn the_contract_keys_are_read_and_shown() {
        let c = parse(
            "[organization]\nmember_role_name = \"trailguard-member\"\naccounts = [\"111111111111\", \"222222222222\"]\nexclude_accounts = [\"333333333333\"]",
        )
        .unwrap();
        assert_eq!(
            c.organization.member_role_name.as_deref(),
            Some("trailguard-member")
        );
        let shown = toml::to_string(&c).unwrap();
        assert!(shown.contains("[organization]"), "{shown}");
        assert!(shown.contains("member_role_name = \"trailguard-member\""));
        // An empty name is unset, as CloudFormation passes it.
        let c = parse("[organization]\nmember_role_name = \"\"").unwrap();
        assert!(!c.organization.enabled());
    }

    #[test]
    fn bad_ids_and_role_names_are_refused_naming_the_key() {
        for (text, message) in [
            (
                "[organization]\naccounts = [\"12345\"]",
                "`organization.accounts`: `12345` is not a 12-digit account id",
            ),
            (
                "[organization]\nexclude_accounts = [\"12345678901a\"]",
                "`organization.exclude_accounts`: `12345678901a` is not a 12-digit account id",
            ),
            (
                "[organization]\nmember_role_name = \"ops/trailguard\"",
                "`organization.member_role_name`: `ops/trailguard` is not an IAM role name (1 to 64 of letters, digits and `+=,.@_-`, no path)",
            ),
        ] {
            assert_eq!(parse(text).unwrap_err().to_string(), message);
        }
        let long = "r".repeat(65);
        assert!(parse(&format!("[organization]\nmember_role_name = \"{long}\"")).is_err());
        assert!(parse("[organization]\nregion = \"us-east-1\"").is_err());
    }

    #[test]
    fn an_account_is_acted_on_only_in_organisation_mode_allowed_and_not_excluded() {
        let off = Organization::default();
        assert!(off.refusal("222222222222").unwrap().contains("mode is off"));
        let all = Organization {
            member_role_name: Some("trailguard-member".into()),
            ..Organization::default()
        };
        assert_eq!(all.refusal("222222222222"), None);
        let some = Organization {
            accounts: vec!["222222222222".into(), "333333333333".into()],
            exclude_accounts: vec!["333333333333".into()],
            ..all.clone()
        };
        assert_eq!(some.refusal("222222222222"), None);
        assert!(
            some.refusal("333333333333")
                .unwrap()
                .contains("organization.exclude_accounts")
        );
        assert!(
            some.refusal("444444444444")
                .unwrap()
                .contains("not in organization.accounts")
        );
    }

    #[test]
    fn member_sessions_are_recognised_only_in_accounts_trailguard_acts_in() {
        let org = Organization {
            member_role_name: Some("trailguard-member".into()),
            exclude_accounts: vec!["444444444444".into()],
            ..Organization::default()
        };
        let own = Some("111111111111");
        let session = |p: &str, a: &str, role: &str| {
            // The session name the member adapter gives every session.
            format!("arn:{p}:sts::{a}:assumed-role/{role}/trailguard")
        };
        let issuer = |p: &str, a: &str, role: &str| format!("arn:{p}:iam::{a}:role/{role}");
        let fix = ("iam.amazonaws.com", "UpdateAccessKey");
        let is = |s: &str, i: &str, a: &str| org.is_member_session(Some(s), Some(i), a, own, fix);
        for (p, a) in [("aws", "222222222222"), ("aws-cn", "333333333333")] {
            let name = "trailguard-member";
            assert!(is(&session(p, a, name), &issuer(p, a, name), a), "{p} {a}");
        }
        let (a, name) = ("222222222222", "trailguard-member");
        // A look-alike: another name, a path (the session ARN hides it),
        // another account than the event's, another partition.
        for (s, i) in [
            (
                session("aws", a, "trailguard-member-2"),
                issuer("aws", a, "trailguard-member-2"),
            ),
            (
                session("aws", a, name),
                issuer("aws", a, "ops/trailguard-member"),
            ),
            (
                session("aws", "999999999999", name),
                issuer("aws", "999999999999", name),
            ),
            (session("aws-cn", a, name), issuer("aws", a, name)),
            (
                format!("arn:aws:iam::{a}:user/{name}"),
                issuer("aws", a, name),
            ),
            (
                format!("arn:aws:sts::{a}:assumed-role/{name}/"),
                issuer("aws", a, name),
            ),
        ] {
            assert!(!is(&s, &i, a), "{s} {i}");
        }
        // The function's own account and an excluded account: trailguard
        // never acts there through the member role.
        for a in ["111111111111", "444444444444"] {
            assert!(
                !is(&session("aws", a, name), &issuer("aws", a, name), a),
                "{a}"
            );
        }
        // Another session of the member role (someone who assumed it), and
        // any session when the function's own account is unknown.
        assert!(!is(
            &format!("arn:aws:sts::{a}:assumed-role/{name}/admin"),
            &issuer("aws", a, name),
            a
        ));
        assert!(!org.is_member_session(
            Some(&session("aws", a, name)),
            Some(&issuer("aws", a, name)),
            a,
            None,
            fix
        ));
        assert!(!org.is_member_session(Some(&session("aws", a, name)), None, a, own, fix));
        assert!(!Organization::default().is_member_session(
            Some(&session("aws", a, name)),
            Some(&issuer("aws", a, name)),
            a,
            own,
            fix
        ));
        // A call no remediation makes: the role cannot make it, and if it
        // ever could, it is watched.
        for call in [
            ("iam.amazonaws.com", "AttachUserPolicy"),
            ("iam.amazonaws.com", "CreateAccessKey"),
            ("cloudtrail.amazonaws.com", "StopLogging"),
        ] {
            assert!(!org.is_member_session(
                Some(&session("aws", a, name)),
                Some(&issuer("aws", a, name)),
                a,
                own,
                call
            ));
        }
    }
}
