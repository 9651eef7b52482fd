//! `rebound drill`: a whole recovery rehearsed against moto's server. It seeds a two-region
//! application, injects the disaster, runs the real state machine through the real handlers,
//! verifies the end state in moto, and reports the timeline, RTO and RPO.

mod held;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, HealthCheckConfig, HealthCheckType, ResourceRecord,
    ResourceRecordSet, RrType,
};
use chrono::Utc;
use rebound_shared::aws::Regions;
use rebound_tests::faults::{Call, Fault, FaultProxy};
use rebound_tests::MotoServer;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::asl::{Approval, Interpreter, Timeline};
use crate::functions::{bind, Functions};

const PLAN: &str = include_str!("../../examples/plan.json");
const DEFINITION: &str = include_str!("../../statemachine/recovery.asl.json");
const PRIMARY: &str = "us-east-1";
const RECOVERY: &str = "us-west-2";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// The primary region fails: alarms fire, DNS, the database and services move to the recovery region.
    RegionOutage,
    /// AWS Health reports an Availability Zone failure in the primary region: the same failover.
    AzOutage,
    /// Bad writes reached the database: restore to a point before detection, never promote the
    /// replica that copied them.
    DataCorruption,
    /// A planned move with both regions healthy: the replica has caught up, no data is lost.
    Switchover,
    /// After a region-outage failover, the primary region is back: DNS returns to it and a
    /// replica built there from the recovery-region writer is promoted, with no data lost.
    Failback,
    /// One service in the primary region fails: only that service is restored in the recovery
    /// region; DNS and the database stay where they are.
    ServiceOutage,
    /// The scheduled read-only check: everything a failover would touch is checked, nothing
    /// changes, and nobody is notified while all is ready.
    ReadinessCheck,
    /// A security incident in the primary region: the failover waits for a human's approval
    /// (given at once in a drill), then runs.
    SecurityIncident,
    /// A region outage while the replica is 21 minutes behind (RPO target 15): the readiness
    /// check refuses, people are told why, and nothing changes.
    LaggingReplica,
    /// The primary region still answers, slowly (1.5 s a call), and RDS there throttles: the
    /// failover, the fence included, goes through it.
    DegradedPrimary,
    /// us-east-1, the primary, is gone with the Route 53 and IAM control planes homed there:
    /// every call signed for it is cut. DNS fails over in Route 53's data plane, through the
    /// alarm in us-west-2 that the primary records' health check follows.
    #[value(name = "us-east-1-outage")]
    UsEast1Outage,
}

impl Scenario {
    pub const ALL: [Scenario; 11] = [
        Scenario::RegionOutage,
        Scenario::AzOutage,
        Scenario::DataCorruption,
        Scenario::Switchover,
        Scenario::Failback,
        Scenario::ServiceOutage,
        Scenario::ReadinessCheck,
        Scenario::SecurityIncident,
        Scenario::LaggingReplica,
        Scenario::DegradedPrimary,
        Scenario::UsEast1Outage,
    ];

    /// Whether every primary-region API is cut once the alarms have fired (the fault proxy
    /// refuses its connections).
    fn cuts_the_primary(self) -> bool {
        matches!(self, Scenario::RegionOutage | Scenario::UsEast1Outage)
    }

    /// Whether DNS fails over without Route 53's control plane (`alarmHealthCheck` records).
    fn data_plane_dns(self) -> bool {
        self == Scenario::UsEast1Outage
    }

    /// The faults the scenario itself brings, from the moment the disaster is injected.
    pub fn faults(self) -> Vec<Fault> {
        // A region outage elsewhere than us-east-1 leaves the global control planes answering.
        let spared = ["route53", "iam", "sts"];
        match self {
            Scenario::UsEast1Outage => vec![Fault::reset().region(PRIMARY)],
            _ if self.cuts_the_primary() => vec![Fault::reset().region(PRIMARY).except(&spared)],
            Scenario::DegradedPrimary => vec![
                Fault::throttle().service("rds").region(PRIMARY).times(2),
                Fault::latency(1500).region(PRIMARY).except(&spared),
            ],
            _ => Vec::new(),
        }
    }

    /// Whether the recovery is meant to be refused (and nothing changed).
    fn refused(self) -> bool {
        self == Scenario::LaggingReplica
    }

    /// Whether traffic and the database move between regions.
    fn moves_region(self) -> bool {
        !matches!(
            self,
            Scenario::ServiceOutage | Scenario::ReadinessCheck | Scenario::LaggingReplica
        )
    }

    /// The path the detector should choose.
    fn expected_path(self) -> &'static str {
        match self {
            Scenario::ServiceOutage => "serviceRestore",
            Scenario::ReadinessCheck => "readinessCheck",
            _ => "failover",
        }
    }

    /// The replica's lag when the disaster strikes.
    fn replica_lag(self) -> f64 {
        match self {
            Scenario::Switchover => 0.0,
            Scenario::LaggingReplica => 1260.0,
            _ => 4.0,
        }
    }

    fn expected_type(self) -> &'static str {
        match self {
            Scenario::RegionOutage | Scenario::Switchover | Scenario::Failback => "regionOutage",
            Scenario::AzOutage => "azOutage",
            Scenario::DataCorruption => "dataCorruption",
            Scenario::ServiceOutage => "serviceOutage",
            Scenario::ReadinessCheck
            | Scenario::LaggingReplica
            | Scenario::DegradedPrimary
            | Scenario::UsEast1Outage => "regionOutage",
            Scenario::SecurityIncident => "securityIncident",
        }
    }
}

/// The recovery table: lease, cooldown and audit records.
pub const TABLE: &str = "rebound-orders-recovery";

/// The replica a failback promotes in the primary region.
const FAILBACK_DB: &str = "orders-db-use1";
/// Its own parameter group: the old primary's was made read-only by the failover's fence.
const FAILBACK_PARAMETER_GROUP: &str = "orders-db-use1-params";

/// The alarm, in the recovery region, that the primary records' health check follows when DNS
/// fails over in Route 53's data plane.
const GATE: &str = "orders-primary-gate";

