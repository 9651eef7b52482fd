//! dns-failover against moto's Route 53: the records and health checks moto holds afterwards.

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, HealthCheckConfig, HealthCheckType, ResourceRecord,
    ResourceRecordSet, RrType,
};
use aws_sdk_route53::Client;
use chrono::Utc;
use dns_failover::{DnsError, DnsFailover};
use rebound_shared::context::{ActionStatus, StepResult, StepStatus};
use rebound_shared::ErrorKind;
use rebound_tests::{event, MotoServer};
use serde_json::{json, Value};

struct World {
    moto: MotoServer,
    dns: DnsFailover,
    route53: Client,
    zone: String,
    health_check: String,
    request: Value,
}

async fn world() -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let route53 = Client::new(&moto.config("us-east-1"));
    let zone = rebound_tests::seed::hosted_zone(&moto.config("us-east-1"), "orders.example.com")
        .await
        .expect("CreateHostedZone");
    let check = route53
        .create_health_check()
        .caller_reference("pay-primary")
        .health_check_config(
            HealthCheckConfig::builder()
                .r#type(HealthCheckType::Https)
                .fully_qualified_domain_name("pay-use1.orders.example.com")
                .resource_path("/health")
                .build()
                .expect("config"),
        )
        .send()
        .await
        .expect("CreateHealthCheck");
    let health_check = check.health_check().expect("health check").id().to_string();
    let cname = ResourceRecordSet::builder()
        .name("api.orders.example.com.")
        .r#type(RrType::Cname)
        .ttl(60)
        .resource_records(
            ResourceRecord::builder()
                .value("orders-api-use1.orders.example.com")
                .build()
                .expect("rr"),
        )
        .build()
        .expect("rrs");
    let alias = ResourceRecordSet::builder()
        .name("www.orders.example.com.")
        .r#type(RrType::A)
        .alias_target(
            AliasTarget::builder()
                .hosted_zone_id("Z35SXDOTRQ7X7K")
                .dns_name("orders-web-use1-1234567890.us-east-1.elb.amazonaws.com.")
                .evaluate_target_health(true)
                .build()
                .expect("alias"),
        )
        .build()
        .expect("rrs");
    let batch = ChangeBatch::builder()
        .changes(
            Change::builder()
                .action(ChangeAction::Create)
                .resource_record_set(cname)
                .build()
                .expect("change"),
        )
        .changes(
            Change::builder()
                .action(ChangeAction::Create)
                .resource_record_set(alias)
                .build()
                .expect("change"),
        )
        .build()
        .expect("batch");
    route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(batch)
        .send()
        .await
        .expect("seed records");

    let mut request = event("dns-failover.json");
    for record in request["context"]["plan"]["dns"].as_array_mut().expect("dns") {
        record["hostedZoneId"] = json!(zone);
        if record.get("healthCheckId").is_some() {
            record["healthCheckId"] = json!(health_check);
        }
    }
    World {
        dns: DnsFailover::new(&moto.regions()),
        moto,
        route53,
        zone,
        health_check,
        request,
    }
}

