//! A Wait state's duration, as Step Functions takes it.

use chrono::Utc;
use serde_json::Value;

use super::{definition, path, StateError};

/// How long a Wait state waits: its Seconds, SecondsPath, or until its Timestamp. Step
/// Functions fails the execution (`States.Runtime`) on a SecondsPath that is not a
/// non-negative integer, a TimestampPath that is not a timestamp as it takes them, and a
/// wait beyond a year.
pub(super) fn seconds(name: &str, s: &definition::Wait, effective: &Value, ctx: &Value) -> Result<f64, StateError> {
    let seconds = if let Some(n) = s.seconds {
        n
    } else if let Some(p) = &s.seconds_path {
        let value = path::read(p, effective, ctx)?;
        value.as_u64().map(|n| n as f64).ok_or_else(|| {
            StateError::runtime(format!(
                "{name}: the SecondsPath {p} gives {value}, which is not a non-negative integer"
            ))
        })?
    } else {
        let stamp = match (&s.timestamp, &s.timestamp_path) {
            (Some(t), _) => t.clone(),
            (None, Some(p)) => path::read(p, effective, ctx)?,
            _ => {
                return Err(StateError::runtime(format!(
                    "{name} has no Seconds, SecondsPath, Timestamp or TimestampPath"
                )))
            }
        };
        let at = definition::wait_timestamp(&stamp).ok_or_else(|| {
            StateError::runtime(format!(
                "{name}: {stamp} is not a timestamp with an uppercase T and Z (2024-08-18T17:33:00Z)"
            ))
        })?;
        ((at.with_timezone(&Utc) - Utc::now()).num_milliseconds().max(0) as f64) / 1000.0
    };
    if seconds > definition::LONGEST_WAIT_SECONDS {
        return Err(StateError::runtime(format!(
            "{name}: Wait state delay is too long ({seconds} s; a Standard workflow waits at most a year)"
        )));
    }
    Ok(seconds)
}
