//! The static-stability audit: every AWS operation a plan's failover path calls, the region
//! whose control or data plane answers it, and a flag on each that depends on the failed
//! (primary) region, including the global control planes homed in us-east-1 (Route 53's and
//! IAM's) when the primary is us-east-1. Pure: it reads the plan, nothing else.

use serde::Serialize;

use crate::plan::{Database, DnsMode, Probe, RecoveryPlan, Service};

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

/// Every operation of the failover path (failover mode, towards the recovery region).
pub fn failover_dependencies(plan: &RecoveryPlan) -> Vec<Dependency> {
    let primary = plan.primary_region.as_str();
    let recovery = plan.recovery_region.as_str();
    let global = GLOBAL_CONTROL_PLANE_REGION;
    let mut out = Vec::new();
    let mut add = |step: &'static str, operation: &'static str, region: &str, plane: Plane, blocking: bool| {
        if out
            .iter()
            .any(|d: &Dependency| d.step == step && d.operation == operation && d.region == region)
        {
            return;
        }
        out.push(Dependency {
            step,
            operation,
            region: region.to_string(),
            plane,
            blocking,
            // A list of regions (an ARC cluster's endpoints) depends on the primary only when
            // every one of them is in it.
            flagged: region.split(ANY_OF).all(|r| r == primary),
            acknowledged: plan.acknowledged_dependencies.iter().any(|a| a == operation),
        });
    };

    // DetectDisaster: the plan, the recovery table, and a re-read of the signals.
    add("DetectDisaster", "ssm:GetParameter", recovery, Plane::Data, true);
    add("DetectDisaster", "dynamodb:PutItem", recovery, Plane::Data, true);
    for alarm in &plan.detection.alarms {
        add(
            "DetectDisaster",
            "cloudwatch:DescribeAlarms",
            plan.signal_region(&alarm.region),
            Plane::Data,
            false,
        );
    }
    for metric in &plan.detection.metrics {
        add(
            "DetectDisaster",
            "cloudwatch:GetMetricData",
            plan.signal_region(&metric.region),
            Plane::Data,
            false,
        );
    }

    // DryRunSteps: every step's reads and the fences' reads; CheckReadiness: the acting roles'
    // permissions.
    let modes: Vec<DnsMode> = plan.dns.iter().map(|r| r.mode).collect();
    let has = |mode: DnsMode| modes.contains(&mode);
    let cluster = plan
        .routing_control_cluster
        .iter()
        .flat_map(|c| c.endpoints.iter().map(|e| e.region.as_str()))
        .collect::<Vec<_>>()
        .join(ANY_OF);
    if has(DnsMode::Upsert) {
        add(
            "DryRunSteps",
            "route53:ListResourceRecordSets",
            global,
            Plane::Control,
            true,
        );
    }
    if has(DnsMode::HealthCheckInversion) {
        add("DryRunSteps", "route53:GetHealthCheck", global, Plane::Control, true);
    }
    if has(DnsMode::AlarmHealthCheck) {
        add("DryRunSteps", "cloudwatch:DescribeAlarms", recovery, Plane::Data, true);
        // Whether the health check follows the alarm: checked when Route 53 answers.
        add("DryRunSteps", "route53:GetHealthCheck", global, Plane::Control, false);
    }
    if has(DnsMode::RoutingControl) {
        add(
            "DryRunSteps",
            "route53-recovery-cluster:GetRoutingControlState",
            &cluster,
            Plane::Data,
            true,
        );
    }
    if !plan.databases.is_empty() {
        add("DryRunSteps", "rds:DescribeDBInstances", recovery, Plane::Control, true);
        add("DryRunSteps", "cloudwatch:GetMetricData", recovery, Plane::Data, true);
    }
    add(
        "CheckReadiness",
        "iam:SimulatePrincipalPolicy",
        global,
        Plane::Control,
        false,
    );

    // StartDnsFailover / CheckDnsFailover.
    for record in &plan.dns {
        match record.mode {
            DnsMode::Upsert => {
                add(
                    "StartDnsFailover",
                    "route53:ListResourceRecordSets",
                    global,
                    Plane::Control,
                    true,
                );
                add(
                    "StartDnsFailover",
                    "route53:ChangeResourceRecordSets",
                    global,
                    Plane::Control,
                    true,
                );
                add("CheckDnsFailover", "route53:GetChange", global, Plane::Control, true);
            }
            DnsMode::HealthCheckInversion => {
                add(
                    "StartDnsFailover",
                    "route53:GetHealthCheck",
                    global,
                    Plane::Control,
                    true,
                );
                add(
                    "StartDnsFailover",
                    "route53:UpdateHealthCheck",
                    global,
                    Plane::Control,
                    true,
                );
            }
            DnsMode::RoutingControl => {
                add(
                    "StartDnsFailover",
                    "route53-recovery-cluster:GetRoutingControlState",
                    &cluster,
                    Plane::Data,
                    true,
                );
                add(
                    "StartDnsFailover",
                    "route53-recovery-cluster:UpdateRoutingControlStates",
                    &cluster,
                    Plane::Data,
                    true,
                );
            }
            DnsMode::AlarmHealthCheck => {
                add(
                    "StartDnsFailover",
                    "cloudwatch:DescribeAlarms",
                    recovery,
                    Plane::Data,
                    true,
                );
                add(
                    "StartDnsFailover",
                    "cloudwatch:PutMetricData",
                    recovery,
                    Plane::Data,
                    true,
                );
                add(
                    "StartDnsFailover",
                    "cloudwatch:SetAlarmState",
                    recovery,
                    Plane::Data,
                    true,
                );
            }
        }
    }

    // StartDatabaseFailover / CheckDatabaseFailover.
    for db in &plan.databases {
        match db {
            Database::ReadReplica {
                source_identifier,
                isolation_security_group_id,
                ..
            } => {
                let old = writer_region(source_identifier).unwrap_or(primary);
                add(
                    "StartDatabaseFailover",
                    "rds:DescribeDBInstances",
                    old,
                    Plane::Control,
                    false,
                );
                add(
                    "StartDatabaseFailover",
                    "rds:ModifyDBParameterGroup",
                    old,
                    Plane::Control,
                    false,
                );
                if isolation_security_group_id.is_some() {
                    add(
                        "StartDatabaseFailover",
                        "rds:ModifyDBInstance",
                        old,
                        Plane::Control,
                        false,
                    );
                    add(
                        "CheckDatabaseFailover",
                        "rds:StopDBInstance",
                        old,
                        Plane::Control,
                        false,
                    );
                }
                add(
                    "StartDatabaseFailover",
                    "rds:PromoteReadReplica",
                    recovery,
                    Plane::Control,
                    true,
                );
            }
            Database::AuroraGlobal {
                isolation_security_group_id,
                ..
            } => {
                // The old writer cluster, read and fenced where it lives: best effort.
                add(
                    "StartDatabaseFailover",
                    "rds:DescribeDBClusters",
                    primary,
                    Plane::Control,
                    false,
                );
                if isolation_security_group_id.is_some() {
                    add(
                        "StartDatabaseFailover",
                        "rds:ModifyDBCluster",
                        primary,
                        Plane::Control,
                        false,
                    );
                }
                add(
                    "StartDatabaseFailover",
                    "rds:FailoverGlobalCluster",
                    recovery,
                    Plane::Control,
                    true,
                );
                add(
                    "CheckDatabaseFailover",
                    "rds:DescribeGlobalClusters",
                    recovery,
                    Plane::Control,
                    true,
                );
            }
            Database::PointInTimeRestore { .. } => {
                add(
                    "StartDatabaseFailover",
                    "rds:RestoreDBInstanceToPointInTime",
                    recovery,
                    Plane::Control,
                    true,
                );
            }
            Database::SnapshotRestore { .. } => {
                add(
                    "StartDatabaseFailover",
                    "rds:RestoreDBInstanceFromDBSnapshot",
                    recovery,
                    Plane::Control,
                    true,
                );
            }
        }
        add(
            "CheckDatabaseFailover",
            "rds:DescribeDBInstances",
            recovery,
            Plane::Control,
            true,
        );
    }

    // RestoreServices / CheckServices.
    for service in &plan.services {
        match service {
            Service::Ecs { .. } => {
                add("RestoreServices", "ecs:UpdateService", recovery, Plane::Control, true);
                add("CheckServices", "ecs:DescribeServices", recovery, Plane::Control, true);
            }
            Service::AutoScalingGroup { .. } => {
                add(
                    "RestoreServices",
                    "autoscaling:UpdateAutoScalingGroup",
                    recovery,
                    Plane::Control,
                    true,
                );
                add(
                    "CheckServices",
                    "autoscaling:DescribeAutoScalingGroups",
                    recovery,
                    Plane::Control,
                    true,
                );
            }
        }
    }

    // ValidateRecovery: each record where its mode switched it, the databases, the services.
    let dns_probes = plan.validation.probes.iter().any(|p| matches!(p, Probe::Dns { .. }));
    if has(DnsMode::Upsert) || dns_probes {
        add(
            "ValidateRecovery",
            "route53:ListResourceRecordSets",
            global,
            Plane::Control,
            true,
        );
    }
    if has(DnsMode::HealthCheckInversion) {
        add(
            "ValidateRecovery",
            "route53:GetHealthCheck",
            global,
            Plane::Control,
            true,
        );
    }
    if has(DnsMode::RoutingControl) {
        add(
            "ValidateRecovery",
            "route53-recovery-cluster:GetRoutingControlState",
            &cluster,
            Plane::Data,
            true,
        );
    }
    if has(DnsMode::AlarmHealthCheck) {
        add(
            "ValidateRecovery",
            "cloudwatch:DescribeAlarms",
            recovery,
            Plane::Data,
            true,
        );
    }

    // SendNotification.
    let topic_region = plan.notification.topic_arn.split(':').nth(3).unwrap_or(recovery);
    add("SendNotification", "sns:Publish", topic_region, Plane::Data, true);
    add("SendNotification", "dynamodb:DeleteItem", recovery, Plane::Data, true);
    out
}

