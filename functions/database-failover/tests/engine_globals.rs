//! Amazon DocumentDB and Neptune global databases against moto's RDS backend, which serves their
//! API (the launcher admits DocumentDB's engine and models the failover's time): each failed
//! over, switched over and switched back through its engine's own SDK client, with
//! DocumentDB's and Neptune's lag metrics, and what moto holds afterwards.

use chrono::Utc;
use database_failover::DatabaseFailover;
use rebound_shared::context::{ActionStatus, StepResult};
use rebound_shared::ErrorKind;
use rebound_tests::faults::{Fault, FaultProxy};
use rebound_tests::{event, seed, wait, MotoServer};
use serde_json::{json, Value};

const APP_SG: &str = "sg-0aaaaaaaaaaaaaaaa";
const ISOLATION: &str = "sg-0bbbbbbbbbbbbbbbb";

struct World {
    moto: MotoServer,
    writer_arn: String,
    target_arn: String,
    request: Value,
}

/// `engine`'s global database `graph-global`, its secondary `lag_ms` behind where given.
async fn world(engine: &str, lag_ms: Option<f64>, mode: &str) -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (writer_arn, target_arn) = seed::engine_global(
        (&moto.config("us-east-1"), &moto.config("us-west-2")),
        engine,
        "graph-global",
        APP_SG,
        lag_ms,
    )
    .await
    .expect("global database");
    let mut request = event("database-failover.json");
    request["context"]["plan"]["databases"] = json!([{"kind": "auroraGlobal", "engine": engine,
        "identifier": "graph-global", "targetClusterArn": target_arn, "allowDataLoss": true,
        "isolationSecurityGroupId": ISOLATION, "failbackClusterArn": writer_arn}]);
    request["context"]["mode"] = json!(mode);
    World {
        moto,
        writer_arn,
        target_arn,
        request,
    }
}

impl World {
    fn failover(&self) -> DatabaseFailover {
        DatabaseFailover::new(&self.moto.regions())
    }

