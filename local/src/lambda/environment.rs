//! One execution environment: a function's bootstrap as a process, with the environment Lambda
//! gives it, and its own Runtime API that hands it one invocation at a time.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use super::{empty, function_error, read, serve, text, FunctionSpec, Outcome, PAYLOAD_LIMIT};

/// One execution environment: a process and the invocation it is given.
pub(super) struct Instance {
    function: String,
    pub(super) work: mpsc::Sender<Invocation>,
    next: tokio::sync::Mutex<mpsc::Receiver<Invocation>>,
    in_flight: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    /// The process's exit status, once it has exited.
    pub(super) exited: watch::Receiver<Option<String>>,
    kill: mpsc::Sender<()>,
    pid: Option<u32>,
}

/// One synchronous invocation, handed to the environment's process.
pub(super) struct Invocation {
    pub(super) request_id: String,
    pub(super) body: Bytes,
    pub(super) timeout: Duration,
    pub(super) picked: oneshot::Sender<()>,
    pub(super) done: oneshot::Sender<Outcome>,
}

impl Instance {
    /// Ends the execution environment, as Lambda does after a timeout.
    pub(super) fn kill(&self) {
        let _ = self.kill.try_send(());
    }

    /// The process's resident memory in MB, as Lambda measures "Max Memory Used" (Linux only).
    pub(super) fn resident_mb(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb.div_ceil(1024))
    }

    /// A cold start: the bootstrap as a process, with only the environment Lambda gives it, and
    /// its own Runtime API (`AWS_LAMBDA_RUNTIME_API` is a host and port, no path).
    pub(super) async fn start(spec: &FunctionSpec, n: usize, logs: &Path) -> std::io::Result<Arc<Instance>> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let runtime_addr = listener.local_addr()?;
        let log = rebound_moto::private::file(&logs.join(format!("{}.log", spec.name)), true)?;
        let mut command = tokio::process::Command::new(&spec.bootstrap);
        command
            .env_clear()
            .envs(&spec.environment)
            .env("AWS_LAMBDA_RUNTIME_API", runtime_addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &spec.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", spec.memory_mb.to_string())
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", spec.name))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", format!("local/[$LATEST]{n}"))
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("_HANDLER", "bootstrap")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let mut child = command.spawn()?;
        let pid = child.id();
        let (work, next) = mpsc::channel(1);
        let (exit_tx, exited) = watch::channel::<Option<String>>(None);
        let (kill, mut killed) = mpsc::channel::<()>(1);
        // The task owns the process: it waits for its exit, or kills it when told to.
        tokio::spawn(async move {
            let status = tokio::select! {
                s = child.wait() => s,
                _ = killed.recv() => {
                    let _ = child.start_kill();
                    child.wait().await
                }
            };
            let why = match status {
                Ok(s) => s.to_string(),
                Err(e) => e.to_string(),
            };
            let _ = exit_tx.send(Some(why));
        });
        let mut gone = exited.clone();
        let instance = Arc::new(Instance {
            function: spec.name.clone(),
            work,
            next: tokio::sync::Mutex::new(next),
            in_flight: Mutex::new(HashMap::new()),
            exited,
            kill,
            pid,
        });
        let serving = instance.clone();
        let server = serve(
            listener,
            Arc::new(move |req| {
                let instance = serving.clone();
                Box::pin(async move { runtime_api(&instance, req).await })
            }),
        );
        // The environment's Runtime API ends with its process.
        tokio::spawn(async move {
            let _ = gone.wait_for(Option::is_some).await;
            server.abort();
        });
        Ok(instance)
    }
}

/// `/2018-06-01/runtime/...`, from one execution environment's process.
async fn runtime_api(instance: &Instance, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let (method, path, _, body) = match read(req).await {
        Ok(r) => r,
        Err(answer) => return answer,
    };
    let Some(call) = path.strip_prefix("/2018-06-01/runtime/") else {
        return text(StatusCode::NOT_FOUND, "no such API");
    };
    match (&method, call) {
        (&Method::GET, "invocation/next") => {
            let invocation = instance.next.lock().await.recv().await;
            let Some(invocation) = invocation else {
                return text(StatusCode::GONE, "the execution environment is shut down");
            };
            let function = &instance.function;
            let deadline = now_ms() + invocation.timeout.as_millis();
            if let Ok(mut in_flight) = instance.in_flight.lock() {
                in_flight.insert(invocation.request_id.clone(), invocation.done);
            }
            let _ = invocation.picked.send(());
            Response::builder()
                .status(StatusCode::OK)
                .header("lambda-runtime-aws-request-id", &invocation.request_id)
                .header("lambda-runtime-deadline-ms", deadline.to_string())
                .header(
                    "lambda-runtime-invoked-function-arn",
                    format!("arn:aws:lambda:local:000000000000:function:{function}"),
                )
                .header("lambda-runtime-trace-id", format!("Root=1-{}", invocation.request_id))
                .body(Full::new(invocation.body))
                .unwrap_or_else(|_| empty(StatusCode::INTERNAL_SERVER_ERROR))
        }
        (&Method::POST, "init/error") => text(StatusCode::ACCEPTED, "{\"status\":\"OK\"}"),
        (&Method::POST, call) => {
            let (request_id, outcome) = match call.strip_prefix("invocation/").and_then(|c| c.rsplit_once('/')) {
                Some((rid, "response")) if body.len() > PAYLOAD_LIMIT => (
                    rid,
                    function_error(
                        "Function.ResponseSizeTooLarge",
                        &format!(
                            "Response payload size exceeded maximum allowed payload size ({PAYLOAD_LIMIT} bytes)."
                        ),
                    ),
                ),
                Some((rid, "response")) => (rid, Outcome::Result(body)),
                Some((rid, "error")) => (rid, Outcome::FunctionError(body)),
                _ => return text(StatusCode::NOT_FOUND, "no such API"),
            };
            let done = instance.in_flight.lock().ok().and_then(|mut f| f.remove(request_id));
            match done {
                Some(done) => {
                    let _ = done.send(outcome);
                    text(StatusCode::ACCEPTED, "{\"status\":\"OK\"}")
                }
                None => text(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestID: no invocation in flight has this id",
                ),
            }
        }
        _ => text(StatusCode::NOT_FOUND, "no such API"),
    }
}

fn now_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}
