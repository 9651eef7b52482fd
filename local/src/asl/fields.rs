//! The fields each state type has, checked before a definition is read: Step Functions refuses
//! a field a state type does not have (a `Catch` on a Pass state) when the state machine is
//! created, so the local runner refuses it too, naming its place in the definition. Each state
//! is checked in its query language: a JSONPath field in a JSONata state (or the reverse) is
//! refused. Fields Step Functions has but this runner does not carry out (heartbeats,
//! distributed Map, JSONata functions `jsonata-rs` lacks) are refused as well, rather than
//! ignored: a run that silently skipped them would show data AWS never produces.

use std::collections::BTreeSet;

use serde_json::Value;

use super::definition::Language;
use super::scope::{assigned_names, check_assigns};
use super::{jsonata, StateError};

const MACHINE: &[&str] = &[
    "StartAt",
    "States",
    "Comment",
    "Version",
    "TimeoutSeconds",
    "QueryLanguage",
];
const BRANCH: &[&str] = &["StartAt", "States", "Comment"];
const PROCESSOR: &[&str] = &["StartAt", "States", "Comment", "ProcessorConfig"];

const FLOW: &[&str] = &[
    "Type",
    "Comment",
    "Next",
    "End",
    "QueryLanguage",
    "InputPath",
    "OutputPath",
    "Output",
    "Assign",
];
const RESULTS: &[&str] = &[
    "ResultPath",
    "Parameters",
    "ResultSelector",
    "Retry",
    "Catch",
    "Arguments",
];

/// Fields only a JSONPath state takes (JSONata states use Arguments, Output, Items, Condition
/// and expressions in their own fields instead).
const JSONPATH_ONLY: &[&str] = &[
    "InputPath",
    "OutputPath",
    "Parameters",
    "ResultSelector",
    "ResultPath",
    "Result",
    "ItemsPath",
    "SecondsPath",
    "TimestampPath",
    "ErrorPath",
    "CausePath",
    "MaxConcurrencyPath",
    "TimeoutSecondsPath",
    "HeartbeatSecondsPath",
    "Variable",
];
/// Fields only a JSONata state takes.
const JSONATA_ONLY: &[&str] = &["Arguments", "Output", "Items", "Condition"];

