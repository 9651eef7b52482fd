//! The static-stability audit's phases, in the failover path's order: what each state calls,
//! and where that is answered.

use super::{cluster, has, Found, Plane, GLOBAL_CONTROL_PLANE_REGION};
use crate::plan::{ActionPoint, Database, DnsMode, Probe, Service};

pub(super) fn detection(f: &mut Found) {
    let plan = f.plan;
    let stack = f.stack;
    // DetectDisaster: the plan, the recovery table, and a re-read of the signals.
    f.add("DetectDisaster", "ssm:GetParameter", stack, Plane::Data, true);
    f.add("DetectDisaster", "dynamodb:PutItem", stack, Plane::Data, true);
    for alarm in &plan.detection.alarms {
        f.add(
            "DetectDisaster",
            "cloudwatch:DescribeAlarms",
            plan.signal_region(&alarm.region),
            Plane::Data,
            false,
        );
    }
    for metric in &plan.detection.metrics {
        f.add(
            "DetectDisaster",
            "cloudwatch:GetMetricData",
            plan.signal_region(&metric.region),
            Plane::Data,
            false,
        );
    }
}

pub(super) fn readiness(f: &mut Found) {
    let plan = f.plan;
    let recovery = plan.recovery_region.as_str();
    let global = GLOBAL_CONTROL_PLANE_REGION;
    let cluster = cluster(plan);
    // DryRunSteps: every step's reads and the fences' reads; CheckReadiness: the acting roles'
    // permissions.
    if has(plan, DnsMode::Upsert) {
        f.add(
            "DryRunSteps",
            "route53:ListResourceRecordSets",
            global,
            Plane::Control,
            true,
        );
    }
    if has(plan, DnsMode::HealthCheckInversion) {
        f.add("DryRunSteps", "route53:GetHealthCheck", global, Plane::Control, true);
    }
    if has(plan, DnsMode::AlarmHealthCheck) {
        f.add("DryRunSteps", "cloudwatch:DescribeAlarms", recovery, Plane::Data, true);
        // Whether the health check follows the alarm: checked when Route 53 answers.
        f.add("DryRunSteps", "route53:GetHealthCheck", global, Plane::Control, false);
    }
    if has(plan, DnsMode::RoutingControl) {
        f.add(
            "DryRunSteps",
            "route53-recovery-cluster:GetRoutingControlState",
            &cluster,
            Plane::Data,
            true,
        );
    }
    if !plan.databases.is_empty() {
        f.add("DryRunSteps", "rds:DescribeDBInstances", recovery, Plane::Control, true);
        f.add("DryRunSteps", "cloudwatch:GetMetricData", recovery, Plane::Data, true);
    }
    f.add(
        "CheckReadiness",
        "iam:SimulatePrincipalPolicy",
        global,
        Plane::Control,
        false,
    );
}

