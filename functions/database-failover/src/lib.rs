//! database-failover: makes the recovery region's databases writable.
//!
//! `start` observes every database at once (`observe.rs`), decides for each without a call
//! (`decide.rs`) and refuses before changing anything when one is missing, in the wrong state, or
//! further behind than the RPO allows; then it fences the old writers (`fence.rs`) and starts
//! every change (`act.rs`): `PromoteReadReplica`, `SwitchoverGlobalCluster` /
//! `FailoverGlobalCluster`, or a restore to a point in time or from a snapshot. `status` polls
//! until each database is available and a writer.

mod accounts;
mod act;
pub mod data_loss;
pub mod datastores;
pub mod decide;
pub mod fence;
pub mod multi_region;
mod observe;
pub mod observed;
mod rebuild;
mod repoint;
pub mod reprotect;
pub mod tables;

use std::time::Instant;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use rebound_shared::accounts::Roles;
use rebound_shared::aws::Regions;
use rebound_shared::context::{
    parse_request, Action, ActionStatus, Mode, RecoveryContext, RecoveryPath, Step, StepRequest, StepResult,
};
use rebound_shared::dns::route53_client;
use rebound_shared::endpoints::EndpointStores;
use rebound_shared::error::ErrorKind;
use rebound_shared::global_tables::GlobalTables;
use rebound_shared::plan::RecoveryPlan;
use rebound_shared::step::{ensure_region, moves_region, within_deadline, Phase, StepFault};
use serde_json::Value;

use crate::data_loss::data_loss_text;
use crate::decide::{decide, global_progress, instance_progress, Change, Intent, Progress};
use crate::observe::global_engine;
use rebound_shared::rds::{self, GlobalClients, OldWriter};

/// How many databases are inspected or changed at once.
const CONCURRENCY: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error(transparent)]
    Step(#[from] StepFault),
    #[error("database {database}: {}", data_loss_text(*lag_seconds, *rpo_seconds, *allowed))]
    DataLoss {
        database: String,
        lag_seconds: Option<f64>,
        rpo_seconds: u64,
        /// The plan's `allowDataLoss`: the loss may be put to an approver.
        allowed: bool,
    },
    #[error("database {database}: {reason}")]
    Unsupported { database: String, reason: String },
    #[error("database {database}: {reason}")]
    Failed { database: String, reason: String },
    #[error("database {database}: its writer is fenced and the switchover waits for it to catch up ({reason}); the state machine tries again every 15 s for 10 minutes, or `rebound ungraceful` promotes it within the RPO target now")]
    Draining { database: String, reason: String },
    #[error("not promoting: the old writer {database} still accepts writes and cannot be fenced ({reason}); a promotion now would make two writers (split brain): fence or stop it, or approve the failover knowing the risk")]
    SplitBrainRisk { database: String, reason: String },
}

impl DatabaseError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            DatabaseError::DataLoss { .. } | DatabaseError::SplitBrainRisk { .. } | DatabaseError::Draining { .. } => {
                ErrorKind::PreconditionFailed
            }
            DatabaseError::Step(fault) => fault.kind(),
            DatabaseError::Unsupported { .. } => ErrorKind::InvalidInput,
            DatabaseError::Failed { .. } => ErrorKind::StepFailed,
        }
    }
}

impl From<DatabaseError> for lambda_runtime::Diagnostic {
    fn from(err: DatabaseError) -> Self {
        let mut diagnostic = rebound_shared::error::diagnostic(err.kind(), &err);
        // The state machine waits on this one (a Retry), not on every precondition.
        if matches!(err, DatabaseError::Draining { .. }) {
            diagnostic.error_type = rebound_shared::error::DRAINING.into();
        }
        diagnostic
    }
}

/// A failed call about `database`.
pub(crate) fn aws<E>(
    database: &str,
    service: &'static str,
    operation: &'static str,
    err: &SdkError<E, HttpResponse>,
) -> DatabaseError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    rebound_shared::error::aws_fault(format!("database {database}"), service, operation, err).into()
}

