//! disaster-detector: the first state. It recognises the event, loads and validates the plan,
//! decides whether recovery is required (and why), classifies the disaster, and emits the
//! recovery context every later state works on.

pub mod event;
pub mod signals;

use chrono::{DateTime, Utc};
use rebound_shared::context::{
    Decision, Declined, DisasterEvent, DisasterType, EventSource, Mode, RecoveryPath, Severity, Timestamps,
};
use rebound_shared::error::{AwsError, ErrorKind};
use rebound_shared::objectives::{action_deadline, later};
use rebound_shared::plan::{InvalidPlan, RecoveryPlan};
use rebound_shared::source::{load_plan, PlanLocation, PlanRef, PlanSourceError};
use rebound_shared::table::{Lease, RecoveryTable};
use rebound_shared::RecoveryContext;
use serde_json::{json, Value};

pub use event::{DetectorRequest, ManualStart, TriggerEvent};

#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    #[error("malformed event: {0}")]
    MalformedEvent(String),
    #[error("unsupported event detail-type '{0}': expected a CloudWatch Alarm State Change, an AWS Health Event, a Scheduled Event, or a manual start")]
    UnsupportedEvent(String),
    #[error("no plan: give one inline (plan) or by location (planLocation), or set PLAN_LOCATION")]
    NoPlan,
    #[error(transparent)]
    PlanSource(#[from] PlanSourceError),
    #[error("inline plan: {0}")]
    InvalidPlan(#[from] InvalidPlan),
    #[error("recoveryStrategy.{field}: {message}")]
    StrategyMismatch { field: &'static str, message: String },
    #[error("recovery table: {0}")]
    Table(AwsError),
    #[error("the context could not be written as JSON: {0}")]
    Output(String),
}

impl DetectorError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            DetectorError::PlanSource(e) => e.kind(),
            DetectorError::Table(e) => e.kind,
            DetectorError::Output(_) => ErrorKind::StepFailed,
            _ => ErrorKind::InvalidInput,
        }
    }
}

rebound_shared::impl_diagnostic!(DetectorError);

/// The detector's AWS clients and configuration, built once per process.
pub struct Detector {
    pub ssm: aws_sdk_ssm::Client,
    pub s3: aws_sdk_s3::Client,
    /// `PLAN_LOCATION`: where the plan lives when the event does not carry one.
    pub plan_location: Option<String>,
    /// `RECOVERY_TABLE`: the lease, cooldown and audit records. Without it (a bare local run)
    /// nothing stops a second recovery.
    pub table: Option<RecoveryTable>,
    /// For reading signals in the regions the plan names.
    pub config: aws_config::SdkConfig,
}

impl Detector {
    pub fn new(config: &aws_config::SdkConfig, plan_location: Option<String>, table: Option<String>) -> Self {
        Detector {
            ssm: aws_sdk_ssm::Client::new(config),
            s3: aws_sdk_s3::Client::new(config),
            plan_location: plan_location.filter(|l| !l.is_empty()),
            table: table
                .filter(|t| !t.is_empty())
                .map(|name| RecoveryTable::new(config, name)),
            config: config.clone(),
        }
    }

    /// Handles one request: parse, load the plan, decide. The payload is either a
    /// [`DetectorRequest`] (from the state machine) or the bare event (`sam local invoke`).
    /// [`Detector::detect`], as the state machine's state: the plan by reference when it was
    /// read from a location.
    pub async fn detect_state(&self, payload: Value, now: DateTime<Utc>) -> Result<Value, DetectorError> {
        let context = self.detect(payload, now).await?;
        context.to_state().map_err(|e| DetectorError::Output(e.to_string()))
    }

