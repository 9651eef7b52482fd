//! What moto holds, read back for a test's assertions.

use aws_config::SdkConfig;

/// Auto Scaling group `name`'s (min, desired, max, InService instances); None when it does not
/// exist.
pub async fn group(config: &SdkConfig, name: &str) -> Option<(i32, i32, i32, usize)> {
    let out = aws_sdk_autoscaling::Client::new(config)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names(name)
        .send()
        .await
        .expect("DescribeAutoScalingGroups");
    out.auto_scaling_groups().first().map(|g| {
        let in_service = g
            .instances()
            .iter()
            .filter(|i| i.lifecycle_state() == Some(&aws_sdk_autoscaling::types::LifecycleState::InService))
            .count();
        (
            g.min_size().unwrap_or(-1),
            g.desired_capacity().unwrap_or(-1),
            g.max_size().unwrap_or(-1),
            in_service,
        )
    })
}

async fn describe_nodegroup(
    config: &SdkConfig,
    cluster: &str,
    nodegroup: &str,
) -> Option<aws_sdk_eks::types::Nodegroup> {
    let out = aws_sdk_eks::Client::new(config)
        .describe_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(nodegroup)
        .send()
        .await
        .ok()?;
    out.nodegroup().cloned()
}

/// EKS node group `nodegroup` of `cluster`: its (status, min, desired, max).
pub async fn nodegroup(config: &SdkConfig, cluster: &str, nodegroup: &str) -> (String, i32, i32, i32) {
    let n = describe_nodegroup(config, cluster, nodegroup)
        .await
        .expect("DescribeNodegroup");
    let s = n.scaling_config().expect("scaling");
    (
        n.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        s.min_size().unwrap_or(-1),
        s.desired_size().unwrap_or(-1),
        s.max_size().unwrap_or(-1),
    )
}

/// EKS node group `nodegroup` of `cluster` with its nodes: (status, desired, InService
/// instances of the Auto Scaling group EKS runs it in); None when it cannot be read.
pub async fn nodegroup_nodes(config: &SdkConfig, cluster: &str, nodegroup: &str) -> Option<(String, i32, usize)> {
    let n = describe_nodegroup(config, cluster, nodegroup).await?;
    let name = n.resources()?.auto_scaling_groups().first()?.name()?;
    let (_, _, _, in_service) = group(config, name).await?;
    Some((
        n.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
        n.scaling_config()?.desired_size()?,
        in_service,
    ))
}

/// Global datastore `id` as ElastiCache holds it: its status and each member as
/// `(replication group, region, role)`; None when there is no such datastore.
pub async fn global_datastore(config: &SdkConfig, id: &str) -> Option<(String, Vec<(String, String, String)>)> {
    let read = aws_sdk_elasticache::Client::new(config)
        .describe_global_replication_groups()
        .global_replication_group_id(id)
        .show_member_info(true)
        .send()
        .await
        .ok()?;
    let global = read.global_replication_groups().first()?;
    let text = |s: Option<&str>| s.unwrap_or_default().to_string();
    let members = global
        .members()
        .iter()
        .map(|m| {
            (
                text(m.replication_group_id()),
                text(m.replication_group_region()),
                text(m.role()),
            )
        })
        .collect();
    Some((text(global.status()), members))
}

/// MemoryDB multi-Region cluster `name` as MemoryDB holds it: its status and each regional
/// cluster's `(name, region, status)`.
pub async fn multi_region_cluster(config: &SdkConfig, name: &str) -> Option<(String, Vec<(String, String, String)>)> {
    let read = aws_sdk_memorydb::Client::new(config)
        .describe_multi_region_clusters()
        .multi_region_cluster_name(name)
        .show_cluster_details(true)
        .send()
        .await
        .ok()?;
    let found = read.multi_region_clusters().first()?;
    let text = |s: Option<&str>| s.unwrap_or_default().to_string();
    let clusters = found
        .clusters()
        .iter()
        .map(|c| (text(c.cluster_name()), text(c.region()), text(c.status())))
        .collect();
    Some((text(found.status()), clusters))
}

/// The host name of RDS instance `id` where `config` points (its endpoint's address).
pub async fn instance_host(config: &SdkConfig, id: &str) -> String {
    let out = aws_sdk_rds::Client::new(config)
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .expect("describe");
    out.db_instances()[0]
        .endpoint()
        .and_then(|e| e.address())
        .expect("address")
        .to_string()
}

/// What parameter `parameter` holds where `config` points, and secret `secret`'s JSON object.
pub async fn parameter_and_secret(config: &SdkConfig, parameter: &str, secret: &str) -> (String, serde_json::Value) {
    let parameter = aws_sdk_ssm::Client::new(config)
        .get_parameter()
        .name(parameter)
        .send()
        .await
        .expect("parameter");
    let secret = aws_sdk_secretsmanager::Client::new(config)
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .expect("secret");
    let secret = serde_json::from_str(secret.secret_string().expect("string")).expect("json");
    let value = parameter.parameter().and_then(|p| p.value()).unwrap_or_default();
    (value.to_string(), secret)
}