/// How long before the drill the corruption was detected.
const CORRUPTION_MINUTES: i64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error("{0}")]
    Moto(#[from] rebound_tests::HarnessError),
    #[error("seeding {what}: {message}")]
    Seed { what: &'static str, message: String },
    #[error("reading {what} back from moto: {message}")]
    Read { what: &'static str, message: String },
    #[error("writing the report: {0}")]
    Report(#[from] std::io::Error),
}

fn seed(what: &'static str) -> impl Fn(String) -> DrillError {
    move |message| DrillError::Seed { what, message }
}

/// A local HTTP endpoint answering every request with `status` and `body`.
async fn endpoint(status: u16, body: &'static str) -> Result<SocketAddr, DrillError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| seed("a local endpoint")(e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| seed("a local endpoint")(e.to_string()))?;
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let reply = format!("HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    Ok(addr)
}

/// What the seeded application is called in moto.
struct World {
    zone: String,
    health_check: String,
    /// The alarm the primary records' health check follows, for data-plane DNS.
    gate: Option<String>,
    queue_url: String,
    plan: Value,
}

fn record(name: &str, kind: RrType, target: Result<RecordBody, String>) -> Result<ResourceRecordSet, String> {
    let builder = ResourceRecordSet::builder().name(name).r#type(kind);
    let builder = match target? {
        RecordBody::Value(v, ttl) => builder
            .ttl(ttl)
            .resource_records(ResourceRecord::builder().value(v).build().map_err(|e| e.to_string())?),
        RecordBody::Alias(zone, dns) => builder.alias_target(
            AliasTarget::builder()
                .hosted_zone_id(zone)
                .dns_name(dns)
                .evaluate_target_health(true)
                .build()
                .map_err(|e| e.to_string())?,
        ),
    };
    builder.build().map_err(|e| e.to_string())
}

enum RecordBody {
    Value(String, i64),
    Alias(String, String),
}

async fn seed_world(
    scenario: Scenario,
    global: &SdkConfig,
    recovery: &SdkConfig,
    health_url: &str,
    primary_health_url: &str,
) -> Result<World, DrillError> {
    let mut plan: Value = serde_json::from_str(PLAN).map_err(|e| seed("the plan")(e.to_string()))?;
    let primary_config = rebound_shared::aws::in_region(global, PRIMARY);

    // DNS: the zone, its records pointing at the primary, and the primary's health check.
    let route53 = aws_sdk_route53::Client::new(global);
    let zone = route53
        .create_hosted_zone()
        .name("orders.example.com")
        .caller_reference(format!("drill-{}", Utc::now().timestamp_millis()))
        .send()
        .await
        .map_err(|e| seed("the hosted zone")(format!("{e:?}")))?;
    let zone = zone
        .hosted_zone()
        .map(|z| z.id().trim_start_matches("/hostedzone/").to_string())
        .ok_or_else(|| seed("the hosted zone")("no id".into()))?;
    let check = route53
        .create_health_check()
        .caller_reference(format!("drill-pay-{}", Utc::now().timestamp_millis()))
        .health_check_config(
            HealthCheckConfig::builder()
                .r#type(HealthCheckType::Https)
                .fully_qualified_domain_name("pay-use1.orders.example.com")
                .resource_path("/health")
                .build()
                .map_err(|e| seed("the health check")(e.to_string()))?,
        )
        .send()
        .await
        .map_err(|e| seed("the health check")(format!("{e:?}")))?;
    let health_check = check
        .health_check()
        .map(|h| h.id().to_string())
        .ok_or_else(|| seed("the health check")("no id".into()))?;
    let records = [
        record(
            "api.orders.example.com.",
            RrType::Cname,
            Ok(RecordBody::Value("orders-api-use1.orders.example.com".into(), 60)),
        ),
        record(
            "www.orders.example.com.",
            RrType::A,
            Ok(RecordBody::Alias(
                "Z35SXDOTRQ7X7K".into(),
                "orders-web-use1-1234567890.us-east-1.elb.amazonaws.com.".into(),
            )),
        ),
        record(
            "pay.orders.example.com.",
            RrType::A,
            Ok(RecordBody::Value("10.20.0.10".into(), 60)),
        ),
    ];
    let mut batch = ChangeBatch::builder();
    for r in records {
        let change = Change::builder()
            .action(ChangeAction::Create)
            .resource_record_set(r.map_err(seed("records"))?)
            .build()
            .map_err(|e| seed("records")(e.to_string()))?;
        batch = batch.changes(change);
    }
    route53
        .change_resource_record_sets()
        .hosted_zone_id(&zone)
        .change_batch(batch.build().map_err(|e| seed("records")(e.to_string()))?)
        .send()
        .await
        .map_err(|e| seed("records")(format!("{e:?}")))?;

    // The primary database and its cross-region read replica (MySQL: its replicas keep backups,
    // so a corrupted replica can be restored to a point in time).
    let primary_arn = rebound_tests::seed::database_with_replica(&primary_config, recovery, "mysql")
        .await
        .map_err(seed("the databases"))?;
    rebound_tests::seed::replica_lag(recovery, rebound_tests::seed::REPLICA_DB, scenario.replica_lag())
        .await
        .map_err(seed("replica lag"))?;

    // Warm standby: services running at minimum in the recovery region.
    rebound_tests::seed::ecs_services(recovery, &[("orders-api", 1), ("orders-worker", 1)])
        .await
        .map_err(seed("ECS services"))?;
    rebound_tests::seed::auto_scaling_group(recovery, 1, 1, 2)
        .await
        .map_err(seed("the Auto Scaling group"))?;

    // Notifications, read back through a subscribed queue.
    let sns = aws_sdk_sns::Client::new(recovery);
    let topic = sns
        .create_topic()
        .name("rebound-orders")
        .send()
        .await
        .map_err(|e| seed("the topic")(format!("{e:?}")))?;
    let topic_arn = topic
        .topic_arn()
        .map(str::to_string)
        .ok_or_else(|| seed("the topic")("no ARN".into()))?;
    let sqs = aws_sdk_sqs::Client::new(recovery);
    let queue = sqs
        .create_queue()
        .queue_name("rebound-orders-drill")
        .send()
        .await
        .map_err(|e| seed("the queue")(format!("{e:?}")))?;
    let queue_url = queue
        .queue_url()
        .map(str::to_string)
        .ok_or_else(|| seed("the queue")("no URL".into()))?;
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| seed("the queue")(format!("{e:?}")))?;
    let queue_arn = attrs
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| seed("the queue")("no ARN".into()))?;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .map_err(|e| seed("the subscription")(format!("{e:?}")))?;

    // The alarms the plan watches, in the primary region, quiet before the disaster; and its
    // canary's availability, healthy.
    for alarm in ["orders-api-5xx-rate", "orders-alb-unhealthy-hosts"] {
        rebound_tests::seed::alarm(&primary_config, alarm, "OK")
            .await
            .map_err(seed("alarms"))?;
    }
    rebound_tests::seed::metric(
        &primary_config,
        "Orders/Synthetics",
        "SuccessPercent",
        &[("Canary", "orders-checkout")],
        99.8,
    )
    .await
    .map_err(seed("the canary metric"))?;

    rebound_tests::seed::recovery_table(recovery, TABLE)
        .await
        .map_err(seed("the recovery table"))?;

    // The plan, pointed at what moto named things, stored where the detector reads it.
    for record in plan["dns"].as_array_mut().into_iter().flatten() {
        record["hostedZoneId"] = json!(zone);
        if record.get("healthCheckId").is_some() {
            record["healthCheckId"] = json!(health_check);
        }
    }
    plan["databases"][0]["sourceIdentifier"] = json!(primary_arn);
    if scenario == Scenario::DataCorruption {
        // The replica copied the bad writes: restore it to before they began, as a new instance.
        plan["databases"] = json!([{"kind": "pointInTimeRestore", "identifier": "orders-db-restored", "sourceIdentifier": "orders-db-usw2"}]);
    }
    plan["notification"]["topicArn"] = json!(topic_arn);
    if scenario.cuts_the_primary() {
        // Once the region is gone its alarms cannot be re-read: for this plan an unreadable
        // primary signal is evidence of the outage.
        plan["detection"]["unknownSignals"] = json!("failing");
    }
    if plan["databases"][0]["kind"] == "readReplica" {
        plan["databases"][0]["failbackIdentifier"] = json!(FAILBACK_DB);
    }
    plan["validation"]["probes"] = json!([
        {"kind": "http", "url": health_url, "expectedStatus": 200, "expectedBody": "\"status\":\"ok\""},
        {"kind": "dns", "hostedZoneId": zone, "name": "api.orders.example.com.", "type": "CNAME", "expected": ["orders-api-usw2.orders.example.com"]},
        {"kind": "http", "url": primary_health_url, "expectedStatus": 200, "expectedBody": "\"status\":\"ok\"", "when": "failback"},
        {"kind": "dns", "hostedZoneId": zone, "name": "api.orders.example.com.", "type": "CNAME", "expected": ["orders-api-use1.orders.example.com"], "when": "failback"}
    ]);
    let gate = if scenario.data_plane_dns() {
        // Pre-provisioned failover records whose primary health check follows an alarm in the
        // recovery region: the failover drives that alarm and calls nothing in Route 53, and
        // validation reads the alarm rather than the records (DNS probes read Route 53's control
        // plane).
        let health_check = rebound_tests::seed::health_check_gate(global, recovery, GATE)
            .await
            .map_err(seed("the health check's alarm"))?;
        for record in plan["dns"].as_array_mut().into_iter().flatten() {
            let (zone, name, rtype) = (
                record["hostedZoneId"].clone(),
                record["name"].clone(),
                record["type"].clone(),
            );
            *record = json!({"hostedZoneId": zone, "name": name, "type": rtype, "mode": "alarmHealthCheck",
                             "alarmName": GATE, "healthCheckId": health_check});
        }
        if let Some(probes) = plan["validation"]["probes"].as_array_mut() {
            probes.retain(|p| p["kind"] != "dns");
        }
        Some(GATE.to_string())
    } else {
        None
    };
    rebound_tests::seed::plan_parameter(recovery, "/rebound/orders/plan", &plan.to_string())
        .await
        .map_err(seed("the plan parameter"))?;
    Ok(World {
        zone,
        health_check,
        gate,
        queue_url,
        plan,
    })
}

/// Injects the disaster and returns the execution input that starts the recovery: the event
/// EventBridge would deliver, or an operator's manual start.
async fn inject(scenario: Scenario, global: &SdkConfig) -> Result<Value, DrillError> {
    let now = Utc::now();
    match scenario {
        Scenario::RegionOutage | Scenario::LaggingReplica | Scenario::DegradedPrimary | Scenario::UsEast1Outage => {
            inject_region_outage(global).await
        }
        Scenario::SecurityIncident => Ok(json!({
            "reason": "Credentials for the orders account leaked; us-east-1 workloads isolated (incident SEC-118)",
            "disasterType": "securityIncident",
            "severity": "critical",
        })),
        Scenario::AzOutage => {
            inject_region_outage(global).await?;
            Ok(json!({
                "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "AWS Health Event", "source": "aws.health",
                "account": "123456789012", "time": now.to_rfc3339(), "region": PRIMARY, "resources": [],
                "detail": {
                    "eventArn": format!("arn:aws:health:{PRIMARY}::event/EC2/AWS_EC2_AZ_OPERATIONAL_ISSUE/drill-{}", now.timestamp()),
                    "service": "EC2", "eventTypeCode": "AWS_EC2_AZ_OPERATIONAL_ISSUE", "eventTypeCategory": "issue",
                    "statusCode": "open", "eventRegion": PRIMARY, "startTime": now.to_rfc2822(),
                    "eventDescription": [{"language": "en_US", "latestDescription": "We are investigating connectivity issues affecting instances in a single Availability Zone (use1-az2) in the US-EAST-1 Region."}],
                    "affectedEntities": []
                }
            }))
        }
        Scenario::DataCorruption => Ok(json!({
            "reason": "Orders table overwritten by a faulty migration (incident INC-2211)",
            "disasterType": "dataCorruption",
            "severity": "critical",
            "detectedAt": (now - chrono::Duration::minutes(CORRUPTION_MINUTES)).to_rfc3339(),
        })),
        Scenario::Switchover => Ok(json!({
            "mode": "switchover",
            "reason": "Planned move to us-west-2 ahead of us-east-1 maintenance (change CHG-1042)",
        })),
        Scenario::ServiceOutage => Ok(json!({
            "reason": "orders-worker tasks crash-looping in us-east-1 (incident INC-2230)",
            "disasterType": "serviceOutage",
            "affectedServices": ["orders-worker"],
        })),
        Scenario::ReadinessCheck => Ok(json!({
            "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "Scheduled Event",
            "source": "aws.events", "account": "123456789012", "time": now.to_rfc3339(), "region": RECOVERY,
            "resources": [format!("arn:aws:events:{RECOVERY}:123456789012:rule/rebound-orders-ReadinessCheck")],
            "detail": {}
        })),
        Scenario::Failback => Ok(json!({
            "mode": "failback",
            "reason": "us-east-1 healthy for 24 h; returning (change CHG-1043)",
            // The drill fails back seconds after the failover, inside the plan's cooldown.
            "force": true,
        })),
    }
}

async fn inject_region_outage(global: &SdkConfig) -> Result<Value, DrillError> {
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&rebound_shared::aws::in_region(global, PRIMARY));
    let reason = "Threshold Crossed: 3 out of the last 3 datapoints were greater than the threshold (50.0).";
    for alarm in ["orders-api-5xx-rate", "orders-alb-unhealthy-hosts"] {
        cloudwatch
            .set_alarm_state()
            .alarm_name(alarm)
            .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
            .state_reason(reason)
            .send()
            .await
            .map_err(|e| seed("alarm state")(format!("{e:?}")))?;
    }
    let now = Utc::now();
    Ok(json!({
        "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch", "account": "123456789012", "time": now.to_rfc3339(), "region": PRIMARY,
        "resources": [format!("arn:aws:cloudwatch:{PRIMARY}:123456789012:alarm:orders-api-5xx-rate")],
        "detail": {
            "alarmName": "orders-api-5xx-rate",
            "state": {"value": "ALARM", "reason": reason, "timestamp": now.to_rfc3339()},
            "previousState": {"value": "OK", "reason": "Threshold Crossed: 0 out of the last 3 datapoints were greater than the threshold (50.0).", "timestamp": now.to_rfc3339()},
            "configuration": {"description": "5xx rate of the orders API above 50 %"}
        }
    }))
}

/// One verified fact about the end state.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verified {
    pub what: String,
    pub expected: String,
    pub found: String,
    pub ok: bool,
}

