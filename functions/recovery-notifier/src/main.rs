use lambda_runtime::{service_fn, Error, LambdaEvent};
use recovery_notifier::RecoveryNotifier;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rebound_shared::telemetry::init_tracing();
    let notifier = RecoveryNotifier {
        config: rebound_shared::aws::load_config().await,
    };
    let notifier = &notifier;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        notifier.handle(event.payload, chrono::Utc::now()).await
    }))
    .await
}
