//! The executor: turns each decision of the engine into effects.
//!
//! One executor serves the event path and the scan ([`Executor`]). For each
//! decision, in order: the remediation (in remediate mode, unless the target
//! is exempt by config, or by its real ARN or exemption tag read from the
//! user), or its plan (in alert mode, or a dry run); then, for an event, the
//! alert, which says what was done or would have been (the scan sends one
//! summary for all its findings through the same [`deliver`]). An alert is sent even when the remediation
//! failed, so people hear of the finding; the failure is still returned, so
//! the caller retries (every remediation is idempotent, so a retry never
//! does anything twice; alerts are at least once).

mod context;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::time::Instant;

use crate::alert::slack::WebhookError;
use crate::alert::{self, Facts};
use crate::effects::webhook::HOOK_GONE;
use crate::effects::{
    AccountEffects, Claim, ClaimTimes, CredentialSource, EffectError, Fold, HubFinding, Member,
    MemberTarget, SnsMessage,
};
use crate::engine::{Decision, Evaluation, Scope};
use crate::event::CloudTrailEvent;
use crate::remediate::{self, Action, RemediateError, Report, Seen, Status};
use crate::rules::{Mode, Severity, Target, within_days};

pub use context::{Effects, LiveContext, LiveError, account_of_arn};

/// What failed while handling an event or running the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// The input could not be read or parsed.
    Input,
    Remediation,
    ExemptionCheck,
    Alert,
    /// The invocation's deadline came before the work was done.
    Deadline,
}

impl FailureKind {
    /// The name in outputs and logs: `input`, `exemption-check`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Input => "input",
            FailureKind::Remediation => "remediation",
            FailureKind::ExemptionCheck => "exemption-check",
            FailureKind::Alert => "alert",
            FailureKind::Deadline => "deadline",
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What happened for one decision.
#[derive(Debug, Clone, Serialize)]
pub struct FindingOutcome {
    pub rule: &'static str,
    pub severity: Severity,
    pub mode: Mode,
    pub target: Target,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exempt: Option<String>,
    /// The remediation the rule planned, with its parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// What it did, would do, or why it did not run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remediation: Option<Report>,
    pub alerts: Vec<Delivery>,
}

/// Where an alert goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Sns,
    Slack,
}

impl Channel {
    /// The name in outputs and logs: `sns`, `slack`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sns => "sns",
            Channel::Slack => "slack",
        }
    }
}

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether an alert went out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryStatus {
    Sent,
    Failed,
    /// The state table says an earlier delivery of the same finding sent
    /// it to this channel: not sent again.
    AlreadySent,
    /// Folded into its group's open window: the follow-up tells of it when
    /// the window closes.
    Grouped,
}

impl DeliveryStatus {
    /// The name in outputs and logs: `sent`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::AlreadySent => "already-sent",
            DeliveryStatus::Grouped => "grouped",
        }
    }
}

impl std::fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert sent, or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub channel: Channel,
    pub status: DeliveryStatus,
    /// The SNS message id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Was an alert due and none of its channels took it? Then nobody was told,
/// and the invocation must fail so Lambda retries: the one rule for events
/// (judged per finding) and for the scan's summary.
pub fn alert_lost(deliveries: &[Delivery]) -> bool {
    !deliveries.is_empty()
        && deliveries
            .iter()
            .all(|d| d.status == DeliveryStatus::Failed)
}

