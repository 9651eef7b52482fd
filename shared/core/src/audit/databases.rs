//! The static-stability audit's database phase: StartDatabaseFailover and CheckDatabaseFailover
//! (each database, the old writers' fences, the global tables and datastores, the writer
//! endpoints).

use super::{writer_region, Found, Plane, GLOBAL_CONTROL_PLANE_REGION};
use crate::plan::{Database, WriterEndpoint};

pub(super) fn databases(f: &mut Found) {
    let plan = f.plan;
    let primary = plan.primary_region.as_str();
    let recovery = plan.recovery_region.as_str();
    let global = GLOBAL_CONTROL_PLANE_REGION;
    // A resource in another account: its role assumed first, through STS's regional endpoint in
    // the recovery region, by every step that reads or acts on it.
    let elsewhere = plan.databases.iter().any(|db| db.account().is_some())
        || plan.global_tables.iter().any(|t| t.account.is_some())
        || plan.global_datastores.iter().any(|d| d.account.is_some())
        || plan.multi_region_clusters.iter().any(|c| c.account.is_some());
    if elsewhere {
        f.assumes_role(&[
            "DryRunSteps",
            "StartDatabaseFailover",
            "CheckDatabaseFailover",
            "ValidateRecovery",
        ]);
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
                f.add(
                    "StartDatabaseFailover",
                    "rds:DescribeDBInstances",
                    old,
                    Plane::Control,
                    false,
                );
                f.add(
                    "StartDatabaseFailover",
                    "rds:ModifyDBParameterGroup",
                    old,
                    Plane::Control,
                    false,
                );
                if isolation_security_group_id.is_some() {
                    f.add(
                        "StartDatabaseFailover",
                        "rds:ModifyDBInstance",
                        old,
                        Plane::Control,
                        false,
                    );
                    f.add(
                        "CheckDatabaseFailover",
                        "rds:StopDBInstance",
                        old,
                        Plane::Control,
                        false,
                    );
                }
                // The replica is tagged with the recovery before it is promoted, so that a
                // promotion under way is known as this recovery's own.
                f.add(
                    "StartDatabaseFailover",
                    "rds:AddTagsToResource",
                    recovery,
                    Plane::Control,
                    true,
                );
                f.add(
                    "StartDatabaseFailover",
                    "rds:PromoteReadReplica",
                    recovery,
                    Plane::Control,
                    true,
                );
            }
            Database::AuroraGlobal {
                isolation_security_group_id,
                engine,
                ..
            } => {
                // The old writer cluster, read and fenced where it lives: best effort. DocumentDB
                // and Neptune share RDS's endpoint and `rds:` actions; they have no read-only
                // parameter, so their fence is the isolation security group alone.
                f.add(
                    "StartDatabaseFailover",
                    "rds:DescribeDBClusters",
                    primary,
                    Plane::Control,
                    false,
                );
                if engine.is_aurora() {
                    f.add(
                        "StartDatabaseFailover",
                        "rds:ModifyDBClusterParameterGroup",
                        primary,
                        Plane::Control,
                        false,
                    );
                }
                if isolation_security_group_id.is_some() {
                    f.add(
                        "StartDatabaseFailover",
                        "rds:ModifyDBCluster",
                        primary,
                        Plane::Control,
                        false,
                    );
                }
                f.add(
                    "StartDatabaseFailover",
                    "rds:FailoverGlobalCluster",
                    recovery,
                    Plane::Control,
                    true,
                );
                f.add(
                    "CheckDatabaseFailover",
                    "rds:DescribeGlobalClusters",
                    recovery,
                    Plane::Control,
                    true,
                );
                if !engine.is_aurora() {
                    // Their lag series are listed before they are read.
                    f.add(
                        "StartDatabaseFailover",
                        "cloudwatch:ListMetrics",
                        recovery,
                        Plane::Data,
                        true,
                    );
                }
            }
            Database::PointInTimeRestore { .. } => {
                f.add(
                    "StartDatabaseFailover",
                    "rds:RestoreDBInstanceToPointInTime",
                    recovery,
                    Plane::Control,
                    true,
                );
            }
            Database::SnapshotRestore { .. } => {
                f.add(
                    "StartDatabaseFailover",
                    "rds:RestoreDBInstanceFromDBSnapshot",
                    recovery,
                    Plane::Control,
                    true,
                );
            }
        }
        f.add(
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
        f.add(
            "StartDatabaseFailover",
            "dynamodb:DescribeTable",
            recovery,
            Plane::Control,
            true,
        );
        f.add(
            "StartDatabaseFailover",
            "cloudwatch:GetMetricData",
            primary,
            Plane::Data,
            false,
        );
        f.add(
            "ValidateRecovery",
            "dynamodb:DescribeTable",
            recovery,
            Plane::Control,
            true,
        );
    }

    // Each global datastore: read, its lag read, and failed over, all in the recovery region
    // (the member there is made the primary without the failed one); polled there; validated.
    if !plan.global_datastores.is_empty() {
        for (phase, operation, plane) in [
            (
                "StartDatabaseFailover",
                "elasticache:DescribeGlobalReplicationGroups",
                Plane::Control,
            ),
            (
                "StartDatabaseFailover",
                "elasticache:DescribeReplicationGroups",
                Plane::Control,
            ),
            ("StartDatabaseFailover", "cloudwatch:GetMetricData", Plane::Data),
            (
                "StartDatabaseFailover",
                "elasticache:FailoverGlobalReplicationGroup",
                Plane::Control,
            ),
            (
                "CheckDatabaseFailover",
                "elasticache:DescribeGlobalReplicationGroups",
                Plane::Control,
            ),
            (
                "ValidateRecovery",
                "elasticache:DescribeGlobalReplicationGroups",
                Plane::Control,
            ),
            (
                "ValidateRecovery",
                "elasticache:DescribeReplicationGroups",
                Plane::Control,
            ),
        ] {
            f.add(phase, operation, recovery, plane, true);
        }
    }

    // Each multi-Region cluster: read, and its lag listed and read, in the recovery region
    // (active-active: nothing is asked of the failed one); validated there.
    if !plan.multi_region_clusters.is_empty() {
        for (phase, operation, plane) in [
            (
                "StartDatabaseFailover",
                "memorydb:DescribeMultiRegionClusters",
                Plane::Control,
            ),
            ("StartDatabaseFailover", "cloudwatch:ListMetrics", Plane::Data),
            ("StartDatabaseFailover", "cloudwatch:GetMetricData", Plane::Data),
            (
                "ValidateRecovery",
                "memorydb:DescribeMultiRegionClusters",
                Plane::Control,
            ),
            ("ValidateRecovery", "memorydb:DescribeClusters", Plane::Control),
        ] {
            f.add(phase, operation, recovery, plane, true);
        }
    }

    // CheckDatabaseFailover: each writer endpoint, pointed at the new writer; one in another
    // account (a parameter, a secret, a CNAME's zone) as its role, assumed through the recovery
    // region's STS first.
    if plan.writer_endpoints.iter().any(|e| e.account().is_some()) {
        f.assumes_role(&[
            "DryRunSteps",
            "StartDatabaseFailover",
            "CheckDatabaseFailover",
            "ValidateRecovery",
        ]);
    }
    for endpoint in &plan.writer_endpoints {
        let (operation, region) = match endpoint {
            WriterEndpoint::SsmParameter { .. } => ("ssm:PutParameter", endpoint.region(recovery)),
            WriterEndpoint::Secret { .. } => ("secretsmanager:PutSecretValue", endpoint.region(recovery)),
            WriterEndpoint::Cname { .. } => ("route53:ChangeResourceRecordSets", None),
        };
        f.add(
            "CheckDatabaseFailover",
            operation,
            region.unwrap_or(global),
            Plane::Control,
            true,
        );
    }
}
