use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rebound::deployed::cli::{self, ExecutionArgs, StartArgs};
use rebound::drill::{self, Scenario};
use rebound_shared::RecoveryPlan;

/// Rebound, locally: run the recovery state machine, validate plans, rehearse recoveries.
#[derive(Parser)]
#[command(name = "rebound", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More on stderr: -v adds the handlers' progress (info), -vv debug (the AWS SDK's own
    /// included). Warnings and errors
    /// are always shown. RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// How the handlers' log lines are written to stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines, coloured on a terminal.
    Text,
    /// One JSON object a line.
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a state machine definition with the Rebound functions in-process, against the AWS
    /// endpoint the environment configures (AWS_ENDPOINT_URL, AWS_REGION, credentials).
    /// Exit 0 when the execution succeeds, 1 when it fails, 2 for unusable arguments, 3 when a
    /// needed recovery was declined because another one holds the lease or the cooldown runs.
    Run(rebound::run::RunArgs),
    /// Start the deployed state machine, with the inputs the console takes. Prints the
    /// execution's ARN; with --wait, follows it as `watch` does (exit 0 when it succeeded).
    Start(StartArgs),
    /// After a failover, once the primary region answers: start the deployed state machine to
    /// build there again what a failback needs (a replica of each new writer under its
    /// failbackIdentifier, the region back in each global table), then check the failback's
    /// readiness. Moves no traffic and no writer. Locally: `rebound run --input
    /// '{"reprotect": true, "reason": "..."}'`.
    Reprotect(cli::ReprotectArgs),
    /// Where a deployed execution is: its status, the state it is in, the steps done, and the
    /// approval it waits for (with the commands that answer it). Default: the newest execution.
    Status(ExecutionArgs),
    /// Print each state of a deployed execution as it ends (the lines of a local run) until it
    /// ends. Exit 0 when it succeeded, 1 when it failed, timed out or was aborted.
    Watch {
        #[command(flatten)]
        execution: ExecutionArgs,
        /// Seconds between polls of the execution's history.
        #[arg(long, default_value_t = 2.0)]
        every: f64,
    },
    /// Approve a waiting approval request: a deployed execution's (--execution: its task token
    /// read from its history, SendTaskSuccess with your AWS identity), or a local run's
    /// (`rebound run`: --token, as it prints it).
    Approve {
        /// The deployed execution (ARN) waiting in its approval gate.
        #[arg(long, conflicts_with = "token", required_unless_present = "token")]
        execution: Option<String>,
        #[arg(long)]
        token: Option<String>,
        /// Who approves, for the audit trail and the report.
        #[arg(long, default_value = "rebound approve")]
        by: String,
        #[arg(long)]
        approvals_dir: Option<PathBuf>,
        /// The deployed state machine's region (default: the configured region).
        #[arg(long)]
        region: Option<String>,
    },
    /// Reject a waiting approval request (local or deployed, as approve): the recovery aborts
    /// and notifies.
    Reject {
        #[arg(long, conflicts_with = "token", required_unless_present = "token")]
        execution: Option<String>,
        #[arg(long)]
        token: Option<String>,
        #[arg(long)]
        cause: String,
        #[arg(long)]
        approvals_dir: Option<PathBuf>,
        #[arg(long)]
        region: Option<String>,
    },
    /// Build a deployed execution's report (JSON and a self-contained page) from its history,
    /// as the notifier writes it to the report bucket.
    Report {
        #[command(flatten)]
        execution: ExecutionArgs,
        /// Where NAME.json and NAME.html go.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
    },
    #[command(flatten)]
    Steer(rebound::steer::Steering),
    /// Run a deployed recovery that failed, timed out or was aborted again: a new execution with
    /// its input and `retryOf` naming the recovery, which runs as that recovery's next attempt
    /// (its lease taken again; its steps find what it had done already done). A local run is
    /// retried with `rebound run --retry NAME`.
    Retry {
        /// The deployed execution's ARN.
        execution: String,
    },
    /// See or release an application's recovery lease (one recovery per application at a time).
    Lease {
        #[command(subcommand)]
        action: LeaseAction,
    },
    /// Validate a recovery plan and print every problem with its path. Exit 0 when valid, 2 when not.
    Validate {
        /// The plan, a JSON file.
        plan: PathBuf,
        /// Also print every AWS operation the failover path calls, the region whose control or
        /// data plane answers it, and a flag on each that depends on the primary region.
        #[arg(long)]
        audit: bool,
    },
    /// Rehearse a recovery end to end against moto's server: seed a two-region application,
    /// inject the disaster, run the real state machine through the real handlers, verify the end
    /// state, and report the timeline, RTO and RPO. Exit 0 only when recovery was verified.
    Drill {
        #[arg(long, value_enum, default_value_t = Scenario::RegionOutage)]
        scenario: Scenario,
        /// Multiply Wait states and retry back-off by this (0: do not sleep).
        #[arg(long, default_value_t = 0.0)]
        time_scale: f64,
        /// Where the JSON and HTML reports go.
        #[arg(long, default_value = "reports")]
        report_dir: PathBuf,
        /// Also predict the real recovery's RTO: the same recovery on a virtual clock where each
        /// AWS operation takes the time AWS documents for it, with the critical path and each
        /// figure's source.
        #[arg(long)]
        forecast: bool,
        /// Run the six functions as Lambda runs them: each bootstrap a process behind a local
        /// Lambda Runtime API, with the template's environment and timeouts, invoked through the
        /// Lambda Invoke API. Build them first: cargo build --workspace --bins.
        #[arg(long)]
        lambda: bool,
        /// Where the bootstraps are (default: beside this executable).
        #[arg(long, requires = "lambda")]
        bootstraps: Option<PathBuf>,
    },
    /// Measure how a recovery scales: seed moto with a large application and a one-resource
    /// one, run each one's region-outage recovery, and print wall time (moto's own CPU time
    /// apart), time per state, AWS calls per operation, the largest state payload and peak memory.
    Bench {
        #[arg(long, default_value_t = 10)]
        zones: usize,
        #[arg(long, default_value_t = 1000)]
        records: usize,
        #[arg(long, default_value_t = 50)]
        databases: usize,
        #[arg(long, default_value_t = 200)]
        services: usize,
        /// Run this many small/large pairs, interleaved, and compare their medians.
        #[arg(long, default_value_t = 1)]
        pairs: usize,
    },
}

