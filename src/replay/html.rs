//! `replay --format html`: one self-contained page of a replay's findings.
//!
//! The page fetches nothing: CSS, the SVG charts and the table's script are
//! inline, and its Content-Security-Policy allows only those (by hash), so a
//! string from an archive that slipped through the escaping still could not
//! run or load anything. The charts are drawn here from aggregates and stay
//! the same size whatever the archive's; the table holds at most
//! [`MAX_ROWS`] findings and says so.
//!
//! The page is [`render`] of a [`Summary`] and a [`Collector`], both fed the
//! same [`EventReport`]s and both mergeable in input order: batches replayed
//! apart (each writing its summary and collector as JSON) render as one.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;

use base64::Engine as _;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{EventReport, Summary};
use crate::alert::text::escape_controls;
use crate::engine::Decision;
use crate::rules::{self, Severity};

/// The most findings the page's table holds; the charts count them all.
pub const MAX_ROWS: usize = 10_000;

/// Examples of what one remediation would do, kept per remediation.
const MAX_EXAMPLES: usize = 3;

/// Bars drawn per ranked chart (rules, accounts, actors); the rest are summed.
const MAX_BARS: usize = 15;

/// Severities lowest first, as the per-day counts are indexed.
const SEVERITIES: [Severity; 4] = [
    Severity::Low,
    Severity::Medium,
    Severity::High,
    Severity::Critical,
];

/// What the page shows beyond [`Summary`], gathered from the same reports.
/// Mergeable like the summary, so batches replayed apart render as one page.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Collector {
    /// Findings per day (`YYYY-MM-DD`, or the raw time when it has no date),
    /// counted per severity: low, medium, high, critical.
    pub by_day: BTreeMap<String, [u64; 4]>,
    /// Findings per account (`unknown` when the event names none).
    pub by_account: BTreeMap<String, u64>,
    /// Per remediation id, what it would have done.
    pub remediations: BTreeMap<String, RemediationCounts>,
    /// The first findings, in input order, at most [`MAX_ROWS`].
    pub rows: Vec<Row>,
    /// Every finding seen, kept as a row or not.
    pub findings: u64,
}

/// How often one remediation was planned, and what became of it.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemediationCounts {
    /// The rule is in remediate mode and the target is not exempt: it runs.
    pub runs: u64,
    /// The rule is in alert mode: it would run once switched to remediate.
    pub opt_in: u64,
    /// The target is exempt: alerted only, whatever the mode.
    pub exempt: u64,
    /// A few distinct descriptions of what it does (first seen first).
    pub examples: Vec<String>,
}

/// One finding of the table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    /// Where the event came from: `path#index`.
    pub location: String,
    /// The event's `eventTime` as recorded, empty when missing.
    pub time: String,
    /// The account the event is about, `unknown` when it names none.
    pub account: String,
    /// The event's region, empty when missing.
    pub region: String,
    /// The caller's ARN, else its identity type, else `unknown`.
    pub actor: String,
    /// The API call (`eventName`).
    pub event: String,
    /// The rule id.
    pub rule: String,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: String,
    /// `alert` or `remediate`.
    pub mode: String,
    /// The finding's one-line summary.
    pub summary: String,
    /// What the remediation does, empty when the rule has none.
    pub remediation: String,
    /// `runs`, `opt-in`, `exempt`, or empty without a remediation.
    pub outcome: String,
}

/// The name a finding's actor is counted under, as [`Summary`] counts it.
fn actor_name(report: &EventReport) -> String {
    report.actor.arn.clone().unwrap_or_else(|| {
        report
            .actor
            .kind
            .as_ref()
            .map_or_else(|| "unknown".into(), |k| k.as_str().to_owned())
    })
}

fn outcome(d: &Decision) -> &'static str {
    match &d.finding.remediation {
        None => "",
        Some(_) if d.exempt.is_some() => "exempt",
        Some(_) if d.remediates() => "runs",
        Some(_) => "opt-in",
    }
}

fn severity_index(s: Severity) -> usize {
    SEVERITIES.iter().position(|x| *x == s).unwrap_or(0)
}

/// The index of a severity by name; an unknown name (from a batch written
/// by another version) counts as low rather than failing the page.
fn severity_index_of(name: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|x| x.as_str() == name)
        .unwrap_or(0)
}

