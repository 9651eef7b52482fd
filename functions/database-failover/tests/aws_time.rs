//! database-failover on AWS's time (the launcher's): a promotion is `modifying` for seconds with
//! its source still set, an answer can be lost while it runs, and a busy primary throttles. What
//! moto holds afterwards, and what the step answered.

use chrono::Utc;
use database_failover::{DatabaseError, DatabaseFailover};
use rebound_shared::context::{ActionStatus, StepResult};
use rebound_shared::ErrorKind;
use rebound_tests::faults::{Fault, FaultProxy};
use rebound_tests::{action, event, seed, wait, MotoServer};
use serde_json::{json, Value};

const REPLICA: &str = "orders-db-usw2";

struct World {
    moto: MotoServer,
    proxy: FaultProxy,
    request: Value,
}

/// A PostgreSQL writer in us-east-1 (on its own parameter group, or on `default.postgres16`)
/// with its replica in us-west-2, 4 s behind; the step reaches moto through the fault proxy.
async fn world(own_group: bool) -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let arn = if own_group {
        seed::database_with_replica(&east, &west, "postgres").await
    } else {
        seed::database_on_default_group_with_replica(&east, &west, "postgres").await
    }
    .expect("seeded");
    seed::replica_lag(&west, REPLICA, 4.0).await.expect("lag");
    let mut request = event("database-failover.json");
    request["context"]["plan"]["databases"][0]["sourceIdentifier"] = json!(arn);
    let proxy = FaultProxy::start(&moto).unwrap_or_else(|e| panic!("{e}"));
    World { moto, proxy, request }
}

impl World {
    fn step(&self) -> DatabaseFailover {
        DatabaseFailover::new(&self.proxy.regions())
    }

    async fn run(&self, request: &Value) -> Result<StepResult, DatabaseError> {
        self.step().handle(request.clone(), Utc::now()).await
    }

    async fn completed(&self, started: &StepResult) -> StepResult {
        wait::step_completed(&self.request, "database", started.clone(), |status| async move {
            self.run(&status).await.expect("status")
        })
        .await
    }

    async fn instance(&self, region: &str, id: &str) -> aws_sdk_rds::types::DbInstance {
        let out = aws_sdk_rds::Client::new(&self.moto.config(region))
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .expect("describe");
        out.db_instances()[0].clone()
    }

    fn calls(&self, operation: &str) -> usize {
        self.proxy.count(operation)
    }

    /// The old writer's read-only setting in its own parameter group, as moto holds it.
    async fn read_only(&self) -> Option<String> {
        let out = aws_sdk_rds::Client::new(&self.moto.config("us-east-1"))
            .describe_db_parameters()
            .db_parameter_group_name(seed::PARAMETER_GROUP)
            .send()
            .await
            .expect("parameters");
        out.parameters()
            .iter()
            .find(|p| p.parameter_name() == Some("default_transaction_read_only"))
            .and_then(|p| p.parameter_value().map(str::to_string))
    }
}

#[tokio::test]
async fn a_start_run_again_during_the_promotion_waits_for_it_and_promotes_once() {
    let w = world(true).await;
    let started = w.run(&w.request).await.expect("start");
    assert_eq!(action(&started, "PromoteReadReplica").status, ActionStatus::Pending);
    // The state machine retries the start (its Lambda timed out, its answer was lost): RDS
    // shows the replica `modifying`, still a replica, tagged with this recovery.
    let replica = w.instance("us-west-2", REPLICA).await;
    assert_eq!(replica.db_instance_status(), Some("modifying"));
    assert!(replica.read_replica_source_db_instance_identifier().is_some());
    assert!(replica
        .tag_list()
        .iter()
        .any(|t| t.key() == Some("rebound:recovery-id") && t.value() == Some("orders-20261124T031241Z")));
    let again = w.run(&w.request).await.expect("the retried start waits, not refuses");
    let promote = action(&again, "PromoteReadReplica");
    assert_eq!(promote.status, ActionStatus::Pending, "{promote:?}");
    assert!(
        promote.detail.as_deref().is_some_and(|d| d.contains("under way")),
        "{promote:?}"
    );
    assert_eq!(w.calls("PromoteReadReplica"), 1, "promoted once");

    let done = w.completed(&again).await;
    assert_eq!(action(&done, "PromoteReadReplica").status, ActionStatus::Done);
    let promoted = w.instance("us-west-2", REPLICA).await;
    assert_eq!(promoted.db_instance_status(), Some("available"));
    assert_eq!(promoted.read_replica_source_db_instance_identifier(), None);
}

