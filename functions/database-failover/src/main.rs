use database_failover::DatabaseFailover;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rebound_shared::telemetry::init_tracing();
    let recovery = rebound_shared::aws::load_recovery_config().await;
    let primary = rebound_shared::aws::load_primary_config().await;
    let databases = DatabaseFailover::new(&recovery, &primary);
    let databases = &databases;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        databases.handle(event.payload, chrono::Utc::now()).await
    }))
    .await
}
