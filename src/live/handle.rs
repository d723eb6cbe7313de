//! The handler: parse, evaluate, execute, report. The Lambda calls
//! [`handle_event`] for one EventBridge payload; `trailguard handle` calls
//! [`handle_paths`] over files. Both print or return one [`Outcome`] per event.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use super::LiveContext;
use crate::engine::{self, Diagnostic};
use crate::event::input::{self, InputError, Item, Located};
use crate::event::paths::{Input, expand};
use crate::executor::{self, FindingOutcome};

/// What happened for one event: its findings, the actions taken, the alerts
/// sent and the errors met.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// Where the event came from (`path#index`, `lambda#0`).
    pub location: String,
    pub event_id: Option<String>,
    pub event_source: Option<String>,
    pub event_name: Option<String>,
    pub event_time: Option<String>,
    /// Why the whole event was ignored, if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignored: Option<String>,
    /// Was the envelope forged (see [`engine::forgery`])? Then `ignored`
    /// says why and nothing was done.
    #[serde(skip)]
    pub forged: bool,
    pub findings: Vec<FindingOutcome>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
    pub errors: Vec<ErrorReport>,
}

pub use crate::executor::{ErrorReport, FailureKind};

impl Outcome {
    fn empty(location: String) -> Self {
        Outcome {
            location,
            event_id: None,
            event_source: None,
            event_name: None,
            event_time: None,
            ignored: None,
            forged: false,
            findings: Vec::new(),
            diagnostics: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// Did any effect or the input fail?
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Could the input not be read or parsed?
    pub fn input_failed(&self) -> bool {
        self.errors.iter().any(|e| e.kind == FailureKind::Input)
    }

    /// Is any error worth a retry? (Retries are safe: remediations are
    /// idempotent.)
    pub fn retryable(&self) -> bool {
        self.errors.iter().any(|e| e.retryable)
    }
}

/// Why an event was not handled completely.
#[derive(Debug, thiserror::Error)]
pub enum HandleError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("expected one event in the payload, found {found}")]
    NotOneEvent { found: usize },
    #[error("event `{}`: {}", .outcome.event_id.as_deref().unwrap_or("?"), first_error(.outcome))]
    Effects { outcome: Box<Outcome> },
}

fn first_error(outcome: &Outcome) -> String {
    let first = outcome.errors.first().map_or("", |e| e.message.as_str());
    match outcome.errors.len() {
        0 | 1 => first.to_owned(),
        n => format!("{first} (and {} more)", n - 1),
    }
}

impl HandleError {
    /// Throttling, 5xx, timeouts: the Lambda should fail the invocation so
    /// it is retried. Bad input, access denied, validation: it should not.
    pub fn is_retryable(&self) -> bool {
        match self {
            HandleError::Input(_) | HandleError::NotOneEvent { .. } => false,
            HandleError::Effects { outcome } => outcome.retryable(),
        }
    }

    /// The outcome so far, when the event was parsed.
    pub fn outcome(&self) -> Option<&Outcome> {
        match self {
            HandleError::Effects { outcome } => Some(outcome),
            _ => None,
        }
    }
}

/// Handles one EventBridge payload (or one bare CloudTrail record): the
/// Lambda's entry. `Err` when the input is not one event or an effect failed.
pub async fn handle_event(value: Value, ctx: &LiveContext) -> Result<Outcome, HandleError> {
    let mut items = input::parse_value(value, "event");
    if items.len() != 1 {
        return Err(HandleError::NotOneEvent { found: items.len() });
    }
    let Some(located) = items.pop() else {
        return Err(HandleError::NotOneEvent { found: 0 });
    };
    let located = Located {
        item: Ok(located.item?),
        ..located
    };
    let outcome = handle_located(located, ctx).await;
    if outcome.failed() {
        return Err(HandleError::Effects {
            outcome: Box::new(outcome),
        });
    }
    Ok(outcome)
}

