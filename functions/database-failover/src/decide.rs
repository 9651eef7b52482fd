//! What to do with each database, decided from what was read ([`Observed`]) and the context: no
//! call is made here. And whether a change in progress is done ([`progress`]).

use chrono::{DateTime, Duration, Utc};
use rebound_shared::context::{Action, ActionStatus, DisasterType, Mode, RecoveryContext};
use rebound_shared::error::DRAIN_SECONDS;
use rebound_shared::objectives::data_loss_acceptable;
use rebound_shared::plan::{Database, GlobalEngine};
pub use rebound_shared::rds::Global;
use rebound_shared::step::StepFault;
use serde_json::{json, Value};

use crate::observed::Observed;
use crate::DatabaseError;

/// What `start` decided for one database.
#[derive(Debug, Clone, PartialEq)]
pub struct Intent {
    pub action: Action,
    pub change: Change,
    pub rpo_seconds: Option<f64>,
    /// A promoted replica's source: the writer to fence.
    pub old_writer: Option<String>,
    /// The plan's isolation security group for that writer, if any.
    pub isolation: Option<String>,
    /// A switchover's promotion waits for the replica's lag to drain to 0 once its writer is
    /// fenced: why it cannot go yet (None: it can).
    pub draining: Option<String>,
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
            draining: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    None,
    Promote {
        identifier: String,
        /// Tagged with the recovery before the promotion.
        arn: Option<String>,
    },
    Switchover {
        global: String,
        target: String,
        engine: GlobalEngine,
    },
    Failover {
        global: String,
        target: String,
        engine: GlobalEngine,
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

pub(crate) fn precondition(database: &str, reason: impl Into<String>) -> DatabaseError {
    StepFault::precondition(format!("database {database}"), reason).into()
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

/// A failback switches an Aurora global database back only once the primary region's cluster
/// has caught up: its replication lag known, and within the RPO target.
fn caught_up(
    ctx: &RecoveryContext,
    (database, engine): (&str, GlobalEngine),
    lag: Option<f64>,
) -> Result<(), DatabaseError> {
    let rpo = ctx.plan.objectives.rpo_seconds;
    match lag {
        Some(l) if l <= rpo as f64 => Ok(()),
        Some(l) => Err(precondition(
            database,
            format!("not caught up to fail back: the primary region's cluster is {l} s behind (RPO target {rpo} s); try again once it has caught up"),
        )),
        None => Err(precondition(
            database,
            format!(
                "not caught up to fail back: the primary region's cluster reports no replication lag ({}) in the last 10 minutes",
                engine.lag_metric().1
            ),
        )),
    }
}

/// A change found already under way (started by an earlier run of the step whose answer was
/// lost): pending, tracked as if just started, so that the status loop waits for it.
fn under_way(
    ctx: &RecoveryContext,
    resource: &str,
    operation: &str,
    (before, after): (Value, Value),
    detail: String,
) -> Action {
    let mut action = Action::change(resource, operation, before, after, ctx.dry_run);
    action.detail = Some(detail);
    if !ctx.dry_run {
        action.status = ActionStatus::Pending;
        action.tracking_id = Some(resource.to_string());
    }
    action
}

/// Decides what to do with `db`, or why not, from what was read.
pub fn decide(
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
            let instance = observed.instance(identifier).ok_or_else(|| {
                // A failback's replica is what a reprotect builds: the readiness says so.
                let reason = match ctx.mode {
                    Mode::Failback => format!(
                        "not found in {}: after a failover, `rebound reprotect` builds it as a replica of {source_identifier}",
                        ctx.plan.primary_region
                    ),
                    _ => "not found in the recovery region".to_string(),
                };
                precondition(identifier, reason)
            })?;
            let state = instance.state();
            let status = instance.status.as_str();
            if instance.replica_of.is_none() {
                // Promoted earlier (by us or by hand): it is a standalone writer. Its old
                // writer is still checked, in case the fence did not hold.
                let mut intent = Intent::done(identifier, "PromoteReadReplica", state);
                intent.old_writer = Some(source_identifier.clone());
                intent.isolation = isolation_security_group_id.clone();
                return Ok(intent);
            }
            if let Some(by) = instance.promoted_by() {
                // This step ran before and its answer was lost (a Lambda timeout, a retry, a
                // run that died): the promotion it started is under way, waited for, not refused.
                let after =
                    json!({ "status": "available", "replicaOf": null, "writer": true, "oldWriter": source_identifier });
                let who = if by == ctx.recovery_id {
                    "this recovery".to_string()
                } else {
                    format!("recovery {by}")
                };
                let detail = format!("promotion under way ('{status}'), started by {who}");
                let action = under_way(ctx, identifier, "PromoteReadReplica", (state, after), detail);
                return Ok(Intent {
                    action,
                    change: Change::None,
                    rpo_seconds: observed.lags.get(identifier.as_str()).copied(),
                    old_writer: Some(source_identifier.clone()),
                    isolation: isolation_security_group_id.clone(),
                    draining: None,
                });
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
            // A zero-loss move fences the writer first, then promotes once the replica has
            // caught up: until then it is draining, and an operator may switch the switchover
            // to ungraceful (`rebound ungraceful`) rather than wait.
            // A replica further behind than the wait allows, or whose lag is unknown, is
            // refused before its writer is fenced: a fence and then a failed wait would stop
            // the application's writes for nothing.
            let draining = match lag {
                Some(lag) if zero_loss && lag > DRAIN_SECONDS as f64 => {
                    return Err(precondition(
                        identifier,
                        format!(
                            "replica lag is {lag} s; a {} waits at most {DRAIN_SECONDS} s for it to drain once its writer is fenced: try again once it has caught up, or run a failover",
                            ctx.mode
                        ),
                    ));
                }
                Some(lag) if zero_loss && !data_loss_acceptable(lag, rpo, true, false) => {
                    Some(format!("replica lag is {lag} s; a {} promotes at 0", ctx.mode))
                }
                None if zero_loss => {
                    return Err(precondition(
                        identifier,
                        "replica lag is unknown (no ReplicaLag datapoint in the last 10 minutes); a zero-loss move needs it known",
                    ));
                }
                _ => {
                    within_rpo_or_approved(ctx, identifier, lag, *allow_data_loss)?;
                    None
                }
            };
            let after =
                json!({ "status": "available", "replicaOf": null, "writer": true, "oldWriter": source_identifier });
            let mut action = Action::change(identifier, "PromoteReadReplica", state, after, ctx.dry_run);
            action.detail = Some(match (lag, &draining) {
                (_, Some(why)) => format!("waits for the lag to drain once the writer is fenced: {why}"),
                (Some(l), None) if l > rpo as f64 => {
                    format!("replica lag at promotion {l} s, beyond the RPO target: approved")
                }
                (Some(l), None) => format!("replica lag at promotion {l} s"),
                (None, None) => "replica lag unknown: approved".to_string(),
            });
            if let Some(mark) = &ctx.ungraceful {
                action.detail = action
                    .detail
                    .map(|d| format!("{d}; switched to ungraceful by {}: {}", mark.by, mark.reason));
            }
            Ok(Intent {
                action,
                change: Change::Promote {
                    identifier: identifier.clone(),
                    arn: instance.arn.clone(),
                },
                rpo_seconds: lag,
                old_writer: Some(source_identifier.clone()),
                isolation: isolation_security_group_id.clone(),
                draining,
            })
        }
        Database::AuroraGlobal {
            identifier,
            target_cluster_arn,
            engine,
            allow_data_loss,
            isolation_security_group_id,
            ..
        } => {
            let global = observed
                .globals
                .get(identifier)
                .ok_or_else(|| precondition(identifier, "global cluster not found"))?;
            // The three engines share one endpoint: a plan naming the wrong one would still
            // find the cluster, and fence and measure it by the wrong engine's rules.
            if let Some(found) = global.engine.as_deref().filter(|found| !engine.is(found)) {
                return Err(precondition(
                    identifier,
                    format!(
                        "the global cluster's engine is {found}, the plan's engine is {}",
                        engine.service()
                    ),
                ));
            }
            let writer = global.writer().map(str::to_string);
            if !global.members.iter().any(|(arn, _)| arn == target_cluster_arn) {
                return Err(precondition(
                    identifier,
                    format!("{target_cluster_arn} is not a member of the global cluster"),
                ));
            }
            let state = json!({ "writer": writer });
            if writer.as_deref() == Some(target_cluster_arn.as_str()) {
                return Ok(Intent::done(identifier, "SetGlobalClusterWriter", state));
            }
            let switch = matches!(ctx.mode, Mode::Switchover | Mode::Failback);
            let operation = if switch {
                "SwitchoverGlobalCluster"
            } else {
                "FailoverGlobalCluster"
            };
            if global.moving_to.as_deref() == Some(target_cluster_arn.as_str()) {
                // Already failing (or switching) over to the target: this step ran before and
                // its answer was lost. The change is waited for, not asked again (Aurora would
                // refuse it: InvalidGlobalClusterStateFault).
                let after = json!({ "writer": target_cluster_arn });
                let detail = format!("under way to {target_cluster_arn}");
                let action = under_way(ctx, identifier, operation, (state, after), detail);
                return Ok(Intent {
                    action,
                    change: Change::None,
                    rpo_seconds: observed.global_lags.get(identifier).copied().filter(|_| !switch),
                    old_writer: writer.filter(|_| !switch),
                    isolation: isolation_security_group_id.clone(),
                    draining: None,
                });
            }
            // A switchover waits for the secondary to catch up and loses nothing; a failover
            // loses what replication had not shipped, which must be within the RPO target or
            // approved. A failback switches back, once the primary's cluster has caught up.
            let mut lag = None;
            match ctx.mode {
                Mode::Switchover => {}
                Mode::Failback => caught_up(
                    ctx,
                    (identifier, *engine),
                    observed.global_lags.get(identifier).copied(),
                )?,
                Mode::Failover | Mode::Drill => {
                    lag = observed.global_lags.get(identifier).copied();
                    within_rpo_or_approved(ctx, identifier, lag, *allow_data_loss)?;
                }
            }
            let change = if switch {
                Change::Switchover {
                    global: identifier.clone(),
                    target: target_cluster_arn.clone(),
                    engine: *engine,
                }
            } else {
                Change::Failover {
                    global: identifier.clone(),
                    target: target_cluster_arn.clone(),
                    engine: *engine,
                }
            };
            let mut action = Action::change(
                identifier,
                operation,
                state,
                json!({ "writer": target_cluster_arn }),
                ctx.dry_run,
            );
            if let Some(mark) = &ctx.ungraceful {
                action.detail = Some(format!(
                    "a switchover switched to ungraceful by {}: {}; loses what had not replicated ({})",
                    mark.by,
                    mark.reason,
                    lag.map_or("lag unknown".to_string(), |l| format!("{l} s behind")),
                ));
            }
            // A failover leaves the old writer cluster behind (a switchover demotes it
            // itself): it is fenced like a replica's old writer.
            let old_writer = writer.filter(|_| !switch);
            Ok(Intent {
                action,
                change,
                rpo_seconds: lag,
                old_writer,
                isolation: isolation_security_group_id.clone(),
                draining: None,
            })
        }
        Database::PointInTimeRestore {
            identifier,
            source_identifier,
            instance_class,
            ..
        } => {
            if let Some(existing) = observed.instance(identifier) {
                return Ok(Intent::done(
                    identifier,
                    "RestoreDBInstanceToPointInTime",
                    existing.state(),
                ));
            }
            let source = observed
                .instance(source_identifier)
                .ok_or_else(|| precondition(source_identifier, "restore source not found in the recovery region"))?;
            let latest = source.latest_restorable;
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
                draining: None,
            })
        }
        Database::SnapshotRestore {
            identifier,
            snapshot_identifier,
            instance_class,
            ..
        } => {
            if let Some(existing) = observed.instance(identifier) {
                return Ok(Intent::done(
                    identifier,
                    "RestoreDBInstanceFromDBSnapshot",
                    existing.state(),
                ));
            }
            let taken = *observed
                .snapshots
                .get(snapshot_identifier)
                .ok_or_else(|| precondition(snapshot_identifier, "snapshot not found in the recovery region"))?;
            // Every write after the snapshot is missing from the restored database.
            let rpo = taken.map(|t| (now - t).num_seconds().max(0) as f64);
            let after = json!({ "restoredFrom": snapshot_identifier, "snapshotTime": taken.map(|t| t.to_rfc3339()) });
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
                draining: None,
            })
        }
    }
}

mod progress;
pub use progress::{global_progress, instance_progress, Progress};

#[cfg(test)]
pub(crate) mod tests;
