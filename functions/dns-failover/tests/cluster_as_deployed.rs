//! The ARC cluster as production builds it: `DnsFailover::new` makes one client per endpoint the
//! plan lists (`Cluster::FromPlan`: the plan's URL, signed for the endpoint's own region, with
//! the best-effort timeouts and retries), here against local endpoint servers (moto does not
//! serve ARC's data plane): one down, one that never answers in time, one answering.

use std::time::{Duration, Instant};

use chrono::Utc;
use dns_failover::DnsFailover;
use rebound_shared::context::ActionStatus;
use rebound_tests::arc::{down, ArcCluster};
use rebound_tests::{event, MotoServer};
use serde_json::json;

const PRIMARY: &str = "arn:aws:route53-recovery-control::111122223333:controlpanel/cp/routingcontrol/use1";
const RECOVERY: &str = "arn:aws:route53-recovery-control::111122223333:controlpanel/cp/routingcontrol/usw2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_from_the_plan_passes_a_down_and_a_silent_endpoint_and_switches_through_the_third() {
    let moto = MotoServer::start().expect("moto");
    let cluster = ArcCluster::new(&[(PRIMARY, true), (RECOVERY, false)]);
    // Holds each request past the best-effort attempt timeout (3 s).
    let slow = cluster.endpoint(Duration::from_secs(20)).await.expect("slow endpoint");
    let answering = cluster.endpoint(Duration::ZERO).await.expect("endpoint");
    let endpoints = [
        (down().expect("a closed port"), "us-east-1"),
        (slow.url.clone(), "eu-west-1"),
        (answering.url.clone(), "ap-southeast-2"),
    ];
    let mut request = event("dns-failover.json");
    request["context"]["plan"]["routingControlCluster"] = json!({
        "endpoints": endpoints.iter().map(|(url, region)| json!({"region": region, "url": url})).collect::<Vec<_>>()
    });
    request["context"]["plan"]["dns"] = json!([{
        "hostedZoneId": "Z0123456789ABCDEFGHIJ", "name": "api.orders.example.com.", "type": "CNAME",
        "mode": "routingControl", "primaryRoutingControlArn": PRIMARY, "recoveryRoutingControlArn": RECOVERY
    }]);
    let dns = DnsFailover::new(&rebound_tests::regions(&moto.endpoint()));

    let started = Instant::now();
    let result = dns.handle(request.clone(), Utc::now()).await.expect("failover");
    let took = started.elapsed();
    assert_eq!(result.actions.len(), 1, "{:?}", result.actions);
    assert_eq!(result.actions[0].operation, "UpdateRoutingControlStates");
    assert_eq!(result.actions[0].status, ActionStatus::Done);
    assert_eq!(cluster.is_on(RECOVERY), Some(true));
    assert_eq!(cluster.is_on(PRIMARY), Some(false));

    // Each endpoint was called signed for its own region, as ARC requires.
    let answered = answering.seen();
    assert!(
        answered.iter().any(|s| s.operation == "UpdateRoutingControlStates"),
        "{answered:?}"
    );
    assert!(
        answered
            .iter()
            .all(|s| s.scope == "ap-southeast-2/route53-recovery-cluster"),
        "{answered:?}"
    );
    let held = slow.seen();
    // Tried for the first call only (its two attempts): the later calls start at the endpoint
    // that answered.
    assert!(!held.is_empty() && held.len() <= 2, "{held:?}");
    assert!(
        answered.len() >= 3,
        "every call reached the answering endpoint: {answered:?}"
    );
    assert!(
        held.iter().all(|s| s.scope == "eu-west-1/route53-recovery-cluster"),
        "{held:?}"
    );
    println!(
        "failover through the third endpoint: {:.1} s ({} requests held by the silent one)",
        took.as_secs_f64(),
        held.len()
    );

    // Again: the cells are found switched through the same endpoints; nothing is sent.
    let updates = |e: &rebound_tests::arc::ArcEndpoint| {
        e.seen()
            .iter()
            .filter(|s| s.operation == "UpdateRoutingControlStates")
            .count()
    };
    let before = updates(&answering);
    let again = dns.handle(request, Utc::now()).await.expect("again");
    assert!(again.actions[0].already_done, "{:?}", again.actions);
    assert_eq!(updates(&answering), before);
}
