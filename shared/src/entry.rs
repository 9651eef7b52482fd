//! What every handler runs inside, in Lambda and in `rebound run`: the payload is parsed here,
//! not by the runtime, and a panic is caught, so a caller only ever sees a `Rebound.*` error.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use lambda_runtime::Diagnostic;
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{json, Value};

use serde::Serialize;

use crate::context::{ServiceStage, StepAction};
use crate::control::{
    action_gate, cancelled_message, gate, paused_message, skipped_result, step_key, Gate, ACTION_PREFIX,
};
use crate::error::{ErrorKind, CANCELLED, PAUSED};
use crate::results::ResultStore;
use crate::source::PlanSource;

/// An invocation's body as the Lambda runtime hands it over (`LambdaEvent<Payload>`): JSON of
/// any depth, or why it is not JSON. lambda_runtime parses the body before any handler runs and
/// answers a body it cannot parse with its own error, named after a Rust type; taken here, the
/// failure is answered as `Rebound.InvalidInput` like any other bad input.
#[derive(Debug)]
pub enum Payload {
    Json(Box<RawValue>),
    Unusable(String),
}

impl<'de> Deserialize<'de> for Payload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Box::<RawValue>::deserialize(deserializer) {
            Ok(raw) => Payload::Json(raw),
            Err(e) => Payload::Unusable(e.to_string()),
        })
    }
}

/// The longest run of input an error message quotes: a value that fails a check is named, not
/// copied whole into the execution history, the logs and the notification.
pub const QUOTE_LIMIT: usize = 200;

