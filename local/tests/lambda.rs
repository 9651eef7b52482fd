//! The six functions as Lambda runs them: their bootstraps as processes behind the local Lambda
//! Runtime API ([`rebound::lambda`]), given bodies Lambda would hand a runtime, and the local
//! Lambda itself answering as Lambda's Invoke API does (timeouts, a process that dies, payload
//! limits), shown with a function of a few lines that does what it is told.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_smithy_types::Blob;
use bytes::Bytes;
use rebound::lambda::{FunctionSpec, LocalLambda, Outcome, PAYLOAD_LIMIT};
use rebound_moto::MotoServer;
use serde_json::{json, Value};

/// Where `cargo test --workspace` leaves the functions' binaries: beside this test's folder.
fn bootstraps() -> PathBuf {
    let exe = std::env::current_exe().expect("this test's path");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps")
        .to_path_buf();
    assert!(
        dir.join("dns-failover").is_file(),
        "no function binaries in {}: run the tests with cargo test --workspace (or cargo build --workspace --bins first)",
        dir.display()
    );
    dir
}

fn error_of(outcome: &Outcome) -> Value {
    match outcome {
        Outcome::FunctionError(b) => serde_json::from_slice(b).expect("an error document"),
        Outcome::Result(b) => panic!("expected a function error, got {}", String::from_utf8_lossy(b)),
    }
}

/// Bodies a runtime may be handed that are not a request: not JSON at all, JSON too deep for
/// serde_json, and JSON of the wrong shape, some with values far larger than any name.
fn bad_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let huge = "x".repeat(300_000);
    vec![
        ("empty", b"".to_vec()),
        ("text", b"not json".to_vec()),
        ("open brace", b"{".to_vec()),
        ("close brace", b"}".to_vec()),
        ("unfinished array", b"[1,".to_vec()),
        ("missing value", b"{\"a\":}".to_vec()),
        ("open string", b"\"open".to_vec()),
        ("NaN", b"NaN".to_vec()),
        ("single quotes", b"{'a': 1}".to_vec()),
        ("byte order mark", "\u{feff}{}".as_bytes().to_vec()),
        ("not UTF-8", vec![0xff, 0xfe, 0x7b, 0x7d]),
        ("NUL", vec![0]),
        (
            "129 arrays",
            format!("{}{}", "[".repeat(129), "]".repeat(129)).into_bytes(),
        ),
        (
            "10,000 objects",
            format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000)).into_bytes(),
        ),
        ("null", b"null".to_vec()),
        ("number", b"1".to_vec()),
        ("array", b"[]".to_vec()),
        ("string", b"\"x\"".to_vec()),
        ("empty object", b"{}".to_vec()),
        ("huge action", json!({"action": huge}).to_string().into_bytes()),
        (
            "huge context",
            json!({"action": "failover", "context": huge}).to_string().into_bytes(),
        ),
        (
            "huge source",
            json!({"source": huge, "detail-type": "CloudWatch Alarm State Change"})
                .to_string()
                .into_bytes(),
        ),
        (
            "context of the wrong shape",
            json!({"context": [1, 2, 3]}).to_string().into_bytes(),
        ),
    ]
}

/// The fuzz of the bootstraps: every one of the six, given each bad body through the Runtime
/// API, answers a typed `Rebound.*` error that quotes at most a few hundred bytes, never the
/// runtime's own error, and keeps running (one execution environment each at the end).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bootstrap_answers_a_bad_body_with_a_typed_error_and_keeps_running() {
    let moto = MotoServer::start().expect("moto");
    let acting = moto.config("us-west-2");
    let stack: HashMap<String, String> = [("RecoveryRegion", "us-west-2"), ("PrimaryRegion", "us-east-1")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (specs, _) = rebound::functions::lambda_specs(&bootstraps(), &stack, &acting)
        .await
        .expect("specs");
    let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
    let logs = tempfile::tempdir().expect("tmp");
    let lambda = LocalLambda::start(specs, logs.path().to_path_buf())
        .await
        .expect("lambda");
    let bodies = bad_bodies();
    assert_eq!(bodies.len(), 23);
    for name in &names {
        for (what, body) in &bodies {
            let outcome = lambda
                .invoke_raw(name, Bytes::from(body.clone()))
                .await
                .expect("invoked");
            let error = error_of(&outcome);
            let kind = error["errorType"].as_str().unwrap_or_default();
            let message = error["errorMessage"].as_str().unwrap_or_default();
            assert!(kind.starts_with("Rebound."), "{name} / {what}: {error}");
            if !body.starts_with(b"{\"") && !matches!(*what, "null" | "number" | "array" | "string") {
                assert_eq!(kind, "Rebound.InvalidInput", "{name} / {what}: {error}");
            }
            assert!(
                message.len() < 1_000,
                "{name} / {what}: {} bytes: {message}",
                message.len()
            );
            for leak in ["lambda_runtime", "::", "DeserializeError"] {
                assert!(!message.contains(leak), "{name} / {what}: {message}");
            }
        }
    }
    let started = lambda.started();
    assert!(
        started.values().all(|n| *n == 1),
        "a bootstrap died on a bad body: {started:?}"
    );
}

