//! What a remediation reports: its status, the write calls made and the
//! commands that undo them, built call by call as it runs.

use serde::Serialize;

use crate::effects::EffectError;

/// What the remediation ended as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Alert mode: the calls it would make, nothing changed.
    Planned,
    /// The target is exempt: alerted, never changed.
    Exempt,
    /// Changes were made.
    Done,
    /// Nothing to do: already in the wanted state, or the target is gone.
    Unchanged,
    /// Refused for a reason a retry will not fix (a quota, a foreign
    /// group); nothing changed.
    Blocked,
    /// An error stopped it; `calls` lists what was done before it.
    Failed,
}

impl Status {
    /// The kebab-case name used in JSON and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Planned => "planned",
            Status::Exempt => "exempt",
            Status::Done => "done",
            Status::Unchanged => "unchanged",
            Status::Blocked => "blocked",
            Status::Failed => "failed",
        }
    }
}

/// What a remediation did (or would do), and how to undo it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The remediation id of the registry.
    pub id: &'static str,
    pub status: Status,
    /// Sentences for a human: why it did or did not act.
    pub notes: Vec<String>,
    /// The write calls made (or, when planned, to be made), in order.
    pub calls: Vec<String>,
    /// AWS CLI commands that undo `calls`, in the order to run them.
    pub undo: Vec<String>,
    /// The inline policy document moved, so nothing is lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
}

impl Report {
    /// An empty report of remediation `id`.
    pub fn new(id: &'static str, status: Status) -> Self {
        Report {
            id,
            status,
            notes: Vec::new(),
            calls: Vec::new(),
            undo: Vec::new(),
            document: None,
        }
    }

    pub(crate) fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }
}

/// A remediation stopped by an error; `report` says what it did first.
#[derive(Debug, Clone, thiserror::Error)]
#[error("remediation `{}` failed: {source}", report.id)]
pub struct RemediateError {
    pub source: EffectError,
    pub report: Box<Report>,
    retryable: bool,
}

impl RemediateError {
    /// Worth running the event again: throttling, 5xx, timeouts, and IAM
    /// not yet showing our own writes. Safe, since every step is idempotent.
    pub fn is_retryable(&self) -> bool {
        self.retryable
    }
}

/// Builds a report as calls are made.
pub(crate) struct Recorder {
    report: Report,
}

impl Recorder {
    pub(crate) fn new(id: &'static str) -> Self {
        Recorder {
            report: Report::new(id, Status::Done),
        }
    }

    /// Records a write call made and the command that undoes it.
    pub(crate) fn call(&mut self, call: String, undo: Option<String>) {
        self.report.calls.push(call);
        if let Some(u) = undo {
            // Undo in reverse order of doing.
            self.report.undo.insert(0, u);
        }
    }

    pub(crate) fn note(&mut self, note: impl Into<String>) {
        self.report.notes.push(note.into());
    }

    pub(crate) fn document(&mut self, document: &str) {
        self.report.document = Some(document.to_owned());
    }

    /// Ends with `status`; `Done` only if a call was made.
    pub(crate) fn finish(mut self, status: Status) -> Report {
        self.report.status = if status == Status::Done && self.report.calls.is_empty() {
            Status::Unchanged
        } else {
            status
        };
        self.report
    }

    /// Ends as failed because of `source`.
    pub(crate) fn fail(&mut self, source: EffectError) -> RemediateError {
        let retryable = source.is_retryable();
        self.fail_with(source, retryable)
    }

    pub(crate) fn fail_with(&mut self, source: EffectError, retryable: bool) -> RemediateError {
        let mut report = self.report.clone();
        report.status = Status::Failed;
        report.notes.push(if retryable {
            format!("stopped by {source}; safe to retry")
        } else {
            format!("stopped by {source}")
        });
        RemediateError {
            source,
            report: Box::new(report),
            retryable,
        }
    }
}

/// The report for a user deleted before the event was handled.
pub(crate) fn user_gone(id: &'static str, user: &str) -> Report {
    Report::new(id, Status::Unchanged)
        .note(format!("user {user} no longer exists; nothing to change"))
}

/// Quotes a word for a POSIX shell, for the undo commands.
pub(crate) fn sh(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@+,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undo_words_are_quoted_only_when_a_shell_would_split_or_expand_them() {
        assert_eq!(sh("trailguard-read-only"), "trailguard-read-only");
        assert_eq!(sh("/trailguard/"), "/trailguard/");
        assert_eq!(sh("a b"), "'a b'");
        assert_eq!(sh("$(id)"), "'$(id)'");
        assert_eq!(sh("it's"), r"'it'\''s'");
        assert_eq!(sh(""), "''");
    }

    #[test]
    fn a_run_that_made_no_call_ends_unchanged_not_done() {
        assert_eq!(
            Recorder::new("x").finish(Status::Done).status,
            Status::Unchanged
        );
        let mut rec = Recorder::new("x");
        rec.call("iam:CreateGroup".into(), Some("undo-1".into()));
        rec.call("iam:AddUserToGroup".into(), Some("undo-2".into()));
        let report = rec.finish(Status::Done);
        assert_eq!(report.status, Status::Done);
        // Undo runs in reverse order of doing.
        assert_eq!(report.undo, ["undo-2", "undo-1"]);
    }
}
