//! Every branch of the decisions, no AWS needed.

use super::*;
use crate::observed::Instance;
use chrono::TimeZone;

const SOURCE: &str = "arn:aws:rds:us-east-1:123456789012:db:orders-db";
const WEST: &str = "arn:aws:rds:us-west-2:123456789012:cluster:orders-usw2";
const EAST: &str = "arn:aws:rds:us-east-1:123456789012:cluster:orders-use1";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 3, 13, 0).single().expect("time")
}

/// The sample request's context in `mode` (the other modules' decision tests use it too).
pub(crate) fn context(mode: &str) -> RecoveryContext {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/database-failover.json"
    ))
    .expect("sample");
    let mut request: Value = serde_json::from_str(&text).expect("json");
    request["context"]["mode"] = json!(mode);
    serde_json::from_value(request["context"].clone()).expect("context")
}

/// An operator's `rebound ungraceful`.
fn oncall() -> rebound_shared::control::Mark {
    rebound_shared::control::Mark {
        by: "oncall".into(),
        principal: None,
        reason: "primary degrading".into(),
        at: now(),
    }
}

fn replica(allow_data_loss: bool) -> Database {
    Database::ReadReplica {
        identifier: "orders-db-usw2".into(),
        account: None,
        source_identifier: SOURCE.into(),
        allow_data_loss,
        failback_identifier: None,
        isolation_security_group_id: None,
        reprotect: None,
    }
}

fn observed_replica(status: &str, replica_of: Option<&str>, lag: Option<f64>) -> Observed {
    let mut o = Observed::default();
    o.instances.insert(
        "orders-db-usw2".into(),
        Instance {
            status: status.into(),
            replica_of: replica_of.map(str::to_string),
            latest_restorable: None,
            ..Instance::default()
        },
    );
    if let Some(lag) = lag {
        o.lags.insert("orders-db-usw2".into(), lag);
    }
    o
}

fn kind(r: Result<Intent, DatabaseError>) -> String {
    match r {
        Ok(i) => format!("{:?}", i.change)
            .split([' ', '{'])
            .next()
            .unwrap_or("")
            .to_string(),
        Err(DatabaseError::Step(StepFault::Precondition { reason, .. })) => format!("precondition: {reason}"),
        Err(DatabaseError::DataLoss { lag_seconds, .. }) => format!("data loss: {lag_seconds:?}"),
        Err(e) => format!("other: {e}"),
    }
}

#[test]
fn a_replica_is_promoted_within_the_rpo_and_refused_beyond_it_unless_approved() {
    let ctx = context("failover");
    let ok = decide(
        &ctx,
        &replica(false),
        &observed_replica("available", Some(SOURCE), Some(4.0)),
        now(),
    );
    let intent = ok.expect("promote");
    assert_eq!(
        intent.change,
        Change::Promote {
            identifier: "orders-db-usw2".into(),
            arn: None,
        }
    );
    assert_eq!(intent.rpo_seconds, Some(4.0));
    assert_eq!(intent.old_writer.as_deref(), Some(SOURCE));
    assert_eq!(intent.action.detail.as_deref(), Some("replica lag at promotion 4 s"));

    let far = observed_replica("available", Some(SOURCE), Some(1260.0));
    assert_eq!(
        kind(decide(&ctx, &replica(true), &far, now())),
        "data loss: Some(1260.0)"
    );
    let unknown = observed_replica("available", Some(SOURCE), None);
    assert_eq!(kind(decide(&ctx, &replica(false), &unknown, now())), "data loss: None");

    let mut approved = ctx.clone();
    approved.approval = Some(json!({"approvedBy": "oncall"}));
    let intent = decide(&approved, &replica(true), &far, now()).expect("approved");
    assert_eq!(
        intent.action.detail.as_deref(),
        Some("replica lag at promotion 1260 s, beyond the RPO target: approved")
    );
    let intent = decide(&approved, &replica(false), &unknown, now()).expect("approved");
    assert_eq!(intent.action.detail.as_deref(), Some("replica lag unknown: approved"));
}

