//! The application the tests and the drill seed in moto: its databases (`databases.rs`), EKS
//! (`eks.rs`), the recovery region's ECS services and Auto Scaling group, its DNS, alarms,
//! metrics, buckets, plan, table and functions.

use aws_config::SdkConfig;

mod caches;
mod databases;
mod eks;

pub use caches::*;
pub use databases::*;
pub use eks::*;

pub const ECS_CLUSTER: &str = "orders-usw2";
/// Creates a public hosted zone for `name` where `config` points; returns its id (without the
/// `/hostedzone/` prefix), as plans name zones.
pub async fn hosted_zone(config: &SdkConfig, name: &str) -> Result<String, String> {
    static ZONES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let reference = format!(
        "seed-{}-{}",
        std::process::id(),
        ZONES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let out = aws_sdk_route53::Client::new(config)
        .create_hosted_zone()
        .name(name)
        .caller_reference(reference)
        .send()
        .await
        .map_err(|e| format!("CreateHostedZone: {e:?}"))?;
    out.hosted_zone()
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
        .ok_or_else(|| "CreateHostedZone returned no zone".into())
}

/// `config` acting as `role_arn`'s role: moto answers AssumeRole for any role, and serves the
/// calls signed with its credentials from the role's account (one backend per account).
pub async fn as_role(config: &SdkConfig, role_arn: &str) -> Result<SdkConfig, String> {
    let account = rebound_shared::plan::Account {
        role_arn: role_arn.to_string(),
        external_id: None,
    };
    let credentials = rebound_shared::accounts::assume(&aws_sdk_sts::Client::new(config), "seed", &account, "seed")
        .await
        .map_err(|e| e.to_string())?;
    Ok(config.to_builder().credentials_provider(credentials).build())
}

/// Creates `sets` in hosted zone `zone` where `config` points, in one change batch (Route 53
/// takes 1,000 records a batch).
pub async fn create_records(
    config: &SdkConfig,
    zone: &str,
    sets: Vec<aws_sdk_route53::types::ResourceRecordSet>,
) -> Result<(), String> {
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch};
    let changes = sets
        .into_iter()
        .map(|set| {
            Change::builder()
                .action(ChangeAction::Create)
                .resource_record_set(set)
                .build()
                .map_err(|e| e.to_string())
        })
        .collect::<Result<Vec<_>, _>>()?;
    let batch = ChangeBatch::builder()
        .set_changes(Some(changes))
        .build()
        .map_err(|e| e.to_string())?;
    aws_sdk_route53::Client::new(config)
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("ChangeResourceRecordSets: {e:?}"))
}

/// Creates the `orders-usw2` cluster, an `orders` task definition, and each service at its
/// desired count.
pub async fn ecs_services(recovery: &SdkConfig, services: &[(&str, i32)]) -> Result<(), String> {
    let ecs = aws_sdk_ecs::Client::new(recovery);
    ecs.create_cluster()
        .cluster_name(ECS_CLUSTER)
        .send()
        .await
        .map_err(|e| format!("CreateCluster: {e:?}"))?;
    let container = aws_sdk_ecs::types::ContainerDefinition::builder()
        .name("app")
        .image("orders:1.42")
        .memory(512)
        .build();
    ecs.register_task_definition()
        .family("orders")
        .container_definitions(container)
        .send()
        .await
        .map_err(|e| format!("RegisterTaskDefinition: {e:?}"))?;
    for (name, count) in services {
        ecs.create_service()
            .cluster(ECS_CLUSTER)
            .service_name(*name)
            .task_definition("orders")
            .desired_count(*count)
            .send()
            .await
            .map_err(|e| format!("CreateService {name}: {e:?}"))?;
    }
    Ok(())
}

