//! recovery-validator against moto and a local HTTP endpoint: it passes only when the recovered
//! state holds for enough consecutive rounds, and measures RTO and RPO.

use chrono::{Duration, Utc};
use rebound_shared::context::{StepStatus, ValidationReport};
use rebound_shared::ErrorKind;
use recovery_validator::{RecoveryValidator, ValidatorOutput};
use serde_json::json;

mod world;
use world::*;

#[tokio::test]
async fn nothing_recovered_yet_fails_every_check_with_its_reason() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    let report = w.round(None, detected() + Duration::seconds(60)).await.expect("round");
    assert!(!report.passed);
    assert_eq!(report.result.status, StepStatus::InProgress);
    let failing: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        failing,
        vec![
            "dns api.orders.example.com. CNAME",
            "record api.orders.example.com. CNAME",
            "database orders-db-usw2",
            "ecs:orders-usw2/orders-api"
        ]
    );
    let db = report
        .checks
        .iter()
        .find(|c| c.name == "database orders-db-usw2")
        .expect("db check");
    assert!(db.detail.contains("still a replica"), "{}", db.detail);
    assert_eq!(report.rto.actual_seconds, None);
}

#[tokio::test]
async fn three_green_rounds_pass_and_measure_rto_and_rpo() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.recover().await;
    let first = w.round(None, detected() + Duration::seconds(500)).await.expect("first");
    assert!(first.checks.iter().all(|c| c.passed), "{:?}", first.checks);
    assert_eq!((first.passed, first.consecutive_successes), (false, 1));
    let second = w
        .round(Some(&first), detected() + Duration::seconds(510))
        .await
        .expect("second");
    assert_eq!((second.passed, second.consecutive_successes), (false, 2));
    let third = w
        .round(Some(&second), detected() + Duration::seconds(520))
        .await
        .expect("third");
    assert!(third.passed);
    assert_eq!(third.result.status, StepStatus::Completed);
    assert_eq!(third.rto.actual_seconds, Some(520.0));
    assert_eq!(third.rto.met, Some(true));
    assert_eq!(third.rpo.actual_seconds, Some(4.0));
    assert_eq!(third.rpo.met, Some(true));
}

#[tokio::test]
async fn a_wrong_body_resets_the_streak_and_the_deadline_fails_the_step() {
    let w = world(endpoint(200, "{\"status\":\"degraded\"}").await).await;
    w.recover().await;
    let start = detected() + Duration::seconds(100);
    let first = w.round(None, start).await.expect("first");
    let http = first
        .checks
        .iter()
        .find(|c| c.name.starts_with("http "))
        .expect("http check");
    assert!(!http.passed);
    assert!(http.detail.contains("lacks"), "{}", http.detail);
    let err = w
        .round(Some(&first), start + Duration::seconds(601))
        .await
        .expect_err("past the deadline");
    assert_eq!(err.kind(), ErrorKind::StepFailed);
    assert!(err.to_string().contains("not validated within 600 s"), "{err}");
}

#[tokio::test]
async fn readiness_checks_everything_a_failover_touches_and_changes_nothing() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(4.0).await;
    let report = w.readiness(&w.request).await.expect("ready");
    assert!(report.ready, "{}", report.summary);
    assert_eq!(report.summary, "ready");
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names[..3], ["dns records", "databases", names[2]]);
    assert!(names[2].starts_with("fence arn:aws:rds:us-east-1"), "{names:?}");
    assert!(names.contains(&"services"), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("http ")), "{names:?}");
    assert!(!report.data_loss_approval);
    assert_eq!(report.expected_data_loss_seconds, Some(4.0));
    let dns = &report.checks[0];
    assert!(dns.detail.contains("would UPSERT"), "{}", dns.detail);
    // No acting roles to check here: skipped and shown so, not passed.
    let permissions = report
        .checks
        .iter()
        .find(|c| c.name == "permissions")
        .expect("permissions");
    assert!(
        permissions.skipped && !permissions.passed && permissions.detail.starts_with("not checked"),
        "{permissions:?}"
    );
    assert_eq!(w.untouched().await, untouched_state());

    // A pilot light serves nothing before its services are restored: the endpoint is not probed.
    let mut pilot = w.request.clone();
    pilot["context"]["plan"]["strategy"] = json!("pilotLight");
    let report = w.readiness(&pilot).await.expect("ready");
    let endpoint = report
        .checks
        .iter()
        .find(|c| c.name == "recovery endpoint")
        .expect("endpoint check");
    assert!(endpoint.skipped && !endpoint.passed, "{endpoint:?}");
    assert!(report.ready, "a skipped check is not a failure: {}", report.summary);
}

