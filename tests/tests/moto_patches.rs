//! Each patch in tests/harness/moto/launcher.py, shown against moto as released and as patched.

use aws_sdk_rds::Client;
use rebound_tests::{seed, MotoServer};

async fn promote_cross_region_replica(moto: &MotoServer) -> (Option<String>, Vec<String>) {
    let east = Client::new(&moto.config("us-east-1"));
    let west = Client::new(&moto.config("us-west-2"));
    seed::database_with_replica(&moto.config("us-east-1"), &moto.config("us-west-2"), "postgres")
        .await
        .expect("seeded");
    west.promote_read_replica()
        .db_instance_identifier("orders-db-usw2")
        .send()
        .await
        .expect("PromoteReadReplica");
    // Patched, the promotion takes its time (tests/tests/aws_time.rs): read it once it ended.
    let replica = rebound_tests::wait::until("the promotion ended", || async {
        let out = west
            .describe_db_instances()
            .db_instance_identifier("orders-db-usw2")
            .send()
            .await
            .expect("describe");
        (out.db_instances()[0].db_instance_status() == Some("available")).then_some(out)
    })
    .await;
    let source = replica.db_instances()[0]
        .read_replica_source_db_instance_identifier()
        .map(str::to_string);
    let primary = east
        .describe_db_instances()
        .db_instance_identifier("orders-db")
        .send()
        .await
        .expect("describe");
    (
        source,
        primary.db_instances()[0]
            .read_replica_db_instance_identifiers()
            .to_vec(),
    )
}

#[tokio::test]
async fn a_promoted_cross_region_replica_is_no_longer_a_replica() {
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    let (source, replicas) = promote_cross_region_replica(&released).await;
    assert!(
        source.is_some(),
        "moto as released keeps the source (the gap the launcher patches)"
    );
    assert_eq!(replicas.len(), 1);

    let patched = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (source, replicas) = promote_cross_region_replica(&patched).await;
    assert_eq!(source, None);
    assert!(replicas.is_empty(), "{replicas:?}");
}

/// Promotes the seeded replica twice; returns the second call's error code, if any.
async fn promote_twice(moto: &MotoServer) -> Option<String> {
    use aws_sdk_rds::error::ProvideErrorMetadata;
    let west = Client::new(&moto.config("us-west-2"));
    seed::database_with_replica(&moto.config("us-east-1"), &moto.config("us-west-2"), "mysql")
        .await
        .expect("seeded");
    let promote = || {
        west.promote_read_replica()
            .db_instance_identifier("orders-db-usw2")
            .send()
    };
    promote().await.expect("the first promotion");
    promote().await.err().and_then(|e| e.code().map(str::to_string))
}

#[tokio::test]
async fn a_second_promotion_is_refused_as_rds_refuses_it() {
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        promote_twice(&released).await,
        None,
        "moto as released promotes again (the gap)"
    );
    let patched = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(promote_twice(&patched).await.as_deref(), Some("InvalidDBInstanceState"));
}

/// Creates a replica of the seeded primary in us-east-1 twice under one name; returns the
/// second call's error code, if any, and the first replica's status right after its answer.
async fn create_replica_twice(moto: &MotoServer) -> (Option<String>, Option<String>) {
    use aws_sdk_rds::error::ProvideErrorMetadata;
    let east = Client::new(&moto.config("us-east-1"));
    seed::database(&moto.config("us-east-1"), "orders-db", "postgres")
        .await
        .expect("seeded");
    let create = || {
        east.create_db_instance_read_replica()
            .db_instance_identifier("orders-db-copy")
            .source_db_instance_identifier("orders-db")
            .send()
    };
    let first = create().await.expect("the first replica");
    let status = first
        .db_instance()
        .and_then(|i| i.db_instance_status())
        .map(str::to_string);
    (create().await.err().and_then(|e| e.code().map(str::to_string)), status)
}

