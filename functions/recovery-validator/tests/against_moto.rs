//! recovery-validator against moto and a local HTTP endpoint: it passes only when the recovered
//! state holds for enough consecutive rounds, and measures RTO and RPO.

use std::net::SocketAddr;

use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
use chrono::{Duration, TimeZone, Utc};
use database_failover::DatabaseFailover;
use dns_failover::DnsFailover;
use rebound_shared::context::{ReadinessReport, StepResult, StepStatus, ValidationReport};
use rebound_shared::ErrorKind;
use rebound_tests::{event, seed, MotoServer};
use recovery_validator::{RecoveryValidator, ValidatorOutput};
use serde_json::{json, Value};
use service_restoration::ServiceRestoration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A recovery-region health endpoint answering every request with `status` and `body`.
async fn endpoint(status: u16, body: &'static str) -> SocketAddr {
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
struct Steps {
    dns: DnsFailover,
    databases: DatabaseFailover,
    services: ServiceRestoration,
}

struct World {
    moto: MotoServer,
    validator: RecoveryValidator,
    steps: Steps,
    route53: aws_sdk_route53::Client,
    rds: aws_sdk_rds::Client,
    primary_rds: aws_sdk_rds::Client,
    west_config: aws_config::SdkConfig,
    ecs: aws_sdk_ecs::Client,
    zone: String,
    request: Value,
}

async fn upsert(route53: &aws_sdk_route53::Client, zone: &str, value: &str) {
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

async fn world(health: SocketAddr) -> World {
    world_with(health, false).await
}

/// `default_group`: the primary on its engine's `default.*` parameter group, unfenceable.
async fn world_with(health: SocketAddr, default_group: bool) -> World {
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
    async fn recover(&self) {
        self.fence_old_writer().await;
        self.promote_and_scale().await;
    }

    /// The split-brain fence database-failover applies to the old writer (PostgreSQL here).
    async fn fence_old_writer(&self) {
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

    async fn promote_and_scale(&self) {
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

    async fn round(
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

fn detected() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 3, 12, 41).single().expect("time")
}

#[tokio::test]
async fn nothing_recovered_yet_fails_every_check_with_its_reason() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    let report = w.round(None, detected() + Duration::seconds(60)).await.expect("round");
    assert!(!report.passed);
    assert_eq!(report.result.status, StepStatus::InProgress);
    let failing: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        failing,
        vec![
            "dns api.orders.example.com. CNAME",
            "record api.orders.example.com. CNAME",
            "database orders-db-usw2",
            "ecs:orders-usw2/orders-api"
        ]
    );
    let db = report
        .checks
        .iter()
        .find(|c| c.name == "database orders-db-usw2")
        .expect("db check");
    assert!(db.detail.contains("still a replica"), "{}", db.detail);
    assert_eq!(report.rto.actual_seconds, None);
}

#[tokio::test]
async fn three_green_rounds_pass_and_measure_rto_and_rpo() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.recover().await;
    let first = w.round(None, detected() + Duration::seconds(500)).await.expect("first");
    assert!(first.checks.iter().all(|c| c.passed), "{:?}", first.checks);
    assert_eq!((first.passed, first.consecutive_successes), (false, 1));
    let second = w
        .round(Some(&first), detected() + Duration::seconds(510))
        .await
        .expect("second");
    assert_eq!((second.passed, second.consecutive_successes), (false, 2));
    let third = w
        .round(Some(&second), detected() + Duration::seconds(520))
        .await
        .expect("third");
    assert!(third.passed);
    assert_eq!(third.result.status, StepStatus::Completed);
    assert_eq!(third.rto.actual_seconds, Some(520.0));
    assert_eq!(third.rto.met, Some(true));
    assert_eq!(third.rpo.actual_seconds, Some(4.0));
    assert_eq!(third.rpo.met, Some(true));
}

#[tokio::test]
async fn a_wrong_body_resets_the_streak_and_the_deadline_fails_the_step() {
    let w = world(endpoint(200, "{\"status\":\"degraded\"}").await).await;
    w.recover().await;
    let start = detected() + Duration::seconds(100);
    let first = w.round(None, start).await.expect("first");
    let http = first
        .checks
        .iter()
        .find(|c| c.name.starts_with("http "))
        .expect("http check");
    assert!(!http.passed);
    assert!(http.detail.contains("lacks"), "{}", http.detail);
    let err = w
        .round(Some(&first), start + Duration::seconds(601))
        .await
        .expect_err("past the deadline");
    assert_eq!(err.kind(), ErrorKind::StepFailed);
    assert!(err.to_string().contains("not validated within 600 s"), "{err}");
}

impl World {
    /// `DryRunSteps` then `CheckReadiness`, as the state machine runs them: each acting step's
    /// dry run, its error as the branch's `Catch` records it.
    async fn readiness(&self, request: &Value) -> Result<ReadinessReport, recovery_validator::ValidationError> {
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

    async fn lag(&self, seconds: f64) {
        rebound_tests::seed::replica_lag(&self.west_config, "orders-db-usw2", seconds)
            .await
            .expect("lag");
    }

    /// What a failover would change, as moto holds it: the CNAME, the replica's source, the old
    /// writer's read-only setting and the service's desired count.
    async fn untouched(&self) -> (String, bool, bool, i32) {
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

fn untouched_state() -> (String, bool, bool, i32) {
    ("orders-api-use1.orders.example.com".to_string(), true, false, 1)
}

#[tokio::test]
async fn readiness_checks_everything_a_failover_touches_and_changes_nothing() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(4.0).await;
    let report = w.readiness(&w.request).await.expect("ready");
    assert!(report.ready, "{}", report.summary);
    assert_eq!(report.summary, "ready");
    let names: Vec<&str> = report.checks.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names[..3], ["dns records", "databases", names[2]]);
    assert!(names[2].starts_with("fence arn:aws:rds:us-east-1"), "{names:?}");
    assert!(names.contains(&"services"), "{names:?}");
    assert!(names.iter().any(|n| n.starts_with("http ")), "{names:?}");
    assert!(!report.data_loss_approval);
    assert_eq!(report.expected_data_loss_seconds, Some(4.0));
    let dns = &report.checks[0];
    assert!(dns.detail.contains("would UPSERT"), "{}", dns.detail);
    // No acting roles to check here: skipped and shown so, not passed.
    let permissions = report
        .checks
        .iter()
        .find(|c| c.name == "permissions")
        .expect("permissions");
    assert!(
        permissions.skipped && !permissions.passed && permissions.detail.starts_with("not checked"),
        "{permissions:?}"
    );
    assert_eq!(w.untouched().await, untouched_state());

    // A pilot light serves nothing before its services are restored: the endpoint is not probed.
    let mut pilot = w.request.clone();
    pilot["context"]["plan"]["strategy"] = json!("pilotLight");
    let report = w.readiness(&pilot).await.expect("ready");
    let endpoint = report
        .checks
        .iter()
        .find(|c| c.name == "recovery endpoint")
        .expect("endpoint check");
    assert!(endpoint.skipped && !endpoint.passed, "{endpoint:?}");
    assert!(report.ready, "a skipped check is not a failure: {}", report.summary);
}

#[tokio::test]
async fn readiness_without_the_steps_dry_runs_is_refused_naming_them() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    let mut request = w.request.clone();
    request["action"] = json!("readiness");
    let err = w.validator.handle(request, Utc::now()).await.expect_err("no dry runs");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("dryRuns"), "{err}");
    assert_eq!(w.untouched().await, untouched_state());
}

