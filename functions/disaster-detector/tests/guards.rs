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

/// `event` as the state machine hands it to the detector, in execution `execution`.
fn in_execution(event: serde_json::Value, execution: &str) -> serde_json::Value {
    json!({"event": event, "executionId": format!("arn:aws:states:us-west-2:123456789012:execution:rebound-orders:{execution}")})
}

fn alarm(execution: &str) -> serde_json::Value {
    in_execution(event("cloudwatch-alarm.json"), execution)
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
        .finish(
            "orders",
            "earlier",
            1,
            "succeeded",
            Some("us-west-2"),
            Utc::now() - Duration::minutes(10),
        )
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

/// A manual start that retries recovery `of`, as `rebound retry` starts it.
fn retry_of(of: &str, execution: &str) -> serde_json::Value {
    let mut start = event("manual-start.json");
    start["retryOf"] = json!(of);
    in_execution(start, execution)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_the_last_recovery_that_did_not_succeed_is_retried_as_its_next_attempt() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let detector = detector(&moto).await;
    let table = RecoveryTable::new(&moto.config("us-west-2"), TABLE);
    let refused = |e: disaster_detector::DetectorError| {
        let diagnostic: lambda_runtime::Diagnostic = e.into();
        assert_eq!(diagnostic.error_type, "Rebound.InvalidInput");
        diagnostic.error_message
    };
    // Nothing has ended yet: nothing to retry.
    let none = detector
        .detect(retry_of("orders-1", "orders-1-retry-a"), Utc::now())
        .await;
    assert!(refused(none.expect_err("nothing ended")).contains("no recovery of orders has ended"));

    // orders-1 failed a minute ago, after it changed things (the cooldown runs).
    table
        .finish(
            "orders",
            "orders-1",
            1,
            "failed",
            Some("us-west-2"),
            Utc::now() - Duration::minutes(1),
        )
        .await
        .expect("finish");
    let other = detector
        .detect(retry_of("orders-0", "orders-0-retry-a"), Utc::now())
        .await;
    assert!(refused(other.expect_err("not the last"))
        .contains("only the application's last recovery can be retried, and that is orders-1"));
    let forged = detector
        .detect(retry_of("orders-1:x", "orders-1-retry-a"), Utc::now())
        .await;
    assert!(refused(forged.expect_err("not an id")).contains("not a recovery id"));

    let ctx = detector
        .detect(retry_of("orders-1", "orders-1-retry-a"), Utc::now())
        .await
        .expect("retried");
    assert!(
        ctx.decision.recovery_required,
        "its own end starts no cooldown for it: {:?}",
        ctx.decision.reasons
    );
    assert_eq!((ctx.recovery_id.as_str(), ctx.attempt), ("orders-1", 2));
    assert_eq!(ctx.run_name(), "orders-1-retry-a", "the retry's own execution");
    assert!(ctx
        .decision
        .reasons
        .iter()
        .any(|r| r.starts_with("retry: run 2 of recovery orders-1, which ended failed")));
    match table.holder("orders", Utc::now()).await.expect("read") {
        Some(Lease::HeldBy { owner, .. }) => {
            assert_eq!(owner, "orders-1-retry-a", "the lease is taken again, by this run")
        }
        other => panic!("{other:?}"),
    }
    // A second retry while this one runs yields to it, as any other recovery would.
    let second = detector
        .detect(retry_of("orders-1", "orders-1-retry-b"), Utc::now())
        .await
        .expect("decided");
    assert!(!second.decision.recovery_required);
    assert!(
        second
            .decision
            .reasons
            .iter()
            .any(|r| r.starts_with("recovery already in progress: orders-1-retry-a holds the lease")),
        "{:?}",
        second.decision.reasons
    );

    // Once it succeeded, there is nothing to retry.
    assert_eq!(
        table.run_holding("orders", "orders-1").await.expect("read").as_deref(),
        Some("orders-1-retry-a")
    );
    assert_eq!(
        table.run_holding("orders", "orders-1").await.expect("read").as_deref(),
        Some("orders-1-retry-a"),
        "an operator's command for orders-1 finds the run that holds its lease"
    );
    table.release("orders", "orders-1-retry-a").await.expect("released");
    table
        .finish("orders", "orders-1", 2, "succeeded", Some("us-west-2"), Utc::now())
        .await
        .expect("finish");
    let done = detector
        .detect(retry_of("orders-1", "orders-1-retry-c"), Utc::now())
        .await;
    assert!(refused(done.expect_err("succeeded")).contains("it succeeded"));
    assert_eq!(
        table.last_recovery("orders").await.expect("read").map(|l| l.attempt),
        Some(2)
    );
}

#[tokio::test]
async fn a_reprotect_right_after_a_recovery_takes_the_lease_past_the_cooldown_and_needs_no_approval() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let detector = detector(&moto).await;
    let table = RecoveryTable::new(&moto.config("us-west-2"), TABLE);
    table
        .finish(
            "orders",
            "earlier",
            1,
            "succeeded",
            Some("us-west-2"),
            Utc::now() - Duration::minutes(10),
        )
        .await
        .expect("finish");
    let start = |execution: &str| {
        in_execution(
            json!({"reprotect": true, "reason": "j.doe: us-east-1 is back"}),
            execution,
        )
    };
    let ctx = detector
        .detect(start("reprotect-1"), Utc::now())
        .await
        .expect("decided");
    assert!(ctx.decision.recovery_required, "{:?}", ctx.decision.reasons);
    assert_eq!(ctx.path, rebound_shared::context::RecoveryPath::Reprotect);
    assert!(!ctx.approval_required);
    // Its deadline is the replicas' building time, not the RTO.
    let deadline = ctx.timestamps.deadline.expect("deadline");
    assert!(deadline > Utc::now() + Duration::hours(19), "{deadline}");
    match table.holder("orders", Utc::now()).await.expect("lease") {
        Some(Lease::HeldBy { owner, .. }) => assert_eq!(owner, ctx.run_name()),
        other => panic!("{other:?}"),
    }
    // One at a time, as any recovery.
    let second = detector
        .detect(start("reprotect-2"), Utc::now())
        .await
        .expect("decided");
    assert!(!second.decision.recovery_required);

    // What a reprotect takes, and what it does not.
    for (extra, field) in [
        (json!({"mode": "failover"}), "mode"),
        (json!({"readinessCheck": true}), "readinessCheck"),
    ] {
        let mut start = json!({"reprotect": true, "reason": "j.doe"});
        start
            .as_object_mut()
            .expect("start")
            .extend(extra.as_object().cloned().unwrap_or_default());
        let err = detector.detect(start, Utc::now()).await.expect_err("refused");
        assert!(err.to_string().contains(&format!("takes no {field}")), "{err}");
    }
    let err = detector
        .detect(json!({"reprotect": true}), Utc::now())
        .await
        .expect_err("no reason");
    assert!(err.to_string().contains("reason: required"), "{err}");
}

