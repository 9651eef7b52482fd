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

use rebound_shared::aws::{chosen_region, PerRecoveryRegion, Regions};
use rebound_shared::entry::{guarded, run_step, StepIo};
use rebound_shared::results::ResultStore;
use rebound_shared::source::PlanSource;

use crate::asl::{StateError, TaskHandler};

/// The functions, built once, with clients for the global and the recovery region.
pub struct Functions {
    pub detector: Detector,
    pub dns: PerRecoveryRegion<DnsFailover>,
    pub databases: PerRecoveryRegion<DatabaseFailover>,
    pub services: PerRecoveryRegion<ServiceRestoration>,
    pub validator: PerRecoveryRegion<RecoveryValidator>,
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
            dns: PerRecoveryRegion::new(regions, DnsFailover::new),
            databases: PerRecoveryRegion::new(regions, DatabaseFailover::new),
            services: PerRecoveryRegion::new(regions, ServiceRestoration::new),
            validator: PerRecoveryRegion::new(regions, RecoveryValidator::new),
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
        let permissions = recovery_validator::permissions::Permissions::from_env(regions)?;
        let checked = permissions.is_some();
        let stack = regions.recovery_region();
        self.validator = PerRecoveryRegion::new(regions, move |regions| {
            let mut validator = RecoveryValidator::new(regions);
            validator.permissions = permissions.clone();
            validator.stack_region = stack.clone();
            validator
        });
        self.notifier.reports = rebound_shared::reports::ReportStore::from_env(&regions.recovery);
        if self.notifier.reports.is_none() {
            skipped.push(
                "no report bucket (REPORT_BUCKET): this run leaves no evidence report in S3, which a deployed execution does",
            );
        }
        if !checked {
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
                let this = &*f;
                // Each step's future is built on the heap by its closure: this block's frame,
                // under every nested state of a drill, holds a pointer rather than the largest
                // step's future (debug builds lay each out on the stack first).
                let done = match name {
                    "disaster-detector" => guarded(Box::pin(f.detector.detect_state(payload, now))).await,
                    "dns-failover" => {
                        run_step(payload, io, name, |p| async move {
                            let dns = this.dns.get(chosen_region(&p));
                            Box::pin(dns.handle(p, now)).await
                        })
                        .await
                    }
                    "database-failover" => {
                        run_step(payload, io, name, |p| async move {
                            let databases = this.databases.get(chosen_region(&p));
                            Box::pin(databases.handle(p, now)).await
                        })
                        .await
                    }
                    "service-restoration" => {
                        run_step(payload, io, name, |p| async move {
                            let services = this.services.get(chosen_region(&p));
                            Box::pin(services.handle(p, now)).await
                        })
                        .await
                    }
                    "recovery-validator" => {
                        run_step(payload, io, name, |p| async move {
                            let validator = this.validator.get(chosen_region(&p));
                            Box::pin(validator.handle(p, now)).await
                        })
                        .await
                    }
                    _ => run_step(payload, io, name, |p| Box::pin(f.notifier.handle(p, now))).await,
                };
                done.map_err(failed)
            })
        });
        let handler = under_timeout(name, limit, handler);
        tasks.insert(arn(name), handler);
    }
    Ok((tasks, substitutions))
}

/// The six functions as Lambda runs them: each one's bootstrap (`bootstraps/<name>`, as
/// `cargo build` leaves it), timeout and memory from template.yaml, and the template's
/// environment resolved from `stack`, acting through `acting` (its region, endpoint and
/// credentials, as a deployed function gets them from its region and role). Returns the specs,
/// and the variables left unset because `stack` lacks what they name.
pub async fn lambda_specs(
    bootstraps: &std::path::Path,
    stack: &HashMap<String, String>,
    acting: &aws_config::SdkConfig,
) -> Result<(Vec<crate::lambda::FunctionSpec>, Vec<String>), String> {
    let mut lambda_env = std::collections::BTreeMap::new();
    if let Some(region) = acting.region() {
        lambda_env.insert("AWS_REGION".to_string(), region.to_string());
        lambda_env.insert("AWS_DEFAULT_REGION".to_string(), region.to_string());
    }
    if let Some(endpoint) = acting.endpoint_url() {
        lambda_env.insert("AWS_ENDPOINT_URL".to_string(), endpoint.to_string());
    }
    if let Some(provider) = acting.credentials_provider() {
        use aws_credential_types::provider::ProvideCredentials;
        let creds = provider
            .provide_credentials()
            .await
            .map_err(|e| format!("no credentials to give the functions: {e}"))?;
        lambda_env.insert("AWS_ACCESS_KEY_ID".to_string(), creds.access_key_id().to_string());
        lambda_env.insert(
            "AWS_SECRET_ACCESS_KEY".to_string(),
            creds.secret_access_key().to_string(),
        );
        if let Some(token) = creds.session_token() {
            lambda_env.insert("AWS_SESSION_TOKEN".to_string(), token.to_string());
        }
    }
    let mut specs = Vec::new();
    let mut unset = Vec::new();
    for (key, name) in FUNCTIONS {
        let id = key.strip_suffix("Arn").unwrap_or(key);
        let settings = crate::template::settings_for(key)?;
        let (mut environment, missing) = crate::template::environment(crate::template::TEMPLATE, id, stack)?;
        unset.extend(missing.into_iter().map(|m| format!("{name}: {m}")));
        environment.extend(lambda_env.clone());
        let bootstrap = bootstraps.join(name);
        if !bootstrap.is_file() {
            return Err(format!(
                "no bootstrap for {name} at {}: build the functions first (cargo build --workspace --bins)",
                bootstrap.display()
            ));
        }
        specs.push(crate::lambda::FunctionSpec {
            name: name.to_string(),
            bootstrap,
            environment,
            timeout: settings.timeout(),
            memory_mb: settings.memory_mb,
        });
    }
    Ok((specs, unset))
}

/// Task handlers that invoke the six functions through the Lambda Invoke API at `endpoint`,
/// as Step Functions' `lambda:invoke` does: the function's timeout is Lambda's to enforce.
pub fn through_lambda(endpoint: &str, config: &aws_config::SdkConfig) -> Bound {
    let config = config
        .to_builder()
        .endpoint_url(endpoint)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
        // A synchronous invocation lasts as long as the function: no read timeout of its own.
        .timeout_config(aws_config::timeout::TimeoutConfig::disabled())
        .build();
    let client = aws_sdk_lambda::Client::new(&config);
    let mut tasks: HashMap<String, TaskHandler> = HashMap::new();
    let mut substitutions = HashMap::new();
    for (key, name) in FUNCTIONS {
        substitutions.insert(key.to_string(), arn(name));
        let client = client.clone();
        let handler: TaskHandler = Arc::new(move |payload: Value| {
            let client = client.clone();
            Box::pin(async move { crate::invoke::invoke(&client, &arn(name), payload).await })
        });
        tasks.insert(arn(name), handler);
    }
    (tasks, substitutions)
}
