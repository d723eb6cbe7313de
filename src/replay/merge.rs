//! `replay --merge`: folds a backtest's batch results (docs/backtest.md)
//! into the report a local replay of the same keys prints, in any format.
//! The objects' outputs are put back in the order a local replay reads
//! them (the batches' own order is the item reader's, S3's byte order).

use std::collections::{HashMap, hash_map};
use std::io::{self, Write};
use std::path::PathBuf;

use super::batch::{
    BATCHES, BatchStarted, BatchSummary, EVENTS_FILE, STARTED_FILE, STARTED_KIND, SUMMARY_FILE,
    SUMMARY_KIND, TEXT_FILE, VERSION,
};
use super::{OutputFormat, S3Source, Summary, html};
use crate::effects::s3::describe;
use crate::event::archive::{S3Url, walk_order};
use crate::event::input;

/// Where a backtest's results are: the results prefix, or a local copy of it.
pub enum Results<'a> {
    Dir(PathBuf),
    S3 {
        source: S3Source<'a>,
        bucket: String,
        /// Ends in `/` (or is empty).
        prefix: String,
    },
}

/// Why the results could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("cannot list the batches under `{path}`: {message}")]
    List { path: String, message: String },
    #[error("no batch results under `{0}` (expected `batches/ID/summary.json`)")]
    Empty(String),
    #[error("`{path}` is not a batch summary: {message}")]
    Summary { path: String, message: String },
    /// A count or an offset of a summary that cannot be true of the batch.
    #[error("batch `{batch}`: `{field}` in `{path}` {message}")]
    Corrupt {
        batch: String,
        path: String,
        field: String,
        message: String,
    },
    #[error("cannot read `{path}`: {message}")]
    Read { path: String, message: String },
    #[error("cannot write output: {0}")]
    Output(#[from] io::Error),
}

