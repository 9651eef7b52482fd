//! A state machine definition as typed values: one variant per state `Type`, the fields each
//! type takes, and the shape checks Step Functions makes when a definition is created (every
//! transition names a state, every state but Choice, Succeed and Fail ends or goes on). Each
//! state is read in its query language, its own `QueryLanguage` or the machine's.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::StateError;

/// A definition, or a Parallel branch, or a Map's item processor.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Machine {
    pub start_at: String,
    pub states: BTreeMap<String, State>,
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// The machine's query language; a branch's or an item processor's is the top level's.
    #[serde(default)]
    pub query_language: Language,
}

/// How a state's fields are evaluated: JSONPath paths and intrinsics, or JSONata `{% %}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Language {
    #[default]
    #[serde(rename = "JSONPath")]
    JsonPath,
    #[serde(rename = "JSONata")]
    Jsonata,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "Type")]
pub enum State {
    Pass(Pass),
    Task(Box<Task>),
    Choice(Choice),
    Wait(Wait),
    Succeed(Io),
    Fail(Fail),
    Parallel(Box<Parallel>),
    Map(Box<MapState>),
}

/// A JSONPath that may be absent (the default, `$`) or null (discard).
pub type NullablePath = Option<Option<String>>;

/// Absent stays `None` through `#[serde(default)]`; present (null or a path) is `Some`.
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<NullablePath, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Where a state goes next.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Flow {
    #[serde(default)]
    pub next: Option<String>,
    #[serde(default)]
    pub end: bool,
}

impl Flow {
    /// The next state's name; None where the state ends its machine.
    pub fn next(&self, name: &str) -> Result<Option<String>, StateError> {
        if self.end {
            return Ok(None);
        }
        self.next
            .clone()
            .map(Some)
            .ok_or_else(|| StateError::runtime(format!("{name} has neither Next nor End")))
    }
}

/// What every state but Fail takes: its query language, InputPath and OutputPath (JSONPath),
/// Output (JSONata) and Assign (both; not Succeed's, which the field check refuses).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Io {
    #[serde(default)]
    pub query_language: Option<Language>,
    #[serde(default, deserialize_with = "nullable")]
    pub input_path: NullablePath,
    #[serde(default, deserialize_with = "nullable")]
    pub output_path: NullablePath,
    #[serde(default)]
    pub output: Option<Value>,
    #[serde(default)]
    pub assign: Option<Value>,
}

/// What a state that produces a result does with it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Results {
    #[serde(default)]
    pub parameters: Option<Value>,
    /// JSONata's Parameters.
    #[serde(default)]
    pub arguments: Option<Value>,
    #[serde(default)]
    pub result_selector: Option<Value>,
    #[serde(default, deserialize_with = "nullable")]
    pub result_path: NullablePath,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Retrier {
    pub error_equals: Vec<String>,
    #[serde(default = "one")]
    pub interval_seconds: f64,
    #[serde(default = "three")]
    pub max_attempts: u64,
    #[serde(default = "two")]
    pub backoff_rate: f64,
    #[serde(default)]
    pub max_delay_seconds: Option<f64>,
    #[serde(default)]
    pub jitter_strategy: Option<String>,
}

fn one() -> f64 {
    1.0
}

fn two() -> f64 {
    2.0
}

fn three() -> u64 {
    3
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    #[serde(default, deserialize_with = "nullable")]
    pub result_path: NullablePath,
    #[serde(default)]
    pub output: Option<Value>,
    #[serde(default)]
    pub assign: Option<Value>,
}

/// Retry and Catch, which Task, Parallel and Map take.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Recovery {
    #[serde(default)]
    pub retry: Vec<Retrier>,
    #[serde(default)]
    pub catch: Vec<Catcher>,
}

