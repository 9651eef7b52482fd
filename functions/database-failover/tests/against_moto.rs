//! database-failover against moto's RDS and CloudWatch: what moto holds afterwards.

use chrono::Utc;
use database_failover::{DatabaseError, DatabaseFailover};
use rebound_shared::accounts::Roles;
use rebound_shared::context::{ActionStatus, StepResult, StepStatus};
use rebound_shared::endpoints::EndpointStores;
use rebound_shared::global_tables::GlobalTables;
use rebound_shared::rds::OldWriter;
use rebound_shared::ErrorKind;
use rebound_tests::{action, event, MotoServer};
use serde_json::{json, Value};

fn stores(recovery: &aws_config::SdkConfig, primary: &aws_config::SdkConfig) -> EndpointStores {
    EndpointStores::new(
        recovery,
        rebound_shared::dns::route53_client(primary),
        &Roles::new(recovery),
    )
}

fn tables(recovery: &aws_config::SdkConfig, primary: &aws_config::SdkConfig) -> GlobalTables {
    GlobalTables::new(&rebound_shared::aws::Regions {
        primary: primary.clone(),
        recovery: recovery.clone(),
    })
}

struct World {
    _moto: MotoServer,
    east: aws_sdk_rds::Client,
    west: aws_sdk_rds::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    east_cloudwatch: aws_sdk_cloudwatch::Client,
    east_config: aws_config::SdkConfig,
    west_config: aws_config::SdkConfig,
    primary_arn: String,
    request: Value,
}

async fn world() -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let east = aws_sdk_rds::Client::new(&moto.config("us-east-1"));
    let west = aws_sdk_rds::Client::new(&moto.config("us-west-2"));
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&moto.config("us-west-2"));
    let east_cloudwatch = aws_sdk_cloudwatch::Client::new(&moto.config("us-east-1"));
    let primary_arn =
        rebound_tests::seed::database_with_replica(&moto.config("us-east-1"), &moto.config("us-west-2"), "postgres")
            .await
            .expect("seeded");
    let mut request = event("database-failover.json");
    request["context"]["plan"]["databases"][0]["sourceIdentifier"] = json!(primary_arn);
    let east_config = moto.config("us-east-1");
    let west_config = moto.config("us-west-2");
    World {
        _moto: moto,
        east,
        west,
        cloudwatch,
        east_cloudwatch,
        east_config,
        west_config,
        primary_arn,
        request,
    }
}

impl World {
    fn failover(&self) -> DatabaseFailover {
        DatabaseFailover {
            rds: self.west.clone(),
            cloudwatch: self.cloudwatch.clone(),
            primary_rds: self.east.clone(),
            primary_cloudwatch: self.east_cloudwatch.clone(),
            endpoints: stores(&self.west_config, &self.east_config),
            tables: tables(&self.west_config, &self.east_config),
            elasticache: aws_sdk_elasticache::Client::new(&self.west_config),
            primary_elasticache: aws_sdk_elasticache::Client::new(&self.east_config),
            memorydb: aws_sdk_memorydb::Client::new(&self.west_config),
            primary_memorydb: aws_sdk_memorydb::Client::new(&self.east_config),
            globals: rebound_shared::rds::GlobalClients::new(&self.west_config),
            primary_globals: rebound_shared::rds::GlobalClients::new(&self.east_config),
            roles: Roles::new(&self.west_config),
        }
    }

    async fn run(&self, request: &Value) -> Result<StepResult, DatabaseError> {
        self.failover().handle(request.clone(), Utc::now()).await
    }

    /// Polls `status` after `started`, as the state machine's wait loop does, until completed.
    async fn completed(&self, request: &Value, started: &StepResult) -> StepResult {
        completed(&self.failover(), request, started).await
    }

    async fn lag(&self, seconds: f64) {
        rebound_tests::seed::replica_lag(&self.west_config, "orders-db-usw2", seconds)
            .await
            .expect("lag");
    }

