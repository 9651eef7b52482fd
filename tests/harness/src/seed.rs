//! The application the tests and the drill seed in moto: an RDS primary in one region with a
//! cross-region read replica in the other, and the recovery region's ECS services.

use aws_config::SdkConfig;

pub const PRIMARY_DB: &str = "orders-db";
pub const REPLICA_DB: &str = "orders-db-usw2";
pub const ECS_CLUSTER: &str = "orders-usw2";
/// The databases' own parameter group, one per region: a default group cannot be changed, so
/// the split-brain fence could not make a writer read-only.
pub const PARAMETER_GROUP: &str = "orders-db-params";

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

/// Creates a parameter group where `config` points, unless it exists.
pub async fn parameter_group(config: &SdkConfig, name: &str, engine: &str) -> Result<(), String> {
    let rds = aws_sdk_rds::Client::new(config);
    let existing = rds
        .describe_db_parameter_groups()
        .db_parameter_group_name(name)
        .send()
        .await;
    if existing.is_ok_and(|out| !out.db_parameter_groups().is_empty()) {
        return Ok(());
    }
    let family = if engine.contains("postgres") {
        "postgres16"
    } else {
        "mysql8.0"
    };
    rds.create_db_parameter_group()
        .db_parameter_group_name(name)
        .db_parameter_group_family(family)
        .description("orders databases")
        .send()
        .await
        .map_err(|e| format!("CreateDBParameterGroup: {e:?}"))?;
    Ok(())
}

/// Creates a standalone instance with automated backups where `config` points, on its own
/// parameter group; returns its ARN.
pub async fn database(config: &SdkConfig, identifier: &str, engine: &str) -> Result<String, String> {
    parameter_group(config, PARAMETER_GROUP, engine).await?;
    instance(config, identifier, engine, Some(PARAMETER_GROUP)).await
}

/// Creates an instance on `group`, or on its engine's `default.*` group; returns its ARN.
async fn instance(config: &SdkConfig, identifier: &str, engine: &str, group: Option<&str>) -> Result<String, String> {
    let created = aws_sdk_rds::Client::new(config)
        .create_db_instance()
        .db_instance_identifier(identifier)
        .set_db_parameter_group_name(group.map(str::to_string))
        .engine(engine)
        .db_instance_class("db.r6g.large")
        .allocated_storage(100)
        .master_username("orders")
        .master_user_password("not-a-secret-1")
        .backup_retention_period(7)
        .send()
        .await
        .map_err(|e| format!("CreateDBInstance: {e:?}"))?;
    Ok(created
        .db_instance()
        .and_then(|d| d.db_instance_arn())
        .ok_or("CreateDBInstance returned no ARN")?
        .to_string())
}

/// Creates `orders-db` where `primary` points and its read replica `orders-db-usw2` where
/// `recovery` points; returns the primary's ARN.
pub async fn database_with_replica(primary: &SdkConfig, recovery: &SdkConfig, engine: &str) -> Result<String, String> {
    let arn = database(primary, PRIMARY_DB, engine).await?;
    replica_of(recovery, &arn, engine).await?;
    Ok(arn)
}

/// One of many databases: `name` where `primary` points and its replica `replica` where
/// `recovery` points, both on the parameter group [`PARAMETER_GROUP`] of their region, which
/// must exist; returns the primary's ARN.
pub async fn database_pair(
    primary: &SdkConfig,
    recovery: &SdkConfig,
    engine: &str,
    name: &str,
    replica: &str,
) -> Result<String, String> {
    let arn = instance(primary, name, engine, Some(PARAMETER_GROUP)).await?;
    read_replica(recovery, &arn, replica).await?;
    Ok(arn)
}

/// Creates `orders-db-usw2`, on its own parameter group, as a read replica of `source`.
async fn replica_of(recovery: &SdkConfig, source: &str, engine: &str) -> Result<(), String> {
    parameter_group(recovery, PARAMETER_GROUP, engine).await?;
    read_replica(recovery, source, REPLICA_DB).await
}

