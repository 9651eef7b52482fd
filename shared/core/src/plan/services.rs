//! The plan's services: ECS services, Auto Scaling groups, EKS managed node groups and
//! Kubernetes Deployments on EKS in the recovery region, and how many each runs (a fixed count, or a share of the primary region's
//! peak).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Service {
    Ecs {
        cluster: String,
        service: String,
        /// A fixed count; or `capacity`, sized from the primary's peak.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        desired_count: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        capacity: Option<FromPeak>,
        /// Its tasks need the new writer to start (see [`Service::needs_writer`]).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        needs_writer: bool,
        /// The plan's account it is in (`accounts`); Rebound's own when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
    },
    AutoScalingGroup {
        name: String,
        min_size: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        desired_capacity: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        capacity: Option<FromPeak>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_size: Option<i32>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        needs_writer: bool,
        /// The plan's account it is in (`accounts`); Rebound's own when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
        /// On-Demand Capacity Reservations in the recovery region its instances launch into:
        /// readiness checks they are active, match the group and hold what the failover adds.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        capacity_reservations: Vec<String>,
    },
    /// An EKS managed node group of the recovery region's cluster, scaled through EKS
    /// (UpdateNodegroupConfig), which sets the Auto Scaling group it runs in.
    EksNodegroup {
        cluster: String,
        nodegroup: String,
        min_size: i32,
        /// A fixed count; or `capacity`, sized from the primary's node group's peak.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        desired_size: Option<i32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        capacity: Option<FromPeak>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_size: Option<i32>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        needs_writer: bool,
        /// The plan's account it is in (`accounts`); Rebound's own when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
    },
    /// A Kubernetes Deployment on the recovery region's EKS cluster, scaled through the
    /// cluster's API: its `spec.replicas`, and the minimum (and, to fit, the maximum) of the
    /// HorizontalPodAutoscaler that scales it, when the plan names one.
    EksDeployment {
        cluster: String,
        namespace: String,
        deployment: String,
        replicas: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        horizontal_pod_autoscaler: Option<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        needs_writer: bool,
        /// The plan's account it is in (`accounts`); Rebound's own when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
    },
}

/// A Deployment in its cluster: `(namespace, deployment, autoscaler)`.
pub type KubernetesObject<'a> = (&'a str, &'a str, Option<&'a str>);

/// A service sized from the primary region's recent peak (ECS running tasks, Auto Scaling
/// InService instances, a node group's in its Auto Scaling groups; the highest hourly Maximum of
/// the last 24 hours) rather than a fixed number: the recovery region runs what the
/// application needed at its busiest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FromPeak {
    /// The share of the peak to run, in percent (1 to 200).
    pub percent_of_peak: u32,
    /// The minimum success percentage (1 to 100, default 100): at the recovery's deadline, a
    /// service running at least this share of its target counts as scaled (reported as
    /// partial); one below it fails the step, and the rest of the recovery goes on.
    #[serde(default = "all_of_it")]
    pub minimum: u32,
    /// The fewest to run, whatever the peak; what runs when no peak is known.
    pub floor: i32,
    /// The service's name in the primary region where it differs: `CLUSTER/SERVICE` for ECS,
    /// the group's name for Auto Scaling, `CLUSTER/NODEGROUP` for an EKS node group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_name: Option<String>,
}

impl FromPeak {
    /// How many to run for a `peak` (None: not known): the plan's share of it, rounded up,
    /// and never fewer than its minimum.
    pub fn target(&self, peak: Option<f64>) -> i32 {
        let share = peak.map_or(0.0, |p| (p.max(0.0) * f64::from(self.percent_of_peak) / 100.0).ceil());
        // A peak beyond i32 is no count AWS takes: the cast saturates.
        (share as i32).max(self.floor)
    }

    /// How many of `target` must run for the scaling to count as reached at the deadline.
    pub fn enough(&self, target: i32) -> i32 {
        (f64::from(target) * f64::from(self.minimum.min(100)) / 100.0).ceil() as i32
    }
}

const fn all_of_it() -> u32 {
    100
}

impl Service {
    /// How many the plan wants running: its fixed count, or its share of the primary's `peak`.
    pub fn desired(&self, peak: Option<f64>) -> i32 {
        let (fixed, capacity) = match self {
            Service::Ecs {
                desired_count,
                capacity,
                ..
            } => (desired_count, capacity),
            Service::AutoScalingGroup {
                desired_capacity,
                capacity,
                ..
            } => (desired_capacity, capacity),
            Service::EksNodegroup {
                desired_size, capacity, ..
            } => (desired_size, capacity),
            Service::EksDeployment { replicas, .. } => return *replicas,
        };
        match (fixed, capacity) {
            (Some(fixed), _) => *fixed,
            (None, Some(capacity)) => capacity.target(peak),
            (None, None) => 0,
        }
    }

