//! The few stable error names the state machine matches on, and how AWS SDK errors map to them.
//!
//! Every function has its own `thiserror` enum; each variant says which [`ErrorKind`] it is, and
//! the Lambda runtime reports that kind's stable name (`Rebound.Transient`, ...) as the error type,
//! never the Rust type name, so the ASL `Retry`/`Catch` blocks keep working across refactors.

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub use rebound_core::error::{
    classify, AwsError, ErrorKind, APPROVAL_REJECTED, CANCELLED, DRAINING, DRAIN_SECONDS, PAUSED,
};

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

/// Classifies an SDK error ([`classify`]): throttling, 5xx and network trouble are transient;
/// missing resources and wrong states are preconditions; rejected parameters are invalid input.
pub fn from_sdk<E>(service: &'static str, operation: &'static str, err: &SdkError<E, HttpResponse>) -> AwsError
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

/// A step's failed call about `resource` (`database orders-db`, an ECS service, a record).
pub fn aws_fault<E>(
    resource: impl Into<String>,
    service: &'static str,
    operation: &'static str,
    err: &SdkError<E, HttpResponse>,
) -> rebound_core::step::StepFault
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    rebound_core::step::StepFault::Aws {
        resource: resource.into(),
        source: from_sdk(service, operation, err),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_distinct_rebound_name() {
        let names: std::collections::BTreeSet<_> = ErrorKind::ALL.iter().map(|k| k.error_name()).collect();
        assert_eq!(names.len(), ErrorKind::ALL.len());
        assert!(names.iter().all(|n| n.starts_with("Rebound.")));
    }
}
