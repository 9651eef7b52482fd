//! The few stable error names the state machine matches on, and how AWS SDK errors map to them.
//!
//! Every function has its own `thiserror` enum; each variant says which [`ErrorKind`] it is, and
//! the Lambda runtime reports that kind's stable name (`Rebound.Transient`, ...) as the error type,
//! never the Rust type name, so the ASL `Retry`/`Catch` blocks keep working across refactors.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

pub use rebound_core::error::{ErrorKind, APPROVAL_REJECTED};

/// Builds the Lambda runtime's error report: the stable name and the whole cause chain.
pub fn diagnostic(kind: ErrorKind, err: &(dyn std::error::Error + 'static)) -> lambda_runtime::Diagnostic {
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    lambda_runtime::Diagnostic {
        error_type: kind.error_name().to_string(),
        error_message: message,
    }
}

/// Implements `From<$error> for lambda_runtime::Diagnostic` through the error's `kind()`.
#[macro_export]
macro_rules! impl_diagnostic {
    ($error:ty) => {
        impl From<$error> for ::lambda_runtime::Diagnostic {
            fn from(err: $error) -> Self {
                $crate::error::diagnostic(err.kind(), &err)
            }
        }
    };
}

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

impl AwsError {
    /// Classifies an SDK error: throttling, 5xx and network trouble are transient; missing
    /// resources and wrong states are preconditions; rejected parameters are invalid input.
    pub fn from_sdk<E>(service: &'static str, operation: &'static str, err: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let (code, message, kind) = match err {
            SdkError::TimeoutError(_) => ("Timeout".to_string(), display_chain(err), ErrorKind::Transient),
            SdkError::DispatchFailure(_) => ("DispatchFailure".to_string(), display_chain(err), ErrorKind::Transient),
            SdkError::ConstructionFailure(_) => (
                "ConstructionFailure".to_string(),
                display_chain(err),
                ErrorKind::InvalidInput,
            ),
            _ => {
                let code = err.code().unwrap_or("Unknown").to_string();
                let message = err.message().map(str::to_string).unwrap_or_else(|| display_chain(err));
                let kind = classify(&code, status);
                (code, message, kind)
            }
        };
        AwsError {
            service,
            operation,
            code,
            message,
            status,
            kind,
        }
    }
}

fn display_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Maps an AWS error code (and HTTP status) to what the state machine should do.
pub fn classify(code: &str, status: Option<u16>) -> ErrorKind {
    const TRANSIENT: &[&str] = &[
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "RequestThrottled",
        "RequestThrottledException",
        "ProvisionedThroughputExceededException",
        "SlowDown",
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
    if TRANSIENT.contains(&code) {
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

    #[test]
    fn every_kind_has_a_distinct_rebound_name() {
        let names: std::collections::BTreeSet<_> = ErrorKind::ALL.iter().map(|k| k.error_name()).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len());
        assert!(names.iter().all(|n| n.starts_with("Rebound.")));
    }
}
