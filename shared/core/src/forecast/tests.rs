use super::*;
use crate::context::ActionStatus;
use serde_json::{json, Value};

const PLAN: &str = include_str!("../../../../examples/plan.json");
const DEFINITION: &str = include_str!("../../../../statemachine/recovery.asl.json");

fn plan() -> RecoveryPlan {
    RecoveryPlan::from_json(PLAN).expect("the example plan")
}

fn action(operation: &str, resource: &str) -> Action {
    Action {
        resource: resource.into(),
        operation: operation.into(),
        before: Value::Null,
        after: Value::Null,
        already_done: false,
        status: ActionStatus::Done,
        duration_ms: 0,
        tracking_id: None,
        detail: None,
    }
}

fn leg(f: &Forecast, phase: Phase) -> &Leg {
    f.legs.iter().find(|l| l.phase == phase).expect("a leg")
}

/// Every Wait state's seconds, by name, wherever it sits in the definition.
fn waits(states: &Value, out: &mut Vec<(String, f64)>) {
    for (name, state) in states.as_object().into_iter().flatten() {
        if state["Type"] == "Wait" {
            out.push((name.clone(), state["Seconds"].as_f64().expect("fixed seconds")));
        }
        for branch in state["Branches"].as_array().into_iter().flatten() {
            waits(&branch["States"], out);
        }
    }
}

#[test]
fn the_clock_polls_at_the_state_machines_own_wait_states() {
    let definition: Value = serde_json::from_str(DEFINITION).expect("the definition");
    let mut found = Vec::new();
    waits(&definition["States"], &mut found);
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        found,
        vec![
            ("WaitBeforeProbing".to_string(), figures::WAIT_PROBES),
            ("WaitForDatabaseFailover".to_string(), figures::WAIT_DATABASES),
            ("WaitForDnsFailover".to_string(), figures::WAIT_DNS),
            ("WaitForServices".to_string(), figures::WAIT_SERVICES),
        ]
    );
}

#[test]
fn a_replica_promotion_is_the_critical_path_of_a_failover() {
    let dns = [action("UPSERT", "Z1/api.orders.example.com./CNAME")];
    let databases = [
        action("FenceOldWriter", "orders-db"),
        action("PromoteReadReplica", "orders-db-usw2"),
        action("PointAtWriter", "ssm:/orders/db/host"),
    ];
    let services = [
        action("UpdateService", "orders-api"),
        action("UpdateAutoScalingGroup", "orders-web"),
    ];
    let f = forecast(
        &plan(),
        true,
        false,
        Planned {
            dns: &dns,
            databases: &databases,
            services: &services,
        },
    );
    // 60 s to INSYNC polled every 10 s: 6 polls of (10 s wait + a 2 s task) after a 2 s start,
    // then the api record's 60 s TTL.
    assert_eq!((leg(&f, Phase::Dns).polls, leg(&f, Phase::Dns).seconds), (6, 134.0));
    assert!(leg(&f, Phase::Dns)
        .label
        .ends_with("then resolvers' caches expire (TTL 60 s)"));
    // 300 s promotion polled every 30 s, after two 1 s writes: 2 + 2 + 10 x 32.
    let db = leg(&f, Phase::Databases);
    assert_eq!((db.polls, db.seconds, db.critical), (10, 324.0, true));
    assert!(!leg(&f, Phase::Dns).critical);
    // The slower of the services: instances, 150 s polled every 15 s.
    assert_eq!(leg(&f, Phase::Services).seconds, 2.0 + 10.0 * 17.0);
    // Three passing rounds 10 s apart.
    assert_eq!(leg(&f, Phase::Validation).seconds, 26.0);
    assert_eq!(f.rto_seconds, 4.0 + 4.0 + 324.0 + 172.0 + 26.0);
    assert!(f.within_target);
    assert!(
        f.critical_path().contains(
            "databases: PromoteReadReplica orders-db-usw2 (rds-promote-read-replica 5 min 00 s), 10 poll(s) every 30 s"
        ),
        "{}",
        f.critical_path()
    );
    assert!(
        f.verdict()
            .starts_with("predicted RTO 8 min 50 s (target 30 min 00 s): within target"),
        "{}",
        f.verdict()
    );
    // The floor: the alarm's delivery, then the promotion, beside DNS with its TTL (2 min) and
    // the instances (2 min 30 s): nothing of Rebound's own.
    assert_eq!(f.floor_seconds, 2.0 + 300.0);
    assert_eq!(
        f.floor_path,
        "alarm delivered 2.0 s → databases, then what needs the writer 5 min 00 s"
    );
    assert!((f.over_floor() - 530.0 / 302.0).abs() < 1e-9);
}

