//! Turning bytes into events: EventBridge envelopes, bare CloudTrail records,
//! `{"Records": [...]}` log files (plain or gzipped), JSON lines, and JSON
//! arrays of any of these.
//!
//! A log file is streamed record by record into a callback, so a large file
//! never exists as a list of parsed events.

use std::fmt;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::CloudTrailEvent;

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
}

/// An item, or the error that stood in its place, with where it came from
/// (`path`, `path#3` for the fourth document or record).
#[derive(Debug)]
pub struct Located {
    pub location: String,
    pub item: Result<Item, InputError>,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads a whole file, gunzipping it when it starts with the gzip magic.
pub fn read_file(path: &Path, buf: &mut Vec<u8>) -> Result<(), InputError> {
    let err = |source| InputError::Read {
        path: path.display().to_string(),
        source,
    };
    buf.clear();
    let mut file = std::fs::File::open(path).map_err(err)?;
    file.read_to_end(buf).map_err(err)?;
    gunzip_if_compressed(buf).map_err(err)
}

/// Replaces gzipped bytes (by their magic number) with their contents.
pub fn gunzip_if_compressed(buf: &mut Vec<u8>) -> std::io::Result<()> {
    if buf.starts_with(&GZIP_MAGIC) {
        let mut out = Vec::with_capacity(buf.len() * 8);
        flate2::read::MultiGzDecoder::new(&buf[..]).read_to_end(&mut out)?;
        *buf = out;
    }
    Ok(())
}

/// Parses every event in `bytes`, calling `sink` once per record or document
/// in input order. `origin` names the input in locations and errors.
pub fn parse(bytes: &[u8], origin: &str, sink: &mut dyn FnMut(Located)) {
    // Reading bytes, serde_json checks each string for UTF-8 on its own; one
    // check of the whole input is far cheaper. Input that is not UTF-8 takes
    // the byte path, which still reads every record before the bad one.
    match std::str::from_utf8(bytes) {
        Ok(text) => parse_with(
            serde_json::Deserializer::from_str(text),
            bytes,
            origin,
            sink,
        ),
        Err(_) => parse_with(
            serde_json::Deserializer::from_slice(bytes),
            bytes,
            origin,
            sink,
        ),
    }
}

fn parse_with<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    bytes: &[u8],
    origin: &str,
    sink: &mut dyn FnMut(Located),
) {
    if starts_with_records_key(bytes) {
        let mut index = 0usize;
        let result = LogFileSeed {
            origin,
            index: &mut index,
            sink: &mut *sink,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end());
        if let Err(source) = result {
            sink(Located {
                location: format!("{origin}#{index}"),
                item: Err(InputError::Json {
                    location: format!("{origin}#{index}"),
                    source,
                }),
            });
        }
        return;
    }
    let mut index = 0usize;
    for doc in de.into_iter::<Value>() {
        match doc {
            Ok(Value::Array(items)) => {
                for item in items {
                    classify(item, origin, &mut index, sink);
                }
            }
            Ok(value) => classify(value, origin, &mut index, sink),
            Err(source) => {
                let location = format!("{origin}#{index}");
                sink(Located {
                    location: location.clone(),
                    item: Err(InputError::Json { location, source }),
                });
                // The stream cannot resynchronise after a syntax error.
                return;
            }
        }
    }
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
struct LogFileSeed<'a, 's> {
    origin: &'a str,
    index: &'a mut usize,
    sink: &'s mut dyn FnMut(Located),
}

impl<'de> DeserializeSeed<'de> for LogFileSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for LogFileSeed<'_, '_> {
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
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct RecordsSeed<'a, 's> {
    origin: &'a str,
    index: &'a mut usize,
    sink: &'s mut dyn FnMut(Located),
}

impl<'de> DeserializeSeed<'de> for RecordsSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordsSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of CloudTrail records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(record) = seq.next_element::<MaybeRecord>()? {
            let location = format!("{}#{}", self.origin, *self.index);
            *self.index += 1;
            let item = match record {
                MaybeRecord::Record(event) => Ok(Item::CloudTrail {
                    event,
                    envelope: None,
                }),
                MaybeRecord::NotAnObject => Err(InputError::NotAnEvent {
                    location: location.clone(),
                    reason: "a `Records` entry is not a JSON object".into(),
                }),
            };
            (self.sink)(Located { location, item });
        }
        Ok(())
    }
}

/// A log-file entry: a record, or something else that is reported, not fatal.
enum MaybeRecord {
    Record(Box<CloudTrailEvent>),
    NotAnObject,
}

impl<'de> Deserialize<'de> for MaybeRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MaybeRecord;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a CloudTrail record")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<MaybeRecord, A::Error> {
                CloudTrailEvent::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|e| MaybeRecord::Record(Box::new(e)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MaybeRecord, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeRecord::NotAnObject)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<MaybeRecord, E> {
                Ok(MaybeRecord::NotAnObject)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<MaybeRecord, E> {
                Ok(MaybeRecord::NotAnObject)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<MaybeRecord, E> {
                Ok(MaybeRecord::NotAnObject)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<MaybeRecord, E> {
                Ok(MaybeRecord::NotAnObject)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<MaybeRecord, E> {
                Ok(MaybeRecord::NotAnObject)
            }
            fn visit_unit<E: de::Error>(self) -> Result<MaybeRecord, E> {
                Ok(MaybeRecord::NotAnObject)
            }
        }
        d.deserialize_any(V)
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
                .contains("`t#0`")
        );
    }
}
