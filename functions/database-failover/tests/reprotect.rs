//! Reprotect against moto (through the fault proxy): after a failover, the primary region gets a
//! replica of the new writer under the plan's `failbackIdentifier` and its place back in each
//! global table; what moto holds afterwards, a second run changing nothing, and what stands in
//! the way refused before any change.

use chrono::Utc;
use database_failover::{DatabaseError, DatabaseFailover};
use rebound_shared::context::{ActionStatus, StepResult, StepStatus};
use rebound_shared::ErrorKind;
use rebound_tests::faults::{Fault, FaultProxy};
use rebound_tests::{action, event, seed, wait, MotoServer};
use serde_json::{json, Value};

struct World {
    moto: MotoServer,
    proxy: FaultProxy,
    east: aws_sdk_rds::Client,
    /// The failover's request; `reprotect` is the same plan, on the reprotect path.
    failover: Value,
    reprotect: Value,
}

/// A replica in us-west-2 of a writer in us-east-1, failed over; the plan names the failback
/// replica `orders-db-use1`, to be a db.r6g.xlarge.
async fn failed_over() -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let primary_arn = seed::database_with_replica(&moto.config("us-east-1"), &moto.config("us-west-2"), "postgres")
        .await
        .expect("seeded");
    seed::replica_lag(&moto.config("us-west-2"), "orders-db-usw2", 0.0)
        .await
        .expect("lag");
    let proxy = FaultProxy::start(&moto).unwrap_or_else(|e| panic!("{e}"));
    let mut failover = event("database-failover.json");
    let db = &mut failover["context"]["plan"]["databases"][0];
    db["sourceIdentifier"] = json!(primary_arn);
    db["failbackIdentifier"] = json!("orders-db-use1");
    db["reprotect"] = json!({"instanceClass": "db.r6g.xlarge"});
    let w = World {
        east: aws_sdk_rds::Client::new(&moto.config("us-east-1")),
        moto,
        proxy,
        reprotect: Value::Null,
        failover,
    };
    let started = w.run(&w.failover).await.expect("failover");
    w.completed(&w.failover, started).await;
    let mut reprotect = w.failover.clone();
    reprotect["context"]["path"] = json!("reprotect");
    World { reprotect, ..w }
}

impl World {
    async fn run(&self, request: &Value) -> Result<StepResult, DatabaseError> {
        DatabaseFailover::new(&self.proxy.regions())
            .handle(request.clone(), Utc::now())
            .await
    }

    async fn completed(&self, request: &Value, started: StepResult) -> StepResult {
        wait::step_completed(request, "database", started, |status| async move {
            self.run(&status).await.unwrap_or_else(|e| panic!("{e}"))
        })
        .await
    }

    /// The instance moto holds in us-east-1 under `id`.
    async fn east_instance(&self, id: &str) -> Option<aws_sdk_rds::types::DbInstance> {
        let out = self.east.describe_db_instances().send().await.expect("describe");
        out.db_instances()
            .iter()
            .find(|i| i.db_instance_identifier() == Some(id))
            .cloned()
    }

    async fn writer_arn(&self) -> String {
        let west = aws_sdk_rds::Client::new(&self.moto.config("us-west-2"));
        let out = west
            .describe_db_instances()
            .db_instance_identifier("orders-db-usw2")
            .send()
            .await
            .expect("describe");
        out.db_instances()[0].db_instance_arn().expect("arn").to_string()
    }
}

