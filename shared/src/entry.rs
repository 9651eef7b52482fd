//! What every handler runs inside, in Lambda and in `rebound run`: the payload is parsed here,
//! not by the runtime, and a panic is caught, so a caller only ever sees a `Rebound.*` error.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use lambda_runtime::Diagnostic;
use serde_json::value::RawValue;
use serde_json::Value;

use serde::Serialize;

use crate::error::ErrorKind;
use crate::results::ResultStore;
use crate::source::PlanSource;

/// Parses the raw payload and runs `handler` on it. Unusable JSON (serde_json refuses nesting
/// deeper than 128 levels) is `Rebound.InvalidInput`; a panic is `Rebound.StepFailed` naming it.
pub async fn invoke<F, Fut, T, E>(raw: &RawValue, handler: F) -> Result<T, Diagnostic>
where
    F: FnOnce(Value) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Into<Diagnostic>,
{
    let payload: Value = serde_json::from_str(raw.get()).map_err(|e| Diagnostic {
        error_type: ErrorKind::InvalidInput.error_name().into(),
        error_message: format!("the input is not usable JSON: {e}"),
    })?;
    guarded(handler(payload)).await
}

/// [`invoke`] for a function (named as in the template) that receives a recovery context: see
/// [`run_step`].
pub async fn invoke_step<F, Fut, T, E>(
    raw: &RawValue,
    io: &StepIo,
    function: &str,
    handler: F,
) -> Result<Value, Diagnostic>
where
    F: FnOnce(Value) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    T: Serialize,
    E: Into<Diagnostic>,
{
    invoke(raw, |payload| run_step(payload, io, function, handler)).await
}

/// Runs a step function on a parsed payload, in Lambda and in `rebound run` alike: the context
/// gets back the plan it carries by reference and the results the function reads that it carries
/// as summaries; a panic is `Rebound.StepFailed`; a result too large for the state is kept in the
/// recovery table, the state getting its summary.
pub async fn run_step<F, Fut, T, E>(
    mut payload: Value,
    io: &StepIo,
    function: &str,
    handler: F,
) -> Result<Value, Diagnostic>
where
    F: FnOnce(Value) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    T: Serialize,
    E: Into<Diagnostic>,
{
    io.plans.resolve(&mut payload).await.map_err(Diagnostic::from)?;
    io.results
        .expand(&mut payload, crate::results::needed_by(function))
        .await
        .map_err(Diagnostic::from)?;
    let request = request_identity(&payload);
    let output = guarded(handler(payload)).await?;
    let output = serde_json::to_value(output).map_err(|e| Diagnostic {
        error_type: ErrorKind::StepFailed.error_name().into(),
        error_message: format!("the result is not JSON: {e}"),
    })?;
    io.results.compact(&request, output).await.map_err(Diagnostic::from)
}

/// Where a step function reads the plan a context names, and keeps results too large for the
/// state.
pub struct StepIo {
    pub plans: PlanSource,
    pub results: ResultStore,
}

impl StepIo {
    /// Clients where the plans and the recovery table (`RECOVERY_TABLE`) live.
    pub fn from_env(config: &aws_config::SdkConfig) -> Self {
        StepIo {
            plans: PlanSource::new(config),
            results: ResultStore {
                table: std::env::var("RECOVERY_TABLE")
                    .ok()
                    .filter(|t| !t.is_empty())
                    .map(|name| crate::table::RecoveryTable::new(config, name)),
            },
        }
    }
}

/// What [`ResultStore::compact`] needs of a request: its action, application and recovery id.
fn request_identity(payload: &Value) -> Value {
    let context = &payload["context"];
    serde_json::json!({
        "action": payload["action"],
        "context": { "application": context["application"], "recoveryId": context["recoveryId"] },
    })
}

/// Runs a handler's future; a panic becomes `Rebound.StepFailed`, never the runtime's own error.
pub async fn guarded<Fut, T, E>(work: Fut) -> Result<T, Diagnostic>
where
    Fut: Future<Output = Result<T, E>>,
    E: Into<Diagnostic>,
{
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(result) => result.map_err(Into::into),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            tracing::error!(panic = %what, "handler panicked");
            Err(Diagnostic {
                error_type: ErrorKind::StepFailed.error_name().into(),
                error_message: format!("internal error (a bug in Rebound, please report it): {what}"),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo(v: Value) -> Result<Value, Diagnostic> {
        Ok(v)
    }

    /// The runtime reads the body as lambda_runtime's deserializer does: serde_path_to_error over
    /// serde_json. As a raw value, a payload of any depth reaches `invoke`.
    #[test]
    fn the_runtime_hands_over_any_depth_as_a_raw_value() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(5000), "]".repeat(5000));
        let jd = &mut serde_json::Deserializer::from_str(&deep);
        let raw: Box<RawValue> = serde_path_to_error::deserialize(jd).expect("any depth");
        assert_eq!(raw.get().len(), deep.len());
        let jd = &mut serde_json::Deserializer::from_str(&deep);
        assert!(
            serde_path_to_error::deserialize::<_, Value>(jd).is_err(),
            "as a Value it fails in the runtime"
        );
    }

    #[tokio::test]
    async fn deep_json_is_invalid_input_and_a_panic_is_step_failed() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let raw: Box<RawValue> = serde_json::from_str(&deep).expect("a raw value takes any depth");
        let err = invoke(&raw, echo).await.expect_err("too deep");
        assert_eq!(err.error_type, "Rebound.InvalidInput");
        assert!(err.error_message.contains("recursion limit"), "{}", err.error_message);

        let raw: Box<RawValue> = serde_json::from_str("{\"a\":1}").expect("json");
        assert_eq!(invoke(&raw, echo).await.expect("fine"), serde_json::json!({"a": 1}));

        let err = invoke(&raw, |_| async {
            let limit: Vec<u8> = Vec::new();
            // An out-of-bounds index, standing for any bug.
            Ok::<u8, Diagnostic>(limit[std::hint::black_box(3)])
        })
        .await
        .expect_err("panicked");
        assert_eq!(err.error_type, "Rebound.StepFailed");
        assert!(
            err.error_message.contains("index out of bounds"),
            "{}",
            err.error_message
        );
    }
}
