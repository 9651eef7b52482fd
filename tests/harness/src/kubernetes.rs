//! A cluster's Kubernetes API scripted for the tests, since no API server runs here: kube's own
//! client over tower-test's mock service, each request checked against the next exchange of a
//! script and answered as it says. A request beyond the script finds the server gone.

use std::collections::VecDeque;

use http_body_util::BodyExt;
use serde_json::{json, Value};

/// One request the script expects, and its answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: &'static str,
    pub path: String,
    /// A PATCH's JSON merge patch, as it must arrive.
    pub body: Option<Value>,
    pub status: u16,
    pub answer: Value,
}

impl Exchange {
    pub fn get(path: String, answer: Value) -> Exchange {
        Exchange {
            method: "GET",
            path,
            body: None,
            status: 200,
            answer,
        }
    }

    pub fn patch(path: String, body: Value, answer: Value) -> Exchange {
        Exchange {
            method: "PATCH",
            path,
            body: Some(body),
            status: 200,
            answer,
        }
    }

    /// The same request answered with a Kubernetes `Status` error.
    pub fn failing(mut self, status: u16, reason: &str) -> Exchange {
        self.status = status;
        self.answer = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                             "message": format!("scripted {reason}"), "reason": reason, "code": status});
        self
    }
}

/// A Deployment's path in `namespace`.
pub fn deployment_path(namespace: &str, name: &str) -> String {
    format!("/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
}

/// An autoscaler's path in `namespace` (autoscaling/v2).
pub fn autoscaler_path(namespace: &str, name: &str) -> String {
    format!("/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/{name}")
}

/// Deployment `name` as the API server returns it: `replicas` wanted, `available` of them ready.
pub fn deployment(namespace: &str, name: &str, replicas: i32, available: i32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": name, "image": "orders:1"}]}}
        },
        "status": {"replicas": replicas, "availableReplicas": available}
    })
}

/// Autoscaler `name` of Deployment `target`, between `min` and `max` replicas.
pub fn autoscaler(namespace: &str, name: &str, target: &str, min: i32, max: i32) -> Value {
    json!({
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
                 "minReplicas": min, "maxReplicas": max}
    })
}

/// A client whose API server answers `script`, in order; the task ends with each request seen
/// (`METHOD path`), and panics on one the script did not expect.
pub fn scripted(script: Vec<Exchange>) -> (kube::Client, tokio::task::JoinHandle<Vec<String>>) {
    let (service, mut handle) =
        tower_test::mock::pair::<http::Request<kube::client::Body>, http::Response<kube::client::Body>>();
    let served = tokio::spawn(async move {
        let mut script: VecDeque<Exchange> = script.into();
        let mut seen = Vec::new();
        while let Some(next) = script.pop_front() {
            let Some((request, reply)) = handle.next_request().await else {
                break;
            };
            let said = format!("{} {}", request.method(), request.uri().path());
            assert_eq!(said, format!("{} {}", next.method, next.path), "after {seen:?}");
            if let Some(expected) = &next.body {
                let bytes = request.into_body().collect().await.expect("body").to_bytes();
                let body: Value = serde_json::from_slice(&bytes).expect("a JSON body");
                assert_eq!(&body, expected, "{said}");
            }
            seen.push(said);
            let answer = http::Response::builder()
                .status(next.status)
                .header("content-type", "application/json")
                .body(kube::client::Body::from(
                    serde_json::to_vec(&next.answer).expect("json"),
                ))
                .expect("response");
            reply.send_response(answer);
        }
        seen
    });
    (kube::Client::new(service, "default"), served)
}
