//! Walks a JSON document collecting problems: each helper reports what it finds wrong and returns
//! the value when it is usable, so one pass finds every problem. And the shapes of names the
//! rules check (domain names, RDS identifiers, regions).

use serde_json::{Map, Value};

use super::{PlanProblem, MAX_SECONDS};

pub(super) fn is_domain_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    let name = name.strip_prefix("*.").unwrap_or(name);
    !name.is_empty()
        && name.len() <= 253
        && name.contains('.')
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        })
}

pub(super) fn is_rds_identifier(id: &str) -> bool {
    id.len() <= 63
        && id.chars().next().is_some_and(|ch| ch.is_ascii_alphabetic())
        && id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
        && !id.ends_with('-')
        && !id.contains("--")
}

/// Whether `region` has the shape of an AWS region's name.
pub fn is_region(region: &str) -> bool {
    // us-east-1, eu-central-2, us-gov-west-1, ap-southeast-4 ...
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].chars().all(|ch| ch.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|ch| ch.is_ascii_lowercase()))
        && parts[parts.len() - 1].parse::<u8>().is_ok()
}

/// Walks a JSON document collecting problems; each helper reports what it finds wrong and returns
/// the value when it is usable, so one pass finds every problem.
#[derive(Default)]
pub(super) struct Checker {
    pub(super) problems: Vec<PlanProblem>,
}

pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The fields an entry of `kind` may have: its kind's, or, for a kind not known (reported
/// apart), any kind's, each once, in order.
pub(super) fn fields_of<'a>(kind: Option<&str>, kinds: &[(&str, &[&'a str])]) -> Vec<&'a str> {
    if let Some((_, fields)) = kinds.iter().find(|(k, _)| Some(*k) == kind) {
        return fields.to_vec();
    }
    let mut all: Vec<&str> = Vec::new();
    for field in kinds.iter().flat_map(|(_, fields)| fields.iter()) {
        if !all.contains(field) {
            all.push(field);
        }
    }
    all
}

impl Checker {
    pub(super) fn report(&mut self, path: &str, message: impl Into<String>) {
        let path = if path.is_empty() { "$" } else { path };
        self.problems.push(PlanProblem {
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// An object whose keys must all be in `allowed` (an empty list allows any key).
    pub(super) fn object<'v>(
        &mut self,
        path: &str,
        value: &'v Value,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(obj) = value.as_object() else {
            self.report(path, "must be an object");
            return None;
        };
        if !allowed.is_empty() {
            for key in obj.keys() {
                if !allowed.contains(&key.as_str()) {
                    self.report(
                        &join(path, key),
                        format!("unknown field (expected one of: {})", allowed.join(", ")),
                    );
                }
            }
        }
        Some(obj)
    }

    pub(super) fn field<'v>(
        &mut self,
        path: &str,
        obj: &'v Map<String, Value>,
        key: &str,
        required: bool,
    ) -> Option<&'v Value> {
        match obj.get(key) {
            None | Some(Value::Null) => {
                if required {
                    self.report(&join(path, key), "required");
                }
                None
            }
            Some(v) => Some(v),
        }
    }

    pub(super) fn child_object<'v>(
        &mut self,
        path: &str,
        obj: &'v Map<String, Value>,
        key: &str,
        required: bool,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let v = self.field(path, obj, key, required)?;
        self.object(&join(path, key), v, allowed)
    }

    pub(super) fn string<'v>(
        &mut self,
        path: &str,
        obj: &'v Map<String, Value>,
        key: &str,
        required: bool,
    ) -> Option<&'v str> {
        let v = self.field(path, obj, key, required)?;
        match v.as_str() {
            Some(s) if !s.trim().is_empty() => Some(s),
            _ => {
                self.report(&join(path, key), "must be a non-empty string");
                None
            }
        }
    }

    pub(super) fn region<'v>(
        &mut self,
        path: &str,
        obj: &'v Map<String, Value>,
        key: &str,
        required: bool,
    ) -> Option<&'v str> {
        let r = self.string(path, obj, key, required)?;
        if is_region(r) {
            Some(r)
        } else {
            self.report(
                &join(path, key),
                format!("must be an AWS region like us-east-1, got '{r}'"),
            );
            None
        }
    }

    pub(super) fn one_of<'v>(
        &mut self,
        path: &str,
        obj: &'v Map<String, Value>,
        key: &str,
        required: bool,
        options: &[&str],
    ) -> Option<&'v str> {
        let v = self.field(path, obj, key, required)?;
        match v.as_str() {
            Some(s) if options.contains(&s) => Some(s),
            _ => {
                self.report(&join(path, key), format!("must be one of: {}", options.join(", ")));
                None
            }
        }
    }

    /// A whole number no smaller than `min`; `expected` words the bound for the message.
    pub(super) fn integer(
        &mut self,
        path: &str,
        obj: &Map<String, Value>,
        key: &str,
        required: bool,
        min: u64,
        expected: &str,
    ) -> Option<u64> {
        let v = self.field(path, obj, key, required)?;
        match v.as_u64() {
            Some(n) if n >= min => Some(n),
            Some(_) => {
                self.report(&join(path, key), format!("must be {expected}"));
                None
            }
            None if v.is_number() && v.as_f64().is_some_and(|f| f >= 0.0) => {
                self.report(&join(path, key), "must be a whole number");
                None
            }
            None if v.is_number() => {
                self.report(&join(path, key), format!("must be {expected}"));
                None
            }
            None => {
                self.report(&join(path, key), "must be a number");
                None
            }
        }
    }

    /// A duration in seconds: a whole number from `min` to one year, the longest a Step
    /// Functions standard execution runs (beyond it no recovery can wait, and times overflow).
    pub(super) fn seconds(
        &mut self,
        path: &str,
        obj: &Map<String, Value>,
        key: &str,
        required: bool,
        min: u64,
        expected: &str,
    ) -> Option<u64> {
        let n = self.integer(path, obj, key, required, min, expected)?;
        if n > MAX_SECONDS {
            self.report(
                &join(path, key),
                format!("must be at most {MAX_SECONDS} (one year, the longest a Step Functions execution runs)"),
            );
            return None;
        }
        Some(n)
    }

    pub(super) fn number(&mut self, path: &str, obj: &Map<String, Value>, key: &str, required: bool) -> Option<f64> {
        let v = self.field(path, obj, key, required)?;
        let n = v.as_f64();
        if n.is_none() {
            self.report(&join(path, key), "must be a number");
        }
        n
    }

    pub(super) fn boolean(&mut self, path: &str, obj: &Map<String, Value>, key: &str, required: bool) -> Option<bool> {
        let v = self.field(path, obj, key, required)?;
        let b = v.as_bool();
        if b.is_none() {
            self.report(&join(path, key), "must be true or false");
        }
        b
    }

    /// The elements of an array field, each with its path.
    pub(super) fn array<'v>(
        &mut self,
        path: &str,
        obj: &'v Map<String, Value>,
        key: &str,
        required: bool,
    ) -> Vec<(String, &'v Value)> {
        let Some(v) = self.field(path, obj, key, required) else {
            return Vec::new();
        };
        let apath = join(path, key);
        match v.as_array() {
            Some(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| (format!("{apath}[{i}]"), item))
                .collect(),
            None => {
                self.report(&apath, "must be an array");
                Vec::new()
            }
        }
    }
}
