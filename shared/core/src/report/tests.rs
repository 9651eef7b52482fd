use super::*;
use serde_json::json;

const EVENT: &str = include_str!("../../../../events/database-failover.json");

fn at(t: &str) -> DateTime<Utc> {
    t.parse().expect("a test time")
}

fn step(step: &str, from: &str, to: &str, invocations: u32, actions: Value) -> Value {
    json!({"step": step, "status": "completed", "startedAt": from, "finishedAt": to, "durationMs": 900,
           "invocations": invocations, "actions": actions})
}

/// A failover detected at 03:12:41 and validated at 03:16:11 (RTO 210 s): DNS polled 3 times,
/// the database 5 times and ending last, validation in 3 rounds, approved by jane.
fn recovered() -> RecoveryContext {
    let mut request: Value = serde_json::from_str(EVENT).expect("the example event");
    let ctx = &mut request["context"];
    ctx["readiness"] = json!({"ready": true, "checkedAt": "2026-11-24T03:12:50Z", "checks": [], "summary": "ready"});
    ctx["approval"] = json!({"approved": true, "by": "jane", "at": "2026-11-24T03:13:20Z"});
    let fence = json!({"resource": "orders-db-use1", "operation": "FenceOldWriter", "before": {"acceptsWrites": true},
        "after": {"acceptsWrites": false}, "alreadyDone": false, "status": "failed", "durationMs": 0,
        "detail": "us-east-1 did not answer"});
    let promote = json!({"resource": "orders-db-usw2", "operation": "PromoteReadReplica", "before": {"role": "replica"},
        "after": {"role": "writer"}, "alreadyDone": false, "status": "done", "durationMs": 0});
    let record = json!({"resource": "Z1/api.example.com./A", "operation": "UPSERT <script>", "before": "1.1.1.1",
        "after": "2.2.2.2", "alreadyDone": false, "status": "done", "durationMs": 0});
    ctx["results"] = json!({
        "dns": step("dnsFailover", "2026-11-24T03:13:21Z", "2026-11-24T03:14:01Z", 4, json!([record])),
        "database": step("databaseFailover", "2026-11-24T03:13:21Z", "2026-11-24T03:15:21Z", 6, json!([fence, promote])),
        "services": step("serviceRestoration", "2026-11-24T03:15:22Z", "2026-11-24T03:15:52Z", 3, json!([])),
        "validation": {
            "result": step("validation", "2026-11-24T03:15:53Z", "2026-11-24T03:16:11Z", 3, json!([])),
            "passed": true, "consecutiveSuccesses": 3,
            "checks": [{"name": "primary stream consumer", "passed": false, "unknown": true, "detail": "us-east-1 did not answer"},
                       {"name": "https://api.example.com/health", "passed": true, "detail": "200"}],
            "rto": {"targetSeconds": 1800, "actualSeconds": 210.0, "met": true},
            "rpo": {"targetSeconds": 60, "actualSeconds": 4.0, "met": true}
        }
    });
    serde_json::from_value(request["context"].clone()).expect("a context")
}

fn execution() -> Execution {
    Execution {
        name: "orders-20261124T031241Z".into(),
        arn: None,
        status: "SUCCEEDED".into(),
        started_at: None,
        stopped_at: None,
    }
}

#[test]
fn polling_loops_fold_into_one_bar_per_step_with_their_polls_in_their_lanes() {
    let report = build(&recovered(), execution(), at("2026-11-24T03:20:00Z"));
    let bar = |phase| report.timeline.iter().find(|b| b.phase == phase).expect("a bar");
    assert_eq!(report.timeline.len(), 7);
    assert_eq!(bar(Phase::Detection).duration_ms, 1000);
    assert_eq!(bar(Phase::ApprovalWait).duration_ms, 30_000);
    let dns = bar(Phase::Dns);
    assert_eq!(
        (dns.lane, dns.polls, dns.start_ms, dns.duration_ms),
        (Lane::Dns, 3, 40_000, 40_000)
    );
    let db = bar(Phase::Databases);
    assert_eq!((db.lane, db.polls, db.duration_ms), (Lane::Databases, 5, 120_000));
    assert_eq!(bar(Phase::Validation).polls, 2);
}

