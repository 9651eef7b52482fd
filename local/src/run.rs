//! `rebound run`: any ASL definition, once, with the six handlers in-process against whatever
//! AWS endpoint is configured (the break-glass runner when Step Functions itself is the problem).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use rebound_shared::aws::Regions;
use serde_json::Value;

use crate::asl::{Approval, Interpreter};
use crate::functions::{bind, Functions};

/// `rebound run`'s arguments.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The ASL definition, e.g. statemachine/recovery.asl.json.
    #[arg(long)]
    pub definition: PathBuf,
    /// The execution input: a JSON file, or JSON text.
    #[arg(long, required_unless_present = "retry")]
    pub input: Option<String>,
    /// Run recovery NAME again as its next attempt (it failed, or was cancelled after it changed
    /// something): its input as its run saved it (or --input), with `retryOf: NAME`, as the
    /// execution NAME-retry-TIME.
    #[arg(long, value_name = "NAME", conflicts_with = "execution_name")]
    pub retry: Option<String>,
    /// Set dryRun in the input: every read and check, no change.
    #[arg(long)]
    pub dry_run: bool,
    /// Multiply Wait states and retry back-off by this (0: do not sleep).
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Answer approval requests with yes at once (otherwise wait for `rebound approve`).
    #[arg(long)]
    pub auto_approve: bool,
    /// The region to recover into (default: RECOVERY_REGION, else the configured region).
    #[arg(long)]
    pub recovery_region: Option<String>,
    /// The plan the detector reads (default: PLAN_LOCATION): as deployed, the only one an
    /// execution runs.
    #[arg(long)]
    pub plan_location: Option<String>,
    /// Let the input bring its own plan (`plan` inline, or another `planLocation`), as a stack
    /// deployed with AllowStartPlan=true does; the report says the plan came with the start.
    #[arg(long)]
    pub allow_start_plan: bool,
    /// The DynamoDB recovery table for the lease, cooldown and audit (default: RECOVERY_TABLE).
    /// Without one, the run takes no lease and no cooldown applies.
    #[arg(long)]
    pub table: Option<String>,
    /// The execution's name (1-80 characters, as Step Functions allows), which is also the
    /// recovery's id and the lease's owner. Default: a new unique name per run.
    #[arg(long)]
    pub execution_name: Option<String>,
}

