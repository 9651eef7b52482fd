//! JSONPath as Step Functions evaluates it (Jayway JSONPath): a definite path (`$`, `$.a.b`,
//! `$.a[0]`, `$['a b']`, the context object's `$$.Execution.Id`) gives the value there, and a
//! missing one fails; any other path (wildcards, slices, filters, deep scans, unions) gives the
//! array of what it matches, `[]` when nothing does, evaluated by `jsonpath-rust` (RFC 9535).
//! `ResultPath` takes a reference path: definite only. `$name` and `$name.a.b` read the
//! workflow variable `name` the same way.

use serde_json::{Map, Value};

use super::scope::{variable_path, Scope};
use super::StateError;

#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Splits `$.a.b[0]` into segments; `None` when it is not a path.
pub fn parse(path: &str) -> Option<Vec<Segment>> {
    let rest = path.strip_prefix('$')?;
    let mut segments = Vec::new();
    let chars: Vec<char> = rest.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && chars[end] != '.' && chars[end] != '[' {
                    end += 1;
                }
                let key: String = chars[start..end].iter().collect();
                // `..` (a deep scan) and `.*` (a wildcard) are not definite.
                if key.is_empty() || key == "*" {
                    return None;
                }
                segments.push(Segment::Key(key));
                i = end;
            }
            '[' => {
                let close = chars[i..].iter().position(|c| *c == ']')? + i;
                let inner: String = chars[i + 1..close].iter().collect();
                let inner = inner.trim();
                let quoted = inner.strip_prefix('\'').and_then(|s| s.strip_suffix('\''));
                // One quoted name; `['a','b']` is a union, not definite.
                if let Some(quoted) = quoted.filter(|q| !q.contains('\'')) {
                    segments.push(Segment::Key(quoted.to_string()));
                } else {
                    segments.push(Segment::Index(inner.parse().ok()?));
                }
                i = close + 1;
            }
            _ => return None,
        }
    }
    Some(segments)
}

/// Reads `path` from `input` (from the context object for `$$.` paths, from a variable for
/// `$name` ones).
pub fn read(path: &str, input: &Value, scope: &Scope) -> Result<Value, StateError> {
    read_for(path, None, input, scope)
}

/// [`read`] for the template field `field` (`x.$`), whose missing path Step Functions names in
/// its cause: "The JSONPath '$.a' specified for the field 'x.$' could not be found in the input".
pub fn read_for(path: &str, field: Option<&str>, input: &Value, scope: &Scope) -> Result<Value, StateError> {
    // The cause names the path as written and the state's input, whichever root it reads
    // (recorded on Step Functions for a `$$.` path).
    let written = path;
    let (root, path) = match (path.strip_prefix("$$"), variable_path(path)) {
        (Some(rest), _) => (&scope.context, format!("${rest}")),
        (None, Some((name, inside))) => (scope.variable(name)?, inside),
        (None, None) => (input, path.to_string()),
    };
    let Some(segments) = parse(&path) else {
        return matches(root, &path);
    };
    let mut current = root;
    for segment in &segments {
        let next = match segment {
            Segment::Key(k) => current.get(k.as_str()),
            Segment::Index(i) => current.get(*i),
        };
        current = next.ok_or_else(|| {
            let named = field
                .map(|f| format!(" specified for the field '{f}'"))
                .unwrap_or_default();
            StateError::new(
                "States.Runtime",
                format!("The JSONPath '{written}'{named} could not be found in the input '{input}'"),
            )
        })?;
    }
    Ok(current.clone())
}

/// What an indefinite `path` matches in `root`, in order, as an array.
fn matches(root: &Value, path: &str) -> Result<Value, StateError> {
    use jsonpath_rust::JsonPath;
    let found = root
        .query(path)
        .map_err(|e| StateError::runtime(format!("'{path}' is not a valid path: {e}")))?;
    Ok(Value::Array(found.into_iter().cloned().collect()))
}

