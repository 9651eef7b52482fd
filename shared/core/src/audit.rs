//! The static-stability audit: every AWS operation a plan's failover path calls, the region
//! whose control or data plane answers it, and a flag on each that depends on the failed
//! (primary) region, including the global control planes homed in us-east-1 (Route 53's and
//! IAM's) when the primary is us-east-1. Pure: it reads the plan, nothing else.

use serde::Serialize;

use crate::plan::{DnsMode, RecoveryPlan};

/// Where global control planes (Route 53's change API, IAM) are homed.
pub const GLOBAL_CONTROL_PLANE_REGION: &str = "us-east-1";

/// Joins the regions of a dependency any one of which serves it (an ARC cluster's endpoints).
const ANY_OF: &str = " or ";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Plane {
    Control,
    Data,
}

/// One operation the failover path calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    /// The state (or function) that calls it.
    pub step: &'static str,
    /// `service:Operation`, as `acknowledgedDependencies` names it.
    pub operation: &'static str,
    /// The region that answers it (`us-east-1` for a global control plane).
    pub region: String,
    pub plane: Plane,
    /// Whether the failover waits for it; best-effort calls (re-reading the primary's alarms,
    /// fencing the old writer) are bounded by a timeout and never block it.
    pub blocking: bool,
    /// It depends on the primary region.
    pub flagged: bool,
    /// The plan acknowledges the dependency (`acknowledgedDependencies`).
    pub acknowledged: bool,
}

impl Dependency {
    /// A flag the plan has not acknowledged.
    pub fn open_flag(&self) -> bool {
        self.flagged && !self.acknowledged
    }
}

/// Every operation of the failover path (failover mode, towards the plan's first recovery
/// region, where Rebound's stack runs).
pub fn failover_dependencies(plan: &RecoveryPlan) -> Vec<Dependency> {
    dependencies(plan, &plan.recovery_region)
}

/// The failover path towards each of the plan's recovery regions, in order: a recovery into a
/// region after the first still reads its plan and table, and reports, where Rebound's stack
/// runs (the first).
pub fn dependencies_by_region(plan: &RecoveryPlan) -> Vec<(String, Vec<Dependency>)> {
    plan.recovery_regions()
        .into_iter()
        .filter_map(|region| {
            let towards = plan.towards(region)?;
            Some((region.to_string(), dependencies(&towards, &plan.recovery_region)))
        })
        .collect()
}

/// Every operation of the failover path of `plan` (a plan towards one recovery region), with
/// Rebound's stack in region `stack`.
pub fn dependencies(plan: &RecoveryPlan, stack: &str) -> Vec<Dependency> {
    let mut found = Found {
        plan,
        stack,
        out: Vec::new(),
    };
    for phase in [
        phases::detection,
        phases::readiness,
        phases::capacity_sources,
        phases::dns,
        databases::databases,
        phases::services,
        phases::validation,
        phases::notification,
    ] {
        phase(&mut found);
    }
    found.out
}

/// The dependencies found so far, each once.
pub(crate) struct Found<'p> {
    plan: &'p RecoveryPlan,
    /// Where Rebound's stack runs: its plan, recovery table and reports.
    stack: &'p str,
    out: Vec<Dependency>,
}

impl Found<'_> {
    /// A resource in another account: its role assumed first in each of `phases`, through
    /// STS's regional endpoint in the recovery region (its global endpoint is in us-east-1).
    fn assumes_role(&mut self, phases: &[&'static str]) {
        let recovery = self.plan.recovery_region.clone();
        for phase in phases {
            self.add(phase, "sts:AssumeRole", &recovery, Plane::Data, true);
        }
    }

    fn add(&mut self, step: &'static str, operation: &'static str, region: &str, plane: Plane, blocking: bool) {
        if self
            .out
            .iter()
            .any(|d| d.step == step && d.operation == operation && d.region == region)
        {
            return;
        }
        let primary = self.plan.primary_region.as_str();
        self.out.push(Dependency {
            step,
            operation,
            region: region.to_string(),
            plane,
            blocking,
            // A list of regions (an ARC cluster's endpoints) depends on the primary only when
            // every one of them is in it.
            flagged: region.split(ANY_OF).all(|r| r == primary),
            acknowledged: self.plan.acknowledged_dependencies.iter().any(|a| a == operation),
        });
    }
}

/// Whether any of the plan's records is in `mode`.
fn has(plan: &RecoveryPlan, mode: DnsMode) -> bool {
    plan.dns.iter().any(|r| r.mode == mode)
}

/// The routing control cluster's endpoints' regions, any one of which answers.
fn cluster(plan: &RecoveryPlan) -> String {
    plan.routing_control_cluster
        .iter()
        .flat_map(|c| c.endpoints.iter().map(|e| e.region.as_str()))
        .collect::<Vec<_>>()
        .join(ANY_OF)
}

fn writer_region(source: &str) -> Option<&str> {
    match source.split(':').collect::<Vec<_>>()[..] {
        ["arn", _, "rds", region, ..] if !region.is_empty() => Some(region),
        _ => None,
    }
}

/// One line per flag the plan (towards one recovery region) has not acknowledged, for the
/// readiness check; Rebound's stack runs in `stack`.
pub fn open_flags(plan: &RecoveryPlan, stack: &str) -> Vec<String> {
    dependencies(plan, stack)
        .iter()
        .filter(|d| d.open_flag())
        .map(|d| {
            format!(
                "{} ({}, {} {} plane{}) depends on {}",
                d.operation,
                d.step,
                d.region,
                match d.plane {
                    Plane::Control => "control",
                    Plane::Data => "data",
                },
                if d.blocking { "" } else { ", best effort" },
                if d.operation.starts_with("route53:") || d.operation.starts_with("iam:") {
                    "a global control plane homed in the primary region"
                } else {
                    "the primary region"
                }
            )
        })
        .collect()
}

mod databases;
mod phases;

#[cfg(test)]
mod tests;
