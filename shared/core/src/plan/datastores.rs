//! ElastiCache (Valkey / Redis OSS) global datastores (`globalDatastores`): one member takes
//! writes, the others replicate from it; a recovery makes the member in the region it moves to
//! the primary (FailoverGlobalReplicationGroup), and how far behind that member was is the
//! data lost.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GlobalDatastore {
    /// The datastore's name as ElastiCache gives it: its region's prefix and the suffix
    /// (`ldgnf-orders-sessions`).
    pub global_replication_group_id: String,
    /// Its member in the primary region.
    pub primary_replication_group_id: String,
    /// Its member in the recovery region.
    pub recovery_replication_group_id: String,
    /// A replication lag beyond the RPO target may be put to an approver (failover only).
    #[serde(default)]
    pub allow_data_loss: bool,
}

/// A global datastore as ElastiCache describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datastore {
    /// `available`, `modifying` (a failover, among other changes), `primary-only`, ...
    pub status: String,
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub group: String,
    pub region: String,
    /// `PRIMARY` or `SECONDARY` (compared without case: the API Reference writes them lower).
    pub role: String,
}

impl Datastore {
    /// Member `group` in `region`, if the datastore has it.
    pub fn member(&self, group: &str, region: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.group == group && m.region == region)
    }
}

impl Member {
    pub fn is_primary(&self) -> bool {
        self.role.eq_ignore_ascii_case("primary")
    }
}

/// Where the writes go once the datastore is where the recovery wants it: `(region, group)`.
pub fn writer_after<'p>(
    datastore: &'p GlobalDatastore,
    primary_region: &'p str,
    recovery_region: &'p str,
    towards_recovery: bool,
) -> (&'p str, &'p str) {
    if towards_recovery {
        (recovery_region, &datastore.recovery_replication_group_id)
    } else {
        (primary_region, &datastore.primary_replication_group_id)
    }
}
