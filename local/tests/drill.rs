//! Every drill scenario, end to end against moto: the README's first command.

mod common;

use rebound::drill::{drill, drill_with, Scenario};
use rebound_moto::faults::Fault;
use serde_json::{json, Value};

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
    // The old writer's region never answered: its one-writer check is unknown, not a pass.
    let unknown = report["unknownChecks"].as_array().expect("unknownChecks");
    assert!(
        unknown.iter().any(|c| c["name"] == "one writer: orders-db-usw2"
            && c["passed"] == false
            && c["detail"].as_str().is_some_and(|d| d.contains("could not be read"))),
        "{unknown:?}"
    );
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reprotect_builds_the_failback_replica_once_the_primary_returns_and_the_failback_is_ready() {
    let report = verified_report(Scenario::Reprotect).await;
    // The replica was created by this run (the fact checks moto: a replica of the new writer,
    // tagged with the reprotect), then the failback's dry runs ran.
    let created = common::action(&report, "CreateDBInstanceReadReplica");
    assert_eq!(created["status"], "done", "{created}");
    assert_eq!(created["alreadyDone"], false, "{created}");
    let ran = states(&report);
    let at = |name: &str| {
        ran.iter()
            .position(|s| s == name)
            .unwrap_or_else(|| panic!("{name} in {ran:?}"))
    };
    assert!(at("Reprotect") < at("AsFailback") && at("AsFailback") < at("CheckFailbackReadiness"));
    assert!(
        !ran.iter().any(|s| s == "InitiateFailover"),
        "a reprotect moves nothing: {ran:?}"
    );
    assert!(
        report["notification"]["subject"]
            .as_str()
            .is_some_and(|s| s.contains("protected again: ready to fail back to us-east-1")),
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
    // Both must have run: `None < Some(_)` would hold for a readiness check that never ran.
    let position = |name: &str| {
        states
            .iter()
            .position(|s| s == name)
            .unwrap_or_else(|| panic!("{name} did not run: {states:?}"))
    };
    assert!(position("CheckReadiness") < position("InitiateFailover"), "{states:?}");
    let operations = action_field(&report, "operation");
    let fence = operations.iter().position(|o| *o == "FenceOldWriter");
    let promote = operations.iter().position(|o| *o == "PromoteReadReplica");
    assert!(
        fence.is_some() && promote.is_some() && fence < promote,
        "{operations:?}"
    );
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
    // That service, and the plan's own step after services (the one before the failover is
    // not run: nothing fails over).
    assert_eq!(resources, vec!["ecs:orders-usw2/orders-worker", "warm-caches"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_readiness_check_changes_nothing_and_tells_nobody() {
    let report = verified_report(Scenario::ReadinessCheck).await;
    // The steps' dry runs run concurrently, in any order; around them the path is fixed.
    let (mut dry_runs, states): (Vec<String>, Vec<String>) = states(&report)
        .into_iter()
        .partition(|s| s.starts_with("DryRun") && s != "DryRunSteps");
    dry_runs.sort();
    assert_eq!(dry_runs, ["DryRunDatabases", "DryRunDns", "DryRunServices"]);
    assert_eq!(
        states,
        vec![
            "DetectDisaster",
            "EvaluateRecoveryNeeded",
            "DryRunSteps",
            "ScheduledCheck?",
            "CheckScheduledReadiness",
            "ScheduledNextRecoveryRegion?",
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
    let position = |name: &str| {
        states
            .iter()
            .position(|s| s == name)
            .unwrap_or_else(|| panic!("{name} did not run: {states:?}"))
    };
    assert!(position("RequestApproval") < position("InitiateFailover"), "{states:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_pauses_resumes_and_skips_a_hung_custom_action_and_the_recovery_goes_on() {
    let report = verified_report(Scenario::OperatorSteers).await;
    // The end-state facts include what moto held while paused and the audit of each command.
    let facts: Vec<&str> = report["endState"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["what"].as_str())
        .collect();
    for what in [
        "while paused (replica, orders-api desired)",
        "the operator's commands, audited",
    ] {
        assert!(facts.contains(&what), "{what} in {facts:?}");
    }
    // Each branch asked to start and was held while paused.
    let states = states(&report);
    let warm = report["executionReport"]["customActions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == "warm-caches")
        .unwrap_or_else(|| panic!("{}", report["executionReport"]["customActions"]));
    assert_eq!(warm["status"], "skipped", "{warm}");
    assert_eq!(warm["skipped"]["by"], "drill-operator");
    assert_eq!(warm["error"], "States.Timeout");
    assert!(
        states.iter().any(|s| s == "AfterServicesFailedActionSkipped"),
        "{states:?}"
    );
    assert!(!states.iter().any(|s| s == "AfterServicesStopRecovery"), "{states:?}");
    let subject = report["notification"]["subject"].as_str().unwrap_or_default();
    assert!(subject.contains("1 step(s) SKIPPED"), "{subject}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aurora_global_database_fails_over_fenced_in_its_cluster_parameter_group() {
    let report = verified_report(Scenario::AuroraGlobal).await;
    let operations = action_field(&report, "operation");
    let position = |op: &str| {
        operations
            .iter()
            .position(|o| *o == op)
            .unwrap_or_else(|| panic!("no {op}: {operations:?}"))
    };
    assert!(
        position("FenceOldWriter") < position("FailoverGlobalCluster"),
        "{operations:?}"
    );
    assert!(!operations.contains(&"PromoteReadReplica"), "{operations:?}");
    let fence = common::action(&report, "FenceOldWriter");
    assert_eq!(fence["status"], "done", "{fence}");
    assert!(
        fence["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("ModifyDBClusterParameterGroup orders-global-params read_only=1")),
        "{fence}"
    );
    // The loss is the secondary's replication lag, 4,000 ms.
    assert_eq!(report["rpo"]["actualSeconds"], json!(4.0), "{}", report["rpo"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eks_and_a_global_datastore_move_with_the_rest_in_a_region_outage() {
    // The end state (node group 4 in service, the datastore's us-west-2 member the primary) is
    // among the facts verified_report asserts.
    let report = verified_report(Scenario::EksAndCache).await;
    let failover = common::action(&report, "FailoverGlobalReplicationGroup");
    assert_eq!(failover["status"], "done", "{failover}");
    assert!(
        failover["detail"]
            .as_str()
            .is_some_and(|d| d.contains("orders-sessions-usw2 in us-west-2 was 0.5 s behind")),
        "{failover}"
    );
    let carts = common::action(&report, "UseRegionalCluster");
    assert_eq!(carts["status"], "done", "{carts}");
    assert!(
        carts["detail"].as_str().is_some_and(
            |d| d.contains("orders-carts-usw2 in us-west-2 takes writes (active-active); it was 1.5 s behind")
        ),
        "{carts}"
    );
    let nodes = common::action(&report, "UpdateNodegroupConfig");
    assert_eq!(nodes["status"], "done", "{nodes}");
    // The node group is the workload account's (a verified fact reads it there): it was scaled
    // as that account's role.
    let calls = report["apiCalls"].as_object().expect("api calls");
    assert!(calls.contains_key("sts:AssumeRole"), "{calls:?}");
    // The DocumentDB catalog, failed over through DocumentDB's API (its writer is a fact).
    let catalog = common::action(&report, "FailoverGlobalCluster");
    assert_eq!(
        (catalog["resource"].as_str(), catalog["status"].as_str()),
        (Some("orders-catalog"), Some("done")),
        "{catalog}"
    );
    // The worst lag is the replica's; the datastore's is within it.
    assert_eq!(report["rpo"]["actualSeconds"], json!(4.0), "{}", report["rpo"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_us_east_1_outage_fails_dns_over_in_route53s_data_plane() {
    let report = verified_report(Scenario::UsEast1Outage).await;
    let faulted: Vec<&Value> = report["faultedCalls"].as_array().into_iter().flatten().collect();
    assert!(faulted.iter().all(|c| c["region"] == "us-east-1"), "{faulted:?}");
    // Route 53's control plane was cut with the region; only the readiness check's wiring read
    // tried it, and the failover needed nothing from it.
    assert!(faulted.iter().any(|c| c["service"] == "route53"), "{faulted:?}");
    let calls = report["apiCalls"].as_object().expect("api calls");
    let route53: Vec<&String> = calls.keys().filter(|k| k.starts_with("route53:")).collect();
    assert_eq!(route53, ["route53:GetHealthCheck"], "{calls:?}");
    let gate = common::action(&report, "SetAlarmState");
    assert_eq!(gate["status"], "done", "{gate}");
    assert_eq!(calls.get("monitoring:PutMetricData"), Some(&json!(1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_us_east_1_outage_with_control_plane_dns_fails_naming_route53s_control_plane() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The region-outage plan updates records with ChangeResourceRecordSets; now Route 53 and
    // IAM are cut with the rest of us-east-1.
    let (verified, report) = drill_with(
        Scenario::RegionOutage,
        0.0,
        dir.path(),
        &[Fault::reset().region("us-east-1")],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(!verified);
    assert_eq!(report["succeeded"], false);
    let cause = report["error"]["Cause"].as_str().unwrap_or_default();
    assert!(
        cause.contains("Route 53's control plane (homed in us-east-1) did not answer"),
        "{cause}"
    );
    assert!(cause.contains("ListResourceRecordSets"), "{cause}");
    // Refused before anything changed: the replica is still a replica.
    let db = report["endState"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["what"] == "orders-db-usw2 is a standalone writer")
        .expect("database fact");
    assert_eq!(
        db["found"], "still a replica of arn:aws:rds:us-east-1:123456789012:db:orders-db",
        "{db}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_whose_apis_never_answer_is_given_up_on_in_seconds() {
    let dir = tempfile::tempdir().expect("temp dir");
    // No answer at all (the proxy holds each call for a minute) instead of refused connections.
    let (verified, report) = drill_with(
        Scenario::UsEast1Outage,
        0.0,
        dir.path(),
        &[Fault::timeout(60).region("us-east-1")],
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(verified, "{}", report["endState"]);
    let faulted: Vec<&Value> = report["faultedCalls"].as_array().into_iter().flatten().collect();
    assert!(
        !faulted.is_empty() && faulted.iter().all(|c| c["fault"] == "timeout"),
        "{faulted:?}"
    );
    let fence = common::action(&report, "FenceOldWriter");
    assert_eq!(fence["status"], "failed", "{fence}");
    // Each operation that never answered is one the failover does not wait for.
    let held: Vec<&Value> = report["faultedOperations"].as_array().into_iter().flatten().collect();
    assert!(!held.is_empty(), "{}", report["faultedOperations"]);
    for f in &held {
        assert_eq!(f["held"], "best effort: the failover does not wait for it", "{f}");
    }
    println!(
        "primary never answering: RTO {} s, {} calls held",
        report["rto"]["actualSeconds"],
        faulted.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drill_forecast_prints_the_predicted_rto_its_critical_path_and_its_sources() {
    let dir = tempfile::tempdir().expect("dir");
    let out = tokio::task::spawn_blocking({
        let dir = dir.path().display().to_string();
        move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_rebound"))
                .args([
                    "drill",
                    "--scenario",
                    "aurora-global",
                    "--forecast",
                    "--report-dir",
                    &dir,
                ])
                .env_remove("AWS_ENDPOINT_URL")
                .output()
                .expect("rebound drill runs")
        }
    })
    .await
    .expect("joined");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{printed}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(printed.contains("Predicted RTO "), "{printed}");
    let path = printed
        .lines()
        .find(|l| l.starts_with("Critical path (*): "))
        .expect("a critical path");
    assert!(path.contains("databases (") || path.contains("dns ("), "{path}");
    // Beside the forecast, the floor AWS itself sets, and how far above it the forecast is.
    let floor = printed
        .lines()
        .find(|l| l.starts_with("Physical floor "))
        .expect("a physical floor");
    assert!(
        floor.contains("alarm delivered") && floor.contains("x the floor"),
        "{floor}"
    );
    let report = common::json_report(dir.path());
    let (rto, floor) = (
        report["forecast"]["rtoSeconds"].as_f64().expect("rto"),
        report["forecast"]["floorSeconds"].as_f64().expect("floor"),
    );
    assert!(floor > 0.0 && floor <= rto, "floor {floor} s, forecast {rto} s");
    assert!(
        printed.contains("aurora-global-failover"),
        "the Aurora figure was used: {printed}"
    );
    assert!(printed.contains(
        "source: https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-editing.html"
    ));
}