#[test]
fn the_rto_breaks_down_by_phase_with_the_slower_branch_on_the_critical_path() {
    let report = build(&recovered(), execution(), at("2026-11-24T03:20:00Z"));
    let phase = |p| report.phases.iter().find(|x| x.phase == p).copied().expect("a phase");
    assert!(phase(Phase::Databases).critical);
    assert!(!phase(Phase::Dns).critical);
    // detection 1 + decision 8 + approval 30 + databases 120 + services 30 + validation 18.
    let other = phase(Phase::Other);
    assert!((other.seconds - 3.0).abs() < 1e-9, "{other:?}");
    let critical: f64 = report.phases.iter().filter(|p| p.critical).map(|p| p.seconds).sum();
    assert!((critical - 210.0).abs() < 1e-9);
}

#[test]
fn what_was_left_unfenced_or_unverified_and_who_approved_are_in_the_report() {
    let report = build(&recovered(), execution(), at("2026-11-24T03:20:00Z"));
    assert_eq!(report.unfenced.len(), 1);
    assert!(report.unfenced[0].contains("orders-db-use1 (failed): us-east-1 did not answer"));
    assert!(report.not_done.is_empty());
    assert_eq!(report.unverified.len(), 1, "{:?}", report.unverified);
    assert!(
        report.unverified[0].starts_with("primary stream consumer (unknown)"),
        "{:?}",
        report.unverified
    );
    assert_eq!(report.approvals.len(), 1);
    assert_eq!(report.approvals[0].by.as_deref(), Some("jane"));
    assert_eq!(report.approvals[0].at, Some(at("2026-11-24T03:13:20Z")));
    assert_eq!(report.actions.len(), 3);
    assert_eq!(report.decision.signals.len(), 1);
}

#[test]
fn a_recovery_that_failed_before_validation_says_so_and_its_running_step_ends_now() {
    let mut ctx = recovered();
    ctx.results.validation = None;
    if let Some(db) = ctx.results.database.as_mut() {
        db.finished_at = None;
        db.status = crate::context::StepStatus::InProgress;
    }
    ctx.error = Some(StateError {
        error: "Rebound.DeadlineExceeded".into(),
        cause: "the promotion did not finish".into(),
    });
    let report = build(&ctx, execution(), at("2026-11-24T03:20:00Z"));
    assert_eq!(report.unverified, vec!["the recovery was never validated".to_string()]);
    let db = report
        .timeline
        .iter()
        .find(|b| b.phase == Phase::Databases)
        .expect("a bar");
    assert_eq!(db.duration_ms, 399_000);
    assert!(report.rto.is_none());
    assert!(report.phases.iter().all(|p| p.phase != Phase::Other));
}

#[test]
fn a_rejected_approval_is_recorded_with_its_reason() {
    let mut ctx = recovered();
    ctx.approval = None;
    ctx.error = Some(StateError {
        error: crate::error::APPROVAL_REJECTED.into(),
        cause: "primary recovering".into(),
    });
    let report = build(&ctx, execution(), at("2026-11-24T03:20:00Z"));
    assert_eq!(report.approvals.len(), 1);
    assert!(!report.approvals[0].approved);
    assert_eq!(report.approvals[0].note.as_deref(), Some("primary recovering"));
}

#[test]
fn the_page_has_a_time_axis_a_lane_per_branch_folded_polls_and_escapes_what_it_shows() {
    let report = build(&recovered(), execution(), at("2026-11-24T03:20:00Z"));
    let page = html::render(&report, "<p id=\"extra\">verified</p>");
    for needle in [
        "DNS branch",
        "database branch",
        "5 polls",
        "3 rounds",
        "class=\"tick-label\">1 min 00 s</text>",
        "RTO 3 min 30 s (target 30 min 00 s)",
        "UPSERT &lt;script&gt;",
        "approved by jane (AWS identity: not given) at 2026-11-24T03:13:20+00:00",
        "Left unfenced",
        "<p id=\"extra\">verified</p>",
    ] {
        assert!(page.contains(needle), "the page lacks {needle}");
    }
    assert!(!page.contains("<script"));
    // The stored JSON reads back as the report.
    let stored = serde_json::to_string(&report).expect("json");
    assert_eq!(serde_json::from_str::<Report>(&stored).expect("read back"), report);
}

#[test]
fn ticks_stay_at_ten_or_fewer() {
    for total in [1, 7, 999, 1_000, 61_000, 210_000, 3_600_000] {
        let step = html::tick_ms(total);
        assert!(total / step <= 10, "{total} / {step}");
    }
}