#[tokio::test]
async fn reprotect_builds_a_replica_of_the_new_writer_in_the_primary_region_once() {
    let w = failed_over().await;
    // A dry run reads and says what it would build, and builds nothing.
    let mut dry = w.reprotect.clone();
    dry["context"]["dryRun"] = json!(true);
    let planned = w.run(&dry).await.expect("dry run");
    let create = action(&planned, "CreateDBInstanceReadReplica");
    assert_eq!(create.status, ActionStatus::Planned, "{create:?}");
    assert!(
        w.east_instance("orders-db-use1").await.is_none(),
        "a dry run creates nothing"
    );

    // RDS takes its time to create it: `creating`, then available, then replicating.
    w.moto
        .set_durations(&json!({"CreateDBInstanceReadReplica": 1.0}))
        .expect("durations");
    let started = w.run(&w.reprotect).await.expect("reprotect");
    assert_eq!(started.status, StepStatus::InProgress);
    let made = w.east_instance("orders-db-use1").await.expect("created in us-east-1");
    assert_eq!(made.db_instance_status(), Some("creating"));
    assert_eq!(
        made.read_replica_source_db_instance_identifier(),
        Some(w.writer_arn().await.as_str())
    );
    assert_eq!(made.db_instance_class(), Some("db.r6g.xlarge"), "the plan's class");
    let recovery_id = w.reprotect["context"]["recoveryId"].as_str().expect("id");
    assert!(
        made.tag_list()
            .iter()
            .any(|t| t.key() == Some("rebound:recovery-id") && t.value() == Some(recovery_id)),
        "tagged with the recovery: {:?}",
        made.tag_list()
    );
    // Available is not enough: it protects once RDS publishes its ReplicaLag.
    let east = w.moto.config("us-east-1");
    wait::until("the replica is available", || async {
        let i = w.east_instance("orders-db-use1").await?;
        (i.db_instance_status() == Some("available")).then_some(())
    })
    .await;
    let status = wait::status_request(&w.reprotect, "database", &started);
    let waiting = w.run(&status).await.expect("status");
    assert_eq!(waiting.status, StepStatus::InProgress, "{:?}", waiting.actions);
    assert!(
        action(&waiting, "CreateDBInstanceReadReplica")
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("no ReplicaLag")),
        "{:?}",
        waiting.actions
    );
    seed::replica_lag(&east, "orders-db-use1", 0.0).await.expect("lag");
    let done = w.completed(&w.reprotect, waiting).await;
    assert_eq!(action(&done, "CreateDBInstanceReadReplica").status, ActionStatus::Done);

    // Again: found, nothing created (moto, as AWS, would refuse a second instance of the name).
    let again = w.run(&w.reprotect).await.expect("again");
    let found = action(&again, "CreateDBInstanceReadReplica");
    assert!(found.already_done, "{found:?}");
    assert_eq!(again.status, StepStatus::Completed);
    assert_eq!(w.proxy.count("CreateDBInstanceReadReplica"), 1);
}

#[tokio::test]
async fn what_stands_in_the_way_is_refused_before_any_change() {
    let w = failed_over().await;
    // The primary region does not answer yet.
    w.proxy
        .set(&[Fault::timeout(30).service("rds").region("us-east-1")])
        .expect("faults");
    let err = w.run(&w.reprotect).await.expect_err("us-east-1 is silent");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(err.to_string().contains("reprotect once it returns"), "{err}");
    w.proxy.set(&[]).expect("faults");

    // An instance of that name in us-east-1 that is not a replica of the new writer.
    seed::database(&w.moto.config("us-east-1"), "orders-db-use1", "postgres")
        .await
        .expect("standalone");
    let err = w.run(&w.reprotect).await.expect_err("a standalone instance in the way");
    assert!(err.to_string().contains("standalone instance"), "{err}");
    assert_eq!(w.proxy.count("CreateDBInstanceReadReplica"), 0);

    // Before any failover there is nothing to reprotect.
    let fresh = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let arn = seed::database_with_replica(&fresh.config("us-east-1"), &fresh.config("us-west-2"), "postgres")
        .await
        .expect("seeded");
    let mut request = w.reprotect.clone();
    request["context"]["plan"]["databases"][0]["sourceIdentifier"] = json!(arn);
    let err = DatabaseFailover::new(&rebound_shared::aws::Regions {
        primary: fresh.config("us-east-1"),
        recovery: fresh.config("us-west-2"),
    })
    .handle(request, Utc::now())
    .await
    .expect_err("nothing failed over");
    assert!(err.to_string().contains("nothing failed over"), "{err}");

    // A plan without a failback replica names what it lacks.
    let mut request = w.reprotect.clone();
    request["context"]["plan"]["databases"][0]
        .as_object_mut()
        .expect("db")
        .retain(|k, _| k != "failbackIdentifier" && k != "reprotect");
    let err = w.run(&request).await.expect_err("no failbackIdentifier");
    assert!(err.to_string().contains("failbackIdentifier"), "{err}");
}

#[tokio::test]
async fn a_global_table_gets_the_old_region_back() {
    let w = failed_over().await;
    let (east, west) = (w.moto.config("us-east-1"), w.moto.config("us-west-2"));
    seed::global_table(&east, "us-west-2", "orders-sessions")
        .await
        .expect("table");
    // The outage ended with us-east-1's replica gone from the global table.
    let dynamodb = aws_sdk_dynamodb::Client::new(&west);
    dynamodb
        .update_table()
        .table_name("orders-sessions")
        .replica_updates(
            aws_sdk_dynamodb::types::ReplicationGroupUpdate::builder()
                .delete(
                    aws_sdk_dynamodb::types::DeleteReplicationGroupMemberAction::builder()
                        .region_name("us-east-1")
                        .build()
                        .expect("delete"),
                )
                .build(),
        )
        .send()
        .await
        .expect("replica removed");
    let mut request = w.reprotect.clone();
    request["context"]["plan"]["globalTables"] = json!([{"tableName": "orders-sessions"}]);
    let replicas = || async {
        let out = dynamodb
            .describe_table()
            .table_name("orders-sessions")
            .send()
            .await
            .expect("describe");
        out.table()
            .expect("table")
            .replicas()
            .iter()
            .filter_map(|r| r.region_name().map(str::to_string))
            .collect::<Vec<_>>()
    };
    assert!(replicas().await.is_empty());
    seed::replica_lag(&east, "orders-db-use1", 0.0).await.expect("lag");
    let started = w.run(&request).await.expect("reprotect");
    let done = w.completed(&request, started).await;
    assert_eq!(action(&done, "CreateTableReplica").status, ActionStatus::Done);
    assert_eq!(replicas().await, vec!["us-east-1".to_string()]);
    let again = w.run(&request).await.expect("again");
    assert!(action(&again, "CreateTableReplica").already_done);
}

