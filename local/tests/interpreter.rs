//! The interpreter state type by state type, against the outputs Step Functions gives.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rebound::asl::{validate, Approval, Interpreter, StateError, TaskHandler};
use serde_json::{json, Value};

/// A handler that fails with `error` for the first `failures` calls, then echoes its input
/// under "echo"; it records every input it saw.
fn flaky(failures: usize, error: &'static str, seen: Arc<Mutex<Vec<Value>>>) -> TaskHandler {
    let calls = Arc::new(AtomicUsize::new(0));
    Arc::new(move |input: Value| {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut s) = seen.lock() {
            s.push(input.clone());
        }
        Box::pin(async move {
            if n < failures {
                Err(StateError::new(error, format!("attempt {}", n + 1)))
            } else {
                Ok(json!({ "echo": input, "attempt": n + 1 }))
            }
        })
    })
}

fn slow() -> TaskHandler {
    Arc::new(|_input: Value| {
        Box::pin(async move {
            tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            Ok(json!("late"))
        })
    })
}

struct Run {
    seen: Arc<Mutex<Vec<Value>>>,
    interpreter: Interpreter,
}

fn interpreter(handlers: Vec<(&str, TaskHandler)>) -> Interpreter {
    let tasks: HashMap<String, TaskHandler> = handlers.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let mut substitutions = HashMap::new();
    substitutions.insert("Fn".to_string(), "arn:aws:lambda:local:0:function:fn".to_string());
    let mut i = Interpreter::new(tasks, substitutions);
    i.time_scale = 0.0;
    i
}

fn with_task(failures: usize, error: &'static str) -> Run {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let notify_seen = seen.clone();
    let notify: TaskHandler = Arc::new(move |input: Value| {
        if let Ok(mut s) = notify_seen.lock() {
            s.push(json!({ "notified": input }));
        }
        Box::pin(async move { Ok(json!({ "sent": true })) })
    });
    Run {
        interpreter: interpreter(vec![
            (
                "arn:aws:lambda:local:0:function:fn",
                flaky(failures, error, seen.clone()),
            ),
            ("notify", notify),
            ("slow", slow()),
        ]),
        seen,
    }
}

async fn execute(i: &Interpreter, definition: Value, input: Value) -> Result<Value, StateError> {
    i.execute(&definition, input, "test").await
}

#[tokio::test]
async fn pass_applies_input_parameters_result_and_output_paths() {
    let i = interpreter(vec![]);
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "InputPath": "$.in", "Parameters": {"x.$": "$.v", "fixed": 1, "name.$": "$$.Execution.Name", "msg.$": "States.Format('v={}', $.v)"}, "ResultPath": "$.out", "Next": "B"},
        "B": {"Type": "Pass", "Result": {"r": [1, 2]}, "ResultPath": "$.out.result", "OutputPath": "$.out", "End": true}
    }});
    let out = execute(&i, def, json!({"in": {"v": 7}})).await.expect("succeeds");
    assert_eq!(
        out,
        json!({"x": 7, "fixed": 1, "name": "test", "msg": "v=7", "result": {"r": [1, 2]}})
    );
}

#[tokio::test]
async fn result_path_null_keeps_the_input_and_output_path_selects() {
    let i = interpreter(vec![]);
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "dropped", "ResultPath": null, "OutputPath": "$.keep", "End": true}}});
    assert_eq!(execute(&i, def, json!({"keep": [1]})).await.ok(), Some(json!([1])));
}

