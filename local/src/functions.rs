//! The six Lambda handlers, in-process, as Task resources for the interpreter.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use database_failover::DatabaseFailover;
use disaster_detector::Detector;
use dns_failover::DnsFailover;
use recovery_notifier::RecoveryNotifier;
use recovery_validator::RecoveryValidator;
use serde_json::Value;
use service_restoration::ServiceRestoration;

use rebound_shared::aws::Regions;
use rebound_shared::entry::{guarded, run_step, StepIo};
use rebound_shared::results::ResultStore;
use rebound_shared::source::PlanSource;

use crate::asl::{StateError, TaskHandler};

/// The functions, built once, with clients for the global and the recovery region.
pub struct Functions {
    pub detector: Detector,
    pub dns: DnsFailover,
    pub databases: DatabaseFailover,
    pub services: ServiceRestoration,
    pub validator: RecoveryValidator,
    pub notifier: RecoveryNotifier,
    /// Reads the plan a context names, and keeps results too large for the state.
    pub io: StepIo,
    /// Invokes the plan's custom actions through the Lambda API of the configured endpoint.
    pub invoker: crate::asl::Invoker,
}

impl Functions {
    /// `table` is the recovery table (lease, cooldown, audit), in the recovery region.
    pub fn new(regions: &Regions, plan_location: Option<String>, table: Option<String>) -> Self {
        let (global, recovery) = (&regions.primary, &regions.recovery);
        Functions {
            detector: Detector::new(recovery, plan_location, table.clone()),
            dns: DnsFailover::new(regions),
            databases: DatabaseFailover::new(regions),
            services: ServiceRestoration::new(regions),
            validator: RecoveryValidator::new(regions),
            invoker: crate::invoke::invoker(recovery),
            io: StepIo {
                plans: PlanSource::new(recovery),
                results: ResultStore {
                    table: table
                        .clone()
                        .filter(|t| !t.is_empty())
                        .map(|name| rebound_shared::table::RecoveryTable::new(recovery, name)),
                },
            },
            notifier: RecoveryNotifier {
                config: global.clone(),
                table: table
                    .filter(|t| !t.is_empty())
                    .map(|name| rebound_shared::table::RecoveryTable::new(recovery, name)),
                reports: None,
            },
        }
    }
}

impl Functions {
    /// What a deployed execution does besides its steps: the evidence report (`REPORT_BUCKET`)
    /// and the readiness check's IAM check (`ACTING_ROLES`). A local run does each where the
    /// environment gives what it needs; returns what it skips, to be said.
    pub fn as_deployed(&mut self, regions: &Regions) -> Result<Vec<&'static str>, String> {
        let mut skipped = Vec::new();
        self.validator.permissions = recovery_validator::permissions::Permissions::from_env(regions)?;
        self.notifier.reports = rebound_shared::reports::ReportStore::from_env(&regions.recovery);
        if self.notifier.reports.is_none() {
            skipped.push(
                "no report bucket (REPORT_BUCKET): this run leaves no evidence report in S3, which a deployed execution does",
            );
        }
        if self.validator.permissions.is_none() {
            skipped.push(
                "no acting roles (ACTING_ROLES): readiness does not check IAM permissions, which a deployed execution does; this run acts with your own credentials",
            );
        }
        Ok(skipped)
    }
}

/// The state machine's `${...}FunctionArn` substitutions, pointing at local ARNs.
pub const FUNCTIONS: [(&str, &str); 6] = [
    ("DisasterDetectorFunctionArn", "disaster-detector"),
    ("DnsFailoverFunctionArn", "dns-failover"),
    ("DatabaseFailoverFunctionArn", "database-failover"),
    ("ServiceRestorationFunctionArn", "service-restoration"),
    ("RecoveryValidatorFunctionArn", "recovery-validator"),
    ("RecoveryNotifierFunctionArn", "recovery-notifier"),
];

fn arn(name: &str) -> String {
    format!("arn:aws:lambda:local:000000000000:function:{name}")
}

/// What a handler's error looks like to Step Functions: its Diagnostic error type and message.
fn failed(d: lambda_runtime::Diagnostic) -> StateError {
    StateError::new(d.error_type, d.error_message)
}

/// Lambda's answer when a function outlives its `Timeout`: the invocation ends, and Step
/// Functions sees the function error `Sandbox.Timedout`.
pub const LAMBDA_TIMED_OUT: &str = "Sandbox.Timedout";

/// Task handlers by local ARN, and the `${...}` substitutions naming them.
pub type Bound = (HashMap<String, TaskHandler>, HashMap<String, String>);

/// `handler` as Lambda runs function `name`: ended after `limit` with `Sandbox.Timedout`.
pub fn under_timeout(name: &'static str, limit: std::time::Duration, handler: TaskHandler) -> TaskHandler {
    Arc::new(move |payload: Value| {
        let run = handler(payload);
        Box::pin(async move {
            match tokio::time::timeout(limit, run).await {
                Ok(done) => done,
                Err(_) => Err(StateError::new(
                    LAMBDA_TIMED_OUT,
                    format!("{name}: Task timed out after {:.2} seconds", limit.as_secs_f64()),
                )),
            }
        })
    })
}

/// Task handlers by local ARN, and the substitutions naming them. Each runs under its function's
/// `Timeout` from template.yaml, as Lambda runs it.
pub fn bind(functions: Arc<Functions>) -> Result<Bound, String> {
    let mut tasks: HashMap<String, TaskHandler> = HashMap::new();
    let mut substitutions = HashMap::new();
    for (key, name) in FUNCTIONS {
        substitutions.insert(key.to_string(), arn(name));
        let limit = crate::template::settings_for(key)?.timeout();
        let f = functions.clone();
        let handler: TaskHandler = Arc::new(move |payload: Value| {
            let f = f.clone();
            Box::pin(async move {
                let now = Utc::now();
                let io = &f.io;
                let done = match name {
                    "disaster-detector" => guarded(f.detector.detect_state(payload, now)).await,
                    "dns-failover" => run_step(payload, io, name, |p| f.dns.handle(p, now)).await,
                    "database-failover" => run_step(payload, io, name, |p| f.databases.handle(p, now)).await,
                    "service-restoration" => run_step(payload, io, name, |p| f.services.handle(p, now)).await,
                    "recovery-validator" => run_step(payload, io, name, |p| f.validator.handle(p, now)).await,
                    _ => run_step(payload, io, name, |p| f.notifier.handle(p, now)).await,
                };
                done.map_err(failed)
            })
        });
        let handler = under_timeout(name, limit, handler);
        tasks.insert(arn(name), handler);
    }
    Ok((tasks, substitutions))
}