fn fact(what: &str, expected: impl Into<String>, found: impl Into<String>) -> Verified {
    let (expected, found) = (expected.into(), found.into());
    Verified {
        what: what.into(),
        ok: expected == found,
        expected,
        found,
    }
}

async fn verify(
    scenario: Scenario,
    output: &Value,
    global: &SdkConfig,
    recovery: &SdkConfig,
    world: &World,
) -> Result<(Vec<Verified>, Option<Value>), DrillError> {
    let read = |what: &'static str| move |e: String| DrillError::Read { what, message: e };
    let route53 = aws_sdk_route53::Client::new(global);
    let records = route53
        .list_resource_record_sets()
        .hosted_zone_id(&world.zone)
        .send()
        .await
        .map_err(|e| read("records")(format!("{e:?}")))?;
    let find = |name: &str| {
        records
            .resource_record_sets()
            .iter()
            .find(|r| r.name() == name)
            .cloned()
    };
    let api = find("api.orders.example.com.")
        .and_then(|r| r.resource_records().first().map(|v| v.value().to_string()))
        .unwrap_or_default();
    let www = find("www.orders.example.com.")
        .and_then(|r| r.alias_target().map(|a| a.dns_name().to_string()))
        .unwrap_or_default();
    let check = route53
        .get_health_check()
        .health_check_id(&world.health_check)
        .send()
        .await
        .map_err(|e| read("the health check")(format!("{e:?}")))?;
    let inverted = check
        .health_check()
        .and_then(|h| h.health_check_config())
        .and_then(|c| c.inverted())
        .unwrap_or(false);
    let rds = aws_sdk_rds::Client::new(recovery);
    let back = scenario == Scenario::Failback;
    let (writer_client, writer_id) = if back {
        (aws_sdk_rds::Client::new(global), FAILBACK_DB)
    } else {
        (rds.clone(), "orders-db-usw2")
    };
    let db = writer_client
        .describe_db_instances()
        .db_instance_identifier(writer_id)
        .send()
        .await
        .map_err(|e| read("the database")(format!("{e:?}")))?;
    let db = db.db_instances().first().cloned();
    let replica_of = db
        .as_ref()
        .and_then(|d| d.read_replica_source_db_instance_identifier().map(str::to_string));
    let ecs = aws_sdk_ecs::Client::new(recovery);
    let services = ecs
        .describe_services()
        .cluster("orders-usw2")
        .services("orders-api")
        .services("orders-worker")
        .send()
        .await
        .map_err(|e| read("services")(format!("{e:?}")))?;
    let counts: Vec<String> = services
        .services()
        .iter()
        .map(|s| {
            // moto starts no tasks for a service it was never asked to scale: for those, only
            // the desired count says that nothing touched them.
            if s.running_count() == 0 && !scenario.moves_region() {
                format!("desired {}", s.desired_count())
            } else {
                format!("{}/{}", s.running_count(), s.desired_count())
            }
        })
        .collect();
    let asg = aws_sdk_autoscaling::Client::new(recovery)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("orders-web-usw2")
        .send()
        .await
        .map_err(|e| read("the Auto Scaling group")(format!("{e:?}")))?;
    let asg = asg
        .auto_scaling_groups()
        .first()
        .map(|g| {
            format!(
                "{} in service, desired {}",
                g.instances().len(),
                g.desired_capacity().unwrap_or(0)
            )
        })
        .unwrap_or_default();
    let sqs = aws_sdk_sqs::Client::new(recovery);
    let messages = sqs
        .receive_message()
        .queue_url(&world.queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .map_err(|e| read("notifications")(format!("{e:?}")))?;
    let envelopes: Vec<Value> = messages
        .messages()
        .iter()
        .filter_map(|m| m.body().and_then(|b| serde_json::from_str(b).ok()))
        .collect();
    // The success notification of this execution (a failback follows a failover's).
    let mode = output.get("mode").cloned().unwrap_or(Value::Null);
    let success = envelopes
        .iter()
        .find(|e| {
            let body: Value = e["Message"]
                .as_str()
                .and_then(|m| serde_json::from_str(m).ok())
                .unwrap_or(Value::Null);
            e["MessageAttributes"]["status"]["Value"] == "SUCCEEDED" && body["mode"] == mode
        })
        .cloned()
        .map(|mut success| {
            // Copies of one notification (a publish retried after a lost answer) share its id.
            let id = &success["MessageAttributes"]["notificationId"]["Value"];
            let copies = envelopes
                .iter()
                .filter(|e| &e["MessageAttributes"]["notificationId"]["Value"] == id)
                .count();
            success["copies"] = json!(copies);
            success
        });
    let moved = scenario.moves_region();
    // Data-plane DNS leaves the records as they are: Route 53 answers with the failover record
    // once the primary's health check follows its alarm into ALARM.
    let (api_want, www_want) = if back || !moved || world.gate.is_some() {
        (
            "orders-api-use1.orders.example.com",
            "orders-web-use1-1234567890.us-east-1.elb.amazonaws.com.",
        )
    } else {
        (
            "orders-api-usw2.orders.example.com",
            "orders-web-usw2-0987654321.us-west-2.elb.amazonaws.com.",
        )
    };
    let promoted = moved && scenario != Scenario::DataCorruption;
    let db_fact = if promoted {
        fact(
            &format!("{writer_id} is a standalone writer"),
            "available, not a replica",
            match (&db, &replica_of) {
                (Some(d), None) => format!("{}, not a replica", d.db_instance_status().unwrap_or("?")),
                (Some(_), Some(src)) => format!("still a replica of {src}"),
                (None, _) => "missing".into(),
            },
        )
    } else {
        fact(
            "orders-db-usw2 was not promoted",
            "still a replica",
            if replica_of.is_some() {
                "still a replica"
            } else {
                "promoted"
            },
        )
    };
    // The split-brain fence: the writer being left is read-only once the other is promoted.
    let (fenced_client, fenced_name) = if back {
        (aws_sdk_rds::Client::new(recovery), "orders-db-usw2 fenced read-only")
    } else {
        (
            aws_sdk_rds::Client::new(&rebound_shared::aws::in_region(global, PRIMARY)),
            "orders-db fenced read-only",
        )
    };
    let read_only = fenced_client
        .describe_db_parameters()
        .db_parameter_group_name(rebound_tests::seed::PARAMETER_GROUP)
        .send()
        .await
        .map_err(|e| read("the parameter group")(format!("{e:?}")))?
        .parameters()
        .iter()
        .find(|p| p.parameter_name() == Some("read_only"))
        .and_then(|p| p.parameter_value().map(str::to_string))
        .unwrap_or_else(|| "unset".into());
    let (ecs_want, asg_want) = match scenario {
        Scenario::ServiceOutage => ("desired 1, 3/3", "1 in service, desired 1"),
        Scenario::ReadinessCheck | Scenario::LaggingReplica => ("desired 1, desired 1", "1 in service, desired 1"),
        _ => ("6/6, 3/3", "4 in service, desired 4"),
    };
    let mut told: Vec<String> = envelopes
        .iter()
        .filter_map(|e| e["MessageAttributes"]["status"]["Value"].as_str().map(str::to_string))
        .collect();
    told.sort();
    let facts = vec![
        fact("api.orders.example.com CNAME", api_want, api),
        fact("www.orders.example.com alias", www_want, www),
        match &world.gate {
            Some(gate) => fact(
                &format!("{gate} (the health check's alarm)"),
                if moved && !back { "ALARM" } else { "OK" },
                gate_state(recovery, gate).await?,
            ),
            None => fact(
                "pay health check inverted",
                (moved && !back).to_string(),
                inverted.to_string(),
            ),
        },
        if scenario.refused() {
            fact(
                "recovery refused with",
                "Rebound.PreconditionFailed",
                output
                    .pointer("/error/Error")
                    .and_then(Value::as_str)
                    .unwrap_or("no error"),
            )
        } else {
            fact(
                "disaster classified",
                scenario.expected_type(),
                output
                    .pointer("/event/disasterType")
                    .and_then(Value::as_str)
                    .unwrap_or("none"),
            )
        },
        if scenario.refused() {
            let cause = output.pointer("/error/Cause").and_then(Value::as_str).unwrap_or("");
            fact(
                "the refusal names the lag",
                "yes",
                if cause.contains("replica lag is 1260 s") {
                    "yes"
                } else {
                    cause
                },
            )
        } else {
            fact(
                "recovery path",
                scenario.expected_path(),
                output.get("path").and_then(Value::as_str).unwrap_or("none"),
            )
        },
        db_fact,
        if scenario.cuts_the_primary() {
            // Its region is gone: nothing could be fenced, and people must be told so.
            let reported = success
                .as_ref()
                .and_then(|e| e["Message"].as_str())
                .and_then(|m| serde_json::from_str::<Value>(m).ok())
                .is_some_and(|body| {
                    body["unfencedWriters"]
                        .as_array()
                        .is_some_and(|w| w.iter().any(|r| r.as_str().is_some_and(|r| r.contains("orders-db"))))
                });
            fact(
                "orders-db unreachable: unchanged, told NOT FENCED",
                "unset, told",
                format!("{read_only}, {}", if reported { "told" } else { "not told" }),
            )
        } else {
            fact(fenced_name, if promoted { "1" } else { "unset" }, read_only)
        },
        fact("ECS running/desired (api, worker)", ecs_want, counts.join(", ")),
        fact("orders-web-usw2", asg_want, asg),
        if scenario == Scenario::ReadinessCheck {
            fact(
                "notifications (none while ready)",
                "none",
                if told.is_empty() {
                    "none".into()
                } else {
                    told.join(", ")
                },
            )
        } else if scenario.refused() {
            fact("notifications", "FAILED", told.join(", "))
        } else if scenario == Scenario::SecurityIncident {
            fact("notifications", "AWAITING APPROVAL, SUCCEEDED", told.join(", "))
        } else {
            fact(
                "success notification delivered",
                "yes",
                if success.is_some() { "yes" } else { "no" },
            )
        },
    ];
    let mut facts = facts;
    if scenario == Scenario::DataCorruption {
        let restored = rds
            .describe_db_instances()
            .db_instance_identifier("orders-db-restored")
            .send()
            .await;
        let state = match restored {
            Ok(out) => out
                .db_instances()
                .first()
                .map(|d| {
                    format!(
                        "{}, writer: {}",
                        d.db_instance_status().unwrap_or("?"),
                        d.read_replica_source_db_instance_identifier().is_none()
                    )
                })
                .unwrap_or_else(|| "missing".into()),
            Err(e) => format!(
                "missing ({})",
                aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e).unwrap_or("error")
            ),
        };
        facts.push(fact(
            "orders-db-restored to before the corruption",
            "available, writer: true",
            state,
        ));
    }
    Ok((facts, success))
}

