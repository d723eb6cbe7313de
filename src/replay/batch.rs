//! The organisation backtest's batch: a Step Functions Distributed Map hands
//! the function some archive keys (`{"BatchInput": {...}, "Items": [...]}`,
//! see docs/backtest.md). They are read and evaluated as replay does
//! (nothing remediated, nothing alerted, no client but S3's), and the
//! batch's reports and summary are written under the results prefix, where
//! `replay --merge` folds every batch into one report.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    EventReport, Filter, MEMORY_BUDGET, Memory, S3Source, Summary, estimated_size, fan_out_within,
    html, parse_time_bound, read_input,
};
use crate::config::Config;
use crate::effects::s3::describe;
use crate::effects::{EffectError, ErrorKind};
use crate::event::archive::{self, Descend, KeyKind, Prune, S3Url};
use crate::event::input::DEFAULT_MAX_INPUT_BYTES;
use crate::event::paths::Input;
use crate::rules::{self, Severity};

/// The value of `BatchInput.trailguard` that marks a batch payload.
pub const MARKER: &str = "replay-batch";
/// The value of `trailguard` in a batch's summary file.
pub const SUMMARY_KIND: &str = "replay-batch-summary";
/// The version of the results layout; `--merge` refuses any other.
pub const VERSION: u32 = 1;
/// The folder under the results prefix that holds one folder per batch.
pub const BATCHES: &str = "batches/";
/// A batch's reports: replay's JSON lines, gzipped.
pub const EVENTS_FILE: &str = "events.jsonl.gz";
/// A batch's events with findings as replay's text format prints them.
pub const TEXT_FILE: &str = "findings.txt";
/// A batch's counts, per-object offsets and HTML state; written last, so
/// its presence says the batch is complete.
pub const SUMMARY_FILE: &str = "summary.json";
/// A batch's marker, written before it reads anything: a batch folder with
/// it and no summary is a batch that failed (or still runs), and the
/// marker names its keys.
pub const STARTED_FILE: &str = "started.json";
/// The value of `trailguard` in a batch's started marker.
pub const STARTED_KIND: &str = "replay-batch-started";
/// Objects a batch reads at once unless `BatchInput.jobs` says otherwise:
/// each one mostly waits on S3.
pub const DEFAULT_JOBS: usize = 4;

/// Why a batch was not run or its results not stored.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("batch input `{field}`: {message}")]
    Input { field: String, message: String },
    #[error("cannot start the S3 client: {0}")]
    Client(std::io::Error),
    #[error("cannot write `{url}`: {message}")]
    Write {
        url: String,
        message: String,
        /// What the store said; decides whether another attempt may help.
        kind: ErrorKind,
    },
    /// The archive, not one object: its bucket is not there, every read
    /// was refused, or S3 stayed throttled or unavailable past the
    /// attempts.
    #[error("cannot read the archive `{url}`: {message}")]
    Read {
        url: String,
        message: String,
        kind: ErrorKind,
    },
}

/// The `errorType` of a batch whose input is wrong (a bad field, a config
/// that does not load, a results bucket that does not exist): the same
/// input fails the same way, so the state machine never retries it.
pub const BAD_INPUT: &str = "trailguard.BadInput";
/// The `errorType` of a batch whose results S3 refused to take for lack of
/// permission: not retried, a retry would read the whole batch again for
/// the same answer.
pub const ACCESS_DENIED: &str = "trailguard.AccessDenied";
/// The `errorType` of a batch cut short by something that may pass
/// (throttling, 5xx, a timeout, after the batch's own attempts): retried.
pub const TRANSIENT: &str = "trailguard.Transient";
/// The `errorType` of any other failure (a request S3 rejected as invalid,
/// a fault of the function itself): not retried.
pub const FAILED: &str = "trailguard.BatchFailed";
/// The `errorType`s a batch can fail with that the state machine retries:
/// templates/backtest.yaml's `Retry` names exactly these of trailguard's.
pub const RETRIED_ERROR_TYPES: &[&str] = &[TRANSIENT];
/// Every `errorType` a batch can fail with.
pub const ERROR_TYPES: &[&str] = &[BAD_INPUT, ACCESS_DENIED, TRANSIENT, FAILED];