/// A failed effect of one decision.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ExecError {
    #[error("rule `{rule}`: {source}")]
    Remediation {
        rule: &'static str,
        #[source]
        source: RemediateError,
    },
    /// The member role of the event's account could not be assumed.
    #[error("rule `{rule}`: member role of account `{account}` not assumed: {source}")]
    MemberAccess {
        rule: &'static str,
        account: String,
        #[source]
        source: EffectError,
    },
    #[error("rule `{rule}`: exemption check failed: {source}")]
    ExemptionCheck {
        rule: &'static str,
        #[source]
        source: EffectError,
    },
    #[error("rule `{rule}`: {channel} alert not sent: {source}")]
    Alert {
        rule: &'static str,
        channel: Channel,
        #[source]
        source: EffectError,
    },
    /// Another delivery of the same finding claimed this channel in the
    /// state table and has not finished: the retry sends it if that one
    /// did not.
    #[error(
        "rule `{rule}`: {channel} alert not sent: another delivery of this finding is sending it (its claim in the state table lapses at {})",
        chrono::DateTime::from_timestamp(*lease_until, 0).map_or_else(|| lease_until.to_string(), |t| t.format("%H:%M:%S UTC").to_string())
    )]
    InFlight {
        rule: &'static str,
        channel: Channel,
        lease_until: i64,
    },
    /// Security Hub did not take a batch of findings.
    #[error("security hub import of {count} finding{} failed: {source}", if *count == 1 { "" } else { "s" })]
    Hub {
        count: usize,
        #[source]
        source: EffectError,
    },
    /// The scan's active findings could not be read from Security Hub, so
    /// none was archived (the next scan does it).
    #[error("security hub findings not read, none archived: {source}")]
    HubRead {
        #[source]
        source: EffectError,
    },
    /// Security Hub refused one finding of a batch.
    #[error("security hub refused finding `{id}`: {reason}")]
    HubRefused { id: String, reason: String },
    #[error("rule `{rule}`: slack alert not sent: {source}")]
    Webhook {
        rule: &'static str,
        #[source]
        source: WebhookError,
    },
    /// IAM could not say whether a key the credential report calls unused
    /// was used since (the report can be four hours old); nothing was done.
    #[error("cannot re-check the last use of access key {access_key_id}: {source}")]
    Recheck {
        rule: &'static str,
        access_key_id: String,
        #[source]
        source: EffectError,
    },
    /// The invocation's deadline came before these remediations started.
    #[error(
        "the invocation's deadline came before {count} remediation{} ran",
        if *count == 1 { "" } else { "s" }
    )]
    Deadline { count: usize },
}

impl ExecError {
    /// Which effect failed.
    pub fn kind(&self) -> FailureKind {
        match self {
            ExecError::Remediation { .. }
            | ExecError::Recheck { .. }
            | ExecError::MemberAccess { .. } => FailureKind::Remediation,
            ExecError::Deadline { .. } => FailureKind::Deadline,
            ExecError::ExemptionCheck { .. } => FailureKind::ExemptionCheck,
            ExecError::Alert { .. }
            | ExecError::Webhook { .. }
            | ExecError::InFlight { .. }
            | ExecError::Hub { .. }
            | ExecError::HubRead { .. }
            | ExecError::HubRefused { .. } => FailureKind::Alert,
        }
    }

    /// Worth handling the event again (throttling, 5xx, timeouts, IAM
    /// catching up); access denied and invalid requests are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            ExecError::Remediation { source, .. } => source.is_retryable(),
            ExecError::ExemptionCheck { source, .. }
            | ExecError::MemberAccess { source, .. }
            | ExecError::Alert { source, .. }
            | ExecError::Hub { source, .. }
            | ExecError::HubRead { source } => source.is_retryable(),
            ExecError::HubRefused { .. } => false,
            ExecError::Webhook { source, .. } => source.is_retryable(),
            // A key gone since the report is worth a look again too.
            ExecError::Recheck { source, .. } => source.is_retryable() || source.is_not_found(),
            // What was left is run by the retry; and a retry finds the
            // other delivery's alert sent, or its claim lapsed.
            ExecError::Deadline { .. } | ExecError::InFlight { .. } => true,
        }
    }
}

/// An error as the outputs report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorReport {
    pub kind: FailureKind,
    pub message: String,
    /// Would handling the event (or running the scan) again be worth it,
    /// and safe?
    pub retryable: bool,
}

impl From<&ExecError> for ErrorReport {
    fn from(e: &ExecError) -> Self {
        ErrorReport {
            kind: e.kind(),
            message: e.to_string(),
            retryable: e.is_retryable(),
        }
    }
}

/// Where the decisions being executed came from, which decides how they
/// are alerted and logged.
#[derive(Clone, Copy)]
pub enum Origin<'a> {
    /// One event: each finding is alerted on its own.
    Event(&'a CloudTrailEvent),
    /// The scan, at the time it measured ages: its findings are alerted
    /// together, in one summary ([`deliver`]). A key the credential report
    /// calls unused or old is re-checked through `source` before it is
    /// deactivated: the report can be four hours old.
    Scan {
        now: DateTime<Utc>,
        source: &'a dyn CredentialSource,
    },
}

impl Origin<'_> {
    /// The region the effects run in: the event's (a trail's home region).
    fn region(&self) -> Option<&str> {
        match self {
            Origin::Event(event) => event.aws_region.as_deref(),
            Origin::Scan { .. } => None,
        }
    }

    /// What asked for a remediation, in the log: the event id, or `scan`.
    fn name(&self) -> &str {
        match self {
            Origin::Event(event) => event.event_id.as_deref().unwrap_or(""),
            Origin::Scan { .. } => "scan",
        }
    }
}

/// Rules whose deactivation rests on the credential report's last use,
/// which can be four hours old: re-checked live before acting.
const RECHECK_LAST_USE: [&str; 2] = ["access-key-unused", "access-key-not-rotated"];

