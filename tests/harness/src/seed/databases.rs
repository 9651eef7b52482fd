//! The application's databases as the tests and the drill seed them: an RDS primary in one
//! region with a cross-region read replica in the other, Aurora global databases, DynamoDB
//! global tables, and where the application reads its writer's host.

use aws_config::SdkConfig;

use super::metric;

pub const PRIMARY_DB: &str = "orders-db";
pub const REPLICA_DB: &str = "orders-db-usw2";
/// The databases' own parameter group, one per region: a default group cannot be changed, so
/// the split-brain fence could not make a writer read-only.
pub const PARAMETER_GROUP: &str = "orders-db-params";

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

/// Creates `replica`, on its own parameter group, as a read replica of `source` where `config`
/// points: a replica in one more region.
pub async fn replica_named(config: &SdkConfig, source: &str, replica: &str, engine: &str) -> Result<(), String> {
    parameter_group(config, PARAMETER_GROUP, engine).await?;
    read_replica(config, source, replica).await
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

/// A DocumentDB (`docdb`) or Neptune (`neptune`) global database seeded through the engine's
/// own SDK client: `{global}-east` in `primary` (its writer) and `{global}-west` in `recovery`,
/// both on `security_group`; the secondary `lag_ms` behind where given, as the engine reports it
/// (one series per source region: DBClusterIdentifier and SourceRegion). Returns (writer ARN,
/// secondary ARN).
pub async fn engine_global(
    (primary, recovery): (&SdkConfig, &SdkConfig),
    engine: &str,
    global: &str,
    security_group: &str,
    lag_ms: Option<f64>,
) -> Result<(String, String), String> {
    // The two SDKs have the same calls; only their types differ.
    macro_rules! seed_with {
        ($client:path, $version:expr) => {{
            <$client>::new(primary)
                .create_global_cluster()
                .global_cluster_identifier(global)
                .engine(engine)
                .engine_version($version)
                .send()
                .await
                .map_err(|e| format!("CreateGlobalCluster: {e:?}"))?;
            let mut arns = Vec::new();
            for (config, side) in [(primary, "east"), (recovery, "west")] {
                let out = <$client>::new(config)
                    .create_db_cluster()
                    .db_cluster_identifier(format!("{global}-{side}"))
                    .engine(engine)
                    .engine_version($version)
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
            arns
        }};
    }
    let (mut arns, namespace, lag_metric) = match engine {
        "docdb" => (
            seed_with!(aws_sdk_docdb::Client, "5.0.0"),
            "AWS/DocDB",
            "GlobalClusterReplicationLag",
        ),
        "neptune" => (
            seed_with!(aws_sdk_neptune::Client, "1.3.2.1"),
            "AWS/Neptune",
            "GlobalDbProgressLag",
        ),
        other => return Err(format!("engine_global: no engine {other}")),
    };
    if let Some(lag_ms) = lag_ms {
        let source = primary.region().map(|r| r.to_string()).unwrap_or_default();
        metric(
            recovery,
            namespace,
            lag_metric,
            &[
                ("DBClusterIdentifier", &format!("{global}-west")),
                ("SourceRegion", &source),
            ],
            lag_ms,
        )
        .await?;
    }
    let target = arns.pop().ok_or("no secondary")?;
    let writer = arns.pop().ok_or("no writer")?;
    Ok((writer, target))
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
        use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};
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
        super::create_records(config, zone, vec![set]).await?;
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