impl BatchError {
    /// The Lambda runtime's `errorType` for this failure, which the state
    /// machine's `Retry` matches on (one of [`ERROR_TYPES`]).
    pub fn error_type(&self) -> &'static str {
        match self {
            BatchError::Input { .. } => BAD_INPUT,
            // The function's own environment: a fresh instance may start it.
            BatchError::Client(_) => TRANSIENT,
            // `NoSuchBucket` on a write: the input's `results` names no
            // bucket; on a read: its `bucket`.
            BatchError::Write { kind, .. } | BatchError::Read { kind, .. } => match kind {
                ErrorKind::Throttled | ErrorKind::Unavailable => TRANSIENT,
                ErrorKind::AccessDenied => ACCESS_DENIED,
                ErrorKind::NotFound => BAD_INPUT,
                _ => FAILED,
            },
        }
    }

    fn input(field: &str, message: impl Into<String>) -> Self {
        BatchError::Input {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// Is this payload a backtest batch (its `BatchInput` carries the marker)?
pub fn is_batch(payload: &Value) -> bool {
    payload
        .get("BatchInput")
        .and_then(|b| b.get("trailguard"))
        .and_then(Value::as_str)
        == Some(MARKER)
}

/// `BatchInput` as the state machine writes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInput {
    trailguard: String,
    bucket: String,
    results: String,
    #[serde(default)]
    batch: Option<String>,
    #[serde(default)]
    config: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
    // The state machine passes `null` for what the execution left out.
    #[serde(default)]
    accounts: Option<Vec<String>>,
    #[serde(default)]
    regions: Option<Vec<String>>,
    #[serde(default)]
    jobs: Option<usize>,
}

/// One item of an S3 `ListObjectsV2` item reader (its other fields unused).
#[derive(Deserialize)]
struct RawItem {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Size", default)]
    size: u64,
}

/// A batch, validated.
#[derive(Debug)]
pub struct Batch {
    /// The archive's bucket.
    pub bucket: String,
    /// Where every batch of the backtest writes (`s3://BUCKET/PREFIX/`).
    pub results: S3Url,
    /// This batch's folder name under `batches/`.
    pub id: String,
    pub config: Config,
    pub filter: Filter,
    pub prune: Prune,
    pub jobs: usize,
    /// `(key, stored size)` as the item reader listed them.
    pub items: Vec<(String, u64)>,
}

impl Batch {
    /// Reads a batch payload; every error names the field at fault.
    pub fn from_payload(payload: &Value) -> Result<Batch, BatchError> {
        let raw: RawInput = payload
            .get("BatchInput")
            .cloned()
            .map(serde_json::from_value)
            .transpose()
            .map_err(|e| BatchError::input("BatchInput", e.to_string()))?
            .ok_or_else(|| BatchError::input("BatchInput", "missing"))?;
        if raw.trailguard != MARKER {
            return Err(BatchError::input(
                "trailguard",
                format!("expected `{MARKER}`, got `{}`", raw.trailguard),
            ));
        }
        let items: Vec<RawItem> = match payload.get("Items") {
            Some(items) => serde_json::from_value(items.clone())
                .map_err(|e| BatchError::input("Items", e.to_string()))?,
            None => return Err(BatchError::input("Items", "missing")),
        };
        if raw.bucket.is_empty() || raw.bucket.contains('/') {
            return Err(BatchError::input(
                "bucket",
                format!("`{}` is not a bucket name", raw.bucket),
            ));
        }
        let mut results = match S3Url::parse(&raw.results) {
            Some(Ok(url)) => url,
            Some(Err(e)) => return Err(BatchError::input("results", e.to_string())),
            None => {
                return Err(BatchError::input(
                    "results",
                    format!("`{}` is not an s3:// URL", raw.results),
                ));
            }
        };
        if !results.prefix.is_empty() && !results.prefix.ends_with('/') {
            results.prefix.push('/');
        }
        let config = match &raw.config {
            Some(text) => Config::from_toml(text, "batch input", std::iter::empty()),
            None => Config::load(None, std::iter::empty()),
        }
        .map_err(|e| BatchError::input("config", e.to_string()))?;
        let bound = |field: &str, text: &Option<String>| {
            text.as_deref()
                .map(parse_time_bound)
                .transpose()
                .map_err(|e| BatchError::input(field, e))
        };
        let filter = Filter {
            since: bound("since", &raw.since)?,
            until: bound("until", &raw.until)?,
            accounts: raw.accounts.unwrap_or_default(),
            regions: raw.regions.unwrap_or_default(),
            ..Filter::default()
        };
        let prune = Prune {
            since: filter.since,
            until: filter.until,
            accounts: filter.accounts.clone(),
            regions: filter.regions.clone(),
        };
        let items: Vec<(String, u64)> = items.into_iter().map(|i| (i.key, i.size)).collect();
        let id = match raw.batch {
            Some(id) if valid_id(&id) => id,
            Some(id) => {
                return Err(BatchError::input(
                    "batch",
                    format!("`{id}` is not a batch id (1 to 128 of A-Z a-z 0-9 . _ -)"),
                ));
            }
            None => derived_id(&items),
        };
        let jobs = raw.jobs.unwrap_or(DEFAULT_JOBS).clamp(1, 64);
        Ok(Batch {
            bucket: raw.bucket,
            results,
            id,
            config,
            filter,
            prune,
            jobs,
            items,
        })
    }

    /// The key of one of this batch's result files.
    pub fn result_key(&self, file: &str) -> String {
        format!("{}{BATCHES}{}/{file}", self.results.prefix, self.id)
    }
}

fn valid_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// A batch's id when the input gives none: a hash of its first key. The
/// item batcher's `BatchInput` is the same for every batch, while a batch's
/// keys are its own, and the same again when Step Functions retries it, so
/// a retry overwrites its own results.
fn derived_id(items: &[(String, u64)]) -> String {
    let first = items.first().map_or("", |(k, _)| k.as_str());
    let digest = Sha256::digest(first.as_bytes());
    digest[..12].iter().map(|b| format!("{b:02x}")).collect()
}

/// One object's place in a batch's files, and what `--merge` needs of it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ObjectRecord {
    /// `s3://BUCKET/KEY`: the order of the merged report is these URLs' walk order.
    pub url: String,
    /// Bytes of its reports in the batch's `events.jsonl` (uncompressed).
    #[serde(default)]
    pub json: u64,
    /// Bytes of its findings in the batch's `findings.txt`.
    #[serde(default)]
    pub text: u64,
    /// Why it, or some of its events, could not be read, as replay says it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// Its findings, as the HTML report counts and lists them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<html::Collector>,
}