/// Handles every event in `bytes` (any input format), in order.
pub async fn handle_bytes(bytes: Vec<u8>, origin: &str, ctx: &LiveContext) -> Vec<Outcome> {
    let mut out = Vec::new();
    handle_stream(bytes, origin.to_owned(), ctx, &mut |o| out.push(o)).await;
    out
}

/// How many parsed events may wait for the handler: parsing runs ahead of
/// the (slow, remote) effects by this much and no more.
const PARSED_AHEAD: usize = 64;

/// Handles every event in `bytes` as it is parsed: the parser runs on a
/// blocking thread and hands events over a bounded channel, so the first
/// event is acted on (and its outcome given to `sink`) before the rest of a
/// large input is even parsed, and memory holds a few events, not all.
pub async fn handle_stream(
    bytes: Vec<u8>,
    origin: String,
    ctx: &LiveContext,
    sink: &mut dyn FnMut(Outcome),
) {
    handle_produced(move |emit| input::parse(&bytes, &origin, emit), ctx, sink).await
}

/// [`handle_stream`] over any producer of parsed items, run on a blocking
/// thread.
pub async fn handle_produced<P>(produce: P, ctx: &LiveContext, sink: &mut dyn FnMut(Outcome))
where
    P: FnOnce(&mut dyn FnMut(Located)) + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Located>(PARSED_AHEAD);
    let parser = tokio::task::spawn_blocking(move || {
        produce(&mut |located| {
            // A closed channel means the handler is gone: nothing to do.
            let _ = tx.blocking_send(located);
        });
    });
    while let Some(located) = rx.recv().await {
        // Digest files (log file validation) hold no events.
        if matches!(located.item, Ok(Item::Digest)) {
            continue;
        }
        sink(handle_located(located, ctx).await);
    }
    if let Err(e) = parser.await {
        sink(input_error(
            String::new(),
            format!("the parser stopped: {e}"),
        ));
    }
}

/// Handles every event in the files, in order: directories are walked in
/// name order, `-` is stdin (as `trailguard replay` reads them). Each input
/// is acted on as it is read (see [`input::parse_reader`]): a JSON-lines
/// pipe line by line. A file that cannot be read (or holds more than
/// `max_input_bytes` at once) yields an outcome with its error. `sink` gets
/// each outcome as soon as it is known.
pub async fn handle_inputs(
    paths: &[PathBuf],
    max_input_bytes: u64,
    ctx: &LiveContext,
    sink: &mut dyn FnMut(Outcome),
) {
    for input in expand(paths) {
        let input = match input {
            // A walk lists no S3 objects; digests hold no events.
            Ok(Input::Digest(_) | Input::S3 { .. }) => continue,
            Ok(input) => input,
            Err(e) => {
                let location = match &e {
                    InputError::Read { path, .. } => path.clone(),
                    _ => String::new(),
                };
                sink(input_error(location, e.to_string()));
                continue;
            }
        };
        let name = input.name();
        handle_produced(
            move |emit| {
                let parsed = match &input {
                    Input::File(path) => std::fs::File::open(path)
                        .map_err(|source| InputError::Read {
                            path: name.clone(),
                            source,
                        })
                        .and_then(|file| {
                            input::parse_reader(file, &name, max_input_bytes, &mut *emit)
                        }),
                    Input::Stdin => {
                        input::parse_reader(std::io::stdin(), &name, max_input_bytes, &mut *emit)
                    }
                    // Set aside above.
                    Input::Digest(_) | Input::S3 { .. } => Ok(()),
                };
                if let Err(e) = parsed {
                    emit(Located {
                        location: name.clone(),
                        item: Err(e),
                    });
                }
            },
            ctx,
            sink,
        )
        .await;
    }
}

/// An outcome that is only an input error.
fn input_error(location: String, message: String) -> Outcome {
    let mut o = Outcome::empty(location);
    o.errors.push(ErrorReport {
        kind: FailureKind::Input,
        message,
        retryable: false,
    });
    o
}

