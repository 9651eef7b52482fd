//! recovery-notifier: tells people what happened, and asks them when a human must decide.
//!
//! One SNS message per call, with a human-readable text for email and SMS, a JSON body for
//! machine subscribers (SQS, Lambda, HTTP), and message attributes (application, status,
//! severity) for subscription filters. Success and failure also print CloudWatch embedded
//! metric format lines: RTO, RPO and each step's duration.

pub mod message;

use std::time::Instant;

use aws_sdk_sns::types::MessageAttributeValue;
use chrono::{DateTime, Utc};
use rebound_shared::context::{
    parse_request, Action, ActionStatus, BadRequest, NotificationKind, NotificationRequest, RecoveryPath, Step,
    StepResult,
};
use rebound_shared::error::{AwsError, ErrorKind};
use rebound_shared::reports::ReportStore;
use rebound_shared::step::{elapsed_ms, towards_recovery};
use rebound_shared::table::RecoveryTable;
use rebound_shared::{report, RecoveryContext};
use serde_json::{json, Value};

pub use message::{compose, metrics_line, Notification};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    BadRequest(#[from] BadRequest),
    #[error("notification.topicArn '{0}' is not an SNS topic ARN")]
    BadTopic(String),
    #[error("an approval request needs taskToken")]
    MissingTaskToken,
    #[error("publishing to {topic}: {source}")]
    Aws { topic: String, source: AwsError },
}

impl NotifyError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            NotifyError::Aws { source, .. } => source.kind,
            _ => ErrorKind::InvalidInput,
        }
    }
}

rebound_shared::impl_diagnostic!(NotifyError);

/// Publishes with a client for the topic's own region, built from one configuration.
pub struct RecoveryNotifier {
    pub config: aws_config::SdkConfig,
    /// `RECOVERY_TABLE`: where the end of a recovery releases its lease, starts the cooldown and
    /// is audited.
    pub table: Option<RecoveryTable>,
    /// `REPORT_BUCKET`: where the end of every execution leaves its report.
    pub reports: Option<ReportStore>,
}

