//! ElastiCache global datastores against moto (the launcher serves them, on AWS's time) through
//! the fault proxy: a dry run changes nothing, a failover goes once and is polled until the
//! recovery member is the primary, a retried start or a lost answer never asks twice, and a lag
//! beyond the RPO target or a datastore that is not there is refused before any change.

use chrono::Utc;
use database_failover::{DatabaseError, DatabaseFailover};
use rebound_shared::context::{ActionStatus, StepResult};
use rebound_shared::ErrorKind;
use rebound_tests::faults::{Fault, FaultProxy};
use rebound_tests::{action, event, held, seed, wait, MotoServer};
use serde_json::{json, Value};

const FAIL_OVER: &str = "FailoverGlobalReplicationGroup";

struct World {
    moto: MotoServer,
    proxy: FaultProxy,
    request: Value,
    id: String,
}

/// A global datastore, primary in us-east-1, its secondary's nodes `lag` seconds behind; the
/// plan fails over only it.
async fn world(lag: f64) -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    moto.set_durations(&json!({"FailoverGlobalReplicationGroup": 1.0}))
        .expect("durations");
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let id = seed::cache_global_datastore(&east, &west, "sessions", ("sessions-use1", "sessions-usw2"))
        .await
        .expect("datastore");
    for (node, seconds) in [("sessions-usw2-001", lag / 2.0), ("sessions-usw2-002", lag)] {
        seed::metric(
            &west,
            "AWS/ElastiCache",
            "GlobalDatastoreReplicationLag",
            &[("CacheClusterId", node)],
            seconds,
        )
        .await
        .expect("lag");
    }
    let mut request = event("database-failover.json");
    request["context"]["plan"]["databases"] = json!([]);
    request["context"]["plan"]["globalDatastores"] = json!([{
        "globalReplicationGroupId": id,
        "primaryReplicationGroupId": "sessions-use1",
        "recoveryReplicationGroupId": "sessions-usw2",
    }]);
    let proxy = FaultProxy::start(&moto).unwrap_or_else(|e| panic!("{e}"));
    World {
        moto,
        proxy,
        request,
        id,
    }
}

impl World {
    async fn run(&self, request: &Value) -> Result<StepResult, DatabaseError> {
        Box::pin(DatabaseFailover::new(&self.proxy.regions()).handle(request.clone(), Utc::now())).await
    }

    /// Polls `request`'s step after `started` until it completes.
    async fn completed(&self, request: &Value, started: StepResult) -> StepResult {
        wait::step_completed(request, "database", started, |status| async move {
            self.run(&status).await.unwrap_or_else(|e| panic!("{e}"))
        })
        .await
    }

    /// (status, the primary's region) as ElastiCache holds it now.
    async fn held(&self) -> (String, String) {
        let (status, members) = held::global_datastore(&self.moto.config("us-west-2"), &self.id)
            .await
            .expect("datastore");
        let primary = members.into_iter().find(|m| m.2 == "PRIMARY").map(|m| m.1);
        (status, primary.unwrap_or_default())
    }

    fn asked(&self) -> usize {
        self.proxy.count(FAIL_OVER)
    }
}

#[tokio::test]
async fn a_dry_run_changes_nothing_and_a_failover_goes_once_until_the_member_is_the_primary() {
    let w = world(0.8).await;
    let mut dry = w.request.clone();
    dry["context"]["dryRun"] = json!(true);
    let planned = w.run(&dry).await.expect("dry run");
    assert_eq!(action(&planned, FAIL_OVER).status, ActionStatus::Planned);
    assert_eq!(w.held().await, ("available".into(), "us-east-1".into()));
    assert_eq!(w.asked(), 0);

    let started = w.run(&w.request).await.expect("start");
    let failing = action(&started, FAIL_OVER);
    assert_eq!(failing.status, ActionStatus::Pending);
    assert_eq!(failing.resource, format!("elasticache:{}", w.id));
    assert_eq!(started.rpo_seconds, Some(0.8), "the most behind of its nodes");
    assert_eq!(w.held().await, ("modifying".into(), "us-east-1".into()));

    // The state machine retries a start (its answer timed out, say): the change under way is
    // waited on, not asked for again.
    let again = w.run(&w.request).await.expect("restart");
    let waiting = action(&again, FAIL_OVER);
    assert_eq!(waiting.status, ActionStatus::Pending);
    assert!(
        waiting.detail.as_deref().is_some_and(|d| d.contains("modifying")),
        "{waiting:?}"
    );
    assert_eq!(w.asked(), 1);

    let done = w.completed(&w.request, started).await;
    assert_eq!(action(&done, FAIL_OVER).status, ActionStatus::Done);
    assert_eq!(w.held().await, ("available".into(), "us-west-2".into()));
    assert_eq!(w.asked(), 1);
    // Run again after the end: already done, nothing asked.
    let after = w.run(&w.request).await.expect("after");
    assert!(action(&after, FAIL_OVER).already_done);
    assert_eq!(w.asked(), 1);

    // The failback makes the primary region's member the primary again.
    let mut back = w.request.clone();
    back["context"]["mode"] = json!("failback");
    seed::metric(
        &w.moto.config("us-east-1"),
        "AWS/ElastiCache",
        "GlobalDatastoreReplicationLag",
        &[("CacheClusterId", "sessions-use1-001")],
        0.1,
    )
    .await
    .expect("lag");
    let started = w.run(&back).await.expect("failback");
    assert_eq!(action(&started, FAIL_OVER).status, ActionStatus::Pending);
    let done = w.completed(&back, started).await;
    assert_eq!(action(&done, FAIL_OVER).status, ActionStatus::Done);
    assert_eq!(w.held().await, ("available".into(), "us-east-1".into()));
}

#[tokio::test]
async fn a_lost_answer_is_recognised_as_the_failover_under_way() {
    let w = world(0.5).await;
    w.proxy
        .set(&[Fault::drop_answer("elasticache", FAIL_OVER).times(1)])
        .expect("fault");
    let started = w.run(&w.request).await.expect("start");
    let failing = action(&started, FAIL_OVER);
    assert_eq!(failing.status, ActionStatus::Pending);
    assert!(
        failing
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("InvalidGlobalReplicationGroupState")),
        "the SDK's retry met the change under way: {failing:?}"
    );
    let done = w.completed(&w.request, started).await;
    assert_eq!(action(&done, FAIL_OVER).status, ActionStatus::Done);
    assert_eq!(w.held().await, ("available".into(), "us-west-2".into()));
}

#[tokio::test]
async fn a_lag_beyond_the_rpo_or_a_missing_datastore_is_refused_before_any_change() {
    // The event's RPO target is 900 s.
    let w = world(1200.0).await;
    let err = w.run(&w.request).await.expect_err("too far behind");
    assert!(matches!(err, DatabaseError::DataLoss { .. }), "{err}");
    assert!(err.to_string().contains("(ElastiCache global datastore)"), "{err}");
    assert_eq!(w.held().await, ("available".into(), "us-east-1".into()));

    let mut missing = w.request.clone();
    missing["context"]["plan"]["globalDatastores"][0]["globalReplicationGroupId"] = json!("ldgnf-nothing");
    let err = w.run(&missing).await.expect_err("missing");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert_eq!(err.to_string(), "global datastore ldgnf-nothing: not found");
    assert_eq!(w.asked(), 0);
    assert_eq!(w.held().await, ("available".into(), "us-east-1".into()));
}
