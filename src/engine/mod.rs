//! The engine: a subject (one CloudTrail event, or the account inventory
//! the scan reads) and the config in, decisions and their reasons out.
//! Pure: no I/O, no clock, no environment (the scan's time is given).
//!
//! One loop serves both subjects: every rule of the registry whose
//! [`Check`] fits the subject runs, and its findings become decisions under
//! the rule's mode and the exemptions ([`decide`]). [`event`] adds what
//! only an event has (forged envelopes, trailguard's own calls, failed
//! calls); [`inventory`] what only the account has (findings worst first).

mod event;
mod inventory;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::event::CloudTrailEvent;
use crate::inventory::account::Account;
use crate::rules::{self, Check, Finding, Mode, Rule};

pub use event::{
    FORGED, Scope, evaluate, evaluate_delivered, forgery, is_member_session, is_self,
    own_role_names, partition, scope, verdict_without_rules,
};
pub use inventory::evaluate_account;

/// A finding with the mode it runs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    #[serde(flatten)]
    pub finding: Finding,
    /// `alert` or `remediate` (an `off` rule yields no decision).
    pub mode: Mode,
    /// Why the target must not be changed, when it is exempt; the finding
    /// is then alerted only. The exemption tag, and exempt principals
    /// against the user's real ARN (path, partition), are checked at execution.
    pub exempt: Option<String>,
}

impl Decision {
    /// Will the executor run the remediation?
    pub fn remediates(&self) -> bool {
        self.mode == Mode::Remediate && self.exempt.is_none() && self.finding.remediation.is_some()
    }
}

/// A note on why a rule that matched did not produce a decision as-is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub rule: &'static str,
    pub note: String,
}

/// The engine's answer for one subject.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    /// Why the whole event was ignored, if it was (never for the inventory).
    pub ignored: Option<String>,
    pub decisions: Vec<Decision>,
    pub diagnostics: Vec<Diagnostic>,
    /// The rules whose trigger matched the event but that declined it, and
    /// why. Outputs leave them out unless asked (`replay --explain`).
    #[serde(skip)]
    pub declined: Vec<Declined>,
}

/// A rule that looked at the subject and declined it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declined {
    pub rule: &'static str,
    pub why: &'static str,
}

impl Declined {
    /// As a diagnostic: `declined: <why>`.
    pub fn diagnostic(&self) -> Diagnostic {
        Diagnostic {
            rule: self.rule,
            note: format!("declined: {}", self.why),
        }
    }
}

/// What one rule made of the subject.
enum Looked {
    /// The rule does not look at this kind of subject, or its trigger does
    /// not match the event.
    Skipped,
    Declined(&'static str),
    Found(Vec<Finding>),
}

/// What the rules look at.
#[derive(Clone, Copy)]
pub enum Subject<'a> {
    /// One CloudTrail event: the rules with [`Check::Event`] whose trigger
    /// matches it.
    Event(&'a CloudTrailEvent),
    /// The account as the scan read it, at the scan's time: the rules with
    /// [`Check::Inventory`].
    Account {
        account: &'a Account,
        now: DateTime<Utc>,
    },
}

impl Subject<'_> {
    /// What one rule finds in the subject.
    fn check(&self, rule: &Rule, settings: &rules::Settings) -> Looked {
        match (rule.check, self) {
            (Check::Event { trigger, evaluate }, Subject::Event(event)) => {
                if !trigger.matches(event) || (event.failed() && !rule.on_failure) {
                    return Looked::Skipped;
                }
                match evaluate(event, settings) {
                    Ok(finding) => Looked::Found(vec![finding]),
                    Err(rules::Declined(why)) => Looked::Declined(why),
                }
            }
            (Check::Inventory(check), Subject::Account { account, now }) => {
                Looked::Found(check(account, settings, *now))
            }
            _ => Looked::Skipped,
        }
    }

    /// Why a finding's target (or, for an event, its caller) is exempt.
    fn exemption(&self, finding: &Finding, config: &Config) -> Option<String> {
        match self {
            Subject::Event(event) => event::exemption(event, finding, config),
            Subject::Account { account, .. } => inventory::exemption(finding, account, config),
        }
    }

    /// The diagnostic of a rule that found something but is off.
    fn off_note(&self, findings: usize) -> String {
        match self {
            Subject::Event(_) => "fired, but the rule is off".into(),
            Subject::Account { .. } => {
                let n = if findings == 1 {
                    "1 finding".to_owned()
                } else {
                    format!("{findings} findings")
                };
                format!("{n} found, but the rule is off")
            }
        }
    }

    /// The diagnostic of a remediation skipped for an exemption: the scan
    /// names the target, since one rule can find many.
    fn exempt_note(&self, finding: &Finding, why: &str) -> String {
        match self {
            Subject::Event(_) => format!("not remediated: {why}"),
            Subject::Account { .. } => {
                format!("{}: not remediated: {why}", finding.target.label())
            }
        }
    }
}

/// Runs every rule of the catalogue that looks at this kind of subject, in
/// catalogue order, and decides each finding under the config.
pub fn evaluate_subject(subject: Subject<'_>, config: &Config) -> Evaluation {
    let mut out = Evaluation::default();
    let settings = config.rule_settings();
    for rule in rules::registry() {
        let findings = match subject.check(rule, &settings) {
            Looked::Found(findings) if !findings.is_empty() => findings,
            Looked::Declined(why) => {
                out.declined.push(Declined { rule: rule.id, why });
                continue;
            }
            Looked::Found(_) | Looked::Skipped => continue,
        };
        let mode = config.mode(rule);
        if mode == Mode::Off {
            out.diagnostics.push(Diagnostic {
                rule: rule.id,
                note: subject.off_note(findings.len()),
            });
            continue;
        }
        for finding in findings {
            let exempt = subject.exemption(&finding, config);
            if let Some(why) = &exempt
                && mode == Mode::Remediate
                && finding.remediation.is_some()
            {
                out.diagnostics.push(Diagnostic {
                    rule: rule.id,
                    note: subject.exempt_note(&finding, why),
                });
            }
            out.decisions.push(Decision {
                finding,
                mode,
                exempt,
            });
        }
    }
    out
}
