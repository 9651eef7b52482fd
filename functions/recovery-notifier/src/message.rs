//! What a notification says: pure functions of the request and the time.

mod approval;
mod steps;

use chrono::{DateTime, Utc};
use rebound_shared::context::{Declined, NotificationKind, NotificationRequest, RecoveryContext, StepResult};
use rebound_shared::objectives::Measurement;
use serde_json::{json, Map, Value};
pub(crate) use steps::cancelled;
use steps::{skipped_steps, step_line};

pub struct Notification {
    /// ASCII, under 100 characters (SNS rejects longer subjects).
    pub subject: String,
    pub text: String,
    pub body: Value,
    pub attributes: Vec<(&'static str, String)>,
}

/// SNS takes a message of at most 256 KB: 262,144 bytes of the whole message structure.
pub const MAX_MESSAGE_BYTES: usize = 262_144;

/// The most entries of one list (checks, warnings, writers) a message spells out; the rest are
/// counted. A plan of thousands of records must not make a message nobody can read or send.
pub const MAX_LISTED: usize = 40;

/// The longest line of text: a check's detail can name every record of a plan.
const MAX_LINE: usize = 1_000;

impl Notification {
    /// The SNS message structure: the text for email and SMS (the subject), the JSON body for
    /// machine subscribers.
    pub fn message_structure(&self) -> String {
        let body = self.body.to_string();
        json!({
            "default": self.text,
            "email": self.text,
            "sms": self.subject,
            "sqs": body,
            "lambda": body,
            "http": body,
            "https": body,
        })
        .to_string()
    }

    /// Cuts the text and body until the message structure fits SNS's limit, saying so and
    /// where the whole story is. Lists are already capped; this is the last guard.
    pub fn fit(mut self) -> Notification {
        let mut budget = self.text.len();
        while self.message_structure().len() > MAX_MESSAGE_BYTES && budget > 0 {
            budget /= 2;
            let cut: String = self.text.chars().take(budget).collect();
            self.text = format!(
                "{cut}\n... (cut to fit SNS's 256 KB message limit: the execution's history and the recovery \
                 table's audit records hold the rest)"
            );
            if let Some(map) = self.body.as_object_mut() {
                map.remove("readiness");
                map.remove("reasons");
                map.insert("truncated".into(), json!(true));
            }
        }
        self
    }
}

/// A line no longer than `MAX_LINE` characters.
fn clip(line: String) -> String {
    if line.chars().count() <= MAX_LINE {
        return line;
    }
    let head: String = line.chars().take(MAX_LINE).collect();
    format!("{head}... ({} characters)", line.chars().count())
}

/// At most `MAX_LISTED` lines, then how many more there were.
fn listed(lines: Vec<String>, what: &str) -> Vec<String> {
    let more = lines.len().saturating_sub(MAX_LISTED);
    let mut out: Vec<String> = lines.into_iter().take(MAX_LISTED).map(clip).collect();
    if more > 0 {
        out.push(format!("  ... and {more} more {what}"));
    }
    out
}

fn status_word(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::Success => "SUCCEEDED",
        NotificationKind::Failure => "FAILED",
        NotificationKind::ApprovalRequest => "AWAITING APPROVAL",
        NotificationKind::NoRecoveryNeeded => "NO RECOVERY NEEDED",
        NotificationKind::NotReady => "NOT READY",
    }
}

fn duration(seconds: f64) -> String {
    let s = seconds.round() as i64;
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s}s"),
        (h, m, _) => format!("{h}h {m}m"),
    }
}

fn measurement(name: &str, m: &Measurement) -> String {
    match (m.actual_seconds, m.met) {
        (Some(actual), Some(met)) => format!(
            "{name}: {} (target {}) {}",
            duration(actual),
            duration(m.target_seconds as f64),
            if met { "met" } else { "MISSED" }
        ),
        _ => format!("{name}: not measured (target {})", duration(m.target_seconds as f64)),
    }
}

/// Where traffic moves from and to: back to the primary region in a failback.
fn direction(ctx: &RecoveryContext) -> (&str, &str) {
    if ctx.mode == rebound_shared::context::Mode::Failback {
        (&ctx.plan.recovery_region, &ctx.plan.primary_region)
    } else {
        (&ctx.plan.primary_region, &ctx.plan.recovery_region)
    }
}

