//! Step Functions' data flow: in JSONPath, InputPath → Parameters → (the work) →
//! ResultSelector → ResultPath → OutputPath, each path absent (`$`), null (discard) or a
//! JSONPath; in JSONata, Arguments → (the work) → Output over `$states`; in both, Assign; and
//! the 256 KiB quota every payload is held to.

use serde_json::{json, Map, Value};

use super::definition::{Io, Language, NullablePath};
use super::jsonata::{self, States};
use super::scope::Scope;
use super::{intrinsics, path, StateError};

/// Step Functions' quota on a state's input and output, a task's result and an execution's
/// input: 256 KiB, measured as UTF-8 bytes of the JSON text.
pub const MAX_PAYLOAD_BYTES: usize = 262_144;

/// The payload's size; `States.DataLimitExceeded` above the quota.
pub fn payload_bytes(what: &str, value: &Value) -> Result<usize, StateError> {
    let bytes = serde_json::to_vec(value).map(|v| v.len()).unwrap_or(usize::MAX);
    if bytes > MAX_PAYLOAD_BYTES {
        return Err(StateError::new(
            "States.DataLimitExceeded",
            format!("{what} is {bytes} bytes, above Step Functions' limit of {MAX_PAYLOAD_BYTES} bytes (256 KiB)"),
        ));
    }
    Ok(bytes)
}

/// InputPath: the part of the raw input the state works on.
pub fn input(io: &Io, raw: &Value, scope: &Scope) -> Result<Value, StateError> {
    match &io.input_path {
        Some(None) => Ok(json!({})),
        Some(Some(p)) => path::read(p, raw, scope),
        None => Ok(raw.clone()),
    }
}

/// OutputPath: the part of the combined value passed on.
pub fn output(io: &Io, value: Value, scope: &Scope) -> Result<Value, StateError> {
    match &io.output_path {
        Some(None) => Ok(json!({})),
        Some(Some(p)) => path::read(p, &value, scope),
        None => Ok(value),
    }
}

/// ResultPath: where the result goes in the raw input (null keeps the input, absent replaces it).
pub fn place(result_path: &NullablePath, raw: Value, result: Value) -> Result<Value, StateError> {
    match result_path {
        Some(None) => Ok(raw),
        Some(Some(p)) => path::write(raw, p, result),
        None => Ok(result),
    }
}

/// Evaluates a Parameters / ResultSelector / ItemSelector template: `key.$` fields are paths or
/// intrinsic functions over `input`, the context object and the variables.
pub fn parameters(template: &Value, input: &Value, scope: &Scope) -> Result<Value, StateError> {
    match template {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                if let Some(key) = k.strip_suffix(".$") {
                    let expr = v
                        .as_str()
                        .ok_or_else(|| StateError::runtime(format!("{k} must be a path or intrinsic")))?;
                    let value = if intrinsics::is_intrinsic(expr) {
                        intrinsics::evaluate(expr, input, scope)?
                    } else {
                        path::read_for(expr, Some(k), input, scope).map_err(|e| StateError::runtime(e.cause))?
                    };
                    out.insert(key.to_string(), value);
                } else {
                    out.insert(k.clone(), parameters(v, input, scope)?);
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .map(|i| parameters(i, input, scope))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// Parameters when the state has them, else the input as it is.
pub fn parameters_or(template: Option<&Value>, input: Value, scope: &Scope) -> Result<Value, StateError> {
    match template {
        Some(t) => parameters(t, &input, scope),
        None => Ok(input),
    }
}

/// The variables an `Assign` sets, evaluated against the scope as the state found it: in
/// JSONPath its `key.$` fields read `dollar` (the state's result, or its input where it has
/// none, or a catcher's error output); in JSONata, `$states`.
pub fn assignments(
    assign: Option<&Value>,
    language: Language,
    dollar: &Value,
    states: States,
    scope: &Scope,
) -> Result<Map<String, Value>, StateError> {
    let Some(assign) = assign else {
        return Ok(Map::new());
    };
    let values = match language {
        Language::JsonPath => parameters(assign, dollar, scope)?,
        Language::Jsonata => jsonata::template(assign, "Assign", states, scope)?,
    };
    match values {
        Value::Object(map) => Ok(map),
        other => Err(StateError::runtime(format!("Assign must give an object, not {other}"))),
    }
}

/// A JSONata state's `Output` (or `Arguments`, named by `field`) evaluated, else `default`.
pub fn jsonata_field(
    value: Option<&Value>,
    field: &str,
    default: &Value,
    states: States,
    scope: &Scope,
) -> Result<Value, StateError> {
    match value {
        Some(v) => jsonata::template(v, field, states, scope),
        None => Ok(default.clone()),
    }
}
