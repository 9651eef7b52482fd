//! service-restoration: scales the recovery region's services to their recovery capacity.
//!
//! `start` observes every ECS service, Auto Scaling group and EKS node group first, in batches
//! ([`Capacities::read`]), and refuses before changing anything when one is missing or inactive;
//! it decides each service's scaling without a call ([`scaling`]), then sets ECS desired counts,
//! Auto Scaling min/desired/max, node groups' scaling configuration, and Deployments' replicas
//! (with their autoscalers' bounds) through their cluster's Kubernetes API. `status` waits until
//! ECS running counts and InService instances (a node group's, in the group EKS runs it in)
//! reach the targets ([`running`]). The application's event source mappings move with
//! it (`streams.rs`).
//!
//! When the region moves, the state machine calls it twice ([`ServiceStage`]): `AddCapacity`
//! beside DNS and the databases for what needs no writer (results in `results.capacity`), and
//! `RestoreWriterServices` once the new writer takes writes for the rest (`results.services`).

mod streams;

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use rebound_shared::accounts::{PerAccount, Roles};
use rebound_shared::aws::Regions;
use rebound_shared::capacities::Capacities;
use rebound_shared::capacity::{recorded_target, scaling, Capacity, Scaling};
use rebound_shared::context::{
    parse_request, Action, ActionStatus, BadRequest, RecoveryContext, ServiceStage, Step, StepRequest, StepResult,
};
use rebound_shared::error::{aws_fault, ErrorKind};
use rebound_shared::event_streams::EventStreams;
use rebound_shared::kubernetes::{self, Kubernetes};
use rebound_shared::peaks::{self, Peak};
use rebound_shared::plan::Service;
use rebound_shared::step::{
    elapsed_ms, ensure_region, past_deadline, services_in_stage, within_deadline, Phase, StepFault,
};
use serde_json::Value;

/// EKS API Reference, UpdateNodegroupConfig, Errors: ResourceInUseException while another
/// update of the node group is under way. It ends in minutes, so the state machine retries.
fn busy_is_transient(mut fault: StepFault) -> StepFault {
    if let StepFault::Aws { source, .. } = &mut fault {
        if source.code == "ResourceInUseException" {
            source.kind = ErrorKind::Transient;
        }
    }
    fault
}

/// How many services are scaled at once.
const CONCURRENCY: usize = 4;

/// Every failure of this step is one every step shares.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Step(#[from] StepFault),
}

impl ServiceError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ServiceError::Step(fault) => fault.kind(),
        }
    }
}

rebound_shared::impl_diagnostic!(ServiceError);

/// Recovery-region clients for the services; both regions' for the event streams.
pub struct ServiceRestoration {
    pub clients: Capacities,
    /// The recovery region's STS: assumes the role of a service's other account
    /// (`services[].account`) for exactly the calls on it.
    pub roles: Roles,
    pub streams: EventStreams,
    /// The recovery region's CloudWatch, where the readiness check keeps the primary's peaks.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

impl ServiceRestoration {
    pub fn new(regions: &Regions) -> Self {
        let roles = Roles::new(&regions.recovery);
        ServiceRestoration {
            clients: Capacities::new(&regions.recovery),
            roles: roles.clone(),
            streams: EventStreams::new(regions),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&regions.recovery),
        }
    }

    pub async fn handle(&self, payload: Value, now: DateTime<Utc>) -> Result<StepResult, ServiceError> {
        let request: StepRequest = parse_request(payload).map_err(StepFault::from)?;
        let stage = request.stage;
        let (phase, ctx) = request.phase();
        ensure_region(
            self.clients.ecs.config().region().map(|r| r.as_ref()),
            &ctx.plan.recovery_region,
            "recovers into",
        )?;
        match phase {
            Phase::Start | Phase::Readiness => self.start(&ctx, stage, now).await,
            Phase::Status => self.status(&ctx, stage, now).await,
        }
    }

