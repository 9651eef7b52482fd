//! MemoryDB multi-Region clusters against moto (the launcher serves them) through the fault
//! proxy, the primary region cut: the recovery region's regional cluster is used as it is (it
//! takes writes already: nothing is asked, nothing changes), its replication lag is the RPO,
//! and a lag beyond the RPO target, a cluster that is not there or not a member, is refused.

use chrono::Utc;
use database_failover::{DatabaseError, DatabaseFailover};
use rebound_shared::context::{ActionStatus, StepResult};
use rebound_shared::ErrorKind;
use rebound_tests::faults::{Fault, FaultProxy};
use rebound_tests::{action, event, held, seed, MotoServer};
use serde_json::{json, Value};

const USE_REGIONAL: &str = "UseRegionalCluster";
const LAG: &str = "MultiRegionClusterReplicationLag";

struct World {
    moto: MotoServer,
    proxy: FaultProxy,
    request: Value,
    name: String,
}

/// A multi-Region cluster with regional clusters in us-east-1 and us-west-2, the one in
/// us-west-2 `lag_ms` behind on its slowest shard (None: no series at all); the plan names only
/// it.
async fn world(lag_ms: Option<f64>) -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let name = seed::memorydb_multi_region_cluster(&east, &west, "orders", ("orders-use1", "orders-usw2"))
        .await
        .expect("multi-Region cluster");
    // One series per source region and shard; another cluster's, far behind, is not ours.
    let series = lag_ms.map(|ms| {
        [
            ("orders-usw2", "0001", ms / 4.0),
            ("orders-usw2", "0002", ms),
            ("billing-usw2", "0001", 600_000.0),
        ]
    });
    for (cluster, shard, ms) in series.into_iter().flatten() {
        let dimensions = [
            ("ClusterName", cluster),
            ("ShardId", shard),
            ("SourceRegion", "us-east-1"),
        ];
        seed::metric(&west, "AWS/MemoryDB", LAG, &dimensions, ms)
            .await
            .expect("lag");
    }
    let mut request = event("database-failover.json");
    request["context"]["plan"]["databases"] = json!([]);
    request["context"]["plan"]["multiRegionClusters"] = json!([{
        "multiRegionClusterName": name,
        "primaryClusterName": "orders-use1",
        "recoveryClusterName": "orders-usw2",
    }]);
    let proxy = FaultProxy::start(&moto).unwrap_or_else(|e| panic!("{e}"));
    World {
        moto,
        proxy,
        request,
        name,
    }
}

impl World {
    async fn run(&self, request: &Value) -> Result<StepResult, DatabaseError> {
        Box::pin(DatabaseFailover::new(&self.proxy.regions()).handle(request.clone(), Utc::now())).await
    }

    /// Every regional cluster's `(name, region, status)` as MemoryDB holds it now.
    async fn held(&self) -> Vec<(String, String, String)> {
        let (status, clusters) = held::multi_region_cluster(&self.moto.config("us-west-2"), &self.name)
            .await
            .expect("multi-Region cluster");
        assert_eq!(status, "available");
        clusters
    }

    fn memorydb_calls(&self) -> Vec<(String, String)> {
        self.proxy
            .calls()
            .into_iter()
            .filter(|c| c.service.as_deref() == Some("memorydb"))
            .map(|c| (c.region.unwrap_or_default(), c.operation.unwrap_or_default()))
            .collect()
    }
}

fn both_available() -> Vec<(String, String, String)> {
    vec![
        ("orders-use1".into(), "us-east-1".into(), "available".into()),
        ("orders-usw2".into(), "us-west-2".into(), "available".into()),
    ]
}

