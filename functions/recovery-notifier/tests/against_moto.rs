//! recovery-notifier against moto's SNS, read back through an SQS queue subscribed to the topic.

use chrono::Utc;
use rebound_shared::context::NotificationRequest;
use rebound_shared::ErrorKind;
use rebound_tests::{event, MotoServer};
use recovery_notifier::{metrics_line, RecoveryNotifier};
use serde_json::{json, Value};

struct World {
    moto: MotoServer,
    sqs: aws_sdk_sqs::Client,
    queue: String,
}

async fn world() -> World {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let config = moto.config("us-west-2");
    let sns = aws_sdk_sns::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let topic = sns
        .create_topic()
        .name("rebound-orders")
        .send()
        .await
        .expect("CreateTopic");
    assert_eq!(
        topic.topic_arn(),
        Some("arn:aws:sns:us-west-2:123456789012:rebound-orders"),
        "the samples' topic"
    );
    let queue = sqs
        .create_queue()
        .queue_name("rebound-orders-audit")
        .send()
        .await
        .expect("CreateQueue");
    let queue = queue.queue_url().expect("url").to_string();
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes");
    let queue_arn = attrs
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .expect("arn")
        .clone();
    sns.subscribe()
        .topic_arn("arn:aws:sns:us-west-2:123456789012:rebound-orders")
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .expect("Subscribe");
    World { moto, sqs, queue }
}

impl World {
    async fn notify(
        &self,
        request: Value,
    ) -> Result<rebound_shared::context::StepResult, recovery_notifier::NotifyError> {
        RecoveryNotifier {
            reports: None,
            config: self.moto.config("us-east-1"),
            table: None,
        }
        .handle(request, Utc::now())
        .await
    }

    /// Every SNS envelope the queue holds.
    async fn delivered(&self) -> Vec<Value> {
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("ReceiveMessage");
        out.messages()
            .iter()
            .map(|m| serde_json::from_str(m.body().unwrap_or("null")).expect("SNS envelope"))
            .collect()
    }
}

#[tokio::test]
async fn success_is_delivered_with_its_measures_and_attributes() {
    let w = world().await;
    let result = w
        .notify(event("recovery-notifier-success.json"))
        .await
        .expect("published");
    assert!(result.actions[0].tracking_id.is_some(), "SNS message id");
    let delivered = w.delivered().await;
    assert_eq!(delivered.len(), 1);
    let envelope = &delivered[0];
    let subject = envelope["Subject"].as_str().expect("subject");
    assert_eq!(subject, "[Rebound] orders recovered to us-west-2 in 9m 11s (RTO met)");
    let body: Value =
        serde_json::from_str(envelope["Message"].as_str().expect("message")).expect("the JSON body reaches SQS");
    assert_eq!(body["status"], "SUCCEEDED");
    assert_eq!(body["rto"]["actualSeconds"], json!(551.0));
    assert_eq!(body["rpo"]["met"], json!(true));
    assert_eq!(body["steps"].as_array().map(Vec::len), Some(4));
    assert_eq!(envelope["MessageAttributes"]["application"]["Value"], "orders");
    assert_eq!(envelope["MessageAttributes"]["status"]["Value"], "SUCCEEDED");
    assert_eq!(envelope["MessageAttributes"]["severity"]["Value"], "critical");
}

#[test]
fn a_failback_is_reported_as_a_return_to_the_primary_region() {
    let mut request = event("recovery-notifier-success.json");
    request["context"]["mode"] = json!("failback");
    let request: NotificationRequest = serde_json::from_value(request).expect("request");
    let note = recovery_notifier::compose(&request, Utc::now());
    assert!(
        note.subject.starts_with("[Rebound] orders recovered to us-east-1"),
        "{}",
        note.subject
    );
    assert!(note.text.contains("Regions: us-west-2 -> us-east-1"), "{}", note.text);
}

#[tokio::test]
async fn failure_names_the_error_and_its_cause() {
    let w = world().await;
    w.notify(event("recovery-notifier-failure.json"))
        .await
        .expect("published");
    let envelope = &w.delivered().await[0];
    assert_eq!(
        envelope["Subject"],
        "[Rebound] orders recovery FAILED: Rebound.PreconditionFailed"
    );
    let body: Value = serde_json::from_str(envelope["Message"].as_str().expect("message")).expect("json");
    assert_eq!(
        body["error"]["Cause"],
        "database orders-db-usw2: replica lag 1260 s is above the RPO target 900 s"
    );
}

