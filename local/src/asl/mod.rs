//! An Amazon States Language interpreter: runs a Step Functions definition in-process, calling
//! Task resources through handlers registered by ARN. The definition is typed
//! (`definition.rs`); the data flow (`dataflow.rs`), Retry and Catch (`retry.rs`), Task states
//! (`task.rs`) and the timeline (`timeline.rs`) each have their file; this one walks the states.

pub mod choice;
mod dataflow;
mod definition;
mod fields;
mod halt;
pub mod intrinsics;
mod names;
pub mod path;
mod retry;
mod task;
mod timeline;
mod wait;

pub use dataflow::MAX_PAYLOAD_BYTES;
pub use names::{check_execution_name, unique_execution_name};
pub use timeline::{Timeline, Transition, MAX_HISTORY_EVENTS};

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};

use dataflow::{parameters, parameters_or};
use definition::{Machine, State};
use halt::{first_failure, Halt, HALTED};
use timeline::{ms, summarise, truncate, us, Recorder};

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

/// Invokes a function no handler is bound for (a `lambda:invoke` of a plan's custom action),
/// by name or ARN, with its payload.
pub type Invoker = Arc<dyn Fn(String, Value) -> TaskFuture + Send + Sync>;

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
    /// Calls a `lambda:invoke`d function with no handler in `tasks`; none: such a task fails.
    pub invoker: Option<Invoker>,
    recorder: Recorder,
}

/// Checks a definition's shape as Step Functions does on creation: `States.InvalidDefinition`.
pub fn validate(definition: &Value) -> Result<(), StateError> {
    Machine::parse(definition).map(|_| ())
}

/// The state an execution is in, with its name and context object.
struct Frame<'a> {
    name: &'a str,
    state: &'a State,
    context: Value,
    /// Microseconds this state spent waiting on handlers and sleeps.
    external_us: AtomicU64,
    /// Set when a sibling branch or iteration failed: this one starts no new state.
    halt: &'a Arc<Halt>,
}

type Step = (Value, Option<String>);

impl Interpreter {
    pub fn new(tasks: HashMap<String, TaskHandler>, substitutions: HashMap<String, String>) -> Self {
        Interpreter {
            tasks,
            substitutions,
            time_scale: 1.0,
            approval: Approval::Refuse("no approver: run with --auto-approve".into()),
            verbose: false,
            invoker: None,
            recorder: Recorder::default(),
        }
    }

    /// Values no state's input or output, nor a task's, may contain (see [`Recorder::watch`]).
    pub fn watch(&self, values: Vec<String>) {
        self.recorder.watch(values);
    }

    /// What ran so far, in the order states were entered.
    pub fn timeline(&self) -> Timeline {
        self.recorder.snapshot()
    }

    /// Runs a whole definition; the error is the execution's failure.
    pub async fn execute(&self, definition: &Value, input: Value, execution_name: &str) -> Result<Value, StateError> {
        let machine = Machine::parse(definition)?;
        check_execution_name(execution_name)?;
        let start = Instant::now();
        let now = Utc::now();
        self.recorder.start(start);
        self.recorder.within_payload_limit("the execution input", &input)?;
        let execution_id = format!("arn:aws:states:local:000000000000:execution:rebound-local:{execution_name}");
        // The context object's fields as Step Functions gives them (developer guide, "Accessing
        // execution data from the Context object"): an execution here is never redriven.
        let context = json!({
            "Execution": {
                "Id": execution_id,
                "Name": execution_name,
                "Input": input,
                "StartTime": now.to_rfc3339(),
                "RoleArn": "arn:aws:iam::000000000000:role/rebound-local",
                "RedriveCount": 0,
            },
            "StateMachine": { "Id": "arn:aws:states:local:000000000000:stateMachine:rebound-local", "Name": "rebound-local" },
        });
        let result = match machine.timeout_seconds {
            Some(seconds) => tokio::time::timeout(
                Duration::from_secs(seconds),
                self.run_states(&machine, input, context, Arc::default()),
            )
            .await
            .unwrap_or_else(|_| Err(StateError::new("States.Timeout", "the execution timed out"))),
            None => self.run_states(&machine, input, context, Arc::default()).await,
        };
        self.recorder.with(|t| t.total_ms = ms(start.elapsed()));
        result
    }