impl Collector {
    /// Counts the findings of one event and keeps them as rows while there
    /// is room.
    pub fn add(&mut self, report: &EventReport) {
        if report.findings.is_empty() {
            return;
        }
        let day = report
            .event_time
            .as_deref()
            .map_or("unknown", |t| t.get(..10).unwrap_or(t));
        let account = report.account.as_deref().unwrap_or("unknown");
        let actor = actor_name(report);
        for d in &report.findings {
            self.findings += 1;
            self.by_day.entry(day.to_owned()).or_default()[severity_index(d.finding.severity)] += 1;
            *self.by_account.entry(account.to_owned()).or_default() += 1;
            let outcome = outcome(d);
            if let Some(action) = &d.finding.remediation {
                let counts = self.remediations.entry(action.id().to_owned()).or_default();
                match outcome {
                    "exempt" => counts.exempt += 1,
                    "runs" => counts.runs += 1,
                    _ => counts.opt_in += 1,
                }
                if counts.examples.len() < MAX_EXAMPLES {
                    let text = action.describe();
                    if !counts.examples.contains(&text) {
                        counts.examples.push(text);
                    }
                }
            }
            if self.rows.len() < MAX_ROWS {
                self.rows.push(Row {
                    location: report.location.clone(),
                    time: report.event_time.clone().unwrap_or_default(),
                    account: account.to_owned(),
                    region: report.region.clone().unwrap_or_default(),
                    actor: actor.clone(),
                    event: report.event_name.clone().unwrap_or_default(),
                    rule: d.finding.rule.to_owned(),
                    severity: d.finding.severity.as_str().to_owned(),
                    mode: d.mode.as_str().to_owned(),
                    summary: d.finding.summary.clone(),
                    remediation: d
                        .finding
                        .remediation
                        .as_ref()
                        .map(|a| format!("{}: {}", a.id(), a.describe()))
                        .unwrap_or_default(),
                    outcome: outcome.to_owned(),
                });
            }
        }
    }

    /// Adds `other`, which came after `self` in input order.
    pub fn merge(&mut self, other: Collector) {
        self.findings += other.findings;
        for (day, counts) in other.by_day {
            let mine = self.by_day.entry(day).or_default();
            for (m, c) in mine.iter_mut().zip(counts) {
                *m += c;
            }
        }
        for (account, n) in other.by_account {
            *self.by_account.entry(account).or_default() += n;
        }
        for (id, theirs) in other.remediations {
            let mine = self.remediations.entry(id).or_default();
            mine.runs += theirs.runs;
            mine.opt_in += theirs.opt_in;
            mine.exempt += theirs.exempt;
            for e in theirs.examples {
                if mine.examples.len() < MAX_EXAMPLES && !mine.examples.contains(&e) {
                    mine.examples.push(e);
                }
            }
        }
        let room = MAX_ROWS.saturating_sub(self.rows.len());
        self.rows.extend(other.rows.into_iter().take(room));
    }
}

/// Escapes text for HTML content and quoted attributes. Control and bidi
/// characters are shown escaped, as in the text output, so an archive
/// cannot reorder what the page displays.
pub fn escape(text: &str) -> Cow<'_, str> {
    let text = escape_controls(text);
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return text;
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// JSON that can sit inside `<script type="application/json">`: `<`, `>`
/// and `&` only ever occur inside JSON strings, where `\u` escapes mean the
/// same, so no `</script>` or `<!--` can end or bend the element.
fn json_for_script<T: Serialize>(value: &T) -> String {
    let json = serde_json::to_string(value).expect("page data serializes");
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
}

/// The Content-Security-Policy source for an inline element's exact text.
fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Cuts a chart label to `max` characters by its middle: an ARN's start
/// says what it is, its end whose it is. The full text goes in its title.
fn shorten(text: &str, max: usize) -> String {
    let len = text.chars().count();
    if len <= max {
        return text.to_owned();
    }
    let head = (max - 1) * 2 / 5;
    let tail = max - 1 - head;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(len - tail).collect();
    format!("{start}…{end}")
}

/// Thousands separated by a thin space, for counts a reader compares.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{2009}');
        }
        out.push(c);
    }
    out
}

/// `1 finding`, `2 findings`.
fn findings(n: u64) -> String {
    format!("{} finding{}", count(n), if n == 1 { "" } else { "s" })
}

/// One bar of a ranked chart.
struct Bar<'a> {
    label: &'a str,
    value: u64,
    class: &'static str,
}

/// A horizontal bar chart, largest first. `filter` names the table filter a
/// click on a bar sets (the label is the value).
fn ranked_chart(
    out: &mut String,
    title: &str,
    bars: &[Bar<'_>],
    rest: Option<(usize, u64)>,
    filter: &str,
) {
    let _ = writeln!(out, "<section class=\"card\"><h2>{}</h2>", escape(title));
    if bars.is_empty() {
        out.push_str("<p class=\"empty\">no findings</p></section>\n");
        return;
    }
    let (label_w, bar_w, row_h) = (230.0, 250.0, 22.0);
    let max = bars.iter().map(|b| b.value).max().unwrap_or(1).max(1) as f64;
    let rows = bars.len() + usize::from(rest.is_some());
    let height = rows as f64 * row_h + 4.0;
    let _ = writeln!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {w} {height}\" role=\"img\" aria-label=\"{t}\">",
        w = label_w + bar_w + 50.0,
        t = escape(title)
    );
    for (i, b) in bars.iter().enumerate() {
        let y = i as f64 * row_h + 2.0;
        let w = (b.value as f64 / max * bar_w).max(1.0);
        let label = escape(b.label);
        let _ = writeln!(
            out,
            "<g class=\"bar\" data-filter=\"{filter}\" data-value=\"{label}\"><title>{label}: {n}</title>\
             <text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{short}</text>\
             <rect class=\"{class}\" x=\"{label_w}\" y=\"{y}\" width=\"{w:.1}\" height=\"{h}\" rx=\"2\"/>\
             <text x=\"{nx:.1}\" y=\"{ty}\" class=\"num\">{n}</text></g>",
            n = count(b.value),
            lx = label_w - 6.0,
            ty = y + 14.0,
            short = escape(&shorten(b.label, 32)),
            class = b.class,
            h = row_h - 6.0,
            nx = label_w + w + 5.0,
        );
    }
    if let Some((others, n)) = rest {
        let y = bars.len() as f64 * row_h + 2.0;
        let _ = writeln!(
            out,
            "<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\" class=\"muted\">and {others} more</text>\
             <text x=\"{label_w}\" y=\"{ty}\" class=\"muted\">{n} between them</text>",
            lx = label_w - 6.0,
            ty = y + 14.0,
            others = count(others as u64),
            n = findings(n),
        );
    }
    out.push_str("</svg></section>\n");
}