    async fn start(
        &self,
        ctx: &RecoveryContext,
        stage: ServiceStage,
        now: DateTime<Utc>,
    ) -> Result<StepResult, ServiceError> {
        let invocation = Instant::now();
        let mut result = StepResult::begin(Step::ServiceRestoration, ctx, now);
        let services = services_in_stage(ctx, stage);
        let clients = self.clients_for(ctx, &services).await?;
        let described = clients.describe(&services).await;
        let current: Vec<Capacity> = described.capacities.into_iter().collect::<Result<_, _>>()?;
        let kubernetes = &described.kubernetes;
        // The consumers move with the application (not on a service restore, which moves none).
        let streams = self.read_streams(ctx, stage).await?;
        let peaks = self.peaks(ctx, &services, now).await?;
        let dry_run = ctx.dry_run;
        let scalings: Vec<_> = services
            .iter()
            .zip(current)
            .map(|(s, c)| {
                let peak = peaks.get(&s.resource_name()).copied();
                Self::scale(clients.of(s.account()), s, c, peak, kubernetes, dry_run)
            })
            .collect();
        let mut actions: Vec<Action> = stream::iter(scalings).buffered(CONCURRENCY).try_collect().await?;
        actions.extend(self.move_streams(ctx, streams).await?);
        result.actions = actions;
        Ok(result.settle(invocation, now))
    }

    /// The services' clients: Rebound's own, and each of their other accounts' (its role
    /// assumed once; one that cannot be fails the step before any change, naming the account).
    async fn clients_for(
        &self,
        ctx: &RecoveryContext,
        services: &[&Service],
    ) -> Result<PerAccount<Capacities>, StepFault> {
        PerAccount::for_services(&self.clients, &self.roles, &ctx.plan, services, &ctx.recovery_id).await
    }

    /// The peaks the readiness check kept for the services sized from the primary's peak.
    async fn peaks(
        &self,
        ctx: &RecoveryContext,
        services: &[&Service],
        now: DateTime<Utc>,
    ) -> Result<std::collections::HashMap<String, Peak>, StepFault> {
        let sized: Vec<&Service> = services.iter().copied().filter(|s| s.from_peak().is_some()).collect();
        peaks::kept(&self.cloudwatch, &ctx.application, &sized, now)
            .await
            .map_err(|source| StepFault::Aws {
                resource: format!(
                    "the primary's peaks kept in {} (Rebound/PeakRunning)",
                    ctx.plan.recovery_region
                ),
                source,
            })
    }

    /// Sets one service's capacity through its account's `clients`, unless it is already there.
    async fn scale(
        clients: &Capacities,
        service: &Service,
        current: Capacity,
        peak: Option<Peak>,
        kubernetes: &BTreeMap<String, kubernetes::Client>,
        dry_run: bool,
    ) -> Result<Action, StepFault> {
        let resource = service.resource_name();
        let operation = match service {
            Service::Ecs { .. } => "UpdateService",
            Service::AutoScalingGroup { .. } => "UpdateAutoScalingGroup",
            Service::EksNodegroup { .. } => "UpdateNodegroupConfig",
            Service::EksDeployment { .. } => "ScaleDeployment",
        };
        let sized = service.from_peak().map(|from| match peak {
            Some(p) => format!(
                "{} % of the primary's peak of {} (kept {}): {}",
                from.percent_of_peak,
                p.running,
                p.at.to_rfc3339(),
                from.target(Some(p.running))
            ),
            None => format!(
                "no peak of the primary kept in the last {} days: its floor, {}",
                peaks::KEPT_DAYS,
                from.floor
            ),
        });
        let mut action = match scaling(service, current, peak.map(|p| p.running)) {
            Scaling::Set { starting } => {
                let mut action = Action::already_done(&resource, operation, current.to_json());
                if starting {
                    // Already asked for, still starting: wait for it like for our own change.
                    action.status = ActionStatus::Pending;
                }
                action.detail = sized;
                return Ok(action);
            }
            Scaling::To(target) => {
                let mut action = Action::change(&resource, operation, current.to_json(), target.to_json(), dry_run);
                action.detail = sized;
                action
            }
        };
        let target = action.after.clone();
        let desired = recorded_target(&action).unwrap_or_default();
        let (min, max) = (target["min"].as_i64(), target["max"].as_i64());
        if dry_run {
            return Ok(action);
        }
        let started = Instant::now();
        match service {
            Service::Ecs {
                cluster, service: name, ..
            } => {
                clients
                    .ecs
                    .update_service()
                    .cluster(cluster)
                    .service(name)
                    .desired_count(desired)
                    .send()
                    .await
                    .map_err(|e| aws_fault(&resource, "ecs", "UpdateService", &e))?;
            }
            Service::AutoScalingGroup { name, .. } => {
                clients
                    .autoscaling
                    .update_auto_scaling_group()
                    .auto_scaling_group_name(name)
                    .set_min_size(min.and_then(|m| i32::try_from(m).ok()))
                    .desired_capacity(desired)
                    .set_max_size(max.and_then(|m| i32::try_from(m).ok()))
                    .send()
                    .await
                    .map_err(|e| aws_fault(&resource, "autoscaling", "UpdateAutoScalingGroup", &e))?;
            }
            Service::EksNodegroup { cluster, nodegroup, .. } => {
                let size = aws_sdk_eks::types::NodegroupScalingConfig::builder()
                    .set_min_size(min.and_then(|m| i32::try_from(m).ok()))
                    .desired_size(desired)
                    .set_max_size(max.and_then(|m| i32::try_from(m).ok()))
                    .build();
                clients
                    .eks
                    .update_nodegroup_config()
                    .cluster_name(cluster)
                    .nodegroup_name(nodegroup)
                    .scaling_config(size)
                    .send()
                    .await
                    .map_err(|e| busy_is_transient(aws_fault(&resource, "eks", "UpdateNodegroupConfig", &e)))?;
            }
            Service::EksDeployment { .. } => {
                if let Some((cluster, object)) = service.kubernetes_object() {
                    // The client the read built; it was read, so it is there.
                    let Some(client) = kubernetes.get(cluster) else {
                        return Err(StepFault::precondition(
                            &resource,
                            "its cluster's API server was not reached",
                        ));
                    };
                    let target = Capacity {
                        min: min.and_then(|m| i32::try_from(m).ok()),
                        desired,
                        max: max.and_then(|m| i32::try_from(m).ok()),
                        running: 0,
                    };
                    Kubernetes::scale(client, &resource, object, target).await?;
                }
            }
        }
        action.duration_ms = elapsed_ms(started);
        Ok(action)
    }

