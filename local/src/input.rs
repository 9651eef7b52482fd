//! An execution's input as `rebound run` and `rebound start` take it: a JSON file, or JSON text.

use serde_json::Value;

pub fn read_input(text: &str) -> Result<Value, String> {
    let body = if std::path::Path::new(text).is_file() {
        std::fs::read_to_string(text).map_err(|e| format!("{text}: {e}"))?
    } else {
        text.to_string()
    };
    serde_json::from_str(&body).map_err(|e| format!("input is neither a JSON file nor JSON: {e}"))
}