#[tokio::test]
async fn lag_beyond_the_rpo_target_is_not_ready_unless_an_approver_may_accept_it() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(1260.0).await;
    let err = w.readiness(&w.request).await.expect_err("not ready");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed);
    let text = err.to_string();
    assert!(
        text.starts_with("not ready to recover, nothing was changed: databases:"),
        "{text}"
    );
    assert!(
        text.contains("replica lag is 1260 s, beyond the RPO target of 900 s"),
        "{text}"
    );
    assert_eq!(w.untouched().await, untouched_state());

    // The plan allows the loss: ready, but only through the approval gate.
    let mut allowed = w.request.clone();
    allowed["context"]["plan"]["databases"][0]["allowDataLoss"] = json!(true);
    let report = w.readiness(&allowed).await.expect("ready with approval");
    assert!(report.ready && report.data_loss_approval, "{report:?}");
    assert_eq!(report.expected_data_loss_seconds, Some(1260.0));
    let databases = report.checks.iter().find(|c| c.name == "databases").expect("databases");
    assert!(databases.detail.contains("needs approval"), "{}", databases.detail);

    // So does a plan that asks for approval anyway.
    let mut approval = w.request.clone();
    approval["context"]["approvalRequired"] = json!(true);
    let report = w.readiness(&approval).await.expect("ready with approval");
    assert!(report.data_loss_approval);

    // A switchover never loses data, approval or not.
    let mut switchover = allowed.clone();
    switchover["context"]["mode"] = json!("switchover");
    let err = w.readiness(&switchover).await.expect_err("switchover");
    assert!(err.to_string().contains("a switchover waits at most 600 s"), "{err}");
    assert_eq!(w.untouched().await, untouched_state());
}

