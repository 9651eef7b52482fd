//! An Amazon States Language interpreter: runs a Step Functions definition in-process, calling
//! Task resources through handlers registered by ARN, with Step Functions' data flow
//! (InputPath → Parameters → ResultSelector → ResultPath → OutputPath), Retry and Catch.

pub mod choice;
pub mod intrinsics;
mod names;
pub mod path;

pub use names::{check_execution_name, unique_execution_name};

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// An error as Step Functions reports it: a name for `ErrorEquals`, and a cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause")]
    pub cause: String,
}

impl StateError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        StateError {
            error: error.into(),
            cause: cause.into(),
        }
    }

    pub fn runtime(cause: impl Into<String>) -> Self {
        StateError::new("States.Runtime", cause)
    }

    fn to_json(&self) -> Value {
        json!({ "Error": self.error, "Cause": self.cause })
    }
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.cause)
    }
}

pub type TaskFuture = Pin<Box<dyn Future<Output = Result<Value, StateError>> + Send>>;
/// A Task resource: takes the task's input, returns its result or a Step Functions error.
pub type TaskHandler = Arc<dyn Fn(Value) -> TaskFuture + Send + Sync>;

/// How `.waitForTaskToken` tasks are answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Approval {
    /// Answer with task success at once.
    Auto,
    /// Answer with task failure (`Rebound.ApprovalRejected`) and this cause.
    Refuse(String),
    /// Wait for `rebound approve` or `rebound reject` to answer in this folder.
    Await(std::path::PathBuf),
}

/// One state's run, for the timeline.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    pub state: String,
    pub state_type: String,
    pub started_at: DateTime<Utc>,
    /// Milliseconds since the execution started.
    pub offset_ms: u64,
    pub duration_ms: u64,
    pub summary: String,
}

/// What an execution did, besides its output.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    pub transitions: Vec<Transition>,
    /// Time spent in Task handlers, and in Wait states and retry back-off, summed over
    /// parallel branches.
    pub task_ms: u64,
    pub wait_ms: u64,
    pub total_ms: u64,
    /// The interpreter's own time in microseconds: every state's time minus what its handler
    /// and its sleeps took (Parallel and Map count through their children).
    pub interpreter_us: u64,
    /// The largest payload (a state's input or output, a task's input or result) in bytes,
    /// and what it was.
    pub largest_payload_bytes: usize,
    pub largest_payload: String,
}

impl Timeline {
    pub fn interpreter_ms(&self) -> u64 {
        self.interpreter_us / 1000
    }
}

pub struct Interpreter {
    /// Task handlers by resource ARN (after substitution) or function name.
    pub tasks: HashMap<String, TaskHandler>,
    /// `${Name}` → value, as SAM's DefinitionSubstitutions.
    pub substitutions: HashMap<String, String>,
    /// Multiplies every Wait and retry interval; 0 does not sleep at all.
    pub time_scale: f64,
    pub approval: Approval,
    /// Print each transition to stderr as it happens.
    pub verbose: bool,
    timeline: Mutex<Timeline>,
    started: Mutex<Option<(Instant, DateTime<Utc>)>>,
    /// History events written so far (see `MAX_HISTORY_EVENTS`).
    events: AtomicU64,
}

/// Step Functions ends a Standard execution at 25,000 history events. The interpreter counts
/// the events AWS would write: two per state (entered, exited), three per task attempt
/// (scheduled, started, and succeeded or failed), two for a Parallel or Map state's own start
/// and end, and the execution's start.
pub const MAX_HISTORY_EVENTS: u64 = 25_000;

/// Step Functions' quota on a state's input and output, a task's result and an execution's
/// input: 256 KiB, measured as UTF-8 bytes of the JSON text.
pub const MAX_PAYLOAD_BYTES: usize = 262_144;

/// Fails with `States.DataLimitExceeded` when `value` is above the payload quota.
fn payload_bytes(what: &str, value: &Value) -> Result<usize, StateError> {
    let bytes = serde_json::to_vec(value).map(|v| v.len()).unwrap_or(usize::MAX);
    if bytes > MAX_PAYLOAD_BYTES {
        return Err(StateError::new(
            "States.DataLimitExceeded",
            format!("{what} is {bytes} bytes, above Step Functions' limit of {MAX_PAYLOAD_BYTES} bytes (256 KiB)"),
        ));
    }
    Ok(bytes)
}