#[tokio::test]
async fn readiness_without_the_steps_dry_runs_is_refused_naming_them() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    let mut request = w.request.clone();
    request["action"] = json!("readiness");
    let err = w.validator.handle(request, Utc::now()).await.expect_err("no dry runs");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("dryRuns"), "{err}");
    assert_eq!(w.untouched().await, untouched_state());
}

#[tokio::test]
async fn lag_beyond_the_rpo_target_is_not_ready_unless_an_approver_may_accept_it() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(1260.0).await;
    let err = w.readiness(&w.request).await.expect_err("not ready");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    let text = err.to_string();
    assert!(
        text.starts_with("not ready to recover, nothing was changed: databases:"),
        "{text}"
    );
    assert!(
        text.contains("replica lag is 1260 s, beyond the RPO target of 900 s"),
        "{text}"
    );
    assert_eq!(w.untouched().await, untouched_state());

    // The plan allows the loss: ready, but only through the approval gate.
    let mut allowed = w.request.clone();
    allowed["context"]["plan"]["databases"][0]["allowDataLoss"] = json!(true);
    let report = w.readiness(&allowed).await.expect("ready with approval");
    assert!(report.ready && report.data_loss_approval, "{report:?}");
    assert_eq!(report.expected_data_loss_seconds, Some(1260.0));
    let databases = report.checks.iter().find(|c| c.name == "databases").expect("databases");
    assert!(databases.detail.contains("needs approval"), "{}", databases.detail);

    // So does a plan that asks for approval anyway.
    let mut approval = w.request.clone();
    approval["context"]["approvalRequired"] = json!(true);
    let report = w.readiness(&approval).await.expect("ready with approval");
    assert!(report.data_loss_approval);

    // A switchover never loses data, approval or not.
    let mut switchover = allowed.clone();
    switchover["context"]["mode"] = json!("switchover");
    let err = w.readiness(&switchover).await.expect_err("switchover");
    assert!(err.to_string().contains("a switchover waits at most 600 s"), "{err}");
    assert_eq!(w.untouched().await, untouched_state());
}

#[tokio::test]
async fn every_missing_part_is_named() {
    let w = world(endpoint(503, "{\"status\":\"unavailable\"}").await).await;
    w.lag(4.0).await;
    let mut request = w.request.clone();
    request["context"]["plan"]["services"][0]["service"] = json!("orders-missing");
    request["context"]["plan"]["dns"][0]["hostedZoneId"] = json!("ZNOSUCHZONE");
    let err = w.readiness(&request).await.expect_err("not ready");
    let text = err.to_string();
    for part in [
        "dns records:",
        "services: ",
        "orders-missing",
        "http http://",
        "HTTP 503",
    ] {
        assert!(text.contains(part), "{part} missing from: {text}");
    }
    assert_eq!(w.untouched().await, untouched_state());
}

