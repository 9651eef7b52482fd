//! The launcher's "AWS's time": each change that takes time on AWS shows its documented
//! intermediate states for a duration the test sets, shown against moto as released (instant)
//! and as patched. Every check waits on a state (`wait::until`), never on a guess of the clock.

use aws_sdk_rds::error::ProvideErrorMetadata;
use aws_sdk_rds::Client;
use rebound_tests::{held, seed, wait, MotoServer};
use serde_json::json;

/// (status, source) of the seeded replica.
async fn replica(west: &Client) -> (String, Option<String>) {
    let out = west
        .describe_db_instances()
        .db_instance_identifier("orders-db-usw2")
        .send()
        .await
        .expect("describe");
    let i = &out.db_instances()[0];
    (
        i.db_instance_status().unwrap_or_default().to_string(),
        i.read_replica_source_db_instance_identifier().map(str::to_string),
    )
}

#[tokio::test]
async fn a_promotion_is_modifying_then_rebooting_with_its_source_set_until_it_ends() {
    // As released: standalone at once (and, moto's own gap, still naming its source).
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    seed::database_with_replica(&released.config("us-east-1"), &released.config("us-west-2"), "mysql")
        .await
        .expect("seeded");
    let west = Client::new(&released.config("us-west-2"));
    west.promote_read_replica()
        .db_instance_identifier("orders-db-usw2")
        .send()
        .await
        .expect("promote");
    assert_eq!(replica(&west).await.0, "available", "moto as released: done at once");

    // Patched: two seconds, modifying, then rebooting, the source set until the end.
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    moto.set_durations(&json!({"PromoteReadReplica": 2.0}))
        .expect("durations");
    let source = seed::database_with_replica(&moto.config("us-east-1"), &moto.config("us-west-2"), "mysql")
        .await
        .expect("seeded");
    let west = Client::new(&moto.config("us-west-2"));
    let answer = west
        .promote_read_replica()
        .db_instance_identifier("orders-db-usw2")
        .send()
        .await
        .expect("promote");
    assert_eq!(
        answer.db_instance().and_then(|i| i.db_instance_status()),
        Some("modifying"),
        "the answer describes the promotion starting"
    );
    assert_eq!(replica(&west).await, ("modifying".to_string(), Some(source.clone())));
    // The SDK's retry of a promotion whose answer was lost meets the promotion under way.
    let again = west
        .promote_read_replica()
        .db_instance_identifier("orders-db-usw2")
        .send()
        .await
        .expect_err("under way");
    assert_eq!(again.code(), Some("InvalidDBInstanceState"));
    // Until it is available, it is modifying or rebooting, and a replica of its source.
    let seen = std::cell::RefCell::new(Vec::new());
    wait::until("the promotion ended", || async {
        let (status, from) = replica(&west).await;
        seen.borrow_mut().push(status.clone());
        if status == "available" {
            assert_eq!(from, None, "promoted: no longer a replica");
            return Some(());
        }
        assert!(["modifying", "rebooting"].contains(&status.as_str()), "{status}");
        assert_eq!(from.as_deref(), Some(source.as_str()), "a replica while {status}");
        None
    })
    .await;
    let seen = seen.into_inner();
    assert!(seen.len() > 1, "seen under way first: {seen:?}");
}

#[tokio::test]
async fn durations_are_set_per_operation_and_unknown_ones_refused() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    moto.set_durations(&json!({"PromoteReadReplica": 0.1, "FailoverGlobalCluster": 0.2}))
        .expect("known operations");
    let err = moto
        .set_durations(&json!({"CreateTable": 1}))
        .expect_err("no modelled duration for it");
    assert!(err.to_string().contains("HTTP 400"), "{err}");
}

/// (status, FailoverState's target, writer) of the seeded global database.
async fn global(east: &Client) -> (String, Option<String>, Option<String>) {
    let out = east
        .describe_global_clusters()
        .global_cluster_identifier("orders-global")
        .send()
        .await
        .expect("DescribeGlobalClusters");
    let g = &out.global_clusters()[0];
    (
        g.status().unwrap_or_default().to_string(),
        g.failover_state()
            .and_then(|f| f.to_db_cluster_arn())
            .map(str::to_string),
        g.global_cluster_members()
            .iter()
            .find(|m| m.is_writer() == Some(true))
            .and_then(|m| m.db_cluster_arn())
            .map(str::to_string),
    )
}

