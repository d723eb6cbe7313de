//! Offline replay: events from files and S3 archives through the engine
//! into reports. Never calls AWS but S3 reads.

pub mod batch;
pub mod html;
pub mod merge;
mod s3;
#[cfg(test)]
mod skim_tests;

pub use s3::{Backoff, Objects, S3Source, fetch};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, PoisonError, mpsc};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::engine::{self, Decision, Diagnostic};
use crate::event::input::{self, InputError, Item, Located, Record};
use crate::event::paths::Input;
use crate::event::skim::Skim;
use crate::event::view::RecordView;
use crate::event::{Actor, CloudTrailEvent, IdentityType};
use crate::rules::{self, Severity};

/// What replay says about one input event (one JSON object per event).
#[derive(Debug, Clone, Serialize)]
pub struct EventReport {
    /// Where the event came from: `path#index`.
    pub location: String,
    pub event_id: Option<String>,
    pub event_name: Option<String>,
    pub event_source: Option<String>,
    pub event_time: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub actor: Actor,
    /// Why the whole event was ignored, or null.
    pub ignored: Option<String>,
    pub findings: Vec<Decision>,
    pub diagnostics: Vec<Diagnostic>,
}

impl EventReport {
    /// Evaluates one parsed item; errors are handed back untouched.
    pub fn new(located: Located, config: &Config) -> Result<Self, InputError> {
        Ok(Self::filtered(located, config, &Filter::default())?.expect("no filter drops nothing"))
    }

    /// Like [`EventReport::new`], but `None` for an event the filter drops.
    pub fn filtered(
        located: Located,
        config: &Config,
        filter: &Filter,
    ) -> Result<Option<Self>, InputError> {
        let location = located.location;
        let report = match located.item? {
            Item::CloudTrail { event, envelope } => {
                if !filter.keeps(&event) {
                    return Ok(None);
                }
                let mut eval = engine::evaluate_delivered(&event, envelope.as_ref(), config);
                if !filter.rules.is_empty() {
                    eval.decisions
                        .retain(|d| filter.rules.contains(&d.finding.rule));
                    if eval.decisions.is_empty() {
                        return Ok(None);
                    }
                }
                if filter.explain {
                    let declined = eval
                        .declined
                        .iter()
                        .filter(|d| filter.rules.is_empty() || filter.rules.contains(&d.rule));
                    eval.diagnostics.extend(declined.map(|d| d.diagnostic()));
                }
                // The event is done with: move its strings into the report.
                let mut event = *event;
                let account = event.account_id().map(String::from);
                let region = event
                    .aws_region
                    .take()
                    .or_else(|| envelope.and_then(|e| e.region));
                EventReport {
                    location,
                    event_id: event.event_id.take(),
                    actor: Actor {
                        kind: event.user_identity.kind.take(),
                        arn: event.user_identity.arn.take().filter(|a| !a.is_empty()),
                    },
                    account,
                    event_name: event.event_name.take(),
                    event_source: event.event_source.take(),
                    event_time: event.event_time.take(),
                    region,
                    ignored: eval.ignored,
                    findings: eval.decisions,
                    diagnostics: eval.diagnostics,
                }
            }
            // Not an event: counted by the caller, never reported.
            Item::Digest => return Ok(None),
            // Filters are about CloudTrail events; other events have no findings.
            Item::Other(_) if filter.is_active() => return Ok(None),
            Item::Other(envelope) => EventReport {
                location,
                event_id: envelope.id.clone(),
                event_name: None,
                event_source: envelope.source.clone(),
                event_time: envelope.time.clone(),
                account: envelope.account.clone(),
                region: envelope.region.clone(),
                actor: Actor {
                    kind: None,
                    arn: None,
                },
                ignored: Some(format!(
                    "not a CloudTrail event (detail-type `{}`)",
                    envelope.detail_type.as_deref().unwrap_or("none")
                )),
                findings: Vec::new(),
                diagnostics: Vec::new(),
            },
        };
        Ok(Some(report))
    }
}

/// An [`EventReport`] of a log-file record no rule looks at, borrowed from
/// the record: the same JSON, byte for byte, without building the event.
#[derive(Serialize)]
struct QuietReport<'a> {
    #[serde(serialize_with = "location")]
    location: (&'a str, usize),
    event_id: Option<&'a str>,
    event_name: Option<&'a str>,
    event_source: Option<&'a str>,
    event_time: Option<&'a str>,
    account: Option<&'a str>,
    region: Option<&'a str>,
    actor: QuietActor<'a>,
    ignored: Option<&'a str>,
    findings: &'a [Decision],
    diagnostics: &'a [Diagnostic],
}

/// [`Actor`], borrowed.
#[derive(Serialize)]
struct QuietActor<'a> {
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    arn: Option<&'a str>,
}

impl<'a> QuietReport<'a> {
    fn new(
        origin: &'a str,
        index: usize,
        view: &'a RecordView<'a>,
        ignored: Option<&'a str>,
    ) -> Self {
        QuietReport {
            location: (origin, index),
            event_id: view.event_id.as_deref(),
            event_name: view.event_name.as_deref(),
            event_source: view.event_source.as_deref(),
            event_time: view.event_time.as_deref(),
            account: view.account_id(),
            region: view.aws_region.as_deref(),
            actor: QuietActor {
                kind: view.identity_type(),
                arn: view.user_identity.arn.as_deref().filter(|a| !a.is_empty()),
            },
            ignored,
            findings: &[],
            diagnostics: &[],
        }
    }
}

/// `origin#index`, written straight into the output.
fn location<S: serde::Serializer>(at: &(&str, usize), s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&format_args!("{}#{}", at.0, at.1))
}

/// Writes [`QuietReport`]'s JSON line exactly as serde_json does, without
/// its serializer: the origin is escaped once per input, and a string that
/// needs no escape (every string of a record, but those with an escape in
/// the log file) is copied as it is. Most of the JSON format's lines are
/// these.
#[derive(Default)]
struct QuietLines {
    /// The input `prefix` was made for.
    origin: String,
    /// `{"location":"<origin, escaped>#`.
    prefix: Vec<u8>,
}

