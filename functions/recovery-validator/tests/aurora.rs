//! The validator's check of a global database (Aurora's, DocumentDB's) against moto: the target
//! cluster must be the writer, and take writes.

use chrono::Utc;
use rebound_shared::context::{Check, ValidationReport};
use rebound_tests::{event, MotoServer};
use recovery_validator::{RecoveryValidator, ValidatorOutput};
use serde_json::json;

async fn round(validator: &RecoveryValidator, target: &str) -> ValidationReport {
    round_of(validator, ("orders-global", "aurora"), target).await
}

async fn round_of(validator: &RecoveryValidator, (global, engine): (&str, &str), target: &str) -> ValidationReport {
    let mut request = event("recovery-validator.json");
    let plan = &mut request["context"]["plan"];
    plan["databases"] =
        json!([{"kind": "auroraGlobal", "engine": engine, "identifier": global, "targetClusterArn": target}]);
    plan["dns"] = json!([]);
    plan["validation"]["probes"] = json!([]);
    match validator.handle(request, Utc::now()).await {
        Ok(ValidatorOutput::Validation(report)) => report,
        other => panic!("expected a validation report, got {other:?}"),
    }
}

fn global(report: &ValidationReport) -> &Check {
    named(report, "orders-global")
}

fn named<'r>(report: &'r ValidationReport, global: &str) -> &'r Check {
    report
        .checks
        .iter()
        .find(|c| c.name == format!("database {global}"))
        .unwrap_or_else(|| panic!("no global database check: {:?}", report.checks))
}

#[tokio::test]
async fn the_new_writer_must_take_writes() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let (_, target) = rebound_tests::seed::aurora_global(&east, &west, "orders-global", "sg-0a", Some(0.0), true)
        .await
        .expect("global database");
    let validator = RecoveryValidator::new(&moto.regions());

    let check = global(&round(&validator, &target).await).clone();
    assert!(check.failed(), "not failed over yet: {check:?}");
    assert!(check.detail.contains("is not the writer"), "{}", check.detail);

    aws_sdk_rds::Client::new(&west)
        .switchover_global_cluster()
        .global_cluster_identifier("orders-global")
        .target_db_cluster_identifier(&target)
        .send()
        .await
        .expect("SwitchoverGlobalCluster");
    // Aurora switches over in its own time (the launcher's "AWS's time").
    let rds = aws_sdk_rds::Client::new(&west);
    rebound_tests::wait::until("the switchover ended", || async {
        let out = rds
            .describe_global_clusters()
            .global_cluster_identifier("orders-global")
            .send()
            .await
            .ok()?;
        (out.global_clusters().first()?.status() == Some("available")).then_some(())
    })
    .await;
    let check = global(&round(&validator, &target).await).clone();
    assert!(!check.failed(), "{check:?}");
    assert_eq!(check.detail, "orders-global-west is the writer");

    // A fence left on the new writer's own cluster parameter group makes it refuse writes.
    aws_sdk_rds::Client::new(&west)
        .modify_db_cluster_parameter_group()
        .db_cluster_parameter_group_name("orders-global-params")
        .parameters(
            aws_sdk_rds::types::Parameter::builder()
                .parameter_name("read_only")
                .parameter_value("1")
                .apply_method(aws_sdk_rds::types::ApplyMethod::Immediate)
                .build(),
        )
        .send()
        .await
        .expect("ModifyDBClusterParameterGroup");
    let check = global(&round(&validator, &target).await).clone();
    assert!(check.failed(), "{check:?}");
    assert!(
        check
            .detail
            .contains("read-only: read_only is set in its DB cluster parameter group orders-global-params"),
        "{}",
        check.detail
    );
}

#[tokio::test]
async fn a_documentdb_global_databases_writer_is_read_through_documentdb() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let (_, target) = rebound_tests::seed::engine_global((&east, &west), "docdb", "graph-global", "sg-0a", None)
        .await
        .expect("global database");
    let validator = RecoveryValidator::new(&moto.regions());
    let check = named(
        &round_of(&validator, ("graph-global", "docdb"), &target).await,
        "graph-global",
    )
    .clone();
    assert!(check.failed(), "not failed over yet: {check:?}");
    assert!(check.detail.contains("is not the writer"), "{}", check.detail);

    let docdb = aws_sdk_docdb::Client::new(&west);
    docdb
        .failover_global_cluster()
        .global_cluster_identifier("graph-global")
        .target_db_cluster_identifier(&target)
        .allow_data_loss(true)
        .send()
        .await
        .expect("FailoverGlobalCluster");
    rebound_tests::wait::until("the failover ended", || async {
        let out = docdb
            .describe_global_clusters()
            .global_cluster_identifier("graph-global")
            .send()
            .await
            .ok()?;
        (out.global_clusters().first()?.status() == Some("available")).then_some(())
    })
    .await;
    let check = named(
        &round_of(&validator, ("graph-global", "docdb"), &target).await,
        "graph-global",
    )
    .clone();
    assert!(!check.failed(), "{check:?}");
    assert_eq!(check.detail, "graph-global-west is the writer");

    // A global cluster DocumentDB does not know fails, named.
    let check = named(
        &round_of(&validator, ("gone-global", "docdb"), &target).await,
        "gone-global",
    )
    .clone();
    assert!(check.failed(), "{check:?}");
    assert!(check.detail.contains("global cluster not found"), "{}", check.detail);
}
