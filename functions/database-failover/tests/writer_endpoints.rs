//! Pointing the application at the new writer (`writerEndpoints`), against moto's SSM, Secrets
//! Manager, Route 53 and RDS: what each holds afterwards, a retry after a lost answer, and
//! endpoints that cannot be written refused before anything changes.

use chrono::Utc;
use database_failover::{DatabaseError, DatabaseFailover};
use rebound_shared::context::{Action, ActionStatus, StepResult, StepStatus};
use rebound_shared::ErrorKind;
use rebound_tests::faults::{Fault, FaultProxy};
use rebound_tests::{event, MotoServer};
use serde_json::{json, Value};

const PARAMETER: &str = "/orders/db/host";
const SECRET: &str = "orders/db";
const CNAME: &str = "db.orders.example.com.";

struct World {
    moto: MotoServer,
    request: Value,
    /// The old writer's host, where every endpoint points before the failover.
    primary_host: String,
    /// The replica's host, where they must point after it.
    replica_host: String,
}

/// The seeded application with its three writer endpoints in us-west-2 (the CNAME in a zone of
/// its own), all pointing at the us-east-1 writer.
async fn world() -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let primary_arn = rebound_tests::seed::database_with_replica(&east, &west, "postgres")
        .await
        .expect("seeded");
    rebound_tests::seed::replica_lag(&west, "orders-db-usw2", 2.0)
        .await
        .expect("lag");
    let primary_host = rebound_tests::held::instance_host(&east, "orders-db").await;
    let replica_host = rebound_tests::held::instance_host(&west, "orders-db-usw2").await;
    let zone = rebound_tests::seed::hosted_zone(&east, "orders.example.com.")
        .await
        .expect("zone");
    rebound_tests::seed::writer_endpoints(&west, PARAMETER, SECRET, Some((&zone, CNAME)), &primary_host)
        .await
        .expect("endpoints");
    let mut request = event("database-failover.json");
    request["context"]["plan"]["databases"][0]["sourceIdentifier"] = json!(primary_arn);
    request["context"]["plan"]["writerEndpoints"] = json!([
        {"kind": "ssmParameter", "database": "orders-db-usw2", "name": PARAMETER},
        {"kind": "secret", "database": "orders-db-usw2", "secretId": SECRET},
        {"kind": "cname", "database": "orders-db-usw2", "hostedZoneId": zone, "name": CNAME, "ttl": 60}
    ]);
    World {
        moto,
        request,
        primary_host,
        replica_host,
    }
}

impl World {
    async fn run(&self, request: &Value) -> Result<StepResult, DatabaseError> {
        DatabaseFailover::new(&self.moto.regions())
            .handle(request.clone(), Utc::now())
            .await
    }

    /// `start`, then `status` until complete (as the state machine's loop does).
    async fn recover(&self, request: &Value) -> StepResult {
        let started = self.run(request).await.expect("start");
        rebound_tests::wait::step_completed(request, "database", started, |status| async move {
            self.run(&status).await.expect("status")
        })
        .await
    }

    /// What the parameter, the secret's host and the CNAME hold in moto, and the secret whole.
    async fn held(&self) -> (String, String, String, Value) {
        let west = self.moto.config("us-west-2");
        let (parameter, secret) = rebound_tests::held::parameter_and_secret(&west, PARAMETER, SECRET).await;
        let zone = self.request["context"]["plan"]["writerEndpoints"][2]["hostedZoneId"]
            .as_str()
            .expect("zone");
        let sets = aws_sdk_route53::Client::new(&self.moto.config("us-east-1"))
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .send()
            .await
            .expect("records");
        let cname = sets
            .resource_record_sets()
            .iter()
            .find(|s| s.name() == CNAME)
            .and_then(|s| s.resource_records().first())
            .map(|r| r.value().to_string())
            .expect("cname");
        let host = secret["host"].as_str().unwrap_or_default().to_string();
        (parameter, host, cname, secret)
    }

    /// An action's `before`: the host a String parameter or a CNAME held; of the secret, only
    /// the fingerprint keyed by the recovery's id.
    fn recorded_before(&self, action: &Action) {
        if action.resource.starts_with("secretsmanager:") {
            let key = self.request["context"]["recoveryId"].as_str().expect("recovery id");
            assert_eq!(
                action.before,
                json!({"fingerprint": rebound_shared::endpoints::fingerprint(key, &self.primary_host), "database": "orders-db-usw2"})
            );
        } else {
            assert_eq!(action.before["host"], json!(self.primary_host), "{action:?}");
        }
    }

