//! Least privilege from activity: the policy a principal's CloudTrail
//! calls needed (`trailguard policy generate`), and what it holds but did
//! not use (`trailguard policy unused`).
//!
//! The logic is pure (the action table, the mapping, the document); the
//! archive is read by replay's own reader and parallel fan-out, so every
//! input replay takes, this takes.

pub mod activity;
pub mod document;
pub mod mapping;
pub mod principal;
pub mod report;
pub mod resources;
pub mod table;
pub mod unused;

use std::io;

use crate::event::input::{InputError, Item};
use crate::event::paths::Input;
use crate::replay::{self, Filter, S3Source};

pub use activity::Activity;
pub use document::{Generated, PolicyDocument, generate};
pub use principal::Principals;
pub use table::{AccessLevel, ActionTable};
pub use unused::{Held, Unused, compare};

/// Why a policy command cannot run.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("`{0}` is not a principal ARN or a glob of ARNs")]
    Principal(String),
    #[error("cannot read policy `{path}`: {source}")]
    ReadPolicy {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("`{0}` names no IAM user or role: --live reads one user or one role, not a glob")]
    Live(String),
    #[error("policy `{path}` is not a policy document: {reason}")]
    BadPolicy { path: String, reason: String },
}

/// How the archive is read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Files processed at once.
    pub jobs: usize,
    /// The time (and account, region) filter, as replay's.
    pub filter: Filter,
    /// The most bytes one input may hold once decompressed.
    pub max_input_bytes: u64,
}

/// What reading the archive found, and what could not be read.
#[derive(Debug, Default)]
pub struct Collected {
    pub activity: Activity,
    /// Uncompressed bytes read.
    pub bytes: u64,
    pub errors: u64,
}

/// Reads `inputs` through replay's reader and fan-out and gathers the
/// principals' activity. Each unreadable input or event goes to
/// `on_error`; the rest is still read.
pub fn collect(
    inputs: impl Iterator<Item = Result<Input, InputError>> + Send,
    s3: Option<&S3Source<'_>>,
    principals: &Principals,
    table: &ActionTable,
    opts: &ReadOptions,
    on_error: &mut dyn FnMut(&InputError),
) -> Collected {
    let process =
        |item: Result<Input, InputError>, buf: &mut Vec<u8>| {
            let mut activity = Activity::default();
            let mut errors = Vec::new();
            let input = match item {
                Ok(input) => input,
                Err(e) => return (activity, vec![e], 0),
            };
            let read = replay::read_input(&input, s3, buf, opts.max_input_bytes, &mut |located| {
                match located.item {
                    Ok(Item::CloudTrail { event, .. }) if opts.filter.keeps(&event) => {
                        activity.add(table, principals, &event)
                    }
                    Ok(_) => {}
                    Err(e) => errors.push(e),
                }
            });
            let bytes = match read {
                Ok(stats) => stats.bytes,
                Err(e) => {
                    errors.push(e);
                    0
                }
            };
            (activity, errors, bytes)
        };
    let mut collected = Collected::default();
    let mut deliver = |(activity, errors, bytes): (Activity, Vec<InputError>, u64)| {
        collected.activity.merge(activity);
        collected.errors += errors.len() as u64;
        collected.bytes += bytes;
        errors.iter().for_each(&mut *on_error);
        Ok(())
    };
    // Inputs being read count against replay's budget; what they leave
    // (actions and resources seen) is small beside them.
    let estimate =
        |item: &Result<Input, InputError>| item.as_ref().map_or(0, replay::estimated_size);
    let memory = replay::Memory {
        budget: replay::MEMORY_BUDGET,
        estimate: &estimate,
        weight: &|_| 0,
    };
    replay::fan_out_within(inputs, opts.jobs, Some(&memory), &process, &mut deliver)
        .expect("delivering into memory cannot fail");
    collected
}

/// Reads a policy document from a file's text: a document, or an IAM
/// answer's URL-encoded form.
pub fn read_policy(path: &str, text: &str) -> Result<Held, PolicyError> {
    let document = crate::event::policy::decode(text).map_err(|e| PolicyError::BadPolicy {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    if document.get("Statement").is_none() {
        return Err(PolicyError::BadPolicy {
            path: path.to_owned(),
            reason: "no `Statement`".into(),
        });
    }
    Ok(Held {
        name: path.to_owned(),
        document,
    })
}

/// Who `--live` reads: the user or role an ARN names. A glob, or any other
/// kind of principal, cannot be read.
pub fn holder_of(arn: &str) -> Result<crate::effects::held::Holder, PolicyError> {
    use crate::effects::held::Holder;
    let refuse = || PolicyError::Live(arn.to_owned());
    if arn.contains(['*', '?', '[']) {
        return Err(refuse());
    }
    let resource = arn.splitn(6, ':').nth(5).ok_or_else(refuse)?;
    let name = |rest: &str| {
        rest.rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .map(String::from)
    };
    if let Some(rest) = resource.strip_prefix("user/") {
        return name(rest).map(Holder::User).ok_or_else(refuse);
    }
    if let Some(rest) = resource.strip_prefix("role/") {
        return name(rest).map(Holder::Role).ok_or_else(refuse);
    }
    Err(refuse())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::effects::held::Holder;

    #[test]
    fn live_reads_one_user_or_one_role_by_name() {
        assert_eq!(
            holder_of("arn:aws:iam::1:role/app/report-writer").unwrap(),
            Holder::Role("report-writer".into())
        );
        assert_eq!(
            holder_of("arn:aws-cn:iam::1:user/dana").unwrap(),
            Holder::User("dana".into())
        );
        for refused in [
            "arn:aws:iam::1:user/ops-*",
            "arn:aws:sts::1:assumed-role/x/y",
            "arn:aws:iam::1:user/",
        ] {
            let err = holder_of(refused).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("`{refused}` names no IAM user or role")),
                "{err}"
            );
        }
    }

    #[test]
    fn a_policy_file_must_be_a_document() {
        assert!(read_policy("p.json", r#"{"Statement": []}"#).is_ok());
        let err = read_policy("p.json", r#"{"Version": "2012-10-17"}"#)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "policy `p.json` is not a policy document: no `Statement`"
        );
    }
}
