//! Property tests: real events with fields removed, retyped or nulled, and
//! raw bytes cut or corrupted, never panic the parser or the engine.

use proptest::prelude::*;
use serde_json::Value;

use trailguard::event::input::{self, Item};
use trailguard::replay::EventReport;
use trailguard::{Config, evaluate};

const SAMPLES: &[&str] = &[
    include_str!("../../events/user-policy-attached.json"),
    include_str!("../../events/access-key-created.json"),
    include_str!("../../events/password-policy-weakened.json"),
    include_str!("../../events/cloudtrail-event-selectors-without-management-events.json"),
    include_str!("../../events/console-login-without-mfa.json"),
    include_str!("../../events/admin-policy-created.json"),
    include_str!("../../events/root-access-key-created.json"),
    include_str!("../../events/monitoring-disabled-guardduty.json"),
    include_str!(
        "../corpus/iam-PutUserPolicy/panther-aws_key_compromised-an-aws-iam-access-key-was-compromised.json"
    ),
];

/// Every path to a value inside `v`, as object keys and array indices.
fn paths(v: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    out.push(prefix.clone());
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                prefix.push(Value::String(k.clone()));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                prefix.push(Value::from(i));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn mutate(root: &mut Value, path: &[Value], how: u8, n: i64, s: &str) {
    let Some((last, parent_path)) = path.split_last() else {
        return;
    };
    let mut parent = &mut *root;
    for seg in parent_path {
        parent = match (parent, seg) {
            (Value::Object(m), Value::String(k)) => match m.get_mut(k) {
                Some(v) => v,
                None => return,
            },
            (Value::Array(a), Value::Number(i)) => match a.get_mut(i.as_u64().unwrap() as usize) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    let replacement = match how {
        0 => None,
        1 => Some(Value::Null),
        2 => Some(Value::from("null")),
        3 => Some(Value::from(n)),
        4 => Some(Value::from(n % 2 == 0)),
        5 => Some(Value::from(s)),
        6 => Some(serde_json::json!([s, n])),
        _ => Some(serde_json::json!({ s: n })),
    };
    match (parent, last) {
        (Value::Object(m), Value::String(k)) => match replacement {
            None => {
                m.remove(k);
            }
            Some(v) => {
                m.insert(k.clone(), v);
            }
        },
        (Value::Array(a), Value::Number(i)) => {
            let i = i.as_u64().unwrap() as usize;
            match replacement {
                None if i < a.len() => {
                    a.remove(i);
                }
                Some(v) if i < a.len() => a[i] = v,
                _ => {}
            }
        }
        _ => {}
    }
}

/// Parse, evaluate and report everything in `bytes`, as the CLI does.
fn run_all(bytes: &[u8], config: &Config) -> usize {
    let mut n = 0;
    input::parse(bytes, "prop", &mut |located| {
        if let Ok(Item::CloudTrail { event, .. }) = &located.item {
            let _ = evaluate(event, config);
        }
        if let Ok(report) = EventReport::new(located, config) {
            serde_json::to_string(&report).expect("reports serialize");
        }
        n += 1;
    });
    n
}

fn remediating_config() -> Config {
    Config::from_toml(
        "self_role_arn = \"arn:aws:iam::111122223333:role/tg\"\n[modes]\ndefault = \"remediate\"\n[exemptions]\nusers = [\"b*\"]",
        "prop",
        std::iter::empty(),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_events_never_panic(
        sample in 0..SAMPLES.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8, any::<i64>(), "[a-zA-Z*:{}\"%]{0,12}"), 1..8),
        wrap in 0u8..3,
    ) {
        let mut value: Value = serde_json::from_str(SAMPLES[sample]).unwrap();
        for (index, how, n, s) in &edits {
            let mut all = Vec::new();
            paths(&value, &mut Vec::new(), &mut all);
            let path = index.get(&all).clone();
            mutate(&mut value, &path, *how, *n, s);
        }
        // The same event as an envelope, a bare record and a log file.
        let detail = value.get("detail").cloned().unwrap_or(Value::Null);
        let doc = match wrap {
            0 => value,
            1 => detail,
            _ => serde_json::json!({"Records": [detail, 1, null]}),
        };
        let bytes = serde_json::to_vec(&doc).unwrap();
        for config in [Config::default(), remediating_config()] {
            run_all(&bytes, &config);
        }
    }

    #[test]
    fn cut_or_corrupted_bytes_are_errors_not_panics(
        sample in 0..SAMPLES.len(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let mut bytes = SAMPLES[sample].as_bytes().to_vec();
        bytes.truncate(cut.index(bytes.len() + 1));
        for (at, b) in flips {
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
        }
        let n = run_all(&bytes, &Config::default());
        // Something is always said about the input, even if only an error.
        prop_assert!(n >= 1 || bytes.iter().all(u8::is_ascii_whitespace));
    }

    /// JSON lines where one line is cut or corrupted: every other line is
    /// still read, in order (the parser resumes at the next line). Before,
    /// one bad line dropped every later one.
    #[test]
    fn one_corrupted_json_line_loses_that_line_only(
        order in prop::collection::vec(0..SAMPLES.len(), 2..8),
        bad in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
    ) {
        let bad = bad.index(order.len());
        let mut lines: Vec<Vec<u8>> = Vec::new();
        for (i, &sample) in order.iter().enumerate() {
            let mut v: Value = serde_json::from_str(SAMPLES[sample]).unwrap();
            let record = if v.get("detail").is_some() { &mut v["detail"] } else { &mut v };
            // Three copies of the number: two flipped bytes cannot forge another line's id.
            record["eventID"] = format!("line-{i}-{i}-{i}").into();
            lines.push(serde_json::to_vec(&v).unwrap());
        }
        let line = &mut lines[bad];
        line.truncate(cut.index(line.len()));
        for (at, b) in flips {
            if !line.is_empty() {
                let i = at.index(line.len());
                line[i] = b;
            }
        }
        let bytes = lines.join(&b"\n"[..]);
        let mut ids = Vec::new();
        input::parse(&bytes, "prop", &mut |located| {
            if let Ok(Item::CloudTrail { event, .. }) = located.item {
                ids.extend(event.event_id);
            }
        });
        let expected: Vec<String> = (0..order.len())
            .filter(|i| *i != bad)
            .map(|i| format!("line-{i}-{i}-{i}"))
            .collect();
        let kept: Vec<String> = ids.into_iter().filter(|id| expected.contains(id)).collect();
        prop_assert_eq!(kept, expected);
    }
}
