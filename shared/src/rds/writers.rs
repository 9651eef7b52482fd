//! Writers as they are: whether an old writer still takes writes, and how it can be fenced
//! (the engine's read-only parameter in its own parameter group), read in batches for
//! database-failover's split-brain guard and the validator's one-writer and writable checks.

use std::time::Duration;

use aws_sdk_rds::types::{DbInstance, VpcSecurityGroupMembership};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rebound_core::context::{Mode, RecoveryContext};
use serde_json::{json, Value};

use super::reads::{self, Instances};
use crate::error::AwsError;

/// How long the old writer's region gets to answer: it may be the region that is down.
pub const REACH_TIMEOUT: Duration = Duration::from_secs(15);

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
    /// The group is an Aurora cluster's DB cluster parameter group.
    pub cluster: bool,
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

    pub fn to_json(&self) -> Value {
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

/// Why a call into the old writer's region did not succeed within [`REACH_TIMEOUT`].
#[derive(Debug, Clone, PartialEq)]
pub enum Unreached {
    /// The region kept answering with throttling past the budget: it is up, and its writer may
    /// be taking writes.
    Busy(AwsError),
    /// No answer (the region may be down), or a refusal that asking again cannot change.
    Failed(String),
}

impl std::fmt::Display for Unreached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unreached::Busy(e) => write!(f, "{e}"),
            Unreached::Failed(reason) => write!(f, "{reason}"),
        }
    }
}

