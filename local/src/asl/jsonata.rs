//! JSONata in a state's fields (`QueryLanguage: JSONata`): a string `{% expression %}` is
//! evaluated by `jsonata-rs` with `$states` (`input`, `result`, `errorOutput`, `context`) and
//! the workflow variables bound; any other value is taken as it is. A failure is
//! `States.QueryEvaluationError` naming the field, as Step Functions names it. Step Functions'
//! own functions (`$partition`, `$range`, `$hash`, `$parse`, `$uuid`) are provided; what
//! `jsonata-rs` lacks is refused when the definition is loaded (see [`unsupported`]).

use std::collections::HashMap;

use bumpalo::Bump;
use jsonata_rs::{ArrayFlags, Error, FunctionContext, JsonAta, Value as Jv};
use serde_json::{Map, Number, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::scope::Scope;
use super::StateError;

pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";

/// JSONata's own functions that `jsonata-rs` 0.3 does not have, and Step Functions' seeded
/// `$random`: a definition using one is refused rather than run with a wrong result.
const LACKING: &[&str] = &[
    "average",
    "formatNumber",
    "formatBase",
    "formatInteger",
    "parseInteger",
    "sift",
    "spread",
    "type",
    "shuffle",
    "encodeUrlComponent",
    "encodeUrl",
    "decodeUrlComponent",
    "decodeUrl",
    "eval",
    "clone",
];

/// Nesting and time an expression may take, so that a runaway one fails instead of hanging.
const MAX_DEPTH: usize = 500;
const TIME_LIMIT_MS: usize = 5_000;
/// The most brackets an expression may nest: its parser recurses once per level.
const MAX_NESTING: usize = 200;
/// `jsonata-rs` recurses once per level of evaluation: it runs on a thread of its own with
/// room for [`MAX_DEPTH`] levels, never on a runtime worker's 2 MiB stack.
const EVALUATOR_STACK_BYTES: usize = 256 * 1024 * 1024;

/// Runs `work` on a thread with [`EVALUATOR_STACK_BYTES`] of stack; None when it panicked or
/// no thread could be started.
fn on_evaluator_thread<T: Send>(work: impl FnOnce() -> T + Send) -> Option<T> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("jsonata".into())
            .stack_size(EVALUATOR_STACK_BYTES)
            .spawn_scoped(s, work)
            .ok()?
            .join()
            .ok()
    })
}

/// A `{% %}` expression's text; None for any other value.
pub fn expression(value: &Value) -> Option<&str> {
    value.as_str()?.strip_prefix("{%")?.strip_suffix("%}")
}

/// What `$states` holds for one evaluation.
#[derive(Debug, Default, Clone, Copy)]
pub struct States<'v> {
    pub input: Option<&'v Value>,
    pub result: Option<&'v Value>,
    pub error_output: Option<&'v Value>,
}

impl States<'_> {
    fn to_json(self, scope: &Scope) -> Value {
        let mut states = Map::new();
        for (key, value) in [
            ("input", self.input),
            ("result", self.result),
            ("errorOutput", self.error_output),
        ] {
            if let Some(v) = value {
                states.insert(key.into(), v.clone());
            }
        }
        states.insert("context".into(), scope.context.clone());
        Value::Object(states)
    }
}

/// `States.QueryEvaluationError` in Step Functions' words: "The JSONata expression '...'
/// specified for the field 'Output/x' returned nothing (undefined)." or "... threw an error
/// during evaluation. T1006: Attempted to invoke a non-function".
fn failure(expression: &str, field: &str, what: &str) -> StateError {
    StateError::new(
        QUERY_EVALUATION_ERROR,
        format!(
            "The JSONata expression '{}' specified for the field '{field}' {what}",
            expression.trim()
        ),
    )
}

/// A JSONata error as JSONata's own code and message (`T1006: Attempted to invoke a
/// non-function`), without `jsonata-rs`'s position.
fn described(e: &Error) -> String {
    let text = e.to_string();
    match text.split_once(": ") {
        Some((_, message)) => format!("{}: {message}", e.code()),
        None => text,
    }
}

