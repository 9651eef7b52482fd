//! `rebound start|status|watch|approve|reject|report` against the state machine the template
//! deployed: the console's inputs, the local run's lines, and the report the notifier writes.

pub mod cli;
pub mod history;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use history::{Event, Run};

/// What went wrong talking to Step Functions, named for the operator.
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error("{0}")]
    Usage(String),
    #[error("Step Functions {operation}: {code}: {message}")]
    Aws {
        operation: &'static str,
        code: String,
        message: String,
    },
    #[error("the execution carries no recovery context yet (it has not run the detector)")]
    NoContext,
    #[error("reading the plan or the stored results the context names: {0}")]
    Resolve(String),
    #[error("writing the report: {0}")]
    Write(#[from] std::io::Error),
}

impl OpsError {
    /// 2 for what the operator typed or asked wrongly, 1 for the rest.
    pub fn exit(&self) -> ExitCode {
        match self {
            OpsError::Usage(_) => ExitCode::from(2),
            OpsError::Aws { code, .. }
                if matches!(
                    code.as_str(),
                    "InvalidToken"
                        | "TaskDoesNotExist"
                        | "TaskTimedOut"
                        | "ExecutionDoesNotExist"
                        | "StateMachineDoesNotExist"
                        | "InvalidArn"
                        | "InvalidExecutionInput"
                        | "InvalidName"
                        | "ExecutionAlreadyExists"
                ) =>
            {
                ExitCode::from(2)
            }
            _ => ExitCode::from(1),
        }
    }
}

