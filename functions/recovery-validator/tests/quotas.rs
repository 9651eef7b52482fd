//! Readiness against the recovery region's Service Quotas and Capacity Reservations: what the
//! recovery adds must fit, and a readiness check changes nothing.

use rebound_tests::seed;
use recovery_validator::RecoveryValidator;
use serde_json::{json, Value};

mod world;
use world::*;

/// A Fargate service of 0.5 vCPU tasks, running 1, in the recovery region.
async fn fargate_service(west: &aws_config::SdkConfig, name: &str) {
    use aws_sdk_ecs::types::{Compatibility, ContainerDefinition, LaunchType};
    let ecs = aws_sdk_ecs::Client::new(west);
    ecs.register_task_definition()
        .family(name)
        .cpu("512")
        .memory("1024")
        .requires_compatibilities(Compatibility::Fargate)
        .container_definitions(ContainerDefinition::builder().name("app").image("app:1").build())
        .send()
        .await
        .expect("task definition");
    ecs.create_service()
        .cluster("orders-usw2")
        .service_name(name)
        .task_definition(name)
        .launch_type(LaunchType::Fargate)
        .desired_count(1)
        .send()
        .await
        .expect("service");
}

/// orders-checkout's desired count, where `ecs` points.
async fn checkout_desired(ecs: &aws_sdk_ecs::Client) -> i32 {
    ecs.describe_services()
        .cluster("orders-usw2")
        .services("orders-checkout")
        .send()
        .await
        .expect("describe")
        .services()[0]
        .desired_count()
}

/// The account's Standard On-Demand vCPUs in use on `service` (`Fargate`, `EC2`), as the
/// service publishes them in AWS/Usage.
async fn usage(west: &aws_config::SdkConfig, service: &str, vcpus: f64) {
    let dimensions = [
        ("Service", service),
        ("Type", "Resource"),
        ("Resource", "vCPU"),
        ("Class", "Standard/OnDemand"),
    ];
    seed::metric(west, "AWS/Usage", "ResourceCount", &dimensions, vcpus)
        .await
        .expect("usage");
}

#[tokio::test]
async fn readiness_is_not_ready_when_the_fargate_quota_leaves_no_room_for_the_plans_share_of_the_peak() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(4.0).await;
    fargate_service(&w.west_config, "orders-checkout").await;
    let mut request = w.request.clone();
    request["context"]["plan"]["services"] = json!([{
        "kind": "ecs", "cluster": "orders-usw2", "service": "orders-checkout",
        "capacity": {"percentOfPeak": 80, "floor": 1}
    }]);
    running_tasks(
        &w.moto.config("us-east-1"),
        "orders-usw2",
        "orders-checkout",
        &[(2, 10.0)],
    )
    .await;
    // A quota Service Quotas does not answer is unknown: never passed, and it holds nothing.
    let report = w.readiness(&request).await.expect("ready");
    let unread = named(&report, "quota fargate/L-3032A538");
    assert!(unread.unknown && !unread.passed, "{unread:?}");
    assert!(unread.detail.contains("NoSuchResourceException"), "{unread:?}");
    // 4 vCPUs, 2.5 in use: 1.5 free, and 8 tasks of 0.5 vCPU (7 more) need 3.5.
    w.moto.set_quotas(&json!({"fargate/L-3032A538": 4})).expect("quota");
    usage(&w.west_config, "Fargate", 2.5).await;
    let err = w.readiness(&request).await.expect_err("not ready");
    let text = err.to_string();
    assert!(
        text.contains(
            "quota fargate/L-3032A538 (Fargate On-Demand vCPU resource count): short by 2 vCPU: needs 3.5 more, 4 - 2.5 used = 1.5 free; \
             ecs:orders-usw2/orders-checkout: 3 of 7 more fit (4 running, 40 % of its peak 10; the plan asks 80 %)"
        ),
        "{text}"
    );
    assert_eq!(checkout_desired(&w.ecs).await, 1, "readiness changes nothing");

    // Room for it: ready, and the check says what it will use.
    w.moto.set_quotas(&json!({"fargate/L-3032A538": 8})).expect("quota");
    let report = w.readiness(&request).await.expect("ready");
    let quota = named(
        &report,
        "quota fargate/L-3032A538 (Fargate On-Demand vCPU resource count)",
    );
    assert!(quota.passed, "{quota:?}");
    assert_eq!(
        quota.detail,
        "needs 3.5 vCPU more (ecs:orders-usw2/orders-checkout +7 × 0.5 vCPU); 8 - 2.5 used = 5.5 free"
    );
}