#[test]
fn a_zero_loss_move_promotes_once_drained_and_an_ungraceful_switch_stops_the_wait() {
    let draining = |r: &Intent| r.draining.clone().unwrap_or_default();
    for mode in ["switchover", "failback"] {
        let ctx = context(mode);
        let lagging = observed_replica("available", Some(SOURCE), Some(2.0));
        let intent = decide(&ctx, &replica(true), &lagging, now()).expect("draining");
        assert!(matches!(intent.change, Change::Promote { .. }));
        assert_eq!(draining(&intent), format!("replica lag is 2 s; a {mode} promotes at 0"));
        assert_eq!(
            intent.old_writer.as_deref(),
            Some(SOURCE),
            "its writer is fenced meanwhile"
        );
        // Unknown, or more than the wait allows: refused before the writer is fenced.
        let unknown = observed_replica("available", Some(SOURCE), None);
        assert!(kind(decide(&ctx, &replica(true), &unknown, now())).starts_with("precondition: replica lag is unknown"));
        let far = observed_replica("available", Some(SOURCE), Some(1260.0));
        assert!(
            kind(decide(&ctx, &replica(true), &far, now())).starts_with(&format!(
                "precondition: replica lag is 1260 s; a {mode} waits at most 600 s"
            )),
            "{mode}"
        );
        let caught_up = observed_replica("available", Some(SOURCE), Some(0.0));
        let intent = decide(&ctx, &replica(false), &caught_up, now()).expect("promote");
        assert_eq!((kind(Ok(intent.clone())), intent.draining), ("Promote".into(), None));
    }
    // Switched to ungraceful (the control row makes the context a failover's): promoted with
    // the lag the RPO target accepts, said in the action; beyond it, refused unless approved.
    let mut ungraceful = context("failover");
    ungraceful.ungraceful = Some(oncall());
    let lagging = observed_replica("available", Some(SOURCE), Some(2.0));
    let intent = decide(&ungraceful, &replica(false), &lagging, now()).expect("promote");
    assert_eq!(intent.draining, None);
    assert_eq!(
        intent.action.detail.as_deref(),
        Some("replica lag at promotion 2 s; switched to ungraceful by oncall: primary degrading")
    );
    let far = observed_replica("available", Some(SOURCE), Some(1260.0));
    assert_eq!(
        kind(decide(&ungraceful, &replica(false), &far, now())),
        "data loss: Some(1260.0)"
    );
}

#[test]
fn a_replica_missing_not_available_or_already_promoted_is_told_apart() {
    let ctx = context("failover");
    assert_eq!(
        kind(decide(&ctx, &replica(false), &Observed::default(), now())),
        "precondition: not found in the recovery region"
    );
    assert_eq!(
        kind(decide(&context("failback"), &replica(false), &Observed::default(), now())),
        format!("precondition: not found in us-east-1: after a failover, `rebound reprotect` builds it as a replica of {SOURCE}")
    );
    assert_eq!(
        kind(decide(
            &ctx,
            &replica(false),
            &observed_replica("modifying", Some(SOURCE), Some(1.0)),
            now()
        )),
        "precondition: replica is 'modifying', expected 'available'"
    );
    let promoted = decide(&ctx, &replica(false), &observed_replica("available", None, None), now()).expect("done");
    assert!(promoted.action.already_done);
    assert_eq!(promoted.change, Change::None);
    assert_eq!(
        promoted.old_writer.as_deref(),
        Some(SOURCE),
        "its old writer is still checked"
    );
}

#[test]
fn data_corruption_never_promotes_a_replica_of_the_corrupted_writer() {
    let mut ctx = context("failover");
    ctx.event.disaster_type = DisasterType::DataCorruption;
    let observed = observed_replica("available", Some(SOURCE), Some(0.0));
    assert!(kind(decide(&ctx, &replica(false), &observed, now())).starts_with("precondition: data corruption"));
}

fn aurora() -> Database {
    Database::AuroraGlobal {
        identifier: "orders-global".into(),
        account: None,
        target_cluster_arn: WEST.into(),
        engine: GlobalEngine::Aurora,
        allow_data_loss: true,
        isolation_security_group_id: None,
        failback_cluster_arn: None,
        reprotect: None,
    }
}

#[test]
fn a_global_cluster_of_another_engine_than_the_plans_is_refused_naming_both() {
    let mut docdb = aurora();
    if let Database::AuroraGlobal { engine, .. } = &mut docdb {
        *engine = GlobalEngine::Docdb;
    }
    let mut observed = global(EAST, Some(0.8));
    if let Some(g) = observed.globals.get_mut("orders-global") {
        g.engine = Some("aurora-mysql".into());
    }
    let refused = kind(decide(&context("failover"), &docdb, &observed, now()));
    assert_eq!(
        refused,
        "precondition: the global cluster's engine is aurora-mysql, the plan's engine is docdb"
    );
    // Aurora's engines are each Aurora.
    assert!(decide(&context("failover"), &aurora(), &observed, now()).is_ok());
}

