//! What moto cannot show, with the SDK's responses scripted by aws-smithy-mocks: the request a
//! global failover sends (`AllowDataLoss`), a global database caught mid-switchover, and
//! throttling. The global failover and switchover themselves run against moto in
//! `aurora_global.rs`.

use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::types::MetricDataResult;
use aws_sdk_rds::config::Region;
use aws_sdk_rds::operation::describe_db_instances::{DescribeDBInstancesError, DescribeDbInstancesOutput};
use aws_sdk_rds::operation::describe_global_clusters::DescribeGlobalClustersOutput;
use aws_sdk_rds::operation::failover_global_cluster::FailoverGlobalClusterOutput;
use aws_sdk_rds::operation::switchover_global_cluster::SwitchoverGlobalClusterOutput;
use aws_sdk_rds::types::{GlobalCluster, GlobalClusterMember};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use chrono::{TimeZone, Utc};
use database_failover::DatabaseFailover;
use rebound_shared::accounts::Roles;
use rebound_shared::context::{ActionStatus, StepStatus};
use rebound_shared::endpoints::EndpointStores;
use rebound_shared::ErrorKind;
use rebound_tests::event;
use serde_json::{json, Value};

const EAST: &str = "arn:aws:rds:us-east-1:123456789012:cluster:orders-use1";
const WEST: &str = "arn:aws:rds:us-west-2:123456789012:cluster:orders-usw2";

fn global(writer: &str) -> DescribeGlobalClustersOutput {
    let member = |arn: &str| {
        GlobalClusterMember::builder()
            .db_cluster_arn(arn)
            .is_writer(arn == writer)
            .build()
    };
    DescribeGlobalClustersOutput::builder()
        .global_clusters(
            GlobalCluster::builder()
                .global_cluster_identifier("orders-global")
                .status("available")
                .global_cluster_members(member(EAST))
                .global_cluster_members(member(WEST))
                .build(),
        )
        .build()
}

/// The old writer cluster's region answers nothing (503): the failover goes on, reporting it
/// unfenced.
fn old_writer_region_down() -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_clusters)
        .sequence()
        .http_status(503, None)
        .repeatedly()
        .build()
}

fn aurora_request(mode: &str) -> Value {
    let mut request = event("database-failover.json");
    request["context"]["mode"] = json!(mode);
    request["context"]["plan"]["databases"] =
        json!([{ "kind": "auroraGlobal", "identifier": "orders-global", "targetClusterArn": WEST }]);
    request
}

/// CloudWatch's answer: the recovery cluster's replication lag, in milliseconds.
fn lag_ms(millis: f64) -> Rule {
    mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(|r| {
            r.metric_data_queries().iter().any(|q| {
                q.metric_stat().and_then(|s| s.metric()).is_some_and(|m| {
                    m.metric_name() == Some("AuroraGlobalDBReplicationLag")
                        && m.dimensions().iter().any(|d| d.value() == Some("orders-usw2"))
                })
            })
        })
        // CloudWatch answers each query under the id it was asked with.
        .then_compute_output(move |r| {
            let id = r
                .metric_data_queries()
                .first()
                .and_then(|q| q.id())
                .unwrap_or_default()
                .to_string();
            GetMetricDataOutput::builder()
                .metric_data_results(
                    MetricDataResult::builder()
                        .id(id)
                        .timestamps(aws_smithy_types::DateTime::from_secs(Utc::now().timestamp() - 60))
                        .values(millis)
                        .build(),
                )
                .build()
        })
}

fn failover(rules: &[&Rule]) -> DatabaseFailover {
    failover_with_lag(rules, 800.0)
}

fn failover_with_lag(rules: &[&Rule], millis: f64) -> DatabaseFailover {
    let rds = mock_client!(aws_sdk_rds, RuleMode::MatchAny, rules, |c| c
        .region(Region::new("us-west-2")));
    let lag = lag_ms(millis);
    let cloudwatch = mock_client!(aws_sdk_cloudwatch, RuleMode::MatchAny, &[&lag], |c| c
        .region(aws_sdk_cloudwatch::config::Region::new("us-west-2")));
    // Aurora global databases do not fail back automatically: the primary clients stay unused.
    // No writer endpoints, global tables or datastores in these plans: their clients are never called.
    let config = aws_config::SdkConfig::builder()
        .region(Region::new("us-west-2"))
        .behavior_version(aws_config::BehaviorVersion::latest())
        .build();
    DatabaseFailover {
        primary_rds: rds.clone(),
        primary_cloudwatch: cloudwatch.clone(),
        rds,
        cloudwatch,
        endpoints: EndpointStores::new(
            &config,
            rebound_shared::dns::route53_client(&config),
            &Roles::new(&config),
        ),
        tables: rebound_shared::global_tables::GlobalTables::new(&rebound_shared::aws::Regions {
            primary: config.clone(),
            recovery: config.clone(),
        }),
        elasticache: aws_sdk_elasticache::Client::new(&config),
        primary_elasticache: aws_sdk_elasticache::Client::new(&config),
        memorydb: aws_sdk_memorydb::Client::new(&config),
        primary_memorydb: aws_sdk_memorydb::Client::new(&config),
        globals: rebound_shared::rds::GlobalClients::new(&config),
        primary_globals: rebound_shared::rds::GlobalClients::new(&config),
        roles: Roles::new(&config),
    }
}

