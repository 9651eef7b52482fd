//! The states that do no work: Pass, Succeed, Fail, Choice and Wait, in either query language.

use serde_json::Value;

use super::dataflow::{self, assignments, jsonata_field, parameters};
use super::definition::{Io, Language, State, Wait};
use super::jsonata::{self, States};
use super::{choice, intrinsics, path, wait, Frame, StateError, Step};

/// Runs a Pass, Succeed, Fail or Choice state.
pub(super) fn run(f: &Frame<'_>, state: &State, raw: Value) -> Result<Step, StateError> {
    let scope = &f.scope;
    let states = States {
        input: Some(&raw),
        ..States::default()
    };
    match (state, f.language) {
        (State::Pass(s), Language::JsonPath) => {
            let effective = dataflow::input(&s.io, &raw, scope)?;
            let result = match (&s.result, &s.parameters) {
                (Some(r), _) => r.clone(),
                (None, Some(p)) => parameters(p, &effective, scope)?,
                (None, None) => effective,
            };
            let assigned = assignments(s.io.assign.as_ref(), f.language, &result, states, scope)?;
            let combined = dataflow::place(&s.result_path, raw, result)?;
            Ok(Step::new(dataflow::output(&s.io, combined, scope)?, s.flow.next(f.name)?).assigning(assigned))
        }
        (State::Succeed(io), Language::JsonPath) => {
            let effective = dataflow::input(io, &raw, scope)?;
            Ok(Step::new(dataflow::output(io, effective, scope)?, None))
        }
        (State::Pass(s), Language::Jsonata) => jsonata_step(f, &s.io, raw.clone(), s.flow.next(f.name)?),
        (State::Succeed(io), Language::Jsonata) => jsonata_step(f, io, raw.clone(), None),
        (State::Fail(s), language) => {
            let field = |name: &str, fixed: &Option<String>, from: &Option<String>| -> Result<String, StateError> {
                let value = match (from, fixed) {
                    (Some(p), _) if intrinsics::is_intrinsic(p) => intrinsics::evaluate(p, &raw, scope)?,
                    (Some(p), _) => path::read_for(p, Some(&format!("{name}Path")), &raw, scope)?,
                    (None, Some(text)) if language == Language::Jsonata => {
                        jsonata::template(&Value::String(text.clone()), name, states, scope)?
                    }
                    (None, text) => Value::String(text.clone().unwrap_or_default()),
                };
                Ok(value.as_str().map_or_else(|| value.to_string(), str::to_string))
            };
            Err(StateError::new(
                field("Error", &s.error, &s.error_path)?,
                field("Cause", &s.cause, &s.cause_path)?,
            ))
        }
        (State::Choice(s), language) => {
            let effective = match language {
                Language::JsonPath => dataflow::input(&s.io, &raw, scope)?,
                Language::Jsonata => raw.clone(),
            };
            let mut taken = None;
            for rule in &s.choices {
                let holds = match language {
                    Language::JsonPath => choice::matches(&rule.condition, &effective, scope)?,
                    Language::Jsonata => condition(f.name, &rule.condition, states, f)?,
                };
                if holds {
                    taken = Some(rule);
                    break;
                }
            }
            let (next, assign, output) = match (taken, &s.default) {
                (Some(rule), _) => (
                    rule.next.clone(),
                    rule.assign.as_ref().or(s.io.assign.as_ref()),
                    rule.output.as_ref().or(s.io.output.as_ref()),
                ),
                (None, Some(d)) => (d.clone(), s.io.assign.as_ref(), s.io.output.as_ref()),
                (None, None) => {
                    return Err(StateError::new(
                        "States.NoChoiceMatched",
                        format!("no Choice rule in {} matched and there is no Default", f.name),
                    ))
                }
            };
            let assigned = assignments(assign, language, &effective, states, scope)?;
            let output = match language {
                Language::JsonPath => dataflow::output(&s.io, effective, scope)?,
                Language::Jsonata => jsonata_field(output, "Output", &raw, states, scope)?,
            };
            Ok(Step::new(output, Some(next)).assigning(assigned))
        }
        (other, _) => Err(StateError::runtime(format!(
            "{} is a {}, which does work",
            f.name,
            other.kind()
        ))),
    }
}

/// A JSONata state with no work: Output (else its input) and Assign over `$states.input`.
fn jsonata_step(f: &Frame<'_>, io: &Io, raw: Value, next: Option<String>) -> Result<Step, StateError> {
    let states = States {
        input: Some(&raw),
        ..States::default()
    };
    let output = jsonata_field(io.output.as_ref(), "Output", &raw, states, &f.scope)?;
    let assigned = assignments(io.assign.as_ref(), f.language, &raw, states, &f.scope)?;
    Ok(Step::new(output, next).assigning(assigned))
}

/// A JSONata Choice rule's `Condition`, which must give true or false.
fn condition(name: &str, rule: &Value, states: States, f: &Frame<'_>) -> Result<bool, StateError> {
    let condition = rule
        .get("Condition")
        .ok_or_else(|| StateError::runtime(format!("a Choice rule of {name} has no Condition")))?;
    let value = jsonata::template(condition, "Condition", states, &f.scope)?;
    value.as_bool().ok_or_else(|| {
        StateError::new(
            jsonata::QUERY_EVALUATION_ERROR,
            format!("The Condition of a Choice rule of {name} gives {value}, which is not a boolean"),
        )
    })
}

/// A Wait state: how long it waits, and what it leaves once it has.
pub(super) fn wait(f: &Frame<'_>, s: &Wait, raw: Value) -> Result<(f64, Step), StateError> {
    let scope = &f.scope;
    let next = s.flow.next(f.name)?;
    let states = States {
        input: Some(&raw),
        ..States::default()
    };
    match f.language {
        Language::JsonPath => {
            let effective = dataflow::input(&s.io, &raw, scope)?;
            let seconds = wait::seconds(f.name, s, &effective, scope)?;
            let assigned = assignments(s.io.assign.as_ref(), f.language, &effective, states, scope)?;
            Ok((
                seconds,
                Step::new(dataflow::output(&s.io, effective, scope)?, next).assigning(assigned),
            ))
        }
        Language::Jsonata => {
            // Seconds and Timestamp may be expressions: evaluated, then taken as written ones.
            let mut evaluated = s.clone();
            for (field, value) in [
                ("Seconds", &mut evaluated.seconds),
                ("Timestamp", &mut evaluated.timestamp),
            ] {
                if let Some(v) = value.as_mut().filter(|v| jsonata::expression(v).is_some()) {
                    *v = jsonata::template(v, field, states, scope)?;
                }
            }
            let seconds = wait::seconds(f.name, &evaluated, &raw, scope)?;
            let step = jsonata_step(f, &s.io, raw.clone(), next)?;
            Ok((seconds, step))
        }
    }
}
