//! EKS managed node groups. EKS reports each one's scaling and status (DescribeNodegroup); the
//! nodes running are the InService instances of the Auto Scaling groups EKS runs it in
//! (`resources.autoScalingGroups`), read with the plan's own groups. A node group's cluster
//! must be ACTIVE (or UPDATING, which still serves) for it to scale.

use std::collections::BTreeMap;

use futures_util::stream::{self, StreamExt};
use rebound_core::capacity::Capacity;
use rebound_core::step::StepFault;

use super::{Capacities, CONCURRENCY};
use crate::error::aws_fault;

/// A node group as EKS describes it.
pub(super) struct Nodegroup {
    status: String,
    min: Option<i32>,
    desired: i32,
    max: Option<i32>,
    /// The Auto Scaling groups EKS runs it in.
    pub(super) groups: Vec<String>,
    /// Its health issues, for a node group not ACTIVE.
    issues: Vec<String>,
}

/// A node group's capacity: its scaling as EKS reports it, and its groups' InService
/// instances (`in_service` of each group, None for one not read).
pub(super) fn capacity(
    resource: &str,
    read: &Nodegroup,
    in_service: &dyn Fn(&str) -> Option<i32>,
) -> Result<Capacity, StepFault> {
    // UPDATING: an update (ours, or another) is under way, and the nodes serve meanwhile.
    if read.status != "ACTIVE" && read.status != "UPDATING" {
        let issues = if read.issues.is_empty() {
            String::new()
        } else {
            format!(" ({})", read.issues.join("; "))
        };
        return Err(StepFault::precondition(
            resource,
            format!("node group is {}, expected ACTIVE{issues}", read.status),
        ));
    }
    Ok(Capacity {
        min: read.min,
        desired: read.desired,
        max: read.max,
        running: read.groups.iter().filter_map(|g| in_service(g)).sum(),
    })
}

impl Capacities {
    /// Each (cluster, node group), in the order given: a node group or cluster not found, or a
    /// cluster not serving, is a precondition.
    pub(super) async fn describe_nodegroups(&self, wanted: &[(&str, &str)]) -> Vec<Result<Nodegroup, StepFault>> {
        if wanted.is_empty() {
            return Vec::new();
        }
        let mut clusters: BTreeMap<&str, Result<(), StepFault>> = BTreeMap::new();
        for (cluster, _) in wanted {
            clusters.insert(cluster, Ok(()));
        }
        for (cluster, state) in clusters.iter_mut() {
            *state = self.cluster_serves(cluster).await;
        }
        let reads: Vec<_> = wanted
            .iter()
            .map(|(cluster, nodegroup)| self.describe_nodegroup(cluster, nodegroup))
            .collect();
        let read: Vec<_> = stream::iter(reads).buffered(CONCURRENCY).collect().await;
        wanted
            .iter()
            .zip(read)
            .map(|((cluster, nodegroup), read)| match clusters.get(cluster) {
                Some(Err(fault)) => Err(super::told_for(fault, &format!("eks:{cluster}/{nodegroup}"))),
                _ => read,
            })
            .collect()
    }

    async fn cluster_serves(&self, cluster: &str) -> Result<(), StepFault> {
        crate::kubernetes::serving_cluster(&self.eks, cluster).await.map(|_| ())
    }

    async fn describe_nodegroup(&self, cluster: &str, nodegroup: &str) -> Result<Nodegroup, StepFault> {
        let resource = format!("eks:{cluster}/{nodegroup}");
        let out = self
            .eks
            .describe_nodegroup()
            .cluster_name(cluster)
            .nodegroup_name(nodegroup)
            .send()
            .await
            .map_err(|e| aws_fault(&resource, "eks", "DescribeNodegroup", &e))?;
        let group = out
            .nodegroup()
            .ok_or_else(|| StepFault::precondition(&resource, "DescribeNodegroup answered no node group"))?;
        let scaling = group.scaling_config();
        Ok(Nodegroup {
            status: group.status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            min: scaling.and_then(|s| s.min_size()),
            desired: scaling.and_then(|s| s.desired_size()).unwrap_or(0),
            max: scaling.and_then(|s| s.max_size()),
            groups: backing_groups(group),
            issues: group
                .health()
                .map(|h| {
                    h.issues()
                        .iter()
                        .map(|i| {
                            format!(
                                "{}: {}",
                                i.code().map(|c| c.as_str()).unwrap_or("issue"),
                                i.message().unwrap_or_default()
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// The Auto Scaling groups EKS runs node group `group` in (`resources.autoScalingGroups`).
pub(crate) fn backing_groups(group: &aws_sdk_eks::types::Nodegroup) -> Vec<String> {
    group
        .resources()
        .map(|r| {
            r.auto_scaling_groups()
                .iter()
                .filter_map(|g| g.name().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