impl RecoveryNotifier {
    pub async fn handle(&self, payload: Value, now: DateTime<Utc>) -> Result<StepResult, NotifyError> {
        let request: NotificationRequest = parse_request(payload)?;
        let ctx = &request.context;
        let topic = ctx.plan.notification.topic_arn.clone();
        let region = topic_region(&topic).ok_or_else(|| NotifyError::BadTopic(topic.clone()))?;
        if request.kind == NotificationKind::ApprovalRequest && request.task_token.as_deref().is_none_or(str::is_empty)
        {
            return Err(NotifyError::MissingTaskToken);
        }
        let invocation = Instant::now();
        let note = compose(&request, now);
        if matches!(request.kind, NotificationKind::Success | NotificationKind::Failure) {
            // Embedded metric format: CloudWatch Logs turns this line into metrics (Lambda ships
            // stderr like stdout; stdout stays free for `rebound run`'s output).
            eprintln!("{}", metrics_line(ctx, request.kind == NotificationKind::Success, now));
        }
        if ctx.dry_run {
            // A dry run's outcome is its output: nobody is told of a recovery that did not happen.
            let mut result = StepResult::begin(Step::Notification, ctx, now);
            let mut action = Action::change(
                &topic,
                "Publish",
                Value::Null,
                json!({ "kind": request.kind, "subject": note.subject, "text": note.text }),
                true,
            );
            action.detail = Some("dry run: not published".into());
            result.actions.push(action);
            return Ok(result.settle(invocation, now));
        }
        // The recovery is closed before anyone is told: a publish that fails must not leave the
        // lease held or the recovery unrecorded.
        let outcome = match request.kind {
            NotificationKind::Success => Some("succeeded"),
            NotificationKind::Failure if message::cancelled(ctx) => Some("cancelled"),
            NotificationKind::Failure => Some("failed"),
            _ => None,
        };
        // A readiness check took no lease.
        let recovery = ctx.path != RecoveryPath::ReadinessCheck;
        let closed = match (&self.table, outcome, recovery) {
            (Some(table), Some(outcome), true) => Some(close(table, ctx, outcome, now).await),
            _ => None,
        };
        let mut note = note;
        let report = match (&self.reports, outcome_status(request.kind)) {
            (Some(store), Some(status)) => Some(write_report(store, ctx, status, now).await),
            _ => None,
        };
        match &report {
            Some((_, Some(stored))) => {
                note.text = format!("{}\n\nReport: {} ({})", note.text, stored.html, stored.console_url);
                note.body["report"] =
                    json!({ "json": stored.json, "html": stored.html, "consoleUrl": stored.console_url });
            }
            Some((action, None)) => {
                let warning = format!(
                    "WARNING: the execution's report could not be written: {}",
                    action.detail.as_deref().unwrap_or_default()
                );
                note.text = format!("{warning}\n\n{}", note.text);
                note.body["reportNotWritten"] = json!(warning);
            }
            None => {}
        }
        if let Some(end) = closed.as_ref().filter(|a| a.status == ActionStatus::Failed) {
            let warning = format!(
                "WARNING: the lease was NOT released ({}); another recovery of {app} is refused until it expires, \
                 or run: rebound lease release --application {app} --table {table} --reason \"...\"",
                end.detail.as_deref().unwrap_or_default(),
                app = ctx.application,
                table = self.table.as_ref().map(|t| t.name.as_str()).unwrap_or_default(),
            );
            note.text = format!("{warning}\n\n{}", note.text);
            note.body["leaseNotReleased"] = json!(warning);
        }
        let sns = aws_sdk_sns::Client::new(&rebound_shared::aws::in_region(&self.config, region));
        // The warning above made it longer: fit it again.
        let note = note.fit();
        let mut publish = sns
            .publish()
            .topic_arn(&topic)
            .subject(&note.subject)
            .message_structure("json")
            .message(note.message_structure());
        for (name, value) in &note.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| NotifyError::BadRequest(BadRequest(e.to_string())))?;
            publish = publish.message_attributes(*name, attribute);
        }
        if topic.ends_with(".fifo") {
            // FIFO topics drop a retried publish of the same notification.
            publish = publish
                .message_group_id(&ctx.application)
                .message_deduplication_id(message::notification_id(&request).replace('/', "-"));
        }
        let started = Instant::now();
        let out = publish.send().await.map_err(|e| NotifyError::Aws {
            topic: topic.clone(),
            source: rebound_shared::error::from_sdk("sns", "Publish", &e),
        })?;
        let mut result = StepResult::begin(Step::Notification, ctx, now);
        result.actions.push(Action {
            resource: topic,
            operation: "Publish".into(),
            before: Value::Null,
            after: json!({ "kind": request.kind, "subject": note.subject }),
            already_done: false,
            status: ActionStatus::Done,
            duration_ms: elapsed_ms(started),
            tracking_id: out.message_id().map(str::to_string),
            detail: None,
            expected_at: None,
        });
        result.actions.extend(closed);
        result.actions.extend(report.map(|(action, _)| action));
        Ok(result.settle(invocation, now))
    }
}

/// The execution's end as Step Functions will show it, for the notifications that end one.
fn outcome_status(kind: NotificationKind) -> Option<&'static str> {
    match kind {
        NotificationKind::Success => Some("SUCCEEDED"),
        NotificationKind::Failure | NotificationKind::NotReady => Some("FAILED"),
        _ => None,
    }
}

/// Writes the execution's report. A failure is reported in the notification, not raised:
/// people hear of the recovery either way.
async fn write_report(
    store: &ReportStore,
    ctx: &RecoveryContext,
    status: &str,
    now: DateTime<Utc>,
) -> (Action, Option<rebound_shared::reports::Stored>) {
    let started = Instant::now();
    let execution = report::Execution {
        name: ctx.run_name(),
        arn: None,
        status: status.to_string(),
        started_at: ctx.timestamps.decided_at,
        stopped_at: Some(now),
    };
    let built = report::build(ctx, execution, now);
    let written = store.put(&built).await;
    let mut action = Action {
        resource: format!("s3://{}/{}.json", store.bucket, ReportStore::key(&built)),
        operation: "PutObject".into(),
        before: Value::Null,
        after: json!({ "status": status }),
        already_done: false,
        status: ActionStatus::Done,
        duration_ms: elapsed_ms(started),
        tracking_id: None,
        detail: None,
        expected_at: None,
    };
    match written {
        Ok(stored) => (action, Some(stored)),
        Err(e) => {
            tracing::error!(error = %e, "could not write the execution's report");
            action.status = ActionStatus::Failed;
            action.detail = Some(e.to_string());
            (action, None)
        }
    }
}