#[tokio::test]
async fn a_global_failover_is_failing_over_with_the_old_writer_still_writer_until_it_ends() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    moto.set_durations(&json!({"FailoverGlobalCluster": 1.5, "SwitchoverGlobalCluster": 1.5}))
        .expect("durations");
    let (east_config, west_config) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let (writer, secondary) = seed::aurora_global(&east_config, &west_config, "orders-global", "sg-0a", None, false)
        .await
        .expect("seeded");
    let east = Client::new(&east_config);
    let fail_over = || {
        east.failover_global_cluster()
            .global_cluster_identifier("orders-global")
            .target_db_cluster_identifier(&secondary)
            .allow_data_loss(true)
            .send()
    };
    fail_over().await.expect("failover");
    assert_eq!(
        global(&east).await,
        (
            "failing-over".to_string(),
            Some(secondary.clone()),
            Some(writer.clone())
        )
    );
    let retried = fail_over().await.expect_err("under way");
    assert_eq!(retried.code(), Some("InvalidGlobalClusterStateFault"));
    let ended = wait::until("the failover ended", || async {
        let g = global(&east).await;
        (g.0 == "available").then_some(g)
    })
    .await;
    assert_eq!(ended, ("available".to_string(), None, Some(secondary.clone())));

    // A switchover back shows its own status.
    east.switchover_global_cluster()
        .global_cluster_identifier("orders-global")
        .target_db_cluster_identifier(&writer)
        .send()
        .await
        .expect("switchover");
    assert_eq!(global(&east).await.0, "switching-over");
}

#[tokio::test]
async fn a_record_change_is_pending_then_insync_and_a_change_never_made_is_not_found() {
    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
    let change = |zone: String| async move {
        let record = ResourceRecordSet::builder()
            .name("api.orders.example.com.")
            .r#type(RrType::Cname)
            .ttl(60)
            .resource_records(
                ResourceRecord::builder()
                    .value("orders-api-usw2.orders.example.com")
                    .build()
                    .expect("record"),
            )
            .build()
            .expect("set");
        let batch = ChangeBatch::builder()
            .changes(
                Change::builder()
                    .action(ChangeAction::Upsert)
                    .resource_record_set(record)
                    .build()
                    .expect("change"),
            )
            .build()
            .expect("batch");
        (zone, batch)
    };
    for (moto, patched) in [
        (MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}")), false),
        (MotoServer::start().unwrap_or_else(|e| panic!("{e}")), true),
    ] {
        if patched {
            moto.set_durations(&json!({"ChangeResourceRecordSets": 1.0}))
                .expect("durations");
        }
        let config = moto.config("us-east-1");
        let zone = seed::hosted_zone(&config, "orders.example.com.").await.expect("zone");
        let route53 = aws_sdk_route53::Client::new(&config);
        let (zone, batch) = change(zone).await;
        let info = route53
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(batch)
            .send()
            .await
            .expect("change");
        let info = info.change_info().expect("change info").clone();
        let status = |id: String| {
            let route53 = route53.clone();
            async move {
                route53
                    .get_change()
                    .id(id)
                    .send()
                    .await
                    .map(|o| o.change_info().map(|i| i.status().as_str().to_string()))
            }
        };
        if !patched {
            assert_eq!(
                info.status().as_str(),
                "INSYNC",
                "moto as released: in sync at once (the gap)"
            );
            continue;
        }
        assert_eq!(info.status().as_str(), "PENDING");
        assert_eq!(
            status(info.id().to_string()).await.expect("GetChange").as_deref(),
            Some("PENDING")
        );
        wait::until("INSYNC", || async {
            (status(info.id().to_string()).await.expect("GetChange").as_deref() == Some("INSYNC")).then_some(())
        })
        .await;
        let unknown = status("/change/CNEVERMADE".into()).await.expect_err("no such change");
        assert_eq!(unknown.code(), Some("NoSuchChange"));
    }
}