/// [`Summary`] as stored: rule ids and severities as text.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SummaryRecord {
    pub bytes: u64,
    pub events: u64,
    pub ignored: u64,
    pub errors: u64,
    pub findings: u64,
    pub digests: u64,
    pub by_rule: BTreeMap<String, u64>,
    pub by_severity: BTreeMap<String, u64>,
    pub by_actor: BTreeMap<String, u64>,
    pub by_day: BTreeMap<String, u64>,
}

impl From<&Summary> for SummaryRecord {
    fn from(s: &Summary) -> Self {
        SummaryRecord {
            bytes: s.bytes,
            events: s.events,
            ignored: s.ignored,
            errors: s.errors,
            findings: s.findings,
            digests: s.digests,
            by_rule: s
                .by_rule
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            by_severity: s
                .by_severity
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), *v))
                .collect(),
            by_actor: s.by_actor.clone(),
            by_day: s.by_day.clone(),
        }
    }
}

fn severity(name: &str) -> Option<Severity> {
    [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ]
    .into_iter()
    .find(|s| s.as_str() == name)
}

impl SummaryRecord {
    /// The summary back; a rule or severity this build does not know is an
    /// error naming it (results written by another version).
    pub fn into_summary(self) -> Result<Summary, String> {
        let mut by_rule = BTreeMap::new();
        for (id, n) in self.by_rule {
            let rule = rules::find(&id).ok_or_else(|| format!("unknown rule id `{id}`"))?;
            by_rule.insert(rule.id, n);
        }
        let mut by_severity = BTreeMap::new();
        for (name, n) in self.by_severity {
            let s = severity(&name).ok_or_else(|| format!("unknown severity `{name}`"))?;
            by_severity.insert(s, n);
        }
        Ok(Summary {
            bytes: self.bytes,
            events: self.events,
            ignored: self.ignored,
            errors: self.errors,
            findings: self.findings,
            digests: self.digests,
            by_rule,
            by_severity,
            by_actor: self.by_actor,
            by_day: self.by_day,
        })
    }
}

/// A batch's `summary.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchSummary {
    /// Always [`SUMMARY_KIND`].
    pub trailguard: String,
    pub version: u32,
    pub batch: String,
    /// Items handed to the batch, objects read, and digests skipped.
    pub items: u64,
    pub objects: u64,
    pub summary: SummaryRecord,
    /// The objects that gave output or errors, in the batch's files' order.
    pub records: Vec<ObjectRecord>,
}

/// A batch's `started.json`: which keys it was handed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchStarted {
    /// Always [`STARTED_KIND`].
    pub trailguard: String,
    pub version: u32,
    pub batch: String,
    /// The archive's bucket.
    pub bucket: String,
    /// The keys the batch was handed, in the item reader's order.
    pub keys: Vec<String>,
}

