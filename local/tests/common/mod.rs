//! `rebound` as a process against a staged application in moto.

#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use rebound::drill::{Scenario, Stage, PLAN_LOCATION, TABLE};

/// A staged region outage, its alarms fired; returns the stage and the alarm event as input.
pub async fn region_outage() -> (Stage, String) {
    staged(Scenario::RegionOutage).await
}

/// A staged `scenario`, its disaster injected; returns the stage and the start as input.
pub async fn staged(scenario: Scenario) -> (Stage, String) {
    let stage = Stage::new(scenario).await.unwrap_or_else(|e| panic!("{e}"));
    let input = stage
        .inject(scenario)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .to_string();
    (stage, input)
}

/// Whether moto still holds the recovery region's replica as a replica (not promoted).
pub async fn replica_still_a_replica(stage: &Stage) -> bool {
    let replica = aws_sdk_rds::Client::new(&stage.recovery)
        .describe_db_instances()
        .db_instance_identifier(rebound_moto::seed::REPLICA_DB)
        .send()
        .await
        .expect("describe");
    replica.db_instances()[0]
        .read_replica_source_db_instance_identifier()
        .is_some()
}

/// An ECS service's desired count in the recovery region, as moto holds it.
pub async fn desired(stage: &Stage, service: &str) -> i32 {
    desired_in(&stage.recovery, service).await
}

/// An ECS service's desired count where `config` points, as moto holds it.
pub async fn desired_in(config: &aws_config::SdkConfig, service: &str) -> i32 {
    aws_sdk_ecs::Client::new(config)
        .describe_services()
        .cluster(rebound_moto::seed::ECS_CLUSTER)
        .services(service)
        .send()
        .await
        .expect("describe")
        .services()[0]
        .desired_count()
}

/// `rebound ARGS` with the stage's moto as the AWS endpoint.
pub fn rebound(stage: &Stage, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rebound"));
    command
        .args(args)
        .env("AWS_ENDPOINT_URL", stage.moto.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("RECOVERY_REGION", "us-west-2")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .env_remove("RECOVERY_TABLE")
        .env_remove("REPORT_BUCKET")
        .env_remove("ACTING_ROLES")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Starts `rebound run` of the recovery state machine with `input`, with the drill's plan and
/// recovery table, without sleeping in Wait states; `extra` arguments follow.
pub fn run(stage: &Stage, input: &str, extra: &[&str]) -> Child {
    run_scaled(stage, input, "0", extra)
}

pub fn run_scaled(stage: &Stage, input: &str, time_scale: &str, extra: &[&str]) -> Child {
    run_command(stage, input, time_scale, extra)
        .spawn()
        .expect("rebound starts")
}

/// The `rebound run` command [`run_scaled`] starts, for a test to set its environment.
pub fn run_command(stage: &Stage, input: &str, time_scale: &str, extra: &[&str]) -> Command {
    run_from(stage, &["--input", input], time_scale, extra)
}

/// `rebound run` of the recovery state machine started by `start` (`--input JSON`, or
/// `--retry NAME`), with the drill's plan and recovery table; `extra` arguments follow.
pub fn run_from(stage: &Stage, start: &[&str], time_scale: &str, extra: &[&str]) -> Command {
    let definition = concat!(env!("CARGO_MANIFEST_DIR"), "/../statemachine/recovery.asl.json");
    let mut args = vec!["run", "--definition", definition];
    args.extend(start);
    args.extend(["--time-scale", time_scale]);
    args.extend([
        "--table",
        TABLE,
        "--plan-location",
        PLAN_LOCATION,
        "--recovery-region",
        "us-west-2",
    ]);
    args.extend(extra);
    rebound(stage, &args)
}

/// The first action of a drill report with `operation`.
pub fn action<'a>(report: &'a serde_json::Value, operation: &str) -> &'a serde_json::Value {
    report["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["operation"] == operation)
        .unwrap_or_else(|| panic!("no {operation} in {}", report["actions"]))
}

/// Waits for a child on a blocking thread.
pub async fn finish(child: Child) -> Output {
    tokio::task::spawn_blocking(move || child.wait_with_output().expect("rebound ends"))
        .await
        .expect("joined")
}

/// Kills `child` once its stderr has had a line containing each of `markers`; returns what it
/// printed.
pub async fn kill_after(mut child: Child, markers: &'static [&'static str]) -> String {
    tokio::task::spawn_blocking(move || {
        let stderr = child.stderr.take().expect("stderr is piped");
        let mut seen = String::new();
        let mut waiting: Vec<&str> = markers.to_vec();
        for line in BufReader::new(stderr).lines() {
            let line = line.unwrap_or_default();
            seen.push_str(&line);
            seen.push('\n');
            waiting.retain(|m| !line.contains(m));
            if waiting.is_empty() {
                let _ = child.kill();
                break;
            }
        }
        let _ = child.wait();
        seen
    })
    .await
    .expect("joined")
}

/// The JSON report a drill wrote into `dir`.
pub fn json_report(dir: &std::path::Path) -> serde_json::Value {
    let path = std::fs::read_dir(dir)
        .expect("reports")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a JSON report");
    serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json")
}

/// A run whose stderr lines arrive on a channel, so a test can wait for one and go on.
pub struct Watched {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: String,
}

impl Watched {
    pub fn new(mut child: Child) -> Self {
        let stderr = child.stderr.take().expect("stderr is piped");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watched {
            child,
            lines,
            seen: String::new(),
        }
    }

    /// Waits (up to two minutes) for a line containing `marker`.
    pub fn until(&mut self, marker: &str) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while std::time::Instant::now() < deadline {
            if let Ok(line) = self.lines.recv_timeout(std::time::Duration::from_millis(200)) {
                self.seen.push_str(&line);
                self.seen.push('\n');
                if line.contains(marker) {
                    return;
                }
            }
        }
        panic!("no line with {marker:?} in:\n{}", self.seen);
    }

    /// The run's end: its exit code, its output (JSON) and everything it printed to stderr.
    pub async fn end(mut self) -> (Option<i32>, serde_json::Value, String) {
        let out = tokio::task::spawn_blocking(move || {
            let out = self.child.wait_with_output().expect("rebound ends");
            self.seen.extend(self.lines.iter().map(|l| l + "\n"));
            (out, self.seen)
        })
        .await
        .expect("joined");
        let (out, seen) = out;
        let output = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
        (out.status.code(), output, seen)
    }
}