#[tokio::test]
async fn an_approval_request_names_its_execution_and_never_carries_the_token() {
    let w = world().await;
    let request = event("recovery-notifier-approval.json");
    let token = request["taskToken"].as_str().expect("token").to_string();
    let execution = request["executionArn"].as_str().expect("execution").to_string();
    let notification = recovery_notifier::compose(
        &serde_json::from_value::<NotificationRequest>(request.clone()).expect("request"),
        Utc::now(),
    );
    for needle in [
        format!("Execution: {execution}. Rebound never sends a task token"),
        format!("rebound approve --execution '{execution}' --by 'YOUR NAME'"),
        format!("rebound reject --execution '{execution}' --cause 'WHY'"),
        "send-task-failure --error Rebound.ApprovalRejected".to_string(),
        "RPO target of 15m 0s".to_string(),
    ] {
        assert!(notification.text.contains(&needle), "{needle}:\n{}", notification.text);
    }
    w.notify(request).await.expect("published");
    let envelope = &w.delivered().await[0];
    assert_eq!(envelope["Subject"], "[Rebound] orders: approve failover to us-west-2?");
    // Whoever the topic delivers to (an inbox, an endpoint) could answer with the token alone.
    assert!(!envelope.to_string().contains(&token), "{envelope}");
    let body: Value = serde_json::from_str(envelope["Message"].as_str().expect("message")).expect("json");
    assert!(body.get("taskToken").is_none());
    assert_eq!(body["execution"], json!(execution));
}

#[tokio::test]
async fn bad_requests_publish_nothing() {
    let w = world().await;
    let mut no_token = event("recovery-notifier-approval.json");
    no_token.as_object_mut().expect("object").remove("taskToken");
    let err = w.notify(no_token).await.expect_err("no token");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let mut bad_topic = event("recovery-notifier-success.json");
    bad_topic["context"]["plan"]["notification"]["topicArn"] = json!("rebound-orders");
    let err = w.notify(bad_topic).await.expect_err("bad topic");
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let mut missing_topic = event("recovery-notifier-success.json");
    missing_topic["context"]["plan"]["notification"]["topicArn"] =
        json!("arn:aws:sns:us-west-2:123456789012:no-such-topic");
    let err = w.notify(missing_topic).await.expect_err("missing topic");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(w.delivered().await.is_empty());
}

