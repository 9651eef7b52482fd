//! recovery-validator: proves the recovery worked before anyone is told it did.
//!
//! Each invocation runs one round of checks concurrently: the plan's HTTP and DNS probes, every
//! DNS record at its target, every database available and writable, every service at its
//! count. Validation passes after the plan's number of consecutive all-green rounds; the state
//! machine calls it again (`status`) until then, and it fails at the validation deadline.
//! When it passes it measures RTO (detection to now) and gathers the RPO. It also checks that
//! exactly one writer remains per promoted database.
//!
//! Before anything changes, the same function checks readiness (`readiness.rs`).

mod accounts;
mod capacity;
mod custom_actions;
mod databases;
mod datastores;
mod global_tables;
mod instances;
pub mod permissions;
mod quotas;
mod readiness;
mod records;
mod services;
mod streams;
mod writer_endpoints;

use accounts::DatabaseReads;
pub use accounts::{ServiceReads, StoreReads};
use records::{holds, Zones};

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_cloudwatch::types::MetricAlarm;
use aws_sdk_route53::types::ResourceRecordSet;
use chrono::{DateTime, Utc};
use futures_util::{stream, StreamExt};
use permissions::Permissions;
use rebound_shared::accounts::Roles;
use rebound_shared::aws::Regions;
use rebound_shared::context::ServiceStage;
use rebound_shared::context::{
    parse_request, Check, ReadinessReport, RecoveryContext, Step, StepRequest, StepResult, StepStatus, ValidationReport,
};
use rebound_shared::dns::cluster::Cluster;
use rebound_shared::endpoints::EndpointStores;
use rebound_shared::error::ErrorKind;
use rebound_shared::event_streams::EventStreams;
use rebound_shared::objectives::{recovery_point, recovery_time, Measurement};
use rebound_shared::plan::{DnsMode, DnsRecord, Probe, RecordTarget, RecoveryPlan};
use rebound_shared::rds::GlobalClients;
use rebound_shared::step::{
    elapsed_ms, ensure_region, in_stage, moves_region, services_in_scope, towards_recovery, Phase, StepFault,
};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error(transparent)]
    Step(#[from] StepFault),
    #[error("recovery not validated within {deadline_seconds} s: {failing}")]
    NotValidated { deadline_seconds: u64, failing: String },
    #[error("not ready to recover, nothing was changed: {0}")]
    NotReady(String),
    /// A step's dry run could not read what it needs even after the state machine's retries
    /// (throttling, no answer): not "not ready", and retrying the check would read nothing new.
    #[error("readiness could not be read after retries, nothing was changed: {0}")]
    Unreadable(String),
}

impl ValidationError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ValidationError::NotValidated { .. } => ErrorKind::StepFailed,
            ValidationError::NotReady(_) => ErrorKind::PreconditionFailed,
            ValidationError::Unreadable(_) => ErrorKind::StepFailed,
            ValidationError::Step(fault) => fault.kind(),
        }
    }
}

rebound_shared::impl_diagnostic!(ValidationError);

/// The clients a round reads through (the reads are the edge crate's, shared with the acting
/// steps), and an HTTP client for probes.
pub struct RecoveryValidator {
    /// Route 53, a global service called through the primary's configuration.
    pub route53: aws_sdk_route53::Client,
    /// In the recovery region: assumes the role of a zone's or a service's other account.
    pub roles: Roles,
    /// In the recovery region, where the health checks' alarms live.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub cluster: Cluster,
    pub rds: aws_sdk_rds::Client,
    /// The primary's RDS: a failback's writers are there.
    pub primary_rds: aws_sdk_rds::Client,
    /// DocumentDB and Neptune global databases' clients, per side (Aurora's is the RDS one).
    pub globals: GlobalClients,
    pub primary_globals: GlobalClients,
    /// The global tables', datastores' and multi-Region clusters' reads: Rebound's own (another
    /// account's through [`StoreReads::as_role`]).
    pub stores: StoreReads,
    /// The services' reads: Rebound's own (another account's through [`ServiceReads::as_role`]).
    pub services: ServiceReads,
    pub http: reqwest::Client,
    /// Where the application reads its writers' endpoints from.
    pub endpoints: EndpointStores,
    /// The plan's event source mappings, in both regions.
    pub streams: EventStreams,
    /// Lambda in the recovery region (another region's through its configuration): the plan's
    /// custom action functions.
    pub lambda: aws_sdk_lambda::Client,
    /// The acting functions' roles to check before acting (`ACTING_ROLES`); none in local runs,
    /// which act with the caller's own credentials.
    pub permissions: Option<Permissions>,
    /// Where Rebound's stack runs (its plan, table and reports), for the static-stability
    /// check: the recovery region it is built for, unless a recovery chose another.
    pub stack_region: String,
}

