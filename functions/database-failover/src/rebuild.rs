//! Reprotect's reads and changes, decided in `reprotect.rs`. The primary region is read within
//! the old writers' reach timeout: it may not be back, and then nothing is changed anywhere.

use std::collections::HashMap;
use std::time::Instant;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{DateTime, Utc};
use rebound_shared::context::{Action, ActionStatus, RecoveryContext, Step, StepResult};
use rebound_shared::plan::{Database, GlobalEngine, Replica};
use rebound_shared::rds::{self, reads, writers::within_reach};
use rebound_shared::step::{within_deadline, StepFault};

mod create;

use crate::decide::precondition;
use crate::observed::Instance;
use crate::reprotect::{self, Build, GlobalSides, ADD_TABLE_REPLICA, CREATE_REPLICA, GLOBAL_MEMBER};
use crate::{for_failback, DatabaseError, DatabaseFailover};

impl DatabaseFailover {
    /// Reads everything, decides every database and table (refusing before any change), then
    /// creates what is missing; the state machine polls [`DatabaseFailover::reprotect_status`].
    pub(crate) async fn reprotect(
        &self,
        ctx: &RecoveryContext,
        now: DateTime<Utc>,
    ) -> Result<StepResult, DatabaseError> {
        let invocation = Instant::now();
        let mut result = StepResult::begin(Step::DatabaseFailover, ctx, now);
        // A database that cannot fail back cannot be reprotected either: refused the same way.
        let back = for_failback(&ctx.plan)?;
        let (primary, recovery) = (ctx.plan.primary_region.as_str(), ctx.plan.recovery_region.as_str());
        let pairs: Vec<(&Database, &Database)> = ctx.plan.databases.iter().zip(&back.databases).collect();
        // The read replicas' new writers (recovery) and failback names (primary), read at once.
        let replicas: Vec<(&str, &str)> = pairs
            .iter()
            .filter(|(db, _)| matches!(db, Database::ReadReplica { .. }))
            .map(|(db, back)| (db.identifier(), back.identifier()))
            .collect();
        let writers: Vec<&str> = replicas.iter().map(|(writer, _)| *writer).collect();
        let failbacks: Vec<&str> = replicas.iter().map(|(_, failback)| *failback).collect();
        let writers = self.instances(&writers).await?;
        let found = self.in_primary_region(primary, &failbacks).await;
        let mut decided: Vec<(Action, Option<Build>)> = Vec::new();
        for (db, back) in pairs {
            match (db, back) {
                (
                    Database::ReadReplica {
                        identifier, reprotect, ..
                    },
                    Database::ReadReplica {
                        identifier: failback, ..
                    },
                ) => {
                    let there = found
                        .as_ref()
                        .map(|f| f.get(&reads::key(failback)).cloned())
                        .map_err(Clone::clone);
                    let (action, create) = reprotect::replica(
                        identifier,
                        failback,
                        &reprotect.clone().unwrap_or_default(),
                        (primary, recovery),
                        writers.get(&reads::key(identifier)),
                        &there,
                    )?;
                    decided.push((action, create.map(Build::Replica)));
                }
                (
                    Database::AuroraGlobal {
                        identifier,
                        engine: other @ (GlobalEngine::Docdb | GlobalEngine::Neptune),
                        ..
                    },
                    _,
                ) => {
                    return Err(precondition(
                        identifier,
                        format!(
                            "rebound reprotect rebuilds Aurora secondary clusters only; add the primary region's {} cluster to the global cluster by hand",
                            other.service()
                        ),
                    ))
                }
                (
                    Database::AuroraGlobal {
                        identifier,
                        target_cluster_arn: writer,
                        reprotect,
                        ..
                    },
                    Database::AuroraGlobal {
                        target_cluster_arn: failback,
                        ..
                    },
                ) => {
                    let global = rds::global_cluster(&self.rds, identifier)
                        .await
                        .map_err(|source| StepFault::Aws {
                            resource: format!("database {identifier}"),
                            source,
                        })?;
                    let member = global
                        .as_ref()
                        .is_some_and(|g| g.members.iter().any(|(arn, _)| arn == failback));
                    // Only a cluster to create needs the primary's answer and the writer's class.
                    let (failback_status, writer_class) = if member {
                        (Ok(None), None)
                    } else {
                        (
                            self.cluster_in_primary(primary, rds::instance_name(failback)).await,
                            self.writer_class(writer).await,
                        )
                    };
                    let seen = GlobalSides {
                        global: global.as_ref(),
                        failback_status,
                        writer_class,
                    };
                    let settings = reprotect.clone().unwrap_or_default();
                    let (action, create) = reprotect::global_member(identifier, failback, primary, seen, &settings)?;
                    decided.push((action, create.map(Build::Cluster)));
                }
                _ => {}
            }
        }
        let names: Vec<&str> = ctx.plan.global_tables.iter().map(|t| t.table_name.as_str()).collect();
        let seen = self.tables_in_recovery(&names).await?;
        let mut tables = Vec::new();
        for name in &names {
            tables.push(reprotect::table(
                name,
                (primary, recovery),
                seen.get(*name).and_then(Option::as_ref),
            )?);
        }
        // Every decision stands: now the changes.
        let dry_run = ctx.dry_run;
        let mut actions = Vec::new();
        for (mut action, create) in decided {
            match (create, dry_run) {
                (Some(_), true) => action.status = ActionStatus::Planned,
                (Some(Build::Replica(create)), false) => {
                    self.create_replica(&create, &ctx.recovery_id, &mut action).await?
                }
                (Some(Build::Cluster(create)), false) => {
                    self.create_cluster(&create, &ctx.recovery_id, &mut action).await?
                }
                (None, _) => {}
            }
            actions.push(action);
        }
        for ((mut action, add), name) in tables.into_iter().zip(&names) {
            if add {
                if dry_run {
                    action.status = ActionStatus::Planned;
                } else {
                    self.tables
                        .add_replica(name, primary)
                        .await
                        .map_err(|source| StepFault::Aws {
                            resource: format!("table {name}"),
                            source,
                        })?;
                }
            }
            actions.push(action);
        }
        result.actions = actions;
        Ok(result.settle(invocation, now))
    }

