//! An Aurora global database against moto's RDS (with the launcher's patch for
//! FailoverGlobalCluster and SwitchoverGlobalCluster): the old writer cluster fenced on the
//! network, the failover and the switchover carried through to a new writer, and what moto
//! holds afterwards.

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

async fn world() -> World {
    world_with(false).await
}

/// `own_group`: the clusters on their own DB cluster parameter group (else the default).
async fn world_with(own_group: bool) -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let east = aws_sdk_rds::Client::new(&moto.config("us-east-1"));
    // The secondary is 2 s behind: within the RPO target.
    let (writer_arn, target_arn) = rebound_tests::seed::aurora_global(
        &moto.config("us-east-1"),
        &moto.config("us-west-2"),
        "orders-global",
        APP_SG,
        Some(2000.0),
        own_group,
    )
    .await
    .expect("global database");
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
            .db_cluster_identifier("orders-global-east")
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
    assert!(fence.resource.contains("cluster:orders-global-east"), "{fence:?}");
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
    assert!(text.contains("orders-global-east") && text.contains("Aurora"), "{text}");
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

impl World {
    /// The global database's writer cluster, as moto holds it once no failover or switchover
    /// is under way (Aurora takes its time: the launcher's "AWS's time").
    async fn writer(&self) -> Option<String> {
        rebound_tests::wait::global_writer(&self.east, "orders-global").await
    }

    /// The old primary cluster, a secondary now, `ms` behind the writer.
    async fn primary_lag(&self, ms: f64) {
        rebound_tests::seed::metric(
            &self.moto.config("us-east-1"),
            "AWS/RDS",
            "AuroraGlobalDBReplicationLag",
            &[("DBClusterIdentifier", "orders-global-east")],
            ms,
        )
        .await
        .expect("lag");
    }

    /// Polls `status` after `started`, as the state machine's loop does, until completed.
    async fn completed(
        &self,
        request: &Value,
        started: &rebound_shared::context::StepResult,
    ) -> rebound_shared::context::StepResult {
        rebound_tests::wait::step_completed(request, "database", started.clone(), |status| async move {
            self.failover().handle(status, Utc::now()).await.expect("status")
        })
        .await
    }
}

#[tokio::test]
async fn a_failover_fences_the_old_writer_then_makes_the_recovery_cluster_the_writer() {
    let w = world().await;
    assert_eq!(w.writer().await, Some(w.writer_arn.clone()));
    let request = w.request(Some(ISOLATION));
    let started = w.failover().handle(request.clone(), Utc::now()).await.expect("start");
    assert_eq!(w.groups().await, [ISOLATION], "the old writer is fenced first");
    let failover = started
        .actions
        .iter()
        .find(|a| a.operation == "FailoverGlobalCluster")
        .expect("a failover");
    assert_eq!(failover.resource, "orders-global");
    assert_eq!(started.rpo_seconds, Some(2.0), "the lag is the loss");
    assert_eq!(w.writer().await, Some(w.target_arn.clone()), "moto's writer moved");

    w.completed(&request, &started).await;

    // A start again (a retry after a lost answer) finds the writer moved and changes nothing.
    let again = w.failover().handle(request, Utc::now()).await.expect("again");
    assert!(
        again.actions.iter().all(|a| a.operation != "FailoverGlobalCluster"),
        "{:?}",
        again.actions
    );
    let writer = again
        .actions
        .iter()
        .find(|a| a.operation == "SetGlobalClusterWriter")
        .expect("the writer, found set");
    assert!(writer.already_done, "{writer:?}");
    assert_eq!(w.writer().await, Some(w.target_arn.clone()));
}

#[tokio::test]
async fn a_switchover_moves_the_writer_and_fences_nothing() {
    let w = world().await;
    let mut request = w.request(Some(ISOLATION));
    request["context"]["mode"] = json!("switchover");
    let started = w.failover().handle(request.clone(), Utc::now()).await.expect("start");
    assert!(
        started.actions.iter().any(|a| a.operation == "SwitchoverGlobalCluster"),
        "{:?}",
        started.actions
    );
    assert_eq!(w.writer().await, Some(w.target_arn.clone()));
    assert_eq!(w.groups().await, [APP_SG], "Aurora demotes the old writer itself");
    w.completed(&request, &started).await;
}