/// What one object came to.
#[derive(Default)]
struct ObjectOut {
    url: String,
    json: Vec<u8>,
    text: Vec<u8>,
    summary: Summary,
    page: html::Collector,
    errors: Vec<String>,
    read: bool,
    /// What S3 said when the GET failed.
    refused: Option<EffectError>,
}

fn process(input: &Input, batch: &Batch, source: &S3Source<'_>, buf: &mut Vec<u8>) -> ObjectOut {
    let mut out = ObjectOut {
        url: input.name(),
        read: !matches!(input, Input::Digest(_)),
        ..ObjectOut::default()
    };
    let (json, text, summary, page, errors) = (
        &mut out.json,
        &mut out.text,
        &mut out.summary,
        &mut out.page,
        &mut out.errors,
    );
    let mut each = |located| match EventReport::filtered(located, &batch.config, &batch.filter) {
        Ok(Some(report)) => {
            summary.add(&report);
            serde_json::to_writer(&mut *json, &report).expect("reports serialize to memory");
            json.push(b'\n');
            text.extend_from_slice(super::render_event_text(&report, false).as_bytes());
            page.add(&report);
        }
        Ok(None) => {}
        Err(e) => errors.push(e.to_string()),
    };
    match read_input(input, Some(source), buf, DEFAULT_MAX_INPUT_BYTES, &mut each) {
        Ok(stats) => {
            out.summary.bytes += stats.bytes;
            out.summary.digests += stats.digests;
        }
        Err(e) => {
            out.refused = super::s3::refusal(&e).cloned();
            out.errors.push(e.to_string());
        }
    }
    out.summary.errors += out.errors.len() as u64;
    out
}

/// Runs a batch: reads its objects `jobs` at a time, in the order a local
/// replay of the same keys reads them, and writes its files, its started
/// marker first and its summary last. An unreadable object is recorded
/// with its key and the rest goes on; only a failed write fails the batch.
/// Memory holds the batch's output (reports gzipped as they come), never
/// the archive.
pub fn run(batch: &Batch, source: &S3Source<'_>) -> Result<Value, BatchError> {
    // First, so that a batch that dies later (a timeout, out of memory)
    // still leaves a folder `--merge` reports, with the keys it lost.
    let started = BatchStarted {
        trailguard: STARTED_KIND.to_owned(),
        version: VERSION,
        batch: batch.id.clone(),
        bucket: batch.bucket.clone(),
        keys: batch.items.iter().map(|(k, _)| k.clone()).collect(),
    };
    let body = serde_json::to_vec(&started).expect("a marker serializes");
    put(
        source,
        &batch.results.bucket,
        &batch.result_key(STARTED_FILE),
        body,
    )?;
    let mut inputs = Vec::with_capacity(batch.items.len());
    for (key, size) in &batch.items {
        if !listed(key, &batch.prune) {
            continue;
        }
        match archive::classify_key(key, &batch.prune) {
            KeyKind::Events => inputs.push((
                key.as_str(),
                Input::S3 {
                    bucket: batch.bucket.clone(),
                    key: key.clone(),
                    size: *size,
                },
            )),
            KeyKind::Digest => inputs.push((
                key.as_str(),
                Input::Digest(PathBuf::from(S3Url::key_url(&batch.bucket, key))),
            )),
            KeyKind::Other => {}
        }
    }
    inputs.sort_by(|a, b| archive::walk_order(a.0, b.0));
    inputs.dedup_by(|a, b| a.0 == b.0);

    let mut events = GzEncoder::new(Vec::new(), Compression::fast());
    let mut text = Vec::new();
    let mut summary = Summary::default();
    let mut records = Vec::new();
    let mut objects = 0u64;
    let mut refused = Vec::new();
    let work = |input: Input, buf: &mut Vec<u8>| process(&input, batch, source, buf);
    // The CLI's memory bound: a batch's objects may each decompress to
    // hundreds of MB, and an out-of-memory kill loses the whole batch.
    let estimate = |input: &Input| estimated_size(input);
    let weight = |o: &ObjectOut| (o.json.capacity() + o.text.capacity()) as u64;
    let memory = Memory {
        budget: MEMORY_BUDGET,
        estimate: &estimate,
        weight: &weight,
    };
    fan_out_within(
        inputs.into_iter().map(|(_, i)| i),
        batch.jobs,
        Some(&memory),
        &work,
        &mut |o: ObjectOut| {
            events.write_all(&o.json)?;
            text.extend_from_slice(&o.text);
            objects += u64::from(o.read);
            refused.extend(o.refused);
            summary.merge(o.summary);
            if !o.json.is_empty() || !o.text.is_empty() || !o.errors.is_empty() {
                records.push(ObjectRecord {
                    url: o.url,
                    json: o.json.len() as u64,
                    text: o.text.len() as u64,
                    errors: o.errors,
                    page: (o.page != html::Collector::default()).then_some(o.page),
                });
            }
            Ok(())
        },
    )
    .expect("writes to memory do not fail");
    if let Some(e) = archive_refusal(&refused, objects) {
        return Err(BatchError::Read {
            url: S3Url::key_url(&batch.bucket, ""),
            message: describe(e),
            kind: e.kind,
        });
    }
    let events = events.finish().expect("gzip to memory does not fail");
    let file = BatchSummary {
        trailguard: SUMMARY_KIND.to_owned(),
        version: VERSION,
        batch: batch.id.clone(),
        items: batch.items.len() as u64,
        objects,
        summary: SummaryRecord::from(&summary),
        records,
    };
    let unreadable: Vec<&str> = file
        .records
        .iter()
        .filter(|r| !r.errors.is_empty())
        .map(|r| r.url.as_str())
        .collect();
    let answer = json!({
        "status": "ok",
        "batch": batch.id,
        "items": file.items,
        "objects": objects,
        "events": summary.events,
        "findings": summary.findings,
        "errors": summary.errors,
        "unreadable": unreadable,
        "summary": S3Url::key_url(&batch.results.bucket, &batch.result_key(SUMMARY_FILE)),
    });
    let summary_json = serde_json::to_vec(&file).expect("a summary serializes");
    // The summary last: a batch with a summary has all its files.
    for (name, body) in [
        (EVENTS_FILE, events),
        (TEXT_FILE, text),
        (SUMMARY_FILE, summary_json),
    ] {
        put(source, &batch.results.bucket, &batch.result_key(name), body)?;
    }
    Ok(answer)
}