#[tokio::test]
async fn failover_mode_fails_the_global_cluster_over_allowing_data_loss() {
    let describe = mock!(aws_sdk_rds::Client::describe_global_clusters).then_output(|| global(EAST));
    let fail_over = mock!(aws_sdk_rds::Client::failover_global_cluster)
        .match_requests(|r| {
            r.global_cluster_identifier() == Some("orders-global")
                && r.target_db_cluster_identifier() == Some(WEST)
                && r.allow_data_loss() == Some(true)
        })
        .then_output(|| FailoverGlobalClusterOutput::builder().build());
    let switch_over = mock!(aws_sdk_rds::Client::switchover_global_cluster)
        .then_output(|| SwitchoverGlobalClusterOutput::builder().build());
    let down = old_writer_region_down();
    let result = failover(&[&describe, &fail_over, &switch_over, &down])
        .handle(aurora_request("failover"), Utc::now())
        .await
        .expect("failover");
    assert_eq!(fail_over.num_calls(), 1);
    assert_eq!(switch_over.num_calls(), 0);
    let failed_over = result
        .actions
        .iter()
        .find(|a| a.operation == "FailoverGlobalCluster")
        .expect("failover action");
    assert_eq!(failed_over.status, ActionStatus::Pending);
    let fence = result
        .actions
        .iter()
        .find(|a| a.operation == "FenceOldWriter")
        .expect("fence action");
    assert_eq!(fence.status, ActionStatus::Failed, "reported unfenced: {fence:?}");
    assert_eq!(result.rpo_seconds, Some(0.8), "the replication lag is the RPO");
}

#[tokio::test]
async fn switchover_mode_switches_over_and_status_waits_for_the_new_writer() {
    let describe = mock!(aws_sdk_rds::Client::describe_global_clusters).then_output(|| global(EAST));
    let switch_over = mock!(aws_sdk_rds::Client::switchover_global_cluster)
        .match_requests(|r| r.target_db_cluster_identifier() == Some(WEST))
        .then_output(|| SwitchoverGlobalClusterOutput::builder().build());
    let started = failover(&[&describe, &switch_over])
        .handle(aurora_request("switchover"), Utc::now())
        .await
        .expect("switchover");
    assert_eq!(switch_over.num_calls(), 1);
    assert_eq!(started.actions[0].operation, "SwitchoverGlobalCluster");

    let mut status = aurora_request("switchover");
    status["action"] = json!("status");
    status["context"]["results"]["database"] = serde_json::to_value(&started).expect("result");
    // The sample context's deadline is 03:32:41; poll before it.
    let before_deadline = Utc.with_ymd_and_hms(2026, 11, 24, 3, 20, 0).single().expect("time");
    let still_east = mock!(aws_sdk_rds::Client::describe_global_clusters).then_output(|| global(EAST));
    let waiting = failover(&[&still_east])
        .handle(status.clone(), before_deadline)
        .await
        .expect("status");
    assert_eq!(waiting.actions[0].status, ActionStatus::Pending);
    assert_eq!(waiting.status, StepStatus::InProgress);
    // Past the deadline (a second after it) the step gives up, naming what it waited for.
    let past_deadline = Utc.with_ymd_and_hms(2026, 11, 24, 3, 32, 42).single().expect("time");
    let err = failover(&[&still_east])
        .handle(status.clone(), past_deadline)
        .await
        .expect_err("deadline passed");
    assert_eq!(err.kind(), ErrorKind::StepFailed);
    assert!(err.to_string().contains("orders-global"), "{err}");
    let now_west = mock!(aws_sdk_rds::Client::describe_global_clusters).then_output(|| global(WEST));
    let done = failover(&[&now_west])
        .handle(status, before_deadline)
        .await
        .expect("status");
    assert_eq!(done.status, StepStatus::Completed);
    assert_eq!(done.actions[0].status, ActionStatus::Done);
    assert_eq!(done.actions[0].after["writer"], json!(WEST));
}

#[tokio::test]
async fn throttling_surfaces_as_transient() {
    let throttled = mock!(aws_sdk_rds::Client::describe_db_instances)
        .sequence()
        .error(|| {
            DescribeDBInstancesError::generic(
                ErrorMetadata::builder()
                    .code("Throttling")
                    .message("Rate exceeded")
                    .build(),
            )
        })
        .repeatedly()
        .build();
    let never =
        mock!(aws_sdk_rds::Client::describe_db_instances).then_output(|| DescribeDbInstancesOutput::builder().build());
    let err = failover(&[&throttled, &never])
        .handle(event("database-failover.json"), Utc::now())
        .await
        .expect_err("throttled");
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    let diagnostic: lambda_runtime::Diagnostic = err.into();
    assert_eq!(diagnostic.error_type, "Rebound.Transient");
    assert!(
        diagnostic.error_message.contains("Throttling"),
        "{}",
        diagnostic.error_message
    );
}
