//! dns-failover: moves the plan's DNS records to the recovery region (or back, in failback).
//!
//! `start` reads every record first, then sends one `ChangeResourceRecordSets` batch per hosted
//! zone with all of that zone's changes, and inverts the health checks of data-plane records.
//! `status` polls `GetChange` until every batch is INSYNC.

use std::collections::BTreeMap;
use std::time::Instant;

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType,
};
use chrono::{DateTime, Utc};
use rebound_shared::context::{
    parse_request, Action, ActionStatus, BadRequest, Step, StepAction, StepRequest, StepResult, StepStatus,
};
use rebound_shared::error::{AwsError, ErrorKind};
use rebound_shared::plan::{DnsMode, DnsRecord, RecordTarget, RecordType};
use rebound_shared::step::{elapsed_ms, past_deadline, towards_recovery};
use serde_json::{json, Value};

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("{resource}: {source}")]
    Aws { resource: String, source: AwsError },
    #[error("{resource}: {reason}")]
    Precondition { resource: String, reason: String },
    #[error(transparent)]
    BadRequest(#[from] BadRequest),
    #[error("status was asked before start: results.dns is missing")]
    NotStarted,
    #[error("{resource}: cannot build the change: {reason}")]
    BadRecord { resource: String, reason: String },
    #[error("DNS changes not INSYNC by the deadline {deadline}: {pending}")]
    DeadlinePassed { deadline: String, pending: String },
}

impl DnsError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            DnsError::Aws { source, .. } => source.kind,
            DnsError::Precondition { .. } => ErrorKind::PreconditionFailed,
            DnsError::BadRequest(_) | DnsError::NotStarted | DnsError::BadRecord { .. } => ErrorKind::InvalidInput,
            DnsError::DeadlinePassed { .. } => ErrorKind::StepFailed,
        }
    }
}

rebound_shared::impl_diagnostic!(DnsError);

pub struct DnsFailover {
    pub route53: aws_sdk_route53::Client,
}

fn aws<E>(
    resource: &str,
    operation: &'static str,
    err: &aws_sdk_route53::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
) -> DnsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    DnsError::Aws {
        resource: resource.to_string(),
        source: AwsError::from_sdk("route53", operation, err),
    }
}

/// What one record should become, and what it is now.
struct RecordChange {
    resource: String,
    current: Option<ResourceRecordSet>,
    desired: ResourceRecordSet,
}

