//! What `policy generate` and `policy unused` say besides the document: a
//! JSON report (`--report FILE`) and its text form for standard error.

use std::fmt::Write as _;

use serde::Serialize;

use super::activity::{Activity, Seen};
use super::document::{Generated, MANAGED_POLICY_MAX_CHARS};
use super::table::AccessLevel;
use super::unused::Unused;
use crate::alert::text::escape_controls as safe;

/// One action of the generated policy, with how it was used.
#[derive(Debug, Serialize)]
pub struct ActionLine<'a> {
    pub action: &'a str,
    pub level: Option<AccessLevel>,
    #[serde(flatten)]
    pub seen: &'a Seen,
    /// The resources its calls named; `["*"]` when some named none.
    pub resources: Vec<&'a str>,
}

/// A call kept out of the policy.
#[derive(Debug, Serialize)]
pub struct CallLine<'a> {
    pub call: &'a str,
    /// The error code, or why it maps to no action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    #[serde(flatten)]
    pub seen: &'a Seen,
}

/// The report of `policy generate`.
#[derive(Debug, Serialize)]
pub struct GenerateReport<'a> {
    pub principals: &'a [String],
    /// The period the input covers: its first and last event, and how many.
    pub period: &'a Seen,
    /// The principals' own events.
    pub principal_events: &'a Seen,
    pub actions: Vec<ActionLine<'a>>,
    pub denied: Vec<CallLine<'a>>,
    pub failed: Vec<CallLine<'a>>,
    pub unmapped: Vec<CallLine<'a>>,
    pub no_permission: Vec<CallLine<'a>>,
    /// Actions granted on `*`: their calls named no resource, or the
    /// service's resources are not read from events.
    pub unscoped: &'a [String],
    /// Merges done to fit IAM's size limit.
    pub merged: &'a [String],
    /// The document's size without whitespace, and the limit.
    pub size: usize,
    pub size_limit: usize,
    /// Where the action table came from.
    pub action_table: &'a str,
    pub unreadable_inputs: u64,
}

impl<'a> GenerateReport<'a> {
    /// Builds the report of a generation.
    pub fn new(
        principals: &'a [String],
        activity: &'a Activity,
        generated: &'a Generated,
        action_table: &'a str,
        unreadable_inputs: u64,
    ) -> Self {
        let calls = |m: &'a std::collections::BTreeMap<String, super::activity::Apart>| {
            m.iter()
                .map(|(call, a)| CallLine {
                    call,
                    reason: Some(&a.reason),
                    seen: &a.seen,
                })
                .collect()
        };
        GenerateReport {
            principals,
            period: &activity.period,
            principal_events: &activity.matched,
            actions: activity
                .actions
                .iter()
                .map(|(action, used)| ActionLine {
                    action,
                    level: used.level,
                    seen: &used.seen,
                    resources: if used.any_resource {
                        vec!["*"]
                    } else {
                        used.resources.iter().map(String::as_str).collect()
                    },
                })
                .collect(),
            denied: calls(&activity.denied),
            failed: calls(&activity.failed),
            unmapped: calls(&activity.unmapped),
            no_permission: activity
                .no_permission
                .iter()
                .map(|(call, seen)| CallLine {
                    call,
                    reason: None,
                    seen,
                })
                .collect(),
            unscoped: &generated.unscoped,
            merged: &generated.merged,
            size: generated.size,
            size_limit: MANAGED_POLICY_MAX_CHARS,
            action_table,
            unreadable_inputs,
        }
    }

    /// The report for a terminal; every string from events is escaped.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let when = |seen: &Seen| {
            format!(
                "{} .. {}",
                seen.first.as_deref().unwrap_or("?"),
                seen.last.as_deref().unwrap_or("?")
            )
        };
        let _ = writeln!(
            s,
            "period: {} ({} events read, {} by the principal)",
            safe(&when(self.period)),
            self.period.count,
            self.principal_events.count
        );
        let _ = writeln!(s, "\nactions granted ({}):", self.actions.len());
        for a in &self.actions {
            let _ = writeln!(
                s,
                "  {:<45} {:>8}  {}  {}",
                safe(a.action),
                a.seen.count,
                safe(&when(a.seen)),
                safe(&a.resources.join(" "))
            );
        }
        for (title, lines) in [
            ("denied, never granted", &self.denied),
            ("failed, not granted", &self.failed),
            ("unmapped, not granted", &self.unmapped),
            ("needing no permission", &self.no_permission),
        ] {
            if lines.is_empty() {
                continue;
            }
            let _ = writeln!(s, "\n{title} ({}):", lines.len());
            for c in lines {
                let _ = writeln!(
                    s,
                    "  {:<45} {:>8}  {}  {}",
                    safe(c.call),
                    c.seen.count,
                    safe(&when(c.seen)),
                    safe(c.reason.unwrap_or(""))
                );
            }
        }
        if !self.unscoped.is_empty() {
            let _ = writeln!(
                s,
                "\non `*` (no resource named, or not read for the service): {}",
                safe(&self.unscoped.join(" "))
            );
        }
        for m in self.merged {
            let _ = writeln!(s, "merged to fit: {}", safe(m));
        }
        let _ = writeln!(
            s,
            "\npolicy size: {} of {} characters; action table: {}",
            self.size,
            self.size_limit,
            safe(self.action_table)
        );
        s
    }
}

/// The report of `policy unused`.
#[derive(Debug, Serialize)]
pub struct UnusedReport<'a> {
    pub principals: &'a [String],
    pub period: &'a Seen,
    pub policies: &'a [String],
    #[serde(flatten)]
    pub unused: &'a Unused,
    /// The generated policy: the suggested replacement.
    pub suggested_policy: &'a super::PolicyDocument,
}

impl UnusedReport<'_> {
    /// The comparison for a terminal, sensitive levels first.
    pub fn render_text(&self) -> String {
        let mut s = String::new();
        let u = self.unused;
        let _ = writeln!(
            s,
            "period: {} .. {} ({} events read)",
            safe(self.period.first.as_deref().unwrap_or("?")),
            safe(self.period.last.as_deref().unwrap_or("?")),
            self.period.count
        );
        let _ = writeln!(
            s,
            "policies: {}\ngranted {} actions, used {}, unused {}",
            safe(&self.policies.join(", ")),
            u.granted,
            u.used,
            u.unused.len()
        );
        if !u.unused_services.is_empty() {
            let _ = writeln!(
                s,
                "services granted, none of their actions used: {}",
                u.unused_services.join(" ")
            );
        }
        let mut level = None;
        for a in &u.unused {
            if level != Some(a.level) {
                level = Some(a.level);
                let _ = writeln!(s, "\nunused, {}:", a.level.as_str());
            }
            let _ = writeln!(s, "  {}", a.action);
        }
        if !u.unknown.is_empty() {
            let _ = writeln!(
                s,
                "\nnot in the action table: {}",
                safe(&u.unknown.join(" "))
            );
        }
        for n in &u.notes {
            let _ = writeln!(s, "note: {}", safe(n));
        }
        let _ = writeln!(
            s,
            "\nsuggested replacement (the generated policy):\n{}",
            serde_json::to_string_pretty(self.suggested_policy).expect("documents serialize")
        );
        s
    }
}