/// A function of a few lines, in Python, that does what its event says: echo, sleep, exit, fail,
/// or answer a large result.
fn told_function(dir: &std::path::Path) -> PathBuf {
    let python = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3");
    let python = String::from_utf8_lossy(&python.stdout).trim().to_string();
    let code = r#"
import json, os, sys, time, urllib.request
base = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation"
def post(url, doc):
    req = urllib.request.Request(url, data=json.dumps(doc).encode(), method="POST")
    urllib.request.urlopen(req).read()
while True:
    with urllib.request.urlopen(base + "/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        deadline = int(r.headers["Lambda-Runtime-Deadline-Ms"])
        event = json.loads(r.read() or b"null")
    if event.get("exit"):
        sys.exit(event["exit"])
    hog = b"x" * (event.get("hogMb", 0) * 1024 * 1024)
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        post(base + "/" + rid + "/error", {"errorType": "Custom.Failure", "errorMessage": event["fail"]})
    elif event.get("big"):
        post(base + "/" + rid + "/response", "x" * event["big"])
    elif event.get("exitAfter"):
        post(base + "/" + rid + "/response", {"pid": os.getpid()})
        sys.exit(0)
    else:
        env = {k: os.environ.get(k) for k in ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "PATH", "HOME"]}
        post(base + "/" + rid + "/response", {"echo": event, "pid": os.getpid(), "env": env, "msLeft": deadline - int(time.time() * 1000)})
"#;
    std::fs::write(dir.join("told.py"), code).expect("write");
    let bootstrap = dir.join("bootstrap");
    std::fs::write(
        &bootstrap,
        format!("#!/bin/sh\nexec {python} {}\n", dir.join("told.py").display()),
    )
    .expect("write");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    bootstrap
}

async fn lambda_with_told_function(dir: &std::path::Path) -> (LocalLambda, aws_sdk_lambda::Client) {
    let spec = FunctionSpec {
        name: "told".into(),
        bootstrap: told_function(dir),
        environment: BTreeMap::new(),
        timeout: Duration::from_secs(2),
        memory_mb: 256,
    };
    let lambda = LocalLambda::start(vec![spec], dir.join("logs")).await.expect("lambda");
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-west-2"))
        .endpoint_url(lambda.endpoint())
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::new("testing", "testing", None, None, "test"),
        ))
        .sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep().expect("tokio sleep"))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
        .timeout_config(aws_config::timeout::TimeoutConfig::disabled())
        .build();
    (lambda, aws_sdk_lambda::Client::new(&config))
}

