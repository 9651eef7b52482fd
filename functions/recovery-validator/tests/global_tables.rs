//! Validation's global-table checks against moto: the recovery region's replica must still be
//! there, ACTIVE and part of the global table, after the recovery.

use rebound_shared::context::ValidationReport;
mod common;

use rebound_tests::{event, MotoServer};
use serde_json::json;

fn table_check(report: &ValidationReport) -> (bool, String) {
    report
        .checks
        .iter()
        .find(|c| c.name == "table orders-carts")
        .map(|c| (c.passed, c.detail.clone()))
        .unwrap_or_else(|| panic!("no table check in {:?}", report.checks))
}

#[tokio::test]
async fn the_recovery_replica_must_still_serve_after_the_recovery() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let east = moto.config("us-east-1");
    rebound_tests::seed::global_table(&east, "us-west-2", "orders-carts")
        .await
        .expect("global table");
    let mut request = event("recovery-validator.json");
    let plan = &mut request["context"]["plan"];
    plan["dns"] = json!([]);
    plan["services"] = json!([]);
    plan["validation"]["probes"] = json!([]);
    plan["globalTables"] = json!([{"tableName": "orders-carts"}]);
    assert_eq!(
        table_check(&common::round(&moto, &request, common::at(0)).await),
        (
            true,
            "ACTIVE replica in us-west-2 of the global table with us-east-1".to_string()
        )
    );

    // The replica is removed from the global table (and deleted): the check fails naming it.
    aws_sdk_dynamodb::Client::new(&east)
        .update_table()
        .table_name("orders-carts")
        .replica_updates(
            aws_sdk_dynamodb::types::ReplicationGroupUpdate::builder()
                .delete(
                    aws_sdk_dynamodb::types::DeleteReplicationGroupMemberAction::builder()
                        .region_name("us-west-2")
                        .build()
                        .expect("delete"),
                )
                .build(),
        )
        .send()
        .await
        .expect("UpdateTable");
    assert_eq!(
        table_check(&common::round(&moto, &request, common::at(0)).await),
        (false, "no replica in us-west-2".to_string())
    );
}
