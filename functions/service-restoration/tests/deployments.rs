//! Kubernetes Deployments on EKS: the cluster is moto's (DescribeCluster must show it ACTIVE),
//! its API server is scripted (no API server runs here: kube's client over tower-test's mock,
//! every request checked in order). A Deployment under an autoscaler gets its minimum (and a
//! maximum that fits) before its replicas; the step is done when its pods are available.

use chrono::{TimeZone, Utc};
use rebound_shared::capacities::Capacities;
use rebound_shared::context::{ActionStatus, StepStatus};
use rebound_shared::kubernetes::Kubernetes;
use rebound_shared::ErrorKind;
use rebound_tests::kubernetes::{autoscaler, autoscaler_path, deployment, deployment_path, scripted, Exchange};
use rebound_tests::{event, seed, MotoServer};
use serde_json::{json, Value};
use service_restoration::ServiceRestoration;

/// Before the sample context's deadline (03:32:41).
fn before_deadline() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 3, 20, 0).single().expect("time")
}

/// The sample request scaling only Deployment `orders/api` of `cluster` to 6, under its
/// autoscaler `api`.
fn request(cluster: &str) -> Value {
    let mut request = event("service-restoration.json");
    request["context"]["plan"]["services"] = json!([{
        "kind": "eksDeployment", "cluster": cluster, "namespace": "orders", "deployment": "api",
        "replicas": 6, "horizontalPodAutoscaler": "api"
    }]);
    request
}

/// Moto with cluster `orders-eks` in us-west-2, and the step reaching its API server through
/// `script`.
async fn world(script: Vec<Exchange>) -> (MotoServer, ServiceRestoration, tokio::task::JoinHandle<Vec<String>>) {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let west = moto.config("us-west-2");
    seed::eks_nodegroup(&west, "orders-eks", "orders-workers", (1, 1, 3))
        .await
        .expect("cluster");
    let (client, served) = scripted(script);
    let mut step = ServiceRestoration::new(&moto.regions());
    step.clients = Capacities {
        kubernetes: Kubernetes::scripted(&west, client),
        ..step.clients
    };
    (moto, step, served)
}

fn reads(replicas: i32, available: i32, min: i32, max: i32) -> Vec<Exchange> {
    vec![
        Exchange::get(
            deployment_path("orders", "api"),
            deployment("orders", "api", replicas, available),
        ),
        Exchange::get(
            autoscaler_path("orders", "api"),
            autoscaler("orders", "api", "api", min, max),
        ),
    ]
}

#[tokio::test]
async fn a_deployment_under_an_autoscaler_gets_its_minimum_then_its_replicas_and_waits_for_its_pods() {
    let mut script = Vec::new();
    // A dry run reads and changes nothing.
    script.extend(reads(2, 2, 2, 4));
    // The start: read, then the autoscaler's bounds (the maximum raised to fit), then replicas.
    script.extend(reads(2, 2, 2, 4));
    script.push(Exchange::patch(
        autoscaler_path("orders", "api"),
        json!({"spec": {"minReplicas": 6, "maxReplicas": 6}}),
        autoscaler("orders", "api", "api", 6, 6),
    ));
    script.push(Exchange::patch(
        deployment_path("orders", "api"),
        json!({"spec": {"replicas": 6}}),
        deployment("orders", "api", 6, 2),
    ));
    // The start again (its answer lost): already set, waited on; no second patch.
    script.extend(reads(6, 3, 6, 6));
    // The polls: 4 available, then 6.
    script.extend(reads(6, 4, 6, 6));
    script.extend(reads(6, 6, 6, 6));
    let (_moto, step, served) = world(script).await;
    let request = request("orders-eks");

    let mut dry = request.clone();
    dry["context"]["dryRun"] = json!(true);
    let planned = step.handle(dry, before_deadline()).await.expect("dry run");
    assert_eq!(planned.actions[0].operation, "ScaleDeployment");
    assert_eq!(planned.actions[0].status, ActionStatus::Planned);

    let started = step.handle(request.clone(), before_deadline()).await.expect("start");
    assert_eq!(started.status, StepStatus::InProgress);
    let action = &started.actions[0];
    assert_eq!(action.resource, "k8s:orders-eks/orders/api");
    assert_eq!(action.before, json!({"min": 2, "desired": 2, "max": 4, "running": 2}));
    assert_eq!(action.after, json!({"min": 6, "desired": 6, "max": 6, "running": 2}));

    let again = step.handle(request.clone(), before_deadline()).await.expect("again");
    assert!(again.actions[0].already_done, "{:?}", again.actions);
    assert_eq!(again.actions[0].status, ActionStatus::Pending);

    let status = rebound_tests::wait::status_request(&request, "services", &started);
    let first = step.handle(status.clone(), before_deadline()).await.expect("status");
    assert_eq!(first.status, StepStatus::InProgress, "4 of 6 available");
    let status = rebound_tests::wait::status_request(&request, "services", &first);
    let done = step.handle(status, before_deadline()).await.expect("status");
    assert_eq!(done.status, StepStatus::Completed, "{:?}", done.actions);
    assert_eq!(
        served.await.expect("script").len(),
        12,
        "every scripted request, none more"
    );
}

