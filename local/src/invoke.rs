//! `lambda:invoke` of a function that is not one of Rebound's own (a plan's custom action):
//! called through the Lambda API of the configured endpoint, in the region its ARN names, and
//! its answer mapped as Step Functions maps it: the payload on success; a function error as the
//! error's `errorType` (`Lambda.Unknown` without one) with the error document as the cause; a
//! failed call as `Lambda.<code>`, which the definition's Retry matches.

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_smithy_types::Blob;
use serde_json::Value;

use crate::asl::{Invoker, StateError};

/// An invoker over `config` (credentials, endpoint), for functions in any region.
pub fn invoker(config: &SdkConfig) -> Invoker {
    let config = config.clone();
    Arc::new(move |function: String, payload: Value| {
        let config = config.clone();
        Box::pin(async move {
            let region = function.split(':').nth(3).filter(|r| !r.is_empty());
            let config = match region {
                Some(r) => rebound_shared::aws::in_region(&config, r),
                None => config,
            };
            // Step Functions' integration makes one call per attempt: the definition's Retry is
            // the only retry, as in AWS.
            let config = config
                .to_builder()
                .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
                .build();
            invoke(&aws_sdk_lambda::Client::new(&config), &function, payload).await
        })
    })
}

/// One synchronous invocation (`RequestResponse`).
pub async fn invoke(lambda: &aws_sdk_lambda::Client, function: &str, payload: Value) -> Result<Value, StateError> {
    let body = serde_json::to_vec(&payload).map_err(|e| StateError::runtime(e.to_string()))?;
    let out = lambda
        .invoke()
        .function_name(function)
        .payload(Blob::new(body))
        .send()
        .await
        .map_err(|e| {
            let code = match &e {
                aws_sdk_lambda::error::SdkError::TimeoutError(_)
                | aws_sdk_lambda::error::SdkError::DispatchFailure(_) => "SdkClientException".to_string(),
                other => other.code().unwrap_or("ServiceException").to_string(),
            };
            let message = e.message().map(str::to_string).unwrap_or_else(|| e.to_string());
            StateError::new(format!("Lambda.{code}"), format!("{function}: {message}"))
        })?;
    let answer = out.payload.map(|b| b.into_inner()).unwrap_or_default();
    let value: Value = if answer.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&answer).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&answer).into_owned()))
    };
    if out.function_error.is_some() {
        let error = value["errorType"].as_str().unwrap_or("Lambda.Unknown").to_string();
        return Err(StateError::new(error, value.to_string()));
    }
    Ok(value)
}
