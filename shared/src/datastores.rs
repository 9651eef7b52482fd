//! ElastiCache global datastores as the recovery reads them (`DescribeGlobalReplicationGroups`
//! with the members), and MemoryDB multi-Region clusters (`DescribeMultiRegionClusters` with
//! the regional clusters): global resources, read in the region the recovery acts in.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rebound_core::plan::{Datastore, Member, MultiRegion, Regional};

use crate::error::{from_sdk, AwsError};

/// Global datastore `id` and its members; None when ElastiCache does not know it.
pub async fn describe(elasticache: &aws_sdk_elasticache::Client, id: &str) -> Result<Option<Datastore>, AwsError> {
    let read = elasticache
        .describe_global_replication_groups()
        .global_replication_group_id(id)
        .show_member_info(true)
        .send()
        .await;
    let out = match read {
        Ok(out) => out,
        Err(e) if e.code() == Some("GlobalReplicationGroupNotFoundFault") => return Ok(None),
        Err(e) => return Err(from_sdk("elasticache", "DescribeGlobalReplicationGroups", &e)),
    };
    let text = |s: Option<&str>| s.unwrap_or_default().to_string();
    Ok(out.global_replication_groups().first().map(|g| Datastore {
        status: text(g.status()),
        members: g
            .members()
            .iter()
            .map(|m| Member {
                group: text(m.replication_group_id()),
                region: text(m.replication_group_region()),
                role: text(m.role()),
            })
            .collect(),
    }))
}

/// Multi-Region cluster `name` and its regional clusters; None when MemoryDB does not know it.
pub async fn describe_multi_region(
    memorydb: &aws_sdk_memorydb::Client,
    name: &str,
) -> Result<Option<MultiRegion>, AwsError> {
    let read = memorydb
        .describe_multi_region_clusters()
        .multi_region_cluster_name(name)
        .show_cluster_details(true)
        .send()
        .await;
    let out = match read {
        Ok(out) => out,
        Err(e) if e.code() == Some("MultiRegionClusterNotFoundFault") => return Ok(None),
        Err(e) => return Err(from_sdk("memorydb", "DescribeMultiRegionClusters", &e)),
    };
    let text = |s: Option<&str>| s.unwrap_or_default().to_string();
    Ok(out.multi_region_clusters().first().map(|m| MultiRegion {
        status: text(m.status()),
        clusters: m
            .clusters()
            .iter()
            .map(|c| Regional {
                name: text(c.cluster_name()),
                region: text(c.region()),
                status: text(c.status()),
            })
            .collect(),
    }))
}
