//! The state machine keeps its promises: every Lambda task retries transient errors with backoff
//! and jitter, never retries invalid input or failed preconditions, and has a Catch; every
//! substitution it uses is provided by the SAM template.

use std::collections::BTreeSet;

use rebound_shared::ErrorKind;
use serde_json::Value;

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
        for retry in task["Retry"].as_array().into_iter().flatten() {
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