#[tokio::test]
async fn every_missing_part_is_named() {
    let w = world(endpoint(503, "{\"status\":\"unavailable\"}").await).await;
    w.lag(4.0).await;
    let mut request = w.request.clone();
    request["context"]["plan"]["services"][0]["service"] = json!("orders-missing");
    request["context"]["plan"]["dns"][0]["hostedZoneId"] = json!("ZNOSUCHZONE");
    let err = w.readiness(&request).await.expect_err("not ready");
    let text = err.to_string();
    for part in [
        "dns records:",
        "services: ",
        "orders-missing",
        "http http://",
        "HTTP 503",
    ] {
        assert!(text.contains(part), "{part} missing from: {text}");
    }
    assert_eq!(w.untouched().await, untouched_state());
}

#[tokio::test]
async fn the_scheduled_check_reports_rather_than_fails() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(1260.0).await;
    let mut request = w.request.clone();
    request["context"]["path"] = json!("readinessCheck");
    request["context"]["dryRun"] = json!(true);
    request["context"]["plan"]["databases"][0]["allowDataLoss"] = json!(true);
    let report = w.readiness(&request).await.expect("a report");
    assert!(!report.ready);
    assert!(!report.data_loss_approval, "nobody approves a scheduled check");
    assert!(report.summary.contains("replica lag is 1260 s"), "{}", report.summary);
    assert_eq!(w.untouched().await, untouched_state());
}

fn one_writer(report: &ValidationReport) -> &rebound_shared::context::Check {
    report
        .checks
        .iter()
        .find(|c| c.name == "one writer: orders-db-usw2")
        .expect("one-writer check")
}