impl QuietLines {
    fn write(&mut self, out: &mut Vec<u8>, report: &QuietReport<'_>) {
        let (origin, index) = report.location;
        if self.origin != origin || self.prefix.is_empty() {
            self.origin = origin.to_owned();
            self.prefix.clear();
            self.prefix.extend_from_slice(br#"{"location":"#);
            json_string(&mut self.prefix, origin);
            self.prefix.pop(); // the closing quote
            self.prefix.push(b'#');
        }
        out.extend_from_slice(&self.prefix);
        out.extend_from_slice(itoa::Buffer::new().format(index).as_bytes());
        out.push(b'"');
        for (key, value) in [
            (&br#","event_id":"#[..], report.event_id),
            (br#","event_name":"#, report.event_name),
            (br#","event_source":"#, report.event_source),
            (br#","event_time":"#, report.event_time),
            (br#","account":"#, report.account),
            (br#","region":"#, report.region),
            (br#","actor":{"type":"#, report.actor.kind),
            (br#","arn":"#, report.actor.arn),
            (br#"},"ignored":"#, report.ignored),
        ] {
            out.extend_from_slice(key);
            match value {
                Some(text) => json_string(out, text),
                None => out.extend_from_slice(b"null"),
            }
        }
        debug_assert!(report.findings.is_empty() && report.diagnostics.is_empty());
        out.extend_from_slice(br#","findings":[],"diagnostics":[]}"#);
        out.push(b'\n');
    }
}

/// A JSON string as serde_json writes it: copied between quotes when it
/// holds no `"`, `\\` or control character, escaped by serde_json otherwise.
fn json_string(out: &mut Vec<u8>, text: &str) {
    if !needs_escape(text.as_bytes()) {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, text).expect("a string serializes to memory");
    }
}

/// Does `bytes` hold a `"`, a `\\` or a control character? Eight bytes at
/// a time (serde_json scans strings the same way): the byte-by-byte check
/// was 4% of a JSON replay's instructions.
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // A byte of `x` is zero, or below 0x20: its high bit set in the answer.
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let has_below_space = |x: u64| x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    let (words, rest) = bytes.as_chunks::<8>();
    words.iter().any(|word| {
        let x = u64::from_ne_bytes(*word);
        has_below_space(x)
            | has_zero(x ^ (ONES * u64::from(b'"')))
            | has_zero(x ^ (ONES * u64::from(b'\\')))
            != 0
    }) || rest.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Which events and findings a replay keeps.
#[derive(Debug, Default, Clone)]
pub struct Filter {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    /// Keep only findings of these rules (and only events that have one).
    pub rules: Vec<&'static str>,
    /// Keep, among the diagnostics, the rules that looked at an event and
    /// declined it, with why (`declined: ...`).
    pub explain: bool,
}

impl Filter {
    pub fn is_active(&self) -> bool {
        self.since.is_some()
            || self.until.is_some()
            || !self.accounts.is_empty()
            || !self.regions.is_empty()
            || !self.rules.is_empty()
    }

    /// Does the event pass the time, account and region filters? An event
    /// without the field a filter looks at does not.
    pub fn keeps(&self, event: &CloudTrailEvent) -> bool {
        self.keeps_fields(
            event.account_id(),
            event.aws_region.as_deref(),
            event.event_time.as_deref(),
        )
    }

    /// [`Filter::keeps`] on the fields it reads: the event's account,
    /// `awsRegion` and `eventTime`.
    pub fn keeps_fields(
        &self,
        account: Option<&str>,
        region: Option<&str>,
        time: Option<&str>,
    ) -> bool {
        if !self.accounts.is_empty()
            && !account.is_some_and(|a| self.accounts.iter().any(|x| x == a))
        {
            return false;
        }
        if !self.regions.is_empty() && !region.is_some_and(|r| self.regions.iter().any(|x| x == r))
        {
            return false;
        }
        if self.since.is_none() && self.until.is_none() {
            return true;
        }
        let Some(time) = time.and_then(|t| DateTime::parse_from_rfc3339(t).ok()) else {
            return false;
        };
        let time = time.with_timezone(&Utc);
        self.since.is_none_or(|s| time >= s) && self.until.is_none_or(|u| time < u)
    }
}

/// Parses a `--since`/`--until` bound: an RFC 3339 date-time, or a date
/// meaning its midnight UTC.
pub fn parse_time_bound(text: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc())
        .map_err(|_| format!("`{text}` is neither a date (2024-05-01) nor an RFC 3339 time"))
}

/// Counts over a whole replay.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Summary {
    /// Uncompressed bytes of JSON read.
    pub bytes: u64,
    pub events: u64,
    pub ignored: u64,
    pub errors: u64,
    pub findings: u64,
    /// CloudTrail digest files skipped (by key layout or content).
    pub digests: u64,
    pub by_rule: BTreeMap<&'static str, u64>,
    pub by_severity: BTreeMap<Severity, u64>,
    pub by_actor: BTreeMap<String, u64>,
    pub by_day: BTreeMap<String, u64>,
}

impl Summary {
    pub fn add(&mut self, report: &EventReport) {
        self.events += 1;
        if report.ignored.is_some() {
            self.ignored += 1;
        }
        for d in &report.findings {
            self.findings += 1;
            *self.by_rule.entry(d.finding.rule).or_default() += 1;
            *self.by_severity.entry(d.finding.severity).or_default() += 1;
            let actor = report.actor.arn.clone().unwrap_or_else(|| {
                report
                    .actor
                    .kind
                    .as_ref()
                    .map_or_else(|| "unknown".into(), |k| k.as_str().to_owned())
            });
            *self.by_actor.entry(actor).or_default() += 1;
            let day = report
                .event_time
                .as_deref()
                .and_then(|t| t.get(..10))
                .unwrap_or("unknown");
            *self.by_day.entry(day.to_owned()).or_default() += 1;
        }
    }

    pub fn merge(&mut self, other: Summary) {
        self.bytes += other.bytes;
        self.events += other.events;
        self.ignored += other.ignored;
        self.errors += other.errors;
        self.findings += other.findings;
        self.digests += other.digests;
        for (k, v) in other.by_rule {
            *self.by_rule.entry(k).or_default() += v;
        }
        for (k, v) in other.by_severity {
            *self.by_severity.entry(k).or_default() += v;
        }
        for (k, v) in other.by_actor {
            *self.by_actor.entry(k).or_default() += v;
        }
        for (k, v) in other.by_day {
            *self.by_day.entry(k).or_default() += v;
        }
    }

    /// The actors with the most findings, most first (ties by name).
    pub fn top_actors(&self, n: usize) -> Vec<(&str, u64)> {
        let mut actors: Vec<_> = self
            .by_actor
            .iter()
            .map(|(a, c)| (a.as_str(), *c))
            .collect();
        actors.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        actors.truncate(n);
        actors
    }

    /// The counts for a terminal; actor names and days come from events, so
    /// their control characters are escaped.
    pub fn render_text(&self) -> String {
        use crate::alert::text::escape_controls as safe;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} events, {} findings, {} ignored, {} unreadable",
            self.events, self.findings, self.ignored, self.errors
        );
        if self.digests > 0 {
            let _ = writeln!(
                s,
                "CloudTrail digest files skipped: {} (log file validation, no events)",
                self.digests
            );
        }
        if !self.by_severity.is_empty() {
            let _ = writeln!(s, "\nfindings by severity:");
            for (sev, n) in self.by_severity.iter().rev() {
                let _ = writeln!(s, "  {:<9} {n:>8}", sev.as_str());
            }
        }
        if !self.by_rule.is_empty() {
            let _ = writeln!(s, "\nfindings by rule:");
            for (rule, n) in &self.by_rule {
                let _ = writeln!(s, "  {rule:<27} {n:>8}");
            }
        }
        if !self.by_actor.is_empty() {
            let _ = writeln!(s, "\ntop actors:");
            for (actor, n) in self.top_actors(10) {
                let _ = writeln!(s, "  {n:>8}  {}", safe(actor));
            }
        }
        if self.by_day.len() > 1 {
            let _ = writeln!(s, "\nfindings by day:");
            for (day, n) in &self.by_day {
                let _ = writeln!(s, "  {}  {n:>8}", safe(day));
            }
        }
        s
    }
}

/// A readable block for one event with findings; empty when it has none.
/// Every string from the event (and the input's name) has its control
/// characters escaped: replayed archives must not drive the terminal.
pub fn render_event_text(report: &EventReport, explain: bool) -> String {
    use crate::alert::text::escape_controls as safe;
    let mut s = String::new();
    let explained = explain && !report.diagnostics.is_empty();
    if report.findings.is_empty() && !explained {
        return s;
    }
    let _ = writeln!(
        s,
        "{}  {} {}  by {}",
        safe(&report.location),
        safe(report.event_source.as_deref().unwrap_or("?")),
        safe(report.event_name.as_deref().unwrap_or("?")),
        safe(
            report
                .actor
                .arn
                .as_deref()
                .or(report.actor.kind.as_ref().map(IdentityType::as_str))
                .unwrap_or("unknown caller")
        ),
    );
    for d in &report.findings {
        let f = &d.finding;
        let _ = writeln!(
            s,
            "  {:<8} {:<26} [{}] {}",
            f.severity.as_str().to_uppercase(),
            f.rule,
            d.mode.as_str(),
            safe(&f.summary)
        );
        if let Some(action) = &f.remediation {
            let verb = if d.remediates() { "will" } else { "would" };
            let _ = writeln!(
                s,
                "           remediation {} ({verb}): {}",
                action.id(),
                safe(&action.describe())
            );
        }
        if let Some(why) = &d.exempt {
            let _ = writeln!(s, "           exempt: {}", safe(why));
        }
    }
    if explain {
        for d in &report.diagnostics {
            let _ = writeln!(s, "  {:<8} {:<26} {}", "NOTE", d.rule, safe(&d.note));
        }
    }
    s
}

/// What a replay prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Events with findings, then the summary.
    Text,
    /// One JSON object per event, in input order.
    Json,
    /// Only the summary.
    Summary,
    /// One self-contained HTML page: charts and the findings table.
    Html,
}

/// How a replay runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// Files processed at once (1 = sequential on the calling thread).
    pub jobs: usize,
    pub format: OutputFormat,
    pub filter: Filter,
    /// Show a progress bar on stderr (only drawn on a terminal).
    pub progress: bool,
    /// The most bytes one input may hold once decompressed.
    pub max_input_bytes: u64,
}

/// The output and counts of one input, kept until its turn to be written.
#[derive(Default)]
struct Chunk {
    output: Vec<u8>,
    summary: Summary,
    errors: Vec<InputError>,
    bytes: u64,
    /// Bytes as stored (compressed), for the progress bar.
    stored: u64,
    /// An input read (not a digest, not an error in its place).
    object: bool,
    page: html::Collector,
}

impl Chunk {
    fn failed(e: InputError) -> Self {
        Chunk {
            errors: vec![e],
            ..Chunk::default()
        }
    }
}

/// What reading one input came to, besides its items.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReadStats {
    /// Uncompressed bytes read.
    pub bytes: u64,
    /// CloudTrail digest files skipped (by key layout or content).
    pub digests: u64,
}

/// Bytes of an input as stored (compressed), when known: for progress.
fn stored_size(input: &Input) -> u64 {
    match input {
        Input::File(path) => std::fs::metadata(path).map_or(0, |m| m.len()),
        Input::S3 { size, .. } => *size,
        Input::Stdin | Input::Digest(_) => 0,
    }
}

/// Reads one input (a file, stdin, an S3 object through `s3`) into `buf`
/// and hands each of its items, digests set aside, to `each`: the one
/// reader every use of the archives shares.
pub fn read_input(
    input: &Input,
    s3: Option<&S3Source<'_>>,
    buf: &mut Vec<u8>,
    max_input_bytes: u64,
    each: &mut dyn FnMut(Located),
) -> Result<ReadStats, InputError> {
    read_records(input, s3, buf, max_input_bytes, None, &mut |record| {
        each(record.into_located())
    })
}

/// [`read_input`], handing on log-file records borrowed from `buf`
/// ([`Record::View`]), and with a `skim`, those it finds nothing in unread
/// ([`Record::Inert`]).
pub fn read_records(
    input: &Input,
    s3: Option<&S3Source<'_>>,
    buf: &mut Vec<u8>,
    max_input_bytes: u64,
    skim: Option<&Skim>,
    each: &mut dyn FnMut(Record<'_>),
) -> Result<ReadStats, InputError> {
    let mut stats = ReadStats::default();
    match input {
        Input::File(path) => input::read_file(path, buf, max_input_bytes)?,
        Input::Stdin => input::read_capped(io::stdin().lock(), 0, "-", buf, max_input_bytes)?,
        Input::Digest(_) => {
            stats.digests += 1;
            return Ok(stats);
        }
        Input::S3 { bucket, key, size } => match s3 {
            Some(source) => s3::fetch(source, bucket, key, *size, buf, max_input_bytes)?,
            None => {
                return Err(InputError::Read {
                    path: input.name(),
                    source: io::Error::other("no S3 client to read it with"),
                });
            }
        },
    }
    stats.bytes = buf.len() as u64;
    input::parse_records(buf, &input.name(), skim, &mut |record| {
        if let Record::Located(Located {
            item: Ok(Item::Digest),
            ..
        }) = record
        {
            stats.digests += 1;
        } else {
            each(record);
        }
    });
    Ok(stats)
}

/// Processes one input into a [`Chunk`] whose output is written into
/// `output` (cleared first): a buffer an earlier input's output filled.
fn process_input(
    input: &Input,
    config: &Config,
    opts: &Options,
    skim: Option<&Skim>,
    s3: Option<&S3Source<'_>>,
    buf: &mut Vec<u8>,
    mut output: Vec<u8>,
) -> Chunk {
    output.clear();
    let mut chunk = Chunk {
        output,
        stored: stored_size(input),
        object: !matches!(input, Input::Digest(_)),
        ..Chunk::default()
    };
    let (summary, output, errors, page) = (
        &mut chunk.summary,
        &mut chunk.output,
        &mut chunk.errors,
        &mut chunk.page,
    );
    let mut quiet = QuietLines::default();
    let mut each = |record: Record<'_>| {
        let located = match record {
            Record::Inert { .. } => {
                // What a quiet record with no error comes to, as below;
                // there is a skim only when no filter reads its fields.
                if opts.filter.rules.is_empty() {
                    summary.events += 1;
                }
                return;
            }
            Record::View {
                origin,
                index,
                view,
            } => {
                if !opts.filter.keeps_fields(
                    view.account_id(),
                    view.aws_region.as_deref(),
                    view.event_time.as_deref(),
                ) {
                    return;
                }
                match engine::verdict_without_rules(view, config) {
                    Some(ignored) => {
                        // No rule looks at it: no finding, no diagnostic,
                        // so only the counts and the JSON line tell of it.
                        if !opts.filter.rules.is_empty() {
                            return;
                        }
                        summary.events += 1;
                        summary.ignored += u64::from(ignored.is_some());
                        if opts.format == OutputFormat::Json {
                            let report = QuietReport::new(origin, index, view, ignored.as_deref());
                            quiet.write(output, &report);
                        }
                        return;
                    }
                    None => Record::View {
                        origin,
                        index,
                        view,
                    }
                    .into_located(),
                }
            }
            Record::Located(located) => located,
        };
        match EventReport::filtered(located, config, &opts.filter) {
            Ok(Some(report)) => {
                summary.add(&report);
                match opts.format {
                    OutputFormat::Json => {
                        serde_json::to_writer(&mut *output, &report)
                            .expect("reports serialize to memory");
                        output.push(b'\n');
                    }
                    OutputFormat::Text => output.extend_from_slice(
                        render_event_text(&report, opts.filter.explain).as_bytes(),
                    ),
                    OutputFormat::Html => page.add(&report),
                    OutputFormat::Summary => {}
                }
            }
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    };
    match read_records(input, s3, buf, opts.max_input_bytes, skim, &mut each) {
        Ok(stats) => {
            chunk.bytes = stats.bytes;
            chunk.summary.digests += stats.digests;
        }
        Err(e) => chunk.errors.push(e),
    }
    chunk
}

/// How many finished inputs per job may wait for their turn to be written.
pub const WINDOW_PER_JOB: usize = 16;

/// The bytes replay's workers may hold at once, in inputs being read and in
/// finished outputs waiting for their turn, whatever `--jobs` says: the
/// input next in line is always read, so one input larger than this is
/// still read, alone.
pub const MEMORY_BUDGET: u64 = 32 << 20;

/// Workers per core at most, whatever `--jobs` asks: four keep S3 reads
/// busy while objects wait on the network, and each more thread would only
/// add its own stack and malloc arena.
pub const MAX_JOBS_PER_CORE: usize = 4;

/// A worker keeps its read buffer between inputs only up to this size, and
/// up to its share of the budget; a larger one is given back, so idle
/// workers do not each hold the largest input they have seen.
const KEPT_BUFFER: usize = 8 << 20;

/// The writer hands written output buffers back for the next inputs, up to
/// this many bytes of them in all; each at most [`KEPT_OUTPUT`].
const KEPT_OUTPUTS: usize = 4 << 20;

/// The largest output buffer handed back; a larger one is freed.
const KEPT_OUTPUT: usize = 4 << 20;

/// Output buffers written and waiting to be filled again. The JSON format
/// writes a line per record, about 200 kB per log file: in fresh buffers,
/// every page was a page fault on first touch, and every doubling a copy,
/// 89% of that format's page faults (`perf record -e page-faults`).
#[derive(Default)]
struct Outputs(Mutex<Kept>);

/// The buffers [`Outputs`] holds, and their capacity in all.
#[derive(Default)]
struct Kept {
    buffers: Vec<Vec<u8>>,
    bytes: usize,
}

impl Outputs {
    /// A buffer handed back, or a new one.
    fn take(&self) -> Vec<u8> {
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let buf = kept.buffers.pop().unwrap_or_default();
        kept.bytes -= buf.capacity();
        buf
    }

    /// Keeps `buf` for a later input if it is not too large and the kept
    /// buffers stay within [`KEPT_OUTPUTS`]; frees it otherwise.
    fn give_back(&self, mut buf: Vec<u8>) {
        let capacity = buf.capacity();
        if capacity == 0 || capacity > KEPT_OUTPUT {
            return;
        }
        let mut kept = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.bytes + capacity <= KEPT_OUTPUTS {
            buf.clear();
            kept.bytes += capacity;
            kept.buffers.push(buf);
        }
    }
}

/// CloudTrail's gzipped JSON holds about ten times its stored size once
/// decompressed (6.7 for the benchmark's archive): the estimate a worker
/// reserves before reading a `.gz` input.
pub const GZIP_RATIO: u64 = 10;

/// What [`fan_out_within`] may hold in memory, and how it weighs inputs
/// and results.
pub struct Memory<'a, T, C> {
    /// Bytes of inputs being read plus results waiting to be delivered.
    pub budget: u64,
    /// The bytes an input will take while it is read, estimated before.
    pub estimate: &'a (dyn Fn(&T) -> u64 + Sync),
    /// The bytes a result holds until it is delivered.
    pub weight: &'a (dyn Fn(&C) -> u64 + Sync),
}

/// The bytes an input is expected to take once read: its stored size,
/// times [`GZIP_RATIO`] plus itself when it is gzipped.
pub fn estimated_size(input: &Input) -> u64 {
    let stored = stored_size(input);
    if input.name().ends_with(".gz") {
        // The compressed bytes are held whole beside what they inflate to.
        stored.saturating_mul(GZIP_RATIO + 1)
    } else {
        stored
    }
}

/// What the workers and the writer of [`fan_out_within`] share.
struct Turn {
    /// Results delivered so far: the index of the next one to deliver.
    written: usize,
    /// Bytes reserved by workers reading and held by waiting results.
    held: u64,
    /// The input whose turn it is to reserve: inputs reserve in order, so a
    /// later one cannot take the room an earlier one waits for.
    reserving: usize,
}

/// Processes `inputs` `jobs` at a time (at most [`MAX_JOBS_PER_CORE`] per
/// core) and hands each result to `deliver` in input order, whatever the
/// order of completion. At most
/// `WINDOW_PER_JOB * jobs` finished inputs wait for their turn, and with
/// `memory` a worker starts an input only while the bytes held stay within
/// the budget, or when that input is the next to deliver (so one always
/// goes on). The inputs may be listed as they are needed (an S3 listing):
/// the next one is taken under a lock, so numbers follow input order. An
/// error from `deliver` stops the workers and is returned.
pub fn fan_out_within<T: Send, C: Send>(
    inputs: impl Iterator<Item = T> + Send,
    jobs: usize,
    memory: Option<&Memory<'_, T, C>>,
    process: &(dyn Fn(T, &mut Vec<u8>) -> C + Sync),
    deliver: &mut dyn FnMut(C) -> io::Result<()>,
) -> io::Result<()> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = jobs.min(MAX_JOBS_PER_CORE * cores);
    let kept = memory.map_or(KEPT_BUFFER, |m| {
        KEPT_BUFFER.min(usize::try_from(m.budget / jobs.max(1) as u64).unwrap_or(usize::MAX))
    });
    let give_back = |buf: &mut Vec<u8>| {
        if buf.capacity() > kept {
            *buf = Vec::new();
        }
    };
    if jobs <= 1 {
        let mut buf = Vec::new();
        for item in inputs {
            let chunk = process(item, &mut buf);
            give_back(&mut buf);
            deliver(chunk)?;
        }
        return Ok(());
    }

    // CloudTrail files vary a hundredfold in size: a narrow window leaves
    // workers idle behind one large file.
    let window = WINDOW_PER_JOB * jobs;
    let budget = memory.map_or(u64::MAX, |m| m.budget);
    let estimate = |item: &T| memory.map_or(0, |m| (m.estimate)(item).min(budget));
    let weight = |chunk: &C| memory.map_or(0, |m| (m.weight)(chunk));
    let next = Mutex::new((0usize, inputs));
    let stop = AtomicBool::new(false);
    let shared = Mutex::new(Turn {
        written: 0,
        held: 0,
        reserving: 0,
    });
    let turn = Condvar::new();
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::channel::<(usize, C, u64)>();
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, stop, shared, turn) = (&next, &stop, &shared, &turn);
            let (estimate, weight) = (&estimate, &weight);
            scope.spawn(move || {
                // A panic in `process` stops the others, which would
                // otherwise wait for its turn forever; the scope then
                // passes the panic on.
                let _halt = HaltOnPanic(stop, shared, turn);
                let mut buf = Vec::new();
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let (i, item) = {
                        let mut next = next.lock().expect("no worker panics holding it");
                        let Some(item) = next.1.next() else { return };
                        next.0 += 1;
                        (next.0 - 1, item)
                    };
                    let reserved = estimate(&item);
                    // Bound memory: do not run further ahead of the writer,
                    // nor past the budget, unless this input is next to be
                    // written (then all before it are, so nothing else is
                    // held: an input larger than the budget goes alone).
                    let mut s = shared.lock().expect("writer never panics holding it");
                    while (i != s.reserving
                        || (i != s.written
                            && (i >= s.written + window
                                || s.held.saturating_add(reserved) > budget)))
                        && !stop.load(Ordering::Relaxed)
                    {
                        s = turn.wait(s).expect("writer never panics holding it");
                    }
                    s.held += reserved;
                    s.reserving += 1;
                    drop(s);
                    turn.notify_all();
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let chunk = process(item, &mut buf);
                    give_back(&mut buf);
                    let held = weight(&chunk);
                    {
                        let mut s = shared.lock().expect("writer never panics holding it");
                        s.held = s.held - reserved + held;
                    }
                    turn.notify_all();
                    if tx.send((i, chunk, held)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut pending = BTreeMap::new();
        let mut done = 0usize;
        for (i, chunk, held) in rx {
            pending.insert(i, (chunk, held));
            while let Some((chunk, held)) = pending.remove(&done) {
                if let Err(e) = deliver(chunk) {
                    halt(&stop, &shared, &turn);
                    return Err(e);
                }
                done += 1;
                {
                    let mut s = shared.lock().expect("workers never panic holding it");
                    s.written = done;
                    s.held -= held;
                }
                turn.notify_all();
            }
        }
        Ok(())
    })
}

/// Tells [`fan_out_within`]'s workers to stop. The flag is set under the
/// lock they wait with, so that none can check it, miss it, and then wait
/// for a wake-up that has already been sent.
fn halt(stop: &AtomicBool, shared: &Mutex<Turn>, turn: &Condvar) {
    {
        let _s = shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        stop.store(true, Ordering::Relaxed);
    }
    turn.notify_all();
}

/// Halts the workers when the worker holding it unwinds.
struct HaltOnPanic<'a>(&'a AtomicBool, &'a Mutex<Turn>, &'a Condvar);

impl Drop for HaltOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            halt(self.0, self.1, self.2);
        }
    }
}