    /// The primary's read-only setting in its parameter group, as moto holds it.
    async fn read_only(&self) -> Option<String> {
        let out = self
            .east
            .describe_db_parameters()
            .db_parameter_group_name(rebound_tests::seed::PARAMETER_GROUP)
            .send()
            .await
            .expect("parameters");
        out.parameters()
            .iter()
            .find(|p| p.parameter_name() == Some("default_transaction_read_only"))
            .and_then(|p| p.parameter_value().map(str::to_string))
    }

    /// The replica's source as moto reports it: `None` once promoted.
    async fn replica_source(&self) -> Option<String> {
        let out = self
            .west
            .describe_db_instances()
            .db_instance_identifier("orders-db-usw2")
            .send()
            .await
            .expect("describe");
        out.db_instances()[0]
            .read_replica_source_db_instance_identifier()
            .map(str::to_string)
    }
}

/// Polls `status` after `started` until the step completes (RDS takes its time to promote).
async fn completed(failover: &DatabaseFailover, request: &Value, started: &StepResult) -> StepResult {
    rebound_tests::wait::step_completed(request, "database", started.clone(), |status| async {
        failover.handle(status, Utc::now()).await.expect("status")
    })
    .await
}

#[tokio::test]
async fn failover_promotes_the_replica_and_records_its_lag_as_the_rpo() {
    let w = world().await;
    w.lag(4.0).await;
    let started = w.run(&w.request).await.expect("start");
    // As RDS shows a promotion under way: modifying, still a replica of its source.
    let promoting = instance_in(&w.west, "orders-db-usw2").await;
    assert_eq!(promoting.db_instance_status(), Some("modifying"));
    assert_eq!(w.replica_source().await, Some(w.primary_arn.clone()));
    assert_eq!(started.rpo_seconds, Some(4.0));
    let promote = action(&started, "PromoteReadReplica");
    assert_eq!(promote.status, ActionStatus::Pending);
    assert_eq!(promote.before["replicaOf"], json!(w.primary_arn));

    let polled = w.completed(&w.request, &started).await;
    assert_eq!(w.replica_source().await, None, "moto holds a standalone instance");
    assert_eq!(action(&polled, "PromoteReadReplica").after["writer"], json!(true));

    let again = w.run(&w.request).await.expect("second start");
    assert!(again.actions.iter().all(|a| a.already_done), "{:?}", again.actions);
    assert_eq!(again.status, StepStatus::Completed);
    // The primary no longer lists the promoted instance as its replica.
    let primary = w
        .east
        .describe_db_instances()
        .db_instance_identifier("orders-db")
        .send()
        .await
        .expect("describe");
    assert!(primary.db_instances()[0]
        .read_replica_db_instance_identifiers()
        .is_empty());
}

#[tokio::test]
async fn dry_run_reads_the_lag_and_promotes_nothing() {
    let w = world().await;
    w.lag(4.0).await;
    let mut request = w.request.clone();
    request["context"]["dryRun"] = json!(true);
    let result = w.run(&request).await.expect("dry run");
    assert_eq!(action(&result, "PromoteReadReplica").status, ActionStatus::Planned);
    assert_eq!(action(&result, "FenceOldWriter").status, ActionStatus::Planned);
    assert_eq!(w.read_only().await, None, "the old writer is not fenced in a dry run");
    assert_eq!(result.rpo_seconds, Some(4.0));
    assert_eq!(result.status, StepStatus::Completed);
    assert_eq!(w.replica_source().await, Some(w.primary_arn.clone()));
}

#[tokio::test]
async fn lag_above_the_rpo_target_refuses_and_changes_nothing() {
    let w = world().await;
    w.lag(1260.0).await;
    let err = w.run(&w.request).await.expect_err("lag above target");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert!(err.to_string().contains("replica lag is 1260 s"), "{err}");
    assert_eq!(w.replica_source().await, Some(w.primary_arn.clone()));

    assert_eq!(w.read_only().await, None, "nothing fenced either");

    // A plan that allows the loss still needs a human to approve it.
    let mut request = w.request.clone();
    request["context"]["plan"]["databases"][0]["allowDataLoss"] = json!(true);
    let err = w.run(&request).await.expect_err("no approval yet");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert!(err.to_string().contains("only with a human's approval"), "{err}");
    assert!(
        matches!(err, DatabaseError::DataLoss { lag_seconds: Some(l), allowed: true, .. } if l == 1260.0),
        "{err:?}"
    );
    assert_eq!(w.replica_source().await, Some(w.primary_arn.clone()));

    request["context"]["approval"] = json!({"approved": true, "by": "jane"});
    let result = w.run(&request).await.expect("approved data loss");
    assert_eq!(result.rpo_seconds, Some(1260.0));
    assert!(action(&result, "PromoteReadReplica")
        .detail
        .as_deref()
        .is_some_and(|d| d.contains("beyond the RPO target: approved")));
    rebound_tests::wait::promoted(&w.west_config, "orders-db-usw2").await;
}