#[tokio::test]
async fn choice_goes_to_the_first_match_or_default_or_fails() {
    let i = interpreter(vec![]);
    let def = |default: bool| {
        let mut choice = json!({"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.n", "NumericGreaterThan": 10}, {"Variable": "$.s", "StringMatches": "prod-*"}], "Next": "Big"},
            {"Variable": "$.n", "NumericLessThanEquals": 10, "Next": "Small"}
        ]});
        if default {
            choice["Default"] = json!("Other");
        }
        json!({"StartAt": "C", "States": {"C": choice,
            "Big": {"Type": "Pass", "Result": "big", "End": true},
            "Small": {"Type": "Pass", "Result": "small", "End": true},
            "Other": {"Type": "Pass", "Result": "other", "End": true}}})
    };
    assert_eq!(
        execute(&i, def(true), json!({"n": 11, "s": "prod-eu"})).await.ok(),
        Some(json!("big"))
    );
    assert_eq!(
        execute(&i, def(true), json!({"n": 3, "s": "x"})).await.ok(),
        Some(json!("small"))
    );
    assert_eq!(
        execute(&i, def(true), json!({"n": 11, "s": "dev"})).await.ok(),
        Some(json!("other"))
    );
    let err = execute(&i, def(false), json!({"n": 11, "s": "dev"}))
        .await
        .expect_err("no match");
    assert_eq!(err.error, "States.NoChoiceMatched");
}

#[tokio::test]
async fn waits_read_seconds_and_timestamps_and_honour_the_time_scale() {
    let mut i = interpreter(vec![]);
    let def = json!({"StartAt": "W1", "States": {
        "W1": {"Type": "Wait", "Seconds": 3600, "Next": "W2"},
        "W2": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "W3"},
        "W3": {"Type": "Wait", "Timestamp": "2000-01-01T00:00:00Z", "Next": "W4"},
        "W4": {"Type": "Wait", "TimestampPath": "$.at", "Next": "Done"},
        "Done": {"Type": "Succeed"}
    }});
    let started = std::time::Instant::now();
    let out = execute(&i, def.clone(), json!({"wait": 7200, "at": "2001-01-01T00:00:00Z"}))
        .await
        .expect("no sleeping at scale 0");
    assert!(started.elapsed().as_secs() < 2);
    assert_eq!(out["wait"], 7200);
    i.time_scale = 0.0001; // an hour becomes 0.36 s
    let started = std::time::Instant::now();
    execute(&i, def, json!({"wait": 1, "at": "2001-01-01T00:00:00Z"}))
        .await
        .expect("scaled");
    assert!(started.elapsed().as_millis() >= 300, "{:?}", started.elapsed());
    assert!(i.timeline().wait_ms >= 300);
}

#[tokio::test]
async fn a_wait_fails_where_step_functions_fails_it() {
    let i = interpreter(vec![]);
    let wait = |field: &str, value: Value| {
        json!({"StartAt": "W", "States": {
            "W": {"Type": "Wait", field: value, "Next": "Done"},
            "Done": {"Type": "Succeed"}
        }})
    };
    // SecondsPath must give a non-negative integer: 1.5 and -1 fail the execution.
    for seconds in [json!(1.5), json!(-1), json!("5")] {
        let err = execute(&i, wait("SecondsPath", json!("$.s")), json!({"s": seconds}))
            .await
            .expect_err("not an integer");
        assert_eq!(err.error, "States.Runtime", "{seconds}: {err:?}");
        assert!(err.cause.contains("not a non-negative integer"), "{err:?}");
    }
    execute(&i, wait("SecondsPath", json!("$.s")), json!({"s": 0}))
        .await
        .expect("zero is an integer");
    // A timestamp without its T (or with a lowercase z) is no timestamp to Step Functions.
    for stamp in ["2016-12-05 21:29:29Z", "2016-12-05t21:29:29Z", "2016-12-05T21:29:29z"] {
        let err = execute(&i, wait("TimestampPath", json!("$.at")), json!({"at": stamp}))
            .await
            .expect_err("no T");
        assert_eq!(err.error, "States.Runtime", "{stamp}: {err:?}");
        let err = validate(&wait("Timestamp", json!(stamp))).expect_err("refused on creation");
        assert_eq!(err.error, "States.InvalidDefinition", "{stamp}: {err:?}");
    }
    execute(
        &i,
        wait("TimestampPath", json!("$.at")),
        json!({"at": "2016-12-05T21:29:29+01:00"}),
    )
    .await
    .expect("an offset is a timestamp");
    // Longer than a Standard workflow may wait.
    let err = execute(&i, wait("SecondsPath", json!("$.s")), json!({"s": 40_000_000}))
        .await
        .expect_err("too long");
    assert_eq!(err.error, "States.Runtime");
    assert!(err.cause.contains("Wait state delay is too long"), "{err:?}");
    let far = (chrono::Utc::now() + chrono::Duration::days(400))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let err = execute(&i, wait("Timestamp", json!(far)), json!({}))
        .await
        .expect_err("too far");
    assert!(err.cause.contains("Wait state delay is too long"), "{err:?}");
    // Seconds itself: an integer from 0 to 99999999, on creation.
    for seconds in [json!(1.5), json!(-1), json!(100_000_000)] {
        let err = validate(&wait("Seconds", seconds.clone())).expect_err("refused");
        assert_eq!(err.error, "States.InvalidDefinition", "{seconds}: {err:?}");
    }
    // Exactly one way to say how long.
    let both = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "Next": "Done"},
        "Done": {"Type": "Succeed"}
    }});
    assert!(validate(&both).is_err_and(|e| e.cause.contains("exactly one of")));
}

