//! service-restoration against moto's ECS and Auto Scaling: the capacities moto holds afterwards.

use chrono::{TimeZone, Utc};
use rebound_shared::accounts::Roles;
use rebound_shared::capacities::Capacities;
use rebound_shared::context::{ActionStatus, StepResult, StepStatus};
use rebound_shared::event_streams::EventStreams;
use rebound_shared::ErrorKind;
use rebound_tests::{event, MotoServer};
use serde_json::{json, Value};
use service_restoration::{ServiceError, ServiceRestoration};

struct World {
    moto: MotoServer,
    ecs: aws_sdk_ecs::Client,
    autoscaling: aws_sdk_autoscaling::Client,
    request: Value,
}

/// Before the sample context's deadline (03:32:41).
fn before_deadline() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 3, 20, 0).single().expect("time")
}

async fn world() -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let config = moto.config("us-west-2");
    let ecs = aws_sdk_ecs::Client::new(&config);
    let autoscaling = aws_sdk_autoscaling::Client::new(&config);
    rebound_tests::seed::ecs_services(&config, &[("orders-api", 1), ("orders-worker", 0)])
        .await
        .expect("services");
    rebound_tests::seed::auto_scaling_group(&config, 0, 0, 2)
        .await
        .expect("Auto Scaling group");
    World {
        moto,
        ecs,
        autoscaling,
        request: event("service-restoration.json"),
    }
}

impl World {
    async fn run(&self, request: &Value) -> Result<StepResult, ServiceError> {
        self.run_at(request, before_deadline()).await
    }

    async fn run_at(&self, request: &Value, now: chrono::DateTime<Utc>) -> Result<StepResult, ServiceError> {
        ServiceRestoration {
            clients: Capacities {
                ecs: self.ecs.clone(),
                autoscaling: self.autoscaling.clone(),
                eks: aws_sdk_eks::Client::new(&self.moto.regions().recovery),
                kubernetes: rebound_shared::kubernetes::Kubernetes::new(&self.moto.regions().recovery),
            },
            roles: Roles::new(&self.moto.regions().recovery),
            streams: EventStreams::new(&self.moto.regions()),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&self.moto.regions().recovery),
        }
        .handle(request.clone(), now)
        .await
    }

    async fn ecs_desired(&self) -> Vec<i32> {
        let out = self
            .ecs
            .describe_services()
            .cluster("orders-usw2")
            .services("orders-api")
            .services("orders-worker")
            .send()
            .await
            .expect("DescribeServices");
        out.services().iter().map(|s| s.desired_count()).collect()
    }

    /// (min, desired, max, InService instances)
    async fn asg(&self) -> (i32, i32, i32, usize) {
        rebound_tests::held::group(&self.moto.config("us-west-2"), "orders-web-usw2")
            .await
            .expect("the group")
    }
}

#[tokio::test]
async fn services_scale_to_the_plan_and_a_second_run_finds_them_there() {
    let w = world().await;
    let started = w.run(&w.request).await.expect("start");
    assert_eq!(w.ecs_desired().await, vec![6, 3]);
    let (min, desired, max, in_service) = w.asg().await;
    assert_eq!((min, desired, max), (2, 4, 12));
    assert!(
        in_service < 4,
        "new instances are Pending first: {in_service} in service"
    );
    assert_eq!(started.actions.len(), 3);
    assert_eq!(started.actions[0].before["desired"], json!(1));
    assert_eq!(
        started.actions[2].after,
        json!({"min": 2, "desired": 4, "max": 12, "running": 0})
    );

    // ECS starts the tasks and Auto Scaling the instances in their own time: the first poll
    // waits, later ones find the capacity there.
    let status = rebound_tests::wait::status_request(&w.request, "services", &started);
    let first = w.run(&status).await.expect("status");
    assert_eq!(first.status, StepStatus::InProgress, "{:?}", first.actions);
    let world = &w;
    let polled = rebound_tests::wait::step_completed(&w.request, "services", first, |status| async move {
        world.run(&status).await.expect("status")
    })
    .await;
    assert_eq!(polled.actions[2].after["running"], json!(4));
    assert_eq!(w.asg().await, (2, 4, 12, 4));

    let again = w.run(&w.request).await.expect("again");
    assert!(again.actions.iter().all(|a| a.already_done), "{:?}", again.actions);
    assert_eq!(again.status, StepStatus::Completed);
}

