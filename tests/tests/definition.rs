//! The state machine keeps its promises: every Lambda task retries transient errors with backoff
//! and jitter, never retries invalid input or failed preconditions, and has a Catch; every
//! substitution it uses is provided by the SAM template.

use std::collections::BTreeSet;

use rebound_shared::error::{DRAINING, DRAIN_SECONDS, PAUSED};
use rebound_shared::ErrorKind;
use serde_json::{json, Value};

fn definition() -> Value {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../statemachine/recovery.asl.json"
    ))
    .expect("definition");
    serde_json::from_str(&text).expect("definition is JSON")
}

/// Every state in the definition, branches included, with its name.
fn states(states: &Value, out: &mut Vec<(String, Value)>) {
    for (name, state) in states.as_object().expect("States is an object") {
        out.push((name.clone(), state.clone()));
        for branch in state["Branches"].as_array().into_iter().flatten() {
            self::states(&branch["States"], out);
        }
    }
}

fn all_states() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    states(&definition()["States"], &mut out);
    out
}

/// The status a Choice rule finds ended: completed, or skipped by an operator (`rebound skip`),
/// never anything else.
fn ended(rule: &Value) -> &str {
    let either = rule["Or"].as_array().expect("completed or skipped");
    let variable = either[0]["Variable"].as_str().expect("a variable");
    let statuses: Vec<&Value> = either.iter().map(|r| &r["StringEquals"]).collect();
    assert_eq!(statuses, ["completed", "skipped"], "{rule}");
    assert!(either.iter().all(|r| r["Variable"] == variable), "{rule}");
    variable
}