#[tokio::test]
async fn slices_wildcards_and_filters_are_evaluated_as_step_functions_does() {
    let i = interpreter(vec![]);
    // ResultPath takes one place in the input, on creation.
    for result_path in ["$.items[*].id", "$$.Execution.Id", "$..id"] {
        let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "ResultPath": result_path, "End": true}}});
        let err = validate(&def).expect_err(result_path);
        assert!(err.cause.contains("is not a reference path"), "{err:?}");
    }
    let def = json!({"StartAt": "Pick", "States": {
        "Pick": {"Type": "Pass", "Parameters": {
            "ids.$": "$.items[*].id", "rest.$": "$.items[1:]", "idle.$": "$.users[?(@.status == 0)].name",
            "none.$": "$.users[?(@.status == 9)]"
        }, "ResultPath": "$.picked", "Next": "Each"},
        "Each": {"Type": "Map", "ItemsPath": "$.items[:2]", "ItemProcessor": {"StartAt": "Id", "States": {
            "Id": {"Type": "Pass", "InputPath": "$.id", "End": true}
        }}, "ResultPath": "$.firstTwo", "OutputPath": "$['picked','firstTwo']", "End": true}
    }});
    let input = json!({
        "items": [{"id": 1}, {"id": 2}, {"id": 3}],
        "users": [{"name": "a", "status": 0}, {"name": "b", "status": 1}]
    });
    let out = execute(&i, def, input).await.expect("run");
    assert_eq!(
        out,
        json!([
            {"ids": [1, 2, 3], "rest": [{"id": 2}, {"id": 3}], "idle": ["a"], "none": []},
            [1, 2]
        ])
    );
}

#[tokio::test]
async fn a_maps_concurrency_may_come_from_its_input_as_a_non_negative_integer() {
    let i = interpreter(vec![]);
    let map = |concurrency: Value| {
        let mut state = json!({"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": {"StartAt": "Double", "States": {
            "Double": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($, $)"}, "OutputPath": "$.n", "End": true}
        }}, "End": true});
        if let Value::Object(extra) = concurrency {
            state.as_object_mut().expect("state").extend(extra);
        }
        json!({"StartAt": "M", "States": {"M": state}})
    };
    let def = map(json!({"MaxConcurrencyPath": "$.most"}));
    let out = execute(&i, def.clone(), json!({"items": [1, 2, 3], "most": 2}))
        .await
        .expect("run");
    assert_eq!(out, json!([2, 4, 6]));
    // Step Functions takes an integer written as a string (recorded: a variable holding "1").
    let out = execute(&i, def.clone(), json!({"items": [1, 2], "most": "2"}))
        .await
        .expect("run");
    assert_eq!(out, json!([2, 4]));
    for most in [json!(-1), json!(1.5), json!("two")] {
        let err = execute(&i, def.clone(), json!({"items": [1], "most": most}))
            .await
            .expect_err("not an integer");
        assert_eq!(err.error, "States.Runtime", "{most}: {err:?}");
        assert!(err.cause.contains("not a non-negative integer"), "{err:?}");
    }
    let both = map(json!({"MaxConcurrency": 2, "MaxConcurrencyPath": "$.most"}));
    assert!(validate(&both).is_err_and(|e| e.cause.contains("both MaxConcurrency and MaxConcurrencyPath")));
}

