//! The plan's DNS records: what each record is moved to, and how (its mode).

use serde::{Deserialize, Serialize};

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
    /// The account (a name in the plan's `accounts`) the hosted zone and its health checks are
    /// in; unset, Rebound's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
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
    /// The plan's account the cluster is in (`accounts`); Rebound's own when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
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
