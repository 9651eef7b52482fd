//! `rebound start|status|watch|approve|reject|report` against a deployed state machine: moto's
//! Step Functions, set to run its executions, so that states advance, a task token waits for
//! SendTaskSuccess/SendTaskFailure, and GetExecutionHistory returns the events it wrote.
//!
//! The state machine stands in for the recovery's shape (moto cannot run the Rust functions):
//! the detector's context from a Pass state, the approval as a `.waitForTaskToken` task (its
//! token sent to an SQS queue, where the test reads it as an approver reads the notification),
//! and the failover's two parallel branches.

mod common;

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use rebound_moto::MotoServer;
use serde_json::{json, Value};

const REGION: &str = "us-west-2";
const CONTEXT: &str = include_str!("../../events/recovery-notifier-success.json");

struct Deployed {
    moto: MotoServer,
    sfn: aws_sdk_sfn::Client,
    sqs: aws_sdk_sqs::Client,
    queue: String,
    machine: String,
}

async fn deployed() -> Deployed {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    moto.execute_state_machines().expect("moto runs executions");
    let config = moto.config(REGION);
    let (sfn, sqs) = (aws_sdk_sfn::Client::new(&config), aws_sdk_sqs::Client::new(&config));
    let queue = sqs
        .create_queue()
        .queue_name("rebound-approvals")
        .send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .expect("url")
        .to_string();
    let context: Value = serde_json::from_str(CONTEXT).expect("the example");
    let definition = json!({
        "StartAt": "DetectDisaster",
        "States": {
            "DetectDisaster": {"Type": "Pass", "Result": context["context"], "Next": "RequestApproval"},
            "RequestApproval": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": queue, "MessageBody": {"kind": "approvalRequest", "taskToken.$": "$$.Task.Token"}},
                "ResultPath": "$.approval", "Next": "InitiateFailover"},
            "InitiateFailover": {"Type": "Parallel", "ResultPath": null, "Next": "RecoveryComplete", "Branches": [
                {"StartAt": "WaitForDnsFailover", "States": {"WaitForDnsFailover": {"Type": "Wait", "Seconds": 1, "Next": "DnsFailoverCompleted"},
                                                              "DnsFailoverCompleted": {"Type": "Pass", "End": true}}},
                {"StartAt": "DatabaseFailoverCompleted", "States": {"DatabaseFailoverCompleted": {"Type": "Pass", "End": true}}}
            ]},
            "RecoveryComplete": {"Type": "Succeed"}
        }
    });
    let machine = sfn
        .create_state_machine()
        .name("rebound-orders")
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::123456789012:role/rebound-orders-states")
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn()
        .to_string();
    Deployed {
        moto,
        sfn,
        sqs,
        queue,
        machine,
    }
}

impl Deployed {
    fn rebound(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rebound"));
        command
            .args(args)
            .env("AWS_ENDPOINT_URL", self.moto.endpoint())
            .env("AWS_REGION", REGION)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .env_remove("RECOVERY_TABLE")
            .env_remove("REBOUND_STATE_MACHINE")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut command = self.rebound(args);
        tokio::task::spawn_blocking(move || command.output().expect("rebound runs"))
            .await
            .expect("joined")
    }

    /// The token the approval request carried, as an approver receives it.
    async fn token(&self) -> String {
        for _ in 0..50 {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("ReceiveMessage");
            if let Some(body) = out.messages().first().and_then(|m| m.body()) {
                let body: Value = serde_json::from_str(body).expect("JSON");
                return body["taskToken"].as_str().expect("a token").to_string();
            }
        }
        panic!("no approval request arrived");
    }