/// The input, context and name an executing state works with.
struct Frame<'a> {
    name: &'a str,
    state: &'a Value,
    context: Value,
    /// Microseconds this state spent waiting on handlers and sleeps.
    external_us: AtomicU64,
}

impl Interpreter {
    pub fn new(tasks: HashMap<String, TaskHandler>, substitutions: HashMap<String, String>) -> Self {
        Interpreter {
            tasks,
            substitutions,
            time_scale: 1.0,
            approval: Approval::Refuse("no approver: run with --auto-approve".into()),
            verbose: false,
            timeline: Mutex::new(Timeline::default()),
            started: Mutex::new(None),
            events: AtomicU64::new(0),
        }
    }

    /// What ran so far, in the order states were entered.
    pub fn timeline(&self) -> Timeline {
        let mut timeline = self.timeline.lock().map(|t| t.clone()).unwrap_or_default();
        timeline.transitions.sort_by_key(|t| t.offset_ms);
        timeline
    }

    /// Runs a whole definition; the error is the execution's failure.
    pub async fn execute(&self, definition: &Value, input: Value, execution_name: &str) -> Result<Value, StateError> {
        validate(definition)?;
        check_execution_name(execution_name)?;
        let start = Instant::now();
        let now = Utc::now();
        if let Ok(mut s) = self.started.lock() {
            *s = Some((start, now));
        }
        if let Ok(mut t) = self.timeline.lock() {
            *t = Timeline::default();
        }
        self.within_payload_limit("the execution input", &input)?;
        self.events.store(1, Ordering::Relaxed);
        let execution_id = format!("arn:aws:states:local:000000000000:execution:rebound-local:{execution_name}");
        let context = json!({
            "Execution": { "Id": execution_id, "Name": execution_name, "Input": input, "StartTime": now.to_rfc3339() },
            "StateMachine": { "Id": "arn:aws:states:local:000000000000:stateMachine:rebound-local", "Name": "rebound-local" },
        });
        let result = match definition.get("TimeoutSeconds").and_then(Value::as_u64) {
            Some(seconds) => tokio::time::timeout(
                Duration::from_secs(seconds),
                self.run_states(definition, input, context),
            )
            .await
            .unwrap_or_else(|_| Err(StateError::new("States.Timeout", "the execution timed out"))),
            None => self.run_states(definition, input, context).await,
        };
        if let Ok(mut t) = self.timeline.lock() {
            t.total_ms = ms(start.elapsed());
        }
        result
    }

