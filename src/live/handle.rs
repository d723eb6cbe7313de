//! The handler: parse, evaluate, execute, report. The Lambda calls
//! [`handle_event`] for one EventBridge payload; `trailguard handle` calls
//! [`handle_paths`] over files. Both print or return one [`Outcome`] per event.

use std::io::Read;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

use super::LiveContext;
use crate::engine::{self, Diagnostic};
use crate::event::input::{self, InputError, Item, Located};
use crate::executor::{self, FindingOutcome};
use crate::replay::{self, Input};

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
    pub findings: Vec<FindingOutcome>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
    pub errors: Vec<ErrorReport>,
}

/// An error met while handling an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    /// `input`, `remediation`, `exemption-check` or `alert`.
    pub kind: &'static str,
    pub message: String,
    /// Would handling the event again be worth it (and safe)?
    pub retryable: bool,
}

impl Outcome {
    fn empty(location: String) -> Self {
        Outcome {
            location,
            event_id: None,
            event_source: None,
            event_name: None,
            event_time: None,
            ignored: None,
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
        self.errors.iter().any(|e| e.kind == "input")
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
pub async fn handle_bytes(bytes: &[u8], origin: &str, ctx: &LiveContext) -> Vec<Outcome> {
    let mut items = Vec::new();
    input::parse(bytes, origin, &mut |l| items.push(l));
    let mut out = Vec::with_capacity(items.len());
    for located in items {
        out.push(handle_located(located, ctx).await);
    }
    out
}

/// Handles every event in the files, in order: directories are walked in
/// name order, `-` is stdin (as `trailguard replay` reads them). A file that
/// cannot be read yields one outcome with its error. `sink` gets each
/// outcome as soon as it is known.
pub async fn handle_inputs(paths: &[PathBuf], ctx: &LiveContext, sink: &mut dyn FnMut(Outcome)) {
    let mut buf = Vec::new();
    for input in replay::expand(paths) {
        let read = input.and_then(|input| {
            let name = input.name();
            match input {
                Input::File(path) => input::read_file(&path, &mut buf),
                Input::Stdin => {
                    buf.clear();
                    std::io::stdin()
                        .lock()
                        .read_to_end(&mut buf)
                        .and_then(|_| input::gunzip_if_compressed(&mut buf))
                        .map_err(|source| InputError::Read {
                            path: name.clone(),
                            source,
                        })
                }
            }
            .map(|()| name)
        });
        match read {
            Ok(origin) => {
                for outcome in handle_bytes(&buf, &origin, ctx).await {
                    sink(outcome);
                }
            }
            Err(e) => {
                let location = match &e {
                    InputError::Read { path, .. } => path.clone(),
                    _ => String::new(),
                };
                let mut o = Outcome::empty(location);
                o.errors.push(ErrorReport {
                    kind: "input",
                    message: e.to_string(),
                    retryable: false,
                });
                sink(o);
            }
        }
    }
}

/// [`handle_inputs`], collected.
pub async fn handle_paths(paths: &[PathBuf], ctx: &LiveContext) -> Vec<Outcome> {
    let mut out = Vec::new();
    handle_inputs(paths, ctx, &mut |o| out.push(o)).await;
    out
}

/// One parsed input item: evaluate, execute, report.
pub async fn handle_located(located: Located, ctx: &LiveContext) -> Outcome {
    let mut outcome = Outcome::empty(located.location);
    let event = match located.item {
        Err(e) => {
            outcome.errors.push(ErrorReport {
                kind: "input",
                message: e.to_string(),
                retryable: false,
            });
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
        Ok(Item::CloudTrail { event, .. }) => event,
    };
    outcome.event_id = event.event_id.clone();
    outcome.event_source = event.event_source.clone();
    outcome.event_name = event.event_name.clone();
    outcome.event_time = event.event_time.clone();

    let evaluation = engine::evaluate(&event, &ctx.config);
    outcome.ignored = evaluation.ignored.clone();
    outcome.diagnostics = evaluation.diagnostics.clone();
    let execution = executor::execute(ctx, &event, &evaluation).await;
    outcome.findings = execution.findings;
    outcome.errors = execution
        .errors
        .iter()
        .map(|e| ErrorReport {
            kind: e.kind(),
            message: e.to_string(),
            retryable: e.is_retryable(),
        })
        .collect();
    outcome
}
