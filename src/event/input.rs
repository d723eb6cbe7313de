//! Turning bytes into events: EventBridge envelopes, bare CloudTrail records,
//! `{"Records": [...]}` log files (plain or gzipped), JSON lines, and JSON
//! arrays of any of these.
//!
//! A log file is streamed record by record into a callback, so a large file
//! never exists as a list of parsed events.

use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::CloudTrailEvent;
use super::skim::Skim;
use super::view::RecordView;

/// The two EventBridge detail-types that carry a CloudTrail record.
pub const CLOUDTRAIL_DETAIL_TYPES: [&str; 2] = [
    "AWS API Call via CloudTrail",
    "AWS Console Sign In via CloudTrail",
];

/// What one input document or record turned out to be.
#[derive(Debug)]
pub enum Item {
    /// A CloudTrail record, with the EventBridge envelope it came in, if any.
    CloudTrail {
        event: Box<CloudTrailEvent>,
        envelope: Option<Envelope>,
    },
    /// An EventBridge event that does not carry a CloudTrail record.
    Other(Envelope),
    /// A CloudTrail digest file (log file validation): no events, skipped.
    Digest,
}

/// The EventBridge envelope fields trailguard reads.
#[derive(Debug, Default, Clone, Deserialize, serde::Serialize)]
pub struct Envelope {
    #[serde(default, deserialize_with = "super::lenient::string")]
    pub id: Option<String>,
    #[serde(
        default,
        rename = "detail-type",
        deserialize_with = "super::lenient::string"
    )]
    pub detail_type: Option<String>,
    #[serde(default, deserialize_with = "super::lenient::string")]
    pub source: Option<String>,
    #[serde(default, deserialize_with = "super::lenient::string")]
    pub account: Option<String>,
    #[serde(default, deserialize_with = "super::lenient::string")]
    pub region: Option<String>,
    #[serde(default, deserialize_with = "super::lenient::string")]
    pub time: Option<String>,
}

/// Why an input could not be turned into events.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read `{path}`: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{location}` is not valid JSON: {source}")]
    Json {
        location: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("`{location}` is not an event: {reason}")]
    NotAnEvent { location: String, reason: String },
    /// A document of a multi-document input (JSON lines) that does not
    /// parse; reading resumed at the next line that starts a document.
    #[error("`{location}` is not valid JSON: {reason}; skipped to line {resumed_at}")]
    BadLine {
        location: String,
        reason: String,
        resumed_at: usize,
    },
    #[error(
        "`{path}` is larger than {max} bytes once decompressed; not read (raise the cap with --max-input-size)"
    )]
    TooLarge { path: String, max: u64 },
}

/// An item, or the error that stood in its place, with where it came from
/// (`path`, `path#3` for the fourth document or record).
#[derive(Debug)]
pub struct Located {
    pub location: String,
    pub item: Result<Item, InputError>,
}

/// One record or document of an input, as [`parse_records`] hands it on: a
/// log-file record still borrowed from the input, or an item already built.
#[derive(Debug)]
pub enum Record<'a> {
    /// Record `index` of the `{"Records": [...]}` log file `origin`, lent
    /// for the call: a view is large, and handing it on by value copied it
    /// at each step (5% of a replay's time).
    View {
        origin: &'a str,
        index: usize,
        view: &'a RecordView<'a>,
    },
    /// Record `index` of the log file `origin`, left unread: the skim
    /// found in its bytes none of the strings that would make a rule, a
    /// self check or a failed-call count look at it ([`Skim`]).
    Inert {
        origin: &'a str,
        index: usize,
        raw: &'a str,
    },
    /// Anything else: a document, an envelope, an error in its place.
    Located(Located),
}

impl Record<'_> {
    /// The owned item with its location, as [`parse`] hands it on.
    pub fn into_located(self) -> Located {
        match self {
            Record::View {
                origin,
                index,
                view,
            } => Located {
                location: format!("{origin}#{index}"),
                item: Ok(Item::CloudTrail {
                    event: Box::new(view.to_event()),
                    envelope: None,
                }),
            },
            Record::Inert { origin, index, raw } => {
                let location = format!("{origin}#{index}");
                // The skim does not look for a lone surrogate; read as
                // `parse` reads one.
                let repaired = repair_lone_surrogates(raw.as_bytes());
                let item = serde_json::from_slice::<RecordView>(&repaired)
                    .map(|view| Item::CloudTrail {
                        event: Box::new(view.to_event()),
                        envelope: None,
                    })
                    .map_err(|source| InputError::Json {
                        location: location.clone(),
                        source,
                    });
                Located { location, item }
            }
            Record::Located(located) => located,
        }
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The default cap on one input's decompressed size (`--max-input-size`).
/// CloudTrail's own log files are a few MB; a gzip bomb (2 MB of gzip that
/// inflates to 2 GiB) stops here instead of taking the machine's memory.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 256 << 20;

/// Reads a whole file, gunzipping it when it starts with the gzip magic; at
/// most `max` bytes once decompressed, or [`InputError::TooLarge`].
pub fn read_file(path: &Path, buf: &mut Vec<u8>, max: u64) -> Result<(), InputError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| InputError::Read {
        path: name.clone(),
        source,
    })?;
    let hint = file.metadata().map_or(0, |m| m.len());
    read_capped(std::io::BufReader::new(file), hint, &name, buf, max)
}

/// Reads `reader` whole into `buf` (gunzipped when it starts with the gzip
/// magic), stopping with [`InputError::TooLarge`] past `max` decompressed
/// bytes, so memory stays bounded whatever the input. `size_hint` is the
/// stored size, if known, to allocate once.
pub fn read_capped(
    mut reader: impl Read,
    size_hint: u64,
    name: &str,
    buf: &mut Vec<u8>,
    max: u64,
) -> Result<(), InputError> {
    let err = |source| InputError::Read {
        path: name.to_owned(),
        source,
    };
    buf.clear();
    let mut magic = Vec::with_capacity(2);
    (&mut reader).take(2).read_to_end(&mut magic).map_err(err)?;
    let is_gzip = magic.starts_with(&GZIP_MAGIC);
    let whole = std::io::Cursor::new(magic).chain(reader);
    let limit = max.saturating_add(1);
    if is_gzip {
        COMPRESSED
            .with(|cell| {
                let mut gz = cell.borrow_mut();
                let inflated = gunzip(whole, &mut gz, size_hint, buf, max);
                gz.clear();
                gz.shrink_to(KEPT_COMPRESSED);
                inflated
            })
            .map_err(err)?;
    } else {
        buf.reserve(size_hint.min(max) as usize);
        whole.take(limit).read_to_end(buf).map_err(err)?;
    }
    if buf.len() as u64 > max {
        buf.clear();
        buf.shrink_to(1 << 20);
        return Err(InputError::TooLarge {
            path: name.to_owned(),
            max,
        });
    }
    Ok(())
}

