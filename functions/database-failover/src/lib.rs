//! database-failover: makes the recovery region's databases writable.
//!
//! `start` inspects every database first (concurrently, with a bound) and refuses before changing
//! anything when one is missing, in the wrong state, or further behind than the RPO allows; then
//! it starts every change: `PromoteReadReplica`, `SwitchoverGlobalCluster` /
//! `FailoverGlobalCluster`, or a restore to a point in time or from a snapshot. `status` polls
//! until each database is available and a writer.

pub mod fence;
pub mod reads;

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use aws_sdk_rds::types::DbInstance;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{DateTime, Duration, Utc};
use futures_util::future::join_all;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use rebound_shared::aws::Regions;
use rebound_shared::context::{
    parse_request, Action, ActionStatus, DisasterType, Mode, RecoveryContext, Step, StepRequest, StepResult,
};
use rebound_shared::error::{AwsError, ErrorKind};
use rebound_shared::objectives::data_loss_acceptable;
use rebound_shared::plan::{Database, RecoveryPlan};
use rebound_shared::step::{elapsed_ms, ensure_region, within_deadline, Phase, StepFault};
use serde_json::{json, Value};

use crate::fence::OldWriter;

/// How many databases are inspected or changed at once.
const CONCURRENCY: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error(transparent)]
    Step(#[from] StepFault),
    #[error("database {database}: {source}")]
    Aws { database: String, source: AwsError },
    #[error("database {database}: {reason}")]
    Precondition { database: String, reason: String },
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
    #[error("not promoting: the old writer {database} still accepts writes and cannot be fenced ({reason}); a promotion now would make two writers (split brain): fence or stop it, or approve the failover knowing the risk")]
    SplitBrainRisk { database: String, reason: String },
}

impl DatabaseError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            DatabaseError::Aws { source, .. } => source.kind,
            DatabaseError::Precondition { .. }
            | DatabaseError::DataLoss { .. }
            | DatabaseError::SplitBrainRisk { .. } => ErrorKind::PreconditionFailed,
            DatabaseError::Step(fault) => fault.kind(),
            DatabaseError::Unsupported { .. } => ErrorKind::InvalidInput,
            DatabaseError::Failed { .. } => ErrorKind::StepFailed,
        }
    }
}

rebound_shared::impl_diagnostic!(DatabaseError);

/// The tag every instance Rebound creates carries: which recovery made it.
const RECOVERY_TAG: &str = "rebound:recovery-id";

fn recovery_tag(recovery_id: &str) -> aws_sdk_rds::types::Tag {
    aws_sdk_rds::types::Tag::builder()
        .key(RECOVERY_TAG)
        .value(recovery_id)
        .build()
}

fn aws<E>(
    database: &str,
    service: &'static str,
    operation: &'static str,
    err: &SdkError<E, HttpResponse>,
) -> DatabaseError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    DatabaseError::Aws {
        database: database.to_string(),
        source: AwsError::from_sdk(service, operation, err),
    }
}

fn data_loss_text(lag: Option<f64>, rpo: u64, allowed: bool) -> String {
    let lag = match lag {
        Some(lag) => format!("replica lag is {lag} s, beyond the RPO target of {rpo} s"),
        None => "replica lag is unknown (no lag datapoint in the last 10 minutes), so the data loss cannot be bounded"
            .to_string(),
    };
    if allowed {
        format!("{lag}; the plan allows that loss only with a human's approval, and none was given")
    } else {
        format!("{lag}, and the plan does not allow more data loss")
    }
}

/// A failover may lose up to the RPO target; more, or an unknown amount, only once approved.
fn within_rpo_or_approved(
    ctx: &RecoveryContext,
    database: &str,
    lag: Option<f64>,
    allow_data_loss: bool,
) -> Result<(), DatabaseError> {
    let rpo = ctx.plan.objectives.rpo_seconds;
    let approved = ctx.approval.is_some();
    match lag {
        Some(l) if data_loss_acceptable(l, rpo, false, approved) => Ok(()),
        _ if approved => Ok(()),
        _ => Err(DatabaseError::DataLoss {
            database: database.to_string(),
            lag_seconds: lag,
            rpo_seconds: rpo,
            allowed: allow_data_loss,
        }),
    }
}

