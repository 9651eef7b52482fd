//! An Amazon States Language interpreter: runs a Step Functions definition in-process, calling
//! Task resources through handlers registered by ARN. The definition is typed
//! (`definition.rs`); the data flow (`dataflow.rs`), Retry and Catch (`retry.rs`), Task states
//! (`task.rs`) and the timeline (`timeline.rs`) each have their file; this one walks the states.

pub mod choice;
mod dataflow;
mod definition;
mod fields;
mod flow;
mod halt;
pub mod intrinsics;
pub mod jsonata;
mod map;
mod names;
pub mod path;
mod retry;
pub mod scope;
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
use serde_json::{json, Map, Value};

use dataflow::{assignments, jsonata_field, parameters, parameters_or};
use definition::{Language, Machine, State};
use halt::{first_failure, Halt, HALTED};
use jsonata::States;
use scope::Scope;
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

/// The state an execution is in, with its name, query language, context object and variables.
struct Frame<'a> {
    name: &'a str,
    state: &'a State,
    language: Language,
    scope: Scope,
    /// Microseconds this state spent waiting on handlers and sleeps.
    external_us: AtomicU64,
    /// Set when a sibling branch or iteration failed: this one starts no new state.
    halt: &'a Arc<Halt>,
}

/// What a state leaves: its output, the next state (None at the end), the variables it assigns.
struct Step {
    output: Value,
    next: Option<String>,
    assigned: Map<String, Value>,
}

impl Step {
    fn new(output: Value, next: Option<String>) -> Self {
        Step {
            output,
            next,
            assigned: Map::new(),
        }
    }

