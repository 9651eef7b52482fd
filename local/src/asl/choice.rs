//! Choice rules: every comparison operator, their `...Path` forms, And/Or/Not, and the type tests.

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use super::scope::Scope;
use super::{path, StateError};

fn timestamp(v: &Value) -> Option<DateTime<FixedOffset>> {
    v.as_str().and_then(|s| DateTime::parse_from_rfc3339(s).ok())
}

/// `*` matches any run of characters; `\*` a literal star.
fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    fn go(p: &[char], t: &[char]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some('\\') if p.get(1).is_some() => t.first() == p.get(1) && go(&p[2..], &t[1..]),
            Some('*') => (0..=t.len()).any(|i| go(&p[1..], &t[i..])),
            Some(c) => t.first() == Some(c) && go(&p[1..], &t[1..]),
        }
    }
    go(&p, &t)
}

/// Whether `rule` holds for `input`.
pub fn matches(rule: &Value, input: &Value, scope: &Scope) -> Result<bool, StateError> {
    if let Some(all) = rule.get("And").and_then(Value::as_array) {
        for r in all {
            if !matches(r, input, scope)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    if let Some(any) = rule.get("Or").and_then(Value::as_array) {
        for r in any {
            if matches(r, input, scope)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if let Some(not) = rule.get("Not") {
        return Ok(!matches(not, input, scope)?);
    }
    let variable = rule
        .get("Variable")
        .and_then(Value::as_str)
        .ok_or_else(|| StateError::runtime("a Choice rule has no Variable"))?;
    let obj = rule
        .as_object()
        .ok_or_else(|| StateError::runtime("a Choice rule is not an object"))?;
    let (operator, operand) = obj
        .iter()
        .find(|(k, _)| !matches!(k.as_str(), "Variable" | "Next" | "Comment"))
        .ok_or_else(|| StateError::runtime(format!("the Choice rule on {variable} has no comparison")))?;
    let value = path::read(variable, input, scope);
    if operator == "IsPresent" {
        return Ok(value.is_ok() == operand.as_bool().unwrap_or(false));
    }
    // A missing variable is a runtime error for every test but IsPresent, as in Step Functions.
    let value = value?;
    let (op, expected) = match operator.strip_suffix("Path") {
        Some(op) if op != "Is" => {
            let p = operand
                .as_str()
                .ok_or_else(|| StateError::runtime(format!("{operator} needs a path")))?;
            (op, path::read(p, input, scope)?)
        }
        _ => (operator.as_str(), operand.clone()),
    };
    let want = |b: bool| Ok(expected.as_bool() == Some(b));
    match op {
        "IsNull" => want(value.is_null()),
        "IsNumeric" => want(value.is_number()),
        "IsString" => want(value.is_string()),
        "IsBoolean" => want(value.is_boolean()),
        "IsTimestamp" => want(timestamp(&value).is_some()),
        "StringMatches" => Ok(matches!((value.as_str(), expected.as_str()), (Some(v), Some(p)) if wildcard(p, v))),
        "BooleanEquals" => Ok(value.is_boolean() && value == expected),
        _ => {
            let ordering = if let Some(kind) = op.strip_prefix("String") {
                match (value.as_str(), expected.as_str()) {
                    (Some(a), Some(b)) => Some((kind, a.cmp(b))),
                    _ => None,
                }
            } else if let Some(kind) = op.strip_prefix("Numeric") {
                match (value.as_f64(), expected.as_f64()) {
                    (Some(a), Some(b)) => a.partial_cmp(&b).map(|o| (kind, o)),
                    _ => None,
                }
            } else if let Some(kind) = op.strip_prefix("Timestamp") {
                match (timestamp(&value), timestamp(&expected)) {
                    (Some(a), Some(b)) => Some((kind, a.cmp(&b))),
                    _ => None,
                }
            } else {
                return Err(StateError::runtime(format!("unknown Choice operator {operator}")));
            };
            use std::cmp::Ordering::*;
            Ok(match ordering {
                None => false,
                Some((kind, o)) => match kind {
                    "Equals" => o == Equal,
                    "LessThan" => o == Less,
                    "GreaterThan" => o == Greater,
                    "LessThanEquals" => o != Greater,
                    "GreaterThanEquals" => o != Less,
                    _ => return Err(StateError::runtime(format!("unknown Choice operator {operator}"))),
                },
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn holds(rule: Value, input: Value) -> bool {
        matches(&rule, &input, &Scope::default()).expect("rule evaluates")
    }

    #[test]
    fn comparisons_and_their_path_forms() {
        let input = json!({"s": "abc", "n": 5, "b": true, "t": "2026-11-24T03:12:41Z", "m": 7, "later": "2026-11-24T04:00:00Z"});
        assert!(holds(json!({"Variable": "$.s", "StringEquals": "abc"}), input.clone()));
        assert!(holds(
            json!({"Variable": "$.s", "StringLessThan": "abd"}),
            input.clone()
        ));
        assert!(holds(json!({"Variable": "$.s", "StringMatches": "a*c"}), input.clone()));
        assert!(!holds(
            json!({"Variable": "$.s", "StringMatches": "a\\*c"}),
            input.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.n", "NumericGreaterThanEquals": 5}),
            input.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.n", "NumericLessThanPath": "$.m"}),
            input.clone()
        ));
        assert!(holds(json!({"Variable": "$.b", "BooleanEquals": true}), input.clone()));
        assert!(holds(
            json!({"Variable": "$.t", "TimestampLessThanPath": "$.later"}),
            input.clone()
        ));
        assert!(holds(
            json!({"Variable": "$.t", "TimestampEquals": "2026-11-24T03:12:41Z"}),
            input.clone()
        ));
        assert!(
            !holds(json!({"Variable": "$.s", "NumericEquals": 5}), input.clone()),
            "type mismatch is false"
        );
    }

    #[test]
    fn logic_and_type_tests() {
        let input = json!({"a": null, "n": 1});
        assert!(holds(json!({"Variable": "$.a", "IsNull": true}), input.clone()));
        assert!(holds(json!({"Variable": "$.zz", "IsPresent": false}), input.clone()));
        assert!(holds(json!({"Variable": "$.n", "IsNumeric": true}), input.clone()));
        assert!(holds(
            json!({"Not": {"Variable": "$.n", "IsString": true}}),
            input.clone()
        ));
        assert!(holds(
            json!({"And": [{"Variable": "$.n", "NumericEquals": 1}, {"Or": [{"Variable": "$.a", "IsNull": false}, {"Variable": "$.n", "IsBoolean": false}]}]}),
            input
        ));
    }
}
