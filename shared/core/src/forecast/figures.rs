//! How long each AWS operation of a recovery takes, and where each figure comes from. A figure
//! AWS documents says so and quotes it; a default is AWS's default setting; an estimate is ours,
//! said to be one, to be replaced by what a game day measures.

/// What a figure rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Basis {
    /// AWS documents the time.
    Documented,
    /// AWS's default setting gives the time.
    Default,
    /// Rebound's own state machine (its Wait states) or the plan sets it.
    Rebound,
    /// No AWS figure: an estimate, to be replaced by a measured one.
    Estimate,
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Figure {
    pub key: &'static str,
    pub seconds: f64,
    pub basis: Basis,
    /// What the figure is, and the words of the source where it has some.
    pub what: &'static str,
    pub source: &'static str,
}

pub const ROUTE53_INSYNC: Figure = Figure {
    key: "route53-insync",
    seconds: 60.0,
    basis: Basis::Documented,
    what: "a Route 53 record change reaches INSYNC: \"Changes generally propagate to all Route 53 name servers within 60 seconds.\"",
    source: "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/resource-record-sets-editing.html",
};

pub const HEALTH_CHECK_FAILOVER: Figure = Figure {
    key: "route53-health-check",
    seconds: 90.0,
    basis: Basis::Default,
    what: "a Route 53 health check turns unhealthy and DNS answers fail over (data plane): request interval 30 s x failure threshold 3, the defaults",
    source: "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/health-checks-creating-values.html",
};

pub const ARC_ROUTING_CONTROL: Figure = Figure {
    key: "arc-routing-control",
    seconds: 60.0,
    basis: Basis::Estimate,
    what: "an ARC routing control's state reaches DNS answers through its health check (no AWS figure)",
    source: "https://docs.aws.amazon.com/r53recovery/latest/dg/routing-control.html",
};

pub const RDS_PROMOTE: Figure = Figure {
    key: "rds-promote-read-replica",
    seconds: 300.0,
    basis: Basis::Documented,
    what: "an RDS read replica is promoted: \"The promotion process can take several minutes or longer to complete, depending on the size of the read replica\" (5 min taken)",
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Promote.html",
};

pub const AURORA_GLOBAL: Figure = Figure {
    key: "aurora-global-failover",
    seconds: 60.0,
    basis: Basis::Documented,
    what: "a global database's secondary takes writes: \"promote one of the AWS secondary regions to perform full read/write workloads in less than a minute\" (Aurora's figure; DocumentDB and Neptune document none, and their global clusters fail over the same way, so it stands for theirs too)",
    source: "https://disaster-recovery.workshop.aws/en/services/databases/aurora/global-database.html",
};

pub const ELASTICACHE_GLOBAL: Figure = Figure {
    key: "elasticache-global-failover",
    seconds: 60.0,
    basis: Basis::Documented,
    what: "an ElastiCache global datastore's secondary becomes the primary (FailoverGlobalReplicationGroup): \"RTO: 1 minute\"",
    source: "https://disaster-recovery.workshop.aws/en/services/databases/elasticache/global-datastore.html",
};

pub const RDS_RESTORE: Figure = Figure {
    key: "rds-point-in-time-restore",
    seconds: 1800.0,
    basis: Basis::Estimate,
    what: "an RDS point-in-time restore creates a new instance and replays logs; AWS gives no figure, it grows with the data and the logs to replay",
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_PIT.html",
};

pub const RDS_CREATE_REPLICA: Figure = Figure {
    key: "rds-create-cross-region-replica",
    seconds: 3600.0,
    basis: Basis::Estimate,
    what: "reprotect: an RDS cross-region read replica is created from a snapshot of its source and catches up; AWS gives no figure, it grows with the data",
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.XRgn.html",
};

pub const DYNAMODB_ADD_REPLICA: Figure = Figure {
    key: "dynamodb-add-replica",
    seconds: 600.0,
    basis: Basis::Estimate,
    what: "reprotect: a DynamoDB global table's new replica goes from CREATING to ACTIVE; AWS gives no figure, it grows with the table",
    source: "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/V2globaltables.tutorial.html",
};

pub const AURORA_ADD_SECONDARY: Figure = Figure {
    key: "aurora-add-secondary",
    seconds: 1800.0,
    basis: Basis::Estimate,
    what: "reprotect: an Aurora global database's secondary cluster is created (or re-added by Aurora) and copies the data; AWS gives no figure, it grows with the data",
    source: "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-getting-started.html",
};

pub const ECS_TASKS_RUNNING: Figure = Figure {
    key: "ecs-tasks-running",
    seconds: 90.0,
    basis: Basis::Estimate,
    what: "new ECS tasks are placed, pull their image and start (60 s, no AWS figure), then pass one load balancer health check at the 30 s default interval",
    source: "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html",
};

pub const EC2_IN_SERVICE: Figure = Figure {
    key: "ec2-in-service",
    seconds: 150.0,
    basis: Basis::Estimate,
    what: "Auto Scaling launches and boots instances (120 s, no AWS figure), then they pass one load balancer health check at the 30 s default interval",
    source: "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html",
};

