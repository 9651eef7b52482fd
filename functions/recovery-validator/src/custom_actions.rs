//! Readiness of the plan's custom actions: each function exists and can be invoked where its ARN
//! says, found before a recovery needs it rather than halfway through one.

use aws_sdk_lambda::error::ProvideErrorMetadata;
use rebound_shared::context::{Check, RecoveryContext};

use crate::{check, RecoveryValidator};

impl RecoveryValidator {
    pub(crate) async fn custom_action_checks(&self, ctx: &RecoveryContext) -> Vec<Check> {
        let mut checks = Vec::new();
        for action in &ctx.plan.custom_actions {
            let name = format!("custom action {}", action.name);
            // A function given by name is invoked where the state machine runs: Rebound's stack.
            let region = action.function_arn.split(':').nth(3).unwrap_or(&self.stack_region);
            let lambda = aws_sdk_lambda::Client::from_conf(
                self.lambda
                    .config()
                    .to_builder()
                    .region(aws_sdk_lambda::config::Region::new(region.to_string()))
                    .build(),
            );
            let found = lambda.get_function().function_name(&action.function_arn).send().await;
            checks.push(match found {
                Ok(out) => {
                    let state = out
                        .configuration()
                        .and_then(|c| c.state())
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_else(|| "Active".into());
                    check(name, state == "Active", format!("{} is {state}", action.function_arn))
                }
                Err(e) if e.code() == Some("ResourceNotFoundException") => {
                    check(name, false, format!("no such function: {}", action.function_arn))
                }
                // The primary region may be the one that failed: a function kept there is a
                // risk the plan's audit names, not a reason to refuse.
                Err(e) if region == ctx.plan.primary_region => Check::unknown(
                    name,
                    format!("UNKNOWN: {region} did not answer for {} ({e})", action.function_arn),
                ),
                Err(e) => check(name, false, format!("could not be read: {e}")),
            });
        }
        checks
    }
}
