//! N of M signals, read back from moto's CloudWatch: the example plan names two alarms and one
//! availability metric (below 50 % is failing) and needs two of them to agree.

use chrono::Utc;
use disaster_detector::Detector;
use rebound_shared::context::Declined;
use rebound_tests::{event, seed, MotoServer};
use serde_json::{json, Value};

async fn detector(moto: &MotoServer, plan: Value) -> Detector {
    let config = moto.config("us-west-2");
    seed::plan_parameter(&config, "/rebound/orders/plan", &plan.to_string())
        .await
        .expect("plan");
    Detector::new(&config, Some("ssm:/rebound/orders/plan".into()), None)
}

fn example() -> Value {
    serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/plan.json")).expect("plan"),
    )
    .expect("json")
}

async fn availability(moto: &MotoServer, percent: f64) {
    seed::metric(
        &moto.config("us-east-1"),
        "Orders/Synthetics",
        "SuccessPercent",
        &[("Canary", "orders-checkout")],
        percent,
    )
    .await
    .expect("metric");
}

#[tokio::test]
async fn one_failing_signal_of_three_is_not_enough() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let east = moto.config("us-east-1");
    seed::alarm(&east, "orders-api-5xx-rate", "ALARM").await.expect("alarm");
    seed::alarm(&east, "orders-alb-unhealthy-hosts", "OK")
        .await
        .expect("alarm");
    availability(&moto, 99.5).await;
    let ctx = detector(&moto, example())
        .await
        .detect(event("cloudwatch-alarm.json"), Utc::now())
        .await
        .expect("decided");
    assert!(!ctx.decision.recovery_required);
    let reasons = ctx.decision.reasons.join("\n");
    assert!(
        reasons.contains("alarm orders-api-5xx-rate (us-east-1): ALARM -> failing"),
        "{reasons}"
    );
    assert!(
        reasons.contains("alarm orders-alb-unhealthy-hosts (us-east-1): OK -> healthy"),
        "{reasons}"
    );
    assert!(
        reasons.contains(
            "metric availability Orders/Synthetics/SuccessPercent (us-east-1): 99.5 within lessThan 50 -> healthy"
        ),
        "{reasons}"
    );
    assert!(reasons.contains("1 of 3 signals failing; 2 must agree"), "{reasons}");
}

#[tokio::test]
async fn two_failing_signals_of_three_start_the_recovery() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let east = moto.config("us-east-1");
    seed::alarm(&east, "orders-api-5xx-rate", "ALARM").await.expect("alarm");
    seed::alarm(&east, "orders-alb-unhealthy-hosts", "OK")
        .await
        .expect("alarm");
    availability(&moto, 20.0).await;
    let ctx = detector(&moto, example())
        .await
        .detect(event("cloudwatch-alarm.json"), Utc::now())
        .await
        .expect("decided");
    assert!(ctx.decision.recovery_required, "{:?}", ctx.decision.reasons);
    assert!(
        ctx.decision
            .reasons
            .iter()
            .any(|r| r == "2 of 3 signals failing; quorum of 2 reached"),
        "{:?}",
        ctx.decision.reasons
    );
}

#[tokio::test]
async fn an_unreadable_signal_is_unknown_and_counts_as_the_plan_says() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    // One alarm fires; the other does not exist; the canary published nothing.
    seed::alarm(&moto.config("us-east-1"), "orders-api-5xx-rate", "ALARM")
        .await
        .expect("alarm");
    let ctx = detector(&moto, example())
        .await
        .detect(event("cloudwatch-alarm.json"), Utc::now())
        .await
        .expect("decided");
    assert!(
        !ctx.decision.recovery_required,
        "unknown abstains: {:?}",
        ctx.decision.reasons
    );
    let reasons = ctx.decision.reasons.join("\n");
    assert!(
        reasons.contains("alarm orders-alb-unhealthy-hosts (us-east-1): not found -> unknown"),
        "{reasons}"
    );
    assert!(reasons.contains("no datapoint -> unknown"), "{reasons}");
    // The unread signals would have made the quorum: declined as unconfirmed, for the state
    // machine to tell the operators.
    assert_eq!(ctx.decision.declined, Some(Declined::Unconfirmed));
    assert!(
        reasons.contains("NOT CONFIRMED: 1 of 3 signals failing and 2 could not be read"),
        "{reasons}"
    );

    let mut cautious = example();
    cautious["detection"]["unknownSignals"] = json!("failing");
    let ctx = detector(&moto, cautious)
        .await
        .detect(event("cloudwatch-alarm.json"), Utc::now())
        .await
        .expect("decided");
    assert!(
        ctx.decision.recovery_required,
        "unknown counts as failing: {:?}",
        ctx.decision.reasons
    );
}

#[tokio::test]
async fn a_manual_start_is_not_put_to_the_vote() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let ctx = detector(&moto, example())
        .await
        .detect(event("manual-start.json"), Utc::now())
        .await
        .expect("decided");
    assert!(ctx.decision.recovery_required);
    assert!(!ctx.decision.reasons.iter().any(|r| r.contains("signals failing")));
}