/// Whether the GETs that failed (`refused`, of `objects` read) say the
/// archive cannot be read, rather than some of its objects: a bucket that
/// is not there, S3 throttling or unavailable past the attempts (another
/// run may pass), or every object refused. One missing or refused object
/// among readable ones is that object's, reported with its key.
fn archive_refusal(refused: &[EffectError], objects: u64) -> Option<&EffectError> {
    refused
        .iter()
        .find(|e| e.code.as_deref() == Some("NoSuchBucket"))
        .or_else(|| {
            refused
                .iter()
                .find(|e| matches!(e.kind, ErrorKind::Throttled | ErrorKind::Unavailable))
        })
        .or_else(|| {
            (objects > 0
                && refused.len() as u64 == objects
                && refused.iter().all(|e| e.kind == ErrorKind::AccessDenied))
            .then(|| &refused[0])
        })
}

/// Runs the batch a payload describes, reading and writing through the S3
/// client of the SDK's usual environment. Blocking: call it off the async
/// runtime.
pub fn run_payload(payload: &Value) -> Result<Value, BatchError> {
    let batch = Batch::from_payload(payload)?;
    let store = crate::effects::s3::AwsS3::from_env().map_err(BatchError::Client)?;
    let source = S3Source {
        store: &store,
        backoff: super::Backoff::default(),
    };
    run(&batch, &source)
}

/// Would replay's S3 listing of the archive reach `key`? It descends
/// folder by folder, skipping digest and Insights folders and those the
/// filters exclude; the item reader lists every key under its prefix, so
/// each key's folders are judged here the same way.
fn listed(key: &str, prune: &Prune) -> bool {
    let mut parent = "";
    loop {
        let descend = archive::descend(parent, prune);
        let Some(slash) = key[parent.len()..].find('/') else {
            // A file of `parent`: listed only where `parent` itself is.
            return descend == Descend::List;
        };
        let next = &key[..parent.len() + slash + 1];
        parent = match descend {
            Descend::Skip => return false,
            // The folders named may lie deeper than the next one: the days
            // of a `since`..`until` range are named under the region.
            Descend::Only(children) => {
                match children.iter().find(|c| key.starts_with(c.as_str())) {
                    Some(child) => &key[..child.len()],
                    None => return false,
                }
            }
            Descend::List if archive::keeps_folder(next, prune) => next,
            Descend::List => return false,
        };
    }
}