#[tokio::test]
async fn a_missing_cluster_deployment_or_access_is_refused_and_an_api_server_away_is_transient() {
    // The cluster EKS does not know: refused before its API is asked anything.
    let (_moto, step, served) = world(Vec::new()).await;
    let err = step
        .handle(request("orders-gone"), before_deadline())
        .await
        .expect_err("no cluster");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    // Told for the Deployment, with EKS's word on the cluster.
    assert!(err.to_string().contains("k8s:orders-gone/orders/api"), "{err}");
    assert!(
        err.to_string().contains("No cluster found for name: orders-gone"),
        "{err}"
    );
    drop(step);
    assert!(served.await.expect("script").is_empty());

    // The Deployment is not there.
    let (_moto, step, _served) = world(vec![
        Exchange::get(deployment_path("orders", "api"), json!({})).failing(404, "NotFound")
    ])
    .await;
    let err = step
        .handle(request("orders-eks"), before_deadline())
        .await
        .expect_err("no deployment");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(
        err.to_string().contains("Deployment api not found in namespace orders"),
        "{err}"
    );

    // The role has no access entry (or not this one): the API server refuses.
    let (_moto, step, _served) = world(vec![
        Exchange::get(deployment_path("orders", "api"), json!({})).failing(403, "Forbidden")
    ])
    .await;
    let err = step
        .handle(request("orders-eks"), before_deadline())
        .await
        .expect_err("forbidden");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(err.to_string().contains("Forbidden"), "{err}");

    // The API server does not answer (the script has ended): retried by the state machine.
    let (_moto, step, _served) = world(Vec::new()).await;
    let err = step
        .handle(request("orders-eks"), before_deadline())
        .await
        .expect_err("away");
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
}

#[tokio::test]
async fn deployments_of_one_cluster_share_one_client_per_invocation() {
    // Two Deployments of one cluster: each invocation asks EKS for the cluster (and signs a
    // token) once, for the reads and the scaling alike.
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let proxy = rebound_tests::faults::FaultProxy::start(&moto).unwrap_or_else(|e| panic!("{e}"));
    let west = proxy.config("us-west-2");
    seed::eks_nodegroup(&west, "orders-eks", "orders-workers", (1, 1, 3))
        .await
        .expect("cluster");
    let script = vec![
        // The start: both read, then both patched.
        Exchange::get(deployment_path("orders", "api"), deployment("orders", "api", 2, 2)),
        Exchange::get(
            deployment_path("orders", "worker"),
            deployment("orders", "worker", 1, 1),
        ),
        Exchange::patch(
            deployment_path("orders", "api"),
            json!({"spec": {"replicas": 6}}),
            deployment("orders", "api", 6, 2),
        ),
        Exchange::patch(
            deployment_path("orders", "worker"),
            json!({"spec": {"replicas": 3}}),
            deployment("orders", "worker", 3, 1),
        ),
        // One poll: both read again.
        Exchange::get(deployment_path("orders", "api"), deployment("orders", "api", 6, 6)),
        Exchange::get(
            deployment_path("orders", "worker"),
            deployment("orders", "worker", 3, 3),
        ),
    ];
    let (client, served) = scripted(script);
    let mut step = ServiceRestoration::new(&proxy.regions());
    step.clients = Capacities {
        kubernetes: Kubernetes::scripted(&west, client),
        ..step.clients
    };
    let mut request = event("service-restoration.json");
    request["context"]["plan"]["services"] = json!([
        {"kind": "eksDeployment", "cluster": "orders-eks", "namespace": "orders", "deployment": "api", "replicas": 6},
        {"kind": "eksDeployment", "cluster": "orders-eks", "namespace": "orders", "deployment": "worker", "replicas": 3}
    ]);
    let before = proxy.count("DescribeCluster");

    let started = step.handle(request.clone(), before_deadline()).await.expect("start");
    let scaled: Vec<_> = started.actions.iter().map(|a| a.after["desired"].clone()).collect();
    assert_eq!(scaled, vec![json!(6), json!(3)], "{:?}", started.actions);
    assert_eq!(
        proxy.count("DescribeCluster") - before,
        1,
        "one DescribeCluster for the start"
    );

    let status = rebound_tests::wait::status_request(&request, "services", &started);
    let done = step.handle(status, before_deadline()).await.expect("status");
    assert_eq!(done.status, StepStatus::Completed, "{:?}", done.actions);
    assert_eq!(proxy.count("DescribeCluster") - before, 2, "and one for the poll");
    drop(step);
    assert_eq!(
        served.await.expect("script").len(),
        6,
        "every scripted request, none more"
    );
}
