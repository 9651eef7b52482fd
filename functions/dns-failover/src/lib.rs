//! dns-failover: moves the plan's DNS records to the recovery region (or back, in failback).
//!
//! `start` reads every record, routing control and alarm first and decides every change, then
//! acts: the data-plane modes first (ARC routing controls in one batch, `routing.rs`; the
//! health-check alarms, `alarm.rs`), then each hosted zone's `ChangeResourceRecordSets`
//! batches (split at Route 53's per-request limits, `records.rs`) and the health-check
//! inversions, which need Route 53's control plane. `status` polls `GetChange` until every
//! batch is INSYNC.

pub mod alarm;
mod decide;
mod observe;
pub mod routing;

use std::time::Instant;

use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecordSet};
use chrono::{DateTime, Utc};
use decide::{decide, Intent};
use rebound_shared::accounts::{Roles, Route53s};
use rebound_shared::aws::Regions;
use rebound_shared::context::{parse_request, Action, ActionStatus, RecoveryContext, Step, StepRequest, StepResult};
use rebound_shared::dns::cluster::Cluster;
use rebound_shared::dns::cluster::ClusterError;
use rebound_shared::dns::pace;
use rebound_shared::dns::records::{batches, same_target, summary};
use rebound_shared::dns::{self};
use rebound_shared::error::{AwsError, ErrorKind};
use rebound_shared::step::{elapsed_ms, moves_region, towards_recovery, within_deadline, Phase, StepFault};
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error(transparent)]
    Step(#[from] StepFault),
    #[error("{resource}: cannot build the change: {reason}")]
    BadRecord { resource: String, reason: String },
    #[error(
        "{resource}: Route 53's control plane (homed in us-east-1) did not answer: {source}; the \
         routingControl and alarmHealthCheck modes fail over without it"
    )]
    ControlPlaneUnreachable { resource: String, source: AwsError },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

impl DnsError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            DnsError::ControlPlaneUnreachable { .. } => ErrorKind::Transient,
            DnsError::Cluster(e) => e.kind(),
            DnsError::Step(fault) => fault.kind(),
            DnsError::BadRecord { .. } => ErrorKind::InvalidInput,
        }
    }
}

rebound_shared::impl_diagnostic!(DnsError);

pub struct DnsFailover {
    pub route53: aws_sdk_route53::Client,
    /// In the recovery region: assumes the role of a zone's other account (`dns[].account`).
    pub roles: Roles,
    /// In the recovery region, where the health checks' alarms live.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub cluster: Cluster,
}

fn aws<E>(
    resource: &str,
    operation: &'static str,
    err: &aws_sdk_route53::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> DnsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    route53_error(resource, rebound_shared::error::from_sdk("route53", operation, err))
}

/// A Route 53 call about `resource` that failed: a control plane that did not answer (no
/// answer, or a 5xx) is told apart, as the data-plane modes fail over without it.
fn route53_error(resource: &str, source: AwsError) -> DnsError {
    let unanswered =
        matches!(source.code.as_str(), "Timeout" | "DispatchFailure") || source.status.is_some_and(|s| s >= 500);
    let resource = resource.to_string();
    if unanswered {
        DnsError::ControlPlaneUnreachable { resource, source }
    } else {
        StepFault::Aws { resource, source }.into()
    }
}