fn subject(request: &NotificationRequest) -> String {
    let ctx = &request.context;
    let app = &ctx.application;
    let (_, to) = direction(ctx);
    let dry = if ctx.dry_run { "[DRY RUN] " } else { "" };
    let reprotect = ctx.path == rebound_shared::context::RecoveryPath::Reprotect;
    let text = match request.kind {
        NotificationKind::Success if reprotect && ctx.dry_run => format!("{app} would be protected again"),
        NotificationKind::Success if reprotect => format!("{app} protected again: ready to fail back to {to}"),
        NotificationKind::Failure if reprotect && !cancelled(ctx) => format!(
            "{app} reprotect FAILED: {}",
            ctx.error.as_ref().map_or("unknown error", |e| e.error.as_str())
        ),
        NotificationKind::Success if ctx.dry_run => format!("{app} would recover to {to}"),
        NotificationKind::Success => match ctx
            .results
            .validation
            .as_ref()
            .and_then(|v| v.rto.actual_seconds.map(|a| (a, v.rto.met)))
        {
            Some((rto, met)) => format!(
                "{app} recovered to {to} in {} (RTO {})",
                duration(rto),
                if met == Some(true) { "met" } else { "missed" }
            ),
            None => format!("{app} recovered to {to}"),
        },
        NotificationKind::Failure if cancelled(ctx) => format!("{app} recovery CANCELLED by an operator"),
        NotificationKind::Failure => format!(
            "{app} recovery FAILED: {}",
            ctx.error.as_ref().map_or("unknown error", |e| e.error.as_str())
        ),
        NotificationKind::ApprovalRequest => {
            format!("{app}: approve {} to {to}?", ctx.mode)
        }
        NotificationKind::NoRecoveryNeeded if ctx.decision.declined == Some(Declined::Unconfirmed) => {
            format!("{app}: disaster NOT CONFIRMED, no recovery started")
        }
        NotificationKind::NoRecoveryNeeded => format!("{app}: no recovery needed"),
        NotificationKind::NotReady => format!("{app}: {to} NOT READY for a {}", ctx.mode),
    };
    let skipped = skipped_steps(ctx);
    let text = match (request.kind, skipped) {
        (NotificationKind::Success, n) if n > 0 => format!("{text}, {n} step(s) SKIPPED"),
        _ => text,
    };
    let full: String = format!("[Rebound] {dry}{text}")
        .chars()
        .map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' })
        .collect();
    full.chars().take(99).collect()
}

/// What people must act on: an old writer that could not be fenced (a split-brain risk), a
/// promotion whose data loss could not be measured, and a check that could not be read.
fn warnings(ctx: &RecoveryContext) -> Vec<String> {
    let actions = ctx.results.database.iter().flat_map(|d| d.actions.iter());
    let unknown = ctx
        .results
        .validation
        .iter()
        .flat_map(|v| v.checks.iter())
        .filter(|c| c.unknown);
    let unknown = unknown.map(|c| format!("WARNING: check UNKNOWN: {}: {}", c.name, c.detail));
    actions
        .filter_map(|a| {
            let detail = a.detail.as_deref().unwrap_or("");
            if a.operation == "FenceOldWriter" && a.status == rebound_shared::context::ActionStatus::Failed {
                Some(format!("WARNING: old writer NOT FENCED: {}: {detail}", a.resource))
            } else if a.operation == "PromoteReadReplica" && detail.starts_with("replica lag unknown") {
                Some(format!(
                    "WARNING: data loss UNKNOWN: {} (no replica lag reading at promotion)",
                    a.resource
                ))
            } else {
                None
            }
        })
        .chain(unknown)
        .collect()
}

fn verdict(check: &rebound_shared::context::Check) -> &'static str {
    match check.verdict() {
        "passed" => "ok  ",
        "unknown" => "UNKN",
        "skipped" => "skip",
        _ => "FAIL",
    }
}

/// One id per notification of a run of a recovery: the run (a retry is another) and its kind.
pub fn notification_id(request: &NotificationRequest) -> String {
    format!("{}/{}", request.context.run_name(), request.kind)
}

