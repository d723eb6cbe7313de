//! Event text made safe for where it is shown: e-mail bodies (SNS) and
//! terminals (`trailguard replay`). Every field of an event is written by
//! whoever made the call, so a CR/LF could forge a line that looks like one
//! of ours, and an ESC could drive the reader's terminal.

use std::borrow::Cow;
use std::fmt::Write as _;

/// True for what must never reach a reader raw: C0 and C1 control
/// characters and DEL (ESC and CSI included), the Unicode line and paragraph
/// separators, the bidirectional overrides that reorder what is shown, and
/// U+FFFE and U+FFFF, which XML 1.0 refuses (an SQS subscriber of the
/// topic, for one, would not take the message).
fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{061c}' | '\u{200e}' | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{fffe}' | '\u{ffff}'
        )
}

/// `text` with every unsafe character shown as a visible escape (`\n`,
/// `\r`, `\t`, `\0`, otherwise `\u{1b}`), so event text stays on its line and
/// cannot send terminal sequences. Borrowed when there is nothing to escape.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if unsafe_char(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Multi-line text of our own making (a pretty-printed document): its line
/// breaks are kept, everything unsafe inside a line is escaped.
pub fn escape_controls_by_line(text: &str) -> String {
    text.split('\n')
        .map(|line| escape_controls(line))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Cuts `text` to at most `max` bytes of UTF-8, on a character boundary,
/// marking the cut with `...`.
pub fn cut_bytes(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub(3);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_visible_escapes() {
        assert_eq!(
            escape_controls("a\r\nb\0c\td\u{1b}[31me\u{9b}f\u{7f}"),
            "a\\r\\nb\\0c\\td\\u{1b}[31me\\u{9b}f\\u{7f}"
        );
        assert_eq!(
            escape_controls("a\u{fffe}b\u{ffff}"),
            "a\\u{fffe}b\\u{ffff}"
        );
        assert_eq!(
            escape_controls("x\u{2028}y\u{202e}z"),
            "x\\u{2028}y\\u{202e}z"
        );
        assert!(matches!(escape_controls("plain é ✓"), Cow::Borrowed(_)));
    }

    #[test]
    fn escaping_by_line_keeps_our_line_breaks() {
        assert_eq!(
            escape_controls_by_line("{\n  \"a\": \"b\u{1b}c\r\"\n}"),
            "{\n  \"a\": \"b\\u{1b}c\\r\"\n}"
        );
    }

    /// `trailguard replay --format text` wrote event strings raw: an ARN
    /// holding `ESC ] 0 ; ... BEL` retitled the terminal, `ESC [ 2 J`
    /// cleared it.
    #[test]
    fn replay_text_escapes_terminal_sequences_from_events() {
        use crate::config::Config;
        use crate::replay::{EventReport, Summary, render_event_text};
        let record = r#"{"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
            "eventTime": "2024\u001b[31m-01-02T03:04:05Z", "responseElements": {"ConsoleLogin": "Success"},
            "userIdentity": {"type": "Root", "arn": "arn:aws:iam::1:root\u001b]0;pwned\u0007\u009b1m\r\nFORGED"}}"#;
        let mut reports = Vec::new();
        crate::event::input::parse(record.as_bytes(), "in\u{1b}put", &mut |l| {
            reports.push(EventReport::new(l, &Config::default()).unwrap())
        });
        let second = record.replace("2024\\u001b[31m-01-02", "2024-01-03");
        crate::event::input::parse(second.as_bytes(), "second", &mut |l| {
            reports.push(EventReport::new(l, &Config::default()).unwrap())
        });
        let text = render_event_text(&reports[0], false);
        let mut summary = Summary::default();
        summary.add(&reports[0]);
        summary.add(&reports[1]);
        let counts = summary.render_text();
        for out in [&text, &counts] {
            assert!(out.contains("root-console-login"), "a finding: {out}");
            assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
            assert!(!out.lines().any(|l| l.starts_with("FORGED")), "{out}");
        }
        assert!(
            text.contains("root\\u{1b}]0;pwned\\u{7}\\u{9b}1m\\r\\nFORGED"),
            "{text}"
        );
        assert!(text.starts_with("in\\u{1b}put"), "{text}");
        assert!(counts.contains("2024\\u{1b}[3"), "{counts}");
        assert!(counts.contains("root\\u{1b}]0;pwned"), "{counts}");
    }

    /// 20 findings, each saying `summary`.
    fn decisions(summary: &str) -> Vec<crate::engine::Decision> {
        (0..20)
            .map(|_| crate::alert::testing::decision("bob", summary))
            .collect()
    }

    /// A summary of those findings, as the scan's.
    fn scan_summary(decisions: &[crate::engine::Decision]) -> crate::alert::summary::Summary<'_> {
        crate::alert::summary::Summary {
            account_id: Some("111122223333"),
            scanned_at: chrono::Utc::now(),
            users: 20,
            dry_run: false,
            partial: false,
            findings: decisions
                .iter()
                .map(|decision| crate::alert::summary::Item {
                    decision,
                    result: None,
                })
                .collect(),
            notes: &[],
        }
    }

    /// The scan's summary alert has the same SNS cap: 20 summaries of 5,000
    /// three-byte characters are 300,000 bytes in 100,000 characters.
    #[test]
    fn scan_sns_body_is_capped_in_bytes() {
        let decisions = decisions(&"€".repeat(5_000));
        let body = crate::alert::summary::body(&scan_summary(&decisions));
        assert!(body.len() <= 200_000, "{} bytes", body.len());
    }

    /// And its Slack sections are cut after escaping without half entities.
    #[test]
    fn scan_slack_sections_are_cut_on_entity_boundaries() {
        for k in 0..4 {
            let summary = format!("{}{}", "x".repeat(k), "<".repeat(500));
            let decisions = decisions(&summary);
            let message = crate::alert::summary::slack_message(&scan_summary(&decisions));
            whole_entities(&message);
            crate::alert::slack::assert_mrkdwn_verbatim(&message);
        }
    }

    fn whole_entities(message: &serde_json::Value) {
        for block in message["blocks"].as_array().unwrap() {
            let Some(text) = block["text"]["text"].as_str() else {
                continue;
            };
            for (i, _) in text.match_indices('&') {
                assert!(
                    ["&amp;", "&lt;", "&gt;"]
                        .iter()
                        .any(|e| text[i..].starts_with(e)),
                    "half an entity: {:?}",
                    &text[i..text.len().min(i + 8)]
                );
            }
        }
    }

    #[test]
    fn cut_bytes_counts_bytes_and_keeps_characters_whole() {
        assert_eq!(cut_bytes("abc", 3), "abc");
        assert_eq!(cut_bytes("abcdefgh", 6), "abc...");
        // '€' is 3 bytes: 10 of them are 30 bytes, 10 characters.
        let cut = cut_bytes(&"€".repeat(10), 20);
        assert!(cut.len() <= 20, "{}", cut.len());
        assert_eq!(cut, format!("{}...", "€".repeat(5)));
    }
}
