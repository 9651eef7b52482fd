//! The report every execution leaves in the report bucket, written by the notifier to moto's S3
//! and read back.

use chrono::Utc;
use rebound_shared::report::Report;
use rebound_shared::reports::ReportStore;
use rebound_tests::{event, MotoServer};
use recovery_notifier::RecoveryNotifier;

const BUCKET: &str = "rebound-orders-reports";

async fn moto_with_topic() -> MotoServer {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    aws_sdk_sns::Client::new(&moto.config("us-west-2"))
        .create_topic()
        .name("rebound-orders")
        .send()
        .await
        .expect("CreateTopic");
    moto
}

/// A queue subscribed to the topic (raw delivery): what people are told arrives there.
async fn subscribed(moto: &MotoServer) -> (aws_sdk_sqs::Client, String) {
    let config = moto.config("us-west-2");
    let sqs = aws_sdk_sqs::Client::new(&config);
    let url = sqs.create_queue().queue_name("told").send().await.expect("CreateQueue");
    let url = url.queue_url().expect("url").to_string();
    aws_sdk_sns::Client::new(&config)
        .subscribe()
        .topic_arn("arn:aws:sns:us-west-2:123456789012:rebound-orders")
        .protocol("sqs")
        .endpoint("arn:aws:sqs:us-west-2:123456789012:told")
        .send()
        .await
        .expect("Subscribe");
    (sqs, url)
}

/// The JSON body of the one notification the queue received.
async fn told(sqs: &aws_sdk_sqs::Client, url: &str) -> serde_json::Value {
    let out = sqs
        .receive_message()
        .queue_url(url)
        .wait_time_seconds(1)
        .send()
        .await
        .expect("ReceiveMessage");
    let envelope: serde_json::Value =
        serde_json::from_str(out.messages()[0].body().expect("a body")).expect("an SNS envelope");
    serde_json::from_str(envelope["Message"].as_str().expect("a message")).expect("the JSON body")
}

/// The report bucket as the template makes it: under Object Lock, governance mode.
async fn bucket(moto: &MotoServer) -> aws_sdk_s3::Client {
    rebound_tests::seed::report_bucket(&moto.config("us-west-2"), BUCKET, 2557)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    aws_sdk_s3::Client::new(&moto.config("us-west-2"))
}

fn notifier(moto: &MotoServer) -> RecoveryNotifier {
    RecoveryNotifier {
        config: moto.config("us-west-2"),
        table: None,
        reports: Some(ReportStore::new(&moto.config("us-west-2"), BUCKET)),
    }
}

async fn object(s3: &aws_sdk_s3::Client, key: &str) -> (String, Option<String>) {
    let out = s3.get_object().bucket(BUCKET).key(key).send().await.expect("GetObject");
    let kind = out.content_type().map(String::from);
    let body = out.body.collect().await.expect("body").into_bytes();
    (String::from_utf8(body.to_vec()).expect("utf-8"), kind)
}

#[tokio::test]
async fn a_recovery_leaves_its_report_as_json_and_a_page_in_the_bucket_and_the_action_names_it() {
    let moto = moto_with_topic().await;
    let s3 = bucket(&moto).await;
    let (sqs, queue) = subscribed(&moto).await;
    let request = event("recovery-notifier-success.json");
    let id = request["context"]["recoveryId"].as_str().expect("an id").to_string();
    let result = notifier(&moto).handle(request, Utc::now()).await.expect("published");
    let written = result
        .actions
        .iter()
        .find(|a| a.operation == "PutObject")
        .expect("the report's action");
    let key = format!("reports/orders/{id}");
    assert_eq!(written.resource, format!("s3://{BUCKET}/{key}.json"));

    let (json, kind) = object(&s3, &format!("{key}.json")).await;
    assert_eq!(kind.as_deref(), Some("application/json"));
    let report: Report = serde_json::from_str(&json).expect("the stored report reads back");
    assert_eq!(report.execution.status, "SUCCEEDED");
    assert_eq!(report.recovery_id, id);
    assert_eq!(report.rto.and_then(|m| m.actual_seconds), Some(551.0));
    assert!(
        report.timeline.iter().any(|b| b.label == "validation"),
        "{:?}",
        report.timeline
    );
    let (page, kind) = object(&s3, &format!("{key}.html")).await;
    assert_eq!(kind.as_deref(), Some("text/html; charset=utf-8"));
    assert!(page.starts_with("<!doctype html>") && page.contains("RTO by phase"));
    // The notification links it.
    let body = told(&sqs, &queue).await;
    assert_eq!(body["report"]["html"], format!("s3://{BUCKET}/{key}.html"));
    assert_eq!(body["report"]["json"], format!("s3://{BUCKET}/{key}.json"));
    assert!(body["report"]["consoleUrl"].as_str().is_some_and(|u| u.starts_with(
        "https://console.aws.amazon.com/s3/object/rebound-orders-reports?region=us-west-2&prefix=reports/orders/"
    )));
}

