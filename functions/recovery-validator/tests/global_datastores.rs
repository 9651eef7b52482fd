//! Validation's global datastore checks against moto (the launcher serves global datastores):
//! after the recovery, the member where the application runs must be the primary of an
//! available datastore, and its replication group available.

use rebound_shared::context::ValidationReport;
mod common;

use rebound_tests::{event, seed, wait, MotoServer};
use serde_json::json;

fn datastore_check(report: &ValidationReport, id: &str) -> (bool, String) {
    let name = format!("global datastore {id}");
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .map(|c| (c.passed, c.detail.clone()))
        .unwrap_or_else(|| panic!("no {name} check in {:?}", report.checks))
}

#[tokio::test]
async fn the_recovery_member_must_be_the_primary_of_an_available_datastore() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    moto.set_durations(&json!({"FailoverGlobalReplicationGroup": 0.5}))
        .expect("durations");
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let id = seed::cache_global_datastore(&east, &west, "sessions", ("sessions-use1", "sessions-usw2"))
        .await
        .expect("datastore");
    let mut request = event("recovery-validator.json");
    let plan = &mut request["context"]["plan"];
    plan["dns"] = json!([]);
    plan["services"] = json!([]);
    plan["validation"]["probes"] = json!([]);
    plan["globalDatastores"] = json!([{"globalReplicationGroupId": id,
        "primaryReplicationGroupId": "sessions-use1", "recoveryReplicationGroupId": "sessions-usw2"}]);

    // Not failed over: the recovery member is still a secondary.
    assert_eq!(
        datastore_check(&common::round(&moto, &request, common::at(0)).await, &id),
        (
            false,
            "sessions-usw2 in us-west-2 is SECONDARY, the datastore available".into()
        )
    );
    let fail_over = aws_sdk_elasticache::Client::new(&west)
        .failover_global_replication_group()
        .global_replication_group_id(&id)
        .primary_region("us-west-2")
        .primary_replication_group_id("sessions-usw2")
        .send();
    fail_over.await.expect("failover");
    // Under way: the old primary still takes the writes.
    assert_eq!(
        datastore_check(&common::round(&moto, &request, common::at(0)).await, &id),
        (
            false,
            "sessions-usw2 in us-west-2 is SECONDARY, the datastore modifying".into()
        )
    );
    wait::until("the failover's end", || async {
        let report = common::round(&moto, &request, common::at(0)).await;
        datastore_check(&report, &id).0.then_some(())
    })
    .await;
    assert_eq!(
        datastore_check(&common::round(&moto, &request, common::at(0)).await, &id),
        (true, "sessions-usw2 in us-west-2 is the primary, available".into())
    );

    // A plan naming a member the datastore does not have fails naming it.
    request["context"]["plan"]["globalDatastores"][0]["recoveryReplicationGroupId"] = json!("sessions-usw1");
    assert_eq!(
        datastore_check(&common::round(&moto, &request, common::at(0)).await, &id),
        (false, "has no member sessions-usw1 in us-west-2".into())
    );
}
