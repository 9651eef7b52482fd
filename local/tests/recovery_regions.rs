//! A plan with more than one recovery region: readiness finds the first choice not ready (its
//! replica an hour behind), says why, moves on to the next, and the whole recovery follows it.

mod common;

use rebound::drill::{FAILBACK_DB, PLAN_LOCATION, TABLE};
use rebound_moto::seed::{self, PRIMARY_DB, REPLICA_DB};
use rebound_shared::table::RecoveryTable;
use serde_json::{json, Value};

const NEXT: &str = "eu-west-1";
const NEXT_REPLICA: &str = "orders-db-euw1";

/// The drill's region outage, with a third region ready (a replica of the primary database and
/// the ECS services at their minimum) and the plan listing it after us-west-2.
async fn three_regions() -> (rebound::drill::Stage, String) {
    let (stage, input) = common::region_outage().await;
    let next = stage.moto.config(NEXT);
    let source = format!("arn:aws:rds:us-east-1:123456789012:db:{PRIMARY_DB}");
    seed::replica_named(&next, &source, NEXT_REPLICA, "mysql")
        .await
        .expect("replica");
    seed::replica_lag(&next, NEXT_REPLICA, 2.0).await.expect("lag");
    seed::ecs_services(&next, &[("orders-api", 1), ("orders-worker", 1)])
        .await
        .expect("services");

    let ssm = aws_sdk_ssm::Client::new(&stage.recovery);
    let name = PLAN_LOCATION.trim_start_matches("ssm:");
    let text = ssm
        .get_parameter()
        .name(name)
        .send()
        .await
        .expect("plan")
        .parameter
        .and_then(|p| p.value)
        .expect("text");
    let mut plan: Value = serde_json::from_str(&text).expect("json");
    // What lives only in us-west-2 in the drill's world is left out of this plan; the custom
    // actions stay, invoked where the stack runs whichever region the recovery goes to.
    for part in ["globalTables", "eventSourceMappings", "writerEndpoints"] {
        plan.as_object_mut().expect("object").remove(part);
    }
    plan["otherRecoveryRegions"] = json!([{
        "region": NEXT,
        "databases": [{
            "kind": "readReplica", "identifier": NEXT_REPLICA, "sourceIdentifier": source,
            "failbackIdentifier": FAILBACK_DB, "reprotect": plan["databases"][0]["reprotect"].clone()
        }],
        "services": [
            {"kind": "ecs", "cluster": seed::ECS_CLUSTER, "service": "orders-api", "desiredCount": 6},
            {"kind": "ecs", "cluster": seed::ECS_CLUSTER, "service": "orders-worker", "desiredCount": 3}
        ]
    }]);
    seed::plan_parameter(&stage.recovery, name, &plan.to_string())
        .await
        .expect("plan written");
    (stage, input)
}

