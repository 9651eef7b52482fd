//! Answers to `.waitForTaskToken` tasks in local runs: `rebound approve` and `rebound reject`
//! write an answer file named after the task token; the waiting execution picks it up.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rebound_moto::private;
use serde_json::{json, Value};

use crate::asl::StateError;

/// Where answers go by default: `~/.cache/rebound/approvals` (or under `REBOUND_CACHE`).
pub fn default_dir() -> PathBuf {
    rebound_moto::cache_dir().join("approvals")
}

fn answer_path(dir: &Path, token: &str) -> Result<PathBuf, String> {
    if token.is_empty() || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(format!(
            "'{token}' is not a local task token (letters, digits, '-' and '_')"
        ));
    }
    Ok(dir.join(format!("{token}.json")))
}

/// Records an approval (`Ok(by)`) or a rejection (`Err(cause)`) for the task token.
pub fn answer(dir: &Path, token: &str, decision: Result<&str, &str>) -> Result<PathBuf, String> {
    let path = answer_path(dir, token)?;
    private::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let body = match decision {
        Ok(by) => json!({ "approved": true, "by": by, "at": chrono::Utc::now().to_rfc3339() }),
        Err(cause) => json!({ "approved": false, "error": rebound_shared::error::APPROVAL_REJECTED, "cause": cause }),
    };
    private::write(&path, body.to_string()).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Whether a local run waits on this token (else it is a deployed execution's).
pub fn is_waiting(dir: &Path, token: &str) -> bool {
    answer_path(dir, token).is_ok_and(|p| p.with_extension("waiting").exists())
}

/// Removes the waiting mark when the wait ends, however it ends.
struct Waiting(PathBuf);

impl Drop for Waiting {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Waits until the token is answered: the answer as the task's output, or the rejection's error
/// (`Rebound.ApprovalRejected`) as its failure. The Task's timeout bounds the wait.
pub async fn wait(dir: &Path, token: &str) -> Result<Value, StateError> {
    let path = answer_path(dir, token).map_err(StateError::runtime)?;
    let mark = path.with_extension("waiting");
    private::create_dir_all(dir).map_err(|e| StateError::runtime(format!("{}: {e}", dir.display())))?;
    private::write(&mark, b"").map_err(|e| StateError::runtime(format!("{}: {e}", mark.display())))?;
    let _waiting = Waiting(mark);
    eprintln!(
        "waiting for approval: rebound approve --token {token}   (or: rebound reject --token {token} --cause WHY)"
    );
    loop {
        if let Ok(text) = std::fs::read_to_string(&path) {
            let _ = std::fs::remove_file(&path);
            let answer: Value =
                serde_json::from_str(&text).map_err(|e| StateError::runtime(format!("{}: {e}", path.display())))?;
            // A rejection is a task failure (SendTaskFailure); any other answer is the task's
            // output (SendTaskSuccess), which the state machine's `Approved?` judges, as deployed.
            if let Some(error) = answer.get("error").and_then(Value::as_str) {
                let cause = answer["cause"].as_str().unwrap_or("rejected").to_string();
                return Err(StateError::new(error, cause));
            }
            return Ok(answer);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn an_answer_is_its_owners_alone() {
        let dir = tempfile::tempdir().expect("dir");
        let folder = dir.path().join("approvals");
        let path = super::answer(&folder, "tok-1", Ok("jane")).expect("answered");
        let mode = |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&folder), 0o700);
    }
}
