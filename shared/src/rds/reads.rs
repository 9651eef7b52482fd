//! Reads that serve many databases at once, so that a plan's calls grow with its databases
//! divided by the API's batch size, not one call per database per pass: instances through a
//! `db-instance-id` filter, each parameter group once whatever the number of writers on it, and
//! every replica's lag in one `GetMetricData`.

use std::collections::{BTreeSet, HashMap};

use crate::error::AwsError;
pub use crate::metrics::{newest_datapoints, Series};
use aws_sdk_rds::types::{DbInstance, Filter};
use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt, TryStreamExt};

/// Identifiers per `DescribeDBInstances` filter, and records per page (its `MaxRecords` cap).
pub const INSTANCES_PER_CALL: usize = 100;
pub use crate::metrics::QUERIES_PER_CALL;
/// Reads of one kind in flight at once.
const READ_CONCURRENCY: usize = 8;

/// Instances by lower-cased identifier (RDS identifiers are case-insensitive).
#[derive(Debug, Default, Clone)]
pub struct Instances(HashMap<String, DbInstance>);

impl Instances {
    /// The instance named by `id`: an identifier or an instance ARN.
    pub fn get(&self, id: &str) -> Option<&DbInstance> {
        self.0.get(&key(id))
    }
}

/// How instances are keyed: the identifier (an ARN's last part), lower-cased.
pub fn key(id: &str) -> String {
    super::instance_name(id).to_ascii_lowercase()
}

/// Every named instance that exists, `INSTANCES_PER_CALL` identifiers a call, paged; a missing
/// one is simply absent.
pub async fn instances(rds: &aws_sdk_rds::Client, ids: &[&str]) -> Result<Instances, AwsError> {
    let names: BTreeSet<String> = ids.iter().map(|id| key(id)).collect();
    let names: Vec<String> = names.into_iter().collect();
    let calls: Vec<_> = names
        .chunks(INSTANCES_PER_CALL)
        .map(|chunk| async move {
            let filter = Filter::builder()
                .name("db-instance-id")
                .set_values(Some(chunk.to_vec()))
                .build();
            let mut pages = rds
                .describe_db_instances()
                .filters(filter)
                .max_records(INSTANCES_PER_CALL as i32)
                .into_paginator()
                .send();
            let mut found = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| crate::error::from_sdk("rds", "DescribeDBInstances", &e))?;
                found.extend(page.db_instances().iter().cloned());
            }
            Ok::<_, AwsError>(found)
        })
        .collect();
    let pages: Vec<Vec<DbInstance>> = stream::iter(calls).buffered(READ_CONCURRENCY).try_collect().await?;
    let map = pages
        .into_iter()
        .flatten()
        .filter_map(|i| Some((i.db_instance_identifier()?.to_ascii_lowercase(), i)))
        .collect();
    Ok(Instances(map))
}

/// A parameter group and the engine's read-only parameter (name, value) to look for in it.
pub type GroupSetting = (String, &'static str, &'static str);

/// Whether each group holds its read-only setting: one paged `DescribeDBParameters` per group,
/// of the parameters a user set (a fence is one; the engine's default never is read-only on a
/// writer).
pub async fn read_only_groups(
    rds: &aws_sdk_rds::Client,
    groups: BTreeSet<GroupSetting>,
) -> Result<HashMap<String, bool>, AwsError> {
    let reads: Vec<_> = groups
        .into_iter()
        .map(|(group, parameter, value)| async move {
            let mut pages = rds
                .describe_db_parameters()
                .db_parameter_group_name(&group)
                .source("user")
                .into_paginator()
                .send();
            let mut set = false;
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| crate::error::from_sdk("rds", "DescribeDBParameters", &e))?;
                set |= page.parameters().iter().any(|p| {
                    p.parameter_name() == Some(parameter) && p.parameter_value().is_some_and(|v| is_set(v, value))
                });
            }
            Ok::<_, AwsError>((group, set))
        })
        .collect();
    stream::iter(reads).buffered(READ_CONCURRENCY).try_collect().await
}