fn global(writer: &str, lag: Option<f64>) -> Observed {
    let mut o = Observed::default();
    o.globals.insert(
        "orders-global".into(),
        Global {
            members: vec![(EAST.into(), writer == EAST), (WEST.into(), writer == WEST)],
            available: true,
            moving_to: None,
            ..Global::default()
        },
    );
    if let Some(lag) = lag {
        o.global_lags.insert("orders-global".into(), lag);
    }
    o
}

#[test]
fn a_global_database_fails_over_switches_over_or_is_already_there() {
    let failover = decide(&context("failover"), &aurora(), &global(EAST, Some(0.8)), now()).expect("failover");
    assert_eq!(
        failover.change,
        Change::Failover {
            global: "orders-global".into(),
            target: WEST.into(),
            engine: GlobalEngine::Aurora,
        }
    );
    assert_eq!(
        failover.old_writer.as_deref(),
        Some(EAST),
        "the old writer cluster is fenced"
    );
    assert_eq!(failover.rpo_seconds, Some(0.8));
    let switchover = decide(&context("switchover"), &aurora(), &global(EAST, None), now()).expect("switchover");
    assert!(matches!(switchover.change, Change::Switchover { .. }));
    assert_eq!(switchover.old_writer, None, "Aurora demotes it itself");
    // A switchover switched to ungraceful before it started fails over, fencing the old writer.
    let mut ungraceful = context("failover");
    ungraceful.ungraceful = Some(oncall());
    let failover = decide(&ungraceful, &aurora(), &global(EAST, Some(0.8)), now()).expect("failover");
    assert!(matches!(failover.change, Change::Failover { .. }));
    assert_eq!(failover.old_writer.as_deref(), Some(EAST));
    assert_eq!(
        failover.action.detail.as_deref(),
        Some("a switchover switched to ungraceful by oncall: primary degrading; loses what had not replicated (0.8 s behind)")
    );
    let there = decide(&context("failover"), &aurora(), &global(WEST, None), now()).expect("done");
    assert!(there.action.already_done);
    assert_eq!(
        kind(decide(
            &context("failover"),
            &aurora(),
            &global(EAST, Some(1260.0)),
            now()
        )),
        "data loss: Some(1260.0)"
    );
    assert_eq!(
        kind(decide(&context("failover"), &aurora(), &Observed::default(), now())),
        "precondition: global cluster not found"
    );
    let mut stranger = global(EAST, Some(0.5));
    if let Some(g) = stranger.globals.get_mut("orders-global") {
        g.members.retain(|(arn, _)| arn != WEST);
    }
    assert!(kind(decide(&context("failover"), &aurora(), &stranger, now()))
        .ends_with("is not a member of the global cluster"));
}

#[test]
fn a_restore_goes_to_a_second_before_detection_or_the_latest_restorable_time() {
    let ctx = context("failover");
    let restore = Database::PointInTimeRestore {
        identifier: "orders-db-restored".into(),
        account: None,
        source_identifier: "orders-db-usw2".into(),
        instance_class: None,
    };
    let mut o = Observed::default();
    let detected = ctx.event.detected_at;
    let latest = detected + Duration::minutes(5);
    o.instances.insert(
        "orders-db-usw2".into(),
        Instance {
            status: "available".into(),
            replica_of: None,
            latest_restorable: Some(latest),
            ..Instance::default()
        },
    );
    let intent = decide(&ctx, &restore, &o, now()).expect("restore");
    let Change::RestoreToPointInTime { time, .. } = intent.change else {
        panic!("{:?}", intent.change)
    };
    assert_eq!(time, detected - Duration::seconds(1));
    assert_eq!(
        intent.rpo_seconds,
        Some((now() - time).num_milliseconds() as f64 / 1000.0)
    );

    o.instances.get_mut("orders-db-usw2").expect("source").latest_restorable = Some(detected - Duration::minutes(3));
    let intent = decide(&ctx, &restore, &o, now()).expect("restore");
    assert!(
        matches!(intent.change, Change::RestoreToPointInTime { time, .. } if time == detected - Duration::minutes(3))
    );

    o.instances.get_mut("orders-db-usw2").expect("source").latest_restorable = None;
    assert!(kind(decide(&ctx, &restore, &o, now())).ends_with("has no restorable time (are automated backups on?)"));
    assert!(kind(decide(&ctx, &restore, &Observed::default(), now())).contains("restore source not found"));
    o.instances.insert("orders-db-restored".into(), Instance::default());
    assert!(decide(&ctx, &restore, &o, now()).expect("exists").action.already_done);
}