fn writer_region(source: &str) -> Option<&str> {
    match source.split(':').collect::<Vec<_>>()[..] {
        ["arn", _, "rds", region, ..] if !region.is_empty() => Some(region),
        _ => None,
    }
}

/// One line per flag the plan has not acknowledged, for the readiness check.
pub fn open_flags(plan: &RecoveryPlan) -> Vec<String> {
    failover_dependencies(plan)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(primary: &str, mode: &str) -> RecoveryPlan {
        let mut plan: serde_json::Value =
            serde_json::from_str(include_str!("../../../examples/plan.json")).expect("example plan");
        plan["primaryRegion"] = serde_json::json!(primary);
        plan["acknowledgedDependencies"] = serde_json::json!([]);
        for record in plan["dns"].as_array_mut().into_iter().flatten() {
            record["mode"] = serde_json::json!(mode);
        }
        serde_json::from_value(plan).expect("plan")
    }

    #[test]
    fn a_us_east_1_primary_flags_the_route53_and_iam_control_planes() {
        let deps = failover_dependencies(&plan("us-east-1", "upsert"));
        let flagged: Vec<&str> = deps.iter().filter(|d| d.flagged).map(|d| d.operation).collect();
        for op in [
            "route53:ChangeResourceRecordSets",
            "route53:ListResourceRecordSets",
            "iam:SimulatePrincipalPolicy",
        ] {
            assert!(flagged.contains(&op), "{op} in {flagged:?}");
        }
        // The promotion and the services live in the recovery region.
        for op in ["rds:PromoteReadReplica", "ecs:UpdateService", "sns:Publish"] {
            assert!(!flagged.contains(&op), "{op} in {flagged:?}");
        }
        // Fencing and re-reading alarms in the primary are flagged, but best effort.
        let fence = deps
            .iter()
            .find(|d| d.operation == "rds:ModifyDBParameterGroup")
            .expect("fence");
        assert!(fence.flagged && !fence.blocking);
    }

    #[test]
    fn another_primary_region_leaves_route53_unflagged_and_acknowledgements_close_flags() {
        let mut p = plan("eu-west-1", "healthCheckInversion");
        let deps = failover_dependencies(&p);
        let check = deps
            .iter()
            .find(|d| d.operation == "route53:UpdateHealthCheck")
            .expect("health check");
        assert_eq!((check.region.as_str(), check.flagged), ("us-east-1", false));
        assert!(deps.iter().all(|d| d.operation != "route53:ChangeResourceRecordSets"));

        let mut q = plan("us-east-1", "upsert");
        assert!(!open_flags(&q).is_empty());
        q.acknowledged_dependencies = failover_dependencies(&q)
            .iter()
            .filter(|d| d.flagged)
            .map(|d| d.operation.to_string())
            .collect();
        assert_eq!(open_flags(&q), Vec::<String>::new());
        p.acknowledged_dependencies = vec!["route53:UpdateHealthCheck".into()];
        assert!(failover_dependencies(&p).iter().any(|d| d.acknowledged));
    }

    fn data_plane_plan(cluster_regions: &[&str]) -> RecoveryPlan {
        let mut plan: serde_json::Value =
            serde_json::from_str(include_str!("../../../examples/plan.json")).expect("example plan");
        plan["acknowledgedDependencies"] = serde_json::json!([]);
        plan["validation"]["probes"] = serde_json::json!([]);
        let endpoints: Vec<serde_json::Value> = cluster_regions
            .iter()
            .map(|r| serde_json::json!({"region": r, "url": format!("https://host.{r}.example.com/v1")}))
            .collect();
        plan["routingControlCluster"] = serde_json::json!({ "endpoints": endpoints });
        plan["dns"] = serde_json::json!([
            {"hostedZoneId": "Z1", "name": "api.orders.example.com.", "type": "CNAME", "mode": "routingControl",
             "primaryRoutingControlArn": "arn:aws:route53-recovery-control::111122223333:controlpanel/cp/routingcontrol/a",
             "recoveryRoutingControlArn": "arn:aws:route53-recovery-control::111122223333:controlpanel/cp/routingcontrol/b"},
            {"hostedZoneId": "Z1", "name": "pay.orders.example.com.", "type": "A", "mode": "alarmHealthCheck",
             "alarmName": "orders-primary-gate", "healthCheckId": "hc-1"}
        ]);
        RecoveryPlan::from_value(&plan).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn data_plane_dns_modes_fail_over_without_route53s_control_plane() {
        let deps = failover_dependencies(&data_plane_plan(&["us-west-2", "eu-west-1", "us-east-1"]));
        let dns: Vec<(&str, &str, bool)> = deps
            .iter()
            .filter(|d| d.step == "StartDnsFailover")
            .map(|d| (d.operation, d.region.as_str(), d.flagged))
            .collect();
        assert_eq!(
            dns,
            vec![
                (
                    "route53-recovery-cluster:GetRoutingControlState",
                    "us-west-2 or eu-west-1 or us-east-1",
                    false
                ),
                (
                    "route53-recovery-cluster:UpdateRoutingControlStates",
                    "us-west-2 or eu-west-1 or us-east-1",
                    false
                ),
                ("cloudwatch:DescribeAlarms", "us-west-2", false),
                ("cloudwatch:PutMetricData", "us-west-2", false),
                ("cloudwatch:SetAlarmState", "us-west-2", false),
            ]
        );
        // Route 53 is read only to check the alarm's wiring beforehand, best effort.
        let route53: Vec<&Dependency> = deps.iter().filter(|d| d.operation.starts_with("route53:")).collect();
        assert_eq!(route53.len(), 1, "{route53:?}");
        assert_eq!(
            (route53[0].operation, route53[0].blocking),
            ("route53:GetHealthCheck", false)
        );
    }

    #[test]
    fn a_cluster_whose_every_endpoint_is_in_the_primary_is_flagged() {
        let deps = failover_dependencies(&data_plane_plan(&["us-east-1"]));
        let update = deps
            .iter()
            .find(|d| d.operation == "route53-recovery-cluster:UpdateRoutingControlStates")
            .expect("update");
        assert!(update.flagged && update.blocking, "{update:?}");
    }
}
