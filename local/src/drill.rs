//! `rebound drill`: a whole recovery rehearsed against moto's server. It seeds a two-region
//! application, injects the disaster, runs the real state machine through the real handlers,
//! verifies the end state in moto, and reports the timeline, RTO and RPO.

pub mod canary;
mod evidence;
mod facts;
mod held;
mod inject;
mod lambda;
mod operator;
mod report;
mod scenario;
mod seed;
mod stages;
mod verify;

use inject::*;
use lambda::as_lambda;
use operator::OPERATOR;
use report::*;
pub use scenario::Scenario;
pub use seed::region_returns;
use seed::*;
pub use verify::Verified;
use verify::*;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_route53::types::{
    AliasTarget, HealthCheckConfig, HealthCheckType, ResourceRecord, ResourceRecordSet, RrType,
};
use chrono::Utc;
use rebound_moto::faults::{Call, Fault, FaultProxy};
use rebound_moto::{private, MotoServer};
use rebound_shared::aws::Regions;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::asl::{Approval, Interpreter, StateError, Timeline};
use crate::functions::{bind, Bound, Functions};
use rebound_shared::RecoveryContext;

const PLAN: &str = include_str!("../../examples/plan.json");
const DEFINITION: &str = include_str!("../../statemachine/recovery.asl.json");
const PRIMARY: &str = "us-east-1";
const RECOVERY: &str = "us-west-2";

/// The recovery table: lease, cooldown and audit records.
pub const TABLE: &str = "rebound-orders-recovery";

/// Where the notifier leaves every execution's report (the template's `ReportBucket`).
pub const REPORT_BUCKET: &str = "rebound-orders-reports";

/// The template's default ReportRetentionDays: seven years.
const REPORT_RETENTION_DAYS: i32 = 2557;

/// The replica a failback promotes in the primary region.
pub const FAILBACK_DB: &str = "orders-db-use1";
/// Where the application reads its writer's host (the example plan's `writerEndpoints`).
const WRITER_PARAMETER: &str = "/orders/db/host";
const WRITER_SECRET: &str = "orders/db";
/// The application's DynamoDB global table.
const CARTS_TABLE: &str = "orders-carts";
/// The orders queue's consumer, a Lambda function with an event source mapping in each region.
const CONSUMER: &str = "orders-consumer";
/// The plan's custom actions in the drill (one before the failover, one after services), each
/// with what its function answers.
const CUSTOM_ANSWERS: [(&str, &str); 2] = [
    ("drain-primary-queue", "drained 0 messages"),
    ("warm-caches", "3 caches warm"),
];
/// The `eks-and-cache` scenario's EKS cluster and managed node group in the recovery region, and
/// its ElastiCache global datastore's and MemoryDB multi-Region cluster's suffixes and regional
/// members.
const EKS_CLUSTER: &str = "orders-usw2";
const EKS_NODEGROUP: &str = "orders-workers";
/// The workload account the EKS cluster is in, and the role Rebound assumes there (`apps`).
const APPS_ROLE: &str = "arn:aws:iam::222222222222:role/rebound-apps";
const SESSIONS: (&str, &str, &str) = ("orders-sessions", "orders-sessions-use1", "orders-sessions-usw2");
const CARTS: (&str, &str, &str) = ("orders-carts", "orders-carts-use1", "orders-carts-usw2");
/// Its product catalog: a DocumentDB global cluster (`CATALOG-east` the writer, `CATALOG-west`).
const CATALOG: &str = "orders-catalog";
/// The Aurora global database of the `aurora-global` scenario.
const AURORA_GLOBAL: &str = "orders-global";
/// Its own parameter group: the old primary's was made read-only by the failover's fence.
const FAILBACK_PARAMETER_GROUP: &str = "orders-db-use1-params";

/// The alarm, in the recovery region, that the primary records' health check follows when DNS
/// fails over in Route 53's data plane.
const GATE: &str = "orders-primary-gate";

