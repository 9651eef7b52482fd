//! `routingControl` mode. moto does not serve ARC's data plane (the cluster endpoints), so each
//! endpoint is a client whose responses are scripted with aws-smithy-mocks over one shared set
//! of routing control states: an endpoint that is down, one that applies a change and loses
//! the answer, one that refuses the caller.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_route53recoverycluster::operation::get_routing_control_state::GetRoutingControlStateOutput;
use aws_sdk_route53recoverycluster::operation::update_routing_control_states::{
    UpdateRoutingControlStatesError, UpdateRoutingControlStatesOutput,
};
use aws_sdk_route53recoverycluster::types::error::AccessDeniedException;
use aws_sdk_route53recoverycluster::types::RoutingControlState;
use aws_sdk_route53recoverycluster::Client;
use aws_smithy_mocks::{mock, mock_client, MockResponse, Rule, RuleMode};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use chrono::Utc;
use dns_failover::{DnsError, DnsFailover};
use rebound_shared::accounts::Roles;
use rebound_shared::context::{ActionStatus, StepResult};
use rebound_shared::dns::cluster::Cluster;
use rebound_shared::ErrorKind;
use rebound_tests::event;
use serde_json::{json, Value};

const PRIMARY: &str = "arn:aws:route53-recovery-control::111122223333:controlpanel/cp/routingcontrol/use1";
const RECOVERY: &str = "arn:aws:route53-recovery-control::111122223333:controlpanel/cp/routingcontrol/usw2";

/// The cluster's routing control states, shared by every endpoint.
type States = Arc<Mutex<BTreeMap<String, bool>>>;

#[derive(Clone, Copy, PartialEq)]
enum Endpoint {
    /// Every call fails with a 503.
    Down,
    /// Answers.
    Up,
    /// Applies an update, then the answer is lost (a 500 after the change was made).
    LosesUpdateAnswers,
    /// Refuses the caller.
    Denies,
}

fn unavailable() -> Response {
    Response::new(StatusCode::try_from(503).expect("status"), SdkBody::empty())
}

/// An endpoint's client and its update rule (to count the updates it received).
fn endpoint(states: &States, behaviour: Endpoint) -> (Client, Rule) {
    let read = states.clone();
    // A filter of its own input type keeps each rule to its operation.
    let get = mock!(Client::get_routing_control_state)
        .match_requests(|_| true)
        .then_compute_response(move |input| {
            if behaviour == Endpoint::Down {
                return MockResponse::Http(unavailable());
            }
            let arn = input.routing_control_arn().unwrap_or_default().to_string();
            let on = read.lock().expect("states").get(&arn).copied().unwrap_or(false);
            MockResponse::Output(
                GetRoutingControlStateOutput::builder()
                    .routing_control_arn(arn)
                    .routing_control_state(if on {
                        RoutingControlState::On
                    } else {
                        RoutingControlState::Off
                    })
                    .build()
                    .expect("output"),
            )
        });
    let write = states.clone();
    let update = mock!(Client::update_routing_control_states)
        .match_requests(|_| true)
        .then_compute_response(move |input| {
            match behaviour {
                Endpoint::Down => return MockResponse::Http(unavailable()),
                Endpoint::Denies => {
                    return MockResponse::Error(UpdateRoutingControlStatesError::AccessDeniedException(
                        AccessDeniedException::builder()
                            .message("not authorized to update routing controls")
                            .build()
                            .expect("error"),
                    ))
                }
                _ => {}
            }
            let mut states = write.lock().expect("states");
            for entry in input.update_routing_control_state_entries() {
                states.insert(
                    entry.routing_control_arn().to_string(),
                    *entry.routing_control_state() == RoutingControlState::On,
                );
            }
            if behaviour == Endpoint::LosesUpdateAnswers {
                return MockResponse::Http(Response::new(
                    StatusCode::try_from(500).expect("status"),
                    SdkBody::empty(),
                ));
            }
            MockResponse::Output(UpdateRoutingControlStatesOutput::builder().build())
        });
    // One attempt per call: the mocks compute from the input, which a retry does not carry.
    let client = mock_client!(
        aws_sdk_route53recoverycluster,
        RuleMode::MatchAny,
        &[&get, &update],
        |c| c.retry_config(aws_sdk_route53recoverycluster::config::retry::RetryConfig::disabled())
    );
    (client, update)
}

struct World {
    states: States,
    request: Value,
    updates: Vec<Rule>,
    dns: DnsFailover,
}

