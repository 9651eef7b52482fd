//! disaster-detector: plans loaded from moto's SSM and S3, and every kind of bad input.

use chrono::Utc;
use disaster_detector::Detector;
use rebound_shared::context::{DisasterType, Mode};
use rebound_shared::ErrorKind;
use rebound_tests::{event, MotoServer};
use serde_json::{json, Value};

fn plan_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/plan.json")).expect("example plan")
}

async fn detector_with_plan_in_ssm(moto: &MotoServer, plan: &str) -> Detector {
    let config = moto.config("us-west-2");
    rebound_tests::seed::plan_parameter(&config, "/rebound/orders/plan", plan)
        .await
        .expect("plan");
    Detector::new(&config, Some("ssm:/rebound/orders/plan".into()), None)
}

#[tokio::test]
async fn an_alarm_event_loads_the_plan_from_ssm_and_decides() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let detector = detector_with_plan_in_ssm(&moto, &plan_text()).await;
    for name in ["orders-api-5xx-rate", "orders-alb-unhealthy-hosts"] {
        rebound_tests::seed::alarm(&moto.config("us-east-1"), name, "ALARM")
            .await
            .expect("alarm");
    }
    let request = json!({"event": event("cloudwatch-alarm.json"), "executionId": "arn:aws:states:us-west-2:123456789012:execution:rebound-orders:drill-42"});
    let ctx = detector.detect(request, Utc::now()).await.expect("detected");
    assert_eq!(ctx.recovery_id, "drill-42");
    assert!(ctx.decision.recovery_required);
    assert_eq!(ctx.plan.application, "orders");
    assert_eq!(ctx.mode, Mode::Failover);
    assert!(ctx.timestamps.deadline.is_some());
    // The raw event is kept for the audit trail.
    assert_eq!(ctx.event.raw["detail"]["alarmName"], "orders-api-5xx-rate");
}

#[tokio::test]
async fn a_start_runs_the_stacks_plan_and_brings_its_own_only_where_the_stack_allows() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let config = moto.config("us-west-2");
    rebound_tests::seed::object(&config, "rebound-plans", "orders.json", &plan_text())
        .await
        .expect("the plan in S3");
    // The stack's plan asks for approval; the one a start would bring does not.
    let mut strict: Value = serde_json::from_str(&plan_text()).expect("json");
    strict["approval"] = json!({"required": true});
    let strict = strict.to_string();
    let mut detector = detector_with_plan_in_ssm(&moto, &strict).await;
    let mut lax: Value = serde_json::from_str(&plan_text()).expect("json");
    lax["approval"] = json!({"required": false});
    lax["detection"]["cooldownSeconds"] = json!(0);
    let elsewhere = json!({"reason": "game day", "mode": "drill", "planLocation": "s3://rebound-plans/orders.json"});
    let inline = json!({"reason": "game day", "mode": "drill", "plan": lax});
    let stacks = json!({"reason": "game day", "mode": "drill", "planLocation": "ssm:/rebound/orders/plan"});

    // By default a start cannot choose the plan: neither inline nor by another location.
    for (start, brought) in [
        (&elsewhere, "planLocation s3://rebound-plans/orders.json"),
        (&inline, "plan, inline"),
    ] {
        let err = detector.detect(start.clone(), Utc::now()).await.expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let text = err.to_string();
        assert!(text.contains(brought), "{text}");
        assert!(text.contains("runs only its own (ssm:/rebound/orders/plan)"), "{text}");
        assert!(text.contains("AllowStartPlan=true"), "{text}");
        let diagnostic: lambda_runtime::Diagnostic = err.into();
        assert_eq!(diagnostic.error_type, "Rebound.InvalidInput");
    }
    // Naming the stack's own location is no choice at all.
    let ctx = detector.detect(stacks, Utc::now()).await.expect("the stack's plan");
    let pinned = ctx.plan_ref.clone().expect("recorded");
    assert_eq!(pinned.location, "ssm:/rebound/orders/plan");
    assert_eq!(pinned.version.as_deref(), Some("1"));
    assert_eq!(pinned.sha256, rebound_shared::source::sha256_hex(&strict));
    assert!(!pinned.from_start);
    assert!(ctx.approval_required);
    assert!(ctx.to_state().expect("state").get("plan").is_none(), "by reference");

    detector.allow_start_plan = true;
    let ctx = detector.detect(elsewhere, Utc::now()).await.expect("detected");
    assert_eq!(ctx.mode, Mode::Drill);
    let reference = ctx.plan_ref.clone().expect("recorded");
    assert_eq!(reference.location, "s3://rebound-plans/orders.json");
    assert!(reference.from_start);
    let ctx = detector.detect(inline.clone(), Utc::now()).await.expect("detected");
    let reference = ctx.plan_ref.clone().expect("recorded");
    assert_eq!(reference.location, "inline");
    assert!(reference.from_start);
    assert_eq!(
        reference.sha256,
        rebound_shared::source::sha256_hex(&inline["plan"].to_string())
    );
    assert!(!ctx.approval_required);
    // An inline plan has nowhere to be read again: it travels in the state.
    let state = ctx.to_state().expect("state");
    assert_eq!(state["plan"]["application"], "orders");
    assert_eq!(state["planRef"]["fromStart"], true);
}