thread_local! {
    /// Each thread's buffer for the compressed bytes of the input it reads.
    static COMPRESSED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The compressed buffer a thread keeps between inputs: CloudTrail's log
/// files are a few MB gzipped; a larger one's is given back.
const KEPT_COMPRESSED: usize = 8 << 20;

/// Reads the compressed bytes whole into `gz` (at most `max` and one more),
/// then inflates them into `buf`, at most `max` and one more: with
/// libdeflate when they are one gzip member that says its size, else with
/// flate2's streaming decoder over what was read and the rest (several
/// members, a trailer that lies, bad data, more compressed bytes than
/// `max`: its answers and errors are the ones reported). The cap is on
/// the inflated bytes only, as it always was.
fn gunzip(
    mut reader: impl Read,
    gz: &mut Vec<u8>,
    size_hint: u64,
    buf: &mut Vec<u8>,
    max: u64,
) -> std::io::Result<()> {
    let limit = max.saturating_add(1);
    gz.clear();
    gz.reserve(size_hint.min(max) as usize);
    (&mut reader).take(limit).read_to_end(gz)?;
    let whole = (gz.len() as u64) < limit;
    if whole && super::gunzip::one_member(gz, buf, max) {
        return Ok(());
    }
    // Compressed CloudTrail JSON inflates about tenfold.
    buf.reserve((gz.len() as u64).saturating_mul(10).min(max) as usize);
    flate2::read::MultiGzDecoder::new(std::io::Cursor::new(&gz[..]).chain(reader))
        .take(limit)
        .read_to_end(buf)?;
    Ok(())
}

/// Parses a size such as `268435456`, `256M`, `256MiB`, `1G` (binary units).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => return Err(format!("`{text}`: expected a size such as 256M or 1G")),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{text}`: expected a size such as 256M or 1G"))
}

/// Rewrites each `\uXXXX` escape of a lone UTF-16 surrogate as `\uFFFD`
/// (the replacement character). serde_json rejects lone surrogates, which
/// would drop the whole event, or the whole log file, over one string.
/// Pairs are kept. The escape keeps its length, so offsets do not move.
pub fn repair_lone_surrogates(bytes: &[u8]) -> Cow<'_, [u8]> {
    // Cheap first look: most inputs have no `\uD` escape at all.
    if memchr::memmem::find(bytes, b"\\ud").is_none()
        && memchr::memmem::find(bytes, b"\\uD").is_none()
    {
        return Cow::Borrowed(bytes);
    }
    let hex4 = |at: usize| -> Option<u32> {
        let digits = std::str::from_utf8(bytes.get(at..at + 4)?).ok()?;
        u32::from_str_radix(digits, 16).ok()
    };
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    while let Some(found) = memchr::memchr(b'\\', &bytes[i..]) {
        let at = i + found;
        if bytes.get(at + 1) != Some(&b'u') {
            // Any other escape, `\\` included, is two bytes.
            i = at + 2;
            continue;
        }
        let Some(unit) = hex4(at + 2) else {
            i = at + 2;
            continue;
        };
        i = at + 6;
        let lone = match unit {
            0xD800..=0xDBFF => {
                let low = (bytes.get(at + 6..at + 8) == Some(b"\\u"))
                    .then(|| hex4(at + 8))
                    .flatten();
                if low.is_some_and(|u| (0xDC00..=0xDFFF).contains(&u)) {
                    i = at + 12;
                    false
                } else {
                    true
                }
            }
            0xDC00..=0xDFFF => true,
            _ => false,
        };
        if lone {
            let out = out.get_or_insert_with(|| bytes.to_vec());
            out[at..at + 6].copy_from_slice(b"\\uFFFD");
        }
        if i >= bytes.len() {
            break;
        }
    }
    match out {
        Some(v) => Cow::Owned(v),
        None => Cow::Borrowed(bytes),
    }
}

/// Parses one JSON document (a Lambda payload), lone surrogates read as
/// U+FFFD; an error names `location`.
pub fn value_from_str(text: &str, location: &str) -> Result<Value, InputError> {
    let repaired = repair_lone_surrogates(text.as_bytes());
    serde_json::from_slice(&repaired).map_err(|source| InputError::Json {
        location: location.to_owned(),
        source,
    })
}

/// Parses every event in `bytes`, calling `sink` once per record or document
/// in input order. `origin` names the input in locations and errors.
pub fn parse(bytes: &[u8], origin: &str, sink: &mut dyn FnMut(Located)) {
    parse_records(bytes, origin, None, &mut |record| {
        sink(record.into_located())
    });
}