#[tokio::test]
async fn a_change_under_way_that_rebound_did_not_start_is_refused_not_waited_for() {
    let w = world(true).await;
    // Someone promotes the replica by hand: no recovery's tag on it.
    aws_sdk_rds::Client::new(&w.moto.config("us-west-2"))
        .promote_read_replica()
        .db_instance_identifier(REPLICA)
        .send()
        .await
        .expect("promoted by hand");
    let err = w.run(&w.request).await.expect_err("not Rebound's promotion");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(err.to_string().contains("'modifying'"), "{err}");
    assert_eq!(w.calls("PromoteReadReplica"), 0);
}

#[tokio::test]
async fn a_promotion_whose_answer_is_lost_is_found_under_way_on_the_sdks_retry() {
    let w = world(true).await;
    w.proxy
        .set(&[Fault::drop_answer("rds", "PromoteReadReplica").times(1)])
        .expect("faults");
    let started = w.run(&w.request).await.expect("start");
    let promote = action(&started, "PromoteReadReplica");
    assert_eq!(promote.status, ActionStatus::Pending);
    assert!(
        promote
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("found being promoted on retry")),
        "{promote:?}"
    );
    assert_eq!(w.calls("PromoteReadReplica"), 2, "the SDK retried once");
    w.completed(&started).await;
    let promoted = wait::promoted(&w.moto.config("us-west-2"), REPLICA).await;
    assert_eq!(promoted.read_replica_source_db_instance_identifier(), None);
}

#[tokio::test]
async fn a_primary_that_throttles_is_fenced_through_its_throttling_not_taken_for_gone() {
    let w = world(true).await;
    // Four throttled answers in a row: more than the primary client's own two attempts.
    w.proxy
        .set(&[Fault::throttle().service("rds").region("us-east-1").times(4)])
        .expect("faults");
    let started = w.run(&w.request).await.expect("start");
    let fence = action(&started, "FenceOldWriter");
    assert_eq!(fence.status, ActionStatus::Done, "{fence:?}");
    assert_eq!(
        fence.before["acceptsWrites"], true,
        "read as a writer, not as unreachable"
    );
    assert_eq!(w.read_only().await.as_deref(), Some("on"), "moto holds the fence");
    w.completed(&started).await;
}

#[tokio::test]
async fn a_primary_that_throttles_past_the_budget_is_not_promoted_over_without_approval() {
    let w = world(true).await;
    w.proxy
        .set(&[Fault::throttle().service("rds").region("us-east-1")])
        .expect("faults");
    let err = w.run(&w.request).await.expect_err("split-brain risk");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(err.to_string().contains("split brain"), "{err}");
    assert!(err.to_string().contains("Throttling"), "{err}");
    let replica = w.instance("us-west-2", REPLICA).await;
    assert_eq!(replica.db_instance_status(), Some("available"), "nothing promoted");
    assert!(replica.read_replica_source_db_instance_identifier().is_some());
    assert_eq!(w.calls("PromoteReadReplica"), 0);
}

#[tokio::test]
async fn approved_past_a_writer_that_cannot_be_fenced_the_old_writer_is_stopped_once_promoted() {
    let w = world(false).await;
    let mut approved = w.request.clone();
    approved["context"]["approval"] = json!({"approved": true, "by": "j.doe"});
    let started = w.run(&approved).await.expect("approved start");
    assert_eq!(action(&started, "FenceOldWriter").status, ActionStatus::Failed);
    let world = &w;
    let done = wait::step_completed(&approved, "database", started, |status| async move {
        world.run(&status).await.expect("status")
    })
    .await;
    let stop = action(&done, "StopOldWriter");
    assert_eq!(stop.status, ActionStatus::Done, "{stop:?}");
    let old = w.instance("us-east-1", "orders-db").await;
    assert_eq!(
        old.db_instance_status(),
        Some("stopped"),
        "two writers no longer than the promotion"
    );
}