    pub async fn detect(&self, payload: Value, now: DateTime<Utc>) -> Result<RecoveryContext, DetectorError> {
        let request = DetectorRequest::from_payload(payload)?;
        let trigger = TriggerEvent::parse(&request.event)?;
        let (plan, plan_ref) = self.plan_for(&trigger).await?;
        let recovery_id = recovery_id(request.execution_id.as_deref(), &plan.application, now);
        let mut context = assess(&trigger, request.event, plan, recovery_id, now)?;
        context.plan_ref = plan_ref;
        self.quorum(&trigger, &mut context, now).await;
        // A readiness check changes nothing, so it neither takes the lease nor is audited as a decision.
        if let (Some(table), false) = (&self.table, context.path == RecoveryPath::ReadinessCheck) {
            guard(table, &mut context, now).await.map_err(DetectorError::Table)?;
        }
        tracing::info!(
            recovery_id = %context.recovery_id,
            recovery_required = context.decision.recovery_required,
            disaster_type = ?context.event.disaster_type,
            reasons = ?context.decision.reasons,
            "decided"
        );
        Ok(context)
    }

    /// An automatic trigger is one signal; the plan's `minSignals` must agree before acting.
    /// Manual starts are an operator's decision and are not put to the vote.
    async fn quorum(&self, trigger: &TriggerEvent, ctx: &mut RecoveryContext, now: DateTime<Utc>) {
        let detection = &ctx.plan.detection;
        let automatic = matches!(trigger, TriggerEvent::Alarm(_) | TriggerEvent::Health(_));
        if !automatic
            || !ctx.decision.recovery_required
            || (detection.alarms.is_empty() && detection.metrics.is_empty())
        {
            return;
        }
        let health = match trigger {
            TriggerEvent::Health(h) => Some(format!("open {} issue {}", h.detail.service, h.detail.event_type_code)),
            _ => None,
        };
        let read = signals::read(&self.config, &ctx.plan, health, now).await;
        let failing = signals::failing_votes(&read, detection.unknown_signals);
        let needed = detection.min_signals as usize;
        ctx.decision.reasons.extend(read.iter().map(signals::Signal::reason));
        if failing < needed {
            ctx.decision.recovery_required = false;
            ctx.decision.reasons.push(format!(
                "{failing} of {} signals failing; {needed} must agree",
                read.len()
            ));
        } else {
            ctx.decision.reasons.push(format!(
                "{failing} of {} signals failing; quorum of {needed} reached",
                read.len()
            ));
        }
    }

    /// The plan, and where it was read (none for a plan given inline).
    async fn plan_for(&self, trigger: &TriggerEvent) -> Result<(RecoveryPlan, Option<PlanRef>), DetectorError> {
        let location = match trigger {
            TriggerEvent::Manual(start) => {
                if let Some(inline) = &start.plan {
                    return Ok((RecoveryPlan::from_value(inline)?, None));
                }
                start.plan_location.clone().or_else(|| self.plan_location.clone())
            }
            _ => self.plan_location.clone(),
        };
        let location: PlanLocation = location.ok_or(DetectorError::NoPlan)?.parse()?;
        let (plan, reference) = load_plan(&location, &self.ssm, &self.s3).await?;
        Ok((plan, Some(reference)))
    }
}

