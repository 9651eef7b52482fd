//! A drill's report: the summary printed, and a self-contained HTML page with the timeline.

use super::*;

/// Every action the acting steps took, in step order, then the plan's custom actions.
pub(super) fn actions(ctx: &RecoveryContext) -> Vec<Value> {
    let results = &ctx.results;
    let steps = [
        ("dns", &results.dns),
        ("database", &results.database),
        ("capacity", &results.capacity),
        ("services", &results.services),
    ]
    .into_iter()
        .flat_map(|(step, result)| {
            result.iter().flat_map(|r| &r.actions).map(move |a| {
                json!({"step": step, "resource": a.resource, "operation": a.operation, "alreadyDone": a.already_done, "status": a.status, "detail": a.detail})
            })
        });
    let custom = ctx.custom_action_results.iter().flat_map(|o| o.all()).map(|o| {
        let detail = o.error.as_ref().map(|e| format!("{e}: {}", o.cause.as_deref().unwrap_or("")));
        json!({"step": "custom", "resource": o.name, "operation": "Invoke", "alreadyDone": false, "status": o.status, "detail": detail, "output": o.output})
    });
    steps.chain(custom).collect()
}

pub(super) fn seconds(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "not measured".into(), |s| format!("{s:.1} s"))
}

pub(super) fn print_summary(report: &Value, timeline: &Timeline, facts: &[Verified]) {
    println!("\nTimeline");
    for t in &timeline.transitions {
        println!(
            "  {:>8.3}s  {:<26} {:<8} {:>6} ms",
            t.offset_ms as f64 / 1000.0,
            t.state,
            t.state_type,
            t.duration_ms
        );
    }
    let faulted = report["faultedCalls"].as_array().map_or(0, Vec::len);
    if faulted > 0 {
        // Which calls the injected faults hit, and why the recovery held without them.
        println!("\nInjected faults: {faulted} calls failed");
        for f in report["faultedOperations"].as_array().into_iter().flatten() {
            println!(
                "  {:>4}x  {:<10} {:<42} {:<9} {}",
                f["calls"].as_u64().unwrap_or(0),
                f["region"].as_str().unwrap_or("?"),
                f["operation"].as_str().unwrap_or("?"),
                f["fault"].as_str().unwrap_or("?"),
                f["held"].as_str().unwrap_or("")
            );
        }
    }
    println!("\nActions");
    for a in report["actions"].as_array().into_iter().flatten() {
        println!(
            "  {:<9} {:<32} {:<70} {}",
            a["step"].as_str().unwrap_or(""),
            a["operation"].as_str().unwrap_or(""),
            a["resource"].as_str().unwrap_or(""),
            if a["alreadyDone"] == true {
                "already done"
            } else {
                a["status"].as_str().unwrap_or("")
            }
        );
    }
    println!("\nEnd state in moto");
    for f in facts {
        println!(
            "  [{}] {:<40} {}",
            if f.ok { "ok" } else { "FAIL" },
            f.what,
            if f.ok {
                f.found.clone()
            } else {
                format!("expected {}, found {}", f.expected, f.found)
            }
        );
    }
    println!();
    for (name, m) in [("RTO", &report["rto"]), ("RPO", &report["rpo"])] {
        if m.is_null() {
            println!("{name} not measured: nothing was recovered");
        } else {
            println!(
                "{name} {} (target {} s, {})",
                seconds(&m["actualSeconds"]),
                m["targetSeconds"],
                if m["met"] == true { "met" } else { "not met" }
            );
        }
    }
    if let Some(subject) = report.pointer("/notification/subject").and_then(Value::as_str) {
        println!("Notification: {subject}");
    }
    println!(
        "Interpreter's own time: {:.3} ms of {} ms (handlers {} ms, waits {} ms, summed over branches)",
        timeline.interpreter_us as f64 / 1000.0,
        timeline.total_ms,
        timeline.task_ms,
        timeline.wait_ms
    );
    if let Some(e) = report["error"].as_object() {
        println!(
            "Execution FAILED: {} {}",
            e.get("Error").and_then(Value::as_str).unwrap_or(""),
            e.get("Cause").and_then(Value::as_str).unwrap_or("")
        );
    }
    let unknown = report["unknownChecks"].as_array().map_or(0, Vec::len);
    for c in report["unknownChecks"].as_array().into_iter().flatten() {
        println!(
            "Unknown: {}: {}",
            c["name"].as_str().unwrap_or(""),
            c["detail"].as_str().unwrap_or("")
        );
    }
    println!(
        "{}",
        match (report["verified"] == true, report["succeeded"] == true) {
            (true, true) if unknown > 0 => format!("RECOVERY VERIFIED, {unknown} check(s) UNKNOWN"),
            (true, true) => "RECOVERY VERIFIED".into(),
            (true, false) => "REFUSAL VERIFIED: nothing was changed".into(),
            (false, _) => "RECOVERY NOT VERIFIED".into(),
        }
    );
}