    fn run_states<'a>(
        &'a self,
        machine: &'a Value,
        input: Value,
        context: Value,
    ) -> Pin<Box<dyn Future<Output = Result<Value, StateError>> + Send + 'a>> {
        Box::pin(async move {
            let states = machine
                .get("States")
                .and_then(Value::as_object)
                .ok_or_else(|| StateError::runtime("no States"))?;
            let mut name = machine
                .get("StartAt")
                .and_then(Value::as_str)
                .ok_or_else(|| StateError::runtime("no StartAt"))?
                .to_string();
            let mut input = input;
            loop {
                self.history(2)?;
                let state = states
                    .get(&name)
                    .ok_or_else(|| StateError::runtime(format!("no state named {name}")))?;
                self.within_payload_limit(&format!("{name}'s input"), &input)?;
                let mut ctx = context.clone();
                ctx["State"] = json!({ "Name": name, "EnteredTime": Utc::now().to_rfc3339(), "RetryCount": 0 });
                let entered = Instant::now();
                let entered_at = Utc::now();
                let frame = Frame {
                    name: &name,
                    state,
                    context: ctx,
                    external_us: AtomicU64::new(0),
                };
                let outcome = self.run_state(&frame, input).await;
                let kind = state.get("Type").and_then(Value::as_str).unwrap_or("?").to_string();
                if !matches!(kind.as_str(), "Parallel" | "Map") {
                    let own = us(entered.elapsed()).saturating_sub(frame.external_us.load(Ordering::Relaxed));
                    if let Ok(mut t) = self.timeline.lock() {
                        t.interpreter_us += own;
                    }
                }
                let (summary, next) = match &outcome {
                    Ok((output, next)) => (summarise(&kind, output, next.as_deref()), next.clone()),
                    Err(e) => (format!("{}: {}", e.error, truncate(&e.cause, 160)), None),
                };
                self.record(&name, &kind, entered_at, entered, summary);
                let (output, _) = outcome?;
                self.within_payload_limit(&format!("{name}'s output"), &output)?;
                match next {
                    Some(n) => {
                        name = n;
                        input = output;
                    }
                    None => return Ok(output),
                }
            }
        })
    }

    /// Checks a payload against the quota, and keeps the largest seen for the timeline.
    fn within_payload_limit(&self, what: &str, value: &Value) -> Result<(), StateError> {
        let bytes = payload_bytes(what, value)?;
        if let Ok(mut t) = self.timeline.lock() {
            if bytes > t.largest_payload_bytes {
                t.largest_payload_bytes = bytes;
                t.largest_payload = what.to_string();
            }
        }
        Ok(())
    }

    /// Counts `n` more history events; past the quota the execution fails, as in AWS.
    fn history(&self, n: u64) -> Result<(), StateError> {
        if self.events.fetch_add(n, Ordering::Relaxed) + n > MAX_HISTORY_EVENTS {
            return Err(StateError::runtime(format!(
                "the execution exceeded {MAX_HISTORY_EVENTS} history events (Step Functions' quota); a polling loop never ended"
            )));
        }
        Ok(())
    }

    fn record(&self, name: &str, kind: &str, started_at: DateTime<Utc>, entered: Instant, summary: String) {
        let offset = self
            .started
            .lock()
            .ok()
            .and_then(|s| s.map(|(i, _)| ms(entered.duration_since(i))))
            .unwrap_or(0);
        let t = Transition {
            state: name.to_string(),
            state_type: kind.to_string(),
            started_at,
            offset_ms: offset,
            duration_ms: ms(entered.elapsed()),
            summary,
        };
        if self.verbose {
            eprintln!(
                "{:>9.3}s  {:<26} {:<8} {:>7} ms  {}",
                t.offset_ms as f64 / 1000.0,
                t.state,
                t.state_type,
                t.duration_ms,
                t.summary
            );
        }
        if let Ok(mut timeline) = self.timeline.lock() {
            timeline.transitions.push(t);
        }
    }

    /// Runs one state; returns its output and the next state's name (None at the end).
    async fn run_state(&self, f: &Frame<'_>, raw: Value) -> Result<(Value, Option<String>), StateError> {
        let s = f.state;
        let kind = s.get("Type").and_then(Value::as_str).unwrap_or("");
        let next = || -> Result<Option<String>, StateError> {
            if s.get("End").and_then(Value::as_bool) == Some(true) {
                return Ok(None);
            }
            s.get("Next")
                .and_then(Value::as_str)
                .map(|n| Some(n.to_string()))
                .ok_or_else(|| StateError::runtime(format!("{} has neither Next nor End", f.name)))
        };
        match kind {
            "Pass" => {
                let effective = self.input_path(s, &raw, &f.context)?;
                let result = match (s.get("Result"), s.get("Parameters")) {
                    (Some(r), _) => r.clone(),
                    (None, Some(p)) => self.parameters(p, &effective, &f.context)?,
                    (None, None) => effective,
                };
                Ok((self.finish(s, raw, result, &f.context)?, next()?))
            }
            "Succeed" => {
                let effective = self.input_path(s, &raw, &f.context)?;
                Ok((output_path(s, effective, &f.context)?, None))
            }
            "Fail" => {
                let field = |name: &str, path_name: &str| -> Result<String, StateError> {
                    if let Some(p) = s.get(path_name).and_then(Value::as_str) {
                        let v = if intrinsics::is_intrinsic(p) {
                            intrinsics::evaluate(p, &raw, &f.context)?
                        } else {
                            path::read(p, &raw, &f.context)?
                        };
                        return Ok(v.as_str().map_or_else(|| v.to_string(), str::to_string));
                    }
                    Ok(s.get(name).and_then(Value::as_str).unwrap_or_default().to_string())
                };
                Err(StateError::new(
                    field("Error", "ErrorPath")?,
                    field("Cause", "CausePath")?,
                ))
            }
            "Choice" => {
                let effective = self.input_path(s, &raw, &f.context)?;
                let choices = s
                    .get("Choices")
                    .and_then(Value::as_array)
                    .ok_or_else(|| StateError::runtime("Choice without Choices"))?;
                for rule in choices {
                    if choice::matches(rule, &effective, &f.context)? {
                        let n = rule
                            .get("Next")
                            .and_then(Value::as_str)
                            .ok_or_else(|| StateError::runtime("Choice rule without Next"))?;
                        return Ok((output_path(s, effective, &f.context)?, Some(n.to_string())));
                    }
                }
                match s.get("Default").and_then(Value::as_str) {
                    Some(d) => Ok((output_path(s, effective, &f.context)?, Some(d.to_string()))),
                    None => Err(StateError::new(
                        "States.NoChoiceMatched",
                        format!("no Choice rule in {} matched and there is no Default", f.name),
                    )),
                }
            }
            "Wait" => {
                let effective = self.input_path(s, &raw, &f.context)?;
                let seconds = if let Some(n) = s.get("Seconds").and_then(Value::as_f64) {
                    n
                } else if let Some(p) = s.get("SecondsPath").and_then(Value::as_str) {
                    path::read(p, &effective, &f.context)?
                        .as_f64()
                        .ok_or_else(|| StateError::runtime(format!("{p} is not a number of seconds")))?
                } else {
                    let stamp = match (s.get("Timestamp"), s.get("TimestampPath").and_then(Value::as_str)) {
                        (Some(t), _) => t.clone(),
                        (None, Some(p)) => path::read(p, &effective, &f.context)?,
                        _ => {
                            return Err(StateError::runtime(format!(
                                "{} has no Seconds, SecondsPath, Timestamp or TimestampPath",
                                f.name
                            )))
                        }
                    };
                    let at = stamp
                        .as_str()
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        .ok_or_else(|| StateError::runtime(format!("{stamp} is not a timestamp")))?;
                    ((at.with_timezone(&Utc) - Utc::now()).num_milliseconds().max(0) as f64) / 1000.0
                };
                self.sleep(seconds, &f.external_us).await;
                Ok((output_path(s, effective, &f.context)?, next()?))
            }
            "Task" | "Parallel" | "Map" => match self.with_retries(f, &raw).await {
                Ok(result) => {
                    let selected = match s.get("ResultSelector") {
                        Some(sel) => self.parameters(sel, &result, &f.context)?,
                        None => result,
                    };
                    Ok((self.finish(s, raw, selected, &f.context)?, next()?))
                }
                Err(error) => {
                    for catcher in s.get("Catch").and_then(Value::as_array).into_iter().flatten() {
                        if error_matches(catcher, &error) {
                            let target = catcher
                                .get("Next")
                                .and_then(Value::as_str)
                                .ok_or_else(|| StateError::runtime("Catch without Next"))?;
                            let output = match catcher.get("ResultPath") {
                                Some(Value::Null) => raw,
                                Some(Value::String(p)) => path::write(raw, p, error.to_json())?,
                                _ => error.to_json(),
                            };
                            return Ok((output, Some(target.to_string())));
                        }
                    }
                    Err(error)
                }
            },
            other => Err(StateError::runtime(format!("{} has unknown Type '{other}'", f.name))),
        }
    }

    /// ResultPath then OutputPath.
    fn finish(&self, s: &Value, raw: Value, result: Value, context: &Value) -> Result<Value, StateError> {
        let combined = match s.get("ResultPath") {
            Some(Value::Null) => raw,
            Some(Value::String(p)) => path::write(raw, p, result)?,
            _ => result,
        };
        output_path(s, combined, context)
    }

    fn input_path(&self, s: &Value, raw: &Value, context: &Value) -> Result<Value, StateError> {
        match s.get("InputPath") {
            Some(Value::Null) => Ok(json!({})),
            Some(Value::String(p)) => path::read(p, raw, context),
            _ => Ok(raw.clone()),
        }
    }

    /// Evaluates a Parameters / ResultSelector / ItemSelector template.
    pub fn parameters(&self, template: &Value, input: &Value, context: &Value) -> Result<Value, StateError> {
        match template {
            Value::Object(map) => {
                let mut out = Map::new();
                for (k, v) in map {
                    if let Some(key) = k.strip_suffix(".$") {
                        let expr = v.as_str().ok_or_else(|| {
                            StateError::new("States.Runtime", format!("{k} must be a path or intrinsic"))
                        })?;
                        let value = if intrinsics::is_intrinsic(expr) {
                            intrinsics::evaluate(expr, input, context)?
                        } else {
                            path::read(expr, input, context).map_err(|e| StateError::new("States.Runtime", e.cause))?
                        };
                        out.insert(key.to_string(), value);
                    } else {
                        out.insert(k.clone(), self.parameters(v, input, context)?);
                    }
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => items
                .iter()
                .map(|i| self.parameters(i, input, context))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            other => Ok(other.clone()),
        }
    }

    /// Runs a Task, Parallel or Map body under its Retry policy.
    async fn with_retries(&self, f: &Frame<'_>, raw: &Value) -> Result<Value, StateError> {
        let s = f.state;
        let retriers = s.get("Retry").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut attempts = vec![0u64; retriers.len()];
        let mut retry_count = 0;
        loop {
            let mut context = f.context.clone();
            context["State"]["RetryCount"] = json!(retry_count);
            let error = match self.body(f, raw, &context).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let Some(index) = retriers.iter().position(|r| error_matches(r, &error)) else {
                return Err(error);
            };
            let r = &retriers[index];
            let max = r.get("MaxAttempts").and_then(Value::as_u64).unwrap_or(3);
            if attempts[index] >= max {
                return Err(error);
            }
            let interval = r.get("IntervalSeconds").and_then(Value::as_f64).unwrap_or(1.0);
            let backoff = r.get("BackoffRate").and_then(Value::as_f64).unwrap_or(2.0);
            let mut delay = interval * backoff.powi(i32::try_from(attempts[index]).unwrap_or(i32::MAX));
            if let Some(cap) = r.get("MaxDelaySeconds").and_then(Value::as_f64) {
                delay = delay.min(cap);
            }
            if r.get("JitterStrategy").and_then(Value::as_str) == Some("FULL") {
                delay *= rand::random::<f64>();
            }
            attempts[index] += 1;
            retry_count += 1;
            if self.verbose {
                eprintln!(
                    "{:>10} {:<26} retry {} of {max} in {delay:.2}s after {}",
                    "", f.name, attempts[index], error.error
                );
            }
            self.sleep(delay, &f.external_us).await;
        }
    }

    /// One attempt at a Task, Parallel or Map state's work: Parameters applied, result raw.
    async fn body(&self, f: &Frame<'_>, raw: &Value, context: &Value) -> Result<Value, StateError> {
        let s = f.state;
        let effective = self.input_path(s, raw, context)?;
        match s.get("Type").and_then(Value::as_str) {
            Some("Parallel") => {
                self.history(2)?;
                let input = match s.get("Parameters") {
                    Some(p) => self.parameters(p, &effective, context)?,
                    None => effective,
                };
                let branches = s
                    .get("Branches")
                    .and_then(Value::as_array)
                    .ok_or_else(|| StateError::runtime("Parallel without Branches"))?;
                let base = base_context(context);
                let runs = branches.iter().map(|b| self.run_states(b, input.clone(), base.clone()));
                let results = futures_util::future::join_all(runs).await;
                results.into_iter().collect::<Result<Vec<_>, _>>().map(Value::Array)
            }
            Some("Map") => {
                self.history(2)?;
                let items_path = s.get("ItemsPath").and_then(Value::as_str).unwrap_or("$");
                let items = path::read(items_path, &effective, context)?;
                let items = items
                    .as_array()
                    .ok_or_else(|| StateError::runtime(format!("ItemsPath {items_path} is not an array")))?
                    .clone();
                let processor = s
                    .get("ItemProcessor")
                    .or_else(|| s.get("Iterator"))
                    .ok_or_else(|| StateError::runtime("Map without ItemProcessor"))?;
                let selector = s.get("ItemSelector").or_else(|| s.get("Parameters"));
                let concurrency = match s.get("MaxConcurrency").and_then(Value::as_u64).unwrap_or(0) {
                    0 => items.len().max(1),
                    n => usize::try_from(n).unwrap_or(1),
                };
                let base = base_context(context);
                let mut inputs = Vec::new();
                for (index, item) in items.into_iter().enumerate() {
                    let mut ctx = context.clone();
                    ctx["Map"] = json!({ "Item": { "Index": index, "Value": item } });
                    inputs.push(match selector {
                        Some(sel) => self.parameters(sel, &effective, &ctx)?,
                        None => item,
                    });
                }
                let runs: Vec<_> = inputs
                    .into_iter()
                    .map(|i| self.run_states(processor, i, base.clone()))
                    .collect();
                let outputs: Vec<Value> = stream::iter(runs).buffered(concurrency).try_collect().await?;
                Ok(Value::Array(outputs))
            }
            _ => self.task(s, effective, context, &f.external_us).await,
        }
    }

    async fn task(
        &self,
        s: &Value,
        effective: Value,
        context: &Value,
        external_us: &AtomicU64,
    ) -> Result<Value, StateError> {
        let resource = self.substitute(s.get("Resource").and_then(Value::as_str).unwrap_or_default());
        let wait_for_token = resource.ends_with(".waitForTaskToken");
        let mut context = context.clone();
        let token = format!("local-token-{}", uuid::Uuid::new_v4());
        if wait_for_token {
            context["Task"] = json!({ "Token": token });
        }
        self.history(3)?;
        let input = match s.get("Parameters") {
            Some(p) => self.parameters(p, &effective, &context)?,
            None => effective.clone(),
        };
        self.within_payload_limit("the task's input", &input)?;
        let (handler_name, payload, wrap) = if resource.starts_with("arn:aws:states:::lambda:invoke") {
            let function = input
                .get("FunctionName")
                .and_then(Value::as_str)
                .map(|f| self.substitute(f))
                .ok_or_else(|| StateError::runtime("lambda:invoke without FunctionName"))?;
            (
                function,
                input.get("Payload").cloned().unwrap_or(json!({})),
                !wait_for_token,
            )
        } else {
            (resource.clone(), input, false)
        };
        let handler = self
            .tasks
            .get(&handler_name)
            .cloned()
            .ok_or_else(|| StateError::new("States.Runtime", format!("no handler for resource {handler_name}")))?;
        let timeout = match (
            s.get("TimeoutSeconds").and_then(Value::as_u64),
            s.get("TimeoutSecondsPath").and_then(Value::as_str),
        ) {
            (Some(t), _) => Some(t),
            (None, Some(p)) => path::read(p, &effective, &context)?.as_u64(),
            _ => None,
        };
        let started = Instant::now();
        let approval = self.approval.clone();
        // For a task token, the timeout covers the handler and the wait for the answer.
        let call = async move {
            let result = handler(payload).await?;
            if !wait_for_token {
                return Ok(result);
            }
            match approval {
                Approval::Auto => Ok(json!({ "approved": true, "by": "rebound --auto-approve" })),
                Approval::Refuse(cause) => Err(StateError::new(rebound_shared::error::APPROVAL_REJECTED, cause)),
                Approval::Await(dir) => crate::approvals::wait(&dir, &token).await,
            }
        };
        let result = match timeout {
            Some(t) => tokio::time::timeout(Duration::from_secs(t), call)
                .await
                .unwrap_or_else(|_| {
                    Err(StateError::new(
                        "States.Timeout",
                        format!("the task did not finish within {t} s"),
                    ))
                }),
            None => call.await,
        };
        external_us.fetch_add(us(started.elapsed()), Ordering::Relaxed);
        if let Ok(mut timeline) = self.timeline.lock() {
            timeline.task_ms += ms(started.elapsed());
        }
        let result = result?;
        self.within_payload_limit("the task's result", &result)?;
        Ok(if wrap {
            json!({ "ExecutedVersion": "$LATEST", "Payload": result, "StatusCode": 200 })
        } else {
            result
        })
    }

    fn substitute(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (k, v) in &self.substitutions {
            out = out.replace(&format!("${{{k}}}"), v);
        }
        out
    }

    async fn sleep(&self, seconds: f64, external_us: &AtomicU64) {
        let scaled = seconds * self.time_scale;
        if scaled <= 0.0 || !scaled.is_finite() {
            return;
        }
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(scaled)).await;
        external_us.fetch_add(us(started.elapsed()), Ordering::Relaxed);
        if let Ok(mut timeline) = self.timeline.lock() {
            timeline.wait_ms += ms(started.elapsed());
        }
    }
}