/// [`parse`], handing on the records of a log file borrowed from `bytes`
/// ([`Record::View`]), so that a caller that needs only a few of their
/// fields builds no event. With a `skim`, the records of a log file it
/// finds nothing in are handed on unread ([`Record::Inert`]).
pub fn parse_records(
    bytes: &[u8],
    origin: &str,
    skim: Option<&Skim>,
    sink: &mut dyn FnMut(Record<'_>),
) {
    // Lone surrogates are rare and finding them means a scan of every
    // input: parse as is, and only when serde_json stumbles on one, parse
    // again with them replaced, handing on what follows the items already
    // handed on (the replacement changes no item count before that point).
    let mut passed = 0usize;
    let mut stumbled = false;
    parse_as_is(bytes, origin, skim, &mut |record| {
        if stumbled {
            return;
        }
        if let Record::Located(located) = &record
            && stumbles_on_a_surrogate(located)
        {
            stumbled = true;
            return;
        }
        passed += 1;
        sink(record);
    });
    if !stumbled {
        return;
    }
    let repaired = repair_lone_surrogates(bytes);
    let mut skip = passed;
    parse_as_is(&repaired, origin, skim, &mut |record| {
        if skip > 0 {
            skip -= 1;
        } else {
            sink(record);
        }
    });
}

/// Is this serde_json refusing a lone surrogate escape?
fn stumbles_on_a_surrogate(located: &Located) -> bool {
    let message = match &located.item {
        Err(InputError::Json { source, .. }) => source.to_string(),
        Err(InputError::BadLine { reason, .. }) => reason.clone(),
        _ => return false,
    };
    message.contains("lone leading surrogate") || message.contains("unexpected end of hex escape")
}

/// [`parse_records`] without the surrogate repair.
fn parse_as_is(bytes: &[u8], origin: &str, skim: Option<&Skim>, sink: &mut dyn FnMut(Record<'_>)) {
    // Reading bytes, serde_json checks each string for UTF-8 on its own; one
    // check of the whole input is far cheaper. Input that is not UTF-8 takes
    // the byte path, which still reads every record before the bad one.
    let text = simdutf8::basic::from_utf8(bytes).ok();
    if starts_with_records_key(bytes) {
        match text {
            Some(text) if let Some(skim) = skim => skim_log_file(text, origin, skim, sink),
            Some(text) => read_log_file(text, origin, sink),
            None => parse_log_file(
                serde_json::Deserializer::from_slice(bytes),
                origin,
                &mut |record| sink(record),
            ),
        }
        return;
    }
    parse_documents(bytes, text, origin, &mut |located| {
        sink(Record::Located(located))
    });
}

fn parse_log_file<'de, R: serde_json::de::Read<'de>>(
    de: serde_json::Deserializer<R>,
    origin: &'de str,
    sink: &mut dyn FnMut(Record<'_>),
) {
    if let Err((source, index)) = read_with(de, origin, Reading::Stream, sink) {
        sink(json_error(origin, index, source));
    }
}

/// Reads a log file's records the `reading` way; `Err` with the error and
/// the index of the record it stopped at.
fn read_with<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    origin: &'de str,
    reading: Reading<'_>,
    sink: &mut dyn FnMut(Record<'_>),
) -> Result<(), (serde_json::Error, usize)> {
    let mut index = 0usize;
    LogFileSeed {
        origin,
        index: &mut index,
        sink,
        reading,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end())
    .map_err(|e| (e, index))
}

/// The error that stands for record `index` of `origin`.
fn json_error(origin: &str, index: usize, source: serde_json::Error) -> Record<'static> {
    let location = format!("{origin}#{index}");
    Record::Located(Located {
        location: location.clone(),
        item: Err(InputError::Json { location, source }),
    })
}

/// [`parse_log_file`] of a UTF-8 log file, which goes on after a record
/// that is valid JSON but fails its view (a field given twice): that
/// record is reported in its place and the records after it are read,
/// each from its own bytes ([`Reading::After`]). A syntax error still
/// ends the file: what follows it cannot be told apart.
fn read_log_file(text: &str, origin: &str, sink: &mut dyn FnMut(Record<'_>)) {
    let from = || serde_json::Deserializer::from_str(text);
    let Err((source, bad)) = read_with(from(), origin, Reading::Stream, sink) else {
        return;
    };
    if source.classify() != serde_json::error::Category::Data {
        sink(json_error(origin, bad, source));
        return;
    }
    let error = std::cell::Cell::new(Some(source));
    let after = read_with(from(), origin, Reading::After { bad, error: &error }, sink);
    match (error.take(), after) {
        // The failure was not in a record, or that record's bytes are not
        // JSON either: reported as the streaming read found it.
        (Some(source), _) => sink(json_error(origin, bad, source)),
        (None, Err((later, index))) => sink(json_error(origin, index, later)),
        (None, Ok(())) => {}
    }
}

/// A `{"Records": [...]}` log file read with a skim: each record is
/// skipped as serde_json skips a value, then searched by the skim, and
/// read into a view only when the skim finds something in it; the others
/// are handed on as [`Record::Inert`]. Anything amiss (a syntax error, a
/// record whose view fails) and the file is read again without the skim
/// from the record it stopped at, so that errors and what follows them
/// are the ones [`read_log_file`] reports.
fn skim_log_file(text: &str, origin: &str, skim: &Skim, sink: &mut dyn FnMut(Record<'_>)) {
    let de = serde_json::Deserializer::from_str(text);
    if let Err((_, mut handed)) = read_with(de, origin, Reading::Skim(skim), sink) {
        read_log_file(text, origin, &mut |record| {
            if handed > 0 {
                handed -= 1;
            } else {
                sink(record);
            }
        });
    }
}

/// One or more JSON documents (JSON lines, concatenated documents, a
/// pretty-printed document). A document that does not parse is reported as
/// `origin#L<line>` and reading resumes at the next line that starts with
/// `{` or `[` in its first column: one bad line of a JSON-lines file costs
/// that line only, and a broken pretty-printed document one error, not one
/// per line.
fn parse_documents(bytes: &[u8], text: Option<&str>, origin: &str, sink: &mut dyn FnMut(Located)) {
    let mut index = 0usize;
    let mut start = 0usize;
    // Lines before `start`, to give absolute line numbers after a resume.
    let mut lines_before = 0usize;
    while start < bytes.len() {
        // `start` follows a newline, so it is a char boundary of `text`.
        let failure = match text {
            Some(t) => documents(
                serde_json::Deserializer::from_str(&t[start..]),
                origin,
                &mut index,
                sink,
            ),
            None => documents(
                serde_json::Deserializer::from_slice(&bytes[start..]),
                origin,
                &mut index,
                sink,
            ),
        };
        let Some((source, good_end)) = failure else {
            return;
        };
        // The failed document starts after the last good one's whitespace.
        let rest = &bytes[start + good_end..];
        let doc_start = start + good_end + (rest.len() - rest.trim_ascii_start().len());
        let doc_line = lines_before + 1 + newlines(&bytes[start..doc_start]);
        let resume = next_document_line(bytes, doc_start);
        let resumed_at = doc_line + newlines(&bytes[doc_start..resume]);
        sink(bad_line(
            origin,
            doc_line,
            &source,
            lines_before,
            resumed_at,
        ));
        lines_before = resumed_at - 1;
        start = resume;
    }
}

/// Streams documents into the sink; on a syntax error, the error and the
/// byte offset after the last good document.
fn documents<'de, R: serde_json::de::Read<'de>>(
    de: serde_json::Deserializer<R>,
    origin: &str,
    index: &mut usize,
    sink: &mut dyn FnMut(Located),
) -> Option<(serde_json::Error, usize)> {
    let mut stream = de.into_iter::<Value>();
    loop {
        match stream.next()? {
            Ok(Value::Array(items)) => {
                for item in items {
                    classify(item, origin, index, sink);
                }
            }
            Ok(value) => classify(value, origin, index, sink),
            Err(source) => return Some((source, stream.byte_offset())),
        }
    }
}

fn newlines(bytes: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', bytes).count()
}

/// The offset of the first line after `from`'s line that starts with `{`
/// or `[`, or the end of the input.
fn next_document_line(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    while let Some(nl) = memchr::memchr(b'\n', &bytes[at..]) {
        at += nl + 1;
        if matches!(bytes.get(at), Some(b'{' | b'[')) {
            return at;
        }
    }
    bytes.len()
}

/// The report of a document that does not parse, starting at line
/// `doc_line` of `origin`; `lines_before` the lines before the parse began,
/// `resumed_at` the line reading goes on from.
fn bad_line(
    origin: &str,
    doc_line: usize,
    error: &serde_json::Error,
    lines_before: usize,
    resumed_at: usize,
) -> Located {
    let location = format!("{origin}#L{doc_line}");
    let reason = format!(
        "{} at line {} column {}",
        strip_position(error),
        lines_before + error.line(),
        error.column()
    );
    Located {
        location: location.clone(),
        item: Err(InputError::BadLine {
            location,
            reason,
            resumed_at,
        }),
    }
}

/// serde_json's message without its ` at line L column C`, which counts
/// from where reading resumed, not from the start of the input.
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// How much one read asks for.
const READ_CHUNK: usize = 64 << 10;

/// Past this many bytes of one unfinished document, wait for it to grow by
/// half before parsing it again, so that a large pretty-printed document
/// arriving in small reads is not parsed over and over.
const REPARSE_FROM: usize = 1 << 20;

/// Parses events from `reader` as its bytes arrive (gunzipped when they
/// start with the gzip magic), calling `sink` per record or document.
///
/// A `{"Records": [...]}` log file is read whole, at most `max` bytes, then
/// streamed record by record (see [`parse`]). Any other input (JSON lines,
/// concatenated or pretty-printed documents) is parsed as its lines
/// arrive: each complete document is handed to `sink` before the next line
/// is read, so a pipe that stays open is acted on line by line, and memory
/// holds the unfinished document only, at most `max` bytes. Bad lines are
/// reported and skipped as [`parse`] does. `Err` when the input cannot be
/// read or holds too much; what came before it was handed to `sink`.
pub fn parse_reader(
    mut reader: impl Read,
    origin: &str,
    max: u64,
    sink: &mut dyn FnMut(Located),
) -> Result<(), InputError> {
    let read_err = |source| InputError::Read {
        path: origin.to_owned(),
        source,
    };
    let too_large = || InputError::TooLarge {
        path: origin.to_owned(),
        max,
    };
    let mut magic = Vec::with_capacity(2);
    (&mut reader)
        .take(2)
        .read_to_end(&mut magic)
        .map_err(read_err)?;
    let is_gzip = magic.starts_with(&GZIP_MAGIC);
    let whole = std::io::Cursor::new(magic).chain(reader);
    let mut src: Box<dyn Read> = if is_gzip {
        Box::new(flate2::read::MultiGzDecoder::new(whole))
    } else {
        Box::new(whole)
    };
    let mut buf: Vec<u8> = Vec::new();
    let mut eof = false;
    // Never more than the cap at once, so that one line longer than the
    // cap is caught before it is held whole.
    let chunk = max.clamp(1, READ_CHUNK as u64);
    // One read at a time (not read_to_end): a pipe hands over what it has,
    // and what it has is parsed before waiting for more. `true` at the end.
    let mut fill = |buf: &mut Vec<u8>| -> Result<bool, InputError> {
        let before = buf.len();
        buf.resize(before + chunk as usize, 0);
        let n = loop {
            match src.read(&mut buf[before..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    buf.truncate(before);
                    return Err(read_err(e));
                }
            }
        };
        buf.truncate(before + n);
        Ok(n == 0)
    };
    // Does it start like a CloudTrail log file (`{"Records"` first)? Read
    // until that can be told, looking at each byte once.
    let key = b"\"Records\"";
    let whitespace = |b: &[u8]| b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    let mut lead = 0;
    let mut after_brace: Option<usize> = None;
    let log_file = loop {
        lead += whitespace(&buf[lead..]);
        if lead < buf.len() {
            if buf[lead] != b'{' {
                break false;
            }
            let at = after_brace.get_or_insert(lead + 1);
            *at += whitespace(&buf[*at..]);
            let rest = &buf[*at..];
            if rest.len() >= key.len() || !key.starts_with(rest) {
                break rest.starts_with(key);
            }
        }
        if eof {
            break false;
        }
        if buf.len() as u64 > max {
            return Err(too_large());
        }
        eof = fill(&mut buf)?;
    };
    if log_file {
        while !eof {
            if buf.len() as u64 > max {
                return Err(too_large());
            }
            eof = fill(&mut buf)?;
        }
        if buf.len() as u64 > max {
            return Err(too_large());
        }
        parse(&buf, origin, sink);
        return Ok(());
    }

    let mut index = 0usize;
    // `buf[..start]` is done with; `lines_before` counts its lines.
    let mut start = 0usize;
    let mut lines_before = 0usize;
    // The unfinished document's size when it was last parsed.
    let mut tried = 0usize;
    // The end of the complete lines read so far, found in each read's new
    // bytes only, so a long line costs one scan, not one per read.
    let mut end = memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1);
    loop {
        if start > READ_CHUNK && start * 2 > buf.len() {
            buf.drain(..start);
            end = end.saturating_sub(start);
            start = 0;
        }
        // Parse the complete lines only (all of it at the end).
        if eof {
            end = buf.len();
        }
        let upto = end.max(start);
        let pending = upto - start;
        // Parse again only when whole lines were added (and, for a large
        // unfinished document, enough of them); at the end, always.
        let grown = pending > tried && (pending < REPARSE_FROM || pending >= tried + tried / 2);
        if pending > 0 && (eof || grown) {
            tried = pending;
            let chunk = repair_lone_surrogates(&buf[start..upto]);
            let failure = match std::str::from_utf8(&chunk) {
                Ok(text) => documents(
                    serde_json::Deserializer::from_str(text),
                    origin,
                    &mut index,
                    sink,
                ),
                Err(_) => documents(
                    serde_json::Deserializer::from_slice(&chunk),
                    origin,
                    &mut index,
                    sink,
                ),
            };
            match failure {
                None => {
                    lines_before += newlines(&buf[start..upto]);
                    start = upto;
                    tried = 0;
                }
                // A document goes on past the lines read so far.
                Some((e, good_end)) if e.is_eof() && !eof => {
                    lines_before += newlines(&buf[start..start + good_end]);
                    start += good_end;
                    tried -= good_end;
                }
                Some((e, good_end)) => {
                    let rest = &buf[start + good_end..];
                    let doc_start = start + good_end + (rest.len() - rest.trim_ascii_start().len());
                    let doc_line = lines_before + 1 + newlines(&buf[start..doc_start]);
                    // Where the next document starts may not be read yet.
                    let mut from = doc_start;
                    let resume = loop {
                        match document_line_after(&buf, from) {
                            Ok(at) => break at,
                            Err(_) if eof => break buf.len(),
                            Err(scanned) => from = scanned,
                        }
                        if (buf.len() - doc_start) as u64 > max {
                            return Err(too_large());
                        }
                        eof = fill(&mut buf)?;
                    };
                    let resumed_at = doc_line + newlines(&buf[doc_start..resume]);
                    sink(bad_line(origin, doc_line, &e, lines_before, resumed_at));
                    lines_before = resumed_at - 1;
                    start = resume;
                    tried = 0;
                    // Lines read while looking for the resume point.
                    end = memchr::memrchr(b'\n', &buf[start..]).map_or(start, |i| start + i + 1);
                    continue;
                }
            }
        }
        if eof && start >= buf.len() {
            return Ok(());
        }
        if (buf.len() - start) as u64 > max {
            return Err(too_large());
        }
        if eof {
            // Parsed everything there is; a last partial line was handled above.
            return Ok(());
        }
        let before = buf.len();
        eof = fill(&mut buf)?;
        if let Some(i) = memchr::memrchr(b'\n', &buf[before..]) {
            end = before + i + 1;
        }
    }
}

/// The offset of the first line after `from`'s line that starts with `{`
/// or `[`; else where to look again once more bytes are read.
fn document_line_after(bytes: &[u8], from: usize) -> Result<usize, usize> {
    let mut at = from;
    while let Some(nl) = memchr::memchr(b'\n', &bytes[at..]) {
        let line = at + nl + 1;
        match bytes.get(line) {
            Some(b'{' | b'[') => return Ok(line),
            Some(_) => at = line,
            // The newline is the last byte read: look at it again.
            None => return Err(at + nl),
        }
    }
    Err(bytes.len())
}

/// Parses one document held in memory (a Lambda payload, a test fixture).
pub fn parse_value(value: Value, origin: &str) -> Vec<Located> {
    let mut out = Vec::new();
    let mut index = 0;
    classify(value, origin, &mut index, &mut |l| out.push(l));
    out
}

/// Is the first key of the top-level object `"Records"`, as in every log
/// file CloudTrail delivers? Those take the streaming path.
fn starts_with_records_key(bytes: &[u8]) -> bool {
    let mut rest = bytes.trim_ascii_start();
    let Some(after) = rest.strip_prefix(b"{") else {
        return false;
    };
    rest = after.trim_ascii_start();
    rest.starts_with(b"\"Records\"")
}

fn classify(value: Value, origin: &str, index: &mut usize, sink: &mut dyn FnMut(Located)) {
    let location = format!("{origin}#{index}");
    *index += 1;
    let Value::Object(mut map) = value else {
        let reason = "expected a JSON object".to_owned();
        sink(Located {
            location: location.clone(),
            item: Err(InputError::NotAnEvent { location, reason }),
        });
        return;
    };
    // A Lambda on-failure destination record wraps the original payload.
    if map.contains_key("requestContext")
        && let Some(payload) = map.remove("requestPayload")
    {
        *index -= 1;
        return classify(payload, origin, index, sink);
    }
    // Log file validation writes a digest file beside the logs: hashes of
    // the log files, no events (`digestStartTime`, `logFiles`, no `Records`).
    if !map.contains_key("Records")
        && map.contains_key("digestStartTime")
        && map.contains_key("logFiles")
    {
        *index -= 1;
        sink(Located {
            location,
            item: Ok(Item::Digest),
        });
        return;
    }
    if let Some(records) = map.remove("Records") {
        let Value::Array(records) = records else {
            let reason = "`Records` is not a list".to_owned();
            sink(Located {
                location: location.clone(),
                item: Err(InputError::NotAnEvent { location, reason }),
            });
            return;
        };
        *index -= 1;
        for record in records {
            let location = format!("{origin}#{index}");
            *index += 1;
            let item = record_from_value(record, &location).map(|event| Item::CloudTrail {
                event: Box::new(event),
                envelope: None,
            });
            sink(Located { location, item });
        }
        return;
    }
    let item = if map.contains_key("detail-type") || map.contains_key("detail") {
        envelope_item(map, &location)
    } else if map.contains_key("eventName") || map.contains_key("eventSource") {
        record_from_value(Value::Object(map), &location).map(|event| Item::CloudTrail {
            event: Box::new(event),
            envelope: None,
        })
    } else {
        Err(InputError::NotAnEvent {
            location: location.clone(),
            reason: "neither an EventBridge event, a CloudTrail record nor a log file".into(),
        })
    };
    sink(Located { location, item });
}

fn envelope_item(mut map: Map<String, Value>, location: &str) -> Result<Item, InputError> {
    let detail = map.remove("detail");
    let envelope: Envelope =
        serde_json::from_value(Value::Object(map)).map_err(|source| InputError::Json {
            location: location.to_owned(),
            source,
        })?;
    let is_cloudtrail = envelope
        .detail_type
        .as_deref()
        .is_some_and(|t| CLOUDTRAIL_DETAIL_TYPES.contains(&t));
    match detail {
        Some(detail @ Value::Object(_)) if is_cloudtrail => {
            let event = record_from_value(detail, location)?;
            Ok(Item::CloudTrail {
                event: Box::new(event),
                envelope: Some(envelope),
            })
        }
        _ if is_cloudtrail => Err(InputError::NotAnEvent {
            location: location.to_owned(),
            reason: "CloudTrail envelope without an object `detail`".into(),
        }),
        _ => Ok(Item::Other(envelope)),
    }
}

fn record_from_value(value: Value, location: &str) -> Result<CloudTrailEvent, InputError> {
    if !value.is_object() {
        return Err(InputError::NotAnEvent {
            location: location.to_owned(),
            reason: "expected a JSON object".into(),
        });
    }
    // Raw-JSON fields need serde_json's own deserializer, so go through text.
    let text = value.to_string();
    CloudTrailEvent::from_json(&text).map_err(|source| InputError::Json {
        location: location.to_owned(),
        source,
    })
}

/// Streams `{"Records": [...], ...}` into the sink, one record at a time.
struct LogFileSeed<'a, 's, 'de> {
    origin: &'de str,
    index: &'a mut usize,
    sink: &'s mut dyn FnMut(Record<'_>),
    reading: Reading<'a>,
}

/// How a log file's records are read.
#[derive(Clone, Copy)]
enum Reading<'a> {
    /// Each into its view as it is read.
    Stream,
    /// Each skipped, then searched by the skim; read into its view only
    /// when the skim finds something.
    Skim(&'a Skim),
    /// Again, after record `bad` failed its view: the records before it
    /// passed over (they were handed on), its `error` reported in its
    /// place, each record after it read from its own bytes.
    After {
        bad: usize,
        error: &'a std::cell::Cell<Option<serde_json::Error>>,
    },
}

impl<'de> DeserializeSeed<'de> for LogFileSeed<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LogFileSeed<'_, '_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail log file")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "Records" {
                map.next_value_seed(RecordsSeed {
                    origin: self.origin,
                    index: &mut *self.index,
                    sink: &mut *self.sink,
                    reading: self.reading,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct RecordsSeed<'a, 's, 'de> {
    origin: &'de str,
    index: &'a mut usize,
    sink: &'s mut dyn FnMut(Record<'_>),
    reading: Reading<'a>,
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_, '_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of CloudTrail records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if !matches!(self.reading, Reading::Stream) {
            while seq
                .next_element_seed(RawEntrySeed {
                    origin: self.origin,
                    index: *self.index,
                    sink: &mut *self.sink,
                    reading: self.reading,
                })?
                .is_some()
            {
                *self.index += 1;
            }
            return Ok(());
        }
        // Each record goes to the sink from where it was read: a view is
        // about 800 bytes, and handing it back up through the sequence's
        // `Option` copied it once more per record. The index counts a
        // record once it has been read, so an error names the one that
        // failed.
        while seq
            .next_element_seed(EntrySeed {
                origin: self.origin,
                index: *self.index,
                sink: &mut *self.sink,
            })?
            .is_some()
        {
            *self.index += 1;
        }
        Ok(())
    }
}

