//! Every sample in events/ parses into the type its function reads, and the detector decides
//! on the samples as an SRE would expect.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use disaster_detector::{assess, DetectorRequest, TriggerEvent};
use rebound_shared::context::{
    DisasterType, EventSource, Mode, NotificationKind, NotificationRequest, RecoveryPath, Severity, StepAction,
    StepRequest,
};
use rebound_shared::RecoveryPlan;
use serde_json::Value;

fn events_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../events"))
}

fn read(name: &str) -> Value {
    let text = std::fs::read_to_string(events_dir().join(name)).unwrap_or_else(|e| panic!("events/{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("events/{name} is not JSON: {e}"))
}

fn example_plan() -> RecoveryPlan {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/plan.json")).expect("example plan");
    RecoveryPlan::from_json(&text).expect("example plan is valid")
}

/// Serializing a parsed fixture and parsing it again gives the same value.
fn round_trips<T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(name: &str, value: &T) {
    let json = serde_json::to_value(value).unwrap_or_else(|e| panic!("{name}: {e}"));
    let again: T = serde_json::from_value(json).unwrap_or_else(|e| panic!("{name} does not read back: {e}"));
    assert_eq!(&again, value, "{name}");
}

#[test]
fn every_event_file_parses_into_its_type() {
    let mut names: Vec<String> = std::fs::read_dir(events_dir())
        .expect("events/ exists")
        .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 15, "{names:?}");
    for name in names {
        let value = read(&name);
        if name.starts_with("recovery-notifier") {
            let request: NotificationRequest = serde_json::from_value(value).unwrap_or_else(|e| panic!("{name}: {e}"));
            round_trips(&name, &request);
            if request.kind == NotificationKind::ApprovalRequest {
                assert!(
                    request.task_token.is_some(),
                    "{name}: an approval request carries its task token"
                );
            }
            assert_eq!(request.context.plan, example_plan(), "{name}");
        } else if [
            "dns-failover",
            "database-failover",
            "service-restoration",
            "recovery-validator",
        ]
        .iter()
        .any(|f| name.starts_with(f))
        {
            let request: StepRequest = serde_json::from_value(value).unwrap_or_else(|e| panic!("{name}: {e}"));
            round_trips(&name, &request);
            let expected = if name.ends_with("-status.json") {
                StepAction::Status
            } else {
                StepAction::Start
            };
            assert_eq!(request.action, expected, "{name}");
            assert_eq!(request.context.plan, example_plan(), "{name}");
        } else {
            let request = DetectorRequest::from_payload(value).unwrap_or_else(|e| panic!("{name}: {e}"));
            let trigger = TriggerEvent::parse(&request.event).unwrap_or_else(|e| panic!("{name}: {e}"));
            if let TriggerEvent::Manual(start) = &trigger {
                if let Some(plan) = &start.plan {
                    assert_eq!(
                        RecoveryPlan::from_value(plan).expect("inline plan is valid"),
                        example_plan(),
                        "{name}"
                    );
                }
            }
        }
    }
}

fn decide(name: &str) -> rebound_shared::RecoveryContext {
    let request = DetectorRequest::from_payload(read(name)).expect("request");
    let trigger = TriggerEvent::parse(&request.event).expect("event");
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 3, 13, 0).single().expect("time");
    assess(&trigger, request.event, example_plan(), "test".into(), now).expect("assessed")
}

#[test]
fn an_alarm_in_the_primary_region_requires_recovery_and_ok_does_not() {
    let firing = decide("cloudwatch-alarm.json");
    assert!(firing.decision.recovery_required, "{:?}", firing.decision);
    assert_eq!(firing.event.source, EventSource::CloudwatchAlarm);
    assert_eq!(firing.event.affected_region, "us-east-1");
    assert!(firing.decision.reasons[0].contains("orders-api-5xx-rate"));
    let ok = decide("cloudwatch-alarm-ok.json");
    assert!(!ok.decision.recovery_required);
    assert_eq!(ok.decision.reasons, vec!["alarm orders-api-5xx-rate is OK, not ALARM"]);
}

#[test]
fn an_open_multi_service_health_issue_is_a_critical_region_outage() {
    let ctx = decide("aws-health.json");
    assert!(ctx.decision.recovery_required);
    assert_eq!(ctx.event.disaster_type, DisasterType::RegionOutage);
    assert_eq!(ctx.event.severity, Severity::Critical);
}

#[test]
fn the_seed_monitoring_data_requires_a_critical_regional_recovery() {
    let ctx = decide("manual-start-monitoring.json");
    assert!(ctx.decision.recovery_required);
    assert_eq!(ctx.event.disaster_type, DisasterType::RegionOutage);
    assert_eq!(ctx.event.severity, Severity::Critical);
    assert_eq!(ctx.event.affected_services, vec!["web-app", "database", "api-gateway"]);
    assert!(
        ctx.decision
            .reasons
            .contains(&"error rate 75 % is above 50 %".to_string()),
        "{:?}",
        ctx.decision.reasons
    );
    assert!(ctx
        .decision
        .reasons
        .contains(&"availability 25 % is below 50 %".to_string()));
    assert!(ctx
        .decision
        .reasons
        .contains(&"response time 5000 ms is above 3000 ms".to_string()));
    assert_eq!(
        (ctx.plan.objectives.rto_seconds, ctx.plan.objectives.rpo_seconds),
        (1800, 900)
    );
}