#[tokio::test]
async fn failover_fences_the_old_writer_before_promoting() {
    let w = world().await;
    w.lag(4.0).await;
    let started = w.run(&w.request).await.expect("start");
    let fence = action(&started, "FenceOldWriter");
    assert_eq!(fence.status, ActionStatus::Done, "{fence:?}");
    assert_eq!(fence.before["acceptsWrites"], json!(true));
    assert_eq!(started.actions[0].operation, "FenceOldWriter", "fenced first");
    // moto holds the PostgreSQL writer's own parameter group read-only.
    assert_eq!(w.read_only().await.as_deref(), Some("on"));
    let again = w.run(&w.request).await.expect("second start");
    assert!(action(&again, "FenceOldWriter").already_done);
}

#[tokio::test]
async fn an_old_writer_that_cannot_be_fenced_is_reported() {
    let w = world().await;
    // A writer on a default parameter group, which cannot be changed.
    w.east
        .create_db_instance()
        .db_instance_identifier("orders-db-legacy")
        .engine("mysql")
        .db_instance_class("db.r6g.large")
        .allocated_storage(20)
        .master_username("orders")
        .master_user_password("not-a-secret-1")
        .send()
        .await
        .expect("legacy writer");
    let action =
        database_failover::fence::fence_old_writer(&w.east, "orders-db-usw2", "orders-db-legacy", None, false).await;
    assert_eq!(action.status, ActionStatus::Failed);
    let detail = action.detail.unwrap_or_default();
    assert!(detail.contains("default parameter group"), "{detail}");

    // A region that does not answer.
    let down = aws_sdk_rds::Client::from_conf(w.east.config().to_builder().endpoint_url("http://127.0.0.1:9").build());
    let state = rebound_shared::rds::writers::old_writer(&down, &w.primary_arn, None).await;
    assert!(matches!(state, OldWriter::Unreachable { .. }), "{state:?}");
    let action = database_failover::fence::fence_old_writer(&down, "orders-db-usw2", &w.primary_arn, None, false).await;
    assert_eq!(action.status, ActionStatus::Failed);
    assert!(action.detail.unwrap_or_default().contains("did not answer"));
}

#[tokio::test]
async fn a_switchover_waits_for_zero_lag_and_unknown_lag_is_refused() {
    let w = world().await;
    let err = w.run(&w.request).await.expect_err("no lag datapoint");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert!(err.to_string().contains("unknown"), "{err}");
    w.lag(2.0).await;
    let mut request = w.request.clone();
    request["context"]["mode"] = json!("switchover");
    let err = w.run(&request).await.expect_err("lag in a switchover");
    assert!(err.to_string().contains("a switchover promotes at 0"), "{err}");
    let diagnostic = lambda_runtime::Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, rebound_shared::error::DRAINING);
    assert_eq!(w.replica_source().await, Some(w.primary_arn.clone()));
}