pub(crate) fn sdk<E>(operation: &'static str) -> impl Fn(aws_sdk_sfn::error::SdkError<E>) -> OpsError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
{
    move |e| {
        let (code, message) = match e.as_service_error() {
            Some(s) => (s.code().unwrap_or("Unknown"), s.message().unwrap_or_default()),
            None => ("NoAnswer", "Step Functions did not answer"),
        };
        OpsError::Aws {
            operation,
            code: code.to_string(),
            message: message.to_string(),
        }
    }
}

/// The region of a Step Functions ARN (`arn:aws:states:REGION:...`).
pub fn region_of(arn: &str) -> Option<&str> {
    match arn.split(':').collect::<Vec<_>>()[..] {
        ["arn", _, "states", region, ..] if !region.is_empty() => Some(region),
        _ => None,
    }
}

/// An execution's ARN from a name and its state machine's ARN, or the ARN as given.
pub fn execution_arn(execution: &str, state_machine: Option<&str>) -> Result<String, OpsError> {
    if execution.starts_with("arn:") {
        return Ok(execution.to_string());
    }
    let machine = state_machine.ok_or_else(|| {
        OpsError::Usage(format!(
            "'{execution}' is an execution name: give --state-machine (or REBOUND_STATE_MACHINE), or the execution's ARN"
        ))
    })?;
    Ok(format!(
        "{}:{execution}",
        machine.replacen(":stateMachine:", ":execution:", 1)
    ))
}

/// The caller's identity as AWS authenticates it (STS GetCallerIdentity), recorded with an
/// approval: the name an approver types is theirs to choose, this is not.
pub async fn caller(arn: Option<&str>) -> Option<String> {
    let config = crate::region::config().await;
    let config = match arn.and_then(region_of) {
        Some(region) => rebound_shared::aws::in_region(&config, region),
        None => config,
    };
    aws_sdk_sts::Client::new(&config)
        .get_caller_identity()
        .send()
        .await
        .ok()
        .and_then(|out| out.arn)
}

/// The task token an execution waits on in its approval gate, read from its history (where
/// IAM decides who may read it): never from a message.
pub async fn approval_token(sfn: &aws_sdk_sfn::Client, arn: &str) -> Result<String, OpsError> {
    let events = events(sfn, arn).await?;
    match history::waiting_token(&events) {
        Some((state, token)) if state == APPROVAL_STATE => Ok(token),
        Some((state, _)) => Err(OpsError::Usage(format!(
            "execution {arn} waits in {state}, not in its approval gate {APPROVAL_STATE}"
        ))),
        None => Err(OpsError::Usage(format!("execution {arn} is not waiting for approval"))),
    }
}

/// A Step Functions client in the ARN's region (else the configured one).
pub async fn client(arn: Option<&str>) -> aws_sdk_sfn::Client {
    let config = crate::region::config().await;
    match arn.and_then(region_of) {
        Some(region) => aws_sdk_sfn::Client::new(&rebound_shared::aws::in_region(&config, region)),
        None => aws_sdk_sfn::Client::new(&config),
    }
}

/// What the console would start: a manual start's input, checked as the detector checks it,
/// so that a start the detector would refuse is refused here before it is an execution.
pub fn start_input(base: Option<Value>, fields: &[(&str, Value)]) -> Result<Value, OpsError> {
    let mut input = base.unwrap_or_else(|| json!({}));
    let map = input
        .as_object_mut()
        .ok_or_else(|| OpsError::Usage("the input must be a JSON object, as the console's is".into()))?;
    for (key, value) in fields {
        if !value.is_null() {
            map.insert((*key).to_string(), value.clone());
        }
    }
    let start: disaster_detector::event::ManualStart = serde_json::from_value(input.clone())
        .map_err(|e| OpsError::Usage(format!("not a start the detector accepts: {e}")))?;
    start.check().map_err(|e| OpsError::Usage(e.to_string()))?;
    Ok(input)
}

pub async fn start(
    sfn: &aws_sdk_sfn::Client,
    state_machine: &str,
    input: &Value,
    name: &str,
) -> Result<String, OpsError> {
    crate::asl::check_execution_name(name).map_err(|e| OpsError::Usage(format!("--name: {e}")))?;
    let out = sfn
        .start_execution()
        .state_machine_arn(state_machine)
        .name(name)
        .input(input.to_string())
        .send()
        .await
        .map_err(sdk("StartExecution"))?;
    Ok(out.execution_arn().to_string())
}

/// The newest execution of the state machine.
pub async fn latest(sfn: &aws_sdk_sfn::Client, state_machine: &str) -> Result<String, OpsError> {
    let out = sfn
        .list_executions()
        .state_machine_arn(state_machine)
        .max_results(1)
        .send()
        .await
        .map_err(sdk("ListExecutions"))?;
    out.executions()
        .first()
        .map(|e| e.execution_arn().to_string())
        .ok_or_else(|| OpsError::Usage(format!("{state_machine} has no execution")))
}

/// An execution's state as DescribeExecution gives it.
#[derive(Debug, Clone)]
pub struct Execution {
    pub arn: String,
    pub name: String,
    pub status: String,
    pub started_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
}

impl Execution {
    pub fn running(&self) -> bool {
        self.status == ExecutionStatus::Running.as_str()
    }
}

fn chrono(t: &aws_smithy_types::DateTime) -> Option<DateTime<Utc>> {
    t.to_millis().ok().and_then(DateTime::from_timestamp_millis)
}

pub async fn describe(sfn: &aws_sdk_sfn::Client, arn: &str) -> Result<Execution, OpsError> {
    let out = sfn
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .map_err(sdk("DescribeExecution"))?;
    Ok(Execution {
        arn: out.execution_arn().to_string(),
        name: out.name().unwrap_or_default().to_string(),
        status: out.status().as_str().to_string(),
        started_at: chrono(out.start_date()),
        stopped_at: out.stop_date().and_then(chrono),
    })
}

/// The whole history, oldest first, page after page.
pub async fn events(sfn: &aws_sdk_sfn::Client, arn: &str) -> Result<Vec<Event>, OpsError> {
    pages(sfn, arn, false, 0).await
}

/// The events after `seen` (an event id), oldest first: read newest first, page by page, until
/// an event already seen, so that a long history is not read again at every poll.
pub async fn events_after(sfn: &aws_sdk_sfn::Client, arn: &str, seen: i64) -> Result<Vec<Event>, OpsError> {
    pages(sfn, arn, true, seen).await
}

/// Reads the history's pages (newest first when `reverse`) until an event of id `seen` or less.
async fn pages(sfn: &aws_sdk_sfn::Client, arn: &str, reverse: bool, seen: i64) -> Result<Vec<Event>, OpsError> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(arn)
            .reverse_order(reverse)
            .max_results(1000)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(sdk("GetExecutionHistory"))?;
        let before = out.len();
        out.extend(page.events().iter().take_while(|e| e.id() > seen).map(Event::from_sdk));
        let reached = out.len() - before < page.events().len();
        match page.next_token() {
            Some(next) if !next.is_empty() && !reached => token = Some(next.to_string()),
            _ => break,
        }
    }
    if reverse {
        out.reverse();
    }
    Ok(out)
}

