//! service-restoration: scales the recovery region's services to their recovery capacity.
//!
//! `start` reads every ECS service and Auto Scaling group first (concurrently, with a bound) and
//! refuses before changing anything when one is missing or inactive; then it sets ECS desired
//! counts and Auto Scaling min/desired/max. `status` waits until ECS running counts and
//! InService instances reach the targets.

use std::time::Instant;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use rebound_shared::context::{
    parse_request, Action, ActionStatus, BadRequest, RecoveryContext, Step, StepRequest, StepResult,
};
use rebound_shared::error::{AwsError, ErrorKind};
use rebound_shared::plan::Service;
use rebound_shared::step::{elapsed_ms, ensure_region, services_in_scope, within_deadline, Phase, StepFault};

mod reads;
use serde_json::{json, Value};

/// How many services are inspected or scaled at once.
const CONCURRENCY: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Step(#[from] StepFault),
    #[error("{service}: {source}")]
    Aws { service: String, source: AwsError },
    #[error("{service}: {reason}")]
    Precondition { service: String, reason: String },
}

impl ServiceError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ServiceError::Aws { source, .. } => source.kind,
            ServiceError::Precondition { .. } => ErrorKind::PreconditionFailed,
            ServiceError::Step(fault) => fault.kind(),
        }
    }
}

rebound_shared::impl_diagnostic!(ServiceError);

fn aws<E>(service: &str, api: &'static str, operation: &'static str, err: &SdkError<E, HttpResponse>) -> ServiceError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    ServiceError::Aws {
        service: service.to_string(),
        source: AwsError::from_sdk(api, operation, err),
    }
}

/// Recovery-region clients.
pub struct ServiceRestoration {
    pub ecs: aws_sdk_ecs::Client,
    pub autoscaling: aws_sdk_autoscaling::Client,
}

/// What one service looks like now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub min: Option<i32>,
    pub desired: i32,
    pub max: Option<i32>,
    /// ECS running tasks, or InService instances.
    pub running: i32,
}

impl Capacity {
    fn to_json(self) -> Value {
        json!({ "min": self.min, "desired": self.desired, "max": self.max, "running": self.running })
    }
}