/// The drill's page: the execution's report (as the notifier left it in S3, or built from the
/// output when nothing was notified), then what the drill verified in moto.
pub(super) fn html(report: &Value, execution: Option<&rebound_shared::report::Report>) -> String {
    use rebound_shared::report::html::{escape, render};
    let facts: String = report["endState"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                if f["ok"] == true { "✔" } else { "✘" },
                escape(f["what"].as_str().unwrap_or("")),
                escape(f["found"].as_str().unwrap_or(""))
            )
        })
        .collect();
    let extra = format!(
        "<h2>Drill {}: {}</h2><p>What moto holds afterwards:</p><table>{facts}</table>",
        escape(report["scenario"].as_str().unwrap_or("")),
        if report["verified"] == true {
            "recovery verified"
        } else {
            "recovery NOT verified"
        },
    );
    match execution {
        Some(r) => render(r, &extra),
        None => format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>Rebound drill {}</title></head><body>{extra}</body></html>",
            escape(report["execution"].as_str().unwrap_or(""))
        ),
    }
}

/// The forecast, its critical path, and the figures with their sources.
/// A drill on AWS's time at `scale` (its changes and Wait states `scale` times as long as
/// AWS's): the measured RTO scaled back to full time, beside the forecast's.
pub fn print_scaled_rto(report: &Value, scale: f64) {
    let measured = report["rto"]["actualSeconds"].as_f64();
    let forecast = report["forecast"]["rtoSeconds"].as_f64();
    if let (Some(measured), Some(forecast)) = (measured, forecast) {
        let full = measured / scale;
        println!(
            "On AWS's time at x{scale}: RTO {measured:.1} s, {full:.0} s at full scale; forecast {forecast:.0} s ({:+.0} %)",
            (full - forecast) / forecast * 100.0
        );
    }
}

pub fn print_forecast(forecast: &Value) {
    use rebound_shared::forecast::figures;
    use rebound_shared::report::html::human;
    if forecast.is_null() {
        println!("\nNo forecast: the execution ended without a recovery context");
        return;
    }
    println!("\nForecast: this recovery on a virtual clock (AWS's documented times; each step looking again when its changes should be done)");
    for leg in forecast["legs"].as_array().into_iter().flatten() {
        println!(
            "  {} {:<12} {:>12}  {}",
            if leg["critical"] == true { "*" } else { " " },
            leg["phase"].as_str().unwrap_or(""),
            human(leg["seconds"].as_f64().unwrap_or(0.0)),
            leg["label"].as_str().unwrap_or("")
        );
    }
    let rto = forecast["rtoSeconds"].as_f64().unwrap_or(0.0);
    let target = forecast["targetSeconds"].as_f64().unwrap_or(0.0);
    println!(
        "Predicted RTO {} (target {}): {}",
        human(rto),
        human(target),
        if forecast["withinTarget"] == true {
            "within target"
        } else {
            "EXCEEDS the target"
        }
    );
    let path: Vec<String> = forecast["legs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["critical"] == true)
        .map(|l| {
            let phase = match l["phase"].as_str().unwrap_or("") {
                "other" => "custom actions",
                other => other,
            };
            format!("{phase} ({})", human(l["seconds"].as_f64().unwrap_or(0.0)))
        })
        .collect();
    println!("Critical path (*): {}", path.join(" → "));
    let floor = forecast["floorSeconds"].as_f64().unwrap_or(0.0);
    println!(
        "Physical floor {} (AWS's own durations, custom actions at theirs: {}); the forecast is {:.2}x the floor",
        human(floor),
        forecast["floorPath"].as_str().unwrap_or(""),
        rto / floor.max(1.0)
    );
    for left in forecast["excluded"].as_array().into_iter().flatten() {
        println!("Not counted: {}", left.as_str().unwrap_or(""));
    }
    println!("\nFigures (shared/core/src/forecast/figures.rs)");
    for f in figures::ALL {
        println!(
            "  {:<28} {:>10}  {:<10} {}\n  {:<28} {:>10}  {:<10} source: {}",
            f.key,
            if f.key == "custom-action" {
                "timeout".to_string()
            } else {
                human(f.seconds)
            },
            serde_json::to_value(f.basis)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default(),
            f.what,
            "",
            "",
            "",
            f.source
        );
    }
}
