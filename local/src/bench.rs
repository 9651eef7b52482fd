//! `rebound bench`: how a recovery scales with its plan. It seeds moto with an application of
//! many zones, records, databases and services, and with a one-resource one, runs the
//! region-outage recovery of each through the real state machine and handlers, and prints the
//! figures: wall time (and moto's own CPU time apart), time per state, AWS calls per operation,
//! the largest state payload, and peak memory. Figures, not assertions: nothing here fails a
//! test for being slow.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use aws_config::SdkConfig;
use aws_sdk_route53::types::{ResourceRecord, ResourceRecordSet, RrType};
use rebound_moto::faults::FaultProxy;
use rebound_moto::{seed, MotoServer};
use rebound_shared::aws::Regions;
use serde_json::{json, Value};

use crate::asl::{Approval, Interpreter};
use crate::functions::{bind, Functions};

mod report;

const PRIMARY: &str = "us-east-1";
const RECOVERY: &str = "us-west-2";
const TABLE: &str = "rebound-bench-recovery";
const BUCKET: &str = "rebound-bench-plans";
const DEFINITION: &str = include_str!("../../statemachine/recovery.asl.json");

/// How big the application is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub zones: usize,
    pub records: usize,
    pub databases: usize,
    pub services: usize,
}

impl Shape {
    pub const ONE: Shape = Shape {
        zones: 1,
        records: 1,
        databases: 1,
        services: 1,
    };
}

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Harness(#[from] rebound_moto::HarnessError),
    #[error("seeding {what}: {message}")]
    Seed { what: &'static str, message: String },
}

fn seed_err(what: &'static str) -> impl Fn(String) -> BenchError {
    move |message| BenchError::Seed { what, message }
}

/// What one recovery measured.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    pub shape: String,
    pub succeeded: bool,
    pub error: Option<String>,
    pub wall_ms: u64,
    /// moto's CPU time during the run (user + system), part of the wall time that is the local
    /// endpoint's, not Rebound's.
    pub moto_cpu_ms: u64,
    pub per_state_ms: BTreeMap<String, u64>,
    /// Task states run, polls and retries included: on AWS's time a change polled until done
    /// runs its check more often the longer it takes.
    pub task_runs: usize,
    pub calls: BTreeMap<String, usize>,
    pub total_calls: usize,
    pub largest_payload_bytes: usize,
    pub largest_payload: String,
    pub plan_bytes: usize,
    /// Records, databases and services in the plan.
    pub resources: usize,
    /// This process's peak resident memory so far (VmHWM), in KiB.
    pub peak_memory_kib: u64,
    /// The execution's report as the notifier wrote it to the bucket: JSON and page, in bytes.
    pub report_bytes: (i64, i64),
    /// What moto holds afterwards.
    pub moved: Moved,
    /// The recovery's forecast RTO and its physical floor, in seconds, when it ended with a
    /// context.
    pub forecast_seconds: Option<f64>,
    pub floor_seconds: Option<f64>,
}

/// How much of the application moto holds in the recovery region after the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Moved {
    /// Records answering with their recovery value.
    pub records: usize,
    /// Replicas promoted to standalone writers.
    pub databases: usize,
    /// ECS services at the plan's count.
    pub services: usize,
    /// Whether the lease was released.
    pub lease_released: bool,
}

/// Runs the small and the large recovery and prints their figures side by side.
pub async fn main(large: Shape, pairs: usize) -> ExitCode {
    let mut all = Vec::new();
    for pair in 1..=pairs {
        for shape in [Shape::ONE, large] {
            eprintln!(
                "bench: pair {pair} of {pairs}: seeding and recovering {}",
                describe(shape)
            );
            match recover(shape).await {
                Ok(f) => all.push(f),
                Err(e) => {
                    eprintln!("rebound bench: {e}");
                    return ExitCode::from(2);
                }
            }
        }
    }
    report::print(&all);
    ExitCode::SUCCESS
}