/// One recovery per application, and none during the cooldown after the last one: a required
/// recovery takes the application's lease or yields to the one holding it. Every decision is
/// audited.
async fn guard(table: &RecoveryTable, ctx: &mut RecoveryContext, now: DateTime<Utc>) -> Result<(), AwsError> {
    let app = ctx.application.clone();
    if ctx.decision.recovery_required {
        if let Some(last) = table.last_recovery(&app).await? {
            let until = later(last.finished_at, ctx.plan.detection.cooldown_seconds);
            if now < until {
                let what = format!(
                    "recovery {} ended {} at {}",
                    last.recovery_id,
                    last.outcome,
                    last.finished_at.to_rfc3339()
                );
                if ctx.force {
                    ctx.decision.reasons.push(format!(
                        "force: the cooldown after {what} is overridden by this manual start"
                    ));
                } else {
                    ctx.decision.recovery_required = false;
                    ctx.decision.declined = Some(Declined::Cooldown);
                    ctx.decision.reasons.push(format!(
                        "cooldown: {what}; no new recovery before {} (a manual start with force: true overrides)",
                        until.to_rfc3339()
                    ));
                }
            }
        }
    }
    if ctx.decision.recovery_required {
        // Long enough for the approval, the whole RTO and its validation; expired leases are taken over.
        let approval = if ctx.approval_required {
            ctx.approval_timeout_seconds
        } else {
            0
        };
        let seconds = approval.saturating_add(ctx.plan.objectives.rto_seconds.saturating_mul(2));
        let until = later(now, seconds);
        let lease = if ctx.dry_run {
            table.holder(&app, now).await?.unwrap_or(Lease::Acquired)
        } else {
            table.acquire(&app, &ctx.recovery_id, now, until).await?
        };
        match lease {
            Lease::HeldBy { owner, expires_at } if owner != ctx.recovery_id => {
                ctx.decision.recovery_required = false;
                ctx.decision.declined = Some(Declined::Lease);
                ctx.decision.reasons.push(format!(
                    "recovery already in progress: {owner} holds the lease until {}",
                    expires_at.to_rfc3339()
                ));
            }
            _ if ctx.dry_run => ctx.decision.reasons.push("dry run: no lease taken".into()),
            _ => ctx
                .decision
                .reasons
                .push(format!("lease taken until {}", until.to_rfc3339())),
        }
    }
    let detail = json!({
        "recoveryRequired": ctx.decision.recovery_required,
        "reasons": ctx.decision.reasons,
        "mode": ctx.mode,
        "dryRun": ctx.dry_run,
        "force": ctx.force,
        "source": ctx.event.source,
        "disasterType": ctx.event.disaster_type,
    });
    // A dry run leaves no record that could be read as a recovery: its output is its report.
    if ctx.dry_run {
        return Ok(());
    }
    table.audit(&app, &ctx.recovery_id, "decision", now, &detail).await
}

/// The execution's name when run by Step Functions, so logs, locks and messages share one id.
fn recovery_id(execution_id: Option<&str>, application: &str, now: DateTime<Utc>) -> String {
    match execution_id
        .and_then(|id| id.rsplit(':').next())
        .filter(|s| !s.is_empty())
    {
        Some(name) => name.to_string(),
        None => format!("{application}-{}", now.format("%Y%m%dT%H%M%SZ")),
    }
}