#[tokio::test]
async fn a_second_replica_of_one_name_is_refused_and_a_new_one_is_creating_as_rds_has_them() {
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        create_replica_twice(&released).await,
        (None, Some("available".into())),
        "moto as released replaces the instance, and has it available at once (the gaps)"
    );
    let patched = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    patched
        .set_durations(&serde_json::json!({"CreateDBInstanceReadReplica": 2.0}))
        .expect("durations");
    assert_eq!(
        create_replica_twice(&patched).await,
        (Some("DBInstanceAlreadyExists".into()), Some("creating".into()))
    );
}

/// Creates, deletes and creates again an Aurora cluster of one name within a minute; returns
/// the second creation's error code, if any.
async fn create_a_cluster_again(moto: &MotoServer) -> Option<String> {
    use aws_sdk_rds::error::ProvideErrorMetadata;
    let east = Client::new(&moto.config("us-east-1"));
    let create = || {
        east.create_db_cluster()
            .db_cluster_identifier("orders-east")
            .engine("aurora-mysql")
            .master_username("admin")
            .master_user_password("not-a-real-password")
            .send()
    };
    create().await.expect("the first cluster");
    east.delete_db_cluster()
        .db_cluster_identifier("orders-east")
        .skip_final_snapshot(true)
        .send()
        .await
        .expect("deleted");
    create().await.err().and_then(|e| e.code().map(str::to_string))
}

#[tokio::test]
async fn a_cluster_created_again_under_its_name_is_created_as_rds_creates_it() {
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    let code = create_a_cluster_again(&released).await;
    // Within the minute moto names its automated backup by (the gap); past it, no collision.
    assert!(
        code.is_none() || code.as_deref() == Some("DBClusterSnapshotAlreadyExistsFault"),
        "{code:?}"
    );
    let patched = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(create_a_cluster_again(&patched).await, None);
}

/// Restores a cross-region MySQL replica to a point in time; returns the new instance's source.
async fn restore_a_replica(moto: &MotoServer) -> Option<String> {
    let west = Client::new(&moto.config("us-west-2"));
    seed::database_with_replica(&moto.config("us-east-1"), &moto.config("us-west-2"), "mysql")
        .await
        .expect("seeded");
    let restored = west
        .restore_db_instance_to_point_in_time()
        .source_db_instance_identifier("orders-db-usw2")
        .target_db_instance_identifier("orders-db-restored")
        .use_latest_restorable_time(true)
        .send()
        .await
        .expect("RestoreDBInstanceToPointInTime");
    restored
        .db_instance()
        .and_then(|d| d.read_replica_source_db_instance_identifier())
        .map(str::to_string)
}

/// Restores a snapshot of a cross-region MySQL replica; returns the new instance's source.
async fn restore_a_replicas_snapshot(moto: &MotoServer) -> Option<String> {
    let west = Client::new(&moto.config("us-west-2"));
    seed::database_with_replica(&moto.config("us-east-1"), &moto.config("us-west-2"), "mysql")
        .await
        .expect("seeded");
    west.create_db_snapshot()
        .db_instance_identifier("orders-db-usw2")
        .db_snapshot_identifier("orders-db-usw2-nightly")
        .send()
        .await
        .expect("CreateDBSnapshot");
    let restored = west
        .restore_db_instance_from_db_snapshot()
        .db_snapshot_identifier("orders-db-usw2-nightly")
        .db_instance_identifier("orders-db-from-snapshot")
        .send()
        .await
        .expect("RestoreDBInstanceFromDBSnapshot");
    restored
        .db_instance()
        .and_then(|d| d.read_replica_source_db_instance_identifier())
        .map(str::to_string)
}

#[tokio::test]
async fn an_instance_restored_from_a_replica_is_standalone() {
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        restore_a_replica(&released).await.is_some(),
        "moto as released restores a replica of the source (the gap)"
    );
    let patched = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(restore_a_replica(&patched).await, None);

    // The same from a snapshot of the replica (RestoreDBInstanceFromDBSnapshot).
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        restore_a_replicas_snapshot(&released).await.is_some(),
        "moto as released restores a snapshot of a replica as a replica (the gap)"
    );
    let patched = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(restore_a_replicas_snapshot(&patched).await, None);
}