/// Runs `args.definition` once on `args.input` with the six handlers in-process.
pub async fn run(args: RunArgs) -> ExitCode {
    let RunArgs {
        definition,
        input,
        dry_run,
        time_scale,
        auto_approve,
        recovery_region,
        plan_location,
        allow_start_plan,
        table,
        execution_name,
        retry,
    } = args;
    let name = match execution_name.or_else(|| retry.as_deref().map(crate::steer::retry_name)) {
        Some(name) => match crate::asl::check_execution_name(&name) {
            Ok(()) => name,
            Err(e) => {
                eprintln!("rebound: --execution-name: {e}");
                return ExitCode::from(2);
            }
        },
        None => crate::asl::unique_execution_name("run"),
    };
    let definition: Value = match std::fs::read_to_string(&definition)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("rebound: {}: {e}", definition.display());
            return ExitCode::from(2);
        }
    };
    if let Err(e) = crate::asl::validate(&definition) {
        eprintln!("rebound: invalid definition: {}", e.cause);
        return ExitCode::from(2);
    }
    let read = match (&input, &retry) {
        (Some(input), _) => crate::input::read_input(input),
        (None, Some(of)) => saved_input(of),
        (None, None) => Err("no --input".to_string()),
    };
    let mut input = match read {
        Ok(v) => v,
        Err(e) => {
            eprintln!("rebound: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = save_input(&name, &input) {
        eprintln!("rebound: the input is not kept for a retry: {e}");
    }
    if let (Some(of), Some(map)) = (&retry, input.as_object_mut()) {
        map.insert("retryOf".into(), Value::String(of.clone()));
    }
    if dry_run {
        if let Some(map) = input.as_object_mut() {
            map.insert("dryRun".into(), Value::Bool(true));
        }
    }
    let global = crate::region::config().await;
    let recovery = match recovery_region {
        Some(r) => rebound_shared::aws::in_region(&global, &r),
        None => crate::region::recovery_config().await,
    };
    let table = table
        .or_else(|| std::env::var("RECOVERY_TABLE").ok())
        .filter(|t| !t.is_empty());
    if table.is_none() {
        eprintln!(
            "rebound: no recovery table (--table or RECOVERY_TABLE): this run takes no lease and no cooldown applies"
        );
    }
    let regions = Regions {
        primary: global,
        recovery,
    };
    let mut functions = Functions::new(
        &regions,
        plan_location.or_else(|| std::env::var("PLAN_LOCATION").ok()),
        table,
    );
    functions.detector.allow_start_plan = allow_start_plan;
    match functions.as_deployed(&regions) {
        Ok(skipped) => skipped.iter().for_each(|s| eprintln!("rebound: {s}")),
        Err(e) => {
            eprintln!("rebound: {e}");
            return ExitCode::from(2);
        }
    }
    let functions = Arc::new(functions);
    let invoker = functions.invoker.clone();
    let (tasks, substitutions) = match bind(functions) {
        Ok(bound) => bound,
        Err(e) => {
            eprintln!("rebound: {e}");
            return ExitCode::from(2);
        }
    };
    let mut interpreter = Interpreter::new(tasks, substitutions);
    interpreter.invoker = Some(invoker);
    interpreter.time_scale = time_scale;
    interpreter.verbose = true;
    interpreter.approval = if auto_approve {
        Approval::Auto
    } else {
        Approval::Await(crate::approvals::default_dir())
    };
    eprintln!("rebound: execution {name}");
    let outcome = interpreter.execute(&definition, input, &name).await;
    let timeline = interpreter.timeline();
    eprintln!(
        "execution took {} ms; interpreter's own time {:.3} ms (handlers {} ms, waits {} ms, summed over branches)",
        timeline.total_ms,
        timeline.interpreter_us as f64 / 1000.0,
        timeline.task_ms,
        timeline.wait_ms
    );
    match outcome {
        Ok(output) => {
            println!("{}", serde_json::to_string_pretty(&output).unwrap_or_default());
            match declined(&output) {
                Some(why) => {
                    eprintln!("rebound: recovery declined: {why}");
                    ExitCode::from(3)
                }
                None => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            eprintln!("execution failed\nError: {}\nCause: {}", e.error, e.cause);
            println!("{}", serde_json::json!({"Error": e.error, "Cause": e.cause}));
            ExitCode::from(1)
        }
    }
}

/// Where a run keeps its input, for `rebound run --retry NAME`: `~/.cache/rebound/runs/NAME.json`.
fn saved_path(name: &str) -> std::path::PathBuf {
    rebound_moto::cache_dir().join("runs").join(format!("{name}.json"))
}

/// Keeps the input a run started with (the user's alone: it may name resources and reasons).
fn save_input(name: &str, input: &Value) -> std::io::Result<()> {
    let path = saved_path(name);
    if let Some(dir) = path.parent() {
        rebound_moto::private::create_dir_all(dir)?;
    }
    let mut kept = input.clone();
    if let Some(map) = kept.as_object_mut() {
        map.remove("retryOf");
    }
    rebound_moto::private::write(&path, kept.to_string())
}

/// The input run NAME started with.
fn saved_input(name: &str) -> Result<Value, String> {
    crate::asl::check_execution_name(name).map_err(|e| format!("--retry: {e}"))?;
    let path = saved_path(name);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        format!(
            "--retry {name}: no input kept for it ({}: {e}); give it with --input",
            path.display()
        )
    })?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Why a recovery that was needed was declined (another one holds the lease, the cooldown runs,
/// or the alarm could not be confirmed), from the execution's output; None when it ran or was
/// not needed.
fn declined(output: &Value) -> Option<String> {
    let decision = output.get("decision")?;
    let kind = decision.get("declined")?.as_str()?;
    let reasons: Vec<&str> = decision
        .get("reasons")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|r| {
            r.starts_with("recovery already in progress") || r.starts_with("cooldown") || r.starts_with("NOT CONFIRMED")
        })
        .collect();
    Some(format!("{kind}: {}", reasons.join("; ")))
}
