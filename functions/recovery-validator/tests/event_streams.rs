//! Validation's event-stream checks against moto: the consumer on where the application runs,
//! off where it left.

use rebound_shared::context::{Check, ValidationReport};
mod common;

use rebound_tests::{event, MotoServer};
use serde_json::json;

fn stream_checks(report: &ValidationReport) -> Vec<&Check> {
    report
        .checks
        .iter()
        .filter(|c| c.name.starts_with("event source mapping"))
        .collect()
}

#[tokio::test]
async fn a_consumer_left_running_in_the_old_region_fails_validation() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    // As a failover leaves them: off in us-east-1, on in us-west-2.
    let primary = rebound_tests::seed::queue_consumer(&east, "orders-consumer", false)
        .await
        .expect("primary");
    let recovery = rebound_tests::seed::queue_consumer(&west, "orders-consumer", true)
        .await
        .expect("recovery");
    let mut request = event("recovery-validator.json");
    let plan = &mut request["context"]["plan"];
    plan["dns"] = json!([]);
    plan["services"] = json!([]);
    plan["validation"]["probes"] = json!([]);
    plan["eventSourceMappings"] = json!([{"primaryUuid": primary, "recoveryUuid": recovery}]);
    let report = common::round(&moto, &request, common::at(0)).await;
    let checks = stream_checks(&report);
    assert_eq!(checks.len(), 2);
    assert!(checks.iter().all(|c| c.passed), "{checks:?}");

    // Someone turns the old region's consumer back on: it would process twice.
    aws_sdk_lambda::Client::new(&east)
        .update_event_source_mapping()
        .uuid(&primary)
        .enabled(true)
        .send()
        .await
        .expect("UpdateEventSourceMapping");
    let report = common::round(&moto, &request, common::at(0)).await;
    let old = stream_checks(&report)
        .into_iter()
        .find(|c| c.name.contains("us-east-1"))
        .expect("primary check");
    assert!(!old.passed);
    // Lambda takes its time: on its way to Enabled is not Disabled either.
    assert!(
        ["Enabling, not Disabled", "Enabled, not Disabled"].contains(&old.detail.as_str()),
        "{}",
        old.detail
    );
}

#[tokio::test]
async fn a_consumer_in_another_account_is_read_as_its_role() {
    const APPS: &str = "arn:aws:iam::222222222222:role/rebound-apps";
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let east = rebound_tests::seed::as_role(&moto.config("us-east-1"), APPS)
        .await
        .expect("the role");
    let west = rebound_tests::seed::as_role(&moto.config("us-west-2"), APPS)
        .await
        .expect("the role");
    let primary = rebound_tests::seed::queue_consumer(&east, "orders-consumer", false)
        .await
        .expect("primary");
    let recovery = rebound_tests::seed::queue_consumer(&west, "orders-consumer", true)
        .await
        .expect("recovery");
    let mut request = event("recovery-validator.json");
    let plan = &mut request["context"]["plan"];
    plan["dns"] = json!([]);
    plan["services"] = json!([]);
    plan["validation"]["probes"] = json!([]);
    plan["accounts"] = json!({"apps": {"roleArn": APPS}});
    plan["eventSourceMappings"] = json!([{"primaryUuid": primary, "recoveryUuid": recovery, "account": "apps"}]);
    let report = common::round(&moto, &request, common::at(0)).await;
    let checks = stream_checks(&report);
    assert_eq!(checks.len(), 2);
    assert!(checks.iter().all(|c| c.passed), "{checks:?}");

    // Read in Rebound's own account, neither is there.
    request["context"]["plan"]["eventSourceMappings"][0]
        .as_object_mut()
        .expect("mapping")
        .remove("account");
    let report = common::round(&moto, &request, common::at(0)).await;
    let checks = stream_checks(&report);
    assert!(
        checks
            .iter()
            .any(|c| !c.passed && c.detail == "no such event source mapping"),
        "{checks:?}"
    );
}
