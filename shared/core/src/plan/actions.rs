//! The application's own steps (`customActions`): a Lambda function the state machine invokes
//! with the recovery context at a fixed point of the recovery.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where in the recovery an action runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ActionPoint {
    /// After readiness (and approval), before DNS and databases move.
    BeforeFailover,
    /// Once DNS and the databases have moved, before services are restored.
    AfterDatabases,
    /// Once services run at their targets.
    AfterServices,
    /// Right before validation starts.
    BeforeValidation,
}

/// Lambda's longest run: an action's timeout cannot exceed it.
pub const MAX_ACTION_SECONDS: u64 = 900;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomAction {
    pub name: String,
    pub at: ActionPoint,
    /// The function's ARN (it may be in either region: it is invoked where it lives).
    pub function_arn: String,
    /// How long the state machine waits for it (at most 900 s, Lambda's own limit).
    #[serde(default = "default_action_timeout")]
    pub timeout_seconds: u64,
    /// Whether its failure (an error, or no answer in time) stops the recovery.
    #[serde(default = "default_stop_on_failure")]
    pub stop_on_failure: bool,
}

fn default_action_timeout() -> u64 {
    60
}

fn default_stop_on_failure() -> bool {
    true
}

/// The plan's actions grouped by the point that runs them, as the state machine's Map states
/// read them (`$.customActions.beforeFailover`, ...): every point present, empty when unused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionsByPoint {
    #[serde(default)]
    pub before_failover: Vec<CustomAction>,
    #[serde(default)]
    pub after_databases: Vec<CustomAction>,
    #[serde(default)]
    pub after_services: Vec<CustomAction>,
    #[serde(default)]
    pub before_validation: Vec<CustomAction>,
}

impl ActionsByPoint {
    pub fn of(actions: &[CustomAction]) -> ActionsByPoint {
        let at = |point: ActionPoint| actions.iter().filter(|a| a.at == point).cloned().collect();
        ActionsByPoint {
            before_failover: at(ActionPoint::BeforeFailover),
            after_databases: at(ActionPoint::AfterDatabases),
            after_services: at(ActionPoint::AfterServices),
            before_validation: at(ActionPoint::BeforeValidation),
        }
    }
}

/// What one action did, as the state machine records it (`$.customActionResults.<point>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionOutcome {
    pub name: String,
    /// `succeeded`, `failed` (and the recovery went on), or `skipped` (a dry run, or an
    /// operator's `rebound skip`).
    pub status: String,
    /// Who skipped it and why, when an operator did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<crate::control::Mark>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// Every point's outcomes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionOutcomes {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before_failover: Vec<ActionOutcome>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_databases: Vec<ActionOutcome>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_services: Vec<ActionOutcome>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before_validation: Vec<ActionOutcome>,
}

impl ActionOutcomes {
    /// Every outcome, in the order the recovery ran them.
    pub fn all(&self) -> impl Iterator<Item = &ActionOutcome> {
        self.before_failover
            .iter()
            .chain(&self.after_databases)
            .chain(&self.after_services)
            .chain(&self.before_validation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_grouped_by_point_in_plan_order() {
        let action = |name: &str, at: ActionPoint| CustomAction {
            name: name.into(),
            at,
            function_arn: format!("arn:aws:lambda:us-west-2:123456789012:function:{name}"),
            timeout_seconds: 60,
            stop_on_failure: true,
        };
        let grouped = ActionsByPoint::of(&[
            action("warm-cache", ActionPoint::AfterServices),
            action("drain", ActionPoint::BeforeFailover),
            action("smoke", ActionPoint::AfterServices),
        ]);
        let names = |v: &[CustomAction]| v.iter().map(|a| a.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&grouped.before_failover), ["drain"]);
        assert_eq!(names(&grouped.after_services), ["warm-cache", "smoke"]);
        assert!(grouped.after_databases.is_empty());
        // Every point is present in the state, empty or not: the Map states read each.
        let state = serde_json::to_value(&grouped).expect("json");
        assert_eq!(state["beforeValidation"], serde_json::json!([]));
    }
}
