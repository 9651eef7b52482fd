//! Differential tests: every case runs through this interpreter and through an independent
//! executor, aws-local-stepfunctions (installed by scripts/setup under the cache folder, with
//! Node 22), and the two must agree on the output, or on the error's name (and its cause where
//! the definition states it).

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::Arc;

use rebound::asl::{Interpreter, StateError, TaskHandler};
use serde_json::{json, Value};

const ECHO: &str = "arn:aws:lambda:us-east-1:123456789012:function:echo";

/// The definition's states from the services' end to the success notification.
const VALIDATION: [&str; 6] = [
    "ValidateBesideActions",
    "KeepCustomActionResults",
    "KeepValidationRounds",
    "ConfirmRecovery",
    "RecoveryConfirmed?",
    "WaitBeforeConfirming",
];

fn cases() -> Vec<(&'static str, Value, Value)> {
    let pass = |result: Value| json!({"Type": "Pass", "Result": result, "End": true});
    vec![
        (
            "slices, wildcards and filters",
            // An empty match differs: aws-local-stepfunctions 3.0.0 fails it ("does not point to
            // a value"), where Step Functions gives []; src/asl/path.rs and the interpreter tests
            // cover it.
            json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Parameters": {
                "ids.$": "$.items[*].id", "rest.$": "$.items[1:]", "first.$": "$.items[:1]",
                "idle.$": "$.users[?(@.status == 0)].name", "deep.$": "$..id"}, "End": true}}}),
            json!({"items": [{"id": 1}, {"id": 2}, {"id": 3}],
                   "users": [{"name": "a", "status": 0}, {"name": "b", "status": 1}, {"name": "c", "status": 0}]}),
        ),
        (
            "pass data flow and intrinsics",
            json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "InputPath": "$.in", "Parameters": {
                "x.$": "$.v", "fixed": [1, {"k": "v"}],
                "msg.$": "States.Format('v={} name={}', $.v, $.name)",
                "arr.$": "States.Array($.v, 'two', 3)",
                "str.$": "States.JsonToString($.obj)",
                "obj.$": "States.StringToJson($.text)",
                "sum.$": "States.MathAdd($.v, 5)",
                "len.$": "States.ArrayLength($.list)"}, "ResultPath": "$.out", "Next": "B"},
            "B": {"Type": "Pass", "Result": {"r": true}, "ResultPath": "$.out.extra", "OutputPath": "$.out", "End": true}}}),
            json!({"in": {"v": 7, "name": "orders", "obj": {"a": [1, 2]}, "text": "{\"b\":null}", "list": [1, 2, 3]}}),
        ),
        (
            "the other intrinsics",
            json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Parameters": {
                "chunks.$": "States.ArrayPartition($.list, 2)",
                "has.$": "States.ArrayContains($.list, 3)",
                "hasNot.$": "States.ArrayContains($.list, 9)",
                "range.$": "States.ArrayRange(1, 9, 2)",
                "down.$": "States.ArrayRange(5, 1, -2)",
                "item.$": "States.ArrayGetItem($.list, 1)",
                "unique.$": "States.ArrayUnique($.dupes)",
                "b64.$": "States.Base64Encode($.text)",
                "plain.$": "States.Base64Decode($.encoded)",
                "sha.$": "States.Hash($.text, 'SHA-256')",
                "md5.$": "States.Hash($.text, 'MD5')",
                "sha1.$": "States.Hash($.text, 'SHA-1')",
                "sha512.$": "States.Hash($.text, 'SHA-512')",
                "merged.$": "States.JsonMerge($.a, $.b, false)",
                "parts.$": "States.StringSplit($.csv, ',')",
                "nested.$": "States.ArrayGetItem(States.StringSplit($.arn, ':'), 4)"}, "End": true}}}),
            json!({"list": [1, 2, 3, 4, 5], "dupes": [1, "a", 1, {"k": 1}, {"k": 1}, "a"], "text": "orders-db",
                   "encoded": "cmVib3VuZA==", "a": {"x": 1, "y": {"z": 1}}, "b": {"y": 2}, "csv": "a,b,c",
                   "arn": "arn:aws:rds:us-east-1:123456789012:db:orders-db"}),
        ),
        (
            "result path null and output path",
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": "gone", "ResultPath": null, "OutputPath": "$.keep", "End": true}}}),
            json!({"keep": {"n": [1]}}),
        ),
        (
            "choice operators",
            json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [
                {"And": [
                    {"Variable": "$.n", "NumericGreaterThan": 10}, {"Variable": "$.n", "NumericLessThanEquals": 12},
                    {"Variable": "$.s", "StringMatches": "prod-*-1"}, {"Variable": "$.s", "StringGreaterThanPath": "$.t"},
                    {"Variable": "$.b", "BooleanEquals": true}, {"Variable": "$.ts", "TimestampLessThan": "2030-01-01T00:00:00Z"},
                    // Type tests with `false` (`"IsPresent": false`) differ: aws-local-stepfunctions 3.0.0
                    // answers false whatever the value, where Step Functions negates the test; the
                    // unit tests in src/asl/choice.rs cover them.
                    {"Not": {"Variable": "$.missing", "IsPresent": true}}, {"Variable": "$.nothing", "IsNull": true},
                    {"Not": {"Variable": "$.s", "IsNumeric": true}},
                    {"Or": [{"Variable": "$.n", "NumericEqualsPath": "$.m"}, {"Variable": "$.s", "IsString": true}]}
                ], "Next": "Yes"}], "Default": "No"},
            "Yes": pass(json!("yes")), "No": pass(json!("no"))}}),
            json!({"n": 11, "m": 11, "s": "prod-eu-1", "t": "dev", "b": true, "ts": "2026-11-24T03:12:41Z", "nothing": null}),
        ),
        (
            "choice default",
            json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "One"}], "Default": "Other"},
            "One": pass(json!("one")), "Other": pass(json!("other"))}}),
            json!({"n": 2}),
        ),
        (
            "no choice matched",
            json!({"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericEquals": 1, "Next": "One"}]}, "One": pass(json!(1))}}),
            json!({"n": 2}),
        ),
        (
            "waits of every kind",
            json!({"StartAt": "W1", "States": {
            "W1": {"Type": "Wait", "Seconds": 5, "Next": "W2"},
            "W2": {"Type": "Wait", "SecondsPath": "$.s", "Next": "W3"},
            "W3": {"Type": "Wait", "Timestamp": "2020-01-01T00:00:00Z", "Next": "W4"},
            "W4": {"Type": "Wait", "TimestampPath": "$.at", "OutputPath": "$.s", "End": true}}}),
            json!({"s": 3, "at": "2020-01-01T00:00:00Z"}),
        ),
        (
            "fail with error and cause",
            json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Rebound.StepFailed", "Cause": "validation failed"}}}),
            json!({}),
        ),
        (
            "parallel with a result selector",
            json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [
                {"StartAt": "D", "States": {"D": {"Type": "Pass", "Parameters": {"dns.$": "$.v"}, "End": true}}},
                {"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "db", "End": true}}}],
            "ResultSelector": {"dns.$": "$[0].dns", "database.$": "$[1]"}, "ResultPath": "$.results", "End": true}}}),
            json!({"v": 1}),
        ),
        (
            "a branch failure reaches the parallel's catch",
            json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [
                {"StartAt": "OK", "States": {"OK": {"Type": "Pass", "End": true}}},
                {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Rebound.PreconditionFailed", "Cause": "lag"}}}],
            "Catch": [{"ErrorEquals": ["Rebound.Transient"], "Next": "Wrong"}, {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}], "End": true},
            "Wrong": pass(json!("wrong")), "Caught": {"Type": "Pass", "OutputPath": "$.error", "End": true}}}),
            json!({}),
        ),
        (
            "map with an item selector",
            json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
            "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "app.$": "$.app"},
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "Parameters": {"v.$": "$.value", "i.$": "$.index", "a.$": "$.app"}, "End": true}}},
            "ResultPath": "$.out", "End": true}}}),
            json!({"items": ["a", "b", "c"], "app": "orders"}),
        ),
        (
            "task data flow",
            json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": ECHO,
            "Parameters": {"action": "start", "context.$": "$.ctx"}, "ResultSelector": {"action.$": "$.echo.action", "app.$": "$.echo.context.app"},
            "ResultPath": "$.results.dns", "Next": "Done?"},
            "Done?": {"Type": "Choice", "Choices": [{"Variable": "$.results.dns.action", "StringEquals": "start", "Next": "Done"}], "Default": "Broken"},
            "Done": {"Type": "Succeed"}, "Broken": {"Type": "Fail", "Error": "Broken"}}}),
            json!({"ctx": {"app": "orders"}}),
        ),
        (
            "the recovery definition's failure path",
            {
                // The states a failed failover branch leads through, as they stand in the definition.
                let def: Value =
                    serde_json::from_str(include_str!("../../statemachine/recovery.asl.json")).expect("definition");
                let mut states = serde_json::Map::new();
                for name in [
                    "FailoverSucceeded?",
                    "FailoverFailed",
                    "NotifyFailure",
                    "RecoveryFailed",
                    "SendNotification",
                    "NotificationFailed",
                    "RecoveryComplete",
                ]
                .into_iter()
                .chain(VALIDATION)
                {
                    states.insert(name.to_string(), def["States"][name].clone());
                }
                json!({"StartAt": "FailoverSucceeded?", "States": states})
            },
            json!({"dryRun": false, "results": {"dns": {"step": "dnsFailover", "status": "completed"}, "database": {"step": "databaseFailover", "status": "failed"},
                "capacity": {"step": "serviceRestoration", "status": "completed"}, "services": {"step": "serviceRestoration", "status": "failed"}}}),
        ),
        (
            "the recovery definition's failover: three branches, the writer's services after the promotion",
            failover(json!("completed")),
            json!({"dryRun": false, "customActions": {"afterDatabases": [{"name": "rekey"}]}, "customActionResults": {"beforeFailover": []}}),
        ),
        (
            "the recovery definition's failover: a failed promotion leaves the writer's services not started",
            failover(json!("failed")),
            json!({"dryRun": false, "customActions": {"afterDatabases": []}, "customActionResults": {}}),
        ),
        (
            "the recovery definition's validation: rounds beside the custom actions, then the confirming round",
            scripted_states(
                &VALIDATION,
                &json!(null),
                json!({"SendNotification": {"Type": "Succeed"}, "NotifyFailure": {"Type": "Pass", "InputPath": "$.error", "End": true}}),
                "ValidateBesideActions",
            ),
            json!({"dryRun": false, "results": {"services": {"status": "completed"}},
                "customActions": {"afterServices": [{"name": "warm"}], "beforeValidation": []},
                "customActionResults": {"beforeFailover": [{"name": "drain", "status": "succeeded"}]}}),
        ),
        (
            "a failing Parallel branch fails the Parallel while its sibling waits",
            json!({"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": true, "Branches": [
                {"StartAt": "Fails", "States": {"Fails": {"Type": "Fail", "Error": "Branch.Failed", "Cause": "the first branch"}}},
                {"StartAt": "Waits", "States": {
                    "Waits": {"Type": "Wait", "Seconds": 30, "Next": "After"},
                    "After": {"Type": "Pass", "Result": "never", "End": true}}}
            ]}}}),
            json!({}),
        ),
        (
            "a failing Map iteration fails the Map, caught on the Map",
            json!({"StartAt": "Each", "States": {
                "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
                    "ItemProcessor": {"StartAt": "Odd?", "States": {
                        "Odd?": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Fails"}], "Default": "Fine"},
                        "Fails": {"Type": "Fail", "Error": "Item.Failed", "Cause": "item 2"},
                        "Fine": {"Type": "Pass", "End": true}}},
                    "Catch": [{"ErrorEquals": ["Item.Failed"], "ResultPath": "$.caught", "Next": "Caught"}],
                    "End": true},
                "Caught": {"Type": "Pass", "OutputPath": "$.caught", "End": true}}}),
            json!({"items": [1, 2, 3]}),
        ),
    ]
}