/// An alarm's state, as CloudWatch in the recovery region holds it.
async fn gate_state(recovery: &SdkConfig, gate: &str) -> Result<String, DrillError> {
    let out = aws_sdk_cloudwatch::Client::new(recovery)
        .describe_alarms()
        .alarm_names(gate)
        .send()
        .await
        .map_err(|e| DrillError::Read {
            what: "the health check's alarm",
            message: format!("{e:?}"),
        })?;
    Ok(out
        .metric_alarms()
        .first()
        .and_then(|a| a.state_value())
        .map_or_else(|| "missing".into(), |s| s.as_str().to_string()))
}

/// Runs the drill and prints and writes its report.
pub async fn main(scenario: Scenario, time_scale: f64, report_dir: &Path) -> ExitCode {
    match drill(scenario, time_scale, report_dir).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("rebound drill: {e}");
            ExitCode::from(2)
        }
    }
}

/// A seeded application in a private moto, ready for the disaster to be injected.
pub struct Stage {
    pub moto: MotoServer,
    /// The primary region's configuration (and the global services').
    pub global: SdkConfig,
    pub recovery: SdkConfig,
    world: World,
    primary_health: SocketAddr,
}

/// Where the drill keeps the plan, for `PLAN_LOCATION`.
pub const PLAN_LOCATION: &str = "ssm:/rebound/orders/plan";