pub(super) fn capacity_sources(f: &mut Found) {
    let plan = f.plan;
    let primary = plan.primary_region.as_str();
    let recovery = plan.recovery_region.as_str();
    // Services sized from the primary's peak: read there (best effort), kept and read back in
    // the recovery region; the recovery region's quotas for what the recovery adds.
    if plan.services.iter().any(|s| s.from_peak().is_some()) {
        f.add(
            "CheckReadiness",
            "cloudwatch:GetMetricData",
            primary,
            Plane::Data,
            false,
        );
        f.add(
            "CheckReadiness",
            "cloudwatch:PutMetricData",
            recovery,
            Plane::Data,
            false,
        );
    }
    // A node group's peak is its Auto Scaling groups', which EKS names in the primary.
    if plan
        .services
        .iter()
        .any(|s| matches!(s, Service::EksNodegroup { capacity: Some(_), .. }))
    {
        f.add(
            "CheckReadiness",
            "eks:DescribeNodegroup",
            primary,
            Plane::Control,
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
        f.add(
            "CheckReadiness",
            "ecs:DescribeTaskDefinition",
            recovery,
            Plane::Control,
            true,
        );
    }
    let groups = plan
        .services
        .iter()
        .any(|s| matches!(s, Service::AutoScalingGroup { .. }));
    if groups {
        // What a group launches, and how many vCPUs each instance counts against its quota.
        for operation in [
            "autoscaling:DescribeLaunchConfigurations",
            "ec2:DescribeLaunchTemplateVersions",
            "ec2:DescribeInstanceTypes",
        ] {
            f.add("CheckReadiness", operation, recovery, Plane::Control, true);
        }
    }
    if plan.services.iter().any(|s| !s.capacity_reservations().is_empty()) {
        f.add(
            "CheckReadiness",
            "ec2:DescribeCapacityReservations",
            recovery,
            Plane::Control,
            true,
        );
    }
    if ecs || groups || restores {
        f.add(
            "CheckReadiness",
            "servicequotas:GetServiceQuota",
            recovery,
            Plane::Control,
            true,
        );
        f.add(
            "CheckReadiness",
            "cloudwatch:GetMetricData",
            recovery,
            Plane::Data,
            true,
        );
    }
}

pub(super) fn dns(f: &mut Found) {
    let plan = f.plan;
    let recovery = plan.recovery_region.as_str();
    let global = GLOBAL_CONTROL_PLANE_REGION;
    let cluster = cluster(plan);
    // A zone in another account: its role, every start and check.
    if plan.dns.iter().any(|r| r.account.is_some()) {
        f.assumes_role(&["StartDnsFailover", "CheckDnsFailover"]);
    }
    if plan.zones().any(|(_, account)| account.is_some()) {
        f.assumes_role(&["ValidateRecovery"]);
    }
    // A routing control cluster in another account: its role, before every read and switch.
    if has(plan, DnsMode::RoutingControl)
        && plan
            .routing_control_cluster
            .as_ref()
            .is_some_and(|c| c.account.is_some())
    {
        f.assumes_role(&[
            "DryRunSteps",
            "StartDnsFailover",
            "CheckDnsFailover",
            "ValidateRecovery",
        ]);
    }
    // StartDnsFailover / CheckDnsFailover.
    for record in &plan.dns {
        match record.mode {
            DnsMode::Upsert => {
                f.add(
                    "StartDnsFailover",
                    "route53:ListResourceRecordSets",
                    global,
                    Plane::Control,
                    true,
                );
                f.add(
                    "StartDnsFailover",
                    "route53:ChangeResourceRecordSets",
                    global,
                    Plane::Control,
                    true,
                );
                f.add("CheckDnsFailover", "route53:GetChange", global, Plane::Control, true);
            }
            DnsMode::HealthCheckInversion => {
                f.add(
                    "StartDnsFailover",
                    "route53:GetHealthCheck",
                    global,
                    Plane::Control,
                    true,
                );
                f.add(
                    "StartDnsFailover",
                    "route53:UpdateHealthCheck",
                    global,
                    Plane::Control,
                    true,
                );
            }
            DnsMode::RoutingControl => {
                f.add(
                    "StartDnsFailover",
                    "route53-recovery-cluster:GetRoutingControlState",
                    &cluster,
                    Plane::Data,
                    true,
                );
                f.add(
                    "StartDnsFailover",
                    "route53-recovery-cluster:UpdateRoutingControlStates",
                    &cluster,
                    Plane::Data,
                    true,
                );
            }
            DnsMode::AlarmHealthCheck => {
                f.add(
                    "StartDnsFailover",
                    "cloudwatch:DescribeAlarms",
                    recovery,
                    Plane::Data,
                    true,
                );
                f.add(
                    "StartDnsFailover",
                    "cloudwatch:PutMetricData",
                    recovery,
                    Plane::Data,
                    true,
                );
                f.add(
                    "StartDnsFailover",
                    "cloudwatch:SetAlarmState",
                    recovery,
                    Plane::Data,
                    true,
                );
            }
        }
    }
}

pub(super) fn services(f: &mut Found) {
    let plan = f.plan;
    let primary = plan.primary_region.as_str();
    let recovery = plan.recovery_region.as_str();
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
            Service::EksNodegroup { .. } => ("eks:UpdateNodegroupConfig", "eks:DescribeNodegroup"),
            // The cluster's own API server, in the recovery region, found through EKS.
            Service::EksDeployment { .. } => ("kubernetes:PatchDeployment", "kubernetes:GetDeployment"),
        };
        f.add(start, update, recovery, Plane::Control, true);
        f.add(check, describe, recovery, Plane::Control, true);
        if let Service::EksDeployment { .. } = service {
            f.add(start, "eks:DescribeCluster", recovery, Plane::Control, true);
            f.add(check, "eks:DescribeCluster", recovery, Plane::Control, true);
        }
        if let Service::EksNodegroup { .. } = service {
            // Its cluster serving, and its nodes: the group EKS runs it in.
            f.add(start, "eks:DescribeCluster", recovery, Plane::Control, true);
            f.add(
                check,
                "autoscaling:DescribeAutoScalingGroups",
                recovery,
                Plane::Control,
                true,
            );
        }
        if service.from_peak().is_some() {
            f.add(start, "cloudwatch:GetMetricData", recovery, Plane::Data, true);
        }
        // In another account: its role, by every step that reads or scales it.
        if service.account().is_some() {
            f.assumes_role(&["DryRunSteps", start, check, "ValidateRecovery"]);
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
        // A function given by name is invoked where the state machine runs.
        let region = action.function_arn.split(':').nth(3).unwrap_or(f.stack);
        f.add(state, "lambda:InvokeFunction", region, Plane::Data, true);
    }

    // Each consumer off in the primary (best effort), on in the recovery region.
    for mapping in &plan.event_source_mappings {
        let (start, check) = stage_states(mapping.needs_writer);
        // In another account: its role, by every step that reads or moves it.
        if mapping.account.is_some() {
            f.assumes_role(&["DryRunSteps", start, check, "ValidateRecovery"]);
        }
        if mapping.primary_uuid.is_some() {
            for (step, operation) in [
                (start, "lambda:GetEventSourceMapping"),
                (start, "lambda:UpdateEventSourceMapping"),
                ("ValidateRecovery", "lambda:GetEventSourceMapping"),
            ] {
                f.add(step, operation, primary, Plane::Control, false);
            }
        }
        if mapping.recovery_uuid.is_some() {
            f.add(start, "lambda:UpdateEventSourceMapping", recovery, Plane::Control, true);
            f.add(
                "ValidateRecovery",
                "lambda:GetEventSourceMapping",
                recovery,
                Plane::Control,
                true,
            );
        }
    }
}

