//! Each database change applied by AWS (moto, on the launcher's time) with its answer lost on the
//! way back (the fault proxy), while the change is still in progress: the SDK retries, the step
//! recognises its own change, the recovery completes, each change is made once, and moto holds
//! the result.

use chrono::Utc;
use database_failover::DatabaseFailover;
use rebound_shared::context::{ActionStatus, StepResult};
use rebound_tests::faults::{Fault, FaultProxy};
use rebound_tests::{action, event, seed, wait, MotoServer};
use serde_json::{json, Value};

const APP_SG: &str = "sg-0aaaaaaaaaaaaaaaa";
const ISOLATION: &str = "sg-0bbbbbbbbbbbbbbbb";

struct World {
    moto: MotoServer,
    proxy: FaultProxy,
    request: Value,
    target_arn: String,
}

/// An Aurora global database (on its own cluster parameter groups with `own_group`), reached
/// through the fault proxy; the request's mode and isolation group as given.
async fn aurora(own_group: bool, mode: &str, isolation: Option<&str>) -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (_, target_arn) = seed::aurora_global(
        &moto.config("us-east-1"),
        &moto.config("us-west-2"),
        "orders-global",
        APP_SG,
        Some(2000.0),
        own_group,
    )
    .await
    .expect("global database");
    let mut request = event("database-failover.json");
    let mut db = json!({"kind": "auroraGlobal", "identifier": "orders-global", "targetClusterArn": target_arn,
                        "allowDataLoss": true});
    if let Some(sg) = isolation {
        db["isolationSecurityGroupId"] = json!(sg);
    }
    request["context"]["plan"]["databases"] = json!([db]);
    request["context"]["mode"] = json!(mode);
    let proxy = FaultProxy::start(&moto).unwrap_or_else(|e| panic!("{e}"));
    World {
        moto,
        proxy,
        request,
        target_arn,
    }
}

impl World {
    async fn run(&self, request: &Value) -> StepResult {
        DatabaseFailover::new(&self.proxy.regions())
            .handle(request.clone(), Utc::now())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Starts with one lost answer for `operation`, and polls to the end.
    async fn recover_losing(&self, operation: &str) -> (StepResult, StepResult) {
        self.proxy
            .set(&[Fault::drop_answer("rds", operation).times(1)])
            .expect("fault");
        let started = self.run(&self.request).await;
        let w = &self;
        let done = wait::step_completed(&self.request, "database", started.clone(), |status| async move {
            w.run(&status).await
        })
        .await;
        let lost = self
            .proxy
            .calls()
            .iter()
            .filter(|c| c.operation.as_deref() == Some(operation) && c.fault.is_some())
            .count();
        assert_eq!(lost, 1, "{operation}'s answer was lost once");
        (started, done)
    }

    /// Calls of `operation` that reached moto.
    fn calls(&self, operation: &str) -> usize {
        self.proxy.count(operation)
    }

    async fn global_writer(&self) -> Option<String> {
        wait::global_writer(
            &aws_sdk_rds::Client::new(&self.moto.config("us-east-1")),
            "orders-global",
        )
        .await
    }
}

#[tokio::test]
async fn a_lost_global_failover_answer_is_found_failing_over_and_waited_for() {
    let w = aurora(false, "failover", Some(ISOLATION)).await;
    let (started, _) = w.recover_losing("FailoverGlobalCluster").await;
    let failover = action(&started, "FailoverGlobalCluster");
    assert_ne!(failover.status, ActionStatus::Failed, "{failover:?}");
    assert_eq!(w.global_writer().await, Some(w.target_arn.clone()));
    // The SDK's retry met the failover under way; nothing else asked for it.
    assert_eq!(w.calls("FailoverGlobalCluster"), 2);
}

#[tokio::test]
async fn a_lost_switchover_answer_is_found_switching_over_and_waited_for() {
    let w = aurora(false, "switchover", None).await;
    let (started, _) = w.recover_losing("SwitchoverGlobalCluster").await;
    let switchover = action(&started, "SwitchoverGlobalCluster");
    assert_ne!(switchover.status, ActionStatus::Failed, "{switchover:?}");
    assert_eq!(w.global_writer().await, Some(w.target_arn.clone()));
    assert_eq!(w.calls("SwitchoverGlobalCluster"), 2);
}

#[tokio::test]
async fn a_lost_network_fence_answer_is_harmless() {
    let w = aurora(false, "failover", Some(ISOLATION)).await;
    let (started, _) = w.recover_losing("ModifyDBCluster").await;
    assert_eq!(action(&started, "FenceOldWriter").status, ActionStatus::Done);
    let east = aws_sdk_rds::Client::new(&w.moto.config("us-east-1"));
    let cluster = east
        .describe_db_clusters()
        .db_cluster_identifier("orders-global-east")
        .send()
        .await
        .expect("DescribeDBClusters");
    let groups: Vec<&str> = cluster.db_clusters()[0]
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .collect();
    assert_eq!(groups, [ISOLATION]);
    assert_eq!(w.global_writer().await, Some(w.target_arn.clone()));
}

#[tokio::test]
async fn a_lost_read_only_fence_answer_is_harmless() {
    let w = aurora(true, "failover", None).await;
    let (started, _) = w.recover_losing("ModifyDBClusterParameterGroup").await;
    assert_eq!(action(&started, "FenceOldWriter").status, ActionStatus::Done);
    let east = aws_sdk_rds::Client::new(&w.moto.config("us-east-1"));
    let set = east
        .describe_db_cluster_parameters()
        .db_cluster_parameter_group_name("orders-global-params")
        .send()
        .await
        .expect("DescribeDBClusterParameters");
    assert!(set
        .parameters()
        .iter()
        .any(|p| p.parameter_name() == Some("read_only") && p.parameter_value() == Some("1")));
    assert_eq!(w.global_writer().await, Some(w.target_arn.clone()));
}

/// A PostgreSQL writer on a default parameter group (no read-only fence possible) with its
/// replica in us-west-2, reached through the fault proxy.
async fn instance_on_default_group() -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let arn = seed::database_on_default_group_with_replica(&east, &west, "postgres")
        .await
        .expect("seeded");
    seed::replica_lag(&west, seed::REPLICA_DB, 4.0).await.expect("lag");
    let mut request = event("database-failover.json");
    request["context"]["plan"]["databases"][0]["sourceIdentifier"] = json!(arn);
    World {
        proxy: FaultProxy::start(&moto).unwrap_or_else(|e| panic!("{e}")),
        moto,
        request,
        target_arn: String::new(),
    }
}