#[tokio::test]
async fn a_service_in_another_account_counts_against_that_accounts_quota_read_as_its_role() {
    const ROLE: &str = "arn:aws:iam::222222222222:role/rebound-services";
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(4.0).await;
    let apps = seed::as_role(&w.west_config, ROLE).await.expect("the role");
    seed::ecs_services(&apps, &[])
        .await
        .expect("the workload account's cluster");
    fargate_service(&apps, "orders-checkout").await;
    let mut request = w.request.clone();
    let plan = &mut request["context"]["plan"];
    plan["accounts"] = json!({"apps": {"roleArn": ROLE}});
    plan["services"] = json!([{
        "kind": "ecs", "cluster": "orders-usw2", "service": "orders-checkout", "desiredCount": 8, "account": "apps"
    }]);
    // Rebound's own account has room; the workload account, where the tasks run, has not.
    w.moto
        .set_quotas(&json!({"fargate/L-3032A538": 100}))
        .expect("own quota");
    w.moto
        .set_quotas_in("222222222222", &json!({"fargate/L-3032A538": 2}))
        .expect("the account's quota");
    usage(&apps, "Fargate", 0.5).await;
    let err = w.readiness(&request).await.expect_err("not ready");
    let text = err.to_string();
    assert!(
        text.contains(
            "quota fargate/L-3032A538 in account apps (Fargate On-Demand vCPU resource count): short by 2 vCPU: needs 3.5 more, 2 - 0.5 used = 1.5 free"
        ),
        "{text}"
    );

    w.moto
        .set_quotas_in("222222222222", &json!({"fargate/L-3032A538": 8}))
        .expect("the account's quota");
    let report = w.readiness(&request).await.expect("ready");
    let quota = named(
        &report,
        "quota fargate/L-3032A538 in account apps (Fargate On-Demand vCPU resource count)",
    );
    assert!(quota.passed, "{quota:?}");
    assert_eq!(
        quota.detail,
        "needs 3.5 vCPU more (ecs:orders-usw2/orders-checkout +7 × 0.5 vCPU); 8 - 0.5 used = 7.5 free"
    );
    assert!(named(&report, "services").passed, "the dry run read it as the role");
    // Readiness changed nothing in the workload account.
    assert_eq!(checkout_desired(&aws_sdk_ecs::Client::new(&apps)).await, 1);
}

/// Launch template `orders-web` (m5.large) in the recovery region, targeting `reservation`.
async fn launch_template(west: &aws_config::SdkConfig, reservation: Option<&str>) {
    use aws_sdk_ec2::types::{
        CapacityReservationPreference, CapacityReservationTarget,
        LaunchTemplateCapacityReservationSpecificationRequest, RequestLaunchTemplateData,
    };
    let mut data = RequestLaunchTemplateData::builder()
        .image_id("ami-0123456789abcdef0")
        .instance_type(aws_sdk_ec2::types::InstanceType::M5Large);
    if let Some(id) = reservation {
        data = data.capacity_reservation_specification(
            LaunchTemplateCapacityReservationSpecificationRequest::builder()
                .capacity_reservation_preference(CapacityReservationPreference::Open)
                .capacity_reservation_target(CapacityReservationTarget::builder().capacity_reservation_id(id).build())
                .build(),
        );
    }
    aws_sdk_ec2::Client::new(west)
        .create_launch_template()
        .launch_template_name("orders-web")
        .launch_template_data(data.build())
        .send()
        .await
        .expect("launch template");
}

/// Group `orders-web-usw2` at 1 instance, on launch template `orders-web`: as it is, or through
/// a mixed instances policy (m5.large, or m5.2xlarge weighing 4; On-Demand: 1, then 50 %).
async fn group(west: &aws_config::SdkConfig, mixed: bool) {
    use aws_sdk_autoscaling::types::{
        InstancesDistribution, LaunchTemplate, LaunchTemplateOverrides, LaunchTemplateSpecification,
        MixedInstancesPolicy,
    };
    let template = LaunchTemplateSpecification::builder()
        .launch_template_name("orders-web")
        .version("$Latest")
        .build();
    let create = aws_sdk_autoscaling::Client::new(west)
        .create_auto_scaling_group()
        .auto_scaling_group_name("orders-web-usw2")
        .min_size(1)
        .max_size(2)
        .desired_capacity(1)
        .availability_zones("us-west-2a");
    let create = if mixed {
        create.mixed_instances_policy(
            MixedInstancesPolicy::builder()
                .launch_template(
                    LaunchTemplate::builder()
                        .launch_template_specification(template)
                        .overrides(LaunchTemplateOverrides::builder().instance_type("m5.large").build())
                        .overrides(
                            LaunchTemplateOverrides::builder()
                                .instance_type("m5.2xlarge")
                                .weighted_capacity("4")
                                .build(),
                        )
                        .build(),
                )
                .instances_distribution(
                    InstancesDistribution::builder()
                        .on_demand_base_capacity(1)
                        .on_demand_percentage_above_base_capacity(50)
                        .build(),
                )
                .build(),
        )
    } else {
        create.launch_template(template)
    };
    create.send().await.expect("group");
}