/// What Task, Parallel and Map states share: what they do with their result, Retry and Catch,
/// their paths and where they go next.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Work {
    #[serde(flatten)]
    pub results: Results,
    #[serde(flatten)]
    pub recovery: Recovery,
    #[serde(flatten)]
    pub io: Io,
    #[serde(flatten)]
    pub flow: Flow,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pass {
    #[serde(default)]
    pub result: Option<Value>,
    #[serde(default)]
    pub parameters: Option<Value>,
    #[serde(default, deserialize_with = "nullable")]
    pub result_path: NullablePath,
    #[serde(flatten)]
    pub io: Io,
    #[serde(flatten)]
    pub flow: Flow,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Task {
    pub resource: String,
    /// A positive integer, or in JSONata an expression giving one.
    #[serde(default)]
    pub timeout_seconds: Option<Value>,
    #[serde(default)]
    pub timeout_seconds_path: Option<String>,
    #[serde(flatten)]
    pub work: Work,
}

/// A Choice rule: its condition (And, Or, Not, or a comparison) and where it goes.
#[derive(Debug, Clone, Deserialize)]
pub struct Rule {
    #[serde(rename = "Next")]
    pub next: String,
    #[serde(rename = "Assign", default)]
    pub assign: Option<Value>,
    #[serde(rename = "Output", default)]
    pub output: Option<Value>,
    /// The comparison (JSONPath) or `Condition` (JSONata).
    #[serde(flatten)]
    pub condition: Value,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Choice {
    pub choices: Vec<Rule>,
    #[serde(default)]
    pub default: Option<String>,
    #[serde(flatten)]
    pub io: Io,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Wait {
    /// A number, or in JSONata an expression giving one.
    #[serde(default)]
    pub seconds: Option<Value>,
    #[serde(default)]
    pub seconds_path: Option<String>,
    #[serde(default)]
    pub timestamp: Option<Value>,
    #[serde(default)]
    pub timestamp_path: Option<String>,
    #[serde(flatten)]
    pub io: Io,
    #[serde(flatten)]
    pub flow: Flow,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Fail {
    #[serde(default)]
    pub query_language: Option<Language>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
    #[serde(default)]
    pub error_path: Option<String>,
    #[serde(default)]
    pub cause_path: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Parallel {
    pub branches: Vec<Machine>,
    #[serde(flatten)]
    pub work: Work,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MapState {
    #[serde(default)]
    pub items_path: Option<String>,
    /// JSONata's ItemsPath: an array, or an expression giving one.
    #[serde(default)]
    pub items: Option<Value>,
    #[serde(alias = "Iterator")]
    pub item_processor: Machine,
    #[serde(default)]
    pub item_selector: Option<Value>,
    /// A non-negative integer, or in JSONata an expression giving one; absent or 0: no limit.
    #[serde(default)]
    pub max_concurrency: Option<Value>,
    /// The concurrency read from the input, instead of `MaxConcurrency`.
    #[serde(default)]
    pub max_concurrency_path: Option<String>,
    #[serde(flatten)]
    pub work: Work,
}

impl State {
    /// The `Type` as the definition spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            State::Pass(_) => "Pass",
            State::Task(_) => "Task",
            State::Choice(_) => "Choice",
            State::Wait(_) => "Wait",
            State::Succeed(_) => "Succeed",
            State::Fail(_) => "Fail",
            State::Parallel(_) => "Parallel",
            State::Map(_) => "Map",
        }
    }

    /// Every state this one can go to.
    fn targets(&self) -> Vec<&str> {
        let (flow, catch) = match self {
            State::Pass(s) => (Some(&s.flow), &[][..]),
            State::Task(s) => (Some(&s.work.flow), &s.work.recovery.catch[..]),
            State::Wait(s) => (Some(&s.flow), &[][..]),
            State::Parallel(s) => (Some(&s.work.flow), &s.work.recovery.catch[..]),
            State::Map(s) => (Some(&s.work.flow), &s.work.recovery.catch[..]),
            State::Choice(c) => {
                let mut out: Vec<&str> = c.choices.iter().map(|r| r.next.as_str()).collect();
                out.extend(c.default.as_deref());
                return out;
            }
            State::Succeed(_) | State::Fail(_) => (None, &[][..]),
        };
        let mut out: Vec<&str> = flow.and_then(|f| f.next.as_deref()).into_iter().collect();
        out.extend(catch.iter().map(|c| c.next.as_str()));
        out
    }

    /// The state's query language: its own, else its machine's.
    pub fn language(&self, machine: Language) -> Language {
        let own = match self {
            State::Fail(f) => f.query_language,
            other => other.io().and_then(|io| io.query_language),
        };
        own.unwrap_or(machine)
    }

    /// InputPath, OutputPath, Output and Assign: every state's but Fail's.
    pub fn io(&self) -> Option<&Io> {
        match self {
            State::Pass(s) => Some(&s.io),
            State::Task(s) => Some(&s.work.io),
            State::Choice(s) => Some(&s.io),
            State::Wait(s) => Some(&s.io),
            State::Succeed(io) => Some(io),
            State::Parallel(s) => Some(&s.work.io),
            State::Map(s) => Some(&s.work.io),
            State::Fail(_) => None,
        }
    }

    fn flow(&self) -> Option<&Flow> {
        match self {
            State::Pass(s) => Some(&s.flow),
            State::Task(s) => Some(&s.work.flow),
            State::Wait(s) => Some(&s.flow),
            State::Parallel(s) => Some(&s.work.flow),
            State::Map(s) => Some(&s.work.flow),
            State::Choice(_) | State::Succeed(_) | State::Fail(_) => None,
        }
    }
}

/// The longest a Wait may last in a Standard workflow (developer guide, Wait state: "one year").
pub const LONGEST_WAIT_SECONDS: f64 = 365.0 * 24.0 * 3600.0;
/// The largest `Seconds` a definition may give (developer guide, Wait state).
pub(super) const MOST_SECONDS: f64 = 99_999_999.0;

/// A number field (`TimeoutSeconds`, `MaxConcurrency`, a Wait's `Seconds`): an integer from
/// `least` to `most`, or in JSONata an expression, checked when it runs.
pub(super) fn whole_number(value: &Value, least: f64, most: f64, language: Language) -> bool {
    if language == Language::Jsonata && super::jsonata::expression(value).is_some() {
        return true;
    }
    value
        .as_f64()
        .is_some_and(|n| n.fract() == 0.0 && (least..=most).contains(&n))
}

impl Machine {
    /// Reads a definition and checks its shape, as Step Functions does on creation:
    /// `States.InvalidDefinition` naming what is wrong.
    pub fn parse(definition: &Value) -> Result<Machine, StateError> {
        super::fields::check_definition(definition)?;
        let mut machine: Machine = serde_json::from_value(definition.clone())
            .map_err(|e| StateError::new("States.InvalidDefinition", e.to_string()))?;
        machine.inherit(machine.query_language);
        machine.check()?;
        Ok(machine)
    }

    /// Branches and item processors take the top level's query language.
    fn inherit(&mut self, language: Language) {
        self.query_language = language;
        for state in self.states.values_mut() {
            match state {
                State::Parallel(p) => p.branches.iter_mut().for_each(|b| b.inherit(language)),
                State::Map(m) => m.item_processor.inherit(language),
                _ => {}
            }
        }
    }

    fn check(&self) -> Result<(), StateError> {
        let bad = |m: String| StateError::new("States.InvalidDefinition", m);
        if !self.states.contains_key(&self.start_at) {
            return Err(bad(format!("StartAt names {}, which is not a state", self.start_at)));
        }
        for (name, state) in &self.states {
            if let Some(t) = state.targets().into_iter().find(|t| !self.states.contains_key(*t)) {
                return Err(bad(format!("{name} goes to {t}, which is not a state")));
            }
            if state.flow().is_some_and(|f| !f.end && f.next.is_none()) {
                return Err(bad(format!("{name} has neither Next nor End")));
            }
            let language = state.language(self.query_language);
            match state {
                State::Parallel(p) => p.branches.iter().try_for_each(Machine::check)?,
                State::Map(m) => {
                    if m.max_concurrency_path.is_some() && m.max_concurrency.is_some() {
                        return Err(bad(format!("{name} has both MaxConcurrency and MaxConcurrencyPath")));
                    }
                    if let Some(n) = m
                        .max_concurrency
                        .as_ref()
                        .filter(|n| !whole_number(n, 0.0, f64::MAX, language))
                    {
                        return Err(bad(format!(
                            "{name}: MaxConcurrency must be a non-negative integer, not {n}"
                        )));
                    }
                    m.item_processor.check()?
                }
                State::Wait(w) => super::wait::check(w, name, language).map_err(bad)?,
                State::Task(t) => {
                    if let Some(n) = t
                        .timeout_seconds
                        .as_ref()
                        .filter(|n| !whole_number(n, 1.0, MOST_SECONDS, language))
                    {
                        return Err(bad(format!(
                            "{name}: TimeoutSeconds must be an integer from 1 to 99999999, not {n}"
                        )));
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn invalid(definition: Value) -> String {
        let err = Machine::parse(&definition).expect_err("invalid");
        assert_eq!(err.error, "States.InvalidDefinition");
        err.cause
    }

    #[test]
    fn each_type_takes_its_own_fields_and_a_wrong_one_is_named() {
        let cause = invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Sleep", "End": true}}}));
        assert!(cause.contains("unknown variant `Sleep`"), "{cause}");
        let cause = invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Task", "End": true}}}));
        assert!(cause.contains("Resource"), "{cause}");
        let cause = invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}));
        assert!(cause.contains("A goes to B"), "{cause}");
        let cause = invalid(json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1}}}));
        assert!(cause.contains("neither Next nor End"), "{cause}");
    }

    #[test]
    fn paths_tell_absent_from_null() {
        let m = Machine::parse(&json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "InputPath": null, "ResultPath": "$.r", "End": true}
        }}))
        .expect("valid");
        let State::Pass(pass) = &m.states["A"] else {
            panic!("a Pass state");
        };
        assert_eq!(pass.io.input_path, Some(None));
        assert_eq!(pass.io.output_path, None);
        assert_eq!(pass.result_path, Some(Some("$.r".into())));
    }

    #[test]
    fn the_recovery_state_machine_parses() {
        let text = include_str!("../../../statemachine/recovery.asl.json");
        let definition: Value = serde_json::from_str(text).expect("json");
        let m = Machine::parse(&definition).expect("valid");
        let State::Parallel(dry_runs) = &m.states["DryRunSteps"] else {
            panic!("DryRunSteps is a Parallel state");
        };
        assert_eq!(dry_runs.branches.len(), 3);
    }
}