/// Why `expression` cannot be run here (it does not parse, or calls a function this runner
/// lacks); None when it can.
pub fn unsupported(expression: &str) -> Option<String> {
    let mut depth = 0usize;
    let mut deepest = 0;
    for c in expression.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        deepest = deepest.max(depth);
    }
    if deepest > MAX_NESTING {
        return Some(format!(
            "the JSONata expression nests {deepest} brackets deep, more than the local runner's {MAX_NESTING}"
        ));
    }
    let parsed = on_evaluator_thread(|| {
        JsonAta::new(expression, &Bump::new())
            .map(|_| ())
            .map_err(|e| described(&e))
    })
    .unwrap_or_else(|| Err("the parser failed".into()));
    if let Err(why) = parsed {
        return Some(format!("'{expression}' is not a JSONata expression: {why}"));
    }
    for (at, _) in expression.match_indices('$') {
        let rest = &expression[at + 1..];
        let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let call = rest[name.len()..].trim_start().starts_with('(');
        if call && LACKING.contains(&name.as_str()) {
            return Some(format!(
                "the JSONata function ${name} is not carried out by the local runner"
            ));
        }
        let seeded = name == "random"
            && !rest[name.len()..]
                .trim_start()
                .trim_start_matches('(')
                .trim_start()
                .starts_with(')');
        if call && seeded {
            return Some("$random with a seed is not carried out by the local runner".into());
        }
    }
    None
}

/// Evaluates one expression (the text between `{%` and `%}`).
pub fn evaluate(expression: &str, field: &str, states: States, scope: &Scope) -> Result<Value, StateError> {
    let states_json = states.to_json(scope);
    let mut bindings: HashMap<&str, &Value> = scope.variables().iter().map(|(k, v)| (k.as_str(), v)).collect();
    bindings.insert("states", &states_json);
    let evaluated = on_evaluator_thread(|| -> Result<Value, String> {
        let arena = Bump::new();
        let threw = |e: Error| format!("threw an error during evaluation. {}", described(&e));
        let jsonata = JsonAta::new(expression, &arena).map_err(threw)?;
        register(&jsonata);
        for (name, value) in &bindings {
            jsonata.assign_var(name, to_jsonata(&arena, value));
        }
        let value = jsonata
            .evaluate_timeboxed(None, Some(MAX_DEPTH), Some(TIME_LIMIT_MS))
            .map_err(threw)?;
        to_json(value)
    });
    match evaluated {
        Some(Ok(value)) => Ok(value),
        Some(Err(what)) => Err(failure(expression, field, &what)),
        None => Err(failure(
            expression,
            field,
            "threw an error during evaluation: the JSONata evaluator stopped",
        )),
    }
}

/// A field's value: each `{% %}` string in it evaluated, every other value as it is.
pub fn template(value: &Value, field: &str, states: States, scope: &Scope) -> Result<Value, StateError> {
    if let Some(expression) = expression(value) {
        return evaluate(expression, field, states, scope);
    }
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                out.insert(k.clone(), template(v, &format!("{field}/{k}"), states, scope)?);
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| template(v, &format!("{field}[{i}]"), states, scope))
            .collect::<Result<_, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

fn to_jsonata<'a>(arena: &'a Bump, value: &Value) -> &'a Jv<'a> {
    match value {
        Value::Null => Jv::null(arena),
        Value::Bool(b) => Jv::bool(*b),
        Value::Number(n) => Jv::number(arena, n.as_f64().unwrap_or(f64::NAN)),
        Value::String(s) => Jv::string(arena, s),
        Value::Array(items) => {
            let array = Jv::array_with_capacity(arena, items.len(), ArrayFlags::empty());
            for item in items {
                array.push(to_jsonata(arena, item));
            }
            array
        }
        Value::Object(map) => {
            let object = Jv::object_with_capacity(arena, map.len());
            for (k, v) in map {
                object.insert(k, to_jsonata(arena, v));
            }
            object
        }
    }
}

/// A JSONata value as JSON; undefined, a function or a number JSON cannot hold is no result.
fn to_json<'a>(value: &'a Jv<'a>) -> Result<Value, String> {
    Ok(match value {
        Jv::Undefined => return Err("returned nothing (undefined).".into()),
        Jv::Null => Value::Null,
        Jv::Bool(b) => Value::Bool(*b),
        Jv::Number(n) => number(*n).ok_or_else(|| format!("returned the number {n}, which JSON cannot hold"))?,
        Jv::String(s) => Value::String(s.to_string()),
        Jv::Object(_) => {
            let mut out = Map::new();
            for (k, v) in value.entries() {
                // An undefined member is left out, as JSONata leaves it out of its JSON.
                if !v.is_undefined() {
                    out.insert(k.to_string(), to_json(v)?);
                }
            }
            Value::Object(out)
        }
        v if v.is_array() => Value::Array(
            v.members()
                .filter(|m| !m.is_undefined())
                .map(to_json)
                .collect::<Result<_, _>>()?,
        ),
        _ => return Err("returned a function, which is not JSON".into()),
    })
}