/// Places `value` at `path` inside `input`, creating objects on the way (`ResultPath`).
pub fn write(input: Value, path: &str, value: Value) -> Result<Value, StateError> {
    let segments = parse(path).ok_or_else(|| StateError::runtime(format!("'{path}' is not a valid reference path")))?;
    if segments.is_empty() {
        return Ok(value);
    }
    let mut root = input;
    if !root.is_object() {
        return Err(StateError::new(
            "States.ResultPathMatchFailure",
            format!("Unable to apply ResultPath '{path}' to input '{root}'"),
        ));
    }
    let mut current = &mut root;
    for (n, segment) in segments.iter().enumerate() {
        let last = n == segments.len() - 1;
        match segment {
            Segment::Key(k) => {
                if current.is_null() {
                    *current = Value::Object(Map::new());
                }
                let map = current.as_object_mut().ok_or_else(|| {
                    StateError::new(
                        "States.ResultPathMatchFailure",
                        format!("Unable to apply ResultPath '{path}': '{k}' is not in an object"),
                    )
                })?;
                if last {
                    map.insert(k.clone(), value);
                    return Ok(root);
                }
                current = map.entry(k.clone()).or_insert(Value::Null);
            }
            Segment::Index(i) => {
                let items = current.as_array_mut().ok_or_else(|| {
                    StateError::new(
                        "States.ResultPathMatchFailure",
                        format!("Unable to apply ResultPath '{path}': [{i}] is not in an array"),
                    )
                })?;
                let slot = items.get_mut(*i).ok_or_else(|| {
                    StateError::new(
                        "States.ResultPathMatchFailure",
                        format!("Unable to apply ResultPath '{path}': index {i} out of range"),
                    )
                })?;
                if last {
                    *slot = value;
                    return Ok(root);
                }
                current = slot;
            }
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_read_keys_indexes_and_the_context() {
        let input = json!({"a": {"b": [10, {"c d": 3}]}});
        let ctx = Scope::new(json!({"Execution": {"Id": "x"}}));
        assert_eq!(read("$", &input, &ctx).ok(), Some(input.clone()));
        assert_eq!(read("$.a.b[0]", &input, &ctx).ok(), Some(json!(10)));
        assert_eq!(read("$.a.b[1]['c d']", &input, &ctx).ok(), Some(json!(3)));
        assert_eq!(read("$$.Execution.Id", &input, &ctx).ok(), Some(json!("x")));
        assert!(read("$.missing", &input, &ctx).is_err());
    }

    #[test]
    fn indefinite_paths_give_what_they_match_as_step_functions_does() {
        let input = json!({
            "items": [{"id": 1}, {"id": 2}, {"id": 3}],
            "users": [{"name": "a", "status": 0}, {"name": "b", "status": 1}, {"name": "c", "status": 0}]
        });
        let ctx = Scope::default();
        let read = |p: &str| read(p, &input, &ctx).unwrap_or_else(|e| panic!("{p}: {e:?}"));
        assert_eq!(read("$.items[1:]"), json!([{"id": 2}, {"id": 3}]));
        assert_eq!(read("$.items[:1]"), json!([{"id": 1}]));
        assert_eq!(read("$.items[*].id"), json!([1, 2, 3]));
        assert_eq!(read("$..id"), json!([1, 2, 3]));
        assert_eq!(read("$.items[0].*"), json!([1]));
        assert_eq!(read("$.items[0]['id','x']"), json!([1]));
        assert_eq!(read("$.users[?(@.status == 0)].name"), json!(["a", "c"]));
        // An empty match is an empty array, not a failure.
        assert_eq!(read("$.users[?(@.status == 7)]"), json!([]));
        assert_eq!(read("$.nothing[*]"), json!([]));
        // Still refused: what is no path at all.
        assert!(super::read("$.items[", &input, &ctx).is_err());
        // A reference path only for ResultPath.
        assert!(write(input.clone(), "$.items[*].id", json!(1)).is_err());
    }

    #[test]
    fn variables_are_read_as_paths_from_their_own_root() {
        let mut values = Map::new();
        values.insert("order".into(), json!({"items": [{"id": 7}, {"id": 8}]}));
        let scope = Scope::default().assigned(values, "A").expect("assigned");
        let input = json!({"order": "the input's"});
        assert_eq!(read("$order.items[1].id", &input, &scope).ok(), Some(json!(8)));
        assert_eq!(read("$order.items[*].id", &input, &scope).ok(), Some(json!([7, 8])));
        assert_eq!(read("$.order", &input, &scope).ok(), Some(json!("the input's")));
        let err = read("$missing.x", &input, &scope).expect_err("undefined");
        assert!(err.cause.contains("'$missing'"), "{}", err.cause);
    }

    #[test]
    fn result_paths_create_objects_on_the_way() {
        let out = write(json!({"a": 1}), "$.results.dns", json!({"ok": true})).expect("written");
        assert_eq!(out, json!({"a": 1, "results": {"dns": {"ok": true}}}));
        assert_eq!(write(json!({"a": 1}), "$", json!(2)).ok(), Some(json!(2)));
        assert!(write(json!("text"), "$.a", json!(1)).is_err());
    }
}
