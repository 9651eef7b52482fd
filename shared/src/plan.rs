//! The recovery plan: one JSON document per application saying what to recover and how.
//!
//! The checker is the only way in, for a plan document ([`RecoveryPlan::from_json`]) and for the
//! plan inside a step's context ([`crate::context::parse_request`]): it checks the whole document
//! first and reports *every* problem with its JSON path (`databases[1].identifier: required`),
//! then deserializes the typed plan. Unknown fields are problems, so a typo never silently disables a step.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod dns;
use dns::check_dns;

/// The longest duration a plan may give, in seconds: one year, Step Functions' limit for a
/// standard execution.
pub const MAX_SECONDS: u64 = 365 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecoveryPlan {
    pub application: String,
    pub primary_region: String,
    pub recovery_region: String,
    #[serde(default)]
    pub strategy: Strategy,
    pub objectives: Objectives,
    #[serde(default)]
    pub detection: Detection,
    #[serde(default)]
    pub dns: Vec<DnsRecord>,
    /// Required when a record is in `routingControl` mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_control_cluster: Option<RoutingControlCluster>,
    #[serde(default)]
    pub databases: Vec<Database>,
    #[serde(default)]
    pub services: Vec<Service>,
    #[serde(default)]
    pub validation: Validation,
    pub notification: Notification,
    #[serde(default)]
    pub approval: Approval,
    /// `service:Operation`s of the failover path that depend on the primary region, accepted
    /// knowingly (see `rebound validate --audit`): the scheduled readiness check passes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acknowledged_dependencies: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Strategy {
    BackupRestore,
    PilotLight,
    #[default]
    WarmStandby,
    MultiSiteActiveActive,
}

/// Recovery time and recovery point objectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Objectives {
    pub rto_seconds: u64,
    pub rpo_seconds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Detection {
    #[serde(default)]
    pub alarms: Vec<AlarmSignal>,
    #[serde(default)]
    pub metrics: Vec<MetricSignal>,
    #[serde(default)]
    pub thresholds: Thresholds,
    /// How many independent signals must agree before recovery is required.
    #[serde(default = "default_min_signals")]
    pub min_signals: u32,
    #[serde(default)]
    pub unknown_signals: UnknownSignals,
    /// No new automatic recovery this long after the last one.
    #[serde(default)]
    pub cooldown_seconds: u64,
    /// Whether AWS Health events for the primary region count as a signal.
    #[serde(default = "default_true")]
    pub health_events: bool,
}

impl Default for Detection {
    fn default() -> Self {
        Detection {
            alarms: Vec::new(),
            metrics: Vec::new(),
            thresholds: Thresholds::default(),
            min_signals: default_min_signals(),
            unknown_signals: UnknownSignals::default(),
            cooldown_seconds: 0,
            health_events: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlarmSignal {
    pub name: String,
    /// Defaults to the primary region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MetricSignal {
    pub id: String,
    pub namespace: String,
    pub metric_name: String,
    #[serde(default)]
    pub dimensions: BTreeMap<String, String>,
    pub statistic: String,
    #[serde(default = "default_period")]
    pub period_seconds: u32,
    pub comparison: Comparison,
    pub threshold: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Comparison {
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
}

display_as_serde!(Strategy, Comparison);

impl Comparison {
    pub fn breached(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::GreaterThan => value > threshold,
            Comparison::GreaterThanOrEqual => value >= threshold,
            Comparison::LessThan => value < threshold,
            Comparison::LessThanOrEqual => value <= threshold,
        }
    }
}

/// Thresholds for monitoring data handed to a manual start.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Thresholds {
    #[serde(default = "default_error_rate")]
    pub error_rate_percent: f64,
    #[serde(default = "default_availability")]
    pub availability_percent: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_time_ms: Option<f64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            error_rate_percent: default_error_rate(),
            availability_percent: default_availability(),
            response_time_ms: None,
        }
    }
}

/// How a signal whose API could not be read counts in the vote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UnknownSignals {
    /// Neither for nor against: it does not vote.
    #[default]
    Abstain,
    /// Counts as failing (a region whose monitoring is unreachable is suspicious).
    Failing,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DnsRecord {
    pub hosted_zone_id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: RecordType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    #[serde(default)]
    pub mode: DnsMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<RecordTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<RecordTarget>,
    /// The primary's health check: inverted to fail failover records over
    /// (`healthCheckInversion`), or following `alarmName` (`alarmHealthCheck`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_id: Option<String>,
    /// `routingControl`: the ARC routing control that lets traffic into the primary's cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_routing_control_arn: Option<String>,
    /// `routingControl`: the one for the recovery region's cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_routing_control_arn: Option<String>,
    /// `alarmHealthCheck`: the CloudWatch alarm, in the recovery region, that the primary
    /// record's health check follows; in ALARM the primary is unhealthy and Route 53 answers
    /// with the failover record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alarm_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecordType {
    A,
    AAAA,
    CNAME,
}