#[tokio::test]
async fn a_missing_replica_or_the_wrong_region_is_refused() {
    let w = world().await;
    let mut request = w.request.clone();
    request["context"]["plan"]["databases"][0]["identifier"] = json!("orders-db-nowhere");
    let err = w.run(&request).await.expect_err("missing");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert!(err.to_string().contains("orders-db-nowhere: not found"), "{err}");

    let east = DatabaseFailover {
        rds: w.east.clone(),
        cloudwatch: w.cloudwatch.clone(),
        primary_rds: w.east.clone(),
        primary_cloudwatch: w.east_cloudwatch.clone(),
        endpoints: stores(&w.east_config, &w.east_config),
        tables: tables(&w.east_config, &w.east_config),
        elasticache: aws_sdk_elasticache::Client::new(&w.east_config),
        primary_elasticache: aws_sdk_elasticache::Client::new(&w.east_config),
        memorydb: aws_sdk_memorydb::Client::new(&w.east_config),
        primary_memorydb: aws_sdk_memorydb::Client::new(&w.east_config),
        globals: rebound_shared::rds::GlobalClients::new(&w.east_config),
        primary_globals: rebound_shared::rds::GlobalClients::new(&w.east_config),
        roles: Roles::new(&w.east_config),
    };
    let err = east
        .handle(w.request.clone(), Utc::now())
        .await
        .expect_err("wrong region");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string()
            .contains("acts in us-east-1 but the plan recovers into us-west-2"),
        "{err}"
    );
}

#[tokio::test]
async fn data_corruption_restores_to_a_point_before_detection() {
    let w = world().await;
    // A source instance in the recovery region to restore from.
    rebound_tests::seed::database(&w.west_config, "orders-db-west", "postgres")
        .await
        .expect("source");
    let detected = Utc::now() - chrono::Duration::minutes(5);
    let mut request = w.request.clone();
    request["context"]["event"]["disasterType"] = json!("dataCorruption");
    request["context"]["event"]["detectedAt"] = json!(detected.to_rfc3339());
    request["context"]["plan"]["databases"] = json!([{
        "kind": "pointInTimeRestore", "identifier": "orders-db-restored", "sourceIdentifier": "orders-db-west"
    }]);
    let result = w.run(&request).await.expect("restore");
    let restored = w
        .west
        .describe_db_instances()
        .db_instance_identifier("orders-db-restored")
        .send()
        .await
        .expect("restored instance exists");
    assert_eq!(restored.db_instances().len(), 1);
    assert_eq!(result.actions[0].operation, "RestoreDBInstanceToPointInTime");
    let restore_time = result.actions[0].after["restoreTime"].as_str().expect("restore time");
    assert!(
        chrono::DateTime::parse_from_rfc3339(restore_time).expect("time") <= detected,
        "restore point before detection"
    );
    let rpo = result.rpo_seconds.expect("RPO measured");
    assert!(
        (300.0..400.0).contains(&rpo),
        "writes since the restore point (5 min ago) are lost: {rpo}"
    );
    let again = w.run(&request).await.expect("again");
    assert!(again.actions[0].already_done);
}

#[tokio::test]
async fn a_snapshot_restore_creates_the_instance_and_measures_the_snapshot_age() {
    let w = world().await;
    w.west
        .create_db_snapshot()
        .db_instance_identifier("orders-db-usw2")
        .db_snapshot_identifier("orders-db-usw2-nightly")
        .send()
        .await
        .expect("CreateDBSnapshot");
    let mut request = w.request.clone();
    request["context"]["plan"]["databases"] = json!([{
        "kind": "snapshotRestore", "identifier": "orders-db-from-snapshot", "snapshotIdentifier": "orders-db-usw2-nightly"
    }]);
    let result = w.run(&request).await.expect("restore");
    assert_eq!(result.actions[0].operation, "RestoreDBInstanceFromDBSnapshot");
    let restored = w
        .west
        .describe_db_instances()
        .db_instance_identifier("orders-db-from-snapshot")
        .send()
        .await
        .expect("restored instance exists");
    assert_eq!(restored.db_instances().len(), 1);
    let rpo = result.rpo_seconds.expect("the snapshot's age is the RPO");
    assert!((0.0..120.0).contains(&rpo), "{rpo}");
    let again = w.run(&request).await.expect("again");
    assert!(again.actions[0].already_done);

    request["context"]["plan"]["databases"][0]["snapshotIdentifier"] = json!("no-such-snapshot");
    request["context"]["plan"]["databases"][0]["identifier"] = json!("orders-db-other");
    let err = w.run(&request).await.expect_err("missing snapshot");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
}