/// Pauses between attempts to close a recovery in the table.
const CLOSE_RETRY_PAUSES_MS: [u64; 3] = [200, 800, 3200];

/// Ends a recovery in the table: the cooldown starts, the lease is released, the outcome is
/// audited. A failure here is reported, first thing in the message people get next, not
/// raised: telling them matters more, and the lease still expires on its own.
async fn close(table: &RecoveryTable, ctx: &RecoveryContext, outcome: &str, now: DateTime<Utc>) -> Action {
    let started = Instant::now();
    let app = &ctx.application;
    // The cooldown follows a recovery that succeeded or changed something; a refusal that
    // changed nothing (not ready, rejected) leaves the next attempt free.
    // A reprotect moves nothing: it starts no cooldown for the next recovery.
    let changed = ctx.path != RecoveryPath::Reprotect && (outcome == "succeeded" || changed_anything(ctx));
    let detail =
        json!({ "outcome": outcome, "error": ctx.error, "mode": ctx.mode, "changed": changed, "attempt": ctx.attempt });
    let attempt = || async {
        if changed {
            let moved_to = (ctx.path == RecoveryPath::Failover && towards_recovery(ctx))
                .then_some(ctx.plan.recovery_region.as_str());
            table
                .finish(app, &ctx.recovery_id, ctx.attempt, outcome, moved_to, now)
                .await?;
        }
        if ctx.path == RecoveryPath::Reprotect && outcome == "succeeded" {
            table.reprotected(app, &ctx.recovery_id, now).await?;
        }
        let released = table.release(app, &ctx.run_name()).await?;
        table.audit(app, &ctx.recovery_id, "outcome", now, &detail).await?;
        Ok::<bool, AwsError>(released)
    };
    // Each write is idempotent, so the whole close is retried on throttling or a lost
    // connection, beyond the SDK's own attempts.
    let mut done = attempt().await;
    for pause_ms in CLOSE_RETRY_PAUSES_MS {
        match &done {
            Err(e) if e.kind == ErrorKind::Transient => {
                tokio::time::sleep(std::time::Duration::from_millis(pause_ms)).await;
                done = attempt().await;
            }
            _ => break,
        }
    }
    let (status, detail) = match done {
        Ok(released) => (
            ActionStatus::Done,
            format!(
                "{outcome}; lease {}; {}",
                if released { "released" } else { "was not held" },
                if changed {
                    "cooldown started"
                } else if ctx.path == RecoveryPath::Reprotect {
                    "a reprotect moves no traffic or writer, so no cooldown"
                } else {
                    "nothing was changed, so no cooldown"
                }
            ),
        ),
        Err(e) => {
            tracing::error!(error = %e, "could not close the recovery in the table");
            (ActionStatus::Failed, e.to_string())
        }
    };
    Action {
        resource: format!("dynamodb:{}/app#{app}", table.name),
        operation: "EndRecovery".into(),
        before: Value::Null,
        after: json!({ "outcome": outcome }),
        already_done: false,
        status,
        duration_ms: elapsed_ms(started),
        tracking_id: None,
        detail: Some(detail),
        expected_at: None,
    }
}

/// Whether any step changed a resource (rather than only reading, or finding it in place). A
/// step that failed may have changed something before it did, so it counts as a change.
fn changed_anything(ctx: &RecoveryContext) -> bool {
    ctx.results.acting().any(|s| {
        s.status == rebound_shared::context::StepStatus::Failed
            || s.actions
                .iter()
                .any(|a| !a.already_done && matches!(a.status, ActionStatus::Done | ActionStatus::Pending))
    })
}

/// `arn:aws:sns:REGION:ACCOUNT:NAME` → REGION.
fn topic_region(arn: &str) -> Option<&str> {
    match arn.split(':').collect::<Vec<_>>()[..] {
        ["arn", _, "sns", region, _, name] if !region.is_empty() && !name.is_empty() => Some(region),
        _ => None,
    }
}