    async fn secret_versions(&self) -> usize {
        aws_sdk_secretsmanager::Client::new(&self.moto.config("us-west-2"))
            .list_secret_version_ids()
            .secret_id(SECRET)
            .send()
            .await
            .expect("versions")
            .versions()
            .len()
    }

    async fn replica_source(&self) -> Option<String> {
        aws_sdk_rds::Client::new(&self.moto.config("us-west-2"))
            .describe_db_instances()
            .db_instance_identifier("orders-db-usw2")
            .send()
            .await
            .expect("describe")
            .db_instances()[0]
            .read_replica_source_db_instance_identifier()
            .map(str::to_string)
    }
}

fn pointed(result: &StepResult) -> Vec<&Action> {
    result
        .actions
        .iter()
        .filter(|a| a.operation == "PointAtWriter")
        .collect()
}

#[tokio::test]
async fn the_application_is_pointed_at_the_promoted_writer_once_it_takes_writes() {
    let w = world().await;
    let done = w.recover(&w.request).await;
    let (parameter, secret_host, cname, secret) = w.held().await;
    assert_eq!(parameter, w.replica_host, "the parameter names the new writer");
    assert_eq!(secret_host, w.replica_host, "the secret's host names the new writer");
    assert_eq!(cname, w.replica_host, "the CNAME names the new writer");
    // Every other field of the secret kept, in a second version.
    assert_eq!(secret["password"], "s3cr3t");
    assert_eq!(secret["username"], "orders");
    assert_eq!(secret["port"], 5432);
    assert_eq!(w.secret_versions().await, 2);
    let actions = pointed(&done);
    assert_eq!(actions.len(), 3, "{actions:?}");
    for action in actions {
        assert_eq!(action.status, ActionStatus::Done, "{action:?}");
        w.recorded_before(action);
        assert_eq!(action.after["host"], json!(w.replica_host));
    }

    // A second start (a retry) finds every endpoint pointed and writes nothing.
    let again = w.run(&w.request).await.expect("again");
    assert_eq!(again.status, StepStatus::Completed);
    assert!(pointed(&again).iter().all(|a| a.already_done), "{:?}", again.actions);
    assert_eq!(w.secret_versions().await, 2, "no third version");
}

#[tokio::test]
async fn a_dry_run_reads_every_endpoint_and_points_none() {
    let w = world().await;
    let mut request = w.request.clone();
    request["context"]["dryRun"] = json!(true);
    let result = w.run(&request).await.expect("dry run");
    let actions = pointed(&result);
    assert_eq!(actions.len(), 3);
    for action in actions {
        assert_eq!(action.status, ActionStatus::Planned);
        w.recorded_before(action);
        assert_eq!(
            action.after["host"],
            json!(w.replica_host),
            "the replica's host is known before"
        );
    }
    let (parameter, secret_host, cname, _) = w.held().await;
    assert_eq!(
        (parameter, secret_host, cname),
        (w.primary_host.clone(), w.primary_host.clone(), w.primary_host.clone())
    );
    assert_eq!(w.secret_versions().await, 1);
}

#[tokio::test]
async fn an_endpoint_that_cannot_be_written_stops_the_failover_before_any_change() {
    let w = world().await;
    // A parameter that is not there.
    let mut request = w.request.clone();
    request["context"]["plan"]["writerEndpoints"][0]["name"] = json!("/orders/db/writer");
    let err = w.run(&request).await.expect_err("missing parameter");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert!(
        err.to_string()
            .contains("ssm:/orders/db/writer: no such parameter in us-west-2"),
        "{err}"
    );
    assert!(w.replica_source().await.is_some(), "not promoted");

    // A secret replicated from the primary region: read-only where the application runs.
    let east = w.moto.config("us-east-1");
    rebound_tests::seed::writer_endpoints(&east, "/orders/db/east", "orders/replicated", None, &w.primary_host)
        .await
        .expect("east secret");
    rebound_tests::seed::replicate_secret(&east, "orders/replicated", "us-west-2")
        .await
        .expect("replica");
    let mut request = w.request.clone();
    request["context"]["plan"]["writerEndpoints"][1]["secretId"] = json!("orders/replicated");
    let err = w.run(&request).await.expect_err("replica secret");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    assert!(err.to_string().contains("is a replica of us-east-1's"), "{err}");
    assert!(w.replica_source().await.is_some(), "not promoted");

    // A name that holds an A record: no CNAME can sit beside it.
    let zone = w.request["context"]["plan"]["writerEndpoints"][2]["hostedZoneId"].clone();
    let mut request = w.request.clone();
    request["context"]["plan"]["writerEndpoints"][2]["name"] = json!("orders.example.com.");
    let a_record = aws_sdk_route53::types::ResourceRecordSet::builder()
        .name("orders.example.com.")
        .r#type(aws_sdk_route53::types::RrType::A)
        .ttl(60)
        .resource_records(
            aws_sdk_route53::types::ResourceRecord::builder()
                .value("192.0.2.10")
                .build()
                .expect("record"),
        )
        .build()
        .expect("set");
    aws_sdk_route53::Client::new(&east)
        .change_resource_record_sets()
        .hosted_zone_id(zone.as_str().expect("zone"))
        .change_batch(
            aws_sdk_route53::types::ChangeBatch::builder()
                .changes(
                    aws_sdk_route53::types::Change::builder()
                        .action(aws_sdk_route53::types::ChangeAction::Create)
                        .resource_record_set(a_record)
                        .build()
                        .expect("change"),
                )
                .build()
                .expect("batch"),
        )
        .send()
        .await
        .expect("A record");
    let err = w.run(&request).await.expect_err("A record there");
    assert!(err.to_string().contains("holds a A record"), "{err}");
    assert!(w.replica_source().await.is_some(), "not promoted");
    let (parameter, secret_host, _, _) = w.held().await;
    assert_eq!(
        (parameter, secret_host),
        (w.primary_host.clone(), w.primary_host.clone())
    );
}