#[derive(Subcommand)]
enum LeaseAction {
    /// Who holds the lease and until when. Exit 0 whether held or not.
    Show(LeaseArgs),
    /// Release the lease whoever holds it (a run that died), recording who and why in the
    /// audit. A live run loses its guard: check `show` and the run first.
    Release {
        #[command(flatten)]
        lease: LeaseArgs,
        /// Why, for the audit trail.
        #[arg(long)]
        reason: String,
        /// Who releases it, for the audit trail.
        #[arg(long, default_value = "rebound lease release")]
        by: String,
    },
}

#[derive(clap::Args)]
struct LeaseArgs {
    /// The application the plan names.
    #[arg(long)]
    application: String,
    /// The recovery table (default: RECOVERY_TABLE).
    #[arg(long)]
    table: Option<String>,
    /// The region of the recovery table (default: RECOVERY_REGION, else the configured region).
    #[arg(long)]
    recovery_region: Option<String>,
}

async fn lease(action: LeaseAction) -> ExitCode {
    let (args, release) = match action {
        LeaseAction::Show(args) => (args, None),
        LeaseAction::Release { lease, reason, by } => (lease, Some((reason, by))),
    };
    let Some(name) = args
        .table
        .or_else(|| std::env::var("RECOVERY_TABLE").ok())
        .filter(|t| !t.is_empty())
    else {
        eprintln!("rebound lease: no recovery table: give --table or set RECOVERY_TABLE");
        return ExitCode::from(2);
    };
    let config = match args.recovery_region {
        Some(r) => rebound_shared::aws::in_region(&rebound::region::config().await, &r),
        None => rebound::region::recovery_config().await,
    };
    let table = rebound_shared::table::RecoveryTable::new(&config, name);
    let now = chrono::Utc::now();
    let app = &args.application;
    let done = match release {
        None => table.holder(app, now).await.map(|lease| match lease {
            Some(rebound_shared::table::Lease::HeldBy { owner, expires_at }) => format!(
                "{app}: lease held by {owner} until {} ({} s left)",
                expires_at.to_rfc3339(),
                (expires_at - now).num_seconds()
            ),
            _ => format!("{app}: no lease held"),
        }),
        Some((reason, by)) => table
            .break_lease(app, &by, &reason, now)
            .await
            .map(|lease| match lease {
                Some(rebound_shared::table::Lease::HeldBy { owner, .. }) => {
                    format!("{app}: released the lease of {owner} (audited: {by}: {reason})")
                }
                _ => format!("{app}: no lease held; nothing released"),
            }),
    };
    match done {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rebound lease: {e}");
            ExitCode::from(1)
        }
    }
}