#[test]
fn a_snapshot_restore_loses_what_came_after_the_snapshot() {
    let ctx = context("failover");
    let restore = Database::SnapshotRestore {
        identifier: "orders-db-restored".into(),
        account: None,
        snapshot_identifier: "orders-nightly".into(),
        instance_class: None,
    };
    let mut o = Observed::default();
    assert!(kind(decide(&ctx, &restore, &o, now())).ends_with("snapshot not found in the recovery region"));
    o.snapshots
        .insert("orders-nightly".into(), Some(now() - Duration::hours(6)));
    let intent = decide(&ctx, &restore, &o, now()).expect("restore");
    assert_eq!(intent.rpo_seconds, Some(6.0 * 3600.0));
    o.instances.insert("orders-db-restored".into(), Instance::default());
    assert!(decide(&ctx, &restore, &o, now()).expect("exists").action.already_done);
}

#[test]
fn progress_is_done_only_when_available_and_a_writer() {
    let at = |status: &str, replica_of: Option<&str>| Instance {
        status: status.into(),
        replica_of: replica_of.map(str::to_string),
        latest_restorable: None,
        ..Instance::default()
    };
    assert!(matches!(
        instance_progress(Some(&at("available", None))),
        Progress::Done(_)
    ));
    assert!(matches!(
        instance_progress(Some(&at("available", Some(SOURCE)))),
        Progress::Waiting(_)
    ));
    assert!(matches!(
        instance_progress(Some(&at("modifying", None))),
        Progress::Waiting(_)
    ));
    for bad in [
        "failed",
        "incompatible-restore",
        "incompatible-parameters",
        "storage-full",
    ] {
        assert_eq!(
            instance_progress(Some(&at(bad, None))),
            Progress::Failed(format!("instance is '{bad}'"))
        );
    }
    assert!(matches!(instance_progress(None), Progress::Failed(r) if r.starts_with("disappeared")));
    let g = |writer: &str, available: bool| Global {
        members: vec![(EAST.into(), writer == EAST), (WEST.into(), writer == WEST)],
        available,
        moving_to: None,
        ..Global::default()
    };
    assert!(matches!(global_progress(&g(WEST, true), WEST), Progress::Done(_)));
    assert!(matches!(global_progress(&g(WEST, false), WEST), Progress::Waiting(_)));
    assert!(matches!(global_progress(&g(EAST, true), WEST), Progress::Waiting(_)));
}

#[test]
fn a_promotion_rebound_started_is_waited_for_and_any_other_change_refused() {
    let ctx = context("failover");
    let mut o = observed_replica("modifying", Some(SOURCE), Some(4.0));
    o.instances.get_mut("orders-db-usw2").expect("replica").recovery_tag = Some(ctx.recovery_id.clone());
    let intent = decide(&ctx, &replica(false), &o, now()).expect("under way");
    assert_eq!(intent.change, Change::None, "not promoted again");
    assert_eq!(intent.action.status, ActionStatus::Pending);
    assert_eq!(
        intent.old_writer.as_deref(),
        Some(SOURCE),
        "its old writer is still fenced"
    );
    assert!(intent.action.detail.as_deref().is_some_and(|d| d.contains("under way")));

    // Started by an earlier recovery (a run that died): waited for too, and said so.
    let mut o = observed_replica("rebooting", Some(SOURCE), Some(4.0));
    o.instances.get_mut("orders-db-usw2").expect("replica").recovery_tag = Some("orders-crashed".into());
    let intent = decide(&ctx, &replica(false), &o, now()).expect("under way");
    assert!(intent
        .action
        .detail
        .as_deref()
        .is_some_and(|d| d.contains("started by recovery orders-crashed")));

    // No tag: a replica being modified by someone else is not Rebound's to wait on.
    let o = observed_replica("modifying", Some(SOURCE), Some(4.0));
    let err = decide(&ctx, &replica(false), &o, now()).expect_err("refused");
    assert!(err.to_string().contains("'modifying'"), "{err}");
}

#[test]
fn a_global_failover_already_under_way_to_the_target_is_waited_for() {
    let ctx = context("failover");
    let mut o = global(EAST, Some(2.0));
    o.globals.get_mut("orders-global").expect("global").moving_to = Some(WEST.into());
    let intent = decide(&ctx, &aurora(), &o, now()).expect("under way");
    assert_eq!(intent.change, Change::None, "not asked again");
    assert_eq!(intent.action.operation, "FailoverGlobalCluster");
    assert_eq!(intent.action.status, ActionStatus::Pending);
    assert_eq!(
        intent.old_writer.as_deref(),
        Some(EAST),
        "the old writer is still fenced"
    );
}
