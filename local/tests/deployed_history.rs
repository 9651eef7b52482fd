//! `rebound status` and `watch` over the history of the real state machine: Lambda tasks with a
//! retried failure, the dry runs' Parallel, and the approval gate's `lambda:invoke.waitForTaskToken`
//! whose token rides in the notifier's payload beside the whole context. moto cannot run the
//! Rust functions, so this history is scripted: GetExecutionHistory's JSON in two pages, events
//! shaped as the Step Functions API Reference gives them (`LambdaFunctionScheduled`,
//! `TaskSubmitted`, ...), answered through the SDK's own deserializer by aws-smithy-mocks.

use aws_smithy_mocks::{mock, mock_client, RuleMode};
use rebound::deployed::{self, history};
use serde_json::Value;

const RECORDED: &str = include_str!("fixtures/history-awaiting-approval.json");

fn recorded() -> Value {
    serde_json::from_str(RECORDED).expect("the fixture")
}

fn client() -> aws_sdk_sfn::Client {
    let recorded = recorded();
    let pages: Vec<String> = recorded["pages"]
        .as_array()
        .expect("pages")
        .iter()
        .map(Value::to_string)
        .collect();
    let (first, second) = (pages[0].clone(), pages[1].clone());
    let history = mock!(aws_sdk_sfn::Client::get_execution_history)
        .sequence()
        .http_status(200, Some(first))
        .http_status(200, Some(second))
        .build();
    let described = recorded["describeExecution"].to_string();
    let describe = mock!(aws_sdk_sfn::Client::describe_execution)
        .sequence()
        .http_status(200, Some(described))
        .repeatedly()
        .build();
    mock_client!(aws_sdk_sfn, RuleMode::MatchAny, &[&history, &describe])
}

#[tokio::test]
async fn status_reads_every_page_and_finds_the_token_the_approval_gate_waits_on() {
    let sfn = client();
    let arn = recorded()["describeExecution"]["executionArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let events = deployed::events(&sfn, &arn).await.expect("the history");
    assert_eq!(events.len(), 43, "both pages");
    let execution = deployed::describe(&sfn, &arn).await.expect("described");
    assert!(execution.running());
    let now = execution.started_at.expect("a start") + chrono::Duration::seconds(90);
    let text = deployed::status_text(&execution, &events, now);
    assert!(text.contains("now in RequestApproval (Task)"), "{text}");
    assert!(
        text.contains("steps done (5): DetectDisaster 3.7 s, DryRunDns 0.3 s, DryRunDatabases 0.6 s, DryRunServices 0.2 s, CheckReadiness 0.4 s"),
        "{text}"
    );
    let token = "AQB8AAAAKgAAAAMAAAAAAAAAAfWvY1aSlbSEdiNTPKRVMm3XzO5hRlXi0OTQ+fy8uV3sQzYHbBu8oK3SuqzN6xStHP1rnBW3oaWHYBpV1Fe1ZmGSUUyi1w==";
    assert!(
        text.contains(&format!("rebound approve --execution {arn} --by YOUR-NAME")),
        "{text}"
    );
    // The token is read from the history when answering, and never shown.
    assert!(!text.contains(token), "{text}");
    assert_eq!(
        history::waiting_token(&events),
        Some(("RequestApproval".into(), token.to_string()))
    );
    assert!(!text.contains("not-this-one"), "{text}");
}

#[tokio::test]
async fn watch_lines_mark_a_retried_task_and_the_context_is_the_detectors() {
    let sfn = client();
    let arn = recorded()["describeExecution"]["executionArn"]
        .as_str()
        .expect("arn")
        .to_string();
    let events = deployed::events(&sfn, &arn).await.expect("the history");
    let runs = history::runs(&events);
    let origin = events[0].at;
    let detect = runs.iter().find(|r| r.state == "DetectDisaster").expect("the detector");
    assert!(detect.failed, "the first attempt failed with Lambda.ServiceException");
    let line = detect.transition(origin).line();
    assert!(
        line.contains("DetectDisaster") && line.contains("Task") && line.ends_with("done after a failed attempt"),
        "{line}"
    );
    let parallel = runs.iter().find(|r| r.state == "DryRunSteps").expect("the dry runs");
    assert_eq!(parallel.kind, "Parallel");
    assert!(runs
        .iter()
        .filter(|r| r.state.starts_with("DryRun") && r.kind == "Task")
        .all(|r| !r.failed));
    let context = history::last_context(&events).expect("a context");
    assert_eq!(context["recoveryId"], "failover-20261130T031241Z-5d1c9e2b7a40");
    assert_eq!(history::failure(&events), None);
}