#[tokio::test]
async fn the_recovery_regions_cluster_is_used_as_it_is_and_its_lag_is_the_rpo() {
    let w = world(Some(800.0)).await;
    // The primary region is gone: nothing there is needed.
    w.proxy
        .set(&[Fault::reset().region("us-east-1")])
        .expect("cut us-east-1");
    let started = w.run(&w.request).await.expect("start");
    let used = action(&started, USE_REGIONAL);
    assert_eq!(used.resource, format!("memorydb:{}", w.name));
    assert_eq!(used.status, ActionStatus::Done);
    assert!(used.already_done, "{used:?}");
    assert_eq!(
        used.after,
        json!({"region": "us-west-2", "cluster": "orders-usw2", "status": "available"})
    );
    assert_eq!(started.rpo_seconds, Some(0.8), "the slowest shard, in seconds");
    // Read in the recovery region only, and nothing changed.
    assert_eq!(
        w.memorydb_calls(),
        vec![("us-west-2".to_string(), "DescribeMultiRegionClusters".to_string())]
    );
    assert_eq!(w.held().await, both_available());

    // The failback writes to the primary region's cluster again, its own lag the RPO.
    w.proxy.set(&[]).expect("region back");
    seed::metric(
        &w.moto.config("us-east-1"),
        "AWS/MemoryDB",
        LAG,
        &[
            ("ClusterName", "orders-use1"),
            ("ShardId", "0001"),
            ("SourceRegion", "us-west-2"),
        ],
        200.0,
    )
    .await
    .expect("lag");
    let mut back = w.request.clone();
    back["context"]["mode"] = json!("failback");
    let back = w.run(&back).await.expect("failback");
    assert_eq!(
        action(&back, USE_REGIONAL).after,
        json!({"region": "us-east-1", "cluster": "orders-use1", "status": "available"})
    );
    assert_eq!(back.rpo_seconds, Some(0.2));
}

#[tokio::test]
async fn a_lag_beyond_the_rpo_a_missing_cluster_or_one_not_a_member_is_refused() {
    // The event's RPO target is 900 s.
    let w = world(Some(1_200_000.0)).await;
    let err = w.run(&w.request).await.expect_err("too far behind");
    assert!(matches!(err, DatabaseError::DataLoss { .. }), "{err}");
    assert!(err.to_string().contains("(MemoryDB multi-Region cluster)"), "{err}");
    assert!(err.to_string().contains("1200 s"), "{err}");

    let mut missing = w.request.clone();
    missing["context"]["plan"]["multiRegionClusters"][0]["multiRegionClusterName"] = json!("ldgnf-nothing");
    let err = w.run(&missing).await.expect_err("missing");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert_eq!(err.to_string(), "memorydb:ldgnf-nothing: not found");

    let mut stranger = w.request.clone();
    stranger["context"]["plan"]["multiRegionClusters"][0]["recoveryClusterName"] = json!("orders-usw2-b");
    let err = w.run(&stranger).await.expect_err("not a member");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert!(
        err.to_string()
            .contains("has no regional cluster orders-usw2-b in us-west-2 (regional clusters: orders-use1 in us-east-1, orders-usw2 in us-west-2)"),
        "{err}"
    );
    assert_eq!(w.held().await, both_available());
}

#[tokio::test]
async fn an_unknown_lag_is_put_to_an_approver_when_the_plan_allows_it() {
    let w = world(None).await;
    let mut request = w.request.clone();
    request["context"]["plan"]["multiRegionClusters"][0]["allowDataLoss"] = json!(true);
    // No series at all: the loss cannot be bounded.
    let err = w.run(&request).await.expect_err("unknown");
    assert!(
        matches!(
            err,
            DatabaseError::DataLoss {
                lag_seconds: None,
                allowed: true,
                ..
            }
        ),
        "{err}"
    );
    request["context"]["approval"] = json!("ops");
    let approved = w.run(&request).await.expect("approved");
    let used = action(&approved, USE_REGIONAL);
    assert!(
        used.detail
            .as_deref()
            .is_some_and(|d| d.contains("UNKNOWN how far behind")),
        "{used:?}"
    );
    assert_eq!(approved.rpo_seconds, None);
}