#[tokio::test]
async fn a_missing_path_in_a_template_names_its_state_event_and_field_as_step_functions_does() {
    let i = interpreter(vec![]);
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Parameters": {"value.$": "$.missing"}, "End": true}
    }});
    let err = execute(&i, def, json!({"present": 1})).await.expect_err("missing");
    assert_eq!(err.error, "States.Runtime");
    assert_eq!(
        err.cause,
        "An error occurred while executing the state 'A' (entered at the event id #2). The JSONPath '$.missing' specified for the field 'value.$' could not be found in the input '{\"present\":1}'"
    );
}

#[tokio::test]
async fn a_resource_the_runner_does_not_carry_out_is_refused_before_the_run() {
    let i = interpreter(vec![]);
    let def = |resource: &str| {
        json!({"StartAt": "First", "States": {
            "First": {"Type": "Pass", "Next": "Both"},
            "Both": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "Put", "States": {
                "Put": {"Type": "Task", "Resource": resource, "End": true}}}]}
        }})
    };
    for (resource, named) in [
        ("arn:aws:states:::dynamodb:putItem", "the dynamodb:putItem integration"),
        ("arn:aws:states:us-east-1:123456789012:activity:approve", "an activity"),
        (
            "arn:aws:lambda:us-east-1:123456789012:function:unbound",
            "a resource no handler is bound for",
        ),
    ] {
        let err = execute(&i, def(resource), json!({})).await.expect_err("refused");
        assert_eq!(err.error, "States.InvalidDefinition");
        assert!(err.cause.contains(named), "{}", err.cause);
        assert!(
            err.cause.contains("/States/Both/Branches[0]/States/Put/Resource"),
            "{}",
            err.cause
        );
        assert!(i.timeline().transitions.is_empty(), "no state ran");
    }
    // The Lambda integration and a resource a handler is bound to run.
    execute(&i, def("arn:aws:states:::lambda:invoke"), json!({}))
        .await
        .expect_err("no such function, at run time");
    assert!(!i.timeline().transitions.is_empty());
}

/// Causes as Step Functions recorded them: a Fail's ErrorPath names its field, and a context
/// path is named as written, with the state's input.
#[tokio::test]
async fn missing_error_and_context_paths_are_worded_as_step_functions_words_them() {
    let i = interpreter(vec![]);
    let def = json!({"StartAt": "fail", "States": {"fail": {"Type": "Fail", "ErrorPath": "$.ErrorX", "Cause": "c"}}});
    let err = execute(&i, def, json!({"Error": "e"})).await.expect_err("missing");
    assert_eq!(
        err.cause,
        "An error occurred while executing the state 'fail' (entered at the event id #2). The JSONPath '$.ErrorX' specified for the field 'ErrorPath' could not be found in the input '{\"Error\":\"e\"}'"
    );
    let def = json!({"StartAt": "pass", "States": {"pass": {"Type": "Pass", "Parameters": {"value.$": "$$.Execution.Input.nothing"}, "End": true}}});
    let err = execute(&i, def, json!({"n": 0})).await.expect_err("missing");
    assert_eq!(
        err.cause,
        "An error occurred while executing the state 'pass' (entered at the event id #2). The JSONPath '$$.Execution.Input.nothing' specified for the field 'value.$' could not be found in the input '{\"n\":0}'"
    );
}

