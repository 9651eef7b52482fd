//! Lambda, on this machine, as it runs Rebound's functions: each function's bootstrap (its
//! binary, as cargo-lambda packages it) runs as a process behind the Lambda Runtime API, started
//! on an invocation that finds no idle one (a cold start), with the environment the template
//! gives it. The Invoke API in front answers as Lambda does: the function's result; a function
//! error with `X-Amz-Function-Error`; `Sandbox.Timedout` past the function's `Timeout` (the
//! process is killed, as Lambda ends the sandbox); `Runtime.ExitError` when the process dies
//! mid-invocation; `Runtime.OutOfMemory` when its resident memory passes the function's
//! `MemorySize`; `Runtime.InitError` when it does not ask for work within Lambda's 10 s init
//! limit; and the payload limits (6 MB each way, a request body that is not JSON refused).

mod environment;

use environment::{Instance, Invocation};

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Lambda's limit on a synchronous invocation's request and response payloads (6 MB).
pub const PAYLOAD_LIMIT: usize = 6 * 1024 * 1024;
/// How long Lambda lets a new execution environment initialise before it is an init error.
pub const INIT_LIMIT: Duration = Duration::from_secs(10);

/// One function as Lambda runs it.
#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub name: String,
    pub bootstrap: PathBuf,
    /// The function's environment (the template's variables and the credentials it acts with).
    pub environment: BTreeMap<String, String>,
    pub timeout: Duration,
    pub memory_mb: u64,
}

/// What an invocation ended with, as the Invoke API reports it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Result(Bytes),
    /// A function error: the error document (`errorType`, `errorMessage`).
    FunctionError(Bytes),
}

/// Why Lambda refused an invocation before any function ran (the Invoke API's own errors).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refused {
    #[error("ResourceNotFoundException: Function not found: {0}")]
    NoSuchFunction(String),
    #[error(
        "RequestTooLargeException: Request must be smaller than {PAYLOAD_LIMIT} bytes for the InvokeFunction operation"
    )]
    TooLarge,
    #[error("InvalidRequestContentException: Could not parse request body into json: {0}")]
    NotJson(String),
    #[error("ServiceException: {0}")]
    Service(String),
}

impl Refused {
    fn status(&self) -> StatusCode {
        match self {
            Refused::NoSuchFunction(_) => StatusCode::NOT_FOUND,
            Refused::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refused::NotJson(_) => StatusCode::BAD_REQUEST,
            Refused::Service(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Refused::NoSuchFunction(_) => "ResourceNotFoundException",
            Refused::TooLarge => "RequestTooLargeException",
            Refused::NotJson(_) => "InvalidRequestContentException",
            Refused::Service(_) => "ServiceException",
        }
    }
}

/// The local Lambda service: the Invoke API and each process's Runtime API on one loopback port.
/// Dropping it kills every process.
pub struct LocalLambda {
    addr: SocketAddr,
    state: Arc<Service>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for LocalLambda {
    fn drop(&mut self) {
        self.server.abort();
        if let Ok(all) = self.state.instances.lock() {
            all.values().for_each(|i| i.kill());
        }
    }
}

struct Service {
    functions: HashMap<String, Function>,
    /// Where each function's processes write (`<logs>/<function>.log`), as its log group.
    logs: PathBuf,
    instances: Mutex<HashMap<String, Arc<Instance>>>,
    counter: AtomicUsize,
    /// Each function's "Max Memory Used" over its invocations, in MB.
    peaks: Mutex<BTreeMap<String, u64>>,
}

struct Function {
    spec: FunctionSpec,
    idle: Mutex<Vec<Arc<Instance>>>,
}

impl LocalLambda {
    /// Serves `functions` on a free loopback port; their processes log under `logs`.
    pub async fn start(functions: Vec<FunctionSpec>, logs: PathBuf) -> std::io::Result<LocalLambda> {
        rebound_moto::private::create_dir_all(&logs)?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(Service {
            functions: functions
                .into_iter()
                .map(|spec| {
                    (
                        spec.name.clone(),
                        Function {
                            spec,
                            idle: Mutex::new(Vec::new()),
                        },
                    )
                })
                .collect(),
            logs,
            instances: Mutex::new(HashMap::new()),
            counter: AtomicUsize::new(0),
            peaks: Mutex::new(BTreeMap::new()),
        });
        let serving = state.clone();
        let server = serve(
            listener,
            Arc::new(move |req| {
                let state = serving.clone();
                Box::pin(async move { state.route(req).await })
            }),
        );
        Ok(LocalLambda { addr, state, server })
    }

    /// The Invoke API's endpoint, for an SDK client's `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A synchronous invocation with `body` handed to the runtime as it is, past the Invoke API's
    /// checks: what a bootstrap does with a body Lambda would not have let through.
    pub async fn invoke_raw(&self, function: &str, body: Bytes) -> Result<Outcome, Refused> {
        self.state.run(function, body).await
    }

