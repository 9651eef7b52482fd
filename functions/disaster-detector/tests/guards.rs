//! One recovery per application, a cooldown after each, and an audit of every decision,
//! against moto's DynamoDB.

use chrono::{Duration, Utc};
use disaster_detector::Detector;
use rebound_shared::table::{Lease, RecoveryTable};
use rebound_tests::{event, seed, MotoServer};
use serde_json::json;

const TABLE: &str = "rebound-orders-recovery";

async fn detector(moto: &MotoServer) -> Detector {
    let config = moto.config("us-west-2");
    seed::recovery_table(&config, TABLE).await.expect("table");
    let plan = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/plan.json")).expect("plan");
    seed::plan_parameter(&config, "/rebound/orders/plan", &plan)
        .await
        .expect("plan");
    // Two of the plan's signals agree, so alarms may start a recovery.
    for name in ["orders-api-5xx-rate", "orders-alb-unhealthy-hosts"] {
        seed::alarm(&moto.config("us-east-1"), name, "ALARM")
            .await
            .expect("alarm");
    }
    Detector::new(&config, Some("ssm:/rebound/orders/plan".into()), Some(TABLE.into()))
}

fn alarm(execution: &str) -> serde_json::Value {
    json!({"event": event("cloudwatch-alarm.json"), "executionId": format!("arn:aws:states:us-west-2:123456789012:execution:rebound-orders:{execution}")})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_duplicate_alarms_start_exactly_one_recovery() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let detector = std::sync::Arc::new(detector(&moto).await);
    let mut runs = Vec::new();
    for n in 0..10 {
        let detector = detector.clone();
        runs.push(tokio::spawn(async move {
            detector.detect(alarm(&format!("dup-{n}")), Utc::now()).await
        }));
    }
    let mut winners = Vec::new();
    let mut yielded = 0;
    for run in runs {
        let ctx = run.await.expect("joined").expect("decided");
        if ctx.decision.recovery_required {
            winners.push(ctx.recovery_id.clone());
        } else {
            assert!(
                ctx.decision
                    .reasons
                    .iter()
                    .any(|r| r.starts_with("recovery already in progress")),
                "{:?}",
                ctx.decision.reasons
            );
            yielded += 1;
        }
    }
    assert_eq!((winners.len(), yielded), (1, 9), "{winners:?}");
    let table = RecoveryTable::new(&moto.config("us-west-2"), TABLE);
    match table.holder("orders", Utc::now()).await.expect("lease") {
        Some(Lease::HeldBy { owner, .. }) => assert_eq!(owner, winners[0]),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        table.audit_records("orders").await.expect("audit").len(),
        10,
        "every decision is audited"
    );
}

#[tokio::test]
async fn the_cooldown_holds_automatic_and_manual_starts_until_forced() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let detector = detector(&moto).await;
    let table = RecoveryTable::new(&moto.config("us-west-2"), TABLE);
    // A recovery ended ten minutes ago (the plan's cooldown is an hour), its lease released.
    table
        .finish("orders", "earlier", "succeeded", Utc::now() - Duration::minutes(10))
        .await
        .expect("finish");

    let ctx = detector.detect(alarm("after"), Utc::now()).await.expect("decided");
    assert!(!ctx.decision.recovery_required);
    assert!(
        ctx.decision
            .reasons
            .iter()
            .any(|r| r.starts_with("cooldown: recovery earlier ended succeeded")),
        "{:?}",
        ctx.decision.reasons
    );

    let manual = detector
        .detect(event("manual-start.json"), Utc::now())
        .await
        .expect("decided");
    assert!(
        !manual.decision.recovery_required,
        "a manual start without force waits too"
    );

    let mut forced = event("manual-start.json");
    forced["force"] = json!(true);
    let ctx = detector.detect(forced, Utc::now()).await.expect("decided");
    assert!(ctx.decision.recovery_required);
    assert!(
        ctx.decision
            .reasons
            .iter()
            .any(|r| r.starts_with("force: the cooldown after recovery earlier")),
        "{:?}",
        ctx.decision.reasons
    );
    let audit = table.audit_records("orders").await.expect("audit");
    let last = audit
        .last()
        .and_then(|r| r.get("detail"))
        .and_then(|d| d.as_s().ok())
        .cloned()
        .unwrap_or_default();
    assert!(last.contains("\"force\":true"), "the override is recorded: {last}");
}