/// Ranked entries, largest first, and how many entries and findings are
/// left over.
type Ranked<'a> = (Vec<(&'a str, u64)>, Option<(usize, u64)>);

/// The largest `bars` entries of a count map, and how many entries and
/// findings are left over.
fn top<'a>(counts: impl Iterator<Item = (&'a str, u64)>, bars: usize) -> Ranked<'a> {
    let mut all: Vec<_> = counts.collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let rest: Vec<_> = all.split_off(all.len().min(bars));
    let rest = (!rest.is_empty()).then(|| (rest.len(), rest.iter().map(|r| r.1).sum()));
    (all, rest)
}

/// Time buckets of the per-day chart: days, or months, or years when the
/// findings span too long for one bar a day to be seen.
fn time_buckets(
    by_day: &BTreeMap<String, [u64; 4]>,
) -> (&'static str, Vec<(String, [u64; 4])>, u64) {
    let mut dated: BTreeMap<NaiveDate, [u64; 4]> = BTreeMap::new();
    let mut undated = 0;
    for (day, counts) in by_day {
        match NaiveDate::parse_from_str(day, "%Y-%m-%d") {
            Ok(d) => {
                let mine = dated.entry(d).or_default();
                for (m, c) in mine.iter_mut().zip(counts) {
                    *m += c;
                }
            }
            Err(_) => undated += counts.iter().sum::<u64>(),
        }
    }
    let (Some(first), Some(last)) = (
        dated.keys().next().copied(),
        dated.keys().next_back().copied(),
    ) else {
        return ("day", Vec::new(), undated);
    };
    let add = |into: &mut [u64; 4], counts: &[u64; 4]| {
        for (m, c) in into.iter_mut().zip(counts) {
            *m += c;
        }
    };
    if (last - first).num_days() <= 400 {
        // Every day of the span, so quiet days show as gaps.
        let buckets = first
            .iter_days()
            .take_while(|d| *d <= last)
            .map(|d| (d.to_string(), dated.get(&d).copied().unwrap_or_default()))
            .collect();
        return ("day", buckets, undated);
    }
    let month = |d: NaiveDate| (d.year(), d.month());
    let (fy, fm) = month(first);
    let (ly, lm) = month(last);
    let months = (ly - fy) * 12 + lm as i32 - fm as i32;
    if months <= 400 {
        let mut buckets: Vec<(String, [u64; 4])> = (0..=months)
            .map(|i| {
                let m0 = fm as i32 - 1 + i;
                (
                    format!("{:04}-{:02}", fy + m0.div_euclid(12), m0.rem_euclid(12) + 1),
                    [0; 4],
                )
            })
            .collect();
        for (d, counts) in &dated {
            let (y, m) = month(*d);
            let i = ((y - fy) * 12 + m as i32 - fm as i32) as usize;
            add(&mut buckets[i].1, counts);
        }
        return ("month", buckets, undated);
    }
    // Only odd timestamps span centuries: years that have findings, no gaps.
    let mut years: BTreeMap<i32, [u64; 4]> = BTreeMap::new();
    for (d, counts) in &dated {
        add(years.entry(d.year()).or_default(), counts);
    }
    let buckets = years
        .into_iter()
        .map(|(y, c)| (format!("{y:04}"), c))
        .collect();
    ("year", buckets, undated)
}

