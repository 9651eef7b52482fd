//! Step results in the state stay small. A result over [`INLINE_BYTES`] (a step over thousands
//! of records, databases or services) is kept whole in the recovery table, and the state
//! carries its summary: every scalar field (status, passed, RPO, the approval flags the state
//! machine's choices read), the counts, and the first failures. A function reading a context
//! gets back first the whole of each result it reads ([`ResultStore::expand`], [`needed_by`]),
//! so no step works from a summary; the others pass through as they are.

use chrono::Utc;
use serde_json::{json, Map, Value};

use crate::context::ServiceStage;
use crate::error::{AwsError, ErrorKind};
use crate::table::RecoveryTable;

/// The largest result the state carries whole.
pub const INLINE_BYTES: usize = 4 * 1024;

/// How many failed actions or failing checks a summary names.
pub const SUMMARY_ITEMS: usize = 10;

/// Where results sit in the state, by their key in the table.
const RESULT_PATHS: [(&str, &str); 10] = [
    ("dns", "/results/dns"),
    ("database", "/results/database"),
    ("capacity", "/results/capacity"),
    ("services", "/results/services"),
    ("validation", "/results/validation"),
    ("notification", "/results/notification"),
    ("readiness", "/readiness"),
    ("dryRun.dns", "/dryRuns/dns"),
    ("dryRun.database", "/dryRuns/database"),
    ("dryRun.services", "/dryRuns/services"),
];

#[derive(Debug, thiserror::Error)]
pub enum ResultStoreError {
    #[error("the recovery table: {0}")]
    Table(#[from] AwsError),
    #[error("{0} is kept in the recovery table, but the table holds no whole result for it")]
    Missing(String),
    #[error("{0} is kept in the recovery table, but this function has no recovery table (RECOVERY_TABLE)")]
    NoTable(String),
    #[error("a kept result is not JSON: {0}")]
    NotJson(String),
}

impl ResultStoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ResultStoreError::Table(e) => e.kind,
            _ => ErrorKind::StepFailed,
        }
    }
}

crate::impl_diagnostic!(ResultStoreError);

/// Keeps large results in the recovery table; without one every result stays in the state.
pub struct ResultStore {
    pub table: Option<RecoveryTable>,
}

/// The results a function reads, by their key: a step polls its own, the validator also takes
/// the databases' measured RPO and, to check readiness, the steps' dry runs; the notifier
/// reports them all.
pub fn needed_by(function: &str) -> &'static [&'static str] {
    match function {
        "dns-failover" => &["dns"],
        "database-failover" => &["database"],
        "service-restoration" => &["services", "capacity"],
        "recovery-validator" => &[
            "validation",
            "database",
            // Whether an operator skipped them (`rebound skip`): their checks are not awaited.
            "capacity",
            "services",
            "dryRun.dns",
            "dryRun.database",
            "dryRun.services",
        ],
        "recovery-notifier" => &[
            "dns",
            "database",
            "capacity",
            "services",
            "validation",
            "notification",
            "readiness",
        ],
        _ => &[],
    }
}

impl ResultStore {
    /// Puts back each of `keys` that the request's context carries as a summary.
    pub async fn expand(&self, payload: &mut Value, keys: &[&str]) -> Result<(), ResultStoreError> {
        let Some(context) = payload.get_mut("context") else {
            return Ok(());
        };
        let application = context["application"].as_str().unwrap_or_default().to_string();
        let recovery_id = context["recoveryId"].as_str().unwrap_or_default().to_string();
        for (key, path) in RESULT_PATHS.into_iter().filter(|(key, _)| keys.contains(key)) {
            let Some(slot) = context.pointer_mut(path) else {
                continue;
            };
            if slot.get("keptInTable").is_none() {
                continue;
            }
            let table = self
                .table
                .as_ref()
                .ok_or_else(|| ResultStoreError::NoTable(path.into()))?;
            let text = table
                .get_result(&application, &recovery_id, key)
                .await?
                .ok_or_else(|| ResultStoreError::Missing(path.into()))?;
            *slot = serde_json::from_str(&text).map_err(|e| ResultStoreError::NotJson(e.to_string()))?;
        }
        Ok(())
    }

    /// The result a function returns, as the state should carry it: itself when small (or when
    /// there is no table), else its summary, the whole kept in the table. `request` is what the
    /// function was given, for the application and recovery id.
    pub async fn compact(&self, request: &Value, result: Value) -> Result<Value, ResultStoreError> {
        let Some(table) = &self.table else {
            return Ok(result);
        };
        let text = result.to_string();
        if text.len() <= INLINE_BYTES {
            return Ok(result);
        }
        let Some(key) = key_of(&result) else {
            return Ok(result);
        };
        // A step's readiness dry run is kept apart from the result its start will give.
        let key = match (request["action"].as_str(), key) {
            (Some("readiness"), "dns") => "dryRun.dns",
            (Some("readiness"), "database") => "dryRun.database",
            (Some("readiness"), "services") => "dryRun.services",
            // The capacity added beside the failover is the same step's other result.
            (_, "services") => serde_json::from_value::<ServiceStage>(request["stage"].clone())
                .unwrap_or_default()
                .result_key(),
            (_, key) => key,
        };
        let context = &request["context"];
        let application = context["application"].as_str().unwrap_or_default();
        let recovery_id = context["recoveryId"].as_str().unwrap_or_default();
        table
            .put_result(application, recovery_id, key, &text, Utc::now())
            .await?;
        let mut summary = summarise(result);
        summary["keptInTable"] = json!({
            "table": table.name,
            "sk": format!("result#{recovery_id}#{key}#"),
            "bytes": text.len(),
        });
        Ok(summary)
    }
}

