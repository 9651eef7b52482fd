//! DynamoDB global tables as the recovery reads them: each table's replica in one region
//! (`DescribeTable`), and how far behind it is (`ReplicationLatency`, published by the region
//! that sends the changes).

use std::collections::HashMap;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{DateTime, Utc};
use rebound_core::plan::Replica;

use crate::aws::Regions;
use crate::error::{from_sdk, AwsError};
use crate::metrics::{newest_datapoints, Series};

/// What the recovery reads about its global tables, towards one region: each table's replica
/// there, and the replication latency into it from the other (an error when that region does
/// not answer).
#[derive(Debug)]
pub struct Observed {
    pub replicas: HashMap<String, Option<Replica>>,
    pub latencies: Result<HashMap<String, f64>, AwsError>,
}

/// DynamoDB and CloudWatch in both regions; the sending side's reads are best effort (it may be
/// the region that failed).
#[derive(Debug, Clone)]
pub struct GlobalTables {
    recovery: aws_sdk_dynamodb::Client,
    primary: aws_sdk_dynamodb::Client,
    recovery_cloudwatch: aws_sdk_cloudwatch::Client,
    primary_cloudwatch: aws_sdk_cloudwatch::Client,
}

impl GlobalTables {
    pub fn new(regions: &Regions) -> GlobalTables {
        GlobalTables {
            recovery: aws_sdk_dynamodb::Client::new(&regions.recovery),
            primary: aws_sdk_dynamodb::Client::new(&regions.primary),
            recovery_cloudwatch: aws_sdk_cloudwatch::Client::new(&crate::aws::best_effort(&regions.recovery)),
            primary_cloudwatch: aws_sdk_cloudwatch::Client::new(&crate::aws::best_effort(&regions.primary)),
        }
    }

    /// The same, as another account's role.
    pub fn as_role(&self, credentials: &crate::accounts::SharedCredentialsProvider) -> Self {
        GlobalTables {
            recovery: crate::as_role!(aws_sdk_dynamodb::Client, self.recovery, credentials),
            primary: crate::as_role!(aws_sdk_dynamodb::Client, self.primary, credentials),
            recovery_cloudwatch: crate::as_role!(aws_sdk_cloudwatch::Client, self.recovery_cloudwatch, credentials),
            primary_cloudwatch: crate::as_role!(aws_sdk_cloudwatch::Client, self.primary_cloudwatch, credentials),
        }
    }

    /// `tables` as they serve the region the application runs in: the recovery region
    /// (`towards_recovery`), or the primary after a failback; `receiving` names that region.
    pub async fn observe(
        &self,
        tables: &[&str],
        towards_recovery: bool,
        receiving: &str,
        now: DateTime<Utc>,
    ) -> Result<Observed, AwsError> {
        let sender = if towards_recovery {
            &self.primary_cloudwatch
        } else {
            &self.recovery_cloudwatch
        };
        let replicas = self.replicas(tables, towards_recovery).await?;
        let latencies = replication_latencies(sender, tables, receiving, now).await;
        Ok(Observed { replicas, latencies })
    }

    /// Adds a replica of `table` (as the recovery region holds it) in `region`: `UpdateTable`
    /// with `ReplicaUpdates` Create (global tables version 2019.11.21). It is `CREATING` until
    /// DynamoDB has copied the table there.
    pub async fn add_replica(&self, table: &str, region: &str) -> Result<(), AwsError> {
        let create = aws_sdk_dynamodb::types::CreateReplicationGroupMemberAction::builder()
            .region_name(region)
            .build()
            .map_err(|e| AwsError {
                service: "dynamodb",
                operation: "UpdateTable",
                code: "InvalidParameter".into(),
                message: e.to_string(),
                status: None,
                kind: rebound_core::error::ErrorKind::InvalidInput,
            })?;
        self.recovery
            .update_table()
            .table_name(table)
            .replica_updates(
                aws_sdk_dynamodb::types::ReplicationGroupUpdate::builder()
                    .create(create)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| from_sdk("dynamodb", "UpdateTable", &e))?;
        Ok(())
    }

    /// Each table's replica in the recovery region (`towards_recovery`) or the primary.
    pub async fn replicas(
        &self,
        tables: &[&str],
        towards_recovery: bool,
    ) -> Result<HashMap<String, Option<Replica>>, AwsError> {
        let dynamodb = if towards_recovery {
            &self.recovery
        } else {
            &self.primary
        };
        let mut replicas = HashMap::new();
        for table in tables {
            replicas.insert(table.to_string(), replica(dynamodb, table).await?);
        }
        Ok(replicas)
    }
}

/// The table in the client's region, if it exists there.
pub async fn replica(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> Result<Option<Replica>, AwsError> {
    let out = match dynamodb.describe_table().table_name(table).send().await {
        Ok(out) => out,
        Err(e) if e.code() == Some("ResourceNotFoundException") => return Ok(None),
        Err(e) => return Err(from_sdk("dynamodb", "DescribeTable", &e)),
    };
    let Some(description) = out.table else {
        return Ok(None);
    };
    Ok(Some(Replica {
        status: description
            .table_status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_else(|| "unknown".into()),
        peers: description
            .replicas()
            .iter()
            .filter_map(|r| {
                Some((
                    r.region_name()?.to_string(),
                    r.replica_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "unknown".into()),
                ))
            })
            .collect(),
    }))
}

/// Each table's newest `ReplicationLatency` towards `receiving` in seconds, as `cloudwatch`'s
/// region (the sending one) publishes it; a table with no datapoint in ten minutes (no writes to
/// replicate) is absent.
pub async fn replication_latencies(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    tables: &[&str],
    receiving: &str,
    now: DateTime<Utc>,
) -> Result<HashMap<String, f64>, AwsError> {
    let series = Series {
        namespace: "AWS/DynamoDB",
        metric: "ReplicationLatency",
        dimension: "TableName",
        fixed: &[("ReceivingRegion", receiving)],
    };
    let millis = newest_datapoints(cloudwatch, &series, tables, now).await?;
    Ok(millis.into_iter().map(|(table, ms)| (table, ms / 1000.0)).collect())
}
