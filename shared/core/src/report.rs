//! The evidence an execution leaves: what was decided and on which signals, which plan, every
//! action with its before and after, the timeline folded into one bar per step, the RTO by phase,
//! the approvals, and what was left unfenced or unverified. Built from the recovery context
//! alone, so the notifier in Lambda, `rebound report` and a drill write the same report.

pub mod html;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::{
    Action, ActionStatus, DisasterEvent, Mode, RecoveryContext, RecoveryPath, StateError, StepResult,
};
use crate::objectives::Measurement;
use crate::plan::ActionOutcome;

/// Bumped when a field changes meaning; readers of stored reports check it.
pub const REPORT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub report_version: u32,
    pub execution: Execution,
    pub application: String,
    pub recovery_id: String,
    pub mode: Mode,
    pub path: RecoveryPath,
    pub dry_run: bool,
    pub decision: DecisionRecord,
    pub plan: PlanRecord,
    /// Every change the acting steps made or found made, in step order.
    pub actions: Vec<StepAction>,
    pub custom_actions: Vec<ActionOutcome>,
    /// One bar per step, its polls folded in, on a time axis that starts at detection.
    pub timeline: Vec<Bar>,
    /// The RTO broken down: each phase's time, and whether it lay on the critical path.
    pub phases: Vec<PhaseTime>,
    pub rto: Option<Measurement>,
    pub rpo: Option<Measurement>,
    pub approvals: Vec<ApprovalRecord>,
    /// Old writers the failover could not fence: they may still take writes.
    pub unfenced: Vec<String>,
    /// Changes that failed or were never confirmed.
    pub not_done: Vec<String>,
    /// Checks that failed or could not be read, or a recovery that was never validated.
    pub unverified: Vec<String>,
    pub error: Option<StateError>,
}

/// Which execution this is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Execution {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Step Functions' word: `SUCCEEDED`, `FAILED`, `RUNNING`, ...
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DecisionRecord {
    pub recovery_required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declined: Option<String>,
    /// The signals and reasons the detector decided on.
    pub signals: Vec<String>,
    pub event: DisasterEvent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanRecord {
    pub primary_region: String,
    pub recovery_region: String,
    /// Where the plan was read (`inline` for a plan the start carried), which version, its digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// The start brought the plan, not the stack (see `PlanRef::from_start`).
    #[serde(default)]
    pub from_start: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepAction {
    pub step: String,
    #[serde(flatten)]
    pub action: Action,
}

/// Where a bar is drawn: the failover's parallel branches each get their own lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Lane {
    Main,
    Dns,
    /// The databases, then what waits for the new writer.
    Databases,
    /// The capacity that needs no writer, added beside DNS and the databases.
    Capacity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Phase {
    Detection,
    Decision,
    ApprovalWait,
    Dns,
    Databases,
    Services,
    Validation,
    /// What lies between the phases on the critical path: the state machine's own transitions
    /// and the plan's custom actions.
    Other,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Detection => "detection",
            Phase::Decision => "decision",
            Phase::ApprovalWait => "approval wait",
            Phase::Dns => "DNS",
            Phase::Databases => "databases",
            Phase::Services => "services",
            Phase::Validation => "validation",
            Phase::Other => "transitions and custom actions",
        }
    }
}