    /// Each function's largest resident memory while it ran an invocation, in MB (Lambda's
    /// "Max Memory Used"), to hold against its `MemorySize`.
    pub fn max_memory_used(&self) -> BTreeMap<String, u64> {
        self.state.peaks.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// How many processes each function has started (cold starts).
    pub fn started(&self) -> BTreeMap<String, usize> {
        let mut out: BTreeMap<String, usize> = self.state.functions.keys().map(|f| (f.clone(), 0)).collect();
        if let Ok(instances) = self.state.instances.lock() {
            for id in instances.keys() {
                if let Some((function, _)) = id.rsplit_once('~') {
                    *out.entry(function.to_string()).or_default() += 1;
                }
            }
        }
        out
    }
}

type Handler =
    Arc<dyn Fn(Request<Incoming>) -> Pin<Box<dyn Future<Output = Response<Full<Bytes>>> + Send>> + Send + Sync>;

/// Serves HTTP/1.1 on `listener` until the task is aborted.
fn serve(listener: TcpListener, handler: Handler) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let answer = handler(req);
                    async move { Ok::<_, std::convert::Infallible>(answer.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

async fn read(req: Request<Incoming>) -> Result<(Method, String, hyper::HeaderMap, Bytes), Response<Full<Bytes>>> {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let headers = req.headers().clone();
    match req.into_body().collect().await {
        Ok(b) => Ok((method, path, headers, b.to_bytes())),
        Err(e) => Err(text(StatusCode::BAD_REQUEST, &e.to_string())),
    }
}

impl Service {
    /// The Invoke API.
    async fn route(self: &Arc<Self>, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (_, path, headers, body) = match read(req).await {
            Ok(r) => r,
            Err(answer) => return answer,
        };
        if let Some(rest) = path.strip_prefix("/2015-03-31/functions/") {
            let Some(name) = rest.strip_suffix("/invocations") else {
                return text(StatusCode::NOT_FOUND, "no such API");
            };
            let kind = headers
                .get("x-amz-invocation-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("RequestResponse");
            return self.invoke_api(&function_name(&percent_decode(name)), kind, body).await;
        }
        text(StatusCode::NOT_FOUND, "no such API")
    }

    /// `POST /2015-03-31/functions/{FunctionName}/invocations`.
    async fn invoke_api(self: &Arc<Self>, function: &str, kind: &str, body: Bytes) -> Response<Full<Bytes>> {
        let checked = self.check(function, &body);
        let outcome = match (checked, kind) {
            (Err(refused), _) => Err(refused),
            (Ok(()), "DryRun") => return empty(StatusCode::NO_CONTENT),
            (Ok(()), "Event") => {
                let state = self.clone();
                let function = function.to_string();
                tokio::spawn(async move { state.run(&function, body).await });
                return empty(StatusCode::ACCEPTED);
            }
            (Ok(()), _) => self.run(function, body).await,
        };
        let mut response = Response::builder().header("x-amz-executed-version", "$LATEST");
        let body = match outcome {
            Ok(Outcome::Result(b)) => b,
            Ok(Outcome::FunctionError(b)) => {
                response = response.header("x-amz-function-error", "Unhandled");
                b
            }
            Err(refused) => {
                let doc = json!({"Type": "User", "message": refused.to_string(), "__type": refused.code()});
                return Response::builder()
                    .status(refused.status())
                    .header("x-amzn-errortype", refused.code())
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(doc.to_string())))
                    .unwrap_or_else(|_| empty(StatusCode::INTERNAL_SERVER_ERROR));
            }
        };
        response
            .status(StatusCode::OK)
            .header("content-type", "application/json")
            .body(Full::new(body))
            .unwrap_or_else(|_| empty(StatusCode::INTERNAL_SERVER_ERROR))
    }

    /// The Invoke API's checks before any function runs.
    fn check(&self, function: &str, body: &Bytes) -> Result<(), Refused> {
        if !self.functions.contains_key(function) {
            return Err(Refused::NoSuchFunction(function.to_string()));
        }
        if body.len() > PAYLOAD_LIMIT {
            return Err(Refused::TooLarge);
        }
        if body.is_empty() {
            return Ok(()); // no payload: the function gets an empty body
        }
        match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            // Lambda's own parser has no depth limit: deep JSON reaches the function.
            Err(e) if !e.to_string().starts_with("recursion limit exceeded") => Err(Refused::NotJson(e.to_string())),
            _ => Ok(()),
        }
    }

    /// An idle environment of `f` whose process is still running, or a new one (a cold start).
    async fn environment(&self, f: &Function) -> Result<(Arc<Instance>, bool), Refused> {
        let idle = {
            let mut idle = f.idle.lock().map_err(|_| Refused::Service("lock".into()))?;
            // One whose process has since exited is dropped, as Lambda replaces it.
            idle.retain(|i| i.exited.borrow().is_none());
            idle.pop()
        };
        if let Some(warm) = idle {
            return Ok((warm, true));
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let instance = Instance::start(&f.spec, n, &self.logs)
            .await
            .map_err(|e| Refused::Service(format!("{}: {e}", f.spec.name)))?;
        if let Ok(mut all) = self.instances.lock() {
            all.insert(format!("{}~{n}", f.spec.name), instance.clone());
        }
        Ok((instance, false))
    }

    /// One invocation on an idle environment, or a new one.
    async fn run(self: &Arc<Self>, function: &str, body: Bytes) -> Result<Outcome, Refused> {
        let f = self
            .functions
            .get(function)
            .ok_or_else(|| Refused::NoSuchFunction(function.to_string()))?;
        let request_id = uuid::Uuid::new_v4().to_string();
        let died = |why: Option<String>, kind: &str| {
            let why = why.unwrap_or_else(|| "no status".into());
            function_error(
                kind,
                &format!("RequestId: {request_id} Error: Runtime exited with error: {why}"),
            )
        };
        let (instance, finished) = loop {
            let (instance, warm) = self.environment(f).await?;
            let (picked, was_picked) = oneshot::channel();
            let (done, finished) = oneshot::channel();
            let invocation = Invocation {
                request_id: request_id.clone(),
                body: body.clone(),
                timeout: f.spec.timeout,
                picked,
                done,
            };
            if instance.work.send(invocation).await.is_err() {
                return Err(Refused::Service(format!(
                    "{function}: the execution environment is gone"
                )));
            }
            let mut exited = instance.exited.clone();
            tokio::select! {
                p = was_picked => match p {
                    Ok(()) => break (instance, finished),
                    Err(_) => return Ok(died(instance.exited.borrow().clone(), "Runtime.ExitError")),
                },
                _ = tokio::time::sleep(INIT_LIMIT) => {
                    instance.kill();
                    return Ok(function_error("Runtime.InitError", &format!(
                        "RequestId: {request_id} Error: the runtime did not ask for the invocation within {} s", INIT_LIMIT.as_secs()
                    )));
                }
                _ = exited.wait_for(Option::is_some) => {
                    instance.kill();
                    // A warm environment that exited between invocations: the next is a cold start.
                    if !warm {
                        return Ok(died(instance.exited.borrow().clone(), "Runtime.InitError"));
                    }
                }
            }
        };
        let mut exited = instance.exited.clone();
        let outcome = tokio::select! {
            o = finished => o.ok(),
            _ = tokio::time::sleep(f.spec.timeout) => {
                instance.kill();
                return Ok(function_error("Sandbox.Timedout", &format!(
                    "RequestId: {request_id} Error: Task timed out after {:.2} seconds",
                    f.spec.timeout.as_secs_f64()
                )));
            }
            _ = exited.wait_for(Option::is_some) => None,
            used = self.over_memory(&instance, &f.spec) => {
                instance.kill();
                return Ok(function_error("Runtime.OutOfMemory", &format!(
                    "RequestId: {request_id} Error: Runtime exited with error: signal: killed ({used} MB used of {} MB)",
                    f.spec.memory_mb
                )));
            }
        };
        match outcome {
            Some(o) => {
                if let Ok(mut idle) = f.idle.lock() {
                    idle.push(instance);
                }
                Ok(o)
            }
            None => {
                instance.kill();
                Ok(died(instance.exited.borrow().clone(), "Runtime.ExitError"))
            }
        }
    }
}

impl Service {
    /// Watches the process's memory while it runs an invocation, keeping the function's peak;
    /// returns (the MB used) only once it is over the function's `MemorySize`.
    async fn over_memory(&self, instance: &Instance, spec: &FunctionSpec) -> u64 {
        loop {
            if let Some(used) = instance.resident_mb() {
                if let Ok(mut peaks) = self.peaks.lock() {
                    let peak = peaks.entry(spec.name.clone()).or_default();
                    *peak = (*peak).max(used);
                }
                if used > spec.memory_mb {
                    return used;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn function_error(kind: &str, message: &str) -> Outcome {
    Outcome::FunctionError(Bytes::from(
        json!({"errorType": kind, "errorMessage": message}).to_string(),
    ))
}

/// The function's name from a name, a partial or a full ARN, with or without a qualifier.
fn function_name(given: &str) -> String {
    let name = match given.split_once("function:") {
        Some((_, after)) => after,
        None => given,
    };
    name.split(':').next().unwrap_or(name).to_string()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Some(b) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn empty(status: StatusCode) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

fn text(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(message.to_string())));
    *r.status_mut() = status;
    r
}
