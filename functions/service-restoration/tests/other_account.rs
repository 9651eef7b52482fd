//! Services in another account (a workload account's, say): service-restoration assumes the
//! role the plan names for them (moto serves STS, and keeps each account's ECS, Auto Scaling and
//! EKS apart) through the recovery region's STS, and reads, scales and polls them as that role,
//! while the plan's own services stay in Rebound's account. What moto holds in each afterwards.

use chrono::{TimeZone, Utc};
use rebound_shared::context::ActionStatus;
use rebound_shared::ErrorKind;
use rebound_tests::faults::{Fault, FaultProxy};
use rebound_tests::{event, seed, wait, MotoServer};
use serde_json::{json, Value};
use service_restoration::ServiceRestoration;

const ROLE: &str = "arn:aws:iam::222222222222:role/rebound-services";

struct World {
    moto: MotoServer,
    proxy: FaultProxy,
    /// The workload account, as its role sees it.
    apps: aws_config::SdkConfig,
    request: Value,
}

/// Before the sample context's deadline (03:32:41).
fn before_deadline() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 3, 20, 0).single().expect("time")
}

/// The ECS services and an EKS node group in the workload account; the web tier's Auto Scaling
/// group in Rebound's own.
async fn world() -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let own = moto.config("us-west-2");
    let apps = seed::as_role(&own, ROLE).await.expect("the role");
    seed::ecs_services(&apps, &[("orders-api", 1), ("orders-worker", 0)])
        .await
        .expect("services in the workload account");
    seed::eks_nodegroup(&apps, "orders-eks", "orders-workers", (1, 1, 3))
        .await
        .expect("node group in the workload account");
    seed::auto_scaling_group(&own, 0, 0, 2).await.expect("group");
    let mut request = event("service-restoration.json");
    let plan = &mut request["context"]["plan"];
    plan["accounts"] = json!({"apps": {"roleArn": ROLE, "externalId": "rebound-orders"}});
    plan["services"] = json!([
        {"kind": "ecs", "cluster": "orders-usw2", "service": "orders-api", "desiredCount": 6, "account": "apps"},
        {"kind": "ecs", "cluster": "orders-usw2", "service": "orders-worker", "desiredCount": 3, "account": "apps"},
        {"kind": "eksNodegroup", "cluster": "orders-eks", "nodegroup": "orders-workers",
         "minSize": 2, "desiredSize": 3, "maxSize": 6, "account": "apps"},
        {"kind": "autoScalingGroup", "name": "orders-web-usw2", "minSize": 2, "desiredCapacity": 4, "maxSize": 12},
    ]);
    let proxy = FaultProxy::start(&moto).unwrap_or_else(|e| panic!("{e}"));
    World {
        moto,
        proxy,
        apps,
        request,
    }
}

impl World {
    fn step(&self) -> ServiceRestoration {
        ServiceRestoration::new(&self.proxy.regions())
    }

    /// The ECS services' desired counts where `config` points.
    async fn ecs_desired(config: &aws_config::SdkConfig) -> Result<Vec<i32>, String> {
        let out = aws_sdk_ecs::Client::new(config)
            .describe_services()
            .cluster("orders-usw2")
            .services("orders-api")
            .services("orders-worker")
            .send()
            .await
            .map_err(|e| format!("{e:?}"))?;
        Ok(out.services().iter().map(|s| s.desired_count()).collect())
    }

    /// The node group's (min, desired, max) in the workload account.
    async fn nodegroup(&self) -> (i32, i32, i32) {
        let out = aws_sdk_eks::Client::new(&self.apps)
            .describe_nodegroup()
            .cluster_name("orders-eks")
            .nodegroup_name("orders-workers")
            .send()
            .await
            .expect("DescribeNodegroup");
        let size = out.nodegroup().and_then(|n| n.scaling_config()).expect("scaling");
        (
            size.min_size().unwrap_or_default(),
            size.desired_size().unwrap_or_default(),
            size.max_size().unwrap_or_default(),
        )
    }

    /// The web tier's desired capacity, in Rebound's own account.
    async fn web_desired(&self) -> i32 {
        let out = aws_sdk_autoscaling::Client::new(&self.moto.config("us-west-2"))
            .describe_auto_scaling_groups()
            .auto_scaling_group_names("orders-web-usw2")
            .send()
            .await
            .expect("DescribeAutoScalingGroups");
        out.auto_scaling_groups()[0].desired_capacity().unwrap_or_default()
    }
}

#[tokio::test]
async fn services_in_another_account_are_scaled_as_that_accounts_role_and_the_rest_in_rebounds_own() {
    let w = world().await;
    // Rebound's own account has no such ECS cluster: only the role reaches the services.
    assert!(
        World::ecs_desired(&w.moto.config("us-west-2")).await.is_err(),
        "the services are the workload account's"
    );

    // The dry run reads every service through its account and changes nothing.
    let mut readiness = w.request.clone();
    readiness["action"] = json!("readiness");
    let planned = w.step().handle(readiness, before_deadline()).await.expect("readiness");
    assert!(
        planned.actions.iter().all(|a| a.status == ActionStatus::Planned),
        "{:?}",
        planned.actions
    );
    assert_eq!(World::ecs_desired(&w.apps).await, Ok(vec![1, 0]));

    let started = w
        .step()
        .handle(w.request.clone(), before_deadline())
        .await
        .expect("start");
    let world = &w;
    let polls = std::cell::Cell::new(0);
    let done = wait::step_completed(&w.request, "services", started, |status| {
        polls.set(polls.get() + 1);
        async move { world.step().handle(status, before_deadline()).await.expect("status") }
    })
    .await;
    assert!(
        done.actions.iter().all(|a| a.status == ActionStatus::Done),
        "{:?}",
        done.actions
    );
    // moto: the workload account's services and node group at their targets, the web tier in
    // Rebound's own.
    assert_eq!(World::ecs_desired(&w.apps).await, Ok(vec![6, 3]));
    assert_eq!(w.nodegroup().await, (2, 3, 6));
    assert_eq!(w.web_desired().await, 4);

    // The role was assumed through the recovery region's STS, at most once an invocation.
    let calls = w.proxy.calls();
    let assumed: Vec<_> = calls
        .iter()
        .filter(|c| c.operation.as_deref() == Some("AssumeRole"))
        .collect();
    // The readiness, the start and each status.
    let invocations = 2 + polls.get();
    assert!(!assumed.is_empty() && assumed.len() <= invocations, "{assumed:?}");
    assert!(
        assumed.iter().all(|c| c.region.as_deref() == Some("us-west-2")),
        "{assumed:?}"
    );
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_is_named_and_no_service_is_scaled() {
    let w = world().await;
    w.proxy
        .set(&[Fault::status(403).service("sts").operation("AssumeRole")])
        .expect("fault");
    let err = w
        .step()
        .handle(w.request.clone(), before_deadline())
        .await
        .expect_err("no role");
    let text = err.to_string();
    assert!(text.contains("account apps") && text.contains(ROLE), "{text}");
    assert_ne!(err.kind(), ErrorKind::InvalidInput, "{text}");
    // Nothing half-changed: neither the workload account's services nor Rebound's own group.
    assert_eq!(World::ecs_desired(&w.apps).await, Ok(vec![1, 0]));
    assert_eq!(w.nodegroup().await, (1, 1, 3));
    assert_eq!(w.web_desired().await, 0);
}