#[test]
fn every_task_retries_transient_errors_only_and_catches_everything() {
    let tasks: Vec<_> = all_states().into_iter().filter(|(_, s)| s["Type"] == "Task").collect();
    assert!(tasks.len() >= 10, "{} tasks", tasks.len());
    for (name, task) in tasks {
        let retried: Vec<&str> = task["Retry"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no Retry"))
            .iter()
            .flat_map(|r| r["ErrorEquals"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
        for needed in [
            ErrorKind::Transient.error_name(),
            "Lambda.ServiceException",
            "Lambda.TooManyRequestsException",
        ] {
            assert!(retried.contains(&needed), "{name} does not retry {needed}");
        }
        for never in [
            ErrorKind::InvalidInput.error_name(),
            ErrorKind::PreconditionFailed.error_name(),
            "States.ALL",
            "States.TaskFailed",
        ] {
            assert!(!retried.contains(&never), "{name} retries {never}");
        }
        // A task that starts changes waits out an operator's pause, at a constant pace, first.
        let starts = task["Parameters"]["action"] == "start"
            && !task["Resource"].as_str().is_some_and(|r| r.contains("Validator"));
        let retriers = task["Retry"].as_array().expect("Retry");
        let paused = retriers
            .iter()
            .position(|r| r["ErrorEquals"] == serde_json::json!([PAUSED]));
        assert_eq!(paused, starts.then_some(0), "{name}: waits out a pause");
        if let Some(wait) = paused.map(|i| &retriers[i]) {
            assert_eq!(
                (wait["IntervalSeconds"].as_u64(), wait["BackoffRate"].as_f64()),
                (Some(15), Some(1.0)),
                "{name}"
            );
            assert_eq!(wait["MaxAttempts"], 1440, "{name}: six hours");
        }
        // A switchover's promotion waits for its replica to catch up with the fenced writer,
        // at a constant pace, for 10 minutes: database-failover's start alone.
        let draining = retriers
            .iter()
            .position(|r| r["ErrorEquals"] == serde_json::json!([DRAINING]));
        assert_eq!(
            draining,
            (name == "StartDatabaseFailover").then_some(1),
            "{name}: waits for a replica to drain"
        );
        if let Some(wait) = draining.map(|i| &retriers[i]) {
            assert_eq!(
                (
                    wait["IntervalSeconds"].as_u64(),
                    wait["BackoffRate"].as_f64(),
                    wait["MaxAttempts"].as_u64()
                ),
                (Some(15), Some(1.0), Some(DRAIN_SECONDS / 15)),
                "{name}: every 15 s for as long as a switchover waits"
            );
        }
        for retry in retriers.iter().filter(|r| {
            r["ErrorEquals"] != serde_json::json!([PAUSED]) && r["ErrorEquals"] != serde_json::json!([DRAINING])
        }) {
            assert!(
                retry["BackoffRate"].as_f64().is_some_and(|b| b > 1.0),
                "{name}: backoff"
            );
            assert_eq!(retry["JitterStrategy"], "FULL", "{name}: jitter");
            assert!(retry["MaxDelaySeconds"].is_u64(), "{name}: bounded delay");
        }
        let catches = task["Catch"]
            .as_array()
            .unwrap_or_else(|| panic!("{name} has no Catch"));
        assert!(
            catches.iter().any(|c| c["ErrorEquals"]
                .as_array()
                .is_some_and(|e| e.contains(&Value::from("States.ALL")))),
            "{name} does not catch States.ALL"
        );
        assert!(
            task["TimeoutSeconds"].is_u64() || task["TimeoutSecondsPath"].is_string(),
            "{name} has no timeout"
        );
    }
}

#[test]
fn every_failure_path_notifies_before_failing() {
    let states = all_states();
    let top = definition();
    let top = top["States"].as_object().expect("states");
    for (name, state) in &states {
        for catch in state["Catch"].as_array().into_iter().flatten() {
            let next = catch["Next"].as_str().expect("Catch has Next");
            let in_top = top.contains_key(next);
            // Top-level catches go to the notifier (or end when there is nothing to notify with);
            // branch catches record the failure as the branch's result.
            if in_top {
                assert!(
                    [
                        "NotifyFailure",
                        "DetectionFailed",
                        "RecoveryFailed",
                        "NotificationFailed",
                        "NotReady"
                    ]
                    .contains(&next),
                    "{name} catches to {next}"
                );
            } else {
                assert!(next.ends_with("Failed"), "{name} catches to {next}");
            }
        }
    }
    assert_eq!(top["NotifyFailure"]["Parameters"]["kind"], "failure");
    assert_eq!(top["NotifyNotReady"]["Next"], "NotReady");
    assert_eq!(top["NotReady"]["Error"], "Rebound.PreconditionFailed");
    assert_eq!(top["NotifyFailure"]["Next"], "RecoveryFailed");
    assert_eq!(top["RecoveryFailed"]["Type"], "Fail");
}

#[test]
fn substitutions_are_exactly_the_templates() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../statemachine/recovery.asl.json"
    ))
    .expect("definition");
    let used: BTreeSet<String> = text
        .split("${")
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
        .collect();
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).expect("template");
    let section = template
        .split("DefinitionSubstitutions:")
        .nth(1)
        .expect("template has DefinitionSubstitutions");
    let provided: BTreeSet<String> = section
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("        "))
        .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.to_string()))
        .collect();
    assert_eq!(used.len(), 6, "{used:?}");
    assert_eq!(used, provided);
}

#[test]
fn no_policy_grants_every_action() {
    let template = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../template.yaml")).expect("template");
    let lines: Vec<&str> = template.lines().collect();
    for (n, line) in lines.iter().enumerate() {
        // A Deny of every action (the report bucket's TLS-only rule) grants nothing.
        let denies = lines[n.saturating_sub(3)..n].iter().any(|l| l.trim() == "Effect: Deny");
        let action = line
            .trim()
            .trim_start_matches("- ")
            .trim_start_matches("Action:")
            .trim()
            .trim_matches('"');
        let is_action_line = line.contains("Action:")
            || line.trim_start().starts_with("- ") && line.contains(':') && !line.contains("!");
        if is_action_line && !denies {
            assert!(action != "*" && !action.ends_with(":*"), "line {}: {line}", n + 1);
        }
    }
}

/// Where each branch of a Parallel starts.
fn starts(parallel: &Value) -> Vec<&str> {
    parallel["Branches"]
        .as_array()
        .expect("branches")
        .iter()
        .filter_map(|b| b["StartAt"].as_str())
        .collect()
}

