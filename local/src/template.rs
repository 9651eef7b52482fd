//! What template.yaml gives each of the six functions, read from the template itself so that a
//! local run is held to the deployed limits: a handler that outlives its function's `Timeout`
//! fails as Lambda fails it (`Sandbox.Timedout`), whatever the Task's own `TimeoutSeconds`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_norway::Value;

/// The template the stack is deployed from.
pub const TEMPLATE: &str = include_str!("../../template.yaml");

/// One function's settings: its own, else the template's `Globals.Function`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSettings {
    pub timeout_seconds: u64,
    pub memory_mb: u64,
    /// Environment variables given as plain strings (those given by `!Ref` or `!Sub` are the
    /// stack's parameters, named here by their keys only).
    pub environment: Vec<String>,
}

impl FunctionSettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds)
    }
}

/// Lambda's defaults where the template says nothing (3 s, 128 MB).
const DEFAULT_TIMEOUT: u64 = 3;
const DEFAULT_MEMORY: u64 = 128;

/// Every `AWS::Serverless::Function` of `template`, by logical id.
pub fn functions(template: &str) -> Result<HashMap<String, FunctionSettings>, String> {
    let doc: Value = serde_norway::from_str(template).map_err(|e| format!("template.yaml: {e}"))?;
    let globals = &doc["Globals"]["Function"];
    let resources = doc["Resources"].as_mapping().ok_or("template.yaml has no Resources")?;
    let mut out = HashMap::new();
    for (id, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let id = id.as_str().ok_or("template.yaml: a resource id is not a string")?;
        let props = &resource["Properties"];
        let number = |key: &str, default: u64| -> Result<u64, String> {
            match props[key].as_u64().or_else(|| globals[key].as_u64()) {
                Some(n) => Ok(n),
                None if props[key].is_null() && globals[key].is_null() => Ok(default),
                None => Err(format!("template.yaml: {id}'s {key} is not a number")),
            }
        };
        let mut environment: Vec<String> = [globals, props]
            .iter()
            .filter_map(|m| m["Environment"]["Variables"].as_mapping())
            .flat_map(|vars| vars.keys().filter_map(|k| k.as_str().map(str::to_string)))
            .collect();
        environment.sort();
        environment.dedup();
        out.insert(
            id.to_string(),
            FunctionSettings {
                timeout_seconds: number("Timeout", DEFAULT_TIMEOUT)?,
                memory_mb: number("MemorySize", DEFAULT_MEMORY)?,
                environment,
            },
        );
    }
    Ok(out)
}

/// Function `id`'s environment variables (its own over `Globals.Function`'s) with their values:
/// plain values as they are, `!Ref` and `!Sub` resolved from `stack` (a parameter's or a
/// resource's name, `Name.Attribute` for `!GetAtt`, to its value). A variable naming what
/// `stack` does not have is left out, and returned with what it needs.
pub fn environment(
    template: &str,
    id: &str,
    stack: &HashMap<String, String>,
) -> Result<(BTreeMap<String, String>, Vec<String>), String> {
    let doc: Value = serde_norway::from_str(template).map_err(|e| format!("template.yaml: {e}"))?;
    let scopes = [&doc["Globals"]["Function"], &doc["Resources"][id]["Properties"]];
    let (mut set, mut missing) = (BTreeMap::new(), Vec::new());
    for vars in scopes.iter().filter_map(|m| m["Environment"]["Variables"].as_mapping()) {
        for (key, value) in vars {
            let Some(key) = key.as_str() else { continue };
            match resolve(value, stack) {
                Ok(v) => {
                    set.insert(key.to_string(), v);
                }
                Err(needs) => {
                    set.remove(key);
                    missing.push(format!("{key} (needs {needs})"));
                }
            }
        }
    }
    Ok((set, missing))
}

/// A plain, `!Ref` or `!Sub` value, or what it needs that `stack` does not have.
fn resolve(value: &Value, stack: &HashMap<String, String>) -> Result<String, String> {
    let lookup = |name: &str| stack.get(name).cloned().ok_or_else(|| name.to_string());
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Tagged(t) if t.tag == "Ref" => lookup(t.value.as_str().unwrap_or_default()),
        Value::Tagged(t) if t.tag == "Sub" => {
            let mut text = t.value.as_str().ok_or("a !Sub with variables")?.to_string();
            let mut needs = Vec::new();
            while let Some(open) = text.find("${") {
                let Some(close) = text[open..].find('}') else { break };
                let name = text[open + 2..open + close].to_string();
                let value = lookup(&name).unwrap_or_else(|n| {
                    needs.push(n);
                    String::new()
                });
                text.replace_range(open..open + close + 1, &value);
            }
            if needs.is_empty() {
                Ok(text)
            } else {
                Err(needs.join(", "))
            }
        }
        other => Err(format!("a value Rebound does not resolve ({other:?})")),
    }
}

