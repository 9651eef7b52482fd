//! Validation's count of a Kubernetes Deployment's available pods: the cluster is moto's, its
//! API server scripted (no API server runs here: kube's client over tower-test's mock).

mod common;

use rebound_shared::capacities::Capacities;
use rebound_shared::context::ValidationReport;
use rebound_shared::kubernetes::Kubernetes;
use rebound_tests::kubernetes::{autoscaler, autoscaler_path, deployment, deployment_path, scripted, Exchange};
use rebound_tests::{event, seed, MotoServer};
use recovery_validator::RecoveryValidator;
use serde_json::json;

fn deployment_check(report: &ValidationReport) -> (bool, String) {
    report
        .checks
        .iter()
        .find(|c| c.name == "k8s:orders-eks/orders/api")
        .map(|c| (c.passed, c.detail.clone()))
        .unwrap_or_else(|| panic!("no Deployment check in {:?}", report.checks))
}

#[tokio::test]
async fn a_deployment_passes_once_its_pods_are_available() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let west = moto.config("us-west-2");
    seed::eks_nodegroup(&west, "orders-eks", "orders-workers", (1, 1, 3))
        .await
        .expect("cluster");
    let reads = |available| {
        [
            Exchange::get(
                deployment_path("orders", "api"),
                deployment("orders", "api", 6, available),
            ),
            Exchange::get(
                autoscaler_path("orders", "api"),
                autoscaler("orders", "api", "api", 6, 6),
            ),
        ]
    };
    let (client, served) = scripted(reads(4).into_iter().chain(reads(6)).collect());
    let mut validator = RecoveryValidator::new(&moto.regions());
    validator.services.capacities = Capacities {
        kubernetes: Kubernetes::scripted(&west, client),
        ..validator.services.capacities.clone()
    };
    let mut request = event("recovery-validator.json");
    let plan = &mut request["context"]["plan"];
    plan["dns"] = json!([]);
    plan["validation"]["probes"] = json!([]);
    plan["services"] = json!([{"kind": "eksDeployment", "cluster": "orders-eks", "namespace": "orders",
                               "deployment": "api", "replicas": 6, "horizontalPodAutoscaler": "api"}]);
    assert_eq!(
        deployment_check(&common::round_with(&validator, &request, common::at(0)).await),
        (false, "4 of 6 running".into())
    );
    assert_eq!(
        deployment_check(&common::round_with(&validator, &request, common::at(30)).await),
        (true, "6 of 6 running".into())
    );
    drop(validator);
    assert_eq!(served.await.expect("script").len(), 4);
}