/// Replays `inputs` in order: reports go to `out`, each unreadable input to
/// `on_error`, and the summary is returned. Files are processed `jobs` at a
/// time through [`fan_out_within`], within [`MEMORY_BUDGET`]; output order
/// is input order. The HTML format writes its page to `out` once all is
/// read.
pub fn run(
    inputs: &[Input],
    config: &Config,
    opts: &Options,
    out: &mut dyn Write,
    on_error: &mut dyn FnMut(&InputError),
) -> io::Result<Summary> {
    let total: u64 = inputs.iter().map(stored_size).sum();
    let inputs = inputs.iter().cloned().map(Ok);
    run_stream(inputs, Some(total), None, config, opts, out, on_error)
}

/// Like [`run`], over inputs that are listed as they are needed (an S3
/// listing): an `Err` item is reported in its place. `total` is the stored
/// size of them all, when known beforehand; `s3` reads the `s3://` inputs.
pub fn run_stream(
    inputs: impl Iterator<Item = Result<Input, InputError>> + Send,
    total: Option<u64>,
    s3: Option<&S3Source<'_>>,
    config: &Config,
    opts: &Options,
    out: &mut dyn Write,
    on_error: &mut dyn FnMut(&InputError),
) -> io::Result<Summary> {
    let bar = progress_bar(opts.progress, total);
    let mut summary = Summary::default();
    let mut page = html::Collector::default();
    let mut objects = 0u64;
    let outputs = Outputs::default();
    let mut write = |chunk: Chunk| -> io::Result<()> {
        for e in &chunk.errors {
            bar.suspend(|| on_error(e));
        }
        summary.errors += chunk.errors.len() as u64;
        summary.bytes += chunk.bytes;
        summary.merge(chunk.summary);
        page.merge(chunk.page);
        out.write_all(&chunk.output)?;
        outputs.give_back(chunk.output);
        objects += u64::from(chunk.object);
        bar.inc(chunk.stored);
        bar.set_message(format!(
            "{objects} objects, {} read, {} findings",
            indicatif::HumanBytes(summary.bytes),
            summary.findings
        ));
        Ok(())
    };
    let skim = skim_for(config, opts);
    let process = |item: Result<Input, InputError>, buf: &mut Vec<u8>| match item {
        Ok(input) => process_input(&input, config, opts, skim.as_ref(), s3, buf, outputs.take()),
        Err(e) => Chunk::failed(e),
    };
    let estimate = |item: &Result<Input, InputError>| item.as_ref().map_or(0, estimated_size);
    let weight = |chunk: &Chunk| chunk.output.capacity() as u64;
    let memory = Memory {
        budget: MEMORY_BUDGET,
        estimate: &estimate,
        weight: &weight,
    };
    let result = fan_out_within(inputs, opts.jobs, Some(&memory), &process, &mut write);
    bar.finish_and_clear();
    result?;
    if opts.format == OutputFormat::Html {
        out.write_all(html::render(&summary, &page).as_bytes())?;
    }
    Ok(summary)
}

