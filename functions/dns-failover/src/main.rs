use dns_failover::DnsFailover;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::value::RawValue;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rebound_shared::telemetry::init_tracing();
    let config = rebound_shared::aws::load_config().await;
    let recovery = rebound_shared::aws::load_recovery_config().await;
    let dns = DnsFailover::new(&config, &recovery);
    let dns = &dns;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| async move {
        rebound_shared::entry::invoke(&event.payload, |payload| dns.handle(payload, chrono::Utc::now())).await
    }))
    .await
}
