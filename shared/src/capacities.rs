//! Services' capacity read in batches, for service-restoration and the validator:
//! `DescribeServices` takes 10 services of one cluster a call, `DescribeAutoScalingGroups` 50
//! groups; the batches go out a few at a time.

use std::collections::{BTreeMap, BTreeSet};

use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_autoscaling::types::{AutoScalingGroup, LifecycleState};
use aws_sdk_ecs::types::Service as EcsService;
use futures_util::stream::{self, StreamExt};
use rebound_core::capacity::Capacity;
use rebound_core::plan::{KubernetesObject, RecoveryPlan, Service};
use rebound_core::step::StepFault;

use crate::accounts::{PerAccount, Roles};
use crate::as_role;
use crate::error::aws_fault;

pub(crate) mod nodegroups;

use crate::kubernetes::Kubernetes;

/// How many batches are read at once.
const CONCURRENCY: usize = 4;

/// DescribeServices takes at most 10 services a call.
pub const ECS_BATCH: usize = 10;
/// DescribeAutoScalingGroups returns at most 50 groups a page by default (100 at most).
pub const ASG_BATCH: usize = 50;

/// What one batched read found, by name; a name missing is a service not found.
enum Found {
    Ecs(BTreeMap<String, EcsService>, BTreeMap<String, String>),
    Asg(BTreeMap<String, AutoScalingGroup>),
}

/// What [`Capacities::describe`] read.
pub struct Described {
    /// Each service's capacity, in the order asked.
    pub capacities: Vec<Result<Capacity, StepFault>>,
    /// The task definition of each ECS service that runs on Fargate on demand (launch type
    /// FARGATE, or the FARGATE capacity provider), by resource name.
    pub fargate: BTreeMap<String, String>,
    /// Each Auto Scaling group found, by resource name; for an EKS node group, the group EKS
    /// runs it in.
    pub groups: BTreeMap<String, AutoScalingGroup>,
    /// A client of each cluster whose Deployments were read, by cluster name: one
    /// `DescribeCluster` and one signed token per cluster, for the scaling that follows too.
    pub kubernetes: BTreeMap<String, kube::Client>,
}

/// The recovery region's ECS, Auto Scaling and EKS clients, and its clusters' API servers.
#[derive(Clone, Debug)]
pub struct Capacities {
    pub ecs: aws_sdk_ecs::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
    pub eks: aws_sdk_eks::Client,
    pub kubernetes: Kubernetes,
}