/// The plan's `reprotectWhenHealthy`: a scheduled check after a failover becomes a reprotect once
/// every signal of the primary reads healthy, and only once per recovery.
#[tokio::test]
async fn a_scheduled_check_reprotects_once_the_primary_reads_healthy_after_a_failover() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let config = moto.config("us-west-2");
    let detector = detector(&moto).await;
    let mut plan: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/plan.json")).expect("plan"),
    )
    .expect("json");
    plan["detection"]["reprotectWhenHealthy"] = json!(true);
    seed::plan_parameter(&config, "/rebound/orders/plan", &plan.to_string())
        .await
        .expect("plan");
    let table = RecoveryTable::new(&config, TABLE);
    let scheduled = |n: u32| in_execution(event("scheduled-readiness.json"), &format!("scheduled-{n}"));
    let reasons = |ctx: &rebound_shared::RecoveryContext| ctx.decision.reasons.join(" | ");

    // No recovery yet: a readiness check.
    let ctx = detector.detect(scheduled(1), Utc::now()).await.expect("decided");
    assert_eq!(ctx.path, rebound_shared::context::RecoveryPath::ReadinessCheck);
    assert!(
        reasons(&ctx).contains("no reprotect: no recovery has run"),
        "{}",
        reasons(&ctx)
    );

    // After a failover, while the primary's alarms still fire: still a readiness check.
    table
        .finish(
            "orders",
            "orders-1",
            1,
            "succeeded",
            Some("us-west-2"),
            Utc::now() - Duration::minutes(30),
        )
        .await
        .expect("finish");
    let ctx = detector.detect(scheduled(2), Utc::now()).await.expect("decided");
    assert_eq!(ctx.path, rebound_shared::context::RecoveryPath::ReadinessCheck);
    assert!(reasons(&ctx).contains("not seen healthy yet"), "{}", reasons(&ctx));
    assert!(table.holder("orders", Utc::now()).await.expect("lease").is_none());

    // The primary is back: a reprotect, holding the lease.
    for name in ["orders-api-5xx-rate", "orders-alb-unhealthy-hosts"] {
        seed::alarm(&moto.config("us-east-1"), name, "OK").await.expect("alarm");
    }
    let ctx = detector.detect(scheduled(3), Utc::now()).await.expect("decided");
    assert!(
        reasons(&ctx).contains("SuccessPercent (us-east-1) (no datapoint)"),
        "a signal not read is not healthy: {}",
        reasons(&ctx)
    );
    let synthetics = ("Orders/Synthetics", "SuccessPercent", [("Canary", "orders-checkout")]);
    seed::metric(
        &moto.config("us-east-1"),
        synthetics.0,
        synthetics.1,
        &synthetics.2,
        100.0,
    )
    .await
    .expect("metric");
    let ctx = detector.detect(scheduled(5), Utc::now()).await.expect("decided");
    assert_eq!(
        ctx.path,
        rebound_shared::context::RecoveryPath::Reprotect,
        "{}",
        reasons(&ctx)
    );
    assert!(ctx.decision.recovery_required && !ctx.dry_run && !ctx.approval_required);
    match table.holder("orders", Utc::now()).await.expect("lease") {
        Some(Lease::HeldBy { owner, .. }) => assert_eq!(owner, ctx.run_name()),
        other => panic!("{other:?}"),
    }
    table.release("orders", &ctx.run_name()).await.expect("released");

    // Once it succeeded (the notifier records it), the next check is a readiness check again.
    table
        .reprotected("orders", &ctx.recovery_id, Utc::now())
        .await
        .expect("recorded");
    let ctx = detector.detect(scheduled(4), Utc::now()).await.expect("decided");
    assert_eq!(ctx.path, rebound_shared::context::RecoveryPath::ReadinessCheck);
    assert!(
        reasons(&ctx).contains("protected again since recovery orders-1"),
        "{}",
        reasons(&ctx)
    );
}

