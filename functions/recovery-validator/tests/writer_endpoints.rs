//! Validation's writer-endpoint checks against moto: each place the application reads its
//! database's writer from must name the writer database-failover made.

use chrono::Utc;
use database_failover::DatabaseFailover;
use rebound_shared::context::{Check, ValidationReport};
mod common;

use rebound_tests::{event, MotoServer};
use serde_json::json;

async fn host(config: &aws_config::SdkConfig, id: &str) -> String {
    aws_sdk_rds::Client::new(config)
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .expect("describe")
        .db_instances()[0]
        .endpoint()
        .and_then(|e| e.address())
        .expect("address")
        .to_string()
}

fn endpoint_check<'a>(report: &'a ValidationReport, resource: &str) -> &'a Check {
    let name = format!("writer endpoint {resource}");
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} in {:?}", report.checks))
}

#[tokio::test]
async fn an_endpoint_still_naming_the_old_writer_fails_until_the_failover_points_it() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let arn = rebound_tests::seed::database_with_replica(&east, &west, "postgres")
        .await
        .expect("database");
    rebound_tests::seed::replica_lag(&west, "orders-db-usw2", 1.0)
        .await
        .expect("lag");
    let (old, new) = (host(&east, "orders-db").await, host(&west, "orders-db-usw2").await);
    rebound_tests::seed::writer_endpoints(&west, "/orders/db/host", "orders/db", None, &old)
        .await
        .expect("endpoints");

    let mut request = event("recovery-validator.json");
    let plan = &mut request["context"]["plan"];
    plan["dns"] = json!([]);
    plan["services"] = json!([]);
    plan["validation"]["probes"] = json!([]);
    plan["databases"][0]["sourceIdentifier"] = json!(arn);
    plan["writerEndpoints"] = json!([
        {"kind": "ssmParameter", "database": "orders-db-usw2", "name": "/orders/db/host"},
        {"kind": "secret", "database": "orders-db-usw2", "secretId": "orders/db"}
    ]);
    let before = common::round(&moto, &request, common::at(1)).await;
    // A String parameter's host is shown; what a secret holds only by its fingerprint.
    let key = request["context"]["recoveryId"].as_str().expect("id");
    let sealed = format!(
        "a host that is not shown (fingerprint {})",
        rebound_shared::endpoints::fingerprint(key, &old)
    );
    for (resource, held) in [
        ("ssm:/orders/db/host", old.as_str()),
        ("secretsmanager:orders/db#host", &sealed),
    ] {
        let check = endpoint_check(&before, resource);
        assert!(!check.passed, "{check:?}");
        assert_eq!(
            check.detail,
            format!("points at {held}, not at {new}, the writer of orders-db-usw2")
        );
    }

    // database-failover promotes the replica and points both at it.
    let mut failover = event("database-failover.json");
    failover["context"]["plan"] = request["context"]["plan"].clone();
    let steps = DatabaseFailover::new(&moto.regions());
    let started = steps.handle(failover.clone(), Utc::now()).await.expect("start");
    let steps = &steps;
    rebound_tests::wait::step_completed(&failover, "database", started, |status| async move {
        steps.handle(status, Utc::now()).await.expect("status")
    })
    .await;
    let after = common::round(&moto, &request, common::at(1)).await;
    for resource in ["ssm:/orders/db/host", "secretsmanager:orders/db#host"] {
        let check = endpoint_check(&after, resource);
        assert!(check.passed, "{check:?}");
        assert_eq!(check.detail, format!("points at {new}, the writer of orders-db-usw2"));
    }
}
