//! Split-brain guard: before a replica is promoted in a failover, the old writer is made
//! read-only where its region still answers, and afterwards exactly one writer may remain.
//!
//! RDS cannot stop an instance that has a read replica, so the fence is the engine's read-only
//! parameter in the writer's own parameter group, applied immediately (MySQL and MariaDB
//! `read_only`, PostgreSQL `default_transaction_read_only`). Where that cannot be set (a
//! `default.*` group, another engine) and the plan names an isolation security group, the writer
//! is moved onto that group, which admits nothing, and stopped once the promotion has broken
//! the replication link. An Aurora writer (a cluster ARN) has no parameter-group fence: it is
//! fenced on the network the same way, and not stopped, as a member of a global database
//! cannot be. A writer that answers and cannot be fenced is never promoted over without a
//! human's approval.

use std::time::{Duration, Instant};

use aws_sdk_rds::types::{ApplyMethod, DbInstance, Parameter, VpcSecurityGroupMembership};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rebound_shared::context::{Action, ActionStatus, Mode, RecoveryContext};
use rebound_shared::error::AwsError;
use rebound_shared::step::elapsed_ms;
use serde_json::{json, Value};

use crate::reads;

/// How long the old writer's region gets to answer: it may be the region that is down.
const REACH_TIMEOUT: Duration = Duration::from_secs(15);