impl World {
    async fn old_writer(&self) -> aws_sdk_rds::types::DbInstance {
        let out = aws_sdk_rds::Client::new(&self.moto.config("us-east-1"))
            .describe_db_instances()
            .db_instance_identifier(seed::PRIMARY_DB)
            .send()
            .await
            .expect("describe");
        out.db_instances()[0].clone()
    }
}

/// Isolated on the network before the promotion: the lost answer to the isolation is retried
/// harmlessly, and the old writer ends isolated and stopped.
#[tokio::test]
async fn a_lost_instance_isolation_answer_is_harmless() {
    const SG: &str = "sg-0a1b2c3d4e5f60718";
    let mut w = instance_on_default_group().await;
    w.request["context"]["plan"]["databases"][0]["isolationSecurityGroupId"] = json!(SG);
    let (started, done) = w.recover_losing("ModifyDBInstance").await;
    assert_eq!(action(&started, "FenceOldWriter").status, ActionStatus::Done);
    assert_eq!(action(&done, "StopOldWriter").status, ActionStatus::Done);
    let old = w.old_writer().await;
    let groups: Vec<&str> = old
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .collect();
    assert_eq!(groups, [SG]);
    assert_eq!(w.calls("ModifyDBInstance"), 2, "isolated once, its answer retried once");
}

/// A snapshot restore whose answer is lost while the instance is `creating`: the retry meets
/// the instance this recovery created, and the step waits for it.
#[tokio::test]
async fn a_lost_snapshot_restore_answer_is_recognised_and_waited_for() {
    let mut w = instance_on_default_group().await;
    aws_sdk_rds::Client::new(&w.moto.config("us-west-2"))
        .create_db_snapshot()
        .db_instance_identifier(seed::REPLICA_DB)
        .db_snapshot_identifier("orders-db-usw2-nightly")
        .send()
        .await
        .expect("CreateDBSnapshot");
    w.request["context"]["plan"]["databases"] = json!([{
        "kind": "snapshotRestore", "identifier": "orders-db-from-snapshot", "snapshotIdentifier": "orders-db-usw2-nightly"
    }]);
    let (started, _) = w.recover_losing("RestoreDBInstanceFromDBSnapshot").await;
    assert_ne!(
        action(&started, "RestoreDBInstanceFromDBSnapshot").status,
        ActionStatus::Failed
    );
    let restored = aws_sdk_rds::Client::new(&w.moto.config("us-west-2"))
        .describe_db_instances()
        .db_instance_identifier("orders-db-from-snapshot")
        .send()
        .await
        .expect("restored");
    assert_eq!(restored.db_instances()[0].db_instance_status(), Some("available"));
    assert_eq!(w.calls("RestoreDBInstanceFromDBSnapshot"), 2);
}

/// Approved over a writer on a default parameter group (no fence possible): the old writer is
/// stopped once the replica is promoted, and a lost answer to the stop is found stopped.
#[tokio::test]
async fn a_lost_stop_answer_is_found_stopped() {
    let mut w = instance_on_default_group().await;
    w.request["context"]["approval"] = json!({"approved": true, "by": "j.doe"});
    let (_, done) = w.recover_losing("StopDBInstance").await;
    let stop = action(&done, "StopOldWriter");
    assert_eq!(stop.status, ActionStatus::Done, "{stop:?}");
    assert!(
        stop.detail.as_deref().is_some_and(|d| d.contains("on retry")),
        "{stop:?}"
    );
    assert_eq!(w.calls("StopDBInstance"), 2, "stopped once, its answer retried once");
    assert_eq!(w.old_writer().await.db_instance_status(), Some("stopped"));
}
