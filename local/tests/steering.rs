//! An operator's hand on a running recovery, through `rebound pause|resume|skip|cancel` against
//! the recovery table in moto, while `rebound run` recovers a staged region outage: what moto
//! holds while the recovery is paused, after a step is skipped, and after a cancel.

mod common;

use std::process::Output;
use std::time::Duration;

use rebound::drill::{Stage, TABLE};
use rebound_shared::table::RecoveryTable;
use serde_json::Value;

/// `rebound COMMAND EXECUTION ARGS` for the staged application.
fn steer(stage: &Stage, command: &str, execution: &str, args: &[&str]) -> Output {
    let mut all = vec![command, execution];
    all.extend(args);
    all.extend(["--application", "orders", "--table", TABLE, "--by", "j.doe"]);
    common::rebound(stage, &all).output().expect("rebound runs")
}

fn said(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The kinds of the audit rows written for a recovery, oldest first.
async fn audited(stage: &Stage, recovery: &str) -> Vec<(String, Value)> {
    let table = RecoveryTable::new(&stage.recovery, TABLE);
    let text = |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, key: &str| {
        item.get(key).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
    };
    table
        .audit_records("orders")
        .await
        .expect("audit")
        .iter()
        .filter(|item| text(item, "recoveryId") == recovery)
        .map(|item| {
            (
                text(item, "kind"),
                serde_json::from_str(&text(item, "detail")).unwrap_or(Value::Null),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_recovery_starts_no_change_until_resumed_and_its_lease_waits_with_it() {
    let (stage, input) = common::region_outage().await;
    let name = "orders-steer-pause";
    // Paused before its first change: every start is held back.
    let out = steer(&stage, "pause", name, &["--reason", "checking the primary first"]);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(said(&out).contains("paused (by j.doe"), "{}", said(&out));

    let mut run = common::Watched::new(common::run_scaled(&stage, &input, "0.02", &["--execution-name", name]));
    run.until("after Rebound.Paused");
    // Held: readiness ran; the first custom action's gate asked to start and was told to wait.
    run.until("after Rebound.Paused");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        common::replica_still_a_replica(&stage).await,
        "no promotion while paused"
    );
    assert_eq!(
        common::desired(&stage, "orders-api").await,
        1,
        "no capacity added while paused"
    );
    let table = RecoveryTable::new(&stage.recovery, TABLE);
    let lease = |t: &RecoveryTable| {
        let t = t.client.clone();
        async move {
            t.get_item()
                .table_name(TABLE)
                .key("pk", aws_sdk_dynamodb::types::AttributeValue::S("app#orders".into()))
                .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("lease".into()))
                .send()
                .await
                .expect("read")
                .item()
                .and_then(|i| i.get("expiresAt"))
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse::<i64>().ok())
                .expect("a lease")
        }
    };
    let before = lease(&table).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let out = steer(&stage, "resume", name, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(said(&out).contains("resumed after"), "{}", said(&out));
    // A second resume: nothing to resume, and nothing written.
    let again = steer(&stage, "resume", name, &[]);
    assert_eq!(again.status.code(), Some(2), "{}", said(&again));
    assert!(said(&again).contains("it is not paused"), "{}", said(&again));

    let (code, output, printed) = run.end().await;
    assert_eq!(code, Some(0), "{printed}");
    assert_eq!(output["results"]["database"]["status"], "completed", "{printed}");
    assert!(
        !common::replica_still_a_replica(&stage).await,
        "promoted after the resume"
    );
    assert_eq!(common::desired(&stage, "orders-api").await, 6);
    let audit = audited(&stage, name).await;
    let kinds: Vec<&str> = audit.iter().map(|(k, _)| k.as_str()).collect();
    assert!(kinds.contains(&"paused") && kinds.contains(&"resumed"), "{kinds:?}");
    let (_, resumed) = audit.iter().find(|(k, _)| k == "resumed").expect("resumed");
    assert!(resumed["pausedSeconds"].as_i64().is_some_and(|s| s >= 1), "{resumed}");
    assert_eq!(
        audit.iter().find(|(k, _)| k == "paused").map(|(_, d)| d["by"].clone()),
        Some("j.doe".into())
    );
    // The lease was moved on by as long as the pause lasted (the run has released it since;
    // the resume said where it went).
    assert!(said(&out).contains("lease extended to"), "{}", said(&out));
    assert!(before > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_step_changes_nothing_more_and_the_recovery_goes_on_reporting_it_skipped() {
    let (stage, input) = common::region_outage().await;
    let name = "orders-steer-skip";
    let refused = steer(&stage, "skip", name, &["dsn", "--reason", "typo"]);
    assert_eq!(refused.status.code(), Some(2), "{}", said(&refused));
    assert!(
        said(&refused).contains("`dsn` is not a step that can be skipped"),
        "{}",
        said(&refused)
    );
    let out = steer(
        &stage,
        "skip",
        name,
        &["capacity", "--reason", "the cluster is out of capacity"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));

    let run = common::Watched::new(
        common::run_command(&stage, &input, "0", &["--execution-name", name])
            .spawn()
            .expect("starts"),
    );
    let (code, output, printed) = run.end().await;
    assert_eq!(code, Some(0), "{printed}");
    let capacity = &output["results"]["capacity"];
    assert_eq!(capacity["status"], "skipped", "{capacity}");
    assert_eq!(capacity["skipped"]["by"], "j.doe");
    assert_eq!(capacity["skipped"]["reason"], "the cluster is out of capacity");
    assert_eq!(capacity["actions"], serde_json::json!([]), "nothing started");
    // moto: the capacity step never scaled orders-api; the step after the writer did its own.
    assert_eq!(common::desired(&stage, "orders-api").await, 1);
    assert!(!common::replica_still_a_replica(&stage).await);
    // Validation did not wait for what was skipped, and did not count it as passed.
    let checks = output["results"]["validation"]["checks"].as_array().expect("checks");
    let api = checks
        .iter()
        .find(|c| c["name"].as_str().is_some_and(|n| n.contains("orders-api")))
        .unwrap_or_else(|| panic!("no check of orders-api in {checks:?}"));
    assert_eq!(api["skipped"], true, "{api}");
    assert!(
        api["detail"]
            .as_str()
            .is_some_and(|d| d.contains("capacity was skipped by j.doe")),
        "{api}"
    );
    let subject = output["results"]["notification"]["actions"][0]["after"]["subject"]
        .as_str()
        .unwrap_or_default();
    assert!(subject.contains("1 step(s) SKIPPED"), "{subject}");
    let audit = audited(&stage, name).await;
    let (_, skipped) = audit.iter().find(|(k, _)| k == "skipped").expect("audited");
    assert_eq!(skipped["step"], "capacity");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_recovery_ends_through_its_failure_path_reported_and_its_lease_released() {
    let (stage, input) = common::region_outage().await;
    let name = "orders-steer-cancel";
    let out = steer(&stage, "pause", name, &["--reason", "is this real?"]);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let mut run = common::Watched::new(
        common::run_command(&stage, &input, "0.02", &["--execution-name", name])
            .spawn()
            .expect("starts"),
    );
    run.until("after Rebound.Paused");
    let out = steer(
        &stage,
        "cancel",
        name,
        &["--reason", "a false alarm: the primary answers"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    // Nothing more can be asked of a cancelled recovery.
    let late = steer(&stage, "resume", name, &[]);
    assert_eq!(late.status.code(), Some(2), "{}", said(&late));
    assert!(said(&late).contains("cancelled by j.doe"), "{}", said(&late));

    let (code, output, printed) = run.end().await;
    assert_eq!(code, Some(1), "{printed}");
    // Held at the gate of the first custom action (before the failover), the run meets the
    // cancel there: the execution ends with it, naming who and why.
    assert_eq!(output["Error"], "Rebound.Cancelled", "{output}");
    assert!(
        output["Cause"]
            .as_str()
            .is_some_and(|c| c.contains("was cancelled by j.doe") && c.contains("a false alarm")),
        "{output}"
    );
    assert!(
        !printed.contains("InitiateFailover"),
        "nothing after the gate ran: {printed}"
    );
    assert!(common::replica_still_a_replica(&stage).await, "nothing was promoted");
    assert_eq!(common::desired(&stage, "orders-api").await, 1);
    let table = RecoveryTable::new(&stage.recovery, TABLE);
    assert_eq!(
        table.holder("orders", chrono::Utc::now()).await.expect("read"),
        None,
        "lease released"
    );
    let audit = audited(&stage, name).await;
    let (_, outcome) = audit.iter().find(|(k, _)| k == "outcome").expect("the outcome");
    assert_eq!(outcome["outcome"], "cancelled", "{outcome}");
    assert!(audit
        .iter()
        .any(|(k, d)| k == "cancelled" && d["reason"] == "a false alarm: the primary answers"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_never_reaches_its_count_is_skipped_mid_run_and_left_pending() {
    let (stage, input) = common::region_outage().await;
    // ECS starts the new tasks and never gets them running.
    stage
        .moto
        .set_durations(&serde_json::json!({ "UpdateService": 3600 }))
        .expect("durations");
    let name = "orders-steer-stuck";
    let mut run = common::Watched::new(common::run_scaled(&stage, &input, "0.02", &["--execution-name", name]));
    // ECS tasks of both stages never run: each stage is given up on while it waits.
    run.until("CheckCapacity");
    let out = steer(
        &stage,
        "skip",
        name,
        &["capacity", "--reason", "orders-api never gets past 1 task"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    run.until("CheckWriterServices");
    let out = steer(
        &stage,
        "skip",
        name,
        &["services", "--reason", "orders-worker never starts"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));

    let (code, output, printed) = run.end().await;
    assert_eq!(code, Some(0), "{printed}");
    let capacity = &output["results"]["capacity"];
    assert_eq!(capacity["status"], "skipped", "{capacity}");
    let scale = capacity["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["operation"] == "UpdateService")
        .unwrap_or_else(|| panic!("the scale-out it started: {capacity}"));
    assert_eq!(scale["status"], "pending", "never confirmed, never done: {scale}");
    // moto: asked for 6, still not running them.
    assert_eq!(common::desired(&stage, "orders-api").await, 6);
    let running = aws_sdk_ecs::Client::new(&stage.recovery)
        .describe_services()
        .cluster(rebound_moto::seed::ECS_CLUSTER)
        .services("orders-api")
        .send()
        .await
        .expect("describe")
        .services()[0]
        .running_count();
    assert!(running < 6, "{running}");
    // The rest of the recovery went on: the writer moved.
    assert!(!common::replica_still_a_replica(&stage).await);
    assert_eq!(output["results"]["services"]["status"], "skipped");
    assert_eq!(output["results"]["validation"]["passed"], true);
}
