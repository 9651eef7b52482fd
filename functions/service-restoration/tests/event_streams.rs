//! Event streams (`eventSourceMappings`) against moto's Lambda: the consumer turned off in the
//! region left and on in the region the application moves to, what moto holds afterwards, a
//! primary that does not answer, and a failback.

use chrono::{TimeZone, Utc};
use rebound_shared::context::{Action, ActionStatus, StepResult};
use rebound_shared::ErrorKind;
use rebound_tests::faults::{Fault, FaultProxy};
use rebound_tests::{event, MotoServer};
use serde_json::{json, Value};
use service_restoration::ServiceRestoration;

struct World {
    moto: MotoServer,
    primary: String,
    recovery: String,
    request: Value,
}

fn before_deadline() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 3, 20, 0).single().expect("time")
}

/// The services, and the orders consumer: on in us-east-1, off in us-west-2.
async fn world() -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    rebound_tests::seed::ecs_services(&west, &[("orders-api", 1), ("orders-worker", 0)])
        .await
        .expect("services");
    rebound_tests::seed::auto_scaling_group(&west, 0, 0, 2)
        .await
        .expect("Auto Scaling group");
    let primary = rebound_tests::seed::queue_consumer(&east, "orders-consumer", true)
        .await
        .expect("primary consumer");
    let recovery = rebound_tests::seed::queue_consumer(&west, "orders-consumer", false)
        .await
        .expect("recovery consumer");
    let mut request = event("service-restoration.json");
    request["context"]["plan"]["eventSourceMappings"] = json!([{"primaryUuid": primary, "recoveryUuid": recovery}]);
    World {
        moto,
        primary,
        recovery,
        request,
    }
}

impl World {
    /// Starts the step on `request` and polls it to the end, as the state machine does; returns
    /// the start's result and the last.
    async fn recover(&self, restoration: &ServiceRestoration, request: &Value) -> (StepResult, StepResult) {
        let started = restoration
            .handle(request.clone(), before_deadline())
            .await
            .expect("start");
        let done = rebound_tests::wait::step_completed(request, "services", started.clone(), |status| async move {
            restoration.handle(status, before_deadline()).await.expect("status")
        })
        .await;
        (started, done)
    }

    /// Each mapping's state as moto holds it: (primary, recovery).
    async fn states(&self) -> (String, String) {
        let state = |region: &'static str, uuid: String| {
            let client = aws_sdk_lambda::Client::new(&self.moto.config(region));
            async move {
                client
                    .get_event_source_mapping()
                    .uuid(uuid)
                    .send()
                    .await
                    .expect("GetEventSourceMapping")
                    .state
                    .unwrap_or_default()
            }
        };
        (
            state("us-east-1", self.primary.clone()).await,
            state("us-west-2", self.recovery.clone()).await,
        )
    }
}

fn streams(result: &StepResult) -> Vec<&Action> {
    result
        .actions
        .iter()
        .filter(|a| a.operation.ends_with("EventSourceMapping"))
        .collect()
}

#[tokio::test]
async fn a_failover_stops_the_primary_consumer_then_starts_the_recovery_one() {
    let w = world().await;
    let restoration = ServiceRestoration::new(&w.moto.regions());
    let (started, done) = w.recover(&restoration, &w.request).await;
    let actions = streams(&started);
    assert_eq!(
        actions.iter().map(|a| a.operation.as_str()).collect::<Vec<_>>(),
        ["DisableEventSourceMapping", "EnableEventSourceMapping"],
        "the side left first"
    );
    // Lambda takes its time: each is on its way (Disabling, Enabling), waited for.
    assert!(actions.iter().all(|a| a.status == ActionStatus::Pending), "{actions:?}");
    assert_eq!(actions[1].before["state"], "Disabled");
    assert!(
        streams(&done).iter().all(|a| a.status == ActionStatus::Done),
        "{:?}",
        done.actions
    );
    assert_eq!(w.states().await, ("Disabled".to_string(), "Enabled".to_string()));

    // A retry finds both where they should be.
    let again = restoration
        .handle(w.request.clone(), before_deadline())
        .await
        .expect("again");
    assert!(streams(&again).iter().all(|a| a.already_done), "{:?}", again.actions);
}

#[tokio::test]
async fn a_dry_run_reads_both_and_changes_neither() {
    let w = world().await;
    let mut request = w.request.clone();
    request["context"]["dryRun"] = json!(true);
    let result = ServiceRestoration::new(&w.moto.regions())
        .handle(request, before_deadline())
        .await
        .expect("dry run");
    assert!(streams(&result).iter().all(|a| a.status == ActionStatus::Planned));
    assert_eq!(w.states().await, ("Enabled".to_string(), "Disabled".to_string()));
}

#[tokio::test]
async fn a_primary_that_does_not_answer_is_reported_not_disabled_and_the_recovery_consumer_starts() {
    let w = world().await;
    let proxy = FaultProxy::start(&w.moto).unwrap_or_else(|e| panic!("{e}"));
    proxy.set(&[Fault::reset().region("us-east-1")]).expect("faults");
    let result = ServiceRestoration::new(&proxy.regions())
        .handle(w.request.clone(), before_deadline())
        .await
        .expect("start");
    let actions = streams(&result);
    assert_eq!(actions[0].status, ActionStatus::Failed);
    assert!(
        actions[0]
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with("NOT DISABLED: us-east-1")),
        "{:?}",
        actions[0]
    );
    assert_eq!(actions[1].status, ActionStatus::Pending, "{:?}", actions[1]);
    // moto: the primary's consumer is untouched (the region was cut), the recovery's runs.
    let states = rebound_tests::wait::until("the recovery consumer enabled", || async {
        let states = w.states().await;
        (states.1 == "Enabled").then_some(states)
    })
    .await;
    assert_eq!(states, ("Enabled".to_string(), "Enabled".to_string()));
}