/// The states of one branch of `InitiateFailover`, by where it starts.
fn branch(start: &str) -> serde_json::Map<String, Value> {
    let def = definition();
    def["States"]["InitiateFailover"]["Branches"]
        .as_array()
        .expect("branches")
        .iter()
        .find(|b| b["StartAt"] == start)
        .unwrap_or_else(|| panic!("a branch starting at {start}"))["States"]
        .as_object()
        .expect("states")
        .clone()
}

#[test]
fn capacity_grows_beside_the_failover_and_what_needs_the_writer_waits_for_the_promotion() {
    let def = definition();
    let parallel = &def["States"]["InitiateFailover"];
    assert_eq!(
        starts(parallel),
        ["StartDnsFailover", "StartDatabaseFailover", "AddCapacity"]
    );
    let capacity = branch("AddCapacity");
    assert_eq!(capacity["AddCapacity"]["Parameters"]["stage"], "capacity");
    assert_eq!(capacity["CheckCapacity"]["Parameters"]["stage"], "capacity");

    // In the databases' branch, the only way to the writer's services is a completed failover,
    // then the custom actions after it.
    let databases = branch("StartDatabaseFailover");
    let into = |target: &str| -> Vec<String> {
        databases
            .iter()
            .filter(|(_, s)| {
                s["Next"] == target
                    || s["Default"] == target
                    || s["Choices"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|c| c["Next"] == target)
            })
            .map(|(name, _)| name.clone())
            .collect()
    };
    assert_eq!(into("RestoreWriterServices"), ["AfterDatabasesActions"]);
    assert_eq!(into("AfterDatabasesActions"), ["DatabaseFailoverDone?"]);
    let done = &databases["DatabaseFailoverDone?"]["Choices"][0];
    assert_eq!(done["Next"], "AfterDatabasesActions");
    assert_eq!(ended(done), "$.results.database.status");
    for name in ["RestoreWriterServices", "CheckWriterServices"] {
        assert_eq!(databases[name]["Parameters"]["stage"], "afterWriter", "{name}");
    }
    // Every branch's results reach the state, and the failover succeeds only with all four.
    let selector = parallel["ResultSelector"].as_object().expect("selector");
    for key in ["dns.$", "database.$", "capacity.$", "services.$"] {
        assert!(selector.contains_key(key), "{key}");
    }
    let rules = def["States"]["FailoverSucceeded?"]["Choices"][0]["And"]
        .as_array()
        .expect("And")
        .iter()
        .map(ended)
        .collect::<BTreeSet<_>>();
    assert_eq!(
        rules,
        BTreeSet::from([
            "$.results.capacity.status",
            "$.results.database.status",
            "$.results.dns.status",
            "$.results.services.status"
        ])
    );
}

#[test]
fn each_polling_wait_is_timed_by_the_result_it_polls() {
    let mut waited = 0;
    let states = all_states();
    for (name, state) in states.iter().filter(|(_, s)| s["Type"] == "Wait") {
        if name == "WaitBeforeProbing" || name == "WaitBeforeConfirming" {
            // Validation rounds are spaced on purpose: consecutive successes mean something.
            assert!(state["Seconds"].is_u64());
            continue;
        }
        let next = state["Next"].as_str().expect("Next");
        let (_, check) = states.iter().find(|(n, _)| n == next).expect("the check");
        let result = check["ResultPath"].as_str().expect("ResultPath");
        assert_eq!(
            state["SecondsPath"].as_str(),
            Some(format!("{result}.nextCheckSeconds").as_str()),
            "{name}"
        );
        waited += 1;
    }
    assert_eq!(waited, 6);
}