fn describe(s: Shape) -> String {
    format!(
        "{} zone(s) / {} record(s), {} database(s), {} service(s)",
        s.zones, s.records, s.databases, s.services
    )
}

/// Seeds the application, then times its region-outage recovery through a call-counting proxy.
pub async fn recover(shape: Shape) -> Result<Figures, BenchError> {
    let moto = MotoServer::start()?;
    let (global, recovery) = (moto.config(PRIMARY), moto.config(RECOVERY));
    let plan = seed_application(shape, &global, &recovery).await?;
    let plan_bytes = plan.to_string().len();
    let proxy = FaultProxy::start(&moto)?;
    let mut functions = Functions::new(
        &Regions {
            primary: proxy.config(PRIMARY),
            recovery: proxy.config(RECOVERY),
        },
        Some(format!("s3://{BUCKET}/plan.json")),
        Some(TABLE.into()),
    );
    functions.notifier.reports = Some(rebound_shared::reports::ReportStore::new(
        &proxy.config(RECOVERY),
        BUCKET,
    ));
    let functions = Arc::new(functions);
    let (tasks, substitutions) = bind(functions).map_err(seed_err("the template"))?;
    let mut interpreter = Interpreter::new(tasks, substitutions);
    interpreter.time_scale = 0.0;
    interpreter.approval = Approval::Auto;
    let definition: Value = serde_json::from_str(DEFINITION).map_err(|e| seed_err("the definition")(e.to_string()))?;
    let input = alarm_event();
    let cpu_before = cpu_ms(moto.pid());
    let started = Instant::now();
    let name = crate::asl::unique_execution_name("bench");
    let outcome = interpreter.execute(&definition, input, &name).await;
    let wall_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let moto_cpu_ms = cpu_ms(moto.pid()).saturating_sub(cpu_before);
    let timeline = interpreter.timeline();
    let mut per_state_ms: BTreeMap<String, u64> = BTreeMap::new();
    for t in &timeline.transitions {
        *per_state_ms.entry(t.state.clone()).or_default() += t.duration_ms;
    }
    let mut calls: BTreeMap<String, usize> = BTreeMap::new();
    for c in proxy.calls() {
        let key = format!(
            "{}:{}",
            c.service.as_deref().unwrap_or("?"),
            c.operation.as_deref().unwrap_or("?")
        );
        *calls.entry(key).or_default() += 1;
    }
    let forecast = outcome.as_ref().ok().and_then(|output| {
        let mut output = output.clone();
        if output.get("plan").is_none() {
            output["plan"] = serde_json::to_value(&plan).ok()?;
        }
        serde_json::from_value::<rebound_shared::RecoveryContext>(output)
            .ok()
            .map(|ctx| rebound_shared::forecast::of_context(&ctx))
    });
    let moved = moved(&global, &recovery, &plan).await?;
    let report_bytes = report_bytes(&recovery).await?;
    Ok(Figures {
        report_bytes,
        moved,
        shape: describe(shape),
        succeeded: outcome.is_ok(),
        error: outcome.err().map(|e| format!("{}: {}", e.error, e.cause)),
        wall_ms,
        moto_cpu_ms,
        per_state_ms,
        task_runs: timeline.transitions.iter().filter(|t| t.state_type == "Task").count(),
        total_calls: calls.values().sum(),
        calls,
        largest_payload_bytes: timeline.largest_payload_bytes,
        largest_payload: timeline.largest_payload,
        plan_bytes,
        resources: shape.records + shape.databases + shape.services,
        peak_memory_kib: peak_memory_kib(),
        forecast_seconds: forecast.as_ref().map(|f| f.rto_seconds),
        floor_seconds: forecast.as_ref().map(|f| f.floor_seconds),
    })
}

