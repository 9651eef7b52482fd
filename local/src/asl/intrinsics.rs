//! Intrinsic functions in `.$` fields, all eighteen of the Amazon States Language, with the
//! limits AWS documents (10 nested calls, 1,000 items from ArrayRange, 10,000 characters into
//! Base64 and Hash) and `States.IntrinsicFailure` for bad arguments.

use md5::Md5;
use rand::{RngExt, SeedableRng};
use serde_json::{Map, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::scope::Scope;
use super::{path, StateError};

fn failure(message: impl Into<String>) -> StateError {
    StateError::new("States.IntrinsicFailure", message)
}

/// Evaluates an expression such as `States.Format('{} of {}', $.a, $$.Execution.Id)`.
pub fn evaluate(expression: &str, input: &Value, scope: &Scope) -> Result<Value, StateError> {
    let chars: Vec<char> = expression.trim().chars().collect();
    let mut parser = Parser {
        chars,
        pos: 0,
        depth: 0,
        input,
        scope,
    };
    let value = parser.call()?;
    parser.skip_spaces();
    if parser.pos != parser.chars.len() {
        return Err(failure(format!("unexpected text after the call in '{expression}'")));
    }
    Ok(value)
}

pub fn is_intrinsic(expression: &str) -> bool {
    expression.trim_start().starts_with("States.")
}

/// Step Functions allows 10 intrinsic functions nested in one field.
const MAX_NESTING: usize = 10;

/// The most characters Base64Encode, Base64Decode and Hash take.
const MAX_CHARACTERS: usize = 10_000;

/// The most items ArrayRange returns.
const MAX_RANGE: i64 = 1000;

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    /// Calls open around the current position.
    depth: usize,
    input: &'a Value,
    scope: &'a Scope,
}

