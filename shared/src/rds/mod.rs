//! RDS as database-failover and the validator read it: instances, parameter groups and metrics
//! in batches (`reads`), writers as they are and how each could be fenced (`writers`), Aurora
//! global databases, and clients for the region an old writer lives in.

pub mod reads;
pub mod writers;

use std::collections::BTreeMap;

use futures_util::future::join_all;
use rebound_core::context::RecoveryContext;

use crate::error::AwsError;
pub use writers::{instance_name, is_cluster, writer_region, OldWriter};

/// An Aurora global database: its members as (cluster ARN, is writer), and whether it is available.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Global {
    pub members: Vec<(String, bool)>,
    pub available: bool,
    /// The cluster a failover or switchover under way is promoting (`FailoverState`'s
    /// `ToDbClusterArn`, while its status is `pending`, `failing-over` or `switching-over`).
    pub moving_to: Option<String>,
    /// Its engine and version: a secondary cluster added to it has the same.
    pub engine: Option<String>,
    pub engine_version: Option<String>,
}

impl Global {
    pub fn writer(&self) -> Option<&str> {
        self.members.iter().find(|(_, w)| *w).map(|(arn, _)| arn.as_str())
    }
}

/// One `DescribeGlobalClusters`: the global database, or None where it does not exist.
pub async fn global_cluster(rds: &aws_sdk_rds::Client, id: &str) -> Result<Option<Global>, AwsError> {
    let out = rds
        .describe_global_clusters()
        .global_cluster_identifier(id)
        .send()
        .await
        .map_err(|e| crate::error::from_sdk("rds", "DescribeGlobalClusters", &e))?;
    Ok(out.global_clusters().first().map(|cluster| Global {
        members: cluster
            .global_cluster_members()
            .iter()
            .map(|m| {
                (
                    m.db_cluster_arn().unwrap_or_default().to_string(),
                    m.is_writer().unwrap_or(false),
                )
            })
            .collect(),
        available: cluster.status() == Some("available"),
        moving_to: cluster
            .failover_state()
            .filter(|f| f.status().is_some_and(|s| s.as_str() != "cancelling"))
            .and_then(|f| f.to_db_cluster_arn())
            .map(str::to_string),
        engine: cluster.engine().map(str::to_string),
        engine_version: cluster.engine_version().map(str::to_string),
    }))
}

/// A client like `rds`, for the region where an old writer lives: that region may be the failed
/// one, so its calls are best effort (`aws::best_effort_timeouts`).
pub fn in_region(rds: &aws_sdk_rds::Client, region: &str) -> aws_sdk_rds::Client {
    let config = rds
        .config()
        .to_builder()
        .region(aws_config::Region::new(region.to_string()))
        .timeout_config(crate::aws::best_effort_timeouts())
        .retry_config(crate::aws::best_effort_retries())
        .build();
    aws_sdk_rds::Client::from_conf(config)
}

/// Old writers as they are now, each region's read at once ([`writers::old_writers`]) through
/// a client like `rds`; one answer per `(source, isolation)`, in order.
pub async fn old_writers(
    rds: &aws_sdk_rds::Client,
    ctx: &RecoveryContext,
    sources: &[(&str, Option<&str>)],
) -> Vec<OldWriter> {
    let mut by_region: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, (source, _)) in sources.iter().enumerate() {
        by_region.entry(writer_region(ctx, source)).or_default().push(i);
    }
    let reads = by_region.into_iter().map(|(region, indices)| async move {
        let batch: Vec<(&str, Option<&str>)> = indices.iter().map(|&i| sources[i]).collect();
        let states = writers::old_writers(&in_region(rds, &region), &batch).await;
        indices.into_iter().zip(states).collect::<Vec<_>>()
    });
    let mut states: Vec<(usize, OldWriter)> = join_all(reads).await.into_iter().flatten().collect();
    states.sort_by_key(|(i, _)| *i);
    states.into_iter().map(|(_, state)| state).collect()
}
