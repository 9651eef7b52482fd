//! An operator's hand on a running recovery: pause, resume, skip a step, cancel, switch a
//! switchover to ungraceful. The marks live
//! in the recovery table (one row per execution); every step reads them as it is invoked, and
//! [`gate`] decides what that invocation may do. Deployed and local runs read the same row, so
//! the commands mean the same in both.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::context::{Check, ServiceStage, StepAction};

/// Who did it, when and why: kept in the control row, the audit and the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mark {
    pub by: String,
    /// The caller's AWS identity (STS GetCallerIdentity), where it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// What operators asked of one execution.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Control {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<Mark>,
    /// Steps (by their result's key: `dns`, `database`, `capacity`, `services`, `validation`)
    /// an operator gave up on.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub skipped: BTreeMap<String, Mark>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled: Option<Mark>,
    /// A switchover that goes on as a failover: it stops waiting for zero lag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ungraceful: Option<Mark>,
}

/// What an operator asks of a running recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Steer {
    Pause,
    Resume,
    Skip(String),
    Cancel,
    Ungraceful,
}

impl Steer {
    /// The audit row's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Steer::Pause => "paused",
            Steer::Resume => "resumed",
            Steer::Skip(_) => "skipped",
            Steer::Cancel => "cancelled",
            Steer::Ungraceful => "ungraceful",
        }
    }

    /// The command that asks it.
    pub fn verb(&self) -> &'static str {
        match self {
            Steer::Pause => "pause",
            Steer::Resume => "resume",
            Steer::Skip(_) => "skip",
            Steer::Cancel => "cancel",
            Steer::Ungraceful => "ungraceful",
        }
    }
}

/// Why a command cannot apply: said to the operator, nothing written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SteerRefused {
    #[error("it is not paused")]
    NotPaused,
    #[error("it was cancelled by {} at {}: nothing more can be asked of it", .0.by, .0.at.to_rfc3339())]
    Cancelled(Mark),
    #[error("`{0}` is not a step that can be skipped (one of: {steps}, or action:NAME for a custom action)", steps = SKIPPABLE.join(", "))]
    UnknownStep(String),
    #[error("a reason is required: it goes into the audit and the report")]
    NoReason,
}

/// `control` after `steer`, with `mark` saying who and why; what the pause that a resume ends
/// had lasted. Asking again for what already holds (pause twice, skip twice) changes nothing.
pub fn apply(control: &Control, steer: &Steer, mark: Mark) -> Result<(Control, Option<Mark>), SteerRefused> {
    if mark.reason.trim().is_empty() && *steer != Steer::Resume {
        return Err(SteerRefused::NoReason);
    }
    if let Some(cancelled) = &control.cancelled {
        return Err(SteerRefused::Cancelled(cancelled.clone()));
    }
    let mut next = control.clone();
    let mut ended = None;
    match steer {
        Steer::Pause => {
            next.paused.get_or_insert(mark);
        }
        Steer::Resume => ended = Some(next.paused.take().ok_or(SteerRefused::NotPaused)?),
        Steer::Skip(step) => {
            if !skippable(step) {
                return Err(SteerRefused::UnknownStep(step.clone()));
            }
            next.skipped.entry(step.clone()).or_insert(mark);
        }
        Steer::Cancel => next.cancelled = Some(mark),
        Steer::Ungraceful => {
            next.ungraceful.get_or_insert(mark);
        }
    }
    Ok((next, ended))
}

/// The steps an operator may skip: each one's result key, as the state carries it; and any of
/// the plan's custom actions, as `action:NAME`.
pub const SKIPPABLE: [&str; 5] = ["dns", "database", "capacity", "services", "validation"];

/// The prefix of a custom action's key: `action:warm-cache`.
pub const ACTION_PREFIX: &str = "action:";

fn skippable(step: &str) -> bool {
    SKIPPABLE.contains(&step) || step.strip_prefix(ACTION_PREFIX).is_some_and(|name| !name.is_empty())
}

/// What an invocation of a step may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Run as asked.
    Go,
    /// Start nothing new: the state machine asks again later (`Rebound.Paused`).
    Paused(Mark),
    /// End the step as skipped: no new change, the recovery goes on.
    Skip(Mark),
    /// End the recovery (`Rebound.Cancelled`): the failure path notifies and reports it.
    Cancel(Mark),
}