async fn put_and_read_a_metric(moto: &MotoServer) -> Result<Vec<f64>, String> {
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat};
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&moto.config("us-west-2"));
    let now = aws_smithy_types::DateTime::from_secs(chrono::Utc::now().timestamp());
    let dimension = Dimension::builder()
        .name("DBInstanceIdentifier")
        .value("orders-db-usw2")
        .build();
    cloudwatch
        .put_metric_data()
        .namespace("AWS/RDS")
        .metric_data(
            MetricDatum::builder()
                .metric_name("ReplicaLag")
                .dimensions(dimension.clone())
                .value(7.5)
                .timestamp(now)
                .build(),
        )
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let query = MetricDataQuery::builder()
        .id("lag")
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace("AWS/RDS")
                        .metric_name("ReplicaLag")
                        .dimensions(dimension)
                        .build(),
                )
                .period(60)
                .stat("Maximum")
                .build(),
        )
        .build();
    let out = cloudwatch
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(aws_smithy_types::DateTime::from_secs(now.secs() - 600))
        .end_time(aws_smithy_types::DateTime::from_secs(now.secs() + 60))
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let result = &out.metric_data_results()[0];
    assert_eq!(result.timestamps().len(), result.values().len());
    Ok(result.values().to_vec())
}

#[tokio::test]
async fn cloudwatch_answers_the_cbor_protocol_aws_speaks() {
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    let err = put_and_read_a_metric(&released)
        .await
        .expect_err("moto as released has no CBOR endpoint");
    assert!(err.contains("404"), "{err}");

    let patched = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let values = put_and_read_a_metric(&patched)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", patched.log()));
    assert_eq!(values, vec![7.5]);
    // Errors keep their AWS code through the translation.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&patched.config("us-west-2"));
    let err = cloudwatch
        .get_dashboard()
        .dashboard_name("no-such-dashboard")
        .send()
        .await
        .expect_err("no dashboard");
    let code = aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&err).map(str::to_string);
    assert_eq!(code.as_deref(), Some("ResourceNotFound"), "{err:?}");
}

/// Puts a metric with two dimensions in one order and reads it with them in the other.
async fn read_in_another_order(moto: &MotoServer) -> Vec<f64> {
    use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricDatum, MetricStat};
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&moto.config("us-east-1"));
    let now = aws_smithy_types::DateTime::from_secs(chrono::Utc::now().timestamp());
    let cluster = Dimension::builder().name("ClusterName").value("orders-use1").build();
    let service = Dimension::builder().name("ServiceName").value("orders-api").build();
    cloudwatch
        .put_metric_data()
        .namespace("ECS/ContainerInsights")
        .metric_data(
            MetricDatum::builder()
                .metric_name("RunningTaskCount")
                .dimensions(cluster.clone())
                .dimensions(service.clone())
                .value(10.0)
                .timestamp(now)
                .build(),
        )
        .send()
        .await
        .expect("PutMetricData");
    let metric = Metric::builder()
        .namespace("ECS/ContainerInsights")
        .metric_name("RunningTaskCount")
        .dimensions(service)
        .dimensions(cluster)
        .build();
    let out = cloudwatch
        .get_metric_data()
        .metric_data_queries(
            MetricDataQuery::builder()
                .id("tasks")
                .metric_stat(
                    MetricStat::builder()
                        .metric(metric)
                        .period(3600)
                        .stat("Maximum")
                        .build(),
                )
                .build(),
        )
        .start_time(aws_smithy_types::DateTime::from_secs(now.secs() - 3600))
        .end_time(aws_smithy_types::DateTime::from_secs(now.secs() + 60))
        .send()
        .await
        .expect("GetMetricData");
    out.metric_data_results()[0].values().to_vec()
}

#[tokio::test]
async fn a_metric_is_its_set_of_dimensions_in_any_order_as_cloudwatch_reads_it() {
    // moto as released cannot be asked through the SDK at all (it has no CBOR endpoint, above);
    // through boto3 it answers this query with no value.
    let patched = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(read_in_another_order(&patched).await, vec![10.0]);
}

