//! Rebound's domain, shared by every Lambda function and the `rebound` command line: the
//! recovery plan, the recovery context and step results, the error names the state machine
//! matches, RTO/RPO arithmetic, and AWS client setup.

pub use rebound_core::{audit, capacity, context, control, forecast, objectives, plan, plan_ref, report, step};

pub mod accounts;
pub mod aws;
pub mod capacities;
pub mod datastores;
pub mod dns;
pub mod endpoints;
pub mod entry;
pub mod error;
pub mod event_streams;
pub mod global_tables;
pub mod kubernetes;
pub mod metrics;
pub mod peaks;
pub mod rds;
pub mod reports;
pub mod results;
pub mod source;
pub mod steer;
pub mod table;

pub mod telemetry;

pub use context::RecoveryContext;
pub use error::{AwsError, ErrorKind};
pub use plan::RecoveryPlan;