#[tokio::test]
async fn failback_promotes_the_failback_replica_in_the_primary_region_without_data_loss() {
    let w = world().await;
    w.lag(4.0).await;
    let started = w.run(&w.request).await.expect("failover");
    w.completed(&w.request, &started).await;
    // After the failover, the team builds a replica of the new writer back in us-east-1.
    let writer = w
        .west
        .describe_db_instances()
        .db_instance_identifier("orders-db-usw2")
        .send()
        .await
        .expect("describe");
    let writer_arn = writer.db_instances()[0].db_instance_arn().expect("arn").to_string();
    w.east
        .create_db_instance_read_replica()
        .db_instance_identifier("orders-db-use1")
        .source_db_instance_identifier(&writer_arn)
        .send()
        .await
        .expect("failback replica");
    let east_config = w.east_config.clone();
    // Each lag `ago` seconds old: CloudWatch's Maximum per minute holds a minute's worst, so a
    // lag that fell is seen once it is in a minute of its own.
    let put_lag = |seconds: f64, ago: i64| {
        let config = east_config.clone();
        async move {
            let dimensions = [("DBInstanceIdentifier", "orders-db-use1")];
            rebound_tests::seed::metric_at(&config, "AWS/RDS", "ReplicaLag", &dimensions, &[(ago, seconds)]).await
        }
    };
    let mut request = w.request.clone();
    request["context"]["mode"] = json!("failback");
    let err = w.run(&request).await.expect_err("no failbackIdentifier");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("failback needs failbackIdentifier"), "{err}");

    request["context"]["plan"]["databases"][0]["failbackIdentifier"] = json!("orders-db-use1");
    put_lag(2.0, 120).await.expect("lag");
    let err = w.run(&request).await.expect_err("a failback loses no data");
    assert!(err.to_string().contains("a failback promotes at 0"), "{err}");

    put_lag(0.0, 0).await.expect("lag");
    let result = w.run(&request).await.expect("failback");
    assert_eq!(action(&result, "PromoteReadReplica").resource, "orders-db-use1");
    // The writer being left, in the recovery region, is fenced first.
    let fence = action(&result, "FenceOldWriter");
    assert_eq!(fence.resource, "orders-db-usw2 (old writer of orders-db-use1)");
    assert_eq!(fence.status, ActionStatus::Done, "{fence:?}");
    assert_eq!(result.rpo_seconds, Some(0.0));
    // The primary region writes again.
    rebound_tests::wait::promoted(&w.east_config, "orders-db-use1").await;
}

#[tokio::test]
async fn data_corruption_never_promotes_a_replica() {
    let w = world().await;
    w.lag(0.0).await;
    let mut request = w.request.clone();
    request["context"]["event"]["disasterType"] = json!("dataCorruption");
    let err = w.run(&request).await.expect_err("promotion refused");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert!(err.to_string().contains("would keep the corrupted data"), "{err}");
    assert_eq!(w.replica_source().await, Some(w.primary_arn.clone()), "still a replica");
}

/// A PostgreSQL writer on `default.postgres16` with a cross-region replica, and the failover
/// request for it; `isolation` is the plan's isolation security group.
async fn default_group_world(isolation: Option<&str>) -> (MotoServer, DatabaseFailover, Value) {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let arn = rebound_tests::seed::database_on_default_group_with_replica(&east, &west, "postgres")
        .await
        .expect("seeded");
    rebound_tests::seed::replica_lag(&west, "orders-db-usw2", 4.0)
        .await
        .expect("lag");
    let mut request = event("database-failover.json");
    request["context"]["plan"]["databases"][0]["sourceIdentifier"] = json!(arn);
    if let Some(sg) = isolation {
        request["context"]["plan"]["databases"][0]["isolationSecurityGroupId"] = json!(sg);
    }
    let failover = DatabaseFailover {
        rds: aws_sdk_rds::Client::new(&west),
        cloudwatch: aws_sdk_cloudwatch::Client::new(&west),
        primary_rds: aws_sdk_rds::Client::new(&east),
        primary_cloudwatch: aws_sdk_cloudwatch::Client::new(&east),
        endpoints: stores(&west, &east),
        tables: tables(&west, &east),
        elasticache: aws_sdk_elasticache::Client::new(&west),
        primary_elasticache: aws_sdk_elasticache::Client::new(&east),
        memorydb: aws_sdk_memorydb::Client::new(&west),
        primary_memorydb: aws_sdk_memorydb::Client::new(&east),
        globals: rebound_shared::rds::GlobalClients::new(&west),
        primary_globals: rebound_shared::rds::GlobalClients::new(&east),
        roles: Roles::new(&west),
    };
    (moto, failover, request)
}