impl Parser<'_> {
    fn skip_spaces(&mut self) {
        while self.pos < self.chars.len() && self.chars[self.pos].is_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn call(&mut self) -> Result<Value, StateError> {
        self.skip_spaces();
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '.') {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(failure(format!(
                "more than {MAX_NESTING} intrinsic functions nested in one field"
            )));
        }
        self.skip_spaces();
        if self.peek() != Some('(') {
            return Err(failure(format!("expected '(' after {name}")));
        }
        self.pos += 1;
        let mut args = Vec::new();
        loop {
            self.skip_spaces();
            if self.peek() == Some(')') {
                self.pos += 1;
                break;
            }
            args.push(self.argument()?);
            self.skip_spaces();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(')') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(failure(format!("expected ',' or ')' in the arguments of {name}"))),
            }
        }
        self.depth -= 1;
        apply(&name, args)
    }

    fn argument(&mut self) -> Result<Value, StateError> {
        match self.peek() {
            Some('\'') => {
                self.pos += 1;
                let mut text = String::new();
                while let Some(c) = self.peek() {
                    self.pos += 1;
                    match c {
                        '\\' => {
                            if let Some(next) = self.peek() {
                                text.push(next);
                                self.pos += 1;
                            }
                        }
                        '\'' => return Ok(Value::String(text)),
                        other => text.push(other),
                    }
                }
                Err(failure("unterminated string"))
            }
            Some('$') => {
                let start = self.pos;
                let mut depth = 0;
                while let Some(c) = self.peek() {
                    if depth == 0 && (c == ',' || c == ')') {
                        break;
                    }
                    depth += i32::from(c == '[') - i32::from(c == ']');
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                path::read(text.trim(), self.input, self.scope)
            }
            Some('S') => self.call(),
            _ => {
                let start = self.pos;
                while self.peek().is_some_and(|c| c != ',' && c != ')') {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                serde_json::from_str(text.trim()).map_err(|_| failure(format!("'{}' is not an argument", text.trim())))
            }
        }
    }
}

fn apply(name: &str, args: Vec<Value>) -> Result<Value, StateError> {
    let count = |n: usize| {
        if args.len() == n {
            Ok(())
        } else {
            Err(failure(format!("{name} takes {n} argument(s), got {}", args.len())))
        }
    };
    match name {
        "States.Format" => format(&args),
        "States.StringToJson" => {
            count(1)?;
            let text = string(name, &args[0])?;
            // Step Functions gives null for an empty string, and 0 for "-0".
            match text.trim() {
                "" => Ok(Value::Null),
                "-0" => Ok(Value::from(0)),
                _ => serde_json::from_str(text).map_err(|e| failure(format!("States.StringToJson: {e}"))),
            }
        }
        "States.JsonToString" => {
            count(1)?;
            Ok(Value::String(args[0].to_string()))
        }
        "States.Array" => Ok(Value::Array(args)),
        "States.ArrayLength" => {
            count(1)?;
            Ok(Value::from(array(name, &args[0])?.len()))
        }
        "States.ArrayPartition" => {
            count(2)?;
            let items = array(name, &args[0])?;
            let size = integer(&args[1])
                .filter(|n| *n > 0)
                .ok_or_else(|| failure("States.ArrayPartition takes a chunk size that is a positive integer"))?;
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            Ok(Value::Array(
                items.chunks(size).map(|c| Value::Array(c.to_vec())).collect(),
            ))
        }
        "States.ArrayContains" => {
            count(2)?;
            Ok(Value::Bool(array(name, &args[0])?.contains(&args[1])))
        }
        "States.ArrayRange" => {
            count(3)?;
            let bad = || failure("States.ArrayRange takes three integers, the step not 0");
            let (start, end) = (integer(&args[0]).ok_or_else(bad)?, integer(&args[1]).ok_or_else(bad)?);
            let step = integer(&args[2]).filter(|s| *s != 0).ok_or_else(bad)?;
            let slots = (i128::from(end) - i128::from(start)) / i128::from(step);
            if slots < 0 {
                return Ok(Value::Array(Vec::new()));
            }
            if slots + 1 > i128::from(MAX_RANGE) {
                return Err(failure(format!(
                    "States.ArrayRange cannot return more than {MAX_RANGE} items"
                )));
            }
            let items = (0..=slots as i64).map(|i| Value::from(start + step * i)).collect();
            Ok(Value::Array(items))
        }
        "States.ArrayGetItem" => {
            count(2)?;
            let items = array(name, &args[0])?;
            let index = integer(&args[1])
                .filter(|i| *i >= 0)
                .ok_or_else(|| failure("States.ArrayGetItem takes an index that is a non-negative integer"))?;
            usize::try_from(index)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
                .ok_or_else(|| {
                    failure(format!(
                        "States.ArrayGetItem: index {index} is out of bounds for an array of {}",
                        items.len()
                    ))
                })
        }
        "States.ArrayUnique" => {
            count(1)?;
            let mut unique: Vec<Value> = Vec::new();
            for item in array(name, &args[0])? {
                if !unique.contains(item) {
                    unique.push(item.clone());
                }
            }
            Ok(Value::Array(unique))
        }
        "States.Base64Encode" => {
            count(1)?;
            let text = limited(name, &args[0])?;
            Ok(Value::String(aws_smithy_types::base64::encode(text)))
        }
        "States.Base64Decode" => {
            count(1)?;
            let text = limited(name, &args[0])?;
            let bytes = aws_smithy_types::base64::decode(text)
                .map_err(|e| failure(format!("States.Base64Decode: not Base64: {e}")))?;
            String::from_utf8(bytes)
                .map(Value::String)
                .map_err(|_| failure("States.Base64Decode: the decoded bytes are not UTF-8 text"))
        }
        "States.Hash" => {
            count(2)?;
            let data = limited(name, &args[0])?;
            let digest = match string(name, &args[1])? {
                "MD5" => hex(Md5::digest(data.as_bytes()).as_slice()),
                "SHA-1" => hex(Sha1::digest(data.as_bytes()).as_slice()),
                "SHA-256" => hex(Sha256::digest(data.as_bytes()).as_slice()),
                "SHA-384" => hex(Sha384::digest(data.as_bytes()).as_slice()),
                "SHA-512" => hex(Sha512::digest(data.as_bytes()).as_slice()),
                other => {
                    return Err(failure(format!(
                        "States.Hash: unsupported algorithm '{other}' (MD5, SHA-1, SHA-256, SHA-384 or SHA-512)"
                    )))
                }
            };
            Ok(Value::String(digest))
        }
        "States.JsonMerge" => {
            count(3)?;
            let (Value::Object(first), Value::Object(second)) = (&args[0], &args[1]) else {
                return Err(failure("States.JsonMerge takes two JSON objects and false"));
            };
            match args[2] {
                Value::Bool(false) => {}
                Value::Bool(true) => {
                    return Err(failure(
                        "States.JsonMerge does not deep merge: its third argument must be false",
                    ))
                }
                _ => return Err(failure("States.JsonMerge takes two JSON objects and false")),
            }
            // A shallow merge: the second object's keys win.
            let mut merged: Map<String, Value> = first.clone();
            merged.extend(second.clone());
            Ok(Value::Object(merged))
        }
        "States.MathRandom" => {
            if !(2..=3).contains(&args.len()) {
                return Err(failure(format!(
                    "States.MathRandom takes 2 or 3 arguments, got {}",
                    args.len()
                )));
            }
            let bad = || failure("States.MathRandom takes numbers: a start, an end above it, and an optional seed");
            let (start, end) = (rounded(&args[0]).ok_or_else(bad)?, rounded(&args[1]).ok_or_else(bad)?);
            if end <= start {
                return Err(bad());
            }
            let value = match args.get(2) {
                Some(seed) => {
                    let seed = rounded(seed).ok_or_else(bad)?;
                    rand::rngs::StdRng::seed_from_u64(seed as u64).random_range(start..end)
                }
                None => rand::random_range(start..end),
            };
            Ok(Value::from(value))
        }
        "States.MathAdd" => {
            count(2)?;
            match (rounded(&args[0]), rounded(&args[1])) {
                (Some(a), Some(b)) => a
                    .checked_add(b)
                    .map(Value::from)
                    .ok_or_else(|| failure("States.MathAdd: the sum overflows")),
                _ => Err(failure("States.MathAdd takes two numbers")),
            }
        }
        "States.StringSplit" => {
            count(2)?;
            let text = string(name, &args[0])?;
            let delimiters: Vec<char> = string(name, &args[1])?.chars().collect();
            // Each character of the second argument delimits, as in AWS's own example.
            let parts = text
                .split(|c| delimiters.contains(&c))
                .filter(|p| !p.is_empty())
                .map(|p| Value::String(p.to_string()))
                .collect();
            Ok(Value::Array(parts))
        }
        "States.UUID" => {
            count(0)?;
            Ok(Value::String(uuid::Uuid::new_v4().to_string()))
        }
        other => Err(failure(format!("unknown intrinsic function {other}"))),
    }
}

fn format(args: &[Value]) -> Result<Value, StateError> {
    let template = args
        .first()
        .and_then(Value::as_str)
        .ok_or_else(|| failure("States.Format needs a template string"))?;
    let mut out = String::new();
    let mut values = args[1..].iter();
    let mut rest = template;
    while let Some(at) = rest.find("{}") {
        out.push_str(&rest[..at]);
        let value = values
            .next()
            .ok_or_else(|| failure("States.Format has more {} than arguments"))?;
        out.push_str(&java_text(value));
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    if values.next().is_some() {
        return Err(failure("States.Format has more arguments than {}"));
    }
    Ok(Value::String(out))
}

fn string<'v>(name: &str, value: &'v Value) -> Result<&'v str, StateError> {
    value
        .as_str()
        .ok_or_else(|| failure(format!("{name} takes a string, got {value}")))
}

/// A string within the 10,000 characters Base64 and Hash take.
fn limited<'v>(name: &str, value: &'v Value) -> Result<&'v str, StateError> {
    let text = string(name, value)?;
    if text.chars().count() > MAX_CHARACTERS {
        return Err(failure(format!("{name} takes at most {MAX_CHARACTERS} characters")));
    }
    Ok(text)
}

fn array<'v>(name: &str, value: &'v Value) -> Result<&'v Vec<Value>, StateError> {
    value
        .as_array()
        .ok_or_else(|| failure(format!("{name} takes an array, got {value}")))
}

/// A value as Step Functions writes it into `States.Format`'s template: a string as it is, an
/// object or array as Java prints its map or list (`{Arg1=1, Arg2=[a, b]}`).
fn java_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(java_text).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{k}={}", java_text(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

/// A number rounded as Java's `Math.round` does (half up: 1.5 is 2, -1.5 is -1), as the math
/// intrinsics take their arguments; None for anything else.
fn rounded(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.abs() < 9.0e15)
            .map(|f| (f + 0.5).floor() as i64)
    })
}

/// A whole number (1.0 counts as 1, as JSON has one number type).
fn integer(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests;
