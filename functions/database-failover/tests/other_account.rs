//! A database in another account (a data account's): database-failover reads, fences and
//! promotes it as the role the plan names for the account (moto serves STS and keeps each
//! account's RDS and CloudWatch apart), beside a database in Rebound's own account, and points
//! the application's SSM parameter (Rebound's own) at the promoted writer. What moto holds in
//! each account afterwards.

use chrono::Utc;
use database_failover::{DatabaseError, DatabaseFailover};
use rebound_shared::context::ActionStatus;
use rebound_shared::ErrorKind;
use rebound_tests::faults::{Fault, FaultProxy};
use rebound_tests::seed::PARAMETER_GROUP;
use rebound_tests::{event, held, seed, wait, MotoServer};
use serde_json::{json, Value};

const ROLE: &str = "arn:aws:iam::222222222222:role/rebound-data";
const HOST_PARAMETER: &str = "/orders/ledger-db-host";

struct World {
    moto: MotoServer,
    /// The data account, as its role sees it: (us-east-1, us-west-2).
    data: (aws_config::SdkConfig, aws_config::SdkConfig),
    request: Value,
}

/// `orders-db` and its replica in Rebound's own account; `ledger-db` and its replica `lag`
/// seconds behind in the data account; the ledger's host in Rebound's own SSM.
async fn world(lag: f64) -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let own_arn = seed::database_with_replica(&east, &west, "postgres")
        .await
        .expect("own database");
    seed::replica_lag(&west, "orders-db-usw2", 2.0).await.expect("lag");
    let data = (
        seed::as_role(&east, ROLE).await.expect("the role"),
        seed::as_role(&west, ROLE).await.expect("the role"),
    );
    for config in [&data.0, &data.1] {
        seed::parameter_group(config, PARAMETER_GROUP, "postgres")
            .await
            .expect("parameter group");
    }
    let ledger_arn = seed::database_pair(&data.0, &data.1, "postgres", "ledger-db", "ledger-db-usw2")
        .await
        .expect("the data account's database");
    seed::replica_lag(&data.1, "ledger-db-usw2", lag).await.expect("lag");
    let primary_host = held::instance_host(&data.0, "ledger-db").await;
    aws_sdk_ssm::Client::new(&west)
        .put_parameter()
        .name(HOST_PARAMETER)
        .value(primary_host)
        .r#type(aws_sdk_ssm::types::ParameterType::String)
        .send()
        .await
        .expect("parameter");
    let mut request = event("database-failover.json");
    let plan = &mut request["context"]["plan"];
    plan["accounts"] = json!({"data": {"roleArn": ROLE}});
    plan["databases"] = json!([
        {"kind": "readReplica", "identifier": "orders-db-usw2", "sourceIdentifier": own_arn},
        {"kind": "readReplica", "identifier": "ledger-db-usw2", "sourceIdentifier": ledger_arn, "account": "data"},
    ]);
    plan["writerEndpoints"] = json!([
        {"kind": "ssmParameter", "database": "ledger-db-usw2", "name": HOST_PARAMETER},
    ]);
    World { moto, data, request }
}

/// The source an instance replicates from where `config` points (None: a writer); Err when
/// it is not there.
async fn replica_of(config: &aws_config::SdkConfig, id: &str) -> Result<Option<String>, String> {
    let out = aws_sdk_rds::Client::new(config)
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
        .map_err(|e| format!("{e:?}"))?;
    Ok(out.db_instances()[0]
        .read_replica_source_db_instance_identifier()
        .map(str::to_string))
}