fn decide_value(event: Value) -> rebound_shared::RecoveryContext {
    let trigger = TriggerEvent::parse(&event).expect("event");
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 3, 13, 0).single().expect("time");
    assess(&trigger, event, example_plan(), "test".into(), now).expect("assessed")
}

#[test]
fn a_scheduled_event_is_a_read_only_readiness_check() {
    let ctx = decide("scheduled-readiness.json");
    assert_eq!(ctx.path, RecoveryPath::ReadinessCheck);
    assert!(ctx.dry_run, "a readiness check changes nothing");
    assert!(!ctx.decision.recovery_required);
    assert_eq!(ctx.event.source, EventSource::Schedule);
    assert!(ctx.event.description.contains("rule/rebound-orders-ReadinessCheck"));

    let by_hand =
        decide_value(serde_json::json!({"readinessCheck": true, "mode": "switchover", "reason": "before CHG-1042"}));
    assert_eq!(
        (by_hand.path, by_hand.mode, by_hand.dry_run),
        (RecoveryPath::ReadinessCheck, Mode::Switchover, true)
    );
}

#[test]
fn a_single_service_outage_restores_that_service_and_never_fails_the_region_over() {
    let worker = decide_value(
        serde_json::json!({"disasterType": "serviceOutage", "affectedServices": ["orders-worker"], "reason": "orders-worker crash-looping"}),
    );
    assert!(worker.decision.recovery_required);
    assert_eq!(worker.path, RecoveryPath::ServiceRestore);
    let scope: Vec<String> = rebound_shared::step::services_in_scope(&worker)
        .iter()
        .map(|s| s.resource_name())
        .collect();
    assert_eq!(scope, vec!["ecs:orders-usw2/orders-worker"]);
    assert!(!rebound_shared::step::moves_region(&worker));
    assert!(worker
        .decision
        .reasons
        .iter()
        .any(|r| r.contains("no DNS or database failover")));

    // Nothing in the plan runs it: no recovery at all rather than a regional one.
    let unknown = decide_value(
        serde_json::json!({"disasterType": "serviceOutage", "affectedServices": ["billing"], "reason": "billing down"}),
    );
    assert!(!unknown.decision.recovery_required);
    assert!(unknown
        .decision
        .reasons
        .iter()
        .any(|r| r.contains("never starts a regional failover")));

    // An AWS Health issue of one AWS service restores the plan's services that run on it.
    let mut health = read("aws-health.json");
    health["detail"]["service"] = serde_json::json!("ECS");
    health["detail"]["eventTypeCode"] = serde_json::json!("AWS_ECS_OPERATIONAL_ISSUE");
    health["detail"]["eventDescription"][0]["latestDescription"] = serde_json::json!("Increased task launch failures.");
    let ecs = decide_value(health);
    assert_eq!(ecs.event.disaster_type, DisasterType::ServiceOutage);
    assert_eq!(ecs.path, RecoveryPath::ServiceRestore);
    assert_eq!(rebound_shared::step::services_in_scope(&ecs).len(), 2);
}

#[test]
fn regional_disasters_and_data_corruption_take_the_failover_path() {
    for kind in [
        "regionOutage",
        "azOutage",
        "dataCorruption",
        "securityIncident",
        "naturalDisaster",
    ] {
        let ctx = decide_value(
            serde_json::json!({"disasterType": kind, "affectedServices": ["orders-worker"], "reason": "test"}),
        );
        assert_eq!(ctx.path, RecoveryPath::Failover, "{kind}");
        assert_eq!(rebound_shared::step::services_in_scope(&ctx).len(), 3, "{kind}");
    }
    let security = decide_value(serde_json::json!({"disasterType": "securityIncident", "reason": "leaked keys"}));
    assert!(security.approval_required, "security incidents always need approval");
}

#[test]
fn a_reprotect_start_builds_the_failback_without_approval_or_the_rtos_deadline() {
    let ctx = decide("manual-start-reprotect.json");
    assert_eq!(ctx.path, rebound_shared::context::RecoveryPath::Reprotect);
    assert!(ctx.decision.recovery_required);
    assert!(!ctx.approval_required, "a reprotect moves no writer");
    let deadline = ctx.timestamps.deadline.expect("deadline");
    let decided = ctx.timestamps.decided_at.expect("decided");
    assert_eq!(
        (deadline - decided).num_seconds(),
        rebound_shared::objectives::REPROTECT_SECONDS as i64
    );
}