#[tokio::test]
async fn the_context_object_has_the_fields_step_functions_gives() {
    let i = interpreter(vec![]);
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Parameters": {
            "role.$": "$$.Execution.RoleArn", "redrives.$": "$$.Execution.RedriveCount",
            "machine.$": "$$.StateMachine.Name", "state.$": "$$.State.Name", "whole.$": "$$.State"
        }, "End": true}
    }});
    let mut out = execute(&i, def, json!({})).await.expect("run");
    // A Pass state's has no RetryCount on Step Functions (recorded), only a Task's has.
    let whole = out.as_object_mut().and_then(|o| o.remove("whole")).unwrap_or_default();
    let mut keys: Vec<&String> = whole.as_object().map(|o| o.keys().collect()).unwrap_or_default();
    keys.sort();
    assert_eq!(keys, ["EnteredTime", "Name"]);
    assert_eq!(
        out,
        json!({"role": "arn:aws:iam::000000000000:role/rebound-local", "redrives": 0,
               "machine": "rebound-local", "state": "A"})
    );
}

#[tokio::test]
async fn fail_reports_its_error_and_cause_or_their_paths() {
    let i = interpreter(vec![]);
    let fixed =
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Custom.Broken", "Cause": "because"}}});
    assert_eq!(
        execute(&i, fixed, json!({})).await.err(),
        Some(StateError::new("Custom.Broken", "because"))
    );
    let dynamic =
        json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e.Error", "CausePath": "$.e.Cause"}}});
    assert_eq!(
        execute(&i, dynamic, json!({"e": {"Error": "Rebound.StepFailed", "Cause": "x"}}))
            .await
            .err(),
        Some(StateError::new("Rebound.StepFailed", "x"))
    );
}

fn retrying_task(catch: bool) -> Value {
    let mut task = json!({"Type": "Task", "Resource": "${Fn}", "Parameters": {"value.$": "$.value", "retry.$": "$$.State.RetryCount"},
        "ResultSelector": {"attempt.$": "$.attempt", "echoed.$": "$.echo.value"}, "ResultPath": "$.result",
        "Retry": [{"ErrorEquals": ["Rebound.Transient"], "IntervalSeconds": 2, "MaxAttempts": 2, "BackoffRate": 2.0, "MaxDelaySeconds": 30, "JitterStrategy": "FULL"}],
        "Next": "Done"});
    if catch {
        task["Catch"] = json!([{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailure"}]);
    }
    json!({"StartAt": "T", "States": {
        "T": task,
        "Done": {"Type": "Succeed"},
        "NotifyFailure": {"Type": "Task", "Resource": "notify", "Parameters": {"kind": "failure", "context.$": "$"}, "ResultPath": "$.notification", "Next": "Failed"},
        "Failed": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}
    }})
}

#[tokio::test]
async fn a_transient_error_is_retried_until_it_succeeds() {
    let run = with_task(2, "Rebound.Transient");
    let out = execute(&run.interpreter, retrying_task(true), json!({"value": 5}))
        .await
        .expect("third attempt succeeds");
    assert_eq!(out["result"], json!({"attempt": 3, "echoed": 5}));
    let seen = run.seen.lock().map(|s| s.clone()).unwrap_or_default();
    let retries: Vec<&Value> = seen.iter().map(|s| &s["retry"]).collect();
    assert_eq!(
        retries,
        vec![&json!(0), &json!(1), &json!(2)],
        "$$.State.RetryCount counts attempts"
    );
}

#[tokio::test]
async fn retries_exhausted_go_to_the_catch_and_the_failure_notification() {
    let run = with_task(10, "Rebound.Transient");
    let err = execute(&run.interpreter, retrying_task(true), json!({"value": 5}))
        .await
        .expect_err("fails");
    assert_eq!(err, StateError::new("Rebound.Transient", "attempt 3"));
    let seen = run.seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert_eq!(
        seen.iter().filter(|s| s.get("notified").is_none()).count(),
        3,
        "1 try + 2 retries"
    );
    let notified = seen
        .iter()
        .find_map(|s| s.get("notified"))
        .expect("the failure was notified");
    assert_eq!(notified["kind"], "failure");
    assert_eq!(
        notified["context"]["error"],
        json!({"Error": "Rebound.Transient", "Cause": "attempt 3"})
    );
    assert_eq!(notified["context"]["value"], 5, "the Catch kept the state input");
}

#[tokio::test]
async fn errors_not_listed_are_not_retried() {
    let run = with_task(10, "Rebound.InvalidInput");
    let err = execute(&run.interpreter, retrying_task(false), json!({"value": 5}))
        .await
        .expect_err("fails at once");
    assert_eq!(err.error, "Rebound.InvalidInput");
    assert_eq!(run.seen.lock().map(|s| s.len()).unwrap_or(0), 1);
}

#[tokio::test]
async fn a_task_timeout_is_states_timeout_and_task_failed_does_not_catch_it() {
    let run = with_task(0, "");
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "slow", "TimeoutSeconds": 1,
              "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "Wrong"}, {"ErrorEquals": ["States.Timeout"], "ResultPath": "$.timeout", "Next": "Right"}], "End": true},
        "Wrong": {"Type": "Pass", "Result": "wrong", "End": true},
        "Right": {"Type": "Pass", "End": true}
    }});
    let out = execute(&run.interpreter, def, json!({})).await.expect("caught");
    assert_eq!(out["timeout"]["Error"], "States.Timeout");
    // TimeoutSecondsPath: a positive integer from the input, or the execution fails.
    let from_input = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "slow", "TimeoutSecondsPath": "$.timeout",
              "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.caught", "Next": "Right"}], "End": true},
        "Right": {"Type": "Pass", "End": true}
    }});
    let out = execute(&run.interpreter, from_input.clone(), json!({"timeout": 1}))
        .await
        .expect("timed out and caught");
    assert_eq!(out["caught"]["Error"], "States.Timeout");
    for timeout in [json!(0), json!(1.5), json!("1")] {
        let err = execute(&run.interpreter, from_input.clone(), json!({"timeout": timeout}))
            .await
            .expect_err("not a positive integer");
        assert_eq!(err.error, "States.Runtime", "{timeout}: {err:?}");
        assert!(err.cause.contains("not a positive integer"), "{err:?}");
    }
}