/// The context a branch or iteration starts from: the execution's, without this state's.
fn base_context(context: &Value) -> Value {
    let mut base = context.clone();
    if let Some(map) = base.as_object_mut() {
        map.remove("State");
        map.remove("Task");
        map.remove("Map");
    }
    base
}

fn output_path(s: &Value, value: Value, context: &Value) -> Result<Value, StateError> {
    match s.get("OutputPath") {
        Some(Value::Null) => Ok(json!({})),
        Some(Value::String(p)) => path::read(p, &value, context),
        _ => Ok(value),
    }
}

/// Whether a Retry or Catch entry's ErrorEquals covers `error`.
fn error_matches(entry: &Value, error: &StateError) -> bool {
    entry
        .get("ErrorEquals")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|name| {
            // States.Runtime and States.DataLimitExceeded are terminal: no wildcard covers them.
            let terminal = matches!(error.error.as_str(), "States.Runtime" | "States.DataLimitExceeded");
            name == error.error
                || (!terminal && name == "States.ALL")
                || (!terminal && name == "States.TaskFailed" && error.error != "States.Timeout")
        })
}

/// Checks a definition's shape: StartAt and every Next, Default and Catch target exist.
pub fn validate(machine: &Value) -> Result<(), StateError> {
    let bad = |m: String| StateError::new("States.InvalidDefinition", m);
    let states = machine
        .get("States")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no States object".into()))?;
    let start = machine
        .get("StartAt")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("no StartAt".into()))?;
    if !states.contains_key(start) {
        return Err(bad(format!("StartAt names {start}, which is not a state")));
    }
    for (name, s) in states {
        let kind = s.get("Type").and_then(Value::as_str).unwrap_or("");
        if !["Task", "Pass", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map"].contains(&kind) {
            return Err(bad(format!("{name} has Type '{kind}'")));
        }
        let mut targets: Vec<&str> = Vec::new();
        targets.extend(s.get("Next").and_then(Value::as_str));
        targets.extend(s.get("Default").and_then(Value::as_str));
        for list in ["Choices", "Catch"] {
            targets.extend(
                s.get(list)
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c.get("Next").and_then(Value::as_str)),
            );
        }
        for t in targets {
            if !states.contains_key(t) {
                return Err(bad(format!("{name} goes to {t}, which is not a state")));
            }
        }
        let ends = s.get("End").and_then(Value::as_bool) == Some(true);
        if matches!(kind, "Task" | "Pass" | "Wait" | "Parallel" | "Map") && !ends && s.get("Next").is_none() {
            return Err(bad(format!("{name} has neither Next nor End")));
        }
        for branch in s.get("Branches").and_then(Value::as_array).into_iter().flatten() {
            validate(branch)?;
        }
        if let Some(p) = s.get("ItemProcessor").or_else(|| s.get("Iterator")) {
            validate(p)?;
        }
    }
    Ok(())
}

fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn truncate(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(n).collect::<String>())
    }
}

/// A short line about a finished state for the live log.
fn summarise(kind: &str, output: &Value, next: Option<&str>) -> String {
    let arrow = next.map(|n| format!(" → {n}")).unwrap_or_default();
    match kind {
        "Choice" => format!("chose{arrow}"),
        "Task" => {
            let status = output.pointer("/results").map(|_| "").unwrap_or("");
            format!("done{status}{arrow}")
        }
        _ => format!("ok{arrow}"),
    }
}
