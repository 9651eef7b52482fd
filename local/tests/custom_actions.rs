//! The plan's custom actions: invoked by the state machine (`lambda:invoke` with the function
//! from the plan) through moto's Lambda API, whose answers are scripted (moto runs no function
//! code here); a function error, which moto cannot answer, through scripted SDK responses.

mod common;

use aws_sdk_lambda::operation::invoke::InvokeOutput;
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use aws_smithy_types::Blob;
use rebound::drill::{drill_with, Scenario};
use rebound::invoke::invoke;
use rebound_moto::faults::Fault;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_action_that_stops_the_recovery_stops_it_and_one_that_does_not_is_recorded() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Lambda in the recovery region answers every Invoke with a server error.
    let faults = [Fault::status(500)
        .service("lambda")
        .region("us-west-2")
        .operation("Invoke")];
    let (verified, report) = drill_with(Scenario::RegionOutage, 0.0, dir.path(), &faults)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!verified, "the recovery must not be reported verified");
    // The drain (stopOnFailure: false) failed and the failover went on; the cache warm-up
    // (stopOnFailure: true) failed after services were restored, and stopped the recovery.
    assert_eq!(
        report["error"]["Error"], "Rebound.CustomActionFailed",
        "{}",
        report["error"]
    );
    let cause = report["error"]["Cause"].as_str().unwrap_or_default();
    assert!(
        cause.contains("warm-caches") && cause.contains("Lambda.ServiceException"),
        "{cause}"
    );
    let states: Vec<&str> = report["timeline"]["transitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["state"].as_str())
        .collect();
    for state in [
        "BeforeFailoverActionFailureNoted",
        "InitiateFailover",
        "AfterServicesStopRecovery",
    ] {
        assert!(states.contains(&state), "{state} in {states:?}");
    }
    // No round confirmed the recovery: the execution stopped before it (the rounds beside
    // the custom actions stopped with them).
    assert!(!states.contains(&"ConfirmRecovery"), "{states:?}");
    assert!(!states.contains(&"SendNotification"), "{states:?}");
    // moto: the failover itself went through.
    let promoted = report["endState"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|f| f["what"] == "orders-db-usw2 is a standalone writer")
        .unwrap_or_else(|| panic!("{}", report["endState"]));
    assert_eq!(promoted["found"], "available, not a replica", "{promoted}");
    // Each Invoke was retried by the definition's Retry before it counted as failed.
    let invokes = report["faultedCalls"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["operation"] == "Invoke")
        .count();
    assert_eq!(
        invokes, 8,
        "the first attempt and 3 retries (MaxAttempts) for each of the two actions"
    );
}

fn scripted(output: InvokeOutput) -> aws_sdk_lambda::Client {
    let rule = mock!(aws_sdk_lambda::Client::invoke).then_output(move || output.clone());
    mock_client!(aws_sdk_lambda, RuleMode::MatchAny, &[&rule])
}

#[tokio::test]
async fn a_function_error_is_the_functions_error_type_as_step_functions_reports_it() {
    let error = json!({"errorType": "DrainTimedOut", "errorMessage": "queue not empty after 30 s"});
    let lambda = scripted(
        InvokeOutput::builder()
            .status_code(200)
            .function_error("Unhandled")
            .payload(Blob::new(error.to_string()))
            .build(),
    );
    let err = invoke(&lambda, "orders-drain", json!({"action": "drain"}))
        .await
        .expect_err("function error");
    assert_eq!(err.error, "DrainTimedOut");
    assert_eq!(serde_json::from_str::<Value>(&err.cause).expect("json cause"), error);

    // A crash with no error document is Lambda.Unknown.
    let lambda = scripted(
        InvokeOutput::builder()
            .status_code(200)
            .function_error("Unhandled")
            .payload(Blob::new("{}"))
            .build(),
    );
    let err = invoke(&lambda, "orders-drain", json!({})).await.expect_err("crash");
    assert_eq!(err.error, "Lambda.Unknown");

    // Success: the function's answer, as JSON.
    let lambda = scripted(
        InvokeOutput::builder()
            .status_code(200)
            .payload(Blob::new(r#"{"drained": 12}"#))
            .build(),
    );
    assert_eq!(
        invoke(&lambda, "orders-drain", json!({})).await.expect("answer"),
        json!({"drained": 12})
    );
}
