//! A zone of hundreds of records against moto: one paginated listing per zone, change batches
//! split at Route 53's per-request limits, and every record moved as moto holds it.

use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
use chrono::Utc;
use dns_failover::DnsFailover;
use rebound_tests::faults::FaultProxy;
use rebound_tests::{event, MotoServer};
use serde_json::{json, Value};

const RECORDS: usize = 650;
const IN_PLAN: usize = 600;

fn cname(i: usize, region: &str) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(format!("svc-{i:04}.orders.example.com."))
        .r#type(RrType::Cname)
        .ttl(60)
        .resource_records(
            ResourceRecord::builder()
                .value(format!("svc-{i:04}-{region}.orders.example.com"))
                .build()
                .expect("rr"),
        )
        .build()
        .expect("rrs")
}

#[tokio::test]
async fn hundreds_of_records_take_one_listing_a_page_and_batches_within_route53s_limits() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let route53 = aws_sdk_route53::Client::new(&moto.config("us-east-1"));
    let zone = rebound_tests::seed::hosted_zone(&moto.config("us-east-1"), "orders.example.com")
        .await
        .expect("zone");
    for chunk in (0..RECORDS).collect::<Vec<_>>().chunks(300) {
        let mut batch = ChangeBatch::builder();
        for i in chunk {
            batch = batch.changes(
                Change::builder()
                    .action(ChangeAction::Create)
                    .resource_record_set(cname(*i, "use1"))
                    .build()
                    .expect("change"),
            );
        }
        route53
            .change_resource_record_sets()
            .hosted_zone_id(&zone)
            .change_batch(batch.build().expect("batch"))
            .send()
            .await
            .expect("seed");
    }
    let mut request = event("dns-failover.json");
    let dns: Vec<Value> = (0..IN_PLAN)
        .map(|i| {
            json!({"hostedZoneId": zone, "name": format!("svc-{i:04}.orders.example.com."), "type": "CNAME", "ttl": 60,
                   "primary": {"values": [format!("svc-{i:04}-use1.orders.example.com")]},
                   "recovery": {"values": [format!("svc-{i:04}-usw2.orders.example.com")]}})
        })
        .collect();
    request["context"]["plan"]["dns"] = json!(dns);

    let proxy = FaultProxy::start(&moto).unwrap_or_else(|e| panic!("{e}"));
    let dns = DnsFailover::new(&proxy.regions());
    let started = dns.handle(request.clone(), Utc::now()).await.expect("start");
    let count = |op: &str| {
        proxy
            .calls()
            .iter()
            .filter(|c| c.operation.as_deref() == Some(op))
            .count()
    };
    // 650 record sets (and the zone's SOA and NS) in pages of 300; 1,200 UPSERT elements in
    // batches of at most 1,000.
    assert_eq!(count("ListResourceRecordSets"), 3, "one listing of the zone");
    assert_eq!(count("ChangeResourceRecordSets"), 2, "two batches");
    assert!(
        started.actions.iter().all(|a| a.tracking_id.is_some()),
        "each record has its batch's change"
    );
    // Within Route 53's five requests a second: the five calls reached moto at least 200 ms
    // apart (less a margin for the proxy's own timing).
    let mut at: Vec<f64> = proxy.calls().iter().filter_map(|c| c.at).collect();
    at.sort_by(f64::total_cmp);
    assert_eq!(at.len(), 5, "{at:?}");
    assert!(
        at[4] - at[0] >= 0.7,
        "five Route 53 calls in {:.3} s: {at:?}",
        at[4] - at[0]
    );
    println!(
        "{IN_PLAN} records of a {RECORDS}-record zone: {} listing calls, {} change batches",
        count("ListResourceRecordSets"),
        count("ChangeResourceRecordSets")
    );

    let step = &dns;
    rebound_tests::wait::step_completed(&request, "dns", started, |status| async move {
        step.handle(status, Utc::now()).await.expect("status")
    })
    .await;

    // What moto holds: every planned record moved, the others untouched.
    let listed = DnsFailover::new(&moto.regions())
        .zone_records(&zone)
        .await
        .expect("listing");
    let value = |i: usize| {
        let name = format!("svc-{i:04}.orders.example.com.");
        listed
            .iter()
            .find(|r| r.name() == name)
            .and_then(|r| r.resource_records().first().map(|v| v.value().to_string()))
            .unwrap_or_default()
    };
    assert!((0..IN_PLAN).all(|i| value(i).ends_with("-usw2.orders.example.com")));
    assert!((IN_PLAN..RECORDS).all(|i| value(i).ends_with("-use1.orders.example.com")));
}