/// Recovery-region clients.
#[derive(Clone)]
pub struct DatabaseFailover {
    pub rds: aws_sdk_rds::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Primary-region clients: a failback promotes replicas there.
    pub primary_rds: aws_sdk_rds::Client,
    pub primary_cloudwatch: aws_sdk_cloudwatch::Client,
    /// Where the application reads its writers' endpoints from (`writerEndpoints`).
    pub endpoints: EndpointStores,
    /// DynamoDB global tables (`globalTables`), read in both regions.
    pub tables: GlobalTables,
    /// ElastiCache global datastores (`globalDatastores`), failed over in the region they move
    /// to: the recovery region, or the primary in a failback.
    pub elasticache: aws_sdk_elasticache::Client,
    pub primary_elasticache: aws_sdk_elasticache::Client,
    /// MemoryDB multi-Region clusters (`multiRegionClusters`), read in the region the
    /// application moves to.
    pub memorydb: aws_sdk_memorydb::Client,
    pub primary_memorydb: aws_sdk_memorydb::Client,
    /// DocumentDB and Neptune global databases' clients (Aurora's is `rds`).
    pub globals: GlobalClients,
    pub primary_globals: GlobalClients,
    /// The recovery region's STS: assumes the role of a database's other account
    /// (`databases[].account`).
    pub roles: Roles,
}

