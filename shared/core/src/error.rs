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

/// What a step fails with while an operator holds the recovery (`rebound pause`): the state
/// machine retries it until `rebound resume`.
pub const PAUSED: &str = "Rebound.Paused";

/// What a step fails with once an operator cancelled the recovery (`rebound cancel`): the
/// failure path reports and notifies it as cancelled.
pub const CANCELLED: &str = "Rebound.Cancelled";

/// What database-failover fails with while a switchover waits for a replica to catch up with
/// its fenced writer: the state machine tries again (every 15 s, for 10 minutes) until it has,
/// or until an operator switches the switchover to ungraceful (`rebound ungraceful`).
pub const DRAINING: &str = "Rebound.Draining";

/// How long a switchover waits for its replicas to drain (the state machine's `Rebound.Draining`
/// retrier: 40 tries, 15 s apart). A replica further behind than this is not fenced for: the
/// switchover is refused before any change.
pub const DRAIN_SECONDS: u64 = 600;

/// A failed AWS call, classified where it was made, keeping the service's own code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "camelCase")]
#[error("{service} {operation} failed ({code}): {message}")]
pub struct AwsError {
    pub service: &'static str,
    pub operation: &'static str,
    pub code: String,
    pub message: String,
    pub status: Option<u16>,
    pub kind: ErrorKind,
}

/// The codes AWS services throttle with: the service answered, and asks to be called later.
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "ProvisionedThroughputExceededException",
    "SlowDown",
];

impl AwsError {
    /// The service answered with throttling: it is up, and busy.
    pub fn is_throttling(&self) -> bool {
        THROTTLING.contains(&self.code.as_str())
    }
}

/// Maps an AWS error code (and HTTP status) to what the state machine should do.
pub fn classify(code: &str, status: Option<u16>) -> ErrorKind {
    const TRANSIENT: &[&str] = &[
        "PriorRequestNotComplete",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalError",
        "InternalServerError",
        "InternalServiceError",
        "RequestTimeout",
        "RequestTimeoutException",
        "TransactionInProgressException",
    ];
    const INVALID: &[&str] = &[
        "ValidationError",
        "ValidationException",
        "InvalidParameterValue",
        "InvalidParameterValueException",
        "InvalidParameterCombination",
        "InvalidParameterException",
        "InvalidParameter",
        "InvalidInput",
        "InvalidChangeBatch",
        "InvalidArgument",
        "MalformedQueryString",
        "MissingParameter",
    ];
    if TRANSIENT.contains(&code) || THROTTLING.contains(&code) {
        return ErrorKind::Transient;
    }
    if INVALID.contains(&code) {
        return ErrorKind::InvalidInput;
    }
    let lower = code.to_ascii_lowercase();
    if lower.contains("notfound")
        || lower.starts_with("nosuch")
        || (lower.starts_with("invalid") && lower.contains("state"))
        || lower == "conditionalcheckfailedexception"
    {
        return ErrorKind::PreconditionFailed;
    }
    match status {
        Some(429) => ErrorKind::Transient,
        Some(s) if s >= 500 => ErrorKind::Transient,
        _ => ErrorKind::StepFailed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_and_server_errors_are_transient() {
        assert_eq!(classify("Throttling", Some(400)), ErrorKind::Transient);
        assert_eq!(classify("PriorRequestNotComplete", Some(400)), ErrorKind::Transient);
        assert_eq!(classify("Whatever", Some(503)), ErrorKind::Transient);
        assert_eq!(classify("Whatever", Some(429)), ErrorKind::Transient);
    }

    #[test]
    fn missing_resources_and_wrong_states_are_preconditions() {
        assert_eq!(classify("DBInstanceNotFound", Some(404)), ErrorKind::PreconditionFailed);
        assert_eq!(classify("NoSuchHostedZone", Some(404)), ErrorKind::PreconditionFailed);
        assert_eq!(
            classify("InvalidDBInstanceState", Some(400)),
            ErrorKind::PreconditionFailed
        );
        assert_eq!(classify("ParameterNotFound", Some(400)), ErrorKind::PreconditionFailed);
    }

    #[test]
    fn rejected_parameters_are_invalid_input_and_the_rest_failed_steps() {
        assert_eq!(classify("InvalidChangeBatch", Some(400)), ErrorKind::InvalidInput);
        assert_eq!(classify("AccessDenied", Some(403)), ErrorKind::StepFailed);
    }
}
