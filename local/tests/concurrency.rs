//! Ten `rebound run` processes started at once for one alarm, against one recovery table in
//! moto: the lease lets exactly one act; the others are declined and say so.

mod common;

use std::process::Output;

use rebound::drill::TABLE;
use rebound_shared::table::RecoveryTable;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_runs_of_one_alarm_recover_exactly_once() {
    let (stage, input) = common::region_outage().await;
    let children: Vec<_> = (0..10).map(|_| common::run(&stage, &input, &[])).collect();
    let mut outputs: Vec<Output> = Vec::new();
    for child in children {
        outputs.push(common::finish(child).await);
    }

    let mut winners = Vec::new();
    let mut declined = 0;
    for out in &outputs {
        let err = String::from_utf8_lossy(&out.stderr);
        let output: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
        match out.status.code() {
            Some(0) => {
                assert_eq!(output["decision"]["recoveryRequired"], true, "{output}");
                winners.push(output["recoveryId"].as_str().expect("recoveryId").to_string());
            }
            Some(3) => {
                assert_eq!(output["decision"]["declined"], "lease", "{output}");
                assert!(
                    err.contains("recovery declined: lease: recovery already in progress"),
                    "{err}"
                );
                declined += 1;
            }
            other => panic!("exit {other:?}: {err}"),
        }
    }
    assert_eq!((winners.len(), declined), (1, 9), "{winners:?}");

    // moto: the winner's recovery is the one recorded, its lease released, and ten decisions
    // audited of which one acted.
    let table = RecoveryTable::new(&stage.recovery, TABLE);
    let last = table
        .last_recovery("orders")
        .await
        .expect("read")
        .expect("a recovery ended");
    assert_eq!(
        (last.recovery_id.as_str(), last.outcome.as_str()),
        (winners[0].as_str(), "succeeded")
    );
    assert_eq!(table.holder("orders", chrono::Utc::now()).await.expect("read"), None);
    let audit = table.audit_records("orders").await.expect("audit");
    let acted: Vec<_> = audit
        .iter()
        .filter(|item| {
            item.get("kind")
                .and_then(|k| k.as_s().ok())
                .is_some_and(|k| k == "decision")
        })
        .filter(|item| {
            item.get("detail")
                .and_then(|d| d.as_s().ok())
                .and_then(|d| serde_json::from_str::<Value>(d).ok())
                .is_some_and(|d| d["recoveryRequired"] == true)
        })
        .collect();
    assert_eq!(acted.len(), 1, "{audit:?}");
    assert!(
        !common::replica_still_a_replica(&stage).await,
        "the replica was promoted"
    );
}
