//! Every acting call, applied by moto and its answer lost on the way back (a fault proxy between
//! the SDK and moto), in the AZ-outage failover (the region-outage drill also cuts the primary). The SDK retries; Rebound must recognise its own completed change, so the
//! recovery still completes and verifies in moto, and each change is made once.

mod common;

use rebound::drill::{drill_with, Scenario};
use rebound_moto::faults::Fault;
use serde_json::Value;

/// Runs `scenario` with one lost answer for `operation`; returns the verified report.
async fn lose_one_answer(scenario: Scenario, service: &str, operation: &str) -> Value {
    let dir = tempfile::tempdir().expect("dir");
    let fault = Fault::drop_answer(service, operation).times(1);
    let (verified, report) = drill_with(scenario, 0.0, dir.path(), &[fault])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        verified,
        "{service} {operation}: {}\n{}",
        report["error"], report["endState"]
    );
    let lost: Vec<&Value> = report["faultedCalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["operation"] == operation && c["fault"] == "dropAnswer")
        .collect();
    assert_eq!(lost.len(), 1, "the answer was lost once: {}", report["faultedCalls"]);
    assert!(
        lost[0]["status"].as_u64().is_some_and(|s| (200..300).contains(&s)),
        "moto applied the call whose answer was lost: {}",
        lost[0]
    );
    let key = format!("{service}:{operation}");
    assert!(
        report["apiCalls"][&key].as_u64().is_some_and(|n| n >= 2),
        "{key} was retried: {}",
        report["apiCalls"]
    );
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_promotion_answer_is_recognised_on_retry() {
    let report = lose_one_answer(Scenario::AzOutage, "rds", "PromoteReadReplica").await;
    let promote = common::action(&report, "PromoteReadReplica");
    assert!(
        promote["detail"]
            .as_str()
            .is_some_and(|d| d.contains("found being promoted on retry")),
        "{promote}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_restore_answer_is_recognised_by_its_tag() {
    let report = lose_one_answer(Scenario::DataCorruption, "rds", "RestoreDBInstanceToPointInTime").await;
    let restore = common::action(&report, "RestoreDBInstanceToPointInTime");
    assert!(
        restore["detail"]
            .as_str()
            .is_some_and(|d| d.contains("found already restored by this recovery")),
        "{restore}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_of_idempotent_changes_are_harmless() {
    for (service, operation) in [
        ("route53", "ChangeResourceRecordSets"),
        ("route53", "UpdateHealthCheck"),
        ("rds", "ModifyDBParameterGroup"),
        ("ecs", "UpdateService"),
        ("autoscaling", "UpdateAutoScalingGroup"),
        ("dynamodb", "PutItem"),
        ("dynamodb", "DeleteItem"),
    ] {
        lose_one_answer(Scenario::AzOutage, service, operation).await;
    }
}

/// Re-pointing the application, moving the queue consumer, tagging the replica before its
/// promotion, and the evidence report: each applied once, its lost answer retried harmlessly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_of_repointing_consumers_tags_and_reports_are_harmless() {
    for (service, operation) in [
        ("ssm", "PutParameter"),
        ("secretsmanager", "PutSecretValue"),
        ("lambda", "UpdateEventSourceMapping"),
        ("rds", "AddTagsToResource"),
        ("s3", "PutObject"),
    ] {
        lose_one_answer(Scenario::AzOutage, service, operation).await;
    }
}

/// The alarm gate of a failover in Route 53's data plane: the datapoint and the alarm state,
/// each answer lost once; the gate still holds the records on the recovery region.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_answers_of_the_alarm_gate_are_harmless() {
    for operation in ["PutMetricData", "SetAlarmState"] {
        let report = lose_one_answer(Scenario::UsEast1Outage, "monitoring", operation).await;
        let gate = common::action(&report, "SetAlarmState");
        assert_eq!(gate["status"], "done", "{gate}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_publish_answer_delivers_copies_of_one_notification() {
    let report = lose_one_answer(Scenario::AzOutage, "sns", "Publish").await;
    // SNS standard topics deliver at least once: the retried publish is a second copy with the
    // same notificationId, which subscribers drop.
    assert_eq!(report["notification"]["copies"], 2, "{}", report["notification"]);
}

/// Throttling and dropped connections during the readiness check are `Rebound.Transient`: the
/// state machine retries the check, and the recovery completes, where they once ended it as
/// "not ready". Three in a row outlast the SDK's own three attempts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_resets_in_the_readiness_check_are_retried_not_refused() {
    for fault in [
        Fault::throttle().service("ecs").operation("DescribeServices").times(3),
        Fault::reset()
            .service("route53")
            .operation("ListResourceRecordSets")
            .times(3),
    ] {
        let dir = tempfile::tempdir().expect("dir");
        let (verified, report) = drill_with(Scenario::AzOutage, 0.0, dir.path(), std::slice::from_ref(&fault))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(verified, "{fault:?}: {}", report["error"]);
        let faulted = report["faultedCalls"].as_array().map_or(0, Vec::len);
        assert_eq!(faulted, 3, "{fault:?}: {}", report["faultedCalls"]);
        let readiness_runs = report["timeline"]["transitions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["state"] == "CheckReadiness")
            .count();
        assert!(readiness_runs >= 1, "{fault:?}");
    }
}
