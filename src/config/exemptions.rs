//! `[exemptions]`: who and what is never changed, as written and as the
//! glob sets it is matched with.

use globset::{GlobSet, GlobSetBuilder};
use serde::{Deserialize, Serialize};

use super::ConfigError;

/// The `[exemptions]` table as written; unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExemptions {
    #[serde(default)]
    pub(super) principals: Vec<String>,
    #[serde(default)]
    pub(super) users: Vec<String>,
    #[serde(default)]
    pub(super) tag: Option<String>,
}

/// Who and what is never changed (only alerted on).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Exemptions {
    pub principals: Vec<String>,
    pub users: Vec<String>,
    pub tag: Option<String>,
    #[serde(skip)]
    principal_set: GlobSet,
    #[serde(skip)]
    user_set: GlobSet,
}

impl Exemptions {
    /// The first exempt principal pattern an ARN matches.
    pub fn principal(&self, arn: &str) -> Option<&str> {
        let hit = self.principal_set.matches(arn);
        hit.first().map(|&i| self.principals[i].as_str())
    }

    /// The first exempt user-name glob a user name matches.
    pub fn user(&self, user_name: &str) -> Option<&str> {
        let hit = self.user_set.matches(user_name);
        hit.first().map(|&i| self.users[i].as_str())
    }
}

/// Every exempt principal is an ARN (or an ARN glob). Checked before the
/// other sections, the globs themselves after them, as the errors always
/// came in that order.
pub(super) fn check_principals(raw: &RawExemptions) -> Result<(), ConfigError> {
    for p in &raw.principals {
        if !p.starts_with("arn:") {
            return Err(ConfigError::BadValue {
                key: "exemptions.principals".into(),
                value: p.clone(),
                reason: "is not an ARN (or an ARN glob)".into(),
            });
        }
    }
    Ok(())
}

/// Compiles the globs; an empty tag means no tag.
pub(super) fn build(raw: RawExemptions) -> Result<Exemptions, ConfigError> {
    Ok(Exemptions {
        principal_set: glob_set("exemptions.principals", &raw.principals)?,
        user_set: glob_set("exemptions.users", &raw.users)?,
        principals: raw.principals,
        users: raw.users,
        tag: raw.tag.filter(|t| !t.is_empty()),
    })
}

fn glob_set(key: &str, patterns: &[String]) -> Result<GlobSet, ConfigError> {
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        // IAM names (users, roles) are unique case-insensitively, and IAM
        // accepts any case of a name in a request: match as IAM does.
        let glob = globset::GlobBuilder::new(p)
            .literal_separator(false)
            .case_insensitive(true)
            .build()
            .map_err(|e| ConfigError::BadValue {
                key: key.to_owned(),
                value: p.clone(),
                reason: format!("is not a valid glob: {}", e.kind()),
            })?;
        builder.add(glob);
    }
    builder.build().map_err(|e| ConfigError::BadValue {
        key: key.to_owned(),
        value: patterns.join(","),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use crate::config::parse;

    #[test]
    fn globs_match_as_iam_compares_names() {
        let c = parse(
            "[exemptions]\nprincipals = [\"arn:aws:iam::*:role/BreakGlass*\"]\nusers = [\"breakglass-*\"]",
        )
        .unwrap();
        // IAM names are case-insensitive, and `*` crosses `/` in a role path.
        assert_eq!(c.exemptions.user("BreakGlass-Ops"), Some("breakglass-*"));
        assert!(
            c.exemptions
                .principal("arn:aws:iam::111122223333:role/BreakGlass/admin")
                .is_some()
        );
        assert_eq!(
            c.exemptions.principal("arn:aws:iam::111122223333:role/ops"),
            None
        );
    }

    #[test]
    fn a_principal_that_is_not_an_arn_and_a_bad_glob_are_refused() {
        let err = parse("[exemptions]\nprincipals = [\"role/x\"]")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "`exemptions.principals`: `role/x` is not an ARN (or an ARN glob)"
        );
        let err = parse("[exemptions]\nusers = [\"a[\"]")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("`exemptions.users`: `a[` is not a valid glob: "),
            "{err}"
        );
    }

    #[test]
    fn an_empty_tag_means_no_tag() {
        let c = parse("[exemptions]\ntag = \"\"").unwrap();
        assert_eq!(c.exemptions.tag, None);
    }
}
