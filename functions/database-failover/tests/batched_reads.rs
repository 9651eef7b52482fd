//! Many databases against moto: instances are read a hundred a call on each side, a parameter
//! group shared by the old writers once, every replica's lag in one `GetMetricData`; and every
//! replica is promoted and its old writer fenced, as moto holds it.

use chrono::Utc;
use database_failover::DatabaseFailover;
use rebound_shared::context::{ActionStatus, StepStatus};
use rebound_tests::faults::FaultProxy;
use rebound_tests::{event, seed, MotoServer};
use serde_json::{json, Value};

const DATABASES: usize = 105;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_and_five_databases_are_read_in_batches_and_all_promoted_and_fenced() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    seed::parameter_group(&east, seed::PARAMETER_GROUP, "mysql")
        .await
        .expect("group");
    seed::parameter_group(&west, seed::PARAMETER_GROUP, "mysql")
        .await
        .expect("group");
    let mut databases = Vec::new();
    for i in 0..DATABASES {
        let (name, replica) = (format!("db-{i:03}"), format!("db-{i:03}-usw2"));
        let arn = seed::database_pair(&east, &west, "mysql", &name, &replica)
            .await
            .expect("pair");
        seed::replica_lag(&west, &replica, 2.0).await.expect("lag");
        databases.push(json!({"kind": "readReplica", "identifier": replica, "sourceIdentifier": arn}));
    }
    let mut request = event("database-failover.json");
    request["context"]["plan"]["databases"] = Value::Array(databases);

    let proxy = FaultProxy::start(&moto).unwrap_or_else(|e| panic!("{e}"));
    let step = DatabaseFailover::new(&proxy.regions());
    let count = |op: &str, region: &str| {
        proxy
            .calls()
            .iter()
            .filter(|c| c.operation.as_deref() == Some(op) && c.region.as_deref() == Some(region))
            .count()
    };
    let started = step.handle(request.clone(), Utc::now()).await.expect("start");
    // 105 replicas, then 105 old writers: two calls a side (100 identifiers a call).
    assert_eq!(count("DescribeDBInstances", "us-west-2"), 2, "{:?}", proxy.calls());
    assert_eq!(count("DescribeDBInstances", "us-east-1"), 2);
    assert_eq!(
        count("DescribeDBParameters", "us-east-1"),
        1,
        "one shared group, read once"
    );
    assert_eq!(count("GetMetricData", "us-west-2"), 1, "every lag in one call");
    assert_eq!(count("PromoteReadReplica", "us-west-2"), DATABASES);
    assert_eq!(started.rpo_seconds, Some(2.0));
    assert!(
        started.actions.iter().all(|a| a.status != ActionStatus::Failed),
        "{:?}",
        started.actions.iter().find(|a| a.status == ActionStatus::Failed)
    );

    // RDS promotes them over its own time: once moto shows every replica a standalone writer,
    // one poll reads all 105 in two calls and completes.
    let rds = aws_sdk_rds::Client::new(&west);
    rebound_tests::wait::until("every replica promoted", || async {
        (standalone(&rds).await == DATABASES).then_some(())
    })
    .await;
    let status = rebound_tests::wait::status_request(&request, "database", &started);
    let before = count("DescribeDBInstances", "us-west-2");
    let done = step.handle(status, Utc::now()).await.expect("status");
    assert_eq!(done.status, StepStatus::Completed, "{:?}", done.pending().next());
    assert_eq!(
        count("DescribeDBInstances", "us-west-2") - before,
        2,
        "one poll, two calls"
    );
    let parameters = aws_sdk_rds::Client::new(&east)
        .describe_db_parameters()
        .db_parameter_group_name(seed::PARAMETER_GROUP)
        .send()
        .await
        .expect("parameters");
    assert!(
        parameters
            .parameters()
            .iter()
            .any(|p| p.parameter_name() == Some("read_only") && p.parameter_value() == Some("1")),
        "{parameters:?}"
    );
}

/// How many instances where `rds` points are available writers, no longer replicas.
async fn standalone(rds: &aws_sdk_rds::Client) -> usize {
    let mut standalone = 0;
    let mut pages = rds.describe_db_instances().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.expect("page");
        standalone += page
            .db_instances()
            .iter()
            .filter(|i| {
                i.read_replica_source_db_instance_identifier().is_none() && i.db_instance_status() == Some("available")
            })
            .count();
    }
    standalone
}
