// The handler's future, wrapped to catch panics, nests deeper than the default limit allows.
#![recursion_limit = "256"]

use database_failover::DatabaseFailover;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::value::RawValue;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rebound_shared::telemetry::init_tracing();
    let recovery = rebound_shared::aws::load_recovery_config().await;
    let primary = rebound_shared::aws::load_primary_config().await;
    let databases = DatabaseFailover::new(&recovery, &primary);
    let databases = &databases;
    let io = rebound_shared::entry::StepIo::from_env(&recovery);
    let io = &io;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| async move {
        rebound_shared::entry::invoke_step(&event.payload, io, "database-failover", |payload| {
            databases.handle(payload, chrono::Utc::now())
        })
        .await
    }))
    .await
}