#[tokio::test]
async fn parallel_runs_branches_and_a_branch_failure_reaches_the_catch() {
    let run = with_task(0, "");
    let branch =
        |result: Value| json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": result, "End": true}}});
    let def = json!({"StartAt": "Par", "States": {
        "Par": {"Type": "Parallel", "Branches": [branch(json!("dns")), branch(json!("db"))], "ResultSelector": {"dns.$": "$[0]", "database.$": "$[1]"}, "ResultPath": "$.results", "End": true}
    }});
    assert_eq!(
        execute(&run.interpreter, def, json!({"a": 1})).await.ok(),
        Some(json!({"a": 1, "results": {"dns": "dns", "database": "db"}}))
    );
    let failing = json!({"StartAt": "Par", "States": {
        "Par": {"Type": "Parallel", "Branches": [branch(json!("ok")), {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Rebound.StepFailed", "Cause": "db"}}}],
                "Catch": [{"ErrorEquals": ["Rebound.StepFailed"], "ResultPath": "$.error", "Next": "Caught"}], "End": true},
        "Caught": {"Type": "Succeed"}
    }});
    let out = execute(&run.interpreter, failing, json!({})).await.expect("caught");
    assert_eq!(out["error"], json!({"Error": "Rebound.StepFailed", "Cause": "db"}));
}

#[tokio::test]
async fn map_runs_its_processor_per_item() {
    let run = with_task(0, "");
    let def = json!({"StartAt": "M", "States": {
        "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
              "ItemSelector": {"n.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index", "region.$": "$.region"},
              "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "${Fn}", "OutputPath": "$.echo", "End": true}}},
              "ResultPath": "$.out", "End": true}
    }});
    let out = execute(
        &run.interpreter,
        def,
        json!({"items": ["a", "b"], "region": "us-west-2"}),
    )
    .await
    .expect("maps");
    assert_eq!(
        out["out"],
        json!([{"n": "a", "i": 0, "region": "us-west-2"}, {"n": "b", "i": 1, "region": "us-west-2"}])
    );
}

#[tokio::test]
async fn lambda_invoke_wraps_the_payload_and_task_tokens_wait_for_an_answer() {
    let mut run = with_task(0, "");
    let invoke = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "${Fn}", "Payload": {"x": 1}}, "ResultSelector": {"p.$": "$.Payload.echo"}, "End": true}}});
    assert_eq!(
        execute(&run.interpreter, invoke, json!({})).await.ok(),
        Some(json!({"p": {"x": 1}}))
    );
    let approval = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "${Fn}", "Payload": {"token.$": "$$.Task.Token"}}, "ResultPath": "$.approval", "End": true}}});
    let err = execute(&run.interpreter, approval.clone(), json!({}))
        .await
        .expect_err("nobody approves");
    assert_eq!(err.error, "Rebound.ApprovalRejected");
    run.interpreter.approval = Approval::Auto;
    let out = execute(&run.interpreter, approval, json!({})).await.expect("approved");
    assert_eq!(out["approval"]["approved"], true);
    let seen = run.seen.lock().map(|s| s.clone()).unwrap_or_default();
    assert!(
        seen.last()
            .and_then(|s| s["token"].as_str())
            .is_some_and(|t| t.starts_with("local-token-")),
        "the handler got the task token"
    );
}