impl DnsFailover {
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        DnsFailover {
            route53: aws_sdk_route53::Client::new(config),
        }
    }

    pub async fn handle(&self, payload: Value, now: DateTime<Utc>) -> Result<StepResult, DnsError> {
        let request: StepRequest = parse_request(payload)?;
        match request.action {
            StepAction::Start => self.start(&request, now).await,
            StepAction::Status => self.status(&request, now).await,
            StepAction::Readiness => {
                let mut request = request;
                request.context.dry_run = true;
                self.start(&request, now).await
            }
        }
    }

    async fn start(&self, request: &StepRequest, now: DateTime<Utc>) -> Result<StepResult, DnsError> {
        let invocation = Instant::now();
        let ctx = &request.context;
        let to_recovery = towards_recovery(ctx);
        let mut result = StepResult::begin(Step::DnsFailover, ctx, now);

        // Read everything before changing anything, so a missing record changes nothing.
        let mut zones: BTreeMap<&str, Vec<RecordChange>> = BTreeMap::new();
        let mut inversions = Vec::new();
        for record in &ctx.plan.dns {
            let resource = format!(
                "route53:{}/{}/{}",
                record.hosted_zone_id,
                record.name,
                record.record_type.as_str()
            );
            match record.mode {
                DnsMode::Upsert => {
                    let current = self.read_record(record, &resource).await?;
                    let target = if to_recovery { &record.recovery } else { &record.primary };
                    let target = target.as_ref().ok_or_else(|| DnsError::BadRecord {
                        resource: resource.clone(),
                        reason: "no target values".into(),
                    })?;
                    let desired =
                        desired_record(record, target, current.as_ref()).map_err(|reason| DnsError::BadRecord {
                            resource: resource.clone(),
                            reason,
                        })?;
                    zones
                        .entry(record.hosted_zone_id.as_str())
                        .or_default()
                        .push(RecordChange {
                            resource,
                            current,
                            desired,
                        });
                }
                DnsMode::HealthCheckInversion => {
                    let id = record.health_check_id.as_deref().unwrap_or_default();
                    let inverted = self.health_check_inverted(id).await?;
                    inversions.push((id.to_string(), inverted, to_recovery));
                }
            }
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
                let changes = todo
                    .into_iter()
                    .map(|r| {
                        Change::builder()
                            .action(ChangeAction::Upsert)
                            .resource_record_set(r.desired)
                            .build()
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| DnsError::BadRecord {
                        resource: zone.to_string(),
                        reason: e.to_string(),
                    })?;
                let batch = ChangeBatch::builder()
                    .comment(format!("Rebound {} {:?}", ctx.recovery_id, ctx.mode))
                    .set_changes(Some(changes))
                    .build()
                    .map_err(|e| DnsError::BadRecord {
                        resource: zone.to_string(),
                        reason: e.to_string(),
                    })?;
                let out = self
                    .route53
                    .change_resource_record_sets()
                    .hosted_zone_id(zone)
                    .change_batch(batch)
                    .send()
                    .await
                    .map_err(|e| aws(zone, "ChangeResourceRecordSets", &e))?;
                let info = out.change_info();
                let change_id = info.map(|i| i.id().to_string());
                let insync = info.is_some_and(|i| *i.status() == ChangeStatus::Insync);
                for a in &mut actions {
                    a.tracking_id = change_id.clone();
                    a.duration_ms = elapsed_ms(started);
                    if insync {
                        a.status = ActionStatus::Done;
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
                self.route53
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
        Ok(result.settle(invocation, Utc::now().max(now)))
    }

    async fn status(&self, request: &StepRequest, now: DateTime<Utc>) -> Result<StepResult, DnsError> {
        let invocation = Instant::now();
        let ctx = &request.context;
        let mut result = ctx.results.dns.clone().ok_or(DnsError::NotStarted)?;
        let ids: std::collections::BTreeSet<String> = result.pending().filter_map(|a| a.tracking_id.clone()).collect();
        for id in ids {
            let out = self
                .route53
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
        if result.status != StepStatus::Completed && past_deadline(ctx, now) {
            let pending: Vec<String> = result
                .pending()
                .map(|a| format!("{} ({})", a.resource, a.tracking_id.as_deref().unwrap_or("?")))
                .collect();
            return Err(DnsError::DeadlinePassed {
                deadline: ctx.timestamps.deadline.map(|d| d.to_rfc3339()).unwrap_or_default(),
                pending: pending.join(", "),
            });
        }
        Ok(result)
    }

    /// The record set the plan names, if it exists.
    pub async fn read_record(&self, record: &DnsRecord, resource: &str) -> Result<Option<ResourceRecordSet>, DnsError> {
        let out = self
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(&record.hosted_zone_id)
            .start_record_name(&record.name)
            .start_record_type(rr_type(record.record_type))
            .max_items(100)
            .send()
            .await
            .map_err(|e| aws(resource, "ListResourceRecordSets", &e))?;
        Ok(out
            .resource_record_sets()
            .iter()
            .find(|rs| {
                same_name(rs.name(), &record.name)
                    && rs.r#type().as_str() == record.record_type.as_str()
                    && rs.set_identifier() == record.set_identifier.as_deref()
            })
            .cloned())
    }

    pub async fn health_check_inverted(&self, id: &str) -> Result<bool, DnsError> {
        let resource = format!("route53:healthcheck/{id}");
        let out = self
            .route53
            .get_health_check()
            .health_check_id(id)
            .send()
            .await
            .map_err(|e| aws(&resource, "GetHealthCheck", &e))?;
        let config = out
            .health_check()
            .and_then(|h| h.health_check_config())
            .ok_or_else(|| DnsError::Precondition {
                resource,
                reason: "health check has no configuration".into(),
            })?;
        Ok(config.inverted().unwrap_or(false))
    }
}

pub fn rr_type(t: RecordType) -> RrType {
    match t {
        RecordType::A => RrType::A,
        RecordType::AAAA => RrType::Aaaa,
        RecordType::CNAME => RrType::Cname,
    }
}

/// Route 53 answers names with a trailing dot and in lower case.
pub fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.').eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// The record as it should be: the target's values or alias, everything else (routing policy,
/// health check) kept from the current record.
fn desired_record(
    record: &DnsRecord,
    target: &RecordTarget,
    current: Option<&ResourceRecordSet>,
) -> Result<ResourceRecordSet, String> {
    let mut builder = match current {
        Some(c) => ResourceRecordSet::builder()
            .name(c.name())
            .r#type(c.r#type().clone())
            .set_set_identifier(c.set_identifier().map(str::to_string))
            .set_weight(c.weight())
            .set_region(c.region().cloned())
            .set_failover(c.failover().cloned())
            .set_multi_value_answer(c.multi_value_answer())
            .set_health_check_id(c.health_check_id().map(str::to_string))
            .set_geo_location(c.geo_location().cloned())
            .set_cidr_routing_config(c.cidr_routing_config().cloned())
            .set_geo_proximity_location(c.geo_proximity_location().cloned()),
        None => ResourceRecordSet::builder()
            .name(&record.name)
            .r#type(rr_type(record.record_type))
            .set_set_identifier(record.set_identifier.clone()),
    };
    match target {
        RecordTarget::Values { values } => {
            let records = values
                .iter()
                .map(|v| ResourceRecord::builder().value(v).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            builder = builder
                .set_alias_target(None)
                .set_resource_records(Some(records))
                .set_ttl(record.ttl.or(current.and_then(|c| c.ttl())));
        }
        RecordTarget::Alias { alias } => {
            let target = AliasTarget::builder()
                .hosted_zone_id(&alias.hosted_zone_id)
                .dns_name(&alias.dns_name)
                .evaluate_target_health(alias.evaluate_target_health)
                .build()
                .map_err(|e| e.to_string())?;
            builder = builder.set_resource_records(None).set_ttl(None).alias_target(target);
        }
    }
    builder.build().map_err(|e| e.to_string())
}

fn normalise(value: &str) -> String {
    value.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether the current record already holds the desired values (order and case aside).
fn same_target(current: &ResourceRecordSet, desired: &ResourceRecordSet) -> bool {
    let values = |rs: &ResourceRecordSet| {
        let mut v: Vec<String> = rs.resource_records().iter().map(|r| normalise(r.value())).collect();
        v.sort();
        v
    };
    let alias = |rs: &ResourceRecordSet| {
        rs.alias_target().map(|a| {
            (
                normalise(a.dns_name()),
                a.hosted_zone_id().to_string(),
                a.evaluate_target_health(),
            )
        })
    };
    values(current) == values(desired)
        && alias(current) == alias(desired)
        && (desired.ttl().is_none() || current.ttl() == desired.ttl())
}

/// A record's state for the step result.
fn summary(rs: Option<&ResourceRecordSet>) -> Value {
    let Some(rs) = rs else { return json!(null) };
    match rs.alias_target() {
        Some(a) => json!({ "alias": a.dns_name(), "hostedZoneId": a.hosted_zone_id() }),
        None => {
            json!({ "values": rs.resource_records().iter().map(|r| r.value()).collect::<Vec<_>>(), "ttl": rs.ttl() })
        }
    }
}

/// Whether `current` already holds `target` (values or alias; order and case aside).
pub fn record_holds(record: &DnsRecord, target: &RecordTarget, current: &ResourceRecordSet) -> bool {
    desired_record(record, target, Some(current)).is_ok_and(|desired| same_target(current, &desired))
}
