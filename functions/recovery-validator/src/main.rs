use lambda_runtime::{service_fn, Error, LambdaEvent};
use recovery_validator::RecoveryValidator;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rebound_shared::telemetry::init_tracing();
    let global = rebound_shared::aws::load_primary_config().await;
    let recovery = rebound_shared::aws::load_recovery_config().await;
    let validator = RecoveryValidator::new(&global, &recovery);
    let validator = &validator;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        validator.handle(event.payload, chrono::Utc::now()).await
    }))
    .await
}