/// Findings per day (or month, or year), stacked by severity, worst at the
/// bottom.
fn time_chart(out: &mut String, page: &Collector) {
    let (unit, buckets, undated) = time_buckets(&page.by_day);
    let _ = writeln!(
        out,
        "<section class=\"card wide\"><h2>Findings per {unit}, by severity</h2>"
    );
    out.push_str("<p class=\"legend\">");
    for s in SEVERITIES.iter().rev() {
        let _ = write!(out, "<span class=\"key sev-{s}\"></span>{s} ");
    }
    out.push_str("</p>\n");
    if buckets.is_empty() {
        out.push_str("<p class=\"empty\">no dated findings</p>");
    } else {
        let (w, h, left, bottom, top) = (960.0, 240.0, 56.0, 28.0, 10.0);
        let plot_w = w - left - 10.0;
        let plot_h = h - bottom - top;
        let max = buckets
            .iter()
            .map(|(_, c)| c.iter().sum::<u64>())
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let step = plot_w / buckets.len() as f64;
        let _ = writeln!(
            out,
            "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"findings per {unit}\">"
        );
        for frac in [0.0, 0.5, 1.0] {
            let y = top + plot_h * (1.0 - frac);
            let _ = writeln!(
                out,
                "<line class=\"grid\" x1=\"{left}\" x2=\"{x2}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
                 <text class=\"num\" x=\"{tx}\" y=\"{ty:.1}\" text-anchor=\"end\">{v}</text>",
                x2 = w - 10.0,
                tx = left - 6.0,
                ty = y + 4.0,
                v = count((max * frac).round() as u64),
            );
        }
        let label_every = buckets.len().div_ceil(8);
        for (i, (label, counts)) in buckets.iter().enumerate() {
            let x = left + i as f64 * step;
            let bar_w = (step * 0.8).max(0.5);
            let total: u64 = counts.iter().sum();
            let mut title = format!("{label}: {} findings", count(total));
            for s in SEVERITIES.iter().rev() {
                let n = counts[severity_index(*s)];
                if n > 0 {
                    let _ = write!(title, ", {} {s}", count(n));
                }
            }
            let _ = write!(out, "<g><title>{}</title>", escape(&title));
            let mut y = top + plot_h;
            for s in SEVERITIES.iter().rev() {
                let n = counts[severity_index(*s)];
                if n == 0 {
                    continue;
                }
                let bh = n as f64 / max * plot_h;
                y -= bh;
                let _ = write!(
                    out,
                    "<rect class=\"sev-{s}\" x=\"{x:.2}\" y=\"{y:.2}\" width=\"{bar_w:.2}\" height=\"{bh:.2}\"/>"
                );
            }
            out.push_str("</g>");
            if i % label_every == 0 {
                let _ = write!(
                    out,
                    "<text class=\"num\" x=\"{x:.1}\" y=\"{ly}\">{}</text>",
                    escape(label),
                    ly = h - 8.0
                );
            }
            out.push('\n');
        }
        out.push_str("</svg>");
    }
    if undated > 0 {
        let _ = write!(
            out,
            "<p class=\"muted\">{} without a readable date not drawn.</p>",
            findings(undated)
        );
    }
    out.push_str("</section>\n");
}

fn remediation_table(out: &mut String, page: &Collector) {
    out.push_str("<section class=\"card wide\"><h2>What remediation would have done</h2>\n");
    if page.remediations.is_empty() {
        out.push_str("<p class=\"empty\">no finding had a remediation</p></section>\n");
        return;
    }
    out.push_str(
        "<table class=\"plain\"><thead><tr><th>remediation</th><th>runs under this config</th>\
         <th>opt-in (rule in alert mode)</th><th>exempt target (alerted only)</th><th>for example</th>\
         </tr></thead><tbody>\n",
    );
    for (id, c) in &page.remediations {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td><ul>",
            escape(id),
            count(c.runs),
            count(c.opt_in),
            count(c.exempt),
        );
        for e in &c.examples {
            let _ = write!(out, "<li>{}</li>", escape(e));
        }
        out.push_str("</ul></td></tr>\n");
    }
    out.push_str("</tbody></table></section>\n");
}

fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Low => "sev-low",
        Severity::Medium => "sev-medium",
        Severity::High => "sev-high",
        Severity::Critical => "sev-critical",
    }
}

