//! What the detector decides from the event, the plan and the time, with no call: whether a
//! recovery is required and why, its mode and path, the disaster's type and severity, and the
//! recovery context every later state works on.

use chrono::{DateTime, Utc};
use rebound_shared::context::{
    Decision, DisasterEvent, DisasterType, EventSource, Mode, RecoveryPath, Severity, Timestamps,
};
use rebound_shared::objectives::{action_deadline, later, REPROTECT_SECONDS};
use rebound_shared::plan::RecoveryPlan;
use rebound_shared::RecoveryContext;
use serde_json::Value;

use crate::event::{ManualStart, TriggerEvent};
use crate::DetectorError;

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
            // Anyone who may start an execution can hand in an alarm-shaped input: only the
            // plan's own alarms count (whose state the quorum then reads from CloudWatch).
            let in_plan = plan
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
                reasons.push(if plan.detection.alarms.is_empty() {
                    format!(
                        "alarm {}: the plan lists no detection alarms, so no alarm starts a recovery",
                        d.alarm_name
                    )
                } else {
                    format!(
                        "alarm {} in {region} is not one of the plan's detection alarms",
                        d.alarm_name
                    )
                });
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
        TriggerEvent::Manual(start) if start.reprotect => {
            reasons.push(format!(
                "reprotect asked by hand: build again in {primary} what a failback needs, then check the \
                 failback's readiness: {}",
                start.reason.as_deref().unwrap_or("no reason given")
            ));
            let event = DisasterEvent {
                disaster_type: DisasterType::RegionOutage,
                severity: Severity::Low,
                source: EventSource::Manual,
                affected_region: primary.clone(),
                affected_services: Vec::new(),
                detected_at: start.detected_at.unwrap_or(now),
                description: start.reason.clone().unwrap_or_else(|| "reprotect".to_string()),
                raw: Value::Null,
            };
            (event, true, Mode::Failover, start.dry_run, start.force)
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
    let reprotect = matches!(trigger, TriggerEvent::Manual(start) if start.reprotect);
    let path = if readiness {
        RecoveryPath::ReadinessCheck
    } else if reprotect {
        RecoveryPath::Reprotect
    } else {
        choose_path(&plan, &event, mode, &mut required, &mut reasons)
    };
    // Reprotecting moves no writer and no traffic: nothing to approve.
    let approval_required =
        !reprotect && (plan.approval.required || event.disaster_type == DisasterType::SecurityIncident);
    if required && approval_required {
        reasons.push(if plan.approval.required {
            "the plan requires approval before acting".to_string()
        } else {
            "security incidents always need approval".to_string()
        });
    }
    let detected_at = event.detected_at;
    // A start that names its region recovers there or not at all.
    let pinned = match trigger {
        TriggerEvent::Manual(start) => start.recovery_strategy.as_ref().and_then(|s| s.target_region.clone()),
        _ => None,
    };
    Ok(RecoveryContext {
        recovery_id,
        application: plan.application.clone(),
        mode,
        dry_run,
        force,
        attempt: 1,
        run: None,
        ungraceful: None,
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
            deadline: Some(if reprotect {
                later(now, REPROTECT_SECONDS)
            } else {
                action_deadline(
                    detected_at,
                    plan.objectives.rto_seconds,
                    plan.validation.deadline_seconds,
                    now,
                )
            }),
        },
        event,
        custom_actions: rebound_shared::plan::ActionsByPoint::of(&plan.custom_actions),
        custom_action_results: None,
        plan,
        plan_ref: None,
        recovery_regions: pinned.iter().cloned().collect(),
        recovery_region: pinned,
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
        let regions = plan.recovery_regions();
        if !regions.contains(&region.as_str()) {
            return Err(DetectorError::StrategyMismatch {
                field: "targetRegion",
                message: format!(
                    "{region} is not one of the plan's recovery regions ({})",
                    regions.join(", ")
                ),
            });
        }
        reasons.push(format!(
            "the start names the recovery region: {region}, and no other is tried"
        ));
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