#[tokio::test]
async fn a_scaled_out_service_runs_its_tasks_over_time_and_instances_pass_pending() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    moto.set_durations(&json!({"UpdateService": 1.0, "UpdateAutoScalingGroup": 1.0}))
        .expect("durations");
    let west = moto.config("us-west-2");
    seed::ecs_services(&west, &[("orders-api", 0)]).await.expect("service");
    let ecs = aws_sdk_ecs::Client::new(&west);
    ecs.update_service()
        .cluster(seed::ECS_CLUSTER)
        .service("orders-api")
        .desired_count(4)
        .send()
        .await
        .expect("scale out");
    let counts = || async {
        let out = ecs
            .describe_services()
            .cluster(seed::ECS_CLUSTER)
            .services("orders-api")
            .send()
            .await
            .expect("describe");
        let s = &out.services()[0];
        (s.running_count(), s.pending_count(), s.desired_count())
    };
    let first = counts().await;
    assert!(first.0 < 4 && first.0 + first.1 == 4, "tasks start pending: {first:?}");
    let seen = std::cell::RefCell::new(vec![first.0]);
    wait::until("all 4 running", || async {
        let (running, pending, desired) = counts().await;
        assert_eq!((running + pending, desired), (4, 4));
        seen.borrow_mut().push(running);
        (running == 4).then_some(())
    })
    .await;
    let seen = seen.into_inner();
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "the running count only climbs: {seen:?}"
    );

    seed::auto_scaling_group(&west, 1, 1, 6).await.expect("group");
    let autoscaling = aws_sdk_autoscaling::Client::new(&west);
    let states = || async {
        let out = autoscaling
            .describe_auto_scaling_groups()
            .auto_scaling_group_names("orders-web-usw2")
            .send()
            .await
            .expect("describe");
        out.auto_scaling_groups()[0]
            .instances()
            .iter()
            .map(|i| i.lifecycle_state().map(|s| s.as_str().to_string()).unwrap_or_default())
            .collect::<Vec<_>>()
    };
    wait::until("the first instance in service", || async {
        (states().await == ["InService"]).then_some(())
    })
    .await;
    autoscaling
        .update_auto_scaling_group()
        .auto_scaling_group_name("orders-web-usw2")
        .desired_capacity(3)
        .send()
        .await
        .expect("scale out");
    let launched = states().await;
    assert_eq!(
        launched.len(),
        3,
        "Pending instances count toward the capacity: {launched:?}"
    );
    assert_eq!(launched.iter().filter(|s| *s == "Pending").count(), 2, "{launched:?}");
    wait::until("all in service", || async {
        (states().await.iter().all(|s| s == "InService")).then_some(())
    })
    .await;
    assert_eq!(states().await.len(), 3, "no second launch for a Pending instance");
}

/// Three alarms on one metric, differing only in TreatMissingData, set to ALARM after one
/// breaching datapoint (as the DNS step drives its gate); their states once the `missing` one
/// has been re-evaluated past the datapoint. (moto as released cannot be shown here: it never
/// evaluates an alarm, and it does not speak the CBOR protocol the SDK uses for CloudWatch.)
#[tokio::test]
async fn an_alarm_is_re_evaluated_from_its_metric_and_only_ignore_keeps_the_state_it_was_set_to() {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricDatum, StateValue, Statistic};
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&moto.config("us-west-2"));
    let dimension = Dimension::builder().name("Application").value("orders").build();
    for (name, treat) in [
        ("gate", "ignore"),
        ("missing", "missing"),
        ("not-breaching", "notBreaching"),
    ] {
        cloudwatch
            .put_metric_alarm()
            .alarm_name(name)
            .namespace("Rebound")
            .metric_name("PrimaryOut")
            .dimensions(dimension.clone())
            .statistic(Statistic::Maximum)
            .period(60)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
            .treat_missing_data(treat)
            .send()
            .await
            .expect("PutMetricAlarm");
    }
    cloudwatch
        .put_metric_data()
        .namespace("Rebound")
        .metric_data(
            MetricDatum::builder()
                .metric_name("PrimaryOut")
                .dimensions(dimension)
                .value(1.0)
                .timestamp(aws_smithy_types::DateTime::from(std::time::SystemTime::now()))
                .build(),
        )
        .send()
        .await
        .expect("PutMetricData");
    for name in ["gate", "missing", "not-breaching"] {
        cloudwatch
            .set_alarm_state()
            .alarm_name(name)
            .state_value(StateValue::Alarm)
            .state_reason("driven")
            .send()
            .await
            .expect("SetAlarmState");
    }
    let states = wait::until("the datapoint aged out of the window", || async {
        let out = cloudwatch.describe_alarms().send().await.expect("DescribeAlarms");
        let mut states: Vec<(String, String)> = out
            .metric_alarms()
            .iter()
            .map(|a| {
                (
                    a.alarm_name().unwrap_or_default().to_string(),
                    a.state_value().map(|s| s.as_str().to_string()).unwrap_or_default(),
                )
            })
            .collect();
        states.sort();
        states
            .iter()
            .any(|(n, s)| n == "missing" && s == "INSUFFICIENT_DATA")
            .then_some(states)
    })
    .await;
    let expected = [
        ("gate", "ALARM"),
        ("missing", "INSUFFICIENT_DATA"),
        ("not-breaching", "OK"),
    ];
    assert_eq!(
        states,
        expected.map(|(n, s)| (n.to_string(), s.to_string())),
        "only TreatMissingData ignore keeps the state set"
    );
}