/// Decides and classifies: a pure function of the event, the plan and the time.
pub fn assess(
    trigger: &TriggerEvent,
    raw: Value,
    mut plan: RecoveryPlan,
    recovery_id: String,
    now: DateTime<Utc>,
) -> Result<RecoveryContext, DetectorError> {
    let primary = plan.primary_region.clone();
    let mut reasons = Vec::new();
    let (mut event, required, mode, dry_run, force) = match trigger {
        TriggerEvent::Alarm(alarm) => {
            let d = &alarm.detail;
            let region = alarm.region.clone().unwrap_or_else(|| primary.clone());
            let in_plan = plan.detection.alarms.is_empty()
                || plan
                    .detection
                    .alarms
                    .iter()
                    .any(|a| a.name == d.alarm_name && plan.signal_region(&a.region) == region);
            let firing = d.state.value == "ALARM";
            let required = if !firing {
                reasons.push(format!("alarm {} is {}, not ALARM", d.alarm_name, d.state.value));
                false
            } else if region != primary {
                reasons.push(format!(
                    "alarm {} is in {region}, not the primary region {primary}",
                    d.alarm_name
                ));
                false
            } else if !in_plan {
                reasons.push(format!(
                    "alarm {} is not one of the plan's detection alarms",
                    d.alarm_name
                ));
                false
            } else {
                reasons.push(format!(
                    "alarm {} in {region} is ALARM: {}",
                    d.alarm_name, d.state.reason
                ));
                true
            };
            let event = DisasterEvent {
                disaster_type: DisasterType::RegionOutage,
                severity: Severity::High,
                source: EventSource::CloudwatchAlarm,
                affected_region: region,
                affected_services: Vec::new(),
                detected_at: alarm.time.unwrap_or(now),
                description: format!("CloudWatch alarm {}: {}", d.alarm_name, d.state.reason),
                raw: Value::Null,
            };
            (event, required, Mode::Failover, false, false)
        }
        TriggerEvent::Health(health) => {
            let d = &health.detail;
            let region = d
                .event_region
                .clone()
                .or_else(|| health.region.clone())
                .unwrap_or_else(|| primary.clone());
            let description = d
                .event_description
                .iter()
                .find(|x| x.language.starts_with("en"))
                .or(d.event_description.first())
                .map(|x| x.latest_description.clone())
                .unwrap_or_default();
            let disaster_type = classify_health(&d.service, &d.event_type_code, &description);
            let open = d.status_code.as_deref().is_none_or(|s| s == "open");
            let required = if !plan.detection.health_events {
                reasons.push("the plan does not act on AWS Health events".to_string());
                false
            } else if d.event_type_category != "issue" {
                reasons.push(format!(
                    "AWS Health event {} is a {}, not an issue",
                    d.event_type_code, d.event_type_category
                ));
                false
            } else if !open {
                reasons.push(format!(
                    "AWS Health event {} is {}",
                    d.event_type_code,
                    d.status_code.as_deref().unwrap_or("closed")
                ));
                false
            } else if region != primary {
                reasons.push(format!(
                    "AWS Health event {} is for {region}, not the primary region {primary}",
                    d.event_type_code
                ));
                false
            } else {
                reasons.push(format!(
                    "AWS Health reports an open {} issue in {region}: {}",
                    d.service, d.event_type_code
                ));
                true
            };
            let severity = match disaster_type {
                DisasterType::RegionOutage => Severity::Critical,
                DisasterType::AzOutage => Severity::High,
                _ => Severity::Medium,
            };
            let event = DisasterEvent {
                disaster_type,
                severity,
                source: EventSource::AwsHealth,
                affected_region: region,
                affected_services: vec![d.service.clone()],
                detected_at: health.time.unwrap_or(now),
                description,
                raw: Value::Null,
            };
            (event, required, Mode::Failover, false, false)
        }
        TriggerEvent::Schedule(schedule) => {
            reasons.push("scheduled readiness check: every check a failover would make, and no change".to_string());
            let event = DisasterEvent {
                disaster_type: DisasterType::RegionOutage,
                severity: Severity::Low,
                source: EventSource::Schedule,
                affected_region: primary.clone(),
                affected_services: Vec::new(),
                detected_at: schedule.time.unwrap_or(now),
                description: format!(
                    "readiness check by {}",
                    schedule
                        .resources
                        .iter()
                        .flatten()
                        .next()
                        .map_or("a schedule", String::as_str)
                ),
                raw: Value::Null,
            };
            (event, false, Mode::Failover, true, false)
        }
        TriggerEvent::Manual(start) if start.readiness_check => {
            apply_strategy(&mut plan, start, &mut reasons)?;
            let mode = start.mode.unwrap_or(Mode::Failover);
            reasons.push(format!(
                "readiness check for a {} asked by hand: {}",
                mode,
                start.reason.as_deref().unwrap_or("no reason given")
            ));
            let event = DisasterEvent {
                disaster_type: start.disaster_type.unwrap_or(DisasterType::RegionOutage),
                severity: Severity::Low,
                source: EventSource::Manual,
                affected_region: start.affected_region.clone().unwrap_or_else(|| primary.clone()),
                affected_services: start.affected_services.clone(),
                detected_at: start.detected_at.unwrap_or(now),
                description: start.reason.clone().unwrap_or_else(|| "readiness check".to_string()),
                raw: Value::Null,
            };
            (event, false, mode, true, false)
        }
        TriggerEvent::Manual(start) => {
            apply_strategy(&mut plan, start, &mut reasons)?;
            let (required, metrics_severity) = judge_monitoring(&plan, start, &mut reasons);
            let mut services = start.affected_services.clone();
            if let Some(m) = &start.monitoring_data {
                for s in &m.affected_services {
                    if !services.contains(s) {
                        services.push(s.clone());
                    }
                }
            }
            let disaster_type = start.disaster_type.unwrap_or(if services.len() == 1 {
                DisasterType::ServiceOutage
            } else {
                DisasterType::RegionOutage
            });
            let who = start.reason.clone().unwrap_or_else(|| "manual start".to_string());
            let event = DisasterEvent {
                disaster_type,
                severity: start.severity.or(metrics_severity).unwrap_or(Severity::High),
                source: EventSource::Manual,
                affected_region: start.affected_region.clone().unwrap_or_else(|| primary.clone()),
                affected_services: services,
                detected_at: start.detected_at.unwrap_or(now),
                description: who,
                raw: Value::Null,
            };
            (
                event,
                required,
                start.mode.unwrap_or(Mode::Failover),
                start.dry_run,
                start.force,
            )
        }
    };
    event.raw = raw;
    let readiness = matches!(trigger, TriggerEvent::Schedule(_))
        || matches!(trigger, TriggerEvent::Manual(start) if start.readiness_check);
    let mut required = required;
    let path = if readiness {
        RecoveryPath::ReadinessCheck
    } else {
        choose_path(&plan, &event, mode, &mut required, &mut reasons)
    };
    let approval_required = plan.approval.required || event.disaster_type == DisasterType::SecurityIncident;
    if required && approval_required {
        reasons.push(if plan.approval.required {
            "the plan requires approval before acting".to_string()
        } else {
            "security incidents always need approval".to_string()
        });
    }
    let detected_at = event.detected_at;
    Ok(RecoveryContext {
        recovery_id,
        application: plan.application.clone(),
        mode,
        dry_run,
        force,
        decision: Decision {
            recovery_required: required,
            reasons,
            declined: None,
        },
        approval_required,
        approval_timeout_seconds: plan.approval.timeout_seconds,
        timestamps: Timestamps {
            detected_at: Some(detected_at),
            decided_at: Some(now),
            deadline: Some(action_deadline(
                detected_at,
                plan.objectives.rto_seconds,
                plan.validation.deadline_seconds,
                now,
            )),
        },
        event,
        plan,
        plan_ref: None,
        path,
        readiness: None,
        dry_runs: None,
        approval: None,
        results: Default::default(),
        error: None,
    })
}