impl Stage {
    /// Starts moto and the local endpoints, and seeds the application for `scenario`.
    pub async fn new(scenario: Scenario) -> Result<Stage, DrillError> {
        let moto = MotoServer::start()?;
        let global = moto.config(PRIMARY);
        let recovery = moto.config(RECOVERY);
        let recovery_health = endpoint(200, "{\"status\":\"ok\",\"region\":\"us-west-2\"}").await?;
        let primary_health = endpoint(503, "{\"status\":\"unavailable\",\"region\":\"us-east-1\"}").await?;
        eprintln!(
            "drill: seeding a two-region application at {} (primary {PRIMARY}, recovery {RECOVERY})",
            moto.endpoint()
        );
        // The primary's health endpoint once the region is repaired, probed by a failback.
        let primary_repaired = endpoint(200, "{\"status\":\"ok\",\"region\":\"us-east-1\"}").await?;
        let world = seed_world(
            scenario,
            &global,
            &recovery,
            &format!("http://{recovery_health}/health"),
            &format!("http://{primary_repaired}/health"),
        )
        .await?;
        Ok(Stage {
            moto,
            global,
            recovery,
            world,
            primary_health,
        })
    }

    /// The SQS queue subscribed to the application's topic: every notification lands there.
    pub fn queue_url(&self) -> &str {
        &self.world.queue_url
    }