impl Capacities {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        Capacities {
            ecs: aws_sdk_ecs::Client::new(config),
            autoscaling: aws_sdk_autoscaling::Client::new(config),
            eks: aws_sdk_eks::Client::new(config),
            kubernetes: Kubernetes::new(config),
        }
    }

    /// The same clients acting as another account's role.
    pub fn as_role(&self, credentials: &SharedCredentialsProvider) -> Self {
        Capacities {
            ecs: as_role!(aws_sdk_ecs::Client, self.ecs, credentials),
            autoscaling: as_role!(aws_sdk_autoscaling::Client, self.autoscaling, credentials),
            eks: as_role!(aws_sdk_eks::Client, self.eks, credentials),
            kubernetes: self.kubernetes.as_role(credentials),
        }
    }

    /// Each service's current capacity, in the order given: a missing or inactive service is a
    /// precondition; a failed read fails every service of its batch.
    pub async fn read(&self, services: &[&Service]) -> Vec<Result<Capacity, StepFault>> {
        self.describe(services).await.capacities
    }

    /// [`Capacities::read`], with what readiness's quota checks need from the same reads.
    pub async fn describe(&self, services: &[&Service]) -> Described {
        let mut ecs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut groups: Vec<&str> = Vec::new();
        let mut wanted_nodegroups = Vec::new();
        let mut deployments = Vec::new();
        for service in services {
            match service {
                Service::Ecs { cluster, service, .. } => {
                    ecs.entry(cluster.as_str()).or_default().push(service.as_str())
                }
                Service::AutoScalingGroup { name, .. } => groups.push(name.as_str()),
                Service::EksNodegroup { cluster, nodegroup, .. } => {
                    wanted_nodegroups.push((cluster.as_str(), nodegroup.as_str()))
                }
                Service::EksDeployment { .. } => deployments.push(*service),
            }
        }
        let (kubernetes, mut workloads) = self.read_workloads(&deployments).await;
        // A node group's instances are those of the Auto Scaling groups EKS runs it in: read
        // with the plan's own groups.
        let nodegroups = self.describe_nodegroups(&wanted_nodegroups).await;
        let backing: Vec<String> = nodegroups.iter().flatten().flat_map(|r| r.groups.clone()).collect();
        groups.extend(backing.iter().map(String::as_str));
        let mut batches: Vec<(Option<&str>, Vec<&str>)> = Vec::new();
        for (cluster, names) in &ecs {
            batches.extend(names.chunks(ECS_BATCH).map(|c| (Some(*cluster), c.to_vec())));
        }
        batches.extend(groups.chunks(ASG_BATCH).map(|c| (None, c.to_vec())));
        // Futures collected first: a closure inside the stream would make it !Send.
        let reads: Vec<_> = batches
            .into_iter()
            .map(|(cluster, names)| async move {
                let found = match cluster {
                    Some(cluster) => self.describe_services(cluster, &names).await,
                    None => self.describe_groups(&names).await,
                };
                (cluster, names, found)
            })
            .collect();
        let done: Vec<_> = stream::iter(reads).buffered(CONCURRENCY).collect().await;
        let mut fargate = BTreeMap::new();
        let mut described_groups = BTreeMap::new();
        for (cluster, _, found) in &done {
            if let (None, Ok(Found::Asg(found))) = (cluster, found) {
                for (name, group) in found {
                    described_groups.insert(format!("autoscaling:{name}"), group.clone());
                }
            }
            if let (Some(cluster), Ok(Found::Ecs(found, _))) = (cluster, found) {
                for (name, svc) in found {
                    let on_fargate = svc.launch_type().is_some_and(|t| t.as_str() == "FARGATE")
                        || svc
                            .capacity_provider_strategy()
                            .iter()
                            .any(|p| p.capacity_provider() == "FARGATE");
                    if let (true, Some(definition)) = (on_fargate, svc.task_definition()) {
                        fargate.insert(format!("ecs:{cluster}/{name}"), definition.to_string());
                    }
                }
            }
        }
        let found_group = |name: &str| {
            done.iter().find_map(|(c, _, found)| match (c, found) {
                (None, Ok(Found::Asg(found))) => found.get(name),
                _ => None,
            })
        };
        let group_in_service = |name: &str| found_group(name).map(in_service);
        // A node group's instances are its group's: the quota checks read that group for it.
        for ((cluster, nodegroup), read) in wanted_nodegroups.iter().zip(&nodegroups) {
            let group = read
                .as_ref()
                .ok()
                .and_then(|r| r.groups.first())
                .and_then(|g| found_group(g));
            if let Some(group) = group {
                described_groups.insert(format!("eks:{cluster}/{nodegroup}"), group.clone());
            }
        }
        let mut nodegroups = nodegroups.into_iter();
        let capacities = services
            .iter()
            .map(|service| {
                let resource = service.resource_name();
                let (cluster, name) = match service {
                    Service::Ecs { cluster, service, .. } => (Some(cluster.as_str()), service.as_str()),
                    Service::AutoScalingGroup { name, .. } => (None, name.as_str()),
                    Service::EksDeployment { .. } => {
                        return workloads
                            .remove(&resource)
                            .unwrap_or_else(|| Err(StepFault::precondition(&resource, "not read")))
                    }
                    Service::EksNodegroup { .. } => {
                        let read = nodegroups
                            .next()
                            .unwrap_or_else(|| Err(StepFault::precondition(&resource, "not read")))?;
                        return nodegroups::capacity(&resource, &read, &group_in_service);
                    }
                };
                let batch = done
                    .iter()
                    .find(|(c, names, _)| *c == cluster && names.contains(&name))
                    .map(|(_, _, found)| found);
                let missing = |reason: String| StepFault::precondition(&resource, reason);
                match batch {
                    None => Err(missing("not read".into())),
                    Some(Err(e)) => Err(told_for(e, &resource)),
                    Some(Ok(Found::Ecs(found, failures))) => match found.get(name) {
                        Some(s) if s.status() == Some("ACTIVE") => Ok(Capacity {
                            min: None,
                            desired: s.desired_count(),
                            max: None,
                            running: s.running_count(),
                        }),
                        Some(s) => Err(missing(format!(
                            "service is {}, expected ACTIVE",
                            s.status().unwrap_or("unknown")
                        ))),
                        None => Err(missing(format!(
                            "service not found in the recovery region ({})",
                            failures.get(name).map_or("not found", String::as_str)
                        ))),
                    },
                    Some(Ok(Found::Asg(found))) => match found.get(name) {
                        Some(group) => Ok(Capacity {
                            min: group.min_size(),
                            desired: group.desired_capacity().unwrap_or(0),
                            max: group.max_size(),
                            running: in_service(group),
                        }),
                        None => Err(missing("Auto Scaling group not found in the recovery region".into())),
                    },
                }
            })
            .collect();
        Described {
            capacities,
            fargate,
            groups: described_groups,
            kubernetes,
        }
    }

    /// The Deployments' capacities by resource name, read from their clusters' API servers a
    /// few at a time, each cluster's client built once; and those clients.
    async fn read_workloads(
        &self,
        deployments: &[&Service],
    ) -> (
        BTreeMap<String, kube::Client>,
        BTreeMap<String, Result<Capacity, StepFault>>,
    ) {
        let objects: Vec<(String, &str, KubernetesObject<'_>)> = deployments
            .iter()
            .filter_map(|s| {
                s.kubernetes_object()
                    .map(|(cluster, object)| (s.resource_name(), cluster, object))
            })
            .collect();
        let clusters: BTreeSet<&str> = objects.iter().map(|(_, cluster, _)| *cluster).collect();
        let building: Vec<_> = clusters
            .into_iter()
            .map(|cluster| async move { (cluster, self.kubernetes.client(cluster).await) })
            .collect();
        let clients: BTreeMap<&str, Result<kube::Client, StepFault>> =
            stream::iter(building).buffered(CONCURRENCY).collect().await;
        let reads: Vec<_> = objects
            .into_iter()
            .map(|(resource, cluster, (namespace, deployment, autoscaler))| {
                let client = clients.get(cluster);
                async move {
                    let read = match client {
                        Some(Ok(client)) => Kubernetes::read(client, &resource, namespace, deployment, autoscaler)
                            .await
                            .map(|w| w.capacity()),
                        Some(Err(fault)) => Err(told_for(fault, &resource)),
                        None => Err(StepFault::precondition(&resource, "not read")),
                    };
                    (resource, read)
                }
            })
            .collect();
        let workloads = stream::iter(reads).buffered(CONCURRENCY).collect().await;
        let clients = clients
            .into_iter()
            .filter_map(|(cluster, client)| Some((cluster.to_string(), client.ok()?)))
            .collect();
        (clients, workloads)
    }

    async fn describe_services(&self, cluster: &str, names: &[&str]) -> Result<Found, StepFault> {
        let resource = format!("ecs:{cluster}/{}", names.join(","));
        let out = self
            .ecs
            .describe_services()
            .cluster(cluster)
            .set_services(Some(names.iter().map(|n| n.to_string()).collect()))
            .send()
            .await
            .map_err(|e| aws_fault(&resource, "ecs", "DescribeServices", &e))?;
        let found = out
            .services()
            .iter()
            .filter_map(|s| s.service_name().map(|n| (n.to_string(), s.clone())))
            .collect();
        // A failure names the service by ARN (`.../service/CLUSTER/NAME`).
        let failures = out
            .failures()
            .iter()
            .filter_map(|f| {
                let name = f.arn()?.rsplit('/').next()?.to_string();
                Some((name, f.reason().unwrap_or("not found").to_string()))
            })
            .collect();
        Ok(Found::Ecs(found, failures))
    }

    async fn describe_groups(&self, names: &[&str]) -> Result<Found, StepFault> {
        let resource = format!("autoscaling:{}", names.join(","));
        let out = self
            .autoscaling
            .describe_auto_scaling_groups()
            .set_auto_scaling_group_names(Some(names.iter().map(|n| n.to_string()).collect()))
            .max_records(i32::try_from(ASG_BATCH).unwrap_or(50))
            .send()
            .await
            .map_err(|e| aws_fault(&resource, "autoscaling", "DescribeAutoScalingGroups", &e))?;
        Ok(Found::Asg(
            out.auto_scaling_groups()
                .iter()
                .filter_map(|g| Some((g.auto_scaling_group_name()?.to_string(), g.clone())))
                .collect(),
        ))
    }
}