/// The plan's services: orders-api as before, and the group at `desired`.
fn with_group(w: &World, desired: i32, reservations: &[&str]) -> Value {
    let mut request = w.request.clone();
    let services = &mut request["context"]["plan"]["services"];
    services.as_array_mut().expect("services").push(json!({
        "kind": "autoScalingGroup", "name": "orders-web-usw2", "minSize": 1, "desiredCapacity": desired,
        "maxSize": 12, "capacityReservations": reservations
    }));
    request
}

async fn group_desired(west: &aws_config::SdkConfig) -> Option<i32> {
    aws_sdk_autoscaling::Client::new(west)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("orders-web-usw2")
        .send()
        .await
        .expect("group")
        .auto_scaling_groups()[0]
        .desired_capacity()
}

#[tokio::test]
async fn readiness_counts_a_groups_new_on_demand_instances_against_their_familys_vcpu_quota() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(4.0).await;
    launch_template(&w.west_config, None).await;
    group(&w.west_config, true).await;
    // 9 units: 1 On-Demand base, then half of 8 On-Demand: 5, 4 more than the 1 it runs. Each
    // unit is at most 2 vCPUs (m5.large: 2 for 1; m5.2xlarge: 8 for 4).
    let request = with_group(&w, 9, &[]);
    let report = w.readiness(&request).await.expect("ready");
    let unread = named(&report, "quota ec2/L-1216C47A");
    assert!(
        unread.unknown && unread.detail.contains("NoSuchResourceException"),
        "{unread:?}"
    );

    w.moto.set_quotas(&json!({"ec2/L-1216C47A": 10})).expect("quota");
    usage(&w.west_config, "EC2", 4.0).await;
    let err = w.readiness(&request).await.expect_err("not ready");
    assert!(
        err.to_string().contains(
            "quota ec2/L-1216C47A (Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances): short by 2 vCPU: \
             needs 8 more, 10 - 4 used = 6 free; autoscaling:orders-web-usw2: 3 of 4 more fit"
        ),
        "{err}"
    );
    assert_eq!(
        group_desired(&w.west_config).await,
        Some(1),
        "readiness changes nothing"
    );

    w.moto.set_quotas(&json!({"ec2/L-1216C47A": 12})).expect("quota");
    let report = w.readiness(&request).await.expect("ready");
    let quota = named(
        &report,
        "quota ec2/L-1216C47A (Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances)",
    );
    assert!(quota.passed, "{quota:?}");
    assert_eq!(
        quota.detail,
        "needs 8 vCPU more (autoscaling:orders-web-usw2 +4 × 2 vCPU); 12 - 4 used = 8 free"
    );
}

const HELD: &str = "cr-0123456789abcdef0";
const GONE: &str = "cr-0fedcba9876543210";

/// DescribeCapacityReservations, which moto does not serve, scripted: `HELD` an active,
/// targeted m5.large reservation with 4 free in us-west-2a; `GONE` unknown, so a call naming it
/// fails as a whole, as EC2's does. Every other EC2 call goes on to moto.
fn reservations() -> aws_smithy_mocks::Rule {
    use aws_sdk_ec2::operation::describe_capacity_reservations::DescribeCapacityReservationsOutput;
    use aws_sdk_ec2::types::{CapacityReservation, CapacityReservationState, InstanceMatchCriteria};
    aws_smithy_mocks::mock!(aws_sdk_ec2::Client::describe_capacity_reservations)
        .match_requests(|r| r.capacity_reservation_ids() == [HELD])
        .then_output(|| {
            DescribeCapacityReservationsOutput::builder()
                .capacity_reservations(
                    CapacityReservation::builder()
                        .capacity_reservation_id(HELD)
                        .instance_type("m5.large")
                        .availability_zone("us-west-2a")
                        .total_instance_count(4)
                        .available_instance_count(4)
                        .state(CapacityReservationState::Active)
                        .instance_match_criteria(InstanceMatchCriteria::Targeted)
                        .end_date(aws_smithy_types::DateTime::from_secs(1_830_297_600))
                        .build(),
                )
                .build()
        })
}