/// The sizes of the report the notifier left under `reports/`: its JSON, then its page.
async fn report_bytes(recovery: &aws_config::SdkConfig) -> Result<(i64, i64), BenchError> {
    let listed = aws_sdk_s3::Client::new(recovery)
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("reports/")
        .send()
        .await
        .map_err(|e| seed_err("the report")(format!("{e:?}")))?;
    let size = |suffix: &str| {
        listed
            .contents()
            .iter()
            .find(|o| o.key().is_some_and(|k| k.ends_with(suffix)))
            .and_then(|o| o.size())
            .unwrap_or(0)
    };
    Ok((size(".json"), size(".html")))
}

/// The CloudWatch alarm event that starts a region-outage recovery.
fn alarm_event() -> Value {
    let now = chrono::Utc::now().to_rfc3339();
    json!({
        "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch", "account": "123456789012", "time": now, "region": PRIMARY,
        "resources": [format!("arn:aws:cloudwatch:{PRIMARY}:123456789012:alarm:bench-5xx")],
        "detail": {"alarmName": "bench-5xx", "state": {"value": "ALARM", "reason": "Threshold Crossed", "timestamp": now},
                   "previousState": {"value": "OK", "reason": "", "timestamp": now}, "configuration": {}}
    })
}

/// Creates the application in moto and returns its plan, stored in S3 where the detector reads
/// it (an SSM parameter holds at most 8 KB).
async fn seed_application(shape: Shape, global: &SdkConfig, recovery: &SdkConfig) -> Result<Value, BenchError> {
    let mut dns = Vec::new();
    for z in 0..shape.zones {
        let domain = format!("app{z}.bench.example.com");
        let zone = seed::hosted_zone(global, &domain).await.map_err(seed_err("zones"))?;
        let in_zone: Vec<usize> = (0..shape.records).filter(|r| r % shape.zones.max(1) == z).collect();
        for chunk in in_zone.chunks(400) {
            let mut sets = Vec::new();
            for r in chunk {
                let set = ResourceRecordSet::builder()
                    .name(format!("svc{r}.{domain}."))
                    .r#type(RrType::Cname)
                    .ttl(60)
                    .resource_records(
                        ResourceRecord::builder()
                            .value(format!("svc{r}-use1.{domain}"))
                            .build()
                            .map_err(|e| seed_err("records")(e.to_string()))?,
                    )
                    .build()
                    .map_err(|e| seed_err("records")(e.to_string()))?;
                sets.push(set);
                dns.push(
                    json!({"hostedZoneId": zone, "name": format!("svc{r}.{domain}."), "type": "CNAME", "ttl": 60,
                                "primary": {"values": [format!("svc{r}-use1.{domain}")]},
                                "recovery": {"values": [format!("svc{r}-usw2.{domain}")]}}),
                );
            }
            seed::create_records(global, &zone, sets)
                .await
                .map_err(seed_err("records"))?;
        }
    }

    let mut databases = Vec::new();
    seed::parameter_group(global, seed::PARAMETER_GROUP, "mysql")
        .await
        .map_err(seed_err("parameter groups"))?;
    seed::parameter_group(recovery, seed::PARAMETER_GROUP, "mysql")
        .await
        .map_err(seed_err("parameter groups"))?;
    for d in 0..shape.databases {
        let (name, replica) = (format!("bench-db-{d}"), format!("bench-db-{d}-usw2"));
        let arn = seed::database_pair(global, recovery, "mysql", &name, &replica)
            .await
            .map_err(seed_err("databases"))?;
        seed::replica_lag(recovery, &replica, 4.0)
            .await
            .map_err(seed_err("replica lag"))?;
        databases.push(json!({"kind": "readReplica", "identifier": replica, "sourceIdentifier": arn}));
    }

    let names: Vec<String> = (0..shape.services).map(|s| format!("bench-svc-{s}")).collect();
    let seeded: Vec<(&str, i32)> = names.iter().map(|n| (n.as_str(), 1)).collect();
    seed::ecs_services(recovery, &seeded)
        .await
        .map_err(seed_err("services"))?;
    let services: Vec<Value> = names
        .iter()
        .map(|n| json!({"kind": "ecs", "cluster": seed::ECS_CLUSTER, "service": n, "desiredCount": 2}))
        .collect();

    let primary = rebound_shared::aws::in_region(global, PRIMARY);
    for alarm in ["bench-5xx", "bench-unhealthy-hosts"] {
        seed::alarm(&primary, alarm, "ALARM")
            .await
            .map_err(seed_err("alarms"))?;
    }
    seed::recovery_table(recovery, TABLE)
        .await
        .map_err(seed_err("the table"))?;
    let topic = aws_sdk_sns::Client::new(recovery)
        .create_topic()
        .name("rebound-bench")
        .send()
        .await
        .map_err(|e| seed_err("the topic")(format!("{e:?}")))?;
    let plan = json!({
        "application": "bench",
        "primaryRegion": PRIMARY,
        "recoveryRegion": RECOVERY,
        "objectives": {"rtoSeconds": 3600, "rpoSeconds": 900},
        "detection": {"alarms": [{"name": "bench-5xx"}, {"name": "bench-unhealthy-hosts"}], "minSignals": 2, "healthEvents": false},
        "dns": dns,
        "databases": databases,
        "services": services,
        "validation": {"deadlineSeconds": 600, "consecutiveSuccesses": 2},
        "notification": {"topicArn": topic.topic_arn().unwrap_or_default()},
    });
    seed::object(recovery, BUCKET, "plan.json", &plan.to_string())
        .await
        .map_err(seed_err("the plan"))?;
    Ok(plan)
}