#[test]
fn definitions_with_dangling_transitions_are_refused() {
    let dangling = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}});
    assert_eq!(
        validate(&dangling).map_err(|e| e.error),
        Err("States.InvalidDefinition".to_string())
    );
    let no_end = json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}});
    assert!(validate(&no_end).is_err());
    let ours: Value = serde_json::from_str(include_str!("../../statemachine/recovery.asl.json")).expect("json");
    assert!(validate(&ours).is_ok());
}

#[tokio::test]
async fn a_loop_that_never_ends_stops_at_the_history_limit() {
    let i = interpreter(vec![]);
    let def = json!({"StartAt": "Poll", "States": {
        "Poll": {"Type": "Wait", "Seconds": 30, "Next": "Done?"},
        "Done?": {"Type": "Choice", "Choices": [{"Variable": "$.done", "BooleanEquals": true, "Next": "End"}], "Default": "Poll"},
        "End": {"Type": "Succeed"}
    }});
    let err = execute(&i, def, json!({"done": false})).await.expect_err("never done");
    assert_eq!(err.error, "States.Runtime");
    assert!(err.cause.contains("25000 history events"), "{}", err.cause);
    // ExecutionStarted, then two events per state (entered, exited): 12,499 states fit.
    assert_eq!(i.timeline().transitions.len(), 12_499);
}

#[tokio::test]
async fn task_attempts_count_three_history_events_each() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let i = interpreter(vec![("fn", flaky(usize::MAX, "Rebound.Transient", seen.clone()))]);
    // Every attempt fails and is retried without end: 2 events for the state, 3 per attempt.
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "fn",
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 99999999, "IntervalSeconds": 1}], "End": true}}});
    let err = execute(&i, def, json!({})).await.expect_err("history full");
    assert!(err.cause.contains("25000 history events"), "{}", err.cause);
    let attempts = seen.lock().expect("seen").len();
    assert_eq!(attempts, (25_000 - 1 - 2) / 3, "{attempts} attempts");
}