#[test]
fn validation_rounds_run_beside_the_custom_actions_and_one_more_confirms_after_them() {
    let def = definition();
    let states = &def["States"];
    assert_eq!(
        starts(&states["ValidateBesideActions"]),
        ["AfterServicesActions", "ValidateRecovery"]
    );
    // Both ways to it: the failover's services and a service restore's.
    assert_eq!(
        states["FailoverSucceeded?"]["Choices"][0]["Next"],
        "ValidateBesideActions"
    );
    assert_eq!(
        states["ServicesRestored?"]["Choices"][0]["Next"],
        "ValidateBesideActions"
    );
    // The confirming round continues the rounds' streak (status), after every custom action.
    assert_eq!(states["KeepValidationRounds"]["Next"], "ConfirmRecovery");
    assert_eq!(states["ConfirmRecovery"]["Parameters"]["action"], "status");
    assert_eq!(states["ConfirmRecovery"]["ResultPath"], "$.results.validation");
    assert_eq!(states["RecoveryConfirmed?"]["Choices"][0]["Next"], "SendNotification");
    assert_eq!(states["RecoveryConfirmed?"]["Default"], "WaitBeforeConfirming");
    // Nothing else reaches the success notification, but a reprotect whose failback is ready.
    let into_success: Vec<&String> = states
        .as_object()
        .expect("states")
        .iter()
        .filter(|(_, s)| {
            s["Next"] == "SendNotification"
                || s["Choices"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|c| c["Next"] == "SendNotification")
        })
        .map(|(name, _)| name)
        .collect();
    assert_eq!(into_success, ["FailbackReady?", "RecoveryConfirmed?"]);
}

#[test]
fn a_reprotect_builds_then_checks_the_failbacks_readiness_and_moves_nothing() {
    let def = definition();
    let states = &def["States"];
    // Only a reprotect the detector took the lease for; before the failover's own way in.
    let choices = states["EvaluateRecoveryNeeded"]["Choices"].as_array().expect("choices");
    let at = choices.iter().position(|c| c["Next"] == "Reprotect").expect("a way in");
    assert_eq!(
        choices[at]["And"],
        json!([{"Variable": "$.path", "StringEquals": "reprotect"},
               {"Variable": "$.decision.recoveryRequired", "BooleanEquals": true}])
    );
    let failover = choices
        .iter()
        .position(|c| c["Variable"] == "$.decision.recoveryRequired")
        .expect("the failover's way in");
    assert!(at < failover);
    // database-failover builds and polls, as its failover does, paused by an operator but
    // never draining; any failure is notified.
    for (name, action) in [("Reprotect", "start"), ("CheckReprotect", "status")] {
        let state = &states[name];
        assert_eq!(state["Resource"], "${DatabaseFailoverFunctionArn}", "{name}");
        assert_eq!(state["Parameters"]["action"], action, "{name}");
        assert_eq!(state["ResultPath"], "$.results.database", "{name}");
        assert_eq!(state["Catch"][0]["Next"], "NotifyFailure", "{name}");
        let retried: Vec<&Value> = state["Retry"]
            .as_array()
            .expect("retry")
            .iter()
            .flat_map(|r| r["ErrorEquals"].as_array().expect("errors"))
            .collect();
        assert!(!retried.contains(&&json!("Rebound.Draining")), "{name}");
        assert_eq!(
            retried.contains(&&json!("Rebound.Paused")),
            name == "Reprotect",
            "{name}"
        );
    }
    assert_eq!(states["Reprotected?"]["Choices"][0]["Next"], "AsFailback");
    assert_eq!(states["Reprotected?"]["Default"], "WaitForReprotect");
    // Then the failback's readiness: the steps' dry runs as a failback, reported, not raised.
    assert_eq!(states["AsFailback"]["Result"], "failback");
    assert_eq!(states["AsFailback"]["ResultPath"], "$.mode");
    assert_eq!(states["AsFailback"]["Next"], "DryRunSteps");
    assert!(states["ScheduledCheck?"]["Choices"]
        .as_array()
        .expect("choices")
        .contains(&json!({"Variable": "$.path", "StringEquals": "reprotect", "Next": "CheckFailbackReadiness"})));
    assert_eq!(states["CheckFailbackReadiness"]["Parameters"]["action"], "readiness");
    assert_eq!(states["CheckFailbackReadiness"]["Next"], "FailbackReady?");
    assert_eq!(states["FailbackReady?"]["Default"], "FailbackNotReady");
    assert_eq!(
        states["FailbackNotReady"]["Result"]["Error"],
        "Rebound.PreconditionFailed"
    );
    assert_eq!(states["FailbackNotReady"]["Next"], "NotifyFailure");
}
