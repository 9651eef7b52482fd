//! Many services against moto: their capacities are read ten ECS services a call, and every
//! one is scaled as moto holds it.

use chrono::Utc;
use rebound_shared::context::ActionStatus;
use rebound_tests::faults::FaultProxy;
use rebound_tests::{event, seed, MotoServer};
use serde_json::{json, Value};
use service_restoration::ServiceRestoration;

#[tokio::test]
async fn twenty_five_services_are_read_in_three_calls_and_all_scaled() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<String> = (0..25).map(|i| format!("orders-svc-{i:02}")).collect();
    let seeded: Vec<(&str, i32)> = names.iter().map(|n| (n.as_str(), 1)).collect();
    seed::ecs_services(&moto.config("us-west-2"), &seeded)
        .await
        .expect("services");
    let mut request = event("service-restoration.json");
    let services: Vec<Value> = names
        .iter()
        .map(|n| json!({"kind": "ecs", "cluster": seed::ECS_CLUSTER, "service": n, "desiredCount": 3}))
        .collect();
    request["context"]["plan"]["services"] = json!(services);

    let proxy = FaultProxy::start(&moto).unwrap_or_else(|e| panic!("{e}"));
    let restoration = ServiceRestoration::new(&proxy.regions());
    let result = restoration.handle(request, Utc::now()).await.expect("start");
    assert_eq!(result.actions.len(), 25);
    assert!(result.actions.iter().all(|a| a.status != ActionStatus::Failed));
    let describes = proxy.count("DescribeServices");
    assert_eq!(describes, 3, "ten services a call");

    let ecs = aws_sdk_ecs::Client::new(&moto.config("us-west-2"));
    for chunk in names.chunks(10) {
        let out = ecs
            .describe_services()
            .cluster(seed::ECS_CLUSTER)
            .set_services(Some(chunk.to_vec()))
            .send()
            .await
            .expect("describe");
        assert!(out.services().iter().all(|s| s.desired_count() == 3), "{out:?}");
    }
}