pub(super) fn validation(f: &mut Found) {
    let plan = f.plan;
    let recovery = plan.recovery_region.as_str();
    let global = GLOBAL_CONTROL_PLANE_REGION;
    let cluster = cluster(plan);
    // ValidateRecovery: each record where its mode switched it, the databases, the services.
    let dns_probes = plan.validation.probes.iter().any(|p| matches!(p, Probe::Dns { .. }));
    if has(plan, DnsMode::Upsert) || dns_probes {
        f.add(
            "ValidateRecovery",
            "route53:ListResourceRecordSets",
            global,
            Plane::Control,
            true,
        );
    }
    if has(plan, DnsMode::HealthCheckInversion) {
        f.add(
            "ValidateRecovery",
            "route53:GetHealthCheck",
            global,
            Plane::Control,
            true,
        );
    }
    if has(plan, DnsMode::RoutingControl) {
        f.add(
            "ValidateRecovery",
            "route53-recovery-cluster:GetRoutingControlState",
            &cluster,
            Plane::Data,
            true,
        );
    }
    if has(plan, DnsMode::AlarmHealthCheck) {
        f.add(
            "ValidateRecovery",
            "cloudwatch:DescribeAlarms",
            recovery,
            Plane::Data,
            true,
        );
    }
}

pub(super) fn notification(f: &mut Found) {
    let plan = f.plan;
    let stack = f.stack;
    // SendNotification.
    let topic_region = plan.notification.topic_arn.split(':').nth(3).unwrap_or(stack);
    f.add("SendNotification", "sns:Publish", topic_region, Plane::Data, true);
    f.add("SendNotification", "dynamodb:DeleteItem", stack, Plane::Data, true);
    // The execution's report, in Rebound's own bucket; a failed write is said in the message.
    f.add("SendNotification", "s3:PutObject", stack, Plane::Data, false);
}
