//! The `rebound` subcommands that operate a deployed state machine: their arguments, and what
//! each prints and exits with.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value;

use super::OpsError;

#[derive(clap::Args)]
pub struct ExecutionArgs {
    /// The execution: its ARN, or its name with --state-machine. Default: the state machine's
    /// newest execution.
    pub execution: Option<String>,
    /// The deployed state machine's ARN (the stack's StateMachineArn output).
    #[arg(long, env = "REBOUND_STATE_MACHINE")]
    pub state_machine: Option<String>,
}

#[derive(clap::Args)]
pub struct StartArgs {
    /// The deployed state machine's ARN (the stack's StateMachineArn output).
    #[arg(long, env = "REBOUND_STATE_MACHINE")]
    pub state_machine: String,
    /// failover, switchover, failback or drill.
    #[arg(long)]
    pub mode: Option<String>,
    /// Only check that the recovery side is ready; change nothing.
    #[arg(long)]
    pub readiness_check: bool,
    /// After a failover, once the primary region answers: build there again what a failback
    /// needs, then check the failback's readiness (as `rebound reprotect`).
    #[arg(long)]
    pub reprotect: bool,
    /// Every read and check, no change.
    #[arg(long)]
    pub dry_run: bool,
    /// Override the cooldown (never another recovery's lease); audited.
    #[arg(long)]
    pub force: bool,
    /// Who starts it and why (required for a recovery): kept in the audit and the notification.
    #[arg(long)]
    pub reason: Option<String>,
    /// e.g. regionOutage, dataCorruption.
    #[arg(long)]
    pub disaster_type: Option<String>,
    #[arg(long)]
    pub affected_region: Option<String>,
    /// Another plan than the stack's (refused unless the stack has AllowStartPlan=true).
    #[arg(long)]
    pub plan_location: Option<String>,
    /// A start input (JSON file or text) the flags above add to, as typed in the console.
    #[arg(long)]
    pub input: Option<String>,
    /// The execution's name (default: MODE-TIME-RANDOM).
    #[arg(long)]
    pub name: Option<String>,
    /// Follow the execution until it ends, as `watch`.
    #[arg(long)]
    pub wait: bool,
}

/// `rebound reprotect`: a start with `reprotect: true`.
#[derive(Debug, clap::Args)]
pub struct ReprotectArgs {
    /// The deployed state machine's ARN (the stack's StateMachineArn output).
    #[arg(long, env = "REBOUND_STATE_MACHINE")]
    pub state_machine: String,
    /// Who reprotects and why: kept in the audit and the notification.
    #[arg(long)]
    pub reason: String,
    /// Every read and check, no change: what would be built.
    #[arg(long)]
    pub dry_run: bool,
    /// The execution's name (default: reprotect-TIME-RANDOM).
    #[arg(long)]
    pub name: Option<String>,
    /// Follow the execution until it ends, as `watch`.
    #[arg(long)]
    pub wait: bool,
}

pub async fn reprotect(args: ReprotectArgs) -> ExitCode {
    start(StartArgs {
        state_machine: args.state_machine,
        mode: None,
        readiness_check: false,
        reprotect: true,
        dry_run: args.dry_run,
        force: false,
        reason: Some(args.reason),
        disaster_type: None,
        affected_region: None,
        plan_location: None,
        input: None,
        name: args.name,
        wait: args.wait,
    })
    .await
}

fn failed(e: OpsError) -> ExitCode {
    eprintln!("rebound: {e}");
    e.exit()
}

pub async fn start(args: StartArgs) -> ExitCode {
    let base = match args.input.as_deref().map(crate::input::read_input).transpose() {
        Ok(base) => base,
        Err(e) => return failed(OpsError::Usage(e)),
    };
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    let flag = |on: bool| if on { Value::Bool(true) } else { Value::Null };
    let input = match super::start_input(
        base,
        &[
            ("mode", text(&args.mode)),
            ("readinessCheck", flag(args.readiness_check)),
            ("reprotect", flag(args.reprotect)),
            ("dryRun", flag(args.dry_run)),
            ("force", flag(args.force)),
            ("reason", text(&args.reason)),
            ("disasterType", text(&args.disaster_type)),
            ("affectedRegion", text(&args.affected_region)),
            ("planLocation", text(&args.plan_location)),
        ],
    ) {
        Ok(input) => input,
        Err(e) => return failed(e),
    };
    let prefix = if args.readiness_check {
        "readiness".to_string()
    } else if args.reprotect {
        "reprotect".to_string()
    } else {
        args.mode.clone().unwrap_or_else(|| "start".into())
    };
    let name = args.name.unwrap_or_else(|| crate::asl::unique_execution_name(&prefix));
    let sfn = super::client(Some(&args.state_machine)).await;
    let arn = match super::start(&sfn, &args.state_machine, &input, &name).await {
        Ok(arn) => arn,
        Err(e) => return failed(e),
    };
    println!("{arn}");
    if !args.wait {
        return ExitCode::SUCCESS;
    }
    super::watch(&sfn, &arn, std::time::Duration::from_secs(2))
        .await
        .unwrap_or_else(failed)
}