#[tokio::test]
async fn a_global_failover_beyond_the_rpo_target_waits_for_approval() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    // The secondary is 21 minutes behind; the RPO target is 15.
    let (writer_arn, target_arn) = rebound_tests::seed::aurora_global(
        &moto.config("us-east-1"),
        &moto.config("us-west-2"),
        "orders-global",
        APP_SG,
        Some(1_260_000.0),
        false,
    )
    .await
    .expect("global database");
    let w = World {
        east: aws_sdk_rds::Client::new(&moto.config("us-east-1")),
        moto,
        writer_arn,
        target_arn,
    };
    let request = w.request(Some(ISOLATION));
    let err = w
        .failover()
        .handle(request.clone(), Utc::now())
        .await
        .expect_err("21 minutes behind");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert!(
        err.to_string()
            .contains("replica lag is 1260 s, beyond the RPO target of 900 s"),
        "{err}"
    );
    assert_eq!(w.writer().await, Some(w.writer_arn.clone()), "nothing failed over");
    assert_eq!(w.groups().await, [APP_SG], "nothing fenced");

    let mut approved = request;
    approved["context"]["approval"] = json!({"approved": true, "by": "jane"});
    let result = w.failover().handle(approved, Utc::now()).await.expect("approved");
    assert_eq!(result.rpo_seconds, Some(1260.0));
    assert_eq!(w.writer().await, Some(w.target_arn.clone()));
}

#[tokio::test]
async fn the_old_writer_cluster_is_isolated_before_the_global_failover() {
    use rebound_tests::faults::FaultProxy;
    let w = world().await;
    let proxy = FaultProxy::start(&w.moto).unwrap_or_else(|e| panic!("{e}"));
    let failover = DatabaseFailover::new(&proxy.regions());
    failover
        .handle(w.request(Some(ISOLATION)), Utc::now())
        .await
        .expect("failover");
    let order: Vec<String> = proxy
        .calls()
        .into_iter()
        .filter_map(|c| c.operation)
        .filter(|op| op == "ModifyDBCluster" || op == "FailoverGlobalCluster")
        .collect();
    assert_eq!(order, ["ModifyDBCluster", "FailoverGlobalCluster"]);
    assert_eq!(w.groups().await, [ISOLATION]);
    assert_eq!(w.writer().await, Some(w.target_arn.clone()));
}

#[tokio::test]
async fn an_old_writer_cluster_on_its_own_parameter_group_is_made_read_only_there() {
    let w = world_with(true).await;
    let request = w.request(None);
    let started = w.failover().handle(request, Utc::now()).await.expect("failover");
    let fence = started
        .actions
        .iter()
        .find(|a| a.operation == "FenceOldWriter")
        .expect("fence");
    assert_eq!(fence.status, ActionStatus::Done, "{fence:?}");
    assert!(
        fence
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with("ModifyDBClusterParameterGroup orders-global-params read_only=1")),
        "{fence:?}"
    );
    let set = w
        .east
        .describe_db_cluster_parameters()
        .db_cluster_parameter_group_name("orders-global-params")
        .send()
        .await
        .expect("DescribeDBClusterParameters");
    assert!(
        set.parameters()
            .iter()
            .any(|p| p.parameter_name() == Some("read_only") && p.parameter_value() == Some("1")),
        "moto holds the fence: {:?}",
        set.parameters()
    );
    assert_eq!(
        old_writer(&w.east, &w.writer_arn, None).await,
        OldWriter::ReadOnly {
            group: "orders-global-params".into(),
            parameter: "read_only".into()
        }
    );
    assert_eq!(w.groups().await, [APP_SG], "no network fence needed");
    assert_eq!(w.writer().await, Some(w.target_arn.clone()));
}

