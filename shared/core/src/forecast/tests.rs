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
        expected_at: None,
    }
}

fn leg(f: &Forecast, phase: Phase) -> &Leg {
    f.legs.iter().find(|l| l.phase == phase).expect("a leg")
}

/// Every Wait state, by name, with its `Seconds` or `SecondsPath`, wherever it sits.
fn waits(states: &Value, out: &mut Vec<(String, Value)>) {
    for (name, state) in states.as_object().into_iter().flatten() {
        if state["Type"] == "Wait" {
            let how = if state["SecondsPath"].is_string() {
                state["SecondsPath"].clone()
            } else {
                state["Seconds"].clone()
            };
            out.push((name.clone(), how));
        }
        for branch in state["Branches"].as_array().into_iter().flatten() {
            waits(&branch["States"], out);
        }
    }
}

#[test]
fn each_step_times_its_own_wait_and_validation_rounds_are_spaced_by_the_definition() {
    let definition: Value = serde_json::from_str(DEFINITION).expect("the definition");
    let mut found = Vec::new();
    waits(&definition["States"], &mut found);
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let wait = |name: &str, how: Value| (name.to_string(), how);
    assert_eq!(
        found,
        vec![
            wait("WaitBeforeConfirming", json!(figures::WAIT_PROBES as u64)),
            wait("WaitBeforeProbing", json!(figures::WAIT_PROBES as u64)),
            wait("WaitForCapacity", json!("$.results.capacity.nextCheckSeconds")),
            wait("WaitForDatabaseFailover", json!("$.results.database.nextCheckSeconds")),
            wait("WaitForDnsFailover", json!("$.results.dns.nextCheckSeconds")),
            wait("WaitForReprotect", json!("$.results.database.nextCheckSeconds")),
            wait("WaitForServices", json!("$.results.services.nextCheckSeconds")),
            wait("WaitForWriterServices", json!("$.results.services.nextCheckSeconds")),
        ]
    );
}

const API: &str = "ecs:orders-usw2/orders-api";
const WEB: &str = "autoscaling:orders-web-usw2";

