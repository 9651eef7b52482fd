// The handler's future, wrapped to catch panics, nests deeper than the default limit allows.
#![recursion_limit = "256"]

use lambda_runtime::{service_fn, Error, LambdaEvent};
use rebound_shared::aws::{chosen_region, PerRecoveryRegion};
use recovery_validator::permissions::Permissions;
use recovery_validator::RecoveryValidator;

#[tokio::main]
async fn main() -> Result<(), Error> {
    rebound_shared::telemetry::init_tracing();
    let regions = rebound_shared::aws::load_regions().await;
    // The acting functions' roles, whose permissions readiness checks.
    let permissions = Permissions::from_env(&regions)?;
    let stack = regions.recovery_region();
    let validator = PerRecoveryRegion::new(&regions, move |regions| {
        let mut validator = RecoveryValidator::new(regions);
        validator.permissions = permissions.clone();
        validator.stack_region = stack.clone();
        validator
    });
    let validator = &validator;
    let io = rebound_shared::entry::StepIo::from_env(&regions.recovery);
    let io = &io;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<rebound_shared::entry::Payload>| async move {
            rebound_shared::entry::invoke_step(&event.payload, io, "recovery-validator", |payload| {
                let validator = validator.get(chosen_region(&payload));
                async move { validator.handle(payload, chrono::Utc::now()).await }
            })
            .await
        },
    ))
    .await
}
