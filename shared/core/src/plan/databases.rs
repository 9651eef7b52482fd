//! The plan's databases: what each is and how it is made writable in the recovery region, and
//! which of them a failback promotes.

use serde::{Deserialize, Serialize};

use super::RecoveryPlan;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Database {
    /// An RDS cross-region read replica in the recovery region, promoted to a standalone writer.
    ReadReplica {
        identifier: String,
        /// The plan's account it is in (`accounts`); Rebound's own when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
        source_identifier: String,
        #[serde(default)]
        allow_data_loss: bool,
        /// After a failover: the replica of `identifier` in the primary region that a failback
        /// promotes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failback_identifier: Option<String>,
        /// A security group in the old writer's VPC that admits nothing: the fence for a writer
        /// whose parameter group cannot be made read-only (a `default.*` group, an engine
        /// without a read-only parameter).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        isolation_security_group_id: Option<String>,
        /// How `rebound reprotect` builds the failback replica when it is missing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reprotect: Option<Reprotect>,
    },
    /// A global database: switchover (no data loss) or failover to the recovery cluster. Aurora's
    /// unless `engine` names Amazon DocumentDB's or Neptune's.
    AuroraGlobal {
        identifier: String,
        /// The plan's account it is in (`accounts`); Rebound's own when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
        target_cluster_arn: String,
        #[serde(default, skip_serializing_if = "GlobalEngine::is_aurora")]
        engine: GlobalEngine,
        #[serde(default)]
        allow_data_loss: bool,
        /// A security group in the old writer cluster's VPC that admits nothing: in a
        /// failover, a writer cluster that still answers is moved onto it before the target
        /// takes over.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        isolation_security_group_id: Option<String>,
        /// The cluster in the primary region a failback switches the global database back to.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failback_cluster_arn: Option<String>,
        /// How `rebound reprotect` builds the failback cluster when the global database lost it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reprotect: Option<Reprotect>,
    },
    /// A new instance restored from `sourceIdentifier` to a point before the corruption.
    PointInTimeRestore {
        identifier: String,
        /// The plan's account it is in (`accounts`); Rebound's own when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
        source_identifier: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance_class: Option<String>,
    },
    /// A new instance restored from a snapshot in the recovery region.
    SnapshotRestore {
        identifier: String,
        /// The plan's account it is in (`accounts`); Rebound's own when absent.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
        snapshot_identifier: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance_class: Option<String>,
    },
}

/// The engine of a global database. Amazon DocumentDB and Neptune have Aurora's global-cluster
/// API (the same operations on the same `rds.REGION` endpoint, under `rds:` IAM actions), each
/// through its own SDK client, and each reports its replication lag under its own metric.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GlobalEngine {
    #[default]
    Aurora,
    Docdb,
    Neptune,
}

impl GlobalEngine {
    pub fn is_aurora(&self) -> bool {
        *self == GlobalEngine::Aurora
    }

    /// Whether a global cluster's `Engine` (as DescribeGlobalClusters gives it) is this one's.
    pub fn is(&self, engine: &str) -> bool {
        match self {
            GlobalEngine::Aurora => engine.starts_with("aurora"),
            GlobalEngine::Docdb => engine == "docdb",
            GlobalEngine::Neptune => engine == "neptune",
        }
    }

    /// The SDK (and the service name errors and the audit give) that acts on it.
    pub fn service(&self) -> &'static str {
        match self {
            GlobalEngine::Aurora => "rds",
            GlobalEngine::Docdb => "docdb",
            GlobalEngine::Neptune => "neptune",
        }
    }

    /// How far a secondary cluster is behind, in milliseconds: `(namespace, metric)`. Aurora's
    /// is read by its one dimension, DBClusterIdentifier; DocumentDB's (Developer Guide,
    /// "Monitoring Amazon DocumentDB global clusters") and Neptune's (User Guide, "Monitoring
    /// your Amazon Neptune global database", dimensions DBClusterIdentifier and SourceRegion)
    /// from every series that names the cluster.
    pub fn lag_metric(&self) -> (&'static str, &'static str) {
        match self {
            GlobalEngine::Aurora => ("AWS/RDS", "AuroraGlobalDBReplicationLag"),
            GlobalEngine::Docdb => ("AWS/DocDB", "GlobalClusterReplicationLag"),
            GlobalEngine::Neptune => ("AWS/Neptune", "GlobalDbProgressLag"),
        }
    }
}