/// Reads moto directly (not through the proxy): what moved.
async fn moved(global: &SdkConfig, recovery: &SdkConfig, plan: &Value) -> Result<Moved, BenchError> {
    let read = |what: &'static str| move |e: String| BenchError::Seed { what, message: e };
    let mut zones: Vec<&str> = plan["dns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["hostedZoneId"].as_str())
        .collect();
    zones.dedup();
    let dns = dns_failover::DnsFailover::new(&Regions {
        primary: global.clone(),
        recovery: recovery.clone(),
    });
    let mut records = 0;
    for zone in zones {
        let sets = dns
            .zone_records(zone)
            .await
            .map_err(|e| read("records")(e.to_string()))?;
        records += sets
            .iter()
            .filter(|r| r.resource_records().iter().any(|v| v.value().contains("-usw2.")))
            .count();
    }
    let rds = aws_sdk_rds::Client::new(recovery);
    let mut databases = 0;
    for db in plan["databases"].as_array().into_iter().flatten() {
        let id = db["identifier"].as_str().unwrap_or_default();
        let out = rds
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|e| read("databases")(format!("{e:?}")))?;
        if out
            .db_instances()
            .first()
            .is_some_and(|d| d.read_replica_source_db_instance_identifier().is_none())
        {
            databases += 1;
        }
    }
    let ecs = aws_sdk_ecs::Client::new(recovery);
    let names: Vec<String> = plan["services"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["service"].as_str().map(str::to_string))
        .collect();
    let mut services = 0;
    for chunk in names.chunks(10) {
        let out = ecs
            .describe_services()
            .cluster(seed::ECS_CLUSTER)
            .set_services(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| read("services")(format!("{e:?}")))?;
        services += out.services().iter().filter(|s| s.desired_count() == 2).count();
    }
    let lease = rebound_shared::table::RecoveryTable::new(recovery, TABLE)
        .holder("bench", chrono::Utc::now())
        .await
        .map_err(|e| read("the lease")(e.to_string()))?;
    Ok(Moved {
        records,
        databases,
        services,
        lease_released: lease.is_none(),
    })
}

/// A process's user and system CPU time in milliseconds (Linux; 0 elsewhere).
fn cpu_ms(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // Fields after the command name, which may hold spaces, end with ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) * 10
}

fn peak_memory_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}
