//! ARC routing controls read through the cluster's data-plane endpoints, never its control
//! plane. ARC asks callers to try each regional endpoint in turn: one that times out, resets,
//! throttles or says it is unavailable is skipped for the next. The next call starts at the
//! endpoint that last answered, so a silent endpoint costs its timeout once per invocation, not
//! once per call.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_sdk_route53recoverycluster::types::RoutingControlState;
use aws_sdk_route53recoverycluster::Client;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rebound_core::plan::RecoveryPlan;
use rebound_core::step::StepFault;

use crate::accounts::SharedCredentialsProvider;

use crate::error::{AwsError, ErrorKind};

/// A call no endpoint of the cluster would serve.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// An endpoint answered, refusing the request itself: the next one would too.
    #[error("{resource}: {source}")]
    Refused { resource: String, source: AwsError },
    #[error("{resource}: no ARC cluster endpoint answered {operation}: {tried}")]
    Unreachable {
        resource: String,
        operation: &'static str,
        tried: String,
    },
}

impl ClusterError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClusterError::Refused { source, .. } => source.kind,
            ClusterError::Unreachable { .. } => ErrorKind::Transient,
        }
    }
}

pub const SERVICE: &str = "route53-recovery-cluster";

/// Where the cluster clients come from.
pub enum Cluster {
    /// One client per endpoint the plan lists, built per request from this configuration's
    /// credentials: the endpoints are the plan's, not the function's.
    FromPlan(Box<aws_config::SdkConfig>),
    /// Fixed clients, one per endpoint in the plan's order (scripted responses in tests).
    Clients(Vec<Client>),
}

/// An endpoint to try: where it is, and its client.
pub struct Endpoint {
    pub label: String,
    pub client: Client,
}

/// The endpoints to try, in the plan's order, and the one that last answered.
#[derive(Default)]
pub struct Endpoints {
    list: Vec<Endpoint>,
    answered: AtomicUsize,
}

impl Endpoints {
    pub fn new(list: Vec<Endpoint>) -> Self {
        Endpoints {
            list,
            answered: AtomicUsize::new(0),
        }
    }

    /// Every endpoint once, from the one that last answered on.
    fn in_turn(&self) -> impl Iterator<Item = (usize, &Endpoint)> {
        let n = self.list.len();
        let first = self.answered.load(Ordering::Relaxed);
        (0..n).map(move |k| (first + k) % n).map(|i| (i, &self.list[i]))
    }
}

impl Cluster {
    /// The plan's cluster endpoints, each client acting as `role` where the cluster is in
    /// another account ([`cluster_role`]).
    pub fn endpoints(&self, plan: &RecoveryPlan, role: Option<&SharedCredentialsProvider>) -> Endpoints {
        let mut list = self.listed(plan);
        if let Some(role) = role {
            for endpoint in &mut list {
                endpoint.client = crate::as_role!(Client, endpoint.client, role);
            }
        }
        Endpoints::new(list)
    }

    fn listed(&self, plan: &RecoveryPlan) -> Vec<Endpoint> {
        let listed = plan.routing_control_cluster.iter().flat_map(|c| c.endpoints.iter());
        match self {
            Cluster::FromPlan(config) => listed
                .map(|e| {
                    let conf = aws_sdk_route53recoverycluster::config::Builder::from(config.as_ref())
                        .endpoint_url(&e.url)
                        .region(aws_config::Region::new(e.region.clone()))
                        // An endpoint in a failed region must give way to the next in seconds.
                        .timeout_config(crate::aws::best_effort_timeouts())
                        .retry_config(crate::aws::best_effort_retries())
                        .build();
                    Endpoint {
                        label: format!("{} ({})", e.url, e.region),
                        client: Client::from_conf(conf),
                    }
                })
                .collect(),
            Cluster::Clients(clients) => listed
                .zip(clients)
                .map(|(e, client)| Endpoint {
                    label: format!("{} ({})", e.url, e.region),
                    client: client.clone(),
                })
                .collect(),
        }
    }
}

/// The credentials of the account the plan's routing control cluster names, its role assumed
/// through `roles`; None for a cluster in Rebound's own account.
pub async fn cluster_role(
    roles: &crate::accounts::Roles,
    plan: &RecoveryPlan,
    session: &str,
) -> Result<Option<SharedCredentialsProvider>, StepFault> {
    let Some(name) = plan.routing_control_cluster.as_ref().and_then(|c| c.account.as_deref()) else {
        return Ok(None);
    };
    Ok(Some(roles.assume(plan, name, session).await?))
}

/// Whether a failure is the endpoint's own (try the next one) rather than the request's.
pub fn next_endpoint(err: &AwsError) -> bool {
    err.kind == ErrorKind::Transient
        || matches!(
            err.code.as_str(),
            "EndpointTemporarilyUnavailableException" | "ConflictException"
        )
}

/// The first answer from the endpoints, in turn from the one that last answered.
pub async fn first_answer<T, E, F, Fut>(
    endpoints: &Endpoints,
    resource: &str,
    operation: &'static str,
    call: F,
) -> Result<T, ClusterError>
where
    F: Fn(Client) -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut tried = Vec::new();
    for (i, endpoint) in endpoints.in_turn() {
        match call(endpoint.client.clone()).await {
            Ok(out) => {
                endpoints.answered.store(i, Ordering::Relaxed);
                if !tried.is_empty() {
                    tracing::warn!(
                        resource,
                        operation,
                        "answered by {} after: {}",
                        endpoint.label,
                        tried.join("; ")
                    );
                }
                return Ok(out);
            }
            Err(e) => {
                let err = crate::error::from_sdk(SERVICE, operation, &e);
                if !next_endpoint(&err) {
                    return Err(ClusterError::Refused {
                        resource: resource.to_string(),
                        source: err,
                    });
                }
                tried.push(format!("{}: {} ({})", endpoint.label, err.code, err.message));
            }
        }
    }
    Err(ClusterError::Unreachable {
        resource: resource.to_string(),
        operation,
        tried: if tried.is_empty() {
            "the plan lists no cluster endpoint".into()
        } else {
            tried.join("; ")
        },
    })
}

/// Each routing control's state, `true` for On.
pub async fn states(endpoints: &Endpoints, arns: &[&str]) -> Result<BTreeMap<String, bool>, ClusterError> {
    let mut out = BTreeMap::new();
    for arn in arns {
        let answer = first_answer(endpoints, arn, "GetRoutingControlState", |client| {
            let arn = arn.to_string();
            async move { client.get_routing_control_state().routing_control_arn(arn).send().await }
        })
        .await?;
        out.insert(
            arn.to_string(),
            *answer.routing_control_state() == RoutingControlState::On,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_failures_move_on_and_request_failures_stop() {
        let err = |code: &str, kind| AwsError {
            service: SERVICE,
            operation: "UpdateRoutingControlStates",
            code: code.into(),
            message: String::new(),
            status: None,
            kind,
        };
        assert!(next_endpoint(&err("DispatchFailure", ErrorKind::Transient)));
        assert!(next_endpoint(&err(
            "EndpointTemporarilyUnavailableException",
            ErrorKind::StepFailed
        )));
        assert!(next_endpoint(&err("ThrottlingException", ErrorKind::Transient)));
        assert!(!next_endpoint(&err("AccessDeniedException", ErrorKind::StepFailed)));
        assert!(!next_endpoint(&err("ValidationException", ErrorKind::InvalidInput)));
        assert!(!next_endpoint(&err(
            "ResourceNotFoundException",
            ErrorKind::PreconditionFailed
        )));
    }
}
