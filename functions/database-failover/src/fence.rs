//! Split-brain guard: before a replica is promoted in a failover, the old writer is made
//! read-only where its region still answers, and afterwards exactly one writer may remain.
//!
//! RDS cannot stop an instance that has a read replica, so the fence is the engine's read-only
//! parameter in the writer's own parameter group, applied immediately (MySQL and MariaDB
//! `read_only`, PostgreSQL `default_transaction_read_only`). Where that cannot be set (a
//! `default.*` group, another engine) and the plan names an isolation security group, the writer
//! is moved onto that group, which admits nothing, and stopped once the promotion has broken
//! the replication link. An Aurora writer (a cluster ARN) is fenced the same way through its own
//! DB cluster parameter group, or else on the network, and never stopped, as a member of a
//! global database cannot be. A writer that answers and cannot be fenced is never promoted over
//! without a human's approval. What a writer is now is read at the edge (`rebound_shared::rds::writers`).

use std::time::Instant;

use aws_sdk_rds::types::{ApplyMethod, Parameter};
use rebound_shared::context::{Action, ActionStatus, RecoveryContext};
use rebound_shared::plan::Database;
use rebound_shared::rds::writers::{old_writer, within_reach, Fence, Unreached};
use rebound_shared::rds::{self as rds, instance_name, is_cluster, OldWriter};
use rebound_shared::step::elapsed_ms;
use serde_json::{json, Value};

use crate::{DatabaseError, DatabaseFailover};

/// Fences the old writer of `database` (or, in a dry run, says how it would). Never fails the
/// step: a writer that cannot be fenced is reported as a failed action whose `before` says
/// whether it still accepts writes, for the caller to decide whether to promote.
pub async fn fence_old_writer(
    rds: &aws_sdk_rds::Client,
    database: &str,
    source: &str,
    isolation: Option<&str>,
    dry_run: bool,
) -> Action {
    let started = Instant::now();
    let state = old_writer(rds, source, isolation).await;
    let mut action = set_fence(rds, database, source, isolation, state, dry_run).await;
    action.duration_ms = elapsed_ms(started);
    action
}

/// Why a writer read as `state` cannot be fenced while it takes writes (the split-brain risk a
/// promotion must not run into without approval); None when it can be, or takes no writes.
pub fn unfenceable<'a>(state: &'a OldWriter, isolation: Option<&str>) -> Option<&'a str> {
    match (state, isolation) {
        (OldWriter::Writable { fence: Err(why) }, None) => Some(why),
        _ => None,
    }
}

/// [`fence_old_writer`] for a writer already read as `state`.
pub async fn set_fence(
    rds: &aws_sdk_rds::Client,
    database: &str,
    source: &str,
    isolation: Option<&str>,
    state: OldWriter,
    dry_run: bool,
) -> Action {
    let started = Instant::now();
    let resource = format!("{source} (old writer of {database})");
    let mut action = match (&state, isolation) {
        (OldWriter::Writable { fence: Ok(fence) }, _) => {
            let after = json!({ "state": format!("read-only ({} in {})", fence.parameter, fence.group), "acceptsWrites": false });
            let mut action = Action::change(&resource, "FenceOldWriter", state.to_json(), after, dry_run);
            let operation = if fence.cluster {
                "ModifyDBClusterParameterGroup"
            } else {
                "ModifyDBParameterGroup"
            };
            action.detail = Some(format!(
                "{operation} {} {}={} (immediate)",
                fence.group, fence.parameter, fence.value
            ));
            if !dry_run {
                if let Err(e) = set_read_only(rds, fence).await {
                    action = match isolation {
                        Some(sg) => isolate(rds, &resource, source, sg, &state, format!("the parameter group could not be set: {e}")).await,
                        None => cannot_fence(
                            &resource,
                            &state,
                            format!("{e}; the old writer may still accept writes"),
                        ),
                    };
                } else {
                    action.status = ActionStatus::Done;
                }
            }
            action
        }
        (OldWriter::Writable { fence: Err(why) }, Some(sg)) if dry_run => {
            let after = json!({ "state": format!("isolated (only in {sg})"), "acceptsWrites": false });
            let mut action = Action::change(&resource, "FenceOldWriter", state.to_json(), after, true);
            action.detail = Some(isolation_detail(source, sg, why));
            action
        }
        (OldWriter::Writable { fence: Err(why) }, Some(sg)) => isolate(rds, &resource, source, sg, &state, why.clone()).await,
        (OldWriter::Writable { fence: Err(why) }, None) => cannot_fence(
            &resource,
            &state,
            format!(
                "{why}; the old writer still accepts writes: give the plan an isolationSecurityGroupId, stop its clients or fence it by hand"
            ),
        ),
        (OldWriter::Unreachable { reason }, _) => cannot_fence(
            &resource,
            &state,
            format!("its region did not answer ({reason}); fence it before its region comes back"),
        ),
        (OldWriter::Missing | OldWriter::Stopped { .. } | OldWriter::ReadOnly { .. } | OldWriter::Isolated { .. }, _) => {
            Action::already_done(&resource, "FenceOldWriter", state.to_json())
        }
    };
    if state.accepts_writes() || matches!(state, OldWriter::Unreachable { .. }) {
        tracing::warn!(database, source, state = %state.describe(), status = ?action.status, "old writer fence");
    }
    action.duration_ms = elapsed_ms(started);
    action
}