impl World {
    async fn record(&self, name: &str, rtype: RrType) -> ResourceRecordSet {
        let out = self
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(&self.zone)
            .start_record_name(name)
            .start_record_type(rtype.clone())
            .send()
            .await
            .expect("ListResourceRecordSets");
        out.resource_record_sets()
            .iter()
            .find(|r| r.name() == name && *r.r#type() == rtype)
            .cloned()
            .expect("record exists")
    }

    async fn api_value(&self) -> String {
        self.record("api.orders.example.com.", RrType::Cname)
            .await
            .resource_records()[0]
            .value()
            .to_string()
    }

    async fn www_alias(&self) -> String {
        self.record("www.orders.example.com.", RrType::A)
            .await
            .alias_target()
            .expect("alias")
            .dns_name()
            .to_string()
    }

    async fn inverted(&self) -> bool {
        let out = self
            .route53
            .get_health_check()
            .health_check_id(&self.health_check)
            .send()
            .await
            .expect("GetHealthCheck");
        out.health_check()
            .and_then(|h| h.health_check_config())
            .and_then(|c| c.inverted())
            .unwrap_or(false)
    }

    async fn run(&self, request: &Value) -> Result<StepResult, DnsError> {
        self.dns.handle(request.clone(), Utc::now()).await
    }

    /// Polls `status` after `started` (at `at`, or now) until Route 53 has every change INSYNC.
    async fn insync(&self, started: &StepResult, at: Option<chrono::DateTime<Utc>>) -> StepResult {
        rebound_tests::wait::step_completed(&self.request, "dns", started.clone(), |mut status| async move {
            if at.is_some() {
                // Polled by the sample's own clock: its own deadline stands.
                status["context"]["timestamps"] = self.request["context"]["timestamps"].clone();
            }
            self.dns
                .handle(status, at.unwrap_or_else(Utc::now))
                .await
                .expect("status")
        })
        .await
    }
}

#[tokio::test]
async fn failover_moves_every_record_in_one_batch_then_finds_them_done() {
    let w = world().await;
    // Route 53's 60 s at the harness's scale is under a second: a loaded machine could see the
    // change INSYNC before the first poll. Five seconds keeps the PENDING window open.
    w.moto
        .set_durations(&json!({"ChangeResourceRecordSets": 5.0}))
        .expect("durations");
    let result = w.run(&w.request).await.expect("start");
    assert_eq!(w.api_value().await, "orders-api-usw2.orders.example.com");
    assert_eq!(
        w.www_alias().await,
        "orders-web-usw2-0987654321.us-west-2.elb.amazonaws.com."
    );
    assert!(w.inverted().await, "the primary's health check is inverted");
    assert_eq!(result.actions.len(), 3);
    assert!(result.actions.iter().all(|a| !a.already_done));
    let batch_ids: std::collections::BTreeSet<_> = result
        .actions
        .iter()
        .filter(|a| a.operation == "UPSERT")
        .map(|a| a.tracking_id.clone().expect("change id"))
        .collect();
    assert_eq!(batch_ids.len(), 1, "one change batch for the zone");
    assert_eq!(
        result.actions[0].before["values"],
        json!(["orders-api-use1.orders.example.com"])
    );

    // status polls GetChange: PENDING at first, as Route 53 answers, then INSYNC.
    let status = rebound_tests::wait::status_request(&w.request, "dns", &result);
    let first = w.run(&status).await.expect("status");
    assert_eq!(first.status, StepStatus::InProgress, "{:?}", first.actions);
    let polled = w.insync(&result, None).await;
    assert!(polled.actions.iter().all(|a| a.status == ActionStatus::Done));

    // The same input again changes nothing and says so.
    let again = w.run(&w.request).await.expect("second start");
    assert!(again.actions.iter().all(|a| a.already_done), "{:?}", again.actions);
    assert_eq!(again.status, StepStatus::Completed);
    assert_eq!(w.api_value().await, "orders-api-usw2.orders.example.com");
}

#[tokio::test]
async fn a_result_is_timed_by_the_clock_it_is_given() {
    let w = world().await;
    // Within the sample context's deadline (03:32:41), long before the wall clock.
    let started_at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 24, 3, 13, 0)
        .single()
        .expect("time");
    // A dry run completes at once: it finishes when it started, by that clock.
    let mut dry = w.request.clone();
    dry["context"]["dryRun"] = json!(true);
    let planned = w.dns.handle(dry, started_at).await.expect("dry run");
    assert_eq!(planned.status, StepStatus::Completed);
    assert_eq!(planned.finished_at, Some(started_at), "not the wall clock");

    let result = w.dns.handle(w.request.clone(), started_at).await.expect("start");
    assert_eq!(result.started_at, Some(started_at));
    let polled_at = started_at + chrono::Duration::seconds(40);
    let polled = w.insync(&result, Some(polled_at)).await;
    assert_eq!(polled.started_at, Some(started_at));
    assert_eq!(polled.finished_at, Some(polled_at), "not the wall clock");
}

#[tokio::test]
async fn dry_run_reports_the_changes_and_makes_none() {
    let w = world().await;
    let mut request = w.request.clone();
    request["context"]["dryRun"] = json!(true);
    let result = w.run(&request).await.expect("dry run");
    assert_eq!(result.actions.len(), 3);
    assert!(result.actions.iter().all(|a| a.status == ActionStatus::Planned));
    assert_eq!(
        result.actions[0].after["values"],
        json!(["orders-api-usw2.orders.example.com"])
    );
    assert_eq!(w.api_value().await, "orders-api-use1.orders.example.com");
    assert_eq!(
        w.www_alias().await,
        "orders-web-use1-1234567890.us-east-1.elb.amazonaws.com."
    );
    assert!(!w.inverted().await);
}

#[tokio::test]
async fn failback_returns_to_the_primary_values() {
    let w = world().await;
    w.run(&w.request).await.expect("failover");
    let mut request = w.request.clone();
    request["context"]["mode"] = json!("failback");
    w.run(&request).await.expect("failback");
    assert_eq!(w.api_value().await, "orders-api-use1.orders.example.com");
    assert_eq!(
        w.www_alias().await,
        "orders-web-use1-1234567890.us-east-1.elb.amazonaws.com."
    );
    assert!(!w.inverted().await);
}

#[tokio::test]
async fn a_missing_zone_is_a_precondition_and_changes_nothing_else() {
    let w = world().await;
    let mut request = w.request.clone();
    // The last record names a zone that does not exist; the first two are in the real zone.
    request["context"]["plan"]["dns"][2] = json!({
        "hostedZoneId": "ZNOSUCHZONE", "name": "pay.orders.example.com.", "type": "CNAME", "ttl": 60,
        "primary": {"values": ["pay-use1.orders.example.com"]}, "recovery": {"values": ["pay-usw2.orders.example.com"]}
    });
    let err = w.run(&request).await.expect_err("missing zone");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(err.to_string().contains("ZNOSUCHZONE"), "{err}");
    assert_eq!(
        w.api_value().await,
        "orders-api-use1.orders.example.com",
        "nothing half-changed"
    );
}

#[tokio::test]
async fn bad_requests_are_invalid_input() {
    let w = world().await;
    let mut status = w.request.clone();
    status["action"] = json!("status");
    let err = w.run(&status).await.expect_err("status before start");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = w
        .run(&json!({"action": "teleport", "context": w.request["context"]}))
        .await
        .expect_err("bad action");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("teleport"), "{err}");
}
