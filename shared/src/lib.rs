//! Rebound's domain, shared by every Lambda function and the `rebound` command line: the
//! recovery plan, the recovery context and step results, the error names the state machine
//! matches, RTO/RPO arithmetic, and AWS client setup.

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