/// Classification drives the path: one service's outage restores that service and never fails
/// the region over; everything else is a failover (data corruption restores rather than
/// promotes, which database-failover enforces).
fn choose_path(
    plan: &RecoveryPlan,
    event: &DisasterEvent,
    mode: Mode,
    required: &mut bool,
    reasons: &mut Vec<String>,
) -> RecoveryPath {
    if !*required || event.disaster_type != DisasterType::ServiceOutage || mode != Mode::Failover {
        return RecoveryPath::Failover;
    }
    let named = if event.affected_services.is_empty() {
        "an unnamed service".to_string()
    } else {
        event.affected_services.join(", ")
    };
    let matched: Vec<String> = plan
        .services
        .iter()
        .filter(|s| event.affected_services.iter().any(|a| s.matches(a)))
        .map(|s| s.resource_name())
        .collect();
    if matched.is_empty() {
        *required = false;
        reasons.push(format!(
            "service outage of {named}: none of the plan's services match, and one service's outage never starts a regional failover"
        ));
    } else {
        reasons.push(format!(
            "service outage of {named}: restoring {} only; no DNS or database failover",
            matched.join(", ")
        ));
    }
    RecoveryPath::ServiceRestore
}

fn classify_health(service: &str, code: &str, description: &str) -> DisasterType {
    let code = code.to_ascii_uppercase();
    let text = description.to_ascii_lowercase();
    if code.contains("SECURITY") {
        DisasterType::SecurityIncident
    } else if code.contains("AZ_") || code.contains("_AZ") || text.contains("availability zone") {
        DisasterType::AzOutage
    } else if service == "MULTIPLE_SERVICES" || code.contains("REGION") || text.contains("multiple services") {
        DisasterType::RegionOutage
    } else {
        DisasterType::ServiceOutage
    }
}

