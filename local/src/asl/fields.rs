//! The fields each state type has, checked before a definition is read: Step Functions refuses
//! a field a state type does not have (a `Catch` on a Pass state) when the state machine is
//! created, so the local runner refuses it too, naming its place in the definition. Fields Step
//! Functions has but this runner does not carry out (JSONata, variables, heartbeats, distributed
//! Map) are refused as well, rather than ignored: a run that silently skipped them would show
//! data AWS never produces.

use serde_json::Value;

use super::StateError;

const MACHINE: &[&str] = &["StartAt", "States", "Comment", "Version", "TimeoutSeconds"];
const BRANCH: &[&str] = &["StartAt", "States", "Comment"];
const PROCESSOR: &[&str] = &["StartAt", "States", "Comment", "ProcessorConfig"];

const FLOW: &[&str] = &["Type", "Comment", "Next", "End", "InputPath", "OutputPath"];
const RESULTS: &[&str] = &["ResultPath", "Parameters", "ResultSelector", "Retry", "Catch"];

/// Fields Step Functions knows that this runner does not carry out, and why they matter.
const NOT_RUN_LOCALLY: &[(&str, &str)] = &[
    ("QueryLanguage", "JSONata"),
    ("Arguments", "JSONata"),
    ("Output", "JSONata"),
    ("Condition", "JSONata"),
    ("Items", "JSONata"),
    ("Assign", "variables"),
    ("HeartbeatSeconds", "task heartbeats"),
    ("HeartbeatSecondsPath", "task heartbeats"),
    ("Credentials", "cross-account task credentials"),
    ("ItemReader", "distributed Map"),
    ("ItemBatcher", "distributed Map"),
    ("ResultWriter", "distributed Map"),
    ("ToleratedFailureCount", "distributed Map"),
    ("ToleratedFailureCountPath", "distributed Map"),
    ("ToleratedFailurePercentage", "distributed Map"),
    ("ToleratedFailurePercentagePath", "distributed Map"),
    ("Label", "distributed Map"),
];

fn state_fields(kind: &str) -> Option<Vec<&'static str>> {
    let own: &[&str] = match kind {
        "Pass" => &["Result", "ResultPath", "Parameters"],
        "Task" => &["Resource", "TimeoutSeconds", "TimeoutSecondsPath"],
        "Choice" => &["Choices", "Default"],
        "Wait" => &["Seconds", "SecondsPath", "Timestamp", "TimestampPath"],
        "Succeed" => &[],
        "Fail" => return Some(vec!["Type", "Comment", "Error", "Cause", "ErrorPath", "CausePath"]),
        "Parallel" => &["Branches"],
        "Map" => &[
            "ItemProcessor",
            "Iterator",
            "ItemsPath",
            "ItemSelector",
            "MaxConcurrency",
            "MaxConcurrencyPath",
        ],
        _ => return None,
    };
    let mut fields: Vec<&str> = FLOW.to_vec();
    fields.extend_from_slice(own);
    if matches!(kind, "Task" | "Parallel" | "Map") {
        fields.extend_from_slice(RESULTS);
    }
    match kind {
        // Choice, Succeed: no Next, End or (Succeed) anything else.
        "Choice" => fields.retain(|f| !matches!(*f, "Next" | "End")),
        "Succeed" => fields.retain(|f| !matches!(*f, "Next" | "End")),
        _ => {}
    }
    Some(fields)
}

/// Choice rule fields: the combinators, the comparisons and their `...Path` forms.
const COMPARISONS: &[&str] = &[
    "StringEquals",
    "StringLessThan",
    "StringGreaterThan",
    "StringLessThanEquals",
    "StringGreaterThanEquals",
    "StringMatches",
    "NumericEquals",
    "NumericLessThan",
    "NumericGreaterThan",
    "NumericLessThanEquals",
    "NumericGreaterThanEquals",
    "BooleanEquals",
    "TimestampEquals",
    "TimestampLessThan",
    "TimestampGreaterThan",
    "TimestampLessThanEquals",
    "TimestampGreaterThanEquals",
];
const TYPE_TESTS: &[&str] = &[
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
];

fn invalid(at: &str, message: String) -> StateError {
    StateError::new(
        "States.InvalidDefinition",
        format!("SCHEMA_VALIDATION_FAILED: {message} at {at}"),
    )
}