    /// Polls what `reprotect` started until each replica is available and replicating from its
    /// writer, each table's new replica ACTIVE, each Aurora member settled.
    pub(crate) async fn reprotect_status(
        &self,
        ctx: &RecoveryContext,
        now: DateTime<Utc>,
    ) -> Result<StepResult, DatabaseError> {
        let invocation = Instant::now();
        let mut result = ctx.results.database.clone().ok_or(StepFault::NotStarted("database"))?;
        let primary = ctx.plan.primary_region.as_str();
        let pending = |op: &str| {
            result
                .pending()
                .filter(|a| a.operation == op)
                .map(|a| failback_name(&a.resource).to_string())
                .collect::<Vec<String>>()
        };
        let replicas = pending(CREATE_REPLICA);
        let ids: Vec<&str> = replicas.iter().map(String::as_str).collect();
        let found = if ids.is_empty() {
            Ok(HashMap::new())
        } else {
            self.in_primary_region(primary, &ids).await
        };
        let tables = pending(ADD_TABLE_REPLICA);
        let names: Vec<&str> = tables.iter().map(|t| t.trim_start_matches("dynamodb:")).collect();
        let seen = self.tables_in_recovery(&names).await?;
        for action in result.actions.iter_mut().filter(|a| a.status == ActionStatus::Pending) {
            let name = failback_name(&action.resource).to_string();
            match action.operation.as_str() {
                CREATE_REPLICA => {
                    let there = match &found {
                        Ok(found) => found.get(&reads::key(&name)),
                        Err(why) => {
                            action.detail = Some(format!("waiting: {primary} did not answer ({why})"));
                            continue;
                        }
                    };
                    match there {
                        // It protects once it replicates: RDS publishes its ReplicaLag then.
                        Some(i) if i.status == "available" && i.replica_of.is_some() => {
                            match self.replica_lag(&name, now).await {
                                Some(lag) => {
                                    action.status = ActionStatus::Done;
                                    action.after = i.state();
                                    action.after["replicaLagSeconds"] = serde_json::json!(lag);
                                }
                                None => action.detail = Some("waiting: available, no ReplicaLag reading yet".into()),
                            }
                        }
                        Some(i) if i.status.starts_with("incompatible") || i.status == "failed" => {
                            return Err(DatabaseError::Failed {
                                database: name,
                                reason: format!("the new replica is {}: see its events in {primary}", i.status),
                            });
                        }
                        Some(i) => action.detail = Some(format!("waiting: {}", i.status)),
                        None => action.detail = Some("waiting: not listed yet".into()),
                    }
                }
                ADD_TABLE_REPLICA => {
                    let table = name.trim_start_matches("dynamodb:");
                    let status = seen
                        .get(table)
                        .and_then(Option::as_ref)
                        .and_then(|r| r.peers.iter().find(|(region, _)| region == primary))
                        .map(|(_, status)| status.clone());
                    match status.as_deref() {
                        Some("ACTIVE") => {
                            action.status = ActionStatus::Done;
                            action.after = serde_json::json!({"replicaIn": primary, "status": "ACTIVE"});
                        }
                        Some(other) => action.detail = Some(format!("waiting: {other}")),
                        None => action.detail = Some("waiting: not listed yet".into()),
                    }
                }
                GLOBAL_MEMBER => {
                    let global = name.split(" member ").next().unwrap_or_default().to_string();
                    let failback = name.split(" member ").nth(1).unwrap_or_default();
                    let read = self.global_cluster(GlobalEngine::Aurora, &global).await?;
                    if reprotect::member_settled(&read, failback) {
                        action.status = ActionStatus::Done;
                        action.after = serde_json::json!({"member": true, "writer": read.writer()});
                    } else {
                        action.detail = Some(format!(
                            "waiting: {}",
                            if read.members.iter().any(|(arn, _)| arn == failback) {
                                "a member, the global database still changing"
                            } else {
                                "not a member yet"
                            }
                        ));
                    }
                }
                _ => {}
            }
        }
        let result = result.settle(invocation, now);
        Ok(within_deadline(result, ctx, now, "reprotect not finished", |a| {
            format!("{} ({})", a.resource, a.detail.as_deref().unwrap_or(""))
        })?)
    }

