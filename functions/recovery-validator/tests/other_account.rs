//! A record whose hosted zone is in another account is read as the role the plan names for the
//! account (moto serves STS and each account's Route 53 apart).

use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};
use chrono::Utc;
use rebound_shared::context::{Check, ValidationReport};
use rebound_tests::{event, seed, MotoServer};
use recovery_validator::{RecoveryValidator, ValidatorOutput};
use serde_json::{json, Value};

const ROLE: &str = "arn:aws:iam::222222222222:role/rebound-dns";
const NAME: &str = "api.orders.example.com.";

fn cname(value: &str) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(NAME)
        .r#type(RrType::Cname)
        .ttl(60)
        .resource_records(ResourceRecord::builder().value(value).build().expect("rr"))
        .build()
        .expect("rrs")
}

async fn round(validator: &RecoveryValidator, zone: &str, account: Option<&str>) -> ValidationReport {
    let mut request = event("recovery-validator.json");
    let plan = &mut request["context"]["plan"];
    plan["accounts"] = json!({"network": {"roleArn": ROLE}});
    let mut record = json!({"hostedZoneId": zone, "name": NAME, "type": "CNAME", "ttl": 60,
        "primary": {"values": ["orders-api-use1.orders.example.com"]},
        "recovery": {"values": ["orders-api-usw2.orders.example.com"]}});
    if let Some(account) = account {
        record["account"] = Value::from(account);
    }
    plan["dns"] = json!([record]);
    plan["databases"] = json!([]);
    plan["writerEndpoints"] = json!([]);
    plan["validation"]["probes"] = json!([]);
    match validator.handle(request, Utc::now()).await {
        Ok(ValidatorOutput::Validation(report)) => report,
        other => panic!("expected a validation report, got {other:?}"),
    }
}

fn record(report: &ValidationReport) -> Check {
    report
        .checks
        .iter()
        .find(|c| c.name.starts_with("record api.orders.example.com."))
        .cloned()
        .unwrap_or_else(|| panic!("no record check: {:?}", report.checks))
}

#[tokio::test]
async fn a_record_in_another_accounts_zone_is_read_as_its_role() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let network = seed::as_role(&moto.config("us-east-1"), ROLE).await.expect("the role");
    let zone = seed::hosted_zone(&network, "orders.example.com").await.expect("zone");
    seed::create_records(&network, &zone, vec![cname("orders-api-use1.orders.example.com")])
        .await
        .expect("record");
    let validator = RecoveryValidator::new(&moto.regions());

    let check = record(&round(&validator, &zone, Some("network")).await);
    assert!(check.failed(), "not moved yet: {check:?}");

    use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch};
    let upsert = Change::builder()
        .action(ChangeAction::Upsert)
        .resource_record_set(cname("orders-api-usw2.orders.example.com"))
        .build()
        .expect("change");
    aws_sdk_route53::Client::new(&network)
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(ChangeBatch::builder().changes(upsert).build().expect("batch"))
        .send()
        .await
        .expect("moved");
    let check = record(&round(&validator, &zone, Some("network")).await);
    assert!(!check.failed(), "{check:?}");

    // Read in Rebound's own account, the zone is not there.
    let check = record(&round(&validator, &zone, None).await);
    assert!(check.failed(), "{check:?}");
    assert!(check.detail.contains("NoSuchHostedZone"), "{}", check.detail);
}

#[tokio::test]
async fn a_role_that_cannot_be_assumed_fails_its_zones_records_naming_the_account() {
    use rebound_tests::faults::{Fault, FaultProxy};
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let network = seed::as_role(&moto.config("us-east-1"), ROLE).await.expect("the role");
    let zone = seed::hosted_zone(&network, "orders.example.com").await.expect("zone");
    seed::create_records(&network, &zone, vec![cname("orders-api-usw2.orders.example.com")])
        .await
        .expect("record");
    let proxy = FaultProxy::start(&moto).unwrap_or_else(|e| panic!("{e}"));
    proxy
        .set(&[Fault::status(403).service("sts").operation("AssumeRole")])
        .expect("fault");
    let validator = RecoveryValidator::new(&proxy.regions());
    let check = record(&round(&validator, &zone, Some("network")).await);
    assert!(check.failed(), "{check:?}");
    assert!(
        check.detail.contains("account network") && check.detail.contains("AssumeRole"),
        "{}",
        check.detail
    );
}

