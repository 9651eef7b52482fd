//! What the functions receive: a step's request (which half of the step, which services, the
//! context) and the notifier's, and how a payload is parsed into one.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::context::RecoveryContext;

/// What the DNS, database and service functions receive: which half of the step to run, and
/// the context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepRequest {
    pub action: StepAction,
    pub context: RecoveryContext,
    /// service-restoration only: which of the services this invocation restores.
    #[serde(default)]
    pub stage: ServiceStage,
}

/// Which services an invocation of service-restoration restores. When the region moves, the
/// capacity that does not need the new writer is added beside the failover (`capacity`) and
/// what needs the writer waits for it (`afterWriter`); a service restore moves no writer, so
/// `afterWriter` is every service in scope there. `all` (dry runs, readiness) is every one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ServiceStage {
    #[default]
    All,
    Capacity,
    AfterWriter,
}

impl ServiceStage {
    /// The key its result has under `results`: the capacity added beside the failover is kept
    /// apart from the services restored after it.
    pub const fn result_key(self) -> &'static str {
        match self {
            ServiceStage::Capacity => "capacity",
            ServiceStage::All | ServiceStage::AfterWriter => "services",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StepAction {
    /// Read, check, and start the changes.
    Start,
    /// Poll the changes started by `start` until they reach their end state.
    Status,
    /// The validator's read-only readiness check of everything the path would act on.
    Readiness,
}

/// What the notifier receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotificationRequest {
    pub kind: NotificationKind,
    pub context: RecoveryContext,
    /// For approval requests: the token the execution waits on. It is never published: an
    /// approver reads it from the execution's history (`rebound approve --execution`), where
    /// IAM decides who may.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_token: Option<String>,
    /// The execution (`$$.Execution.Id`): an approval request names it, so that a look-alike
    /// message is told apart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum NotificationKind {
    /// Recovery validated.
    Success,
    /// A step failed; `context.error` says which and why.
    Failure,
    /// A human must approve before failover starts.
    ApprovalRequest,
    /// The event did not require recovery: sent for manual starts and drills, and for an alarm
    /// that could not be confirmed (`Declined::Unconfirmed`).
    NoRecoveryNeeded,
    /// A scheduled readiness check found the recovery side not ready.
    NotReady,
}

/// A payload that is not the request a function expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed request: {0}")]
pub struct BadRequest(pub String);

/// Parses a function's payload into its request type, naming what is wrong when it does not fit.
/// The context's plan is checked as the detector checked it, so that a step never runs on a plan
/// the checker would refuse (serde alone accepts, say, an RTO of 2^63 seconds).
pub fn parse_request<T: serde::de::DeserializeOwned>(payload: Value) -> Result<T, BadRequest> {
    if let Some(plan) = payload.pointer("/context/plan") {
        let problems = crate::plan::check_plan(plan);
        if !problems.is_empty() {
            let listed: Vec<String> = problems.iter().map(|p| format!("context.plan: {p}")).collect();
            return Err(BadRequest(listed.join("; ")));
        }
    }
    serde_json::from_value(payload).map_err(|e| BadRequest(e.to_string()))
}

display_as_serde!(NotificationKind);
