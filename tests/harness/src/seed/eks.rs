//! EKS as the tests seed it: a cluster and its managed node group, and another caller's update
//! of the node group.

use aws_config::SdkConfig;

/// Creates EKS cluster `cluster` and its managed node group `nodegroup` (m5.large) at the given
/// scaling, where `config` points; returns the name of the Auto Scaling group it runs in.
pub async fn eks_nodegroup(
    config: &SdkConfig,
    cluster: &str,
    nodegroup: &str,
    (min, desired, max): (i32, i32, i32),
) -> Result<String, String> {
    use aws_sdk_eks::types::VpcConfigRequest;
    let eks = aws_sdk_eks::Client::new(config);
    let role = "arn:aws:iam::123456789012:role/eks";
    eks.create_cluster()
        .name(cluster)
        .role_arn(role)
        .resources_vpc_config(
            VpcConfigRequest::builder()
                .subnet_ids("subnet-0123456789abcdef0")
                .build(),
        )
        .send()
        .await
        .map_err(|e| format!("CreateCluster: {e:?}"))?;
    let created = eks
        .create_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(nodegroup)
        .node_role(role)
        .subnets("subnet-0123456789abcdef0")
        .instance_types("m5.large")
        .scaling_config(nodegroup_sizes(min, desired, max))
        .send()
        .await
        .map_err(|e| format!("CreateNodegroup: {e:?}"))?;
    created
        .nodegroup()
        .and_then(|n| n.resources())
        .and_then(|r| r.auto_scaling_groups().first())
        .and_then(|g| g.name())
        .map(str::to_string)
        .ok_or_else(|| "CreateNodegroup named no Auto Scaling group".to_string())
}

fn nodegroup_sizes(min: i32, desired: i32, max: i32) -> aws_sdk_eks::types::NodegroupScalingConfig {
    aws_sdk_eks::types::NodegroupScalingConfig::builder()
        .min_size(min)
        .desired_size(desired)
        .max_size(max)
        .build()
}

/// Asks EKS to scale node group `nodegroup` of `cluster` to (min, desired, max), as another
/// caller would: the update's status, or the error's code.
pub async fn update_nodegroup(
    config: &SdkConfig,
    cluster: &str,
    nodegroup: &str,
    (min, desired, max): (i32, i32, i32),
) -> Result<String, String> {
    aws_sdk_eks::Client::new(config)
        .update_nodegroup_config()
        .cluster_name(cluster)
        .nodegroup_name(nodegroup)
        .scaling_config(nodegroup_sizes(min, desired, max))
        .send()
        .await
        .map(|out| {
            out.update()
                .and_then(|u| u.status())
                .map(|s| s.as_str().to_string())
                .unwrap_or_default()
        })
        .map_err(|e| {
            aws_sdk_eks::error::ProvideErrorMetadata::code(&e)
                .unwrap_or_default()
                .to_string()
        })
}
