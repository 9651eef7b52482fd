//! A validation round's database checks: every database available and writable, and exactly one
//! writer per promoted replica. Each side is read once a round (instances in batches, each
//! parameter group once), however many databases the plan has.

use aws_sdk_rds::types::DbInstance;
use futures_util::{stream, StreamExt};
use rebound_shared::context::{Check, RecoveryContext};
use rebound_shared::plan::Database;
use rebound_shared::rds::writers::{old_writer, writer_states};
use std::collections::BTreeMap;

use rebound_shared::accounts::PerAccount;
use rebound_shared::rds::{self, instance_name, writer_region, GlobalClient, OldWriter};

use crate::accounts::DatabaseReads;
use crate::{check, RecoveryValidator, READ_CONCURRENCY};

impl RecoveryValidator {
    /// `reads` are each account's clients on the side the databases were made writable in
    /// (the recovery region, or the primary after a failback); `dbs` are the databases as they
    /// act there. A database in another account is read as its role.
    pub(crate) async fn database_checks(
        &self,
        ctx: &RecoveryContext,
        reads: &Result<PerAccount<DatabaseReads>, String>,
        dbs: &[Database],
    ) -> Vec<Check> {
        let reads = match reads {
            Ok(reads) => reads,
            Err(e) => {
                return dbs
                    .iter()
                    .map(|db| check(format!("database {}", db.identifier()), false, e.clone()))
                    .collect()
            }
        };
        let mut by_account: BTreeMap<Option<&str>, Vec<Database>> = BTreeMap::new();
        for db in dbs {
            by_account.entry(db.account()).or_default().push(db.clone());
        }
        let mut checks = Vec::new();
        for (account, dbs) in by_account {
            // Boxed: one account's reads at a time, off the caller's stack.
            checks.extend(Box::pin(account_checks(ctx, reads.of(account), &dbs)).await);
        }
        checks
    }
}

/// The checks of one account's databases, through its `reads`.
async fn account_checks(ctx: &RecoveryContext, reads: &DatabaseReads, dbs: &[Database]) -> Vec<Check> {
    let (acting, globals) = (&reads.acting, &reads.globals);
    // Futures collected first: a closure inside the stream would make it !Send.
    let globals: Vec<_> = dbs
        .iter()
        .filter_map(|db| match db {
            Database::AuroraGlobal {
                identifier,
                target_cluster_arn,
                engine,
                ..
            } => Some(global_check(
                (acting, globals.client(acting, *engine)),
                identifier,
                target_cluster_arn,
            )),
            _ => None,
        })
        .collect();
    let ids: Vec<&str> = dbs
        .iter()
        .filter(|db| !matches!(db, Database::AuroraGlobal { .. }))
        .map(Database::identifier)
        .collect();
    let replicas: Vec<(&str, &str, Option<&str>)> = dbs
        .iter()
        .filter_map(|db| match db {
            Database::ReadReplica {
                identifier,
                source_identifier,
                isolation_security_group_id,
                ..
            } => Some((
                identifier.as_str(),
                source_identifier.as_str(),
                isolation_security_group_id.as_deref(),
            )),
            _ => None,
        })
        .collect();
    let sources: Vec<(&str, Option<&str>)> = replicas.iter().map(|(_, s, i)| (*s, *i)).collect();
    let (globals, writable, old) = futures_util::join!(
        stream::iter(globals).buffered(READ_CONCURRENCY).collect::<Vec<_>>(),
        writable(acting, &ids),
        rds::old_writers(&reads.home, ctx, &sources)
    );
    let mut checks = globals;
    match &writable {
        Ok(states) => checks.extend(ids.iter().zip(states).map(|(id, state)| database_check(id, state))),
        Err(e) => checks.extend(ids.iter().map(|id| check(format!("database {id}"), false, e.clone()))),
    }
    for ((identifier, source, _), old) in replicas.iter().zip(old) {
        let promoted = match &writable {
            Ok(states) => ids
                .iter()
                .position(|id| id == identifier)
                .and_then(|i| states.get(i))
                .is_some_and(|s| s.promoted),
            Err(e) => {
                checks.push(check(format!("one writer: {identifier}"), false, e.clone()));
                continue;
            }
        };
        checks.push(one_writer(ctx, identifier, source, promoted, old));
    }
    checks
}