/// The execution an `ExecutionArgs` names, and a client in its region.
async fn chosen(args: ExecutionArgs) -> Result<(aws_sdk_sfn::Client, String), OpsError> {
    let machine = args.state_machine.as_deref();
    match args.execution {
        Some(execution) => {
            let arn = super::execution_arn(&execution, machine)?;
            Ok((super::client(Some(&arn)).await, arn))
        }
        None => {
            let machine = machine.ok_or_else(|| {
                OpsError::Usage("name the execution, or give --state-machine (or REBOUND_STATE_MACHINE)".into())
            })?;
            let sfn = super::client(Some(machine)).await;
            let arn = super::latest(&sfn, machine).await?;
            Ok((sfn, arn))
        }
    }
}

pub async fn status(args: ExecutionArgs) -> ExitCode {
    let shown = async {
        let (sfn, arn) = chosen(args).await?;
        let execution = super::describe(&sfn, &arn).await?;
        let events = super::events(&sfn, &arn).await?;
        println!("{}", super::status_text(&execution, &events, chrono::Utc::now()));
        if let Some(steering) = crate::steer::steering_of(&arn).await {
            println!("{steering}");
        }
        Ok::<(), OpsError>(())
    };
    shown.await.map_or_else(failed, |()| ExitCode::SUCCESS)
}

pub async fn watch(args: ExecutionArgs, every: f64) -> ExitCode {
    let every = std::time::Duration::from_secs_f64(every.clamp(0.2, 60.0));
    match chosen(args).await {
        Ok((sfn, arn)) => {
            eprintln!("rebound: watching {arn}");
            super::watch(&sfn, &arn, every).await.unwrap_or_else(failed)
        }
        Err(e) => failed(e),
    }
}

pub async fn report(args: ExecutionArgs, out: PathBuf) -> ExitCode {
    let written = async {
        let (sfn, arn) = chosen(args).await?;
        let config = crate::region::recovery_config().await;
        let report = super::report(&sfn, &arn, &config).await?;
        let (json, html) = super::write_report(&report, &out)?;
        println!("{}", super::report_summary(&report));
        eprintln!("report: {} and {}", json.display(), html.display());
        Ok::<(), OpsError>(())
    };
    written.await.map_or_else(failed, |()| ExitCode::SUCCESS)
}

/// Answers a deployed execution's task token, in `region` or the configured one.
pub async fn answer(token: &str, decision: Result<&str, &str>, region: Option<String>) -> ExitCode {
    let config = crate::region::config().await;
    let config = match region {
        Some(r) => rebound_shared::aws::in_region(&config, &r),
        None => config,
    };
    let sfn = aws_sdk_sfn::Client::new(&config);
    let principal = super::caller(None).await;
    match super::answer(&sfn, token, decision, principal.as_deref()).await {
        Ok(()) => {
            eprintln!(
                "{} the execution waiting on this token",
                if decision.is_ok() { "approved" } else { "rejected" }
            );
            ExitCode::SUCCESS
        }
        Err(e) => failed(e),
    }
}

/// Answers the approval gate an execution waits in: its token read from the history.
pub async fn answer_execution(execution: &str, decision: Result<&str, &str>) -> ExitCode {
    let answered = async {
        let arn = super::execution_arn(execution, None)?;
        let sfn = super::client(Some(&arn)).await;
        let token = super::approval_token(&sfn, &arn).await?;
        let principal = super::caller(Some(&arn)).await;
        super::answer(&sfn, &token, decision, principal.as_deref()).await?;
        Ok::<_, OpsError>((arn, principal))
    };
    match answered.await {
        Ok((arn, principal)) => {
            eprintln!(
                "{} {arn} as {}",
                if decision.is_ok() { "approved" } else { "rejected" },
                principal.as_deref().unwrap_or("an identity STS did not name")
            );
            ExitCode::SUCCESS
        }
        Err(e) => failed(e),
    }
}