#[tokio::test]
async fn an_old_writer_whose_region_times_out_is_unknown_never_a_pass() {
    use rebound_tests::faults::{Fault, FaultProxy};
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    // Promoted without a fence: in moto the old writer still takes writes.
    w.promote_and_scale().await;
    let proxy = FaultProxy::start(&w.moto).unwrap_or_else(|e| panic!("{e}"));
    proxy
        .set(&[Fault::timeout(30).service("rds").region("us-east-1")])
        .expect("faults");
    let validator = RecoveryValidator {
        rds: aws_sdk_rds::Client::new(&proxy.regions().recovery),
        primary_rds: aws_sdk_rds::Client::new(&proxy.regions().primary),
        ..RecoveryValidator::new(&w.moto.regions())
    };
    let mut request = w.request.clone();
    request["context"]["plan"]["validation"]["probes"] = json!([]);
    let report = match validator
        .handle(request.clone(), detected() + Duration::seconds(60))
        .await
    {
        Ok(ValidatorOutput::Validation(report)) => report,
        other => panic!("expected a validation report, got {other:?}"),
    };
    let writer = one_writer(&report);
    assert!(!writer.passed, "a read that timed out is not a pass: {writer:?}");
    assert!(writer.unknown, "{writer:?}");
    assert!(writer.detail.contains("could not be read"), "{}", writer.detail);
    // Unknown does not hold the recovery back: the round counts, and the check is reported.
    assert_eq!(report.consecutive_successes, 1, "{:?}", report.checks);
    let timed_out: Vec<_> = proxy.calls().into_iter().filter(|c| c.fault.is_some()).collect();
    assert!(
        timed_out.iter().all(|c| c.region.as_deref() == Some("us-east-1")) && !timed_out.is_empty(),
        "{timed_out:?}"
    );

    // Once the region answers, the same writer is what it is: a second writer.
    proxy.set(&[]).expect("faults");
    let report = match validator.handle(request, detected() + Duration::seconds(70)).await {
        Ok(ValidatorOutput::Validation(report)) => report,
        other => panic!("expected a validation report, got {other:?}"),
    };
    let writer = one_writer(&report);
    assert!(!writer.passed && !writer.unknown, "{writer:?}");
    assert!(writer.detail.starts_with("SPLIT BRAIN"), "{}", writer.detail);
}

#[tokio::test]
async fn a_second_writer_is_caught_and_a_fenced_one_is_not_counted() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    // Promoted without fencing the old writer: two databases accept writes.
    w.promote_and_scale().await;
    let report = w.round(None, detected() + Duration::seconds(60)).await.expect("round");
    let writer = one_writer(&report);
    assert!(!writer.passed);
    assert!(
        writer.detail.starts_with("SPLIT BRAIN: orders-db in us-east-1"),
        "{}",
        writer.detail
    );

    w.fence_old_writer().await;
    let report = w.round(None, detected() + Duration::seconds(70)).await.expect("round");
    let writer = one_writer(&report);
    assert!(writer.passed, "{}", writer.detail);
    assert!(writer
        .detail
        .contains("read-only (default_transaction_read_only in orders-db-params)"));
}

#[tokio::test]
async fn a_restore_losing_more_than_the_rpo_target_needs_approval() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    rebound_tests::seed::database(&w.west_config, "orders-db-west", "postgres")
        .await
        .expect("source");
    let mut request = w.request.clone();
    request["context"]["event"]["disasterType"] = json!("dataCorruption");
    request["context"]["plan"]["databases"] = json!([{
        "kind": "pointInTimeRestore", "identifier": "orders-db-restored", "sourceIdentifier": "orders-db-west"
    }]);
    // Found five minutes after it began: within the 900 s target.
    request["context"]["event"]["detectedAt"] = json!((Utc::now() - Duration::minutes(5)).to_rfc3339());
    let report = w.readiness(&request).await.expect("ready");
    assert!(!report.data_loss_approval, "{report:?}");
    // Found half an hour after: every write since is lost, so a human decides.
    request["context"]["event"]["detectedAt"] = json!((Utc::now() - Duration::minutes(30)).to_rfc3339());
    let report = w.readiness(&request).await.expect("ready with approval");
    assert!(report.data_loss_approval, "{report:?}");
    assert!(report.expected_data_loss_seconds.is_some_and(|s| s >= 1800.0));
    let restored = w
        .rds
        .describe_db_instances()
        .db_instance_identifier("orders-db-restored")
        .send()
        .await;
    assert!(restored.is_err(), "nothing restored by a readiness check");
}