fn world(endpoints: &[Endpoint]) -> World {
    let states: States = Arc::new(Mutex::new(BTreeMap::from([
        (PRIMARY.to_string(), true),
        (RECOVERY.to_string(), false),
    ])));
    let (clients, updates): (Vec<Client>, Vec<Rule>) = endpoints.iter().map(|b| endpoint(&states, *b)).unzip();
    let mut request = event("dns-failover.json");
    let regions = [
        "us-west-2",
        "eu-west-1",
        "ap-southeast-2",
        "us-east-1",
        "ap-northeast-1",
    ];
    request["context"]["plan"]["routingControlCluster"] = json!({
        "endpoints": regions[..endpoints.len()].iter().enumerate()
            .map(|(i, r)| json!({"region": r, "url": format!("https://host-{i}.{r}.example.com/v1")}))
            .collect::<Vec<_>>()
    });
    request["context"]["plan"]["dns"] = json!([{
        "hostedZoneId": "Z0123456789ABCDEFGHIJ", "name": "api.orders.example.com.", "type": "CNAME",
        "mode": "routingControl", "primaryRoutingControlArn": PRIMARY, "recoveryRoutingControlArn": RECOVERY
    }]);
    let unused = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudwatch::config::Region::new("us-west-2"))
        .build();
    let route53 = aws_sdk_route53::Config::builder()
        .behavior_version(aws_sdk_route53::config::BehaviorVersion::latest())
        .region(aws_sdk_route53::config::Region::new("us-east-1"))
        .build();
    World {
        states,
        request,
        updates,
        dns: DnsFailover {
            route53: aws_sdk_route53::Client::from_conf(route53),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(unused),
            // No zone of these plans is in another account: never called.
            roles: Roles::new(
                &aws_config::SdkConfig::builder()
                    .behavior_version(aws_config::BehaviorVersion::latest())
                    .region(aws_config::Region::new("us-west-2"))
                    .build(),
            ),
            cluster: Cluster::Clients(clients),
        },
    }
}

impl World {
    async fn run(&self, request: &Value) -> Result<StepResult, DnsError> {
        self.dns.handle(request.clone(), Utc::now()).await
    }

    fn on(&self, arn: &str) -> bool {
        self.states.lock().expect("states").get(arn).copied().unwrap_or(false)
    }

    fn updates(&self) -> Vec<usize> {
        self.updates.iter().map(Rule::num_calls).collect()
    }
}

#[tokio::test]
async fn a_failover_skips_an_endpoint_that_is_down_and_switches_both_cells_at_once() {
    let w = world(&[Endpoint::Down, Endpoint::Up, Endpoint::Up]);
    let result = w.run(&w.request).await.expect("failover");
    assert!(w.on(RECOVERY) && !w.on(PRIMARY));
    assert_eq!(result.actions.len(), 1);
    assert_eq!(result.actions[0].operation, "UpdateRoutingControlStates");
    assert_eq!(result.actions[0].status, ActionStatus::Done);
    assert_eq!(result.actions[0].before, json!({"primary": "On", "recovery": "Off"}));
    let updates = w.updates();
    assert_eq!(
        updates,
        [0, 1, 0],
        "the reads found the second answering: the switch went to it, never to the first or third"
    );

    // Again: already switched, nothing sent.
    let again = w.run(&w.request).await.expect("again");
    assert!(again.actions[0].already_done);
    assert_eq!(w.updates(), [0, 1, 0]);

    // Failback turns the primary back on.
    let mut failback = w.request.clone();
    failback["context"]["mode"] = json!("failback");
    w.run(&failback).await.expect("failback");
    assert!(w.on(PRIMARY) && !w.on(RECOVERY));
}

#[tokio::test]
async fn an_answer_lost_after_the_switch_is_found_done_by_the_next_endpoint_and_the_retry() {
    let w = world(&[Endpoint::LosesUpdateAnswers, Endpoint::Up]);
    w.run(&w.request).await.expect("failover");
    assert!(w.on(RECOVERY) && !w.on(PRIMARY));
    // The state machine's retry of the whole step finds the cells switched.
    let retry = w.run(&w.request).await.expect("retry");
    assert!(retry.actions[0].already_done, "{:?}", retry.actions);
}