/// Whether a DB cluster parameter group holds the engine's read-only setting (one paged
/// `DescribeDBClusterParameters` of the parameters a user set).
pub async fn cluster_group_read_only(
    rds: &aws_sdk_rds::Client,
    group: &str,
    parameter: &str,
    value: &str,
) -> Result<bool, AwsError> {
    let mut pages = rds
        .describe_db_cluster_parameters()
        .db_cluster_parameter_group_name(group)
        .source("user")
        .into_paginator()
        .send();
    let mut set = false;
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| crate::error::from_sdk("rds", "DescribeDBClusterParameters", &e))?;
        set |= page
            .parameters()
            .iter()
            .any(|p| p.parameter_name() == Some(parameter) && p.parameter_value().is_some_and(|v| is_set(v, value)));
    }
    Ok(set)
}

/// `read_only` takes 1 or ON; PostgreSQL's booleans take on, true, 1.
fn is_set(current: &str, wanted: &str) -> bool {
    current.eq_ignore_ascii_case(wanted)
        || (wanted == "1" && current.eq_ignore_ascii_case("on"))
        || (wanted == "on" && (current == "1" || current.eq_ignore_ascii_case("true")))
}

/// The newest `AWS/RDS` datapoint (Maximum per minute, last ten minutes) of `metric` for each
/// dimension value that has one: `QUERIES_PER_CALL` values a call, paged.
pub async fn newest_metrics(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    metric: &str,
    dimension: &str,
    values: &[&str],
    now: DateTime<Utc>,
) -> Result<HashMap<String, f64>, AwsError> {
    let series = Series {
        namespace: "AWS/RDS",
        metric,
        dimension,
        fixed: &[],
    };
    newest_datapoints(cloudwatch, &series, values, now).await
}

/// The host name the application connects to for `db`'s writer: the instance's endpoint, or
/// for an Aurora global database its target cluster's (writer) endpoint. None while RDS has not
/// given it one yet (an instance still being created) or when it does not exist.
pub async fn writer_host(
    rds: &aws_sdk_rds::Client,
    db: &rebound_core::plan::Database,
) -> Result<Option<String>, AwsError> {
    use rebound_core::plan::Database;
    match db {
        Database::AuroraGlobal { target_cluster_arn, .. } => {
            let out = rds
                .describe_db_clusters()
                .db_cluster_identifier(target_cluster_arn)
                .send()
                .await;
            match out {
                Ok(out) => Ok(out.db_clusters().first().and_then(|c| c.endpoint()).map(str::to_string)),
                Err(e)
                    if aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e)
                        == Some("DBClusterNotFoundFault") =>
                {
                    Ok(None)
                }
                Err(e) => Err(crate::error::from_sdk("rds", "DescribeDBClusters", &e)),
            }
        }
        other => {
            let found = instances(rds, &[other.identifier()]).await?;
            Ok(found
                .get(other.identifier())
                .and_then(|i| i.endpoint())
                .and_then(|e| e.address())
                .map(str::to_string))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_values_match_as_the_engines_read_them() {
        assert!(is_set("1", "1"));
        assert!(is_set("ON", "1"));
        assert!(is_set("on", "on"));
        assert!(is_set("1", "on"));
        assert!(is_set("true", "on"));
        assert!(!is_set("0", "1"));
        assert!(!is_set("off", "on"));
        assert!(!is_set("{TrueIfReplica}", "1"));
    }

    #[test]
    fn instances_are_found_by_identifier_or_arn_whatever_the_case() {
        let instance = DbInstance::builder().db_instance_identifier("orders-db").build();
        let found = Instances([("orders-db".to_string(), instance)].into_iter().collect());
        assert!(found.get("Orders-DB").is_some());
        assert!(found.get("arn:aws:rds:us-east-1:123456789012:db:orders-db").is_some());
        assert!(found.get("other").is_none());
    }
}