#[tokio::test]
async fn dry_run_changes_no_capacity() {
    let w = world().await;
    let mut request = w.request.clone();
    request["context"]["dryRun"] = json!(true);
    let result = w.run(&request).await.expect("dry run");
    assert!(result.actions.iter().all(|a| a.status == ActionStatus::Planned));
    assert_eq!(w.ecs_desired().await, vec![1, 0]);
    assert_eq!(w.asg().await, (0, 0, 2, 0));
}

#[tokio::test]
async fn a_missing_service_refuses_before_scaling_anything() {
    let w = world().await;
    let mut request = w.request.clone();
    request["context"]["plan"]["services"][1]["service"] = json!("orders-nowhere");
    let err = w.run(&request).await.expect_err("missing service");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert!(err.to_string().contains("ecs:orders-usw2/orders-nowhere"), "{err}");
    assert_eq!(w.ecs_desired().await, vec![1, 0]);
    assert_eq!(w.asg().await, (0, 0, 2, 0));

    let east = ServiceRestoration {
        clients: Capacities {
            ecs: aws_sdk_ecs::Client::from_conf(
                w.ecs
                    .config()
                    .to_builder()
                    .region(aws_sdk_ecs::config::Region::new("us-east-1"))
                    .build(),
            ),
            autoscaling: w.autoscaling.clone(),
            eks: aws_sdk_eks::Client::new(&w.moto.regions().recovery),
            kubernetes: rebound_shared::kubernetes::Kubernetes::new(&w.moto.regions().recovery),
        },
        roles: Roles::new(&w.moto.regions().recovery),
        streams: EventStreams::new(&w.moto.regions()),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&w.moto.regions().recovery),
    };
    let err = east
        .handle(w.request.clone(), before_deadline())
        .await
        .expect_err("wrong region");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
}

#[tokio::test]
async fn a_service_restore_scales_only_the_services_the_outage_names() {
    let w = world().await;
    let mut request = w.request.clone();
    request["context"]["path"] = json!("serviceRestore");
    request["context"]["event"]["disasterType"] = json!("serviceOutage");
    request["context"]["event"]["affectedServices"] = json!(["orders-worker"]);
    let result = w.run(&request).await.expect("start");
    let resources: Vec<&str> = result.actions.iter().map(|a| a.resource.as_str()).collect();
    assert_eq!(resources, vec!["ecs:orders-usw2/orders-worker"]);
    assert_eq!(w.ecs_desired().await, vec![1, 3], "only the worker scaled");
    assert_eq!(w.asg().await, (0, 0, 2, 0), "the group untouched");

    // A readiness check of the same restore reads and changes nothing more.
    request["action"] = json!("readiness");
    request["context"]["event"]["affectedServices"] = json!(["orders-web-usw2"]);
    let planned = w.run(&request).await.expect("readiness");
    assert_eq!(planned.actions[0].resource, "autoscaling:orders-web-usw2");
    assert_eq!(planned.actions[0].status, ActionStatus::Planned);
    assert_eq!(w.asg().await, (0, 0, 2, 0));
}

