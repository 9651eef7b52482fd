//! What database-failover read, as its decisions need it: each instance, each replica's lag,
//! each global database and snapshot. `observe.rs` fills it; `decide.rs` reads it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rebound_shared::rds::Global;
use serde_json::{json, Value};

/// An RDS instance, as a decision needs it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Instance {
    pub status: String,
    /// The source it replicates from; None for a writer.
    pub replica_of: Option<String>,
    /// The latest time it can be restored to (automated backups on).
    pub latest_restorable: Option<DateTime<Utc>>,
    /// Its ARN, for tagging.
    pub arn: Option<String>,
    /// The recovery whose promotion or restore this is (the `rebound:recovery-id` tag).
    pub recovery_tag: Option<String>,
    /// Its instance class, the one a replica of it gets unless the plan says otherwise.
    pub class: Option<String>,
    /// Storage encrypted: a cross-region replica of it needs a key in its own region.
    pub encrypted: bool,
}

/// What RDS shows while an instance is being promoted: `modifying`, then `rebooting`, with
/// `ReadReplicaSourceDBInstanceIdentifier` still set until the promotion ends (RDS User Guide,
/// "Promoting a read replica to be a standalone DB instance").
pub const PROMOTING: [&str; 2] = ["modifying", "rebooting"];

impl Instance {
    /// The recovery promoting this replica, if Rebound is: each recovery tags a replica before
    /// promoting it, and RDS shows it changing with its source still set. A replica changing
    /// with no such tag is someone else's change, not to be waited on.
    pub fn promoted_by(&self) -> Option<&str> {
        let changing = self.replica_of.is_some() && PROMOTING.contains(&self.status.as_str());
        self.recovery_tag.as_deref().filter(|_| changing)
    }

    pub fn state(&self) -> Value {
        json!({
            "status": self.status,
            "replicaOf": self.replica_of,
            "writer": self.replica_of.is_none(),
        })
    }
}

/// Everything the decisions need, read once for every database. Keys are identifiers as the
/// plan names them (instances: lower-cased).
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub instances: HashMap<String, Instance>,
    /// Each replica's newest `ReplicaLag`, seconds.
    pub lags: HashMap<String, f64>,
    /// Each global database that exists.
    pub globals: HashMap<String, Global>,
    /// Each global database's target cluster lag (`AuroraGlobalDBReplicationLag`), seconds.
    pub global_lags: HashMap<String, f64>,
    /// Each snapshot found, with when it was taken.
    pub snapshots: HashMap<String, Option<DateTime<Utc>>>,
}

impl Observed {
    pub fn instance(&self, id: &str) -> Option<&Instance> {
        self.instances.get(&rebound_shared::rds::reads::key(id))
    }
}