#[tokio::test]
async fn an_aurora_cluster_gone_from_the_primary_is_created_again_as_a_secondary() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east_config, west_config) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let (east_arn, west_arn) = seed::aurora_global(
        &east_config,
        &west_config,
        "orders-global",
        "sg-0aaaaaaaaaaaaaaaa",
        None,
        false,
    )
    .await
    .expect("global database");
    let (east, west) = (
        aws_sdk_rds::Client::new(&east_config),
        aws_sdk_rds::Client::new(&west_config),
    );
    // The region outage: failed over to us-west-2, and the old writer cluster later deleted.
    west.failover_global_cluster()
        .global_cluster_identifier("orders-global")
        .target_db_cluster_identifier(&west_arn)
        .allow_data_loss(true)
        .send()
        .await
        .expect("failover");
    assert_eq!(
        wait::global_writer(&west, "orders-global").await.as_deref(),
        Some(west_arn.as_str())
    );
    east.delete_db_cluster()
        .db_cluster_identifier("orders-global-east")
        .skip_final_snapshot(true)
        .send()
        .await
        .expect("deleted");
    let mut request = event("database-failover.json");
    request["context"]["path"] = json!("reprotect");
    request["context"]["plan"]["databases"] = json!([{
        "kind": "auroraGlobal", "identifier": "orders-global", "targetClusterArn": west_arn,
        "failbackClusterArn": east_arn, "reprotect": {"instanceClass": "db.r6g.large"}
    }]);
    let failover = DatabaseFailover::new(&rebound_shared::aws::Regions {
        primary: east_config.clone(),
        recovery: west_config.clone(),
    });
    let started = failover.handle(request.clone(), Utc::now()).await.expect("reprotect");
    let member = action(&started, "GlobalClusterMember");
    assert!(
        member
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("creates orders-global-east in us-east-1")),
        "{member:?}"
    );
    // moto holds it: a secondary of the global database again, with its instance, tagged.
    let global = rebound_shared::rds::global_cluster(&west, "orders-global")
        .await
        .expect("read")
        .expect("global");
    assert!(
        global.members.contains(&(east_arn.clone(), false)),
        "{:?}",
        global.members
    );
    let instance = east
        .describe_db_instances()
        .db_instance_identifier("orders-global-east-1")
        .send()
        .await
        .expect("instance");
    let instance = &instance.db_instances()[0];
    assert_eq!(instance.db_cluster_identifier(), Some("orders-global-east"));
    assert_eq!(instance.db_instance_class(), Some("db.r6g.large"));
    let done = wait::step_completed(&request, "database", started, |status| async {
        failover
            .handle(status, Utc::now())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    })
    .await;
    assert_eq!(action(&done, "GlobalClusterMember").status, ActionStatus::Done);
    let again = failover.handle(request, Utc::now()).await.expect("again");
    assert!(action(&again, "GlobalClusterMember").already_done);
}

#[tokio::test]
async fn a_creation_whose_answer_was_lost_is_recognised_as_this_reprotects_own() {
    let w = failed_over().await;
    w.proxy
        .set(&[Fault::drop_answer("rds", "CreateDBInstanceReadReplica").times(1)])
        .expect("fault");
    let started = w.run(&w.reprotect).await.expect("reprotect after a lost answer");
    let create = action(&started, "CreateDBInstanceReadReplica");
    assert!(
        create
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("found already created by this recovery")),
        "{create:?}"
    );
    // The SDK asked twice; RDS (moto) made it once and refused the second.
    assert_eq!(w.proxy.count("CreateDBInstanceReadReplica"), 2);
    let made = w.east_instance("orders-db-use1").await.expect("created once");
    assert_eq!(
        made.read_replica_source_db_instance_identifier(),
        Some(w.writer_arn().await.as_str())
    );
}
