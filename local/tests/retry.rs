//! A recovery that failed halfway is run again as its next attempt (`rebound run --retry`):
//! its lease taken again, what it had done found done, the rest done, and its end recorded as
//! the same recovery's.

mod common;

use rebound::drill::TABLE;
use rebound_moto::faults::{Fault, FaultProxy};
use rebound_shared::table::RecoveryTable;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_recovery_retried_finds_its_changes_done_and_finishes_as_its_second_attempt() {
    let (stage, input) = common::region_outage().await;
    let name = format!("orders-retry-{}", chrono::Utc::now().format("%H%M%S%3f"));
    // ECS in the recovery region fails every scale-out: DNS and the database move, services do not.
    let proxy = FaultProxy::start(&stage.moto).unwrap_or_else(|e| panic!("{e}"));
    proxy
        .set(&[Fault::status(500).service("ecs").operation("UpdateService")])
        .expect("faults");
    let failed = common::run_command(&stage, &input, "0", &["--execution-name", &name])
        .env("AWS_ENDPOINT_URL", proxy.endpoint())
        .output()
        .expect("runs");
    let printed = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{printed}");
    assert!(
        !common::replica_still_a_replica(&stage).await,
        "the promotion went through"
    );
    assert_eq!(common::desired(&stage, "orders-api").await, 1);
    let table = RecoveryTable::new(&stage.recovery, TABLE);
    let last = table.last_recovery("orders").await.expect("read").expect("ended");
    assert_eq!(
        (last.recovery_id.as_str(), last.outcome.as_str(), last.attempt),
        (name.as_str(), "failed", 1)
    );

    let retry = |extra: &[&str]| {
        common::run_from(&stage, &["--retry", &name], "0", extra)
            .output()
            .expect("runs")
    };
    let retried = retry(&[]);
    let printed = String::from_utf8_lossy(&retried.stderr);
    assert_eq!(retried.status.code(), Some(0), "{printed}");
    let output: Value = serde_json::from_slice(&retried.stdout).expect("output");
    assert_eq!(output["recoveryId"], name.as_str());
    assert_eq!(output["attempt"], 2);
    let run = output["run"].as_str().unwrap_or_default();
    assert!(run.starts_with(&format!("{name}-retry-")), "{run}");
    let dns = output["results"]["dns"]["actions"].as_array().expect("dns actions");
    assert!(
        !dns.is_empty() && dns.iter().all(|a| a["alreadyDone"] == true),
        "{dns:?}"
    );
    let promote = output["results"]["database"]["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["operation"] == "PromoteReadReplica")
        .expect("the promotion");
    assert_eq!(promote["alreadyDone"], true, "{promote}");
    // moto: the rest is done now.
    assert_eq!(common::desired(&stage, "orders-api").await, 6);
    let last = table.last_recovery("orders").await.expect("read").expect("ended");
    assert_eq!(
        (last.recovery_id.as_str(), last.outcome.as_str(), last.attempt),
        (name.as_str(), "succeeded", 2)
    );
    assert_eq!(
        table.holder("orders", chrono::Utc::now()).await.expect("read"),
        None,
        "its lease released"
    );

    // Succeeded: there is nothing to retry any more.
    let again = retry(&[]);
    let printed = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(1), "{printed}");
    assert!(printed.contains("it succeeded: there is nothing to retry"), "{printed}");
}