/// The services' clients in each account the services name (`services[].account`).
impl PerAccount<Capacities> {
    /// `own`, and `own` acting as the role of each account `services` name (assumed once each,
    /// through `roles`).
    pub async fn for_services(
        own: &Capacities,
        roles: &Roles,
        plan: &RecoveryPlan,
        services: &[&Service],
        session: &str,
    ) -> Result<Self, StepFault> {
        let names: Vec<&str> = services.iter().filter_map(|s| s.account()).collect();
        let credentials = roles.assume_each(plan, &names, session).await?;
        Ok(PerAccount::assumed(own.clone(), &credentials, Capacities::as_role))
    }

    /// [`Capacities::read`], each service in its account.
    pub async fn read(&self, services: &[&Service]) -> Vec<Result<Capacity, StepFault>> {
        self.describe(services).await.capacities
    }

    /// [`Capacities::describe`], each account's services read through its clients.
    pub async fn describe(&self, services: &[&Service]) -> Described {
        let mut by_account: BTreeMap<Option<&str>, Vec<usize>> = BTreeMap::new();
        for (i, service) in services.iter().enumerate() {
            by_account.entry(service.account()).or_default().push(i);
        }
        let mut capacities: Vec<Option<Result<Capacity, StepFault>>> = services.iter().map(|_| None).collect();
        let mut all = Described {
            capacities: Vec::new(),
            fargate: BTreeMap::new(),
            groups: BTreeMap::new(),
            kubernetes: BTreeMap::new(),
        };
        for (account, indexes) in by_account {
            let group: Vec<&Service> = indexes.iter().map(|&i| services[i]).collect();
            // Boxed: one account's reads at a time, off the caller's stack.
            let described = Box::pin(self.of(account).describe(&group)).await;
            for (i, capacity) in indexes.into_iter().zip(described.capacities) {
                capacities[i] = Some(capacity);
            }
            all.fargate.extend(described.fargate);
            all.groups.extend(described.groups);
            // A cluster is in one account (the plan's checks): its name stays unique.
            all.kubernetes.extend(described.kubernetes);
        }
        all.capacities = capacities
            .into_iter()
            .zip(services)
            .map(|(c, s)| c.unwrap_or_else(|| Err(StepFault::precondition(s.resource_name(), "not read"))))
            .collect();
        all
    }
}

/// How many of a group's instances are InService.
fn in_service(group: &AutoScalingGroup) -> i32 {
    let count = group
        .instances()
        .iter()
        .filter(|i| i.lifecycle_state() == Some(&LifecycleState::InService))
        .count();
    i32::try_from(count).unwrap_or(i32::MAX)
}

/// A batch's failed read, told for one of its services.
fn told_for(fault: &StepFault, service: &str) -> StepFault {
    match fault {
        StepFault::Aws { source, .. } => StepFault::Aws {
            resource: service.to_string(),
            source: source.clone(),
        },
        other => StepFault::precondition(service, other.to_string()),
    }
}