/// Runs the decisions of one event or one scan, in order: the one place
/// where a decision's remediation is chosen (planned, refused as exempt,
/// left for the retry, run), logged and alerted.
pub struct Executor<'a> {
    ctx: &'a LiveContext,
    origin: Origin<'a>,
    dry_run: bool,
    stop_at: Option<Instant>,
    /// The actions run so far, with the rule that first asked: one action
    /// can serve two findings (a key both old and unused) and runs once.
    ran: Vec<(Action, &'static str, Report)>,
    deferred: usize,
    errors: Vec<ExecError>,
    /// The findings for Security Hub, imported together by
    /// [`Executor::import_to_hub`].
    hub: Vec<HubFinding>,
    /// Where an event's remediations may run (the scan's: its account's).
    scope: Scope,
}

impl<'a> Executor<'a> {
    pub fn new(ctx: &'a LiveContext, origin: Origin<'a>) -> Self {
        Executor {
            ctx,
            origin,
            dry_run: false,
            stop_at: None,
            ran: Vec::new(),
            deferred: 0,
            errors: Vec::new(),
            hub: Vec::new(),
            scope: match origin {
                Origin::Event(event) => {
                    crate::engine::scope(event, &ctx.config, ctx.own_account.as_deref())
                }
                Origin::Scan { .. } => Scope::Own,
            },
        }
    }

    /// Act in member account `account` (a scan of it) through the member
    /// role, not with the function's own credentials.
    pub fn in_member(mut self, account: &str, partition: &str) -> Self {
        self.scope = Scope::Member {
            account: account.to_owned(),
            partition: partition.to_owned(),
        };
        self
    }

    /// Plan every remediation, change nothing.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Start no remediation from this instant on: those left are reported
    /// as not run, and [`Executor::finish`] says the work was partial.
    pub fn stop_at(mut self, stop_at: Option<Instant>) -> Self {
        self.stop_at = stop_at;
        self
    }

    /// What the remediation of a decision did, would do, or why it did not
    /// run; `None` for a finding without one.
    pub async fn remediation(&mut self, decision: &Decision) -> Option<Report> {
        let rule = decision.finding.rule;
        let action = decision.finding.remediation.as_ref()?;
        Some(match decision.mode {
            Mode::Off => return None,
            Mode::Alert => remediate::plan(action).note(format!(
                "alert mode: nothing was changed; set modes.{rule} = \"remediate\" to apply"
            )),
            Mode::Remediate if self.dry_run => {
                remediate::plan(action).note("dry run: nothing was changed".to_owned())
            }
            Mode::Remediate => match (&self.scope, &decision.exempt) {
                (Scope::AlertOnly(why), _) => {
                    remediate::plan(action).note(format!("{why}; nothing was changed"))
                }
                (_, Some(why)) => Report::new(action.id(), Status::Exempt).note(why.clone()),
                (_, None) => self.run_once(rule, action).await,
            },
        })
    }

    async fn run_once(&mut self, rule: &'static str, action: &Action) -> Report {
        if let Some((_, first_rule, report)) = self.ran.iter().find(|(a, _, _)| a == action) {
            let mut again = Report::new(report.id, report.status);
            again.notes.push(format!(
                "the same action as for {first_rule}, run once: {}",
                report.status.as_str()
            ));
            return again;
        }
        let report = if self.stop_at.is_some_and(|stop| Instant::now() >= stop) {
            self.deferred += 1;
            Report::new(action.id(), Status::Failed)
                .note("not run: the invocation's deadline was near; the scan is retried")
        } else {
            match self.used_recently(rule, action).await {
                Ok(Some(why)) => Report::new(action.id(), Status::Blocked).note(why),
                Err(e) => {
                    let report = Report::new(action.id(), Status::Failed).note(e.to_string());
                    self.errors.push(e);
                    report
                }
                Ok(None) => match self.effects(rule, action).await {
                    Err(report) => report,
                    Ok(effects) => {
                        remediate_unless_exempt(
                            self.ctx,
                            &effects,
                            self.origin.region(),
                            self.origin.name(),
                            rule,
                            action,
                            &mut self.errors,
                        )
                        .await
                    }
                },
            }
        };
        self.ran.push((action.clone(), rule, report.clone()));
        report
    }