    async fn run(&self, request: &Value) -> StepResult {
        self.failover()
            .handle(request.clone(), Utc::now())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    async fn completed(&self, request: &Value, started: &StepResult) -> StepResult {
        wait::step_completed(request, "database", started.clone(), |status| async move {
            self.run(&status).await
        })
        .await
    }

    /// The writer once no change is under way, as moto holds it (one backend serves the three
    /// engines' APIs).
    async fn writer(&self) -> Option<String> {
        wait::global_writer(
            &aws_sdk_rds::Client::new(&self.moto.config("us-east-1")),
            "graph-global",
        )
        .await
    }

    /// The old writer cluster's security groups, read through DocumentDB's own client.
    async fn groups(&self) -> Vec<String> {
        let out = aws_sdk_docdb::Client::new(&self.moto.config("us-east-1"))
            .describe_db_clusters()
            .db_cluster_identifier("graph-global-east")
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
async fn a_documentdb_global_database_fails_over_after_its_old_writer_is_isolated() {
    let w = world("docdb", Some(800.0), "failover").await;
    // The readiness check plans the fence (DocumentDB has no read-only parameter: the
    // isolation group is its fence) and changes nothing.
    let mut readiness = w.request.clone();
    readiness["action"] = json!("readiness");
    let planned = w.run(&readiness).await;
    let fence = planned
        .actions
        .iter()
        .find(|a| a.operation == "FenceOldWriter")
        .expect("a fence");
    assert_eq!(fence.status, ActionStatus::Planned, "{fence:?}");
    assert_eq!(w.groups().await, [APP_SG], "nothing changed");

    let started = w.run(&w.request).await;
    assert_eq!(w.groups().await, [ISOLATION], "the old writer is isolated first");
    let failover = started
        .actions
        .iter()
        .find(|a| a.operation == "FailoverGlobalCluster")
        .expect("a failover");
    assert_eq!(failover.status, ActionStatus::Pending, "{failover:?}");
    // GlobalClusterReplicationLag, found by its listed series (DBClusterIdentifier, SourceRegion).
    assert_eq!(started.rpo_seconds, Some(0.8));
    let done = w.completed(&w.request, &started).await;
    assert!(
        done.actions
            .iter()
            .any(|a| a.operation == "FailoverGlobalCluster" && a.status == ActionStatus::Done),
        "{:?}",
        done.actions
    );
    assert_eq!(w.writer().await, Some(w.target_arn.clone()), "moto's writer moved");

    // A start again finds the writer moved and asks nothing.
    let again = w.run(&w.request).await;
    let writer = again
        .actions
        .iter()
        .find(|a| a.operation == "SetGlobalClusterWriter")
        .expect("the writer, found set");
    assert!(writer.already_done, "{writer:?}");
}

#[tokio::test]
async fn a_documentdb_failover_without_a_lag_datapoint_waits_for_approval() {
    let w = world("docdb", None, "failover").await;
    let err = w
        .failover()
        .handle(w.request.clone(), Utc::now())
        .await
        .expect_err("the loss cannot be bounded");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(err.to_string().contains("cannot be bounded"), "{err}");
    assert_eq!(w.writer().await, Some(w.writer_arn.clone()), "nothing failed over");
    assert_eq!(w.groups().await, [APP_SG], "nothing fenced");
}

#[tokio::test]
async fn a_neptune_global_database_switches_over_then_back_once_the_primary_caught_up() {
    let w = world("neptune", Some(300.0), "switchover").await;
    let started = w.run(&w.request).await;
    assert!(
        started.actions.iter().any(|a| a.operation == "SwitchoverGlobalCluster"),
        "{:?}",
        started.actions
    );
    assert!(
        started.actions.iter().all(|a| a.operation != "FenceOldWriter"),
        "Neptune demotes the old writer itself: {:?}",
        started.actions
    );
    w.completed(&w.request, &started).await;
    assert_eq!(w.writer().await, Some(w.target_arn.clone()));

    // The failback: refused until the old primary, a secondary now, reports its lag.
    let mut back = w.request.clone();
    back["context"]["mode"] = json!("failback");
    let err = w
        .failover()
        .handle(back.clone(), Utc::now())
        .await
        .expect_err("not caught up");
    assert!(
        err.to_string().contains("no replication lag (GlobalDbProgressLag)"),
        "{err}"
    );
    seed::metric(
        &w.moto.config("us-east-1"),
        "AWS/Neptune",
        "GlobalDbProgressLag",
        &[
            ("DBClusterIdentifier", "graph-global-east"),
            ("SourceRegion", "us-west-2"),
        ],
        200.0,
    )
    .await
    .expect("lag");
    let switched = w.run(&back).await;
    assert!(
        switched
            .actions
            .iter()
            .any(|a| a.operation == "SwitchoverGlobalCluster"),
        "{:?}",
        switched.actions
    );
    w.completed(&back, &switched).await;
    assert_eq!(w.writer().await, Some(w.writer_arn.clone()), "moto's writer is back");
}

#[tokio::test]
async fn a_lost_neptune_failover_answer_is_found_under_way_and_made_once() {
    let w = world("neptune", Some(300.0), "failover").await;
    let proxy = FaultProxy::start(&w.moto).unwrap_or_else(|e| panic!("{e}"));
    // The same wire request whatever the client: the proxy names it by its action.
    proxy
        .set(&[Fault::drop_answer("rds", "FailoverGlobalCluster").times(1)])
        .expect("fault");
    let failover = DatabaseFailover::new(&proxy.regions());
    let started = failover.handle(w.request.clone(), Utc::now()).await.expect("start");
    let action = started
        .actions
        .iter()
        .find(|a| a.operation == "FailoverGlobalCluster")
        .expect("a failover");
    assert!(
        action
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("found under way on retry")),
        "{action:?}"
    );
    assert_eq!(
        proxy.count("FailoverGlobalCluster"),
        2,
        "asked, and asked again by the SDK"
    );
    w.completed(&w.request, &started).await;
    assert_eq!(w.writer().await, Some(w.target_arn.clone()));
}

#[tokio::test]
async fn a_plan_naming_the_wrong_engine_changes_nothing() {
    let w = world("neptune", Some(300.0), "failover").await;
    let mut request = w.request.clone();
    request["context"]["plan"]["databases"][0]["engine"] = json!("docdb");
    let err = w
        .failover()
        .handle(request, Utc::now())
        .await
        .expect_err("wrong engine");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(
        err.to_string()
            .contains("the global cluster's engine is neptune, the plan's engine is docdb"),
        "{err}"
    );
    assert_eq!(w.writer().await, Some(w.writer_arn.clone()));
    assert_eq!(w.groups().await, [APP_SG]);
}

#[tokio::test]
async fn a_reprotect_of_a_documentdb_global_database_is_refused_before_any_change() {
    let w = world("docdb", Some(300.0), "failover").await;
    let started = w.run(&w.request).await;
    w.completed(&w.request, &started).await;
    let mut reprotect = w.request.clone();
    reprotect["context"]["path"] = json!("reprotect");
    let err = w
        .failover()
        .handle(reprotect, Utc::now())
        .await
        .expect_err("Aurora's only");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(
        err.to_string().contains(
            "rebound reprotect rebuilds Aurora secondary clusters only; add the primary region's docdb cluster"
        ),
        "{err}"
    );
    assert_eq!(w.writer().await, Some(w.target_arn.clone()), "nothing moved");
}