/// Creates the recovery table as the SAM template does (pk, sk; on-demand).
pub async fn recovery_table(config: &SdkConfig, name: &str) -> Result<(), String> {
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    let key = |attribute: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(attribute)
            .key_type(kind)
            .build()
            .map_err(|e| e.to_string())
    };
    let attribute = |attribute: &str| {
        AttributeDefinition::builder()
            .attribute_name(attribute)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| e.to_string())
    };
    aws_sdk_dynamodb::Client::new(config)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .attribute_definitions(attribute("pk")?)
        .attribute_definitions(attribute("sk")?)
        .send()
        .await
        .map_err(|e| format!("CreateTable: {e:?}"))?;
    Ok(())
}

/// The S3 bucket `name` in `config`'s region, created when it is not there yet; versioned when
/// asked (as the template makes the report bucket).
/// The report bucket as the template makes it: Object Lock on (which versions it), every new
/// object retained in governance mode for `days`.
pub async fn report_bucket(config: &SdkConfig, name: &str, days: i32) -> Result<(), String> {
    use aws_sdk_s3::types::{
        DefaultRetention, ObjectLockConfiguration, ObjectLockEnabled, ObjectLockRetentionMode, ObjectLockRule,
    };
    let s3 = aws_sdk_s3::Client::new(config);
    create_bucket(&s3, config, name, true).await?;
    s3.put_object_lock_configuration()
        .bucket(name)
        .object_lock_configuration(
            ObjectLockConfiguration::builder()
                .object_lock_enabled(ObjectLockEnabled::Enabled)
                .rule(
                    ObjectLockRule::builder()
                        .default_retention(
                            DefaultRetention::builder()
                                .mode(ObjectLockRetentionMode::Governance)
                                .days(days)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .map_err(|e| format!("PutObjectLockConfiguration: {e:?}"))?;
    Ok(())
}

/// A bucket in `config`'s region, with Object Lock when `locked`.
async fn create_bucket(s3: &aws_sdk_s3::Client, config: &SdkConfig, name: &str, locked: bool) -> Result<(), String> {
    use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
    let region = config.region().map(|r| r.to_string()).unwrap_or_default();
    s3.create_bucket()
        .bucket(name)
        .object_lock_enabled_for_bucket(locked)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region.as_str()))
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("CreateBucket: {e:?}"))
}

pub async fn bucket(config: &SdkConfig, name: &str, versioned: bool) -> Result<(), String> {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let s3 = aws_sdk_s3::Client::new(config);
    if s3.head_bucket().bucket(name).send().await.is_err() {
        create_bucket(&s3, config, name, false).await?;
    }
    if versioned {
        s3.put_bucket_versioning()
            .bucket(name)
            .versioning_configuration(
                VersioningConfiguration::builder()
                    .status(BucketVersioningStatus::Enabled)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| format!("PutBucketVersioning: {e:?}"))?;
    }
    Ok(())
}

/// Stores `text` as the S3 object `bucket/key` where `config` points, creating the bucket when
/// it is not there yet (a plan kept in S3: `s3://bucket/key`).
pub async fn object(config: &SdkConfig, bucket_name: &str, key: &str, text: &str) -> Result<(), String> {
    bucket(config, bucket_name, false).await?;
    let s3 = aws_sdk_s3::Client::new(config);
    s3.put_object()
        .bucket(bucket_name)
        .key(key)
        .body(text.as_bytes().to_vec().into())
        .send()
        .await
        .map_err(|e| format!("PutObject: {e:?}"))?;
    Ok(())
}

/// Stores a plan in SSM, where the detector reads it (`ssm:<name>`).
pub async fn plan_parameter(config: &SdkConfig, name: &str, plan: &str) -> Result<(), String> {
    aws_sdk_ssm::Client::new(config)
        .put_parameter()
        .name(name)
        .value(plan)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .map_err(|e| format!("PutParameter: {e:?}"))?;
    Ok(())
}