/// The result key of the step a function's invocation is, where an operator may steer it:
/// readiness and dry runs are never steered.
pub fn step_key(function: &str, action: StepAction, stage: ServiceStage) -> Option<&'static str> {
    if action == StepAction::Readiness {
        return None;
    }
    match function {
        "dns-failover" => Some("dns"),
        "database-failover" => Some("database"),
        "service-restoration" => Some(stage.result_key()),
        "recovery-validator" => Some("validation"),
        _ => None,
    }
}

/// What `control` lets an invocation of step `key` with `action` do. A cancel ends everything;
/// a skipped step ends whatever it is doing; a pause holds back only `start`, the action that
/// begins changes, so the operations in flight are still followed to their end.
pub fn gate(control: &Control, key: &str, action: StepAction) -> Gate {
    if let Some(mark) = &control.cancelled {
        return Gate::Cancel(mark.clone());
    }
    if let Some(mark) = control.skipped.get(key) {
        return Gate::Skip(mark.clone());
    }
    match (&control.paused, action) {
        // Validation changes nothing: it goes on probing.
        (Some(mark), StepAction::Start) if key != "validation" => Gate::Paused(mark.clone()),
        _ => Gate::Go,
    }
}

/// A switchover an operator switched to ungraceful (`rebound ungraceful`) goes on as a failover
/// from database-failover's next invocation: a replica is promoted with the lag the RPO target
/// (or an approval) accepts instead of waiting for none, an Aurora global database fails over
/// with `AllowDataLoss` instead of switching over, and the old writer is fenced as in a
/// failover. `context` is that invocation's recovery context; what it had started stays under
/// way. Returns the mark when the context was changed: other modes are left as they are.
pub fn ungraceful(context: &mut Value, control: &Control) -> Option<Mark> {
    let mark = control.ungraceful.as_ref()?;
    if context["mode"] != "switchover" {
        return None;
    }
    context["mode"] = json!("failover");
    context["ungraceful"] = json!(mark);
    Some(mark.clone())
}

/// What the state machine asks before a custom action runs (`action: "gate"`) and after one
/// failed (`started: true`): `skipped` (who and why) when an operator skipped it. A pause holds
/// back only an action that has not started; a cancel ends the recovery either way.
pub fn action_gate(control: &Control, key: &str, started: bool) -> Result<Value, Gate> {
    let action = if started { StepAction::Status } else { StepAction::Start };
    match gate(control, key, action) {
        Gate::Go => Ok(json!({ "open": true })),
        Gate::Skip(mark) => Ok(json!({ "open": false, "skipped": mark })),
        refused => Err(refused),
    }
}

/// A skipped step's result, from the recovery `context` the step was given: what the step held
/// so far (or nothing when it had not started), ended as `skipped` with who and why. Changes
/// still pending stay `pending`, so a report never shows them as done; a skipped validation
/// never passed.
pub fn skipped_result(context: &Value, key: &str, mark: &Mark, now: DateTime<Utc>) -> Value {
    let previous = &context["results"][key];
    let fresh = || json!({ "step": step_name(key), "dryRun": false, "startedAt": now, "actions": [] });
    let end = |result: &mut Value| {
        result["status"] = json!("skipped");
        result["finishedAt"] = json!(now);
        result["skipped"] = json!(mark);
        if let Some(map) = result.as_object_mut() {
            map.remove("nextCheckSeconds");
        }
    };
    if key == "validation" {
        let mut report = if previous.get("result").is_some() {
            previous.clone()
        } else {
            let objective = |name: &str| json!({ "targetSeconds": context["plan"]["objectives"][name], "actualSeconds": null, "met": null });
            json!({
                "result": fresh(), "checks": [], "consecutiveSuccesses": 0,
                "rto": objective("rtoSeconds"), "rpo": objective("rpoSeconds"),
            })
        };
        end(&mut report["result"]);
        report["passed"] = json!(false);
        return report;
    }
    let mut result = if previous.get("status").is_some() {
        previous.clone()
    } else {
        fresh()
    };
    end(&mut result);
    result
}