pub const EKS_NODES_IN_SERVICE: Figure = Figure {
    key: "eks-nodes-in-service",
    seconds: 180.0,
    basis: Basis::Estimate,
    what: "EKS applies a node group's scaling configuration to its Auto Scaling group (30 s, no AWS figure), whose new instances boot and pass a health check as ec2-in-service",
    source: "https://docs.aws.amazon.com/eks/latest/APIReference/API_UpdateNodegroupConfig.html",
};

pub const K8S_PODS_AVAILABLE: Figure = Figure {
    key: "k8s-pods-available",
    seconds: 60.0,
    basis: Basis::Estimate,
    what: "a scaled Deployment's new pods are scheduled on nodes with room, pull their image and pass their readiness probe (no Kubernetes figure: it is the application's)",
    source: "https://kubernetes.io/docs/concepts/workloads/controllers/deployment/#scaling-a-deployment",
};

pub const EVENT_SOURCE_MAPPING: Figure = Figure {
    key: "lambda-event-source-mapping",
    seconds: 60.0,
    basis: Basis::Estimate,
    what: "a Lambda event source mapping goes from Updating to Enabled (no AWS figure)",
    source: "https://docs.aws.amazon.com/lambda/latest/api/API_UpdateEventSourceMapping.html",
};

pub const API_WRITE: Figure = Figure {
    key: "api-write",
    seconds: 1.0,
    basis: Basis::Estimate,
    what: "one control-plane write that takes effect when it returns (a parameter, a secret, a fence)",
    source: "measured in drills against moto: well under a second; 1 s allowed for AWS",
};

pub const LAMBDA_TASK: Figure = Figure {
    key: "lambda-task",
    seconds: 2.0,
    basis: Basis::Estimate,
    what: "one Task state: a Lambda invocation, a cold start included, with its reads and writes (no AWS figure; `rebound bench` prints each state's time against moto)",
    source: "https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html",
};

pub const START: Figure = Figure {
    key: "alarm-to-execution",
    seconds: 2.0,
    basis: Basis::Estimate,
    what: "the alarm's state change reaches EventBridge, which starts the state machine",
    source: "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch-and-eventbridge.html",
};

/// The validation's Wait state between rounds (statemachine/recovery.asl.json; a test keeps
/// them equal). The steps' own waits are timed by their results (`nextCheckSeconds`).
pub const WAIT_PROBES: f64 = 10.0;

/// Every figure, for the table a forecast prints.
pub const ALL: [Figure; 19] = [
    START,
    LAMBDA_TASK,
    ROUTE53_INSYNC,
    HEALTH_CHECK_FAILOVER,
    ARC_ROUTING_CONTROL,
    RDS_PROMOTE,
    AURORA_GLOBAL,
    ELASTICACHE_GLOBAL,
    RDS_RESTORE,
    RDS_CREATE_REPLICA,
    DYNAMODB_ADD_REPLICA,
    AURORA_ADD_SECONDARY,
    ECS_TASKS_RUNNING,
    EC2_IN_SERVICE,
    EKS_NODES_IN_SERVICE,
    K8S_PODS_AVAILABLE,
    EVENT_SOURCE_MAPPING,
    API_WRITE,
    Figure {
        key: "custom-action",
        seconds: 0.0,
        basis: Basis::Rebound,
        what: "a custom action: its timeoutSeconds in the plan, the most it may take",
        source: "the plan's customActions[].timeoutSeconds",
    },
];

/// The figure for one action of a step, by its operation; None for what takes no time of its
/// own (a check, a step already done).
pub fn for_operation(step: &str, operation: &str) -> Option<Figure> {
    let figure = match (step, operation) {
        ("dns", "UPSERT" | "CREATE" | "DELETE") => ROUTE53_INSYNC,
        ("dns", "SetAlarmState") => HEALTH_CHECK_FAILOVER,
        ("dns", "UpdateRoutingControlStates") => ARC_ROUTING_CONTROL,
        (_, "PromoteReadReplica") => RDS_PROMOTE,
        (_, "GlobalClusterMember") => AURORA_ADD_SECONDARY,
        (_, op) if op.contains("GlobalCluster") => AURORA_GLOBAL,
        (_, "FailoverGlobalReplicationGroup") => ELASTICACHE_GLOBAL,
        (_, op) if op.starts_with("Restore") => RDS_RESTORE,
        (_, "CreateDBInstanceReadReplica") => RDS_CREATE_REPLICA,
        (_, "CreateTableReplica") => DYNAMODB_ADD_REPLICA,
        (_, "UpdateService") => ECS_TASKS_RUNNING,
        (_, "UpdateAutoScalingGroup") => EC2_IN_SERVICE,
        (_, "UpdateNodegroupConfig") => EKS_NODES_IN_SERVICE,
        (_, "ScaleDeployment") => K8S_PODS_AVAILABLE,
        (_, "EnableEventSourceMapping" | "DisableEventSourceMapping") => EVENT_SOURCE_MAPPING,
        (_, "UseGlobalTableReplica") => return None,
        _ => API_WRITE,
    };
    Some(figure)
}