#[tokio::test]
async fn a_failback_waits_for_the_primary_to_catch_up_lifts_the_fence_and_switches_back() {
    let w = world_with(true).await;
    let mut request = w.request(None);
    request["context"]["plan"]["databases"][0]["failbackClusterArn"] = json!(w.writer_arn);
    w.failover()
        .handle(request.clone(), Utc::now())
        .await
        .expect("failover");
    assert_eq!(w.writer().await, Some(w.target_arn.clone()));
    let fenced = old_writer(&w.east, &w.writer_arn, None).await;
    assert!(matches!(fenced, OldWriter::ReadOnly { .. }), "{fenced:?}");

    // The old primary has rejoined as a secondary but reports no lag yet: not caught up.
    let mut back = request;
    back["context"]["mode"] = json!("failback");
    let err = w
        .failover()
        .handle(back.clone(), Utc::now())
        .await
        .expect_err("not caught up");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert!(err.to_string().contains("not caught up to fail back"), "{err}");
    assert_eq!(w.writer().await, Some(w.target_arn.clone()), "nothing switched");
    assert_eq!(old_writer(&w.east, &w.writer_arn, None).await, fenced, "still fenced");

    // Half a second behind: caught up. The fence is lifted, then the writer switched back.
    w.primary_lag(500.0).await;
    let result = w.failover().handle(back, Utc::now()).await.expect("failback");
    let operations: Vec<&str> = result.actions.iter().map(|a| a.operation.as_str()).collect();
    assert_eq!(
        operations,
        ["LiftFence", "SwitchoverGlobalCluster"],
        "{:?}",
        result.actions
    );
    assert_eq!(result.actions[0].status, ActionStatus::Done);
    assert_eq!(w.writer().await, Some(w.writer_arn.clone()), "moto's writer is back");
    assert!(
        old_writer(&w.east, &w.writer_arn, None).await.accepts_writes(),
        "the writer takes writes again"
    );
}

#[tokio::test]
async fn a_failback_to_a_cluster_isolated_on_the_network_is_refused_naming_it() {
    let w = world().await;
    let mut request = w.request(Some(ISOLATION));
    request["context"]["plan"]["databases"][0]["failbackClusterArn"] = json!(w.writer_arn);
    w.failover()
        .handle(request.clone(), Utc::now())
        .await
        .expect("failover");
    assert_eq!(w.groups().await, [ISOLATION]);
    assert_eq!(w.writer().await, Some(w.target_arn.clone()), "failed over");
    w.primary_lag(500.0).await;
    let mut back = request;
    back["context"]["mode"] = json!("failback");
    let err = w.failover().handle(back, Utc::now()).await.expect_err("isolated");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert!(err.to_string().contains("isolated on sg-0bbbbbbbbbbbbbbbb"), "{err}");
    assert_eq!(w.writer().await, Some(w.target_arn.clone()), "nothing switched");
}

#[tokio::test]
async fn a_switchover_points_the_application_at_the_recovery_clusters_writer_endpoint() {
    let w = world().await;
    let west = w.moto.config("us-west-2");
    let endpoint = |cluster: &'static str, config: aws_config::SdkConfig| async move {
        aws_sdk_rds::Client::new(&config)
            .describe_db_clusters()
            .db_cluster_identifier(cluster)
            .send()
            .await
            .expect("DescribeDBClusters")
            .db_clusters()[0]
            .endpoint()
            .expect("endpoint")
            .to_string()
    };
    let old = endpoint("orders-global-east", w.moto.config("us-east-1")).await;
    let new = endpoint("orders-global-west", west.clone()).await;
    rebound_tests::seed::writer_endpoints(&west, "/orders/db/host", "orders/db", None, &old)
        .await
        .expect("endpoints");
    let mut request = w.request(Some(ISOLATION));
    request["context"]["mode"] = json!("switchover");
    request["context"]["plan"]["writerEndpoints"] = json!([
        {"kind": "ssmParameter", "database": "orders-global", "name": "/orders/db/host"}
    ]);
    let started = w.failover().handle(request.clone(), Utc::now()).await.expect("start");
    w.completed(&request, &started).await;
    let parameter = aws_sdk_ssm::Client::new(&west)
        .get_parameter()
        .name("/orders/db/host")
        .send()
        .await
        .expect("parameter");
    assert_eq!(parameter.parameter().and_then(|p| p.value()), Some(new.as_str()));
    assert_ne!(old, new);
}