/// A round whose only parts are the plan's `parts` (`services`, `databases`, ...), in `accounts`.
async fn part_round(validator: &RecoveryValidator, accounts: Value, parts: &[(&str, Value)]) -> ValidationReport {
    let mut request = event("recovery-validator.json");
    let plan = &mut request["context"]["plan"];
    plan["accounts"] = accounts;
    for empty in ["dns", "databases", "writerEndpoints", "services"] {
        plan[empty] = json!([]);
    }
    for (field, part) in parts {
        plan[*field] = part.clone();
    }
    plan["validation"]["probes"] = json!([]);
    request["context"]["results"]["services"] = Value::Null;
    match validator.handle(request, Utc::now()).await {
        Ok(ValidatorOutput::Validation(report)) => report,
        other => panic!("expected a validation report, got {other:?}"),
    }
}

/// The check `name` of a round.
fn named(report: &ValidationReport, name: &str) -> Check {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .cloned()
        .unwrap_or_else(|| panic!("no {name} check: {:?}", report.checks))
}

#[tokio::test]
async fn a_service_in_another_account_is_counted_as_its_role() {
    const APPS: &str = "arn:aws:iam::222222222222:role/rebound-services";
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let apps = seed::as_role(&moto.config("us-west-2"), APPS).await.expect("the role");
    seed::ecs_services(&apps, &[("orders-api", 0)]).await.expect("service");
    let validator = RecoveryValidator::new(&moto.regions());
    let accounts = json!({"apps": {"roleArn": APPS}});
    let service = json!({"kind": "ecs", "cluster": "orders-usw2", "service": "orders-api", "desiredCount": 2});
    let check = |report: &ValidationReport| named(report, "ecs:orders-usw2/orders-api");
    let mut in_apps = service.clone();
    in_apps["account"] = json!("apps");

    let before = check(&part_round(&validator, accounts.clone(), &[("services", json!([in_apps]))]).await);
    assert!(before.failed() && before.detail == "0 of 2 running", "{before:?}");
    rebound_tests::wait::scaled(&aws_sdk_ecs::Client::new(&apps), "orders-usw2", "orders-api", 2).await;
    let after = check(&part_round(&validator, accounts.clone(), &[("services", json!([in_apps]))]).await);
    assert!(!after.failed() && after.detail == "2 of 2 running", "{after:?}");

    // Read in Rebound's own account, the service is not there.
    let own = check(&part_round(&validator, accounts, &[("services", json!([service]))]).await);
    assert!(own.failed() && own.detail.contains("not found"), "{own:?}");
}

/// In `role`'s account: the ledger database in us-east-1 and its replica in us-west-2; the
/// account's configurations in both regions, and the source's ARN.
async fn ledger_database(moto: &MotoServer, role: &str) -> (aws_config::SdkConfig, aws_config::SdkConfig, String) {
    let east = seed::as_role(&moto.config("us-east-1"), role).await.expect("the role");
    let west = seed::as_role(&moto.config("us-west-2"), role).await.expect("the role");
    for config in [&east, &west] {
        seed::parameter_group(config, seed::PARAMETER_GROUP, "postgres")
            .await
            .expect("parameter group");
    }
    let source = seed::database_pair(&east, &west, "postgres", "ledger-db", "ledger-db-usw2")
        .await
        .expect("the account's database");
    (east, west, source)
}

#[tokio::test]
async fn a_database_in_another_account_is_checked_as_its_role() {
    const DATA: &str = "arn:aws:iam::222222222222:role/rebound-data";
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (_, west, source) = ledger_database(&moto, DATA).await;
    let validator = RecoveryValidator::new(&moto.regions());
    let accounts = json!({"data": {"roleArn": DATA}});
    let database = json!({"kind": "readReplica", "identifier": "ledger-db-usw2", "sourceIdentifier": source});
    let mut in_data = database.clone();
    in_data["account"] = json!("data");
    let check = |report: &ValidationReport| named(report, "database ledger-db-usw2");

    let before = check(&part_round(&validator, accounts.clone(), &[("databases", json!([in_data]))]).await);
    assert!(
        before.failed() && before.detail.contains("still a replica"),
        "{before:?}"
    );
    aws_sdk_rds::Client::new(&west)
        .promote_read_replica()
        .db_instance_identifier("ledger-db-usw2")
        .send()
        .await
        .expect("promoted");
    rebound_tests::wait::promoted(&west, "ledger-db-usw2").await;
    let after = check(&part_round(&validator, accounts.clone(), &[("databases", json!([in_data]))]).await);
    assert!(!after.failed(), "{after:?}");

    // Read in Rebound's own account, the database is not there.
    let own = check(&part_round(&validator, accounts, &[("databases", json!([database]))]).await);
    assert!(own.failed() && own.detail == "not found", "{own:?}");
}