/// First wait before asking a busy region again; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Makes `call` into the old writer's region within [`REACH_TIMEOUT`]. A throttled answer is
/// asked again, with backoff, while the budget lasts: a region that throttles is not a region
/// that is gone, and its writer must not be taken for unreachable. (A server error or no answer
/// is not asked again: the SDK's own attempts were its chance.)
pub async fn within_reach<T, F, Fut>(mut call: F) -> Result<T, Unreached>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, AwsError>>,
{
    let deadline = tokio::time::Instant::now() + REACH_TIMEOUT;
    let mut backoff = FIRST_BACKOFF;
    // A region that answered with throttling and is still being asked when the budget runs out
    // answered: it is busy, not gone (a slow answer under load must not turn it into "no answer").
    let mut throttled: Option<AwsError> = None;
    loop {
        let error = match tokio::time::timeout_at(deadline, call()).await {
            Ok(Ok(done)) => return Ok(done),
            Err(_) => {
                return Err(match throttled {
                    Some(e) => Unreached::Busy(e),
                    None => Unreached::Failed(format!("no answer in {} s", REACH_TIMEOUT.as_secs())),
                })
            }
            Ok(Err(e)) => e,
        };
        if !error.is_throttling() {
            return Err(Unreached::Failed(error.to_string()));
        }
        if tokio::time::Instant::now() + backoff >= deadline {
            return Err(Unreached::Busy(error));
        }
        tracing::warn!(error = %error, "the old writer's region is busy; asking again");
        throttled = Some(error);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Reads old writers of one region at once, within the reach timeout: their instances in
/// batches, each parameter group once. One answer per `(source, isolation)`, in order. If the
/// region does not answer, each is `Unreachable`; if it answers but is too busy to be read (it
/// throttles past the budget), each is `Writable` with no known fence: it may be taking writes.
pub async fn old_writers(rds: &aws_sdk_rds::Client, sources: &[(&str, Option<&str>)]) -> Vec<OldWriter> {
    let state = match within_reach(|| writer_states(rds, sources, |_| true)).await {
        Ok((_, states)) => return states.into_iter().map(|s| s.unwrap_or(OldWriter::Missing)).collect(),
        Err(Unreached::Failed(reason)) => OldWriter::Unreachable { reason },
        Err(Unreached::Busy(e)) => OldWriter::Writable {
            fence: Err(format!(
                "its region answers but refused to describe it for {} s ({e}): it may still take writes",
                REACH_TIMEOUT.as_secs()
            )),
        },
    };
    sources.iter().map(|_| state.clone()).collect()
}

/// The named instances (in batches) and, for each source `judge` accepts (a cluster always;
/// an instance that does not exist is `Missing`), what it is as a writer: each parameter group
/// a fence would use read once, however many writers share it. None where `judge` declined.
pub async fn writer_states(
    rds: &aws_sdk_rds::Client,
    sources: &[(&str, Option<&str>)],
    judge: fn(&DbInstance) -> bool,
) -> Result<(Instances, Vec<Option<OldWriter>>), AwsError> {
    let names: Vec<&str> = sources
        .iter()
        .filter(|(s, _)| !is_cluster(s))
        .map(|(s, _)| instance_name(s))
        .collect();
    let instances = if names.is_empty() {
        Instances::default()
    } else {
        reads::instances(rds, &names).await?
    };
    let mut assessed = Vec::with_capacity(sources.len());
    for (source, isolation) in sources {
        assessed.push(if is_cluster(source) {
            Some(Assessed::Known(
                read_cluster(rds, instance_name(source), *isolation).await?,
            ))
        } else {
            let instance = instances.get(source);
            instance.is_none_or(judge).then(|| assess(instance, *isolation))
        });
    }
    let groups = assessed
        .iter()
        .filter_map(|a| match a {
            Some(Assessed::Group(f)) => Some((f.group.clone(), f.parameter, f.value)),
            _ => None,
        })
        .collect();
    let read_only = reads::read_only_groups(rds, groups).await?;
    let states = assessed
        .into_iter()
        .map(|a| {
            a.map(|a| match a {
                Assessed::Known(state) => state,
                Assessed::Group(fence) if read_only.get(&fence.group) == Some(&true) => OldWriter::ReadOnly {
                    group: fence.group,
                    parameter: fence.parameter.into(),
                },
                Assessed::Group(fence) => OldWriter::Writable { fence: Ok(fence) },
            })
        })
        .collect();
    Ok((instances, states))
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

/// An Aurora cluster: writable unless stopped, isolated, or read-only through its own DB cluster
/// parameter group (the engine's read-only parameter set there); its fence is that parameter, or
/// else the network one. A DocumentDB or Neptune cluster is read (and isolated) through the same
/// RDS client: DescribeDBClusters and ModifyDBCluster are one request on one endpoint for the
/// three engines; neither engine has a read-only parameter, so only the network fences it.
async fn read_cluster(rds: &aws_sdk_rds::Client, name: &str, isolation: Option<&str>) -> Result<OldWriter, AwsError> {
    let out = match rds.describe_db_clusters().db_cluster_identifier(name).send().await {
        Ok(out) => out,
        Err(e) if matches!(e.code(), Some("DBClusterNotFoundFault" | "DBClusterNotFound")) => {
            return Ok(OldWriter::Missing)
        }
        Err(e) => return Err(crate::error::from_sdk("rds", "DescribeDBClusters", &e)),
    };
    let Some(cluster) = out.db_clusters().first() else {
        return Ok(OldWriter::Missing);
    };
    let status = cluster.status().unwrap_or("unknown");
    if let Some(state) = out_of_reach(status, cluster.vpc_security_groups(), isolation) {
        return Ok(state);
    }
    let engine = cluster.engine().unwrap_or_default();
    let Some((parameter, value)) = read_only_parameter(engine) else {
        return Ok(OldWriter::Writable {
            fence: Err(format!("engine '{engine}' has no read-only parameter to fence with")),
        });
    };
    let group = cluster.db_cluster_parameter_group().unwrap_or_default().to_string();
    if group.is_empty() || group.starts_with("default.") {
        return Ok(OldWriter::Writable {
            fence: Err(format!(
                "it uses the default DB cluster parameter group '{group}', which cannot be changed; give the Aurora cluster its own"
            )),
        });
    }
    let fence = Fence {
        group,
        parameter,
        value,
        cluster: true,
    };
    Ok(
        if reads::cluster_group_read_only(rds, &fence.group, parameter, value).await? {
            OldWriter::ReadOnly {
                group: fence.group,
                parameter: parameter.into(),
            }
        } else {
            OldWriter::Writable { fence: Ok(fence) }
        },
    )
}

/// What an instance's description says of it as a writer: known, or the parameter group whose
/// read-only setting decides.
#[derive(Debug, Clone, PartialEq)]
enum Assessed {
    Known(OldWriter),
    Group(Fence),
}

/// Decides from the instance as read (None: it does not exist); no call.
fn assess(instance: Option<&DbInstance>, isolation: Option<&str>) -> Assessed {
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
        cluster: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn throttled() -> AwsError {
        AwsError {
            service: "rds",
            operation: "DescribeDBInstances",
            code: "Throttling".into(),
            message: "Rate exceeded".into(),
            status: Some(400),
            kind: ErrorKind::Transient,
        }
    }

    /// A region that throttled and then answers too slowly for the budget answered: busy, not
    /// gone; one that never answered is unreached.
    #[tokio::test(start_paused = true)]
    async fn a_region_that_throttled_before_the_budget_ran_out_is_busy_not_gone() {
        let mut calls = 0;
        let busy = within_reach(|| {
            calls += 1;
            let first = calls == 1;
            async move {
                if first {
                    Err(throttled())
                } else {
                    std::future::pending::<Result<(), AwsError>>().await
                }
            }
        })
        .await;
        assert!(matches!(busy, Err(Unreached::Busy(_))), "{busy:?}");
        let gone = within_reach(std::future::pending::<Result<(), AwsError>>).await;
        assert!(
            matches!(gone, Err(Unreached::Failed(ref r)) if r.starts_with("no answer")),
            "{gone:?}"
        );
    }
}
