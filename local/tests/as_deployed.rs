//! Where a local run must fail as the deployed state machine fails: a Parallel whose branch
//! failed stops its siblings, `States.Runtime` is never caught, Map iterations count in the
//! history, a function outliving its template `Timeout` fails as Lambda fails it, and the
//! approval gate of statemachine/recovery.asl.json goes on only on `approved: true`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rebound::asl::{Approval, Interpreter, StateError, TaskHandler};
use serde_json::{json, Value};

fn interpreter(handlers: Vec<(&str, TaskHandler)>) -> Interpreter {
    let tasks: HashMap<String, TaskHandler> = handlers.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let mut i = Interpreter::new(tasks, HashMap::new());
    i.time_scale = 1.0;
    i
}

/// Counts its calls and answers `{}` after `delay`.
fn counting(calls: Arc<AtomicUsize>, delay: Duration) -> TaskHandler {
    Arc::new(move |_input: Value| {
        let calls = calls.clone();
        Box::pin(async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            Ok(json!({}))
        })
    })
}

/// Fails with `Rebound.StepFailed` after `delay`.
fn failing(delay: Duration) -> TaskHandler {
    Arc::new(move |_input: Value| {
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            Err(StateError::new("Rebound.StepFailed", "the database branch failed"))
        })
    })
}

#[tokio::test]
async fn a_failing_branch_stops_its_sibling_which_finishes_its_task_in_flight_and_starts_no_other() {
    // The DNS branch polls (task, wait, task, ...); the database branch fails while a DNS task
    // is in flight. Step Functions lets that task finish and starts no state after it.
    let polls = Arc::new(AtomicUsize::new(0));
    let i = interpreter(vec![
        ("poll", counting(polls.clone(), Duration::from_millis(300))),
        ("fail", failing(Duration::from_millis(100))),
    ]);
    let def = json!({"StartAt": "Failover", "States": {
        "Failover": {"Type": "Parallel", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}],
            "Branches": [
                {"StartAt": "Poll", "States": {
                    "Poll": {"Type": "Task", "Resource": "poll", "ResultPath": null, "Next": "Wait"},
                    "Wait": {"Type": "Wait", "Seconds": 0, "Next": "Poll"}}},
                {"StartAt": "Fail", "States": {"Fail": {"Type": "Task", "Resource": "fail", "End": true}}}
            ]},
        "Failed": {"Type": "Pass", "End": true}
    }});
    let out = i.execute(&def, json!({}), "halt").await.expect("caught");
    assert_eq!(
        out["error"]["Error"], "Rebound.StepFailed",
        "the failing branch's error, not the stopped one's"
    );
    // Give a branch that was not stopped time to poll again.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        polls.load(Ordering::SeqCst),
        1,
        "the task in flight finished; no other started"
    );
    let states = visited(&i);
    assert!(!states.contains(&"Wait".to_string()), "{states:?}");
}

#[tokio::test]
async fn a_failing_branch_ends_its_siblings_wait_at_once() {
    let i = interpreter(vec![("fail", failing(Duration::from_millis(50)))]);
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": true}}},
        {"StartAt": "F", "States": {"F": {"Type": "Task", "Resource": "fail", "End": true}}}
    ]}}});
    let started = std::time::Instant::now();
    let err = i.execute(&def, json!({}), "wait").await.expect_err("failed");
    assert_eq!(err.error, "Rebound.StepFailed");
    assert!(started.elapsed() < Duration::from_secs(20), "the wait was cut short");
}

#[tokio::test]
async fn a_failing_iteration_stops_the_other_iterations_of_a_map() {
    let started = Arc::new(AtomicUsize::new(0));
    let i = interpreter(vec![
        ("item", counting(started.clone(), Duration::from_millis(200))),
        ("fail", failing(Duration::from_millis(50))),
    ]);
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 2, "ItemsPath": "$.items", "End": true,
        "ItemProcessor": {"StartAt": "Which", "States": {
            "Which": {"Type": "Choice", "Choices": [{"Variable": "$", "StringEquals": "bad", "Next": "Bad"}], "Default": "Good"},
            "Bad": {"Type": "Task", "Resource": "fail", "End": true},
            "Good": {"Type": "Task", "Resource": "item", "End": true}}}}}});
    let items: Vec<Value> = std::iter::once(json!("bad"))
        .chain((0..6).map(|_| json!("good")))
        .collect();
    let err = i
        .execute(&def, json!({"items": items}), "map")
        .await
        .expect_err("failed");
    assert_eq!(err.error, "Rebound.StepFailed");
    assert!(
        started.load(Ordering::SeqCst) <= 2,
        "{} items started",
        started.load(Ordering::SeqCst)
    );
}

