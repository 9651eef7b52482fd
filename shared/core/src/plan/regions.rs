//! More than one recovery region: `recoveryRegion` is the first choice and `otherRecoveryRegions`
//! the next ones, in order. Readiness checks them in that order and the recovery follows the
//! first ready one; every step then acts on the plan [`RecoveryPlan::towards`] that region gives,
//! the two-region plan it already knows.
//!
//! A candidate names its region and, for each part whose resources differ there (an RDS replica
//! identifier, a cluster ARN, a service's cluster), the whole list for that region. A part it
//! does not give has the same names in every region (as infrastructure as code usually deploys
//! them); global tables are found by name in any region that holds a replica. Custom actions
//! are the same everywhere: the state machine runs them from the detector's list, and each
//! names its own region when it is not the recovery region.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::checker::{join, Checker};
use super::{
    check_plan, Database, DnsRecord, EventSourceMapping, GlobalDatastore, MultiRegionCluster, PlanProblem,
    RecoveryPlan, Service, WriterEndpoint,
};

/// A recovery region after the first, with the parts that differ there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OtherRecoveryRegion {
    pub region: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Vec<DnsRecord>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub databases: Option<Vec<Database>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_datastores: Option<Vec<GlobalDatastore>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_region_clusters: Option<Vec<MultiRegionCluster>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writer_endpoints: Option<Vec<WriterEndpoint>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<Service>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source_mappings: Option<Vec<EventSourceMapping>>,
}

/// The parts a candidate may give for its region, as the plan names them.
pub const REGIONAL_PARTS: [&str; 7] = [
    "dns",
    "databases",
    "globalDatastores",
    "multiRegionClusters",
    "writerEndpoints",
    "services",
    "eventSourceMappings",
];

/// How many recovery regions a plan may list, the first included: each is dry-run in turn
/// before a failover, and each is a region the stack's roles are granted.
pub const MAX_RECOVERY_REGIONS: usize = 3;

impl RecoveryPlan {
    /// The recovery regions in the order readiness tries them.
    pub fn recovery_regions(&self) -> Vec<&str> {
        std::iter::once(self.recovery_region.as_str())
            .chain(self.other_recovery_regions.iter().map(|o| o.region.as_str()))
            .collect()
    }

    /// The region readiness tries after `region`, if any.
    pub fn recovery_region_after(&self, region: &str) -> Option<&str> {
        let regions = self.recovery_regions();
        let at = regions.iter().position(|r| *r == region)?;
        regions.get(at + 1).copied()
    }

    /// The two-region plan for recovering into `region`: that region as `recoveryRegion`, its
    /// own parts in place of the first choice's, and no other candidates. `None` when the plan
    /// does not list `region`.
    pub fn towards(&self, region: &str) -> Option<RecoveryPlan> {
        let mut plan = self.clone();
        let others = std::mem::take(&mut plan.other_recovery_regions);
        if region == self.recovery_region {
            return Some(plan);
        }
        let other = others.into_iter().find(|o| o.region == region)?;
        plan.recovery_region = other.region;
        replace(&mut plan.dns, other.dns);
        replace(&mut plan.databases, other.databases);
        replace(&mut plan.global_datastores, other.global_datastores);
        replace(&mut plan.multi_region_clusters, other.multi_region_clusters);
        replace(&mut plan.writer_endpoints, other.writer_endpoints);
        replace(&mut plan.services, other.services);
        replace(&mut plan.event_source_mappings, other.event_source_mappings);
        Some(plan)
    }
}

fn replace<T>(part: &mut Vec<T>, given: Option<Vec<T>>) {
    if let Some(given) = given {
        *part = given;
    }
}

/// The plan document for recovering into candidate `other` (an item of `otherRecoveryRegions`):
/// what [`RecoveryPlan::towards`] gives, as JSON, for the checker.
fn document_towards(plan: &Map<String, Value>, other: &Map<String, Value>) -> Value {
    let mut towards = plan.clone();
    towards.remove("otherRecoveryRegions");
    if let Some(region) = other.get("region") {
        towards.insert("recoveryRegion".into(), region.clone());
    }
    for part in REGIONAL_PARTS {
        if let Some(given) = other.get(part) {
            towards.insert(part.into(), given.clone());
        }
    }
    Value::Object(towards)
}

/// Checks `otherRecoveryRegions`: each a distinct region other than the primary and the first
/// choice, with known parts only, and the plan towards each as valid as the plan itself. A part
/// a candidate gives is reported at its own path; a rule of the whole plan that fails only
/// towards that region is reported at the candidate, naming the rule's path.
pub(crate) fn check_other_regions(plan: &Map<String, Value>, own: &[PlanProblem]) -> Vec<PlanProblem> {
    let mut c = Checker::default();
    let others = c.array("", plan, "otherRecoveryRegions", false);
    if others.len() + 1 > MAX_RECOVERY_REGIONS {
        c.report(
            "otherRecoveryRegions",
            format!(
                "at most {} (a plan lists at most {MAX_RECOVERY_REGIONS} recovery regions)",
                MAX_RECOVERY_REGIONS - 1
            ),
        );
    }
    let mut seen: Vec<&str> = ["primaryRegion", "recoveryRegion"]
        .iter()
        .filter_map(|k| plan.get(*k).and_then(Value::as_str))
        .collect();
    let fields: Vec<&str> = std::iter::once("region")
        .chain(REGIONAL_PARTS.iter().copied())
        .collect();
    for (at, other) in others {
        let Some(object) = c.object(&at, other, &fields) else {
            continue;
        };
        let Some(region) = c.region(&at, object, "region", true) else {
            continue;
        };
        if seen.contains(&region) {
            c.report(
                &join(&at, "region"),
                format!("{region} is already the primary or a recovery region of this plan"),
            );
            continue;
        }
        seen.push(region);
        for problem in check_plan(&document_towards(plan, object)) {
            let given = REGIONAL_PARTS
                .iter()
                .any(|p| object.contains_key(*p) && in_part(&problem, p));
            if given {
                c.report(&join(&at, &problem.path), problem.message);
            } else if own.contains(&problem) {
                // The plan's own problem, already reported.
            } else if problem.path == "recoveryRegion" {
                c.report(&join(&at, "region"), problem.message);
            } else {
                c.report(
                    &at,
                    format!("recovering into {region}, {}: {}", problem.path, problem.message),
                );
            }
        }
    }
    c.problems
}