/// The skim replay reads log files with, when what it writes needs no
/// field of a record that no rule, self check or failed-call count looks
/// at: not for the JSON format (a line per record) nor for filters on a
/// record's time, account or region.
pub fn skim_for(config: &Config, opts: &Options) -> Option<Skim> {
    let f = &opts.filter;
    let reads_fields =
        f.since.is_some() || f.until.is_some() || !f.accounts.is_empty() || !f.regions.is_empty();
    if opts.format == OutputFormat::Json || reads_fields {
        return None;
    }
    // `ConsoleLogin` is always evaluated ([`engine::verdict_without_rules`]).
    let names = rules::triggers().names().chain(["ConsoleLogin"]);
    Some(Skim::new(names, engine::own_role_names(config)))
}

/// A bar over the stored bytes when their total is known (local files),
/// else counts alone; hidden unless asked for.
fn progress_bar(shown: bool, total: Option<u64>) -> indicatif::ProgressBar {
    if !shown {
        return indicatif::ProgressBar::hidden();
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(total, indicatif::ProgressDrawTarget::stderr());
    let template = if total.is_some() {
        "{elapsed_precise} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} {msg}"
    } else {
        "{elapsed_precise} {bytes} fetched, {bytes_per_sec} {msg}"
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(template)
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::input::parse;
    use crate::event::paths::expand;
    use std::path::PathBuf;

    /// Every byte value at every place of strings up to 17 bytes long
    /// (two words and a remainder), against the byte-by-byte definition.
    #[test]
    fn needs_escape_finds_every_byte_that_needs_one() {
        let slow = |bytes: &[u8]| bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        for len in 0..=17 {
            assert!(!needs_escape(&vec![b'a'; len]));
            for at in 0..len {
                for byte in 0..=u8::MAX {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = byte;
                    assert_eq!(needs_escape(&bytes), slow(&bytes), "{bytes:?}");
                    // Next to bytes that borrow in the subtraction.
                    bytes.fill(0xff);
                    bytes[at] = byte;
                    assert_eq!(needs_escape(&bytes), slow(&bytes), "{bytes:?}");
                }
            }
        }
    }

    proptest::proptest! {
        /// Any bytes, several that need an escape among them or none.
        #[test]
        fn needs_escape_agrees_with_the_byte_by_byte_check(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    4 => 0x20u8..=0x7e,
                    1 => 0x80u8..=0xff,
                    1 => 0u8..0x20,
                    // Either side of each boundary the check draws.
                    2 => proptest::sample::select(
                        &[0x1f_u8, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7f, 0x80][..]
                    ),
                ],
                0..64,
            )
        ) {
            let slow = bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
            proptest::prop_assert_eq!(needs_escape(&bytes), slow);
        }
    }

    /// The quiet lines are serde_json's, byte for byte: every record of the
    /// corpus and the samples, and strings that need escaping in each
    /// field, under origins that need it too.
    #[test]
    fn quiet_lines_are_what_serde_json_writes() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut records = Vec::new();
        for dir in ["tests/corpus", "events"] {
            for entry in walkdir::WalkDir::new(root.join(dir)) {
                let path = entry.unwrap().into_path();
                let Ok(value) = serde_json::from_slice::<serde_json::Value>(
                    &std::fs::read(&path).unwrap_or_default(),
                ) else {
                    continue;
                };
                match (value.get("Records"), value.get("detail")) {
                    (Some(serde_json::Value::Array(all)), _) => records.extend(all.iter().cloned()),
                    (_, Some(detail)) => records.push(detail.clone()),
                    _ => records.push(value),
                }
            }
        }
        assert!(records.len() > 100, "{}", records.len());
        let odd = "a\"b\\c\n\u{1}d é \u{7f} \u{2028}</x>";
        for field in [
            "eventID",
            "eventName",
            "eventSource",
            "eventTime",
            "awsRegion",
            "recipientAccountId",
        ] {
            let mut r = records[0].clone();
            r[field] = odd.into();
            records.push(r);
        }
        let mut r = records[0].clone();
        r["userIdentity"] = serde_json::json!({"type": odd, "arn": odd});
        records.push(r);
        records.push(serde_json::json!({}));
        let mut quiet = QuietLines::default();
        let mut checked = 0;
        for (i, record) in records.iter().enumerate() {
            let text = record.to_string();
            let Ok(view) = serde_json::from_str::<RecordView>(&text) else {
                continue;
            };
            for origin in [
                "s3://b/AWSLogs/1/x.json.gz",
                "a \"quoted\" \\ path\t.json",
                "a \"quoted\" \\ path\t.json",
            ] {
                for ignored in [None, Some("failed call (AccessDenied)"), Some(odd)] {
                    let report = QuietReport::new(origin, i, &view, ignored);
                    let mut expected = serde_json::to_vec(&report).unwrap();
                    expected.push(b'\n');
                    let mut got = Vec::new();
                    quiet.write(&mut got, &report);
                    assert_eq!(
                        String::from_utf8(got).unwrap(),
                        String::from_utf8(expected).unwrap()
                    );
                    checked += 1;
                }
            }
        }
        assert!(checked > 900, "{checked}");
    }

    /// Runs `fan_out_within` over items of the given estimated sizes, each
    /// held a moment so that workers overlap, and returns the delivery
    /// order and the most bytes ever being read at once.
    fn bounded_run(sizes: &[u64], jobs: usize, budget: u64) -> (Vec<usize>, u64) {
        use std::sync::atomic::AtomicU64;
        let (reading, most) = (AtomicU64::new(0), AtomicU64::new(0));
        let estimate = |&(_, size): &(usize, u64)| size;
        let weight = |_: &usize| 0;
        let memory = Memory {
            budget,
            estimate: &estimate,
            weight: &weight,
        };
        let process = |(i, size): (usize, u64), _: &mut Vec<u8>| {
            let now = reading.fetch_add(size, Ordering::SeqCst) + size;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(5));
            reading.fetch_sub(size, Ordering::SeqCst);
            i
        };
        let mut order = Vec::new();
        let items = sizes.iter().copied().enumerate();
        fan_out_within(items, jobs, Some(&memory), &process, &mut |i| {
            order.push(i);
            Ok(())
        })
        .unwrap();
        (order, most.into_inner())
    }

    #[test]
    fn workers_read_no_more_at_once_than_the_budget_allows() {
        // Eight jobs, but only two inputs of 40 fit in 100.
        let (order, most) = bounded_run(&[40; 24], 8, 100);
        assert_eq!(order, (0..24).collect::<Vec<_>>());
        assert!(most <= 80, "{most} bytes read at once, the budget is 100");
        // And the workers did overlap: two inputs fit, and were read at once.
        assert!(most > 40, "{most}");
    }

    #[test]
    fn a_failed_delivery_or_a_panicking_input_stops_the_workers() {
        // Three inputs of 60 in a budget of 100: the ones after the first
        // wait for its turn, so a stop must reach waiting workers.
        let estimate = |&(_, size): &(usize, u64)| size;
        let weight = |_: &usize| 0;
        let memory = Memory {
            budget: 100,
            estimate: &estimate,
            weight: &weight,
        };
        let items = || (0..40).map(|i| (i, 60u64));
        let fine = |(i, _): (usize, u64), _: &mut Vec<u8>| i;
        let failed = fan_out_within(items(), 4, Some(&memory), &fine, &mut |i| {
            if i == 2 {
                Err(io::Error::other("broken pipe"))
            } else {
                Ok(())
            }
        });
        assert_eq!(failed.unwrap_err().to_string(), "broken pipe");
        let panics = |(i, _): (usize, u64), _: &mut Vec<u8>| {
            assert!(i != 0, "input 0 is unreadable");
            i
        };
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            fan_out_within(items(), 4, Some(&memory), &panics, &mut |_| Ok(()))
        }));
        assert!(caught.is_err(), "the panic is passed on, not waited on");
    }

    #[test]
    fn an_input_larger_than_the_budget_is_still_read_alone() {
        let (order, most) = bounded_run(&[10, 500, 10, 10, 700, 10], 4, 100);
        assert_eq!(order, (0..6).collect::<Vec<_>>());
        // The budget caps what is reserved for one input: it fills the
        // budget, so it is read alone, once it is next in line.
        assert_eq!(most, 700);
    }

    fn reports(text: &str) -> Vec<EventReport> {
        let mut out = Vec::new();
        parse(text.as_bytes(), "t", &mut |l| {
            out.push(EventReport::new(l, &Config::default()).unwrap())
        });
        out
    }

    #[test]
    fn non_cloudtrail_event_is_reported_as_ignored() {
        let r =
            reports(r#"{"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}"#);
        assert_eq!(
            r[0].ignored.as_deref(),
            Some("not a CloudTrail event (detail-type `Scheduled Event`)")
        );
        assert!(r[0].findings.is_empty());
    }

    #[test]
    fn summary_counts_rules_severities_actors_days() {
        let r = reports(
            r#"{"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "eventTime": "2024-01-02T03:04:05Z",
                "userIdentity": {"type": "Root", "arn": "arn:aws:iam::1:root"}, "responseElements": {"ConsoleLogin": "Success"}}"#,
        );
        let mut s = Summary::default();
        s.add(&r[0]);
        assert_eq!(s.by_rule.get("root-console-login"), Some(&1));
        assert_eq!(s.by_severity.get(&Severity::Critical), Some(&1));
        assert_eq!(s.top_actors(1), [("arn:aws:iam::1:root", 1)]);
        assert_eq!(s.by_day.get("2024-01-02"), Some(&1));
        assert!(render_event_text(&r[0], false).contains("CRITICAL root-console-login"));
    }

    #[cfg(unix)]
    #[test]
    fn symlinked_files_and_directories_are_followed_and_loops_reported() {
        use std::os::unix::fs::symlink;
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("a.json"), "{}").unwrap();
        std::fs::create_dir(outside.path().join("logs")).unwrap();
        std::fs::write(outside.path().join("logs/b.json"), "{}").unwrap();
        let dir = tempfile::tempdir().unwrap();
        symlink(outside.path().join("a.json"), dir.path().join("a.json")).unwrap();
        symlink(outside.path().join("logs"), dir.path().join("logs")).unwrap();
        symlink(dir.path(), dir.path().join("loop")).unwrap();
        symlink("/no/such/target.json", dir.path().join("dangling.json")).unwrap();
        let out = expand(&[dir.path().to_path_buf()]);
        let files: Vec<_> = out
            .iter()
            .filter_map(|r| match r {
                Ok(Input::File(p)) => Some(p.strip_prefix(dir.path()).unwrap().to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(
            files,
            [PathBuf::from("a.json"), PathBuf::from("logs/b.json")]
        );
        let errors: Vec<_> = out
            .iter()
            .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
            .collect();
        assert_eq!(errors.len(), 2, "{errors:?}");
        let dangling = dir.path().join("dangling.json").display().to_string();
        assert!(errors[0].contains(&format!("`{dangling}`")), "{errors:?}");
        let looped = dir.path().join("loop").display().to_string();
        assert!(errors[1].contains(&format!("`{looped}`")), "{errors:?}");
        assert!(errors[1].contains("symbolic link loop"), "{errors:?}");
    }

    #[test]
    fn digest_files_are_skipped_by_key_layout_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir
            .path()
            .join("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01");
        let digests = dir
            .path()
            .join("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/01");
        std::fs::create_dir_all(&logs).unwrap();
        std::fs::create_dir_all(&digests).unwrap();
        std::fs::write(
            logs.join("111122223333_CloudTrail_us-east-1_20240501T0000Z_x.json"),
            r#"{"Records": [{"eventName": "CreateUser"}]}"#,
        )
        .unwrap();
        // Not even read: its bytes are not JSON.
        std::fs::write(
            digests.join(
                "111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20240501T000000Z.json.gz",
            ),
            "not json",
        )
        .unwrap();
        let inputs: Vec<Input> = expand(&[dir.path().to_path_buf()])
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert!(matches!(inputs[1], Input::Digest(_)), "{inputs:?}");
        let opts = Options {
            jobs: 1,
            format: OutputFormat::Summary,
            filter: Filter::default(),
            progress: false,
            max_input_bytes: input::DEFAULT_MAX_INPUT_BYTES,
        };
        let mut errors = 0;
        let summary = run(
            &inputs,
            &Config::default(),
            &opts,
            &mut Vec::new(),
            &mut |_| errors += 1,
        )
        .unwrap();
        assert_eq!((summary.events, summary.digests, errors), (1, 1, 0));
        assert!(
            summary
                .render_text()
                .contains("CloudTrail digest files skipped: 1"),
            "{}",
            summary.render_text()
        );
    }

    /// Replays a log file with `opts`, and builds the same output from the
    /// owned events, every one through the engine.
    fn both_ways(log: &str, format: OutputFormat, config: &Config) -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.json");
        std::fs::write(&path, log).unwrap();
        let opts = Options {
            jobs: 1,
            format,
            filter: Filter::default(),
            progress: false,
            max_input_bytes: input::DEFAULT_MAX_INPUT_BYTES,
        };
        let mut out = Vec::new();
        let replayed = run(
            &[Input::File(path.clone())],
            config,
            &opts,
            &mut out,
            &mut |e| panic!("{e}"),
        )
        .unwrap();
        let mut owned = Vec::new();
        let mut summary = Summary::default();
        parse(log.as_bytes(), &path.display().to_string(), &mut |l| {
            let report = EventReport::new(l, config).unwrap();
            summary.add(&report);
            match format {
                OutputFormat::Json => {
                    serde_json::to_writer(&mut owned, &report).unwrap();
                    owned.push(b'\n');
                }
                _ => owned.extend_from_slice(render_event_text(&report, false).as_bytes()),
            }
        });
        assert_eq!(replayed.render_text(), summary.render_text());
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(owned).unwrap(),
        )
    }

    #[test]
    fn records_no_rule_looks_at_report_as_the_engine_would() {
        let log = r#"{"Records": [
            {"eventSource": "s3.amazonaws.com", "eventName": "GetObject", "eventID": "a\"b",
             "userIdentity": {"type": "AssumedRole", "arn": "", "accountId": "1"}, "awsRegion": "eu-west-1"},
            {"eventSource": "ec2.amazonaws.com", "eventName": "RunInstances", "errorCode": "AccessDenied",
             "recipientAccountId": "", "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/é\n"}},
            {"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
             "userIdentity": {"type": "IAMUser"}, "responseElements": {"ConsoleLogin": "Failure"}},
            {"eventSource": "iam.amazonaws.com", "eventName": "AttachUserPolicy",
             "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/bob"},
             "requestParameters": {"userName": "bob", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}},
            {"eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances", "errorCode": 5,
             "userIdentity": {"type": "Root", "arn": "arn:aws:iam::1:root"}},
            {"eventSource": "ec2.amazonaws.com", "eventName": "DescribeInstances",
             "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::1:assumed-role/trailguard/s",
               "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::1:role/trailguard"}}}},
            {"eventName": 7, "userIdentity": "x"}
        ]}"#;
        let own_role = Config {
            self_role_arn: Some("arn:aws:iam::1:role/trailguard".into()),
            ..Config::default()
        };
        for config in [Config::default(), own_role] {
            for format in [OutputFormat::Json, OutputFormat::Text] {
                let (replayed, owned) = both_ways(log, format, &config);
                assert_eq!(replayed, owned);
                if format == OutputFormat::Json {
                    assert_eq!(replayed.lines().count(), 7, "{replayed}");
                    assert!(replayed.contains(r#""ignored":"failed call (AccessDenied)""#));
                }
            }
        }
    }

    /// Output buffers come back from the writer: each file's output is its
    /// own, whatever buffer it was written into, on one worker or several.
    #[test]
    fn reused_output_buffers_hold_only_their_own_files_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut inputs = Vec::new();
        let mut alone = String::new();
        let opts = |jobs| Options {
            jobs,
            format: OutputFormat::Json,
            filter: Filter::default(),
            progress: false,
            max_input_bytes: input::DEFAULT_MAX_INPUT_BYTES,
        };
        // Files of different sizes, a large one first, so that a smaller
        // file's output lands in a buffer a larger one filled.
        for (i, n) in [40usize, 1, 7, 0, 25].into_iter().enumerate() {
            let records: Vec<String> = (0..n)
                .map(|k| {
                    format!(
                        r#"{{"eventSource": "s3.amazonaws.com", "eventName": "GetObject", "eventID": "f{i}-{k}"}}"#
                    )
                })
                .collect();
            let path = dir.path().join(format!("{i}.json"));
            std::fs::write(&path, format!(r#"{{"Records": [{}]}}"#, records.join(","))).unwrap();
            let mut out = Vec::new();
            let input = Input::File(path);
            run(
                std::slice::from_ref(&input),
                &Config::default(),
                &opts(1),
                &mut out,
                &mut |e| panic!("{e}"),
            )
            .unwrap();
            alone.push_str(std::str::from_utf8(&out).unwrap());
            inputs.push(input);
        }
        assert_eq!(alone.lines().count(), 73);
        for jobs in [1, 2] {
            let mut out = Vec::new();
            run(
                &inputs,
                &Config::default(),
                &opts(jobs),
                &mut out,
                &mut |e| panic!("{e}"),
            )
            .unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), alone, "--jobs {jobs}");
        }
    }

    #[test]
    fn output_buffers_kept_stay_within_their_bounds() {
        let outputs = Outputs::default();
        // Nothing kept: a new, empty buffer.
        assert_eq!(outputs.take().capacity(), 0);
        // An empty buffer, or one past KEPT_OUTPUT, is not kept.
        outputs.give_back(Vec::new());
        outputs.give_back(Vec::with_capacity(KEPT_OUTPUT + 1));
        assert_eq!(outputs.0.lock().unwrap().buffers.len(), 0);
        // A written buffer comes back cleared, its room kept.
        let mut written = Vec::with_capacity(1000);
        written.extend_from_slice(b"lines of an earlier file");
        outputs.give_back(written);
        let again = outputs.take();
        assert!(again.is_empty());
        assert!(again.capacity() >= 1000);
        assert_eq!(outputs.0.lock().unwrap().bytes, 0);
        // Never more than KEPT_OUTPUTS bytes of them wait.
        for _ in 0..(KEPT_OUTPUTS / KEPT_OUTPUT + 3) {
            outputs.give_back(Vec::with_capacity(KEPT_OUTPUT));
        }
        let kept = outputs.0.lock().unwrap();
        let total: usize = kept.buffers.iter().map(Vec::capacity).sum();
        assert_eq!(total, kept.bytes);
        assert!(total <= KEPT_OUTPUTS, "{total}");
        assert_eq!(kept.buffers.len(), KEPT_OUTPUTS / KEPT_OUTPUT);
    }

    #[test]
    fn missing_path_is_an_error_naming_it() {
        let out = expand(&[PathBuf::from("/no/such/thing.json")]);
        let err = out[0].as_ref().unwrap_err().to_string();
        assert!(err.contains("`/no/such/thing.json`"), "{err}");
    }
}