    fn run_states<'a>(
        &'a self,
        machine: &'a Machine,
        input: Value,
        context: Value,
        halt: Arc<Halt>,
    ) -> Pin<Box<dyn Future<Output = Result<Value, StateError>> + Send + 'a>> {
        Box::pin(async move {
            let mut name = machine.start_at.clone();
            let mut input = input;
            loop {
                if halt.is_set() {
                    return Err(StateError::new(
                        HALTED,
                        format!("stopped before {name}: another branch failed"),
                    ));
                }
                self.recorder.history(2)?;
                let state = machine
                    .states
                    .get(&name)
                    .ok_or_else(|| StateError::runtime(format!("no state named {name}")))?;
                self.recorder.within_payload_limit(&format!("{name}'s input"), &input)?;
                let mut ctx = context.clone();
                ctx["State"] = json!({ "Name": name, "EnteredTime": Utc::now().to_rfc3339(), "RetryCount": 0 });
                let entered = Instant::now();
                let entered_at = Utc::now();
                let frame = Frame {
                    name: &name,
                    state,
                    context: ctx,
                    external_us: AtomicU64::new(0),
                    halt: &halt,
                };
                let outcome = self.run_state(&frame, input).await;
                let kind = state.kind();
                if !matches!(state, State::Parallel(_) | State::Map(_)) {
                    let own = us(entered.elapsed()).saturating_sub(frame.external_us.load(Ordering::Relaxed));
                    self.recorder.with(|t| t.interpreter_us += own);
                }
                let summary = match &outcome {
                    Ok((_, next)) => summarise(kind, next.as_deref()),
                    Err(e) => format!("{}: {}", e.error, truncate(&e.cause, 160)),
                };
                self.recorder
                    .record(&name, kind, entered_at, entered, summary, self.verbose);
                let (output, next) = outcome?;
                self.recorder
                    .within_payload_limit(&format!("{name}'s output"), &output)?;
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

    /// Runs one state; returns its output and the next state's name (None at the end).
    async fn run_state(&self, f: &Frame<'_>, raw: Value) -> Result<Step, StateError> {
        let ctx = &f.context;
        match f.state {
            State::Pass(s) => {
                let effective = dataflow::input(&s.io, &raw, ctx)?;
                let result = match (&s.result, &s.parameters) {
                    (Some(r), _) => r.clone(),
                    (None, Some(p)) => parameters(p, &effective, ctx)?,
                    (None, None) => effective,
                };
                let combined = dataflow::place(&s.result_path, raw, result)?;
                Ok((dataflow::output(&s.io, combined, ctx)?, s.flow.next(f.name)?))
            }
            State::Succeed(io) => {
                let effective = dataflow::input(io, &raw, ctx)?;
                Ok((dataflow::output(io, effective, ctx)?, None))
            }
            State::Fail(s) => {
                let field = |fixed: &Option<String>, from: &Option<String>| -> Result<String, StateError> {
                    if let Some(p) = from {
                        let v = if intrinsics::is_intrinsic(p) {
                            intrinsics::evaluate(p, &raw, ctx)?
                        } else {
                            path::read(p, &raw, ctx)?
                        };
                        return Ok(v.as_str().map_or_else(|| v.to_string(), str::to_string));
                    }
                    Ok(fixed.clone().unwrap_or_default())
                };
                Err(StateError::new(
                    field(&s.error, &s.error_path)?,
                    field(&s.cause, &s.cause_path)?,
                ))
            }
            State::Choice(s) => {
                let effective = dataflow::input(&s.io, &raw, ctx)?;
                for rule in &s.choices {
                    if choice::matches(&rule.condition, &effective, ctx)? {
                        return Ok((dataflow::output(&s.io, effective, ctx)?, Some(rule.next.clone())));
                    }
                }
                match &s.default {
                    Some(d) => Ok((dataflow::output(&s.io, effective, ctx)?, Some(d.clone()))),
                    None => Err(StateError::new(
                        "States.NoChoiceMatched",
                        format!("no Choice rule in {} matched and there is no Default", f.name),
                    )),
                }
            }
            State::Wait(s) => {
                let effective = dataflow::input(&s.io, &raw, ctx)?;
                let seconds = wait::seconds(f.name, s, &effective, ctx)?;
                self.sleep_unless_halted(seconds, f).await;
                Ok((dataflow::output(&s.io, effective, ctx)?, s.flow.next(f.name)?))
            }
            State::Task(s) => self.with_recovery(f, raw, &s.work).await,
            State::Parallel(s) => self.with_recovery(f, raw, &s.work).await,
            State::Map(s) => self.with_recovery(f, raw, &s.work).await,
        }
    }

    /// A Task, Parallel or Map state: its work under Retry, then ResultSelector, ResultPath and
    /// OutputPath, or the Catch that takes its error.
    async fn with_recovery(&self, f: &Frame<'_>, raw: Value, work: &definition::Work) -> Result<Step, StateError> {
        match self.with_retries(f, &raw, &work.recovery.retry).await {
            Ok(result) => {
                let selected = match &work.results.result_selector {
                    Some(sel) => parameters(sel, &result, &f.context)?,
                    None => result,
                };
                let combined = dataflow::place(&work.results.result_path, raw, selected)?;
                Ok((
                    dataflow::output(&work.io, combined, &f.context)?,
                    work.flow.next(f.name)?,
                ))
            }
            Err(error) => match retry::caught(&work.recovery.catch, raw, &error)? {
                Some((output, next)) => Ok((output, Some(next))),
                None => Err(error),
            },
        }
    }

    /// Runs a Task, Parallel or Map body under its Retry policy.
    async fn with_retries(
        &self,
        f: &Frame<'_>,
        raw: &Value,
        retriers: &[definition::Retrier],
    ) -> Result<Value, StateError> {
        let mut attempts = vec![0u64; retriers.len()];
        let mut retry_count = 0;
        loop {
            let mut context = f.context.clone();
            context["State"]["RetryCount"] = json!(retry_count);
            let error = match self.body(f, raw, &context).await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            let Some((index, delay)) = retry::next_attempt(retriers, &attempts, &error) else {
                return Err(error);
            };
            attempts[index] += 1;
            retry_count += 1;
            if self.verbose {
                eprintln!(
                    "{:>10} {:<26} retry {} of {} in {delay:.2}s after {}",
                    "", f.name, attempts[index], retriers[index].max_attempts, error.error
                );
            }
            self.sleep(delay, &f.external_us).await;
        }
    }

    /// One attempt at a Task, Parallel or Map state's work: Parameters applied, result raw.
    async fn body(&self, f: &Frame<'_>, raw: &Value, context: &Value) -> Result<Value, StateError> {
        match f.state {
            State::Task(s) => {
                let effective = dataflow::input(&s.work.io, raw, context)?;
                self.task(s, effective, context, &f.external_us).await
            }
            State::Parallel(s) => {
                self.recorder.history(2)?;
                let effective = dataflow::input(&s.work.io, raw, context)?;
                let input = parameters_or(s.work.results.parameters.as_ref(), effective, context)?;
                let base = base_context(context);
                let halt = Halt::child(f.halt);
                let runs = s
                    .branches
                    .iter()
                    .map(|b| self.halting(self.run_states(b, input.clone(), base.clone(), halt.clone()), &halt));
                let results = futures_util::future::join_all(runs).await;
                first_failure(results).map(Value::Array)
            }
            State::Map(s) => {
                self.recorder.history(2)?;
                let effective = dataflow::input(&s.work.io, raw, context)?;
                let items_path = s.items_path.as_deref().unwrap_or("$");
                let items = path::read(items_path, &effective, context)?;
                let items = items
                    .as_array()
                    .ok_or_else(|| StateError::runtime(format!("ItemsPath {items_path} is not an array")))?
                    .clone();
                let selector = s.item_selector.as_ref().or(s.work.results.parameters.as_ref());
                // MaxConcurrencyPath must give a non-negative integer; Step Functions fails the
                // execution on anything else.
                let most = match &s.max_concurrency_path {
                    Some(p) => {
                        let value = path::read(p, &effective, context)?;
                        value.as_u64().ok_or_else(|| {
                            StateError::runtime(format!(
                                "{}: the MaxConcurrencyPath {p} gives {value}, which is not a non-negative integer",
                                f.name
                            ))
                        })?
                    }
                    None => s.max_concurrency,
                };
                let concurrency = match most {
                    0 => items.len().max(1),
                    n => usize::try_from(n).unwrap_or(1),
                };
                let base = base_context(context);
                let mut inputs = Vec::new();
                for (index, item) in items.into_iter().enumerate() {
                    let mut ctx = context.clone();
                    ctx["Map"] = json!({ "Item": { "Index": index, "Value": item } });
                    inputs.push(match selector {
                        Some(sel) => parameters(sel, &effective, &ctx)?,
                        None => item,
                    });
                }
                // Each iteration is two events in the history (MapIterationStarted, and
                // MapIterationSucceeded or MapIterationFailed) beside its states' own.
                self.recorder.history(2 * inputs.len() as u64)?;
                let halt = Halt::child(f.halt);
                let runs: Vec<_> = inputs
                    .into_iter()
                    .map(|i| self.halting(self.run_states(&s.item_processor, i, base.clone(), halt.clone()), &halt))
                    .collect();
                let results: Vec<_> = stream::iter(runs).buffered(concurrency).collect().await;
                first_failure(results).map(Value::Array)
            }
            other => Err(StateError::runtime(format!(
                "{} is a {}, with no work to retry",
                f.name,
                other.kind()
            ))),
        }
    }

    /// A branch's run that stops its siblings when it fails.
    async fn halting(
        &self,
        run: impl Future<Output = Result<Value, StateError>>,
        halt: &Arc<Halt>,
    ) -> Result<Value, StateError> {
        let result = run.await;
        if result.is_err() {
            halt.stop();
        }
        result
    }

    /// A Wait state's sleep, cut short when a sibling branch fails.
    async fn sleep_unless_halted(&self, seconds: f64, f: &Frame<'_>) {
        let halted = async {
            while !f.halt.is_set() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::select! {
            () = self.sleep(seconds, &f.external_us) => {}
            () = halted => {}
        }
    }

    async fn sleep(&self, seconds: f64, external_us: &AtomicU64) {
        let scaled = seconds * self.time_scale;
        if scaled <= 0.0 || !scaled.is_finite() {
            return;
        }
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs_f64(scaled)).await;
        external_us.fetch_add(us(started.elapsed()), Ordering::Relaxed);
        self.recorder.with(|t| t.wait_ms += ms(started.elapsed()));
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