impl RecoveryValidator {
    /// The primary serves Route 53 (global) and the databases a failback checks.
    pub fn new(regions: &Regions) -> Self {
        let roles = Roles::new(&regions.recovery);
        RecoveryValidator {
            route53: rebound_shared::dns::route53_client(&regions.primary),
            roles: roles.clone(),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&regions.recovery),
            cluster: Cluster::FromPlan(Box::new(regions.recovery.clone())),
            rds: aws_sdk_rds::Client::new(&regions.recovery),
            primary_rds: aws_sdk_rds::Client::new(&regions.primary),
            globals: GlobalClients::new(&regions.recovery),
            primary_globals: GlobalClients::new(&regions.primary),
            services: ServiceReads::new(regions),
            stores: StoreReads::new(regions),
            streams: EventStreams::new(regions),
            lambda: aws_sdk_lambda::Client::new(&regions.recovery),
            endpoints: EndpointStores::new(
                &regions.recovery,
                rebound_shared::dns::route53_client(&regions.primary),
                &roles,
            ),
            http: reqwest::Client::builder()
                .user_agent("rebound-validator")
                .build()
                .unwrap_or_default(),
            permissions: None,
            stack_region: regions.recovery_region(),
        }
    }

    /// `start`/`status` validate a recovery; `readiness` checks, before anything changes, that
    /// the recovery side is ready for it.
    pub async fn handle(&self, payload: Value, now: DateTime<Utc>) -> Result<ValidatorOutput, ValidationError> {
        let request: StepRequest = parse_request(payload).map_err(StepFault::from)?;
        let (phase, ctx) = request.phase();
        ensure_region(
            self.rds.config().region().map(|r| r.as_ref()),
            &ctx.plan.recovery_region,
            "recovers into",
        )?;
        match phase {
            Phase::Readiness => self.readiness(&ctx, now).await.map(ValidatorOutput::Readiness),
            Phase::Start | Phase::Status => self.validate(&ctx, phase, now).await.map(ValidatorOutput::Validation),
        }
    }

    async fn validate(
        &self,
        ctx: &RecoveryContext,
        phase: Phase,
        now: DateTime<Utc>,
    ) -> Result<ValidationReport, ValidationError> {
        let previous = match phase {
            Phase::Status => Some(
                ctx.results
                    .validation
                    .clone()
                    .ok_or(StepFault::NotStarted("validation"))?,
            ),
            _ => None,
        };
        let invocation = Instant::now();
        let checks = self.round(ctx).await;
        // A check that could not be read (the old side of a regional outage) neither passes nor
        // holds the recovery back: it is reported as unknown, to the end.
        let all_green = !checks.iter().any(Check::failed);
        let consecutive = if all_green {
            previous.as_ref().map_or(0, |p| p.consecutive_successes) + 1
        } else {
            0
        };
        let passed = consecutive >= ctx.plan.validation.consecutive_successes;
        let mut result = match previous {
            Some(p) => p.result,
            None => StepResult::begin(Step::Validation, ctx, now),
        };
        result.duration_ms += elapsed_ms(invocation);
        result.invocations += 1;
        let objectives = &ctx.plan.objectives;
        let rto = match (passed, ctx.timestamps.detected_at) {
            (true, Some(detected)) => recovery_time(detected, now, objectives.rto_seconds),
            _ => Measurement::new(objectives.rto_seconds, None),
        };
        let losses: Vec<f64> = ctx
            .results
            .database
            .as_ref()
            .and_then(|d| d.rpo_seconds)
            .into_iter()
            .collect();
        let rpo = recovery_point(&losses, objectives.rpo_seconds);
        if passed || ctx.dry_run {
            result.status = StepStatus::Completed;
            result.finished_at = Some(now);
        } else {
            result.status = StepStatus::InProgress;
            let deadline = ctx.plan.validation.deadline_seconds;
            let started = result.started_at.unwrap_or(now);
            if (now - started).num_seconds() >= i64::try_from(deadline).unwrap_or(i64::MAX) {
                let failing: Vec<String> = checks
                    .iter()
                    .filter(|c| c.failed())
                    .map(|c| format!("{}: {}", c.name, c.detail))
                    .collect();
                let failing = if failing.is_empty() {
                    format!("only {consecutive} consecutive passing rounds")
                } else {
                    failing.join("; ")
                };
                return Err(ValidationError::NotValidated {
                    deadline_seconds: deadline,
                    failing,
                });
            }
        }
        for unknown in checks.iter().filter(|c| c.unknown) {
            tracing::warn!(check = %unknown.name, "validation round: {}", unknown.detail);
        }
        if all_green {
            tracing::info!(passed, consecutive, "validation round: no check failed");
        } else {
            // One line per failing round, as it happens: an operator should not wait for the
            // deadline to learn what keeps the recovery from being verified.
            let failing: Vec<String> = checks
                .iter()
                .filter(|c| c.failed())
                .map(|c| format!("{}: {}", c.name, c.detail))
                .collect();
            tracing::warn!(
                application = %ctx.plan.application,
                "validation round failed ({} of {} checks): {}",
                failing.len(),
                checks.len(),
                failing.join("; ")
            );
        }
        Ok(ValidationReport {
            result,
            passed,
            checks,
            consecutive_successes: consecutive,
            rto,
            rpo,
        })
    }

    /// One round: every check, concurrently. A check that cannot be read fails with the reason.
    async fn round(&self, ctx: &RecoveryContext) -> Vec<Check> {
        let to_recovery = towards_recovery(ctx);
        // A service restore changed only its services: DNS, databases and the endpoint probes
        // prove a regional move and are not checked.
        let moved = moves_region(ctx);
        let mut checks = Vec::new();
        let applicable: Vec<&Probe> = ctx
            .plan
            .validation
            .probes
            .iter()
            .filter(|p| moved && p.when().applies(!to_recovery))
            .collect();
        // Each zone is listed once a round, for every record and DNS probe in it.
        let mut zone_ids: BTreeSet<String> = applicable
            .iter()
            .filter_map(|p| match p {
                Probe::Dns { hosted_zone_id, .. } => Some(hosted_zone_id.clone()),
                Probe::Http { .. } => None,
            })
            .collect();
        zone_ids.extend(
            ctx.plan
                .dns
                .iter()
                .filter(|r| moved && r.mode == DnsMode::Upsert)
                .map(|r| r.hosted_zone_id.clone()),
        );
        // Likewise every health-check alarm and routing control, however many records share one.
        let dns: Vec<&DnsRecord> = ctx.plan.dns.iter().filter(|_| moved).collect();
        let mut gates: BTreeSet<&str> = BTreeSet::new();
        let mut controls: BTreeSet<&str> = BTreeSet::new();
        for record in &dns {
            gates.extend(
                record
                    .alarm_name
                    .as_deref()
                    .filter(|_| record.mode == DnsMode::AlarmHealthCheck),
            );
            if record.mode == DnsMode::RoutingControl {
                controls.extend(record.primary_routing_control_arn.as_deref());
                controls.extend(record.recovery_routing_control_arn.as_deref());
            }
        }
        let (zones, gates, controls) = futures_util::join!(
            self.list_zones(ctx, zone_ids),
            self.read_gates(gates),
            self.read_controls(&ctx.plan, &ctx.recovery_id, controls)
        );
        let mut probes = Vec::new();
        for probe in applicable {
            probes.push(self.probe(probe, &zones));
        }
        let mut records = Vec::new();
        for record in dns {
            records.push(self.record_check(&ctx.plan, record, to_recovery, &zones, &gates, &controls));
        }
        // After a failback the writers are the failback replicas, in the primary region.
        let (acting, globals, region, plan) = if to_recovery {
            (
                &self.rds,
                &self.globals,
                &ctx.plan.recovery_region,
                Some(ctx.plan.clone()),
            )
        } else {
            match ctx.plan.for_failback() {
                Ok(plan) => (
                    &self.primary_rds,
                    &self.primary_globals,
                    &ctx.plan.primary_region,
                    Some(plan),
                ),
                Err(e) => {
                    checks.push(check(
                        "databases".into(),
                        false,
                        format!("database {}: {}", e.database, e.reason),
                    ));
                    (&self.primary_rds, &self.primary_globals, &ctx.plan.primary_region, None)
                }
            }
        };
        let plan = plan.filter(|_| moved);
        let dbs = plan.as_ref().map(|p| p.databases.clone()).unwrap_or_default();
        let scope = services_in_scope(ctx);
        // Each kind of read has at most READ_CONCURRENCY in flight; the services are read in
        // batches (10 ECS services a call).
        // Each database's clients in its account (another's as its role).
        let own = DatabaseReads {
            acting: acting.clone(),
            globals: globals.clone(),
            home: self.rds.clone(),
        };
        let reads = self.database_reads(ctx, &dbs, own).await.map_err(|e| e.to_string());
        let endpoints = async {
            match &plan {
                Some(plan) => {
                    self.writer_endpoint_checks(&reads, plan, region, &ctx.recovery_id)
                        .await
                }
                None => Vec::new(),
            }
        };
        let tables = async {
            if moved {
                let mut checks = self.store_checks(ctx).await;
                checks.extend(self.stream_checks(ctx).await);
                checks
            } else {
                Vec::new()
            }
        };
        let (p, r, d, e, t, s) = futures_util::join!(
            stream::iter(probes).buffered(READ_CONCURRENCY).collect::<Vec<_>>(),
            stream::iter(records).buffered(READ_CONCURRENCY).collect::<Vec<_>>(),
            self.database_checks(ctx, &reads, &dbs),
            endpoints,
            tables,
            self.service_checks(ctx, &scope)
        );
        checks.extend(p);
        checks.extend(r);
        checks.extend(d);
        checks.extend(e);
        checks.extend(t);
        checks.extend(s.into_iter().zip(&scope).map(|(check, service)| {
            // A service whose restoring step an operator skipped is not awaited.
            let stage = if in_stage(ctx, ServiceStage::Capacity, service.needs_writer()) {
                ServiceStage::Capacity
            } else {
                ServiceStage::AfterWriter
            };
            let step = match stage {
                ServiceStage::Capacity => ctx.results.capacity.as_ref(),
                _ => ctx.results.services.as_ref(),
            };
            match step.and_then(|r| r.skipped.as_ref()) {
                Some(mark) => rebound_shared::control::waive(check, stage.result_key(), mark),
                None => check,
            }
        }));
        checks
    }

    async fn probe(&self, probe: &Probe, zones: &Zones) -> Check {
        match probe {
            Probe::Http {
                url,
                expected_status,
                expected_body,
                timeout_ms,
                ..
            } => {
                let name = format!("http {url}");
                let started = Instant::now();
                let answer = self
                    .http
                    .get(url)
                    .timeout(Duration::from_millis(*timeout_ms))
                    .send()
                    .await;
                let response = match answer {
                    Ok(r) => r,
                    Err(e) => return check(name, false, format!("no answer: {e}")),
                };
                let status = response.status().as_u16();
                let body = response.text().await.unwrap_or_default();
                let took = elapsed_ms(started);
                if status != *expected_status {
                    return check(
                        name,
                        false,
                        format!("HTTP {status}, expected {expected_status} ({took} ms)"),
                    );
                }
                match expected_body {
                    Some(text) if !body.contains(text.as_str()) => check(
                        name,
                        false,
                        format!("HTTP {status} but the body lacks {text:?} ({took} ms)"),
                    ),
                    _ => check(name, true, format!("HTTP {status} ({took} ms)")),
                }
            }
            Probe::Dns {
                hosted_zone_id,
                name,
                record_type,
                expected,
                ..
            } => {
                let record = DnsRecord {
                    hosted_zone_id: hosted_zone_id.clone(),
                    name: name.clone(),
                    record_type: *record_type,
                    ttl: None,
                    mode: DnsMode::Upsert,
                    set_identifier: None,
                    primary: None,
                    recovery: None,
                    health_check_id: None,
                    primary_routing_control_arn: None,
                    recovery_routing_control_arn: None,
                    alarm_name: None,
                    account: None,
                };
                let target = RecordTarget::Values {
                    values: expected.clone(),
                };
                let label = format!("dns {name} {}", record_type.as_str());
                holds(label, &record, &target, zones)
            }
        }
    }
}

/// What the validator answers: a validation round, or a readiness report.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum ValidatorOutput {
    Validation(ValidationReport),
    Readiness(ReadinessReport),
}

/// How many reads of one kind a validation round has in flight: a plan of thousands of
/// resources must not flood the endpoints it reads.
const READ_CONCURRENCY: usize = 8;

pub(crate) fn check(name: String, passed: bool, detail: String) -> Check {
    Check::new(name, passed, detail)
}