fn isolation_detail(source: &str, sg: &str, why: &str) -> String {
    if is_cluster(source) {
        format!("ModifyDBCluster VpcSecurityGroupIds=[{sg}] (immediate): {why}")
    } else {
        format!("ModifyDBInstance VpcSecurityGroupIds=[{sg}] (immediate), then StopDBInstance once promoted: {why}")
    }
}

/// The network fence: the writer's only security group becomes `sg`, which admits nothing.
async fn isolate(
    rds: &aws_sdk_rds::Client,
    resource: &str,
    source: &str,
    sg: &str,
    state: &OldWriter,
    why: String,
) -> Action {
    let after = json!({ "state": format!("isolated (only in {sg})"), "acceptsWrites": false });
    let mut action = Action::change(resource, "FenceOldWriter", state.to_json(), after, false);
    action.detail = Some(isolation_detail(source, sg, &why));
    let name = instance_name(source);
    let cluster = is_cluster(source);
    let operation = if cluster { "ModifyDBCluster" } else { "ModifyDBInstance" };
    let call = || async {
        if cluster {
            rds.modify_db_cluster()
                .db_cluster_identifier(name)
                .vpc_security_group_ids(sg)
                .apply_immediately(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| rebound_shared::error::from_sdk("rds", operation, &e))
        } else {
            rds.modify_db_instance()
                .db_instance_identifier(name)
                .vpc_security_group_ids(sg)
                .apply_immediately(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| rebound_shared::error::from_sdk("rds", operation, &e))
        }
    };
    action.status = match within_reach(call).await {
        Ok(()) => ActionStatus::Done,
        Err(e) => {
            action.detail = Some(format!(
                "could not fence: {operation}: {e}; the old writer still accepts writes"
            ));
            ActionStatus::Failed
        }
    };
    action
}

/// After the promotion broke the replication link: stops an isolated old writer (read just now
/// as `state`), so it takes no writes even if its security group is changed back. Best effort,
/// like every call into the region being left.
pub async fn stop_old_writer(rds: &aws_sdk_rds::Client, database: &str, source: &str, state: OldWriter) -> Action {
    let started = Instant::now();
    let name = instance_name(source);
    let resource = format!("{source} (old writer of {database})");
    let mut action = match &state {
        OldWriter::Missing | OldWriter::Stopped { .. } => {
            Action::already_done(&resource, "StopOldWriter", state.to_json())
        }
        OldWriter::Unreachable { reason } => {
            let mut a = Action::change(&resource, "StopOldWriter", state.to_json(), Value::Null, false);
            a.status = ActionStatus::Failed;
            a.detail = Some(format!(
                "its region did not answer ({reason}); stop it before its region comes back"
            ));
            a
        }
        _ => {
            let mut a = Action::change(
                &resource,
                "StopOldWriter",
                state.to_json(),
                json!({ "status": "stopped" }),
                false,
            );
            let call = || async {
                rds.stop_db_instance()
                    .db_instance_identifier(name)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| rebound_shared::error::from_sdk("rds", "StopDBInstance", &e))
            };
            a.status = match within_reach(call).await {
                Ok(()) => ActionStatus::Done,
                // The SDK's retry of a stop whose answer was lost meets a stopping instance.
                Err(e) => match old_writer(rds, source, None).await {
                    OldWriter::Stopped { status } => {
                        a.detail = Some(format!("found '{status}' on retry (an earlier answer was lost)"));
                        ActionStatus::Done
                    }
                    _ => {
                        a.detail = Some(format!("StopDBInstance: {e}"));
                        ActionStatus::Failed
                    }
                },
            };
            a
        }
    };
    action.duration_ms = elapsed_ms(started);
    action
}

