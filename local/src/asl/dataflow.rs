//! Step Functions' data flow: InputPath → Parameters → (the work) → ResultSelector →
//! ResultPath → OutputPath, each path absent (`$`), null (discard) or a JSONPath; and the
//! 256 KiB quota every payload is held to.

use serde_json::{json, Map, Value};

use super::definition::{Io, NullablePath};
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
pub fn input(io: &Io, raw: &Value, context: &Value) -> Result<Value, StateError> {
    match &io.input_path {
        Some(None) => Ok(json!({})),
        Some(Some(p)) => path::read(p, raw, context),
        None => Ok(raw.clone()),
    }
}

/// OutputPath: the part of the combined value passed on.
pub fn output(io: &Io, value: Value, context: &Value) -> Result<Value, StateError> {
    match &io.output_path {
        Some(None) => Ok(json!({})),
        Some(Some(p)) => path::read(p, &value, context),
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
/// intrinsic functions over `input` and the context object.
pub fn parameters(template: &Value, input: &Value, context: &Value) -> Result<Value, StateError> {
    match template {
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                if let Some(key) = k.strip_suffix(".$") {
                    let expr = v
                        .as_str()
                        .ok_or_else(|| StateError::runtime(format!("{k} must be a path or intrinsic")))?;
                    let value = if intrinsics::is_intrinsic(expr) {
                        intrinsics::evaluate(expr, input, context)?
                    } else {
                        path::read_for(expr, Some(k), input, context).map_err(|e| StateError::runtime(e.cause))?
                    };
                    out.insert(key.to_string(), value);
                } else {
                    out.insert(k.clone(), parameters(v, input, context)?);
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => items
            .iter()
            .map(|i| parameters(i, input, context))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

/// Parameters when the state has them, else the input as it is.
pub fn parameters_or(template: Option<&Value>, input: Value, context: &Value) -> Result<Value, StateError> {
    match template {
        Some(t) => parameters(t, &input, context),
        None => Ok(input),
    }
}
