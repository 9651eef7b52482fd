//! A hosted zone in another account (a networking account's, say): dns-failover assumes the role
//! the plan names for it (moto serves STS, and each account's Route 53 apart), through the
//! recovery region's STS, once an invocation, and reads, changes and tracks the zone's records
//! as that role. What moto holds in each account afterwards.

use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};
use chrono::Utc;
use dns_failover::DnsFailover;
use rebound_shared::ErrorKind;
use rebound_tests::faults::{Fault, FaultProxy};
use rebound_tests::{event, seed, wait, MotoServer};
use serde_json::{json, Value};

const ROLE: &str = "arn:aws:iam::222222222222:role/rebound-dns";
const NAME: &str = "api.orders.example.com.";

struct World {
    moto: MotoServer,
    proxy: FaultProxy,
    /// The networking account, as its role sees it.
    network: aws_sdk_route53::Client,
    zone: String,
    request: Value,
}

async fn world() -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let network_config = seed::as_role(&moto.config("us-east-1"), ROLE).await.expect("the role");
    let zone = seed::hosted_zone(&network_config, "orders.example.com")
        .await
        .expect("a zone in the networking account");
    let record = ResourceRecordSet::builder()
        .name(NAME)
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
    seed::create_records(&network_config, &zone, vec![record])
        .await
        .expect("record");
    let mut request = event("dns-failover.json");
    let plan = &mut request["context"]["plan"];
    plan["accounts"] = json!({"network": {"roleArn": ROLE, "externalId": "rebound-orders"}});
    plan["dns"] = json!([{
        "hostedZoneId": zone, "name": NAME, "type": "CNAME", "ttl": 60, "account": "network",
        "primary": {"values": ["orders-api-use1.orders.example.com"]},
        "recovery": {"values": ["orders-api-usw2.orders.example.com"]},
    }]);
    let proxy = FaultProxy::start(&moto).unwrap_or_else(|e| panic!("{e}"));
    World {
        network: aws_sdk_route53::Client::new(&network_config),
        moto,
        proxy,
        zone,
        request,
    }
}

impl World {
    fn dns(&self) -> DnsFailover {
        DnsFailover::new(&self.proxy.regions())
    }

    async fn value(&self) -> String {
        let out = self
            .network
            .list_resource_record_sets()
            .hosted_zone_id(&self.zone)
            .send()
            .await
            .expect("ListResourceRecordSets");
        out.resource_record_sets()
            .iter()
            .find(|r| r.name() == NAME)
            .map(|r| r.resource_records()[0].value().to_string())
            .expect("the record")
    }
}

#[tokio::test]
async fn a_zone_in_another_account_is_changed_as_that_accounts_role() {
    let w = world().await;
    // Rebound's own account has no such zone: only the role reaches it.
    let own = aws_sdk_route53::Client::new(&w.moto.config("us-east-1"))
        .list_resource_record_sets()
        .hosted_zone_id(&w.zone)
        .send()
        .await;
    assert!(own.is_err(), "the zone is the networking account's");

    let started = w.dns().handle(w.request.clone(), Utc::now()).await.expect("start");
    let step = &w;
    let done = wait::step_completed(&w.request, "dns", started, |status| async move {
        step.dns().handle(status, Utc::now()).await.expect("status")
    })
    .await;
    assert!(done
        .actions
        .iter()
        .all(|a| a.status == rebound_shared::context::ActionStatus::Done));
    assert_eq!(w.value().await, "orders-api-usw2.orders.example.com");

    // The role was assumed through the recovery region's STS, once for each invocation, and
    // every Route 53 call went to the networking account (a call in Rebound's own would have
    // found no zone).
    let calls = w.proxy.calls();
    let assumed: Vec<_> = calls
        .iter()
        .filter(|c| c.operation.as_deref() == Some("AssumeRole"))
        .collect();
    let invocations = calls
        .iter()
        .filter(|c| matches!(c.operation.as_deref(), Some("ChangeResourceRecordSets" | "GetChange")))
        .count();
    assert!(!assumed.is_empty() && assumed.len() <= invocations, "{assumed:?}");
    assert!(
        assumed.iter().all(|c| c.region.as_deref() == Some("us-west-2")),
        "{assumed:?}"
    );
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_is_named_and_nothing_changes() {
    let w = world().await;
    w.proxy
        .set(&[Fault::status(403).service("sts").operation("AssumeRole")])
        .expect("fault");
    let err = w
        .dns()
        .handle(w.request.clone(), Utc::now())
        .await
        .expect_err("no role");
    let text = err.to_string();
    assert!(
        text.contains("account network") && text.contains("AssumeRole"),
        "{text}"
    );
    assert_ne!(err.kind(), ErrorKind::InvalidInput, "{text}");
    assert_eq!(w.value().await, "orders-api-use1.orders.example.com", "nothing changed");
    assert_eq!(w.proxy.count("ChangeResourceRecordSets"), 0);
}

#[tokio::test]
async fn a_health_check_in_another_account_is_inverted_as_its_role() {
    use aws_sdk_route53::types::{HealthCheckConfig, HealthCheckType};
    let w = world().await;
    let check = w
        .network
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
        .expect("a health check in the networking account");
    let id = check.health_check().expect("health check").id().to_string();
    let mut request = w.request.clone();
    request["context"]["plan"]["dns"] = json!([{
        "hostedZoneId": w.zone, "name": "pay.orders.example.com.", "type": "A",
        "mode": "healthCheckInversion", "setIdentifier": "primary", "healthCheckId": id, "account": "network",
    }]);
    let started = w.dns().handle(request, Utc::now()).await.expect("start");
    let inversion = started
        .actions
        .iter()
        .find(|a| a.operation == "UpdateHealthCheck")
        .expect("an inversion");
    assert_eq!(
        inversion.status,
        rebound_shared::context::ActionStatus::Done,
        "{inversion:?}"
    );
    let held = w
        .network
        .get_health_check()
        .health_check_id(&id)
        .send()
        .await
        .expect("GetHealthCheck");
    let inverted = held
        .health_check()
        .and_then(|h| h.health_check_config())
        .and_then(|c| c.inverted());
    assert_eq!(
        inverted,
        Some(true),
        "the networking account's health check is inverted"
    );
    // Rebound's own account has no such health check: only the role reaches it.
    let own = aws_sdk_route53::Client::new(&w.moto.config("us-east-1"))
        .get_health_check()
        .health_check_id(&id)
        .send()
        .await;
    assert!(own.is_err(), "the health check is the networking account's");
}