/// The whole page for a replay: its summary and what `page` gathered from
/// the same reports.
pub fn render(summary: &Summary, page: &Collector) -> String {
    let mut body = String::with_capacity(64 * 1024 + page.rows.len() * 320);
    body.push_str("<header><h1>trailguard replay</h1><div class=\"stats\">");
    let mut stat = |label: &str, n: u64, class: &str| {
        let _ = write!(
            body,
            "<div class=\"stat {class}\"><b>{}</b><span>{label}</span></div>",
            count(n)
        );
    };
    stat("findings", summary.findings, "");
    for s in SEVERITIES.iter().rev() {
        let n = summary.by_severity.get(s).copied().unwrap_or(0);
        stat(s.as_str(), n, severity_class(*s));
    }
    stat("events", summary.events, "");
    stat("ignored", summary.ignored, "");
    stat("unreadable", summary.errors, "");
    if summary.digests > 0 {
        stat("digest files skipped", summary.digests, "");
    }
    body.push_str("</div></header>\n<main>\n");

    time_chart(&mut body, page);

    // Every rule that fired: the catalogue bounds them.
    let (rules, rest) = top(summary.by_rule.iter().map(|(r, n)| (*r, *n)), usize::MAX);
    let bars: Vec<Bar> = rules
        .iter()
        .map(|(id, n)| Bar {
            label: id,
            value: *n,
            class: rules::find(id).map_or("sev-low", |r| severity_class(r.severity)),
        })
        .collect();
    ranked_chart(&mut body, "Findings per rule", &bars, rest, "rule");

    let (accounts, rest) = top(
        page.by_account.iter().map(|(a, n)| (a.as_str(), *n)),
        MAX_BARS,
    );
    let bars: Vec<Bar> = accounts
        .iter()
        .map(|(a, n)| Bar {
            label: a,
            value: *n,
            class: "acct",
        })
        .collect();
    ranked_chart(&mut body, "Findings per account", &bars, rest, "account");

    let (actors, rest) = top(
        summary.by_actor.iter().map(|(a, n)| (a.as_str(), *n)),
        MAX_BARS,
    );
    let bars: Vec<Bar> = actors
        .iter()
        .map(|(a, n)| Bar {
            label: a,
            value: *n,
            class: "actor",
        })
        .collect();
    ranked_chart(&mut body, "Top actors", &bars, rest, "actor");

    remediation_table(&mut body, page);

    let shown = page.rows.len() as u64;
    let _ = write!(
        body,
        "<section class=\"card wide\" id=\"findings\"><h2>Findings</h2>\
         <p class=\"muted\" id=\"cap\">{}</p>",
        if shown < page.findings {
            format!(
                "The table holds the first {} of {} findings, in input order; the charts count all of them. \
                 Narrow the replay (--since, --until, --account, --rule) to list the others.",
                count(shown),
                count(page.findings)
            )
        } else {
            format!("All {} findings, in input order.", count(shown))
        }
    );
    body.push_str(
        "<form class=\"filters\" id=\"filters\">\
         <label>rule <select id=\"f-rule\"><option value=\"\">any</option></select></label>\
         <label>severity <select id=\"f-severity\"><option value=\"\">any</option></select></label>\
         <label>account <select id=\"f-account\"><option value=\"\">any</option></select></label>\
         <label>actor <input id=\"f-actor\" type=\"search\" placeholder=\"part of the name\"></label>\
         <button type=\"reset\">clear</button></form>\
         <noscript><p>The table needs JavaScript; the charts above do not.</p></noscript>\
         <table class=\"findings\"><thead><tr><th>time</th><th>severity</th><th>rule</th><th>account</th>\
         <th>region</th><th>actor</th><th>event</th><th>summary</th><th>remediation</th></tr></thead>\
         <tbody id=\"rows\"></tbody></table>\
         <p class=\"pager\"><button id=\"prev\" type=\"button\">previous</button> <span id=\"page\"></span> \
         <button id=\"next\" type=\"button\">next</button></p></section>\n</main>\n",
    );

    // Rows as arrays, in the column order the script reads (SCRIPT: C_*).
    let rows: Vec<_> = page
        .rows
        .iter()
        .map(|r| {
            let e = |s: &str| escape_controls(s).into_owned();
            (
                e(&r.time),
                severity_index_of(&r.severity),
                &r.rule,
                e(&r.account),
                e(&r.region),
                e(&r.actor),
                e(&r.event),
                e(&r.summary),
                e(&r.mode),
                e(&r.remediation),
                &r.outcome,
                e(&r.location),
            )
        })
        .collect();
    let data = json_for_script(&rows);

    let mut html =
        String::with_capacity(body.len() + data.len() + STYLE.len() + SCRIPT.len() + 1024);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         script-src {script}; style-src {style}; img-src 'none'; base-uri 'none'; form-action 'none'\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>trailguard replay: {findings} findings</title><style>{STYLE}</style></head>\n<body>\n",
        script = csp_hash(SCRIPT),
        style = csp_hash(STYLE),
        findings = count(summary.findings),
    );
    html.push_str(&body);
    let _ = write!(
        html,
        "<script type=\"application/json\" id=\"data\">{data}</script>\n<script>{SCRIPT}</script>\n</body></html>\n"
    );
    html
}