    /// Each global table as the recovery region holds it, with its replicas.
    async fn tables_in_recovery(&self, names: &[&str]) -> Result<HashMap<String, Option<Replica>>, DatabaseError> {
        let seen = self
            .tables
            .replicas(names, true)
            .await
            .map_err(|source| StepFault::Aws {
                resource: format!("tables {}", names.join(", ")),
                source,
            })?;
        Ok(seen)
    }

    /// The status of cluster `id` in the primary region (None: not there), within the reach
    /// timeout; why not, if the region did not answer.
    async fn cluster_in_primary(&self, primary: &str, id: &str) -> Result<Option<String>, String> {
        let rds = rds::in_region(&self.rds, primary);
        within_reach(|| async {
            match rds.describe_db_clusters().db_cluster_identifier(id).send().await {
                Ok(out) => Ok(out
                    .db_clusters()
                    .first()
                    .map(|c| c.status().unwrap_or("unknown").to_string())),
                Err(e) if e.code() == Some("DBClusterNotFoundFault") => Ok(None),
                Err(e) => Err(rebound_shared::error::from_sdk("rds", "DescribeDBClusters", &e)),
            }
        })
        .await
        .map_err(|e| e.to_string())
    }

    /// The instance class of the new writer cluster's writer instance (best effort).
    async fn writer_class(&self, cluster_arn: &str) -> Option<String> {
        let out = self
            .rds
            .describe_db_clusters()
            .db_cluster_identifier(cluster_arn)
            .send()
            .await
            .ok()?;
        let writer = out
            .db_clusters()
            .first()?
            .db_cluster_members()
            .iter()
            .find(|m| m.is_cluster_writer() == Some(true))?
            .db_instance_identifier()?
            .to_string();
        let found = reads::instances(&self.rds, &[&writer]).await.ok()?;
        found.get(&writer)?.db_instance_class().map(str::to_string)
    }

    /// A replica's newest `ReplicaLag` in the primary region, if it has one (best effort).
    async fn replica_lag(&self, id: &str, now: DateTime<Utc>) -> Option<f64> {
        let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
            self.primary_cloudwatch
                .config()
                .to_builder()
                .timeout_config(rebound_shared::aws::best_effort_timeouts())
                .build(),
        );
        let lags = reads::newest_metrics(&cloudwatch, "ReplicaLag", "DBInstanceIdentifier", &[id], now).await;
        lags.ok()?.get(id).copied()
    }

    /// The named instances in the primary region, within the reach timeout; why not, if it
    /// did not answer.
    async fn in_primary_region(&self, primary: &str, ids: &[&str]) -> Result<HashMap<String, Instance>, String> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let rds = rds::in_region(&self.rds, primary);
        let found = within_reach(|| reads::instances(&rds, ids))
            .await
            .map_err(|e| e.to_string())?;
        Ok(ids
            .iter()
            .filter_map(|id| Some((reads::key(id), Instance::from(found.get(id)?))))
            .collect())
    }
}

/// The name an action's resource starts with (`orders-db-use1 (us-east-1, ...)`).
fn failback_name(resource: &str) -> &str {
    resource.split(" (").next().unwrap_or(resource)
}