    fn assigning(mut self, assigned: Map<String, Value>) -> Self {
        self.assigned = assigned;
        self
    }
}

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
        self.check_resources(&machine, "")?;
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
                self.run_states(&machine, input, Scope::new(context.clone()), Arc::default()),
            )
            .await
            .unwrap_or_else(|_| Err(StateError::new("States.Timeout", "the execution timed out"))),
            None => {
                self.run_states(&machine, input, Scope::new(context), Arc::default())
                    .await
            }
        };
        self.recorder.with(|t| t.total_ms = ms(start.elapsed()));
        result
    }

    fn run_states<'a>(
        &'a self,
        machine: &'a Machine,
        input: Value,
        scope: Scope,
        halt: Arc<Halt>,
    ) -> Pin<Box<dyn Future<Output = Result<Value, StateError>> + Send + 'a>> {
        Box::pin(async move {
            let mut name = machine.start_at.clone();
            let mut input = input;
            let mut scope = scope;
            loop {
                if halt.is_set() {
                    return Err(StateError::new(
                        HALTED,
                        format!("stopped before {name}: another branch failed"),
                    ));
                }
                let event_id = self.recorder.entered()?;
                let state = machine
                    .states
                    .get(&name)
                    .ok_or_else(|| StateError::runtime(format!("no state named {name}")))?;
                self.recorder.within_payload_limit(&format!("{name}'s input"), &input)?;
                let mut ctx = scope.context.clone();
                // RetryCount only where a state retries (Task, Parallel, Map): a Pass's context has
                // none on Step Functions.
                ctx["State"] = json!({ "Name": name, "EnteredTime": Utc::now().to_rfc3339() });
                let entered = Instant::now();
                let entered_at = Utc::now();
                let frame = Frame {
                    name: &name,
                    state,
                    language: state.language(machine.query_language),
                    scope: scope.with_context(ctx),
                    external_us: AtomicU64::new(0),
                    halt: &halt,
                };
                let outcome = self
                    .run_state(&frame, input)
                    .await
                    .map_err(|e| in_state(e, &name, event_id));
                let kind = state.kind();
                if !matches!(state, State::Parallel(_) | State::Map(_)) {
                    let own = us(entered.elapsed()).saturating_sub(frame.external_us.load(Ordering::Relaxed));
                    self.recorder.with(|t| t.interpreter_us += own);
                }
                let summary = match &outcome {
                    Ok(step) => summarise(kind, step.next.as_deref()),
                    Err(e) => format!("{}: {}", e.error, truncate(&e.cause, 160)),
                };
                self.recorder
                    .record(&name, kind, entered_at, entered, summary, self.verbose);
                let Step { output, next, assigned } = outcome?;
                self.recorder
                    .within_payload_limit(&format!("{name}'s output"), &output)?;
                scope = scope.assigned(assigned, &name)?;
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

    /// Runs one state; returns its output, the next state's name (None at the end) and what
    /// it assigns.
    async fn run_state(&self, f: &Frame<'_>, raw: Value) -> Result<Step, StateError> {
        match f.state {
            State::Task(s) => self.with_recovery(f, raw, &s.work).await,
            State::Parallel(s) => self.with_recovery(f, raw, &s.work).await,
            State::Map(s) => self.with_recovery(f, raw, &s.work).await,
            State::Wait(s) => {
                let (seconds, step) = flow::wait(f, s, raw)?;
                self.sleep_unless_halted(seconds, f).await;
                Ok(step)
            }
            other => flow::run(f, other, raw),
        }
    }

    /// A Task, Parallel or Map state: its work under Retry, then ResultSelector, ResultPath and
    /// OutputPath (JSONPath) or Output (JSONata), and Assign; or the Catch that takes its error.
    async fn with_recovery(&self, f: &Frame<'_>, raw: Value, work: &definition::Work) -> Result<Step, StateError> {
        let scope = &f.scope;
        let next = work.flow.next(f.name)?;
        let assign = work.io.assign.as_ref();
        match (self.with_retries(f, &raw, &work.recovery.retry).await, f.language) {
            (Ok(result), Language::JsonPath) => {
                let selected = match &work.results.result_selector {
                    Some(sel) => parameters(sel, &result, scope)?,
                    None => result,
                };
                let assigned = assignments(assign, f.language, &selected, States::default(), scope)?;
                let combined = dataflow::place(&work.results.result_path, raw, selected)?;
                Ok(Step::new(dataflow::output(&work.io, combined, scope)?, next).assigning(assigned))
            }
            (Ok(result), Language::Jsonata) => {
                let states = States {
                    input: Some(&raw),
                    result: Some(&result),
                    ..States::default()
                };
                let output = jsonata_field(work.io.output.as_ref(), "Output", &result, states, scope)?;
                let assigned = assignments(assign, f.language, &result, states, scope)?;
                Ok(Step::new(output, next).assigning(assigned))
            }
            (Err(error), language) => {
                let Some(catcher) = retry::catcher(&work.recovery.catch, &error) else {
                    return Err(error);
                };
                let error_output = error.to_json();
                let states = States {
                    input: Some(&raw),
                    error_output: Some(&error_output),
                    ..States::default()
                };
                let assigned = assignments(catcher.assign.as_ref(), language, &error_output, states, scope)?;
                let output = match language {
                    Language::JsonPath => dataflow::place(&catcher.result_path, raw.clone(), error_output.clone())?,
                    Language::Jsonata => {
                        jsonata_field(catcher.output.as_ref(), "Output", &error_output, states, scope)?
                    }
                };
                Ok(Step::new(output, Some(catcher.next.clone())).assigning(assigned))
            }
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
            let mut context = f.scope.context.clone();
            context["State"]["RetryCount"] = json!(retry_count);
            let error = match self.body(f, raw, &f.scope.with_context(context)).await {
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
    async fn body(&self, f: &Frame<'_>, raw: &Value, scope: &Scope) -> Result<Value, StateError> {
        let states = States {
            input: Some(raw),
            ..States::default()
        };
        match f.state {
            State::Task(s) => {
                let effective = match f.language {
                    Language::JsonPath => dataflow::input(&s.work.io, raw, scope)?,
                    Language::Jsonata => raw.clone(),
                };
                self.task(s, f.language, effective, scope, &f.external_us).await
            }
            State::Parallel(s) => {
                self.recorder.history(2)?;
                let input = match f.language {
                    Language::JsonPath => {
                        let effective = dataflow::input(&s.work.io, raw, scope)?;
                        parameters_or(s.work.results.parameters.as_ref(), effective, scope)?
                    }
                    Language::Jsonata => {
                        jsonata_field(s.work.results.arguments.as_ref(), "Arguments", raw, states, scope)?
                    }
                };
                let base = scope.with_context(base_context(&scope.context));
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
                let (inputs, concurrency) = map::iterations(f.name, s, f.language, raw, scope)?;
                // Each iteration is two events in the history (MapIterationStarted, and
                // MapIterationSucceeded or MapIterationFailed) beside its states' own.
                self.recorder.history(2 * inputs.len() as u64)?;
                let base = scope.with_context(base_context(&scope.context));
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

/// A failure of the state's own evaluation (a path not found, a JSONata expression that gives
/// nothing) as Step Functions words its cause: "An error occurred while executing the state
/// 'X' (entered at the event id #N). ..."; a task's, a branch's or a Fail state's error stands.
fn in_state(error: StateError, name: &str, event_id: u64) -> StateError {
    const PREFIX: &str = "An error occurred while executing the state";
    let own = matches!(error.error.as_str(), "States.Runtime" | jsonata::QUERY_EVALUATION_ERROR);
    if !own || error.cause.starts_with(PREFIX) {
        return error;
    }
    StateError::new(
        error.error,
        format!(
            "{PREFIX} '{name}' (entered at the event id #{event_id}). {}",
            error.cause
        ),
    )
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
