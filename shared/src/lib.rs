//! Rebound's domain, shared by every Lambda function and the `rebound` command line: the
//! recovery plan, the recovery context and step results, the error names the state machine
//! matches, RTO/RPO arithmetic, and AWS client setup.

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
pub mod aws;
pub mod context;
pub mod entry;
pub mod error;
pub mod objectives;
pub mod plan;
pub mod results;
pub mod source;
pub mod step;
pub mod table;
pub mod telemetry;

pub use context::RecoveryContext;
pub use error::{AwsError, ErrorKind};
pub use plan::RecoveryPlan;