#[tokio::test]
async fn a_restore_is_creating_until_it_is_available() {
    let status = |client: Client, id: &'static str| async move {
        let out = client
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .expect("describe");
        out.db_instances()[0]
            .db_instance_status()
            .unwrap_or_default()
            .to_string()
    };
    let restore = |client: Client| async move {
        client
            .restore_db_instance_to_point_in_time()
            .source_db_instance_identifier("orders-db-usw2")
            .target_db_instance_identifier("orders-db-restored")
            .use_latest_restorable_time(true)
            .send()
            .await
            .expect("restore")
    };
    // As released: available at once.
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    seed::database_with_replica(&released.config("us-east-1"), &released.config("us-west-2"), "mysql")
        .await
        .expect("seeded");
    let west = Client::new(&released.config("us-west-2"));
    restore(west.clone()).await;
    assert_eq!(status(west, "orders-db-restored").await, "available");

    // Patched: creating for the restore's time, then available.
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    moto.set_durations(&json!({"RestoreDBInstanceToPointInTime": 1.5}))
        .expect("durations");
    seed::database_with_replica(&moto.config("us-east-1"), &moto.config("us-west-2"), "mysql")
        .await
        .expect("seeded");
    let west = Client::new(&moto.config("us-west-2"));
    let answer = restore(west.clone()).await;
    assert_eq!(
        answer.db_instance().and_then(|i| i.db_instance_status()),
        Some("creating")
    );
    let seen = std::cell::RefCell::new(Vec::new());
    wait::until("the restore ended", || async {
        let now = status(west.clone(), "orders-db-restored").await;
        seen.borrow_mut().push(now.clone());
        (now == "available").then_some(())
    })
    .await;
    assert!(seen.borrow().iter().any(|s| s == "creating"), "{:?}", seen.borrow());
}

#[tokio::test]
async fn a_mapping_turned_off_is_disabling_first_and_refuses_a_second_update_meanwhile() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    moto.set_durations(&json!({"UpdateEventSourceMapping": 1.0}))
        .expect("durations");
    let config = moto.config("us-east-1");
    let uuid = seed::queue_consumer(&config, "orders-consumer", true)
        .await
        .expect("consumer");
    let lambda = aws_sdk_lambda::Client::new(&config);
    let answer = lambda
        .update_event_source_mapping()
        .uuid(&uuid)
        .enabled(false)
        .send()
        .await
        .expect("update");
    assert_eq!(answer.state(), Some("Disabling"));
    let again = lambda
        .update_event_source_mapping()
        .uuid(&uuid)
        .enabled(false)
        .send()
        .await
        .expect_err("in use");
    assert_eq!(
        aws_sdk_lambda::error::ProvideErrorMetadata::code(&again),
        Some("ResourceInUseException")
    );
    let seen = std::cell::RefCell::new(Vec::new());
    wait::until("the mapping disabled", || async {
        let out = lambda.get_event_source_mapping().uuid(&uuid).send().await.expect("get");
        let state = out.state().unwrap_or_default().to_string();
        seen.borrow_mut().push(state.clone());
        (state == "Disabled").then_some(())
    })
    .await;
    assert!(
        seen.borrow().iter().all(|s| s == "Disabling" || s == "Disabled"),
        "{:?}",
        seen.borrow()
    );
}

/// A node group's (status, desired size) and its Auto Scaling group's InService instances
/// (None: no such group).
async fn node_group(moto: &MotoServer, group: &str) -> (String, i32, Option<usize>) {
    let config = moto.config("us-west-2");
    let (status, _, desired, _) = held::nodegroup(&config, "orders-eks", "orders-workers").await;
    (status, desired, held::group(&config, group).await.map(|g| g.3))
}

async fn scale_node_group(moto: &MotoServer, desired: i32) -> Result<String, String> {
    seed::update_nodegroup(
        &moto.config("us-west-2"),
        "orders-eks",
        "orders-workers",
        (1, desired, 6),
    )
    .await
}

#[tokio::test]
async fn a_node_group_update_is_in_progress_then_sets_the_group_eks_runs_it_in() {
    // As released: the update is done at once, and the group EKS names does not exist.
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    let group = seed::eks_nodegroup(&released.config("us-west-2"), "orders-eks", "orders-workers", (1, 1, 3))
        .await
        .expect("node group");
    assert_eq!(scale_node_group(&released, 4).await, Ok("Successful".into()));
    assert_eq!(node_group(&released, &group).await, ("ACTIVE".into(), 4, None));

    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    moto.set_durations(&json!({"UpdateNodegroupConfig": 1.0}))
        .expect("durations");
    let group = seed::eks_nodegroup(&moto.config("us-west-2"), "orders-eks", "orders-workers", (1, 1, 3))
        .await
        .expect("node group");
    wait::until("the first node in service", || async {
        (node_group(&moto, &group).await.2 == Some(1)).then_some(())
    })
    .await;
    assert_eq!(scale_node_group(&moto, 4).await, Ok("InProgress".into()));
    assert_eq!(node_group(&moto, &group).await, ("UPDATING".into(), 4, Some(1)));
    assert_eq!(
        scale_node_group(&moto, 5).await,
        Err("ResourceInUseException".into()),
        "a second update meanwhile"
    );
    wait::until("the nodes in service", || async {
        (node_group(&moto, &group).await == ("ACTIVE".into(), 4, Some(4))).then_some(())
    })
    .await;
}