/// How long before the drill the corruption was detected.
const CORRUPTION_MINUTES: i64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error("{0}")]
    Moto(#[from] rebound_moto::HarnessError),
    #[error("seeding {what}: {message}")]
    Seed { what: &'static str, message: String },
    #[error("reading {what} back from moto: {message}")]
    Read { what: &'static str, message: String },
    #[error("writing the report: {0}")]
    Report(#[from] std::io::Error),
    #[error("running the functions as Lambda runs them: {0}")]
    Lambda(String),
}

/// How the state machine's Tasks reach the six functions.
#[derive(Debug, Clone, Default)]
pub enum Runner {
    /// The handlers, in this process.
    #[default]
    InProcess,
    /// Each function's bootstrap (in `bootstraps`) as a process behind a local Lambda Runtime
    /// API, invoked through the Lambda Invoke API ([`crate::lambda`]).
    Lambda { bootstraps: PathBuf },
}

fn seed(what: &'static str) -> impl Fn(String) -> DrillError {
    move |message| DrillError::Seed { what, message }
}

/// Runs the drill and prints and writes its report; with `forecast`, also the RTO the real
/// recovery would take.
pub async fn main(scenario: Scenario, time_scale: f64, report_dir: &Path, forecast: bool, runner: Runner) -> ExitCode {
    match drill_as(scenario, time_scale, report_dir, &[], runner).await {
        Ok((verified, report)) => {
            if forecast {
                print_forecast(&report["forecast"]);
            }
            if verified {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("rebound drill: {e}");
            ExitCode::from(2)
        }
    }
}

/// A seeded application in a private moto, ready for the disaster to be injected.
pub struct Stage {
    pub moto: MotoServer,
    /// The primary region's configuration (and the global services').
    pub global: SdkConfig,
    pub recovery: SdkConfig,
    world: World,
    primary_health: SocketAddr,
}

/// Where the drill keeps the plan, for `PLAN_LOCATION`.
pub const PLAN_LOCATION: &str = "ssm:/rebound/orders/plan";

/// moto's account, whose events start the drill's recoveries.
const ACCOUNT: &str = "123456789012";

impl Stage {
    /// Starts moto and the local endpoints, and seeds the application for `scenario`.
    pub async fn new(scenario: Scenario) -> Result<Stage, DrillError> {
        let moto = MotoServer::start()?;
        let global = moto.config(PRIMARY);
        let recovery = moto.config(RECOVERY);
        let recovery_health = endpoint(200, "{\"status\":\"ok\",\"region\":\"us-west-2\"}").await?;
        let primary_health = endpoint(503, "{\"status\":\"unavailable\",\"region\":\"us-east-1\"}").await?;
        eprintln!(
            "drill: seeding a two-region application at {} (primary {PRIMARY}, recovery {RECOVERY})",
            moto.endpoint()
        );
        // The primary's health endpoint once the region is repaired, probed by a failback.
        let primary_repaired = endpoint(200, "{\"status\":\"ok\",\"region\":\"us-east-1\"}").await?;
        let world = seed_world(
            scenario,
            &global,
            &recovery,
            &format!("http://{recovery_health}/health"),
            &format!("http://{primary_repaired}/health"),
        )
        .await?;
        // The application's own steps answer as their functions would (moto runs no function
        // code): the drain before the failover, the cache warm-up once services run.
        moto.lambda_answers(RECOVERY, &custom_answers(scenario))
            .map_err(|e| DrillError::Seed {
                what: "the custom actions' answers",
                message: e.to_string(),
            })?;
        Ok(Stage {
            moto,
            global,
            recovery,
            world,
            primary_health,
        })
    }

    /// The SQS queue subscribed to the application's topic: every notification lands there.
    pub fn queue_url(&self) -> &str {
        &self.world.queue_url
    }

    /// Injects the disaster; returns the execution input that starts the recovery.
    pub async fn inject(&self, scenario: Scenario) -> Result<Value, DrillError> {
        inject(scenario, &self.global).await
    }
}

pub async fn drill(scenario: Scenario, time_scale: f64, report_dir: &Path) -> Result<bool, DrillError> {
    drill_with(scenario, time_scale, report_dir, &[])
        .await
        .map(|(verified, _)| verified)
}

/// A drill whose AWS calls go through a fault proxy with `faults` (set once the disaster is
/// injected); seeding and the end-state checks read moto directly. Returns whether it was
/// verified, and the report.
pub async fn drill_with(
    scenario: Scenario,
    time_scale: f64,
    report_dir: &Path,
    faults: &[Fault],
) -> Result<(bool, Value), DrillError> {
    // Boxed: a drill's future is large, and a test thread's stack is 2 MiB.
    Box::pin(drill_as(scenario, time_scale, report_dir, faults, Runner::InProcess)).await
}

/// [`drill_with`], the functions run by `runner`.
pub async fn drill_as(
    scenario: Scenario,
    time_scale: f64,
    report_dir: &Path,
    faults: &[Fault],
    runner: Runner,
) -> Result<(bool, Value), DrillError> {
    eprintln!("drill {scenario:?}: starting moto_server");
    let stage = Box::pin(Stage::new(scenario)).await?;
    let Stage {
        moto,
        global,
        recovery,
        world,
        primary_health,
    } = stage;
    // An operator's pause is waited out by the state machine's Retry: at scale 0 that would
    // spin, so the steered drill keeps a small one.
    let time_scale = if scenario == Scenario::OperatorSteers && time_scale <= 0.0 {
        0.01
    } else {
        time_scale
    };
    if time_scale > 0.0 {
        // The whole recovery on one clock: AWS's changes at the same scale as the Wait states.
        moto.set_time_scale(time_scale)
            .map_err(|e| seed("AWS's time scale")(e.to_string()))?;
    }
    let mut faults = faults.to_vec();
    faults.extend(scenario.faults());
    let proxy = if faults.is_empty() {
        None
    } else {
        Some(FaultProxy::start(&moto)?)
    };
    let acting = match &proxy {
        Some(p) => Regions {
            primary: p.config(PRIMARY),
            recovery: p.config(RECOVERY),
        },
        None => Regions {
            primary: global.clone(),
            recovery: recovery.clone(),
        },
    };
    let mut functions = Functions::new(&acting, Some(PLAN_LOCATION.into()), Some(TABLE.into()));
    functions.detector.account = Some(ACCOUNT.into());
    functions.notifier.reports = Some(rebound_shared::reports::ReportStore::new(
        &acting.recovery,
        REPORT_BUCKET,
    ));
    let functions = Arc::new(functions);
    let (bound, lambda) = match &runner {
        Runner::InProcess => (bind(functions.clone()).map_err(DrillError::Lambda)?, None),
        Runner::Lambda { bootstraps } => {
            let (bound, lambda) = as_lambda(bootstraps, &acting.recovery, report_dir).await?;
            (bound, Some(lambda))
        }
    };
    let definition: Value = serde_json::from_str(DEFINITION).map_err(|e| seed("the definition")(e.to_string()))?;
    // A failback and a reprotect follow a failover, once us-east-1 is back; a failback is
    // reprotected first, as an operator would.
    let preludes: &[(Scenario, &str)] = match scenario {
        Scenario::Failback => &[
            (Scenario::RegionOutage, "drill-failover"),
            (Scenario::Reprotect, "drill-reprotect"),
        ],
        Scenario::Reprotect => &[(Scenario::RegionOutage, "drill-failover")],
        _ => &[],
    };
    for &(before, prefix) in preludes {
        eprintln!("drill: first {before:?}");
        let event = match before {
            Scenario::Reprotect => manual_reprotect(),
            _ => inject(before, &global).await?,
        };
        let name = crate::asl::unique_execution_name(prefix);
        if let (Err(e), _) = execute(&functions, bound.clone(), time_scale, &definition, event, &name).await {
            eprintln!("drill: the {before:?} before the {scenario:?} failed: {e}");
            return Ok((false, json!({ "error": e })));
        }
        if before == Scenario::RegionOutage {
            eprintln!("drill: us-east-1 is back");
            region_returns(&global).await?;
        }
    }
    if preludes.is_empty() {
        eprintln!("drill: the primary endpoint http://{primary_health}/health answers 503");
    }
    eprintln!("drill: injecting {scenario:?}");
    let event = inject(scenario, &global).await?;
    if let Some(p) = &proxy {
        eprintln!(
            "drill: faults from now on: {}",
            serde_json::to_string(&faults).unwrap_or_default()
        );
        p.set(&faults)?;
    }
    let name = crate::asl::unique_execution_name("drill");
    let steered = scenario == Scenario::OperatorSteers;
    if steered {
        operator::pause_first(&recovery, &name).await?;
    }
    let wheel = async {
        match (&proxy, steered) {
            (Some(proxy), true) => operator::take_the_wheel(&recovery, proxy, &name).await,
            _ => Ok(Vec::new()),
        }
    };
    let ((outcome, timeline), wheel) = tokio::join!(
        Box::pin(execute(&functions, bound, time_scale, &definition, event, &name)),
        wheel
    );
    let calls = proxy.as_ref().map(FaultProxy::calls).unwrap_or_default();

    let outcome = expanded(outcome, &functions.io.results).await?;
    let ended = Ended::of(&outcome, &world.plan)?;
    let (mut facts, notification, envelopes) = Box::pin(verify(scenario, &ended, &global, &recovery, &world)).await?;
    if steered {
        facts.extend(wheel?);
        facts.push(operator::audited(&recovery, &name).await?);
    }
    let stored = evidence::stored_report(&recovery, &name).await?;
    facts.push(evidence::report_fact(scenario, stored.as_ref()));
    if stored.is_some() {
        facts.push(evidence::kept(&recovery, &name).await);
    }
    let outcome_json = json!(outcome);
    let notified = json!(envelopes);
    facts.push(
        canary::found(
            &recovery,
            &timeline.watched_in,
            &[
                ("the execution's output", &outcome_json),
                ("the notifications", &notified),
            ],
        )
        .await?,
    );
    let execution_report = stored.clone().or_else(|| {
        ended.context().map(|ctx| {
            let execution = rebound_shared::report::Execution {
                name: name.clone(),
                arn: None,
                status: if outcome.is_ok() { "SUCCEEDED" } else { "FAILED" }.into(),
                started_at: ctx.timestamps.decided_at,
                stopped_at: Some(Utc::now()),
            };
            rebound_shared::report::build(ctx, execution, Utc::now())
        })
    });
    let validation = ended.context().and_then(|c| c.results.validation.as_ref());
    let verified = outcome.is_ok() != scenario.refused() && facts.iter().all(|f| f.ok);
    let report = json!({
        "scenario": format!("{scenario:?}"),
        "execution": name,
        "succeeded": outcome.is_ok(),
        "verified": verified,
        "error": outcome.as_ref().err(),
        "timeline": timeline,
        "interpreterMs": timeline.interpreter_ms(),
        "rto": validation.map(|v| &v.rto),
        "rpo": validation.map(|v| &v.rpo),
        // Checks that could not be read (the failed region's side): not counted as passed.
        "unknownChecks": validation
            .map(|v| v.checks.iter().filter(|c| c.unknown).collect::<Vec<_>>())
            .unwrap_or_default(),
        "actions": ended.context().map(actions).unwrap_or_default(),
        "endState": facts,
        "notification": notification.as_ref().map(|n| json!({"subject": n["Subject"], "attributes": n["MessageAttributes"], "copies": n["copies"]})),
        "plan": world.plan,
        "faults": faults,
        "faultedCalls": calls.iter().filter(|c| c.fault.is_some()).collect::<Vec<_>>(),
        "faultedOperations": serde_json::from_value::<rebound_shared::plan::RecoveryPlan>(world.plan.clone())
            .map(|plan| held::explain(&plan, &calls))
            .unwrap_or_default(),
        "apiCalls": call_counts(&calls),
        "executionReport": execution_report,
        // The same recovery on a virtual clock where each operation takes AWS's time.
        "forecast": ended.context().map(rebound_shared::forecast::of_context),
        // Run as Lambda runs them: how many execution environments each function started.
        "lambdaColdStarts": lambda.as_ref().map(crate::lambda::LocalLambda::started),
        "lambdaMaxMemoryUsedMb": lambda.as_ref().map(crate::lambda::LocalLambda::max_memory_used),
    });
    print_summary(&report, &timeline, &facts);
    if time_scale > 0.0 {
        print_scaled_rto(&report, time_scale);
    }
    if let Some(lambda) = &lambda {
        eprintln!(
            "drill: as Lambda ran them: cold starts {:?}; Max Memory Used (MB) {:?}",
            lambda.started(),
            lambda.max_memory_used()
        );
    }
    // The report holds what the recovery found: for its user alone.
    private::create_dir_all(report_dir)?;
    let stem = report_dir.join(&name);
    private::write(
        &stem.with_extension("json"),
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    )?;
    private::write(&stem.with_extension("html"), html(&report, execution_report.as_ref()))?;
    eprintln!(
        "report: {} and {}",
        stem.with_extension("json").display(),
        stem.with_extension("html").display()
    );
    Ok((verified, report))
}

/// How many calls of each operation passed the fault proxy, as `service:Operation`.
fn call_counts(calls: &[Call]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for c in calls {
        let key = format!(
            "{}:{}",
            c.service.as_deref().unwrap_or("?"),
            c.operation.as_deref().unwrap_or("?")
        );
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// Runs the state machine once through `bound`'s handlers.
async fn execute(
    functions: &Functions,
    (tasks, substitutions): Bound,
    time_scale: f64,
    definition: &Value,
    input: Value,
    name: &str,
) -> (Result<Value, crate::asl::StateError>, Timeline) {
    let invoker = functions.invoker.clone();
    let mut interpreter = Interpreter::new(tasks, substitutions);
    interpreter.invoker = Some(invoker);
    interpreter.time_scale = time_scale;
    interpreter.verbose = true;
    interpreter.approval = Approval::Auto;
    interpreter.watch(canary::values());
    eprintln!("drill: running statemachine/recovery.asl.json as execution {name}");
    let outcome = interpreter.execute(definition, input, name).await;
    (outcome, interpreter.timeline())
}

/// What the custom actions' functions answer, in the order the scenario invokes them: none
/// where nothing is recovered, the step after services alone on a service restore, and a
/// failback's own after the failover before it.
fn custom_answers(scenario: Scenario) -> Vec<Value> {
    let [(_, drained), (_, warmed)] = CUSTOM_ANSWERS;
    let runs = match scenario {
        Scenario::ReadinessCheck | Scenario::LaggingReplica => vec![],
        Scenario::ServiceOutage => vec![warmed],
        Scenario::Failback => vec![drained, warmed, drained, warmed],
        // The failover's; the reprotect runs none.
        // The warm-up's call hangs in the proxy and never reaches moto.
        Scenario::OperatorSteers => vec![drained],
        _ => vec![drained, warmed],
    };
    runs.into_iter().map(|a| json!(a)).collect()
}
