//! What a state reads besides its input: the context object (`$$`, `$states.context`) and the
//! workflow variables in scope (`$name`), with the rules of Step Functions' developer guide
//! ("Passing data between states with variables"): the top-level states share one scope; a
//! Parallel branch or a Map iteration starts from a copy of its parent's variables and its own
//! assignments stay in it; every expression of a state reads the values as they were when the
//! state was entered, and its `Assign` takes effect when it is done.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::StateError;

/// The largest value one variable may hold, and the most one `Assign` may assign in all:
/// 256 KiB each (developer guide, variables, "Limits").
pub const MAX_VARIABLE_BYTES: usize = 262_144;
/// The most all of an execution's variables may hold together: 10 MiB.
pub const MAX_VARIABLES_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub context: Value,
    variables: Arc<Map<String, Value>>,
}

impl Scope {
    pub fn new(context: Value) -> Self {
        Scope {
            context,
            variables: Arc::default(),
        }
    }

    /// The same variables with another context object (a branch's, an iteration's).
    pub fn with_context(&self, context: Value) -> Self {
        Scope {
            context,
            variables: self.variables.clone(),
        }
    }

    pub fn variable(&self, name: &str) -> Result<&Value, StateError> {
        self.variables
            .get(name)
            .ok_or_else(|| StateError::runtime(format!("The variable '${name}' is not defined")))
    }

    pub fn variables(&self) -> &Map<String, Value> {
        &self.variables
    }

    /// The scope after an `Assign` of `values` (already evaluated against this one).
    pub fn assigned(&self, values: Map<String, Value>, state: &str) -> Result<Scope, StateError> {
        if values.is_empty() {
            return Ok(self.clone());
        }
        let size = |v: &Value| serde_json::to_vec(v).map(|b| b.len()).unwrap_or(usize::MAX);
        let mut total = 0;
        for (name, value) in &values {
            let bytes = size(value);
            if bytes > MAX_VARIABLE_BYTES {
                return Err(too_large(format!(
                    "{state} assigns {bytes} bytes to the variable '{name}', above the limit of {MAX_VARIABLE_BYTES} bytes (256 KiB)"
                )));
            }
            total += bytes;
        }
        if total > MAX_VARIABLE_BYTES {
            return Err(too_large(format!(
                "{state} assigns {total} bytes in all, above the limit of {MAX_VARIABLE_BYTES} bytes (256 KiB) for one Assign"
            )));
        }
        let mut variables = (*self.variables).clone();
        variables.extend(values);
        let held: usize = variables.values().map(size).sum();
        if held > MAX_VARIABLES_BYTES {
            return Err(too_large(format!(
                "after {state} the variables hold {held} bytes, above the limit of {MAX_VARIABLES_BYTES} bytes (10 MiB) for an execution"
            )));
        }
        Ok(Scope {
            context: self.context.clone(),
            variables: Arc::new(variables),
        })
    }
}

fn too_large(cause: String) -> StateError {
    StateError::new("States.DataLimitExceeded", cause)
}

/// Whether `name` may name a variable: a letter or `_`, then letters, digits or `_`; never
/// `states`, which Step Functions keeps for `$states`.
pub fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
        && name != "states"
}

/// Splits a JSONPath reference to a variable, `$name.a[0]`, into the name and the path inside
/// it (`$.a[0]`); None for `$`, `$.a` and `$$`.
pub fn variable_path(path: &str) -> Option<(&str, String)> {
    let rest = path.strip_prefix('$')?;
    let end = rest.find(['.', '[']).unwrap_or(rest.len());
    let name = &rest[..end];
    is_variable_name(name).then(|| (name, format!("${}", &rest[end..])))
}

/// Every `Assign` of a state: its own, its Choice rules' and its catchers'.
fn assigns(state: &Value) -> impl Iterator<Item = (String, &Value)> {
    let own = state.get("Assign").map(|a| (String::new(), a));
    let nested = ["Choices", "Catch"].into_iter().flat_map(move |field| {
        state
            .get(field)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(move |(i, item)| item.get("Assign").map(|a| (format!("/{field}[{i}]"), a)))
    });
    own.into_iter().chain(nested)
}

/// A name in an `Assign`: JSONPath's `name.$` is the variable `name`.
fn variable_of(key: &str) -> &str {
    key.strip_suffix(".$").unwrap_or(key)
}

/// The variables a state assigns (in its own scope).
pub fn assigned_names(state: &Value) -> Vec<String> {
    assigns(state)
        .filter_map(|(_, a)| a.as_object())
        .flat_map(|m| m.keys().map(|k| variable_of(k).to_string()))
        .collect()
}

/// Each `Assign` of a state is an object of variable names, none of them one a scope around
/// this one assigns: a Parallel branch or Map iteration reads its parent's variables but
/// cannot assign them. The error is the place and what is wrong.
pub fn check_assigns(state: &Value, at: &str, outer: &BTreeSet<String>) -> Result<(), (String, String)> {
    for (place, assign) in assigns(state) {
        let at = format!("{at}{place}/Assign");
        let Some(map) = assign.as_object() else {
            return Err((at, "Assign must be an object of variable names".into()));
        };
        for key in map.keys() {
            let name = variable_of(key);
            if !is_variable_name(name) {
                return Err((
                    at,
                    format!("'{name}' is not a variable name (a letter or _, then letters, digits or _; not 'states')"),
                ));
            }
            if outer.contains(name) {
                return Err((
                    at,
                    format!("the variable '{name}' is assigned in an enclosing scope; a Parallel branch or Map iteration may read it but not assign it"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn variable_references_are_told_from_paths() {
        assert_eq!(variable_path("$x"), Some(("x", "$".to_string())));
        assert_eq!(
            variable_path("$order.items[0]"),
            Some(("order", "$.items[0]".to_string()))
        );
        assert_eq!(variable_path("$_a1['b c']"), Some(("_a1", "$['b c']".to_string())));
        assert_eq!(variable_path("$"), None);
        assert_eq!(variable_path("$.x"), None);
        assert_eq!(variable_path("$$.Execution.Id"), None);
        assert_eq!(variable_path("$states.input"), None);
        assert_eq!(variable_path("$1x"), None);
    }

    #[test]
    fn an_assign_takes_effect_in_a_new_scope_and_is_held_to_the_limits() {
        let scope = Scope::new(json!({}));
        let mut values = Map::new();
        values.insert("x".into(), json!(1));
        let after = scope.assigned(values, "A").expect("assigned");
        assert_eq!(after.variable("x").ok(), Some(&json!(1)));
        assert!(scope.variable("x").is_err(), "the old scope keeps its values");

        let mut big = Map::new();
        big.insert("blob".into(), json!("x".repeat(MAX_VARIABLE_BYTES)));
        let err = scope.assigned(big, "A").expect_err("too large");
        assert_eq!(err.error, "States.DataLimitExceeded");
        assert!(err.cause.contains("'blob'"), "{}", err.cause);

        let mut two = Map::new();
        two.insert("a".into(), json!("x".repeat(MAX_VARIABLE_BYTES / 2)));
        two.insert("b".into(), json!("x".repeat(MAX_VARIABLE_BYTES / 2)));
        let err = scope.assigned(two, "A").expect_err("too large together");
        assert!(err.cause.contains("in all"), "{}", err.cause);
    }
}