    /// Injects the disaster; returns the execution input that starts the recovery.
    pub async fn inject(&self, scenario: Scenario) -> Result<Value, DrillError> {
        inject(scenario, &self.global).await
    }
}

pub async fn drill(scenario: Scenario, time_scale: f64, report_dir: &Path) -> Result<bool, DrillError> {
    drill_with(scenario, time_scale, report_dir, &[])
        .await
        .map(|(verified, _)| verified)
}

/// A drill whose AWS calls go through a fault proxy with `faults` (set once the disaster is
/// injected); seeding and the end-state checks read moto directly. Returns whether it was
/// verified, and the report.
pub async fn drill_with(
    scenario: Scenario,
    time_scale: f64,
    report_dir: &Path,
    faults: &[Fault],
) -> Result<(bool, Value), DrillError> {
    eprintln!("drill {scenario:?}: starting moto_server");
    let stage = Stage::new(scenario).await?;
    let Stage {
        moto,
        global,
        recovery,
        world,
        primary_health,
    } = stage;
    let mut faults = faults.to_vec();
    faults.extend(scenario.faults());
    let proxy = if faults.is_empty() {
        None
    } else {
        Some(FaultProxy::start(&moto)?)
    };
    let acting = match &proxy {
        Some(p) => Regions {
            primary: p.config(PRIMARY),
            recovery: p.config(RECOVERY),
        },
        None => Regions {
            primary: global.clone(),
            recovery: recovery.clone(),
        },
    };
    let functions = Arc::new(Functions::new(&acting, Some(PLAN_LOCATION.into()), Some(TABLE.into())));
    let definition: Value = serde_json::from_str(DEFINITION).map_err(|e| seed("the definition")(e.to_string()))?;
    if scenario == Scenario::Failback {
        eprintln!("drill: first a region-outage failover");
        let event = inject(Scenario::RegionOutage, &global).await?;
        let name = crate::asl::unique_execution_name("drill-failover");
        if let (Err(e), _) = execute(functions.clone(), time_scale, &definition, event, &name).await {
            eprintln!("drill: the failover before the failback failed: {e}");
            return Ok((false, json!({ "error": e })));
        }
        eprintln!("drill: us-east-1 is back: a replica of the recovery-region writer is built there and catches up");
        prepare_failback(&global, &recovery).await?;
    } else {
        eprintln!("drill: the primary endpoint http://{primary_health}/health answers 503");
    }
    eprintln!("drill: injecting {scenario:?}");
    let event = inject(scenario, &global).await?;
    if let Some(p) = &proxy {
        eprintln!(
            "drill: faults from now on: {}",
            serde_json::to_string(&faults).unwrap_or_default()
        );
        p.set(&faults)?;
    }
    let name = crate::asl::unique_execution_name("drill");
    let (outcome, timeline) = execute(functions, time_scale, &definition, event, &name).await;
    let calls = proxy.as_ref().map(FaultProxy::calls).unwrap_or_default();

    let output = match &outcome {
        Ok(output) => output.clone(),
        Err(e) => json!({ "error": e }),
    };
    let (facts, notification) = verify(scenario, &output, &global, &recovery, &world).await?;
    let verified = outcome.is_ok() != scenario.refused() && facts.iter().all(|f| f.ok);
    let report = json!({
        "scenario": format!("{scenario:?}"),
        "execution": name,
        "succeeded": outcome.is_ok(),
        "verified": verified,
        "error": outcome.as_ref().err(),
        "timeline": timeline,
        "interpreterMs": timeline.interpreter_ms(),
        "rto": output.pointer("/results/validation/rto"),
        "rpo": output.pointer("/results/validation/rpo"),
        // Checks that could not be read (the failed region's side): not counted as passed.
        "unknownChecks": output
            .pointer("/results/validation/checks")
            .and_then(Value::as_array)
            .map(|checks| checks.iter().filter(|c| c["unknown"] == true).cloned().collect::<Vec<_>>())
            .unwrap_or_default(),
        "actions": actions(&output),
        "endState": facts,
        "notification": notification.as_ref().map(|n| json!({"subject": n["Subject"], "attributes": n["MessageAttributes"], "copies": n["copies"]})),
        "plan": world.plan,
        "faults": faults,
        "faultedCalls": calls.iter().filter(|c| c.fault.is_some()).collect::<Vec<_>>(),
        "faultedOperations": serde_json::from_value::<rebound_shared::plan::RecoveryPlan>(world.plan.clone())
            .map(|plan| held::explain(&plan, &calls))
            .unwrap_or_default(),
        "apiCalls": call_counts(&calls),
    });
    print_summary(&report, &timeline, &facts);
    std::fs::create_dir_all(report_dir)?;
    let stem = report_dir.join(&name);
    std::fs::write(
        stem.with_extension("json"),
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    )?;
    std::fs::write(stem.with_extension("html"), html(&report, &timeline))?;
    eprintln!(
        "report: {} and {}",
        stem.with_extension("json").display(),
        stem.with_extension("html").display()
    );
    Ok((verified, report))
}