#[tokio::test]
async fn a_report_that_cannot_be_written_is_said_in_the_notification_which_still_goes_out() {
    let moto = moto_with_topic().await;
    let (sqs, queue) = subscribed(&moto).await;
    // No bucket: S3 answers NoSuchBucket.
    let result = notifier(&moto)
        .handle(event("recovery-notifier-failure.json"), Utc::now())
        .await
        .expect("published all the same");
    let written = result
        .actions
        .iter()
        .find(|a| a.operation == "PutObject")
        .expect("the report's action");
    assert_eq!(written.status, rebound_shared::context::ActionStatus::Failed);
    assert!(
        written.detail.as_deref().unwrap_or("").contains("NoSuchBucket"),
        "{written:?}"
    );
    assert!(result.actions.iter().any(|a| a.operation == "Publish"));
    let listed = aws_sdk_s3::Client::new(&moto.config("us-west-2"))
        .list_buckets()
        .send()
        .await
        .expect("ListBuckets");
    assert!(listed.buckets().is_empty(), "nothing half-written elsewhere");
    let body = told(&sqs, &queue).await;
    assert!(body["reportNotWritten"]
        .as_str()
        .is_some_and(|w| w.starts_with("WARNING: the execution's report could not be written")));
}

#[tokio::test]
async fn a_lost_answer_to_the_reports_write_leaves_the_first_write_and_links_it() {
    use rebound_tests::faults::{Fault, FaultProxy};
    let moto = moto_with_topic().await;
    let s3 = bucket(&moto).await;
    let (sqs, queue) = subscribed(&moto).await;
    let proxy = FaultProxy::start(&moto).unwrap_or_else(|e| panic!("{e}"));
    // S3 stores the JSON, and its answer is lost on the way back.
    proxy
        .set(&[Fault::drop_answer("s3", "PutObject").times(1)])
        .expect("faults");
    let notifier = RecoveryNotifier {
        config: moto.config("us-west-2"),
        table: None,
        reports: Some(ReportStore::new(&proxy.config("us-west-2"), BUCKET)),
    };
    let request = event("recovery-notifier-success.json");
    let id = request["context"]["recoveryId"].as_str().expect("an id").to_string();
    let result = notifier.handle(request, Utc::now()).await.expect("published");
    let written = result
        .actions
        .iter()
        .find(|a| a.operation == "PutObject")
        .expect("the report's action");
    assert_eq!(
        written.status,
        rebound_shared::context::ActionStatus::Done,
        "{written:?}"
    );
    let key = format!("reports/orders/{id}.json");
    let versions = s3
        .list_object_versions()
        .bucket(BUCKET)
        .prefix(&key)
        .send()
        .await
        .expect("ListObjectVersions");
    assert_eq!(
        versions.versions().len(),
        1,
        "the retry finds the lost write's report and leaves it as written"
    );
    let (json, _) = object(&s3, &key).await;
    assert_eq!(serde_json::from_str::<Report>(&json).expect("a report").recovery_id, id);
    let put = proxy.count("PutObject");
    assert_eq!(put, 3, "JSON twice, then the page");
    assert!(told(&sqs, &queue).await["report"]["json"].is_string());
}

/// A report, once written, is neither replaced nor deleted: a second write of its key is refused
/// (If-None-Match), and its version is retained in governance mode for the retention period.
#[tokio::test]
async fn a_written_report_cannot_be_replaced_or_deleted() {
    let moto = moto_with_topic().await;
    let s3 = bucket(&moto).await;
    let request = event("recovery-notifier-success.json");
    let id = request["context"]["recoveryId"].as_str().expect("an id").to_string();
    notifier(&moto)
        .handle(request.clone(), Utc::now())
        .await
        .expect("published");
    let key = format!("reports/orders/{id}.json");
    let (first, _) = object(&s3, &key).await;

    let again = s3
        .put_object()
        .bucket(BUCKET)
        .key(&key)
        .if_none_match("*")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"{}"))
        .send()
        .await
        .expect_err("the key is taken");
    assert_eq!(
        aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&again),
        Some("PreconditionFailed")
    );
    // The notifier run again (a redelivered invocation) leaves it too.
    notifier(&moto)
        .handle(request, Utc::now())
        .await
        .expect("published again");
    let (now, _) = object(&s3, &key).await;
    assert_eq!(now, first, "the report as first written");

    let version = s3
        .head_object()
        .bucket(BUCKET)
        .key(&key)
        .send()
        .await
        .expect("HeadObject");
    assert_eq!(
        version.object_lock_mode(),
        Some(&aws_sdk_s3::types::ObjectLockMode::Governance)
    );
    let until = version.object_lock_retain_until_date().expect("retained");
    assert!(until.secs() > Utc::now().timestamp() + 2500 * 86_400, "{until}");
    let deleted = s3
        .delete_object()
        .bucket(BUCKET)
        .key(&key)
        .version_id(version.version_id().expect("a version"))
        .send()
        .await;
    assert!(deleted.is_err(), "a retained version is not deleted: {deleted:?}");
}
