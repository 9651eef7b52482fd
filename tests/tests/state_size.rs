//! What keeps the state machine's state small, against moto: the plan by reference (SSM and
//! S3, read again at the version the detector saw, a changed plan refused) and results kept
//! whole in the recovery table (in several items when large).

use chrono::Utc;
use disaster_detector::Detector;
use rebound_shared::results::{needed_by, ResultStore, INLINE_BYTES};
use rebound_shared::source::PlanSource;
use rebound_shared::table::RecoveryTable;
use rebound_shared::ErrorKind;
use rebound_tests::{event, seed, MotoServer};
use serde_json::{json, Value};

const TABLE: &str = "rebound-state";

fn plan_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/plan.json")).expect("example plan")
}

#[tokio::test]
async fn the_detector_passes_the_plan_by_reference_and_each_step_reads_that_version() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let config = moto.config("us-west-2");
    seed::plan_parameter(&config, "/rebound/orders/plan", &plan_text())
        .await
        .expect("plan");
    let detector = Detector::new(&config, Some("ssm:/rebound/orders/plan".into()), None);
    let state = detector
        .detect_state(event("manual-start.json"), Utc::now())
        .await
        .expect("decided");
    assert!(state.get("plan").is_none(), "no copy of the plan in the state");
    let reference = &state["planRef"];
    assert_eq!(reference["location"], "ssm:/rebound/orders/plan");
    assert_eq!(reference["version"], "1");
    assert_eq!(reference["sha256"].as_str().map(str::len), Some(64));

    // A step's request: the plan comes back, the very one the detector read.
    let plans = PlanSource::new(&config);
    let mut request = json!({"action": "start", "context": state});
    plans.resolve(&mut request).await.expect("resolved");
    assert_eq!(request["context"]["plan"]["application"], "orders");

    // The plan is edited mid-recovery: version 1 is still read, and is still what it was.
    let mut edited: Value = serde_json::from_str(&plan_text()).expect("json");
    edited["objectives"]["rtoSeconds"] = json!(60);
    seed::plan_parameter(&config, "/rebound/orders/plan", &edited.to_string())
        .await
        .expect("edit");
    let mut again = json!({"action": "status", "context": state});
    plans.resolve(&mut again).await.expect("version 1 again");
    assert_eq!(again["context"]["plan"]["objectives"]["rtoSeconds"], 1800);

    // A reference whose digest no longer matches what is stored is refused.
    let mut tampered = json!({"action": "status", "context": state});
    tampered["context"]["planRef"]["version"] = json!("2");
    let err = plans.resolve(&mut tampered).await.expect_err("changed");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
    assert!(err.to_string().contains("changed during the recovery"), "{err}");

    // A context with its plan inline is left as it is.
    let mut inline = json!({"context": {"plan": {"application": "inline"}, "planRef": reference}});
    plans.resolve(&mut inline).await.expect("inline");
    assert_eq!(inline["context"]["plan"]["application"], "inline");
}

#[tokio::test]
async fn a_plan_in_s3_is_read_again_by_digest() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let config = moto.config("us-west-2");
    seed::object(&config, "plans", "orders.json", &plan_text())
        .await
        .expect("plan");
    let detector = Detector::new(&config, Some("s3://plans/orders.json".into()), None);
    let state = detector
        .detect_state(event("manual-start.json"), Utc::now())
        .await
        .expect("decided");
    assert!(state.get("plan").is_none());
    assert!(
        state["planRef"].get("version").is_none(),
        "an unversioned bucket: the digest pins it"
    );
    let plans = PlanSource::new(&config);
    let mut request = json!({"context": state.clone()});
    plans.resolve(&mut request).await.expect("resolved");
    assert_eq!(request["context"]["plan"]["primaryRegion"], "us-east-1");

    let edited = plan_text().replace("\"rtoSeconds\": 1800", "\"rtoSeconds\": 900");
    seed::object(&config, "plans", "orders.json", &edited)
        .await
        .expect("edit");
    let mut request = json!({"context": state});
    let err = plans.resolve(&mut request).await.expect_err("changed");
    assert_eq!(err.kind(), ErrorKind::PreconditionFailed, "{err}");
}

#[tokio::test]
async fn a_large_result_is_kept_in_the_table_and_comes_back_whole() {
    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let config = moto.config("us-west-2");
    seed::recovery_table(&config, TABLE).await.expect("table");
    let store = ResultStore {
        table: Some(RecoveryTable::new(&config, TABLE)),
    };
    let request = json!({"context": {"application": "orders", "recoveryId": "r-1"}});

    // Small results stay in the state as they are.
    let small = json!({"step": "dnsFailover", "status": "completed", "actions": []});
    assert_eq!(store.compact(&request, small.clone()).await.expect("small"), small);

    // 4,000 actions: about 1 MB, kept in four items; the state gets a summary.
    let actions: Vec<Value> = (0..4000)
        .map(|i| {
            json!({"resource": format!("route53:Z1/svc{i}.example.com./CNAME {}", "x".repeat(200)), "operation": "UPSERT",
                   "alreadyDone": false, "status": "pending", "durationMs": 3, "trackingId": "/change/C1"})
        })
        .collect();
    let large = json!({"step": "dnsFailover", "status": "inProgress", "durationMs": 40, "actions": actions});
    let bytes = large.to_string().len();
    assert!(bytes > 3 * 300 * 1024, "{bytes}");
    let summary = store.compact(&request, large.clone()).await.expect("kept");
    assert!(
        summary.to_string().len() < INLINE_BYTES,
        "{}",
        summary.to_string().len()
    );
    assert_eq!(
        summary["status"], "inProgress",
        "the state machine's choice still reads it"
    );
    assert_eq!(summary["actionCounts"]["pending"], 4000);
    // Every item the table holds (a scan page stops at 1 MB).
    let client = RecoveryTable::new(&config, TABLE).client;
    let (mut items, mut start) = (0usize, None);
    loop {
        let page = client
            .scan()
            .table_name(TABLE)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        items += usize::try_from(page.count()).unwrap_or_default();
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => break,
        }
    }
    assert_eq!(
        items,
        bytes.div_ceil(300 * 1024),
        "{bytes} bytes in parts of at most 300 KiB"
    );

    // A function that does not read the DNS result leaves the summary as it is (no read); the
    // one that does gets the whole result back.
    let mut next = json!({"action": "status", "context": {"application": "orders", "recoveryId": "r-1",
                                                        "results": {"dns": summary.clone()}}});
    store
        .expand(&mut next, needed_by("service-restoration"))
        .await
        .expect("left");
    assert_eq!(next["context"]["results"]["dns"], summary);
    store
        .expand(&mut next, needed_by("dns-failover"))
        .await
        .expect("expanded");
    assert_eq!(next["context"]["results"]["dns"], large);

    // Without the table, a kept result cannot be read: a clear error, not a summary taken as whole.
    let mut orphan = next.clone();
    orphan["context"]["results"]["dns"] = store.compact(&request, large).await.expect("kept");
    let err = ResultStore { table: None }
        .expand(&mut orphan, needed_by("recovery-notifier"))
        .await
        .expect_err("no table");
    assert!(err.to_string().contains("RECOVERY_TABLE"), "{err}");
}