fn unknown_reservation() -> aws_smithy_mocks::Rule {
    use aws_sdk_ec2::operation::describe_capacity_reservations::DescribeCapacityReservationsError;
    aws_smithy_mocks::mock!(aws_sdk_ec2::Client::describe_capacity_reservations)
        .match_requests(|r| r.capacity_reservation_ids().iter().any(|id| id == GONE))
        .then_error(|| {
            DescribeCapacityReservationsError::generic(
                aws_smithy_types::error::ErrorMetadata::builder()
                    .code("InvalidCapacityReservationId.NotFound")
                    .message(format!("The capacity reservation ID '{GONE}' does not exist"))
                    .build(),
            )
        })
}

#[tokio::test]
async fn the_reservations_a_plan_names_must_take_what_the_failover_adds_and_the_rest_must_fit_the_quota() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(4.0).await;
    launch_template(&w.west_config, Some(HELD)).await;
    group(&w.west_config, false).await;
    w.moto.set_quotas(&json!({"ec2/L-1216C47A": 8})).expect("quota");
    usage(&w.west_config, "EC2", 6.0).await;
    let (held, gone) = (reservations(), unknown_reservation());
    let interceptor = aws_smithy_mocks::MockResponseInterceptor::new()
        .rule_mode(aws_smithy_mocks::RuleMode::MatchAny)
        .with_rule(&held)
        .with_rule(&gone)
        .allow_passthrough();
    // The scripted answers replace moto's (which does not know the operation) after each
    // attempt, so the SDK must not retry on moto's.
    let ec2 = aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&w.west_config)
            .interceptor(interceptor)
            .retry_config(aws_sdk_ec2::config::retry::RetryConfig::disabled())
            .build(),
    );
    let mut validator = RecoveryValidator::new(&w.moto.regions());
    validator.services.ec2 = ec2;
    let w = World { validator, ..w };

    // 6 more m5.large: the held reservation takes 4, the one gone none; the other 2 need 4
    // vCPUs of a quota with 2 free.
    let err = w
        .readiness(&with_group(&w, 7, &[HELD, GONE]))
        .await
        .expect_err("not ready");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "capacity reservations autoscaling:orders-web-usw2: {GONE} not found; they hold 4 of the 6 the failover adds \
             On-Demand: {HELD}: m5.large in us-west-2a, 4 of 4 available, ends 2028-01-01T00:00:00Z"
        )),
        "{text}"
    );
    assert!(
        text.contains(
            "short by 2 vCPU: needs 4 more, 8 - 6 used = 2 free; autoscaling:orders-web-usw2: 1 of 2 more fit"
        ),
        "{text}"
    );
    // The two together, then each alone to find the one EC2 does not know.
    assert_eq!((held.num_calls(), gone.num_calls()), (1, 2));
    assert_eq!(
        group_desired(&w.west_config).await,
        Some(1),
        "readiness changes nothing"
    );

    // What the reservation holds is all the failover adds: ready, and nothing counts against
    // the quota (the reservation already does).
    let report = w.readiness(&with_group(&w, 5, &[HELD])).await.expect("ready");
    let check = named(&report, "capacity reservations autoscaling:orders-web-usw2");
    assert!(check.passed, "{check:?}");
    assert!(
        check.detail.starts_with("hold 4 for the 4 the failover adds On-Demand"),
        "{check:?}"
    );
    assert!(
        !report.checks.iter().any(|c| c.name.starts_with("quota ec2/")),
        "{:?}",
        report.checks
    );
}

#[tokio::test]
async fn an_eks_node_groups_new_nodes_count_against_their_familys_vcpu_quota_too() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(4.0).await;
    seed::eks_nodegroup(&w.west_config, "orders-eks", "orders-workers", (1, 1, 3))
        .await
        .expect("node group");
    let mut request = w.request.clone();
    request["context"]["plan"]["services"]
        .as_array_mut()
        .expect("services")
        .push(json!({
            "kind": "eksNodegroup", "cluster": "orders-eks", "nodegroup": "orders-workers",
            "minSize": 1, "desiredSize": 5, "maxSize": 6
        }));
    w.moto.set_quotas(&json!({"ec2/L-1216C47A": 10})).expect("quota");
    usage(&w.west_config, "EC2", 4.0).await;
    // 4 more m5.large nodes, 2 vCPUs each, in the group EKS runs the node group in.
    let err = w.readiness(&request).await.expect_err("not ready");
    assert!(
        err.to_string().contains(
            "short by 2 vCPU: needs 8 more, 10 - 4 used = 6 free; eks:orders-eks/orders-workers: 3 of 4 more fit"
        ),
        "{err}"
    );
}