    async fn status(
        &self,
        ctx: &RecoveryContext,
        stage: ServiceStage,
        now: DateTime<Utc>,
    ) -> Result<StepResult, ServiceError> {
        let invocation = Instant::now();
        let name = stage.result_key();
        let started = match stage {
            ServiceStage::Capacity => &ctx.results.capacity,
            ServiceStage::All | ServiceStage::AfterWriter => &ctx.results.services,
        };
        let mut result = started.clone().ok_or(StepFault::NotStarted(name))?;
        let mut pending = Vec::new();
        self.poll_streams(ctx, &mut result.actions).await?;
        let is_service = |a: &Action| a.status == ActionStatus::Pending && !streams::is_stream(a);
        for action in result.actions.iter().filter(|a| is_service(a)) {
            let Some(service) = ctx.plan.services.iter().find(|s| s.resource_name() == action.resource) else {
                return Err(StepFault::BadRequest(BadRequest(format!(
                    "results.{name} names {} which the plan does not",
                    action.resource
                )))
                .into());
            };
            pending.push(service);
        }
        // One batched read of every pending service (per account).
        let mut read = self.clients_for(ctx, &pending).await?.read(&pending).await.into_iter();
        for (action, service) in result.actions.iter_mut().filter(|a| is_service(a)).zip(pending.iter()) {
            let current = read
                .next()
                .unwrap_or_else(|| Err(StepFault::precondition(service.resource_name(), "not read")))?;
            // The count set at the start (from the peak kept then), not one read again now.
            let want = recorded_target(action).unwrap_or_else(|| service.desired(None));
            // At the deadline, a service sized from the peak that runs the plan's minimum
            // success percentage counts as scaled, reported as partial.
            let accepted = service
                .from_peak()
                .filter(|_| past_deadline(ctx, now))
                .filter(|from| current.running >= from.enough(want));
            if current.running >= want {
                action.status = ActionStatus::Done;
                action.after = current.to_json();
            } else if let Some(from) = accepted {
                action.status = ActionStatus::Done;
                action.after = current.to_json();
                action.detail = Some(format!(
                    "partial: {} of {want} running at the deadline; the plan accepts {} % ({})",
                    current.running,
                    from.minimum,
                    from.enough(want)
                ));
            } else {
                action.detail = Some(format!("{} of {want} running", current.running));
            }
        }
        let result = result.settle(invocation, now);
        Ok(within_deadline(
            result,
            ctx,
            now,
            "services not at their targets",
            |a| format!("{} ({})", a.resource, a.detail.as_deref().unwrap_or("")),
        )?)
    }
}