/// How many calls of each operation passed the fault proxy, as `service:Operation`.
fn call_counts(calls: &[Call]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for c in calls {
        let key = format!(
            "{}:{}",
            c.service.as_deref().unwrap_or("?"),
            c.operation.as_deref().unwrap_or("?")
        );
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// Runs the state machine once through the in-process handlers.
async fn execute(
    functions: Arc<Functions>,
    time_scale: f64,
    definition: &Value,
    input: Value,
    name: &str,
) -> (Result<Value, crate::asl::StateError>, Timeline) {
    let (tasks, substitutions) = bind(functions);
    let mut interpreter = Interpreter::new(tasks, substitutions);
    interpreter.time_scale = time_scale;
    interpreter.verbose = true;
    interpreter.approval = Approval::Auto;
    eprintln!("drill: running statemachine/recovery.asl.json as execution {name}");
    let outcome = interpreter.execute(definition, input, name).await;
    (outcome, interpreter.timeline())
}

/// After a failover: the primary region is back, a replica of the recovery-region writer is
/// built there and has caught up, and the primary's alarms are OK again.
async fn prepare_failback(global: &SdkConfig, recovery: &SdkConfig) -> Result<(), DrillError> {
    let primary = rebound_shared::aws::in_region(global, PRIMARY);
    let writer = aws_sdk_rds::Client::new(recovery)
        .describe_db_instances()
        .db_instance_identifier(rebound_tests::seed::REPLICA_DB)
        .send()
        .await
        .map_err(|e| seed("the failback replica")(format!("{e:?}")))?;
    let writer_arn = writer
        .db_instances()
        .first()
        .and_then(|d| d.db_instance_arn())
        .map(str::to_string)
        .ok_or_else(|| seed("the failback replica")("no writer in the recovery region".into()))?;
    rebound_tests::seed::parameter_group(&primary, FAILBACK_PARAMETER_GROUP, "mysql")
        .await
        .map_err(seed("the failback replica's parameter group"))?;
    aws_sdk_rds::Client::new(&primary)
        .create_db_instance_read_replica()
        .db_instance_identifier(FAILBACK_DB)
        .db_parameter_group_name(FAILBACK_PARAMETER_GROUP)
        .source_db_instance_identifier(&writer_arn)
        .db_instance_class("db.r6g.large")
        .send()
        .await
        .map_err(|e| seed("the failback replica")(format!("{e:?}")))?;
    rebound_tests::seed::replica_lag(&primary, FAILBACK_DB, 0.0)
        .await
        .map_err(seed("the failback replica's lag"))?;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&primary);
    for alarm in ["orders-api-5xx-rate", "orders-alb-unhealthy-hosts"] {
        cloudwatch
            .set_alarm_state()
            .alarm_name(alarm)
            .state_value(aws_sdk_cloudwatch::types::StateValue::Ok)
            .state_reason("us-east-1 recovered")
            .send()
            .await
            .map_err(|e| seed("alarm state")(format!("{e:?}")))?;
    }
    Ok(())
}

fn actions(output: &Value) -> Vec<Value> {
    let mut all = Vec::new();
    for step in ["dns", "database", "services"] {
        for a in output
            .pointer(&format!("/results/{step}/actions"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            all.push(json!({"step": step, "resource": a["resource"], "operation": a["operation"], "alreadyDone": a["alreadyDone"], "status": a["status"], "detail": a["detail"]}));
        }
    }
    all
}

fn seconds(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "not measured".into(), |s| format!("{s:.1} s"))
}

fn print_summary(report: &Value, timeline: &Timeline, facts: &[Verified]) {
    println!("\nTimeline");
    for t in &timeline.transitions {
        println!(
            "  {:>8.3}s  {:<26} {:<8} {:>6} ms",
            t.offset_ms as f64 / 1000.0,
            t.state,
            t.state_type,
            t.duration_ms
        );
    }
    let faulted = report["faultedCalls"].as_array().map_or(0, Vec::len);
    if faulted > 0 {
        // Which calls the injected faults hit, and why the recovery held without them.
        println!("\nInjected faults: {faulted} calls failed");
        for f in report["faultedOperations"].as_array().into_iter().flatten() {
            println!(
                "  {:>4}x  {:<10} {:<42} {:<9} {}",
                f["calls"].as_u64().unwrap_or(0),
                f["region"].as_str().unwrap_or("?"),
                f["operation"].as_str().unwrap_or("?"),
                f["fault"].as_str().unwrap_or("?"),
                f["held"].as_str().unwrap_or("")
            );
        }
    }
    println!("\nActions");
    for a in report["actions"].as_array().into_iter().flatten() {
        println!(
            "  {:<9} {:<32} {:<70} {}",
            a["step"].as_str().unwrap_or(""),
            a["operation"].as_str().unwrap_or(""),
            a["resource"].as_str().unwrap_or(""),
            if a["alreadyDone"] == true {
                "already done"
            } else {
                a["status"].as_str().unwrap_or("")
            }
        );
    }
    println!("\nEnd state in moto");
    for f in facts {
        println!(
            "  [{}] {:<40} {}",
            if f.ok { "ok" } else { "FAIL" },
            f.what,
            if f.ok {
                f.found.clone()
            } else {
                format!("expected {}, found {}", f.expected, f.found)
            }
        );
    }
    println!();
    for (name, m) in [("RTO", &report["rto"]), ("RPO", &report["rpo"])] {
        if m.is_null() {
            println!("{name} not measured: nothing was recovered");
        } else {
            println!(
                "{name} {} (target {} s, {})",
                seconds(&m["actualSeconds"]),
                m["targetSeconds"],
                if m["met"] == true { "met" } else { "not met" }
            );
        }
    }
    if let Some(subject) = report.pointer("/notification/subject").and_then(Value::as_str) {
        println!("Notification: {subject}");
    }
    println!(
        "Interpreter's own time: {:.3} ms of {} ms (handlers {} ms, waits {} ms, summed over branches)",
        timeline.interpreter_us as f64 / 1000.0,
        timeline.total_ms,
        timeline.task_ms,
        timeline.wait_ms
    );
    if let Some(e) = report["error"].as_object() {
        println!(
            "Execution FAILED: {} {}",
            e.get("Error").and_then(Value::as_str).unwrap_or(""),
            e.get("Cause").and_then(Value::as_str).unwrap_or("")
        );
    }
    let unknown = report["unknownChecks"].as_array().map_or(0, Vec::len);
    for c in report["unknownChecks"].as_array().into_iter().flatten() {
        println!(
            "Unknown: {}: {}",
            c["name"].as_str().unwrap_or(""),
            c["detail"].as_str().unwrap_or("")
        );
    }
    println!(
        "{}",
        match (report["verified"] == true, report["succeeded"] == true) {
            (true, true) if unknown > 0 => format!("RECOVERY VERIFIED, {unknown} check(s) UNKNOWN"),
            (true, true) => "RECOVERY VERIFIED".into(),
            (true, false) => "REFUSAL VERIFIED: nothing was changed".into(),
            (false, _) => "RECOVERY NOT VERIFIED".into(),
        }
    );
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained page: the summary and the timeline as an SVG Gantt chart.
fn html(report: &Value, timeline: &Timeline) -> String {
    let total = timeline.total_ms.max(1) as f64;
    let row = 22.0;
    let width = 900.0;
    let label = 220.0;
    let mut bars = String::new();
    for (i, t) in timeline.transitions.iter().enumerate() {
        let y = 10.0 + i as f64 * row;
        let x = label + (t.offset_ms as f64 / total) * (width - label - 10.0);
        let w = ((t.duration_ms as f64 / total) * (width - label - 10.0)).max(2.0);
        let colour = match t.state_type.as_str() {
            "Task" => "#2563eb",
            "Wait" => "#9ca3af",
            "Choice" => "#f59e0b",
            "Fail" => "#dc2626",
            _ => "#10b981",
        };
        bars.push_str(&format!(
            "<text x=\"4\" y=\"{:.0}\" font-size=\"12\">{}</text><rect x=\"{x:.1}\" y=\"{:.0}\" width=\"{w:.1}\" height=\"14\" fill=\"{colour}\"><title>{} {} ms at {} ms</title></rect>",
            y + 11.0,
            escape(&t.state),
            y,
            escape(&t.state),
            t.duration_ms,
            t.offset_ms
        ));
    }
    let height = 20.0 + timeline.transitions.len() as f64 * row;
    let facts: String = report["endState"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                if f["ok"] == true { "✔" } else { "✘" },
                escape(f["what"].as_str().unwrap_or("")),
                escape(f["found"].as_str().unwrap_or(""))
            )
        })
        .collect();
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Rebound drill {name}</title><style>body{{font-family:system-ui,sans-serif;margin:2em}}td{{padding:2px 8px}}</style></head><body>\
<h1>Rebound drill: {scenario}</h1><p>Execution {name}: <b>{verdict}</b></p>\
<p>RTO {rto} (target {rto_t} s) · RPO {rpo} (target {rpo_t} s) · interpreter {interp} ms of {total_ms} ms</p>\
<h2>Timeline</h2><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height:.0}\">{bars}</svg>\
<h2>End state</h2><table>{facts}</table></body></html>",
        name = escape(report["execution"].as_str().unwrap_or("")),
        scenario = escape(report["scenario"].as_str().unwrap_or("")),
        verdict = if report["verified"] == true { "recovery verified" } else { "recovery NOT verified" },
        rto = seconds(&report["rto"]["actualSeconds"]),
        rto_t = report["rto"]["targetSeconds"],
        rpo = seconds(&report["rpo"]["actualSeconds"]),
        rpo_t = report["rpo"]["targetSeconds"],
        interp = timeline.interpreter_ms(),
        total_ms = timeline.total_ms,
    )
}