/// What the old writer is now.
#[derive(Debug, Clone, PartialEq)]
pub enum OldWriter {
    /// Not there any more: nothing to fence.
    Missing,
    /// Stopped, stopping or being deleted: accepts no writes.
    Stopped { status: String },
    /// Its parameter group holds the engine's read-only setting.
    ReadOnly { group: String, parameter: String },
    /// On the plan's isolation security group only: no client reaches it.
    Isolated { security_group: String },
    /// Accepts writes. `fence` says how it can be made read-only, or why it cannot.
    Writable { fence: Result<Fence, String> },
    /// Its region did not answer.
    Unreachable { reason: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fence {
    pub group: String,
    pub parameter: &'static str,
    pub value: &'static str,
}

impl OldWriter {
    pub fn accepts_writes(&self) -> bool {
        matches!(self, OldWriter::Writable { .. })
    }

    pub fn describe(&self) -> String {
        match self {
            OldWriter::Missing => "not found".into(),
            OldWriter::Stopped { status } => format!("'{status}'"),
            OldWriter::ReadOnly { group, parameter } => format!("read-only ({parameter} in {group})"),
            OldWriter::Isolated { security_group } => format!("isolated (only in {security_group})"),
            OldWriter::Writable { .. } => "writable".into(),
            OldWriter::Unreachable { reason } => format!("unreachable ({reason})"),
        }
    }

    fn to_json(&self) -> Value {
        json!({ "state": self.describe(), "acceptsWrites": self.accepts_writes() })
    }
}

/// `arn:aws:rds:REGION:ACCOUNT:db:NAME` (or `...:cluster:NAME`) or a bare identifier → NAME.
pub fn instance_name(source: &str) -> &str {
    match source.split(':').collect::<Vec<_>>()[..] {
        ["arn", _, "rds", _, _, "db" | "cluster", name] => name,
        _ => source,
    }
}

/// Whether the old writer is an Aurora cluster (`arn:aws:rds:REGION:ACCOUNT:cluster:NAME`).
pub fn is_cluster(source: &str) -> bool {
    matches!(
        source.split(':').collect::<Vec<_>>()[..],
        ["arn", _, "rds", _, _, "cluster", _]
    )
}

/// The region of a promoted replica's source: the ARN's, or else the side being left (the
/// primary in a failover, the recovery region in a failback).
pub fn writer_region(ctx: &RecoveryContext, source: &str) -> String {
    match source.split(':').collect::<Vec<_>>()[..] {
        ["arn", _, "rds", region, ..] if !region.is_empty() => region.to_string(),
        _ if ctx.mode == Mode::Failback => ctx.plan.recovery_region.clone(),
        _ => ctx.plan.primary_region.clone(),
    }
}

fn read_only_parameter(engine: &str) -> Option<(&'static str, &'static str)> {
    let engine = engine.to_ascii_lowercase();
    if engine.contains("mysql") || engine.contains("mariadb") {
        Some(("read_only", "1"))
    } else if engine.contains("postgres") {
        Some(("default_transaction_read_only", "on"))
    } else {
        None
    }
}

/// Reads the old writer through `rds` (a client of its region), within the reach timeout.
/// `isolation` is the plan's isolation security group, if it names one.
pub async fn old_writer(rds: &aws_sdk_rds::Client, source: &str, isolation: Option<&str>) -> OldWriter {
    old_writers(rds, &[(source, isolation)])
        .await
        .pop()
        .unwrap_or(OldWriter::Unreachable {
            reason: "not read".into(),
        })
}

/// Reads old writers of one region at once, within the reach timeout: their instances in
/// batches, each parameter group once. One answer per `(source, isolation)`, in order; if the
/// region does not answer, each is `Unreachable`.
pub async fn old_writers(rds: &aws_sdk_rds::Client, sources: &[(&str, Option<&str>)]) -> Vec<OldWriter> {
    let read = async {
        let names: Vec<&str> = sources
            .iter()
            .filter(|(s, _)| !is_cluster(s))
            .map(|(s, _)| instance_name(s))
            .collect();
        let instances = if names.is_empty() {
            Default::default()
        } else {
            reads::instances(rds, &names).await?
        };
        let mut assessed = Vec::with_capacity(sources.len());
        for (source, isolation) in sources {
            assessed.push(if is_cluster(source) {
                Assessed::Known(read_cluster(rds, instance_name(source), *isolation).await?)
            } else {
                assess(instances.get(source), *isolation)
            });
        }
        let groups = assessed
            .iter()
            .filter_map(|a| match a {
                Assessed::Group(f) => Some((f.group.clone(), f.parameter, f.value)),
                Assessed::Known(_) => None,
            })
            .collect();
        let read_only = reads::read_only_groups(rds, groups).await?;
        Ok::<_, AwsError>(
            assessed
                .into_iter()
                .map(|a| match a {
                    Assessed::Known(state) => state,
                    Assessed::Group(fence) if read_only.get(&fence.group) == Some(&true) => OldWriter::ReadOnly {
                        group: fence.group,
                        parameter: fence.parameter.into(),
                    },
                    Assessed::Group(fence) => OldWriter::Writable { fence: Ok(fence) },
                })
                .collect(),
        )
    };
    let reason = match tokio::time::timeout(REACH_TIMEOUT, read).await {
        Ok(Ok(states)) => return states,
        Ok(Err(e)) => e.to_string(),
        Err(_) => format!("no answer in {} s", REACH_TIMEOUT.as_secs()),
    };
    sources
        .iter()
        .map(|_| OldWriter::Unreachable { reason: reason.clone() })
        .collect()
}

/// A writer that takes no writes whatever its engine: stopped (or going), or on the isolation
/// security group alone.
fn out_of_reach(status: &str, groups: &[VpcSecurityGroupMembership], isolation: Option<&str>) -> Option<OldWriter> {
    if ["stopped", "stopping", "deleting"].contains(&status) {
        return Some(OldWriter::Stopped { status: status.into() });
    }
    let sg = isolation?;
    let groups: Vec<&str> = groups.iter().filter_map(|g| g.vpc_security_group_id()).collect();
    (groups == [sg]).then(|| OldWriter::Isolated {
        security_group: sg.into(),
    })
}

/// An Aurora cluster: writable unless stopped or isolated; its fence is the network one.
async fn read_cluster(rds: &aws_sdk_rds::Client, name: &str, isolation: Option<&str>) -> Result<OldWriter, AwsError> {
    let out = match rds.describe_db_clusters().db_cluster_identifier(name).send().await {
        Ok(out) => out,
        Err(e) if matches!(e.code(), Some("DBClusterNotFoundFault" | "DBClusterNotFound")) => {
            return Ok(OldWriter::Missing)
        }
        Err(e) => return Err(AwsError::from_sdk("rds", "DescribeDBClusters", &e)),
    };
    let Some(cluster) = out.db_clusters().first() else {
        return Ok(OldWriter::Missing);
    };
    let status = cluster.status().unwrap_or("unknown");
    if let Some(state) = out_of_reach(status, cluster.vpc_security_groups(), isolation) {
        return Ok(state);
    }
    Ok(OldWriter::Writable {
        fence: Err("an Aurora writer cannot be made read-only through its parameter group".into()),
    })
}

/// What an instance's description says of it as a writer: known, or the parameter group whose
/// read-only setting decides.
#[derive(Debug, Clone, PartialEq)]
pub enum Assessed {
    Known(OldWriter),
    Group(Fence),
}

/// Decides from the instance as read (None: it does not exist); no call.
pub fn assess(instance: Option<&DbInstance>, isolation: Option<&str>) -> Assessed {
    let Some(instance) = instance else {
        return Assessed::Known(OldWriter::Missing);
    };
    let status = instance.db_instance_status().unwrap_or("unknown");
    if let Some(state) = out_of_reach(status, instance.vpc_security_groups(), isolation) {
        return Assessed::Known(state);
    }
    let engine = instance.engine().unwrap_or_default();
    let Some((parameter, value)) = read_only_parameter(engine) else {
        return Assessed::Known(OldWriter::Writable {
            fence: Err(format!("engine '{engine}' has no read-only parameter to fence with")),
        });
    };
    let group = instance
        .db_parameter_groups()
        .first()
        .and_then(|g| g.db_parameter_group_name())
        .unwrap_or_default()
        .to_string();
    if group.is_empty() || group.starts_with("default.") {
        return Assessed::Known(OldWriter::Writable {
            fence: Err(format!(
                "it uses the default parameter group '{group}', which cannot be changed; give it its own parameter group"
            )),
        });
    }
    Assessed::Group(Fence {
        group,
        parameter,
        value,
    })
}

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
            action.detail = Some(format!(
                "ModifyDBParameterGroup {} {}={} (immediate)",
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
    let call = async {
        if cluster {
            rds.modify_db_cluster()
                .db_cluster_identifier(name)
                .vpc_security_group_ids(sg)
                .apply_immediately(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("rds", operation, &e))
        } else {
            rds.modify_db_instance()
                .db_instance_identifier(name)
                .vpc_security_group_ids(sg)
                .apply_immediately(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| AwsError::from_sdk("rds", operation, &e))
        }
    };
    action.status = match tokio::time::timeout(REACH_TIMEOUT, call).await {
        Ok(Ok(())) => ActionStatus::Done,
        Ok(Err(e)) => {
            action.detail = Some(format!("could not fence: {e}; the old writer still accepts writes"));
            ActionStatus::Failed
        }
        Err(_) => {
            action.detail = Some(format!(
                "could not fence: {operation}: no answer in {} s",
                REACH_TIMEOUT.as_secs()
            ));
            ActionStatus::Failed
        }
    };
    action
}

/// After the promotion broke the replication link: stops an isolated old writer, so it takes no
/// writes even if its security group is changed back. Best effort, like every call into the
/// region being left.
pub async fn stop_old_writer(rds: &aws_sdk_rds::Client, database: &str, source: &str) -> Action {
    let started = Instant::now();
    let name = instance_name(source);
    let resource = format!("{source} (old writer of {database})");
    let state = old_writer(rds, source, None).await;
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
            let call = rds.stop_db_instance().db_instance_identifier(name).send();
            a.status = match tokio::time::timeout(REACH_TIMEOUT, call).await {
                Ok(Ok(_)) => ActionStatus::Done,
                Ok(Err(e)) => {
                    a.detail = Some(AwsError::from_sdk("rds", "StopDBInstance", &e).to_string());
                    ActionStatus::Failed
                }
                Err(_) => {
                    a.detail = Some(format!("StopDBInstance: no answer in {} s", REACH_TIMEOUT.as_secs()));
                    ActionStatus::Failed
                }
            };
            a
        }
    };
    action.duration_ms = elapsed_ms(started);
    action
}

/// Whether a fence action left a writer that answers and takes writes: the split-brain risk a
/// promotion must not run into without approval.
pub fn leaves_a_writer(action: &Action) -> bool {
    action.operation == "FenceOldWriter"
        && action.status == ActionStatus::Failed
        && action.before["acceptsWrites"] == true
}

/// A fence that could not be set, in a dry run too: people must hear of it.
fn cannot_fence(resource: &str, state: &OldWriter, why: String) -> Action {
    let mut action = Action::change(resource, "FenceOldWriter", state.to_json(), Value::Null, false);
    action.status = ActionStatus::Failed;
    action.detail = Some(format!("could not fence: {why}"));
    action
}

async fn set_read_only(rds: &aws_sdk_rds::Client, fence: &Fence) -> Result<(), String> {
    let parameter = Parameter::builder()
        .parameter_name(fence.parameter)
        .parameter_value(fence.value)
        .apply_method(ApplyMethod::Immediate)
        .build();
    let call = rds
        .modify_db_parameter_group()
        .db_parameter_group_name(&fence.group)
        .parameters(parameter)
        .send();
    match tokio::time::timeout(REACH_TIMEOUT, call).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(AwsError::from_sdk("rds", "ModifyDBParameterGroup", &e).to_string()),
        Err(_) => Err(format!(
            "ModifyDBParameterGroup: no answer in {} s",
            REACH_TIMEOUT.as_secs()
        )),
    }
}
