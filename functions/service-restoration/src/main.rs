use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::value::RawValue;
use service_restoration::ServiceRestoration;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rebound_shared::telemetry::init_tracing();
    let config = rebound_shared::aws::load_recovery_config().await;
    let services = ServiceRestoration::new(&config);
    let services = &services;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| async move {
        rebound_shared::entry::invoke(&event.payload, |payload| services.handle(payload, chrono::Utc::now())).await
    }))
    .await
}