#[tokio::test]
async fn the_scheduled_check_reports_rather_than_fails() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(1260.0).await;
    let mut request = w.request.clone();
    request["context"]["path"] = json!("readinessCheck");
    request["context"]["dryRun"] = json!(true);
    request["context"]["plan"]["databases"][0]["allowDataLoss"] = json!(true);
    let report = w.readiness(&request).await.expect("a report");
    assert!(!report.ready);
    assert!(!report.data_loss_approval, "nobody approves a scheduled check");
    assert!(report.summary.contains("replica lag is 1260 s"), "{}", report.summary);
    assert_eq!(w.untouched().await, untouched_state());
}

fn one_writer(report: &ValidationReport) -> &rebound_shared::context::Check {
    report
        .checks
        .iter()
        .find(|c| c.name == "one writer: orders-db-usw2")
        .expect("one-writer check")
}

#[tokio::test]
async fn an_old_writer_whose_region_times_out_is_unknown_never_a_pass() {
    use rebound_tests::faults::{Fault, FaultProxy};
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    // Promoted without a fence: in moto the old writer still takes writes.
    w.promote_and_scale().await;
    let proxy = FaultProxy::start(&w.moto).unwrap_or_else(|e| panic!("{e}"));
    proxy
        .set(&[Fault::timeout(30).service("rds").region("us-east-1")])
        .expect("faults");
    let validator = RecoveryValidator {
        rds: aws_sdk_rds::Client::new(&proxy.regions().recovery),
        primary_rds: aws_sdk_rds::Client::new(&proxy.regions().primary),
        ..RecoveryValidator::new(&w.moto.regions())
    };
    let mut request = w.request.clone();
    request["context"]["plan"]["validation"]["probes"] = json!([]);
    let report = match validator
        .handle(request.clone(), detected() + Duration::seconds(60))
        .await
    {
        Ok(ValidatorOutput::Validation(report)) => report,
        other => panic!("expected a validation report, got {other:?}"),
    };
    let writer = one_writer(&report);
    assert!(!writer.passed, "a read that timed out is not a pass: {writer:?}");
    assert!(writer.unknown, "{writer:?}");
    assert!(writer.detail.contains("could not be read"), "{}", writer.detail);
    // Unknown does not hold the recovery back: the round counts, and the check is reported.
    assert_eq!(report.consecutive_successes, 1, "{:?}", report.checks);
    let timed_out: Vec<_> = proxy.calls().into_iter().filter(|c| c.fault.is_some()).collect();
    assert!(
        timed_out.iter().all(|c| c.region.as_deref() == Some("us-east-1")) && !timed_out.is_empty(),
        "{timed_out:?}"
    );

    // Once the region answers, the same writer is what it is: a second writer.
    proxy.set(&[]).expect("faults");
    let report = match validator.handle(request, detected() + Duration::seconds(70)).await {
        Ok(ValidatorOutput::Validation(report)) => report,
        other => panic!("expected a validation report, got {other:?}"),
    };
    let writer = one_writer(&report);
    assert!(!writer.passed && !writer.unknown, "{writer:?}");
    assert!(writer.detail.starts_with("SPLIT BRAIN"), "{}", writer.detail);
}

#[tokio::test]
async fn a_second_writer_is_caught_and_a_fenced_one_is_not_counted() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    // Promoted without fencing the old writer: two databases accept writes.
    w.promote_and_scale().await;
    let report = w.round(None, detected() + Duration::seconds(60)).await.expect("round");
    let writer = one_writer(&report);
    assert!(!writer.passed);
    assert!(
        writer.detail.starts_with("SPLIT BRAIN: orders-db in us-east-1"),
        "{}",
        writer.detail
    );

    w.fence_old_writer().await;
    let report = w.round(None, detected() + Duration::seconds(70)).await.expect("round");
    let writer = one_writer(&report);
    assert!(writer.passed, "{}", writer.detail);
    assert!(writer
        .detail
        .contains("read-only (default_transaction_read_only in orders-db-params)"));
}