/// Checks a manual start's recovery strategy against the plan and applies tighter targets.
fn apply_strategy(
    plan: &mut RecoveryPlan,
    start: &ManualStart,
    reasons: &mut Vec<String>,
) -> Result<(), DetectorError> {
    let Some(s) = &start.recovery_strategy else {
        return Ok(());
    };
    if let Some(region) = &s.target_region {
        if *region != plan.recovery_region {
            return Err(DetectorError::StrategyMismatch {
                field: "targetRegion",
                message: format!("{region} is not the plan's recoveryRegion {}", plan.recovery_region),
            });
        }
    }
    if let Some(name) = &s.strategy {
        let normalised: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        let planned = plan.strategy.to_string().to_ascii_lowercase();
        if normalised != planned {
            return Err(DetectorError::StrategyMismatch {
                field: "strategy",
                message: format!("{name} is not the plan's strategy {}", plan.strategy),
            });
        }
    }
    for (field, minutes, target) in [
        ("rtoMinutes", s.rto_minutes, &mut plan.objectives.rto_seconds),
        ("rpoMinutes", s.rpo_minutes, &mut plan.objectives.rpo_seconds),
    ] {
        let Some(minutes) = minutes else { continue };
        let seconds = minutes.saturating_mul(60);
        if seconds == 0 || seconds > *target {
            return Err(DetectorError::StrategyMismatch {
                field,
                message: format!("{minutes} min must be > 0 and at most the plan's {} s", *target),
            });
        }
        if seconds < *target {
            reasons.push(format!("{field} tightened to {minutes} min for this run"));
            *target = seconds;
        }
    }
    Ok(())
}

/// A manual start is an operator's decision; monitoring data handed with it is judged against
/// the plan's thresholds (the defaults: error rate above 50 %, availability below 50 %).
fn judge_monitoring(plan: &RecoveryPlan, start: &ManualStart, reasons: &mut Vec<String>) -> (bool, Option<Severity>) {
    let Some(m) = &start.monitoring_data else {
        reasons.push(format!(
            "{} started by hand: {}",
            start.mode.map_or("failover".to_string(), |m| m.to_string()),
            start.reason.as_deref().unwrap_or("no reason given")
        ));
        return (true, None);
    };
    let t = &plan.detection.thresholds;
    let mut breaches = 0;
    let mut critical = false;
    if let Some(rate) = m.error_rate {
        if rate > t.error_rate_percent {
            breaches += 1;
            critical |= rate >= 75.0;
            reasons.push(format!("error rate {rate} % is above {} %", t.error_rate_percent));
        } else {
            reasons.push(format!("error rate {rate} % is within {} %", t.error_rate_percent));
        }
    }
    if let Some(avail) = m.availability {
        if avail < t.availability_percent {
            breaches += 1;
            critical |= avail <= 25.0;
            reasons.push(format!("availability {avail} % is below {} %", t.availability_percent));
        } else {
            reasons.push(format!(
                "availability {avail} % is at or above {} %",
                t.availability_percent
            ));
        }
    }
    if let (Some(ms), Some(limit)) = (m.response_time, t.response_time_ms) {
        if ms > limit {
            breaches += 1;
            reasons.push(format!("response time {ms} ms is above {limit} ms"));
        } else {
            reasons.push(format!("response time {ms} ms is within {limit} ms"));
        }
    }
    if breaches == 0 {
        reasons.push("no monitoring threshold is breached".to_string());
        return (false, Some(Severity::Low));
    }
    (true, Some(if critical { Severity::Critical } else { Severity::High }))
}