/// `rebound status`: where the execution is, what it did, and the approval it waits for.
pub fn status_text(execution: &Execution, events: &[Event], now: DateTime<Utc>) -> String {
    let mut lines = vec![format!("execution {} ({})", execution.name, execution.arn)];
    let since = |t: Option<DateTime<Utc>>| t.map(|t| (now - t).num_seconds()).unwrap_or(0);
    lines.push(match execution.stopped_at {
        Some(stopped) => format!(
            "status {} at {} after {} s",
            execution.status,
            stopped.to_rfc3339(),
            execution.started_at.map_or(0, |s| (stopped - s).num_seconds())
        ),
        None => format!("status {} for {} s", execution.status, since(execution.started_at)),
    });
    let runs = history::runs(events);
    let done: Vec<&Run> = runs.iter().filter(|r| r.exited.is_some() && r.kind == "Task").collect();
    let running = execution.running();
    if let Some(now_in) = runs.iter().rev().find(|r| running && r.exited.is_none()) {
        lines.push(format!(
            "now in {} ({}) for {} s",
            now_in.state,
            now_in.kind,
            since(Some(now_in.entered))
        ));
    }
    let steps: Vec<String> = done
        .iter()
        .map(|r| {
            let ms = r.exited.map_or(0, |x| (x - r.entered).num_milliseconds());
            format!("{} {:.1} s", r.state, ms as f64 / 1000.0)
        })
        .collect();
    lines.push(match steps.len() {
        0 => "steps done: none".to_string(),
        n => format!("steps done ({n}): {}", steps.join(", ")),
    });
    if let Some((state, _)) = history::waiting_token(events).filter(|_| running) {
        let arn = &execution.arn;
        lines.push(format!("approval waiting in {state}:"));
        lines.push(format!("  rebound approve --execution {arn} --by YOUR-NAME"));
        lines.push(format!("  rebound reject --execution {arn} --cause WHY"));
    }
    if let Some((error, cause)) = history::failure(events) {
        lines.push(format!("error {error}: {cause}"));
    }
    lines.join("\n")
}

