use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use service_restoration::ServiceRestoration;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rebound_shared::telemetry::init_tracing();
    let config = rebound_shared::aws::load_recovery_config().await;
    let services = ServiceRestoration::new(&config);
    let services = &services;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        services.handle(event.payload, chrono::Utc::now()).await
    }))
    .await
}