impl RecordType {
    pub fn as_str(self) -> &'static str {
        match self {
            RecordType::A => "A",
            RecordType::AAAA => "AAAA",
            RecordType::CNAME => "CNAME",
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DnsMode {
    /// UPSERT the record to the recovery values (Route 53's control plane).
    #[default]
    Upsert,
    /// Invert the primary's Route 53 health check so failover records switch (`UpdateHealthCheck`
    /// is a control-plane call; the switch itself happens in Route 53's data plane).
    HealthCheckInversion,
    /// Turn the recovery cell's ARC routing control on and the primary's off, in one
    /// `UpdateRoutingControlStates` on the first cluster endpoint that answers (data plane).
    RoutingControl,
    /// Drive the recovery-region alarm that the primary record's health check follows into
    /// ALARM (`PutMetricData`, `SetAlarmState`): no Route 53 call at failover time.
    AlarmHealthCheck,
}

impl DnsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DnsMode::Upsert => "upsert",
            DnsMode::HealthCheckInversion => "healthCheckInversion",
            DnsMode::RoutingControl => "routingControl",
            DnsMode::AlarmHealthCheck => "alarmHealthCheck",
        }
    }

    /// Whether the failover calls Route 53's control plane (homed in us-east-1).
    pub fn needs_route53_control_plane(self) -> bool {
        matches!(self, DnsMode::Upsert | DnsMode::HealthCheckInversion)
    }
}

