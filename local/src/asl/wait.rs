//! A Wait state's duration, as Step Functions takes it.

use chrono::Utc;
use serde_json::Value;

use super::definition::{whole_number, Language, Wait, MOST_SECONDS};
use super::scope::Scope;
use super::{definition, jsonata, path, StateError};

/// How long a Wait state waits: its Seconds, SecondsPath, or until its Timestamp. Step
/// Functions fails the execution (`States.Runtime`) on a SecondsPath that is not a
/// non-negative integer, a TimestampPath that is not a timestamp as it takes them, and a
/// wait beyond a year.
pub(super) fn seconds(name: &str, s: &definition::Wait, effective: &Value, scope: &Scope) -> Result<f64, StateError> {
    let seconds = if let Some(n) = &s.seconds {
        // Checked on load when written; a JSONata expression's value is checked here.
        n.as_u64().map(|n| n as f64).ok_or_else(|| {
            StateError::runtime(format!(
                "{name}: Seconds gives {n}, which is not a non-negative integer"
            ))
        })?
    } else if let Some(p) = &s.seconds_path {
        let value = path::read(p, effective, scope)?;
        value.as_u64().map(|n| n as f64).ok_or_else(|| {
            StateError::runtime(format!(
                "{name}: the SecondsPath {p} gives {value}, which is not a non-negative integer"
            ))
        })?
    } else {
        let stamp = match (&s.timestamp, &s.timestamp_path) {
            (Some(t), _) => t.clone(),
            (None, Some(p)) => path::read(p, effective, scope)?,
            _ => {
                return Err(StateError::runtime(format!(
                    "{name} has no Seconds, SecondsPath, Timestamp or TimestampPath"
                )))
            }
        };
        let at = wait_timestamp(&stamp).ok_or_else(|| {
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

/// A Wait's timestamp as Step Functions takes it: RFC 3339, an uppercase `T` between the date
/// and the time, an uppercase `Z` where no numeric offset is given (developer guide, Wait
/// state). chrono alone would take a space or a lowercase `t`.
pub fn wait_timestamp(value: &Value) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let text = value.as_str()?;
    let separated = text.as_bytes().get(10) == Some(&b'T');
    if !separated || text.ends_with('z') {
        return None;
    }
    chrono::DateTime::parse_from_rfc3339(text).ok()
}

/// Exactly one way to say how long, each as Step Functions takes it on creation.
pub(super) fn check(w: &Wait, name: &str, language: Language) -> Result<(), String> {
    let given = [
        w.seconds.is_some(),
        w.seconds_path.is_some(),
        w.timestamp.is_some(),
        w.timestamp_path.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(format!(
            "{name} must have exactly one of Seconds, SecondsPath, Timestamp or TimestampPath"
        ));
    }
    if let Some(n) = &w.seconds {
        if !whole_number(n, 0.0, MOST_SECONDS, language) {
            return Err(format!(
                "{name}: Seconds must be an integer from 0 to 99999999, not {n}"
            ));
        }
    }
    if let Some(t) = &w.timestamp {
        let expression = language == Language::Jsonata && jsonata::expression(t).is_some();
        if !expression && wait_timestamp(t).is_none() {
            return Err(format!(
                "{name}: Timestamp {t} is not an RFC 3339 timestamp with an uppercase T and Z (2024-08-18T17:33:00Z)"
            ));
        }
    }
    Ok(())
}
