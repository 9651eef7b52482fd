//! RDS as database-failover and the validator read it: instances, parameter groups and metrics
//! in batches (`reads`), writers as they are and how each could be fenced (`writers`), global
//! databases of each engine (`global`), and clients for the region an old writer lives in.

pub mod global;
pub mod reads;
pub mod writers;

use std::collections::BTreeMap;

use futures_util::future::join_all;
use rebound_core::context::RecoveryContext;

pub use global::{global_cluster, Global, GlobalClient, GlobalClients};
pub use writers::{instance_name, is_cluster, writer_region, OldWriter};

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