impl DnsFailover {
    /// `config` serves Route 53 (global); `recovery` the alarms and the ARC cluster's credentials.
    /// Route 53 is global: its client comes from the primary's configuration.
    pub fn new(regions: &Regions) -> Self {
        let roles = Roles::new(&regions.recovery);
        DnsFailover {
            route53: dns::route53_client(&regions.primary),
            roles: roles.clone(),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&regions.recovery),
            cluster: Cluster::FromPlan(Box::new(regions.recovery.clone())),
        }
    }

    pub async fn handle(&self, payload: Value, now: DateTime<Utc>) -> Result<StepResult, DnsError> {
        let request: StepRequest = parse_request(payload).map_err(StepFault::from)?;
        let (phase, ctx) = request.phase();
        match phase {
            Phase::Start => self.start(&ctx, now).await,
            Phase::Status => self.status(&ctx, now).await,
            Phase::Readiness if !moves_region(&ctx) => Ok(StepResult::not_in_scope(Step::DnsFailover, &ctx, now)),
            Phase::Readiness => {
                let mut result = self.start(&ctx, now).await?;
                self.check_wiring(&ctx, &mut result).await?;
                Ok(result)
            }
        }
    }

    /// Observes everything, decides every record, then acts: a missing record or alarm, or a
    /// record that cannot be built, changes nothing.
    async fn start(&self, ctx: &RecoveryContext, now: DateTime<Utc>) -> Result<StepResult, DnsError> {
        let invocation = Instant::now();
        let to_recovery = towards_recovery(ctx);
        let mut result = StepResult::begin(Step::DnsFailover, ctx, now);
        let route53 = self.route53s(ctx).await?;
        let observed = self.observe(ctx, &route53).await?;
        let Intent {
            upserts: zones,
            inversions,
            routing,
            gates,
        } = decide(ctx, &observed)?;

        // Every read and decision is made: act, data plane first.
        if let Some((entries, actions)) = routing {
            let started = Instant::now();
            let mut actions = actions;
            if !ctx.dry_run && !entries.is_empty() {
                let what = actions
                    .iter()
                    .map(|a| a.resource.as_str())
                    .collect::<Vec<_>>()
                    .join(", ");
                routing::update(&observed.endpoints, &what, &entries).await?;
                for a in actions.iter_mut().filter(|a| !a.already_done) {
                    a.status = ActionStatus::Done;
                    a.duration_ms = elapsed_ms(started);
                }
            }
            result.actions.extend(actions);
        }
        for (gate, mut action) in gates {
            if !ctx.dry_run && !action.already_done {
                let started = Instant::now();
                let state = if to_recovery { StateValue::Alarm } else { StateValue::Ok };
                let reason = format!(
                    "Rebound {} {} of {}: primary {}",
                    ctx.recovery_id,
                    ctx.mode,
                    ctx.plan.application,
                    if to_recovery {
                        "out of service"
                    } else {
                        "back in service"
                    }
                );
                alarm::drive(&self.cloudwatch, &gate.alarm, gate.value, state, &reason).await?;
                action.status = ActionStatus::Done;
                action.duration_ms = elapsed_ms(started);
            }
            result.actions.push(action);
        }

        for (zone, records) in zones {
            let (done, todo): (Vec<_>, Vec<_>) = records
                .into_iter()
                .partition(|r| r.current.as_ref().is_some_and(|c| same_target(c, &r.desired)));
            for r in &done {
                result
                    .actions
                    .push(Action::already_done(&r.resource, "UPSERT", summary(Some(&r.desired))));
            }
            if todo.is_empty() {
                continue;
            }
            let started = Instant::now();
            let mut actions: Vec<Action> = todo
                .iter()
                .map(|r| {
                    Action::change(
                        &r.resource,
                        "UPSERT",
                        summary(r.current.as_ref()),
                        summary(Some(&r.desired)),
                        ctx.dry_run,
                    )
                })
                .collect();
            if !ctx.dry_run {
                let desired: Vec<ResourceRecordSet> = todo.into_iter().map(|r| r.desired).collect();
                // Within Route 53's per-request limits; each batch is applied on its own.
                for range in batches(&desired) {
                    let changes = desired[range.clone()]
                        .iter()
                        .map(|rs| {
                            Change::builder()
                                .action(ChangeAction::Upsert)
                                .resource_record_set(rs.clone())
                                .build()
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| DnsError::BadRecord {
                            resource: zone.to_string(),
                            reason: e.to_string(),
                        })?;
                    let batch = ChangeBatch::builder()
                        .comment(format!("Rebound {} {}", ctx.recovery_id, ctx.mode))
                        .set_changes(Some(changes))
                        .build()
                        .map_err(|e| DnsError::BadRecord {
                            resource: zone.to_string(),
                            reason: e.to_string(),
                        })?;
                    pace::route53().turn().await;
                    let out = route53
                        .zone(&zone)
                        .change_resource_record_sets()
                        .hosted_zone_id(&zone)
                        .change_batch(batch)
                        .send()
                        .await
                        .map_err(|e| aws(&zone, "ChangeResourceRecordSets", &e))?;
                    let info = out.change_info();
                    let change_id = info.map(|i| i.id().to_string());
                    let insync = info.is_some_and(|i| *i.status() == ChangeStatus::Insync);
                    for a in &mut actions[range] {
                        a.tracking_id = change_id.clone();
                        a.duration_ms = elapsed_ms(started);
                        if insync {
                            a.status = ActionStatus::Done;
                        }
                    }
                }
            }
            result.actions.extend(actions);
        }

        for (id, inverted, want) in inversions {
            let resource = format!("route53:healthcheck/{id}");
            if inverted == want {
                result.actions.push(Action::already_done(
                    resource,
                    "UpdateHealthCheck",
                    json!({ "inverted": inverted }),
                ));
                continue;
            }
            let started = Instant::now();
            let mut action = Action::change(
                resource.clone(),
                "UpdateHealthCheck",
                json!({ "inverted": inverted }),
                json!({ "inverted": want }),
                ctx.dry_run,
            );
            if !ctx.dry_run {
                pace::route53().turn().await;
                route53
                    .health_check(&ctx.plan, &id)
                    .update_health_check()
                    .health_check_id(&id)
                    .inverted(want)
                    .send()
                    .await
                    .map_err(|e| aws(&resource, "UpdateHealthCheck", &e))?;
                // Health check changes take effect at once; there is no change to poll.
                action.status = ActionStatus::Done;
                action.duration_ms = elapsed_ms(started);
            }
            result.actions.push(action);
        }
        Ok(result.settle(invocation, now))
    }

    async fn status(&self, ctx: &RecoveryContext, now: DateTime<Utc>) -> Result<StepResult, DnsError> {
        let invocation = Instant::now();
        let mut result = ctx.results.dns.clone().ok_or(StepFault::NotStarted("dns"))?;
        // A change is read in the account it was made in: its zone's (`route53:ZONE/NAME/TYPE`).
        let ids: std::collections::BTreeMap<String, String> = result
            .pending()
            .filter_map(|a| {
                let zone = a.resource.strip_prefix("route53:")?.split('/').next()?;
                Some((a.tracking_id.clone()?, zone.to_string()))
            })
            .collect();
        let route53 = self.route53s(ctx).await?;
        for (id, zone) in ids {
            pace::route53().turn().await;
            let out = route53
                .zone(&zone)
                .get_change()
                .id(&id)
                .send()
                .await
                .map_err(|e| aws(&id, "GetChange", &e))?;
            if out.change_info().is_some_and(|i| *i.status() == ChangeStatus::Insync) {
                for a in result
                    .actions
                    .iter_mut()
                    .filter(|a| a.tracking_id.as_deref() == Some(id.as_str()))
                {
                    a.status = ActionStatus::Done;
                    a.detail = Some("INSYNC".into());
                }
            }
        }
        let result = result.settle(invocation, now);
        Ok(within_deadline(result, ctx, now, "DNS changes not INSYNC", |a| {
            format!("{} ({})", a.resource, a.tracking_id.as_deref().unwrap_or("?"))
        })?)
    }

    /// Route 53 for each of the plan's zones: a zone in another account through the role the
    /// plan names for it, assumed once a recovery ([`Roles`]); the rest through Rebound's own.
    async fn route53s(&self, ctx: &RecoveryContext) -> Result<Route53s, DnsError> {
        if ctx.plan.dns.iter().all(|r| r.account.is_none()) {
            return Ok(Route53s::own(&self.route53));
        }
        Ok(Route53s::for_plan(&self.route53, &self.roles, &ctx.plan, &ctx.recovery_id).await?)
    }

    /// Every record set of a hosted zone ([`dns::zone_records`]).
    pub async fn zone_records(&self, zone: &str) -> Result<Vec<ResourceRecordSet>, DnsError> {
        dns::zone_records(&self.route53, zone)
            .await
            .map_err(|e| route53_error(&format!("route53:{zone}"), e))
    }
}

/// Whether health check `id` is inverted, read through `route53` (its account's).
pub(crate) async fn health_check_inverted(route53: &aws_sdk_route53::Client, id: &str) -> Result<bool, DnsError> {
    let resource = format!("route53:healthcheck/{id}");
    dns::health_check_inverted(route53, id)
        .await
        .map_err(|e| route53_error(&resource, e))?
        .ok_or_else(|| StepFault::precondition(resource, "health check has no configuration").into())
}
