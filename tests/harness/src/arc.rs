//! ARC's routing-control data plane, which moto does not serve: local endpoint servers that
//! speak the cluster API's protocol (AWS JSON 1.0, target `ToggleCustomerAPI`) over one set of
//! routing control states, as a cluster's regional endpoints share theirs. An endpoint answers,
//! or holds every request for a while before answering; [`down`] is an endpoint nobody listens
//! on. Each request's SigV4 scope is recorded, to show which region it was signed for.
//!
//! Operations: `GetRoutingControlState` and `UpdateRoutingControlStates` (Routing Control API
//! Reference); an ARN the cluster does not have is `ResourceNotFoundException`.

use std::collections::BTreeMap;
use std::net::TcpListener as StdListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

/// A request an endpoint received: its operation and the `region/service` it was signed for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub operation: String,
    pub scope: String,
}

/// The cluster's routing control states, `true` for On.
#[derive(Clone, Default)]
pub struct ArcCluster {
    states: Arc<Mutex<BTreeMap<String, bool>>>,
}

/// One regional endpoint of the cluster on a loopback port; stops when dropped.
pub struct ArcEndpoint {
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for ArcEndpoint {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl ArcEndpoint {
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// The URL of an endpoint that refuses connections: a port bound and let go.
pub fn down() -> std::io::Result<String> {
    let listener = StdListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    drop(listener);
    Ok(format!("http://{addr}/v1"))
}

impl ArcCluster {
    pub fn new(states: &[(&str, bool)]) -> Self {
        let map = states.iter().map(|(arn, on)| (arn.to_string(), *on)).collect();
        ArcCluster {
            states: Arc::new(Mutex::new(map)),
        }
    }

    pub fn is_on(&self, arn: &str) -> Option<bool> {
        self.states.lock().ok().and_then(|s| s.get(arn).copied())
    }

    /// An endpoint that answers each request after `delay` (zero: at once).
    pub async fn endpoint(&self, delay: Duration) -> std::io::Result<ArcEndpoint> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/v1", listener.local_addr()?);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (states, log) = (self.states.clone(), seen.clone());
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (states, log) = (states.clone(), log.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let (states, log) = (states.clone(), log.clone());
                        async move { Ok::<_, std::convert::Infallible>(answer(&states, &log, delay, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(ArcEndpoint { url, seen, server })
    }
}

fn json_response(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/x-amz-json-1.0"),
    );
    r
}

fn refused(code: &str, message: String) -> Response<Full<Bytes>> {
    json_response(StatusCode::BAD_REQUEST, json!({"__type": code, "message": message}))
}

/// `Credential=AKID/20261206/us-west-2/route53-recovery-cluster/aws4_request` → `us-west-2/route53-recovery-cluster`.
fn scope(authorization: &str) -> String {
    let credential = authorization
        .split("Credential=")
        .nth(1)
        .and_then(|c| c.split(',').next())
        .unwrap_or_default();
    let parts: Vec<&str> = credential.split('/').collect();
    match parts.as_slice() {
        [_, _, region, service, ..] => format!("{region}/{service}"),
        _ => "unsigned".into(),
    }
}

/// Records the request, waits `delay`, and answers it.
async fn answer(
    states: &Mutex<BTreeMap<String, bool>>,
    seen: &Mutex<Vec<Seen>>,
    delay: Duration,
    req: Request<hyper::body::Incoming>,
) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let operation = header("x-amz-target")
        .strip_prefix("ToggleCustomerAPI.")
        .unwrap_or_default()
        .to_string();
    let signed = scope(&header("authorization"));
    if let Ok(mut s) = seen.lock() {
        s.push(Seen {
            operation: operation.clone(),
            scope: signed,
        });
    }
    tokio::time::sleep(delay).await;
    let body: Value = match req.into_body().collect().await {
        Ok(b) => serde_json::from_slice(&b.to_bytes()).unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    let Ok(mut states) = states.lock() else {
        return json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({"__type": "InternalServerException"}),
        );
    };
    let state_name = |on: bool| if on { "On" } else { "Off" };
    match operation.as_str() {
        "GetRoutingControlState" => {
            let arn = body["RoutingControlArn"].as_str().unwrap_or_default();
            match states.get(arn) {
                Some(on) => json_response(
                    StatusCode::OK,
                    json!({"RoutingControlArn": arn, "RoutingControlState": state_name(*on)}),
                ),
                None => refused("ResourceNotFoundException", format!("no routing control {arn}")),
            }
        }
        "UpdateRoutingControlStates" => {
            let entries = body["UpdateRoutingControlStateEntries"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let mut updates = Vec::new();
            for e in &entries {
                let arn = e["RoutingControlArn"].as_str().unwrap_or_default();
                if !states.contains_key(arn) {
                    return refused("ResourceNotFoundException", format!("no routing control {arn}"));
                }
                updates.push((arn.to_string(), e["RoutingControlState"] == "On"));
            }
            // All or none, as ARC applies a batch.
            states.extend(updates);
            json_response(StatusCode::OK, json!({}))
        }
        other => refused("ValidationException", format!("operation {other} is not served here")),
    }
}
