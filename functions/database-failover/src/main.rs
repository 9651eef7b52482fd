// The handler's future, wrapped to catch panics, nests deeper than the default limit allows.
#![recursion_limit = "256"]

use database_failover::DatabaseFailover;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use rebound_shared::aws::{chosen_region, PerRecoveryRegion};

#[tokio::main]
async fn main() -> Result<(), Error> {
    rebound_shared::telemetry::init_tracing();
    let regions = rebound_shared::aws::load_regions().await;
    let databases = PerRecoveryRegion::new(&regions, DatabaseFailover::new);
    let databases = &databases;
    let io = rebound_shared::entry::StepIo::from_env(&regions.recovery);
    let io = &io;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<rebound_shared::entry::Payload>| async move {
            rebound_shared::entry::invoke_step(&event.payload, io, "database-failover", |payload| {
                let databases = databases.get(chosen_region(&payload));
                async move { databases.handle(payload, chrono::Utc::now()).await }
            })
            .await
        },
    ))
    .await
}