#[test]
fn a_replica_promotion_is_the_critical_path_of_a_failover_and_capacity_grows_beside_it() {
    let dns = [action("UPSERT", "Z1/api.orders.example.com./CNAME")];
    let databases = [
        action("FenceOldWriter", "orders-db"),
        action("PromoteReadReplica", "orders-db-usw2"),
        action("PointAtWriter", "ssm:/orders/db/host"),
    ];
    let services = [action("UpdateService", API), action("UpdateAutoScalingGroup", WEB)];
    let f = forecast(
        &plan(),
        true,
        false,
        Planned {
            dns: &dns,
            databases: &databases,
            services: services.iter().collect(),
        },
    );
    // A 2 s start, one look when INSYNC is due (60 s) and its 2 s task, then the 60 s TTL.
    assert_eq!((leg(&f, Phase::Dns).polls, leg(&f, Phase::Dns).seconds), (1, 124.0));
    assert!(leg(&f, Phase::Dns)
        .label
        .ends_with("then resolvers' caches expire (TTL 60 s)"));
    // Two 1 s writes in the start, the promotion's 300 s, the look that finds it done; five
    // looks in all, a minute apart at most.
    let db = leg(&f, Phase::Databases);
    assert_eq!((db.polls, db.seconds, db.critical), (5, 306.0, true));
    assert!(!leg(&f, Phase::Dns).critical);
    // No service waits for the writer in the example: the instances' 150 s run beside.
    let lane = |lane: Lane| f.legs.iter().filter(move |l| l.lane == lane);
    let capacity: Vec<&Leg> = lane(Lane::Capacity).collect();
    assert_eq!(capacity.len(), 1);
    assert_eq!((capacity[0].seconds, capacity[0].critical), (154.0, false));
    let after_writer: f64 = lane(Lane::Databases).map(|l| l.seconds).sum();
    assert_eq!(after_writer, 306.0 + 2.0, "the databases, then an empty services step");
    // Three passing rounds 10 s apart (no custom action to run beside), then the confirming one.
    assert_eq!(leg(&f, Phase::Validation).seconds, 26.0);
    assert_eq!(f.rto_seconds, 4.0 + 4.0 + 308.0 + 26.0 + 2.0);
    assert!(f.within_target);
    assert!(
        f.critical_path().contains(
            "databases: PromoteReadReplica orders-db-usw2 (rds-promote-read-replica 5 min 00 s), looked at when it should be done"
        ),
        "{}",
        f.critical_path()
    );
    assert!(
        f.verdict()
            .starts_with("predicted RTO 5 min 44 s (target 30 min 00 s): within target"),
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
    assert!((f.over_floor() - 344.0 / 302.0).abs() < 1e-9);
}

const PRIMARY_ORDERS: &str = "6d9bfee0-1a2b-4c3d-8e4f-5a6b7c8d9e0f";
const RECOVERY_ORDERS: &str = "7e0c0ff1-2b3c-4d5e-9f60-6b7c8d9e0f1a";
const AUDIT: &str = "8f1d1002-3c4d-4e6f-8a71-7c8d9e0f1a2b";

#[test]
fn a_service_and_a_consumer_that_need_the_writer_wait_for_the_promotion() {
    let mut plan: Value = serde_json::from_str(PLAN).expect("json");
    plan["services"][0]["needsWriter"] = json!(true);
    plan["eventSourceMappings"] = json!([
        {"primaryUuid": PRIMARY_ORDERS, "recoveryUuid": RECOVERY_ORDERS},
        {"recoveryUuid": AUDIT, "needsWriter": false}
    ]);
    let plan = RecoveryPlan::from_json(&plan.to_string()).expect("valid");
    let consumer = action(
        "EnableEventSourceMapping",
        &format!("lambda:event-source-mapping/{RECOVERY_ORDERS} (us-west-2)"),
    );
    let audit = action(
        "EnableEventSourceMapping",
        &format!("lambda:event-source-mapping/{AUDIT} (us-west-2)"),
    );
    assert!(after_writer(&plan, &action("UpdateService", API)));
    assert!(!after_writer(&plan, &action("UpdateAutoScalingGroup", WEB)));
    assert!(after_writer(&plan, &consumer), "a consumer waits unless the plan says");
    assert!(!after_writer(&plan, &audit));
    let databases = [action("PromoteReadReplica", "orders-db-usw2")];
    let services = [
        action("UpdateService", API),
        action("UpdateAutoScalingGroup", WEB),
        consumer,
        audit,
    ];
    let f = forecast(
        &plan,
        true,
        false,
        Planned {
            dns: &[],
            databases: &databases,
            services: services.iter().collect(),
        },
    );
    let waiting = f
        .legs
        .iter()
        .find(|l| l.label.starts_with("services that wait for the writer"))
        .expect("the writer's services");
    // The api's tasks (90 s) after the promotion: the slowest of what waits.
    assert_eq!(
        (waiting.lane, waiting.seconds, waiting.critical),
        (Lane::Databases, 94.0, true)
    );
    assert_eq!(f.floor_seconds, 2.0 + 300.0 + 90.0);
    assert_eq!(f.rto_seconds, 4.0 + 4.0 + 304.0 + 94.0 + 26.0 + 2.0);
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
    let services = [action("UpdateService", API)];
    let planned = || Planned {
        dns: &[],
        databases: &databases,
        services: services.iter().collect(),
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
            services: Vec::new(),
        },
    );
    // The health check's 90 s, then the TTL; the global failover's 60 s, then an empty
    // services step.
    assert_eq!(leg(&f, Phase::Dns).seconds, 2.0 + 90.0 + 2.0 + 60.0);
    assert_eq!(leg(&f, Phase::Databases).seconds, 2.0 + 60.0 + 2.0);
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
            services: Vec::new(),
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
            services: Vec::new(),
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
            services: Vec::new(),
        },
    );
    let f = forecast(
        &p,
        true,
        true,
        Planned {
            dns: &[],
            databases: &[],
            services: Vec::new(),
        },
    );
    // The warm-up runs beside the validation rounds (26 s): only what it outlasts them counts.
    assert_eq!(f.rto_seconds - bare.rto_seconds, 120.0 + 60.0 - 26.0);
    let rounds = f
        .legs
        .iter()
        .find(|l| l.label.contains("beside the custom actions"))
        .expect("the rounds");
    assert!(!rounds.critical, "the warm-up's 60 s outlast the rounds");
    assert_eq!(f.excluded.len(), 1);
    let slow = [action("PromoteReadReplica", "orders-db-usw2")];
    let f = forecast(
        &p,
        true,
        false,
        Planned {
            dns: &[],
            databases: &slow,
            services: Vec::new(),
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