async fn invoke(client: &aws_sdk_lambda::Client, function: &str, event: Value) -> (Option<String>, Value) {
    let out = client
        .invoke()
        .function_name(function)
        .payload(Blob::new(event.to_string()))
        .send()
        .await
        .expect("invoked");
    let body = out.payload.map(|b| b.into_inner()).unwrap_or_default();
    (
        out.function_error,
        serde_json::from_slice(&body).expect("a JSON answer"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invoke_api_answers_as_lambda_timeouts_exits_and_limits_included() {
    let dir = tempfile::tempdir().expect("tmp");
    let (lambda, client) = lambda_with_told_function(dir.path()).await;
    let arn = "arn:aws:lambda:us-west-2:000000000000:function:told";

    // A result, by name or ARN; the process sees Lambda's variables and nothing of ours.
    let (error, answer) = invoke(&client, "told", json!({"hello": 1})).await;
    assert_eq!(error, None, "{answer}");
    assert_eq!(answer["echo"], json!({"hello": 1}));
    assert_eq!(answer["env"]["AWS_LAMBDA_FUNCTION_NAME"], "told");
    assert_eq!(answer["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"], "256");
    assert_eq!(answer["env"]["PATH"], Value::Null);
    assert_eq!(answer["env"]["HOME"], Value::Null);
    let left = answer["msLeft"].as_i64().expect("a deadline");
    assert!(left > 0 && left <= 2_000, "{left} ms left of 2 s");
    let first = answer["pid"].clone();
    let (_, answer) = invoke(&client, arn, json!({})).await;
    assert_eq!(answer["pid"], first, "a warm start reuses the environment");

    // A function error is passed on as Lambda passes it on.
    let (error, answer) = invoke(&client, "told", json!({"fail": "no"})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(answer, json!({"errorType": "Custom.Failure", "errorMessage": "no"}));

    // Past its Timeout: Sandbox.Timedout, and the environment is gone: the next is a cold start.
    let (error, answer) = invoke(&client, "told", json!({"sleep": 30})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(answer["errorType"], "Sandbox.Timedout", "{answer}");
    assert!(
        answer["errorMessage"]
            .as_str()
            .is_some_and(|m| m.ends_with("Task timed out after 2.00 seconds")),
        "{answer}"
    );
    let (_, answer) = invoke(&client, "told", json!({})).await;
    assert_ne!(answer["pid"], first, "a new environment after the timeout");
    assert_eq!(lambda.started()["told"], 2);

    // The process dies mid-invocation: Runtime.ExitError with its status.
    let (error, answer) = invoke(&client, "told", json!({"exit": 3})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(answer["errorType"], "Runtime.ExitError", "{answer}");
    assert!(
        answer["errorMessage"]
            .as_str()
            .is_some_and(|m| m.contains("exit status: 3")),
        "{answer}"
    );

    // A process that exits between invocations is replaced by a cold start, not handed the next.
    let (_, answer) = invoke(&client, "told", json!({"exitAfter": true})).await;
    let (error, next) = invoke(&client, "told", json!({})).await;
    assert_eq!(error, None, "{next}");
    assert_ne!(next["pid"], answer["pid"]);

    // Past its MemorySize (256 MB): Runtime.OutOfMemory, the environment gone.
    let (error, answer) = invoke(&client, "told", json!({"hogMb": 400, "sleep": 5})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(answer["errorType"], "Runtime.OutOfMemory", "{answer}");
    let peak = lambda.max_memory_used()["told"];
    assert!(peak > 256, "Max Memory Used {peak} MB");

    // A result over 6 MB is Lambda's error, not the result.
    let (error, answer) = invoke(&client, "told", json!({"big": PAYLOAD_LIMIT + 10})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(answer["errorType"], "Function.ResponseSizeTooLarge", "{answer}");

    // Refused before any function runs.
    let refused = |body: Vec<u8>, function: &'static str| {
        let client = client.clone();
        async move {
            let err = client
                .invoke()
                .function_name(function)
                .payload(Blob::new(body))
                .send()
                .await
                .expect_err("refused");
            err.code().unwrap_or_default().to_string()
        }
    };
    assert_eq!(refused(b"{}".to_vec(), "nobody").await, "ResourceNotFoundException");
    assert_eq!(
        refused(b"not json".to_vec(), "told").await,
        "InvalidRequestContentException"
    );
    let big = serde_json::to_vec(&"y".repeat(PAYLOAD_LIMIT)).expect("json");
    assert_eq!(refused(big, "told").await, "RequestTooLargeException");

    // Two at once: two environments.
    let before = lambda.started()["told"];
    let (a, b) = tokio::join!(
        invoke(&client, "told", json!({"sleep": 0.5})),
        invoke(&client, "told", json!({"sleep": 0.5}))
    );
    assert_ne!(a.1["pid"], b.1["pid"]);
    assert!(lambda.started()["told"] > before);
}

/// `rebound drill --lambda`: the six bootstraps (beside the executable) run the whole recovery
/// as processes behind the Lambda Runtime API, invoked through the Invoke API, and the drill
/// verifies the same end state in moto as with the handlers in-process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_with_the_functions_run_as_lambda_runs_them_is_verified() {
    bootstraps();
    let dir = tempfile::tempdir().expect("tmp");
    let mut drill = std::process::Command::new(env!("CARGO_BIN_EXE_rebound"));
    drill.args(["drill", "--lambda", "--report-dir"]).arg(dir.path());
    let out = tokio::task::spawn_blocking(move || drill.output().expect("rebound ends"))
        .await
        .expect("joined");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("the six functions run as Lambda runs them"), "{said}");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(printed.contains("RECOVERY VERIFIED"), "{printed}");
    let report = common::json_report(dir.path());
    assert_eq!(report["verified"], true);
    let cold = report["lambdaColdStarts"].as_object().expect("cold starts counted");
    let memory = report["lambdaMaxMemoryUsedMb"].as_object().expect("memory measured");
    assert_eq!(memory.len(), 6, "{memory:?}");
    assert_eq!(cold.len(), 6, "{cold:?}");
    assert!(cold.values().all(|n| n.as_u64() >= Some(1)), "{cold:?}");
    // Each function logged to its own file, as to its log group.
    let logged = std::fs::read_to_string(dir.path().join("lambda/recovery-validator.log")).expect("log");
    assert!(!logged.is_empty());

    // The drill planted a password beside the secret's host and made the host's parameter a
    // SecureString: neither value is in the history, the notifications, the table or the
    // report bucket (the drill's own check), nor in anything printed, logged or written.
    let canary = report["endState"]
        .as_array()
        .and_then(|f| f.iter().find(|f| f["what"] == "no secret value written"))
        .expect("the drill looked for its canaries");
    assert_eq!(canary["found"], "nowhere", "{canary}");
    let mut outputs = vec![
        ("stdout".to_string(), printed.to_string()),
        ("stderr".to_string(), said.to_string()),
    ];
    let mut dirs = vec![dir.path().to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).expect("dir").filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{} is for its owner alone", path.display());
                let text = String::from_utf8_lossy(&std::fs::read(&path).expect("file")).into_owned();
                outputs.push((path.display().to_string(), text));
            }
        }
    }
    assert!(
        outputs.len() >= 8,
        "the report, its page and six logs at least: {}",
        outputs.len()
    );
    for (name, text) in &outputs {
        for value in rebound::drill::canary::values() {
            assert!(!text.contains(&value), "{name} holds a canary secret");
        }
    }
}