/// A fence that could not be set, in a dry run too: people must hear of it.
fn cannot_fence(resource: &str, state: &OldWriter, why: String) -> Action {
    let mut action = Action::change(resource, "FenceOldWriter", state.to_json(), Value::Null, false);
    action.status = ActionStatus::Failed;
    action.detail = Some(format!("could not fence: {why}"));
    action
}

/// Before a failback switches a global database back to `target`, the cluster a failover fenced
/// (read as `state`): its read-only parameter set back in its DB cluster parameter group. A
/// network fence cannot be undone from here (the cluster's own security groups are not known);
/// a cluster that cannot be read is not switched back to. None: nothing to lift.
pub async fn lift(
    rds: &aws_sdk_rds::Client,
    database: &str,
    target: &str,
    state: &OldWriter,
    dry_run: bool,
) -> Result<Option<Action>, String> {
    let (group, parameter) = match state {
        OldWriter::ReadOnly { group, parameter } => (group, parameter),
        OldWriter::Isolated { security_group } => {
            return Err(format!(
                "{target} is isolated on {security_group}: give it back its own security groups before failing back"
            ))
        }
        OldWriter::Unreachable { reason } => return Err(format!("{target} could not be read: {reason}")),
        _ => return Ok(None),
    };
    let writable = if parameter == "read_only" { "0" } else { "off" };
    let resource = format!("{target} (failback target of {database})");
    let after = json!({ "state": "writable", "acceptsWrites": true });
    let mut action = Action::change(&resource, "LiftFence", state.to_json(), after, dry_run);
    action.detail = Some(format!(
        "ModifyDBClusterParameterGroup {group} {parameter}={writable} (immediate)"
    ));
    if dry_run {
        return Ok(Some(action));
    }
    let started = Instant::now();
    let setting = Parameter::builder()
        .parameter_name(parameter)
        .parameter_value(writable)
        .apply_method(ApplyMethod::Immediate)
        .build();
    rds.modify_db_cluster_parameter_group()
        .db_cluster_parameter_group_name(group)
        .parameters(setting)
        .send()
        .await
        .map_err(|e| rebound_shared::error::from_sdk("rds", "ModifyDBClusterParameterGroup", &e).to_string())?;
    action.status = ActionStatus::Done;
    action.duration_ms = elapsed_ms(started);
    Ok(Some(action))
}

async fn set_read_only(rds: &aws_sdk_rds::Client, fence: &Fence) -> Result<(), String> {
    let parameter = Parameter::builder()
        .parameter_name(fence.parameter)
        .parameter_value(fence.value)
        .apply_method(ApplyMethod::Immediate)
        .build();
    let operation = if fence.cluster {
        "ModifyDBClusterParameterGroup"
    } else {
        "ModifyDBParameterGroup"
    };
    let call = || async {
        if fence.cluster {
            rds.modify_db_cluster_parameter_group()
                .db_cluster_parameter_group_name(&fence.group)
                .parameters(parameter.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| rebound_shared::error::from_sdk("rds", operation, &e))
        } else {
            rds.modify_db_parameter_group()
                .db_parameter_group_name(&fence.group)
                .parameters(parameter.clone())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| rebound_shared::error::from_sdk("rds", operation, &e))
        }
    };
    within_reach(call).await.map_err(|e| match e {
        Unreached::Busy(e) => e.to_string(),
        Unreached::Failed(reason) => format!("{operation}: {reason}"),
    })
}

impl DatabaseFailover {
    /// The moment promotions complete: an isolated old writer is stopped (the replication link
    /// is broken now), and no old writer may take writes any more. A writer still writable then
    /// fails the step at once, unless a human approved promoting past it. `promoted` holds
    /// (database, its old writer).
    pub(crate) async fn after_promotion(
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
        // Isolated writers are stopped now that the link is broken; so is a writer a human
        // approved promoting past (it takes writes and could not be fenced): StopDBInstance
        // needs no parameter group, and two writers then last minutes, not until someone reads
        // the notification. An Aurora cluster in a global database cannot be stopped.
        let approved = ctx.approval.is_some();
        let isolated: Vec<usize> = (0..states.len())
            .filter(|&i| match &states[i] {
                OldWriter::Isolated { .. } => true,
                OldWriter::Writable { .. } => approved && !rds::is_cluster(&promoted[i].1),
                _ => false,
            })
            .collect();
        if !isolated.is_empty() {
            for &i in &isolated {
                let (database, source) = &promoted[i];
                let rds = rds::in_region(&self.rds, &rds::writer_region(ctx, source));
                actions.push(stop_old_writer(&rds, database, source, states[i].clone()).await);
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
}