/// `message` with every quoted span (between backticks or double quotes) longer than
/// [`QUOTE_LIMIT`] bytes cut short, saying how much was left out.
pub fn brief(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(4 * QUOTE_LIMIT));
    let mut rest = message;
    while let Some(open) = rest.find(['`', '"']) {
        let quote = &rest[open..open + 1];
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let close = rest.find(quote).unwrap_or(rest.len());
        let quoted = &rest[..close];
        if quoted.len() > QUOTE_LIMIT {
            let mut cut = QUOTE_LIMIT;
            while !quoted.is_char_boundary(cut) {
                cut -= 1;
            }
            out.push_str(&quoted[..cut]);
            out.push_str(&format!("…({} more bytes)", quoted.len() - cut));
        } else {
            out.push_str(quoted);
        }
        if close == rest.len() {
            return out; // an unclosed quote: what follows it is the input
        }
        out.push_str(quote);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

fn briefly(d: Diagnostic) -> Diagnostic {
    Diagnostic {
        error_message: brief(&d.error_message),
        ..d
    }
}

/// Parses the payload and runs `handler` on it. A body that is not JSON, or JSON serde_json
/// cannot take (nesting deeper than 128 levels), is `Rebound.InvalidInput`; a panic is
/// `Rebound.StepFailed` naming it.
pub async fn invoke<F, Fut, T, E>(payload: &Payload, handler: F) -> Result<T, Diagnostic>
where
    F: FnOnce(Value) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Into<Diagnostic>,
{
    let unusable = |e: &dyn std::fmt::Display| Diagnostic {
        error_type: ErrorKind::InvalidInput.error_name().into(),
        error_message: format!("the input is not usable JSON: {e}"),
    };
    let payload: Value = match payload {
        Payload::Json(raw) => serde_json::from_str(raw.get()).map_err(|e| unusable(&e))?,
        Payload::Unusable(why) => return Err(briefly(unusable(why))),
    };
    guarded(handler(payload)).await
}

/// [`invoke`] for a function (named as in the template) that receives a recovery context: see
/// [`run_step`].
pub async fn invoke_step<F, Fut, T, E>(
    payload: &Payload,
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
    invoke(payload, |payload| run_step(payload, io, function, handler)).await
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
    io.plans.resolve(&mut payload).await.map_err(|e| briefly(e.into()))?;
    io.results
        .expand(&mut payload, crate::results::needed_by(function))
        .await
        .map_err(|e| briefly(e.into()))?;
    let request = request_identity(&payload);
    if let Some(skipped) = steered(&mut payload, io, function).await? {
        return io
            .results
            .compact(&request, skipped)
            .await
            .map_err(|e| briefly(e.into()));
    }
    let output = guarded(handler(payload)).await?;
    let output = serde_json::to_value(output).map_err(|e| Diagnostic {
        error_type: ErrorKind::StepFailed.error_name().into(),
        error_message: format!("the result is not JSON: {e}"),
    })?;
    io.results
        .compact(&request, output)
        .await
        .map_err(|e| briefly(e.into()))
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

/// What operators asked of this recovery ([`crate::control`]), read before a step acts: a
/// pause or a cancel is this invocation's error, a skip its result (no handler runs); `None`
/// lets the handler run. Dry runs and readiness, and runs without a recovery table, are never
/// steered.
async fn steered(payload: &mut Value, io: &StepIo, function: &str) -> Result<Option<Value>, Diagnostic> {
    let context = &payload["context"];
    let custom_action = payload["action"] == "gate";
    let action = serde_json::from_value::<StepAction>(payload["action"].clone()).ok();
    let key = if custom_action {
        match payload["step"].as_str().filter(|k| k.starts_with(ACTION_PREFIX)) {
            Some(key) => Some(key.to_string()),
            None => {
                return Err(Diagnostic {
                    error_type: ErrorKind::InvalidInput.error_name().into(),
                    error_message: format!(
                        "a gate names the custom action it opens as `action:NAME`, not {}",
                        payload["step"]
                    ),
                })
            }
        }
    } else {
        let stage = serde_json::from_value::<ServiceStage>(payload["stage"].clone()).unwrap_or_default();
        action
            .and_then(|action| step_key(function, action, stage))
            .map(str::to_string)
    };
    let open = custom_action.then(|| json!({ "open": true }));
    let (Some(table), Some(key), false) = (io.results.table.as_ref(), key, context["dryRun"] == true) else {
        return Ok(open);
    };
    let (Some(application), Some(recovery_id)) = (context["application"].as_str(), context["recoveryId"].as_str())
    else {
        return Ok(open);
    };
    // Each run of a recovery (a retry is another) has its own control row.
    let recovery_id = context["run"].as_str().unwrap_or(recovery_id);
    let (control, _) = table
        .control(application, recovery_id)
        .await
        .map_err(|e| briefly(crate::error::diagnostic(e.kind, &e)))?;
    let refuse = |gate: Gate| match gate {
        Gate::Paused(mark) => Diagnostic {
            error_type: PAUSED.into(),
            error_message: paused_message(recovery_id, &mark),
        },
        Gate::Cancel(mark) => Diagnostic {
            error_type: CANCELLED.into(),
            error_message: cancelled_message(recovery_id, &mark),
        },
        Gate::Go | Gate::Skip(_) => Diagnostic {
            error_type: ErrorKind::StepFailed.error_name().into(),
            error_message: "the gate neither opened nor refused".into(),
        },
    };
    if custom_action {
        return action_gate(&control, &key, payload["started"] == true)
            .map(Some)
            .map_err(refuse);
    }
    match gate(&control, &key, action.unwrap_or(StepAction::Status)) {
        Gate::Go => {
            if function == "database-failover" {
                if let Some(mark) = crate::control::ungraceful(&mut payload["context"], &control) {
                    tracing::warn!(by = %mark.by, reason = %mark.reason, "switchover switched to ungraceful");
                }
            }
            Ok(None)
        }
        Gate::Skip(mark) => {
            tracing::warn!(step = key, by = %mark.by, reason = %mark.reason, "skipped by an operator");
            Ok(Some(skipped_result(context, &key, &mark, chrono::Utc::now())))
        }
        refused => Err(refuse(refused)),
    }
}

/// What [`ResultStore::compact`] needs of a request: its action, application and recovery id.
fn request_identity(payload: &Value) -> Value {
    let context = &payload["context"];
    serde_json::json!({
        "action": payload["action"],
        "stage": payload["stage"],
        "context": { "application": context["application"], "recoveryId": context["recoveryId"] },
    })
}

/// Runs a handler's future; a panic becomes `Rebound.StepFailed`, never the runtime's own error.
/// Error messages quote input [`brief`]ly.
pub async fn guarded<Fut, T, E>(work: Fut) -> Result<T, Diagnostic>
where
    Fut: Future<Output = Result<T, E>>,
    E: Into<Diagnostic>,
{
    match AssertUnwindSafe(work).catch_unwind().await {
        Ok(result) => result.map_err(|e| briefly(e.into())),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            tracing::error!(panic = %what, "handler panicked");
            Err(briefly(Diagnostic {
                error_type: ErrorKind::StepFailed.error_name().into(),
                error_message: format!("internal error (a bug in Rebound, please report it): {what}"),
            }))
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
        let raw = Payload::Json(serde_json::from_str(&deep).expect("a raw value takes any depth"));
        let err = invoke(&raw, echo).await.expect_err("too deep");
        assert_eq!(err.error_type, "Rebound.InvalidInput");
        assert!(err.error_message.contains("recursion limit"), "{}", err.error_message);

        let raw = Payload::Json(serde_json::from_str("{\"a\":1}").expect("json"));
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

    /// Read as lambda_runtime reads a body: a body that is not JSON reaches the handler's entry
    /// as `Unusable`, and is answered `Rebound.InvalidInput`.
    #[tokio::test]
    async fn a_body_that_is_not_json_is_invalid_input_not_the_runtimes_error() {
        for body in ["", "not json", "{", "[1,", "\"open", "{\"a\":}", "\u{feff}{}", "NaN"] {
            let jd = &mut serde_json::Deserializer::from_str(body);
            let payload: Payload = serde_path_to_error::deserialize(jd).expect("a payload is always read");
            assert!(matches!(payload, Payload::Unusable(_)), "{body:?}: {payload:?}");
            let err = invoke(&payload, echo).await.expect_err("not JSON");
            assert_eq!(err.error_type, "Rebound.InvalidInput", "{body:?}");
            assert!(
                err.error_message.starts_with("the input is not usable JSON"),
                "{}",
                err.error_message
            );
        }
    }

    #[test]
    fn messages_quote_at_most_a_few_hundred_bytes_of_input() {
        let long = "x".repeat(100_000);
        let message = format!("unknown variant `{long}`, expected one of `a`, `b`");
        let short = brief(&message);
        assert!(short.len() < 3 * QUOTE_LIMIT, "{} bytes", short.len());
        assert!(
            short.ends_with("(99800 more bytes)`, expected one of `a`, `b`"),
            "{short}"
        );
        let message = format!("invalid type: string \"{long}\", expected a number");
        assert!(brief(&message).ends_with("more bytes)\", expected a number"));
        // Unclosed: what follows the quote is cut.
        assert!(brief(&format!("bad `{long}")).len() < 2 * QUOTE_LIMIT);
        // Short quotes and multi-byte text are kept whole.
        assert_eq!(brief("a `b` \"c\" ü"), "a `b` \"c\" ü");
        let wide = "é".repeat(300);
        assert!(brief(&format!("`{wide}`")).starts_with('`'));
    }

    #[tokio::test]
    async fn a_handler_error_quoting_a_huge_value_is_cut_short() {
        let raw = Payload::Json(serde_json::from_str("{\"a\":1}").expect("json"));
        let huge = "y".repeat(50_000);
        let err = invoke(&raw, |_| async move {
            Err::<Value, Diagnostic>(Diagnostic {
                error_type: "Rebound.InvalidInput".into(),
                error_message: format!("the plan's `{huge}` is not a region"),
            })
        })
        .await
        .expect_err("fails");
        assert!(err.error_message.len() < 2 * QUOTE_LIMIT, "{}", err.error_message.len());
        assert!(err.error_message.ends_with("` is not a region"));
    }
}