/// The definition's `InitiateFailover` and the states after it up to `AfterServicesActions`,
/// each Task answering what the step would ([`scripted_states`]).
fn failover(database: Value) -> Value {
    scripted_states(
        &[
            "InitiateFailover",
            "KeepAfterDatabasesResults",
            "FailoverSucceeded?",
            "FailoverFailed",
        ],
        &database,
        json!({"ValidateBesideActions": {"Type": "Succeed"}, "NotifyFailure": {"Type": "Pass", "InputPath": "$.error", "End": true}}),
        "InitiateFailover",
    )
}

/// The definition's states `names` (and `ends`, which stand in for where they lead), each Task
/// answering what the step would (its ResultSelector fixed): in progress with `nextCheckSeconds` at its start,
/// `completed` at its check (or, for the databases' check with `database` "failed", the error
/// its Catch takes), a validation round failing first then passing, so the waits timed by the
/// results, the branches' results and the data flow run as the definition has them.
fn scripted_states(names: &[&str], database: &Value, ends: Value, start: &str) -> Value {
    let def: Value = serde_json::from_str(include_str!("../../statemachine/recovery.asl.json")).expect("definition");
    fn scripted(states: &mut Value, database: &Value) {
        for (name, state) in states.as_object_mut().into_iter().flatten() {
            if let Some(branches) = state.get_mut("Branches").and_then(Value::as_array_mut) {
                for branch in branches {
                    scripted(&mut branch["States"], database);
                }
            }
            if let Some(processor) = state.get_mut("ItemProcessor") {
                scripted(&mut processor["States"], database);
            }
            if state["Type"] != "Task" {
                continue;
            }
            if name == "CheckDatabaseFailover" && database == "failed" {
                // The step's error, as its Catch takes it.
                let catch = &state["Catch"][0];
                *state = json!({"Type": "Pass", "Result": {"Error": "Rebound.PreconditionFailed", "Cause": "scripted"},
                    "ResultPath": catch["ResultPath"], "Next": catch["Next"]});
                continue;
            }
            let result = match name.as_str() {
                n if n.starts_with("Invoke") => json!({"output": "ok"}),
                "ValidateRecovery" => json!({"passed": false, "consecutiveSuccesses": 0}),
                "ProbeAgain" | "ConfirmRecovery" => json!({"passed": true, "round": name}),
                n if n.starts_with("Check") => json!({"step": name, "status": "completed"}),
                _ => json!({"step": name, "status": "inProgress", "nextCheckSeconds": 1}),
            };
            // Still a Task, with its Retry and Catch: its answer is fixed by its ResultSelector.
            let task = state.as_object_mut().expect("a state");
            for key in ["Parameters", "TimeoutSecondsPath"] {
                task.remove(key);
            }
            task.insert("Resource".into(), json!(ECHO));
            task.insert("TimeoutSeconds".into(), json!(60));
            task.insert("ResultSelector".into(), result);
        }
    }
    let mut states = serde_json::Map::new();
    for name in names {
        states.insert(name.to_string(), def["States"][name].clone());
    }
    for (name, state) in ends.as_object().into_iter().flatten() {
        states.insert(name.clone(), state.clone());
    }
    let mut states = Value::Object(states);
    scripted(&mut states, database);
    json!({"StartAt": start, "States": states})
}

