//! The world the validator's readiness and validation tests against moto share: a primary and
//! its replica, a service, a record, and the acting steps whose dry runs readiness reads.
// Each test binary uses its own part of it.
#![allow(dead_code)]

use std::net::SocketAddr;

use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
use chrono::{TimeZone, Utc};
use database_failover::DatabaseFailover;
use dns_failover::DnsFailover;
use rebound_shared::context::{ReadinessReport, StepResult, ValidationReport};
use rebound_tests::{event, seed, MotoServer};
use recovery_validator::{RecoveryValidator, ValidatorOutput};
use serde_json::{json, Value};
use service_restoration::ServiceRestoration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A recovery-region health endpoint answering every request with `status` and `body`.
pub async fn endpoint(status: u16, body: &'static str) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 2048];
            let _ = socket.read(&mut buf).await;
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    addr
}

/// The acting steps, whose dry runs the state machine's `DryRunSteps` hands to the readiness
/// check.
pub struct Steps {
    pub dns: DnsFailover,
    pub databases: DatabaseFailover,
    pub services: ServiceRestoration,
}

pub struct World {
    pub moto: MotoServer,
    pub validator: RecoveryValidator,
    pub steps: Steps,
    pub route53: aws_sdk_route53::Client,
    pub rds: aws_sdk_rds::Client,
    pub primary_rds: aws_sdk_rds::Client,
    pub west_config: aws_config::SdkConfig,
    pub ecs: aws_sdk_ecs::Client,
    pub zone: String,
    pub request: Value,
}

pub async fn upsert(route53: &aws_sdk_route53::Client, zone: &str, value: &str) {
    let record = ResourceRecordSet::builder()
        .name("api.orders.example.com.")
        .r#type(RrType::Cname)
        .ttl(60)
        .resource_records(ResourceRecord::builder().value(value).build().expect("rr"))
        .build()
        .expect("rrs");
    let batch = ChangeBatch::builder()
        .changes(
            Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(record)
                .build()
                .expect("change"),
        )
        .build()
        .expect("batch");
    route53
        .change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch)
        .send()
        .await
        .expect("upsert");
}

pub async fn world(health: SocketAddr) -> World {
    world_with(health, false).await
}

/// `default_group`: the primary on its engine's `default.*` parameter group, unfenceable.
pub async fn world_with(health: SocketAddr, default_group: bool) -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let global = moto.config("us-east-1");
    let west = moto.config("us-west-2");
    let route53 = aws_sdk_route53::Client::new(&global);
    let zone = rebound_tests::seed::hosted_zone(&global, "orders.example.com")
        .await
        .expect("zone");
    upsert(&route53, &zone, "orders-api-use1.orders.example.com").await;
    let rds = aws_sdk_rds::Client::new(&west);
    let arn = if default_group {
        rebound_tests::seed::database_on_default_group_with_replica(&global, &west, "postgres").await
    } else {
        rebound_tests::seed::database_with_replica(&global, &west, "postgres").await
    }
    .expect("database");
    let ecs = aws_sdk_ecs::Client::new(&west);
    rebound_tests::seed::ecs_services(&west, &[("orders-api", 1)])
        .await
        .expect("services");

    let mut request = event("recovery-validator.json");
    let plan = &mut request["context"]["plan"];
    plan["dns"] = json!([plan["dns"][0].clone()]);
    plan["dns"][0]["hostedZoneId"] = json!(zone);
    plan["databases"][0]["sourceIdentifier"] = json!(arn);
    plan["services"] = json!([plan["services"][0].clone()]);
    plan["validation"]["probes"] = json!([
        {"kind": "http", "url": format!("http://{health}/health"), "expectedStatus": 200, "expectedBody": "\"status\":\"ok\""},
        {"kind": "dns", "hostedZoneId": zone, "name": "api.orders.example.com.", "type": "CNAME", "expected": ["orders-api-usw2.orders.example.com"]}
    ]);
    request["context"]["results"]["database"] =
        json!({"step": "databaseFailover", "status": "completed", "rpoSeconds": 4.0});
    let validator = RecoveryValidator::new(&moto.regions());
    let steps = Steps {
        dns: DnsFailover::new(&moto.regions()),
        databases: DatabaseFailover::new(&moto.regions()),
        services: ServiceRestoration::new(&moto.regions()),
    };
    World {
        moto,
        validator,
        steps,
        route53,
        rds,
        primary_rds: aws_sdk_rds::Client::new(&global),
        west_config: west.clone(),
        ecs,
        zone,
        request,
    }
}

impl World {
    /// Brings the recovery region to the recovered state, as the failover steps would.
    pub async fn recover(&self) {
        self.fence_old_writer().await;
        self.promote_and_scale().await;
    }

    /// The split-brain fence database-failover applies to the old writer (PostgreSQL here).
    pub async fn fence_old_writer(&self) {
        self.primary_rds
            .modify_db_parameter_group()
            .db_parameter_group_name(rebound_tests::seed::PARAMETER_GROUP)
            .parameters(
                aws_sdk_rds::types::Parameter::builder()
                    .parameter_name("default_transaction_read_only")
                    .parameter_value("on")
                    .apply_method(aws_sdk_rds::types::ApplyMethod::Immediate)
                    .build(),
            )
            .send()
            .await
            .expect("fence");
    }

