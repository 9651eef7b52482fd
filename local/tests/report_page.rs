//! The report a region-outage drill leaves in S3: read back, checked field by field, and
//! rendered by a real browser (headless Chromium), whose screenshot is checked for the timeline's
//! bars.

use std::path::{Path, PathBuf};
use std::process::Command;

use rebound::drill::{drill_with, Scenario};
use rebound_shared::report::{Lane, Phase, Report};

/// Debian's Chromium (`scripts/setup` installs it), or `CHROMIUM`.
fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(path.exists(), "{} is missing: run scripts/setup", path.display());
    path
}

fn screenshot(page: &Path, out: &Path) {
    let profile = tempfile::tempdir().expect("a profile dir");
    let status = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1100,1400",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--screenshot={}", out.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    assert!(
        status.status.success() && out.exists(),
        "chromium: {}",
        String::from_utf8_lossy(&status.stderr)
    );
}

/// How many pixels of the screenshot have this colour (RGB).
fn pixels_of(png_path: &Path, rgb: [u8; 3]) -> (usize, u32, u32) {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_path).expect("png")));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let channels = info.color_type.samples();
    let count = buf[..info.buffer_size()]
        .chunks(channels)
        .filter(|p| p[..3] == rgb)
        .count();
    (count, info.width, info.height)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_region_outage_report_read_back_from_s3_holds_the_recovery_and_renders_in_chromium() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (verified, drill) = drill_with(Scenario::RegionOutage, 0.0, dir.path(), &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(verified, "{}", drill["endState"]);
    // What the notifier wrote to moto's S3, as the drill read it back.
    let stored: Report = serde_json::from_value(drill["executionReport"].clone()).expect("the stored report");
    assert_eq!(stored.execution.status, "SUCCEEDED");
    assert_eq!(stored.execution.name, drill["execution"]);
    assert_eq!(stored.plan.location.as_deref(), Some("ssm:/rebound/orders/plan"));
    assert!(stored.plan.version.is_some() && stored.plan.sha256.is_some());
    assert!(!stored.decision.signals.is_empty());
    let promoted = stored
        .actions
        .iter()
        .find(|a| a.action.operation == "PromoteReadReplica")
        .expect("the promotion");
    assert_eq!(promoted.step, "database");
    assert!(!promoted.action.before.is_null() && !promoted.action.after.is_null());
    // us-east-1 was cut: the old writer could not be fenced and two checks stayed unknown.
    assert_eq!(stored.unfenced.len(), 1, "{:?}", stored.unfenced);
    assert!(stored.unfenced[0].contains("orders-db"), "{:?}", stored.unfenced);
    assert_eq!(stored.unverified.len(), 2, "{:?}", stored.unverified);
    assert_eq!(stored.custom_actions.len(), 2);
    let lanes: Vec<(Phase, Lane)> = stored.timeline.iter().map(|b| (b.phase, b.lane)).collect();
    assert!(lanes.contains(&(Phase::Dns, Lane::Dns)) && lanes.contains(&(Phase::Databases, Lane::Databases)));
    assert_eq!(
        stored.rto.and_then(|m| m.actual_seconds),
        drill["rto"]["actualSeconds"].as_f64()
    );
    assert!(stored.phases.iter().any(|p| p.phase == Phase::Other && p.critical));
    // The same recovery on AWS's clock: the replica's promotion is the critical path.
    let forecast = &drill["forecast"];
    let critical: Vec<&str> = forecast["legs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["critical"] == true)
        .filter_map(|l| l["phase"].as_str())
        .collect();
    assert_eq!(
        critical,
        [
            "detection",
            "decision",
            "other",
            "databases",
            "services",
            "other",
            "validation"
        ]
    );
    assert!(
        forecast["rtoSeconds"].as_f64().is_some_and(|s| s > 300.0 && s < 1800.0),
        "{forecast}"
    );

    let page = std::fs::read_dir(dir.path())
        .expect("reports")
        .map(|e| e.expect("entry").path())
        .find(|p| p.extension().is_some_and(|e| e == "html"))
        .expect("the page");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-region-outage.png");
    let _ = std::fs::remove_file(&out);
    screenshot(&page, &out);
    eprintln!("screenshot: {}", out.display());
    let (dns, width, _) = pixels_of(&out, [0x25, 0x63, 0xeb]);
    let (databases, _, _) = pixels_of(&out, [0x0d, 0x94, 0x88]);
    assert_eq!(width, 1100);
    // Each branch's bar is at least 3 px wide and 18 px high, and the RTO-by-phase bar shows
    // the slower branch too.
    assert!(dns >= 3 * 18, "DNS bar pixels: {dns}");
    assert!(databases >= 3 * 18, "databases bar pixels: {databases}");
}
