//! A switchover waits for its replica to catch up with the fenced writer (`Rebound.Draining`,
//! retried every 15 s), and `rebound ungraceful` switches it to a failover mid-run: what moto
//! holds while it drains, after it drained, and after the switch.

mod common;

use std::process::Output;
use std::time::Duration;

use rebound::drill::{Scenario, Stage, TABLE};
use rebound_moto::seed::{PARAMETER_GROUP, REPLICA_DB};
use rebound_shared::table::RecoveryTable;
use serde_json::Value;

const DRAINING: &str = "after Rebound.Draining";

fn ungraceful(stage: &Stage, execution: &str, reason: &str) -> Output {
    common::rebound(
        stage,
        &[
            "ungraceful",
            execution,
            "--reason",
            reason,
            "--application",
            "orders",
            "--table",
            TABLE,
            "--by",
            "j.doe",
        ],
    )
    .output()
    .expect("rebound runs")
}

/// The primary's writer parameter `read_only`, as moto holds it: the fence.
async fn primary_read_only(stage: &Stage) -> Option<String> {
    aws_sdk_rds::Client::new(&stage.global)
        .describe_db_parameters()
        .db_parameter_group_name(PARAMETER_GROUP)
        .send()
        .await
        .expect("parameters")
        .parameters()
        .iter()
        .find(|p| matches!(p.parameter_name(), Some("read_only" | "default_transaction_read_only")))
        .and_then(|p| p.parameter_value().map(str::to_string))
}

/// A switchover whose replica is 3 s behind, as `rebound run` at `scale` of AWS's time.
async fn lagging_switchover(name: &str, scale: &str) -> (Stage, common::Watched) {
    let (stage, input) = common::staged(Scenario::Switchover).await;
    rebound_moto::seed::replica_lag(&stage.recovery, REPLICA_DB, 3.0)
        .await
        .expect("lag");
    let run = common::Watched::new(common::run_scaled(&stage, &input, scale, &["--execution-name", name]));
    (stage, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switchover_fences_its_writer_and_promotes_once_the_replica_has_caught_up() {
    // 3 s between tries, 2 minutes in all: long enough for the lag's next minute.
    let (stage, mut run) = lagging_switchover("orders-drain", "0.2").await;
    run.until(DRAINING);
    assert!(
        common::replica_still_a_replica(&stage).await,
        "not promoted while behind"
    );
    assert!(
        matches!(primary_read_only(&stage).await.as_deref(), Some("1" | "on")),
        "the old writer takes no more writes while the replica catches up"
    );
    // Caught up: the next try promotes it, losing nothing. The lag is read as the newest
    // minute's Maximum, as RDS publishes it: the 0 goes into a minute of its own.
    let into_minute = chrono::Utc::now().timestamp() % 60;
    tokio::time::sleep(Duration::from_secs((61 - into_minute) as u64)).await;
    rebound_moto::seed::replica_lag(&stage.recovery, REPLICA_DB, 0.0)
        .await
        .expect("lag");
    let (code, output, _) = run.end().await;
    assert_eq!(code, Some(0), "{output}");
    assert!(!common::replica_still_a_replica(&stage).await, "promoted");
    let database = &output["results"]["database"];
    assert_eq!(database["rpoSeconds"], 0.0, "{database}");
    assert!(database.get("ungraceful").is_none(), "{database}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_switches_a_draining_switchover_to_ungraceful_and_it_promotes_within_the_rpo() {
    let name = "orders-ungraceful";
    let (stage, mut run) = lagging_switchover(name, "0.02").await;
    run.until(DRAINING);
    assert!(
        common::replica_still_a_replica(&stage).await,
        "not promoted while behind"
    );
    let out = ungraceful(&stage, name, "us-east-1 degrading; 3 s of orders within the RPO");
    let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("switched to ungraceful"), "{said}");
    let (code, output, _) = run.end().await;
    assert_eq!(code, Some(0), "{output}");
    assert!(
        !common::replica_still_a_replica(&stage).await,
        "promoted behind its writer"
    );
    let database = &output["results"]["database"];
    assert_eq!(database["rpoSeconds"], 3.0, "the loss is the lag: {database}");
    assert_eq!(database["ungraceful"]["by"], "j.doe", "{database}");
    let promote = database["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["operation"] == "PromoteReadReplica")
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(
        promote["detail"],
        "replica lag at promotion 3 s; switched to ungraceful by j.doe: us-east-1 degrading; 3 s of orders within the RPO",
        "{promote}"
    );
    // Audited with who and why; a second ask changes nothing, a reason is required.
    let table = RecoveryTable::new(&stage.recovery, TABLE);
    let kinds: Vec<String> = table
        .audit_records("orders")
        .await
        .expect("audit")
        .iter()
        .filter_map(|item| item.get("kind").and_then(|v| v.as_s().ok()).cloned())
        .collect();
    assert!(kinds.iter().any(|k| k == "ungraceful"), "{kinds:?}");
    let (control, _) = table.control("orders", name).await.expect("control");
    assert_eq!(control.ungraceful.map(|m| m.by), Some("j.doe".into()));
    let refused = ungraceful(&stage, name, " ");
    assert_eq!(refused.status.code(), Some(2));
}