#[tokio::test]
async fn an_unfenceable_writer_that_answers_needs_approval_naming_the_split_brain_risk() {
    // The old writer is on its engine's default group, which cannot be made read-only.
    let w = world_with(endpoint(200, "{\"status\":\"ok\"}").await, true).await;
    w.lag(4.0).await;
    let report = w.readiness(&w.request).await.expect("ready, with approval");
    assert!(report.split_brain_approval, "{}", report.summary);
    let fence = report
        .checks
        .iter()
        .find(|c| c.name.starts_with("fence "))
        .expect("a fence check");
    assert!(
        fence.detail.starts_with("SPLIT-BRAIN RISK, needs approval"),
        "{}",
        fence.detail
    );

    // The scheduled check calls it not ready, with the fix.
    let mut scheduled = w.request.clone();
    scheduled["context"]["path"] = json!("readinessCheck");
    let report = w.readiness(&scheduled).await.expect("a report");
    assert!(!report.ready);
    assert!(
        report.summary.contains("isolationSecurityGroupId"),
        "{}",
        report.summary
    );
}

#[tokio::test]
async fn a_scheduled_check_is_not_ready_while_the_failover_depends_on_the_primary_unacknowledged() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(4.0).await;
    let mut request = w.request.clone();
    request["context"]["path"] = json!("readinessCheck");
    let report = w.readiness(&request).await.expect("a report");
    let stability = report
        .checks
        .iter()
        .find(|c| c.name == "static stability")
        .expect("checked");
    assert!(
        stability.passed,
        "the example acknowledges its dependencies: {}",
        stability.detail
    );

    request["context"]["plan"]["acknowledgedDependencies"] = json!([]);
    let report = w.readiness(&request).await.expect("a report");
    assert!(!report.ready);
    let stability = report
        .checks
        .iter()
        .find(|c| c.name == "static stability")
        .expect("checked");
    assert!(!stability.passed);
    assert!(
        stability.detail.contains("route53:ChangeResourceRecordSets (StartDnsFailover, us-east-1 control plane) depends on a global control plane homed in the primary region"),
        "{}",
        stability.detail
    );
}

#[tokio::test]
async fn readiness_finds_a_custom_action_whose_function_is_missing() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(4.0).await;
    let warm = rebound_tests::seed::function(&w.west_config, "orders-warm-caches")
        .await
        .expect("function");
    let mut request = w.request.clone();
    request["context"]["plan"]["customActions"] = json!([
        {"name": "warm-caches", "at": "afterServices", "functionArn": warm},
        {"name": "drain", "at": "beforeFailover",
         "functionArn": "arn:aws:lambda:us-west-2:123456789012:function:orders-drain"}
    ]);
    let err = w.readiness(&request).await.expect_err("a missing function");
    let text = err.to_string();
    assert!(
        text.contains(
            "custom action drain: no such function: arn:aws:lambda:us-west-2:123456789012:function:orders-drain"
        ),
        "{text}"
    );
    assert!(
        !text.contains("custom action warm-caches"),
        "the function that exists passes: {text}"
    );
    assert_eq!(w.untouched().await, untouched_state());
}

#[tokio::test]
async fn the_scheduled_check_publishes_its_rto_forecast_and_warns_past_the_target() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(4.0).await;
    let mut request = w.request.clone();
    request["context"]["path"] = json!("readinessCheck");
    let report = w.readiness(&request).await.expect("a report");
    let forecast = report
        .checks
        .iter()
        .find(|c| c.name == "forecast RTO")
        .expect("forecast");
    assert!(forecast.passed, "{}", forecast.detail);
    assert!(forecast.detail.contains("critical path: "), "{}", forecast.detail);
    // What moto's CloudWatch holds: both figures, per application.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&w.moto.config("us-west-2"));
    let listed = cloudwatch
        .list_metrics()
        .namespace("Rebound")
        .send()
        .await
        .expect("ListMetrics");
    let mut names: Vec<&str> = listed.metrics().iter().filter_map(|m| m.metric_name()).collect();
    names.sort();
    assert_eq!(names, ["ForecastRtoSeconds", "RtoTargetSeconds"]);
    assert!(listed.metrics().iter().all(|m| m
        .dimensions()
        .iter()
        .any(|d| d.name() == Some("Application") && d.value() == Some("orders"))));

    // A target the recovery cannot meet: the scheduled check is not ready and says why.
    request["context"]["plan"]["objectives"]["rtoSeconds"] = json!(120);
    request["context"]["plan"]["validation"]["deadlineSeconds"] = json!(120);
    let report = w.readiness(&request).await.expect("a report");
    assert!(!report.ready);
    assert!(
        report.summary.contains("forecast RTO: predicted RTO"),
        "{}",
        report.summary
    );
    assert!(report.summary.contains("EXCEEDS the target"), "{}", report.summary);
    assert_eq!(w.untouched().await, untouched_state());
}