fn in_part(problem: &PlanProblem, part: &str) -> bool {
    problem
        .path
        .strip_prefix(part)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('[') || rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn plan() -> Value {
        json!({
            "application": "orders",
            "primaryRegion": "us-east-1",
            "recoveryRegion": "us-west-2",
            "otherRecoveryRegions": [
                {"region": "eu-west-1", "databases": [
                    {"kind": "readReplica", "identifier": "orders-eu", "sourceIdentifier": "arn:aws:rds:us-east-1:111111111111:db:orders"}
                ]},
                {"region": "ap-southeast-2"}
            ],
            "objectives": {"rtoSeconds": 900, "rpoSeconds": 60},
            "databases": [
                {"kind": "readReplica", "identifier": "orders-west", "sourceIdentifier": "arn:aws:rds:us-east-1:111111111111:db:orders"}
            ],
            "services": [{"kind": "ecs", "cluster": "orders", "service": "api", "desiredCount": 2}],
            "notification": {"topicArn": "arn:aws:sns:us-west-2:111111111111:rebound"}
        })
    }

    fn identifiers(plan: &RecoveryPlan) -> Vec<String> {
        plan.databases
            .iter()
            .map(|d| match d {
                Database::ReadReplica { identifier, .. } => identifier.clone(),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_candidate_replaces_the_parts_it_gives_and_keeps_the_others() {
        let plan = RecoveryPlan::from_value(&plan()).expect("valid");
        assert_eq!(plan.recovery_regions(), ["us-west-2", "eu-west-1", "ap-southeast-2"]);
        let eu = plan.towards("eu-west-1").expect("listed");
        assert_eq!(eu.recovery_region, "eu-west-1");
        assert_eq!(identifiers(&eu), ["orders-eu"]);
        assert_eq!(eu.services, plan.services);
        assert!(eu.other_recovery_regions.is_empty());
        let ap = plan.towards("ap-southeast-2").expect("listed");
        assert_eq!(identifiers(&ap), ["orders-west"]);
        let first = plan.towards("us-west-2").expect("listed");
        assert_eq!(first.recovery_region, "us-west-2");
        assert!(first.other_recovery_regions.is_empty());
        assert_eq!(plan.towards("sa-east-1"), None);
        assert_eq!(plan.recovery_region_after("us-west-2"), Some("eu-west-1"));
        assert_eq!(plan.recovery_region_after("ap-southeast-2"), None);
    }

    fn problems(value: &Value) -> Vec<String> {
        check_plan(value).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_candidate_region_is_distinct_and_known_and_its_parts_are_checked_where_it_gives_them() {
        let mut value = plan();
        value["otherRecoveryRegions"] = json!([
            {"region": "us-east-1"},
            {"region": "eu-west-1", "databases": [{"kind": "readReplica", "sourceIdentifier": "x"}], "probes": []},
            {"databases": []},
            {"region": "us-west-2"}
        ]);
        let found = problems(&value);
        assert!(
            found.contains(&"otherRecoveryRegions: at most 2 (a plan lists at most 3 recovery regions)".to_string()),
            "{found:?}"
        );
        assert!(
            found.contains(
                &"otherRecoveryRegions[0].region: us-east-1 is already the primary or a recovery region of this plan"
                    .to_string()
            ),
            "{found:?}"
        );
        assert!(
            found.contains(
                &"otherRecoveryRegions[3].region: us-west-2 is already the primary or a recovery region of this plan"
                    .to_string()
            ),
            "{found:?}"
        );
        assert!(
            found.contains(&"otherRecoveryRegions[1].databases[0].identifier: required".to_string()),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.starts_with("otherRecoveryRegions[1].probes: unknown field")),
            "{found:?}"
        );
        assert!(
            found.contains(&"otherRecoveryRegions[2].region: required".to_string()),
            "{found:?}"
        );
    }

    #[test]
    fn a_rule_of_the_whole_plan_that_fails_only_towards_a_candidate_is_reported_at_the_candidate() {
        let mut value = plan();
        // A global database's target cluster must be in the recovery region: the first choice's
        // is, and the candidate that keeps the same list is not.
        value["databases"] = json!([{
            "kind": "auroraGlobal", "identifier": "orders-global",
            "targetClusterArn": "arn:aws:rds:us-west-2:111111111111:cluster:orders-west"
        }]);
        value["otherRecoveryRegions"] = json!([{"region": "eu-west-1"}]);
        let found = problems(&value);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with("otherRecoveryRegions[0]: recovering into eu-west-1, databases[0].targetClusterArn:"),
            "{found:?}"
        );
        value["otherRecoveryRegions"][0]["databases"] = json!([{
            "kind": "auroraGlobal", "identifier": "orders-global",
            "targetClusterArn": "arn:aws:rds:eu-west-1:111111111111:cluster:orders-eu"
        }]);
        assert_eq!(problems(&value), Vec::<String>::new());
    }
}
