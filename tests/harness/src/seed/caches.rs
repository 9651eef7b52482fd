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