/// `rebound watch`: prints each state as it ends, the local run's line, until the execution
/// ends; exit 0 when it succeeded.
pub async fn watch(sfn: &aws_sdk_sfn::Client, arn: &str, every: Duration) -> Result<ExitCode, OpsError> {
    let mut printed = std::collections::HashSet::new();
    let mut told_token = None;
    let mut events: Vec<Event> = Vec::new();
    loop {
        let execution = describe(sfn, arn).await?;
        let seen = events.last().map_or(0, |e| e.id);
        events.extend(events_after(sfn, arn, seen).await?);
        let origin = execution
            .started_at
            .or(events.first().map(|e| e.at))
            .unwrap_or_default();
        for run in history::runs(&events) {
            if run.exit_id.is_some_and(|id| printed.insert(id)) {
                eprintln!("{}", run.transition(origin).line());
            }
        }
        let waiting = history::waiting_token(&events);
        if let Some((state, token)) = waiting.as_ref().filter(|w| told_token.as_ref() != Some(&w.1)) {
            eprintln!(
                "waiting for approval in {state}: rebound approve --execution {arn} --by YOUR-NAME   (or: rebound reject --execution {arn} --cause WHY)"
            );
            told_token = Some(token.clone());
        }
        if !execution.running() {
            if let Some((error, cause)) = history::failure(&events) {
                eprintln!("execution {}\nError: {error}\nCause: {cause}", execution.status);
            } else {
                eprintln!("execution {}", execution.status);
            }
            return Ok(if execution.status == ExecutionStatus::Succeeded.as_str() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        tokio::time::sleep(every).await;
    }
}

/// Answers a real task token: `Ok(by)` approves, `Err(cause)` rejects, as the local approval
/// does, with who (the name given and the identity AWS authenticated) and when for the report.
pub async fn answer(
    sfn: &aws_sdk_sfn::Client,
    token: &str,
    decision: Result<&str, &str>,
    principal: Option<&str>,
) -> Result<(), OpsError> {
    match decision {
        Ok(by) => sfn
            .send_task_success()
            .task_token(token)
            .output(
                json!({"approved": true, "by": by, "principal": principal, "at": Utc::now().to_rfc3339()}).to_string(),
            )
            .send()
            .await
            .map(|_| ())
            .map_err(sdk("SendTaskSuccess")),
        Err(cause) => sfn
            .send_task_failure()
            .task_token(token)
            .error(rebound_shared::error::APPROVAL_REJECTED)
            .cause(cause)
            .send()
            .await
            .map(|_| ())
            .map_err(sdk("SendTaskFailure")),
    }
}

/// The state machine's approval gate (statemachine/recovery.asl.json).
pub const APPROVAL_STATE: &str = "RequestApproval";

/// `rebound report`: the execution's report from its history, the plan and stored results it
/// names read back as the functions read them.
pub async fn report(
    sfn: &aws_sdk_sfn::Client,
    arn: &str,
    config: &aws_config::SdkConfig,
) -> Result<rebound_shared::report::Report, OpsError> {
    let execution = describe(sfn, arn).await?;
    let events = events(sfn, arn).await?;
    let context = history::last_context(&events).ok_or(OpsError::NoContext)?;
    let io = rebound_shared::entry::StepIo::from_env(config);
    let mut payload = json!({ "context": context });
    io.plans
        .resolve(&mut payload)
        .await
        .map_err(|e| OpsError::Resolve(e.to_string()))?;
    io.results
        .expand(&mut payload, rebound_shared::results::needed_by("recovery-notifier"))
        .await
        .map_err(|e| OpsError::Resolve(e.to_string()))?;
    let mut context: rebound_shared::RecoveryContext =
        serde_json::from_value(payload["context"].take()).map_err(|e| OpsError::Resolve(e.to_string()))?;
    // An answer sent from the console carries no time: the history has it.
    if let Some(answer) = context.approval.as_mut().and_then(Value::as_object_mut) {
        if !answer.contains_key("at") {
            let answered = history::runs(&events)
                .into_iter()
                .find(|r| r.state == APPROVAL_STATE)
                .and_then(|r| r.exited);
            if let Some(at) = answered {
                answer.insert("at".into(), json!(at.to_rfc3339()));
            }
        }
    }
    if context.error.is_none() {
        context.error =
            history::failure(&events).map(|(error, cause)| rebound_shared::context::StateError { error, cause });
    }
    let now = execution.stopped_at.unwrap_or_else(Utc::now);
    let meta = rebound_shared::report::Execution {
        name: execution.name,
        arn: Some(execution.arn),
        status: execution.status,
        started_at: execution.started_at,
        stopped_at: execution.stopped_at,
    };
    Ok(rebound_shared::report::build(&context, meta, now))
}

/// Writes `DIR/NAME.json` and `DIR/NAME.html`; returns both paths.
pub fn write_report(report: &rebound_shared::report::Report, dir: &Path) -> Result<(PathBuf, PathBuf), OpsError> {
    use rebound_moto::private;
    private::create_dir_all(dir)?;
    let stem = dir.join(&report.execution.name);
    let (json, html) = (stem.with_extension("json"), stem.with_extension("html"));
    private::write(&json, serde_json::to_string_pretty(report).unwrap_or_default())?;
    private::write(&html, rebound_shared::report::html::render(report, ""))?;
    Ok((json, html))
}

/// The report in a few lines for the terminal.
pub fn report_summary(report: &rebound_shared::report::Report) -> String {
    use rebound_shared::report::html::human;
    let mut lines = vec![format!(
        "{} {} ({}): {}",
        report.application, report.mode, report.execution.name, report.execution.status
    )];
    for (name, m) in [("RTO", report.rto), ("RPO", report.rpo)] {
        lines.push(match m.and_then(|m| m.actual_seconds.map(|a| (a, m))) {
            Some((a, m)) => format!(
                "{name} {} (target {}, {})",
                human(a),
                human(m.target_seconds as f64),
                if m.met == Some(true) { "met" } else { "NOT met" }
            ),
            None => format!("{name} not measured"),
        });
    }
    let phases: Vec<String> = report
        .phases
        .iter()
        .filter(|p| p.critical)
        .map(|p| format!("{} {}", p.phase.label(), human(p.seconds)))
        .collect();
    lines.push(format!("by phase: {}", phases.join(", ")));
    for a in &report.approvals {
        lines.push(format!(
            "{} by {} (AWS identity: {})",
            if a.approved { "approved" } else { "rejected" },
            a.by.as_deref().unwrap_or("(not recorded)"),
            a.principal.as_deref().unwrap_or("not given")
        ));
    }
    for (title, items) in [
        ("UNFENCED", &report.unfenced),
        ("NOT DONE", &report.not_done),
        ("NOT VERIFIED", &report.unverified),
    ] {
        for item in items {
            lines.push(format!("{title}: {item}"));
        }
    }
    lines.join("\n")
}