#[tokio::test]
async fn a_restore_losing_more_than_the_rpo_target_needs_approval() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    rebound_tests::seed::database(&w.west_config, "orders-db-west", "postgres")
        .await
        .expect("source");
    let mut request = w.request.clone();
    request["context"]["event"]["disasterType"] = json!("dataCorruption");
    request["context"]["plan"]["databases"] = json!([{
        "kind": "pointInTimeRestore", "identifier": "orders-db-restored", "sourceIdentifier": "orders-db-west"
    }]);
    // Found five minutes after it began: within the 900 s target.
    request["context"]["event"]["detectedAt"] = json!((Utc::now() - Duration::minutes(5)).to_rfc3339());
    let report = w.readiness(&request).await.expect("ready");
    assert!(!report.data_loss_approval, "{report:?}");
    // Found half an hour after: every write since is lost, so a human decides.
    request["context"]["event"]["detectedAt"] = json!((Utc::now() - Duration::minutes(30)).to_rfc3339());
    let report = w.readiness(&request).await.expect("ready with approval");
    assert!(report.data_loss_approval, "{report:?}");
    assert!(report.expected_data_loss_seconds.is_some_and(|s| s >= 1800.0));
    let restored = w
        .rds
        .describe_db_instances()
        .db_instance_identifier("orders-db-restored")
        .send()
        .await;
    assert!(restored.is_err(), "nothing restored by a readiness check");
}

#[tokio::test]
async fn an_unfenceable_writer_that_answers_needs_approval_naming_the_split_brain_risk() {
    // The old writer is on its engine's default group, which cannot be made read-only.
    let w = world_with(endpoint(200, "{\"status\":\"ok\"}").await, true).await;
    w.lag(4.0).await;
    let report = w.readiness(&w.request).await.expect("ready, with approval");
    assert!(report.split_brain_approval, "{}", report.summary);
    let fence = report
        .checks
        .iter()
        .find(|c| c.name.starts_with("fence "))
        .expect("a fence check");
    assert!(
        fence.detail.starts_with("SPLIT-BRAIN RISK, needs approval"),
        "{}",
        fence.detail
    );

    // The scheduled check calls it not ready, with the fix.
    let mut scheduled = w.request.clone();
    scheduled["context"]["path"] = json!("readinessCheck");
    let report = w.readiness(&scheduled).await.expect("a report");
    assert!(!report.ready);
    assert!(
        report.summary.contains("isolationSecurityGroupId"),
        "{}",
        report.summary
    );
}

#[tokio::test]
async fn a_scheduled_check_is_not_ready_while_the_failover_depends_on_the_primary_unacknowledged() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(4.0).await;
    let mut request = w.request.clone();
    request["context"]["path"] = json!("readinessCheck");
    let report = w.readiness(&request).await.expect("a report");
    let stability = report
        .checks
        .iter()
        .find(|c| c.name == "static stability")
        .expect("checked");
    assert!(
        stability.passed,
        "the example acknowledges its dependencies: {}",
        stability.detail
    );

    request["context"]["plan"]["acknowledgedDependencies"] = json!([]);
    let report = w.readiness(&request).await.expect("a report");
    assert!(!report.ready);
    let stability = report
        .checks
        .iter()
        .find(|c| c.name == "static stability")
        .expect("checked");
    assert!(!stability.passed);
    assert!(
        stability.detail.contains("route53:ChangeResourceRecordSets (StartDnsFailover, us-east-1 control plane) depends on a global control plane homed in the primary region"),
        "{}",
        stability.detail
    );
}

#[tokio::test]
async fn readiness_finds_a_custom_action_whose_function_is_missing() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(4.0).await;
    let warm = rebound_tests::seed::function(&w.west_config, "orders-warm-caches")
        .await
        .expect("function");
    let mut request = w.request.clone();
    request["context"]["plan"]["customActions"] = json!([
        {"name": "warm-caches", "at": "afterServices", "functionArn": warm},
        {"name": "drain", "at": "beforeFailover",
         "functionArn": "arn:aws:lambda:us-west-2:123456789012:function:orders-drain"}
    ]);
    let err = w.readiness(&request).await.expect_err("a missing function");
    let text = err.to_string();
    assert!(
        text.contains(
            "custom action drain: no such function: arn:aws:lambda:us-west-2:123456789012:function:orders-drain"
        ),
        "{text}"
    );
    assert!(
        !text.contains("custom action warm-caches"),
        "the function that exists passes: {text}"
    );
    assert_eq!(w.untouched().await, untouched_state());
}