async fn parameter(config: &aws_config::SdkConfig) -> String {
    aws_sdk_ssm::Client::new(config)
        .get_parameter()
        .name(HOST_PARAMETER)
        .send()
        .await
        .expect("parameter")
        .parameter()
        .and_then(|p| p.value())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn a_database_in_another_account_is_promoted_as_its_role_beside_rebounds_own() {
    let w = world(3.0).await;
    // Rebound's own account has no ledger: only the role reaches it.
    assert!(replica_of(&w.moto.config("us-west-2"), "ledger-db-usw2").await.is_err());

    let failover = DatabaseFailover::new(&w.moto.regions());
    let mut readiness = w.request.clone();
    readiness["action"] = json!("readiness");
    let planned = failover.handle(readiness, Utc::now()).await.expect("readiness");
    let promotions: Vec<&str> = planned
        .actions
        .iter()
        .filter(|a| a.operation == "PromoteReadReplica")
        .map(|a| a.resource.as_str())
        .collect();
    assert_eq!(promotions, ["orders-db-usw2", "ledger-db-usw2"]);
    assert_eq!(
        planned.rpo_seconds,
        Some(3.0),
        "the data account's lag, read as its role"
    );
    assert!(replica_of(&w.data.1, "ledger-db-usw2").await.expect("ledger").is_some());

    let started = failover.handle(w.request.clone(), Utc::now()).await.expect("start");
    let done = wait::step_completed(&w.request, "database", started, |status| async {
        failover.handle(status, Utc::now()).await.expect("status")
    })
    .await;
    assert!(
        done.actions
            .iter()
            .all(|a| a.status == ActionStatus::Done || a.operation == "FenceOldWriter"),
        "{:?}",
        done.actions
    );
    // moto: each replica a writer in its own account, the ledger's parameter (Rebound's own)
    // at the data account's new writer.
    assert_eq!(
        replica_of(&w.moto.config("us-west-2"), "orders-db-usw2").await,
        Ok(None)
    );
    assert_eq!(replica_of(&w.data.1, "ledger-db-usw2").await, Ok(None));
    assert_eq!(
        parameter(&w.moto.config("us-west-2")).await,
        held::instance_host(&w.data.1, "ledger-db-usw2").await
    );
    // The data account's old writer was fenced as the role.
    let fence = done
        .actions
        .iter()
        .find(|a| a.operation == "FenceOldWriter" && a.resource.ends_with("(old writer of ledger-db-usw2)"))
        .unwrap_or_else(|| panic!("the ledger's fence: {:?}", done.actions));
    assert_eq!(fence.status, ActionStatus::Done, "{fence:?}");
    assert_eq!(fence.after["acceptsWrites"], json!(false), "{fence:?}");

    // Once done, a second start finds both done.
    let again = failover.handle(w.request.clone(), Utc::now()).await.expect("again");
    assert!(
        again
            .actions
            .iter()
            .filter(|a| a.operation == "PromoteReadReplica")
            .all(|a| a.already_done),
        "{:?}",
        again.actions
    );
}

#[tokio::test]
async fn a_refusal_in_one_account_stops_the_step_before_any_account_acts() {
    // The data account's replica is further behind than the RPO target (900 s).
    let w = world(5000.0).await;
    let failover = DatabaseFailover::new(&w.moto.regions());
    let err = failover
        .handle(w.request.clone(), Utc::now())
        .await
        .expect_err("data loss");
    assert!(
        matches!(err, DatabaseError::DataLoss { ref database, .. } if database == "ledger-db-usw2"),
        "{err}"
    );
    // Nothing changed in either account: no writer fenced, no replica promoted.
    assert!(!fenced(&w.moto.config("us-east-1")).await && !fenced(&w.data.0).await);
    assert!(replica_of(&w.moto.config("us-west-2"), "orders-db-usw2")
        .await
        .expect("own")
        .is_some());
    assert!(replica_of(&w.data.1, "ledger-db-usw2").await.expect("ledger").is_some());
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_is_named_and_nothing_changes() {
    let w = world(3.0).await;
    let proxy = FaultProxy::start(&w.moto).unwrap_or_else(|e| panic!("{e}"));
    proxy
        .set(&[Fault::status(403).service("sts").operation("AssumeRole")])
        .expect("fault");
    let err = DatabaseFailover::new(&proxy.regions())
        .handle(w.request.clone(), Utc::now())
        .await
        .expect_err("no role");
    let text = err.to_string();
    assert!(text.contains("account data") && text.contains(ROLE), "{text}");
    assert_ne!(err.kind(), ErrorKind::InvalidInput, "{text}");
    assert!(replica_of(&w.moto.config("us-west-2"), "orders-db-usw2")
        .await
        .expect("own")
        .is_some());
    assert!(replica_of(&w.data.1, "ledger-db-usw2").await.expect("ledger").is_some());
    assert_eq!(proxy.count("PromoteReadReplica"), 0);
}

#[tokio::test]
async fn an_unfenceable_writer_in_another_account_stops_the_step_before_rebounds_own_promotes() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    for config in [&east, &west] {
        seed::parameter_group(config, PARAMETER_GROUP, "postgres")
            .await
            .expect("parameter group");
    }
    // Rebound's own ledger, acted on first; the data account's writer on its engine's default
    // parameter group, which cannot be made read-only, and no isolation group.
    let ledger = seed::database_pair(&east, &west, "postgres", "ledger-db", "ledger-db-usw2")
        .await
        .expect("own database");
    seed::replica_lag(&west, "ledger-db-usw2", 2.0).await.expect("lag");
    let data = (
        seed::as_role(&east, ROLE).await.expect("the role"),
        seed::as_role(&west, ROLE).await.expect("the role"),
    );
    let orders = seed::database_on_default_group_with_replica(&data.0, &data.1, "postgres")
        .await
        .expect("the data account's database");
    seed::replica_lag(&data.1, "orders-db-usw2", 2.0).await.expect("lag");
    let mut request = event("database-failover.json");
    let plan = &mut request["context"]["plan"];
    plan["accounts"] = json!({"data": {"roleArn": ROLE}});
    plan["databases"] = json!([
        {"kind": "readReplica", "identifier": "ledger-db-usw2", "sourceIdentifier": ledger},
        {"kind": "readReplica", "identifier": "orders-db-usw2", "sourceIdentifier": orders, "account": "data"},
    ]);
    let err = DatabaseFailover::new(&moto.regions())
        .handle(request, Utc::now())
        .await
        .expect_err("split brain");
    assert!(
        matches!(err, DatabaseError::SplitBrainRisk { ref database, .. } if database.contains("orders-db")),
        "{err}"
    );
    // Rebound's own ledger was neither fenced nor promoted.
    assert!(replica_of(&west, "ledger-db-usw2").await.expect("ledger").is_some());
    assert!(!fenced(&east).await, "the own writer was not fenced");
}

/// Whether the writers' parameter group where `config` points is set read-only (the fence).
async fn fenced(config: &aws_config::SdkConfig) -> bool {
    let group = aws_sdk_rds::Client::new(config)
        .describe_db_parameters()
        .db_parameter_group_name(PARAMETER_GROUP)
        .send()
        .await
        .expect("parameters");
    group
        .parameters()
        .iter()
        .any(|p| p.parameter_name() == Some("default_transaction_read_only") && p.parameter_value() == Some("on"))
}

#[tokio::test]
async fn a_global_table_in_another_account_is_read_as_its_role() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let data_east = seed::as_role(&moto.config("us-east-1"), ROLE).await.expect("the role");
    seed::global_table(&data_east, "us-west-2", "ledger")
        .await
        .expect("the data account's global table");
    seed::replication_latency(&data_east, "ledger", "us-west-2", 1500.0)
        .await
        .expect("latency");
    let mut request = event("database-failover.json");
    let plan = &mut request["context"]["plan"];
    plan["accounts"] = json!({"data": {"roleArn": ROLE}});
    plan["databases"] = json!([]);
    plan["globalTables"] = json!([{"tableName": "ledger", "account": "data"}]);
    let failover = DatabaseFailover::new(&moto.regions());
    let started = failover.handle(request.clone(), Utc::now()).await.expect("start");
    let table = started
        .actions
        .iter()
        .find(|a| a.resource == "dynamodb:ledger (us-west-2)")
        .unwrap_or_else(|| panic!("the table: {:?}", started.actions));
    assert_eq!(table.status, ActionStatus::Done, "{table:?}");
    assert_eq!(
        started.rpo_seconds,
        Some(1.5),
        "the data account's latency, read as its role"
    );

    // In Rebound's own account there is no such table: the step stops before any change.
    request["context"]["plan"]["globalTables"] = json!([{"tableName": "ledger"}]);
    let err = failover
        .handle(request, Utc::now())
        .await
        .expect_err("not in own account");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(err.to_string().contains("ledger"), "{err}");
}