/// The ARC cluster whose data-plane endpoints read and set routing controls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoutingControlCluster {
    /// Tried in order until one answers, as ARC asks; each is signed for its own region.
    pub endpoints: Vec<ClusterEndpoint>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ClusterEndpoint {
    pub region: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RecordTarget {
    Values { values: Vec<String> },
    Alias { alias: AliasTarget },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AliasTarget {
    pub hosted_zone_id: String,
    pub dns_name: String,
    #[serde(default)]
    pub evaluate_target_health: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Database {
    /// An RDS cross-region read replica in the recovery region, promoted to a standalone writer.
    ReadReplica {
        identifier: String,
        source_identifier: String,
        #[serde(default)]
        allow_data_loss: bool,
        /// After a failover: the replica of `identifier` in the primary region that a failback
        /// promotes.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failback_identifier: Option<String>,
        /// A security group in the old writer's VPC that admits nothing: the fence for a writer
        /// whose parameter group cannot be made read-only (a `default.*` group, an engine
        /// without a read-only parameter).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        isolation_security_group_id: Option<String>,
    },
    /// An Aurora global database: switchover (no data loss) or failover to the recovery cluster.
    AuroraGlobal {
        identifier: String,
        target_cluster_arn: String,
        #[serde(default)]
        allow_data_loss: bool,
        /// A security group in the old writer cluster's VPC that admits nothing: in a
        /// failover, a writer cluster that still answers is moved onto it before the target
        /// takes over.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        isolation_security_group_id: Option<String>,
    },
    /// A new instance restored from `sourceIdentifier` to a point before the corruption.
    PointInTimeRestore {
        identifier: String,
        source_identifier: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance_class: Option<String>,
    },
    /// A new instance restored from a snapshot in the recovery region.
    SnapshotRestore {
        identifier: String,
        snapshot_identifier: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance_class: Option<String>,
    },
}

impl Database {
    pub fn identifier(&self) -> &str {
        match self {
            Database::ReadReplica { identifier, .. }
            | Database::AuroraGlobal { identifier, .. }
            | Database::PointInTimeRestore { identifier, .. }
            | Database::SnapshotRestore { identifier, .. } => identifier,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Service {
    Ecs {
        cluster: String,
        service: String,
        desired_count: i32,
    },
    AutoScalingGroup {
        name: String,
        min_size: i32,
        desired_capacity: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_size: Option<i32>,
    },
}

impl Service {
    /// The service's name in results: `ecs:CLUSTER/SERVICE` or `autoscaling:GROUP`.
    pub fn resource_name(&self) -> String {
        match self {
            Service::Ecs { cluster, service, .. } => format!("ecs:{cluster}/{service}"),
            Service::AutoScalingGroup { name, .. } => format!("autoscaling:{name}"),
        }
    }

    /// Whether an outage report naming `affected` concerns this service: its own name, its
    /// `cluster/service`, or the AWS service that runs it (`ECS`; `EC2` or `AUTOSCALING` for a
    /// group), compared without regard to case.
    pub fn matches(&self, affected: &str) -> bool {
        let a = affected.trim().to_ascii_lowercase();
        match self {
            Service::Ecs { cluster, service, .. } => {
                a == service.to_ascii_lowercase()
                    || a == format!("{cluster}/{service}").to_ascii_lowercase()
                    || a == "ecs"
            }
            Service::AutoScalingGroup { name, .. } => {
                a == name.to_ascii_lowercase() || a == "ec2" || a == "autoscaling"
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Validation {
    #[serde(default)]
    pub probes: Vec<Probe>,
    #[serde(default = "default_deadline")]
    pub deadline_seconds: u64,
    #[serde(default = "default_successes")]
    pub consecutive_successes: u32,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            probes: Vec::new(),
            deadline_seconds: default_deadline(),
            consecutive_successes: default_successes(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum Probe {
    Http {
        url: String,
        #[serde(default = "default_status")]
        expected_status: u16,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expected_body: Option<String>,
        #[serde(default = "default_probe_timeout")]
        timeout_ms: u64,
        #[serde(default)]
        when: ProbeWhen,
    },
    Dns {
        hosted_zone_id: String,
        name: String,
        #[serde(rename = "type")]
        record_type: RecordType,
        expected: Vec<String>,
        #[serde(default)]
        when: ProbeWhen,
    },
}

/// Which direction a probe proves: traffic in the recovery region (failover, switchover, drill),
/// back in the primary region (failback), or either.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ProbeWhen {
    #[default]
    Failover,
    Failback,
    Always,
}

impl ProbeWhen {
    pub fn applies(self, failback: bool) -> bool {
        match self {
            ProbeWhen::Failover => !failback,
            ProbeWhen::Failback => failback,
            ProbeWhen::Always => true,
        }
    }
}

impl Probe {
    pub fn when(&self) -> ProbeWhen {
        match self {
            Probe::Http { when, .. } | Probe::Dns { when, .. } => *when,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Notification {
    pub topic_arn: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Approval {
    #[serde(default)]
    pub required: bool,
    #[serde(default = "default_approval_timeout")]
    pub timeout_seconds: u64,
}

impl Default for Approval {
    fn default() -> Self {
        Approval {
            required: false,
            timeout_seconds: default_approval_timeout(),
        }
    }
}

fn default_min_signals() -> u32 {
    1
}
fn default_true() -> bool {
    true
}
fn default_period() -> u32 {
    60
}
fn default_error_rate() -> f64 {
    50.0
}
fn default_availability() -> f64 {
    50.0
}
fn default_deadline() -> u64 {
    600
}
fn default_successes() -> u32 {
    3
}
fn default_status() -> u16 {
    200
}
fn default_probe_timeout() -> u64 {
    5000
}
fn default_approval_timeout() -> u64 {
    3600
}

/// One thing wrong with a plan: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanProblem {
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for PlanProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A plan that cannot be used, with every problem found in it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid recovery plan: {}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct InvalidPlan {
    pub problems: Vec<PlanProblem>,
}

impl RecoveryPlan {
    /// Parses and validates a plan given as JSON text.
    pub fn from_json(text: &str) -> Result<RecoveryPlan, InvalidPlan> {
        let value: Value = serde_json::from_str(text).map_err(|e| InvalidPlan {
            problems: vec![PlanProblem {
                path: "$".into(),
                message: format!("not valid JSON: {e}"),
            }],
        })?;
        RecoveryPlan::from_value(&value)
    }

    /// Validates a plan given as a JSON value, reporting every problem, then deserializes it.
    pub fn from_value(value: &Value) -> Result<RecoveryPlan, InvalidPlan> {
        let problems = check_plan(value);
        if !problems.is_empty() {
            return Err(InvalidPlan { problems });
        }
        // The checker knows every rule serde enforces; this is the net under it.
        serde_json::from_value(value.clone()).map_err(|e| InvalidPlan {
            problems: vec![PlanProblem {
                path: "$".into(),
                message: e.to_string(),
            }],
        })
    }

    /// The region an alarm or metric signal lives in.
    pub fn signal_region<'a>(&'a self, region: &'a Option<String>) -> &'a str {
        region.as_deref().unwrap_or(&self.primary_region)
    }
}

/// Checks a plan document and returns every problem found, in document order.
pub fn check_plan(value: &Value) -> Vec<PlanProblem> {
    let mut c = Checker::default();
    let Some(plan) = c.object(
        "",
        value,
        &[
            "application",
            "primaryRegion",
            "recoveryRegion",
            "strategy",
            "objectives",
            "detection",
            "dns",
            "routingControlCluster",
            "databases",
            "services",
            "validation",
            "notification",
            "approval",
            "acknowledgedDependencies",
        ],
    ) else {
        return c.problems;
    };

    if let Some(app) = c.string("", plan, "application", true) {
        if app.len() > 64
            || !app
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            c.report("application", "must be 1-64 letters, digits, '-' or '_'");
        }
    }
    let primary = c.region("", plan, "primaryRegion", true);
    let recovery = c.region("", plan, "recoveryRegion", true);
    if let (Some(p), Some(r)) = (primary, recovery) {
        if p == r {
            c.report("recoveryRegion", "must differ from primaryRegion");
        }
    }
    c.one_of(
        "",
        plan,
        "strategy",
        false,
        &["backupRestore", "pilotLight", "warmStandby", "multiSiteActiveActive"],
    );

    let mut rto = None;
    if let Some(o) = c.child_object("", plan, "objectives", true, &["rtoSeconds", "rpoSeconds"]) {
        rto = c.seconds("objectives", o, "rtoSeconds", true, 1, "> 0");
        c.seconds("objectives", o, "rpoSeconds", true, 1, "> 0");
    }

    check_detection(&mut c, plan);
    check_dns(&mut c, plan);
    check_databases(&mut c, plan, recovery);
    check_services(&mut c, plan);
    check_validation(&mut c, plan, rto);

    if let Some(n) = c.child_object("", plan, "notification", true, &["topicArn"]) {
        if let Some(arn) = c.string("notification", n, "topicArn", true) {
            let parts: Vec<&str> = arn.split(':').collect();
            if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5].is_empty() {
                c.report(
                    "notification.topicArn",
                    "must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
                );
            }
        }
    }
    if let Some(a) = c.child_object("", plan, "approval", false, &["required", "timeoutSeconds"]) {
        c.boolean("approval", a, "required", false);
        if let Some(t) = c.integer("approval", a, "timeoutSeconds", false, 1, "> 0") {
            if t > 7 * 24 * 3600 {
                c.report("approval.timeoutSeconds", "must be at most 604800 (7 days)");
            }
        }
    }

    for (path, item) in c.array("", plan, "acknowledgedDependencies", false) {
        let named = item
            .as_str()
            .and_then(|t| t.split_once(':'))
            .is_some_and(|(service, op)| {
                !service.is_empty() && op.chars().next().is_some_and(|ch| ch.is_ascii_uppercase())
            });
        if !named {
            c.report(
                &path,
                "must name an operation as service:Operation (see rebound validate --audit)",
            );
        }
    }
    let empty = |key: &str| plan.get(key).and_then(Value::as_array).is_none_or(|a| a.is_empty());
    if empty("dns") && empty("databases") && empty("services") {
        c.report("", "must recover something: at least one of dns, databases or services");
    }
    c.problems
}

fn check_detection(c: &mut Checker, plan: &Map<String, Value>) {
    let Some(d) = c.child_object(
        "",
        plan,
        "detection",
        false,
        &[
            "alarms",
            "metrics",
            "thresholds",
            "minSignals",
            "unknownSignals",
            "cooldownSeconds",
            "healthEvents",
        ],
    ) else {
        return;
    };
    let mut signals = 0usize;
    for (path, alarm) in c.array("detection", d, "alarms", false) {
        if let Some(a) = c.object(&path, alarm, &["name", "region"]) {
            c.string(&path, a, "name", true);
            c.region(&path, a, "region", false);
        }
        signals += 1;
    }
    let mut ids = BTreeSet::new();
    for (path, metric) in c.array("detection", d, "metrics", false) {
        signals += 1;
        let Some(m) = c.object(
            &path,
            metric,
            &[
                "id",
                "namespace",
                "metricName",
                "dimensions",
                "statistic",
                "periodSeconds",
                "comparison",
                "threshold",
                "region",
            ],
        ) else {
            continue;
        };
        if let Some(id) = c.string(&path, m, "id", true) {
            let mut chars = id.chars();
            let starts_lower = chars.next().is_some_and(|ch| ch.is_ascii_lowercase());
            if !starts_lower || !chars.all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                c.report(
                    &format!("{path}.id"),
                    "must start with a lowercase letter and hold only letters, digits and '_'",
                );
            } else if !ids.insert(id.to_string()) {
                c.report(&format!("{path}.id"), format!("duplicate metric id '{id}'"));
            }
        }
        c.string(&path, m, "namespace", true);
        c.string(&path, m, "metricName", true);
        if let Some(dims) = c.child_object(&path, m, "dimensions", false, &[]) {
            for (k, v) in dims {
                if !v.is_string() {
                    c.report(&format!("{path}.dimensions.{k}"), "must be a string");
                }
            }
        }
        if let Some(stat) = c.string(&path, m, "statistic", true) {
            let known = ["Average", "Sum", "Minimum", "Maximum", "SampleCount"];
            let percentile = stat.strip_prefix('p').is_some_and(|p| p.parse::<f64>().is_ok());
            if !known.contains(&stat) && !percentile {
                c.report(
                    &format!("{path}.statistic"),
                    "must be one of: Average, Sum, Minimum, Maximum, SampleCount, or a percentile like p99",
                );
            }
        }
        if let Some(p) = c.integer(&path, m, "periodSeconds", false, 1, "> 0") {
            if ![1, 5, 10, 30].contains(&p) && p % 60 != 0 {
                c.report(
                    &format!("{path}.periodSeconds"),
                    "must be 1, 5, 10, 30 or a multiple of 60",
                );
            }
        }
        c.one_of(
            &path,
            m,
            "comparison",
            true,
            &["greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual"],
        );
        c.number(&path, m, "threshold", true);
        c.region(&path, m, "region", false);
    }
    if let Some(t) = c.child_object(
        "detection",
        d,
        "thresholds",
        false,
        &["errorRatePercent", "availabilityPercent", "responseTimeMs"],
    ) {
        for key in ["errorRatePercent", "availabilityPercent"] {
            if let Some(v) = c.number("detection.thresholds", t, key, false) {
                if !(0.0..=100.0).contains(&v) {
                    c.report(&format!("detection.thresholds.{key}"), "must be between 0 and 100");
                }
            }
        }
        if let Some(v) = c.number("detection.thresholds", t, "responseTimeMs", false) {
            if v <= 0.0 {
                c.report("detection.thresholds.responseTimeMs", "must be > 0");
            }
        }
    }
    let health = c.boolean("detection", d, "healthEvents", false).unwrap_or(true);
    if let Some(min) = c.integer("detection", d, "minSignals", false, 1, ">= 1") {
        let available = signals + usize::from(health);
        if signals > 0 && min as usize > available {
            c.report(
                "detection.minSignals",
                format!("must be at most the number of signals ({available}: alarms, metrics and health events)"),
            );
        }
    }
    c.one_of("detection", d, "unknownSignals", false, &["abstain", "failing"]);
    c.seconds("detection", d, "cooldownSeconds", false, 0, ">= 0");
}

fn check_databases(c: &mut Checker, plan: &Map<String, Value>, recovery_region: Option<&str>) {
    let mut seen = BTreeSet::new();
    for (path, db) in c.array("", plan, "databases", false) {
        let kind = db.get("kind").and_then(Value::as_str);
        let fields: &[&str] = match kind {
            Some("readReplica") => &[
                "kind",
                "identifier",
                "sourceIdentifier",
                "allowDataLoss",
                "failbackIdentifier",
                "isolationSecurityGroupId",
            ],
            Some("auroraGlobal") => &[
                "kind",
                "identifier",
                "targetClusterArn",
                "allowDataLoss",
                "isolationSecurityGroupId",
            ],
            Some("pointInTimeRestore") => &["kind", "identifier", "sourceIdentifier", "instanceClass"],
            Some("snapshotRestore") => &["kind", "identifier", "snapshotIdentifier", "instanceClass"],
            _ => &[
                "kind",
                "identifier",
                "sourceIdentifier",
                "targetClusterArn",
                "snapshotIdentifier",
                "instanceClass",
                "allowDataLoss",
                "failbackIdentifier",
                "isolationSecurityGroupId",
            ],
        };
        let Some(d) = c.object(&path, db, fields) else {
            continue;
        };
        let kind = c.one_of(
            &path,
            d,
            "kind",
            true,
            &["readReplica", "auroraGlobal", "pointInTimeRestore", "snapshotRestore"],
        );
        if let Some(id) = c.string(&path, d, "identifier", true) {
            if kind != Some("auroraGlobal") && !is_rds_identifier(id) {
                c.report(
                    &format!("{path}.identifier"),
                    "must be an RDS identifier: 1-63 letters, digits or hyphens, starting with a letter",
                );
            } else if !seen.insert(id.to_string()) {
                c.report(&format!("{path}.identifier"), format!("duplicate database '{id}'"));
            }
        }
        match kind {
            Some("readReplica") | Some("pointInTimeRestore") => {
                c.string(&path, d, "sourceIdentifier", true);
            }
            Some("auroraGlobal") => {
                if let Some(arn) = c.string(&path, d, "targetClusterArn", true) {
                    let parts: Vec<&str> = arn.split(':').collect();
                    if parts.len() != 7 || parts[2] != "rds" || parts[5] != "cluster" {
                        c.report(
                            &format!("{path}.targetClusterArn"),
                            "must be an Aurora cluster ARN (arn:aws:rds:REGION:ACCOUNT:cluster:NAME)",
                        );
                    } else if recovery_region.is_some_and(|r| r != parts[3]) {
                        c.report(
                            &format!("{path}.targetClusterArn"),
                            "must be a cluster in recoveryRegion",
                        );
                    }
                }
            }
            Some("snapshotRestore") => {
                c.string(&path, d, "snapshotIdentifier", true);
            }
            _ => {}
        }
        c.boolean(&path, d, "allowDataLoss", false);
        c.string(&path, d, "instanceClass", false);
        if let Some(sg) = c.string(&path, d, "isolationSecurityGroupId", false) {
            let hex = sg.strip_prefix("sg-").unwrap_or_default();
            if !(8..=17).contains(&hex.len()) || !hex.chars().all(|ch| ch.is_ascii_hexdigit()) {
                c.report(
                    &format!("{path}.isolationSecurityGroupId"),
                    "must be a security group id (sg- and 8 to 17 hex digits)",
                );
            }
        }
        if let Some(fb) = c.string(&path, d, "failbackIdentifier", false) {
            if !is_rds_identifier(fb) {
                c.report(
                    &format!("{path}.failbackIdentifier"),
                    "must be an RDS identifier: 1-63 letters, digits or hyphens, starting with a letter",
                );
            }
        }
    }
}

fn check_services(c: &mut Checker, plan: &Map<String, Value>) {
    for (path, svc) in c.array("", plan, "services", false) {
        let kind = svc.get("kind").and_then(Value::as_str);
        let fields: &[&str] = match kind {
            Some("ecs") => &["kind", "cluster", "service", "desiredCount"],
            Some("autoScalingGroup") => &["kind", "name", "minSize", "desiredCapacity", "maxSize"],
            _ => &[
                "kind",
                "cluster",
                "service",
                "desiredCount",
                "name",
                "minSize",
                "desiredCapacity",
                "maxSize",
            ],
        };
        let Some(s) = c.object(&path, svc, fields) else {
            continue;
        };
        match c.one_of(&path, s, "kind", true, &["ecs", "autoScalingGroup"]) {
            Some("ecs") => {
                c.string(&path, s, "cluster", true);
                c.string(&path, s, "service", true);
                c.integer(&path, s, "desiredCount", true, 1, ">= 1");
            }
            Some(_) => {
                c.string(&path, s, "name", true);
                let min = c.integer(&path, s, "minSize", true, 0, ">= 0");
                let desired = c.integer(&path, s, "desiredCapacity", true, 1, ">= 1");
                let max = c.integer(&path, s, "maxSize", false, 1, ">= 1");
                if let (Some(min), Some(desired)) = (min, desired) {
                    if desired < min {
                        c.report(&format!("{path}.desiredCapacity"), "must be >= minSize");
                    }
                }
                if let (Some(desired), Some(max)) = (desired, max) {
                    if max < desired {
                        c.report(&format!("{path}.maxSize"), "must be >= desiredCapacity");
                    }
                }
            }
            None => {}
        }
    }
}

fn check_validation(c: &mut Checker, plan: &Map<String, Value>, rto: Option<u64>) {
    // The default deadline counts like a written one: a plan the checker accepts must pass
    // again once written out with its defaults.
    let default_too_long = || {
        rto.is_some_and(|rto| default_deadline() > rto).then(|| {
            format!(
                "required when objectives.rtoSeconds is under {} s, the default: validation must end within the RTO",
                default_deadline()
            )
        })
    };
    let Some(v) = c.child_object(
        "",
        plan,
        "validation",
        false,
        &["probes", "deadlineSeconds", "consecutiveSuccesses"],
    ) else {
        if let Some(why) = default_too_long() {
            c.report("validation.deadlineSeconds", why);
        }
        return;
    };
    if v.get("deadlineSeconds").is_none_or(Value::is_null) {
        if let Some(why) = default_too_long() {
            c.report("validation.deadlineSeconds", why);
        }
    }
    if let Some(deadline) = c.seconds("validation", v, "deadlineSeconds", false, 1, "> 0") {
        if rto.is_some_and(|rto| deadline > rto) {
            c.report("validation.deadlineSeconds", "must not exceed objectives.rtoSeconds");
        }
    }
    c.integer("validation", v, "consecutiveSuccesses", false, 1, ">= 1");
    for (path, probe) in c.array("validation", v, "probes", false) {
        let kind = probe.get("kind").and_then(Value::as_str);
        let fields: &[&str] = match kind {
            Some("http") => &["kind", "url", "expectedStatus", "expectedBody", "timeoutMs", "when"],
            Some("dns") => &["kind", "hostedZoneId", "name", "type", "expected", "when"],
            _ => &[
                "kind",
                "url",
                "expectedStatus",
                "expectedBody",
                "timeoutMs",
                "hostedZoneId",
                "name",
                "type",
                "expected",
                "when",
            ],
        };
        let Some(p) = c.object(&path, probe, fields) else {
            continue;
        };
        c.one_of(&path, p, "when", false, &["failover", "failback", "always"]);
        match c.one_of(&path, p, "kind", true, &["http", "dns"]) {
            Some("http") => {
                if let Some(url) = c.string(&path, p, "url", true) {
                    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
                        c.report(&format!("{path}.url"), "must be an http:// or https:// URL");
                    }
                }
                if let Some(s) = c.integer(&path, p, "expectedStatus", false, 100, "an HTTP status (100-599)") {
                    if s > 599 {
                        c.report(&format!("{path}.expectedStatus"), "must be an HTTP status (100-599)");
                    }
                }
                c.string(&path, p, "expectedBody", false);
                c.integer(&path, p, "timeoutMs", false, 1, "> 0");
            }
            Some(_) => {
                c.string(&path, p, "hostedZoneId", true);
                c.string(&path, p, "name", true);
                c.one_of(&path, p, "type", true, &["A", "AAAA", "CNAME"]);
                let expected = c.array(&path, p, "expected", true);
                if expected.is_empty() && p.get("expected").is_some_and(Value::is_array) {
                    c.report(&format!("{path}.expected"), "must not be empty");
                }
                for (epath, e) in expected {
                    if !e.is_string() {
                        c.report(&epath, "must be a string");
                    }
                }
            }
            None => {}
        }
    }
}

fn is_domain_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let name = name.strip_prefix("*.").unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.contains('.')
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        })
}

fn is_rds_identifier(id: &str) -> bool {
    id.len() <= 63
        && id.chars().next().is_some_and(|ch| ch.is_ascii_alphabetic())
        && id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
        && !id.ends_with('-')
        && !id.contains("--")
}

fn is_region(region: &str) -> bool {
    // us-east-1, eu-central-2, us-gov-west-1, ap-southeast-4 ...
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].chars().all(|ch| ch.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

/// Walks a JSON document collecting problems; each helper reports what it finds wrong and returns
/// the value when it is usable, so one pass finds every problem.
#[derive(Default)]
struct Checker {
    problems: Vec<PlanProblem>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Checker {
    fn report(&mut self, path: &str, message: impl Into<String>) {
        let path = if path.is_empty() { "$" } else { path };
        self.problems.push(PlanProblem {
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// An object whose keys must all be in `allowed` (an empty list allows any key).
    fn object<'v>(&mut self, path: &str, value: &'v Value, allowed: &[&str]) -> Option<&'v Map<String, Value>> {
        let Some(obj) = value.as_object() else {
            self.report(path, "must be an object");
            return None;
        };
        if !allowed.is_empty() {
            for key in obj.keys() {
                if !allowed.contains(&key.as_str()) {
                    self.report(
                        &join(path, key),
                        format!("unknown field (expected one of: {})", allowed.join(", ")),
                    );
                }
            }
        }
        Some(obj)
    }

    fn field<'v>(&mut self, path: &str, obj: &'v Map<String, Value>, key: &str, required: bool) -> Option<&'v Value> {
        match obj.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.report(&join(path, key), "required");
                }
                None
            }
            Some(v) => Some(v),
        }
    }

    fn child_object<'v>(
        &mut self,
        path: &str,
        obj: &'v Map<String, Value>,
        key: &str,
        required: bool,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let v = self.field(path, obj, key, required)?;
        self.object(&join(path, key), v, allowed)
    }

    fn string<'v>(&mut self, path: &str, obj: &'v Map<String, Value>, key: &str, required: bool) -> Option<&'v str> {
        let v = self.field(path, obj, key, required)?;
        match v.as_str() {
            Some(s) if !s.trim().is_empty() => Some(s),
            _ => {
                self.report(&join(path, key), "must be a non-empty string");
                None
            }
        }
    }

    fn region<'v>(&mut self, path: &str, obj: &'v Map<String, Value>, key: &str, required: bool) -> Option<&'v str> {
        let r = self.string(path, obj, key, required)?;
        if is_region(r) {
            Some(r)
        } else {
            self.report(
                &join(path, key),
                format!("must be an AWS region like us-east-1, got '{r}'"),
            );
            None
        }
    }

    fn one_of<'v>(
        &mut self,
        path: &str,
        obj: &'v Map<String, Value>,
        key: &str,
        required: bool,
        options: &[&str],
    ) -> Option<&'v str> {
        let v = self.field(path, obj, key, required)?;
        match v.as_str() {
            Some(s) if options.contains(&s) => Some(s),
            _ => {
                self.report(&join(path, key), format!("must be one of: {}", options.join(", ")));
                None
            }
        }
    }

    /// A whole number no smaller than `min`; `expected` words the bound for the message.
    fn integer(
        &mut self,
        path: &str,
        obj: &Map<String, Value>,
        key: &str,
        required: bool,
        min: u64,
        expected: &str,
    ) -> Option<u64> {
        let v = self.field(path, obj, key, required)?;
        match v.as_u64() {
            Some(n) if n >= min => Some(n),
            Some(_) => {
                self.report(&join(path, key), format!("must be {expected}"));
                None
            }
            None if v.is_number() && v.as_f64().is_some_and(|f| f >= 0.0) => {
                self.report(&join(path, key), "must be a whole number");
                None
            }
            None if v.is_number() => {
                self.report(&join(path, key), format!("must be {expected}"));
                None
            }
            None => {
                self.report(&join(path, key), "must be a number");
                None
            }
        }
    }

    /// A duration in seconds: a whole number from `min` to one year, the longest a Step
    /// Functions standard execution runs (beyond it no recovery can wait, and times overflow).
    fn seconds(
        &mut self,
        path: &str,
        obj: &Map<String, Value>,
        key: &str,
        required: bool,
        min: u64,
        expected: &str,
    ) -> Option<u64> {
        let n = self.integer(path, obj, key, required, min, expected)?;
        if n > MAX_SECONDS {
            self.report(
                &join(path, key),
                format!("must be at most {MAX_SECONDS} (one year, the longest a Step Functions execution runs)"),
            );
            return None;
        }
        Some(n)
    }

    fn number(&mut self, path: &str, obj: &Map<String, Value>, key: &str, required: bool) -> Option<f64> {
        let v = self.field(path, obj, key, required)?;
        let n = v.as_f64();
        if n.is_none() {
            self.report(&join(path, key), "must be a number");
        }
        n
    }

    fn boolean(&mut self, path: &str, obj: &Map<String, Value>, key: &str, required: bool) -> Option<bool> {
        let v = self.field(path, obj, key, required)?;
        let b = v.as_bool();
        if b.is_none() {
            self.report(&join(path, key), "must be true or false");
        }
        b
    }

    /// The elements of an array field, each with its path.
    fn array<'v>(
        &mut self,
        path: &str,
        obj: &'v Map<String, Value>,
        key: &str,
        required: bool,
    ) -> Vec<(String, &'v Value)> {
        let Some(v) = self.field(path, obj, key, required) else {
            return Vec::new();
        };
        let apath = join(path, key);
        match v.as_array() {
            Some(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (format!("{apath}[{i}]"), item))
                .collect(),
            None => {
                self.report(&apath, "must be an array");
                Vec::new()
            }
        }
    }
}