    /// The effects of the account the remediation runs in: the function's
    /// own, or the member role's in the event's account; a role that
    /// cannot be assumed fails the remediation (nothing was changed).
    async fn effects(
        &mut self,
        rule: &'static str,
        action: &Action,
    ) -> Result<AccountEffects, Report> {
        let (account, partition) = match &self.scope {
            Scope::Member { account, partition } => (account, partition),
            _ => return Ok(self.ctx.own_effects()),
        };
        let target = MemberTarget {
            account,
            partition,
            region: self.origin.region(),
        };
        let assumed = match &self.ctx.members {
            Some(members) => members.account(&target).await,
            None => Err(EffectError::new(
                "AssumeRole",
                crate::effects::ErrorKind::Other,
                "no access to member accounts was set up",
            )),
        };
        assumed.map_err(|source| {
            let report = Report::new(action.id(), Status::Failed).note(format!(
                "nothing was changed: the member role of account {account} was not assumed: {source}"
            ));
            self.errors.push(ExecError::MemberAccess {
                rule,
                account: account.clone(),
                source,
            });
            report
        })
    }

    /// Why a key must not be deactivated after all: IAM says, now, that it
    /// was used within the unused age. Only for the scan's findings that
    /// rest on the credential report's word.
    async fn used_recently(
        &self,
        rule: &'static str,
        action: &Action,
    ) -> Result<Option<String>, ExecError> {
        let Origin::Scan { now, source } = self.origin else {
            return Ok(None);
        };
        let Action::DeactivateAccessKey {
            user_name,
            access_key_id,
        } = action
        else {
            return Ok(None);
        };
        if !RECHECK_LAST_USE.contains(&rule) {
            return Ok(None);
        }
        let days = self.ctx.config.scan.unused_days;
        match source.access_key_last_used(user_name, access_key_id).await {
            Ok(Some(t)) if within_days(t, now, days) => Ok(Some(format!(
                "not deactivated: GetAccessKeyLastUsed says it was used at {}, within the unused age ({days} days); the credential report was older",
                t.format("%Y-%m-%d %H:%M UTC")
            ))),
            Ok(_) => Ok(None),
            Err(source) => Err(ExecError::Recheck {
                rule,
                access_key_id: access_key_id.clone(),
                source,
            }),
        }
    }

    /// The alerts of one decision of an event, to every configured channel.
    /// The scan's findings are alerted together, by the scan.
    pub async fn alert(&mut self, decision: &Decision, report: Option<&Report>) -> Vec<Delivery> {
        let Origin::Event(event) = self.origin else {
            return Vec::new();
        };
        if let Some(grouped) = self.fold(event, decision).await {
            return grouped;
        }
        let name = self.other_account_name(event).await;
        let mut facts = Facts::new(event, decision, report);
        if let Some(name) = &name {
            facts = facts.in_other_account(name.as_deref());
        }
        // An alert that tells of a failed remediation has its own key: the
        // retry that completes it is alerted too, with what it did and how
        // to undo it. A retry that fails again finds the failure sent.
        let failed = report.is_some_and(|r| r.status == Status::Failed);
        let key = event.event_id.as_deref().map(|id| {
            let key = alert_key(id, decision.finding.rule);
            if failed { format!("{key}#failed") } else { key }
        });
        deliver(
            self.ctx,
            decision.finding.rule,
            key.as_deref(),
            |topic| alert::sns::message(topic, &facts),
            || alert::slack::message(&facts),
            &mut self.errors,
        )
        .await
    }

    /// For an event of another account than the function's own: `Some`,
    /// with the account's name where Organizations gives it.
    async fn other_account_name(&self, event: &CloudTrailEvent) -> Option<Option<String>> {
        if self.scope == Scope::Own {
            return None;
        }
        let names = self.ctx.account_names.as_deref();
        Some(match (names, event.account_id()) {
            (Some(names), Some(account)) => names.name(account).await,
            _ => None,
        })
    }

