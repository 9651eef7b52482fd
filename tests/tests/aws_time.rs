//! The launcher's "AWS's time": each change that takes time on AWS shows its documented
//! intermediate states for a duration the test sets, shown against moto as released (instant)
//! and as patched. Every check waits on a state (`wait::until`), never on a guess of the clock.

use aws_sdk_rds::error::ProvideErrorMetadata;
use aws_sdk_rds::Client;
use rebound_tests::{seed, wait, MotoServer};
use serde_json::json;

/// (status, source) of the seeded replica.
async fn replica(west: &Client) -> (String, Option<String>) {
    let out = west
        .describe_db_instances()
        .db_instance_identifier("orders-db-usw2")
        .send()
        .await
        .expect("describe");
    let i = &out.db_instances()[0];
    (
        i.db_instance_status().unwrap_or_default().to_string(),
        i.read_replica_source_db_instance_identifier().map(str::to_string),
    )
}

#[tokio::test]
async fn a_promotion_is_modifying_then_rebooting_with_its_source_set_until_it_ends() {
    // As released: standalone at once (and, moto's own gap, still naming its source).
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    seed::database_with_replica(&released.config("us-east-1"), &released.config("us-west-2"), "mysql")
        .await
        .expect("seeded");
    let west = Client::new(&released.config("us-west-2"));
    west.promote_read_replica()
        .db_instance_identifier("orders-db-usw2")
        .send()
        .await
        .expect("promote");
    assert_eq!(replica(&west).await.0, "available", "moto as released: done at once");

    // Patched: two seconds, modifying, then rebooting, the source set until the end.
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    moto.set_durations(&json!({"PromoteReadReplica": 2.0}))
        .expect("durations");
    let source = seed::database_with_replica(&moto.config("us-east-1"), &moto.config("us-west-2"), "mysql")
        .await
        .expect("seeded");
    let west = Client::new(&moto.config("us-west-2"));
    let answer = west
        .promote_read_replica()
        .db_instance_identifier("orders-db-usw2")
        .send()
        .await
        .expect("promote");
    assert_eq!(
        answer.db_instance().and_then(|i| i.db_instance_status()),
        Some("modifying"),
        "the answer describes the promotion starting"
    );
    assert_eq!(replica(&west).await, ("modifying".to_string(), Some(source.clone())));
    // The SDK's retry of a promotion whose answer was lost meets the promotion under way.
    let again = west
        .promote_read_replica()
        .db_instance_identifier("orders-db-usw2")
        .send()
        .await
        .expect_err("under way");
    assert_eq!(again.code(), Some("InvalidDBInstanceState"));
    // Until it is available, it is modifying or rebooting, and a replica of its source.
    let seen = std::cell::RefCell::new(Vec::new());
    wait::until("the promotion ended", || async {
        let (status, from) = replica(&west).await;
        seen.borrow_mut().push(status.clone());
        if status == "available" {
            assert_eq!(from, None, "promoted: no longer a replica");
            return Some(());
        }
        assert!(["modifying", "rebooting"].contains(&status.as_str()), "{status}");
        assert_eq!(from.as_deref(), Some(source.as_str()), "a replica while {status}");
        None
    })
    .await;
    let seen = seen.into_inner();
    assert!(seen.len() > 1, "seen under way first: {seen:?}");
}

#[tokio::test]
async fn durations_are_set_per_operation_and_unknown_ones_refused() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    moto.set_durations(&json!({"PromoteReadReplica": 0.1, "FailoverGlobalCluster": 0.2}))
        .expect("known operations");
    let err = moto
        .set_durations(&json!({"CreateTable": 1}))
        .expect_err("no modelled duration for it");
    assert!(err.to_string().contains("HTTP 400"), "{err}");
}

/// (status, FailoverState's target, writer) of the seeded global database.
async fn global(east: &Client) -> (String, Option<String>, Option<String>) {
    let out = east
        .describe_global_clusters()
        .global_cluster_identifier("orders-global")
        .send()
        .await
        .expect("DescribeGlobalClusters");
    let g = &out.global_clusters()[0];
    (
        g.status().unwrap_or_default().to_string(),
        g.failover_state()
            .and_then(|f| f.to_db_cluster_arn())
            .map(str::to_string),
        g.global_cluster_members()
            .iter()
            .find(|m| m.is_writer() == Some(true))
            .and_then(|m| m.db_cluster_arn())
            .map(str::to_string),
    )
}

#[tokio::test]
async fn a_global_failover_is_failing_over_with_the_old_writer_still_writer_until_it_ends() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    moto.set_durations(&json!({"FailoverGlobalCluster": 1.5, "SwitchoverGlobalCluster": 1.5}))
        .expect("durations");
    let (east_config, west_config) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let (writer, secondary) = seed::aurora_global(&east_config, &west_config, "orders-global", "sg-0a", None, false)
        .await
        .expect("seeded");
    let east = Client::new(&east_config);
    let fail_over = || {
        east.failover_global_cluster()
            .global_cluster_identifier("orders-global")
            .target_db_cluster_identifier(&secondary)
            .allow_data_loss(true)
            .send()
    };
    fail_over().await.expect("failover");
    assert_eq!(
        global(&east).await,
        (
            "failing-over".to_string(),
            Some(secondary.clone()),
            Some(writer.clone())
        )
    );
    let retried = fail_over().await.expect_err("under way");
    assert_eq!(retried.code(), Some("InvalidGlobalClusterStateFault"));
    let ended = wait::until("the failover ended", || async {
        let g = global(&east).await;
        (g.0 == "available").then_some(g)
    })
    .await;
    assert_eq!(ended, ("available".to_string(), None, Some(secondary.clone())));

    // A switchover back shows its own status.
    east.switchover_global_cluster()
        .global_cluster_identifier("orders-global")
        .target_db_cluster_identifier(&writer)
        .send()
        .await
        .expect("switchover");
    assert_eq!(global(&east).await.0, "switching-over");
}
