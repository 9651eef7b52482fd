// The handler's future, wrapped to catch panics, nests deeper than the default limit allows.
#![recursion_limit = "256"]

use lambda_runtime::{service_fn, Error, LambdaEvent};
use rebound_shared::aws::{chosen_region, PerRecoveryRegion};
use service_restoration::ServiceRestoration;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rebound_shared::telemetry::init_tracing();
    let regions = rebound_shared::aws::load_regions().await;
    let config = regions.recovery.clone();
    let services = PerRecoveryRegion::new(&regions, ServiceRestoration::new);
    let services = &services;
    let io = rebound_shared::entry::StepIo::from_env(&config);
    let io = &io;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<rebound_shared::entry::Payload>| async move {
            rebound_shared::entry::invoke_step(&event.payload, io, "service-restoration", |payload| {
                let services = services.get(chosen_region(&payload));
                async move { services.handle(payload, chrono::Utc::now()).await }
            })
            .await
        },
    ))
    .await
}