impl DatabaseFailover {
    pub fn new(regions: &Regions) -> Self {
        let roles = Roles::new(&regions.recovery);
        DatabaseFailover {
            rds: aws_sdk_rds::Client::new(&regions.recovery),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&regions.recovery),
            primary_rds: aws_sdk_rds::Client::new(&regions.primary),
            primary_cloudwatch: aws_sdk_cloudwatch::Client::new(&regions.primary),
            endpoints: EndpointStores::new(&regions.recovery, route53_client(&regions.primary), &roles),
            tables: GlobalTables::new(regions),
            elasticache: aws_sdk_elasticache::Client::new(&regions.recovery),
            primary_elasticache: aws_sdk_elasticache::Client::new(&regions.primary),
            memorydb: aws_sdk_memorydb::Client::new(&regions.recovery),
            primary_memorydb: aws_sdk_memorydb::Client::new(&regions.primary),
            globals: GlobalClients::new(&regions.recovery),
            primary_globals: GlobalClients::new(&regions.primary),
            roles: roles.clone(),
        }
    }

    /// The same functions acting in the primary region, where a failback promotes.
    pub fn in_primary(&self) -> DatabaseFailover {
        DatabaseFailover {
            rds: self.primary_rds.clone(),
            cloudwatch: self.primary_cloudwatch.clone(),
            primary_rds: self.primary_rds.clone(),
            primary_cloudwatch: self.primary_cloudwatch.clone(),
            endpoints: self.endpoints.clone(),
            tables: self.tables.clone(),
            elasticache: self.primary_elasticache.clone(),
            primary_elasticache: self.primary_elasticache.clone(),
            memorydb: self.primary_memorydb.clone(),
            primary_memorydb: self.primary_memorydb.clone(),
            globals: self.primary_globals.clone(),
            primary_globals: self.primary_globals.clone(),
            roles: self.roles.clone(),
        }
    }

    pub async fn handle(&self, payload: Value, now: DateTime<Utc>) -> Result<StepResult, DatabaseError> {
        let request: StepRequest = parse_request(payload).map_err(StepFault::from)?;
        let (phase, ctx) = request.phase();
        if accounts::accounts(&ctx.plan).iter().any(Option::is_some) {
            return Box::pin(self.in_parts(phase, ctx, now)).await;
        }
        Box::pin(self.run(phase, ctx, now)).await
    }

    /// The step's work on the databases of one account (every database, when the plan names no
    /// other account), with this step's clients.
    pub(crate) async fn run(
        &self,
        phase: Phase,
        mut ctx: RecoveryContext,
        now: DateTime<Utc>,
    ) -> Result<StepResult, DatabaseError> {
        if phase == Phase::Readiness && !moves_region(&ctx) {
            return Ok(StepResult::not_in_scope(Step::DatabaseFailover, &ctx, now));
        }
        // A reprotect builds what a failback needs; its readiness check is the failback's own.
        if ctx.path == RecoveryPath::Reprotect && phase != Phase::Readiness {
            ensure_region(
                self.rds.config().region().map(|r| r.as_ref()),
                &ctx.plan.recovery_region,
                "reprotects from",
            )?;
            // Boxed: kept off the stack of whoever awaits the handler (a test thread has 2 MiB).
            return match phase {
                Phase::Status => Box::pin(self.reprotect_status(&ctx, now)).await,
                _ => Box::pin(self.reprotect(&ctx, now)).await,
            };
        }
        // A failback is a zero-loss promotion of the failback replicas in the primary region.
        let primary;
        let acting = if ctx.mode == Mode::Failback {
            ctx.plan = for_failback(&ctx.plan)?;
            primary = self.in_primary();
            ensure_region(
                primary.rds.config().region().map(|r| r.as_ref()),
                &ctx.plan.primary_region,
                "fails back into",
            )?;
            &primary
        } else {
            ensure_region(
                self.rds.config().region().map(|r| r.as_ref()),
                &ctx.plan.recovery_region,
                "recovers into",
            )?;
            self
        };
        match phase {
            Phase::Start => acting.start(&ctx, now).await,
            Phase::Readiness => acting.readiness(&ctx, now).await,
            Phase::Status => acting.status(&ctx, now).await,
        }
    }

    /// `start` as a dry run, for the readiness check. A loss beyond the RPO target that an
    /// approver may accept is put to them: the rest is checked as if they had agreed, and the
    /// result says what needs approval (`needsApproval`).
    async fn readiness(&self, ctx: &RecoveryContext, now: DateTime<Utc>) -> Result<StepResult, DatabaseError> {
        match self.start(ctx, now).await {
            Err(e @ DatabaseError::DataLoss { allowed, .. })
                if ctx.path != RecoveryPath::ReadinessCheck
                    && ctx.mode == Mode::Failover
                    && (allowed || ctx.approval_required) =>
            {
                let mut assumed = ctx.clone();
                assumed.approval = Some(serde_json::json!("assumed by the readiness check"));
                let mut result = self.start(&assumed, now).await?;
                result.needs_approval = Some(e.to_string());
                Ok(result)
            }
            other => other,
        }
    }

    async fn start(&self, ctx: &RecoveryContext, now: DateTime<Utc>) -> Result<StepResult, DatabaseError> {
        let invocation = Instant::now();
        let mut result = StepResult::begin(Step::DatabaseFailover, ctx, now);
        // Observe every database, decide for each (refusing before any change), then act.
        let observed = self.observe(ctx, now).await?;
        let intents: Vec<Intent> = ctx
            .plan
            .databases
            .iter()
            .map(|db| decide(ctx, db, &observed, now))
            .collect::<Result<_, _>>()?;
        // Where the application finds its writers, and the global tables' replicas: each must
        // be usable before anything changes.
        let endpoints = self.read_endpoints(ctx).await?;
        let (tables, tables_rpo) = self.global_tables(ctx, now).await?;
        let (datastores, datastores_rpo) = self.global_datastores(ctx, now).await?;
        let (multi_region, multi_region_rpo) = self.multi_region_clusters(ctx, now).await?;
        let dry_run = ctx.dry_run;
        // Split-brain guard: the old writers are read once, then fenced before anything is
        // promoted; one that takes writes and cannot be fenced stops the failover before any
        // change, unless a human approved it.
        let old_writers = self.old_writers(ctx, &intents).await;
        if !dry_run && ctx.approval.is_none() {
            for (intent, state) in &old_writers {
                let why = fence::unfenceable(state, intent.isolation.as_deref());
                if let (Some(why), Change::Promote { .. } | Change::Failover { .. }) = (why, &intent.change) {
                    return Err(DatabaseError::SplitBrainRisk {
                        database: intent.old_writer.clone().unwrap_or_default(),
                        reason: why.to_string(),
                    });
                }
            }
        }
        let fences: Vec<_> = old_writers
            .into_iter()
            .filter_map(|(intent, state)| {
                let source = intent.old_writer.as_deref()?;
                let rds = rds::in_region(&self.rds, &rds::writer_region(ctx, source));
                let (database, isolation) = (&intent.action.resource, intent.isolation.as_deref());
                Some(async move { fence::set_fence(&rds, database, source, isolation, state, dry_run).await })
            })
            .collect();
        let mut actions: Vec<Action> = stream::iter(fences).buffered(CONCURRENCY).collect().await;
        // A fence that did not hold on a writer that takes writes (its region answered, and
        // throttled or refused the change): nothing is promoted over it without approval.
        if !dry_run && ctx.approval.is_none() {
            if let Some(failed) = actions.iter().find(|a| {
                a.operation == "FenceOldWriter" && a.status == ActionStatus::Failed && a.before["acceptsWrites"] == true
            }) {
                return Err(DatabaseError::SplitBrainRisk {
                    database: failed.resource.clone(),
                    reason: failed.detail.clone().unwrap_or_else(|| "the fence did not hold".into()),
                });
            }
        }
        // A zero-loss promotion goes once its replica has caught up with the fenced writer.
        if let (false, Some(intent)) = (dry_run, intents.iter().find(|i| i.draining.is_some())) {
            return Err(DatabaseError::Draining {
                database: intent.action.resource.clone(),
                reason: intent.draining.clone().unwrap_or_default(),
            });
        }
        if ctx.mode == Mode::Failback {
            actions.extend(self.lift_fences(&intents, dry_run).await?);
        }
        let recovery_id = ctx.recovery_id.as_str();
        let changes: Vec<_> = intents
            .iter()
            .map(|intent| self.act(intent, dry_run, recovery_id))
            .collect();
        let changed: Vec<Action> = stream::iter(changes).buffered(CONCURRENCY).try_collect().await?;
        actions.extend(changed);
        actions.extend(self.fail_over_datastores(ctx, datastores).await?);
        if dry_run {
            actions.extend(self.planned_endpoints(ctx, &endpoints).await?);
        } else {
            self.repoint(ctx, &mut actions).await?;
        }
        actions.extend(tables);
        actions.extend(multi_region);
        result.rpo_seconds = intents
            .iter()
            .filter_map(|i| i.rpo_seconds)
            .chain(tables_rpo)
            .chain(datastores_rpo)
            .chain(multi_region_rpo)
            .reduce(f64::max);
        result.actions = actions;
        Ok(result.settle(invocation, now))
    }

    /// Each promotion's old writer as it is now, read once (within the fence's reach timeout).
    async fn old_writers<'i>(&self, ctx: &RecoveryContext, intents: &'i [Intent]) -> Vec<(&'i Intent, OldWriter)> {
        let promoting: Vec<&Intent> = intents.iter().filter(|i| i.old_writer.is_some()).collect();
        let sources: Vec<(&str, Option<&str>)> = promoting
            .iter()
            .filter_map(|i| Some((i.old_writer.as_deref()?, i.isolation.as_deref())))
            .collect();
        let states = self.writers(ctx, &sources).await;
        promoting.into_iter().zip(states).collect()
    }

    /// A failback switches each Aurora global database back to the cluster the failover fenced:
    /// its read-only parameter is set back first, or it would refuse every write as the writer.
    /// A cluster isolated on the network, or that cannot be read, is not switched back to.
    async fn lift_fences(&self, intents: &[Intent], dry_run: bool) -> Result<Vec<Action>, DatabaseError> {
        let mut lifted = Vec::new();
        for intent in intents {
            let Change::Switchover { global, target, .. } = &intent.change else {
                continue;
            };
            let state = rds::writers::old_writer(&self.rds, target, intent.isolation.as_deref()).await;
            match fence::lift(&self.rds, global, target, &state, dry_run).await {
                Ok(Some(action)) => lifted.push(action),
                Ok(None) => {}
                Err(reason) => return Err(decide::precondition(global, reason)),
            }
        }
        Ok(lifted)
    }

    /// Old writers as they are now, each region's read at once; one answer per
    /// `(source, isolation)`, in order.
    pub async fn writers(&self, ctx: &RecoveryContext, sources: &[(&str, Option<&str>)]) -> Vec<OldWriter> {
        rds::old_writers(&self.rds, ctx, sources).await
    }

    async fn status(&self, ctx: &RecoveryContext, now: DateTime<Utc>) -> Result<StepResult, DatabaseError> {
        let invocation = Instant::now();
        let mut result = ctx.results.database.clone().ok_or(StepFault::NotStarted("database"))?;
        let waiting: Vec<&str> = result
            .actions
            .iter()
            .filter(|a| {
                a.status == ActionStatus::Pending
                    && !a.operation.ends_with("GlobalCluster")
                    && a.operation != repoint::POINT_AT_WRITER
                    && a.operation != datastores::FAIL_OVER
            })
            .map(|a| a.resource.as_str())
            .collect();
        let instances = if waiting.is_empty() {
            Default::default()
        } else {
            self.instances(&waiting).await?
        };
        let mut promoted = Vec::new();
        for action in result.actions.iter_mut().filter(|a| {
            a.status == ActionStatus::Pending
                && a.operation != repoint::POINT_AT_WRITER
                && a.operation != datastores::FAIL_OVER
        }) {
            let id = action.resource.clone();
            let progress = if action.operation.ends_with("GlobalCluster") {
                let target = action.after["writer"].as_str().unwrap_or_default().to_string();
                global_progress(&self.global_cluster(global_engine(ctx, &id), &id).await?, &target)
            } else {
                instance_progress(instances.get(&rds::reads::key(&id)))
            };
            match progress {
                Progress::Done(state) => {
                    if let Some(source) = action.after["oldWriter"].as_str() {
                        promoted.push((id.clone(), source.to_string()));
                    }
                    action.status = ActionStatus::Done;
                    action.after = state;
                    action.detail = before_waiting(action.detail.as_deref());
                }
                Progress::Waiting(state) => {
                    // What the start said (a lost answer, the lag at promotion) stays.
                    let said = before_waiting(action.detail.as_deref());
                    action.detail = Some(match said {
                        Some(said) => format!("{said}; {WAITING}{state}"),
                        None => format!("{WAITING}{state}"),
                    });
                }
                Progress::Failed(reason) => return Err(DatabaseError::Failed { database: id, reason }),
            }
        }
        self.datastores_status(ctx, &mut result.actions).await?;
        let after = self.after_promotion(ctx, &promoted).await?;
        result.actions.extend(after);
        self.repoint(ctx, &mut result.actions).await?;
        let result = result.settle(invocation, now);
        Ok(within_deadline(result, ctx, now, "databases not ready", |a| {
            format!("{} ({})", a.resource, a.detail.as_deref().unwrap_or(""))
        })?)
    }
}

/// How a pending action's detail says what RDS shows while it waits.
pub(crate) const WAITING: &str = "waiting: ";

/// A pending action's detail without what its last poll saw.
pub(crate) fn before_waiting(detail: Option<&str>) -> Option<String> {
    let said = detail?.split(WAITING).next()?.trim_end_matches("; ");
    (!said.is_empty()).then(|| said.to_string())
}

/// The plan as a failback acts on it ([`RecoveryPlan::for_failback`]).
pub fn for_failback(plan: &RecoveryPlan) -> Result<RecoveryPlan, DatabaseError> {
    plan.for_failback().map_err(|e| DatabaseError::Unsupported {
        database: e.database,
        reason: e.reason,
    })
}
