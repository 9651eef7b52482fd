//! Validation's global datastore checks against moto (the launcher serves global datastores
//! and multi-Region clusters): after the recovery, the member where the application runs must
//! be the primary of an available datastore, and its replication group available; a MemoryDB
//! multi-Region cluster must have its regional cluster there, available.

use rebound_shared::context::ValidationReport;
mod common;

use rebound_tests::{event, seed, wait, MotoServer};
use serde_json::json;

fn datastore_check(report: &ValidationReport, id: &str) -> (bool, String) {
    named_check(report, &format!("global datastore {id}"))
}

fn named_check(report: &ValidationReport, name: &str) -> (bool, String) {
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

#[tokio::test]
async fn the_regional_cluster_where_the_application_runs_must_be_a_member_and_available() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let name = seed::memorydb_multi_region_cluster(&east, &west, "orders", ("orders-use1", "orders-usw2"))
        .await
        .expect("multi-Region cluster");
    let mut request = event("recovery-validator.json");
    let plan = &mut request["context"]["plan"];
    plan["dns"] = json!([]);
    plan["services"] = json!([]);
    plan["validation"]["probes"] = json!([]);
    plan["multiRegionClusters"] = json!([{"multiRegionClusterName": name,
        "primaryClusterName": "orders-use1", "recoveryClusterName": "orders-usw2"}]);
    let check_name = format!("multi-Region cluster {name}");
    assert_eq!(
        named_check(&common::round(&moto, &request, common::at(0)).await, &check_name),
        (true, "orders-usw2 in us-west-2 takes the writes, available".into())
    );

    // A plan naming a cluster that is not a member fails naming the members.
    let mut stranger = request.clone();
    stranger["context"]["plan"]["multiRegionClusters"][0]["recoveryClusterName"] = json!("orders-usw2-b");
    assert_eq!(
        named_check(&common::round(&moto, &stranger, common::at(0)).await, &check_name),
        (
            false,
            "has no regional cluster orders-usw2-b in us-west-2 (regional clusters: orders-use1 in us-east-1, orders-usw2 in us-west-2)".into()
        )
    );

    // The regional cluster gone from its region: nothing takes the writes there.
    aws_sdk_memorydb::Client::new(&west)
        .delete_cluster()
        .cluster_name("orders-usw2")
        .send()
        .await
        .expect("deleted");
    assert_eq!(
        named_check(&common::round(&moto, &request, common::at(0)).await, &check_name),
        (false, "orders-usw2 in us-west-2 takes the writes, not found".into())
    );
}
