//! The drill, end to end against moto: the README's first command.

use rebound::drill::{drill, Scenario};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_region_outage_drill_recovers_and_verifies_in_moto() {
    let dir = tempfile::tempdir().expect("temp dir");
    let verified = drill(Scenario::RegionOutage, 0.0, dir.path())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(verified, "the drill verified its end state in moto");
    let reports: Vec<_> = std::fs::read_dir(dir.path())
        .expect("reports")
        .map(|e| e.expect("entry").path())
        .collect();
    let json = reports
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .expect("a JSON report");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).expect("read")).expect("report is JSON");
    assert_eq!(report["verified"], true);
    assert_eq!(report["rpo"]["actualSeconds"], 4.0);
    assert!(report["rto"]["actualSeconds"].as_f64().is_some_and(|s| s > 0.0));
    assert!(report["timeline"]["transitions"]
        .as_array()
        .is_some_and(|t| t.len() > 20));
    let html = reports
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "html"))
        .expect("an HTML report");
    assert!(std::fs::read_to_string(html).expect("read").contains("<svg"));
}