#[tokio::test]
async fn a_retry_after_every_answer_was_lost_finds_the_secret_pointed() {
    let w = world().await;
    let proxy = FaultProxy::start(&w.moto).unwrap_or_else(|e| panic!("{e}"));
    // Secrets Manager applies each PutSecretValue and no answer comes back, to any of the SDK's
    // attempts: the invocation fails, and the state machine retries it.
    proxy
        .set(&[Fault::drop_answer("secretsmanager", "PutSecretValue")])
        .expect("faults");
    let failover = DatabaseFailover::new(&proxy.regions());
    let started = failover.handle(w.request.clone(), Utc::now()).await.expect("start");
    // The application is pointed once the promotion completes.
    rebound_tests::wait::promoted(&w.moto.config("us-west-2"), "orders-db-usw2").await;
    let status = rebound_tests::wait::status_request(&w.request, "database", &started);
    let err = failover
        .handle(status.clone(), Utc::now())
        .await
        .expect_err("no answer");
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert!(err.to_string().contains("secretsmanager:orders/db#host"), "{err}");
    let puts = proxy.count("PutSecretValue");
    assert!(puts >= 2, "the SDK retried the call whose answer was lost ({puts})");
    assert_eq!(
        w.secret_versions().await,
        2,
        "each attempt carried one token: one new version"
    );

    // The state machine's retry: the secret already names the writer, nothing is written.
    proxy.set(&[]).expect("faults cleared");
    let mut result = failover.handle(status, Utc::now()).await.expect("retried status");
    for _ in 0..5 {
        if result.status == StepStatus::Completed {
            break;
        }
        let again = rebound_tests::wait::status_request(&w.request, "database", &result);
        result = failover.handle(again, Utc::now()).await.expect("status");
    }
    assert_eq!(result.status, StepStatus::Completed);
    let secret = pointed(&result)
        .into_iter()
        .find(|a| a.resource == "secretsmanager:orders/db#host")
        .expect("secret action");
    assert!(secret.already_done, "{secret:?}");
    assert_eq!(w.secret_versions().await, 2);
    let (_, secret_host, _, _) = w.held().await;
    assert_eq!(secret_host, w.replica_host);
}