/// Every field of `value` (an object) must be one of `allowed`.
fn only(value: &Value, allowed: &[&str], what: &str, at: &str) -> Result<(), StateError> {
    let Some(map) = value.as_object() else {
        return Err(invalid(at, format!("{what} must be an object")));
    };
    for (key, v) in map {
        // JSONPath is the default query language: naming it changes nothing.
        if allowed.contains(&key.as_str()) || (key == "QueryLanguage" && v == "JSONPath") {
            continue;
        }
        if let Some((_, feature)) = NOT_RUN_LOCALLY.iter().find(|(f, _)| f == key) {
            return Err(invalid(
                &format!("{at}/{key}"),
                format!("the field \"{key}\" ({feature}) is not carried out by the local runner"),
            ));
        }
        return Err(invalid(
            &format!("{at}/{key}"),
            format!("the field \"{key}\" is not supported by Step Functions in {what}"),
        ));
    }
    Ok(())
}

/// Checks a whole definition (`at` "" for the top level).
pub fn check_machine(value: &Value, allowed: &[&str], at: &str) -> Result<(), StateError> {
    let what = if at.is_empty() { "a state machine" } else { "a branch" };
    only(value, allowed, what, if at.is_empty() { "/" } else { at })?;
    if let Some(states) = value.get("States").and_then(Value::as_object) {
        for (name, state) in states {
            check_state(state, &format!("{at}/States/{name}"))?;
        }
    }
    Ok(())
}

/// The top level of a definition.
pub fn check_definition(value: &Value) -> Result<(), StateError> {
    check_machine(value, MACHINE, "")
}

fn check_state(state: &Value, at: &str) -> Result<(), StateError> {
    let kind = state.get("Type").and_then(Value::as_str).unwrap_or_default();
    let Some(allowed) = state_fields(kind) else {
        // An unknown or missing Type is named by the typed reading that follows.
        return Ok(());
    };
    only(state, &allowed, &format!("a {kind} state"), at)?;
    reference_path(state, at)?;
    for (field, fields) in [("Retry", RETRIER), ("Catch", CATCHER)] {
        if let Some(list) = state.get(field).and_then(Value::as_array) {
            for (i, item) in list.iter().enumerate() {
                only(item, fields, &format!("a {field} entry"), &format!("{at}/{field}[{i}]"))?;
                reference_path(item, &format!("{at}/{field}[{i}]"))?;
            }
        }
    }
    if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
        for (i, branch) in branches.iter().enumerate() {
            check_machine(branch, BRANCH, &format!("{at}/Branches[{i}]"))?;
        }
    }
    for field in ["ItemProcessor", "Iterator"] {
        if let Some(processor) = state.get(field) {
            check_machine(processor, PROCESSOR, &format!("{at}/{field}"))?;
            if let Some(mode) = processor.pointer("/ProcessorConfig/Mode").and_then(Value::as_str) {
                if mode != "INLINE" {
                    return Err(invalid(
                        &format!("{at}/{field}/ProcessorConfig/Mode"),
                        format!("the {mode} Map (distributed Map) is not carried out by the local runner"),
                    ));
                }
            }
        }
    }
    if let Some(choices) = state.get("Choices").and_then(Value::as_array) {
        for (i, rule) in choices.iter().enumerate() {
            check_rule(rule, true, &format!("{at}/Choices[{i}]"))?;
        }
    }
    Ok(())
}

/// A `ResultPath` (a state's, a catcher's) is a reference path: one place in the input, never
/// a wildcard, slice, filter or the context object (Amazon States Language, "Reference Paths").
fn reference_path(value: &Value, at: &str) -> Result<(), StateError> {
    match value.get("ResultPath").and_then(Value::as_str) {
        Some(p) if p.starts_with("$$") || super::path::parse(p).is_none() => Err(invalid(
            &format!("{at}/ResultPath"),
            format!("ResultPath '{p}' is not a reference path (one place in the input: $.a.b, $.a[0], $['a b'])"),
        )),
        _ => Ok(()),
    }
}

const RETRIER: &[&str] = &[
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
    "Comment",
];
const CATCHER: &[&str] = &["ErrorEquals", "Next", "ResultPath", "Comment"];