#[tokio::test]
async fn states_runtime_fails_the_execution_even_where_a_catch_names_it() {
    let calls = Arc::new(AtomicUsize::new(0));
    let i = interpreter(vec![("task", counting(calls.clone(), Duration::ZERO))]);
    // A path that is not in the input: States.Runtime before the task is called.
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "task", "InputPath": "$.missing", "End": true,
              "Retry": [{"ErrorEquals": ["States.Runtime"], "MaxAttempts": 2}],
              "Catch": [{"ErrorEquals": ["States.Runtime"], "Next": "Caught"}]},
        "Caught": {"Type": "Succeed"}
    }});
    let err = i.execute(&def, json!({}), "runtime").await.expect_err("never caught");
    assert_eq!(err.error, "States.Runtime");
    assert_eq!(calls.load(Ordering::SeqCst), 0, "never retried into the task");
}

#[tokio::test]
async fn map_iterations_count_in_the_history() {
    // 1,000 iterations of 12 states: 24,000 events for their states, and 2,000 more for the
    // iterations themselves (MapIterationStarted, MapIterationSucceeded), past Step Functions'
    // 25,000.
    let mut states = serde_json::Map::new();
    for n in 0..12 {
        let next = if n == 11 {
            json!({"End": true})
        } else {
            json!({"Next": format!("P{}", n + 1)})
        };
        let mut state = json!({"Type": "Pass"});
        state
            .as_object_mut()
            .expect("object")
            .extend(next.as_object().expect("object").clone());
        states.insert(format!("P{n}"), state);
    }
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "End": true,
        "ItemProcessor": {"StartAt": "P0", "States": states}}}});
    let fits = interpreter(vec![])
        .execute(&def, json!({"items": vec![0; 900]}), "fits")
        .await;
    assert!(fits.is_ok(), "{fits:?}");
    let err = interpreter(vec![])
        .execute(&def, json!({"items": vec![0; 1_000]}), "over")
        .await
        .expect_err("over the history quota");
    assert!(err.cause.contains("history events"), "{err}");
}

#[tokio::test]
async fn a_handler_past_its_function_timeout_fails_as_lambda_fails_it() {
    let slow: TaskHandler = Arc::new(|_| {
        Box::pin(async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(json!("late"))
        })
    });
    let limited = rebound::functions::under_timeout("dns-failover", Duration::from_millis(200), slow);
    let err = limited(json!({})).await.expect_err("timed out");
    assert_eq!(err.error, "Sandbox.Timedout");
    assert!(err.cause.contains("Task timed out after 0.20 seconds"), "{err}");
}

// The approval gate of the real definition, from RequestApproval on: the notifier sends the
// request (and, on the way out, the failure), the services step stands for the recovery.

/// The real definition's functions, `stubs` bound by substitution and the rest unbound (a state
/// that reaches one fails).
fn stubbed(stubs: Vec<(&str, TaskHandler)>) -> Interpreter {
    let mut tasks: HashMap<String, TaskHandler> = HashMap::new();
    let mut substitutions = HashMap::new();
    // A function the test gives no stand-in fails the execution when reached (States.Runtime,
    // which nothing catches), as an unbound resource would.
    for (key, _) in rebound::functions::FUNCTIONS {
        substitutions.insert(key.to_string(), key.to_string());
        let unbound: TaskHandler = Arc::new(move |_input: Value| {
            Box::pin(async move { Err(StateError::runtime(format!("no stand-in for {key} in this test"))) })
        });
        tasks.insert(key.to_string(), unbound);
    }
    for (key, handler) in stubs {
        substitutions.insert(key.to_string(), key.to_string());
        tasks.insert(key.to_string(), handler);
    }
    let mut i = Interpreter::new(tasks, substitutions);
    i.time_scale = 0.0;
    i
}

/// The states an execution entered, in order.
fn visited(i: &Interpreter) -> Vec<String> {
    i.timeline().transitions.iter().map(|t| t.state.clone()).collect()
}

/// A notifier that records what it was asked to send.
fn recording_notifier() -> (TaskHandler, Arc<Mutex<Vec<Value>>>) {
    let notified = Arc::new(Mutex::new(Vec::new()));
    let seen = notified.clone();
    let notifier: TaskHandler = Arc::new(move |input: Value| {
        if let Ok(mut s) = seen.lock() {
            s.push(input);
        }
        Box::pin(async { Ok(json!({"step": "notification", "status": "completed"})) })
    });
    (notifier, notified)
}

fn recovery_from_approval() -> Value {
    let mut definition: Value =
        serde_json::from_str(include_str!("../../statemachine/recovery.asl.json")).expect("json");
    definition["StartAt"] = json!("RequestApproval");
    definition
}

struct Gate {
    interpreter: Interpreter,
    notified: Arc<Mutex<Vec<Value>>>,
    restored: Arc<AtomicUsize>,
}