/// What `rebound reprotect` gives a failback replica (or an Aurora secondary cluster and its
/// instance) it creates in the primary region. Unset, AWS's defaults for a cross-region replica apply (the engine's default
/// parameter group, the default VPC); the instance class is the new writer's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Reprotect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter_group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_group_ids: Vec<String>,
    /// Required when the writer is encrypted: a key in the primary region (RDS API Reference,
    /// CreateDBInstanceReadReplica, KmsKeyId).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

impl Database {
    /// The plan's account it is in (None: Rebound's own).
    pub fn account(&self) -> Option<&str> {
        match self {
            Database::ReadReplica { account, .. }
            | Database::AuroraGlobal { account, .. }
            | Database::PointInTimeRestore { account, .. }
            | Database::SnapshotRestore { account, .. } => account.as_deref(),
        }
    }

    pub fn identifier(&self) -> &str {
        match self {
            Database::ReadReplica { identifier, .. }
            | Database::AuroraGlobal { identifier, .. }
            | Database::PointInTimeRestore { identifier, .. }
            | Database::SnapshotRestore { identifier, .. } => identifier,
        }
    }
}

/// A database that does not fail back automatically, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoFailback {
    pub database: String,
    pub reason: String,
}

impl RecoveryPlan {
    /// The plan as a failback acts on it: its databases are [`RecoveryPlan::failback_databases`],
    /// and each writer endpoint follows the database that takes its place.
    pub fn for_failback(&self) -> Result<RecoveryPlan, NoFailback> {
        let databases = self.failback_databases()?;
        let writer_endpoints = self
            .writer_endpoints
            .iter()
            .map(|endpoint| {
                let at = self
                    .databases
                    .iter()
                    .position(|db| db.identifier() == endpoint.database());
                match at.and_then(|i| databases.get(i)) {
                    Some(back) => endpoint.following(back.identifier()),
                    None => endpoint.clone(),
                }
            })
            .collect();
        Ok(RecoveryPlan {
            databases,
            writer_endpoints,
            ..self.clone()
        })
    }

    /// The databases a failback acts on: each read replica's `failbackIdentifier`, a replica (in
    /// the primary region) of the writer the failover made, and each Aurora global database
    /// switched back to its `failbackClusterArn`. Restores fail back by hand.
    pub fn failback_databases(&self) -> Result<Vec<Database>, NoFailback> {
        self.databases
            .iter()
            .map(|db| match db {
                Database::ReadReplica {
                    identifier,
                    account,
                    allow_data_loss,
                    failback_identifier: Some(back),
                    ..
                } => Ok(Database::ReadReplica {
                    identifier: back.clone(),
                    account: account.clone(),
                    source_identifier: identifier.clone(),
                    allow_data_loss: *allow_data_loss,
                    failback_identifier: None,
                    isolation_security_group_id: None,
                    reprotect: None,
                }),
                Database::AuroraGlobal {
                    identifier,
                    account,
                    engine,
                    failback_cluster_arn: Some(back),
                    isolation_security_group_id,
                    ..
                } => Ok(Database::AuroraGlobal {
                    identifier: identifier.clone(),
                    account: account.clone(),
                    target_cluster_arn: back.clone(),
                    engine: *engine,
                    allow_data_loss: false,
                    // The group a failover may have isolated the cluster switched back to on.
                    isolation_security_group_id: isolation_security_group_id.clone(),
                    failback_cluster_arn: None,
                    reprotect: None,
                }),
                Database::AuroraGlobal { identifier, .. } => Err(NoFailback {
                    database: identifier.clone(),
                    reason: format!(
                        "failback needs failbackClusterArn: the cluster in {} to switch back to",
                        self.primary_region
                    ),
                }),
                Database::ReadReplica { identifier, .. } => Err(NoFailback {
                    database: identifier.clone(),
                    reason: format!(
                        "failback needs failbackIdentifier: a replica of {identifier} in {}",
                        self.primary_region
                    ),
                }),
                other => Err(NoFailback {
                    database: other.identifier().to_string(),
                    reason: "only read replicas and Aurora global databases fail back automatically".into(),
                }),
            })
            .collect()
    }
}