/// The report's check called `name`.
fn named<'r>(report: &'r ReadinessReport, name: &str) -> &'r rebound_shared::context::Check {
    report
        .checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no {name} check in {report:?}"))
}

/// Publishes `RunningTaskCount` datapoints for `service` of `cluster`, `(hours ago, tasks)`.
async fn running_tasks(config: &aws_config::SdkConfig, cluster: &str, service: &str, points: &[(i64, f64)]) {
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

#[tokio::test]
async fn readiness_keeps_the_primarys_peak_and_the_recovery_runs_its_share_of_it() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(4.0).await;
    let mut request = w.request.clone();
    request["context"]["plan"]["services"] = json!([{
        "kind": "ecs", "cluster": "orders-usw2", "service": "orders-api",
        "capacity": {"percentOfPeak": 80, "floor": 2, "primaryName": "orders-use1/orders-api"}
    }]);
    let global = w.moto.config("us-east-1");
    // Its busiest hour in the last day was 10 tasks; 30 hours ago (out of the window), 40.
    running_tasks(&global, "orders-use1", "orders-api", &[(30, 40.0), (5, 10.0), (1, 4.0)]).await;

    let report = w.readiness(&request).await.expect("ready");
    let check = named(&report, "capacity from peak");
    assert!(check.passed, "{check:?}");
    assert_eq!(
        check.detail,
        "ecs:orders-usw2/orders-api: peak 10 in us-east-1 over 24 h: 8 (80 %, at least 2)"
    );
    // Kept in the recovery region, where the recovery reads it when the primary is gone.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&w.west_config);
    let plan: rebound_shared::plan::RecoveryPlan =
        serde_json::from_value(request["context"]["plan"].clone()).expect("plan");
    let services: Vec<&rebound_shared::plan::Service> = plan.services.iter().collect();
    let kept = rebound_shared::peaks::kept(&cloudwatch, "orders", &services, Utc::now())
        .await
        .expect("kept");
    assert_eq!(kept.get("ecs:orders-usw2/orders-api").map(|p| p.running), Some(10.0));

    // The recovery scales to 80 % of it, rounded up, saying where the number came from.
    let mut start = request.clone();
    start["action"] = json!("start");
    let result = w.steps.services.handle(start, Utc::now()).await.expect("scaled");
    let action = &result.actions[0];
    assert!(
        action
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with("80 % of the primary's peak of 10 (kept ") && d.ends_with("): 8")),
        "{action:?}"
    );
    let desired = w
        .ecs
        .describe_services()
        .cluster("orders-usw2")
        .services("orders-api")
        .send()
        .await
        .expect("describe")
        .services()[0]
        .desired_count();
    assert_eq!(desired, 8);

    // The primary gone: the kept peak is used, and said so.
    let mut down = RecoveryValidator::new(&w.moto.regions());
    down.primary_cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
        aws_sdk_cloudwatch::config::Builder::from(&global)
            .endpoint_url("http://127.0.0.1:9")
            .build(),
    );
    let w = World { validator: down, ..w };
    let report = w.readiness(&request).await.expect("ready on the kept peak");
    let check = named(&report, "capacity from peak");
    assert!(
        check.detail.contains("no peak read in us-east-1 now; the one kept at ")
            && check.detail.contains(": 10 gives 8 (80 %, at least 2)")
            && check.detail.contains("us-east-1 did not answer"),
        "{check:?}"
    );
}

