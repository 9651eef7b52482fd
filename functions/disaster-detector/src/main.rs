// The handler's future, wrapped to catch panics, nests deeper than the default limit allows.
#![recursion_limit = "256"]

use disaster_detector::Detector;
use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    rebound_shared::telemetry::init_tracing();
    let config = rebound_shared::aws::load_config().await;
    let mut detector = Detector::new(
        &config,
        std::env::var("PLAN_LOCATION").ok(),
        std::env::var("RECOVERY_TABLE").ok(),
    );
    detector.allow_start_plan = std::env::var("ALLOW_START_PLAN").is_ok_and(|v| v == "true");
    detector.account = std::env::var("STACK_ACCOUNT").ok().filter(|a| !a.is_empty());
    let detector = &detector;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<rebound_shared::entry::Payload>| async move {
            rebound_shared::entry::invoke(&event.payload, |payload| {
                detector.detect_state(payload, chrono::Utc::now())
            })
            .await
        },
    ))
    .await
}
