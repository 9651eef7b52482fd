//! `rebound pause|resume|skip|cancel|ungraceful`: an operator's hand on a running recovery, deployed or
//! local alike. Each command writes the execution's control row in the recovery table (audited,
//! with the caller's AWS identity); the steps read it as they are invoked. A cancel of a
//! deployed execution waiting in its approval gate also answers the gate, so it ends now.

use std::process::ExitCode;

use rebound_shared::control::{Control, Mark, Steer, SKIPPABLE};
use rebound_shared::steer::SteerError;
use rebound_shared::table::RecoveryTable;

/// What every steering command takes.
#[derive(clap::Args)]
pub struct SteerArgs {
    /// The execution: its name (the recovery's id, as `rebound run` prints it) or a deployed
    /// execution's ARN.
    pub execution: String,
    /// The application the plan names (default: REBOUND_APPLICATION).
    #[arg(long, env = "REBOUND_APPLICATION")]
    pub application: String,
    /// The recovery table (default: RECOVERY_TABLE).
    #[arg(long, env = "RECOVERY_TABLE")]
    pub table: String,
    /// The region of the recovery table (default: RECOVERY_REGION, else the configured region).
    #[arg(long)]
    pub recovery_region: Option<String>,
    /// Who asks, for the audit trail and the report (your AWS identity is recorded beside it).
    #[arg(long, env = "USER", default_value = "rebound")]
    pub by: String,
}

