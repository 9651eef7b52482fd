//! The static-stability audit: every AWS operation a plan's failover path calls, the region
//! whose control or data plane answers it, and a flag on each that depends on the failed
//! (primary) region, including the global control planes homed in us-east-1 (Route 53's and
//! IAM's) when the primary is us-east-1. Pure: it reads the plan, nothing else.

use serde::Serialize;

use crate::plan::{ActionPoint, Database, DnsMode, Probe, RecoveryPlan, Service, WriterEndpoint};

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
    // Services sized from the primary's peak: read there (best effort), kept and read back in
    // the recovery region; the recovery region's quotas for what the recovery adds.
    if plan.services.iter().any(|s| s.from_peak().is_some()) {
        add(
            "CheckReadiness",
            "cloudwatch:GetMetricData",
            primary,
            Plane::Data,
            false,
        );
        add(
            "CheckReadiness",
            "cloudwatch:PutMetricData",
            recovery,
            Plane::Data,
            false,
        );
    }
    let ecs = plan.services.iter().any(|s| matches!(s, Service::Ecs { .. }));
    let restores = plan.databases.iter().any(|d| {
        matches!(
            d,
            Database::PointInTimeRestore { .. } | Database::SnapshotRestore { .. }
        )
    });
    if ecs {
        add(
            "CheckReadiness",
            "ecs:DescribeTaskDefinition",
            recovery,
            Plane::Control,
            true,
        );
    }
    if ecs || restores {
        add(
            "CheckReadiness",
            "servicequotas:GetServiceQuota",
            recovery,
            Plane::Control,
            true,
        );
        add(
            "CheckReadiness",
            "cloudwatch:GetMetricData",
            recovery,
            Plane::Data,
            true,
        );
    }

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
                // The replica is tagged with the recovery before it is promoted, so that a
                // promotion under way is known as this recovery's own.
                add(
                    "StartDatabaseFailover",
                    "rds:AddTagsToResource",
                    recovery,
                    Plane::Control,
                    true,
                );
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
                add(
                    "StartDatabaseFailover",
                    "rds:ModifyDBClusterParameterGroup",
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

    // StartDatabaseFailover: each global table's replica where the application moves, and its
    // replication latency from the primary (best effort: the primary may be down).
    if !plan.global_tables.is_empty() {
        add(
            "StartDatabaseFailover",
            "dynamodb:DescribeTable",
            recovery,
            Plane::Control,
            true,
        );
        add(
            "StartDatabaseFailover",
            "cloudwatch:GetMetricData",
            primary,
            Plane::Data,
            false,
        );
        add(
            "ValidateRecovery",
            "dynamodb:DescribeTable",
            recovery,
            Plane::Control,
            true,
        );
    }

    // CheckDatabaseFailover: each writer endpoint, pointed at the new writer.
    for endpoint in &plan.writer_endpoints {
        let (operation, region) = match endpoint {
            WriterEndpoint::SsmParameter { .. } => ("ssm:PutParameter", endpoint.region(recovery)),
            WriterEndpoint::Secret { .. } => ("secretsmanager:PutSecretValue", endpoint.region(recovery)),
            WriterEndpoint::Cname { .. } => ("route53:ChangeResourceRecordSets", None),
        };
        add(
            "CheckDatabaseFailover",
            operation,
            region.unwrap_or(global),
            Plane::Control,
            true,
        );
    }

    // AddCapacity / CheckCapacity beside the failover; RestoreWriterServices /
    // CheckWriterServices for what waits for the writer.
    let stage_states = |needs_writer: bool| {
        if needs_writer {
            ("RestoreWriterServices", "CheckWriterServices")
        } else {
            ("AddCapacity", "CheckCapacity")
        }
    };
    for service in &plan.services {
        let (start, check) = stage_states(service.needs_writer());
        let (update, describe) = match service {
            Service::Ecs { .. } => ("ecs:UpdateService", "ecs:DescribeServices"),
            Service::AutoScalingGroup { .. } => (
                "autoscaling:UpdateAutoScalingGroup",
                "autoscaling:DescribeAutoScalingGroups",
            ),
        };
        add(start, update, recovery, Plane::Control, true);
        add(check, describe, recovery, Plane::Control, true);
        if service.from_peak().is_some() {
            add(start, "cloudwatch:GetMetricData", recovery, Plane::Data, true);
        }
    }

    // The plan's custom actions: each function invoked where it lives; the recovery waits for it.
    for action in &plan.custom_actions {
        let state = match action.at {
            ActionPoint::BeforeFailover => "BeforeFailoverActions",
            ActionPoint::AfterDatabases => "AfterDatabasesActions",
            ActionPoint::AfterServices => "AfterServicesActions",
            ActionPoint::BeforeValidation => "BeforeValidationActions",
        };
        let region = action.function_arn.split(':').nth(3).unwrap_or(recovery);
        add(state, "lambda:InvokeFunction", region, Plane::Data, true);
    }

    // Each consumer off in the primary (best effort), on in the recovery region.
    for mapping in &plan.event_source_mappings {
        let (start, _) = stage_states(mapping.needs_writer);
        if mapping.primary_uuid.is_some() {
            for (step, operation) in [
                (start, "lambda:GetEventSourceMapping"),
                (start, "lambda:UpdateEventSourceMapping"),
                ("ValidateRecovery", "lambda:GetEventSourceMapping"),
            ] {
                add(step, operation, primary, Plane::Control, false);
            }
        }
        if mapping.recovery_uuid.is_some() {
            add(start, "lambda:UpdateEventSourceMapping", recovery, Plane::Control, true);
            add(
                "ValidateRecovery",
                "lambda:GetEventSourceMapping",
                recovery,
                Plane::Control,
                true,
            );
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
    // The execution's report, in Rebound's own bucket; a failed write is said in the message.
    add("SendNotification", "s3:PutObject", recovery, Plane::Data, false);
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
mod tests;
