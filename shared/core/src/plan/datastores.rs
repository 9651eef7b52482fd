//! ElastiCache (Valkey / Redis OSS) global datastores (`globalDatastores`): one member takes
//! writes, the others replicate from it; a recovery makes the member in the region it moves to
//! the primary (FailoverGlobalReplicationGroup), and how far behind that member was is the
//! data lost. MemoryDB multi-Region clusters (`multiRegionClusters`) are active-active: every
//! regional cluster takes writes, nothing fails over, and what the region the recovery moves
//! to had not received is what the application no longer sees.

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
    /// The plan's account it is in (`accounts`); Rebound's own when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
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

/// A MemoryDB multi-Region cluster: a regional cluster in each region, each taking writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MultiRegionCluster {
    /// Its name as MemoryDB gives it: its region's prefix and the suffix (`ldgnf-orders`).
    pub multi_region_cluster_name: String,
    /// Its regional cluster in the primary region.
    pub primary_cluster_name: String,
    /// Its regional cluster in the recovery region.
    pub recovery_cluster_name: String,
    /// A replication lag beyond the RPO target may be put to an approver (failover only).
    #[serde(default)]
    pub allow_data_loss: bool,
    /// The plan's account it is in (`accounts`); Rebound's own when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

impl MultiRegionCluster {
    /// `(region, cluster)` where the application writes once the recovery is over.
    pub fn serving<'p>(
        &'p self,
        primary_region: &'p str,
        recovery_region: &'p str,
        towards_recovery: bool,
    ) -> (&'p str, &'p str) {
        if towards_recovery {
            (recovery_region, &self.recovery_cluster_name)
        } else {
            (primary_region, &self.primary_cluster_name)
        }
    }
}

/// A multi-Region cluster as MemoryDB describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiRegion {
    /// `available`, `creating`, `updating`, `deleting`.
    pub status: String,
    pub clusters: Vec<Regional>,
}

/// One of its regional clusters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regional {
    pub name: String,
    pub region: String,
    pub status: String,
}

impl MultiRegion {
    /// Regional cluster `name` in `region`, if it belongs to it.
    pub fn cluster(&self, name: &str, region: &str) -> Option<&Regional> {
        self.clusters.iter().find(|c| c.name == name && c.region == region)
    }

    /// Its regional clusters, for a person: `NAME in REGION, ...`, or `none`.
    pub fn listed(&self) -> String {
        if self.clusters.is_empty() {
            return "none".into();
        }
        let named: Vec<String> = self
            .clusters
            .iter()
            .map(|c| format!("{} in {}", c.name, c.region))
            .collect();
        named.join(", ")
    }
}
