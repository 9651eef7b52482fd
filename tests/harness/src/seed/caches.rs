//! ElastiCache as the tests seed it: a global datastore with its primary replication group in
//! one region and its secondary in another, and how far behind the secondary is.

use aws_config::SdkConfig;

/// Creates replication group `primary_group` where `primary` points, makes it the primary of a
/// global datastore with suffix `suffix`, and joins `secondary_group` where `secondary` points;
/// returns the global datastore's id (AWS prefixes the suffix).
pub async fn cache_global_datastore(
    primary: &SdkConfig,
    secondary: &SdkConfig,
    suffix: &str,
    (primary_group, secondary_group): (&str, &str),
) -> Result<String, String> {
    let first = aws_sdk_elasticache::Client::new(primary);
    first
        .create_replication_group()
        .replication_group_id(primary_group)
        .replication_group_description("sessions")
        .engine("valkey")
        .cache_node_type("cache.r7g.large")
        .replicas_per_node_group(1)
        .automatic_failover_enabled(true)
        .send()
        .await
        .map_err(|e| format!("CreateReplicationGroup {primary_group}: {e:?}"))?;
    let global = first
        .create_global_replication_group()
        .global_replication_group_id_suffix(suffix)
        .primary_replication_group_id(primary_group)
        .send()
        .await
        .map_err(|e| format!("CreateGlobalReplicationGroup: {e:?}"))?;
    let id = global
        .global_replication_group()
        .and_then(|g| g.global_replication_group_id())
        .ok_or("CreateGlobalReplicationGroup named no datastore")?
        .to_string();
    aws_sdk_elasticache::Client::new(secondary)
        .create_replication_group()
        .replication_group_id(secondary_group)
        .replication_group_description("sessions")
        .global_replication_group_id(&id)
        .replicas_per_node_group(1)
        .send()
        .await
        .map_err(|e| format!("CreateReplicationGroup {secondary_group}: {e:?}"))?;
    Ok(id)
}

/// Creates a MemoryDB multi-Region cluster with suffix `suffix` where `first` points, and its
/// regional clusters `first_cluster` there and `second_cluster` where `second` points; returns
/// the multi-Region cluster's name (AWS prefixes the suffix).
pub async fn memorydb_multi_region_cluster(
    first: &SdkConfig,
    second: &SdkConfig,
    suffix: &str,
    (first_cluster, second_cluster): (&str, &str),
) -> Result<String, String> {
    let client = aws_sdk_memorydb::Client::new(first);
    let created = client
        .create_multi_region_cluster()
        .multi_region_cluster_name_suffix(suffix)
        .node_type("db.r7g.xlarge")
        .engine("valkey")
        .send()
        .await
        .map_err(|e| format!("CreateMultiRegionCluster: {e:?}"))?;
    let name = created
        .multi_region_cluster()
        .and_then(|c| c.multi_region_cluster_name())
        .ok_or("CreateMultiRegionCluster named no cluster")?
        .to_string();
    for (config, cluster) in [(first, first_cluster), (second, second_cluster)] {
        aws_sdk_memorydb::Client::new(config)
            .create_cluster()
            .cluster_name(cluster)
            .node_type("db.r7g.xlarge")
            .acl_name("open-access")
            .multi_region_cluster_name(&name)
            .send()
            .await
            .map_err(|e| format!("CreateCluster {cluster}: {e:?}"))?;
    }
    Ok(name)
}