/// A token a local run waits on is answered locally; any other goes to Step Functions.
async fn answer(token: &str, decision: Result<&str, &str>, dir: Option<PathBuf>, region: Option<String>) -> ExitCode {
    let dir = dir.unwrap_or_else(rebound::approvals::default_dir);
    if !rebound::approvals::is_waiting(&dir, token) {
        return cli::answer(token, decision, region).await;
    }
    match rebound::approvals::answer(&dir, token, decision) {
        Ok(path) => {
            eprintln!("answered {token} ({})", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rebound: {e}");
            ExitCode::from(2)
        }
    }
}

/// The static-stability table of a valid plan, towards each of its recovery regions.
fn print_audit(plan: &RecoveryPlan) {
    let by_region = rebound_shared::audit::dependencies_by_region(plan);
    let several = by_region.len() > 1;
    for (region, deps) in &by_region {
        if several {
            println!(
                "\ntowards {region}{}:",
                if *region == plan.recovery_region {
                    " (the first recovery region, where Rebound's stack runs)".to_string()
                } else {
                    format!(
                        " (Rebound's stack, its plan, table and reports stay in {})",
                        plan.recovery_region
                    )
                }
            );
        }
        print_dependencies(plan, deps);
    }
}

fn print_dependencies(plan: &RecoveryPlan, deps: &[rebound_shared::audit::Dependency]) {
    use rebound_shared::audit::Plane;
    println!(
        "{:<22} {:<38} {:<14} {:<8} {:<7} FLAG",
        "STEP", "OPERATION", "REGION", "PLANE", "BLOCKS"
    );
    for d in deps {
        let flag = match (d.flagged, d.acknowledged) {
            (false, _) => "",
            (true, true) => "primary region (acknowledged)",
            (true, false) => "PRIMARY REGION",
        };
        println!(
            "{:<22} {:<38} {:<14} {:<8} {:<7} {flag}",
            d.step,
            d.operation,
            d.region,
            if d.plane == Plane::Control { "control" } else { "data" },
            if d.blocking { "yes" } else { "no" },
        );
    }
    let flagged = deps.iter().filter(|d| d.flagged).count();
    let open = deps.iter().filter(|d| d.open_flag()).count();
    println!(
        "{} operations; {flagged} depend on the primary region {} ({open} not acknowledged)",
        deps.len(),
        plan.primary_region
    );
}

fn validate(plan: PathBuf, audit: bool) -> ExitCode {
    let text = match std::fs::read_to_string(&plan) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("rebound: {}: {e}", plan.display());
            return ExitCode::from(2);
        }
    };
    match RecoveryPlan::from_json(&text) {
        Ok(p) => {
            println!(
                "{}: valid plan for {} ({} -> {})",
                plan.display(),
                p.application,
                p.primary_region,
                p.recovery_regions().join(", else ")
            );
            if audit {
                print_audit(&p);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            for problem in &e.problems {
                println!("{}: {problem}", plan.display());
            }
            ExitCode::from(2)
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // The SDK's own warnings (the region's search, instance metadata off EC2) are its debug
    // output: -vv shows them; the region used is said once (`rebound::region`).
    let level = match cli.verbose {
        0 => "warn,aws_config=error,aws_runtime=error,aws_smithy_runtime=error",
        1 => "info,aws_config=error,aws_runtime=error,aws_smithy_runtime=error",
        _ => "debug",
    };
    rebound_shared::telemetry::init_stderr(level, cli.log_format == LogFormat::Json);
    match cli.command {
        Command::Run(args) => rebound::run::run(args).await,
        Command::Approve {
            execution,
            token,
            by,
            approvals_dir,
            region,
        } => match (execution, token) {
            (Some(execution), _) => cli::answer_execution(&execution, Ok(&by)).await,
            (None, token) => answer(&token.unwrap_or_default(), Ok(&by), approvals_dir, region).await,
        },
        Command::Reject {
            execution,
            token,
            cause,
            approvals_dir,
            region,
        } => match (execution, token) {
            (Some(execution), _) => cli::answer_execution(&execution, Err(&cause)).await,
            (None, token) => answer(&token.unwrap_or_default(), Err(&cause), approvals_dir, region).await,
        },
        Command::Start(args) => cli::start(args).await,
        Command::Reprotect(args) => cli::reprotect(args).await,
        Command::Status(args) => cli::status(args).await,
        Command::Watch { execution, every } => cli::watch(execution, every).await,
        Command::Report { execution, out } => cli::report(execution, out).await,
        Command::Validate { plan, audit } => validate(plan, audit),
        Command::Lease { action } => lease(action).await,
        Command::Steer(command) => rebound::steer::run(command).await,
        Command::Retry { execution } => rebound::steer::retry(&execution).await,
        Command::Drill {
            scenario,
            time_scale,
            report_dir,
            forecast,
            lambda,
            bootstraps,
        } => {
            let runner = match (lambda, bootstraps) {
                (false, _) => drill::Runner::InProcess,
                (true, Some(dir)) => drill::Runner::Lambda { bootstraps: dir },
                (true, None) => match std::env::current_exe() {
                    Ok(exe) => drill::Runner::Lambda {
                        bootstraps: exe.parent().map(std::path::Path::to_path_buf).unwrap_or_default(),
                    },
                    Err(e) => {
                        eprintln!("rebound drill: where this executable is: {e}");
                        return ExitCode::from(2);
                    }
                },
            };
            drill::main(scenario, time_scale, &report_dir, forecast, runner).await
        }
        Command::Bench {
            zones,
            records,
            databases,
            services,
            pairs,
        } => {
            let shape = rebound::bench::Shape {
                zones: zones.max(1),
                records,
                databases,
                services,
            };
            rebound::bench::main(shape, pairs.max(1)).await
        }
    }
}
