//! Writer endpoints in other accounts: a CNAME in a networking account's hosted zone, a parameter
//! and a secret in an application account, each pointed at the promoted writer as the role the
//! plan names for its account, and what moto holds in that account afterwards.

use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};
use chrono::Utc;
use database_failover::DatabaseFailover;
use rebound_shared::context::ActionStatus;
use rebound_tests::{event, seed, wait, MotoServer};
use serde_json::json;

const ROLE: &str = "arn:aws:iam::222222222222:role/rebound-dns";
const CNAME: &str = "db.orders.example.com.";

async fn held(network: &aws_sdk_route53::Client, zone: &str) -> String {
    let sets = network
        .list_resource_record_sets()
        .hosted_zone_id(zone)
        .send()
        .await
        .expect("records");
    sets.resource_record_sets()
        .iter()
        .find(|s| s.name() == CNAME)
        .and_then(|s| s.resource_records().first())
        .map(|r| r.value().to_string())
        .expect("cname")
}

/// Rebound's own database in us-east-1 and its replica in us-west-2, 2 s behind.
struct Pair {
    primary_arn: String,
    primary_host: String,
    replica_host: String,
}

async fn pair(east: &aws_config::SdkConfig, west: &aws_config::SdkConfig) -> Pair {
    let primary_arn = seed::database_with_replica(east, west, "postgres")
        .await
        .expect("seeded");
    seed::replica_lag(west, "orders-db-usw2", 2.0).await.expect("lag");
    Pair {
        primary_arn,
        primary_host: rebound_tests::held::instance_host(east, "orders-db").await,
        replica_host: rebound_tests::held::instance_host(west, "orders-db-usw2").await,
    }
}

#[tokio::test]
async fn a_cname_in_another_accounts_zone_is_pointed_as_its_role() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let Pair {
        primary_arn,
        primary_host,
        replica_host,
    } = pair(&east, &west).await;
    let network_config = seed::as_role(&east, ROLE).await.expect("the role");
    let zone = seed::hosted_zone(&network_config, "orders.example.com.")
        .await
        .expect("zone");
    let cname = ResourceRecordSet::builder()
        .name(CNAME)
        .r#type(RrType::Cname)
        .ttl(60)
        .resource_records(ResourceRecord::builder().value(&primary_host).build().expect("rr"))
        .build()
        .expect("rrs");
    seed::create_records(&network_config, &zone, vec![cname])
        .await
        .expect("cname");
    let network = aws_sdk_route53::Client::new(&network_config);

    let mut request = event("database-failover.json");
    let plan = &mut request["context"]["plan"];
    plan["databases"][0]["sourceIdentifier"] = json!(primary_arn);
    plan["accounts"] = json!({"network": {"roleArn": ROLE}});
    plan["writerEndpoints"] = json!([{"kind": "cname", "database": "orders-db-usw2", "hostedZoneId": zone,
        "name": CNAME, "ttl": 60, "account": "network"}]);
    let failover = DatabaseFailover::new(&moto.regions());
    let started = failover.handle(request.clone(), Utc::now()).await.expect("start");
    let done = wait::step_completed(&request, "database", started, |status| async {
        failover.handle(status, Utc::now()).await.expect("status")
    })
    .await;
    let pointed = done
        .actions
        .iter()
        .find(|a| a.operation == "PointAtWriter")
        .expect("pointed");
    assert_eq!(pointed.status, ActionStatus::Done, "{pointed:?}");
    assert_eq!(pointed.before["host"], json!(primary_host));
    assert_eq!(
        held(&network, &zone).await,
        replica_host,
        "the networking account's CNAME moved"
    );

    // Without the account, Rebound's own Route 53 has no such zone: the step says so, and the
    // CNAME stays as it is.
    let mut own = request.clone();
    own["context"]["plan"]["writerEndpoints"][0]
        .as_object_mut()
        .expect("endpoint")
        .remove("account");
    own["context"]["recoveryId"] = json!("7b1d3c9e-0000-4000-8000-000000000002");
    let err = failover.handle(own, Utc::now()).await.expect_err("no such zone here");
    assert!(err.to_string().contains("no such hosted zone"), "{err}");
}

#[tokio::test]
async fn a_parameter_and_a_secret_in_another_account_are_pointed_as_its_role() {
    const APPS: &str = "arn:aws:iam::333333333333:role/rebound-apps";
    const PARAMETER: &str = "/orders/db/host";
    const SECRET: &str = "orders/db";
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let Pair {
        primary_arn,
        primary_host,
        replica_host,
    } = pair(&east, &west).await;
    let apps = seed::as_role(&west, APPS).await.expect("the role");
    seed::writer_endpoints(&apps, PARAMETER, SECRET, None, &primary_host)
        .await
        .expect("endpoints");

    let mut request = event("database-failover.json");
    let plan = &mut request["context"]["plan"];
    plan["databases"][0]["sourceIdentifier"] = json!(primary_arn);
    plan["accounts"] = json!({"apps": {"roleArn": APPS}});
    plan["writerEndpoints"] = json!([
        {"kind": "ssmParameter", "database": "orders-db-usw2", "name": PARAMETER, "account": "apps"},
        {"kind": "secret", "database": "orders-db-usw2", "secretId": SECRET, "account": "apps"},
    ]);

    // Without the account, Rebound's own account has no such parameter: the step refuses before
    // any change.
    let mut own = request.clone();
    for endpoint in own["context"]["plan"]["writerEndpoints"]
        .as_array_mut()
        .expect("endpoints")
    {
        endpoint.as_object_mut().expect("endpoint").remove("account");
    }
    own["context"]["recoveryId"] = json!("7b1d3c9e-0000-4000-8000-000000000003");
    let failover = DatabaseFailover::new(&moto.regions());
    let err = failover.handle(own, Utc::now()).await.expect_err("not here");
    assert!(err.to_string().contains("no such parameter in us-west-2"), "{err}");
    let replica = aws_sdk_rds::Client::new(&west)
        .describe_db_instances()
        .db_instance_identifier("orders-db-usw2")
        .send()
        .await
        .expect("replica");
    let source = replica
        .db_instances()
        .first()
        .and_then(|i| i.read_replica_source_db_instance_identifier());
    assert!(source.is_some(), "not promoted");

    let started = failover.handle(request.clone(), Utc::now()).await.expect("start");
    let done = wait::step_completed(&request, "database", started, |status| async {
        failover.handle(status, Utc::now()).await.expect("status")
    })
    .await;
    let pointed: Vec<_> = done.actions.iter().filter(|a| a.operation == "PointAtWriter").collect();
    assert_eq!(pointed.len(), 2, "{pointed:?}");
    assert!(pointed.iter().all(|a| a.status == ActionStatus::Done), "{pointed:?}");

    // In the application account: the parameter holds the new writer, the secret's host too,
    // every other field of the secret as it was.
    let (parameter, value) = rebound_tests::held::parameter_and_secret(&apps, PARAMETER, SECRET).await;
    assert_eq!(parameter, replica_host);
    assert_eq!(value["host"], json!(replica_host));
    assert_eq!(value["password"], json!("s3cr3t"));
    // Nothing was written in Rebound's own account.
    let own_parameter = aws_sdk_ssm::Client::new(&west)
        .get_parameter()
        .name(PARAMETER)
        .send()
        .await;
    assert!(own_parameter.is_err(), "{own_parameter:?}");
}