fn precondition(database: &str, reason: impl Into<String>) -> DatabaseError {
    DatabaseError::Precondition {
        database: database.to_string(),
        reason: reason.into(),
    }
}

/// Recovery-region clients.
pub struct DatabaseFailover {
    pub rds: aws_sdk_rds::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// Primary-region clients: a failback promotes replicas there.
    pub primary_rds: aws_sdk_rds::Client,
    pub primary_cloudwatch: aws_sdk_cloudwatch::Client,
}

/// What `start` decided for one database after inspecting it.
struct Intent {
    action: Action,
    change: Change,
    rpo_seconds: Option<f64>,
    /// A promoted replica's source: the writer to fence.
    old_writer: Option<String>,
    /// The plan's isolation security group for that writer, if any.
    isolation: Option<String>,
}

impl Intent {
    /// Found in the target state: nothing to change.
    fn done(resource: &str, operation: &str, state: Value) -> Intent {
        Intent {
            action: Action::already_done(resource, operation, state),
            change: Change::None,
            rpo_seconds: None,
            old_writer: None,
            isolation: None,
        }
    }
}

enum Change {
    None,
    Promote {
        identifier: String,
    },
    Switchover {
        global: String,
        target: String,
    },
    Failover {
        global: String,
        target: String,
    },
    RestoreToPointInTime {
        source: String,
        target: String,
        time: DateTime<Utc>,
        class: Option<String>,
    },
    RestoreFromSnapshot {
        snapshot: String,
        target: String,
        class: Option<String>,
    },
}