#[tokio::test]
async fn a_dry_run_takes_no_lease_nor_audit_and_an_expired_lease_is_taken_over() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let detector = detector(&moto).await;
    let table = RecoveryTable::new(&moto.config("us-west-2"), TABLE);
    let mut rehearsal = event("manual-start.json");
    rehearsal["dryRun"] = json!(true);
    let ctx = detector.detect(rehearsal, Utc::now()).await.expect("decided");
    assert!(ctx.decision.recovery_required);
    assert_eq!(table.holder("orders", Utc::now()).await.expect("lease"), None);
    assert!(
        table.audit_records("orders").await.expect("audit").is_empty(),
        "a dry run leaves no audit record"
    );

    // A lease left by a recovery that died an hour ago has expired.
    let past = Utc::now() - Duration::hours(2);
    assert_eq!(
        table
            .acquire("orders", "crashed", past, past + Duration::hours(1))
            .await
            .expect("lease"),
        Lease::Acquired
    );
    let ctx = detector.detect(alarm("fresh"), Utc::now()).await.expect("decided");
    assert!(ctx.decision.recovery_required, "{:?}", ctx.decision.reasons);
    assert!(table.release("orders", "fresh").await.expect("release"));
    assert!(
        !table.release("orders", "fresh").await.expect("release"),
        "only a held lease is released"
    );
}

#[tokio::test]
async fn a_scheduled_readiness_check_takes_no_lease_and_is_not_a_decision() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let detector = detector(&moto).await;
    let table = RecoveryTable::new(&moto.config("us-west-2"), TABLE);
    // Even while a recovery holds the lease, the check runs: it changes nothing.
    let now = Utc::now();
    table
        .acquire("orders", "running", now, now + Duration::hours(1))
        .await
        .expect("lease");
    let ctx = detector
        .detect(event("scheduled-readiness.json"), Utc::now())
        .await
        .expect("decided");
    assert_eq!(ctx.path, rebound_shared::context::RecoveryPath::ReadinessCheck);
    assert!(ctx.dry_run);
    match table.holder("orders", Utc::now()).await.expect("lease") {
        Some(Lease::HeldBy { owner, .. }) => assert_eq!(owner, "running"),
        other => panic!("the running recovery keeps its lease: {other:?}"),
    }
    assert!(table.audit_records("orders").await.expect("audit").is_empty());
}

/// An audit row is evidence: written once. The same row again (a retry after a lost answer, or
/// anyone with PutItem) leaves it as first written; the steps keep their results in a partition
/// of their own, apart from leases and audit rows.
#[tokio::test]
async fn an_audit_row_is_written_once_and_results_live_apart() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let config = moto.config("us-west-2");
    seed::recovery_table(&config, TABLE).await.expect("table");
    let table = RecoveryTable::new(&config, TABLE);
    let now = Utc::now();
    table
        .audit("orders", "rec-1", "decision", now, &json!({"approved": false}))
        .await
        .expect("written");
    table
        .audit("orders", "rec-1", "decision", now, &json!({"approved": true}))
        .await
        .expect("the second write is no error");
    let rows = table.audit_records("orders").await.expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0]["detail"].as_s().expect("detail"),
        &json!({"approved": false}).to_string()
    );
    table
        .put_result("orders", "rec-1", "dns", "{\"whole\":true}", now)
        .await
        .expect("kept");
    let items = aws_sdk_dynamodb::Client::new(&config)
        .scan()
        .table_name(TABLE)
        .send()
        .await
        .expect("scan");
    let partitions: std::collections::BTreeSet<String> = items
        .items()
        .iter()
        .filter_map(|i| i["pk"].as_s().ok().cloned())
        .collect();
    assert_eq!(
        partitions,
        std::collections::BTreeSet::from(["app#orders".to_string(), "results#orders".to_string()])
    );
    assert_eq!(
        table.get_result("orders", "rec-1", "dns").await.expect("read"),
        Some("{\"whole\":true}".to_string())
    );
}
