//! The events that start a recovery: CloudWatch alarm state changes and AWS Health events
//! delivered by EventBridge, and manual starts from the Step Functions console.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use rebound_shared::context::{DisasterType, Mode, Severity};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::DetectorError;

/// What the state machine hands the detector: the execution's input and its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DetectorRequest {
    pub event: Value,
    #[serde(default)]
    pub execution_id: Option<String>,
}

impl DetectorRequest {
    pub fn from_payload(payload: Value) -> Result<DetectorRequest, DetectorError> {
        match &payload {
            Value::Object(map) if map.contains_key("event") => {
                serde_json::from_value(payload).map_err(|e| DetectorError::MalformedEvent(format!("request: {e}")))
            }
            Value::Object(_) => Ok(DetectorRequest {
                event: payload,
                execution_id: None,
            }),
            other => Err(DetectorError::MalformedEvent(format!(
                "expected a JSON object, got {other}"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum TriggerEvent {
    Alarm(Box<EventBridgeEvent<AlarmStateChange>>),
    Health(Box<EventBridgeEvent<HealthEvent>>),
    Manual(Box<ManualStart>),
    /// An EventBridge schedule: the read-only readiness check.
    Schedule(Box<EventBridgeEvent<Value>>),
}

pub const ALARM_DETAIL_TYPE: &str = "CloudWatch Alarm State Change";
pub const HEALTH_DETAIL_TYPE: &str = "AWS Health Event";
pub const SCHEDULE_DETAIL_TYPE: &str = "Scheduled Event";

impl TriggerEvent {
    /// Recognises the event by its EventBridge `detail-type`; anything without one is a manual start.
    pub fn parse(value: &Value) -> Result<TriggerEvent, DetectorError> {
        let malformed = |what: &str, e: serde_json::Error| DetectorError::MalformedEvent(format!("{what}: {e}"));
        if !value.is_object() {
            // serde reads a struct from an array too, and `[]` would be a start with every default.
            return Err(DetectorError::MalformedEvent(format!(
                "the execution input must be a JSON object (an EventBridge event or a manual start), not {}",
                json_kind(value)
            )));
        }
        match value.get("detail-type").map(Value::as_str) {
            Some(Some(ALARM_DETAIL_TYPE)) => serde_json::from_value(value.clone())
                .map(|e| TriggerEvent::Alarm(Box::new(e)))
                .map_err(|e| malformed("CloudWatch alarm event", e)),
            Some(Some(HEALTH_DETAIL_TYPE)) => serde_json::from_value(value.clone())
                .map(|e| TriggerEvent::Health(Box::new(e)))
                .map_err(|e| malformed("AWS Health event", e)),
            Some(Some(SCHEDULE_DETAIL_TYPE)) => serde_json::from_value(value.clone())
                .map(|e| TriggerEvent::Schedule(Box::new(e)))
                .map_err(|e| malformed("scheduled event", e)),
            Some(other) => Err(DetectorError::UnsupportedEvent(
                other.map_or_else(|| "(not a string)".into(), str::to_string),
            )),
            None => {
                let start: ManualStart =
                    serde_json::from_value(value.clone()).map_err(|e| malformed("manual start", e))?;
                start.check()?;
                Ok(TriggerEvent::Manual(Box::new(start)))
            }
        }
    }
}

/// `detail` of a "CloudWatch Alarm State Change" event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmStateChange {
    pub alarm_name: String,
    pub state: AlarmState,
    #[serde(default)]
    pub previous_state: Option<AlarmState>,
    #[serde(default)]
    pub configuration: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AlarmState {
    /// OK, ALARM or INSUFFICIENT_DATA.
    pub value: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub timestamp: Option<String>,
}

/// `detail` of an "AWS Health Event".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthEvent {
    #[serde(default)]
    pub event_arn: String,
    pub service: String,
    pub event_type_code: String,
    pub event_type_category: String,
    /// open, closed or upcoming.
    #[serde(default)]
    pub status_code: Option<String>,
    #[serde(default)]
    pub event_region: Option<String>,
    #[serde(default)]
    pub start_time: Option<String>,
    #[serde(default)]
    pub event_description: Vec<HealthDescription>,
    #[serde(default)]
    pub affected_entities: Vec<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthDescription {
    #[serde(default)]
    pub language: String,
    #[serde(default)]
    pub latest_description: String,
}

/// The input of a start from the console or the command line.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManualStart {
    #[serde(default)]
    pub mode: Option<Mode>,
    #[serde(default)]
    pub dry_run: bool,
    /// Override the cooldown (never another recovery's lease); recorded in the audit trail.
    #[serde(default)]
    pub force: bool,
    /// Only check that the recovery side is ready for this mode; change nothing.
    #[serde(default)]
    pub readiness_check: bool,
    /// After a failover, once the primary region answers: build again what a failback needs
    /// there, then check the failback's readiness. Moves no traffic and no writer.
    #[serde(default)]
    pub reprotect: bool,
    /// Who started it and why, for the audit trail and the notification.
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub disaster_type: Option<DisasterType>,
    #[serde(default)]
    pub severity: Option<Severity>,
    #[serde(default)]
    pub affected_region: Option<String>,
    #[serde(default)]
    pub affected_services: Vec<String>,
    /// When the problem began (defaults to now): the restore point for data corruption is before it.
    #[serde(default)]
    pub detected_at: Option<DateTime<Utc>>,
    /// The plan inline, or `planLocation`: refused unless the stack allows a start its own plan
    /// (`AllowStartPlan`); otherwise the function's `PLAN_LOCATION`.
    #[serde(default)]
    pub plan: Option<Value>,
    #[serde(default)]
    pub plan_location: Option<String>,
    #[serde(default)]
    pub monitoring_data: Option<MonitoringData>,
    #[serde(default)]
    pub recovery_strategy: Option<RecoveryStrategy>,
}

impl ManualStart {
    /// A start must say what it wants: a recovery changes a whole application, so an empty or
    /// accidental input (`{}`, a bare `dryRun`) never starts one.
    pub fn check(&self) -> Result<(), DetectorError> {
        let named = self.mode.is_some()
            || self.disaster_type.is_some()
            || self.readiness_check
            || self.reprotect
            || self.monitoring_data.is_some();
        if !named {
            return Err(DetectorError::MalformedEvent(
                "manual start: name what to do: mode (failover, switchover, failback, drill), disasterType, \
                 monitoringData, readinessCheck: true, or reprotect: true"
                    .into(),
            ));
        }
        if self.reprotect {
            let others = [
                (self.mode.is_some(), "mode"),
                (self.readiness_check, "readinessCheck"),
                (self.disaster_type.is_some(), "disasterType"),
                (self.monitoring_data.is_some(), "monitoringData"),
                (self.recovery_strategy.is_some(), "recoveryStrategy"),
            ];
            if let Some((_, field)) = others.iter().find(|(set, _)| *set) {
                return Err(DetectorError::MalformedEvent(format!(
                    "manual start: reprotect: true takes no {field}: it rebuilds what a failback needs after a \
                     failover, moves nothing, and ends with the failback's readiness check"
                )));
            }
        }
        if !self.readiness_check && self.reason.as_deref().is_none_or(|r| r.trim().is_empty()) {
            return Err(DetectorError::MalformedEvent(
                "manual start: reason: required: who starts this recovery and why (kept in the audit and the notification)"
                    .into(),
            ));
        }
        Ok(())
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Monitoring figures handed in by whoever started the recovery.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MonitoringData {
    /// Percent of requests failing.
    #[serde(default)]
    pub error_rate: Option<f64>,
    /// Percent of successful health checks.
    #[serde(default)]
    pub availability: Option<f64>,
    /// Milliseconds.
    #[serde(default)]
    pub response_time: Option<f64>,
    #[serde(default)]
    pub affected_services: Vec<String>,
}

/// Targets for this run, checked against the plan: the region must be the plan's recovery
/// region; RTO and RPO may be tightened (a drill against stricter targets) but not loosened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecoveryStrategy {
    #[serde(default)]
    pub strategy: Option<String>,
    #[serde(default)]
    pub target_region: Option<String>,
    #[serde(default)]
    pub rto_minutes: Option<u64>,
    #[serde(default)]
    pub rpo_minutes: Option<u64>,
}