#[test]
fn the_metrics_line_is_embedded_metric_format() {
    let request: NotificationRequest =
        serde_json::from_value(event("recovery-notifier-success.json")).expect("request");
    let line = metrics_line(&request.context, true, Utc::now());
    let declared: Vec<&str> = line["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .expect("metrics")
        .iter()
        .filter_map(|m| m["Name"].as_str())
        .collect();
    assert_eq!(
        declared,
        vec![
            "RtoSeconds",
            "RpoSeconds",
            "DnsFailoverMs",
            "DatabaseFailoverMs",
            "ServiceRestorationMs",
            "ValidationMs",
            "RecoverySucceeded"
        ]
    );
    for name in declared {
        assert!(line[name].is_number(), "{name} has a value");
    }
    assert_eq!(line["RtoSeconds"], json!(551.0));
    assert_eq!(line["Application"], "orders");
}

/// The action that closed the recovery in the table.
fn end_recovery(result: &rebound_shared::context::StepResult) -> &rebound_shared::context::Action {
    result
        .actions
        .iter()
        .find(|a| a.operation == "EndRecovery")
        .expect("the recovery was closed")
}

#[tokio::test]
async fn the_end_of_a_recovery_releases_its_lease_and_starts_the_cooldown() {
    use rebound_shared::table::{Lease, RecoveryTable};
    let w = world().await;
    let config = w.moto.config("us-west-2");
    rebound_tests::seed::recovery_table(&config, "rebound-orders-recovery")
        .await
        .expect("table");
    let table = RecoveryTable::new(&config, "rebound-orders-recovery");
    let id = "orders-20261124T031241Z";
    let now = Utc::now();
    assert_eq!(
        table
            .acquire("orders", id, now, now + chrono::Duration::hours(1))
            .await
            .expect("lease"),
        Lease::Acquired
    );
    let notifier = RecoveryNotifier {
        reports: None,
        config: w.moto.config("us-east-1"),
        table: Some(RecoveryTable::new(&config, "rebound-orders-recovery")),
    };

    let mut rehearsal = event("recovery-notifier-success.json");
    rehearsal["context"]["dryRun"] = json!(true);
    notifier.handle(rehearsal, Utc::now()).await.expect("dry run notified");
    assert!(
        table.last_recovery("orders").await.expect("read").is_none(),
        "a dry run ends nothing"
    );

    let result = notifier
        .handle(event("recovery-notifier-failure.json"), Utc::now())
        .await
        .expect("notified");
    let end = end_recovery(&result);
    // Refused before anything changed: the lease goes, and no cooldown holds off the next try.
    assert_eq!(
        end.detail.as_deref(),
        Some("failed; lease released; nothing was changed, so no cooldown")
    );
    assert_eq!(table.holder("orders", Utc::now()).await.expect("lease"), None);
    assert!(table.last_recovery("orders").await.expect("read").is_none());
    let audit = table.audit_records("orders").await.expect("audit");
    assert_eq!(audit.len(), 1);
    assert!(audit[0]
        .get("detail")
        .and_then(|d| d.as_s().ok())
        .is_some_and(|d| d.contains("Rebound.PreconditionFailed")));

    // A recovery that changed things starts the cooldown.
    let now = Utc::now();
    table
        .acquire("orders", id, now, now + chrono::Duration::hours(1))
        .await
        .expect("lease again");
    let result = notifier
        .handle(event("recovery-notifier-success.json"), Utc::now())
        .await
        .expect("notified");
    let end = end_recovery(&result);
    assert_eq!(
        end.detail.as_deref(),
        Some("succeeded; lease released; cooldown started")
    );
    let last = table.last_recovery("orders").await.expect("read").expect("recorded");
    assert_eq!((last.recovery_id.as_str(), last.outcome.as_str()), (id, "succeeded"));
    assert!(
        last.moved_away,
        "a failover moved the application: a reprotect follows it"
    );
    assert_eq!(table.last_reprotect("orders").await.expect("read"), None);

    // A reprotect that succeeded: the lease goes, no cooldown, and it is recorded as protecting.
    let reprotect_id = "orders-20261124T091000Z";
    let now = Utc::now();
    table
        .acquire("orders", reprotect_id, now, now + chrono::Duration::hours(1))
        .await
        .expect("lease for the reprotect");
    let mut reprotected = event("recovery-notifier-success.json");
    reprotected["context"]["recoveryId"] = json!(reprotect_id);
    reprotected["context"]["path"] = json!("reprotect");
    reprotected["context"]["mode"] = json!("failback");
    let result = notifier.handle(reprotected, Utc::now()).await.expect("notified");
    assert_eq!(
        end_recovery(&result).detail.as_deref(),
        Some("succeeded; lease released; a reprotect moves no traffic or writer, so no cooldown")
    );
    assert_eq!(table.holder("orders", Utc::now()).await.expect("lease"), None);
    let still = table.last_recovery("orders").await.expect("read").expect("recorded");
    assert_eq!(still.recovery_id, id, "the cooldown still counts from the failover");
    assert!(table.last_reprotect("orders").await.expect("read").is_some());
}

#[tokio::test]
async fn an_approval_for_data_loss_beyond_the_rpo_states_the_expected_loss() {
    let w = world().await;
    let mut request = event("recovery-notifier-approval.json");
    request["context"]["readiness"] = json!({
        "ready": true, "checkedAt": "2026-11-24T03:13:05Z", "dataLossApproval": true,
        "expectedDataLossSeconds": 1260.0, "summary": "ready",
        "checks": [{"name": "databases", "passed": true, "detail": "would PromoteReadReplica orders-db-usw2 (0 already in place); expected data loss 1260 s beyond the RPO target of 900 s: needs approval"}]
    });
    let parsed: NotificationRequest = serde_json::from_value(request.clone()).expect("request");
    let text = recovery_notifier::compose(&parsed, Utc::now()).text;
    assert!(
        text.contains("Expected data loss: 21m 0s of writes, BEYOND the RPO target of 15m 0s"),
        "{text}"
    );
    assert!(text.contains("ok   databases: would PromoteReadReplica"), "{text}");
    w.notify(request).await.expect("published");
    let body: Value = serde_json::from_str(w.delivered().await[0]["Message"].as_str().expect("message")).expect("json");
    assert_eq!(body["readiness"]["expectedDataLossSeconds"], json!(1260.0));
}

#[tokio::test]
async fn a_failed_readiness_check_is_told_as_not_ready_and_an_unfenced_writer_loudly() {
    let w = world().await;
    let mut request = event("recovery-notifier-failure.json");
    request["kind"] = json!("notReady");
    request["context"]["path"] = json!("readinessCheck");
    request["context"]["readiness"] = json!({
        "ready": false, "checkedAt": "2026-11-24T06:00:00Z", "dataLossApproval": false,
        "summary": "services: ecs:orders-usw2/orders-api: not found",
        "checks": [{"name": "services", "passed": false, "detail": "ecs:orders-usw2/orders-api: not found"}]
    });
    request["context"]["results"]["database"] = json!({
        "step": "databaseFailover", "status": "completed", "actions": [{
            "resource": "orders-db (old writer of orders-db-usw2)", "operation": "FenceOldWriter",
            "alreadyDone": false, "status": "failed", "durationMs": 15000,
            "detail": "could not fence: its region did not answer (no answer in 15 s); fence it before its region comes back"
        }]
    });
    let parsed: NotificationRequest = serde_json::from_value(request.clone()).expect("request");
    let text = recovery_notifier::compose(&parsed, Utc::now()).text;
    assert!(
        text.contains("WARNING: old writer NOT FENCED: orders-db (old writer of orders-db-usw2): could not fence"),
        "{text}"
    );
    assert!(
        text.contains("FAIL services: ecs:orders-usw2/orders-api: not found"),
        "{text}"
    );
    w.notify(request).await.expect("published");
    let envelope = &w.delivered().await[0];
    assert_eq!(
        envelope["Subject"],
        "[Rebound] orders: us-west-2 NOT READY for a failover"
    );
    assert_eq!(envelope["MessageAttributes"]["status"]["Value"], "NOT READY");
    let body: Value = serde_json::from_str(envelope["Message"].as_str().expect("message")).expect("json");
    assert_eq!(body["readiness"]["ready"], json!(false));
    assert_eq!(
        body["unfencedWriters"],
        json!(["orders-db (old writer of orders-db-usw2)"])
    );
}

#[tokio::test]
async fn a_dry_run_publishes_nothing_and_says_would_recover_with_warnings_first() {
    let w = world().await;
    let mut request = event("recovery-notifier-success.json");
    request["context"]["dryRun"] = json!(true);
    request["context"]["results"]["database"] = json!({
        "step": "databaseFailover", "status": "completed", "actions": [
            {"resource": "orders-db (old writer of orders-db-usw2)", "operation": "FenceOldWriter",
             "alreadyDone": false, "status": "failed", "durationMs": 5,
             "detail": "could not fence: default.postgres16 cannot be changed; the old writer still accepts writes"},
            {"resource": "orders-db-usw2", "operation": "PromoteReadReplica", "alreadyDone": false,
             "status": "planned", "durationMs": 0, "detail": "replica lag unknown: approved"}
        ]
    });
    let result = w.notify(request).await.expect("a dry run ends cleanly");
    assert!(w.delivered().await.is_empty(), "nothing was published to the topic");
    let publish = &result.actions[0];
    assert_eq!(publish.operation, "Publish");
    assert_eq!(publish.status, rebound_shared::context::ActionStatus::Planned);
    assert_eq!(publish.detail.as_deref(), Some("dry run: not published"));
    let subject = publish.after["subject"].as_str().expect("subject");
    assert!(
        subject.contains("[DRY RUN] orders would recover to us-west-2"),
        "{subject}"
    );
    let text = publish.after["text"].as_str().expect("text");
    let lines: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert!(
        lines[1].starts_with("WARNING: old writer NOT FENCED: orders-db"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("WARNING: data loss UNKNOWN: orders-db-usw2"),
        "{text}"
    );
}

#[tokio::test]
async fn a_check_that_could_not_be_read_is_told_as_unknown_not_as_passed_or_failed() {
    let w = world().await;
    let mut request = event("recovery-notifier-success.json");
    request["context"]["results"]["validation"]["checks"]
        .as_array_mut()
        .expect("checks")
        .push(json!({
            "name": "one writer: orders-db-usw2", "passed": false, "unknown": true,
            "detail": "UNKNOWN: orders-db in us-east-1 could not be read (no answer in 15 s); fence it before its region returns"
        }));
    let parsed: NotificationRequest = serde_json::from_value(request.clone()).expect("request");
    let text = recovery_notifier::compose(&parsed, Utc::now()).text;
    assert!(
        text.contains("WARNING: check UNKNOWN: one writer: orders-db-usw2: UNKNOWN: orders-db in us-east-1"),
        "{text}"
    );
    assert!(!text.contains("check failed: one writer"), "{text}");
    w.notify(request).await.expect("published");
    let delivered = w.delivered().await;
    let body: Value = serde_json::from_str(delivered[0]["Message"].as_str().expect("message")).expect("json");
    assert_eq!(body["unknownChecks"][0]["name"], "one writer: orders-db-usw2", "{body}");
    assert_eq!(body["unknownChecks"][0]["unknown"], true, "{body}");
}

/// The recovery table reached through a fault proxy, with a lease held by the sample's recovery.
async fn table_behind(w: &World, faults: &[rebound_tests::faults::Fault]) -> rebound_tests::faults::FaultProxy {
    use rebound_shared::table::RecoveryTable;
    let config = w.moto.config("us-west-2");
    rebound_tests::seed::recovery_table(&config, "rebound-orders-recovery")
        .await
        .expect("table");
    let now = Utc::now();
    RecoveryTable::new(&config, "rebound-orders-recovery")
        .acquire(
            "orders",
            "orders-20261124T031241Z",
            now,
            now + chrono::Duration::hours(1),
        )
        .await
        .expect("lease");
    let proxy = rebound_tests::faults::FaultProxy::start(&w.moto).unwrap_or_else(|e| panic!("{e}"));
    proxy.set(faults).expect("faults");
    proxy
}

#[tokio::test]
async fn a_lease_release_is_retried_past_the_sdks_attempts_and_a_lasting_failure_is_told() {
    use rebound_shared::table::RecoveryTable;
    use rebound_tests::faults::Fault;
    let w = world().await;
    // Four throttled DeleteItems: the SDK gives up after three, the notifier tries again.
    let proxy = table_behind(
        &w,
        &[Fault::throttle().service("dynamodb").operation("DeleteItem").times(4)],
    )
    .await;
    let table = RecoveryTable::new(&w.moto.config("us-west-2"), "rebound-orders-recovery");
    let notifier = RecoveryNotifier {
        reports: None,
        config: w.moto.config("us-east-1"),
        table: Some(RecoveryTable::new(
            &proxy.config("us-west-2"),
            "rebound-orders-recovery",
        )),
    };
    let result = notifier
        .handle(event("recovery-notifier-success.json"), Utc::now())
        .await
        .expect("notified");
    assert_eq!(
        end_recovery(&result).status,
        rebound_shared::context::ActionStatus::Done
    );
    assert_eq!(table.holder("orders", Utc::now()).await.expect("read"), None);

    // A table that keeps failing: people are still told, with how to release the lease.
    let now = Utc::now();
    table
        .acquire(
            "orders",
            "orders-20261124T031241Z",
            now,
            now + chrono::Duration::hours(1),
        )
        .await
        .expect("lease");
    proxy
        .set(&[Fault::status(500).service("dynamodb").operation("DeleteItem")])
        .expect("faults");
    let result = notifier
        .handle(event("recovery-notifier-success.json"), Utc::now())
        .await
        .expect("notified all the same");
    assert_eq!(
        end_recovery(&result).status,
        rebound_shared::context::ActionStatus::Failed
    );
    let delivered = w.delivered().await;
    let text = delivered
        .iter()
        .filter_map(|m| m["Message"].as_str())
        .find(|m| m.contains("lease was NOT released"))
        .unwrap_or_else(|| panic!("{delivered:?}"));
    assert!(
        text.contains("rebound lease release --application orders --table rebound-orders-recovery"),
        "{text}"
    );
}

#[tokio::test]
async fn a_failed_publish_leaves_the_recovery_closed() {
    use rebound_shared::table::RecoveryTable;
    use rebound_tests::faults::Fault;
    let w = world().await;
    let proxy = table_behind(&w, &[Fault::status(500).service("sns").operation("Publish")]).await;
    let notifier = RecoveryNotifier {
        reports: None,
        config: proxy.config("us-east-1"),
        table: Some(RecoveryTable::new(
            &proxy.config("us-west-2"),
            "rebound-orders-recovery",
        )),
    };
    let err = notifier
        .handle(event("recovery-notifier-success.json"), Utc::now())
        .await
        .expect_err("SNS is failing");
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    let table = RecoveryTable::new(&w.moto.config("us-west-2"), "rebound-orders-recovery");
    assert_eq!(
        table.holder("orders", Utc::now()).await.expect("read"),
        None,
        "lease released"
    );
    let last = table
        .last_recovery("orders")
        .await
        .expect("read")
        .expect("the recovery is recorded");
    assert_eq!(last.outcome, "succeeded");
}

#[test]
fn an_approval_past_an_unfenceable_writer_names_the_split_brain_risk() {
    let mut request = event("recovery-notifier-approval.json");
    request["context"]["readiness"] = json!({
        "ready": true, "checkedAt": "2026-11-24T03:13:05Z", "dataLossApproval": false, "splitBrainApproval": true,
        "summary": "ready",
        "checks": [{"name": "fence orders-db (old writer of orders-db-usw2)", "passed": true,
                    "detail": "SPLIT-BRAIN RISK, needs approval: could not fence: it uses the default parameter group"}]
    });
    let parsed: NotificationRequest = serde_json::from_value(request).expect("request");
    let text = recovery_notifier::compose(&parsed, Utc::now()).text;
    assert!(
        text.contains("SPLIT-BRAIN RISK: an old writer still answers and accepts writes"),
        "{text}"
    );
}

#[tokio::test]
async fn a_recovery_of_thousands_of_resources_is_told_within_snss_limit() {
    let w = world().await;
    let mut request = event("recovery-notifier-failure.json");
    let checks: Vec<Value> = (0..3000)
        .map(|i| {
            json!({"name": format!("record api-{i:04}.orders.example.com. CNAME"), "passed": i % 3 != 0,
                   "detail": format!("would UPSERT route53:Z0123456789ABCDEFGHIJ/api-{i:04}.orders.example.com./CNAME {}", "x".repeat(200))})
        })
        .collect();
    request["context"]["readiness"] = json!({
        "ready": false, "checkedAt": "2026-11-24T03:13:02Z", "checks": checks,
        "summary": "y".repeat(300_000), "dataLossApproval": false, "splitBrainApproval": false
    });
    let fences: Vec<Value> = (0..500)
        .map(|i| json!({"resource": format!("arn:aws:rds:us-east-1:123456789012:db:orders-{i:03}"), "operation": "FenceOldWriter",
                        "alreadyDone": false, "status": "failed", "durationMs": 1, "detail": "its region did not answer"}))
        .collect();
    request["context"]["results"]["database"] =
        json!({"step": "databaseFailover", "status": "completed", "durationMs": 10, "actions": fences});
    let request_bytes = request.to_string().len();
    assert!(
        request_bytes > 3 * recovery_notifier::message::MAX_MESSAGE_BYTES,
        "{request_bytes}"
    );

    let note = recovery_notifier::compose(&serde_json::from_value(request.clone()).expect("request"), Utc::now());
    let size = note.message_structure().len();
    assert!(size <= recovery_notifier::message::MAX_MESSAGE_BYTES, "{size} bytes");
    assert!(
        note.text.contains("... and 2960 more checks"),
        "failing checks first, the rest counted"
    );
    assert!(note.text.contains("... and 460 more warnings"));
    println!("a 3,000-check, 500-writer failure: request {request_bytes} B, message {size} B");

    w.notify(request).await.expect("published within the limit");
    let delivered = w.delivered().await;
    assert_eq!(delivered.len(), 1);
    let body: Value = serde_json::from_str(delivered[0]["Message"].as_str().expect("message")).expect("body");
    assert_eq!(body["unfencedWriterCount"], json!(500));
    assert_eq!(body["unfencedWriters"].as_array().map(Vec::len), Some(40));
    assert_eq!(body["readiness"]["checks"], json!(3000));
}