    /// Offers a finding of a grouped rule to its window (with the state
    /// table): `Some` deliveries marked grouped when it was folded, or
    /// failed retryably while another delivery of it has not decided;
    /// `None` when it alerts at once. A finding whose remediation runs is
    /// never folded: its alert says what was done and how to undo it.
    async fn fold(
        &mut self,
        event: &CloudTrailEvent,
        decision: &Decision,
    ) -> Option<Vec<Delivery>> {
        let state = self.ctx.alert_state.as_deref()?;
        let f = &decision.finding;
        let grouping = self.ctx.config.alerts.grouping(f.rule)?;
        let event_id = event.event_id.as_deref()?;
        if decision.mode == Mode::Remediate && f.remediation.is_some() {
            return None;
        }
        let account = event.account_id().unwrap_or("-");
        let parts: Vec<String> = grouping.by.iter().map(|b| b.value(event, f)).collect();
        let group = format!("group#{account}#{}#{}", f.rule, parts.join("#"));
        let finding = alert_key(event_id, f.rule);
        let label = grouping.label(event, f);
        let service = event.source().trim_end_matches(".amazonaws.com");
        let call = format!("{service}:{}", event.name());
        let now = Utc::now().timestamp();
        let closes_at = now + i64::from(grouping.window_minutes) * 60;
        let member = Member {
            group: &group,
            finding: &finding,
            rule: f.rule,
            label: &label,
            severity: f.severity as u8,
            call: &call,
            time: event.event_time.as_deref().unwrap_or(""),
            now,
            lease_until: now + CLAIM_LEASE_SECONDS,
            closes_at,
            expires_at: closes_at + SENT_RETENTION_SECONDS,
        };
        let mut channels = Vec::new();
        if self.ctx.config.alerts.sns_topic_arn.is_some() {
            channels.push(Channel::Sns);
        }
        if !matches!(self.ctx.slack, crate::alert::slack::WebhookSource::None) {
            channels.push(Channel::Slack);
        }
        match state.fold(&member).await {
            Ok(Fold::AlertNow) => None,
            Ok(Fold::Folded) => Some(
                channels
                    .into_iter()
                    .map(|channel| Delivery {
                        channel,
                        status: DeliveryStatus::Grouped,
                        id: None,
                        error: None,
                    })
                    .collect(),
            ),
            // Another delivery of this finding has not decided: alerting
            // now would be one alert too many if it folds. Each channel
            // fails retryably; the retry finds the decision.
            Ok(Fold::InFlight { lease_until }) => Some(
                channels
                    .into_iter()
                    .map(|channel| {
                        let e = ExecError::InFlight {
                            rule: f.rule,
                            channel,
                            lease_until,
                        };
                        let d = failed(channel, &e.to_string());
                        self.errors.push(e);
                        d
                    })
                    .collect(),
            ),
            Err(e) => {
                tracing::warn!(
                    group = group.as_str(),
                    error = %e,
                    "state table unreachable: this finding alerts on its own, not grouped"
                );
                None
            }
        }
    }

    /// Keeps the Security Hub finding of a decision (when Security Hub is
    /// on), for [`Executor::import_to_hub`]: an event's per (event, rule), the
    /// scan's per (rule, target) of the scanned `account`.
    pub fn record_for_hub(&mut self, decision: &Decision, report: Option<&Report>, account: &str) {
        if self.ctx.hub.is_none() || self.dry_run {
            return;
        }
        let now = Utc::now();
        let finding = match self.origin {
            Origin::Event(event) => {
                crate::alert::asff::event_finding(&Facts::new(event, decision, report), now)
            }
            Origin::Scan { .. } => Some(crate::alert::asff::scan_finding(
                account,
                self.ctx.region.as_deref(),
                decision,
                report,
                now,
            )),
        };
        self.hub.extend(finding);
    }

    /// Imports the findings kept, in batches. After a complete scan of
    /// `account`, the scan's findings Security Hub still holds active but
    /// this scan did not find are resolved: archived, compliance passed.
    pub async fn import_to_hub(&mut self, resolved_in: Option<&str>) {
        let Some(hub) = self.ctx.hub.clone() else {
            return;
        };
        let mut findings = std::mem::take(&mut self.hub);
        if let Some(account) = resolved_in.filter(|_| self.deferred == 0 && !self.dry_run) {
            match hub
                .active(account, crate::alert::asff::SCAN_GENERATOR)
                .await
            {
                Ok(active) => {
                    let now = Utc::now().to_rfc3339();
                    let found: std::collections::HashSet<&str> =
                        findings.iter().map(|f| f.id.as_str()).collect();
                    let resolved: Vec<HubFinding> = active
                        .into_iter()
                        .filter(|f| !found.contains(f.id.as_str()))
                        .map(|mut f| {
                            f.archived = true;
                            f.passed = true;
                            f.updated_at = now.clone();
                            f
                        })
                        .collect();
                    findings.extend(resolved);
                }
                Err(source) => self.errors.push(ExecError::HubRead { source }),
            }
        }
        import_batches(self.ctx, hub.as_ref(), &findings, &mut self.errors).await;
    }