/// The example plan with eu-west-1 as its next recovery region, in the detector's parameter.
async fn with_a_next_region(moto: &MotoServer) {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/plan.json")).expect("plan");
    let mut plan: serde_json::Value = serde_json::from_str(&text).expect("json");
    plan["otherRecoveryRegions"] = json!([{"region": "eu-west-1"}]);
    seed::plan_parameter(&moto.config("us-west-2"), "/rebound/orders/plan", &plan.to_string())
        .await
        .expect("plan");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_start_naming_a_recovery_region_and_a_retry_or_failback_after_one_go_there_only() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let detector = detector(&moto).await;
    with_a_next_region(&moto).await;
    let regions = |ctx: &rebound_shared::RecoveryContext| (ctx.recovery_region.clone(), ctx.recovery_regions.clone());

    // Unnamed: readiness may choose either, in the plan's order.
    let ctx = detector.detect(alarm("orders-a"), Utc::now()).await.expect("decided");
    assert_eq!(regions(&ctx), (None, vec![]));
    assert_eq!(ctx.plan.recovery_regions(), ["us-west-2", "eu-west-1"]);

    // Named by the start: that one only.
    let mut named = event("manual-start-monitoring.json");
    named["recoveryStrategy"]["targetRegion"] = json!("eu-west-1");
    named["force"] = json!(true);
    let ctx = detector
        .detect(in_execution(named.clone(), "orders-b"), Utc::now())
        .await
        .expect("decided");
    assert_eq!(regions(&ctx), (Some("eu-west-1".into()), vec!["eu-west-1".to_string()]));
    named["recoveryStrategy"]["targetRegion"] = json!("sa-east-1");
    let err = detector
        .detect(in_execution(named, "orders-c"), Utc::now())
        .await
        .expect_err("not the plan's");
    assert_eq!(
        err.to_string(),
        "recoveryStrategy.targetRegion: sa-east-1 is not one of the plan's recovery regions (us-west-2, eu-west-1)"
    );

    // The last recovery went to eu-west-1 and failed there: its retry goes there again.
    let table = RecoveryTable::new(&moto.config("us-west-2"), TABLE);
    table
        .finish(
            "orders",
            "orders-b",
            1,
            "failed",
            Some("eu-west-1"),
            Utc::now() - Duration::hours(2),
        )
        .await
        .expect("finish");
    let ctx = detector
        .detect(retry_of("orders-b", "orders-b-retry-a"), Utc::now())
        .await
        .expect("retried");
    assert_eq!(regions(&ctx), (Some("eu-west-1".into()), vec!["eu-west-1".to_string()]));
    assert!(
        ctx.decision
            .reasons
            .iter()
            .any(|r| r == "acts in eu-west-1, where the last recovery went"),
        "{:?}",
        ctx.decision.reasons
    );

    // It succeeded there: the failback comes back from eu-west-1.
    table
        .finish(
            "orders",
            "orders-b",
            2,
            "succeeded",
            Some("eu-west-1"),
            Utc::now() - Duration::hours(2),
        )
        .await
        .expect("finish");
    let back = json!({"reason": "primary repaired", "mode": "failback"});
    let ctx = detector
        .detect(in_execution(back, "orders-d"), Utc::now())
        .await
        .expect("decided");
    assert_eq!(regions(&ctx), (Some("eu-west-1".into()), vec!["eu-west-1".to_string()]));
}
