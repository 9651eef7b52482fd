//! An Aurora global database's old writer cluster, fenced against moto's RDS: the cluster's
//! security groups moto holds afterwards. moto answers FailoverGlobalCluster with a 500 (it
//! does not implement it), so the promotion itself is scripted in `scripted.rs`; here the
//! dry run, the gate and the fence run against moto's clusters.

use chrono::Utc;
use database_failover::fence;
use database_failover::DatabaseFailover;
use rebound_shared::context::ActionStatus;
use rebound_shared::rds::writers::old_writer;
use rebound_shared::rds::OldWriter;
use rebound_shared::ErrorKind;
use rebound_tests::{event, MotoServer};
use serde_json::{json, Value};

const APP_SG: &str = "sg-0aaaaaaaaaaaaaaaa";
const ISOLATION: &str = "sg-0bbbbbbbbbbbbbbbb";

struct World {
    moto: MotoServer,
    east: aws_sdk_rds::Client,
    writer_arn: String,
    target_arn: String,
}

async fn cluster(rds: &aws_sdk_rds::Client, id: &str) -> String {
    let out = rds
        .create_db_cluster()
        .db_cluster_identifier(id)
        .engine("aurora-mysql")
        .engine_version("8.0.mysql_aurora.3.05.2")
        .global_cluster_identifier("orders-global")
        .master_username("admin")
        .master_user_password("not-a-real-password")
        .vpc_security_group_ids(APP_SG)
        .send()
        .await
        .expect("CreateDBCluster");
    out.db_cluster()
        .and_then(|c| c.db_cluster_arn())
        .expect("arn")
        .to_string()
}

async fn world() -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let east = aws_sdk_rds::Client::new(&moto.config("us-east-1"));
    let west = aws_sdk_rds::Client::new(&moto.config("us-west-2"));
    east.create_global_cluster()
        .global_cluster_identifier("orders-global")
        .engine("aurora-mysql")
        .engine_version("8.0.mysql_aurora.3.05.2")
        .send()
        .await
        .expect("CreateGlobalCluster");
    let writer_arn = cluster(&east, "orders-east").await;
    let target_arn = cluster(&west, "orders-west").await;
    // The secondary is 2 s behind: within the RPO target.
    rebound_tests::seed::metric(
        &moto.config("us-west-2"),
        "AWS/RDS",
        "AuroraGlobalDBReplicationLag",
        &[("DBClusterIdentifier", "orders-west")],
        2000.0,
    )
    .await
    .expect("lag");
    World {
        moto,
        east,
        writer_arn,
        target_arn,
    }
}

impl World {
    fn failover(&self) -> DatabaseFailover {
        DatabaseFailover::new(&self.moto.regions())
    }

    fn request(&self, isolation: Option<&str>) -> Value {
        let mut request = event("database-failover.json");
        let mut db = json!({"kind": "auroraGlobal", "identifier": "orders-global", "targetClusterArn": self.target_arn,
                            "allowDataLoss": true});
        if let Some(sg) = isolation {
            db["isolationSecurityGroupId"] = json!(sg);
        }
        request["context"]["plan"]["databases"] = json!([db]);
        request
    }

    /// The old writer cluster's security groups, as moto holds them.
    async fn groups(&self) -> Vec<String> {
        let out = self
            .east
            .describe_db_clusters()
            .db_cluster_identifier("orders-east")
            .send()
            .await
            .expect("DescribeDBClusters");
        out.db_clusters()[0]
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
            .collect()
    }
}

#[tokio::test]
async fn the_old_writer_cluster_is_isolated_on_the_network() {
    let w = world().await;
    let state = old_writer(&w.east, &w.writer_arn, Some(ISOLATION)).await;
    assert!(state.accepts_writes(), "{state:?}");
    let action = fence::set_fence(&w.east, "orders-global", &w.writer_arn, Some(ISOLATION), state, false).await;
    assert_eq!(action.status, ActionStatus::Done, "{action:?}");
    assert!(
        action
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with("ModifyDBCluster")),
        "{action:?}"
    );
    assert_eq!(w.groups().await, [ISOLATION]);
    assert_eq!(
        old_writer(&w.east, &w.writer_arn, Some(ISOLATION)).await,
        OldWriter::Isolated {
            security_group: ISOLATION.into()
        }
    );
}

#[tokio::test]
async fn readiness_plans_the_fence_and_changes_nothing() {
    let w = world().await;
    let mut request = w.request(Some(ISOLATION));
    request["action"] = json!("readiness");
    let result = w.failover().handle(request, Utc::now()).await.expect("readiness");
    let fence = result
        .actions
        .iter()
        .find(|a| a.operation == "FenceOldWriter")
        .expect("a fence for the old writer cluster");
    assert_eq!(fence.status, ActionStatus::Planned, "{fence:?}");
    assert!(fence.resource.contains("cluster:orders-east"), "{fence:?}");
    assert_eq!(w.groups().await, [APP_SG], "nothing changed");
}

#[tokio::test]
async fn a_writer_cluster_that_answers_and_cannot_be_fenced_is_not_failed_over_without_approval() {
    let w = world().await;
    let err = w
        .failover()
        .handle(w.request(None), Utc::now())
        .await
        .expect_err("split-brain risk");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    let text = err.to_string();
    assert!(text.contains("orders-east") && text.contains("Aurora"), "{text}");
    assert_eq!(w.groups().await, [APP_SG]);
    // The readiness check says so, as a split-brain risk for the approver.
    let mut readiness = w.request(None);
    readiness["action"] = json!("readiness");
    let result = w.failover().handle(readiness, Utc::now()).await.expect("readiness");
    let fence = result
        .actions
        .iter()
        .find(|a| a.operation == "FenceOldWriter")
        .expect("fence");
    assert!(fence.leaves_a_writer(), "{fence:?}");
}

#[tokio::test]
async fn a_switchover_leaves_the_old_writer_to_aurora() {
    let w = world().await;
    let mut request = w.request(Some(ISOLATION));
    request["action"] = json!("readiness");
    request["context"]["mode"] = json!("switchover");
    let result = w.failover().handle(request, Utc::now()).await.expect("readiness");
    assert!(
        result.actions.iter().all(|a| a.operation != "FenceOldWriter"),
        "{:?}",
        result.actions
    );
}