    /// The decision log line: what was decided and done, and how to undo
    /// it. Also when the alert fails, since the retry finds the work done
    /// and would otherwise lose the undo commands and the moved document.
    /// (No secrets in a report.)
    pub fn log(&self, decision: &Decision, report: Option<&Report>, alerts: &[Delivery]) {
        let f = &decision.finding;
        let (calls, undo, document) = match report {
            Some(r) => (to_json(&r.calls), to_json(&r.undo), to_json(&r.document)),
            None => ("[]".to_owned(), "[]".to_owned(), "null".to_owned()),
        };
        let action = f.remediation.as_ref().map_or("none", Action::id);
        let outcome = report.map_or("none", |r| r.status.as_str());
        match self.origin {
            Origin::Event(event) => tracing::info!(
                event_id = event.event_id.as_deref().unwrap_or(""),
                event_name = event.name(),
                rule = f.rule,
                mode = decision.mode.as_str(),
                action,
                outcome,
                alerts = channels(alerts),
                calls,
                undo,
                document,
                "decision"
            ),
            Origin::Scan { .. } => tracing::info!(
                origin = "scan",
                rule = f.rule,
                severity = f.severity.as_str(),
                mode = decision.mode.as_str(),
                target = f.target.label(),
                action,
                outcome,
                exempt = decision.exempt.as_deref().unwrap_or(""),
                summary = f.summary.as_str(),
                calls,
                undo,
                document,
                "scan finding"
            ),
        }
    }

    /// The errors met, and whether the deadline left work for the retry.
    pub fn finish(mut self) -> (Vec<ExecError>, bool) {
        let partial = self.deferred > 0;
        if partial {
            tracing::warn!(
                origin = self.origin.name(),
                deferred = self.deferred,
                "deadline near: remediations left for the retry"
            );
            self.errors.push(ExecError::Deadline {
                count: self.deferred,
            });
        }
        (self.errors, partial)
    }
}

/// Everything the executor did for one event.
#[derive(Debug, Clone, Default)]
pub struct Execution {
    pub findings: Vec<FindingOutcome>,
    pub errors: Vec<ExecError>,
}

/// Runs the effects of every decision of one event: its remediation, then
/// its alert, which says what was done or would have been.
pub async fn execute(ctx: &LiveContext, event: &CloudTrailEvent, eval: &Evaluation) -> Execution {
    let mut exec = Executor::new(ctx, Origin::Event(event));
    let mut findings = Vec::with_capacity(eval.decisions.len());
    for decision in &eval.decisions {
        let remediation = exec.remediation(decision).await;
        let alerts = exec.alert(decision, remediation.as_ref()).await;
        exec.log(decision, remediation.as_ref(), &alerts);
        exec.record_for_hub(decision, remediation.as_ref(), "");
        let finding = &decision.finding;
        findings.push(FindingOutcome {
            rule: finding.rule,
            severity: finding.severity,
            mode: decision.mode,
            target: finding.target.clone(),
            summary: finding.summary.clone(),
            exempt: decision.exempt.clone(),
            action: finding.remediation.clone(),
            remediation,
            alerts,
        });
    }
    exec.import_to_hub(None).await;
    let (errors, _) = exec.finish();
    Execution { findings, errors }
}

/// How long a claim in the state table keeps other deliveries of the same
/// alert off: far longer than a send takes, and shorter than async
/// Lambda's two retries (one minute, then two more), so a delivery that
/// died mid-send is taken over by the second retry at the latest.
pub const CLAIM_LEASE_SECONDS: i64 = 120;

/// How long the state table remembers a sent alert (its `expires_at`):
/// past every redelivery (EventBridge retries for 24 hours, the function
/// keeps an event for one hour) with room for a manual `trailguard
/// handle` of the same file.
pub const SENT_RETENTION_SECONDS: i64 = 7 * 24 * 3600;

/// The state table's key of one finding's alert (event id and rule); an
/// alert of a failed remediation appends `#failed`, and each channel its
/// name.
pub fn alert_key(event_id: &str, rule: &str) -> String {
    format!("alert#{event_id}#{rule}")
}

/// Sends one alert to every configured channel: SNS, then Slack (its
/// webhook URL read from Secrets Manager once per context). `rule` names
/// the alert in errors (`scan` for the scan's summary). With a `key` and a
/// state table, each channel is claimed in the table first and sent only
/// once ([`send_once`]). Each channel's failure is returned in `errors` and
/// in its [`Delivery`]; whether the alert was lost as a whole is
/// [`alert_lost`].
pub async fn deliver(
    ctx: &LiveContext,
    rule: &'static str,
    key: Option<&str>,
    sns: impl FnOnce(&str) -> SnsMessage,
    slack: impl FnOnce() -> serde_json::Value,
    errors: &mut Vec<ExecError>,
) -> Vec<Delivery> {
    let mut out = Vec::new();
    if let Some(topic) = ctx.config.alerts.sns_topic_arn.as_deref() {
        let publish = || async move { ctx.effects.publisher.publish(&sns(topic)).await.map(Some) };
        out.push(send_once(ctx, rule, key, Channel::Sns, publish, errors).await);
    }
    match ctx.slack_url().await {
        Ok(None) => {}
        Ok(Some(url)) => {
            let post = || async move {
                let body = slack();
                let webhook = &ctx.effects.webhook;
                match webhook.post_json(&url, &body).await {
                    // Rotated since this container read the secret: the
                    // secret holds the new hook.
                    Err(e) if e.code.as_deref() == Some(HOOK_GONE) => {
                        match ctx.rotated_slack_url(&url).await {
                            Some(new) => webhook.post_json(&new, &body).await,
                            None => Err(e),
                        }
                    }
                    sent => sent,
                }
                .map(|()| None)
            };
            out.push(send_once(ctx, rule, key, Channel::Slack, post, errors).await);
        }
        Err(source) => {
            out.push(failed(Channel::Slack, &source.to_string()));
            errors.push(ExecError::Webhook { rule, source });
        }
    }
    out
}