/// The commands, as the command line names them.
#[derive(clap::Subcommand)]
pub enum Steering {
    /// Hold a running recovery: the changes in flight are followed to their end, no step starts
    /// a new one until `resume` (the state machine asks again every 15 s, for up to 6 hours).
    Pause {
        #[command(flatten)]
        args: SteerArgs,
        /// Why, for the audit trail and the report.
        #[arg(long)]
        reason: String,
    },
    /// Let a paused recovery go on. Its lease is extended by as long as the pause lasted.
    Resume {
        #[command(flatten)]
        args: SteerArgs,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Give up on one step that cannot finish (a service that never reaches its count): it is
    /// ended as SKIPPED at its next check, with who and why, and the recovery goes on. A skipped
    /// step never counts as passed; what it left pending is reported as never confirmed.
    Skip {
        #[command(flatten)]
        args: SteerArgs,
        /// dns, database, capacity, services or validation.
        step: String,
        #[arg(long)]
        reason: String,
    },
    /// End a recovery: its next step fails with Rebound.Cancelled and the failure path
    /// notifies, writes the report (cancelled, by whom, why, what had changed), audits and
    /// releases the lease.
    Cancel {
        #[command(flatten)]
        args: SteerArgs,
        #[arg(long)]
        reason: String,
    },
    /// Switch a switchover to ungraceful: from its next database step it goes on as a failover.
    /// A replica waiting to catch up with its fenced writer is promoted with the lag the RPO
    /// target (or an approval) accepts, an Aurora global database not yet moved fails over with
    /// AllowDataLoss. A change already under way is followed to its end.
    Ungraceful {
        #[command(flatten)]
        args: SteerArgs,
        #[arg(long)]
        reason: String,
    },
}

/// An execution's name: the last part of its ARN.
fn recovery_id(execution: &str) -> &str {
    execution.rsplit(':').next().unwrap_or(execution)
}

/// The recovery a deployed or local execution runs: its name, or for a deployed retry
/// (`rebound retry`), the recovery its input's `retryOf` names.
async fn recovery_of(execution: &str) -> String {
    if !execution.starts_with("arn:") {
        return execution.to_string();
    }
    let sfn = crate::deployed::client(Some(execution)).await;
    let out = sfn.describe_execution().execution_arn(execution).send().await.ok();
    recovery_in(execution, out.as_ref().and_then(|o| o.input()))
}

/// The recovery an execution with `input` runs: the one its `retryOf` names, else its own.
fn recovery_in(execution: &str, input: Option<&str>) -> String {
    let input = input.and_then(|i| serde_json::from_str::<serde_json::Value>(i).ok());
    match input.as_ref().and_then(|i| i["retryOf"].as_str()) {
        Some(of) => of.to_string(),
        None => recovery_id(execution).to_string(),
    }
}

/// The run of recovery `id` a command is for: the one that holds the lease (a retry
/// included), else its first (one not started yet).
async fn run_of(table: &RecoveryTable, application: &str, id: &str) -> String {
    match table.run_holding(application, id).await {
        Ok(Some(run)) => run,
        _ => id.to_string(),
    }
}

pub async fn run(command: Steering) -> ExitCode {
    let (args, steer, reason) = match command {
        Steering::Pause { args, reason } => (args, Steer::Pause, reason),
        Steering::Resume { args, reason } => (args, Steer::Resume, reason),
        Steering::Skip { args, step, reason } => (args, Steer::Skip(step), reason),
        Steering::Cancel { args, reason } => (args, Steer::Cancel, reason),
        Steering::Ungraceful { args, reason } => (args, Steer::Ungraceful, reason),
    };
    let config = match &args.recovery_region {
        Some(r) => rebound_shared::aws::in_region(&crate::region::config().await, r),
        None => crate::region::recovery_config().await,
    };
    let table = RecoveryTable::new(&config, &args.table);
    let deployed = args.execution.starts_with("arn:");
    let principal = crate::deployed::caller(deployed.then_some(args.execution.as_str())).await;
    let recovery = recovery_of(&args.execution).await;
    let run = run_of(&table, &args.application, &recovery).await;
    let id = run.as_str();
    let mark = Mark {
        by: args.by.clone(),
        principal,
        reason,
        at: chrono::Utc::now(),
    };
    let steered = match table.steer(&args.application, id, &steer, mark.clone()).await {
        Ok(steered) => steered,
        Err(e) => {
            eprintln!("rebound {}: {e}", steer.verb());
            return match e {
                SteerError::Refused { .. } => ExitCode::from(2),
                _ => ExitCode::from(1),
            };
        }
    };
    let who = mark.principal.as_deref().unwrap_or("an identity STS did not name");
    match (&steer, &steered.ended) {
        (Steer::Pause, _) => println!(
            "{id}: paused (by {}, as {who}): steps start no new change until `rebound resume {id}`",
            steered
                .control
                .paused
                .as_ref()
                .map_or(mark.by.as_str(), |p| p.by.as_str())
        ),
        (Steer::Resume, Some(pause)) => println!(
            "{id}: resumed after {} s paused{}",
            (mark.at - pause.at).num_seconds(),
            steered
                .lease_until
                .map(|u| format!("; lease extended to {}", u.to_rfc3339()))
                .unwrap_or_default()
        ),
        (Steer::Resume, None) => println!("{id}: resumed"),
        (Steer::Skip(step), _) => println!(
            "{id}: {step} will end as SKIPPED at its next check (steps that can be skipped: {})",
            SKIPPABLE.join(", ")
        ),
        (Steer::Ungraceful, _) => println!(
            "{id}: switched to ungraceful: a switchover goes on as a failover from its next database step \
             (data loss within the RPO target accepted; beyond it, only with an approval)"
        ),
        (Steer::Cancel, _) => {
            println!("{id}: cancelled; its next step ends the recovery and notifies");
            if deployed {
                if let Err(e) = end_approval_wait(&args.execution, &mark).await {
                    eprintln!("rebound cancel: {e}");
                    return ExitCode::from(1);
                }
            }
        }
    }
    ExitCode::SUCCESS
}

/// A deployed execution waiting in its approval gate invokes no step: the gate is answered with
/// `Rebound.Cancelled`, so the failure path runs now.
async fn end_approval_wait(arn: &str, mark: &Mark) -> Result<(), crate::deployed::OpsError> {
    let sfn = crate::deployed::client(Some(arn)).await;
    let Ok(token) = crate::deployed::approval_token(&sfn, arn).await else {
        return Ok(()); // not waiting there
    };
    sfn.send_task_failure()
        .task_token(token)
        .error(rebound_shared::error::CANCELLED)
        .cause(rebound_shared::control::cancelled_message(recovery_id(arn), mark))
        .send()
        .await
        .map(|_| println!("{}: its approval gate was answered: cancelled", recovery_id(arn)))
        .map_err(crate::deployed::sdk("SendTaskFailure"))
}

/// What operators asked of recovery `id`, for `rebound status`: nothing when nobody steered it.
pub fn steering_text(id: &str, control: &Control) -> Option<String> {
    let said = |m: &Mark| format!("by {} at {}: {}", m.by, m.at.to_rfc3339(), m.reason);
    let mut lines = Vec::new();
    if let Some(mark) = &control.cancelled {
        lines.push(format!("CANCELLED {}", said(mark)));
    }
    if let Some(mark) = &control.paused {
        lines.push(format!(
            "PAUSED {}: no new change starts; rebound resume {id}",
            said(mark)
        ));
    }
    if let Some(mark) = &control.ungraceful {
        lines.push(format!("UNGRACEFUL {}: a switchover goes on as a failover", said(mark)));
    }
    for (step, mark) in &control.skipped {
        lines.push(format!("SKIPPED {step} {}", said(mark)));
    }
    (!lines.is_empty()).then(|| format!("steered by operators:\n  {}", lines.join("\n  ")))
}

/// The control row of `execution` when the environment names the application and its table
/// (REBOUND_APPLICATION, RECOVERY_TABLE); what `rebound status` adds to its text.
pub async fn steering_of(execution: &str) -> Option<String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (application, table) = (var("REBOUND_APPLICATION")?, var("RECOVERY_TABLE")?);
    let table = RecoveryTable::new(&crate::region::recovery_config().await, table);
    let run = run_of(&table, &application, &recovery_of(execution).await).await;
    match table.control(&application, &run).await {
        Ok((control, _)) => steering_text(&run, &control),
        Err(e) => Some(format!("steered by operators: not known ({e})")),
    }
}