/// Whole numbers as integers, as JSON texts write them.
fn number(n: f64) -> Option<Value> {
    if n.fract() == 0.0 && n.abs() < 9.007_199_254_740_992e15 {
        return Some(Value::Number(Number::from(n as i64)));
    }
    Number::from_f64(n).map(Value::Number)
}

/// Step Functions' JSONata functions (developer guide, "Transforming data with JSONata").
fn register<'a>(jsonata: &JsonAta<'a>) {
    jsonata.register_function("partition", 2, partition);
    jsonata.register_function("range", 3, range);
    jsonata.register_function("hash", 2, hash);
    jsonata.register_function("parse", 1, parse);
}

fn argument_error(context: &FunctionContext, why: &str) -> Error {
    Error::D3137Error(format!("${}: {why}", context.name))
}

fn json_args<'a>(context: &FunctionContext, args: &[&'a Jv<'a>], count: usize) -> Result<Vec<Value>, Error> {
    if args.len() != count {
        return Err(argument_error(context, &format!("takes {count} arguments")));
    }
    args.iter()
        .map(|a| to_json(a).map_err(|e| argument_error(context, &e)))
        .collect()
}

/// `$partition(array, size)`: the array in chunks of `size`.
fn partition<'a>(context: FunctionContext<'a, '_>, args: &[&'a Jv<'a>]) -> Result<&'a Jv<'a>, Error> {
    let args = json_args(&context, args, 2)?;
    let (Some(items), Some(size)) = (args[0].as_array(), args[1].as_u64().filter(|n| *n > 0)) else {
        return Err(argument_error(&context, "takes an array and a positive integer"));
    };
    let chunks: Vec<Value> = items
        .chunks(usize::try_from(size).unwrap_or(usize::MAX))
        .map(|c| Value::Array(c.to_vec()))
        .collect();
    Ok(to_jsonata(context.arena, &Value::Array(chunks)))
}

/// `$range(start, end, step)`: from `start` to `end` inclusive, at most 1,000 items.
fn range<'a>(context: FunctionContext<'a, '_>, args: &[&'a Jv<'a>]) -> Result<&'a Jv<'a>, Error> {
    let args = json_args(&context, args, 3)?;
    let (Some(start), Some(end), Some(step)) = (args[0].as_i64(), args[1].as_i64(), args[2].as_i64()) else {
        return Err(argument_error(&context, "takes three integers"));
    };
    if step == 0 {
        return Err(argument_error(&context, "the step may not be 0"));
    }
    let mut items = Vec::new();
    let mut n = start;
    while (step > 0 && n <= end) || (step < 0 && n >= end) {
        if items.len() == 1000 {
            return Err(argument_error(&context, "gives more than 1000 items"));
        }
        items.push(Value::from(n));
        n += step;
    }
    // A sequence of one is that one value in JSONata, as Step Functions gives it.
    match items.as_slice() {
        [] => Ok(Jv::undefined()),
        [one] => Ok(to_jsonata(context.arena, one)),
        _ => Ok(to_jsonata(context.arena, &Value::Array(items))),
    }
}

/// `$hash(text, algorithm)`: MD5, SHA-1, SHA-256, SHA-384 or SHA-512, in hex.
fn hash<'a>(context: FunctionContext<'a, '_>, args: &[&'a Jv<'a>]) -> Result<&'a Jv<'a>, Error> {
    let args = json_args(&context, args, 2)?;
    let (Some(text), Some(algorithm)) = (args[0].as_str(), args[1].as_str()) else {
        return Err(argument_error(&context, "takes a string and an algorithm's name"));
    };
    let bytes = text.as_bytes();
    let digest: Vec<u8> = match algorithm {
        "MD5" => md5::Md5::digest(bytes).to_vec(),
        "SHA-1" => Sha1::digest(bytes).to_vec(),
        "SHA-256" => Sha256::digest(bytes).to_vec(),
        "SHA-384" => Sha384::digest(bytes).to_vec(),
        "SHA-512" => Sha512::digest(bytes).to_vec(),
        other => {
            return Err(argument_error(
                &context,
                &format!("{other} is not MD5, SHA-1, SHA-256, SHA-384 or SHA-512"),
            ))
        }
    };
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Jv::string(context.arena, &hex))
}