/// Creates a CloudWatch alarm where `config` points and sets its state (`ALARM`, `OK`, ...).
pub async fn alarm(config: &SdkConfig, name: &str, state: &str) -> Result<(), String> {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
    let cloudwatch = aws_sdk_cloudwatch::Client::new(config);
    cloudwatch
        .put_metric_alarm()
        .alarm_name(name)
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_Target_5XX_Count")
        .statistic(Statistic::Average)
        .period(60)
        .evaluation_periods(3)
        .threshold(50.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .map_err(|e| format!("PutMetricAlarm: {e:?}"))?;
    cloudwatch
        .set_alarm_state()
        .alarm_name(name)
        .state_value(StateValue::from(state))
        .state_reason("set by the test")
        .send()
        .await
        .map_err(|e| format!("SetAlarmState: {e:?}"))?;
    Ok(())
}

/// The gate of a data-plane DNS failover: a metric alarm in `recovery` (`Rebound/PrimaryOut`
/// at or above 1, missing data keeping its state) and, in Route 53, a CLOUDWATCH_METRIC health
/// check following it, keeping its last status while the alarm has too little data. Returns
/// the health check's id.
pub async fn health_check_gate(global: &SdkConfig, recovery: &SdkConfig, alarm: &str) -> Result<String, String> {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StateValue, Statistic};
    use aws_sdk_route53::types::{
        AlarmIdentifier, CloudWatchRegion, HealthCheckConfig, HealthCheckType, InsufficientDataHealthStatus,
    };
    let cloudwatch = aws_sdk_cloudwatch::Client::new(recovery);
    let region = recovery.region().map(|r| r.to_string()).unwrap_or_default();
    cloudwatch
        .put_metric_alarm()
        .alarm_name(alarm)
        .namespace("Rebound")
        .metric_name("PrimaryOut")
        .dimensions(Dimension::builder().name("Application").value("orders").build())
        .statistic(Statistic::Maximum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
        .treat_missing_data("ignore")
        .send()
        .await
        .map_err(|e| format!("PutMetricAlarm: {e:?}"))?;
    cloudwatch
        .set_alarm_state()
        .alarm_name(alarm)
        .state_value(StateValue::Ok)
        .state_reason("the primary serves")
        .send()
        .await
        .map_err(|e| format!("SetAlarmState: {e:?}"))?;
    let check = aws_sdk_route53::Client::new(global)
        .create_health_check()
        .caller_reference(format!("gate-{alarm}-{}", std::process::id()))
        .health_check_config(
            HealthCheckConfig::builder()
                .r#type(HealthCheckType::CloudwatchMetric)
                .alarm_identifier(
                    AlarmIdentifier::builder()
                        .region(CloudWatchRegion::from(region.as_str()))
                        .name(alarm)
                        .build()
                        .map_err(|e| e.to_string())?,
                )
                .insufficient_data_health_status(InsufficientDataHealthStatus::LastKnownStatus)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(|e| format!("CreateHealthCheck: {e:?}"))?;
    check
        .health_check()
        .map(|h| h.id().to_string())
        .ok_or_else(|| "CreateHealthCheck: no id".into())
}

/// Publishes one datapoint, stamped now.
pub async fn metric(
    config: &SdkConfig,
    namespace: &str,
    name: &str,
    dimensions: &[(&str, &str)],
    value: f64,
) -> Result<(), String> {
    metric_at(config, namespace, name, dimensions, &[(0, value)]).await
}

/// Publishes datapoints, each `(seconds ago, value)`, in one call.
pub async fn metric_at(
    config: &SdkConfig,
    namespace: &str,
    name: &str,
    dimensions: &[(&str, &str)],
    points: &[(i64, f64)],
) -> Result<(), String> {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?;
    let now = i64::try_from(now.as_secs()).map_err(|e| e.to_string())?;
    let data = points.iter().map(|(ago, value)| {
        MetricDatum::builder()
            .metric_name(name)
            .set_dimensions(Some(
                dimensions
                    .iter()
                    .map(|(k, v)| Dimension::builder().name(*k).value(*v).build())
                    .collect(),
            ))
            .value(*value)
            .timestamp(aws_smithy_types::DateTime::from_secs(now - ago))
            .build()
    });
    aws_sdk_cloudwatch::Client::new(config)
        .put_metric_data()
        .namespace(namespace)
        .set_metric_data(Some(data.collect()))
        .send()
        .await
        .map_err(|e| format!("PutMetricData: {e:?}"))?;
    Ok(())
}

/// Creates the `orders-web-usw2` Auto Scaling group (launch configuration `orders-web`, one
/// Availability Zone) at the given capacity.
pub async fn auto_scaling_group(config: &SdkConfig, min: i32, desired: i32, max: i32) -> Result<(), String> {
    let autoscaling = aws_sdk_autoscaling::Client::new(config);
    autoscaling
        .create_launch_configuration()
        .launch_configuration_name("orders-web")
        .image_id("ami-0123456789abcdef0")
        .instance_type("t4g.small")
        .send()
        .await
        .map_err(|e| format!("CreateLaunchConfiguration: {e:?}"))?;
    autoscaling
        .create_auto_scaling_group()
        .auto_scaling_group_name("orders-web-usw2")
        .launch_configuration_name("orders-web")
        .min_size(min)
        .max_size(max)
        .desired_capacity(desired)
        .availability_zones(format!(
            "{}a",
            config.region().map(|r| r.as_ref()).unwrap_or("us-west-2")
        ))
        .send()
        .await
        .map_err(|e| format!("CreateAutoScalingGroup: {e:?}"))?;
    Ok(())
}

/// A Lambda function `name` where `config` points (its code an empty archive: moto runs no
/// function here); returns its ARN.
pub async fn function(config: &SdkConfig, name: &str) -> Result<String, String> {
    let iam = aws_sdk_iam::Client::new(config);
    let role = match iam
        .create_role()
        .role_name("rebound-consumer")
        .assume_role_policy_document(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .send()
        .await
    {
        Ok(out) => out.role.map(|r| r.arn).unwrap_or_default(),
        Err(_) => iam
            .get_role()
            .role_name("rebound-consumer")
            .send()
            .await
            .map_err(|e| format!("GetRole: {e:?}"))?
            .role
            .map(|r| r.arn)
            .unwrap_or_default(),
    };
    let mut empty_zip = b"PK\x05\x06".to_vec();
    empty_zip.extend([0u8; 18]);
    aws_sdk_lambda::Client::new(config)
        .create_function()
        .function_name(name)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(role)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_smithy_types::Blob::new(empty_zip))
                .build(),
        )
        .send()
        .await
        .map_err(|e| format!("CreateFunction: {e:?}"))?
        .function_arn
        .ok_or_else(|| "CreateFunction returned no ARN".into())
}

/// A queue consumer where `config` points: the SQS queue `name`, a Lambda function `name` and
/// the event source mapping between them, `enabled` or not. Returns the mapping's UUID.
pub async fn queue_consumer(config: &SdkConfig, name: &str, enabled: bool) -> Result<String, String> {
    function(config, name).await?;
    let lambda = aws_sdk_lambda::Client::new(config);
    let sqs = aws_sdk_sqs::Client::new(config);
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| format!("CreateQueue: {e:?}"))?
        .queue_url
        .unwrap_or_default();
    let arn = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| format!("GetQueueAttributes: {e:?}"))?
        .attributes
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned())
        .unwrap_or_default();
    lambda
        .create_event_source_mapping()
        .function_name(name)
        .event_source_arn(arn)
        .enabled(enabled)
        .send()
        .await
        .map_err(|e| format!("CreateEventSourceMapping: {e:?}"))?
        .uuid
        .ok_or_else(|| "CreateEventSourceMapping returned no UUID".into())
}