/// Fields Step Functions knows that this runner does not carry out, and why they matter.
const NOT_RUN_LOCALLY: &[(&str, &str)] = &[
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
        "Fail" => {
            return Some(vec![
                "Type",
                "Comment",
                "QueryLanguage",
                "Error",
                "Cause",
                "ErrorPath",
                "CausePath",
            ])
        }
        "Parallel" => &["Branches"],
        "Map" => &[
            "ItemProcessor",
            "Iterator",
            "ItemsPath",
            "ItemSelector",
            "Items",
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
        // Choice, Succeed: no Next, End or (Succeed) Assign; Arguments only in Task and Parallel.
        "Choice" => fields.retain(|f| !matches!(*f, "Next" | "End")),
        "Succeed" => fields.retain(|f| !matches!(*f, "Next" | "End" | "Assign")),
        "Map" => fields.retain(|f| *f != "Arguments"),
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

/// Every field of `value` (an object) must be one of `allowed`, and one its query language takes.
fn only(value: &Value, allowed: &[&str], what: &str, at: &str, language: Language) -> Result<(), StateError> {
    let Some(map) = value.as_object() else {
        return Err(invalid(at, format!("{what} must be an object")));
    };
    for key in map.keys() {
        let (other, named) = match language {
            Language::JsonPath => (JSONATA_ONLY, "JSONata"),
            Language::Jsonata => (JSONPATH_ONLY, "JSONPath"),
        };
        if allowed.contains(&key.as_str()) && other.contains(&key.as_str()) {
            let this = if named == "JSONata" { "JSONPath" } else { "JSONata" };
            return Err(invalid(
                &format!("{at}/{key}"),
                format!("the field \"{key}\" is a {named} field, not supported by Step Functions in {what} in {this}"),
            ));
        }
        if allowed.contains(&key.as_str()) {
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

/// A `QueryLanguage` field's value, if the object has one.
fn query_language(value: &Value, at: &str) -> Result<Option<Language>, StateError> {
    match value.get("QueryLanguage") {
        None => Ok(None),
        Some(v) if v == "JSONPath" => Ok(Some(Language::JsonPath)),
        Some(v) if v == "JSONata" => Ok(Some(Language::Jsonata)),
        Some(v) => Err(invalid(
            &format!("{at}/QueryLanguage"),
            format!("QueryLanguage must be JSONPath or JSONata, not {v}"),
        )),
    }
}

/// Checks a whole definition (`at` "" for the top level), in the top level's query language;
/// `outer` holds the variables states around this one (a branch's, an iteration's) assign.
fn check_machine(
    value: &Value,
    allowed: &[&str],
    at: &str,
    language: Language,
    outer: &BTreeSet<String>,
) -> Result<(), StateError> {
    let what = if at.is_empty() { "a state machine" } else { "a branch" };
    only(
        value,
        allowed,
        what,
        if at.is_empty() { "/" } else { at },
        Language::JsonPath,
    )?;
    let Some(states) = value.get("States").and_then(Value::as_object) else {
        return Ok(());
    };
    let mut here = outer.clone();
    for state in states.values() {
        here.extend(assigned_names(state));
    }
    for (name, state) in states {
        let at = format!("{at}/States/{name}");
        check_assigns(state, &at, outer).map_err(|(at, m)| invalid(&at, m))?;
        check_state(state, &at, language, &here)?;
    }
    Ok(())
}

/// The top level of a definition.
pub fn check_definition(value: &Value) -> Result<(), StateError> {
    let language = query_language(value, "")?.unwrap_or_default();
    check_machine(value, MACHINE, "", language, &BTreeSet::new())
}

fn check_state(state: &Value, at: &str, machine: Language, variables: &BTreeSet<String>) -> Result<(), StateError> {
    let kind = state.get("Type").and_then(Value::as_str).unwrap_or_default();
    let Some(allowed) = state_fields(kind) else {
        // An unknown or missing Type is named by the typed reading that follows.
        return Ok(());
    };
    let language = query_language(state, at)?.unwrap_or(machine);
    if machine == Language::Jsonata && language == Language::JsonPath {
        return Err(invalid(
            &format!("{at}/QueryLanguage"),
            "a state may not use JSONPath when the state machine's QueryLanguage is JSONata".into(),
        ));
    }
    only(state, &allowed, &format!("a {kind} state"), at, language)?;
    if language == Language::Jsonata {
        expressions(state, at)?;
    }
    reference_path(state, at)?;
    for (field, fields) in [("Retry", RETRIER), ("Catch", CATCHER)] {
        if let Some(list) = state.get(field).and_then(Value::as_array) {
            for (i, item) in list.iter().enumerate() {
                only(
                    item,
                    fields,
                    &format!("a {field} entry"),
                    &format!("{at}/{field}[{i}]"),
                    language,
                )?;
                reference_path(item, &format!("{at}/{field}[{i}]"))?;
            }
        }
    }
    if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
        for (i, branch) in branches.iter().enumerate() {
            check_machine(branch, BRANCH, &format!("{at}/Branches[{i}]"), machine, variables)?;
        }
    }
    for field in ["ItemProcessor", "Iterator"] {
        if let Some(processor) = state.get(field) {
            check_machine(processor, PROCESSOR, &format!("{at}/{field}"), machine, variables)?;
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
            check_rule(rule, true, &format!("{at}/Choices[{i}]"), language)?;
        }
    }
    Ok(())
}

/// Every `{% %}` expression in a JSONata state's own fields (not its branches' or item
/// processor's states, checked as their own) parses and uses only what this runner carries out.
fn expressions(value: &Value, at: &str) -> Result<(), StateError> {
    if let Some(expression) = jsonata::expression(value) {
        return match jsonata::unsupported(expression) {
            Some(why) => Err(invalid(at, why)),
            None => Ok(()),
        };
    }
    match value {
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "Branches" | "ItemProcessor" | "Iterator"))
            .try_for_each(|(k, v)| expressions(v, &format!("{at}/{k}"))),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, v)| expressions(v, &format!("{at}[{i}]"))),
        _ => Ok(()),
    }
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
const CATCHER: &[&str] = &["ErrorEquals", "Next", "ResultPath", "Output", "Assign", "Comment"];

/// A Choice rule: a top-level rule has Next, a nested one (in And, Or, Not) has none.
fn check_rule(rule: &Value, top: bool, at: &str, language: Language) -> Result<(), StateError> {
    let Some(map) = rule.as_object() else {
        return Err(invalid(at, "a Choice rule must be an object".into()));
    };
    for key in map.keys() {
        let known = match (key.as_str(), language) {
            ("Next" | "Assign", _) => top,
            ("Comment", _) => true,
            ("Condition" | "Output", Language::Jsonata) => top,
            (_, Language::Jsonata) => false,
            ("Variable" | "And" | "Or" | "Not", Language::JsonPath) => true,
            (k, Language::JsonPath) => {
                TYPE_TESTS.contains(&k)
                    || COMPARISONS.contains(&k)
                    || k.strip_suffix("Path").is_some_and(|c| COMPARISONS.contains(&c))
            }
        };
        if !known {
            let what = match (key.as_str(), language) {
                ("Next" | "Assign", _) => "a nested Choice rule",
                (_, Language::Jsonata) => "a Choice rule in JSONata (Condition, Next, Assign, Output)",
                _ => "a Choice rule",
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
    if top && language == Language::Jsonata && !map.contains_key("Condition") {
        return Err(invalid(at, "a Choice rule in JSONata must have a Condition".into()));
    }
    for combinator in ["And", "Or"] {
        if let Some(list) = map.get(combinator).and_then(Value::as_array) {
            for (i, r) in list.iter().enumerate() {
                check_rule(r, false, &format!("{at}/{combinator}[{i}]"), language)?;
            }
        }
    }
    if let Some(not) = map.get("Not") {
        check_rule(not, false, &format!("{at}/Not"), language)?;
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
    fn heartbeats_and_distributed_maps_are_refused_not_ignored() {
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
