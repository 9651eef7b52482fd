//! A drill's report: the summary printed, and a self-contained HTML page with the timeline.

use super::*;

/// Every action the acting steps took, in step order, then the plan's custom actions.
pub(super) fn actions(ctx: &RecoveryContext) -> Vec<Value> {
    let results = &ctx.results;
    let steps = [("dns", &results.dns), ("database", &results.database), ("services", &results.services)]
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

pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A self-contained page: the summary and the timeline as an SVG Gantt chart.
pub(super) fn html(report: &Value, timeline: &Timeline) -> String {
    let total = timeline.total_ms.max(1) as f64;
    let row = 22.0;
    let width = 900.0;
    let label = 220.0;
    let mut bars = String::new();
    for (i, t) in timeline.transitions.iter().enumerate() {
        let y = 10.0 + i as f64 * row;
        let x = label + (t.offset_ms as f64 / total) * (width - label - 10.0);
        let w = ((t.duration_ms as f64 / total) * (width - label - 10.0)).max(2.0);
        let colour = match t.state_type.as_str() {
            "Task" => "#2563eb",
            "Wait" => "#9ca3af",
            "Choice" => "#f59e0b",
            "Fail" => "#dc2626",
            _ => "#10b981",
        };
        bars.push_str(&format!(
            "<text x=\"4\" y=\"{:.0}\" font-size=\"12\">{}</text><rect x=\"{x:.1}\" y=\"{:.0}\" width=\"{w:.1}\" height=\"14\" fill=\"{colour}\"><title>{} {} ms at {} ms</title></rect>",
            y + 11.0,
            escape(&t.state),
            y,
            escape(&t.state),
            t.duration_ms,
            t.offset_ms
        ));
    }
    let height = 20.0 + timeline.transitions.len() as f64 * row;
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
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Rebound drill {name}</title><style>body{{font-family:system-ui,sans-serif;margin:2em}}td{{padding:2px 8px}}</style></head><body>\
<h1>Rebound drill: {scenario}</h1><p>Execution {name}: <b>{verdict}</b></p>\
<p>RTO {rto} (target {rto_t} s) · RPO {rpo} (target {rpo_t} s) · interpreter {interp} ms of {total_ms} ms</p>\
<h2>Timeline</h2><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height:.0}\">{bars}</svg>\
<h2>End state</h2><table>{facts}</table></body></html>",
        name = escape(report["execution"].as_str().unwrap_or("")),
        scenario = escape(report["scenario"].as_str().unwrap_or("")),
        verdict = if report["verified"] == true { "recovery verified" } else { "recovery NOT verified" },
        rto = seconds(&report["rto"]["actualSeconds"]),
        rto_t = report["rto"]["targetSeconds"],
        rpo = seconds(&report["rpo"]["actualSeconds"]),
        rpo_t = report["rpo"]["targetSeconds"],
        interp = timeline.interpreter_ms(),
        total_ms = timeline.total_ms,
    )
}
