//! Every drill scenario, end to end against moto: the README's first command.

mod common;

use rebound::drill::{drill, Scenario};
use serde_json::Value;

async fn verified_report(scenario: Scenario) -> Value {
    let dir = tempfile::tempdir().expect("temp dir");
    let verified = drill(scenario, 0.0, dir.path()).await.unwrap_or_else(|e| panic!("{e}"));
    let reports: Vec<_> = std::fs::read_dir(dir.path())
        .expect("reports")
        .map(|e| e.expect("entry").path())
        .collect();
    let json = reports
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a JSON report");
    let report: Value = serde_json::from_str(&std::fs::read_to_string(json).expect("read")).expect("report is JSON");
    assert!(
        verified,
        "{scenario:?} verified its end state in moto: {}",
        report["endState"]
    );
    assert_eq!(report["verified"], true);
    assert!(report["timeline"]["transitions"]
        .as_array()
        .is_some_and(|t| t.len() >= 5));
    let html = reports
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "html"))
        .expect("an HTML report");
    assert!(std::fs::read_to_string(html).expect("read").contains("<svg"));
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn region_outage_promotes_the_replica_with_its_lag_as_the_rpo() {
    let report = verified_report(Scenario::RegionOutage).await;
    assert_eq!(report["rpo"]["actualSeconds"], 4.0);
    // The primary region was gone once the alarms fired: its calls were refused, and the
    // recovery held without them.
    let refused: Vec<&Value> = report["faultedCalls"].as_array().into_iter().flatten().collect();
    assert!(
        !refused.is_empty() && refused.iter().all(|c| c["region"] == "us-east-1"),
        "{refused:?}"
    );
    assert!(
        refused.iter().all(|c| c["service"] != "route53"),
        "Route 53 was not cut: {refused:?}"
    );
    let fence = common::action(&report, "FenceOldWriter");
    assert_eq!(fence["status"], "failed", "{fence}");
    assert!(
        fence["detail"].as_str().is_some_and(|d| d.contains("did not answer")),
        "{fence}"
    );
    assert!(report["rto"]["actualSeconds"].as_f64().is_some_and(|s| s > 0.0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn az_outage_from_aws_health_fails_over_the_same_way() {
    let report = verified_report(Scenario::AzOutage).await;
    assert!(report["endState"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f["found"] == "azOutage")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_corruption_restores_instead_of_promoting() {
    let report = verified_report(Scenario::DataCorruption).await;
    let rto = report["rto"]["actualSeconds"].as_f64().expect("rto");
    assert!(rto >= 600.0, "RTO counts from the detection ten minutes ago: {rto}");
    let rpo = report["rpo"]["actualSeconds"].as_f64().expect("rpo");
    assert!(rpo >= 600.0, "writes since the restore point are lost: {rpo}");
    assert!(report["actions"]
        .as_array()
        .is_some_and(|a| a.iter().any(|a| a["operation"] == "RestoreDBInstanceToPointInTime")));
    assert!(report["actions"]
        .as_array()
        .is_some_and(|a| a.iter().all(|a| a["operation"] != "PromoteReadReplica")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn switchover_loses_no_data() {
    let report = verified_report(Scenario::Switchover).await;
    assert_eq!(report["rpo"]["actualSeconds"], 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failback_returns_to_the_primary_region_without_data_loss() {
    let report = verified_report(Scenario::Failback).await;
    assert_eq!(report["rpo"]["actualSeconds"], 0.0);
    assert!(report["endState"]
        .as_array()
        .is_some_and(|f| f.iter().any(|f| f["found"] == "orders-api-use1.orders.example.com")));
    assert!(
        report["notification"]["subject"]
            .as_str()
            .is_some_and(|s| s.contains("recovered to us-east-1")),
        "{}",
        report["notification"]
    );
}

/// One field of every action in the report, in order.
fn action_field<'a>(report: &'a Value, field: &str) -> Vec<&'a str> {
    report["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a[field].as_str())
        .collect()
}

fn states(report: &Value) -> Vec<String> {
    report["timeline"]["transitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["state"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failover_checks_readiness_and_fences_the_old_writer_first() {
    // An AZ outage leaves the primary region answering, so the fence is set.
    let report = verified_report(Scenario::AzOutage).await;
    let states = states(&report);
    let position = |name: &str| states.iter().position(|s| s == name);
    assert!(position("CheckReadiness") < position("InitiateFailover"), "{states:?}");
    let operations = action_field(&report, "operation");
    let fence = operations.iter().position(|o| *o == "FenceOldWriter");
    let promote = operations.iter().position(|o| *o == "PromoteReadReplica");
    assert!(fence.is_some() && fence < promote, "{operations:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_outage_restores_that_service_only() {
    let report = verified_report(Scenario::ServiceOutage).await;
    let states = states(&report);
    assert!(states.contains(&"RestoreServices".to_string()), "{states:?}");
    for never in ["InitiateFailover", "StartDnsFailover", "StartDatabaseFailover"] {
        assert!(!states.contains(&never.to_string()), "{never} ran: {states:?}");
    }
    let resources = action_field(&report, "resource");
    assert_eq!(resources, vec!["ecs:orders-usw2/orders-worker"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_readiness_check_changes_nothing_and_tells_nobody() {
    let report = verified_report(Scenario::ReadinessCheck).await;
    let states = states(&report);
    assert_eq!(
        states,
        vec![
            "DetectDisaster",
            "EvaluateRecoveryNeeded",
            "CheckScheduledReadiness",
            "RecoveryRegionReady?",
            "Ready"
        ]
    );
    assert_eq!(report["actions"], serde_json::json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_security_incident_waits_for_approval_then_fails_over() {
    let report = verified_report(Scenario::SecurityIncident).await;
    let states = states(&report);
    let position = |name: &str| states.iter().position(|s| s == name);
    assert!(position("RequestApproval").is_some(), "{states:?}");
    assert!(position("RequestApproval") < position("InitiateFailover"), "{states:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_replica_is_refused_before_anything_changes() {
    let report = verified_report(Scenario::LaggingReplica).await;
    assert_eq!(report["succeeded"], false);
    let states = states(&report);
    assert!(states.contains(&"NotifyFailure".to_string()), "{states:?}");
    assert!(!states.contains(&"InitiateFailover".to_string()), "{states:?}");
    assert_eq!(report["error"]["Error"], "Rebound.PreconditionFailed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_and_throttling_primary_is_fenced_all_the_same() {
    let report = verified_report(Scenario::DegradedPrimary).await;
    let faulted: Vec<&Value> = report["faultedCalls"].as_array().into_iter().flatten().collect();
    assert!(faulted.iter().any(|c| c["fault"] == "throttle"), "{faulted:?}");
    assert!(faulted.iter().any(|c| c["fault"] == "latency"), "{faulted:?}");
    let fence = common::action(&report, "FenceOldWriter");
    assert_eq!(fence["status"], "done", "{fence}");
}
