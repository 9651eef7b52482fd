//! Intrinsic functions in `.$` fields: States.Format, States.StringToJson, States.JsonToString,
//! States.Array, States.ArrayLength, States.UUID, States.MathAdd.

use serde_json::Value;

use super::{path, StateError};

fn failure(message: impl Into<String>) -> StateError {
    StateError::new("States.IntrinsicFailure", message)
}

/// Evaluates an expression such as `States.Format('{} of {}', $.a, $$.Execution.Id)`.
pub fn evaluate(expression: &str, input: &Value, context: &Value) -> Result<Value, StateError> {
    let chars: Vec<char> = expression.trim().chars().collect();
    let mut parser = Parser {
        chars,
        pos: 0,
        input,
        context,
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

struct Parser<'a> {
    chars: Vec<char>,
    pos: usize,
    input: &'a Value,
    context: &'a Value,
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
                path::read(text.trim(), self.input, self.context)
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
        "States.Format" => {
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
                match value {
                    Value::String(s) => out.push_str(s),
                    Value::Object(_) | Value::Array(_) => {
                        return Err(failure("States.Format takes only strings, numbers, booleans and null"))
                    }
                    other => out.push_str(&other.to_string()),
                }
                rest = &rest[at + 2..];
            }
            out.push_str(rest);
            if values.next().is_some() {
                return Err(failure("States.Format has more arguments than {}"));
            }
            Ok(Value::String(out))
        }
        "States.StringToJson" => {
            count(1)?;
            let text = args[0]
                .as_str()
                .ok_or_else(|| failure("States.StringToJson takes a string"))?;
            serde_json::from_str(text).map_err(|e| failure(format!("States.StringToJson: {e}")))
        }
        "States.JsonToString" => {
            count(1)?;
            Ok(Value::String(args[0].to_string()))
        }
        "States.Array" => Ok(Value::Array(args)),
        "States.ArrayLength" => {
            count(1)?;
            let items = args[0]
                .as_array()
                .ok_or_else(|| failure("States.ArrayLength takes an array"))?;
            Ok(Value::from(items.len()))
        }
        "States.UUID" => {
            count(0)?;
            Ok(Value::String(uuid::Uuid::new_v4().to_string()))
        }
        "States.MathAdd" => {
            count(2)?;
            match (args[0].as_i64(), args[1].as_i64()) {
                (Some(a), Some(b)) => Ok(Value::from(a + b)),
                _ => Err(failure("States.MathAdd takes two integers")),
            }
        }
        other => Err(failure(format!("unknown intrinsic function {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(expr: &str) -> Result<Value, StateError> {
        evaluate(
            expr,
            &json!({"a": "x", "n": 2, "obj": {"k": [1]}, "s": "{\"k\":1}"}),
            &json!({"Execution": {"Name": "e1"}}),
        )
    }

    #[test]
    fn the_functions_compute_what_step_functions_does() {
        assert_eq!(
            eval("States.Format('{} and {} in {}', $.a, $.n, $$.Execution.Name)").ok(),
            Some(json!("x and 2 in e1"))
        );
        assert_eq!(eval("States.StringToJson($.s)").ok(), Some(json!({"k": 1})));
        assert_eq!(eval("States.JsonToString($.obj)").ok(), Some(json!("{\"k\":[1]}")));
        assert_eq!(eval("States.Array($.a, 1, 'b')").ok(), Some(json!(["x", 1, "b"])));
        assert_eq!(eval("States.MathAdd($.n, -5)").ok(), Some(json!(-3)));
        assert_eq!(eval("States.ArrayLength(States.Array(1, 2, 3))").ok(), Some(json!(3)));
        assert_eq!(eval("States.Format('it\\'s {}', $.a)").ok(), Some(json!("it's x")));
        let id = eval("States.UUID()")
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        assert_eq!(id.len(), 36);
    }

    #[test]
    fn misuse_is_an_intrinsic_failure() {
        for bad in [
            "States.Format('{} {}', $.a)",
            "States.MathAdd('a', 1)",
            "States.Nope()",
            "States.StringToJson($.a)",
        ] {
            let err = eval(bad).expect_err(bad);
            assert_eq!(err.error, "States.IntrinsicFailure", "{bad}");
        }
    }
}