#[tokio::test]
async fn the_scheduled_check_publishes_its_rto_forecast_and_warns_past_the_target() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(4.0).await;
    let mut request = w.request.clone();
    request["context"]["path"] = json!("readinessCheck");
    let report = w.readiness(&request).await.expect("a report");
    let forecast = report
        .checks
        .iter()
        .find(|c| c.name == "forecast RTO")
        .expect("forecast");
    assert!(forecast.passed, "{}", forecast.detail);
    assert!(forecast.detail.contains("critical path: "), "{}", forecast.detail);
    // What moto's CloudWatch holds: both figures, per application.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&w.moto.config("us-west-2"));
    let listed = cloudwatch
        .list_metrics()
        .namespace("Rebound")
        .send()
        .await
        .expect("ListMetrics");
    let mut names: Vec<&str> = listed.metrics().iter().filter_map(|m| m.metric_name()).collect();
    names.sort();
    assert_eq!(names, ["ForecastRtoSeconds", "RtoTargetSeconds"]);
    assert!(listed.metrics().iter().all(|m| m
        .dimensions()
        .iter()
        .any(|d| d.name() == Some("Application") && d.value() == Some("orders"))));

    // A target the recovery cannot meet: the scheduled check is not ready and says why.
    request["context"]["plan"]["objectives"]["rtoSeconds"] = json!(120);
    request["context"]["plan"]["validation"]["deadlineSeconds"] = json!(120);
    let report = w.readiness(&request).await.expect("a report");
    assert!(!report.ready);
    assert!(
        report.summary.contains("forecast RTO: predicted RTO"),
        "{}",
        report.summary
    );
    assert!(report.summary.contains("EXCEEDS the target"), "{}", report.summary);
    assert_eq!(w.untouched().await, untouched_state());
}

#[tokio::test]
async fn a_node_groups_peak_is_read_from_its_auto_scaling_groups_in_the_primary() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(4.0).await;
    let global = w.moto.config("us-east-1");
    let primary_group = rebound_tests::seed::eks_nodegroup(&global, "orders-use1", "orders-workers", (2, 2, 10))
        .await
        .expect("primary node group");
    rebound_tests::seed::eks_nodegroup(&w.west_config, "orders-usw2", "orders-workers", (1, 1, 10))
        .await
        .expect("recovery node group");
    // The node group's busiest hour in the last day, in the Auto Scaling group EKS runs it in.
    let points: Vec<(i64, f64)> = [(5, 6.0), (2, 3.0)].iter().map(|(h, n)| (h * 3600, *n)).collect();
    let dimensions = [("AutoScalingGroupName", primary_group.as_str())];
    rebound_tests::seed::metric_at(
        &global,
        "AWS/AutoScaling",
        "GroupInServiceInstances",
        &dimensions,
        &points,
    )
    .await
    .expect("metric");
    let mut request = w.request.clone();
    request["context"]["plan"]["services"] = json!([{
        "kind": "eksNodegroup", "cluster": "orders-usw2", "nodegroup": "orders-workers", "minSize": 1, "maxSize": 10,
        "capacity": {"percentOfPeak": 75, "floor": 2, "primaryName": "orders-use1/orders-workers"}
    }]);

    let report = w.readiness(&request).await.expect("ready");
    let check = named(&report, "capacity from peak");
    assert!(check.passed, "{check:?}");
    assert_eq!(
        check.detail,
        "eks:orders-usw2/orders-workers: peak 6 in us-east-1 over 24 h: 5 (75 %, at least 2)"
    );

    // The recovery sizes the node group from the peak kept, as EKS then holds it.
    let mut start = request.clone();
    start["action"] = json!("start");
    let result = w.steps.services.handle(start, Utc::now()).await.expect("scaled");
    assert_eq!(result.actions[0].operation, "UpdateNodegroupConfig");
    let (_, min, desired, max) = rebound_tests::held::nodegroup(&w.west_config, "orders-usw2", "orders-workers").await;
    assert_eq!((min, desired, max), (1, 5, 10));

    // A node group EKS does not know in the primary has no peak read there: the one kept.
    request["context"]["plan"]["services"][0]["capacity"]["primaryName"] = json!("orders-use1/gone");
    let report = w.readiness(&request).await.expect("a report");
    let check = named(&report, "capacity from peak");
    assert!(
        check.detail.contains("no peak read in us-east-1 now; the one kept at ")
            && check.detail.contains(": 6 gives 5"),
        "{check:?}"
    );
}