/// Creates a health check that follows a CloudWatch alarm; returns the alarm GetHealthCheck
/// names, as (region, name).
async fn health_check_on_an_alarm(moto: &MotoServer) -> Option<(String, String)> {
    use aws_sdk_route53::types::{AlarmIdentifier, CloudWatchRegion, HealthCheckConfig, HealthCheckType};
    let route53 = aws_sdk_route53::Client::new(&moto.config("us-east-1"));
    let created = route53
        .create_health_check()
        .caller_reference("gate")
        .health_check_config(
            HealthCheckConfig::builder()
                .r#type(HealthCheckType::CloudwatchMetric)
                .alarm_identifier(
                    AlarmIdentifier::builder()
                        .region(CloudWatchRegion::UsWest2)
                        .name("orders-primary-gate")
                        .build()
                        .expect("alarm identifier"),
                )
                .build()
                .expect("config"),
        )
        .send()
        .await
        .expect("CreateHealthCheck");
    let id = created.health_check().expect("health check").id().to_string();
    let read = route53
        .get_health_check()
        .health_check_id(id)
        .send()
        .await
        .expect("GetHealthCheck");
    read.health_check()
        .and_then(|h| h.health_check_config())
        .and_then(|c| c.alarm_identifier())
        .map(|a| (a.region().as_str().to_string(), a.name().to_string()))
}

#[tokio::test]
async fn a_health_check_keeps_the_alarm_it_follows() {
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        health_check_on_an_alarm(&released).await,
        None,
        "moto as released drops AlarmIdentifier (the gap)"
    );
    let patched = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        health_check_on_an_alarm(&patched).await,
        Some(("us-west-2".to_string(), "orders-primary-gate".to_string()))
    );
}

/// The global database's writer cluster, as moto holds it once no failover is under way.
async fn global_writer(east: &Client) -> Option<String> {
    let out = rebound_tests::wait::until("the global database available", || async {
        let out = east
            .describe_global_clusters()
            .global_cluster_identifier("orders-global")
            .send()
            .await
            .expect("DescribeGlobalClusters");
        (out.global_clusters()[0].status() == Some("available")).then_some(out)
    })
    .await;
    out.global_clusters()[0]
        .global_cluster_members()
        .iter()
        .find(|m| m.is_writer() == Some(true))
        .and_then(|m| m.db_cluster_arn().map(str::to_string))
}

/// Switches a seeded global database over to its secondary, then fails it back over with
/// AllowDataLoss; returns each call's error code (None: it succeeded) and the writer after it.
async fn switch_and_fail_over(moto: &MotoServer) -> Vec<(Option<String>, Option<String>)> {
    use aws_sdk_rds::error::ProvideErrorMetadata;
    let (east_config, west_config) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let (writer, secondary) = seed::aurora_global(&east_config, &west_config, "orders-global", "sg-0a", None, false)
        .await
        .expect("seeded");
    let east = Client::new(&east_config);
    let switched = east
        .switchover_global_cluster()
        .global_cluster_identifier("orders-global")
        .target_db_cluster_identifier(&secondary)
        .send()
        .await;
    let first = (
        switched.err().and_then(|e| e.code().map(str::to_string)),
        global_writer(&east).await,
    );
    let failed = east
        .failover_global_cluster()
        .global_cluster_identifier("orders-global")
        .target_db_cluster_identifier(&writer)
        .allow_data_loss(true)
        .send()
        .await;
    let second = (
        failed.err().and_then(|e| e.code().map(str::to_string)),
        global_writer(&east).await,
    );
    vec![first, second]
}