impl DatabaseFailover {
    pub fn new(regions: &Regions) -> Self {
        DatabaseFailover {
            rds: aws_sdk_rds::Client::new(&regions.recovery),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&regions.recovery),
            primary_rds: aws_sdk_rds::Client::new(&regions.primary),
            primary_cloudwatch: aws_sdk_cloudwatch::Client::new(&regions.primary),
        }
    }

    /// The same functions acting in the primary region, where a failback promotes.
    pub fn in_primary(&self) -> DatabaseFailover {
        DatabaseFailover {
            rds: self.primary_rds.clone(),
            cloudwatch: self.primary_cloudwatch.clone(),
            primary_rds: self.primary_rds.clone(),
            primary_cloudwatch: self.primary_cloudwatch.clone(),
        }
    }

    pub async fn handle(&self, payload: Value, now: DateTime<Utc>) -> Result<StepResult, DatabaseError> {
        let request: StepRequest = parse_request(payload).map_err(StepFault::from)?;
        let (phase, mut ctx) = request.phase();
        // A failback is a zero-loss promotion of the failback replicas in the primary region.
        let primary;
        let acting = if ctx.mode == Mode::Failback {
            ctx.plan.databases = failback_databases(&ctx.plan)?;
            primary = self.in_primary();
            ensure_region(
                primary.rds.config().region(),
                &ctx.plan.primary_region,
                "fails back into",
            )?;
            &primary
        } else {
            ensure_region(self.rds.config().region(), &ctx.plan.recovery_region, "recovers into")?;
            self
        };
        match phase {
            Phase::Start | Phase::Readiness => acting.start(&ctx, now).await,
            Phase::Status => acting.status(&ctx, now).await,
        }
    }

    async fn start(&self, ctx: &RecoveryContext, now: DateTime<Utc>) -> Result<StepResult, DatabaseError> {
        let invocation = Instant::now();
        let mut result = StepResult::begin(Step::DatabaseFailover, ctx, now);
        let observed = self.observe(ctx, now).await?;
        // Futures collected first: a closure inside the stream would make it !Send.
        let inspections: Vec<_> = ctx
            .plan
            .databases
            .iter()
            .map(|db| self.inspect(ctx, db, &observed, now))
            .collect();
        let intents: Vec<Intent> = stream::iter(inspections).buffered(CONCURRENCY).try_collect().await?;
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
                let rds = self.rds_in(&fence::writer_region(ctx, source));
                let (database, isolation) = (&intent.action.resource, intent.isolation.as_deref());
                Some(async move { fence::set_fence(&rds, database, source, isolation, state, dry_run).await })
            })
            .collect();
        let mut actions: Vec<Action> = stream::iter(fences).buffered(CONCURRENCY).collect().await;
        let recovery_id = ctx.recovery_id.as_str();
        let changes: Vec<_> = intents
            .iter()
            .map(|intent| self.act(intent, dry_run, recovery_id))
            .collect();
        let changed: Vec<Action> = stream::iter(changes).buffered(CONCURRENCY).try_collect().await?;
        actions.extend(changed);
        result.rpo_seconds = intents.iter().filter_map(|i| i.rpo_seconds).reduce(f64::max);
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

    /// Old writers as they are now, each region's read at once (`fence::old_writers`); one
    /// answer per `(source, isolation)`, in order.
    pub async fn writers(&self, ctx: &RecoveryContext, sources: &[(&str, Option<&str>)]) -> Vec<OldWriter> {
        let mut by_region: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (i, (source, _)) in sources.iter().enumerate() {
            by_region.entry(fence::writer_region(ctx, source)).or_default().push(i);
        }
        let reads = by_region.into_iter().map(|(region, indices)| async move {
            let batch: Vec<(&str, Option<&str>)> = indices.iter().map(|&i| sources[i]).collect();
            let states = fence::old_writers(&self.rds_in(&region), &batch).await;
            indices.into_iter().zip(states).collect::<Vec<_>>()
        });
        let mut states: Vec<(usize, OldWriter)> = join_all(reads).await.into_iter().flatten().collect();
        states.sort_by_key(|(i, _)| *i);
        states.into_iter().map(|(_, state)| state).collect()
    }

    /// What `inspect` needs read for every database at once: the recovery side's instances
    /// (batched) and each replica's lag (one `GetMetricData`).
    async fn observe(&self, ctx: &RecoveryContext, now: DateTime<Utc>) -> Result<Observed, DatabaseError> {
        let mut ids = Vec::new();
        let mut replicas = Vec::new();
        for db in &ctx.plan.databases {
            match db {
                Database::ReadReplica { identifier, .. } => {
                    ids.push(identifier.as_str());
                    replicas.push(identifier.as_str());
                }
                Database::PointInTimeRestore {
                    identifier,
                    source_identifier,
                    ..
                } => ids.extend([identifier.as_str(), source_identifier.as_str()]),
                Database::SnapshotRestore { identifier, .. } => ids.push(identifier.as_str()),
                Database::AuroraGlobal { .. } => {}
            }
        }
        let instances = if ids.is_empty() {
            reads::Instances::default()
        } else {
            reads::instances(&self.rds, &ids)
                .await
                .map_err(|e| batch_error(&ids, e))?
        };
        let lags = if replicas.is_empty() {
            HashMap::new()
        } else {
            reads::newest_metrics(&self.cloudwatch, "ReplicaLag", "DBInstanceIdentifier", &replicas, now)
                .await
                .map_err(|e| batch_error(&replicas, e))?
        };
        Ok(Observed { instances, lags })
    }

    /// Reads one database and decides what to do, changing nothing.
    async fn inspect(
        &self,
        ctx: &RecoveryContext,
        db: &Database,
        observed: &Observed,
        now: DateTime<Utc>,
    ) -> Result<Intent, DatabaseError> {
        if ctx.event.disaster_type == DisasterType::DataCorruption
            && matches!(db, Database::ReadReplica { .. } | Database::AuroraGlobal { .. })
        {
            // Replication copied the bad writes: promoting would recover the corruption.
            return Err(precondition(
                db.identifier(),
                "data corruption: promoting a replica would keep the corrupted data; recover with a pointInTimeRestore or snapshotRestore entry",
            ));
        }
        match db {
            Database::ReadReplica {
                identifier,
                source_identifier,
                allow_data_loss,
                isolation_security_group_id,
                ..
            } => {
                let instance = observed
                    .instances
                    .get(identifier)
                    .ok_or_else(|| precondition(identifier, "not found in the recovery region"))?;
                let state = instance_state(instance);
                let status = instance.db_instance_status().unwrap_or("unknown");
                if instance.read_replica_source_db_instance_identifier().is_none() {
                    // Promoted earlier (by us or by hand): it is a standalone writer. Its old
                    // writer is still checked, in case the fence did not hold.
                    let mut intent = Intent::done(identifier, "PromoteReadReplica", state);
                    intent.old_writer = Some(source_identifier.clone());
                    intent.isolation = isolation_security_group_id.clone();
                    return Ok(intent);
                }
                if status != "available" {
                    return Err(precondition(
                        identifier,
                        format!("replica is '{status}', expected 'available'"),
                    ));
                }
                let lag = observed.lags.get(identifier.as_str()).copied();
                let zero_loss = matches!(ctx.mode, Mode::Switchover | Mode::Failback);
                let rpo = ctx.plan.objectives.rpo_seconds;
                match lag {
                    Some(lag) if zero_loss && !data_loss_acceptable(lag, rpo, true, false) => {
                        return Err(precondition(
                            identifier,
                            format!("replica lag is {lag} s; a {} needs 0", ctx.mode),
                        ));
                    }
                    None if zero_loss => {
                        return Err(precondition(
                            identifier,
                            "replica lag is unknown (no ReplicaLag datapoint in the last 10 minutes); a zero-loss move needs it to be 0",
                        ));
                    }
                    _ => within_rpo_or_approved(ctx, identifier, lag, *allow_data_loss)?,
                }
                let after =
                    json!({ "status": "available", "replicaOf": null, "writer": true, "oldWriter": source_identifier });
                let mut action = Action::change(identifier, "PromoteReadReplica", state, after, ctx.dry_run);
                action.detail = Some(match lag {
                    Some(l) if l > rpo as f64 => {
                        format!("replica lag at promotion {l} s, beyond the RPO target: approved")
                    }
                    Some(l) => format!("replica lag at promotion {l} s"),
                    None => "replica lag unknown: approved".to_string(),
                });
                Ok(Intent {
                    action,
                    change: Change::Promote {
                        identifier: identifier.clone(),
                    },
                    rpo_seconds: lag,
                    old_writer: Some(source_identifier.clone()),
                    isolation: isolation_security_group_id.clone(),
                })
            }
            Database::AuroraGlobal {
                identifier,
                target_cluster_arn,
                allow_data_loss,
                isolation_security_group_id,
            } => {
                let members = self.global_members(identifier).await?;
                let writer = members.iter().find(|(_, w)| *w).map(|(arn, _)| arn.clone());
                if !members.iter().any(|(arn, _)| arn == target_cluster_arn) {
                    return Err(precondition(
                        identifier,
                        format!("{target_cluster_arn} is not a member of the global cluster"),
                    ));
                }
                let state = json!({ "writer": writer });
                if writer.as_deref() == Some(target_cluster_arn.as_str()) {
                    return Ok(Intent::done(identifier, "SetGlobalClusterWriter", state));
                }
                // A switchover waits for the secondary to catch up and loses nothing; a failover
                // loses what replication had not shipped, which must be within the RPO target or
                // approved.
                let mut lag = None;
                if ctx.mode != Mode::Switchover {
                    let cluster = target_cluster_arn.rsplit(':').next().unwrap_or(target_cluster_arn);
                    let millis = self
                        .newest_metric(
                            identifier,
                            "AuroraGlobalDBReplicationLag",
                            "DBClusterIdentifier",
                            cluster,
                            now,
                        )
                        .await?;
                    lag = millis.map(|ms| ms / 1000.0);
                    within_rpo_or_approved(ctx, identifier, lag, *allow_data_loss)?;
                }
                let (operation, change) = if ctx.mode == Mode::Switchover {
                    (
                        "SwitchoverGlobalCluster",
                        Change::Switchover {
                            global: identifier.clone(),
                            target: target_cluster_arn.clone(),
                        },
                    )
                } else {
                    (
                        "FailoverGlobalCluster",
                        Change::Failover {
                            global: identifier.clone(),
                            target: target_cluster_arn.clone(),
                        },
                    )
                };
                let action = Action::change(
                    identifier,
                    operation,
                    state,
                    json!({ "writer": target_cluster_arn }),
                    ctx.dry_run,
                );
                // A failover leaves the old writer cluster behind (a switchover demotes it
                // itself): it is fenced like a replica's old writer.
                let old_writer = writer.filter(|_| ctx.mode != Mode::Switchover);
                Ok(Intent {
                    action,
                    change,
                    rpo_seconds: lag,
                    old_writer,
                    isolation: isolation_security_group_id.clone(),
                })
            }
            Database::PointInTimeRestore {
                identifier,
                source_identifier,
                instance_class,
            } => {
                if let Some(existing) = observed.instances.get(identifier) {
                    return Ok(Intent::done(
                        identifier,
                        "RestoreDBInstanceToPointInTime",
                        instance_state(existing),
                    ));
                }
                let source = observed.instances.get(source_identifier).ok_or_else(|| {
                    precondition(source_identifier, "restore source not found in the recovery region")
                })?;
                let latest = source
                    .latest_restorable_time()
                    .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()));
                // A second before the corruption was detected (restores are to the second), and no
                // later than AWS can restore to.
                let detected = ctx.event.detected_at;
                let time = match latest {
                    Some(latest) => (detected - Duration::seconds(1)).min(latest),
                    None => {
                        return Err(precondition(
                            source_identifier,
                            "has no restorable time (are automated backups on?)",
                        ))
                    }
                };
                // Every write after the restore point is missing from the restored database.
                let loss = (now - time).num_milliseconds().max(0) as f64 / 1000.0;
                let after = json!({ "restoredFrom": source_identifier, "restoreTime": time.to_rfc3339() });
                let mut action = Action::change(
                    identifier,
                    "RestoreDBInstanceToPointInTime",
                    Value::Null,
                    after,
                    ctx.dry_run,
                );
                action.detail = Some(format!(
                    "restore point {} (detected {})",
                    time.to_rfc3339(),
                    detected.to_rfc3339()
                ));
                Ok(Intent {
                    action,
                    change: Change::RestoreToPointInTime {
                        source: source_identifier.clone(),
                        target: identifier.clone(),
                        time,
                        class: instance_class.clone(),
                    },
                    rpo_seconds: Some(loss),
                    old_writer: None,
                    isolation: None,
                })
            }
            Database::SnapshotRestore {
                identifier,
                snapshot_identifier,
                instance_class,
            } => {
                if let Some(existing) = observed.instances.get(identifier) {
                    return Ok(Intent::done(
                        identifier,
                        "RestoreDBInstanceFromDBSnapshot",
                        instance_state(existing),
                    ));
                }
                let out = self
                    .rds
                    .describe_db_snapshots()
                    .db_snapshot_identifier(snapshot_identifier)
                    .send()
                    .await;
                let snapshot = match out {
                    Ok(out) => out.db_snapshots().first().cloned(),
                    Err(e) if e.code() == Some("DBSnapshotNotFound") => None,
                    Err(e) => return Err(aws(snapshot_identifier, "rds", "DescribeDBSnapshots", &e)),
                };
                let snapshot = snapshot
                    .ok_or_else(|| precondition(snapshot_identifier, "snapshot not found in the recovery region"))?;
                let taken = snapshot
                    .snapshot_create_time()
                    .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), 0));
                // Every write after the snapshot is missing from the restored database.
                let rpo = taken.map(|t| (now - t).num_seconds().max(0) as f64);
                let after =
                    json!({ "restoredFrom": snapshot_identifier, "snapshotTime": taken.map(|t| t.to_rfc3339()) });
                let action = Action::change(
                    identifier,
                    "RestoreDBInstanceFromDBSnapshot",
                    Value::Null,
                    after,
                    ctx.dry_run,
                );
                Ok(Intent {
                    action,
                    change: Change::RestoreFromSnapshot {
                        snapshot: snapshot_identifier.clone(),
                        target: identifier.clone(),
                        class: instance_class.clone(),
                    },
                    rpo_seconds: rpo,
                    old_writer: None,
                    isolation: None,
                })
            }
        }
    }

    /// Starts one change (or, in a dry run, only reports it).
    /// A restore whose target already exists is this recovery's own when the target carries its
    /// tag: the SDK retried a restore whose answer was lost. Anything else is an error.
    async fn restored_by<E>(
        &self,
        target: &str,
        recovery_id: &str,
        err: &SdkError<E, HttpResponse>,
        operation: &'static str,
        action: &mut Action,
    ) -> Result<(), DatabaseError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let ours = matches!(
            err.code(),
            Some("DBInstanceAlreadyExists" | "DBInstanceAlreadyExistsFault")
        ) && self.instance(target).await?.is_some_and(|i| {
            i.tag_list()
                .iter()
                .any(|t| t.key() == Some(RECOVERY_TAG) && t.value() == Some(recovery_id))
        });
        if !ours {
            return Err(aws(target, "rds", operation, err));
        }
        action.detail = Some(format!(
            "{}; found already restored by this recovery on retry (an earlier answer was lost)",
            action.detail.as_deref().unwrap_or_default()
        ));
        Ok(())
    }

    async fn act(&self, intent: &Intent, dry_run: bool, recovery_id: &str) -> Result<Action, DatabaseError> {
        let mut action = intent.action.clone();
        if dry_run {
            return Ok(action);
        }
        let started = Instant::now();
        let id = action.resource.clone();
        match &intent.change {
            Change::None => return Ok(action),
            Change::Promote { identifier } => {
                let promoted = self
                    .rds
                    .promote_read_replica()
                    .db_instance_identifier(identifier)
                    .send()
                    .await;
                if let Err(e) = promoted {
                    // RDS answers a second PromoteReadReplica with InvalidDBInstanceState ("not a
                    // read replica"). After a lost answer that second call is the SDK's own retry
                    // of ours: the change Rebound asked for is made once, and done.
                    let standalone = e.code() == Some("InvalidDBInstanceState")
                        && self
                            .instance(identifier)
                            .await?
                            .is_some_and(|i| i.read_replica_source_db_instance_identifier().is_none());
                    if !standalone {
                        return Err(aws(&id, "rds", "PromoteReadReplica", &e));
                    }
                    action.detail = Some(format!(
                        "{}; found already promoted on retry (an earlier answer was lost)",
                        action.detail.as_deref().unwrap_or_default()
                    ));
                }
            }
            Change::Switchover { global, target } => {
                self.rds
                    .switchover_global_cluster()
                    .global_cluster_identifier(global)
                    .target_db_cluster_identifier(target)
                    .send()
                    .await
                    .map_err(|e| aws(&id, "rds", "SwitchoverGlobalCluster", &e))?;
            }
            Change::Failover { global, target } => {
                self.rds
                    .failover_global_cluster()
                    .global_cluster_identifier(global)
                    .target_db_cluster_identifier(target)
                    .allow_data_loss(true)
                    .send()
                    .await
                    .map_err(|e| aws(&id, "rds", "FailoverGlobalCluster", &e))?;
            }
            Change::RestoreToPointInTime {
                source,
                target,
                time,
                class,
            } => {
                let restored = self
                    .rds
                    .restore_db_instance_to_point_in_time()
                    .source_db_instance_identifier(source)
                    .target_db_instance_identifier(target)
                    .restore_time(aws_smithy_types::DateTime::from_millis(time.timestamp_millis()))
                    .set_db_instance_class(class.clone())
                    .tags(recovery_tag(recovery_id))
                    .send()
                    .await;
                if let Err(e) = restored {
                    self.restored_by(target, recovery_id, &e, "RestoreDBInstanceToPointInTime", &mut action)
                        .await?;
                }
            }
            Change::RestoreFromSnapshot {
                snapshot,
                target,
                class,
            } => {
                let restored = self
                    .rds
                    .restore_db_instance_from_db_snapshot()
                    .db_snapshot_identifier(snapshot)
                    .db_instance_identifier(target)
                    .set_db_instance_class(class.clone())
                    .tags(recovery_tag(recovery_id))
                    .send()
                    .await;
                if let Err(e) = restored {
                    self.restored_by(target, recovery_id, &e, "RestoreDBInstanceFromDBSnapshot", &mut action)
                        .await?;
                }
            }
        }
        action.status = ActionStatus::Pending;
        action.tracking_id = Some(id);
        action.duration_ms = elapsed_ms(started);
        Ok(action)
    }

    async fn status(&self, ctx: &RecoveryContext, now: DateTime<Utc>) -> Result<StepResult, DatabaseError> {
        let invocation = Instant::now();
        let mut result = ctx.results.database.clone().ok_or(StepFault::NotStarted("database"))?;
        let waiting: Vec<&str> = result
            .actions
            .iter()
            .filter(|a| a.status == ActionStatus::Pending && !a.operation.ends_with("GlobalCluster"))
            .map(|a| a.resource.as_str())
            .collect();
        let instances = if waiting.is_empty() {
            reads::Instances::default()
        } else {
            reads::instances(&self.rds, &waiting)
                .await
                .map_err(|e| batch_error(&waiting, e))?
        };
        let mut promoted = Vec::new();
        for action in result.actions.iter_mut().filter(|a| a.status == ActionStatus::Pending) {
            let id = action.resource.clone();
            let state = if action.operation.ends_with("GlobalCluster") {
                let target = action.after["writer"].as_str().unwrap_or_default().to_string();
                let (members, available) = self.global_cluster(&id).await?;
                let writer = members.iter().find(|(_, w)| *w).map(|(arn, _)| arn.clone());
                let done = writer.as_deref() == Some(target.as_str()) && available;
                (done, json!({ "writer": writer }))
            } else {
                let instance = instances.get(&id).ok_or_else(|| DatabaseError::Failed {
                    database: id.clone(),
                    reason: "disappeared while being promoted or restored".into(),
                })?;
                let status = instance.db_instance_status().unwrap_or("unknown");
                if [
                    "failed",
                    "incompatible-restore",
                    "incompatible-parameters",
                    "storage-full",
                ]
                .contains(&status)
                {
                    return Err(DatabaseError::Failed {
                        database: id,
                        reason: format!("instance is '{status}'"),
                    });
                }
                let done = status == "available" && instance.read_replica_source_db_instance_identifier().is_none();
                (done, instance_state(instance))
            };
            if state.0 {
                if let Some(source) = action.after["oldWriter"].as_str() {
                    promoted.push((id.clone(), source.to_string()));
                }
                action.status = ActionStatus::Done;
                action.after = state.1;
            } else {
                action.detail = Some(format!("waiting: {}", state.1));
            }
        }
        let after = self.after_promotion(ctx, &promoted).await?;
        result.actions.extend(after);
        let result = result.settle(invocation, now);
        Ok(within_deadline(result, ctx, now, "databases not ready", |a| {
            format!("{} ({})", a.resource, a.detail.as_deref().unwrap_or(""))
        })?)
    }

    /// The moment promotions complete: an isolated old writer is stopped (the replication link
    /// is broken now), and no old writer may take writes any more. A writer still writable then
    /// fails the step at once, unless a human approved promoting past it. `promoted` holds
    /// (database, its old writer).
    async fn after_promotion(
        &self,
        ctx: &RecoveryContext,
        promoted: &[(String, String)],
    ) -> Result<Vec<Action>, DatabaseError> {
        if promoted.is_empty() {
            return Ok(Vec::new());
        }
        let isolation = |database: &str| {
            ctx.plan.databases.iter().find_map(|db| match db {
                Database::ReadReplica {
                    identifier,
                    isolation_security_group_id,
                    ..
                } if identifier == database => isolation_security_group_id.as_deref(),
                _ => None,
            })
        };
        let sources: Vec<(&str, Option<&str>)> = promoted
            .iter()
            .map(|(database, source)| (source.as_str(), isolation(database)))
            .collect();
        let mut states = self.writers(ctx, &sources).await;
        let mut actions = Vec::new();
        let isolated: Vec<usize> = (0..states.len())
            .filter(|&i| matches!(states[i], OldWriter::Isolated { .. }))
            .collect();
        if !isolated.is_empty() {
            for &i in &isolated {
                let (database, source) = &promoted[i];
                let rds = self.rds_in(&fence::writer_region(ctx, source));
                actions.push(fence::stop_old_writer(&rds, database, source).await);
            }
            let again: Vec<(&str, Option<&str>)> = isolated.iter().map(|&i| sources[i]).collect();
            for (i, state) in isolated.iter().zip(self.writers(ctx, &again).await) {
                states[*i] = state;
            }
        }
        if ctx.approval.is_none() {
            if let Some(((database, source), _)) = promoted.iter().zip(&states).find(|(_, s)| s.accepts_writes()) {
                return Err(DatabaseError::Failed {
                    database: database.clone(),
                    reason: format!(
                        "SPLIT BRAIN at promotion: the old writer {source} still accepts writes; fence or stop it now"
                    ),
                });
            }
        }
        Ok(actions)
    }

    /// An RDS client like this one, for the region where an old writer lives: that region may
    /// be the failed one, so its calls are best effort (`aws::best_effort_timeouts`).
    pub fn rds_in(&self, region: &str) -> aws_sdk_rds::Client {
        let config = self
            .rds
            .config()
            .to_builder()
            .region(aws_config::Region::new(region.to_string()))
            .timeout_config(rebound_shared::aws::best_effort_timeouts())
            .retry_config(rebound_shared::aws::best_effort_retries())
            .build();
        aws_sdk_rds::Client::from_conf(config)
    }

    pub async fn instance(&self, identifier: &str) -> Result<Option<DbInstance>, DatabaseError> {
        match self
            .rds
            .describe_db_instances()
            .db_instance_identifier(identifier)
            .send()
            .await
        {
            Ok(out) => Ok(out.db_instances().first().cloned()),
            Err(e) if e.code() == Some("DBInstanceNotFound") || e.code() == Some("DBInstanceNotFoundFault") => Ok(None),
            Err(e) => Err(aws(identifier, "rds", "DescribeDBInstances", &e)),
        }
    }

    /// The global cluster's members as (cluster ARN, is writer).
    pub async fn global_members(&self, global: &str) -> Result<Vec<(String, bool)>, DatabaseError> {
        Ok(self.global_cluster(global).await?.0)
    }

    /// The global cluster's members as (cluster ARN, is writer), and whether it is available:
    /// one `DescribeGlobalClusters`.
    async fn global_cluster(&self, global: &str) -> Result<(Vec<(String, bool)>, bool), DatabaseError> {
        let out = self
            .rds
            .describe_global_clusters()
            .global_cluster_identifier(global)
            .send()
            .await
            .map_err(|e| aws(global, "rds", "DescribeGlobalClusters", &e))?;
        let cluster = out
            .global_clusters()
            .first()
            .ok_or_else(|| precondition(global, "global cluster not found"))?;
        let members = cluster
            .global_cluster_members()
            .iter()
            .map(|m| {
                (
                    m.db_cluster_arn().unwrap_or_default().to_string(),
                    m.is_writer().unwrap_or(false),
                )
            })
            .collect();
        Ok((members, cluster.status() == Some("available")))
    }

    /// The newest `AWS/RDS` datapoint (Maximum per minute) of `metric` in the last ten minutes.
    async fn newest_metric(
        &self,
        database: &str,
        metric: &str,
        dimension: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<f64>, DatabaseError> {
        let newest = reads::newest_metrics(&self.cloudwatch, metric, dimension, &[value], now)
            .await
            .map_err(|source| DatabaseError::Aws {
                database: database.to_string(),
                source,
            })?;
        Ok(newest.get(value).copied())
    }
}