/// The deployed template's settings for a `${...FunctionArn}` substitution
/// (`DnsFailoverFunctionArn` → `DnsFailoverFunction`).
pub fn settings_for(substitution: &str) -> Result<FunctionSettings, String> {
    let id = substitution.strip_suffix("Arn").unwrap_or(substitution);
    functions(TEMPLATE)?
        .remove(id)
        .ok_or_else(|| format!("template.yaml has no function {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value as Json;

    #[test]
    fn own_settings_win_over_globals_and_lambda_defaults_fill_the_rest() {
        let template = "
Globals:
  Function:
    Timeout: 60
    Environment:
      Variables:
        RUST_LOG: info
Resources:
  A:
    Type: AWS::Serverless::Function
    Properties:
      Timeout: 120
      Environment:
        Variables:
          PLAN_LOCATION: !Ref PlanLocation
  B:
    Type: AWS::Serverless::Function
  T:
    Type: AWS::DynamoDB::Table
";
        let f = functions(template).expect("read");
        assert_eq!(f.len(), 2);
        assert_eq!(f["A"].timeout_seconds, 120);
        assert_eq!(f["A"].memory_mb, 128);
        assert_eq!(f["A"].environment, ["PLAN_LOCATION", "RUST_LOG"]);
        assert_eq!(f["B"].timeout_seconds, 60);
    }

    #[test]
    fn the_environment_is_resolved_from_the_stack_and_what_it_lacks_is_named() {
        let stack: HashMap<String, String> = [
            ("RecoveryRegion", "us-west-2"),
            ("PrimaryRegion", "us-east-1"),
            ("RecoveryTable", "rebound-orders"),
            ("ReportBucket", "reports"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (set, missing) = environment(TEMPLATE, "RecoveryNotifierFunction", &stack).expect("read");
        assert_eq!(set["RECOVERY_REGION"], "us-west-2");
        assert_eq!(set["REPORT_BUCKET"], "reports");
        assert_eq!(set["RUST_LOG"], "info");
        assert!(missing.is_empty(), "{missing:?}");
        let (set, missing) = environment(TEMPLATE, "RecoveryValidatorFunction", &stack).expect("read");
        assert!(!set.contains_key("ACTING_ROLES"));
        assert_eq!(missing.len(), 1, "{missing:?}");
        assert!(
            missing[0].starts_with("ACTING_ROLES (needs DnsFailoverFunctionRole.Arn"),
            "{missing:?}"
        );
    }

    /// Every state, branches and Map processors included.
    fn tasks(states: &Json, out: &mut Vec<(String, Json)>) {
        for (name, state) in states.as_object().expect("States") {
            if state["Type"] == "Task" {
                out.push((name.clone(), state.clone()));
            }
            for branch in state["Branches"].as_array().into_iter().flatten() {
                tasks(&branch["States"], out);
            }
            if let Some(p) = state.get("ItemProcessor") {
                tasks(&p["States"], out);
            }
        }
    }

    /// Step Functions starts a Task's clock before Lambda starts the function's (a cold start
    /// comes between): a Task that gave up first would leave its function running on while the
    /// execution moved on. Each Task waits at least this much longer than its function may run,
    /// so that the function's own timeout ends it (`Sandbox.Timedout`, retried as idempotent).
    const COLD_START_MARGIN: u64 = 10;

    #[test]
    fn every_task_outlasts_its_function_so_lambda_times_out_first() {
        let definition: Json =
            serde_json::from_str(include_str!("../../statemachine/recovery.asl.json")).expect("json");
        let mut all = Vec::new();
        tasks(&definition["States"], &mut all);
        let mut checked = 0;
        for (name, task) in all {
            let resource = task["Resource"].as_str().unwrap_or_default();
            let function = task["Parameters"]["FunctionName"].as_str().unwrap_or(resource);
            let Some(sub) = function.strip_prefix("${").and_then(|f| f.strip_suffix('}')) else {
                continue; // a plan's custom action: its timeout is the plan's
            };
            let settings = settings_for(sub).expect("the function is in template.yaml");
            if resource.ends_with(".waitForTaskToken") {
                continue; // the wait for the answer, not the function, takes the Task's time
            }
            let seconds = task["TimeoutSeconds"].as_u64().expect("a fixed TimeoutSeconds");
            assert!(
                seconds >= settings.timeout_seconds + COLD_START_MARGIN,
                "{name}: TimeoutSeconds {seconds} does not outlast {sub}'s Timeout {} by {COLD_START_MARGIN} s",
                settings.timeout_seconds
            );
            let retried: Vec<&str> = task["Retry"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|r| r["ErrorEquals"].as_array().into_iter().flatten())
                .filter_map(Json::as_str)
                .collect();
            assert!(
                retried.contains(&"Sandbox.Timedout"),
                "{name} does not retry Sandbox.Timedout"
            );
            checked += 1;
        }
        assert!(checked >= 12, "{checked} tasks checked");
    }
}