/// A Fargate service of 0.5 vCPU tasks, running 1, in the recovery region.
async fn fargate_service(west: &aws_config::SdkConfig, name: &str) {
    use aws_sdk_ecs::types::{Compatibility, ContainerDefinition, LaunchType};
    let ecs = aws_sdk_ecs::Client::new(west);
    ecs.register_task_definition()
        .family(name)
        .cpu("512")
        .memory("1024")
        .requires_compatibilities(Compatibility::Fargate)
        .container_definitions(ContainerDefinition::builder().name("app").image("app:1").build())
        .send()
        .await
        .expect("task definition");
    ecs.create_service()
        .cluster("orders-usw2")
        .service_name(name)
        .task_definition(name)
        .launch_type(LaunchType::Fargate)
        .desired_count(1)
        .send()
        .await
        .expect("service");
}

/// The account's Fargate vCPUs in use, as Fargate publishes them in AWS/Usage.
async fn fargate_usage(west: &aws_config::SdkConfig, vcpus: f64) {
    let dimensions = [
        ("Service", "Fargate"),
        ("Type", "Resource"),
        ("Resource", "vCPU"),
        ("Class", "Standard/OnDemand"),
    ];
    seed::metric(west, "AWS/Usage", "ResourceCount", &dimensions, vcpus)
        .await
        .expect("usage");
}

#[tokio::test]
async fn readiness_is_not_ready_when_the_fargate_quota_leaves_no_room_for_the_plans_share_of_the_peak() {
    let w = world(endpoint(200, "{\"status\":\"ok\"}").await).await;
    w.lag(4.0).await;
    fargate_service(&w.west_config, "orders-checkout").await;
    let mut request = w.request.clone();
    request["context"]["plan"]["services"] = json!([{
        "kind": "ecs", "cluster": "orders-usw2", "service": "orders-checkout",
        "capacity": {"percentOfPeak": 80, "floor": 1}
    }]);
    running_tasks(
        &w.moto.config("us-east-1"),
        "orders-usw2",
        "orders-checkout",
        &[(2, 10.0)],
    )
    .await;
    // A quota Service Quotas does not answer is unknown: never passed, and it holds nothing.
    let report = w.readiness(&request).await.expect("ready");
    let unread = named(&report, "quota fargate/L-3032A538");
    assert!(unread.unknown && !unread.passed, "{unread:?}");
    assert!(unread.detail.contains("NoSuchResourceException"), "{unread:?}");
    // 4 vCPUs, 2.5 in use: 1.5 free, and 8 tasks of 0.5 vCPU (7 more) need 3.5.
    w.moto.set_quotas(&json!({"fargate/L-3032A538": 4})).expect("quota");
    fargate_usage(&w.west_config, 2.5).await;
    let err = w.readiness(&request).await.expect_err("not ready");
    let text = err.to_string();
    assert!(
        text.contains(
            "quota fargate/L-3032A538 (Fargate On-Demand vCPU resource count): short by 2 vCPU: needs 3.5 more, 4 - 2.5 used = 1.5 free; \
             ecs:orders-usw2/orders-checkout: 3 of 7 more fit (4 running, 40 % of its peak 10; the plan asks 80 %)"
        ),
        "{text}"
    );
    let desired = |ecs: aws_sdk_ecs::Client| async move {
        ecs.describe_services()
            .cluster("orders-usw2")
            .services("orders-checkout")
            .send()
            .await
            .expect("describe")
            .services()[0]
            .desired_count()
    };
    assert_eq!(desired(w.ecs.clone()).await, 1, "readiness changes nothing");

    // Room for it: ready, and the check says what it will use.
    w.moto.set_quotas(&json!({"fargate/L-3032A538": 8})).expect("quota");
    let report = w.readiness(&request).await.expect("ready");
    let quota = named(
        &report,
        "quota fargate/L-3032A538 (Fargate On-Demand vCPU resource count)",
    );
    assert!(quota.passed, "{quota:?}");
    assert_eq!(
        quota.detail,
        "needs 3.5 vCPU more (ecs:orders-usw2/orders-checkout +7 × 0.5 vCPU); 8 - 2.5 used = 5.5 free"
    );
}