/// Builds the subject, text, JSON body and attributes of one notification.
pub fn compose(request: &NotificationRequest, now: DateTime<Utc>) -> Notification {
    let ctx = &request.context;
    let e = &ctx.event;
    let r = &ctx.results;
    let mut text = vec![
        format!(
            "Rebound recovery {}: {}{}",
            ctx.recovery_id,
            status_word(request.kind),
            if ctx.dry_run {
                " (dry run: nothing was changed)"
            } else {
                ""
            }
        ),
        format!(
            "Application: {} ({} mode, {} strategy){}",
            ctx.application,
            ctx.mode,
            ctx.plan.strategy,
            match ctx.attempt {
                0 | 1 => String::new(),
                n => format!("; attempt {n} (a retry, execution {})", ctx.run_name()),
            }
        ),
        format!(
            "Disaster: {} in {}, severity {}, detected {} from {:?}",
            e.disaster_type,
            e.affected_region,
            e.severity,
            e.detected_at.to_rfc3339(),
            e.source
        ),
        format!("Regions: {} -> {}", direction(ctx).0, direction(ctx).1),
        format!("Why: {}", ctx.decision.reasons.join("; ")),
        match &ctx.plan_ref {
            Some(p) => format!(
                "Plan: {} version {} sha256 {}{}",
                p.location,
                p.version.as_deref().unwrap_or("unversioned"),
                p.sha256,
                if p.from_start {
                    " (BROUGHT BY THE START, not the stack's plan)"
                } else {
                    ""
                }
            ),
            None => "Plan: not recorded".into(),
        },
    ];
    // Warnings come first: they are what someone must act on now.
    let warnings = listed(warnings(ctx), "warnings");
    if !warnings.is_empty() {
        text.insert(1, String::new());
        for (i, w) in warnings.into_iter().enumerate() {
            text.insert(2 + i, w);
        }
    }
    if !e.description.is_empty() {
        text.push(format!("Event: {}", e.description));
    }
    let steps: Vec<String> = [
        step_line("DNS failover", r.dns.as_ref()),
        step_line("Database failover", r.database.as_ref()),
        step_line("Capacity beside the failover", r.capacity.as_ref()),
        step_line("Service restoration", r.services.as_ref()),
        step_line("Validation", r.validation.as_ref().map(|v| &v.result)),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !steps.is_empty() {
        text.push(String::new());
        text.push("Steps:".into());
        text.extend(steps);
    }
    if let Some(v) = &r.validation {
        text.push(String::new());
        text.push(measurement("RTO", &v.rto));
        text.push(measurement("RPO", &v.rpo));
        let failed = v
            .checks
            .iter()
            .filter(|c| c.failed())
            .map(|c| format!("  check failed: {}: {}", c.name, c.detail))
            .collect();
        text.extend(listed(failed, "failed checks"));
    }
    if let Some(readiness) = &ctx.readiness {
        text.push(String::new());
        text.push(format!(
            "Readiness at {}: {}",
            readiness.checked_at.to_rfc3339(),
            if readiness.ready { "ready" } else { "NOT READY" }
        ));
        // Failing checks first: with thousands of resources they are what matters.
        let mut checks: Vec<&rebound_shared::context::Check> = readiness.checks.iter().collect();
        checks.sort_by_key(|c| (!c.failed(), c.passed));
        let lines = checks
            .into_iter()
            .map(|c| format!("  {} {}: {}", verdict(c), c.name, c.detail))
            .collect();
        text.extend(listed(lines, "checks"));
    }
    let unfenced: Vec<&rebound_shared::context::Action> = r
        .database
        .iter()
        .flat_map(|d| d.actions.iter())
        .filter(|a| a.operation == "FenceOldWriter" && a.status == rebound_shared::context::ActionStatus::Failed)
        .collect();
    if let Some(outcomes) = ctx.custom_action_results.as_ref().filter(|o| o.all().next().is_some()) {
        text.push(String::new());
        text.push("Custom actions:".into());
        let lines = outcomes
            .all()
            .map(|o| match (&o.skipped, &o.error, &o.cause) {
                (Some(mark), error, _) => format!(
                    "  SKIPPED {} by {}: {}{}",
                    o.name,
                    mark.by,
                    mark.reason,
                    error
                        .as_deref()
                        .map(|e| format!(" (it had failed: {e})"))
                        .unwrap_or_default()
                ),
                (None, Some(error), cause) => {
                    format!("  {} {}: {error} {}", o.status, o.name, cause.as_deref().unwrap_or(""))
                }
                _ => format!("  {} {}", o.status, o.name),
            })
            .collect();
        text.extend(listed(lines, "custom actions"));
    }
    if let Some(err) = &ctx.error {
        text.push(String::new());
        text.push(format!("Failed with {}: {}", err.error, err.cause));
    }
    if request.kind == NotificationKind::ApprovalRequest {
        text.push(String::new());
        text.extend(approval::lines(request));
    }
    let step_json = |s: Option<&StepResult>| {
        s.map(|s| json!({"step": s.step, "status": s.status, "durationMs": s.duration_ms, "actions": s.actions.len(), "alreadyDone": s.actions.iter().filter(|a| a.already_done).count(), "error": s.error}))
    };
    let step_list: Vec<Value> = [
        step_json(r.dns.as_ref()),
        step_json(r.database.as_ref()),
        step_json(r.capacity.as_ref()),
        step_json(r.services.as_ref()),
        step_json(r.validation.as_ref().map(|v| &v.result)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut body = json!({
        "kind": request.kind,
        "status": status_word(request.kind),
        "recoveryId": ctx.recovery_id,
        "application": ctx.application,
        "mode": ctx.mode,
        "dryRun": ctx.dry_run,
        "disaster": { "type": e.disaster_type, "severity": e.severity, "region": e.affected_region, "detectedAt": e.detected_at, "source": e.source },
        "regions": { "primary": ctx.plan.primary_region, "recovery": ctx.plan.recovery_region },
        "plan": ctx.plan_ref,
        "reasons": ctx.decision.reasons,
        "steps": step_list,
        "rto": r.validation.as_ref().map(|v| v.rto),
        "rpo": r.validation.as_ref().map(|v| v.rpo),
        "error": ctx.error,
        "readiness": ctx.readiness.as_ref().map(|r| json!({
            "ready": r.ready,
            "checkedAt": r.checked_at,
            "summary": clip(r.summary.clone()),
            "failing": r.checks.iter().filter(|c| c.failed()).take(MAX_LISTED).collect::<Vec<_>>(),
            "checks": r.checks.len(),
            "dataLossApproval": r.data_loss_approval,
            "splitBrainApproval": r.split_brain_approval,
            "expectedDataLossSeconds": r.expected_data_loss_seconds,
        })),
        // Each custom action's name and status (outputs stay in the execution: they may be large).
        "customActions": ctx.custom_action_results.iter().flat_map(|o| o.all()).take(MAX_LISTED)
            .map(|o| json!({"name": o.name, "status": o.status, "error": o.error})).collect::<Vec<_>>(),
        "unfencedWriters": unfenced.iter().take(MAX_LISTED).map(|a| &a.resource).collect::<Vec<_>>(),
        "unfencedWriterCount": unfenced.len(),
        // Checks that could not be read: neither passed nor failed, for someone to look at.
        "unknownChecks": r.validation.iter().flat_map(|v| v.checks.iter()).filter(|c| c.unknown).take(MAX_LISTED).collect::<Vec<_>>(),
        "sentAt": now,
    });
    if let Some(execution) = &request.execution_arn {
        body["execution"] = json!(execution);
    }
    let attributes = vec![
        ("application", ctx.application.clone()),
        ("status", status_word(request.kind).to_string()),
        ("severity", e.severity.to_string()),
        // The same for every copy: SNS standard topics deliver at least once, and a publish
        // whose answer was lost is retried, so subscribers drop a notificationId seen before.
        ("notificationId", notification_id(request)),
    ];
    Notification {
        subject: subject(request),
        text: text.into_iter().map(clip).collect::<Vec<_>>().join("\n"),
        body,
        attributes,
    }
    .fit()
}

/// One CloudWatch embedded-metric-format line: RTO, RPO, step durations, and the outcome.
pub fn metrics_line(ctx: &RecoveryContext, succeeded: bool, now: DateTime<Utc>) -> Value {
    let mut values = Map::new();
    let mut metrics = Vec::new();
    let mut add = |name: &str, unit: &str, value: Option<f64>| {
        if let Some(v) = value {
            metrics.push(json!({"Name": name, "Unit": unit}));
            values.insert(name.to_string(), json!(v));
        }
    };
    let v = ctx.results.validation.as_ref();
    add("RtoSeconds", "Seconds", v.and_then(|v| v.rto.actual_seconds));
    add(
        "RpoSeconds",
        "Seconds",
        v.and_then(|v| v.rpo.actual_seconds)
            .or(ctx.results.database.as_ref().and_then(|d| d.rpo_seconds)),
    );
    for (name, step) in [
        ("DnsFailoverMs", ctx.results.dns.as_ref()),
        ("DatabaseFailoverMs", ctx.results.database.as_ref()),
        ("CapacityMs", ctx.results.capacity.as_ref()),
        ("ServiceRestorationMs", ctx.results.services.as_ref()),
        ("ValidationMs", v.map(|v| &v.result)),
    ] {
        add(name, "Milliseconds", step.map(|s| s.duration_ms as f64));
    }
    add("RecoverySucceeded", "Count", Some(if succeeded { 1.0 } else { 0.0 }));
    let mut line = json!({
        "_aws": {
            "Timestamp": now.timestamp_millis(),
            "CloudWatchMetrics": [{ "Namespace": "Rebound", "Dimensions": [["Application"], ["Application", "Mode"]], "Metrics": metrics }]
        },
        "Application": ctx.application,
        "Mode": ctx.mode.to_string(),
        "RecoveryId": ctx.recovery_id,
    });
    if let Some(map) = line.as_object_mut() {
        map.extend(values);
    }
    line
}

#[cfg(test)]
mod tests;