#[tokio::test]
async fn in_a_failover_capacity_grows_first_and_what_needs_the_writer_after_it() {
    let w = world().await;
    let mut request = w.request.clone();
    // The worker writes what it takes from the queue: it waits for the new writer.
    request["context"]["plan"]["services"][1]["needsWriter"] = json!(true);
    let stage = |name: &str| {
        let mut r = request.clone();
        r["stage"] = json!(name);
        r
    };

    let capacity = stage("capacity");
    let added = w.run(&capacity).await.expect("capacity");
    // moto: the api and the web tier asked for, the worker left as it was.
    assert_eq!(w.ecs_desired().await, vec![6, 0]);
    assert_eq!(w.asg().await.1, 4);
    let resources: Vec<&str> = added.actions.iter().map(|a| a.resource.as_str()).collect();
    assert_eq!(resources, ["ecs:orders-usw2/orders-api", "autoscaling:orders-web-usw2"]);
    // The instances are expected in 150 s: the state machine looks a minute later at most.
    assert_eq!(added.status, StepStatus::InProgress);
    assert_eq!(added.next_check_seconds, Some(60));
    assert!(added.actions.iter().all(|a| a.expected_at.is_some()));
    // Its status reads its own result (results.capacity), not the services'.
    let world = &w;
    let added = rebound_tests::wait::step_completed(&capacity, "capacity", added, |status| async move {
        world.run(&status).await.expect("capacity status")
    })
    .await;
    assert_eq!(added.next_check_seconds, None);
    let mut lost = rebound_tests::wait::status_request(&capacity, "capacity", &added);
    lost["context"]["results"]
        .as_object_mut()
        .expect("results")
        .remove("capacity");
    let err = w.run(&lost).await.expect_err("no capacity result");
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");

    let writer = stage("afterWriter");
    let restored = w.run(&writer).await.expect("after the writer");
    assert_eq!(w.ecs_desired().await, vec![6, 3]);
    let resources: Vec<&str> = restored.actions.iter().map(|a| a.resource.as_str()).collect();
    assert_eq!(resources, ["ecs:orders-usw2/orders-worker"]);

    // A service restore moves no writer: its afterWriter stage is every service it names.
    let mut restore = stage("afterWriter");
    restore["context"]["path"] = json!("serviceRestore");
    restore["context"]["event"]["affectedServices"] = json!(["orders-api", "orders-worker"]);
    let restored = w.run(&restore).await.expect("service restore");
    assert_eq!(restored.actions.len(), 2);
    assert!(
        restored.actions.iter().all(|a| a.already_done),
        "{:?}",
        restored.actions
    );
}

#[tokio::test]
async fn a_service_sized_from_the_peak_runs_its_share_and_at_the_deadline_its_minimum_success_percentage_is_enough() {
    let w = world().await;
    // The peak the readiness check kept an hour before: 10 tasks.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&w.moto.config("us-west-2"));
    let kept_at = before_deadline() - chrono::Duration::hours(1);
    let peaks = [("ecs:orders-usw2/orders-api".to_string(), 10.0)].into_iter().collect();
    rebound_shared::peaks::keep(&cloudwatch, "orders", &peaks, kept_at)
        .await
        .expect("kept");
    // Two tasks run; then ECS starts no more: two run of the 8 asked.
    rebound_tests::wait::scaled(&w.ecs, "orders-usw2", "orders-api", 2).await;
    w.moto.set_durations(&json!({"UpdateService": 3600})).expect("held");
    let mut request = w.request.clone();
    request["context"]["plan"]["services"] = json!([{
        "kind": "ecs", "cluster": "orders-usw2", "service": "orders-api",
        "capacity": {"percentOfPeak": 80, "minimum": 25, "floor": 2}
    }]);
    let started = w.run(&request).await.expect("start");
    assert_eq!(w.ecs_desired().await[0], 8, "80 % of the kept peak of 10");
    assert_eq!(
        started.actions[0].detail.as_deref(),
        Some(format!("80 % of the primary's peak of 10 (kept {}): 8", kept_at.to_rfc3339()).as_str())
    );
    let mut status = rebound_tests::wait::status_request(&request, "services", &started);
    status["context"]["timestamps"]["deadline"] = request["context"]["timestamps"]["deadline"].clone();
    let waiting = w.run(&status).await.expect("status");
    assert_eq!(
        waiting.status,
        StepStatus::InProgress,
        "all of it is waited for until the deadline"
    );
    assert_eq!(waiting.actions[0].detail.as_deref(), Some("2 of 8 running"));

    // At the deadline: 2 of 8 is the 25 % the plan accepts, reported as partial.
    let after = Utc.with_ymd_and_hms(2026, 11, 24, 3, 40, 0).single().expect("time");
    let partial = w.run_at(&status, after).await.expect("accepted");
    assert_eq!(partial.status, StepStatus::Completed, "{:?}", partial.actions);
    assert_eq!(partial.actions[0].status, ActionStatus::Done);
    assert_eq!(
        partial.actions[0].detail.as_deref(),
        Some("partial: 2 of 8 running at the deadline; the plan accepts 25 % (2)")
    );
    // A plan that accepts 30 % (3 of 8) is not met: the step fails, naming the service.
    let mut strict = status.clone();
    strict["context"]["plan"]["services"][0]["capacity"]["minimum"] = json!(30);
    let err = w.run_at(&strict, after).await.expect_err("below its minimum");
    assert!(
        err.to_string().contains("ecs:orders-usw2/orders-api (2 of 8 running)"),
        "{err}"
    );
}
