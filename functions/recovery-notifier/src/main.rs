// The handler's future, wrapped to catch panics, nests deeper than the default limit allows.
#![recursion_limit = "256"]

use lambda_runtime::{service_fn, Error, LambdaEvent};
use rebound_shared::table::RecoveryTable;
use recovery_notifier::RecoveryNotifier;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rebound_shared::telemetry::init_tracing();
    let config = rebound_shared::aws::load_config().await;
    let io = rebound_shared::entry::StepIo::from_env(&config);
    let io = &io;
    let table = std::env::var("RECOVERY_TABLE").ok().filter(|t| !t.is_empty());
    let notifier = RecoveryNotifier {
        table: table.map(|name| RecoveryTable::new(&config, name)),
        reports: rebound_shared::reports::ReportStore::from_env(&config),
        config,
    };
    let notifier = &notifier;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<rebound_shared::entry::Payload>| async move {
            rebound_shared::entry::invoke_step(&event.payload, io, "recovery-notifier", |payload| {
                notifier.handle(payload, chrono::Utc::now())
            })
            .await
        },
    ))
    .await
}