async fn instance_in(rds: &aws_sdk_rds::Client, id: &str) -> aws_sdk_rds::types::DbInstance {
    let out = rds
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .expect("describe");
    out.db_instances()[0].clone()
}

async fn instance(moto: &MotoServer, region: &str, id: &str) -> aws_sdk_rds::types::DbInstance {
    aws_sdk_rds::Client::new(&moto.config(region))
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .expect("describe")
        .db_instances()[0]
        .clone()
}

/// Whether moto holds `id` as a writer that takes writes: available, not a replica, and not
/// isolated on `isolation`.
async fn takes_writes(moto: &MotoServer, region: &str, id: &str, isolation: &str) -> bool {
    let i = instance(moto, region, id).await;
    let groups: Vec<&str> = i
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .collect();
    i.db_instance_status() == Some("available")
        && i.read_replica_source_db_instance_identifier().is_none()
        && groups != [isolation]
}

#[tokio::test]
async fn a_writer_on_a_default_group_is_isolated_before_the_promotion_then_stopped() {
    const SG: &str = "sg-0a1b2c3d4e5f60718";
    let (moto, failover, request) = default_group_world(Some(SG)).await;
    let started = failover.handle(request.clone(), Utc::now()).await.expect("start");
    let fence = action(&started, "FenceOldWriter");
    assert_eq!(fence.status, ActionStatus::Done, "{fence:?}");
    assert!(
        fence
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("default parameter group")),
        "{fence:?}"
    );
    // Isolated before the promotion, which is under way; the replica takes no writes yet.
    assert!(
        !takes_writes(&moto, "us-east-1", "orders-db", SG).await,
        "the old writer is isolated"
    );
    assert!(
        !takes_writes(&moto, "us-west-2", "orders-db-usw2", SG).await,
        "still a replica while RDS promotes it"
    );

    let done = completed(&failover, &request, &started).await;
    // At the moment the promotion completes exactly one database takes writes.
    assert!(
        takes_writes(&moto, "us-west-2", "orders-db-usw2", SG).await,
        "the promoted replica writes"
    );
    let stop = action(&done, "StopOldWriter");
    assert_eq!(stop.status, ActionStatus::Done, "{stop:?}");
    let old = instance(&moto, "us-east-1", "orders-db").await;
    assert_eq!(old.db_instance_status(), Some("stopped"));
    let groups: Vec<&str> = old
        .vpc_security_groups()
        .iter()
        .filter_map(|g| g.vpc_security_group_id())
        .collect();
    assert_eq!(groups, [SG], "isolated, then stopped");
}

#[tokio::test]
async fn an_unfenceable_writer_that_answers_is_not_promoted_without_approval() {
    let (moto, failover, request) = default_group_world(None).await;
    let err = failover
        .handle(request.clone(), Utc::now())
        .await
        .expect_err("split-brain risk");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(err.to_string().contains("split brain"), "{err}");
    assert!(
        instance(&moto, "us-west-2", "orders-db-usw2")
            .await
            .read_replica_source_db_instance_identifier()
            .is_some(),
        "nothing was promoted"
    );

    // Approved, knowing the risk: the promotion goes ahead, the fence still reported as failed.
    let mut approved = request;
    approved["context"]["approval"] = json!({"approved": true, "by": "j.doe"});
    let started = failover.handle(approved, Utc::now()).await.expect("approved start");
    assert_eq!(action(&started, "FenceOldWriter").status, ActionStatus::Failed);
    assert_eq!(action(&started, "PromoteReadReplica").status, ActionStatus::Pending);
}
