//! `[organization]`: one trailguard for every account of an AWS
//! Organization. Without `member_role_name` the function guards its own
//! account only, and alerts (never acts) on events of any other.

use serde::{Deserialize, Serialize};

use super::ConfigError;

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

    /// Is an ARN (of a role, or a session of it) the member role, in any
    /// account and partition? Its sessions are trailguard's own calls.
    pub fn is_member_role(&self, arn: &str) -> bool {
        let Some(name) = self.member_role_name.as_deref() else {
            return false;
        };
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(_partition), Some(service), Some(_), Some(_account), Some(rest)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return false;
        };
        match service {
            // The role: `role/NAME` (the contract's role has no path).
            "iam" => rest.strip_prefix("role/") == Some(name),
            // A session: `assumed-role/NAME/SESSION`.
            "sts" => {
                rest.strip_prefix("assumed-role/")
                    .and_then(|r| r.split('/').next())
                    == Some(name)
            }
            _ => false,
        }
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
    fn the_member_role_and_its_sessions_are_recognised_in_any_account_and_partition() {
        let org = Organization {
            member_role_name: Some("trailguard-member".into()),
            ..Organization::default()
        };
        for arn in [
            "arn:aws:iam::222222222222:role/trailguard-member",
            "arn:aws-cn:iam::333333333333:role/trailguard-member",
            "arn:aws:sts::222222222222:assumed-role/trailguard-member/trailguard-e1",
        ] {
            assert!(org.is_member_role(arn), "{arn}");
        }
        for arn in [
            "arn:aws:iam::222222222222:role/trailguard-member-2",
            "arn:aws:iam::222222222222:role/ops/trailguard-member",
            "arn:aws:iam::222222222222:user/trailguard-member",
            "arn:aws:sts::222222222222:assumed-role/other/trailguard-member",
        ] {
            assert!(!org.is_member_role(arn), "{arn}");
        }
        assert!(!Organization::default().is_member_role("arn:aws:iam::1:role/x"));
    }
}