/// A failed read of many databases at once names them (the first few).
fn batch_error(ids: &[&str], source: AwsError) -> DatabaseError {
    let database = match ids {
        [one] => one.to_string(),
        [first, second, third] => format!("{first}, {second}, {third}"),
        [first, second, rest @ ..] => format!("{first}, {second} and {} more", rest.len()),
        _ => ids.join(", "),
    };
    DatabaseError::Aws { database, source }
}

/// The reads `inspect` decides from, made once for every database.
struct Observed {
    instances: reads::Instances,
    lags: HashMap<String, f64>,
}

/// The databases a failback acts on: each read replica's `failbackIdentifier`, a replica (in the
/// primary region) of the writer the failover made. Other kinds fail back by hand.
pub fn failback_databases(plan: &RecoveryPlan) -> Result<Vec<Database>, DatabaseError> {
    plan.databases
        .iter()
        .map(|db| match db {
            Database::ReadReplica {
                identifier,
                allow_data_loss,
                failback_identifier: Some(back),
                ..
            } => Ok(Database::ReadReplica {
                identifier: back.clone(),
                source_identifier: identifier.clone(),
                allow_data_loss: *allow_data_loss,
                failback_identifier: None,
                isolation_security_group_id: None,
            }),
            Database::ReadReplica { identifier, .. } => Err(DatabaseError::Unsupported {
                database: identifier.clone(),
                reason: format!(
                    "failback needs failbackIdentifier: a replica of {identifier} in {}",
                    plan.primary_region
                ),
            }),
            other => Err(DatabaseError::Unsupported {
                database: other.identifier().to_string(),
                reason: "only read replicas fail back automatically".into(),
            }),
        })
        .collect()
}

fn instance_state(instance: &DbInstance) -> Value {
    json!({
        "status": instance.db_instance_status(),
        "replicaOf": instance.read_replica_source_db_instance_identifier(),
        "writer": instance.read_replica_source_db_instance_identifier().is_none(),
    })
}