/// Sends to one channel, once per `key` when a state table is configured:
/// a conditional write claims the channel, the send follows, and the claim
/// becomes `sent`, or is given up on failure so the retry sends. A key
/// already sent is not sent again; one another delivery holds fails
/// retryably. A table that cannot be reached does not stop the alert (an
/// alert twice beats an alert lost); the log says so.
async fn send_once<F, Fut>(
    ctx: &LiveContext,
    rule: &'static str,
    key: Option<&str>,
    channel: Channel,
    send: F,
    errors: &mut Vec<ExecError>,
) -> Delivery
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<Option<String>, EffectError>>,
{
    let table = ctx
        .alert_state
        .as_deref()
        .zip(key)
        .map(|(state, key)| (state, format!("{key}#{channel}")));
    let mut claimed = None;
    if let Some((state, key)) = &table {
        let now = Utc::now().timestamp();
        let times = ClaimTimes {
            now,
            lease_until: now + CLAIM_LEASE_SECONDS,
            expires_at: now + SENT_RETENTION_SECONDS,
        };
        match state.claim(key, times).await {
            Ok(Claim::Won) => claimed = Some((*state, key.as_str())),
            Ok(Claim::Sent) => {
                return Delivery {
                    channel,
                    status: DeliveryStatus::AlreadySent,
                    id: None,
                    error: None,
                };
            }
            Ok(Claim::Held { lease_until }) => {
                let e = ExecError::InFlight {
                    rule,
                    channel,
                    lease_until,
                };
                let d = failed(channel, &e.to_string());
                errors.push(e);
                return d;
            }
            Err(e) => tracing::warn!(
                key = key.as_str(),
                channel = channel.as_str(),
                error = %e,
                "state table unreachable: alerting without deduplication (this alert may be sent twice)"
            ),
        }
    }
    match send().await {
        Ok(id) => {
            if let Some((state, key)) = claimed
                && let Err(e) = state.mark_sent(key, id.as_deref()).await
            {
                tracing::warn!(
                    key,
                    channel = channel.as_str(),
                    error = %e,
                    "alert sent but not recorded in the state table: a retry after the claim lapses sends it again"
                );
            }
            sent(channel, id)
        }
        Err(source) => {
            if let Some((state, key)) = claimed
                && let Err(e) = state.release(key).await
            {
                tracing::warn!(
                    key,
                    channel = channel.as_str(),
                    error = %e,
                    "claim not given up in the state table: the retry sends once it lapses"
                );
            }
            let d = failed(channel, &source.to_string());
            errors.push(ExecError::Alert {
                rule,
                channel,
                source,
            });
            d
        }
    }
}

/// How often a throttled batch is tried before it is reported failed.
const HUB_ATTEMPTS: u32 = 5;

/// Imports `findings` into Security Hub in batches of at most 100, each
/// retried with a doubling wait (1 s, 2 s, ...) while Security Hub
/// throttles or fails (its quota is 10 calls a second per account, bursts
/// of 30); what still fails, and each finding refused, is in `errors`.
async fn import_batches(
    ctx: &LiveContext,
    hub: &dyn crate::effects::FindingsHub,
    findings: &[HubFinding],
    errors: &mut Vec<ExecError>,
) {
    for batch in findings.chunks(crate::effects::hub::BATCH_MAX) {
        let mut wait = std::time::Duration::from_secs(1);
        let mut attempt = 1;
        loop {
            match hub.import(batch).await {
                Ok(refused) => {
                    for (id, reason) in refused {
                        tracing::warn!(
                            id = id.as_str(),
                            reason = reason.as_str(),
                            "security hub refused a finding"
                        );
                        errors.push(ExecError::HubRefused { id, reason });
                    }
                    tracing::info!(findings = batch.len(), attempt, "security hub import");
                    break;
                }
                Err(source) if source.is_retryable() && attempt < HUB_ATTEMPTS => {
                    tracing::warn!(attempt, error = %source, "security hub import retried");
                    ctx.sleep.sleep(wait).await;
                    wait *= 2;
                    attempt += 1;
                }
                Err(source) => {
                    errors.push(ExecError::Hub {
                        count: batch.len(),
                        source,
                    });
                    break;
                }
            }
        }
    }
}