/// Each instance as the acting side holds it: one batched read, then the parameter groups of
/// the writers among them (a group left read-only by a fence of an earlier writer that shared
/// it would make the promoted writer refuse every write).
async fn writable(acting: &aws_sdk_rds::Client, ids: &[&str]) -> Result<Vec<Writable>, String> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sources: Vec<(&str, Option<&str>)> = ids.iter().map(|id| (*id, None)).collect();
    let (instances, states) = writer_states(acting, &sources, is_writer)
        .await
        .map_err(|e| e.to_string())?;
    Ok(ids
        .iter()
        .zip(states)
        .map(|(id, state)| {
            let instance = instances.get(id);
            Writable {
                found: instance.is_some(),
                status: instance
                    .and_then(|i| i.db_instance_status())
                    .unwrap_or("unknown")
                    .to_string(),
                replica_of: instance
                    .and_then(|i| i.read_replica_source_db_instance_identifier())
                    .map(str::to_string),
                promoted: instance.is_some_and(|i| i.read_replica_source_db_instance_identifier().is_none()),
                read_only: match state {
                    Some(OldWriter::ReadOnly { group, parameter }) => Some((group, parameter)),
                    _ => None,
                },
            }
        })
        .collect())
}

/// A writer that serves: no longer a replica, and available.
fn is_writer(instance: &DbInstance) -> bool {
    instance.read_replica_source_db_instance_identifier().is_none()
        && instance.db_instance_status() == Some("available")
}

/// One instance on the acting side, as a round read it.
struct Writable {
    found: bool,
    status: String,
    replica_of: Option<String>,
    /// No longer a replica: a writer.
    promoted: bool,
    /// Its parameter group holds the engine's read-only setting: (group, parameter).
    read_only: Option<(String, String)>,
}

fn database_check(id: &str, db: &Writable) -> Check {
    let label = format!("database {id}");
    let status = &db.status;
    match (&db.replica_of, &db.read_only) {
        _ if !db.found => check(label, false, "not found".into()),
        (Some(source), _) => check(label, false, format!("{status}, still a replica of {source}")),
        (None, _) if status != "available" => check(label, false, format!("{status}, expected available")),
        (None, Some((group, parameter))) => check(
            label,
            false,
            format!("available but read-only: {parameter} is set in its parameter group {group}"),
        ),
        (None, None) => check(label, true, "available and writable".into()),
    }
}

/// The global database's writer is the target cluster (as its engine's API says), and it takes
/// writes: its cluster is read through RDS's DescribeDBClusters, the same operation on the same
/// endpoint for the three engines. A cluster whose own DB cluster parameter group holds the engine's read-only setting (a fence left from an
/// earlier failover) would refuse every write.
async fn global_check((acting, engine): (&aws_sdk_rds::Client, GlobalClient<'_>), id: &str, target: &str) -> Check {
    let label = format!("database {id}");
    let name = instance_name(target);
    match engine.read(id).await {
        Ok(Some(global)) if global.writer() == Some(target) => match old_writer(acting, target, None).await {
            OldWriter::Writable { .. } => check(label, true, format!("{name} is the writer")),
            OldWriter::ReadOnly { group, parameter } => check(
                label,
                false,
                format!(
                    "{name} is the writer but read-only: {parameter} is set in its DB cluster parameter group {group}"
                ),
            ),
            OldWriter::Unreachable { reason } => Check::unknown(
                label,
                format!("{name} is the writer; whether it takes writes could not be read ({reason})"),
            ),
            other => check(label, false, format!("{name} is the writer but {}", other.describe())),
        },
        Ok(Some(_)) => check(label, false, format!("{target} is not the writer")),
        Ok(None) => check(label.clone(), false, format!("{label}: global cluster not found")),
        Err(e) => check(label.clone(), false, format!("{label}: {e}")),
    }
}

/// Split-brain check: the promoted database is the only writer. The old one counts unless it is
/// gone, stopped, or fenced; one whose region did not answer is unknown (a regional outage looks
/// like that), never a pass.
fn one_writer(ctx: &RecoveryContext, identifier: &str, source: &str, promoted: bool, old: OldWriter) -> Check {
    let label = format!("one writer: {identifier}");
    let region = writer_region(ctx, source);
    let name = instance_name(source);
    match old {
        // Until the promotion the old writer is the only one; the database check says why.
        OldWriter::Writable { .. } if !promoted => {
            check(label, true, format!("{name} in {region} is still the writer"))
        }
        OldWriter::Writable { .. } => check(
            label,
            false,
            format!("SPLIT BRAIN: {name} in {region} still accepts writes besides {identifier}; fence it now"),
        ),
        OldWriter::Unreachable { reason } => Check::unknown(
            label,
            format!("UNKNOWN: {name} in {region} could not be read ({reason}); fence it before its region returns"),
        ),
        other => check(label, true, format!("{name} in {region} is {}", other.describe())),
    }
}