    /// What moto holds of the execution: its status and output or error.
    async fn held(&self, arn: &str) -> (String, Value, Option<String>) {
        for _ in 0..100 {
            let out = self
                .sfn
                .describe_execution()
                .execution_arn(arn)
                .send()
                .await
                .expect("DescribeExecution");
            if out.status().as_str() != "RUNNING" {
                let output = out
                    .output()
                    .map_or(Value::Null, |o| serde_json::from_str(o).expect("JSON"));
                return (out.status().as_str().to_string(), output, out.error().map(String::from));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        ("RUNNING".into(), Value::Null, None)
    }

    async fn running(&self) -> usize {
        self.sfn
            .list_executions()
            .state_machine_arn(&self.machine)
            .send()
            .await
            .expect("ListExecutions")
            .executions()
            .len()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_starts_follows_approves_and_reports_a_deployed_recovery() {
    let d = deployed().await;
    let started = d
        .run(&[
            "start",
            "--state-machine",
            &d.machine,
            "--mode",
            "failover",
            "--reason",
            "game day (j.doe)",
            "--affected-region",
            "us-east-1",
        ])
        .await;
    assert!(started.status.success(), "{}", text(&started.stderr));
    let arn = text(&started.stdout).trim().to_string();
    assert!(
        arn.starts_with("arn:aws:states:us-west-2:123456789012:execution:rebound-orders:failover-"),
        "{arn}"
    );
    let input = d
        .sfn
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .expect("described");
    let input: Value = serde_json::from_str(input.input().expect("input")).expect("JSON");
    assert_eq!(
        input,
        json!({"mode": "failover", "reason": "game day (j.doe)", "affectedRegion": "us-east-1"})
    );

    // Followed from the start: each state printed once as it ends, across polls.
    let watching = d
        .rebound(&["watch", &arn, "--every", "0.2"])
        .spawn()
        .expect("watch starts");
    let token = d.token().await;
    // The newest execution by default, found through --state-machine.
    let status = d.run(&["status", "--state-machine", &d.machine]).await;
    assert!(status.status.success(), "{}", text(&status.stderr));
    let shown = text(&status.stdout);
    for needle in [
        "status RUNNING",
        "now in RequestApproval (Task)",
        "approval waiting in RequestApproval:",
        &format!("rebound approve --execution {arn} --by YOUR-NAME"),
    ] {
        assert!(shown.contains(needle), "status lacks {needle}:\n{shown}");
    }

    // The token is not shown where anyone who sees a status or a message could take it.
    assert!(!shown.contains(&token), "{shown}");
    // Approved by execution: the token read from its history, the approver's AWS identity
    // recorded beside the name typed.
    let approved = d.run(&["approve", "--execution", &arn, "--by", "jane"]).await;
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    let (status, output, _) = d.held(&arn).await;
    assert_eq!(status, "SUCCEEDED");
    assert_eq!(output["approval"]["by"], "jane");
    let caller = aws_sdk_sts::Client::new(&d.moto.config(REGION))
        .get_caller_identity()
        .send()
        .await
        .expect("GetCallerIdentity");
    assert_eq!(output["approval"]["principal"].as_str(), caller.arn());
    assert!(
        text(&approved.stderr).contains(&format!("approved {arn} as arn:aws:")),
        "{}",
        text(&approved.stderr)
    );

    let watched = tokio::task::spawn_blocking(move || watching.wait_with_output().expect("watch ends"))
        .await
        .expect("joined");
    assert!(watched.status.success(), "{}", text(&watched.stderr));
    let lines = text(&watched.stderr);
    assert!(
        lines.contains(&format!(
            "waiting for approval in RequestApproval: rebound approve --execution {arn} --by YOUR-NAME"
        )),
        "{lines}"
    );
    for state in [
        "DetectDisaster",
        "RequestApproval",
        "WaitForDnsFailover",
        "RecoveryComplete",
    ] {
        let printed = lines
            .lines()
            .filter(|l| l.split_whitespace().nth(1) == Some(state))
            .count();
        assert_eq!(printed, 1, "{state} printed once:\n{lines}");
    }
    for state in [
        "DetectDisaster",
        "RequestApproval",
        "WaitForDnsFailover",
        "InitiateFailover",
        "execution SUCCEEDED",
    ] {
        assert!(lines.contains(state), "watch lacks {state}:\n{lines}");
    }
    let wait_line = lines
        .lines()
        .find(|l| l.contains("WaitForDnsFailover"))
        .expect("the wait");
    assert!(wait_line.contains(" Wait "), "{wait_line}");

    let dir = tempfile::tempdir().expect("dir");
    let name = arn.rsplit(':').next().expect("a name");
    let reported = d
        .run(&[
            "report",
            name,
            "--state-machine",
            &d.machine,
            "--out",
            &dir.path().display().to_string(),
        ])
        .await;
    assert!(reported.status.success(), "{}", text(&reported.stderr));
    assert!(
        text(&reported.stdout).contains("RTO 9 min 11 s (target 30 min 00 s, met)"),
        "{}",
        text(&reported.stdout)
    );
    let report: rebound_shared::report::Report =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(format!("{name}.json"))).expect("JSON"))
            .expect("a report");
    assert_eq!(report.execution.status, "SUCCEEDED");
    assert_eq!(report.execution.arn.as_deref(), Some(arn.as_str()));
    assert_eq!(report.approvals.len(), 1);
    assert_eq!(report.approvals[0].by.as_deref(), Some("jane"));
    assert!(report.approvals[0].at.is_some());
    assert!(dir.path().join(format!("{name}.html")).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_fails_the_execution_that_start_wait_follows() {
    let d = deployed().await;
    let waiting = d
        .rebound(&[
            "start",
            "--state-machine",
            &d.machine,
            "--mode",
            "switchover",
            "--reason",
            "planned move",
            "--name",
            "switchover-1",
            "--wait",
        ])
        .spawn()
        .expect("rebound starts");
    let token = d.token().await;
    let rejected = d
        .run(&["reject", "--token", &token, "--cause", "the primary is back"])
        .await;
    assert!(rejected.status.success(), "{}", text(&rejected.stderr));
    let followed = tokio::task::spawn_blocking(move || waiting.wait_with_output().expect("ends"))
        .await
        .expect("joined");
    assert_eq!(followed.status.code(), Some(1), "{}", text(&followed.stderr));
    assert!(
        text(&followed.stderr).contains("Error: Rebound.ApprovalRejected"),
        "{}",
        text(&followed.stderr)
    );
    let arn = text(&followed.stdout).trim().to_string();
    let (status, _, error) = d.held(&arn).await;
    assert_eq!(
        (status.as_str(), error.as_deref()),
        ("FAILED", Some("Rebound.ApprovalRejected"))
    );
    let shown = d.run(&["status", "switchover-1", "--state-machine", &d.machine]).await;
    assert!(
        text(&shown.stdout).contains("error Rebound.ApprovalRejected: the primary is back"),
        "{}",
        text(&shown.stdout)
    );

    // Retried: a new execution of the same machine, its input the failed one's with retryOf.
    let retried = d.run(&["retry", &arn]).await;
    assert!(retried.status.success(), "{}", text(&retried.stderr));
    let again = text(&retried.stdout).trim().to_string();
    let described = d
        .sfn
        .describe_execution()
        .execution_arn(&again)
        .send()
        .await
        .expect("the retry exists");
    assert!(
        described.name().unwrap_or_default().starts_with("switchover-1-retry-"),
        "{again}"
    );
    assert_eq!(described.state_machine_arn(), d.machine);
    let input: Value = serde_json::from_str(described.input().unwrap_or_default()).expect("input");
    assert_eq!(
        (&input["retryOf"], &input["mode"], &input["reason"]),
        (&json!("switchover-1"), &json!("switchover"), &json!("planned move"))
    );
    // The retry is running (waiting for approval): it is not retried again.
    let running = d.run(&["retry", &again]).await;
    assert_eq!(running.status.code(), Some(2), "{}", text(&running.stderr));
    assert!(
        text(&running.stderr).contains("is RUNNING: only an execution that failed"),
        "{}",
        text(&running.stderr)
    );
    // A local run's name is not retried through Step Functions.
    let local = d.run(&["retry", "switchover-1"]).await;
    assert_eq!(local.status.code(), Some(2));
    assert!(
        text(&local.stderr).contains("rebound run --retry switchover-1"),
        "{}",
        text(&local.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_starts_and_unknown_tokens_are_refused_and_change_nothing() {
    let d = deployed().await;
    for (args, says) in [
        (vec!["--input", "[]"], "must be a JSON object"),
        (vec!["--reason", "x"], "name what to do"),
        (vec!["--mode", "failover"], "reason: required"),
        (
            vec!["--mode", "sideways", "--reason", "x"],
            "not a start the detector accepts",
        ),
        (
            vec!["--mode", "failover", "--reason", "x", "--name", "has space"],
            "--name",
        ),
        (
            vec!["--reprotect", "--mode", "failover", "--reason", "x"],
            "takes no mode",
        ),
    ] {
        let mut all = vec!["start", "--state-machine", d.machine.as_str()];
        all.extend(args.iter().copied());
        let out = d.run(&all).await;
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(says), "{args:?}: {}", text(&out.stderr));
    }
    assert_eq!(d.running().await, 0, "no execution was started");

    let started = d
        .run(&[
            "start",
            "--state-machine",
            &d.machine,
            "--mode",
            "drill",
            "--reason",
            "game day",
        ])
        .await;
    let arn = text(&started.stdout).trim().to_string();
    let token = d.token().await;
    let bogus = d
        .run(&["approve", "--token", "not-a-waiting-token", "--by", "mallory"])
        .await;
    assert_eq!(bogus.status.code(), Some(2), "{}", text(&bogus.stderr));
    assert!(text(&bogus.stderr).contains("InvalidToken"), "{}", text(&bogus.stderr));
    let out = d
        .sfn
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .expect("described");
    assert_eq!(out.status().as_str(), "RUNNING", "still waiting for a real answer");

    // Answered from the console, which sends no time: the report takes it from the history.
    d.sfn
        .send_task_success()
        .task_token(&token)
        .output(json!({"approved": true, "by": "console"}).to_string())
        .send()
        .await
        .expect("SendTaskSuccess");
    assert_eq!(d.held(&arn).await.0, "SUCCEEDED");
    // An execution that waits for nobody any more is not approved again.
    let late = d.run(&["approve", "--execution", &arn, "--by", "mallory"]).await;
    assert_eq!(late.status.code(), Some(2), "{}", text(&late.stderr));
    assert!(
        text(&late.stderr).contains(&format!("execution {arn} is not waiting for approval")),
        "{}",
        text(&late.stderr)
    );
    let dir = tempfile::tempdir().expect("dir");
    let reported = d
        .run(&["report", &arn, "--out", &dir.path().display().to_string()])
        .await;
    assert!(reported.status.success(), "{}", text(&reported.stderr));
    let name = arn.rsplit(':').next().expect("a name");
    let report: rebound_shared::report::Report =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(format!("{name}.json"))).expect("JSON"))
            .expect("a report");
    let approval = &report.approvals[0];
    assert_eq!(approval.by.as_deref(), Some("console"));
    let at = approval.at.expect("the time, from the history");
    assert!((chrono::Utc::now() - at).num_seconds().abs() < 60, "{at}");

    let nothing = d.run(&["status"]).await;
    assert_eq!(nothing.status.code(), Some(2));
    let missing = d
        .run(&[
            "report",
            "arn:aws:states:us-west-2:123456789012:execution:rebound-orders:none",
        ])
        .await;
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing.stderr));
    assert!(
        text(&missing.stderr).contains("ExecutionDoesNotExist"),
        "{}",
        text(&missing.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_answers_a_local_runs_token_locally_and_not_step_functions() {
    use rebound::drill::{Scenario, PLAN_LOCATION, TABLE};
    use std::io::{BufRead, BufReader};
    let (stage, input) = common::staged(Scenario::SecurityIncident).await;
    let cache = tempfile::tempdir().expect("a cache");
    let definition = concat!(env!("CARGO_MANIFEST_DIR"), "/../statemachine/recovery.asl.json");
    let command = |args: &[&str]| {
        let mut c = common::rebound(&stage, args);
        c.env("REBOUND_CACHE", cache.path());
        c
    };
    let mut running = command(&[
        "run",
        "--definition",
        definition,
        "--input",
        &input,
        "--time-scale",
        "0",
        "--table",
        TABLE,
        "--plan-location",
        PLAN_LOCATION,
        "--recovery-region",
        "us-west-2",
    ])
    .spawn()
    .expect("rebound run starts");
    let stderr = running.stderr.take().expect("stderr");
    // Read on to the end: a closed pipe would fail the run's own writes to stderr.
    let (found, tokens) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(token) = line
                .strip_prefix("waiting for approval: rebound approve --token ")
                .and_then(|rest| rest.split_whitespace().next())
            {
                let _ = found.send(token.to_string());
            }
        }
    });
    let token = tokio::task::spawn_blocking(move || tokens.recv_timeout(std::time::Duration::from_secs(60)))
        .await
        .expect("joined")
        .expect("the run asks for approval");
    // No Step Functions endpoint answers this token: only the local run can take it.
    let approved = command(&["approve", "--token", &token, "--by", "j.doe"])
        .output()
        .expect("approve runs");
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    assert!(
        text(&approved.stderr).starts_with(&format!("answered {token}")),
        "{}",
        text(&approved.stderr)
    );
    let ended = tokio::task::spawn_blocking(move || running.wait_with_output().expect("the run ends"))
        .await
        .expect("joined");
    reader.join().expect("stderr read");
    assert!(ended.status.success(), "{}", text(&ended.stdout));
    let output: Value = serde_json::from_slice(&ended.stdout).expect("the run's output");
    assert_eq!(output["approval"]["by"], "j.doe");
    // The recovery went ahead in moto once approved.
    let promoted = aws_sdk_rds::Client::new(&stage.recovery)
        .describe_db_instances()
        .db_instance_identifier("orders-db-usw2")
        .send()
        .await
        .expect("described");
    assert!(promoted.db_instances()[0]
        .read_replica_source_db_instance_identifier()
        .is_none());
}

#[tokio::test]
async fn rebound_reprotect_starts_the_state_machine_with_a_reprotect() {
    let d = deployed().await;
    // `rebound reprotect` is a start with `reprotect: true` and the reason, named for it.
    let reprotect = d
        .run(&[
            "reprotect",
            "--state-machine",
            &d.machine,
            "--reason",
            "j.doe: us-east-1 is back",
        ])
        .await;
    assert!(reprotect.status.success(), "{}", text(&reprotect.stderr));
    let arn = text(&reprotect.stdout).trim().to_string();
    assert!(arn.contains(":reprotect-"), "{arn}");
    let out = d
        .sfn
        .describe_execution()
        .execution_arn(&arn)
        .send()
        .await
        .expect("described");
    let input: Value = serde_json::from_str(out.input().unwrap_or("{}")).expect("input");
    assert_eq!(input, json!({"reprotect": true, "reason": "j.doe: us-east-1 is back"}));
    d.sfn
        .stop_execution()
        .execution_arn(&arn)
        .send()
        .await
        .expect("stopped");
}