#[tokio::test]
async fn a_global_database_switches_over_and_fails_over_as_aurora_does() {
    use aws_sdk_rds::error::ProvideErrorMetadata;
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    let calls = switch_and_fail_over(&released).await;
    assert!(
        calls.iter().all(|(_, writer)| writer
            .as_deref()
            .is_some_and(|w| w.ends_with(":cluster:orders-global-east"))),
        "moto as released answers and leaves the writer where it was (the gap): {calls:?}"
    );

    let patched = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let calls = switch_and_fail_over(&patched).await;
    let east = Client::new(&patched.config("us-east-1"));
    let arn = |side: &str| format!("arn:aws:rds:{side}:123456789012:cluster:orders-global-");
    assert_eq!(calls[0].0, None, "{calls:?}");
    assert!(
        calls[0].1.as_deref().is_some_and(|w| w.starts_with(&arn("us-west-2"))),
        "{calls:?}"
    );
    assert_eq!(calls[1].0, None, "{calls:?}");
    assert!(
        calls[1].1.as_deref().is_some_and(|w| w.starts_with(&arn("us-east-1"))),
        "{calls:?}"
    );

    // The primary is no secondary to promote; a cluster outside the global database is not
    // found; nor is a global database that does not exist.
    let writer = global_writer(&east).await.expect("writer");
    let refused = |global: &'static str, target: String| {
        let east = east.clone();
        async move {
            east.switchover_global_cluster()
                .global_cluster_identifier(global)
                .target_db_cluster_identifier(target)
                .send()
                .await
                .err()
                .and_then(|e| e.code().map(str::to_string))
        }
    };
    assert_eq!(
        refused("orders-global", writer.clone()).await.as_deref(),
        Some("InvalidGlobalClusterStateFault")
    );
    assert_eq!(
        refused("orders-global", "orders-elsewhere".into()).await.as_deref(),
        Some("DBClusterNotFoundFault")
    );
    assert_eq!(
        refused("no-such-global", writer.clone()).await.as_deref(),
        Some("GlobalClusterNotFoundFault")
    );
    // Both AllowDataLoss and Switchover is refused.
    let both = east
        .failover_global_cluster()
        .global_cluster_identifier("orders-global")
        .target_db_cluster_identifier(&writer)
        .allow_data_loss(true)
        .switchover(true)
        .send()
        .await;
    assert_eq!(
        both.err().and_then(|e| e.code().map(str::to_string)).as_deref(),
        Some("InvalidParameterCombination")
    );
}

/// Makes `orders-carts` a global table (us-east-1 with a us-west-2 replica); returns whether the
/// us-west-2 replica exists and the replicas us-east-1 describes.
async fn global_table(moto: &MotoServer) -> (bool, Vec<(String, String)>) {
    seed::global_table(&moto.config("us-east-1"), "us-west-2", "orders-carts")
        .await
        .expect("seeded");
    let describe = |region: &'static str| {
        let client = aws_sdk_dynamodb::Client::new(&moto.config(region));
        async move { client.describe_table().table_name("orders-carts").send().await }
    };
    let west = describe("us-west-2").await.is_ok();
    let east = describe("us-east-1").await.expect("DescribeTable");
    let replicas = east
        .table()
        .map(|t| t.replicas())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            (
                r.region_name().unwrap_or_default().to_string(),
                r.replica_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            )
        })
        .collect();
    (west, replicas)
}

#[tokio::test]
async fn a_replica_update_makes_a_global_table_replica_as_dynamodb_does() {
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        global_table(&released).await,
        (false, Vec::new()),
        "moto as released ignores ReplicaUpdates (the gap)"
    );
    let patched = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        global_table(&patched).await,
        (true, vec![("us-west-2".to_string(), "ACTIVE".to_string())])
    );
}

/// Creates the state machine and starts it; returns the execution's ARN.
async fn started(sfn: &aws_sdk_sfn::Client, name: &str, definition: &serde_json::Value) -> String {
    let machine = sfn
        .create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/states")
        .send()
        .await
        .expect("CreateStateMachine");
    sfn.start_execution()
        .state_machine_arn(machine.state_machine_arn())
        .send()
        .await
        .expect("StartExecution")
        .execution_arn()
        .to_string()
}

