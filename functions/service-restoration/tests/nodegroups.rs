//! EKS managed node groups against moto's EKS and Auto Scaling, with the launcher's EKS time: a
//! scaling update leaves the node group UPDATING, then sets the Auto Scaling group EKS runs it
//! in, whose new instances are Pending before InService.

use chrono::{TimeZone, Utc};
use rebound_shared::context::{ActionStatus, StepStatus};
use rebound_shared::ErrorKind;
use rebound_tests::{event, held, seed, MotoServer};
use serde_json::{json, Value};
use service_restoration::ServiceRestoration;

/// Before the sample context's deadline (03:32:41).
fn before_deadline() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 3, 20, 0).single().expect("time")
}

/// The sample request scaling only node group `nodegroup` of `cluster` to 1/4/6.
fn request(cluster: &str, nodegroup: &str) -> Value {
    let mut request = event("service-restoration.json");
    request["context"]["plan"]["services"] = json!([{
        "kind": "eksNodegroup", "cluster": cluster, "nodegroup": nodegroup,
        "minSize": 1, "desiredSize": 4, "maxSize": 6
    }]);
    request
}

/// Moto with node group `orders-workers` of cluster `orders-eks` at 1/1/3 in us-west-2; the
/// name of the Auto Scaling group it runs in; the step.
async fn world() -> (MotoServer, aws_config::SdkConfig, String, ServiceRestoration) {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let west = moto.config("us-west-2");
    let backing = seed::eks_nodegroup(&west, "orders-eks", "orders-workers", (1, 1, 3))
        .await
        .expect("node group");
    let step = ServiceRestoration::new(&moto.regions());
    (moto, west, backing, step)
}

async fn nodegroup(west: &aws_config::SdkConfig) -> (String, i32, i32, i32) {
    held::nodegroup(west, "orders-eks", "orders-workers").await
}

#[tokio::test]
async fn a_node_group_scales_through_eks_and_is_done_when_its_groups_nodes_are_in_service() {
    let (_moto, west, backing, step) = world().await;
    let request = request("orders-eks", "orders-workers");

    let mut dry = request.clone();
    dry["context"]["dryRun"] = json!(true);
    let planned = step.handle(dry, before_deadline()).await.expect("dry run");
    assert_eq!(planned.actions[0].operation, "UpdateNodegroupConfig");
    assert_eq!(planned.actions[0].status, ActionStatus::Planned);
    assert_eq!(
        nodegroup(&west).await,
        ("ACTIVE".into(), 1, 1, 3),
        "a dry run changes nothing"
    );

    let started = step.handle(request.clone(), before_deadline()).await.expect("start");
    assert_eq!(started.status, StepStatus::InProgress);
    assert_eq!(started.actions[0].resource, "eks:orders-eks/orders-workers");
    assert_eq!(started.actions[0].before["desired"], json!(1));
    assert_eq!(
        started.actions[0].after,
        json!({"min": 1, "desired": 4, "max": 6, "running": 0})
    );
    assert_eq!(nodegroup(&west).await, ("UPDATING".into(), 1, 4, 6));

    // The start again (its answer lost): EKS already holds the size, so no second update, which
    // EKS would refuse while the first is under way.
    let again = step.handle(request.clone(), before_deadline()).await.expect("again");
    assert!(again.actions[0].already_done, "{:?}", again.actions);
    assert_eq!(again.actions[0].status, ActionStatus::Pending);

    let status = rebound_tests::wait::status_request(&request, "services", &started);
    let first = step.handle(status, before_deadline()).await.expect("status");
    let step = &step;
    let polled = rebound_tests::wait::step_completed(&request, "services", first, |status| async move {
        step.handle(status, before_deadline()).await.expect("status")
    })
    .await;
    assert_eq!(polled.actions[0].after["running"], json!(4));
    assert_eq!(nodegroup(&west).await, ("ACTIVE".into(), 1, 4, 6));
    assert_eq!(held::group(&west, &backing).await, Some((1, 4, 6, 4)));
}

#[tokio::test]
async fn a_node_group_under_another_update_is_retried_and_one_missing_is_refused() {
    let (moto, west, backing, step) = world().await;

    // Someone else's update under way (a version upgrade takes its time): EKS refuses ours
    // with ResourceInUseException, which the state machine retries.
    moto.set_durations(&json!({"UpdateNodegroupConfig": 60}))
        .expect("durations");
    let theirs = seed::update_nodegroup(&west, "orders-eks", "orders-workers", (1, 2, 3)).await;
    assert_eq!(theirs.as_deref(), Ok("InProgress"));
    let err = step
        .handle(request("orders-eks", "orders-workers"), before_deadline())
        .await
        .expect_err("busy");
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("eks:orders-eks/orders-workers") && text.contains("ResourceInUseException"),
        "{text}"
    );
    assert_eq!(nodegroup(&west).await, ("UPDATING".into(), 1, 2, 3), "theirs stands");

    // A node group or cluster that is not there is named, and nothing changes.
    for (cluster, nodegroup, named) in [
        ("orders-eks", "orders-nowhere", "eks:orders-eks/orders-nowhere"),
        ("orders-gone", "orders-workers", "eks:orders-gone"),
    ] {
        let err = step
            .handle(request(cluster, nodegroup), before_deadline())
            .await
            .expect_err("missing");
        assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
        assert!(err.to_string().contains(named), "{err}");
    }
    assert_eq!(held::group(&west, &backing).await.map(|g| g.1), Some(1));
}