/// A log-file entry: a record, handed to the sink borrowed; or something
/// else, reported, not fatal.
struct EntrySeed<'s, 'de> {
    origin: &'de str,
    index: usize,
    sink: &'s mut dyn FnMut(Record<'_>),
}

impl EntrySeed<'_, '_> {
    fn not_an_object(self) {
        let location = format!("{}#{}", self.origin, self.index);
        (self.sink)(Record::Located(Located {
            location: location.clone(),
            item: Err(InputError::NotAnEvent {
                location,
                reason: "a `Records` entry is not a JSON object".into(),
            }),
        }));
    }
}

/// A log-file entry skipped as a raw slice of the file, then, as `reading`
/// says ([`Reading::Skim`] or [`Reading::After`]), passed over, handed on
/// unread, or read into a view from that slice.
struct RawEntrySeed<'s, 'k, 'de> {
    origin: &'de str,
    index: usize,
    sink: &'s mut dyn FnMut(Record<'_>),
    reading: Reading<'k>,
}

impl<'de> DeserializeSeed<'de> for RawEntrySeed<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        let raw = <&'de RawValue>::deserialize(d)?.get();
        let (origin, index) = (self.origin, self.index);
        if let Reading::After { bad, error } = self.reading {
            if index < bad {
                return Ok(());
            }
            if index == bad {
                if let Some(source) = error.take() {
                    (self.sink)(json_error(origin, index, source));
                }
                return Ok(());
            }
        }
        if !raw.starts_with('{') {
            EntrySeed {
                origin,
                index,
                sink: self.sink,
            }
            .not_an_object();
            return Ok(());
        }
        if let Reading::Skim(skim) = self.reading
            && !skim.finds(raw)
        {
            (self.sink)(Record::Inert { origin, index, raw });
            return Ok(());
        }
        match serde_json::from_str::<RecordView>(raw) {
            Ok(view) => (self.sink)(Record::View {
                origin,
                index,
                view: &view,
            }),
            // Skimming, a failure is told as the unskimmed reading tells it.
            Err(_) if matches!(self.reading, Reading::Skim(_)) => {
                return Err(de::Error::custom("a record to read again unskimmed"));
            }
            Err(source) => (self.sink)(json_error(origin, index, source)),
        }
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for EntrySeed<'_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail record")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let view = RecordView::deserialize(de::value::MapAccessDeserializer::new(map))?;
        // The location is written only when someone asks for it.
        (self.sink)(Record::View {
            origin: self.origin,
            index: self.index,
            view: &view,
        });
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.not_an_object();
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.not_an_object();
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.not_an_object();
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.not_an_object();
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.not_an_object();
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.not_an_object();
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.not_an_object();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(bytes: &[u8]) -> Vec<Located> {
        let mut out = Vec::new();
        parse(bytes, "t", &mut |l| out.push(l));
        out
    }

    fn names(items: &[Located]) -> Vec<String> {
        items
            .iter()
            .map(|l| match &l.item {
                Ok(Item::CloudTrail { event, .. }) => event.name().to_owned(),
                Ok(Item::Other(env)) => {
                    format!("other:{}", env.detail_type.clone().unwrap_or_default())
                }
                Ok(Item::Digest) => "digest".into(),
                Err(e) => format!("error:{e}"),
            })
            .collect()
    }

    #[test]
    fn log_file_records_stream_in_order() {
        let items = collect(br#" {"Records": [{"eventName": "A"}, 3, {"eventName": "B"}]}"#);
        assert_eq!(names(&items)[0], "A");
        assert!(names(&items)[1].starts_with("error:`t#1` is not an event"));
        assert_eq!(names(&items)[2], "B");
        assert_eq!(items[2].location, "t#2");
    }

    #[test]
    fn a_record_that_fails_its_view_is_reported_and_the_file_goes_on() {
        let items = collect(
            br#"{"Records": [{"eventName": "A"}, {"eventName": "B", "eventName": "C"}, 3,
                {"eventName": "D"}, {"userIdentity": {"arn": "a", "arn": "b"}}, {"eventName": "F"}]}"#,
        );
        let found: Vec<(String, String)> = items
            .iter()
            .map(|l| l.location.clone())
            .zip(names(&items))
            .collect();
        let expected = [
            ("t#0", "A"),
            (
                "t#1",
                "error:`t#1` is not valid JSON: duplicate field `eventName`",
            ),
            ("t#2", "error:`t#2` is not an event"),
            ("t#3", "D"),
            (
                "t#4",
                "error:`t#4` is not valid JSON: duplicate field `arn`",
            ),
            ("t#5", "F"),
        ];
        assert_eq!(found.len(), expected.len(), "{found:?}");
        for ((location, name), (at, start)) in found.iter().zip(expected) {
            assert!(location == at && name.starts_with(start), "{found:?}");
        }
    }

    #[test]
    fn an_unread_record_becomes_the_event_parse_makes_of_it() {
        let raw = r#"{"eventName": "GetObject", "userAgent": "a\ud800b", "readOnly": "true"}"#;
        let inert = Record::Inert {
            origin: "t",
            index: 4,
            raw,
        }
        .into_located();
        let parsed = collect(format!(r#"{{"Records": [{raw}]}}"#).as_bytes());
        assert_eq!(inert.location, "t#4");
        assert_eq!(format!("{:?}", inert.item), format!("{:?}", parsed[0].item));
        let Ok(Item::CloudTrail { event, .. }) = &inert.item else {
            panic!("{:?}", inert.item);
        };
        assert_eq!(event.user_agent.as_deref(), Some("a\u{fffd}b"));
    }

    #[test]
    fn a_syntax_error_still_ends_the_file_after_a_failed_record() {
        let names = names(&collect(
            br#"{"Records": [{"eventName": "A"}, {"eventName": "B", "eventName": "C"},
                {"eventName": "D"}, {"eventName": tru}, {"eventName": "E"}]}"#,
        ));
        assert_eq!(names.len(), 4, "{names:?}");
        assert!(names[1].starts_with("error:`t#1`"), "{names:?}");
        assert_eq!(names[2], "D");
        assert!(
            names[3].starts_with("error:`t#3` is not valid JSON: expected ident"),
            "{names:?}"
        );
        // A record that fails its view and is not JSON either: its first
        // error, and nothing after it.
        let names = names_of(br#"{"Records": [{"eventName": "A"}, {"eventName": "B", "eventName": "C", x}, {"eventName": "D"}]}"#);
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(
            names[1].starts_with("error:`t#1` is not valid JSON: duplicate field"),
            "{names:?}"
        );
    }

    fn names_of(bytes: &[u8]) -> Vec<String> {
        names(&collect(bytes))
    }

    #[test]
    fn a_lone_surrogate_after_a_failed_record_is_read_as_the_replacement_character() {
        let items = collect(
            br#"{"Records": [{"eventName": "B", "eventName": "C"}, {"eventName": "D", "userAgent": "a\ud800b"}]}"#,
        );
        let names = names(&items);
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names[0].starts_with("error:`t#0`"), "{names:?}");
        let Ok(Item::CloudTrail { event, .. }) = &items[1].item else {
            panic!("{names:?}");
        };
        assert_eq!(event.user_agent.as_deref(), Some("a\u{fffd}b"));
    }

    #[test]
    fn json_lines_of_envelopes_and_records() {
        let text = concat!(
            r#"{"detail-type": "AWS API Call via CloudTrail", "source": "aws.iam", "detail": {"eventName": "CreateUser"}}"#,
            "\n",
            r#"{"eventName": "ConsoleLogin"}"#,
            "\n",
            r#"{"detail-type": "EC2 Instance State-change Notification", "detail": {"state": "x"}}"#,
        );
        assert_eq!(
            names(&collect(text.as_bytes())),
            [
                "CreateUser",
                "ConsoleLogin",
                "other:EC2 Instance State-change Notification"
            ]
        );
    }

    #[test]
    fn failure_destination_records_are_unwrapped() {
        let text = r#"{"version": "1.0", "requestContext": {"condition": "RetriesExhausted"},
            "requestPayload": {"detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
                               "detail": {"eventName": "CreateUser"}},
            "responseContext": {"statusCode": 200}}"#;
        let items = collect(text.as_bytes());
        assert_eq!(names(&items), ["CreateUser"]);
        assert_eq!(items[0].location, "t#0");
    }

    #[test]
    fn records_not_first_key_still_read() {
        let items = collect(br#"{"x": 1, "Records": [{"eventName": "A"}]}"#);
        assert_eq!(names(&items), ["A"]);
    }

    #[test]
    fn truncated_log_file_reports_where_it_broke() {
        let items = collect(br#"{"Records": [{"eventName": "A"}, {"eventName": "#);
        assert_eq!(names(&items)[0], "A");
        assert!(matches!(items[1].item, Err(InputError::Json { .. })));
        assert_eq!(items[1].location, "t#1");
    }

    #[test]
    fn records_before_invalid_utf8_are_still_read() {
        let mut bytes = br#"{"Records": [{"eventName": "A"}, {"eventName": "B"#.to_vec();
        bytes.extend_from_slice(&[0xff, b'"', b'}', b']', b'}']);
        let items = collect(&bytes);
        assert_eq!(names(&items)[0], "A");
        assert!(matches!(items[1].item, Err(InputError::Json { .. })));
    }

    #[test]
    fn garbage_is_an_error_naming_the_input() {
        let items = collect(b"hello");
        assert_eq!(items.len(), 1);
        assert!(
            items[0]
                .item
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("`t#L1`")
        );
    }

    #[test]
    fn one_bad_json_line_costs_that_line_only() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(b"{\"eventName\": \"A\"}\n");
        // Truncated: the parser reads on into the next line before failing.
        bytes.extend_from_slice(b"{\"eventName\": \"B\", \"x\"\n");
        bytes.extend_from_slice(b"{\"eventName\": \"C\"}\n");
        // Invalid UTF-8 inside a string.
        bytes.extend_from_slice(b"{\"eventName\": \"D\xff\"}\n");
        bytes.extend_from_slice(b"\n{\"eventName\": \"E\"}\n");
        let items = collect(&bytes);
        let got = names(&items);
        assert_eq!(got.len(), 5, "{got:?}");
        assert_eq!(got[0], "A");
        assert!(
            got[1].starts_with("error:`t#L2` is not valid JSON: "),
            "{got:?}"
        );
        assert!(got[1].ends_with("; skipped to line 3"), "{got:?}");
        assert_eq!(got[2], "C");
        assert!(
            got[3].starts_with("error:`t#L4` is not valid JSON: "),
            "{got:?}"
        );
        assert!(got[3].contains("at line 4 column"), "{got:?}");
        assert_eq!(got[4], "E");
        // Indices count documents read, not lines.
        assert_eq!(items[2].location, "t#1");
        assert_eq!(items[4].location, "t#2");
    }

    #[test]
    fn a_broken_pretty_printed_document_is_one_error_not_one_per_line() {
        let text =
            "{\n  \"eventName\": \"A\",\n  \"x\": [1,\n  \"y\": 2\n}\n{\"eventName\": \"B\"}\n";
        let got = names(&collect(text.as_bytes()));
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(
            got[0].starts_with("error:`t#L1` is not valid JSON"),
            "{got:?}"
        );
        assert!(got[0].ends_with("skipped to line 6"), "{got:?}");
        assert_eq!(got[1], "B");
    }

    #[test]
    fn a_lone_surrogate_reads_as_the_replacement_character() {
        // In a log file (the streaming path) and in JSON lines, after other
        // items (handed on once, not again when parsing is redone) and a
        // bad line (reported once).
        for (text, bad_line) in [
            (
                r#"{"Records": [{"eventName": "Z"}, {"eventName": "A\ud800", "userAgent": "x\uDC00y"}, {"eventName": "B"}]}"#,
                false,
            ),
            (
                "{\"eventName\": \"Z\"}\n{\"eventName\": \n{\"eventName\": \"A\\ud800\", \"userAgent\": \"x\\uDC00y\"}\n{\"eventName\": \"B\"}",
                true,
            ),
        ] {
            for items in [collect(text.as_bytes()), {
                let mut out = Vec::new();
                parse_reader(text.as_bytes(), "t", 1 << 20, &mut |l| out.push(l)).unwrap();
                out
            }] {
                let mut got = names(&items);
                if bad_line {
                    assert!(got.remove(1).starts_with("error:`t#L2`"), "{got:?}");
                }
                assert_eq!(got, ["Z", "A\u{FFFD}", "B"], "{text}");
                let Ok(Item::CloudTrail { event, .. }) = &items[items.len() - 2].item else {
                    panic!()
                };
                assert_eq!(event.user_agent.as_deref(), Some("x\u{FFFD}y"));
            }
        }
    }

    #[test]
    fn surrogate_pairs_and_escaped_backslashes_are_left_alone() {
        let text = br#"{"a": "\ud83d\ude00", "b": "C:\\ud800", "c": "\u00e9"}"#;
        assert!(matches!(repair_lone_surrogates(text), Cow::Borrowed(_)));
        let lone = br#"{"a": "\ud83d", "b": "\ud83d\u0041", "c": "\ud83d"#;
        let fixed = repair_lone_surrogates(lone);
        assert_eq!(
            std::str::from_utf8(&fixed).unwrap(),
            r#"{"a": "\uFFFD", "b": "\uFFFD\u0041", "c": "\uFFFD"#
        );
    }

    #[test]
    fn a_digest_file_is_recognised_by_its_content() {
        let digest = br#"{"awsAccountId": "111122223333", "digestStartTime": "2024-05-01T00:00:00Z",
            "digestEndTime": "2024-05-01T01:00:00Z", "logFiles": [], "digestSignatureAlgorithm": "SHA256withRSA"}"#;
        assert_eq!(names(&collect(digest)), ["digest"]);
        // A log file that happens to carry such keys is still a log file.
        let log = br#"{"digestStartTime": 1, "logFiles": [], "Records": [{"eventName": "A"}]}"#;
        assert_eq!(names(&collect(log)), ["A"]);
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_cap_with_an_error_naming_the_input() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let spaces = vec![b' '; 1 << 20];
        for _ in 0..8 {
            gz.write_all(&spaces).unwrap();
        }
        let bomb = gz.finish().unwrap();
        assert!(bomb.len() < 64 << 10);
        let mut buf = Vec::new();
        let err = read_capped(&bomb[..], 0, "bomb.json.gz", &mut buf, 1 << 20).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`bomb.json.gz` is larger than 1048576 bytes once decompressed; not read (raise the cap with --max-input-size)"
        );
        assert!(buf.capacity() <= 2 << 20, "{}", buf.capacity());
        // Under the cap it reads, compressed or not.
        read_capped(&bomb[..], 0, "bomb.json.gz", &mut buf, 8 << 20).unwrap();
        assert_eq!(buf.len(), 8 << 20);
        read_capped(&b"{}"[..], 0, "plain", &mut buf, 2).unwrap();
        assert_eq!(buf, b"{}");
        assert!(read_capped(&b"{} "[..], 0, "plain", &mut buf, 2).is_err());
    }

    /// The cap is on what an input inflates to: a short input whose gzip
    /// is longer than itself reads whole, in one member or several.
    #[test]
    fn the_cap_is_on_the_inflated_bytes_not_the_compressed_ones() {
        use std::io::Write;
        let member = |data: &[u8]| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(data).unwrap();
            gz.finish().unwrap()
        };
        let one = member(br#"{"a": 1}"#);
        let mut two = member(br#"{"a": "#);
        two.extend(member(b"1}"));
        for gz in [&one, &two] {
            assert!(gz.len() > 8, "{}", gz.len());
            let mut buf = Vec::new();
            read_capped(&gz[..], 0, "short.json.gz", &mut buf, 8).unwrap();
            assert_eq!(buf, br#"{"a": 1}"#);
            let err = read_capped(&gz[..], 0, "short.json.gz", &mut buf, 7).unwrap_err();
            assert!(matches!(err, InputError::TooLarge { max: 7, .. }), "{err}");
        }
    }

    /// A reader that hands out at most `step` bytes per read, as a pipe may.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(out.len()).min(self.bytes.len());
            out[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    fn located_names(items: &[Located]) -> Vec<String> {
        names(items)
            .into_iter()
            .zip(items)
            .map(|(n, l)| format!("{} {n}", l.location))
            .collect()
    }

    #[test]
    fn reading_as_bytes_arrive_finds_what_reading_whole_finds() {
        let mut bad_lines = b"{\"eventName\": \"A\"}\n{\"eventName\": \"B\", \"x\"\n{\"eventName\": \"C\"}\n{\"eventName\": \"D\xff\"}\n\n{\"eventName\": \"E\"}".to_vec();
        bad_lines.extend_from_slice(b"\n[{\"eventName\": \"F\"}, 3]\n");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &bad_lines).unwrap();
        let gzipped = gz.finish().unwrap();
        let inputs: Vec<Vec<u8>> = vec![
            bad_lines.clone(),
            b"{\n  \"eventName\": \"A\",\n  \"x\": [1,\n  \"y\": 2\n}\n{\"eventName\": \"B\"}\n".to_vec(),
            b"{\n  \"detail-type\": \"AWS API Call via CloudTrail\",\n  \"source\": \"aws.iam\",\n  \"detail\": {\"eventName\": \"P\"}\n}\n".to_vec(),
            br#" {"Records": [{"eventName": "A"}, 3, {"eventName": "B\ud800"}]}"#.to_vec(),
            br#"{"Records": [{"eventName": "A"}, {"eventName": "#.to_vec(),
            br#"{"eventName": "A"}{"eventName": "B"} {"eventName": "C\udc00"}"#.to_vec(),
            br#"{"digestStartTime": "x", "logFiles": []}"#.to_vec(),
            b"hello".to_vec(),
            b"{\"eventName\": \"A\"}\n{\"eventName\": \"trunc".to_vec(),
            b"".to_vec(),
            b"  \n ".to_vec(),
        ];
        for input in &inputs {
            let whole = located_names(&collect(input));
            for step in [1, 2, 7, 1 << 16] {
                let mut got = Vec::new();
                parse_reader(Trickle { bytes: input, step }, "t", 1 << 20, &mut |l| {
                    got.push(l)
                })
                .unwrap();
                assert_eq!(
                    located_names(&got),
                    whole,
                    "step {step}: {}",
                    String::from_utf8_lossy(input)
                );
            }
        }
        let mut got = Vec::new();
        parse_reader(
            Trickle {
                bytes: &gzipped,
                step: 5,
            },
            "t",
            1 << 20,
            &mut |l| got.push(l),
        )
        .unwrap();
        assert_eq!(located_names(&got), located_names(&collect(&bad_lines)));
    }

    #[test]
    fn documents_larger_than_the_reparse_threshold_read_as_a_whole_read_does() {
        let long_line = format!(
            "{{\"eventName\": \"A\", \"pad\": \"{}\"}}\n{{\"eventName\": \"B\"}}\n",
            "x".repeat(2 << 20)
        );
        let item = format!("  \"{}\",\n", "y".repeat(90));
        let pretty = format!(
            "{{\n \"eventName\": \"P\",\n \"pad\": [\n{} \"z\"]\n}}\n{{\"eventName\": \"Q\"}}\n",
            item.repeat(15_000)
        );
        for input in [long_line, pretty] {
            let whole = located_names(&collect(input.as_bytes()));
            assert_eq!(whole.len(), 2);
            for step in [4096, 1 << 16] {
                let mut got = Vec::new();
                let reader = Trickle {
                    bytes: input.as_bytes(),
                    step,
                };
                parse_reader(reader, "t", 64 << 20, &mut |l| got.push(l)).unwrap();
                assert_eq!(located_names(&got), whole, "step {step}");
            }
        }
    }

    /// A reader that will not hand out the second line until the first
    /// line's event has reached the sink.
    struct AfterFirstEvent {
        lines: Vec<&'static [u8]>,
        seen: std::rc::Rc<std::cell::Cell<usize>>,
    }

    impl Read for AfterFirstEvent {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            let Some(line) = self.lines.first_mut() else {
                return Ok(0);
            };
            if line.is_empty() {
                self.lines.remove(0);
                if self.lines.is_empty() {
                    return Ok(0);
                }
                // Starting the second line: the first must be out.
                assert_eq!(self.seen.get(), 1, "line 1 not acted on before reading on");
                return self.read(out);
            }
            let n = out.len().min(line.len());
            out[..n].copy_from_slice(&line[..n]);
            *line = &line[n..];
            Ok(n)
        }
    }

    #[test]
    fn each_json_line_is_handed_on_before_the_next_is_read() {
        let seen = std::rc::Rc::new(std::cell::Cell::new(0));
        let reader = AfterFirstEvent {
            lines: vec![b"{\"eventName\": \"A\"}\n", b"{\"eventName\": \"B\"}\n"],
            seen: seen.clone(),
        };
        let mut got = Vec::new();
        parse_reader(reader, "t", 1 << 20, &mut |l| {
            seen.set(seen.get() + 1);
            got.push(l);
        })
        .unwrap();
        assert_eq!(names(&got), ["A", "B"]);
    }

    #[test]
    fn a_stream_holds_one_unfinished_document_at_most_the_cap() {
        // Many lines, far more than the cap in all: fine.
        let lines = b"{\"eventName\": \"A\"}\n".repeat(1000);
        let mut n = 0;
        parse_reader(&lines[..], "t", 1024, &mut |_| n += 1).unwrap();
        assert_eq!(n, 1000);
        // One line longer than the cap: an error naming the input.
        let long = format!("{{\"eventName\": \"{}\"}}\n", "x".repeat(4096));
        let err = parse_reader(long.as_bytes(), "t", 1024, &mut |_| {}).unwrap_err();
        assert!(
            err.to_string().starts_with("`t` is larger than 1024 bytes"),
            "{err}"
        );
        // Nothing but whitespace (a gzip bomb of spaces) is held too.
        let spaces = vec![b' '; 4096];
        let err = parse_reader(&spaces[..], "t", 1024, &mut |_| {}).unwrap_err();
        assert!(
            err.to_string().starts_with("`t` is larger than 1024 bytes"),
            "{err}"
        );
        // A log file is read whole, so the cap is on all of it.
        let log = format!(
            r#"{{"Records": [{}{{}}]}}"#,
            r#"{"eventName": "A"},"#.repeat(100)
        );
        assert!(parse_reader(log.as_bytes(), "t", 1024, &mut |_| {}).is_err());
        assert!(parse_reader(log.as_bytes(), "t", 1 << 20, &mut |_| {}).is_ok());
    }

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("256M"), Ok(256 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("8k"), Ok(8192));
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").unwrap_err().contains("`lots`"));
        assert!(parse_size("99999999999G").is_err());
    }
}