fn gate(dir: &std::path::Path) -> Gate {
    let (notifier, notified) = recording_notifier();
    let restored = Arc::new(AtomicUsize::new(0));
    let count = restored.clone();
    let services: TaskHandler = Arc::new(move |_input: Value| {
        count.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err(StateError::new("Rebound.InvalidInput", "stands for the recovery")) })
    });
    let mut interpreter = stubbed(vec![
        ("RecoveryNotifierFunctionArn", notifier),
        ("ServiceRestorationFunctionArn", services),
    ]);
    interpreter.approval = Approval::Await(dir.to_path_buf());
    Gate {
        interpreter,
        notified,
        restored,
    }
}

/// Runs the gate and answers its token with `answer` as Step Functions' SendTaskSuccess would
/// carry it (the file `rebound approve` writes, with the answer's own content).
async fn answer_with(answer: Value) -> (Result<Value, StateError>, Gate) {
    let dir = tempfile::tempdir().expect("dir");
    let g = gate(dir.path());
    let notified = g.notified.clone();
    let path = dir.path().to_path_buf();
    let answerer = tokio::spawn(async move {
        loop {
            let token = notified
                .lock()
                .ok()
                .and_then(|s| s.iter().find_map(|v| v["taskToken"].as_str().map(str::to_string)));
            if let Some(token) = token.filter(|t| rebound::approvals::is_waiting(&path, t)) {
                std::fs::write(path.join(format!("{token}.json")), answer.to_string()).expect("answer");
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let input = json!({"path": "serviceRestore", "approvalTimeoutSeconds": 30, "results": {}});
    let out = g.interpreter.execute(&recovery_from_approval(), input, "gate").await;
    answerer.await.expect("answerer");
    (out, g)
}

#[tokio::test]
async fn an_answer_that_does_not_say_approved_true_fails_the_recovery_as_rejected() {
    for answer in [
        json!({"approved": false, "by": "console"}),
        json!({"ok": true}),
        json!("yes"),
    ] {
        let (out, g) = answer_with(answer.clone()).await;
        let err = out.expect_err("not approved");
        assert_eq!(err.error, "Rebound.ApprovalRejected", "{answer}: {err}");
        assert_eq!(g.restored.load(Ordering::SeqCst), 0, "{answer}: nothing was recovered");
        let notified = g.notified.lock().expect("lock").clone();
        let failure = notified
            .iter()
            .find(|n| n["kind"] == "failure")
            .expect("failure notified");
        assert_eq!(failure["context"]["error"]["Error"], "Rebound.ApprovalRejected");
        let states = visited(&g.interpreter);
        assert!(states.contains(&"ApprovalNotGiven".to_string()), "{states:?}");
    }
}

#[tokio::test]
async fn approved_true_goes_on_to_the_recovery() {
    let (out, g) = answer_with(json!({"approved": true, "by": "jane"})).await;
    // The stand-in services step fails: the recovery was started.
    let err = out.expect_err("the stand-in fails");
    assert_eq!(err.error, "Rebound.InvalidInput");
    assert_eq!(g.restored.load(Ordering::SeqCst), 1);
    let states = visited(&g.interpreter);
    assert!(states.contains(&"ChoosePath".to_string()), "{states:?}");
}

#[tokio::test]
async fn an_alarm_that_could_not_be_confirmed_is_told_to_the_operators_not_dropped() {
    let (notifier, notified) = recording_notifier();
    // The detector's decision when the signals that could not be read would have made the quorum.
    let detector: TaskHandler = Arc::new(|_input: Value| {
        Box::pin(async {
            Ok(
                json!({"path": "failover", "decision": {"recoveryRequired": false, "declined": "unconfirmed",
                "reasons": ["NOT CONFIRMED: 1 of 3 signals failing and 2 could not be read; 2 must agree"]}}),
            )
        })
    });
    let i = stubbed(vec![
        ("DisasterDetectorFunctionArn", detector),
        ("RecoveryNotifierFunctionArn", notifier),
    ]);
    let definition: Value = serde_json::from_str(include_str!("../../statemachine/recovery.asl.json")).expect("json");
    let out = i
        .execute(
            &definition,
            json!({"detail-type": "CloudWatch Alarm State Change"}),
            "unconfirmed",
        )
        .await;
    let out = out.expect("ends cleanly");
    assert_eq!(out["decision"]["declined"], "unconfirmed");
    let notified = notified.lock().expect("lock").clone();
    assert_eq!(notified.len(), 1, "{notified:?}");
    assert_eq!(notified[0]["kind"], "noRecoveryNeeded");
    let states = visited(&i);
    assert_eq!(
        states,
        [
            "DetectDisaster",
            "EvaluateRecoveryNeeded",
            "NotifyUnconfirmed",
            "NoRecoveryNeeded"
        ]
    );
}