#[tokio::test]
async fn a_state_output_above_256_kib_fails_with_data_limit_exceeded_and_states_all_does_not_catch_it() {
    let big = "x".repeat(300 * 1024);
    let i = interpreter(vec![]);
    let def = json!({"StartAt": "Build", "States": {
        "Build": {"Type": "Pass", "Result": {"blob": big}, "Next": "Done"},
        "Done": {"Type": "Succeed"}
    }});
    let err = execute(&i, def, json!({})).await.expect_err("300 KiB");
    assert_eq!(err.error, "States.DataLimitExceeded");
    assert!(err.cause.contains("Build's output is 307211 bytes"), "{}", err.cause);

    // A task's result over the limit, under a Catch of States.ALL: not caught.
    let blob = big.clone();
    let huge: TaskHandler = Arc::new(move |_input: Value| {
        let blob = blob.clone();
        Box::pin(async move { Ok(json!({ "blob": blob })) })
    });
    let i = interpreter(vec![("fn", huge)]);
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "fn", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
        "Caught": {"Type": "Succeed"}
    }});
    let err = execute(&i, def, json!({})).await.expect_err("uncaught");
    assert_eq!(err.error, "States.DataLimitExceeded");
    assert!(err.cause.contains("the task's result"), "{}", err.cause);

    // Exactly at the limit passes; the limit counts UTF-8 bytes, not characters.
    let at_limit = "x".repeat(262_144 - 2);
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    assert!(execute(&interpreter(vec![]), def.clone(), json!(at_limit))
        .await
        .is_ok());
    let wide = "é".repeat(131_072);
    let err = execute(&interpreter(vec![]), def, json!(wide))
        .await
        .expect_err("2 bytes each");
    assert_eq!(err.error, "States.DataLimitExceeded");
}

fn approval_definition() -> Value {
    json!({"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "TimeoutSeconds": 20,
                "Parameters": {"FunctionName": "${Fn}", "Payload": {"token.$": "$$.Task.Token"}}, "ResultPath": "$.approval",
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Aborted"}], "End": true},
        "Aborted": {"Type": "Fail", "ErrorPath": "$.error.Error", "CausePath": "$.error.Cause"}
    }})
}

/// Runs the approval definition, answering with `decision` once the request was sent.
async fn answered(decision: Result<&'static str, &'static str>) -> Result<Value, StateError> {
    let dir = tempfile::tempdir().expect("dir");
    let mut run = with_task(0, "");
    run.interpreter.approval = Approval::Await(dir.path().to_path_buf());
    let seen = run.seen.clone();
    let path = dir.path().to_path_buf();
    let answerer = tokio::spawn(async move {
        loop {
            let token = seen
                .lock()
                .ok()
                .and_then(|s| s.last().and_then(|v| v["token"].as_str().map(str::to_string)));
            if let Some(token) = token.filter(|t| rebound::approvals::is_waiting(&path, t)) {
                // `rebound approve` answers this token locally, not through Step Functions.
                rebound::approvals::answer(&path, &token, decision).expect("answered");
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    let out = execute(&run.interpreter, approval_definition(), json!({})).await;
    answerer.await.expect("answerer");
    out
}

#[tokio::test]
async fn an_approval_request_waits_for_rebound_approve() {
    let out = answered(Ok("j.doe")).await.expect("approved");
    assert_eq!(out["approval"]["approved"], true);
    assert_eq!(out["approval"]["by"], "j.doe");
    assert!(out["approval"]["at"]
        .as_str()
        .is_some_and(|t| t.parse::<chrono::DateTime<chrono::Utc>>().is_ok()));
}

#[tokio::test]
async fn a_rejection_aborts_through_the_catch() {
    let err = answered(Err("not during the sale")).await.expect_err("rejected");
    assert_eq!(err, StateError::new("Rebound.ApprovalRejected", "not during the sale"));
}

#[test]
fn answers_need_a_local_token() {
    let dir = tempfile::tempdir().expect("dir");
    assert!(rebound::approvals::answer(dir.path(), "../etc/passwd", Ok("x")).is_err());
}

#[tokio::test]
async fn an_unanswered_approval_times_out_and_aborts() {
    let dir = tempfile::tempdir().expect("dir");
    let mut run = with_task(0, "");
    run.interpreter.approval = Approval::Await(dir.path().to_path_buf());
    let mut def = approval_definition();
    def["States"]["Ask"]["TimeoutSeconds"] = json!(1);
    let err = execute(&run.interpreter, def, json!({}))
        .await
        .expect_err("nobody answered");
    assert_eq!(err.error, "States.Timeout");
}