const STYLE: &str = r#"
:root{--c:#b91c1c;--h:#ea580c;--m:#ca8a04;--l:#2563eb;--ink:#1f2937;--mut:#6b7280;--line:#e5e7eb}
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);background:#f3f4f6}
header{background:#111827;color:#fff;padding:16px 24px}
h1{margin:0 0 12px;font-size:20px;font-weight:600}
h2{margin:0 0 8px;font-size:15px;font-weight:600}
.stats{display:flex;flex-wrap:wrap;gap:8px}
.stat{background:#1f2937;border-radius:6px;padding:6px 12px;min-width:92px;border-top:3px solid #374151}
.stat b{display:block;font-size:20px}.stat span{font-size:12px;color:#d1d5db}
.stat.sev-critical{border-color:var(--c)}.stat.sev-high{border-color:var(--h)}
.stat.sev-medium{border-color:var(--m)}.stat.sev-low{border-color:var(--l)}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:16px;padding:16px 24px}
.card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:12px 16px;min-width:0}
.wide{grid-column:1/-1}
svg.chart{width:100%;height:auto;font-size:12px}
code{white-space:nowrap}
svg text{fill:var(--ink)}svg .muted{fill:var(--mut)}svg .num{fill:var(--mut)}
.grid{stroke:var(--line)}
rect.sev-critical,.key.sev-critical{fill:var(--c);background:var(--c)}
rect.sev-high,.key.sev-high{fill:var(--h);background:var(--h)}
rect.sev-medium,.key.sev-medium{fill:var(--m);background:var(--m)}
rect.sev-low,.key.sev-low{fill:var(--l);background:var(--l)}
rect.acct{fill:#0d9488}rect.actor{fill:#7c3aed}
g.bar{cursor:pointer}g.bar:hover rect{opacity:.75}
.legend{margin:0 0 4px;color:var(--mut);font-size:12px}
.key{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 8px}
.empty,.muted{color:var(--mut)}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 6px;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600;font-size:12px;color:var(--mut)}
td.n{text-align:right;font-variant-numeric:tabular-nums}
table.plain ul{margin:0;padding-left:16px}
table.findings td{font-size:12px;overflow-wrap:anywhere}
.badge{display:inline-block;border-radius:4px;padding:0 6px;color:#fff;font-size:11px;white-space:nowrap}
.badge.sev-critical{background:var(--c)}.badge.sev-high{background:var(--h)}
.badge.sev-medium{background:var(--m)}.badge.sev-low{background:var(--l)}
.outcome{color:var(--mut)}
.filters{display:flex;flex-wrap:wrap;gap:12px;align-items:center;margin:8px 0}
.filters select,.filters input{font:inherit;padding:2px 4px;max-width:320px}
.pager{display:flex;gap:8px;align-items:center}
"#;

/// The table: filters, paging, and clicks on chart bars. Every value is set
/// as text (`textContent`, `value`), never parsed as HTML.
const SCRIPT: &str = r##"
(function () {
  "use strict";
  var C_TIME = 0, C_SEV = 1, C_RULE = 2, C_ACCOUNT = 3, C_REGION = 4, C_ACTOR = 5,
      C_EVENT = 6, C_SUMMARY = 7, C_MODE = 8, C_REMEDIATION = 9, C_OUTCOME = 10, C_LOCATION = 11;
  var SEVERITIES = ["low", "medium", "high", "critical"];
  var OUTCOMES = { "runs": "runs under this config", "opt-in": "would run in remediate mode",
                   "exempt": "exempt: alerted only" };
  var PAGE = 100;
  var rows = JSON.parse(document.getElementById("data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var rule = $("f-rule"), sev = $("f-severity"), account = $("f-account"), actor = $("f-actor");
  var tbody = $("rows"), pageInfo = $("page"), prev = $("prev"), next = $("next");
  var page = 0, shown = rows;

  function options(select, values, label) {
    values.forEach(function (v) {
      var o = document.createElement("option");
      o.value = String(v);
      o.textContent = label ? label(v) : String(v);
      select.appendChild(o);
    });
  }
  function distinct(col) {
    var seen = {};
    rows.forEach(function (r) { seen[r[col]] = true; });
    return Object.keys(seen).sort();
  }
  options(rule, distinct(C_RULE));
  options(sev, [3, 2, 1, 0], function (i) { return SEVERITIES[i]; });
  options(account, distinct(C_ACCOUNT));

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    if (cls) {
      var span = document.createElement("span");
      span.className = cls;
      span.textContent = text;
      td.appendChild(span);
    } else {
      td.textContent = text;
    }
    tr.appendChild(td);
    return td;
  }
  function draw() {
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(Math.max(page, 0), pages - 1);
    var fragment = document.createDocumentFragment();
    shown.slice(page * PAGE, (page + 1) * PAGE).forEach(function (r) {
      var tr = document.createElement("tr");
      tr.title = r[C_LOCATION];
      cell(tr, r[C_TIME]);
      cell(tr, SEVERITIES[r[C_SEV]], "badge sev-" + SEVERITIES[r[C_SEV]]);
      cell(tr, r[C_RULE]);
      cell(tr, r[C_ACCOUNT]);
      cell(tr, r[C_REGION]);
      cell(tr, r[C_ACTOR]);
      cell(tr, r[C_EVENT]);
      cell(tr, r[C_SUMMARY]);
      var td = cell(tr, r[C_REMEDIATION]);
      if (r[C_OUTCOME]) {
        var why = document.createElement("div");
        why.className = "outcome";
        why.textContent = OUTCOMES[r[C_OUTCOME]] + " (" + r[C_MODE] + " mode)";
        td.appendChild(why);
      }
      fragment.appendChild(tr);
    });
    tbody.replaceChildren(fragment);
    var first = shown.length ? page * PAGE + 1 : 0;
    pageInfo.textContent = first + "\u2013" + Math.min((page + 1) * PAGE, shown.length) +
      " of " + shown.length + (shown.length < rows.length ? " (filtered from " + rows.length + ")" : "");
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }
  function filter() {
    var r = rule.value, s = sev.value, a = account.value, who = actor.value.toLowerCase();
    shown = rows.filter(function (x) {
      return (!r || x[C_RULE] === r) && (!s || String(x[C_SEV]) === s) &&
        (!a || x[C_ACCOUNT] === a) && (!who || x[C_ACTOR].toLowerCase().indexOf(who) >= 0);
    });
    page = 0;
    var p = new URLSearchParams();
    if (r) { p.set("rule", r); }
    if (s) { p.set("severity", SEVERITIES[Number(s)]); }
    if (a) { p.set("account", a); }
    if (who) { p.set("actor", actor.value); }
    history.replaceState(null, "", "#" + p.toString());
    draw();
  }
  [rule, sev, account].forEach(function (el) { el.addEventListener("change", filter); });
  actor.addEventListener("input", filter);
  $("filters").addEventListener("reset", function () { setTimeout(filter, 0); });
  $("filters").addEventListener("submit", function (e) { e.preventDefault(); });
  prev.addEventListener("click", function () { page -= 1; draw(); });
  next.addEventListener("click", function () { page += 1; draw(); });
  Array.prototype.forEach.call(document.querySelectorAll("g.bar"), function (g) {
    g.addEventListener("click", function () {
      var v = g.getAttribute("data-value");
      var f = g.getAttribute("data-filter");
      if (f === "rule") { rule.value = v; }
      if (f === "account") { account.value = v; }
      if (f === "actor") { actor.value = v; }
      filter();
      $("findings").scrollIntoView();
    });
  });
  // Filters come from the address (#rule=...&severity=high&account=...&actor=...)
  // and go back to it, so a filtered view can be bookmarked or shared.
  var params = new URLSearchParams(location.hash.slice(1));
  rule.value = params.get("rule") || "";
  sev.value = params.has("severity") ? String(SEVERITIES.indexOf(params.get("severity"))) : "";
  account.value = params.get("account") || "";
  actor.value = params.get("actor") || "";
  filter();
  document.body.setAttribute("data-rows", String(rows.length));
})();
"##;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::event::input::parse;

    fn reports(text: &str, config: &Config) -> Vec<EventReport> {
        let mut out = Vec::new();
        parse(text.as_bytes(), "t", &mut |l| {
            out.push(EventReport::new(l, config).unwrap())
        });
        out
    }

    fn page_of(reports: &[EventReport]) -> (Summary, Collector) {
        let (mut s, mut c) = (Summary::default(), Collector::default());
        for r in reports {
            s.add(r);
            c.add(r);
        }
        (s, c)
    }

    const HOSTILE: &str = r#"{"eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy",
        "eventTime": "2024-05-01T10:00:00Z", "recipientAccountId": "111122223333", "awsRegion": "us-east-1",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/<script>alert(1)</script>"},
        "requestParameters": {"userName": "<img src=x onerror=alert(2)>", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}}"#;

    #[test]
    fn strings_from_events_are_escaped_in_markup_and_in_the_data() {
        let (s, c) = page_of(&reports(HOSTILE, &Config::default()));
        let html = render(&s, &c);
        assert!(
            !html.contains("<script>alert"),
            "raw script tag in the page"
        );
        assert!(!html.contains("<img"), "raw img tag in the page");
        assert!(html.contains("user/&lt;script&gt;alert(1)&lt;/script&gt;"));
        // In the JSON block, `<` is a \u escape: no `</script>` can close it.
        assert!(html.contains(r"user/\u003cscript\u003ealert(1)\u003c/script\u003e"));
        assert_eq!(html.matches("</script>").count(), 2);
    }

    #[test]
    fn batches_collected_apart_and_merged_make_the_page_of_one_pass() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/events/user-policy-attached.json"
        ))
        .unwrap();
        let mut all = reports(HOSTILE, &Config::default());
        all.extend(reports(&text, &Config::default()));
        all.extend(reports(HOSTILE, &Config::default()));
        let (summary, whole) = page_of(&all);
        // Each batch's collector travels as JSON, as a backtest writes it.
        let (_, first) = page_of(&all[..1]);
        let (_, second) = page_of(&all[1..]);
        let mut merged: Collector =
            serde_json::from_str(&serde_json::to_string(&first).unwrap()).unwrap();
        merged.merge(serde_json::from_str(&serde_json::to_string(&second).unwrap()).unwrap());
        assert_eq!(merged, whole);
        assert_eq!(render(&summary, &merged), render(&summary, &whole));
        assert_eq!(whole.rows.len(), 3);
    }

    #[test]
    fn a_replay_without_findings_says_so() {
        let html = render(&Summary::default(), &Collector::default());
        assert!(html.contains("<p class=\"empty\">no dated findings</p>"));
        assert_eq!(
            html.matches("<p class=\"empty\">no findings</p>").count(),
            3
        );
        assert!(html.contains("no finding had a remediation"));
        assert!(html.contains("All 0 findings, in input order."));
        assert!(html.contains("<script type=\"application/json\" id=\"data\">[]</script>"));
    }

    #[test]
    fn escape_shows_bidi_and_control_characters() {
        assert_eq!(escape("a\u{202e}b<\"'&"), "a\\u{202e}b&lt;&quot;&#39;&amp;");
        assert_eq!(escape("plain"), "plain");
    }

    #[test]
    fn csp_allows_exactly_the_inline_style_and_script() {
        let html = render(&Summary::default(), &Collector::default());
        // sha256 of the empty string, base64 (`openssl dgst -sha256 -binary | base64`).
        assert_eq!(
            csp_hash(""),
            "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
        );
        assert!(html.contains(&format!("script-src {};", csp_hash(SCRIPT))));
        assert!(html.contains(&format!("style-src {};", csp_hash(STYLE))));
        assert!(html.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(html.contains(&format!("<style>{STYLE}</style>")));
        assert!(html.contains("default-src 'none'"));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }

    #[test]
    fn remediation_outcomes_follow_mode_and_exemption() {
        let config = Config::from_toml(
            "[modes]\nuser-policy-attached = \"remediate\"\n[exemptions]\nusers = [\"breakglass-*\"]",
            "test",
            [],
        )
        .unwrap();
        let event = |user: &str| {
            format!(
                r#"{{"eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy", "eventTime": "2024-05-01T10:00:00Z",
                "userIdentity": {{"type": "IAMUser", "arn": "arn:aws:iam::1:user/admin"}},
                "requestParameters": {{"userName": "{user}", "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}}}}"#
            )
        };
        let mut all = reports(&event("alice"), &config);
        all.extend(reports(&event("breakglass-1"), &config));
        all.extend(reports(&event("bob"), &Config::default()));
        let (_, c) = page_of(&all);
        let counts = &c.remediations["move-policy-to-group"];
        assert_eq!((counts.runs, counts.exempt, counts.opt_in), (1, 1, 1));
        assert_eq!(counts.examples.len(), 3);
        let outcomes: Vec<_> = c.rows.iter().map(|r| r.outcome.as_str()).collect();
        assert_eq!(outcomes, ["runs", "exempt", "opt-in"]);
    }

    #[test]
    fn rows_are_capped_in_input_order_and_the_page_says_so() {
        let one = reports(HOSTILE, &Config::default()).remove(0);
        let mut first = Collector::default();
        for _ in 0..MAX_ROWS - 1 {
            first.add(&one);
        }
        let mut second = Collector::default();
        let mut later = one.clone();
        later.location = "second".into();
        second.add(&later);
        second.add(&later);
        first.merge(second);
        assert_eq!(first.rows.len(), MAX_ROWS);
        assert_eq!(first.findings, MAX_ROWS as u64 + 1);
        assert_eq!(first.rows.last().unwrap().location, "second");
        assert_eq!(first.by_account["111122223333"], MAX_ROWS as u64 + 1);
        let html = render(&Summary::default(), &first);
        assert!(html.contains("first 10\u{2009}000 of 10\u{2009}001 findings"));
    }

    #[test]
    fn long_spans_are_drawn_per_month_and_undated_findings_counted() {
        let mut by_day = BTreeMap::new();
        by_day.insert("2022-01-15".to_owned(), [1, 0, 0, 0]);
        by_day.insert("2024-03-02".to_owned(), [0, 0, 2, 1]);
        by_day.insert("garbage".to_owned(), [0, 5, 0, 0]);
        let (unit, buckets, undated) = time_buckets(&by_day);
        assert_eq!((unit, undated), ("month", 5));
        assert_eq!(buckets.len(), 27);
        assert_eq!(buckets[0], ("2022-01".to_owned(), [1, 0, 0, 0]));
        assert_eq!(buckets[26], ("2024-03".to_owned(), [0, 0, 2, 1]));

        by_day.insert("0001-01-01".to_owned(), [1, 0, 0, 0]);
        let (unit, buckets, _) = time_buckets(&by_day);
        assert_eq!((unit, buckets.len()), ("year", 3));
    }

    #[test]
    fn short_spans_show_every_day() {
        let mut by_day = BTreeMap::new();
        by_day.insert("2024-02-28".to_owned(), [1, 0, 0, 0]);
        by_day.insert("2024-03-01".to_owned(), [0, 1, 0, 0]);
        let (unit, buckets, _) = time_buckets(&by_day);
        assert_eq!(unit, "day");
        let days: Vec<_> = buckets.iter().map(|b| b.0.as_str()).collect();
        assert_eq!(days, ["2024-02-28", "2024-02-29", "2024-03-01"]);
    }

    #[test]
    fn long_labels_keep_their_start_and_end() {
        let arn = "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin/alice";
        let short = shorten(arn, 32);
        assert_eq!(short, "arn:aws:sts:…rvedSSO_Admin/alice");
        assert_eq!(short.chars().count(), 32);
        assert_eq!(shorten("root", 32), "root");
    }

    #[test]
    fn ranked_charts_sum_what_they_leave_out() {
        let counts: Vec<(String, u64)> = (0..20).map(|i| (format!("a{i:02}"), i)).collect();
        let (bars, rest) = top(counts.iter().map(|(a, n)| (a.as_str(), *n)), MAX_BARS);
        assert_eq!(bars.len(), MAX_BARS);
        assert_eq!(bars[0], ("a19", 19));
        assert_eq!(rest, Some((5, 1 + 2 + 3 + 4)));
    }
}