#[tokio::test]
async fn a_global_table_in_another_account_is_checked_as_its_role() {
    const DATA: &str = "arn:aws:iam::222222222222:role/rebound-data";
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let east = seed::as_role(&moto.config("us-east-1"), DATA).await.expect("the role");
    seed::global_table(&east, "us-west-2", "ledger")
        .await
        .expect("global table");
    let validator = RecoveryValidator::new(&moto.regions());
    let accounts = json!({"data": {"roleArn": DATA}});
    // A plan recovers something: a service, whose check is not this test's.
    let service = json!([{"kind": "ecs", "cluster": "orders-usw2", "service": "orders-api", "desiredCount": 1}]);
    let in_data = json!([{"tableName": "ledger", "account": "data"}]);
    let parts = [("globalTables", in_data), ("services", service.clone())];
    let checked = named(&part_round(&validator, accounts.clone(), &parts).await, "table ledger");
    assert!(!checked.failed(), "{checked:?}");
    let parts = [
        ("globalTables", json!([{"tableName": "ledger"}])),
        ("services", service),
    ];
    let own = named(&part_round(&validator, accounts, &parts).await, "table ledger");
    assert!(own.failed(), "not in Rebound's own account: {own:?}");
}

#[tokio::test]
async fn one_role_is_assumed_once_for_every_read_of_a_recovery() {
    use rebound_tests::faults::FaultProxy;
    const DATA: &str = "arn:aws:iam::222222222222:role/rebound-data";
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west, source) = ledger_database(&moto, DATA).await;
    seed::global_table(&east, "us-west-2", "ledger")
        .await
        .expect("global table");
    seed::ecs_services(&west, &[("orders-api", 1)]).await.expect("service");
    let zone = seed::hosted_zone(&east, "orders.example.com").await.expect("zone");
    seed::create_records(&east, &zone, vec![cname("orders-api-usw2.orders.example.com")])
        .await
        .expect("record");
    let proxy = FaultProxy::start(&moto).unwrap_or_else(|e| panic!("{e}"));
    let validator = RecoveryValidator::new(&proxy.regions());
    let accounts = json!({"data": {"roleArn": DATA}});
    let parts = [
        (
            "services",
            json!([{"kind": "ecs", "cluster": "orders-usw2", "service": "orders-api", "desiredCount": 1, "account": "data"}]),
        ),
        (
            "databases",
            json!([{"kind": "readReplica", "identifier": "ledger-db-usw2", "sourceIdentifier": source, "account": "data"}]),
        ),
        ("globalTables", json!([{"tableName": "ledger", "account": "data"}])),
        (
            "dns",
            json!([{"hostedZoneId": zone, "name": NAME, "type": "CNAME", "ttl": 60, "account": "data",
                "primary": {"values": ["orders-api-use1.orders.example.com"]},
                "recovery": {"values": ["orders-api-usw2.orders.example.com"]}}]),
        ),
    ];
    let assumed = || {
        proxy
            .calls()
            .iter()
            .filter(|c| c.operation.as_deref() == Some("AssumeRole"))
            .count()
    };

    let report = part_round(&validator, accounts.clone(), &parts).await;
    // Every resource was read as the role: none is missing from Rebound's own account.
    for name in [
        "ecs:orders-usw2/orders-api",
        "table ledger",
        "record api.orders.example.com. CNAME",
    ] {
        let check = report
            .checks
            .iter()
            .find(|c| c.name.starts_with(name))
            .unwrap_or_else(|| panic!("no {name}: {:?}", report.checks));
        assert!(!check.detail.contains("not found"), "{check:?}");
    }
    let database = named(&report, "database ledger-db-usw2");
    assert!(database.detail.contains("still a replica"), "{database:?}");
    assert_eq!(assumed(), 1, "four kinds of reads, one role");

    // The next round of the same recovery keeps the role's credentials.
    part_round(&validator, accounts, &parts).await;
    assert_eq!(assumed(), 1, "a second round of the same recovery");
}