async fn read_replica(recovery: &SdkConfig, source: &str, replica: &str) -> Result<(), String> {
    aws_sdk_rds::Client::new(recovery)
        .create_db_instance_read_replica()
        .db_instance_identifier(replica)
        .db_parameter_group_name(PARAMETER_GROUP)
        .source_db_instance_identifier(source)
        .db_instance_class("db.r6g.large")
        .send()
        .await
        .map_err(|e| format!("CreateDBInstanceReadReplica: {e:?}"))?;
    Ok(())
}

/// Like [`database_with_replica`], with the primary on its engine's `default.*` parameter group
/// (which cannot be changed, so the read-only fence cannot be set); returns the primary's ARN.
pub async fn database_on_default_group_with_replica(
    primary: &SdkConfig,
    recovery: &SdkConfig,
    engine: &str,
) -> Result<String, String> {
    let arn = instance(primary, PRIMARY_DB, engine, None).await?;
    replica_of(recovery, &arn, engine).await?;
    Ok(arn)
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

/// Publishes a `ReplicaLag` datapoint (seconds) for `instance`, stamped now, where `config` points.
pub async fn replica_lag(config: &SdkConfig, instance: &str, seconds: f64) -> Result<(), String> {
    metric(
        config,
        "AWS/RDS",
        "ReplicaLag",
        &[("DBInstanceIdentifier", instance)],
        seconds,
    )
    .await
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

/// An Aurora global database `global`: a writer cluster `{global}-east` in the primary's region
/// and a secondary `{global}-west` in the recovery region, both on `security_group`, the
/// secondary `lag_ms` behind (`AuroraGlobalDBReplicationLag`) where given. With `own_group` each
/// cluster is on its own DB cluster parameter group `{global}-params` (else on the engine's
/// default). Returns (writer ARN, secondary ARN).
pub async fn aurora_global(
    primary: &SdkConfig,
    recovery: &SdkConfig,
    global: &str,
    security_group: &str,
    lag_ms: Option<f64>,
    own_group: bool,
) -> Result<(String, String), String> {
    const ENGINE: &str = "aurora-mysql";
    const VERSION: &str = "8.0.mysql_aurora.3.05.2";
    aws_sdk_rds::Client::new(primary)
        .create_global_cluster()
        .global_cluster_identifier(global)
        .engine(ENGINE)
        .engine_version(VERSION)
        .send()
        .await
        .map_err(|e| format!("CreateGlobalCluster: {e:?}"))?;
    let mut arns = Vec::new();
    let group = format!("{global}-params");
    for (config, side) in [(primary, "east"), (recovery, "west")] {
        if own_group {
            aws_sdk_rds::Client::new(config)
                .create_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(&group)
                .db_parameter_group_family("aurora-mysql8.0")
                .description("orders global database")
                .send()
                .await
                .map_err(|e| format!("CreateDBClusterParameterGroup: {e:?}"))?;
        }
        let out = aws_sdk_rds::Client::new(config)
            .create_db_cluster()
            .set_db_cluster_parameter_group_name(own_group.then(|| group.clone()))
            .db_cluster_identifier(format!("{global}-{side}"))
            .engine(ENGINE)
            .engine_version(VERSION)
            .global_cluster_identifier(global)
            .master_username("admin")
            .master_user_password("not-a-real-password")
            .vpc_security_group_ids(security_group)
            .send()
            .await
            .map_err(|e| format!("CreateDBCluster: {e:?}"))?;
        let arn = out
            .db_cluster()
            .and_then(|c| c.db_cluster_arn())
            .ok_or("CreateDBCluster: no ARN")?;
        arns.push(arn.to_string());
    }
    if let Some(lag_ms) = lag_ms {
        metric(
            recovery,
            "AWS/RDS",
            "AuroraGlobalDBReplicationLag",
            &[("DBClusterIdentifier", &format!("{global}-west"))],
            lag_ms,
        )
        .await?;
    }
    let target = arns.pop().ok_or("no secondary")?;
    let writer = arns.pop().ok_or("no writer")?;
    Ok((writer, target))
}

/// Publishes one datapoint, stamped now.
pub async fn metric(
    config: &SdkConfig,
    namespace: &str,
    name: &str,
    dimensions: &[(&str, &str)],
    value: f64,
) -> Result<(), String> {
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?;
    let datum = MetricDatum::builder()
        .metric_name(name)
        .set_dimensions(Some(
            dimensions
                .iter()
                .map(|(k, v)| Dimension::builder().name(*k).value(*v).build())
                .collect(),
        ))
        .value(value)
        .timestamp(aws_smithy_types::DateTime::from_secs(
            i64::try_from(now.as_secs()).map_err(|e| e.to_string())?,
        ))
        .build();
    aws_sdk_cloudwatch::Client::new(config)
        .put_metric_data()
        .namespace(namespace)
        .metric_data(datum)
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

/// The places the application reads its writer's host from, each holding `host` where `config`
/// points: an SSM parameter, a secret (a JSON object with `host` beside the credentials) and,
/// when `cname` (zone, name) is given, a CNAME.
pub async fn writer_endpoints(
    config: &SdkConfig,
    parameter: &str,
    secret: &str,
    cname: Option<(&str, &str)>,
    host: &str,
) -> Result<(), String> {
    aws_sdk_ssm::Client::new(config)
        .put_parameter()
        .name(parameter)
        .value(host)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .overwrite(true)
        .send()
        .await
        .map_err(|e| format!("PutParameter: {e:?}"))?;
    let value = serde_json::json!({"engine": "postgres", "username": "orders", "password": "s3cr3t", "host": host, "port": 5432});
    aws_sdk_secretsmanager::Client::new(config)
        .create_secret()
        .name(secret)
        .secret_string(value.to_string())
        .send()
        .await
        .map_err(|e| format!("CreateSecret: {e:?}"))?;
    if let Some((zone, name)) = cname {
        use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
        let set = ResourceRecordSet::builder()
            .name(name)
            .r#type(RrType::Cname)
            .ttl(60)
            .resource_records(
                ResourceRecord::builder()
                    .value(host)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .build()
            .map_err(|e| e.to_string())?;
        let change = Change::builder()
            .action(ChangeAction::Create)
            .resource_record_set(set)
            .build()
            .map_err(|e| e.to_string())?;
        aws_sdk_route53::Client::new(config)
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(
                ChangeBatch::builder()
                    .changes(change)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
            .send()
            .await
            .map_err(|e| format!("ChangeResourceRecordSets: {e:?}"))?;
    }
    Ok(())
}

/// Replicates `secret` (in `config`'s region) to `region`: a read-only replica there.
pub async fn replicate_secret(config: &SdkConfig, secret: &str, region: &str) -> Result<(), String> {
    aws_sdk_secretsmanager::Client::new(config)
        .replicate_secret_to_regions()
        .secret_id(secret)
        .add_replica_regions(
            aws_sdk_secretsmanager::types::ReplicaRegionType::builder()
                .region(region)
                .build(),
        )
        .send()
        .await
        .map_err(|e| format!("ReplicateSecretToRegions: {e:?}"))?;
    Ok(())
}

/// A DynamoDB table in `primary`'s region made a global table with a replica in `replica`
/// (`UpdateTable` `ReplicaUpdates`, version 2019.11.21).
pub async fn global_table(primary: &SdkConfig, replica: &str, name: &str) -> Result<(), String> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, CreateReplicationGroupMemberAction, KeySchemaElement, KeyType,
        ReplicationGroupUpdate, ScalarAttributeType,
    };
    let dynamodb = aws_sdk_dynamodb::Client::new(primary);
    dynamodb
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| format!("CreateTable: {e:?}"))?;
    dynamodb
        .update_table()
        .table_name(name)
        .replica_updates(
            ReplicationGroupUpdate::builder()
                .create(
                    CreateReplicationGroupMemberAction::builder()
                        .region_name(replica)
                        .build()
                        .map_err(|e| e.to_string())?,
                )
                .build(),
        )
        .send()
        .await
        .map_err(|e| format!("UpdateTable: {e:?}"))?;
    Ok(())
}

/// `ReplicationLatency` of `table` towards `receiving`, as the sending region (`config`)
/// publishes it, in milliseconds.
pub async fn replication_latency(config: &SdkConfig, table: &str, receiving: &str, ms: f64) -> Result<(), String> {
    metric(
        config,
        "AWS/DynamoDB",
        "ReplicationLatency",
        &[("TableName", table), ("ReceivingRegion", receiving)],
        ms,
    )
    .await
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
