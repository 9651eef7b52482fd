//! The plan's DynamoDB global tables: nothing to promote (every replica takes writes), but a
//! recovery must know that the recovery region holds an ACTIVE replica and how far behind it is.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GlobalTable {
    pub table_name: String,
    /// A replication latency beyond the RPO target may be put to an approver (failover only).
    #[serde(default)]
    pub allow_data_loss: bool,
    /// The plan's account it is in (`accounts`); Rebound's own when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

/// A replica as DynamoDB describes it in one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    /// The table's status there (`ACTIVE`, `UPDATING`, ...).
    pub status: String,
    /// The other regions' replicas, with their status as seen from there.
    pub peers: Vec<(String, String)>,
}

/// Why a replica cannot serve the recovery, if it cannot: missing, not ACTIVE, or not part of a
/// global table with `source` (nothing replicates into it).
pub fn replica_problem(replica: Option<&Replica>, region: &str, source: &str) -> Option<String> {
    let Some(replica) = replica else {
        return Some(format!("no replica in {region}"));
    };
    if replica.status != "ACTIVE" {
        return Some(format!("the replica in {region} is {}, not ACTIVE", replica.status));
    }
    if let Some((_, status)) = replica.peers.iter().find(|(r, _)| r == region) {
        if status != "ACTIVE" {
            return Some(format!("the replica in {region} is {status}, not ACTIVE"));
        }
    }
    if !replica.peers.iter().any(|(r, _)| r == source) {
        return Some(format!(
            "the table in {region} is not a replica of a global table with {source}: nothing replicates into it"
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(status: &str, peers: &[(&str, &str)]) -> Replica {
        Replica {
            status: status.into(),
            peers: peers.iter().map(|(r, s)| (r.to_string(), s.to_string())).collect(),
        }
    }

    #[test]
    fn a_replica_serves_only_when_there_active_and_fed_by_the_source() {
        let ok = replica("ACTIVE", &[("us-east-1", "ACTIVE")]);
        assert_eq!(replica_problem(Some(&ok), "us-west-2", "us-east-1"), None);
        // The source's own replica may be unreachable in an outage: that does not matter here.
        let cut = replica("ACTIVE", &[("us-east-1", "REGION_DISABLED")]);
        assert_eq!(replica_problem(Some(&cut), "us-west-2", "us-east-1"), None);
        assert_eq!(
            replica_problem(None, "us-west-2", "us-east-1").as_deref(),
            Some("no replica in us-west-2")
        );
        let creating = replica("ACTIVE", &[("us-east-1", "ACTIVE"), ("us-west-2", "CREATING")]);
        assert!(replica_problem(Some(&creating), "us-west-2", "us-east-1").is_some_and(|p| p.contains("CREATING")));
        let regional = replica("ACTIVE", &[]);
        assert!(replica_problem(Some(&regional), "us-west-2", "us-east-1")
            .is_some_and(|p| p.contains("nothing replicates")));
    }
}