    pub async fn promote_and_scale(&self) {
        upsert(&self.route53, &self.zone, "orders-api-usw2.orders.example.com").await;
        self.rds
            .promote_read_replica()
            .db_instance_identifier("orders-db-usw2")
            .send()
            .await
            .expect("promote");
        rebound_tests::wait::promoted(&self.moto.config("us-west-2"), "orders-db-usw2").await;
        // ECS starts the tasks in its own time (the launcher's "AWS's time").
        rebound_tests::wait::scaled(&self.ecs, "orders-usw2", "orders-api", 6).await;
    }

    pub async fn round(
        &self,
        previous: Option<&ValidationReport>,
        at: chrono::DateTime<Utc>,
    ) -> Result<ValidationReport, recovery_validator::ValidationError> {
        let mut request = self.request.clone();
        if let Some(previous) = previous {
            request["action"] = json!("status");
            request["context"]["results"]["validation"] = serde_json::to_value(previous).expect("report");
        }
        match self.validator.handle(request, at).await? {
            ValidatorOutput::Validation(report) => Ok(report),
            other => panic!("expected a validation report, got {other:?}"),
        }
    }
}

pub fn detected() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 3, 12, 41).single().expect("time")
}

impl World {
    /// `DryRunSteps` then `CheckReadiness`, as the state machine runs them: each acting step's
    /// dry run, its error as the branch's `Catch` records it.
    pub async fn readiness(&self, request: &Value) -> Result<ReadinessReport, recovery_validator::ValidationError> {
        let mut request = request.clone();
        request["action"] = json!("readiness");
        let now = Utc::now();
        let (dns, database, services) = futures_util::join!(
            self.steps.dns.handle(request.clone(), now),
            self.steps.databases.handle(request.clone(), now),
            self.steps.services.handle(request.clone(), now)
        );
        fn dry_run<E: Into<lambda_runtime::Diagnostic>>(ran: Result<StepResult, E>) -> Value {
            match ran {
                Ok(result) => serde_json::to_value(result).expect("json"),
                Err(e) => {
                    let d: lambda_runtime::Diagnostic = e.into();
                    json!({ "Error": d.error_type, "Cause": d.error_message })
                }
            }
        }
        request["context"]["dryRuns"] =
            json!({ "dns": dry_run(dns), "database": dry_run(database), "services": dry_run(services) });
        match self.validator.handle(request, now).await? {
            ValidatorOutput::Readiness(report) => Ok(report),
            other => panic!("expected a readiness report, got {other:?}"),
        }
    }

    pub async fn lag(&self, seconds: f64) {
        rebound_tests::seed::replica_lag(&self.west_config, "orders-db-usw2", seconds)
            .await
            .expect("lag");
    }

    /// What a failover would change, as moto holds it: the CNAME, the replica's source, the old
    /// writer's read-only setting and the service's desired count.
    pub async fn untouched(&self) -> (String, bool, bool, i32) {
        let records = self
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(&self.zone)
            .send()
            .await
            .expect("records");
        let cname = records
            .resource_record_sets()
            .iter()
            .find(|r| r.name() == "api.orders.example.com.")
            .and_then(|r| r.resource_records().first())
            .map(|r| r.value().to_string())
            .unwrap_or_default();
        let replica = self
            .rds
            .describe_db_instances()
            .db_instance_identifier("orders-db-usw2")
            .send()
            .await
            .expect("replica");
        let still_replica = replica.db_instances()[0]
            .read_replica_source_db_instance_identifier()
            .is_some();
        let parameters = self
            .primary_rds
            .describe_db_parameters()
            .db_parameter_group_name(rebound_tests::seed::PARAMETER_GROUP)
            .send()
            .await
            .expect("parameters");
        let fenced = parameters
            .parameters()
            .iter()
            .any(|p| p.parameter_name() == Some("default_transaction_read_only"));
        let services = self
            .ecs
            .describe_services()
            .cluster("orders-usw2")
            .services("orders-api")
            .send()
            .await
            .expect("services");
        (cname, still_replica, fenced, services.services()[0].desired_count())
    }
}

pub fn untouched_state() -> (String, bool, bool, i32) {
    ("orders-api-use1.orders.example.com".to_string(), true, false, 1)
}
/// The report's check called `name`.
pub fn named<'r>(report: &'r ReadinessReport, name: &str) -> &'r rebound_shared::context::Check {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} check in {report:?}"))
}

/// Publishes `RunningTaskCount` datapoints for `service` of `cluster`, `(hours ago, tasks)`.
pub async fn running_tasks(config: &aws_config::SdkConfig, cluster: &str, service: &str, points: &[(i64, f64)]) {
    let points: Vec<(i64, f64)> = points.iter().map(|(hours, tasks)| (hours * 3600, *tasks)).collect();
    let dimensions = [("ClusterName", cluster), ("ServiceName", service)];
    seed::metric_at(
        config,
        "ECS/ContainerInsights",
        "RunningTaskCount",
        &dimensions,
        &points,
    )
    .await
    .expect("metric");
}
