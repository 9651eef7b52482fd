//! What `start` and `status` read before deciding: every database's state at once (instances in
//! batches, replica lags in one call), as the plain types [`crate::decide`] decides from.

use aws_sdk_rds::types::DbInstance;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use chrono::{DateTime, Utc};
use rebound_shared::context::{Mode, RecoveryContext};
use rebound_shared::error::AwsError;
use rebound_shared::plan::{Database, GlobalEngine};
use rebound_shared::rds::{reads, Global, GlobalClient};
use rebound_shared::step::StepFault;

use crate::data_loss::{listed_lag, Lag};
use crate::decide::precondition;
use crate::observed::{Instance, Observed};
use crate::{aws, DatabaseError, DatabaseFailover};

impl From<&DbInstance> for Instance {
    fn from(i: &DbInstance) -> Instance {
        Instance {
            status: i.db_instance_status().unwrap_or("unknown").to_string(),
            replica_of: i.read_replica_source_db_instance_identifier().map(str::to_string),
            latest_restorable: i
                .latest_restorable_time()
                .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos())),
            arn: i.db_instance_arn().map(str::to_string),
            recovery_tag: i
                .tag_list()
                .iter()
                .find(|t| t.key() == Some(crate::act::RECOVERY_TAG))
                .and_then(|t| t.value())
                .map(str::to_string),
            class: i.db_instance_class().map(str::to_string),
            encrypted: i.storage_encrypted().unwrap_or(false),
        }
    }
}

impl DatabaseFailover {
    /// Everything [`crate::decide::decide`] needs for every database of the plan, read at once:
    /// the recovery side's instances (batched), each replica's lag (one `GetMetricData`), each
    /// global database and, for a failover, its target's lag, and each snapshot to restore.
    pub(crate) async fn observe(&self, ctx: &RecoveryContext, now: DateTime<Utc>) -> Result<Observed, DatabaseError> {
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
        let mut observed = Observed::default();
        if !ids.is_empty() {
            observed.instances = self.instances(&ids).await?;
        }
        if !replicas.is_empty() {
            observed.lags =
                reads::newest_metrics(&self.cloudwatch, "ReplicaLag", "DBInstanceIdentifier", &replicas, now)
                    .await
                    .map_err(|e| batch_error(&replicas, e))?;
        }
        for db in &ctx.plan.databases {
            match db {
                Database::AuroraGlobal {
                    identifier,
                    target_cluster_arn,
                    engine,
                    ..
                } => {
                    // Not there: the decision says so.
                    let Some(global) = self.read_global(*engine, identifier).await? else {
                        continue;
                    };
                    // A failover loses what replication had not shipped: its lag is the RPO.
                    if ctx.mode != Mode::Switchover && global.writer() != Some(target_cluster_arn.as_str()) {
                        let cluster = target_cluster_arn.rsplit(':').next().unwrap_or(target_cluster_arn);
                        if let Some(seconds) = self.global_lag(*engine, identifier, cluster, now).await? {
                            observed.global_lags.insert(identifier.clone(), seconds);
                        }
                    }
                    observed.globals.insert(identifier.clone(), global);
                }
                Database::SnapshotRestore {
                    identifier,
                    snapshot_identifier,
                    ..
                } if observed.instance(identifier).is_none() => {
                    if let Some(taken) = self.snapshot(snapshot_identifier).await? {
                        observed.snapshots.insert(snapshot_identifier.clone(), taken);
                    }
                }
                _ => {}
            }
        }
        Ok(observed)
    }

    /// The named instances that exist, batched, as decisions read them.
    pub(crate) async fn instances(
        &self,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, Instance>, DatabaseError> {
        let found = reads::instances(&self.rds, ids)
            .await
            .map_err(|e| batch_error(ids, e))?;
        Ok(ids
            .iter()
            .filter_map(|id| Some((reads::key(id), Instance::from(found.get(id)?))))
            .collect())
    }

    /// A snapshot, if it exists: `Some(when it was taken)`.
    async fn snapshot(&self, id: &str) -> Result<Option<Option<DateTime<Utc>>>, DatabaseError> {
        let out = self.rds.describe_db_snapshots().db_snapshot_identifier(id).send().await;
        let snapshot = match out {
            Ok(out) => out.db_snapshots().first().cloned(),
            Err(e) if e.code() == Some("DBSnapshotNotFound") => None,
            Err(e) => return Err(aws(id, "rds", "DescribeDBSnapshots", &e)),
        };
        Ok(snapshot.map(|s| {
            s.snapshot_create_time()
                .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), 0))
        }))
    }

    /// How far `cluster`, a secondary of global database `id`, is behind, in seconds: None
    /// without a datapoint in the last ten minutes. Aurora's metric has one dimension; DocumentDB
    /// and Neptune name the source region too, so their series are found by listing.
    async fn global_lag(
        &self,
        engine: GlobalEngine,
        id: &str,
        cluster: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<f64>, DatabaseError> {
        let (namespace, metric) = engine.lag_metric();
        if engine.is_aurora() {
            let lag = reads::newest_metrics(&self.cloudwatch, metric, "DBClusterIdentifier", &[cluster], now)
                .await
                .map_err(|source| batch_error(&[id], source))?;
            return Ok(lag.get(cluster).map(|ms| ms / 1000.0));
        }
        match listed_lag(&self.cloudwatch, (namespace, metric), cluster, now).await {
            Lag::Seconds(s) => Ok(Some(s)),
            Lag::Unknown(why) => {
                tracing::warn!(database = id, cluster, "{why}");
                Ok(None)
            }
        }
    }

    /// The client that acts on a global database of `engine` in this step's region.
    pub(crate) fn global_client(&self, engine: GlobalEngine) -> GlobalClient<'_> {
        self.globals.client(&self.rds, engine)
    }

    /// A global database, if it exists.
    async fn read_global(&self, engine: GlobalEngine, id: &str) -> Result<Option<Global>, DatabaseError> {
        self.global_client(engine)
            .read(id)
            .await
            .map_err(|source| batch_error(&[id], source))
    }

    /// The global database being failed over or switched over, which must exist.
    pub(crate) async fn global_cluster(&self, engine: GlobalEngine, id: &str) -> Result<Global, DatabaseError> {
        self.read_global(engine, id)
            .await?
            .ok_or_else(|| precondition(id, "global cluster not found"))
    }
}

/// The engine of the plan's global database `id`.
pub(crate) fn global_engine(ctx: &RecoveryContext, id: &str) -> GlobalEngine {
    ctx.plan
        .databases
        .iter()
        .find_map(|db| match db {
            Database::AuroraGlobal { identifier, engine, .. } if identifier == id => Some(*engine),
            _ => None,
        })
        .unwrap_or_default()
}

/// A failed read of many databases at once names them (the first few).
pub(crate) fn batch_error(ids: &[&str], source: AwsError) -> DatabaseError {
    let database = match ids {
        [one] => one.to_string(),
        [first, second, third] => format!("{first}, {second}, {third}"),
        [first, second, rest @ ..] => format!("{first}, {second} and {} more", rest.len()),
        _ => ids.join(", "),
    };
    StepFault::Aws {
        resource: format!("database {database}"),
        source,
    }
    .into()
}
