//! The recovery plan: one JSON document per application saying what to recover and how.
//!
//! The checker is the only way in, for a plan document ([`RecoveryPlan::from_json`]) and for the
//! plan inside a step's context ([`crate::context::parse_request`]): it checks the whole document
//! first and reports *every* problem with its JSON path (`databases[1].identifier: required`),
//! then deserializes the typed plan. Unknown fields are problems, so a typo never silently disables a step.
//!
//! This file holds the types; `dns.rs` the DNS records', `databases.rs` the databases',
//! `endpoints.rs` where the application finds their writers, `tables.rs` the DynamoDB global
//! tables, `services.rs` the services and how many each runs, `streams.rs` the event source mappings, `actions.rs` the application's own steps, `regions.rs` the recovery regions after the first; `check.rs` the rules, `check_dns.rs` the DNS
//! records' rules, `check_parts.rs` the other parts' rules, and `checker.rs` the walker that
//! reports every problem at once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod accounts;
mod actions;
mod check;
mod check_databases;
mod check_dns;
mod check_parts;
mod check_services;
mod checker;
mod databases;
mod datastores;
mod dns;
mod endpoints;
mod regions;
mod services;
mod streams;
mod tables;

pub use accounts::{is_external_id, is_role_arn, Account};
pub use actions::{ActionOutcome, ActionOutcomes, ActionPoint, ActionsByPoint, CustomAction, MAX_ACTION_SECONDS};
pub use check::check_plan;
pub use checker::is_region;
pub use databases::{Database, GlobalEngine, NoFailback, Reprotect};
pub use datastores::{writer_after, Datastore, GlobalDatastore, Member, MultiRegion, MultiRegionCluster, Regional};
pub use dns::{AliasTarget, ClusterEndpoint, DnsMode, DnsRecord, RecordTarget, RecordType, RoutingControlCluster};
pub use endpoints::{same_host, secret_host, secret_with_host, WriterEndpoint, DEFAULT_SECRET_FIELD};
pub use regions::{OtherRecoveryRegion, MAX_RECOVERY_REGIONS, REGIONAL_PARTS};
pub use services::{FromPeak, KubernetesObject, Service};
pub use streams::{mapping_resource, stream_progress, EventSourceMapping, Side, StreamProgress};
pub use tables::{replica_problem, GlobalTable, Replica};

/// The longest duration a plan may give, in seconds: one year, Step Functions' limit for a
/// standard execution.
pub const MAX_SECONDS: u64 = 365 * 24 * 3600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecoveryPlan {
    pub application: String,
    pub primary_region: String,
    /// The first choice of region to recover into.
    pub recovery_region: String,
    /// The next choices, in order, each with the parts that differ there (`regions.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_recovery_regions: Vec<OtherRecoveryRegion>,
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
    /// DynamoDB global tables whose recovery-region replica the recovery relies on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub global_tables: Vec<GlobalTable>,
    /// ElastiCache global datastores whose recovery-region member becomes the primary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub global_datastores: Vec<GlobalDatastore>,
    /// MemoryDB multi-Region clusters whose recovery-region cluster the application writes to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub multi_region_clusters: Vec<MultiRegionCluster>,
    /// Where the application reads each database's writer endpoint from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writer_endpoints: Vec<WriterEndpoint>,
    #[serde(default)]
    pub services: Vec<Service>,
    /// The application's own steps, each a Lambda function invoked at a fixed point.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_actions: Vec<CustomAction>,
    /// Lambda event source mappings moved with the application (one region consumes at once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_source_mappings: Vec<EventSourceMapping>,
    #[serde(default)]
    pub validation: Validation,
    pub notification: Notification,
    #[serde(default)]
    pub approval: Approval,
    /// `service:Operation`s of the failover path that depend on the primary region, accepted
    /// knowingly (see `rebound validate --audit`): the scheduled readiness check passes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acknowledged_dependencies: Vec<String>,
    /// Other accounts some resources live in, by the name resources give (`dns[].account`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub accounts: std::collections::BTreeMap<String, Account>,
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
    /// After a failover, the scheduled check that finds every alarm and metric signal of the
    /// primary readable and healthy starts a reprotect (once per recovery).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reprotect_when_healthy: bool,
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
            reprotect_when_healthy: false,
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
pub(crate) fn default_deadline() -> u64 {
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