#[tokio::test]
async fn a_mapping_that_does_not_exist_stops_the_step_before_any_change() {
    let w = world().await;
    let mut request = w.request.clone();
    request["context"]["plan"]["eventSourceMappings"][0]["recoveryUuid"] =
        json!("00000000-0000-0000-0000-000000000000");
    let err = ServiceRestoration::new(&w.moto.regions())
        .handle(request, before_deadline())
        .await
        .expect_err("missing mapping");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert!(
        err.to_string().contains("no such event source mapping in us-west-2"),
        "{err}"
    );
    // Both read before either changes: the primary's consumer still runs, no service scaled.
    assert_eq!(w.states().await, ("Enabled".to_string(), "Disabled".to_string()));
    let api = aws_sdk_ecs::Client::new(&w.moto.config("us-west-2"))
        .describe_services()
        .cluster("orders-usw2")
        .services("orders-api")
        .send()
        .await
        .expect("DescribeServices");
    assert_eq!(api.services()[0].desired_count(), 1, "orders-api not scaled");
}

#[tokio::test]
async fn a_failback_moves_the_consumer_back() {
    let w = world().await;
    let restoration = ServiceRestoration::new(&w.moto.regions());
    w.recover(&restoration, &w.request).await;
    let mut request = w.request.clone();
    request["context"]["mode"] = json!("failback");
    w.recover(&restoration, &request).await;
    assert_eq!(w.states().await, ("Enabled".to_string(), "Disabled".to_string()));
}

/// The answer to turning the recovery consumer on is lost while it is `Enabling`: the SDK's
/// retry meets ResourceInUseException (Lambda's answer to an update under way), recognised as
/// the change on its way, not a failure.
#[tokio::test]
async fn a_lost_answer_while_the_mapping_is_enabling_is_waited_for() {
    let w = world().await;
    // Long enough that the SDK's retry (after its back-off) finds the mapping still enabling.
    w.moto
        .set_durations(&json!({"UpdateEventSourceMapping": 4.0}))
        .expect("durations");
    let proxy = FaultProxy::start(&w.moto).unwrap_or_else(|e| panic!("{e}"));
    proxy
        .set(&[Fault::drop_answer("lambda", "UpdateEventSourceMapping")
            .region("us-west-2")
            .times(1)])
        .expect("faults");
    let restoration = ServiceRestoration::new(&proxy.regions());
    let (started, done) = w.recover(&restoration, &w.request).await;
    let enable = streams(&started)[1].clone();
    assert_eq!(enable.status, ActionStatus::Pending, "{enable:?}");
    assert!(
        streams(&done).iter().all(|a| a.status == ActionStatus::Done),
        "{:?}",
        done.actions
    );
    assert_eq!(w.states().await, ("Disabled".to_string(), "Enabled".to_string()));
    let updates = proxy
        .calls()
        .iter()
        .filter(|c| {
            c.operation.as_deref() == Some("UpdateEventSourceMapping") && c.region.as_deref() == Some("us-west-2")
        })
        .count();
    assert_eq!(updates, 2, "sent once, its lost answer retried once by the SDK");
}

#[tokio::test]
async fn a_consumer_in_another_account_is_moved_as_its_role() {
    const APPS: &str = "arn:aws:iam::222222222222:role/rebound-apps";
    let w = world().await;
    let east = rebound_tests::seed::as_role(&w.moto.config("us-east-1"), APPS)
        .await
        .expect("the role");
    let west = rebound_tests::seed::as_role(&w.moto.config("us-west-2"), APPS)
        .await
        .expect("the role");
    let primary = rebound_tests::seed::queue_consumer(&east, "ledger-consumer", true)
        .await
        .expect("primary consumer");
    let recovery = rebound_tests::seed::queue_consumer(&west, "ledger-consumer", false)
        .await
        .expect("recovery consumer");
    let mut request = w.request.clone();
    request["context"]["plan"]["accounts"] = json!({"apps": {"roleArn": APPS}});
    request["context"]["plan"]["eventSourceMappings"] = json!([{"primaryUuid": primary, "recoveryUuid": recovery}]);
    let restoration = ServiceRestoration::new(&w.moto.regions());

    // Read in Rebound's own account, the mapping is not there: refused before any change.
    let err = restoration
        .handle(request.clone(), before_deadline())
        .await
        .expect_err("not in Rebound's own account");
    assert!(err.to_string().contains("no such event source mapping"), "{err}");

    request["context"]["plan"]["eventSourceMappings"][0]["account"] = json!("apps");
    let (_, done) = w.recover(&restoration, &request).await;
    assert!(
        streams(&done).iter().all(|a| a.status == ActionStatus::Done),
        "{done:?}"
    );
    let state = |config: aws_config::SdkConfig, uuid: String| async move {
        aws_sdk_lambda::Client::new(&config)
            .get_event_source_mapping()
            .uuid(uuid)
            .send()
            .await
            .expect("GetEventSourceMapping")
            .state
            .unwrap_or_default()
    };
    assert_eq!(
        state(east, primary).await,
        "Disabled",
        "off in the primary, in the account"
    );
    assert_eq!(
        state(west, recovery).await,
        "Enabled",
        "on in the recovery region, in the account"
    );
    // Rebound's own consumers were not part of this plan: as they were.
    assert_eq!(w.states().await, ("Enabled".into(), "Disabled".into()));
}