async fn still_a_replica(config: &aws_config::SdkConfig, id: &str) -> Option<bool> {
    let found = aws_sdk_rds::Client::new(config)
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .ok()?;
    Some(
        found.db_instances()[0]
            .read_replica_source_db_instance_identifier()
            .is_some(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_region_not_ready_the_recovery_goes_to_the_next_and_says_why() {
    let (stage, input) = three_regions().await;
    let next = stage.moto.config(NEXT);
    // The first choice's replica fell an hour behind: promoting it would lose more than the RPO.
    seed::replica_lag(&stage.recovery, REPLICA_DB, 3600.0)
        .await
        .expect("lag");

    let out = common::run_command(&stage, &input, "0", &[]).output().expect("runs");
    let printed = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{printed}");
    let output: Value = serde_json::from_slice(&out.stdout).expect("output");
    assert_eq!(output["recoveryRegion"], NEXT, "{output}");
    let readiness = &output["readiness"];
    assert_eq!(readiness["region"], NEXT);
    assert_eq!(readiness["passedOver"][0]["region"], "us-west-2", "{readiness}");
    let why = readiness["passedOver"][0]["summary"].as_str().unwrap_or_default();
    assert!(why.starts_with("databases: ") && why.contains(REPLICA_DB), "{why}");
    assert!(
        readiness["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("us-west-2 was not ready: ") && s.ends_with("eu-west-1 is ready")),
        "{readiness}"
    );

    // moto: the next region's replica is the writer and its services run; the first choice's
    // services were not touched.
    assert_eq!(still_a_replica(&next, NEXT_REPLICA).await, Some(false));
    assert_eq!(still_a_replica(&stage.recovery, REPLICA_DB).await, Some(true));
    assert_eq!(common::desired_in(&next, "orders-api").await, 6);
    assert_eq!(common::desired_in(&next, "orders-worker").await, 3);
    assert_eq!(common::desired_in(&stage.recovery, "orders-api").await, 1);
    let last = RecoveryTable::new(&stage.recovery, TABLE)
        .last_recovery("orders")
        .await
        .expect("read")
        .expect("ended");
    assert_eq!(
        (last.outcome.as_str(), last.region.as_deref()),
        ("succeeded", Some(NEXT))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_region_ready_the_others_are_not_touched() {
    let (stage, input) = three_regions().await;
    let next = stage.moto.config(NEXT);
    let out = common::run_command(&stage, &input, "0", &[]).output().expect("runs");
    let printed = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{printed}");
    let output: Value = serde_json::from_slice(&out.stdout).expect("output");
    assert_eq!(output["readiness"]["region"], "us-west-2");
    assert_eq!(output["readiness"]["summary"], "ready");
    assert!(output.get("recoveryRegion").is_none(), "{output}");
    assert_eq!(still_a_replica(&stage.recovery, REPLICA_DB).await, Some(false));
    assert_eq!(still_a_replica(&next, NEXT_REPLICA).await, Some(true));
    assert_eq!(common::desired_in(&next, "orders-api").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_region_ready_the_recovery_fails_naming_each_and_changes_nothing() {
    let (stage, input) = three_regions().await;
    let next = stage.moto.config(NEXT);
    for (config, id) in [(&stage.recovery, REPLICA_DB), (&next, NEXT_REPLICA)] {
        seed::replica_lag(config, id, 3600.0).await.expect("lag");
    }
    let out = common::run_command(&stage, &input, "0", &[]).output().expect("runs");
    let printed = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    assert!(printed.contains("Rebound.PreconditionFailed"), "{printed}");
    assert!(
        printed.contains("us-west-2 was not ready: ") && printed.contains("eu-west-1 is not ready: "),
        "{printed}"
    );
    assert_eq!(common::desired_in(&stage.recovery, "orders-api").await, 1);
    assert_eq!(common::desired_in(&next, "orders-api").await, 1);
    assert_eq!(still_a_replica(&stage.recovery, REPLICA_DB).await, Some(true));
    assert_eq!(still_a_replica(&next, NEXT_REPLICA).await, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_check_reports_a_first_choice_passed_over_though_the_next_is_ready() {
    let (stage, _) = three_regions().await;
    seed::replica_lag(&stage.recovery, REPLICA_DB, 3600.0)
        .await
        .expect("lag");
    let schedule = include_str!("../../events/scheduled-readiness.json");
    let out = common::run_command(&stage, schedule, "0", &[]).output().expect("runs");
    let printed = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{printed}");
    let cause = printed
        .lines()
        .find_map(|l| l.strip_prefix("Cause: "))
        .unwrap_or_default();
    assert!(
        cause.starts_with("us-west-2 was not ready: databases: ") && cause.ends_with("; eu-west-1 is ready"),
        "{printed}"
    );
    // A check changes nothing, in either region.
    let next = stage.moto.config(NEXT);
    assert_eq!(still_a_replica(&stage.recovery, REPLICA_DB).await, Some(true));
    assert_eq!(still_a_replica(&next, NEXT_REPLICA).await, Some(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_recovery_into_the_next_region_the_reprotect_and_the_failback_start_from_there() {
    let (stage, input) = three_regions().await;
    let next = stage.moto.config(NEXT);
    seed::replica_lag(&stage.recovery, REPLICA_DB, 3600.0)
        .await
        .expect("lag");
    let run = |input: String| {
        let command = common::run_command(&stage, &input, "0", &[]).output();
        async move {
            let out = command.expect("runs");
            let printed = String::from_utf8_lossy(&out.stderr).to_string();
            assert_eq!(out.status.code(), Some(0), "{printed}");
            serde_json::from_slice::<Value>(&out.stdout).expect("output")
        }
    };
    let failover = run(input).await;
    assert_eq!(failover["recoveryRegion"], NEXT, "{failover}");
    rebound::drill::region_returns(&stage.global)
        .await
        .expect("the primary is back");

    // The reprotect builds the failback replica from the writer in eu-west-1.
    let reprotect = run(json!({"reprotect": true, "reason": "us-east-1 is back"}).to_string()).await;
    assert_eq!(reprotect["recoveryRegion"], NEXT, "{reprotect}");
    let primary = stage.moto.config("us-east-1");
    let source = aws_sdk_rds::Client::new(&primary)
        .describe_db_instances()
        .db_instance_identifier(FAILBACK_DB)
        .send()
        .await
        .expect("the failback replica")
        .db_instances()[0]
        .read_replica_source_db_instance_identifier()
        .map(str::to_string)
        .unwrap_or_default();
    assert!(
        source.ends_with(&format!(":db:{NEXT_REPLICA}")) || source == NEXT_REPLICA,
        "{source}"
    );

    // The failback promotes it and scales the primary back; eu-west-1 is left as it was.
    let failback = run(json!({"mode": "failback", "reason": "returning", "force": true}).to_string()).await;
    assert_eq!(failback["recoveryRegion"], NEXT, "{failback}");
    assert_eq!(still_a_replica(&primary, FAILBACK_DB).await, Some(false));
    assert_eq!(still_a_replica(&next, NEXT_REPLICA).await, Some(false));
    assert_eq!(still_a_replica(&stage.recovery, REPLICA_DB).await, Some(true));
}