impl Results<'_> {
    /// Where the results are, for messages.
    pub fn root(&self) -> String {
        match self {
            Results::Dir(dir) => dir.display().to_string(),
            Results::S3 { bucket, prefix, .. } => S3Url::key_url(bucket, prefix),
        }
    }

    fn name(&self, batch: &str, file: &str) -> String {
        match self {
            Results::Dir(dir) => dir
                .join(BATCHES)
                .join(batch)
                .join(file)
                .display()
                .to_string(),
            Results::S3 { bucket, prefix, .. } => {
                S3Url::key_url(bucket, &format!("{prefix}{BATCHES}{batch}/{file}"))
            }
        }
    }

    /// The batch ids, in name order.
    fn batches(&self) -> Result<Vec<String>, MergeError> {
        let mut ids = Vec::new();
        match self {
            Results::Dir(dir) => {
                let folder = dir.join(BATCHES);
                let list_error = |e: io::Error| MergeError::List {
                    path: folder.display().to_string(),
                    message: e.to_string(),
                };
                if !folder.exists() {
                    return Ok(ids);
                }
                for entry in std::fs::read_dir(&folder).map_err(list_error)? {
                    let entry = entry.map_err(list_error)?;
                    if entry.path().is_dir() {
                        ids.push(entry.file_name().to_string_lossy().into_owned());
                    }
                }
            }
            Results::S3 {
                source,
                bucket,
                prefix,
            } => {
                let folder = format!("{prefix}{BATCHES}");
                let listing = source
                    .backoff
                    .run(|| source.store.list(bucket, &folder))
                    .map_err(|e| MergeError::List {
                        path: S3Url::key_url(bucket, &folder),
                        message: describe(&e),
                    })?;
                for f in listing.folders {
                    let id = f[folder.len()..].trim_end_matches('/');
                    ids.push(id.to_owned());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// One of a batch's files, gunzipped when it is gzip: at most `max`
    /// bytes once decompressed, or [`input::InputError::TooLarge`].
    fn read_raw(&self, batch: &str, file: &str, max: u64) -> Result<Vec<u8>, input::InputError> {
        let mut buf = Vec::new();
        match self {
            Results::Dir(dir) => {
                input::read_file(&dir.join(BATCHES).join(batch).join(file), &mut buf, max)
            }
            Results::S3 {
                source,
                bucket,
                prefix,
            } => {
                let key = format!("{prefix}{BATCHES}{batch}/{file}");
                super::fetch(source, bucket, &key, 0, &mut buf, max)
            }
        }?;
        Ok(buf)
    }

    /// A summary or started marker: at most `max` bytes once decompressed,
    /// as any input (`--max-input-size`).
    fn read(&self, batch: &str, file: &str, max: u64) -> Result<Vec<u8>, MergeError> {
        self.read_raw(batch, file, max)
            .map_err(|e| self.read_error(batch, file, e))
    }

    fn read_error(&self, batch: &str, file: &str, e: input::InputError) -> MergeError {
        MergeError::Read {
            path: self.name(batch, file),
            message: match e {
                input::InputError::Read { source, .. } => source.to_string(),
                other => other.to_string(),
            },
        }
    }

    /// A batch's events or text file, which must hold exactly the `size`
    /// bytes its summary's records account for (`field`): no more is read.
    fn read_sized(
        &self,
        batch: &str,
        file: &str,
        field: &str,
        size: u64,
    ) -> Result<Vec<u8>, MergeError> {
        let corrupt = |holds: String| MergeError::Corrupt {
            batch: batch.to_owned(),
            path: self.name(batch, SUMMARY_FILE),
            field: format!("records[].{field}"),
            message: format!("add up to {size} bytes, but `{file}` holds {holds}"),
        };
        match self.read_raw(batch, file, size) {
            Ok(content) if content.len() as u64 == size => Ok(content),
            Ok(content) => Err(corrupt(content.len().to_string())),
            Err(input::InputError::TooLarge { .. }) => Err(corrupt("more".into())),
            Err(e) => Err(self.read_error(batch, file, e)),
        }
    }
}

/// What to say of a batch without a summary: its keys, when its started
/// marker names them, so that they can be run again.
fn unfinished(results: &Results<'_>, id: &str, error: &MergeError, max: u64) -> String {
    let started = results
        .read(id, STARTED_FILE, max)
        .ok()
        .and_then(|b| serde_json::from_slice::<BatchStarted>(&b).ok())
        .filter(|s| s.trailguard == STARTED_KIND);
    match started {
        Some(s) => {
            let mut message = format!(
                "batch `{id}` failed (or is still running): started, but {error}; its {} key{} not merged:",
                s.keys.len(),
                if s.keys.len() == 1 { "" } else { "s" }
            );
            for key in &s.keys {
                message.push_str("\n  ");
                message.push_str(&S3Url::key_url(&s.bucket, key));
            }
            message
        }
        None => format!("batch `{id}` not merged: {error}"),
    }
}

/// Running sums of every count the merge adds, each map summed whole, so
/// that a summary whose counts would overflow a total, or a sum the report
/// draws, is refused by name before anything of it is added.
#[derive(Default)]
struct Totals(HashMap<&'static str, u64>);

impl Totals {
    /// Adds `values` to the total of `key`; the error says which total.
    fn add(
        &mut self,
        key: &'static str,
        values: impl IntoIterator<Item = u64>,
    ) -> Result<(), String> {
        let total = self.0.entry(key).or_default();
        let mut sum = *total;
        for v in values {
            sum = sum
                .checked_add(v)
                .ok_or_else(|| format!("overflows the merged total ({v} added to {sum})"))?;
        }
        *total = sum;
        Ok(())
    }

    /// Checks one batch's counts against the totals and adds them; the
    /// error names the field of the batch's summary at fault.
    fn add_batch(&mut self, file: &BatchSummary) -> Result<(), (String, String)> {
        let s = &file.summary;
        let scalars = [
            ("bytes", s.bytes),
            ("events", s.events),
            ("ignored", s.ignored),
            ("errors", s.errors),
            ("findings", s.findings),
            ("digests", s.digests),
        ];
        for (name, v) in scalars {
            self.add(name, [v])
                .map_err(|m| (format!("summary.{name}"), m))?;
        }
        let maps = [
            ("by_rule", &s.by_rule),
            ("by_severity", &s.by_severity),
            ("by_actor", &s.by_actor),
            ("by_day", &s.by_day),
        ];
        for (name, map) in maps {
            self.add(name, map.values().copied())
                .map_err(|m| (format!("summary.{name}"), m))?;
        }
        for (i, record) in file.records.iter().enumerate() {
            let Some(page) = &record.page else { continue };
            let field = |name: &str| format!("records[{i}].page.{name}");
            self.add("page.findings", [page.findings])
                .map_err(|m| (field("findings"), m))?;
            self.add("page.by_day", page.by_day.values().flatten().copied())
                .map_err(|m| (field("by_day"), m))?;
            self.add("page.by_account", page.by_account.values().copied())
                .map_err(|m| (field("by_account"), m))?;
            for (key, of) in [
                (
                    "page.runs",
                    (|c: &html::RemediationCounts| c.runs) as fn(&_) -> u64,
                ),
                ("page.opt_in", |c| c.opt_in),
                ("page.exempt", |c| c.exempt),
            ] {
                self.add(key, page.remediations.values().map(of))
                    .map_err(|m| (field("remediations"), m))?;
            }
        }
        Ok(())
    }
}

/// One object's output: which batch holds it and where.
struct Entry {
    batch: usize,
    record: usize,
    json_at: usize,
    text_at: usize,
}

/// Merges every batch under `results`: reports go to `out` as a local
/// replay in `format` writes them (the HTML page included), each
/// unreadable object or missing batch summary to `on_error`; the summary
/// of all is returned. A summary that is not one is an error. A summary
/// or started marker past `max_input` bytes is not read (reported as a
/// batch not merged); an events or text file is read up to the size its
/// summary accounts for, and must hold exactly that.
pub fn merge(
    results: &Results<'_>,
    format: OutputFormat,
    max_input: u64,
    out: &mut dyn Write,
    on_error: &mut dyn FnMut(&str),
) -> Result<Summary, MergeError> {
    let ids = results.batches()?;
    if ids.is_empty() {
        return Err(MergeError::Empty(results.root()));
    }
    let mut batches: Vec<(String, BatchSummary)> = Vec::with_capacity(ids.len());
    // Each batch's events and text file sizes, as its records add up.
    let mut ends: Vec<(u64, u64)> = Vec::with_capacity(ids.len());
    let mut summary = Summary::default();
    let mut totals = Totals::default();
    for id in ids {
        let bytes = match results.read(&id, SUMMARY_FILE, max_input) {
            Ok(b) => b,
            // A batch still running, or one whose every attempt failed.
            Err(e) => {
                on_error(&unfinished(results, &id, &e, max_input));
                continue;
            }
        };
        let path = results.name(&id, SUMMARY_FILE);
        let bad = |message: String| MergeError::Summary {
            path: path.clone(),
            message,
        };
        let file: BatchSummary = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if file.trailguard != SUMMARY_KIND || file.version != VERSION {
            return Err(bad(format!(
                "`{}` version {}, expected `{SUMMARY_KIND}` version {VERSION}",
                file.trailguard, file.version
            )));
        }
        let corrupt = |(field, message): (String, String)| MergeError::Corrupt {
            batch: id.clone(),
            path: path.clone(),
            field,
            message,
        };
        // Checked before anything of the batch is added: no count of a
        // corrupt or hostile summary can overflow a total or a sum drawn.
        totals.add_batch(&file).map_err(corrupt)?;
        let (mut json_end, mut text_end) = (0u64, 0u64);
        for (r, record) in file.records.iter().enumerate() {
            for (name, end, n) in [
                ("json", &mut json_end, record.json),
                ("text", &mut text_end, record.text),
            ] {
                *end = end
                    .checked_add(n)
                    .filter(|e| usize::try_from(*e).is_ok())
                    .ok_or_else(|| {
                        corrupt((
                            format!("records[{r}].{name}"),
                            format!("says {n} bytes after {end}: past any file"),
                        ))
                    })?;
            }
        }
        summary.merge(file.summary.clone().into_summary().map_err(bad)?);
        batches.push((id, file));
        ends.push((json_end, text_end));
    }

    let mut entries = Vec::new();
    for (b, (_, file)) in batches.iter().enumerate() {
        // Fit in usize, and do not overflow: checked above.
        let (mut json_at, mut text_at) = (0usize, 0usize);
        for (r, record) in file.records.iter().enumerate() {
            entries.push(Entry {
                batch: b,
                record: r,
                json_at,
                text_at,
            });
            json_at += record.json as usize;
            text_at += record.text as usize;
        }
    }
    let url = |e: &Entry| batches[e.batch].1.records[e.record].url.as_str();
    entries.sort_by(|a, b| walk_order(url(a), url(b)));

    let mut page = html::Collector::default();
    for e in &entries {
        let record = &mut batches[e.batch].1.records[e.record];
        for message in &record.errors {
            on_error(message);
        }
        if let Some(p) = record.page.take() {
            page.merge(p);
        }
    }

    let (file, field, size): (&str, &str, fn(&super::batch::ObjectRecord) -> u64) = match format {
        OutputFormat::Json => (EVENTS_FILE, "json", |r| r.json),
        OutputFormat::Text => (TEXT_FILE, "text", |r| r.text),
        OutputFormat::Html => {
            out.write_all(html::render(&summary, &page).as_bytes())?;
            return Ok(summary);
        }
        OutputFormat::Summary => return Ok(summary),
    };
    // A batch's file is read when its first object's turn comes and
    // dropped after its last: one at a time while batches do not interleave.
    let mut left: HashMap<usize, usize> = HashMap::new();
    for e in &entries {
        if size(&batches[e.batch].1.records[e.record]) > 0 {
            *left.entry(e.batch).or_default() += 1;
        }
    }
    let mut loaded: HashMap<usize, Vec<u8>> = HashMap::new();
    for e in &entries {
        let (id, batch) = &batches[e.batch];
        let n = size(&batch.records[e.record]) as usize;
        if n == 0 {
            continue;
        }
        let content = match loaded.entry(e.batch) {
            hash_map::Entry::Occupied(o) => o.into_mut(),
            hash_map::Entry::Vacant(v) => {
                let (json_end, text_end) = ends[e.batch];
                let end = if file == EVENTS_FILE {
                    json_end
                } else {
                    text_end
                };
                v.insert(results.read_sized(id, file, field, end)?)
            }
        };
        let at = if file == EVENTS_FILE {
            e.json_at
        } else {
            e.text_at
        };
        // `at + n` is at most the batch's checked end.
        let bytes = content.get(at..at + n).ok_or_else(|| MergeError::Corrupt {
            batch: id.clone(),
            path: results.name(id, SUMMARY_FILE),
            field: format!("records[{}].{field}", e.record),
            message: format!(
                "says {n} bytes at offset {at}, but `{file}` holds {}",
                content.len()
            ),
        })?;
        out.write_all(bytes)?;
        let remaining = left.get_mut(&e.batch).expect("counted above");
        *remaining -= 1;
        if *remaining == 0 {
            loaded.remove(&e.batch);
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::{Value, json};

    use super::*;
    use crate::replay::batch::{ObjectRecord, SummaryRecord};

    /// Writes one batch's summary and JSON file: one line per object.
    fn batch(root: &Path, id: &str, urls: &[&str]) {
        let dir = root.join(BATCHES).join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let mut json = String::new();
        let mut records = Vec::new();
        for url in urls {
            let line = format!("{{\"location\":\"{url}#0\"}}\n");
            records.push(ObjectRecord {
                url: (*url).to_owned(),
                json: line.len() as u64,
                text: 0,
                errors: Vec::new(),
                page: None,
            });
            json.push_str(&line);
        }
        let file = BatchSummary {
            trailguard: SUMMARY_KIND.into(),
            version: VERSION,
            batch: id.into(),
            items: urls.len() as u64,
            objects: urls.len() as u64,
            summary: SummaryRecord {
                events: urls.len() as u64,
                ..SummaryRecord::default()
            },
            records,
        };
        std::fs::write(dir.join(SUMMARY_FILE), serde_json::to_vec(&file).unwrap()).unwrap();
        // Plain text reads as well as gzip.
        std::fs::write(dir.join(EVENTS_FILE), json).unwrap();
    }

    fn merged(root: &Path) -> (String, Vec<String>, Result<Summary, MergeError>) {
        let mut out = Vec::new();
        let mut errors = Vec::new();
        let summary = merge(
            &Results::Dir(root.to_owned()),
            OutputFormat::Json,
            input::DEFAULT_MAX_INPUT_BYTES,
            &mut out,
            &mut |e| errors.push(e.to_owned()),
        );
        (String::from_utf8(out).unwrap(), errors, summary)
    }

    /// Batches in S3's byte order interleave in a walk's order: the
    /// objects are put back in the walk's order, whichever batch holds them.
    #[test]
    fn objects_come_out_in_walk_order_across_batches() {
        let dir = tempfile::tempdir().unwrap();
        batch(
            dir.path(),
            "a",
            &["s3://b/k/CloudTrail-Digest/x", "s3://b/k/CloudTrail/2"],
        );
        batch(
            dir.path(),
            "b",
            &["s3://b/k/CloudTrail/1", "s3://b/k/CloudTrail/3"],
        );
        let (out, errors, summary) = merged(dir.path());
        let order: Vec<&str> = out.lines().map(|l| &l[13..l.len() - 4]).collect();
        assert_eq!(
            order,
            [
                "s3://b/k/CloudTrail/1",
                "s3://b/k/CloudTrail/2",
                "s3://b/k/CloudTrail/3",
                "s3://b/k/CloudTrail-Digest/x"
            ]
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(summary.unwrap().events, 4);
    }

    #[test]
    fn a_batch_without_summary_is_reported_and_the_rest_merged() {
        let dir = tempfile::tempdir().unwrap();
        batch(dir.path(), "a", &["s3://b/1"]);
        std::fs::create_dir_all(dir.path().join(BATCHES).join("unfinished")).unwrap();
        let (out, errors, summary) = merged(dir.path());
        assert_eq!(out.lines().count(), 1);
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("batch `unfinished` not merged: cannot read `"),
            "{errors:?}"
        );
        assert_eq!(summary.unwrap().events, 1);
    }

    /// A batch that died after its marker: reported with every key it
    /// was handed, and the others merged.
    #[test]
    fn a_started_batch_without_summary_is_reported_with_its_keys() {
        let dir = tempfile::tempdir().unwrap();
        batch(dir.path(), "a", &["s3://b/1"]);
        let died = dir.path().join(BATCHES).join("died");
        std::fs::create_dir_all(&died).unwrap();
        let started = BatchStarted {
            trailguard: STARTED_KIND.into(),
            version: VERSION,
            batch: "died".into(),
            bucket: "trail".into(),
            keys: vec!["AWSLogs/1/x.json.gz".into(), "AWSLogs/1/y.json.gz".into()],
        };
        std::fs::write(
            died.join(STARTED_FILE),
            serde_json::to_vec(&started).unwrap(),
        )
        .unwrap();
        let (out, errors, summary) = merged(dir.path());
        assert_eq!(out.lines().count(), 1);
        assert_eq!(summary.unwrap().events, 1);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let lines: Vec<&str> = errors[0].lines().collect();
        assert!(
            lines[0].starts_with(
                "batch `died` failed (or is still running): started, but cannot read `"
            ),
            "{}",
            lines[0]
        );
        assert!(lines[0].ends_with("its 2 keys not merged:"), "{}", lines[0]);
        assert_eq!(
            lines[1..],
            [
                "  s3://trail/AWSLogs/1/x.json.gz",
                "  s3://trail/AWSLogs/1/y.json.gz"
            ]
        );
    }

    /// Offsets and counts no batch can have (a corrupt or hostile
    /// summary): each refused with the batch and the field, in every
    /// format, never a panic or a wrapped total.
    #[test]
    fn a_crafted_summary_is_an_error_naming_the_batch_and_the_field() {
        type Craft = fn(&mut Value);
        let cases: [(&str, Craft, &str); 6] = [
            (
                "records[1].json",
                |s| s["records"][1]["json"] = json!(u64::MAX),
                "says 18446744073709551615 bytes after 26: past any file",
            ),
            (
                "records[1].text",
                |s| {
                    s["records"][0]["text"] = json!(1);
                    s["records"][1]["text"] = json!(u64::MAX);
                },
                "says 18446744073709551615 bytes after 1: past any file",
            ),
            (
                "summary.events",
                |s| s["summary"]["events"] = json!(u64::MAX),
                "overflows the merged total",
            ),
            (
                "summary.by_rule",
                |s| {
                    s["summary"]["by_rule"] =
                        json!({"root-api-call": u64::MAX, "root-console-login": 1})
                },
                "overflows the merged total",
            ),
            (
                "records[0].page.by_day",
                |s| s["records"][0]["page"] = json!({"by_day": {"2024-01-01": [u64::MAX, 1, 0, 0]}, "by_account": {}, "remediations": {}, "rows": [], "findings": 1}),
                "overflows the merged total",
            ),
            (
                "records[1].page.findings",
                |s| s["records"][1]["page"] = json!({"by_day": {}, "by_account": {}, "remediations": {}, "rows": [], "findings": u64::MAX}),
                "overflows the merged total",
            ),
        ];
        for (field, craft, message) in cases {
            let dir = tempfile::tempdir().unwrap();
            // Batch `a` is sound; batch `b` is crafted, on top of it.
            batch(dir.path(), "a", &["s3://b/1"]);
            batch(dir.path(), "b", &["s3://b/2", "s3://b/3"]);
            let path = dir.path().join(BATCHES).join("b").join(SUMMARY_FILE);
            let mut summary: Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            // Counts in `a` too, so that `b`'s overflow the total.
            if field == "records[1].page.findings" {
                summary["records"][0]["page"] = json!({"by_day": {}, "by_account": {}, "remediations": {}, "rows": [], "findings": 1});
            }
            craft(&mut summary);
            std::fs::write(&path, serde_json::to_vec(&summary).unwrap()).unwrap();
            if field.starts_with("summary.") {
                let a = dir.path().join(BATCHES).join("a").join(SUMMARY_FILE);
                let mut sound: Value = serde_json::from_slice(&std::fs::read(&a).unwrap()).unwrap();
                sound["summary"]["events"] = json!(1);
                sound["summary"]["by_rule"] = json!({"root-api-call": 1});
                std::fs::write(&a, serde_json::to_vec(&sound).unwrap()).unwrap();
            }
            for format in [
                OutputFormat::Json,
                OutputFormat::Text,
                OutputFormat::Summary,
                OutputFormat::Html,
            ] {
                let e = merge(
                    &Results::Dir(dir.path().to_owned()),
                    format,
                    input::DEFAULT_MAX_INPUT_BYTES,
                    &mut Vec::new(),
                    &mut |_| {},
                )
                .unwrap_err()
                .to_string();
                let expected = format!("batch `b`: `{field}` in `{}` ", path.display());
                assert!(e.starts_with(&expected), "{field}: {e}");
                assert!(e.contains(message), "{field}: {e}");
            }
        }
    }

    #[test]
    fn a_summary_that_is_not_one_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        batch(dir.path(), "a", &["s3://b/1"]);
        let path = dir.path().join(BATCHES).join("a").join(SUMMARY_FILE);
        std::fs::write(&path, r#"{"trailguard": "something-else"}"#).unwrap();
        let (_, _, summary) = merged(dir.path());
        let e = summary.unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("`{}` is not a batch summary: ", path.display())),
            "{e}"
        );
        // A file shorter, or longer, than its summary says: nothing of it
        // is printed, and no more than the summary's size is read.
        for (content, holds) in [
            ("{}", "2"),
            (&*format!("{}\n{{}}\n", "x".repeat(25)), "more"),
        ] {
            batch(dir.path(), "a", &["s3://b/1"]);
            std::fs::write(path.with_file_name(EVENTS_FILE), content).unwrap();
            let mut out = Vec::new();
            let e = merge(
                &Results::Dir(dir.path().to_owned()),
                OutputFormat::Json,
                input::DEFAULT_MAX_INPUT_BYTES,
                &mut out,
                &mut |_| {},
            )
            .unwrap_err()
            .to_string();
            assert_eq!(
                e,
                format!(
                    "batch `a`: `records[].json` in `{}` add up to 26 bytes, but `events.jsonl.gz` holds {holds}",
                    path.display()
                )
            );
            assert!(out.is_empty());
        }
    }

    /// A batch's events file is gzipped, and a short one is longer than
    /// what it inflates to: it is read by that size, not refused.
    #[test]
    fn a_short_gzipped_events_file_is_read_by_the_size_it_inflates_to() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        batch(dir.path(), "a", &["s3://b/1"]);
        let events = dir.path().join(BATCHES).join("a").join(EVENTS_FILE);
        let plain = std::fs::read(&events).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let gz = gz.finish().unwrap();
        assert!(gz.len() > plain.len(), "{} {}", gz.len(), plain.len());
        std::fs::write(&events, gz).unwrap();
        let mut out = Vec::new();
        merge(
            &Results::Dir(dir.path().to_owned()),
            OutputFormat::Json,
            input::DEFAULT_MAX_INPUT_BYTES,
            &mut out,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(out, plain);
    }

    /// A summary larger than the input cap is refused before it is parsed.
    #[test]
    fn a_summary_past_the_input_cap_is_not_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        batch(dir.path(), "a", &["s3://b/1"]);
        let path = dir.path().join(BATCHES).join("a").join(SUMMARY_FILE);
        let file = std::fs::File::create(&path).unwrap();
        file.set_len(1001).unwrap();
        let mut errors = Vec::new();
        let summary = merge(
            &Results::Dir(dir.path().to_owned()),
            OutputFormat::Summary,
            1000,
            &mut Vec::new(),
            &mut |m| errors.push(m.to_owned()),
        )
        .unwrap();
        assert_eq!(summary.events, 0);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("batch `a` not merged: cannot read `")
                && errors[0].contains("is larger than 1000 bytes once decompressed"),
            "{errors:?}"
        );
    }
}
