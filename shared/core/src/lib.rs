//! Rebound's domain, with no AWS SDK and no Lambda runtime in it: the recovery plan and its
//! checker, the recovery context and step results, the step skeleton, the error names the state
//! machine matches, RTO/RPO arithmetic and the plan audit. `rebound-shared` adds the AWS edge.

/// `Display` for unit enums as their serde names (`pilotLight`, `approvalRequest`): the one
/// spelling the plan, the context, operators and stored ids share. Never `Debug`.
macro_rules! display_as_serde {
    ($($t:ty),+) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match serde_json::to_value(self) {
                    Ok(serde_json::Value::String(name)) => f.write_str(&name),
                    _ => Err(std::fmt::Error),
                }
            }
        }
    )+};
}

pub mod audit;
pub mod capacity;
pub mod context;
pub mod control;
pub mod error;
pub mod forecast;
pub mod objectives;
pub mod plan;
pub mod plan_ref;
pub mod poll;
pub mod report;
pub mod request;
pub mod step;
