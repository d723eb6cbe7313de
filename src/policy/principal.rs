//! Which calls belong to the principal a policy is generated for.

use globset::{Glob, GlobMatcher};

use super::PolicyError;
use crate::event::CloudTrailEvent;

/// The principals named with `--principal`: ARNs or globs of ARNs.
#[derive(Debug, Clone)]
pub struct Principals {
    matchers: Vec<GlobMatcher>,
    /// As given, for reports.
    pub given: Vec<String>,
}

impl Principals {
    /// Reads `--principal` values. A role (`arn:aws:iam::1:role/NAME`) also
    /// matches every session of it (`arn:aws:sts::1:assumed-role/NAME/*`).
    pub fn new(given: &[String]) -> Result<Self, PolicyError> {
        let mut matchers = Vec::new();
        for arn in given {
            if !arn.starts_with("arn:") || arn.split(':').count() < 6 {
                return Err(PolicyError::Principal(arn.clone()));
            }
            let glob = |pattern: &str| {
                Glob::new(pattern)
                    .map(|g| g.compile_matcher())
                    .map_err(|_| PolicyError::Principal(arn.clone()))
            };
            matchers.push(glob(arn)?);
            if let Some(sessions) = sessions_of(arn) {
                matchers.push(glob(&sessions)?);
            }
        }
        Ok(Principals {
            matchers,
            given: given.to_vec(),
        })
    }

    /// Did this principal make the call? Its own ARN, or for a role
    /// session the role that issued it (`sessionContext.sessionIssuer.arn`).
    pub fn made(&self, event: &CloudTrailEvent) -> bool {
        event
            .principal_arns()
            .any(|arn| self.matchers.iter().any(|m| m.is_match(arn)))
    }
}

/// The sessions' ARN glob of a role ARN: STS names a session by the role's
/// name without its path.
fn sessions_of(role_arn: &str) -> Option<String> {
    let (head, rest) = role_arn.split_once(":role/")?;
    let name = rest.rsplit('/').next()?;
    let head = head.replacen(":iam:", ":sts:", 1);
    Some(format!("{head}:assumed-role/{name}/*"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(arn: &str, issuer: Option<&str>) -> CloudTrailEvent {
        let issuer = issuer.map_or(String::new(), |i| {
            format!(r#", "sessionContext": {{"sessionIssuer": {{"arn": "{i}"}}}}"#)
        });
        CloudTrailEvent::from_json(&format!(
            r#"{{"userIdentity": {{"arn": "{arn}"{issuer}}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn a_role_matches_every_session_of_it() {
        let p = Principals::new(&["arn:aws:iam::111122223333:role/app/Deployer".into()]).unwrap();
        assert!(p.made(&event(
            "arn:aws:sts::111122223333:assumed-role/Deployer/ci-42",
            None
        )));
        assert!(p.made(&event(
            "arn:aws:sts::111122223333:assumed-role/X/y",
            Some("arn:aws:iam::111122223333:role/app/Deployer")
        )));
        assert!(!p.made(&event(
            "arn:aws:sts::111122223333:assumed-role/Deployer2/s",
            None
        )));
        assert!(!p.made(&event(
            "arn:aws:sts::444455556666:assumed-role/Deployer/s",
            None
        )));
    }

    #[test]
    fn users_and_globs_match() {
        let p = Principals::new(&[
            "arn:aws:iam::111122223333:user/alice".into(),
            "arn:aws:iam::111122223333:user/ops-*".into(),
        ])
        .unwrap();
        assert!(p.made(&event("arn:aws:iam::111122223333:user/alice", None)));
        assert!(p.made(&event("arn:aws:iam::111122223333:user/ops-bob", None)));
        assert!(!p.made(&event("arn:aws:iam::111122223333:user/alice2", None)));
    }

    #[test]
    fn not_an_arn_is_refused_naming_it() {
        let err = Principals::new(&["alice".into()]).unwrap_err().to_string();
        assert_eq!(err, "`alice` is not a principal ARN or a glob of ARNs");
    }
}