impl ServiceRestoration {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        ServiceRestoration {
            ecs: aws_sdk_ecs::Client::new(config),
            autoscaling: aws_sdk_autoscaling::Client::new(config),
        }
    }

    pub async fn handle(&self, payload: Value, now: DateTime<Utc>) -> Result<StepResult, ServiceError> {
        let request: StepRequest = parse_request(payload).map_err(StepFault::from)?;
        let (phase, ctx) = request.phase();
        ensure_region(
            self.ecs.config().region().map(|r| r.as_ref()),
            &ctx.plan.recovery_region,
            "recovers into",
        )?;
        match phase {
            Phase::Start | Phase::Readiness => self.start(&ctx, now).await,
            Phase::Status => self.status(&ctx, now).await,
        }
    }

    async fn start(&self, ctx: &RecoveryContext, now: DateTime<Utc>) -> Result<StepResult, ServiceError> {
        let invocation = Instant::now();
        let mut result = StepResult::begin(Step::ServiceRestoration, ctx, now);
        let services = services_in_scope(ctx);
        let current: Vec<Capacity> = self.capacities(&services).await.into_iter().collect::<Result<_, _>>()?;
        let dry_run = ctx.dry_run;
        let scalings: Vec<_> = services
            .iter()
            .zip(current)
            .map(|(s, c)| self.scale(s, c, dry_run))
            .collect();
        let actions: Vec<Action> = stream::iter(scalings).buffered(CONCURRENCY).try_collect().await?;
        result.actions = actions;
        Ok(result.settle(invocation, now))
    }

    /// Sets one service's capacity, unless it is already there.
    async fn scale(&self, service: &Service, current: Capacity, dry_run: bool) -> Result<Action, ServiceError> {
        let resource = service.resource_name();
        let target = target_capacity(service, current);
        let operation = match service {
            Service::Ecs { .. } => "UpdateService",
            Service::AutoScalingGroup { .. } => "UpdateAutoScalingGroup",
        };
        let settings_reached =
            current.desired == target.desired && current.min == target.min && current.max == target.max;
        if settings_reached {
            let mut action = Action::already_done(&resource, operation, current.to_json());
            if current.running < target.desired {
                // Already asked for, still starting: wait for it like for our own change.
                action.status = ActionStatus::Pending;
            }
            return Ok(action);
        }
        let mut action = Action::change(&resource, operation, current.to_json(), target.to_json(), dry_run);
        if dry_run {
            return Ok(action);
        }
        let started = Instant::now();
        match service {
            Service::Ecs {
                cluster,
                service: name,
                desired_count,
            } => {
                self.ecs
                    .update_service()
                    .cluster(cluster)
                    .service(name)
                    .desired_count(*desired_count)
                    .send()
                    .await
                    .map_err(|e| aws(&resource, "ecs", "UpdateService", &e))?;
            }
            Service::AutoScalingGroup { name, .. } => {
                self.autoscaling
                    .update_auto_scaling_group()
                    .auto_scaling_group_name(name)
                    .set_min_size(target.min)
                    .desired_capacity(target.desired)
                    .set_max_size(target.max)
                    .send()
                    .await
                    .map_err(|e| aws(&resource, "autoscaling", "UpdateAutoScalingGroup", &e))?;
            }
        }
        action.duration_ms = elapsed_ms(started);
        Ok(action)
    }

    async fn status(&self, ctx: &RecoveryContext, now: DateTime<Utc>) -> Result<StepResult, ServiceError> {
        let invocation = Instant::now();
        let mut result = ctx.results.services.clone().ok_or(StepFault::NotStarted("services"))?;
        let mut pending = Vec::new();
        for action in result.actions.iter().filter(|a| a.status == ActionStatus::Pending) {
            let Some(service) = ctx.plan.services.iter().find(|s| s.resource_name() == action.resource) else {
                return Err(StepFault::BadRequest(BadRequest(format!(
                    "results.services names {} which the plan does not",
                    action.resource
                )))
                .into());
            };
            pending.push(service);
        }
        // One batched read of every pending service.
        let mut read = self.capacities(&pending).await.into_iter();
        for (action, service) in result
            .actions
            .iter_mut()
            .filter(|a| a.status == ActionStatus::Pending)
            .zip(pending.iter())
        {
            let current = read.next().unwrap_or_else(|| {
                Err(ServiceError::Precondition {
                    service: service.resource_name(),
                    reason: "not read".into(),
                })
            })?;
            let want = target_capacity(service, current).desired;
            if current.running >= want {
                action.status = ActionStatus::Done;
                action.after = current.to_json();
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

    /// Reads a service's current capacity; a missing or inactive service is a precondition.
    pub async fn capacity(&self, service: &Service) -> Result<Capacity, ServiceError> {
        self.capacities(&[service]).await.pop().unwrap_or_else(|| {
            Err(ServiceError::Precondition {
                service: service.resource_name(),
                reason: "not read".into(),
            })
        })
    }
}

/// The capacity the plan asks for. An Auto Scaling group's maximum is raised to fit, never lowered.
pub fn target_capacity(service: &Service, current: Capacity) -> Capacity {
    match service {
        Service::Ecs { desired_count, .. } => Capacity {
            min: None,
            desired: *desired_count,
            max: None,
            running: current.running,
        },
        Service::AutoScalingGroup {
            min_size,
            desired_capacity,
            max_size,
            ..
        } => {
            let max = max_size.unwrap_or_else(|| current.max.unwrap_or(*desired_capacity).max(*desired_capacity));
            Capacity {
                min: Some(*min_size),
                desired: *desired_capacity,
                max: Some(max),
                running: current.running,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_asg_maximum_is_raised_to_fit_and_never_lowered() {
        let asg = Service::AutoScalingGroup {
            name: "web".into(),
            min_size: 2,
            desired_capacity: 4,
            max_size: None,
        };
        let small = Capacity {
            min: Some(0),
            desired: 0,
            max: Some(1),
            running: 0,
        };
        assert_eq!(target_capacity(&asg, small).max, Some(4));
        let large = Capacity {
            min: Some(0),
            desired: 0,
            max: Some(20),
            running: 0,
        };
        assert_eq!(target_capacity(&asg, large).max, Some(20));
        let pinned = Service::AutoScalingGroup {
            name: "web".into(),
            min_size: 2,
            desired_capacity: 4,
            max_size: Some(12),
        };
        assert_eq!(target_capacity(&pinned, large).max, Some(12));
    }
}