#[tokio::test]
async fn no_endpoint_answering_is_transient_and_names_every_endpoint() {
    let w = world(&[Endpoint::Down, Endpoint::Down]);
    let err = w.run(&w.request).await.expect_err("cluster down");
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    let text = err.to_string();
    assert!(
        text.contains("no ARC cluster endpoint answered GetRoutingControlState"),
        "{text}"
    );
    assert!(
        text.contains("host-0.us-west-2") && text.contains("host-1.eu-west-1"),
        "{text}"
    );
    assert!(w.on(PRIMARY) && !w.on(RECOVERY), "nothing changed");
}

#[tokio::test]
async fn a_refusal_is_not_retried_on_the_next_endpoint() {
    let w = world(&[Endpoint::Denies, Endpoint::Up]);
    let err = w.run(&w.request).await.expect_err("denied");
    assert_eq!(err.kind(), ErrorKind::StepFailed, "{err}");
    assert!(err.to_string().contains("AccessDeniedException"), "{err}");
    assert_eq!(w.updates(), vec![1, 0]);
    assert!(w.on(PRIMARY) && !w.on(RECOVERY));
}

#[tokio::test]
async fn a_dry_run_reads_the_cells_and_switches_nothing() {
    let w = world(&[Endpoint::Up]);
    let mut request = w.request.clone();
    request["context"]["dryRun"] = json!(true);
    let result = w.run(&request).await.expect("dry run");
    assert_eq!(result.actions[0].status, ActionStatus::Planned);
    assert_eq!(result.actions[0].after, json!({"primary": "Off", "recovery": "On"}));
    assert_eq!(w.updates(), vec![0]);
}

/// The access key each request an endpoint received was signed with (SigV4's `Credential=`).
#[derive(Debug, Clone, Default)]
struct Signers(Arc<Mutex<Vec<String>>>);

impl aws_smithy_runtime_api::client::interceptors::Intercept for Signers {
    fn name(&self) -> &'static str {
        "Signers"
    }

    fn read_before_transmit(
        &self,
        context: &aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef<'_>,
        _: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
        _: &mut aws_smithy_types::config_bag::ConfigBag,
    ) -> Result<(), aws_smithy_runtime_api::box_error::BoxError> {
        let authorization = context.request().headers().get("authorization").unwrap_or_default();
        let key = authorization
            .split("Credential=")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        self.0.lock().expect("signers").push(key.to_string());
        Ok(())
    }
}

#[tokio::test]
async fn a_cluster_in_another_account_is_read_and_switched_as_its_role() {
    let moto = rebound_tests::MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let mut w = world(&[Endpoint::Up]);
    let signers = Signers::default();
    // The endpoint's client, recording who signed each request.
    let Cluster::Clients(clients) = &w.dns.cluster else {
        panic!("scripted clients")
    };
    let recorded: Vec<Client> = clients
        .iter()
        .map(|c| Client::from_conf(c.config().to_builder().interceptor(signers.clone()).build()))
        .collect();
    w.dns.cluster = Cluster::Clients(recorded);
    w.dns.roles = Roles::new(&moto.config("us-west-2"));
    let mut request = w.request.clone();
    let plan = &mut request["context"]["plan"];
    plan["accounts"] = json!({"arc": {"roleArn": "arn:aws:iam::111122223333:role/rebound-arc"}});
    plan["routingControlCluster"]["account"] = json!("arc");

    let result = w.run(&request).await.expect("failover");
    assert!(w.on(RECOVERY) && !w.on(PRIMARY));
    assert_eq!(result.actions[0].status, ActionStatus::Done);
    // Every read and the switch were signed with the role's session keys (moto's start ASIA),
    // none with the function's own.
    let keys = signers.0.lock().expect("signers").clone();
    assert!(
        !keys.is_empty() && keys.iter().all(|k| k.starts_with("ASIA")),
        "{keys:?}"
    );

    // A role STS refuses: named, and no control switched.
    let mut w = world(&[Endpoint::Up]);
    request["context"]["plan"]["accounts"]["arc"]["roleArn"] = json!("arn:aws:iam::111122223333:role/x");
    let proxy = rebound_tests::faults::FaultProxy::start(&moto).unwrap_or_else(|e| panic!("{e}"));
    proxy
        .set(&[rebound_tests::faults::Fault::status(403)
            .service("sts")
            .operation("AssumeRole")])
        .expect("fault");
    w.dns.roles = Roles::new(&proxy.regions().recovery);
    let err = w.run(&request).await.expect_err("no role");
    assert!(err.to_string().contains("account arc"), "{err}");
    assert!(w.on(PRIMARY) && !w.on(RECOVERY), "nothing switched");
    assert_eq!(w.updates(), [0]);
}
