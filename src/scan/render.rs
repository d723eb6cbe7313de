//! The scan's report for people: the CLI's text output. Pure.

use std::fmt::Write as _;

use super::ScanReport;
use crate::alert::summary::{counts, headline};
use crate::alert::text::escape_controls as esc;

/// The whole report as text: findings worst first, then counts and notes.
pub fn render_text(report: &ScanReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "scan of account {} at {}: {}, {} user{}",
        esc(report.account_id.as_deref().unwrap_or("unknown")),
        report.scanned_at.format("%Y-%m-%d %H:%M:%S UTC"),
        headline(&report.summary()),
        report.users,
        if report.users == 1 { "" } else { "s" }
    );
    if report.partial {
        let _ = writeln!(s, "partial: the deadline came before every remediation ran");
    }
    if let Some(t) = report.report_generated_at {
        let _ = writeln!(
            s,
            "credential report generated at {}",
            t.format("%Y-%m-%d %H:%M:%S UTC")
        );
    }
    if !report.findings.is_empty() {
        s.push('\n');
    }
    for found in &report.findings {
        let d = &found.decision;
        let f = &d.finding;
        let _ = writeln!(
            s,
            "{:<8} {:<30} [{}] {}",
            f.severity.as_str().to_uppercase(),
            f.rule,
            d.mode.as_str(),
            esc(&f.summary)
        );
        if let (Some(action), Some(result)) = (&f.remediation, &found.result) {
            let _ = writeln!(
                s,
                "         remediation {} {}: {}",
                action.id(),
                result.status.as_str(),
                esc(&action.describe())
            );
            for note in &result.notes {
                let _ = writeln!(s, "           {}", esc(note));
            }
        }
        if let Some(why) = &d.exempt {
            let _ = writeln!(s, "         exempt: {}", esc(why));
        }
    }
    let counts = counts(&report.summary());
    if !counts.is_empty() {
        let _ = writeln!(s, "\nfindings by rule:");
        for (rule, severity, n) in counts {
            let _ = writeln!(s, "  {rule:<30} {:<8} {n:>5}", severity.as_str());
        }
    }
    if !report.diagnostics.is_empty() {
        let _ = writeln!(s, "\ndiagnostics:");
        for d in &report.diagnostics {
            let _ = writeln!(s, "  {}: {}", d.rule, esc(&d.note));
        }
    }
    if !report.alerts.is_empty() {
        let _ = writeln!(s, "\nsummary alert:");
        for a in &report.alerts {
            let _ = writeln!(
                s,
                "  {}: {}{}",
                a.channel,
                a.status,
                a.error
                    .as_deref()
                    .map(|e| format!(" ({})", esc(e)))
                    .unwrap_or_default()
            );
        }
    }
    if !report.errors.is_empty() {
        let _ = writeln!(s, "\nerrors:");
        for e in &report.errors {
            let _ = writeln!(s, "  {}: {}", e.kind, esc(&e.message));
        }
    }
    if !report.notes.is_empty() {
        let _ = writeln!(s, "\nnotes:");
        for n in &report.notes {
            let _ = writeln!(s, "  {}", esc(n));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// IAM names and event text reach the terminal escaped: a user named
    /// with escape sequences cannot clear the screen or forge a line.
    #[test]
    fn the_scan_text_escapes_terminal_sequences() {
        let hostile = "bob\u{1b}[2J\r\nCRITICAL forged";
        let report = ScanReport {
            account_id: Some("111122223333".into()),
            scanned_at: chrono::Utc::now(),
            report_generated_at: None,
            users: 1,
            dry_run: true,
            partial: false,
            findings: vec![crate::scan::ScanFinding {
                decision: crate::alert::testing::decision("bob", hostile),
                result: None,
            }],
            diagnostics: Vec::new(),
            notes: vec![hostile.to_owned()],
            alerts: Vec::new(),
            errors: Vec::new(),
        };
        let text = render_text(&report);
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
        assert!(
            text.contains("bob\\u{1b}[2J\\r\\nCRITICAL forged"),
            "{text}"
        );
        assert!(!text.lines().any(|l| l.starts_with("CRITICAL forged")));
    }
}