/// The longest execution name Step Functions takes.
const NAME_LIMIT: usize = 80;

/// A retry's execution name: `RECOVERY-retry-TIME`, within Step Functions' 80 characters. Its
/// own name gives the run its own lease, control row and report.
pub fn retry_name(recovery: &str) -> String {
    let suffix = format!("-retry-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%3f"));
    let stem: String = recovery.chars().take(NAME_LIMIT - suffix.len()).collect();
    format!("{stem}{suffix}")
}

/// `rebound retry EXECUTION`: a deployed execution that failed, timed out or was aborted is run
/// again as a new execution of its state machine, with its input and `retryOf` naming its
/// recovery; the detector lets only the application's last recovery, unsucceeded, be retried,
/// and the new run takes the lease as that recovery's next attempt.
pub async fn retry(execution: &str) -> ExitCode {
    if !execution.starts_with("arn:") {
        eprintln!(
            "rebound retry: {execution} is not a deployed execution's ARN; a local run is retried by running it again: \
             rebound run --retry {execution} (with that run's --definition, --table and --plan-location)"
        );
        return ExitCode::from(2);
    }
    match start_retry(execution).await {
        Ok(arn) => {
            println!("{arn}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rebound retry: {e}");
            e.exit()
        }
    }
}

async fn start_retry(arn: &str) -> Result<String, crate::deployed::OpsError> {
    use crate::deployed::OpsError;
    let sfn = crate::deployed::client(Some(arn)).await;
    let out = sfn
        .describe_execution()
        .execution_arn(arn)
        .send()
        .await
        .map_err(crate::deployed::sdk("DescribeExecution"))?;
    let status = out.status().as_str();
    if !matches!(status, "FAILED" | "TIMED_OUT" | "ABORTED") {
        return Err(OpsError::Usage(format!(
            "{arn} is {status}: only an execution that failed, timed out or was aborted is retried"
        )));
    }
    let mut input: serde_json::Value = out
        .input()
        .and_then(|i| serde_json::from_str(i).ok())
        .filter(serde_json::Value::is_object)
        .ok_or_else(|| OpsError::Usage(format!("{arn}: its input is not a JSON object")))?;
    let recovery = recovery_in(arn, out.input());
    input["retryOf"] = serde_json::json!(recovery);
    let started = sfn
        .start_execution()
        .state_machine_arn(out.state_machine_arn())
        .name(retry_name(&recovery))
        .input(input.to_string())
        .send()
        .await
        .map_err(crate::deployed::sdk("StartExecution"))?;
    eprintln!("rebound retry: recovery {recovery} runs again (its detector takes the lease as its next attempt)");
    Ok(started.execution_arn().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_says_who_holds_or_skipped_what_and_how_to_go_on() {
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let mark = |reason: &str| Mark {
            by: "j.doe".into(),
            principal: None,
            reason: reason.into(),
            at,
        };
        assert_eq!(steering_text("orders-1", &Control::default()), None);
        let mut control = Control {
            paused: Some(mark("look first")),
            ..Control::default()
        };
        control.skipped.insert("action:warm-caches".into(), mark("hangs"));
        control.ungraceful = Some(mark("primary degrading"));
        let text = steering_text("orders-1", &control).unwrap_or_default();
        assert!(text.contains("PAUSED by j.doe at 2027-01-15T08:00:00+00:00: look first: no new change starts; rebound resume orders-1"), "{text}");
        assert!(text.contains("SKIPPED action:warm-caches by j.doe"), "{text}");
        assert!(
            text.contains("UNGRACEFUL by j.doe at 2027-01-15T08:00:00+00:00: primary degrading"),
            "{text}"
        );
    }
}