/// [`handle_inputs`], collected, with the default input cap.
pub async fn handle_paths(paths: &[PathBuf], ctx: &LiveContext) -> Vec<Outcome> {
    let mut out = Vec::new();
    handle_inputs(paths, input::DEFAULT_MAX_INPUT_BYTES, ctx, &mut |o| {
        out.push(o)
    })
    .await;
    out
}

/// One parsed input item: evaluate, execute, report.
pub async fn handle_located(located: Located, ctx: &LiveContext) -> Outcome {
    let mut outcome = Outcome::empty(located.location);
    let (event, envelope) = match located.item {
        Err(e) => {
            outcome.errors.push(ErrorReport {
                kind: FailureKind::Input,
                message: e.to_string(),
                retryable: false,
            });
            return outcome;
        }
        Ok(Item::Digest) => {
            outcome.ignored = Some("a CloudTrail digest file, not an event".into());
            return outcome;
        }
        Ok(Item::Other(envelope)) => {
            outcome.event_id = envelope.id;
            outcome.ignored = Some(format!(
                "not a CloudTrail event (detail-type `{}`)",
                envelope.detail_type.as_deref().unwrap_or("")
            ));
            return outcome;
        }
        Ok(Item::CloudTrail { event, envelope }) => (event, envelope),
    };
    outcome.event_id = event.event_id.clone();
    outcome.event_source = event.event_source.clone();
    outcome.event_name = event.event_name.clone();
    outcome.event_time = event.event_time.clone();

    if let Some(why) = envelope.as_ref().and_then(|e| engine::forgery(e, &event)) {
        // Never acted on, never alerted: see docs/lambda.md ("Forged events").
        outcome.ignored = Some(why);
        outcome.forged = true;
        return outcome;
    }
    let evaluation = engine::evaluate(&event, &ctx.config);
    outcome.ignored = evaluation.ignored.clone();
    outcome.diagnostics = evaluation.diagnostics.clone();
    let execution = executor::execute(ctx, &event, &evaluation).await;
    outcome.findings = execution.findings;
    outcome.errors = execution.errors.iter().map(ErrorReport::from).collect();
    outcome
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::alert::slack::WebhookSource;
    use crate::config::Config;
    use crate::live::Effects;
    use crate::rules::testing::{event, iam_call};

    fn context() -> LiveContext {
        LiveContext::new(Config::default(), Effects::in_memory(), WebhookSource::None)
    }

    fn located(i: usize) -> Located {
        let mut raw = iam_call(
            "CreateLoginProfile",
            json!({"userName": "bob"}),
            json!(null),
        );
        raw["eventID"] = format!("e-{i}").into();
        Located {
            location: format!("t#{i}"),
            item: Ok(Item::CloudTrail {
                event: Box::new(event(raw)),
                envelope: None,
            }),
        }
    }

    /// The producer will not parse the second event until the first one's
    /// outcome is out: that only ends if the handler acts as it reads
    /// (before, every event was parsed and kept before the first acted).
    #[tokio::test]
    async fn each_event_is_acted_on_before_the_next_is_parsed() {
        let ctx = context();
        let (printed_tx, printed_rx) = mpsc::channel::<String>();
        let producer = move |emit: &mut dyn FnMut(Located)| {
            for i in 0..3 {
                emit(located(i));
                let seen = printed_rx.recv_timeout(Duration::from_secs(20));
                assert_eq!(seen.as_deref(), Ok(format!("t#{i}").as_str()));
            }
        };
        let mut outcomes = Vec::new();
        handle_produced(producer, &ctx, &mut |o| {
            let _ = printed_tx.send(o.location.clone());
            outcomes.push(o);
        })
        .await;
        let ids: Vec<_> = outcomes
            .iter()
            .map(|o| o.event_id.clone().unwrap())
            .collect();
        assert_eq!(ids, ["e-0", "e-1", "e-2"]);
        // A producer that panicked (here: it never saw an outcome) would
        // add an `input` error outcome.
        assert!(outcomes.iter().all(|o| !o.input_failed()), "{outcomes:?}");
    }
}