#[test]
fn the_floor_counts_custom_actions_and_a_service_restore_waits_on_its_services_alone() {
    let mut plan = plan();
    plan.custom_actions = serde_json::from_value(json!([
        {"name": "drain", "at": "beforeFailover", "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:orders-drain", "timeoutSeconds": 30},
        {"name": "warm", "at": "afterDatabases", "functionArn": "arn:aws:lambda:us-west-2:123456789012:function:orders-warm", "timeoutSeconds": 60}
    ]))
    .expect("custom actions");
    let databases = [action("PromoteReadReplica", "orders-db-usw2")];
    let services = [action("UpdateService", "orders-api")];
    let planned = || Planned {
        dns: &[],
        databases: &databases,
        services: &services,
    };
    let f = forecast(&plan, true, false, planned());
    assert_eq!(f.floor_seconds, 2.0 + 30.0 + 300.0 + 60.0);
    let restore = forecast(&plan, false, false, planned());
    assert_eq!(restore.floor_seconds, 2.0 + 90.0, "{}", restore.floor_path);
    assert!(restore.over_floor() > 1.0);
}

#[test]
fn a_data_plane_dns_failover_outlasts_an_aurora_global_failover() {
    let dns = [action("SetAlarmState", "orders-primary-gate")];
    let databases = [action("FailoverGlobalCluster", "orders-global")];
    let f = forecast(
        &plan(),
        true,
        false,
        Planned {
            dns: &dns,
            databases: &databases,
            services: &[],
        },
    );
    assert_eq!(leg(&f, Phase::Dns).seconds, 2.0 + 9.0 * 12.0 + 60.0);
    assert_eq!(leg(&f, Phase::Databases).seconds, 2.0 + 2.0 * 32.0);
    assert!(leg(&f, Phase::Dns).critical && !leg(&f, Phase::Databases).critical);
}

#[test]
fn what_is_already_done_takes_no_time_and_a_service_restore_skips_dns_and_databases() {
    let mut done = action("PromoteReadReplica", "orders-db-usw2");
    done.already_done = true;
    let f = forecast(
        &plan(),
        true,
        false,
        Planned {
            dns: &[],
            databases: &[done],
            services: &[],
        },
    );
    assert_eq!(leg(&f, Phase::Databases).seconds, 2.0);
    let f = forecast(
        &plan(),
        false,
        false,
        Planned {
            dns: &[],
            databases: &[],
            services: &[],
        },
    );
    assert!(f.legs.iter().all(|l| l.lane == Lane::Main));
}

#[test]
fn custom_actions_count_their_timeouts_and_an_approval_is_left_out_and_said() {
    let mut with_actions: Value = serde_json::from_str(PLAN).expect("json");
    with_actions["customActions"] = json!([
        {"name": "drain", "at": "beforeFailover", "functionArn": "arn:aws:lambda:us-west-2:123456789012:function:drain", "timeoutSeconds": 120},
        {"name": "warm", "at": "afterServices", "functionArn": "arn:aws:lambda:us-west-2:123456789012:function:warm"}
    ]);
    with_actions["objectives"]["rtoSeconds"] = json!(300);
    with_actions["validation"]["deadlineSeconds"] = json!(300);
    let p = RecoveryPlan::from_json(&with_actions.to_string()).expect("valid");
    let bare = forecast(
        &plan(),
        true,
        false,
        Planned {
            dns: &[],
            databases: &[],
            services: &[],
        },
    );
    let f = forecast(
        &p,
        true,
        true,
        Planned {
            dns: &[],
            databases: &[],
            services: &[],
        },
    );
    assert_eq!(f.rto_seconds - bare.rto_seconds, 120.0 + 60.0);
    assert_eq!(f.excluded.len(), 1);
    let slow = [action("PromoteReadReplica", "orders-db-usw2")];
    let f = forecast(
        &p,
        true,
        false,
        Planned {
            dns: &[],
            databases: &slow,
            services: &[],
        },
    );
    assert!(!f.within_target);
    assert!(f.verdict().contains("EXCEEDS the target"));
}

#[test]
fn every_figure_names_its_source() {
    for f in figures::ALL {
        assert!(!f.source.is_empty() && !f.what.is_empty(), "{}", f.key);
        if f.basis == figures::Basis::Documented || f.basis == figures::Basis::Default {
            assert!(f.source.starts_with("https://"), "{}", f.key);
        }
    }
}