/// One step on the time axis.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bar {
    pub phase: Phase,
    pub lane: Lane,
    pub label: String,
    /// Milliseconds from detection.
    pub start_ms: u64,
    pub duration_ms: u64,
    /// Status polls after the step's start (validation: rounds after the first).
    pub polls: u32,
    /// `completed`, `failed`, `inProgress`, or `waited`.
    pub status: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseTime {
    pub phase: Phase,
    pub seconds: f64,
    pub critical: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRecord {
    pub approved: bool,
    /// The name the approver gave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The identity AWS authenticated for the approver (`rebound approve` asks STS), as the
    /// answer carried it; CloudTrail's SendTaskSuccess event is the record of who called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// A rejection's reason, or what an approval accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Builds the report of an execution from its context at `now` (a step still running ends
/// there).
pub fn build(ctx: &RecoveryContext, execution: Execution, now: DateTime<Utc>) -> Report {
    let results = &ctx.results;
    let acting = [
        ("dns", results.dns.as_ref()),
        ("database", results.database.as_ref()),
        ("capacity", results.capacity.as_ref()),
        ("services", results.services.as_ref()),
    ];
    let actions: Vec<StepAction> = acting
        .iter()
        .flat_map(|(step, r)| r.iter().flat_map(|r| &r.actions).map(move |a| (step, a)))
        .map(|(step, a)| StepAction {
            step: step.to_string(),
            action: a.clone(),
        })
        .collect();
    let unfenced = actions
        .iter()
        .filter(|a| a.action.operation == "FenceOldWriter" && a.action.status != ActionStatus::Done)
        .map(|a| describe(&a.action))
        .collect();
    let not_done = actions
        .iter()
        .filter(|a| a.action.operation != "FenceOldWriter")
        .filter(|a| matches!(a.action.status, ActionStatus::Failed | ActionStatus::Pending))
        .map(|a| format!("{}: {}", a.step, describe(&a.action)))
        .collect();
    let timeline = bars(ctx, now);
    let validation = results.validation.as_ref();
    let rto = validation.map(|v| v.rto);
    let phases = phases(&timeline, rto.and_then(|m| m.actual_seconds));
    let reference = ctx.plan_ref.as_ref();
    Report {
        report_version: REPORT_VERSION,
        execution,
        application: ctx.application.clone(),
        recovery_id: ctx.recovery_id.clone(),
        mode: ctx.mode,
        path: ctx.path,
        dry_run: ctx.dry_run,
        decision: DecisionRecord {
            recovery_required: ctx.decision.recovery_required,
            declined: ctx.decision.declined.map(|d| d.to_string()),
            signals: ctx.decision.reasons.clone(),
            event: DisasterEvent {
                raw: Value::Null,
                ..ctx.event.clone()
            },
        },
        plan: PlanRecord {
            primary_region: ctx.plan.primary_region.clone(),
            recovery_region: ctx.plan.recovery_region.clone(),
            location: reference.map(|r| r.location.clone()),
            version: reference.and_then(|r| r.version.clone()),
            sha256: reference.map(|r| r.sha256.clone()),
            from_start: reference.is_some_and(|r| r.from_start),
        },
        actions,
        custom_actions: ctx
            .custom_action_results
            .iter()
            .flat_map(|o| o.all())
            .cloned()
            .collect(),
        timeline,
        phases,
        rto,
        rpo: validation.map(|v| v.rpo),
        approvals: approvals(ctx),
        unfenced,
        not_done,
        unverified: unverified(ctx),
        error: ctx.error.clone(),
    }
}

fn describe(a: &Action) -> String {
    let detail = a.detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
    format!("{} {} ({}){detail}", a.operation, a.resource, status_word(a.status))
}

fn status_word(status: ActionStatus) -> String {
    match status {
        ActionStatus::Pending => "never confirmed".into(),
        other => other.to_string(),
    }
}

fn approvals(ctx: &RecoveryContext) -> Vec<ApprovalRecord> {
    let mut out = Vec::new();
    if let Some(answer) = ctx.approval.as_ref().filter(|a| a.is_object()) {
        let text = |key: &str| answer.get(key).and_then(Value::as_str).map(String::from);
        out.push(ApprovalRecord {
            // The state machine goes on only on `approved: true`: anything else was no approval.
            approved: answer.get("approved").and_then(Value::as_bool).unwrap_or(false),
            by: text("by").or_else(|| text("approvedBy")),
            principal: text("principal"),
            at: text("at").and_then(|t| t.parse().ok()),
            note: text("note"),
        });
    }
    if let Some(e) = ctx
        .error
        .as_ref()
        .filter(|e| e.error == crate::error::APPROVAL_REJECTED)
    {
        out.push(ApprovalRecord {
            approved: false,
            by: None,
            principal: None,
            at: None,
            note: Some(e.cause.clone()),
        });
    }
    out
}

fn unverified(ctx: &RecoveryContext) -> Vec<String> {
    let recovering = ctx.decision.recovery_required
        && ctx.decision.declined.is_none()
        && ctx.path != RecoveryPath::ReadinessCheck
        && !ctx.dry_run;
    match &ctx.results.validation {
        Some(v) => v
            .checks
            .iter()
            .filter(|c| !c.passed && !c.skipped)
            .map(|c| format!("{} ({}): {}", c.name, c.verdict(), c.detail))
            .collect(),
        None if recovering => vec!["the recovery was never validated".into()],
        None => vec![],
    }
}

fn offset_ms(origin: DateTime<Utc>, at: DateTime<Utc>) -> u64 {
    u64::try_from((at - origin).num_milliseconds()).unwrap_or(0)
}

/// The steps' bars: detection, the readiness decision, the approval wait, DNS and databases in
/// their own lanes, services, validation.
pub fn bars(ctx: &RecoveryContext, now: DateTime<Utc>) -> Vec<Bar> {
    let origin = ctx.timestamps.detected_at.unwrap_or(ctx.event.detected_at);
    let span = |phase, lane, label: &str, from: DateTime<Utc>, to: DateTime<Utc>, polls, status: &str| Bar {
        phase,
        lane,
        label: label.to_string(),
        start_ms: offset_ms(origin, from),
        duration_ms: offset_ms(from, to),
        polls,
        status: status.to_string(),
    };
    let mut out = Vec::new();
    let decided = ctx.timestamps.decided_at;
    if let Some(decided) = decided {
        out.push(span(
            Phase::Detection,
            Lane::Main,
            "detection",
            origin,
            decided,
            0,
            "completed",
        ));
    }
    let checked = ctx.readiness.as_ref().map(|r| r.checked_at);
    if let (Some(decided), Some(checked)) = (decided, checked) {
        out.push(span(
            Phase::Decision,
            Lane::Main,
            "readiness and decision",
            decided,
            checked,
            0,
            "completed",
        ));
    }
    let answered = ctx
        .approval
        .as_ref()
        .and_then(|a| a.get("at"))
        .and_then(Value::as_str)
        .and_then(|t| t.parse::<DateTime<Utc>>().ok());
    if let (Some(asked), Some(answered)) = (checked, answered) {
        out.push(span(
            Phase::ApprovalWait,
            Lane::Main,
            "approval wait",
            asked,
            answered,
            0,
            "waited",
        ));
    }
    let r = &ctx.results;
    let steps = [
        (Phase::Dns, Lane::Dns, "DNS failover", r.dns.as_ref()),
        (
            Phase::Databases,
            Lane::Databases,
            "database failover",
            r.database.as_ref(),
        ),
        (
            Phase::Services,
            Lane::Capacity,
            "capacity beside the failover",
            r.capacity.as_ref(),
        ),
        if crate::step::moves_region(ctx) {
            (
                Phase::Services,
                Lane::Databases,
                "services that wait for the writer",
                r.services.as_ref(),
            )
        } else {
            (Phase::Services, Lane::Main, "service restoration", r.services.as_ref())
        },
        (
            Phase::Validation,
            Lane::Main,
            "validation",
            r.validation.as_ref().map(|v| &v.result),
        ),
    ];
    for (phase, lane, label, result) in steps {
        if let Some((from, to, polls, status)) = result.and_then(|s| step_span(s, now)) {
            out.push(span(phase, lane, label, from, to, polls, &status));
        }
    }
    out
}

fn step_span(s: &StepResult, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>, u32, String)> {
    let from = s.started_at?;
    let to = s.finished_at.unwrap_or(now).max(from);
    let status = match (&s.error, &s.skipped) {
        (Some(_), _) => "failed".to_string(),
        (None, Some(mark)) => format!("skipped by {}: {}", mark.by, mark.reason),
        (None, None) => s.status.to_string(),
    };
    Some((from, to, s.invocations.saturating_sub(1), status))
}

/// Each phase's time; of the failover's branches, which run side by side, the one that ended
/// last is on the critical path. With a measured RTO, what the phases on the critical path do
/// not cover is `Other`.
pub fn phases(bars: &[Bar], rto_seconds: Option<f64>) -> Vec<PhaseTime> {
    let end = |b: &Bar| b.start_ms + b.duration_ms;
    let parallel_last = bars
        .iter()
        .filter(|b| b.lane != Lane::Main)
        .max_by_key(|b| end(b))
        .map(|b| b.lane);
    let mut out: Vec<PhaseTime> = bars
        .iter()
        .map(|b| PhaseTime {
            phase: b.phase,
            seconds: b.duration_ms as f64 / 1000.0,
            critical: b.lane == Lane::Main || Some(b.lane) == parallel_last,
        })
        .collect();
    if let Some(rto) = rto_seconds {
        let covered: f64 = out.iter().filter(|p| p.critical).map(|p| p.seconds).sum();
        out.push(PhaseTime {
            phase: Phase::Other,
            seconds: ((rto - covered) * 1000.0).round().max(0.0) / 1000.0,
            critical: true,
        });
    }
    out
}

#[cfg(test)]
mod tests;
