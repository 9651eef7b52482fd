//! DynamoDB global tables (`globalTables`) against moto (with the launcher's patch for
//! UpdateTable's ReplicaUpdates): the recovery region's replica checked before anything
//! changes, its ReplicationLatency counted in the RPO, and a primary that does not answer.

use chrono::Utc;
use database_failover::DatabaseFailover;
use rebound_shared::context::{Action, StepResult};
use rebound_shared::ErrorKind;
use rebound_tests::faults::{Fault, FaultProxy};
use rebound_tests::{event, MotoServer};
use serde_json::{json, Value};

const TABLE: &str = "orders-carts";

struct World {
    moto: MotoServer,
    request: Value,
}

/// The seeded database (2 s behind) and `orders-carts`, a global table with its replica in
/// us-west-2 unless `regional`.
async fn world(regional: bool) -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let arn = rebound_tests::seed::database_with_replica(&east, &west, "postgres")
        .await
        .expect("seeded");
    rebound_tests::seed::replica_lag(&west, "orders-db-usw2", 2.0)
        .await
        .expect("lag");
    if regional {
        // Each region's table is joined with eu-west-1, not with the other: nothing replicates
        // between us-east-1 and us-west-2.
        for config in [&east, &west] {
            rebound_tests::seed::global_table(config, "eu-west-1", TABLE)
                .await
                .expect("table");
        }
    } else {
        rebound_tests::seed::global_table(&east, "us-west-2", TABLE)
            .await
            .expect("global table");
    }
    let mut request = event("database-failover.json");
    request["context"]["plan"]["databases"][0]["sourceIdentifier"] = json!(arn);
    request["context"]["plan"]["globalTables"] = json!([{"tableName": TABLE}]);
    World { moto, request }
}

impl World {
    async fn latency(&self, ms: f64) {
        rebound_tests::seed::replication_latency(&self.moto.config("us-east-1"), TABLE, "us-west-2", ms)
            .await
            .expect("latency");
    }

    async fn still_a_replica(&self) -> bool {
        aws_sdk_rds::Client::new(&self.moto.config("us-west-2"))
            .describe_db_instances()
            .db_instance_identifier("orders-db-usw2")
            .send()
            .await
            .expect("describe")
            .db_instances()[0]
            .read_replica_source_db_instance_identifier()
            .is_some()
    }
}

fn table_action(result: &StepResult) -> &Action {
    result
        .actions
        .iter()
        .find(|a| a.operation == "UseGlobalTableReplica")
        .unwrap_or_else(|| panic!("no table action in {:?}", result.actions))
}

#[tokio::test]
async fn a_failover_relies_on_the_recovery_replica_and_counts_its_latency_in_the_rpo() {
    let w = world(false).await;
    w.latency(3500.0).await;
    let result = DatabaseFailover::new(&w.moto.regions())
        .handle(w.request.clone(), Utc::now())
        .await
        .expect("failover");
    // The table is 3.5 s behind, the database 2 s: the RPO is the worse of the two.
    assert_eq!(result.rpo_seconds, Some(3.5));
    let action = table_action(&result);
    assert_eq!(action.resource, "dynamodb:orders-carts (us-west-2)");
    assert_eq!(action.before["latencySeconds"], json!(3.5));
    assert!(action.already_done, "nothing to change in a global table: {action:?}");
    rebound_tests::wait::promoted(&w.moto.config("us-west-2"), "orders-db-usw2").await;
}

#[tokio::test]
async fn a_table_without_a_recovery_replica_refuses_before_any_change() {
    let w = world(true).await;
    let err = DatabaseFailover::new(&w.moto.regions())
        .handle(w.request.clone(), Utc::now())
        .await
        .expect_err("no replica");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert_eq!(
        err.to_string(),
        "table orders-carts: the table in us-west-2 is not a replica of a global table with us-east-1: nothing replicates into it"
    );
    assert!(w.still_a_replica().await, "nothing promoted");

    let mut request = w.request.clone();
    request["context"]["plan"]["globalTables"] = json!([{"tableName": "orders-nowhere"}]);
    let err = DatabaseFailover::new(&w.moto.regions())
        .handle(request, Utc::now())
        .await
        .expect_err("missing");
    assert_eq!(err.to_string(), "table orders-nowhere: no replica in us-west-2");
    assert!(w.still_a_replica().await, "nothing promoted");
}

#[tokio::test]
async fn a_latency_beyond_the_rpo_target_waits_for_approval() {
    let w = world(false).await;
    w.latency(1_200_000.0).await;
    let failover = DatabaseFailover::new(&w.moto.regions());
    let err = failover
        .handle(w.request.clone(), Utc::now())
        .await
        .expect_err("too far behind");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert!(
        err.to_string()
            .contains("orders-carts (DynamoDB global table): replica lag is 1200 s"),
        "{err}"
    );
    assert!(w.still_a_replica().await, "nothing promoted");

    // The plan allows the loss with a human's approval: readiness puts it to them.
    let mut request = w.request.clone();
    request["context"]["plan"]["globalTables"][0]["allowDataLoss"] = json!(true);
    request["action"] = json!("readiness");
    let ready = failover.handle(request.clone(), Utc::now()).await.expect("readiness");
    assert!(
        ready
            .needs_approval
            .as_deref()
            .is_some_and(|n| n.contains("orders-carts")),
        "{:?}",
        ready.needs_approval
    );
    assert!(w.still_a_replica().await, "readiness changes nothing");
    request["action"] = json!("start");
    request["context"]["approval"] = json!({"approvedBy": "oncall"});
    let result = failover.handle(request, Utc::now()).await.expect("approved");
    assert_eq!(result.rpo_seconds, Some(1200.0));
    rebound_tests::wait::promoted(&w.moto.config("us-west-2"), "orders-db-usw2").await;
}

#[tokio::test]
async fn a_primary_that_does_not_answer_leaves_the_latency_unknown_not_the_failover_refused() {
    let w = world(false).await;
    w.latency(3500.0).await;
    let proxy = FaultProxy::start(&w.moto).unwrap_or_else(|e| panic!("{e}"));
    proxy.set(&[Fault::reset().region("us-east-1")]).expect("faults");
    let result = DatabaseFailover::new(&proxy.regions())
        .handle(w.request.clone(), Utc::now())
        .await
        .expect("failover");
    let action = table_action(&result);
    assert_eq!(action.before["latencySeconds"], Value::Null);
    assert!(
        action
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("UNKNOWN how far behind")),
        "{action:?}"
    );
    // The database's lag, read in us-west-2, is still known.
    assert_eq!(result.rpo_seconds, Some(2.0));
    rebound_tests::wait::promoted(&w.moto.config("us-west-2"), "orders-db-usw2").await;
}