/// `$parse(text)`: the JSON value a string holds.
fn parse<'a>(context: FunctionContext<'a, '_>, args: &[&'a Jv<'a>]) -> Result<&'a Jv<'a>, Error> {
    let args = json_args(&context, args, 1)?;
    let text = args[0]
        .as_str()
        .ok_or_else(|| argument_error(&context, "takes a string"))?;
    let value: Value = serde_json::from_str(text).map_err(|e| argument_error(&context, &format!("not JSON: {e}")))?;
    Ok(to_jsonata(context.arena, &value))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(expression: &str, input: Value) -> Result<Value, StateError> {
        let scope = Scope::new(json!({"Execution": {"Name": "e1"}}));
        let states = States {
            input: Some(&input),
            ..States::default()
        };
        evaluate(expression, "Output", states, &scope)
    }

    #[test]
    fn expressions_read_states_and_give_json() {
        assert_eq!(eval("$states.input.a + 1", json!({"a": 2})).ok(), Some(json!(3)));
        assert_eq!(eval("$states.input.a / 4", json!({"a": 2})).ok(), Some(json!(0.5)));
        assert_eq!(
            eval("$states.context.Execution.Name", json!({})).ok(),
            Some(json!("e1"))
        );
        assert_eq!(
            eval(
                "{'n': $count($states.input.items), 'm': $states.input.missing}",
                json!({"items": [1, 2]})
            )
            .ok(),
            Some(json!({"n": 2}))
        );
        assert_eq!(
            eval("$states.input.items[$ > 1]", json!({"items": [1, 2, 3]})).ok(),
            Some(json!([2, 3]))
        );
    }

    #[test]
    fn step_functions_own_functions() {
        assert_eq!(
            eval("$partition([1,2,3,4,5], 2)", json!({})).ok(),
            Some(json!([[1, 2], [3, 4], [5]]))
        );
        assert_eq!(eval("$range(0, 10, 5)", json!({})).ok(), Some(json!([0, 5, 10])));
        // Recorded on Step Functions: $range(1, 9, 9) is 1, not [1].
        assert_eq!(eval("$range(1, 9, 9)", json!({})).ok(), Some(json!(1)));
        assert_eq!(
            eval("$hash('input data', 'SHA-256')", json!({})).ok(),
            Some(json!(
                "b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3"
            ))
        );
        assert_eq!(eval("$parse('{\"a\": [1]}')", json!({})).ok(), Some(json!({"a": [1]})));
        assert!(eval("$uuid()", json!({})).is_ok_and(|v| v.as_str().is_some_and(|s| s.len() == 36)));
    }

    #[test]
    fn an_undefined_result_or_a_bad_expression_is_a_query_evaluation_error() {
        let err = eval("$states.input.missing", json!({})).expect_err("undefined");
        assert_eq!(err.error, QUERY_EVALUATION_ERROR);
        assert!(
            err.cause.contains("'Output'") && err.cause.contains("undefined"),
            "{}",
            err.cause
        );
        let err = eval("$partition('x', 2)", json!({})).expect_err("bad argument");
        assert_eq!(err.error, QUERY_EVALUATION_ERROR);
        // Recorded on Step Functions for a function that does not exist.
        let err = eval("$randomSeeded(1)", json!({})).expect_err("no such function");
        assert_eq!(
            err.cause,
            "The JSONata expression '$randomSeeded(1)' specified for the field 'Output' threw an error during evaluation. T1006: Attempted to invoke a non-function"
        );
    }

    #[test]
    fn a_runaway_recursion_is_an_error_not_a_crash() {
        // On a thread with the 2 MiB stack tokio's workers have.
        let deep = std::thread::Builder::new()
            .stack_size(2 * 1024 * 1024)
            .spawn(|| {
                eval(
                    "($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(100000))",
                    json!({}),
                )
            })
            .expect("thread")
            .join()
            .expect("no crash");
        let err = deep.expect_err("too deep");
        assert_eq!(err.error, QUERY_EVALUATION_ERROR);
        assert_eq!(
            eval(
                "($f := function($n) { $n = 0 ? 0 : 1 + $f($n - 1) }; $f(10))",
                json!({})
            )
            .ok(),
            Some(json!(10))
        );
    }

    #[test]
    fn what_this_runner_lacks_is_named() {
        assert!(unsupported("$states.input.a").is_none());
        assert!(unsupported("$sum([1,2])").is_none());
        assert!(unsupported("$random()").is_none());
        assert!(unsupported("$average([1,2])").is_some_and(|w| w.contains("$average")));
        assert!(unsupported("$random(7)").is_some_and(|w| w.contains("seed")));
        assert!(unsupported("1 +").is_some_and(|w| w.contains("not a JSONata expression")));
        let nested = format!("{}1{}", "(".repeat(5000), ")".repeat(5000));
        assert!(unsupported(&nested).is_some_and(|w| w.contains("5000 brackets deep")));
    }
}
