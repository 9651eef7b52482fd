//! Why a drill's recovery held although calls failed: each faulted operation, matched to what
//! the plan's static-stability audit says the failover path needs it for.

use std::collections::BTreeMap;

use rebound_moto::faults::Call;
use rebound_shared::audit::failover_dependencies;
use rebound_shared::plan::RecoveryPlan;
use serde::Serialize;

/// One operation the injected faults hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Faulted {
    /// `service:Operation` in the audit's names (`cloudwatch`, not SigV4's `monitoring`).
    pub operation: String,
    pub region: String,
    pub fault: String,
    pub calls: usize,
    /// The states that call it, from the audit.
    pub steps: Vec<String>,
    pub held: String,
}

/// The audit's service name for a SigV4 signing name.
fn service(signing_name: &str) -> &str {
    match signing_name {
        "monitoring" => "cloudwatch",
        other => other,
    }
}

/// Each faulted operation and why the recovery held without it (or did not).
pub fn explain(plan: &RecoveryPlan, calls: &[Call]) -> Vec<Faulted> {
    let deps = failover_dependencies(plan);
    let name = |c: &Call| {
        format!(
            "{}:{}",
            service(c.service.as_deref().unwrap_or("?")),
            c.operation.as_deref().unwrap_or("?")
        )
    };
    let mut faulted: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    for c in calls.iter().filter(|c| c.fault.is_some()) {
        let key = (
            name(c),
            c.region.clone().unwrap_or_default(),
            c.fault.clone().unwrap_or_default(),
        );
        *faulted.entry(key).or_default() += 1;
    }
    faulted
        .into_iter()
        .map(|((operation, region, fault), n)| {
            // The same operation can be best effort in one region and needed in another
            // (re-reading the primary's alarms; driving the recovery region's).
            let uses: Vec<_> = deps
                .iter()
                .filter(|d| d.operation == operation && d.region.split(" or ").any(|r| r == region))
                .collect();
            let steps: Vec<String> = uses.iter().map(|d| d.step.to_string()).collect();
            let answered_later = calls.iter().any(|c| {
                c.fault.is_none()
                    && c.status.is_some_and(|s| s < 500)
                    && name(c) == operation
                    && c.region.as_deref() == Some(region.as_str())
            });
            let held = if uses.is_empty() {
                "not on the failover path".to_string()
            } else if uses.iter().all(|d| !d.blocking) {
                "best effort: the failover does not wait for it".to_string()
            } else if answered_later {
                "retried until it answered".to_string()
            } else {
                "needed, and never answered".to_string()
            };
            Faulted {
                operation,
                region,
                fault,
                calls: n,
                steps,
                held,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(service: &str, region: &str, operation: &str, fault: Option<&str>, status: Option<u16>) -> Call {
        Call {
            service: Some(service.into()),
            region: Some(region.into()),
            operation: Some(operation.into()),
            fault: fault.map(str::to_string),
            status,
            at: None,
        }
    }

    fn held(calls: &[Call]) -> Vec<(String, String)> {
        let plan = RecoveryPlan::from_json(include_str!("../../../examples/plan.json")).expect("example plan");
        explain(&plan, calls)
            .into_iter()
            .map(|f| (format!("{} {}", f.region, f.operation), f.held))
            .collect()
    }

    #[test]
    fn each_faulted_operation_says_why_the_recovery_held_or_did_not() {
        let calls = [
            call("monitoring", "us-east-1", "DescribeAlarms", Some("reset"), None),
            call("rds", "us-west-2", "PromoteReadReplica", Some("throttle"), Some(400)),
            call("rds", "us-west-2", "PromoteReadReplica", None, Some(200)),
            call(
                "route53",
                "us-east-1",
                "ChangeResourceRecordSets",
                Some("timeout"),
                None,
            ),
            call("sqs", "us-west-2", "ReceiveMessage", Some("reset"), None),
        ];
        assert_eq!(
            held(&calls),
            [
                (
                    "us-east-1 cloudwatch:DescribeAlarms".to_string(),
                    "best effort: the failover does not wait for it".to_string()
                ),
                (
                    "us-west-2 rds:PromoteReadReplica".to_string(),
                    "retried until it answered".to_string()
                ),
                (
                    "us-east-1 route53:ChangeResourceRecordSets".to_string(),
                    "needed, and never answered".to_string()
                ),
                (
                    "us-west-2 sqs:ReceiveMessage".to_string(),
                    "not on the failover path".to_string()
                ),
            ]
        );
    }
}