/// A failing check of what a skipped step was to do: reported as skipped, naming who gave up
/// on it and why, so it neither holds the validation back nor counts as passed.
pub fn waive(check: Check, key: &str, mark: &Mark) -> Check {
    if !check.failed() {
        return check;
    }
    let detail = format!(
        "{}; not awaited: {key} was skipped by {}: {}",
        check.detail, mark.by, mark.reason
    );
    Check::skipped(check.name, detail)
}

/// The `step` name a result of key `key` carries.
pub fn step_name(key: &str) -> &'static str {
    match key {
        "dns" => "dnsFailover",
        "database" => "databaseFailover",
        "validation" => "validation",
        _ => "serviceRestoration",
    }
}

/// The message a paused step fails with, naming who paused and how to resume.
pub fn paused_message(recovery_id: &str, mark: &Mark) -> String {
    format!(
        "recovery {recovery_id} is paused by {} since {} ({}): it starts no new change until `rebound resume {recovery_id}`",
        mark.by,
        mark.at.to_rfc3339(),
        mark.reason
    )
}

/// The message a cancelled recovery ends with.
pub fn cancelled_message(recovery_id: &str, mark: &Mark) -> String {
    format!(
        "recovery {recovery_id} was cancelled by {} at {}: {}",
        mark.by,
        mark.at.to_rfc3339(),
        mark.reason
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(reason: &str) -> Mark {
        Mark {
            by: "jane".into(),
            principal: None,
            reason: reason.into(),
            at: DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn a_pause_holds_back_new_changes_and_lets_the_ones_in_flight_finish() {
        let control = Control {
            paused: Some(mark("look first")),
            ..Control::default()
        };
        assert_eq!(
            gate(&control, "dns", StepAction::Start),
            Gate::Paused(mark("look first"))
        );
        assert_eq!(gate(&control, "dns", StepAction::Status), Gate::Go);
        assert_eq!(gate(&control, "validation", StepAction::Start), Gate::Go);
        assert_eq!(gate(&Control::default(), "dns", StepAction::Start), Gate::Go);
    }

    #[test]
    fn a_switchover_switched_to_ungraceful_is_a_failover_for_the_database_step_only() {
        let (control, _) =
            apply(&Control::default(), &Steer::Ungraceful, mark("primary degrading")).unwrap_or_default();
        // Asked twice: the first mark stands.
        let (again, _) = apply(&control, &Steer::Ungraceful, mark("again")).unwrap_or_default();
        assert_eq!(again.ungraceful, Some(mark("primary degrading")));
        let mut switchover = json!({ "mode": "switchover" });
        assert_eq!(ungraceful(&mut switchover, &control), Some(mark("primary degrading")));
        assert_eq!(switchover["mode"], "failover");
        assert_eq!(switchover["ungraceful"]["reason"], "primary degrading");
        // A failback acts in the other region; a failover is ungraceful already.
        for mode in ["failback", "failover", "drill"] {
            let mut context = json!({ "mode": mode });
            assert_eq!(ungraceful(&mut context, &control), None);
            assert_eq!(context, json!({ "mode": mode }));
        }
        let mut untouched = json!({ "mode": "switchover" });
        assert_eq!(ungraceful(&mut untouched, &Control::default()), None);
        assert_eq!(untouched["mode"], "switchover");
        assert_eq!(
            apply(&control, &Steer::Ungraceful, mark(" ")).err(),
            Some(SteerRefused::NoReason)
        );
    }

    #[test]
    fn a_cancel_ends_every_step_and_a_skip_only_its_own() {
        let mut control = Control {
            paused: Some(mark("p")),
            ..Control::default()
        };
        control
            .skipped
            .insert("services".into(), mark("never reaches its count"));
        assert_eq!(
            gate(&control, "services", StepAction::Status),
            Gate::Skip(mark("never reaches its count"))
        );
        assert_eq!(gate(&control, "capacity", StepAction::Status), Gate::Go);
        control.cancelled = Some(mark("wrong region"));
        for key in SKIPPABLE {
            for action in [StepAction::Start, StepAction::Status] {
                assert_eq!(gate(&control, key, action), Gate::Cancel(mark("wrong region")));
            }
        }
    }

    #[test]
    fn commands_apply_once_and_nothing_follows_a_cancel() {
        let (paused, _) = apply(&Control::default(), &Steer::Pause, mark("look")).expect("paused");
        let (again, _) = apply(&paused, &Steer::Pause, mark("twice")).expect("still paused");
        assert_eq!(again.paused, Some(mark("look")), "the first pause stands");
        let (resumed, ended) = apply(&again, &Steer::Resume, mark("")).expect("resumed");
        assert_eq!((resumed.paused, ended), (None, Some(mark("look"))));
        assert_eq!(
            apply(&Control::default(), &Steer::Resume, mark("")),
            Err(SteerRefused::NotPaused)
        );
        assert_eq!(
            apply(&Control::default(), &Steer::Skip("dsn".into()), mark("x")),
            Err(SteerRefused::UnknownStep("dsn".into()))
        );
        assert_eq!(
            apply(&Control::default(), &Steer::Skip("action:".into()), mark("x")),
            Err(SteerRefused::UnknownStep("action:".into()))
        );
        let (hung, _) = apply(
            &Control::default(),
            &Steer::Skip("action:warm-cache".into()),
            mark("hangs"),
        )
        .expect("skipped");
        assert_eq!(
            gate(&hung, "action:warm-cache", StepAction::Start),
            Gate::Skip(mark("hangs"))
        );
        assert_eq!(
            apply(&Control::default(), &Steer::Cancel, mark(" ")),
            Err(SteerRefused::NoReason)
        );
        let (cancelled, _) = apply(&Control::default(), &Steer::Cancel, mark("wrong")).expect("cancelled");
        assert!(matches!(
            apply(&cancelled, &Steer::Resume, mark("")),
            Err(SteerRefused::Cancelled(_))
        ));
    }

    #[test]
    fn only_a_failing_check_of_a_skipped_step_is_waived() {
        let failing = Check::new("svc".into(), false, "1 of 4 running".into());
        let waived = waive(failing, "services", &mark("stuck"));
        assert_eq!(waived.verdict(), "skipped");
        assert!(
            waived.detail.contains("services was skipped by jane: stuck"),
            "{}",
            waived.detail
        );
        let passing = Check::new("svc".into(), true, "4 of 4 running".into());
        assert_eq!(waive(passing, "services", &mark("stuck")).verdict(), "passed");
    }

    #[test]
    fn readiness_is_never_steered_and_each_stage_has_its_key() {
        assert_eq!(step_key("dns-failover", StepAction::Readiness, ServiceStage::All), None);
        assert_eq!(
            step_key("service-restoration", StepAction::Start, ServiceStage::Capacity),
            Some("capacity")
        );
        assert_eq!(
            step_key("service-restoration", StepAction::Status, ServiceStage::AfterWriter),
            Some("services")
        );
        assert_eq!(
            step_key("recovery-notifier", StepAction::Start, ServiceStage::All),
            None
        );
    }

    #[test]
    fn a_skipped_step_keeps_what_it_did_and_its_pending_changes_stay_pending() {
        let context = json!({
            "plan": {"objectives": {"rtoSeconds": 900, "rpoSeconds": 60}},
            "results": {"services": {
                "step": "serviceRestoration", "status": "inProgress", "nextCheckSeconds": 30,
                "actions": [{"resource": "svc", "status": "pending"}],
            }},
        });
        let now = DateTime::from_timestamp(1_700_000_100, 0).unwrap_or_default();
        let result = skipped_result(&context, "services", &mark("stuck"), now);
        assert_eq!(result["status"], "skipped");
        assert_eq!(result["actions"][0]["status"], "pending");
        assert_eq!(result["skipped"]["by"], "jane");
        assert!(result.get("nextCheckSeconds").is_none());
        let fresh = skipped_result(&context, "dns", &mark("stuck"), now);
        assert_eq!(fresh["step"], "dnsFailover");
        assert_eq!(fresh["actions"], json!([]));
        let validation: crate::context::ValidationReport =
            serde_json::from_value(skipped_result(&context, "validation", &mark("probe is wrong"), now))
                .expect("a validation report");
        assert!(!validation.passed);
        assert_eq!(validation.result.status, crate::context::StepStatus::Skipped);
        assert_eq!(validation.rto.target_seconds, 900);
    }
}