    /// How it is sized from the primary's peak, if it is.
    pub fn from_peak(&self) -> Option<&FromPeak> {
        match self {
            Service::Ecs { capacity, .. }
            | Service::AutoScalingGroup { capacity, .. }
            | Service::EksNodegroup { capacity, .. } => capacity.as_ref(),
            Service::EksDeployment { .. } => None,
        }
    }

    /// Its name in the primary region, where its peak is read: `CLUSTER/SERVICE` or the group's.
    pub fn primary_name(&self) -> String {
        if let Some(name) = self.from_peak().and_then(|c| c.primary_name.clone()) {
            return name;
        }
        match self {
            Service::Ecs { cluster, service, .. } => format!("{cluster}/{service}"),
            Service::AutoScalingGroup { name, .. } => name.clone(),
            Service::EksNodegroup { cluster, nodegroup, .. } => format!("{cluster}/{nodegroup}"),
            Service::EksDeployment {
                cluster,
                namespace,
                deployment,
                ..
            } => format!("{cluster}/{namespace}/{deployment}"),
        }
    }

    /// The plan's account it is in (None: Rebound's own).
    pub fn account(&self) -> Option<&str> {
        match self {
            Service::Ecs { account, .. }
            | Service::AutoScalingGroup { account, .. }
            | Service::EksNodegroup { account, .. }
            | Service::EksDeployment { account, .. } => account.as_deref(),
        }
    }

    /// Whether scaling it out waits for the new writer. Off by default: tasks and instances
    /// take minutes to place, boot and pass health checks, and an application reconnects to
    /// its database, so capacity is added while the database fails over. A service that must
    /// not start before the writer takes writes (it migrates a schema at boot, or fails its
    /// health check without a writer) says `needsWriter: true`.
    pub fn needs_writer(&self) -> bool {
        match self {
            Service::Ecs { needs_writer, .. }
            | Service::AutoScalingGroup { needs_writer, .. }
            | Service::EksNodegroup { needs_writer, .. }
            | Service::EksDeployment { needs_writer, .. } => *needs_writer,
        }
    }

    /// A Deployment's cluster and object; None for other kinds.
    pub fn kubernetes_object(&self) -> Option<(&str, KubernetesObject<'_>)> {
        match self {
            Service::EksDeployment {
                cluster,
                namespace,
                deployment,
                horizontal_pod_autoscaler,
                ..
            } => Some((cluster, (namespace, deployment, horizontal_pod_autoscaler.as_deref()))),
            _ => None,
        }
    }

    /// The capacity reservations the plan names for it (none for ECS).
    pub fn capacity_reservations(&self) -> &[String] {
        match self {
            Service::Ecs { .. } | Service::EksNodegroup { .. } | Service::EksDeployment { .. } => &[],
            Service::AutoScalingGroup {
                capacity_reservations, ..
            } => capacity_reservations,
        }
    }

    /// The service's name in results: `ecs:CLUSTER/SERVICE`, `autoscaling:GROUP`,
    /// `eks:CLUSTER/NODEGROUP` or `k8s:CLUSTER/NAMESPACE/DEPLOYMENT`.
    pub fn resource_name(&self) -> String {
        match self {
            Service::Ecs { cluster, service, .. } => format!("ecs:{cluster}/{service}"),
            Service::AutoScalingGroup { name, .. } => format!("autoscaling:{name}"),
            Service::EksNodegroup { cluster, nodegroup, .. } => format!("eks:{cluster}/{nodegroup}"),
            Service::EksDeployment {
                cluster,
                namespace,
                deployment,
                ..
            } => format!("k8s:{cluster}/{namespace}/{deployment}"),
        }
    }

    /// Whether an outage report naming `affected` concerns this service: its own name, its
    /// `cluster/service`, or the AWS service that runs it (`ECS`; `EC2` or `AUTOSCALING` for a
    /// group), compared without regard to case.
    pub fn matches(&self, affected: &str) -> bool {
        let a = affected.trim().to_ascii_lowercase();
        match self {
            Service::Ecs { cluster, service, .. } => {
                a == service.to_ascii_lowercase()
                    || a == format!("{cluster}/{service}").to_ascii_lowercase()
                    || a == "ecs"
            }
            Service::AutoScalingGroup { name, .. } => {
                a == name.to_ascii_lowercase() || a == "ec2" || a == "autoscaling"
            }
            Service::EksNodegroup { cluster, nodegroup, .. } => {
                a == nodegroup.to_ascii_lowercase()
                    || a == format!("{cluster}/{nodegroup}").to_ascii_lowercase()
                    || a == "eks"
            }
            Service::EksDeployment {
                namespace, deployment, ..
            } => {
                a == deployment.to_ascii_lowercase()
                    || a == format!("{namespace}/{deployment}").to_ascii_lowercase()
                    || a == "eks"
            }
        }
    }
}