/// A Choice rule: a top-level rule has Next, a nested one (in And, Or, Not) has none.
fn check_rule(rule: &Value, top: bool, at: &str) -> Result<(), StateError> {
    let Some(map) = rule.as_object() else {
        return Err(invalid(at, "a Choice rule must be an object".into()));
    };
    for key in map.keys() {
        let known = match key.as_str() {
            "Next" => top,
            "Comment" | "Variable" | "And" | "Or" | "Not" => true,
            k => {
                TYPE_TESTS.contains(&k)
                    || COMPARISONS.contains(&k)
                    || k.strip_suffix("Path").is_some_and(|c| COMPARISONS.contains(&c))
            }
        };
        if !known {
            let what = if key == "Next" {
                "a nested Choice rule"
            } else {
                "a Choice rule"
            };
            return Err(invalid(
                &format!("{at}/{key}"),
                format!("the field \"{key}\" is not supported by Step Functions in {what}"),
            ));
        }
    }
    if top && !map.contains_key("Next") {
        return Err(invalid(at, "a Choice rule must have Next".into()));
    }
    for combinator in ["And", "Or"] {
        if let Some(list) = map.get(combinator).and_then(Value::as_array) {
            for (i, r) in list.iter().enumerate() {
                check_rule(r, false, &format!("{at}/{combinator}[{i}]"))?;
            }
        }
    }
    if let Some(not) = map.get("Not") {
        check_rule(not, false, &format!("{at}/Not"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(definition: Value) -> String {
        let err = check_definition(&definition).expect_err("refused");
        assert_eq!(err.error, "States.InvalidDefinition");
        err.cause
    }

    #[test]
    fn a_field_a_state_type_does_not_have_is_refused_with_its_path() {
        let cause = refused(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "End": true, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "A"}]}
        }}));
        assert!(cause.contains("\"Catch\""), "{cause}");
        assert!(cause.contains("a Pass state at /States/A/Catch"), "{cause}");
        let cause = refused(json!({"StartAt": "A", "States": {
            "A": {"Type": "Succeed", "Next": "A"}
        }}));
        assert!(cause.contains("/States/A/Next"), "{cause}");
        let cause = refused(json!({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "x", "End": true, "Retry": [{"ErrorEquals": ["X"], "MaxAtempts": 2}]}
        }}));
        assert!(cause.contains("/States/A/Retry[0]/MaxAtempts"), "{cause}");
    }

    #[test]
    fn jsonata_variables_heartbeats_and_distributed_maps_are_refused_not_ignored() {
        let cause = refused(json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
            "A": {"Type": "Pass", "Output": "{% $states.input.x %}", "End": true}
        }}));
        assert!(cause.contains("/QueryLanguage") && cause.contains("JSONata"), "{cause}");
        let cause = refused(json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Assign": {"x": 1}, "End": true}
        }}));
        assert!(
            cause.contains("/States/A/Assign") && cause.contains("variables"),
            "{cause}"
        );
        let cause = refused(json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
            "Branches": [{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "x", "HeartbeatSeconds": 5, "End": true}}}]}}}));
        assert!(
            cause.contains("/States/P/Branches[0]/States/T/HeartbeatSeconds"),
            "{cause}"
        );
        let cause = refused(json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ItemReader": {"Resource": "arn:aws:states:::s3:getObject"},
            "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Pass", "End": true}}}}}}));
        assert!(
            cause.contains("/States/M/ItemReader") && cause.contains("distributed Map"),
            "{cause}"
        );
    }

    #[test]
    fn choice_rules_are_checked_down_to_nested_ones() {
        let cause = refused(json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Default": "D", "Choices": [
                {"And": [{"Variable": "$.a", "StringEqual": "x"}], "Next": "D"}]},
            "D": {"Type": "Succeed"}
        }}));
        assert!(cause.contains("/States/C/Choices[0]/And[0]/StringEqual"), "{cause}");
        let cause = refused(json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Not": {"Variable": "$.a", "IsPresent": true, "Next": "D"}, "Next": "D"}]},
            "D": {"Type": "Succeed"}
        }}));
        assert!(cause.contains("nested Choice rule"), "{cause}");
    }

    #[test]
    fn the_recovery_state_machine_has_only_fields_its_states_take() {
        let text = include_str!("../../../statemachine/recovery.asl.json");
        let definition: Value = serde_json::from_str(text).expect("json");
        check_definition(&definition).expect("every field known");
    }
}