fn echo() -> TaskHandler {
    Arc::new(|input: Value| Box::pin(async move { Ok(json!({ "echo": input })) }))
}

async fn ours(definition: &Value, input: &Value) -> Result<Value, StateError> {
    let mut tasks: HashMap<String, TaskHandler> = HashMap::new();
    tasks.insert(ECHO.to_string(), echo());
    let mut substitutions = HashMap::new();
    for name in [
        "DisasterDetector",
        "DnsFailover",
        "DatabaseFailover",
        "ServiceRestoration",
        "RecoveryValidator",
        "RecoveryNotifier",
    ] {
        substitutions.insert(format!("{name}FunctionArn"), ECHO.to_string());
    }
    let mut interpreter = Interpreter::new(tasks, substitutions);
    interpreter.time_scale = 0.0;
    interpreter.execute(definition, input.clone(), "differential").await
}

/// The same case through aws-local-stepfunctions.
fn theirs(definition: &Value, input: &Value) -> Value {
    let dir = rebound_moto::cache_dir().join("sfn");
    let node = dir.join("node_modules/.bin/node");
    assert!(
        node.is_file() && dir.join("node_modules/aws-local-stepfunctions").is_dir(),
        "aws-local-stepfunctions with Node 22 is not installed under {}: run bash scripts/setup",
        dir.display()
    );
    let runner = dir.join("run.mjs");
    std::fs::write(&runner, include_str!("../../tests/differential/run.mjs")).expect("write the runner");
    // Their executor reads the substitutions' final ARNs.
    let definition = serde_json::to_string(definition)
        .expect("json")
        .replace("${", "")
        .replace("FunctionArn}", "");
    let definition: Value = serde_json::from_str(&definition).expect("json");
    let mut child = Command::new(&node)
        .arg(&runner)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    let request = json!({"definition": definition, "input": input});
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("node finishes");
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "aws-local-stepfunctions said {text:?} ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[tokio::test]
async fn both_executors_agree_on_every_case() {
    let mut disagreements = Vec::new();
    for (name, definition, input) in cases() {
        let mine = ours(&definition, &input).await;
        let other = theirs(&definition, &input);
        match (&mine, other.get("output"), other.get("error")) {
            (Ok(a), Some(b), _) if a == b => {}
            (Err(a), _, Some(b)) if b["Error"] == json!(a.error) => {
                let stated = definition.to_string().contains(&format!("\"Cause\":\"{}\"", a.cause));
                if stated && b["Cause"] != json!(a.cause) {
                    disagreements.push(format!("{name}: cause {:?} vs {}", a.cause, b["Cause"]));
                }
            }
            _ => disagreements.push(format!("{name}: rebound {mine:?}\n    aws-local-stepfunctions {other}")),
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}
