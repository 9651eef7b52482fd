//! A run killed halfway holds the application's lease. Re-run under its own execution name, it
//! takes over its lease and finishes, finding the changes already made; or an operator sees and
//! releases the lease, audited, and a new run recovers.

mod common;

use rebound::drill::{Stage, TABLE};
use rebound_shared::table::{Lease, RecoveryTable};
use serde_json::Value;

/// A staged region outage and a run of it killed while the database promotion is awaited
/// (DNS already moved, the replica promoted, services not yet restored).
async fn crashed_run(name: &str) -> (Stage, String) {
    let (stage, input) = common::region_outage().await;
    let child = common::run_scaled(&stage, &input, "1", &["--execution-name", name]);
    // The branches run side by side: killed once DNS has moved and the promotion has started.
    let printed = common::kill_after(child, &["DnsFailoverCompleted", "StartDatabaseFailover"]).await;
    assert!(printed.contains(&format!("execution {name}")), "{printed}");
    // No report bucket given: the run says it leaves no evidence report.
    assert!(printed.contains("no report bucket (REPORT_BUCKET)"), "{printed}");
    let table = RecoveryTable::new(&stage.recovery, TABLE);
    match table.holder("orders", chrono::Utc::now()).await.expect("read") {
        Some(Lease::HeldBy { owner, .. }) => assert_eq!(owner, name, "the dead run holds the lease"),
        other => panic!("{other:?}: {printed}"),
    }
    (stage, input)
}

fn actions<'a>(output: &'a Value, step: &str) -> Vec<&'a Value> {
    output["results"][step]["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_run_resumes_under_its_own_name_and_finds_its_changes_done() {
    let (stage, input) = crashed_run("orders-crash-1").await;

    // A new run is declined while the dead one's lease lasts, and says why.
    let out = common::finish(common::run(&stage, &input, &[])).await;
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));

    let out = common::finish(common::run(&stage, &input, &["--execution-name", "orders-crash-1"])).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let output: Value = serde_json::from_slice(&out.stdout).expect("output");
    let dns = actions(&output, "dns");
    assert!(
        !dns.is_empty() && dns.iter().all(|a| a["alreadyDone"] == true),
        "{dns:?}"
    );
    let promote = actions(&output, "database")
        .into_iter()
        .find(|a| a["operation"] == "PromoteReadReplica")
        .expect("the promotion");
    // Promoted while the run was dead, or still being promoted under the run's tag (RDS takes
    // its time): found either way, never asked again.
    assert_eq!(promote["status"], "done", "{promote}");
    assert!(
        promote["alreadyDone"] == true
            || promote["detail"]
                .as_str()
                .is_some_and(|d| d.contains("promotion under way")),
        "{promote}"
    );

    let table = RecoveryTable::new(&stage.recovery, TABLE);
    assert_eq!(table.holder("orders", chrono::Utc::now()).await.expect("read"), None);
    let last = table.last_recovery("orders").await.expect("read").expect("ended");
    assert_eq!(
        (last.recovery_id.as_str(), last.outcome.as_str()),
        ("orders-crash-1", "succeeded")
    );
    let services = aws_sdk_ecs::Client::new(&stage.recovery)
        .describe_services()
        .cluster(rebound_moto::seed::ECS_CLUSTER)
        .services("orders-api")
        .send()
        .await
        .expect("describe");
    assert_eq!(
        services.services()[0].desired_count(),
        6,
        "services restored by the resumed run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sees_and_releases_a_dead_runs_lease_with_a_reason() {
    let (stage, input) = crashed_run("orders-crash-2").await;
    let lease = |args: &[&str]| {
        let mut all = vec!["lease"];
        all.extend(args);
        all.extend(["--application", "orders", "--table", TABLE]);
        common::rebound(&stage, &all).output().expect("rebound runs")
    };
    let shown = lease(&["show"]);
    let said = String::from_utf8_lossy(&shown.stdout);
    assert_eq!(
        shown.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
    assert!(said.contains("lease held by orders-crash-2 until"), "{said}");

    let released = lease(&[
        "release",
        "--reason",
        "run orders-crash-2 died with its host",
        "--by",
        "j.doe",
    ]);
    let said = String::from_utf8_lossy(&released.stdout);
    assert_eq!(released.status.code(), Some(0), "{said}");
    assert!(said.contains("released the lease of orders-crash-2"), "{said}");
    let table = RecoveryTable::new(&stage.recovery, TABLE);
    assert_eq!(table.holder("orders", chrono::Utc::now()).await.expect("read"), None);
    let audit = table.audit_records("orders").await.expect("audit");
    let record = audit
        .iter()
        .find(|r| {
            r.get("kind")
                .and_then(|k| k.as_s().ok())
                .is_some_and(|k| k == "lease-released")
        })
        .expect("the release is audited");
    let detail = record.get("detail").and_then(|d| d.as_s().ok()).expect("detail");
    assert!(
        detail.contains("j.doe") && detail.contains("died with its host"),
        "{detail}"
    );
    assert!(String::from_utf8_lossy(&lease(&["show"]).stdout).contains("no lease held"));

    // A new run now recovers the rest.
    let out = common::finish(common::run(&stage, &input, &[])).await;
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}
