//! The few stable error names the state machine matches on. Every function has its own
//! `thiserror` enum; each variant says which [`ErrorKind`] it is, and the Lambda runtime reports
//! that kind's stable name (`Rebound.Transient`, ...) as the error type, never the Rust type name.

use serde::{Deserialize, Serialize};

/// What the caller (the state machine) can do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKind {
    /// The event, the input or the plan is wrong. Retrying cannot help.
    InvalidInput,
    /// The world is not in a state where the step may act (replica lag above the RPO target,
    /// a resource missing or in the wrong state). Retrying immediately cannot help.
    PreconditionFailed,
    /// Throttling, a 5xx, a timeout: retry with backoff.
    Transient,
    /// The step ran and did not reach its goal.
    StepFailed,
}

impl ErrorKind {
    /// The error name the ASL matches in `ErrorEquals`.
    pub const fn error_name(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "Rebound.InvalidInput",
            ErrorKind::PreconditionFailed => "Rebound.PreconditionFailed",
            ErrorKind::Transient => "Rebound.Transient",
            ErrorKind::StepFailed => "Rebound.StepFailed",
        }
    }

    /// All kinds, for documentation and for checking the state machine handles every one.
    pub const ALL: [ErrorKind; 4] = [
        ErrorKind::InvalidInput,
        ErrorKind::PreconditionFailed,
        ErrorKind::Transient,
        ErrorKind::StepFailed,
    ];
}

/// The error an operator sends (`rebound reject`, `aws stepfunctions send-task-failure`) to refuse
/// an approval request.
pub const APPROVAL_REJECTED: &str = "Rebound.ApprovalRejected";