#[tokio::test]
async fn a_failback_points_the_primary_regions_endpoints_at_the_failback_writer() {
    let w = world().await;
    w.recover(&w.request).await;
    let (east, west) = (w.moto.config("us-east-1"), w.moto.config("us-west-2"));
    // After the failover the team builds a replica of the new writer back in us-east-1; the
    // application there reads its own parameter and secret, still naming the old writer.
    let writer_arn = aws_sdk_rds::Client::new(&west)
        .describe_db_instances()
        .db_instance_identifier("orders-db-usw2")
        .send()
        .await
        .expect("describe")
        .db_instances()[0]
        .db_instance_arn()
        .expect("arn")
        .to_string();
    aws_sdk_rds::Client::new(&east)
        .create_db_instance_read_replica()
        .db_instance_identifier("orders-db-use1")
        .source_db_instance_identifier(&writer_arn)
        .send()
        .await
        .expect("failback replica");
    rebound_tests::seed::replica_lag(&east, "orders-db-use1", 0.0)
        .await
        .expect("lag");
    rebound_tests::seed::writer_endpoints(&east, PARAMETER, SECRET, None, &w.primary_host)
        .await
        .expect("east endpoints");
    let failback_host = rebound_tests::held::instance_host(&east, "orders-db-use1").await;

    let mut request = w.request.clone();
    request["context"]["mode"] = json!("failback");
    request["context"]["plan"]["databases"][0]["failbackIdentifier"] = json!("orders-db-use1");
    let done = w.recover(&request).await;
    let actions = pointed(&done);
    assert_eq!(actions.len(), 3, "{actions:?}");
    assert!(
        actions.iter().all(|a| a.after["host"] == json!(failback_host)),
        "{actions:?}"
    );

    let (parameter, secret) = rebound_tests::held::parameter_and_secret(&east, PARAMETER, SECRET).await;
    assert_eq!(parameter, failback_host);
    assert_eq!(secret["host"], json!(failback_host));
    // The CNAME is global: it follows the writer back.
    let (west_parameter, _, cname, _) = w.held().await;
    assert_eq!(cname, failback_host);
    // The recovery region's parameter is the recovery side's: left naming the writer there.
    assert_eq!(west_parameter, w.replica_host);
}

/// A secret's password and a SecureString's value are never written anywhere a recovery writes:
/// not in a dry run's actions, a failover's, a retry's, the validator's checks, nor an error.
/// A plan naming a field that is not a host field is refused before anything is read.
#[tokio::test]
async fn no_value_read_from_a_secret_or_a_securestring_is_recorded() {
    const CANARY_PASSWORD: &str = "canary-password-0f9e2d7c";
    const CANARY_HOST: &str = "canary-writer-5b1a93e0.internal";
    let w = world().await;
    let west = w.moto.config("us-west-2");
    aws_sdk_secretsmanager::Client::new(&west)
        .put_secret_value()
        .secret_id(SECRET)
        .secret_string(
            json!({"username": "orders", "password": CANARY_PASSWORD, "host": CANARY_HOST, "port": 5432}).to_string(),
        )
        .send()
        .await
        .expect("canary secret");
    aws_sdk_ssm::Client::new(&west)
        .put_parameter()
        .name("/orders/db/sealed")
        .value(CANARY_HOST)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .expect("canary SecureString");
    let mut request = w.request.clone();
    request["context"]["plan"]["writerEndpoints"][0]["name"] = json!("/orders/db/sealed");

    let mut recorded = Vec::new();
    let mut dry = request.clone();
    dry["context"]["dryRun"] = json!(true);
    recorded.push(serde_json::to_string(&w.run(&dry).await.expect("dry run")).expect("json"));
    let done = w.recover(&request).await;
    recorded.push(serde_json::to_string(&done).expect("json"));
    recorded.push(serde_json::to_string(&w.run(&request).await.expect("retry")).expect("json"));
    // What was held is told apart by its fingerprint, never shown.
    let key = request["context"]["recoveryId"].as_str().expect("id");
    let sealed = rebound_shared::endpoints::fingerprint(key, CANARY_HOST);
    assert!(recorded[1].contains(&sealed), "{}", recorded[1]);
    for text in &recorded {
        assert!(!text.contains(CANARY_PASSWORD), "{text}");
        assert!(!text.contains(CANARY_HOST), "{text}");
    }
    // The SecureString stays one, now naming the new writer.
    let parameter = aws_sdk_ssm::Client::new(&west)
        .get_parameter()
        .name("/orders/db/sealed")
        .with_decryption(true)
        .send()
        .await
        .expect("parameter");
    let parameter = parameter.parameter().expect("parameter");
    assert_eq!(parameter.value(), Some(w.replica_host.as_str()));
    assert_eq!(
        parameter.r#type(),
        Some(&aws_sdk_ssm::types::ParameterType::SecureString)
    );
    let (_, secret_host, _, secret) = w.held().await;
    assert_eq!(secret_host, w.replica_host);
    assert_eq!(secret["password"], CANARY_PASSWORD, "the password kept, unread");

    // A plan that names the password as the host field is refused: nothing is read or changed.
    let mut password = request.clone();
    password["context"]["plan"]["writerEndpoints"][1]["field"] = json!("password");
    let err = w.run(&password).await.expect_err("not a host field");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let text = err.to_string();
    assert!(text.contains("writerEndpoints[1].field: must name the field that holds the writer's host, one of host, hostname, endpoint, address, got 'password'"), "{text}");
    assert!(!text.contains(CANARY_PASSWORD), "{text}");
}