#[tokio::test]
async fn a_missing_or_invalid_plan_is_invalid_input_with_its_paths() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let config = moto.config("us-west-2");
    let missing = Detector::new(&config, Some("ssm:/rebound/nobody/plan".into()), None);
    let err = missing
        .detect(event("cloudwatch-alarm.json"), Utc::now())
        .await
        .expect_err("no parameter");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.to_string(), "plan ssm:/rebound/nobody/plan does not exist");

    let mut broken: Value = serde_json::from_str(&plan_text()).expect("json");
    broken["objectives"]["rpoSeconds"] = json!(0);
    broken["recoveryRegion"] = json!("us-east-1");
    let detector = detector_with_plan_in_ssm(&moto, &broken.to_string()).await;
    let err = detector
        .detect(event("cloudwatch-alarm.json"), Utc::now())
        .await
        .expect_err("invalid plan");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let text = err.to_string();
    assert!(
        text.contains("recoveryRegion: must differ from primaryRegion"),
        "{text}"
    );
    assert!(text.contains("objectives.rpoSeconds: must be > 0"), "{text}");

    let nowhere = Detector::new(&config, None, None);
    let err = nowhere
        .detect(event("cloudwatch-alarm.json"), Utc::now())
        .await
        .expect_err("no location");
    assert_eq!(err.to_string(), "no plan: set PLAN_LOCATION (the stack's PlanLocation)");
}

#[tokio::test]
async fn malformed_and_foreign_events_are_invalid_input() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let detector = detector_with_plan_in_ssm(&moto, &plan_text()).await;
    let cases = [
        (json!("ALARM"), "expected a JSON object"),
        (
            json!({"detail-type": "EC2 Instance State-change Notification", "source": "aws.ec2", "detail": {}}),
            "unsupported event detail-type 'EC2 Instance State-change Notification'",
        ),
        (
            json!({"detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch", "detail": {"state": {"value": "ALARM"}}}),
            "missing field `alarmName`",
        ),
        (json!({"mode": "panic"}), "unknown variant `panic`"),
        (json!({"reason": "x", "colour": "red"}), "unknown field `colour`"),
    ];
    for (input, expected) in cases {
        let err = detector.detect(input.clone(), Utc::now()).await.expect_err("bad input");
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{input}");
        assert!(err.to_string().contains(expected), "{input}: {err}");
        let diagnostic: lambda_runtime::Diagnostic = err.into();
        assert_eq!(diagnostic.error_type, "Rebound.InvalidInput");
    }
}