/// Starts a one-task execution waiting on its token, rejects it with a cause, and returns the
/// cause the history's ExecutionFailed event holds.
async fn rejected_cause(moto: &MotoServer) -> Option<String> {
    moto.execute_state_machines().expect("moto runs executions");
    let config = moto.config("us-west-2");
    let (sfn, sqs) = (aws_sdk_sfn::Client::new(&config), aws_sdk_sqs::Client::new(&config));
    let queue = sqs.create_queue().queue_name("asks").send().await.expect("CreateQueue");
    let queue = queue.queue_url().expect("url").to_string();
    let definition = serde_json::json!({"StartAt": "Ask", "States": {"Ask": {"Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue, "MessageBody": {"token.$": "$$.Task.Token"}}, "End": true}}});
    let execution = started(&sfn, "ask", &definition).await;
    let message = sqs
        .receive_message()
        .queue_url(&queue)
        .wait_time_seconds(5)
        .send()
        .await
        .expect("ReceiveMessage");
    let body: serde_json::Value = serde_json::from_str(message.messages()[0].body().expect("body")).expect("JSON");
    sfn.send_task_failure()
        .task_token(body["token"].as_str().expect("token"))
        .error("Rebound.ApprovalRejected")
        .cause("the primary is back")
        .send()
        .await
        .expect("SendTaskFailure");
    for _ in 0..50 {
        let history = sfn
            .get_execution_history()
            .execution_arn(&execution)
            .send()
            .await
            .expect("GetExecutionHistory");
        if let Some(failed) = history.events().iter().find_map(|e| e.execution_failed_event_details()) {
            return failed.cause().map(String::from);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the execution did not fail");
}

#[tokio::test]
async fn a_task_failure_keeps_its_cause_as_step_functions_does() {
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        rejected_cause(&released).await,
        None,
        "moto as released drops SendTaskFailure's cause (the gap)"
    );
    let patched = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rejected_cause(&patched).await.as_deref(), Some("the primary is back"));
}

/// Runs a five-state execution to its end; returns what one GetExecutionHistory call of at
/// most 4 events, newest first, answers: the ids, and whether a next page is announced.
async fn newest_four(moto: &MotoServer) -> (Vec<i64>, bool, usize) {
    moto.execute_state_machines().expect("moto runs executions");
    let sfn = aws_sdk_sfn::Client::new(&moto.config("us-west-2"));
    let states: serde_json::Map<String, serde_json::Value> = (1..=5)
        .map(|i| {
            let next = if i == 5 {
                serde_json::json!({"Type": "Pass", "End": true})
            } else {
                serde_json::json!({"Type": "Pass", "Next": format!("S{}", i + 1)})
            };
            (format!("S{i}"), next)
        })
        .collect();
    let definition = serde_json::json!({"StartAt": "S1", "States": states});
    let execution = started(&sfn, "five", &definition).await;
    let arn = execution.as_str();
    for _ in 0..50 {
        let out = sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .expect("Describe");
        if out.status().as_str() != "RUNNING" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let all = sfn
        .get_execution_history()
        .execution_arn(arn)
        .max_results(1000)
        .send()
        .await
        .expect("all");
    let page = sfn
        .get_execution_history()
        .execution_arn(arn)
        .reverse_order(true)
        .max_results(4)
        .send()
        .await
        .expect("GetExecutionHistory");
    (
        page.events().iter().map(|e| e.id()).collect(),
        page.next_token().is_some(),
        all.events().len(),
    )
}

#[tokio::test]
async fn an_execution_history_pages_and_reads_newest_first_as_step_functions_does() {
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    let (ids, more, total) = newest_four(&released).await;
    assert_eq!(
        (ids.len(), ids.first().copied(), more),
        (total, Some(1), false),
        "moto as released answers every event, oldest first (the gap)"
    );
    let patched = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (ids, more, total) = newest_four(&patched).await;
    let newest = i64::try_from(total).expect("a count");
    assert_eq!(ids, vec![newest, newest - 1, newest - 2, newest - 3]);
    assert!(more);
}

/// GetServiceQuota of the Fargate vCPU quota: its value and the usage metric it names.
async fn fargate_quota(moto: &MotoServer) -> Result<(f64, Option<String>), String> {
    let quotas = aws_sdk_servicequotas::Client::new(&moto.config("us-west-2"));
    let out = quotas
        .get_service_quota()
        .service_code("fargate")
        .quota_code("L-3032A538")
        .send()
        .await
        .map_err(|e| {
            aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e)
                .unwrap_or("no code")
                .to_string()
        })?;
    let quota = out.quota().ok_or("no quota")?;
    let usage = quota.usage_metric().map(|m| {
        let dimensions = m.metric_dimensions().cloned().unwrap_or_default();
        let mut dimensions: Vec<_> = dimensions.into_iter().collect();
        dimensions.sort();
        format!("{:?} {:?} {dimensions:?}", m.metric_namespace(), m.metric_name())
    });
    Ok((quota.value().unwrap_or_default(), usage))
}

#[tokio::test]
async fn a_quota_the_account_has_is_answered_with_the_usage_metric_aws_publishes() {
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        fargate_quota(&released).await,
        Err("NoSuchResourceException".to_string()),
        "moto as released knows vpc's quotas only"
    );
    let patched = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        fargate_quota(&patched).await,
        Err("NoSuchResourceException".to_string()),
        "no account value set: none assumed"
    );
    patched
        .set_quotas(&serde_json::json!({"fargate/L-3032A538": 4}))
        .expect("set");
    let (value, usage) = fargate_quota(&patched).await.expect("the quota");
    assert_eq!(value, 4.0);
    assert_eq!(
        usage.as_deref(),
        Some(
            "Some(\"AWS/Usage\") Some(\"ResourceCount\") [(\"Class\", \"Standard/OnDemand\"), (\"Resource\", \"vCPU\"), (\"Service\", \"Fargate\"), (\"Type\", \"Resource\")]"
        )
    );
    let unknown = patched.set_quotas(&serde_json::json!({"fargate/L-0000": 4}));
    assert!(unknown.is_err(), "a quota the launcher does not describe is refused");
}

/// A DocumentDB global database seeded through DocumentDB's own client, and one global cluster
/// of two asked for by name: the seed's error, else the engine and version of the cluster
/// DocumentDB describes, the identifiers DescribeGlobalClusters gives for `graph-global`, and
/// the error code for a name that does not exist.
async fn documentdb_beside_aurora(moto: &MotoServer) -> Result<(String, Vec<String>, Option<String>), String> {
    use aws_sdk_docdb::error::ProvideErrorMetadata;
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    seed::aurora_global(&east, &west, "orders-global", "sg-0a", None, false).await?;
    seed::engine_global((&east, &west), "docdb", "graph-global", "sg-0a", None).await?;
    let docdb = aws_sdk_docdb::Client::new(&west);
    let cluster = docdb
        .describe_db_clusters()
        .db_cluster_identifier("graph-global-west")
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let cluster = &cluster.db_clusters()[0];
    let described = format!(
        "{} {} port {}",
        cluster.engine().unwrap_or_default(),
        cluster.engine_version().unwrap_or_default(),
        cluster.port().unwrap_or_default()
    );
    let named = docdb
        .describe_global_clusters()
        .global_cluster_identifier("graph-global")
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    let ids = named
        .global_clusters()
        .iter()
        .filter_map(|g| g.global_cluster_identifier().map(str::to_string))
        .collect();
    let unknown = docdb
        .describe_global_clusters()
        .global_cluster_identifier("no-such-global")
        .send()
        .await
        .err()
        .and_then(|e| e.code().map(str::to_string));
    Ok((described, ids, unknown))
}

#[tokio::test]
async fn documentdb_clusters_and_one_named_global_cluster_are_served_as_aws_serves_them() {
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    let refused = documentdb_beside_aurora(&released).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.contains("docdb")),
        "moto as released knows no docdb engine (the gap): {refused:?}"
    );
    let (east, west) = (released.config("us-east-1"), released.config("us-west-2"));
    seed::aurora_global(&east, &west, "other-global", "sg-0a", None, false)
        .await
        .expect("a second global database");
    let listed = Client::new(&east)
        .describe_global_clusters()
        .global_cluster_identifier("orders-global")
        .send()
        .await
        .expect("DescribeGlobalClusters");
    // Every global cluster (DocumentDB's was made before its cluster was refused): moto as
    // released ignores the name (the gap).
    assert_eq!(listed.global_clusters().len(), 3);
    let patched = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (described, ids, unknown) = documentdb_beside_aurora(&patched).await.expect("served");
    assert_eq!(described, "docdb 5.0.0 port 27017");
    assert_eq!(ids, ["graph-global"], "only the global cluster asked for");
    assert_eq!(unknown.as_deref(), Some("GlobalClusterNotFoundFault"));
}
