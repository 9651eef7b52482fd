//! A break-glass `rebound run` does what a deployed execution does besides its steps where it is
//! given what that needs (the evidence report in S3, the readiness check's IAM check), and says
//! which it skips where it is not.

mod common;

use rebound::drill::REPORT_BUCKET;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_run_writes_the_report_where_given_a_bucket_and_says_what_it_skips() {
    let (stage, input) = common::region_outage().await;

    // Acting roles that are not roles: refused before anything runs.
    let mut bad = common::run_command(&stage, &input, "0", &[]);
    bad.env("ACTING_ROLES", "dns-failover=not-a-role");
    let out = tokio::task::spawn_blocking(move || bad.output().expect("rebound ends"))
        .await
        .expect("joined");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("ACTING_ROLES: 'not-a-role' is not an IAM role ARN"),
        "{said}"
    );
    assert!(common::replica_still_a_replica(&stage).await, "nothing ran");

    // With the report bucket: the recovery's report lands in S3; the IAM check is said skipped.
    let mut run = common::run_command(&stage, &input, "0", &["--execution-name", "orders-break-glass"]);
    run.env("REPORT_BUCKET", REPORT_BUCKET);
    let out = tokio::task::spawn_blocking(move || run.output().expect("rebound ends"))
        .await
        .expect("joined");
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(!said.contains("no report bucket"), "{said}");
    assert!(
        said.contains("no acting roles (ACTING_ROLES): readiness does not check IAM permissions"),
        "{said}"
    );
    let listed = aws_sdk_s3::Client::new(&stage.recovery)
        .list_objects_v2()
        .bucket(REPORT_BUCKET)
        .prefix("reports/orders/orders-break-glass")
        .send()
        .await
        .expect("list");
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(
        keys,
        [
            "reports/orders/orders-break-glass.html",
            "reports/orders/orders-break-glass.json"
        ],
        "the report, as the notifier writes it deployed"
    );
}