#[tokio::test]
async fn events_elsewhere_and_strategies_that_disagree_with_the_plan() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let detector = detector_with_plan_in_ssm(&moto, &plan_text()).await;
    let mut elsewhere = event("aws-health.json");
    elsewhere["detail"]["eventRegion"] = json!("eu-west-1");
    let ctx = detector.detect(elsewhere, Utc::now()).await.expect("decided");
    assert!(!ctx.decision.recovery_required);
    assert!(
        ctx.decision.reasons[0].contains("not the primary region us-east-1"),
        "{:?}",
        ctx.decision.reasons
    );

    let mut wrong_region = event("manual-start-monitoring.json");
    wrong_region["recoveryStrategy"]["targetRegion"] = json!("eu-west-1");
    let err = detector
        .detect(wrong_region, Utc::now())
        .await
        .expect_err("region mismatch");
    assert_eq!(
        err.to_string(),
        "recoveryStrategy.targetRegion: eu-west-1 is not one of the plan's recovery regions (us-west-2)"
    );

    let mut tighter = event("manual-start-monitoring.json");
    tighter["recoveryStrategy"]["rtoMinutes"] = json!(20);
    let ctx = detector.detect(tighter, Utc::now()).await.expect("tighter RTO");
    assert_eq!(ctx.plan.objectives.rto_seconds, 1200);

    let mut healthy = event("manual-start-monitoring.json");
    healthy["monitoringData"] =
        json!({"errorRate": 2, "availability": 99.9, "responseTime": 180, "affectedServices": []});
    let ctx = detector.detect(healthy, Utc::now()).await.expect("decided");
    assert!(!ctx.decision.recovery_required);

    let mut corrupted = event("manual-start.json");
    corrupted["disasterType"] = json!("dataCorruption");
    let ctx = detector.detect(corrupted, Utc::now()).await.expect("decided");
    assert_eq!(ctx.event.disaster_type, DisasterType::DataCorruption);

    let mut breach = event("manual-start.json");
    breach["disasterType"] = json!("securityIncident");
    let ctx = detector.detect(breach, Utc::now()).await.expect("decided");
    assert!(ctx.approval_required, "security incidents always wait for a human");
}

/// An execution input shaped like an EventBridge event is believed only as far as it can be
/// checked: its account must be this stack's, and only the plan's own alarms count (an empty
/// list: no alarm starts anything), whose state the quorum reads from CloudWatch anyway.
#[tokio::test]
async fn alarm_shaped_starts_count_only_for_the_plans_alarms_and_this_account() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let mut detector = detector_with_plan_in_ssm(&moto, &plan_text()).await;
    detector.account = Some("123456789012".into());
    for name in [
        "orders-api-5xx-rate",
        "orders-alb-unhealthy-hosts",
        "orders-payments-admin",
    ] {
        rebound_tests::seed::alarm(&moto.config("us-east-1"), name, "ALARM")
            .await
            .expect("alarm");
    }
    let mut foreign = event("cloudwatch-alarm.json");
    foreign["account"] = json!("210987654321");
    let err = detector.detect(foreign, Utc::now()).await.expect_err("another account");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        err.to_string(),
        "the CloudWatch alarm event is from account 210987654321, not this stack's account 123456789012"
    );
    let mut unsigned = event("aws-health.json");
    unsigned.as_object_mut().expect("object").remove("account");
    let err = detector.detect(unsigned, Utc::now()).await.expect_err("no account");
    assert!(err.to_string().contains("from account (none given)"), "{err}");

    // An alarm the plan does not list, although it is in ALARM.
    let mut other = event("cloudwatch-alarm.json");
    other["detail"]["alarmName"] = json!("orders-payments-admin");
    let ctx = detector.detect(other.clone(), Utc::now()).await.expect("decided");
    assert!(!ctx.decision.recovery_required);
    assert_eq!(
        ctx.decision.reasons,
        vec!["alarm orders-payments-admin in us-east-1 is not one of the plan's detection alarms"]
    );
    // A plan that lists no alarm: no alarm starts a recovery.
    let mut metrics_only: Value = serde_json::from_str(&plan_text()).expect("json");
    metrics_only["detection"]["alarms"] = json!([]);
    let mut detector = detector_with_plan_in_ssm(&moto, &metrics_only.to_string()).await;
    detector.account = Some("123456789012".into());
    let ctx = detector
        .detect(event("cloudwatch-alarm.json"), Utc::now())
        .await
        .expect("decided");
    assert!(!ctx.decision.recovery_required);
    assert!(
        ctx.decision.reasons[0].contains("the plan lists no detection alarms, so no alarm starts a recovery"),
        "{:?}",
        ctx.decision.reasons
    );
}