fn put(source: &S3Source<'_>, bucket: &str, key: &str, body: Vec<u8>) -> Result<(), BatchError> {
    source
        .backoff
        .run(|| source.store.put(bucket, key, body.clone()))
        .map_err(|e: EffectError| BatchError::Write {
            url: S3Url::key_url(bucket, key),
            message: describe(&e),
            kind: e.kind,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(input: Value) -> Value {
        json!({"BatchInput": input, "Items": [{"Key": "AWSLogs/1/CloudTrail/us-east-1/2024/01/01/a.json.gz", "Size": 3, "Etag": "x"}]})
    }

    #[test]
    fn a_batch_payload_is_recognised_by_its_marker() {
        assert!(is_batch(&payload(json!({"trailguard": MARKER}))));
        assert!(!is_batch(&payload(json!({"trailguard": "other"}))));
        assert!(!is_batch(&json!({"detail-type": "Scheduled Event"})));
    }

    #[test]
    fn a_valid_batch_input_is_read_with_its_config_and_filters() {
        let b = Batch::from_payload(&payload(json!({
            "trailguard": MARKER, "bucket": "trail", "results": "s3://out/run-1",
            "config": "[modes]\naccess-key-created = \"remediate\"",
            "since": "2024-01-01", "accounts": ["111122223333"],
        })))
        .unwrap();
        assert_eq!(b.results.prefix, "run-1/");
        assert_eq!(b.items.len(), 1);
        assert_eq!(b.id.len(), 24);
        assert_eq!(
            b.result_key(SUMMARY_FILE),
            format!("run-1/batches/{}/summary.json", b.id)
        );
        assert!(b.filter.since.is_some());
        assert_eq!(b.prune.accounts, ["111122223333"]);
    }

    /// What the template's state machine hands on when the execution input
    /// gives only a prefix.
    #[test]
    fn null_optional_fields_are_absent_ones() {
        let b = Batch::from_payload(&payload(json!({
            "trailguard": MARKER, "bucket": "trail", "results": "s3://out/exec-1/",
            "config": null, "since": null, "until": null, "accounts": null, "regions": null,
        })))
        .unwrap();
        assert!(!b.filter.is_active());
        assert_eq!(b.results.prefix, "exec-1/");
    }

    #[test]
    fn each_bad_field_is_named_in_the_error() {
        let base = json!({"trailguard": MARKER, "bucket": "trail", "results": "s3://out/"});
        for (field, value, expected) in [
            (
                "config",
                json!("[modes]\nno-such-rule = \"alert\""),
                "batch input `config`: ",
            ),
            (
                "results",
                json!("out/prefix"),
                "batch input `results`: `out/prefix` is not an s3:// URL",
            ),
            (
                "since",
                json!("yesterday"),
                "batch input `since`: `yesterday`",
            ),
            (
                "batch",
                json!("a/b"),
                "batch input `batch`: `a/b` is not a batch id",
            ),
            (
                "acounts",
                json!([]),
                "batch input `BatchInput`: unknown field `acounts`",
            ),
        ] {
            let mut input = base.clone();
            input[field] = value;
            let e = Batch::from_payload(&payload(input))
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(expected), "{field}: {e}");
        }
        let e = Batch::from_payload(&json!({"BatchInput": base})).unwrap_err();
        assert_eq!(e.to_string(), "batch input `Items`: missing");
    }

    #[test]
    fn keys_are_kept_as_replays_listing_would_reach_them() {
        let all = Prune::default();
        let account = "AWSLogs/o-1/111122223333/";
        let log = format!("{account}CloudTrail/us-east-1/2024/03/02/x.json.gz");
        assert!(listed(&log, &all));
        assert!(!listed(
            &format!("{account}CloudTrail-Digest/us-east-1/2024/03/02/d.json.gz"),
            &all
        ));
        assert!(!listed(
            &format!("{account}CloudTrail-Insight/us-east-1/2024/03/02/i.json.gz"),
            &all
        ));
        let other = Prune {
            accounts: vec!["444455556666".into()],
            ..Prune::default()
        };
        assert!(!listed(&log, &other));
        let region = Prune {
            regions: vec!["us-east-1".into()],
            ..Prune::default()
        };
        assert!(listed(&log, &region));
        assert!(!listed(&log.replace("us-east-1", "eu-west-1"), &region));
        // With both bounds the days are named under the region, three
        // folders down: a key of the range is reached, others are not.
        let day = |d: &str| Some(format!("{d}T00:00:00Z").parse().unwrap());
        let range = Prune {
            since: day("2024-03-01"),
            until: day("2024-03-03"),
            ..Prune::default()
        };
        assert!(listed(&log, &range));
        assert!(!listed(&log.replace("2024/03/02", "2024/05/02"), &range));
        assert!(!listed(&log.replace("2024/03/02", "2023/03/02"), &range));
        assert!(!listed(
            &format!("{account}CloudTrail/us-east-1/2024/03/x.json.gz"),
            &range
        ));
    }

    /// Objects in memory; writes kept, or refused with `refuse_puts`;
    /// reads of the keys in `refuse_gets` refused with that error.
    #[derive(Default)]
    struct Store {
        objects: std::collections::HashMap<String, Vec<u8>>,
        written: std::sync::Mutex<Vec<String>>,
        refuse_puts: Option<crate::effects::ErrorKind>,
        refuse_gets: std::collections::HashMap<String, EffectError>,
    }

    impl crate::effects::s3::ObjectStore for Store {
        fn list(&self, _: &str, _: &str) -> Result<crate::effects::s3::Listing, EffectError> {
            Ok(Default::default())
        }
        fn get(&self, _: &str, key: &str) -> Result<Box<dyn std::io::Read + Send>, EffectError> {
            if let Some(e) = self.refuse_gets.get(key) {
                return Err(e.clone());
            }
            let body = self.objects.get(key).cloned().ok_or_else(|| EffectError {
                code: Some("NoSuchKey".into()),
                ..EffectError::new("s3:GetObject", crate::effects::ErrorKind::NotFound, key)
            })?;
            Ok(Box::new(std::io::Cursor::new(body)))
        }
        fn put(&self, _: &str, key: &str, _: Vec<u8>) -> Result<(), EffectError> {
            if let Some(kind) = self.refuse_puts {
                return Err(EffectError::new("s3:PutObject", kind, "refused"));
            }
            self.written.lock().unwrap().push(key.to_owned());
            Ok(())
        }
    }

    const DAY: &str = "AWSLogs/1/CloudTrail/us-east-1/2024/01/01/";

    fn store(keys: &[&str]) -> Store {
        let event = r#"{"Records": [{"eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin",
            "eventTime": "2024-01-01T03:04:05Z", "userIdentity": {"type": "Root", "arn": "arn:aws:iam::1:root"},
            "responseElements": {"ConsoleLogin": "Success"}}]}"#;
        Store {
            objects: keys
                .iter()
                .map(|k| (format!("{DAY}{k}"), event.as_bytes().to_vec()))
                .collect(),
            ..Store::default()
        }
    }

    fn batch_of(keys: &[&str]) -> Batch {
        let items: Vec<Value> = keys
            .iter()
            .map(|k| json!({"Key": format!("{DAY}{k}"), "Size": 10}))
            .collect();
        Batch::from_payload(&json!({
            "BatchInput": {"trailguard": MARKER, "bucket": "trail", "results": "s3://out/run/", "batch": "b1"},
            "Items": items,
        }))
        .unwrap()
    }

    fn quick() -> super::super::Backoff {
        super::super::Backoff {
            attempts: 3,
            first_delay: std::time::Duration::from_millis(1),
        }
    }

    /// A throttled GET is read again; an object gone since the listing is
    /// reported with its key and the rest of the batch is read and written.
    #[test]
    fn a_throttled_get_is_retried_and_an_unreadable_object_reported() {
        use crate::effects::ErrorKind::Throttled;
        let keys = ["a.json", "b.json", "c.json"];
        let mut inner = store(&keys);
        inner.objects.remove(&format!("{DAY}b.json"));
        let faulty = crate::effects::faults::FaultyStore::new(inner).fail_get(
            &format!("{DAY}a.json"),
            2,
            Throttled,
        );
        let source = S3Source {
            store: &faulty,
            backoff: quick(),
        };
        let answer = run(&batch_of(&keys), &source).unwrap();
        assert_eq!(answer["events"], 2, "{answer}");
        assert_eq!(answer["findings"], 2, "{answer}");
        assert_eq!(answer["errors"], 1, "{answer}");
        assert_eq!(
            answer["unreadable"],
            json!([format!("s3://trail/{DAY}b.json")])
        );
        assert_eq!(faulty.got().len(), 3 + 1 + 1);
        assert_eq!(
            faulty.inner().written.lock().unwrap().clone(),
            [
                "run/batches/b1/started.json",
                "run/batches/b1/events.jsonl.gz",
                "run/batches/b1/findings.txt",
                "run/batches/b1/summary.json"
            ]
        );
    }

    /// A read that says the archive cannot be read, not one object, fails
    /// the batch before its summary is written (`--merge` then names its
    /// keys): the bucket not there, S3 unavailable past the attempts, or
    /// every object refused. One refused object among readable ones is
    /// reported with its key.
    #[test]
    fn an_unreadable_archive_fails_the_batch_and_one_refused_object_does_not() {
        let keys = ["a.json", "b.json"];
        let refusal = |kind, code: &str| EffectError {
            code: Some(code.into()),
            ..EffectError::new("s3:GetObject", kind, "refused")
        };
        let all = |e: &EffectError| {
            keys.iter()
                .map(|k| (format!("{DAY}{k}"), e.clone()))
                .collect()
        };
        let no_bucket = refusal(ErrorKind::NotFound, "NoSuchBucket");
        let denied = refusal(ErrorKind::AccessDenied, "AccessDenied");
        let slow = refusal(ErrorKind::Unavailable, "SlowDown");
        let one = |e: &EffectError| [(format!("{DAY}b.json"), e.clone())].into_iter().collect();
        for (refused, error_type, message) in [
            (
                all(&no_bucket),
                BAD_INPUT,
                "the bucket does not exist (NoSuchBucket)",
            ),
            (
                one(&no_bucket),
                BAD_INPUT,
                "the bucket does not exist (NoSuchBucket)",
            ),
            (all(&denied), ACCESS_DENIED, "access denied (AccessDenied)"),
            (one(&slow), TRANSIENT, "refused"),
        ] {
            let store = Store {
                refuse_gets: refused,
                ..store(&keys)
            };
            let source = S3Source {
                store: &store,
                backoff: quick(),
            };
            let e = run(&batch_of(&keys), &source).unwrap_err();
            assert_eq!(e.error_type(), error_type, "{e}");
            let text = e.to_string();
            assert!(
                text.starts_with("cannot read the archive `s3://trail/`: ")
                    && text.contains(message),
                "{text}"
            );
            assert_eq!(
                store.written.lock().unwrap().clone(),
                ["run/batches/b1/started.json"]
            );
        }
        let store = Store {
            refuse_gets: one(&denied),
            ..store(&keys)
        };
        let source = S3Source {
            store: &store,
            backoff: quick(),
        };
        let answer = run(&batch_of(&keys), &source).unwrap();
        assert_eq!(
            answer["unreadable"],
            json!([format!("s3://trail/{DAY}b.json")])
        );
        assert_eq!(answer["events"], 1, "{answer}");
    }

    /// A result that cannot be written fails the batch, with the
    /// `errorType` the state machine retries only when the store said a
    /// retry may help: a denied or missing bucket fails the same way again.
    #[test]
    fn a_refused_write_fails_the_batch_with_an_error_type_saying_whether_to_retry() {
        for (kind, error_type) in [
            (ErrorKind::Unavailable, TRANSIENT),
            (ErrorKind::Throttled, TRANSIENT),
            (ErrorKind::AccessDenied, ACCESS_DENIED),
            (ErrorKind::NotFound, BAD_INPUT),
            (ErrorKind::Invalid, FAILED),
        ] {
            let store = Store {
                refuse_puts: Some(kind),
                ..store(&["a.json"])
            };
            let source = S3Source {
                store: &store,
                backoff: quick(),
            };
            let e = run(&batch_of(&["a.json"]), &source).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with("cannot write `s3://out/run/batches/b1/"),
                "{e}"
            );
            assert_eq!(e.error_type(), error_type, "{kind:?}");
            assert_eq!(
                RETRIED_ERROR_TYPES.contains(&e.error_type()),
                kind == ErrorKind::Unavailable || kind == ErrorKind::Throttled
            );
        }
    }

    /// Input that cannot be read fails the same way on every attempt.
    #[test]
    fn bad_input_is_never_retried() {
        let bad_config = payload(json!({"trailguard": MARKER, "bucket": "trail",
            "results": "s3://out/", "config": "[modes]\nno-such-rule = \"alert\""}));
        let e = Batch::from_payload(&bad_config).unwrap_err();
        assert_eq!(e.error_type(), BAD_INPUT);
        assert!(!RETRIED_ERROR_TYPES.contains(&BAD_INPUT));
        assert!(!RETRIED_ERROR_TYPES.contains(&ACCESS_DENIED));
    }

    #[test]
    fn stored_summaries_come_back_whole() {
        let mut s = Summary {
            events: 3,
            ..Summary::default()
        };
        s.by_rule.insert("root-console-login", 2);
        s.by_severity.insert(Severity::Critical, 2);
        let back = SummaryRecord::from(&s).into_summary().unwrap();
        assert_eq!(back.render_text(), s.render_text());
        let mut bad = SummaryRecord::from(&s);
        bad.by_rule.insert("gone-rule".into(), 1);
        assert_eq!(
            bad.into_summary().unwrap_err(),
            "unknown rule id `gone-rule`"
        );
    }
}
