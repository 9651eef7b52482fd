//! The disasters a drill can rehearse, and the start each one makes.

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// The primary region fails: alarms fire, DNS, the database and services move to the recovery region.
    RegionOutage,
    /// AWS Health reports an Availability Zone failure in the primary region: the same failover.
    AzOutage,
    /// Bad writes reached the database: restore to a point before detection, never promote the
    /// replica that copied them.
    DataCorruption,
    /// A planned move with both regions healthy: the replica has caught up, no data is lost.
    Switchover,
    /// After a region-outage failover, the primary region is back: DNS returns to it and a
    /// replica built there from the recovery-region writer is promoted, with no data lost.
    Failback,
    /// After a region-outage failover, the primary region answers again: `rebound reprotect`
    /// builds a replica of the recovery-region writer there, waits until it replicates, and
    /// the failback's readiness check finds everything ready. No traffic or writer moves.
    Reprotect,
    /// One service in the primary region fails: only that service is restored in the recovery
    /// region; DNS and the database stay where they are.
    ServiceOutage,
    /// The scheduled read-only check: everything a failover would touch is checked, nothing
    /// changes, and nobody is notified while all is ready.
    ReadinessCheck,
    /// A security incident in the primary region: the failover waits for a human's approval
    /// (given at once in a drill), then runs.
    SecurityIncident,
    /// A region outage while the replica is 21 minutes behind (RPO target 15): the readiness
    /// check refuses, people are told why, and nothing changes.
    LaggingReplica,
    /// The primary region still answers, slowly (1.5 s a call), and RDS there throttles: the
    /// failover, the fence included, goes through it.
    DegradedPrimary,
    /// us-east-1, the primary, is gone with the Route 53 and IAM control planes homed there:
    /// every call signed for it is cut. DNS fails over in Route 53's data plane, through the
    /// alarm in us-west-2 that the primary records' health check follows.
    #[value(name = "us-east-1-outage")]
    UsEast1Outage,
    /// The region-outage alarms for an application on an Aurora global database, its primary
    /// region still answering: the old writer cluster is fenced read-only in its own cluster
    /// parameter group, the global database fails over to us-west-2, and its replication lag
    /// (4 s) is the RPO.
    AuroraGlobal,
    /// A region outage for an application that also runs on EKS, keeps its sessions in an
    /// ElastiCache global datastore, its carts in a MemoryDB multi-Region cluster and its catalog
    /// in a DocumentDB global cluster: with the primary cut, the recovery cluster's managed node
    /// group is scaled up, the datastore's us-west-2 member made the primary, the carts' us-west-2
    /// cluster used as it is and the catalog failed over (their lags in the RPO), beside the
    /// database, DNS and services.
    EksAndCache,
    /// A region outage an operator takes the wheel of: paused before its first change (nothing
    /// changes while it is), resumed, and the cache warm-up custom action, hung, skipped while
    /// it hangs; the recovery goes on and reports it skipped, never as passed.
    OperatorSteers,
}

impl Scenario {
    pub const ALL: [Scenario; 15] = [
        Scenario::RegionOutage,
        Scenario::AzOutage,
        Scenario::DataCorruption,
        Scenario::Switchover,
        Scenario::Failback,
        Scenario::Reprotect,
        Scenario::ServiceOutage,
        Scenario::ReadinessCheck,
        Scenario::SecurityIncident,
        Scenario::LaggingReplica,
        Scenario::DegradedPrimary,
        Scenario::UsEast1Outage,
        Scenario::AuroraGlobal,
        Scenario::EksAndCache,
        Scenario::OperatorSteers,
    ];

    /// Whether every primary-region API is cut once the alarms have fired (the fault proxy
    /// refuses its connections).
    pub(super) fn cuts_the_primary(self) -> bool {
        matches!(
            self,
            Scenario::RegionOutage | Scenario::UsEast1Outage | Scenario::OperatorSteers | Scenario::EksAndCache
        )
    }

    /// Whether DNS fails over without Route 53's control plane (`alarmHealthCheck` records).
    pub(super) fn data_plane_dns(self) -> bool {
        self == Scenario::UsEast1Outage
    }

    /// The faults the scenario itself brings, from the moment the disaster is injected.
    pub fn faults(self) -> Vec<Fault> {
        // A region outage elsewhere than us-east-1 leaves the global control planes answering.
        let spared = ["route53", "iam", "sts"];
        match self {
            Scenario::UsEast1Outage => vec![Fault::reset().region(PRIMARY)],
            Scenario::OperatorSteers => {
                // The drain's Invoke goes through; the warm-up's hangs past its timeout.
                let invoke = |f: Fault| f.service("lambda").region(RECOVERY).operation("Invoke");
                vec![
                    invoke(Fault::latency(0)).times(1),
                    invoke(Fault::timeout(30)),
                    Fault::reset().region(PRIMARY).except(&spared),
                ]
            }
            _ if self.cuts_the_primary() => vec![Fault::reset().region(PRIMARY).except(&spared)],
            Scenario::DegradedPrimary => vec![
                Fault::throttle().service("rds").region(PRIMARY).times(2),
                Fault::latency(1500).region(PRIMARY).except(&spared),
            ],
            _ => Vec::new(),
        }
    }

    /// Whether the recovery is meant to be refused (and nothing changed).
    pub(super) fn refused(self) -> bool {
        self == Scenario::LaggingReplica
    }

    /// Whether traffic and the database move between regions.
    pub(super) fn moves_region(self) -> bool {
        !matches!(
            self,
            Scenario::ServiceOutage | Scenario::ReadinessCheck | Scenario::LaggingReplica
        )
    }

    /// The path the detector should choose.
    pub(super) fn expected_path(self) -> &'static str {
        match self {
            Scenario::ServiceOutage => "serviceRestore",
            Scenario::ReadinessCheck => "readinessCheck",
            Scenario::Reprotect => "reprotect",
            _ => "failover",
        }
    }

    /// The replica's lag when the disaster strikes.
    pub(super) fn replica_lag(self) -> f64 {
        match self {
            Scenario::Switchover => 0.0,
            Scenario::LaggingReplica => 1260.0,
            _ => 4.0,
        }
    }

    pub(super) fn expected_type(self) -> &'static str {
        match self {
            Scenario::RegionOutage | Scenario::Switchover | Scenario::Failback | Scenario::Reprotect => "regionOutage",
            Scenario::AzOutage => "azOutage",
            Scenario::DataCorruption => "dataCorruption",
            Scenario::ServiceOutage => "serviceOutage",
            Scenario::ReadinessCheck
            | Scenario::LaggingReplica
            | Scenario::DegradedPrimary
            | Scenario::UsEast1Outage
            | Scenario::AuroraGlobal
            | Scenario::EksAndCache
            | Scenario::OperatorSteers => "regionOutage",
            Scenario::SecurityIncident => "securityIncident",
        }
    }
}
