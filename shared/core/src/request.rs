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

/// A request that carries a recovery's context.
pub trait WithContext {
    fn context_mut(&mut self) -> &mut RecoveryContext;
}

impl WithContext for StepRequest {
    fn context_mut(&mut self) -> &mut RecoveryContext {
        &mut self.context
    }
}

impl WithContext for NotificationRequest {
    fn context_mut(&mut self) -> &mut RecoveryContext {
        &mut self.context
    }
}

/// Parses a function's payload into its request type, naming what is wrong when it does not fit.
/// The context's plan is checked as the detector checked it, so that a step never runs on a plan
/// the checker would refuse (serde alone accepts, say, an RTO of 2^63 seconds); then the typed
/// context is narrowed to the region the recovery acts in.
pub fn parse_request<T: serde::de::DeserializeOwned + WithContext>(payload: Value) -> Result<T, BadRequest> {
    if let Some(plan) = payload.pointer("/context/plan") {
        let problems = crate::plan::check_plan(plan);
        if !problems.is_empty() {
            let listed: Vec<String> = problems.iter().map(|p| format!("context.plan: {p}")).collect();
            return Err(BadRequest(listed.join("; ")));
        }
    }
    if let Some(other) = payload.pointer("/context/recoveryRegion").filter(|v| !v.is_string()) {
        return Err(BadRequest(format!(
            "context.recoveryRegion: {other} is not a region name"
        )));
    }
    let mut request: T = serde_json::from_value(payload).map_err(|e| BadRequest(e.to_string()))?;
    towards_chosen_region(request.context_mut())?;
    Ok(request)
}

/// Puts in the context the plan towards the region the recovery acts in (`recoveryRegion`, or
/// the first of `recoveryRegions`), with both fields filled: a step sees a two-region plan, and
/// readiness the regions it may move on to.
fn towards_chosen_region(context: &mut RecoveryContext) -> Result<(), BadRequest> {
    let listed: Vec<String> = context
        .plan
        .recovery_regions()
        .iter()
        .map(ToString::to_string)
        .collect();
    let regions = match context.recovery_regions.as_slice() {
        [] => listed.clone(),
        given => given.to_vec(),
    };
    if let Some(unknown) = regions.iter().find(|r| !listed.contains(r)) {
        return Err(BadRequest(format!(
            "context.recoveryRegions: {unknown} is not a recovery region of the plan ({})",
            listed.join(", ")
        )));
    }
    let region = match &context.recovery_region {
        Some(region) => region.clone(),
        None => regions
            .first()
            .cloned()
            .unwrap_or_else(|| context.plan.recovery_region.clone()),
    };
    let towards = match context.plan.towards(&region) {
        Some(towards) if regions.contains(&region) => towards,
        _ => {
            return Err(BadRequest(format!(
                "context.recoveryRegion: {region} is not one of the regions this recovery may recover into ({})",
                regions.join(", ")
            )))
        }
    };
    context.plan = towards;
    context.recovery_regions = regions;
    context.recovery_region = Some(region);
    Ok(())
}

display_as_serde!(NotificationKind);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::plan::Database;

    const EVENT: &str = include_str!("../../../events/database-failover.json");

    /// The example request, its plan listing eu-west-1 after us-west-2, with `context` fields set.
    fn request(set: Value) -> Value {
        let mut request: Value = serde_json::from_str(EVENT).expect("the example event");
        request["context"]["plan"]["otherRecoveryRegions"] = json!([{
            "region": "eu-west-1",
            "databases": [{"kind": "readReplica", "identifier": "orders-db-euw1",
                           "sourceIdentifier": "arn:aws:rds:us-east-1:123456789012:db:orders-db"}]
        }]);
        for (key, value) in set.as_object().into_iter().flatten() {
            request["context"][key] = value.clone();
        }
        request
    }

    fn replica(ctx: &RecoveryContext) -> String {
        ctx.plan
            .databases
            .iter()
            .map(Database::identifier)
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn a_step_sees_the_plan_towards_the_region_its_recovery_chose() {
        let chosen: crate::request::StepRequest =
            parse_request(request(json!({"recoveryRegion": "eu-west-1"}))).expect("parsed");
        let ctx = chosen.context;
        assert_eq!(
            (ctx.plan.recovery_region.as_str(), replica(&ctx)),
            ("eu-west-1", "orders-db-euw1".into())
        );
        assert!(ctx.plan.other_recovery_regions.is_empty());
        assert_eq!(ctx.recovery_regions, ["us-west-2", "eu-west-1"]);

        let first: StepRequest = parse_request(request(json!({}))).expect("parsed");
        let ctx = first.context;
        assert_eq!(
            (ctx.plan.recovery_region.as_str(), replica(&ctx)),
            ("us-west-2", "orders-db-usw2".into())
        );
        assert_eq!(ctx.recovery_region.as_deref(), Some("us-west-2"));

        let pinned: StepRequest = parse_request(request(json!({"recoveryRegions": ["eu-west-1"]}))).expect("parsed");
        assert_eq!(pinned.context.plan.recovery_region, "eu-west-1");
    }

    #[test]
    fn a_region_the_plan_or_the_recovery_does_not_allow_is_a_bad_request() {
        let refused = |set: Value| match parse_request::<StepRequest>(request(set)) {
            Err(BadRequest(why)) => why,
            Ok(_) => panic!("parsed"),
        };
        assert_eq!(
            refused(json!({"recoveryRegion": "sa-east-1"})),
            "context.recoveryRegion: sa-east-1 is not one of the regions this recovery may recover into (us-west-2, eu-west-1)"
        );
        assert_eq!(
            refused(json!({"recoveryRegions": ["eu-west-1"], "recoveryRegion": "us-west-2"})),
            "context.recoveryRegion: us-west-2 is not one of the regions this recovery may recover into (eu-west-1)"
        );
        assert_eq!(
            refused(json!({"recoveryRegions": ["eu-west-1", "ap-south-1"]})),
            "context.recoveryRegions: ap-south-1 is not a recovery region of the plan (us-west-2, eu-west-1)"
        );
        assert_eq!(
            refused(json!({"recoveryRegion": 7})),
            "context.recoveryRegion: 7 is not a region name"
        );
    }
}