#[tokio::test]
async fn readiness_keeps_the_primarys_peak_and_the_recovery_runs_its_share_of_it() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(4.0).await;
    let mut request = w.request.clone();
    request["context"]["plan"]["services"] = json!([{
        "kind": "ecs", "cluster": "orders-usw2", "service": "orders-api",
        "capacity": {"percentOfPeak": 80, "floor": 2, "primaryName": "orders-use1/orders-api"}
    }]);
    let global = w.moto.config("us-east-1");
    // Its busiest hour in the last day was 10 tasks; 30 hours ago (out of the window), 40.
    running_tasks(&global, "orders-use1", "orders-api", &[(30, 40.0), (5, 10.0), (1, 4.0)]).await;

    let report = w.readiness(&request).await.expect("ready");
    let check = named(&report, "capacity from peak");
    assert!(check.passed, "{check:?}");
    assert_eq!(
        check.detail,
        "ecs:orders-usw2/orders-api: peak 10 in us-east-1 over 24 h: 8 (80 %, at least 2)"
    );
    // Kept in the recovery region, where the recovery reads it when the primary is gone.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&w.west_config);
    let plan: rebound_shared::plan::RecoveryPlan =
        serde_json::from_value(request["context"]["plan"].clone()).expect("plan");
    let services: Vec<&rebound_shared::plan::Service> = plan.services.iter().collect();
    let kept = rebound_shared::peaks::kept(&cloudwatch, "orders", &services, Utc::now())
        .await
        .expect("kept");
    assert_eq!(kept.get("ecs:orders-usw2/orders-api").map(|p| p.running), Some(10.0));

    // The recovery scales to 80 % of it, rounded up, saying where the number came from.
    let mut start = request.clone();
    start["action"] = json!("start");
    let result = w.steps.services.handle(start, Utc::now()).await.expect("scaled");
    let action = &result.actions[0];
    assert!(
        action
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with("80 % of the primary's peak of 10 (kept ") && d.ends_with("): 8")),
        "{action:?}"
    );
    let desired = w
        .ecs
        .describe_services()
        .cluster("orders-usw2")
        .services("orders-api")
        .send()
        .await
        .expect("describe")
        .services()[0]
        .desired_count();
    assert_eq!(desired, 8);

    // The primary gone: the kept peak is used, and said so.
    let mut down = RecoveryValidator::new(&w.moto.regions());
    down.services.primary_cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&global)
            .endpoint_url("http://127.0.0.1:9")
            .build(),
    );
    let w = World { validator: down, ..w };
    let report = w.readiness(&request).await.expect("ready on the kept peak");
    let check = named(&report, "capacity from peak");
    assert!(
        check.detail.contains("no peak read in us-east-1 now; the one kept at ")
            && check.detail.contains(": 10 gives 8 (80 %, at least 2)")
            && check.detail.contains("us-east-1 did not answer"),
        "{check:?}"
    );
}