/// `sns:sent,slack:failed`, for a log field.
pub fn channels(alerts: &[Delivery]) -> String {
    let channels: Vec<String> = alerts
        .iter()
        .map(|d| format!("{}:{}", d.channel, d.status))
        .collect();
    channels.join(",")
}
/// The user an action changes, whose exemptions must be checked first.
fn target_user(action: &Action) -> Option<&str> {
    match action {
        Action::MovePolicyToGroup { user_name, .. }
        | Action::MoveInlinePolicyToGroup { user_name, .. }
        | Action::DeactivateAccessKey { user_name, .. } => Some(user_name),
        Action::RestorePasswordPolicy { .. } | Action::StartLogging { .. } => None,
    }
}

/// Runs the remediation unless the user it changes, as IAM describes it now,
/// is exempt. The engine could only match principals against an ARN built
/// from the user name, which misses users with a path (`user/ops/name`) and
/// other partitions; GetUser answers the real ARN, and the tags, in one read.
/// `region` is the event's (a trail's home region); `origin` names what
/// asked for it in the log (an event id, or `scan`).
#[allow(clippy::too_many_arguments)]
async fn remediate_unless_exempt(
    ctx: &LiveContext,
    effects: &AccountEffects,
    region: Option<&str>,
    origin: &str,
    rule: &'static str,
    action: &Action,
    errors: &mut Vec<ExecError>,
) -> Report {
    let id = action.id();
    let rctx = remediate::Ctx {
        iam: effects.iam.as_ref(),
        trail: effects.trail.as_ref(),
        region,
        retry: ctx.retry,
        sleep: ctx.sleep.as_ref(),
    };
    let ex = &ctx.config.exemptions;
    let check = ex.tag.is_some() || !ex.principals.is_empty();
    if let Some(user) = target_user(action).filter(|_| check) {
        // A user created seconds before the event may not be readable yet.
        let read = remediate::patiently(&rctx, || async {
            Ok(match rctx.iam.user(user).await? {
                Some(info) => Seen::Present(info),
                None => Seen::Absent(remediate::user_gone(id, user)),
            })
        });
        match read.await {
            Ok(Seen::Absent(report)) => return report,
            Ok(Seen::Present(info)) => {
                if let Some(pattern) = ex.principal(&info.arn) {
                    return Report::new(id, Status::Exempt).note(format!(
                        "user {} matches exempt principal `{pattern}`",
                        info.arn
                    ));
                }
                // IAM tag keys on a user are unique regardless of case, so
                // `Trailguard:Exempt` is the same tag as `trailguard:exempt`.
                let tagged = ex.tag.as_deref().and_then(|tag| {
                    info.tags.iter().find(|(k, v)| {
                        k.to_lowercase() == tag.to_lowercase()
                            && v.trim().eq_ignore_ascii_case("true")
                    })
                });
                if let Some((k, v)) = tagged {
                    return Report::new(id, Status::Exempt)
                        .note(format!("user {user} carries the exemption tag {k}={v}"));
                }
            }
            Err(source) => {
                let report = Report::new(id, Status::Failed).note(format!(
                    "could not read user {user} to check its exemptions, so nothing was changed: {source}"
                ));
                errors.push(ExecError::ExemptionCheck { rule, source });
                return report;
            }
        }
    }
    match remediate::run(action, &rctx).await {
        Ok(report) => report,
        Err(source) => {
            let report = (*source.report).clone();
            tracing::warn!(
                event_id = origin,
                rule,
                action = id,
                retryable = source.is_retryable(),
                error = %source,
                "remediation failed"
            );
            errors.push(ExecError::Remediation { rule, source });
            report
        }
    }
}

/// A value as one line of JSON, for a log field.
fn to_json(value: &impl Serialize) -> String {
    // Lists of strings and an optional string cannot fail to serialize.
    serde_json::to_string(value).unwrap_or_default()
}

fn sent(channel: Channel, id: Option<String>) -> Delivery {
    Delivery {
        channel,
        status: DeliveryStatus::Sent,
        id,
        error: None,
    }
}

fn failed(channel: Channel, error: &str) -> Delivery {
    Delivery {
        channel,
        status: DeliveryStatus::Failed,
        id: None,
        error: Some(error.to_owned()),
    }
}

#[cfg(test)]
mod tests;