/// Which result a function's output is, from its own fields.
fn key_of(result: &Value) -> Option<&'static str> {
    let step = result["step"].as_str().or_else(|| result["result"]["step"].as_str());
    match step {
        Some("dnsFailover") => Some("dns"),
        Some("databaseFailover") => Some("database"),
        Some("serviceRestoration") => Some("services"),
        Some("validation") => Some("validation"),
        Some("notification") => Some("notification"),
        _ if result.get("ready").is_some() && result.get("checks").is_some() => Some("readiness"),
        _ => None,
    }
}

/// A result with its long lists replaced by counts and their first failures.
pub fn summarise(result: Value) -> Value {
    let Value::Object(map) = result else {
        return result;
    };
    let mut out = Map::new();
    for (key, value) in map {
        match (key.as_str(), value) {
            ("actions", Value::Array(actions)) => {
                let failed: Vec<Value> = actions
                    .iter()
                    .filter(|a| a["status"] == "failed")
                    .take(SUMMARY_ITEMS)
                    .cloned()
                    .collect();
                let count = |status: &str| actions.iter().filter(|a| a["status"] == status).count();
                out.insert(
                    "actionCounts".into(),
                    json!({
                        "total": actions.len(),
                        "done": count("done"),
                        "pending": count("pending"),
                        "planned": count("planned"),
                        "failed": count("failed"),
                        "alreadyDone": actions.iter().filter(|a| a["alreadyDone"] == true).count(),
                    }),
                );
                out.insert("actions".into(), Value::Array(failed));
            }
            ("checks", Value::Array(checks)) => {
                // Failed and unknown checks both need someone's eyes; they are counted apart.
                let failing: Vec<Value> = checks
                    .iter()
                    .filter(|c| c["passed"] == false && c["skipped"] != true)
                    .take(SUMMARY_ITEMS)
                    .cloned()
                    .collect();
                let unknown = checks.iter().filter(|c| c["unknown"] == true).count();
                let skipped = checks.iter().filter(|c| c["skipped"] == true).count();
                out.insert(
                    "checkCounts".into(),
                    json!({
                        "total": checks.len(),
                        "failing": checks.iter().filter(|c| c["passed"] == false).count() - unknown - skipped,
                        "unknown": unknown,
                        "skipped": skipped,
                    }),
                );
                out.insert("checks".into(), Value::Array(failing));
            }
            (_, Value::Object(inner)) if key == "result" => {
                out.insert(key, summarise(Value::Object(inner)));
            }
            ("summary", Value::String(text)) if text.len() > 1000 => {
                let cut: String = text.chars().take(1000).collect();
                out.insert(key, Value::String(format!("{cut}...")));
            }
            (_, other) => {
                out.insert(key, other);
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_keeps_what_the_state_machine_reads_and_counts_the_rest() {
        let actions: Vec<Value> = (0..1000)
            .map(|i| {
                json!({"resource": format!("r{i}"), "operation": "UPSERT", "alreadyDone": i < 10,
                       "status": if i % 100 == 1 { "failed" } else { "done" }, "durationMs": 1})
            })
            .collect();
        let result = json!({"step": "dnsFailover", "status": "completed", "durationMs": 5, "actions": actions});
        assert_eq!(key_of(&result), Some("dns"));
        let summary = summarise(result);
        assert_eq!(summary["status"], "completed");
        assert_eq!(summary["actionCounts"]["total"], 1000);
        assert_eq!(summary["actionCounts"]["failed"], 10);
        assert_eq!(summary["actionCounts"]["alreadyDone"], 10);
        assert_eq!(summary["actions"].as_array().map(Vec::len), Some(10));
        assert!(summary.to_string().len() < 2 * 1024);

        let checks: Vec<Value> = (0..2000)
            .map(|i| json!({"name": format!("c{i}"), "passed": i % 2 == 0, "unknown": i % 4 == 1, "detail": "x"}))
            .collect();
        let report = json!({"result": {"step": "validation", "status": "inProgress", "actions": []},
                            "passed": false, "consecutiveSuccesses": 0, "checks": checks});
        assert_eq!(key_of(&report), Some("validation"));
        let summary = summarise(report);
        assert_eq!(summary["passed"], false, "what the choice reads stays");
        assert_eq!(summary["checkCounts"]["failing"], 500);
        assert_eq!(summary["checkCounts"]["unknown"], 500);
        assert_eq!(summary["checks"].as_array().map(Vec::len), Some(SUMMARY_ITEMS));
        assert_eq!(summary["result"]["actionCounts"]["total"], 0);

        let readiness = json!({"ready": true, "checks": [], "dataLossApproval": true, "summary": "y".repeat(5000)});
        assert_eq!(key_of(&readiness), Some("readiness"));
        let summary = summarise(readiness);
        assert_eq!(summary["dataLossApproval"], true);
        assert!(summary["summary"].as_str().is_some_and(|s| s.len() < 1100));
    }
}
