//! The report as one self-contained HTML page (no script, no external file): the verdict, the
//! timeline on a time axis with a lane per parallel branch, the RTO by phase, the decision, the
//! approvals, every action, and what was left undone.

use std::fmt::Write;

use serde_json::Value;

use super::{Bar, Lane, Phase, Report};

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn colour(phase: Phase) -> &'static str {
    match phase {
        Phase::Detection => "#64748b",
        Phase::Decision => "#f59e0b",
        Phase::ApprovalWait => "#a855f7",
        Phase::Dns => "#2563eb",
        Phase::Databases => "#0d9488",
        Phase::Services => "#16a34a",
        Phase::Validation => "#db2777",
        Phase::Other => "#cbd5e1",
    }
}

fn lane_name(lane: Lane) -> &'static str {
    match lane {
        Lane::Main => "recovery",
        Lane::Dns => "DNS branch",
        Lane::Databases => "database branch",
        Lane::Capacity => "capacity branch",
    }
}

/// Seconds as people read them: `850 ms`, `12.4 s`, `3 min 05 s`.
pub fn human(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.0} ms", seconds * 1000.0)
    } else if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else {
        let whole = seconds.round() as u64;
        format!("{} min {:02} s", whole / 60, whole % 60)
    }
}

/// A tick interval giving at most ten ticks over `total_ms`.
pub(super) fn tick_ms(total_ms: u64) -> u64 {
    let steps = [1, 2, 5];
    let mut scale = 1u64;
    loop {
        for s in steps {
            let step = s * scale;
            if total_ms / step <= 10 {
                return step;
            }
        }
        scale = scale.saturating_mul(10);
    }
}

const WIDTH: f64 = 960.0;
const LABELS: f64 = 310.0;
const ROW: f64 = 26.0;

fn timeline_svg(bars: &[Bar]) -> String {
    let total = bars
        .iter()
        .map(|b| b.start_ms + b.duration_ms)
        .max()
        .unwrap_or(0)
        .max(1);
    let plot = WIDTH - LABELS - 20.0;
    let x = |ms: u64| LABELS + ms as f64 / total as f64 * plot;
    let mut rows = String::new();
    let mut y = 30.0;
    for lane in [Lane::Main, Lane::Dns, Lane::Databases, Lane::Capacity] {
        let in_lane: Vec<&Bar> = bars.iter().filter(|b| b.lane == lane).collect();
        if in_lane.is_empty() {
            continue;
        }
        let height = in_lane.len() as f64 * ROW + 6.0;
        let _ = write!(
            rows,
            "<rect class=\"lane\" x=\"0\" y=\"{y:.0}\" width=\"{WIDTH}\" height=\"{height:.0}\" fill=\"{}\"/>\
             <text x=\"6\" y=\"{:.0}\" class=\"lane-name\">{}</text>",
            if lane == Lane::Main { "#f8fafc" } else { "#eef2ff" },
            y + 14.0,
            lane_name(lane)
        );
        for (i, b) in in_lane.iter().enumerate() {
            let top = y + 4.0 + i as f64 * ROW;
            let left = x(b.start_ms);
            let width = (x(b.start_ms + b.duration_ms) - left).max(3.0);
            let polls = match (b.phase, b.polls) {
                (_, 0) => String::new(),
                (Phase::Validation, n) => format!(" · {} rounds", n + 1),
                (_, 1) => " · 1 poll".into(),
                (_, n) => format!(" · {n} polls"),
            };
            let text = format!("{}{polls} · {}", b.label, human(b.duration_ms as f64 / 1000.0));
            let _ = write!(
                rows,
                "<text x=\"140\" y=\"{:.0}\" class=\"bar-label\">{}</text>\
                 <rect class=\"bar {status}\" x=\"{left:.1}\" y=\"{top:.0}\" width=\"{width:.1}\" height=\"18\" rx=\"3\" fill=\"{}\"><title>{}</title></rect>",
                top + 13.0,
                escape(&b.label),
                colour(b.phase),
                escape(&text),
                status = escape(&b.status),
            );
            let _ = write!(
                rows,
                "<text x=\"{:.1}\" y=\"{:.0}\" class=\"bar-note\">{}</text>",
                (left + width + 4.0).min(WIDTH - 150.0),
                top + 13.0,
                escape(&format!("{}{polls}", human(b.duration_ms as f64 / 1000.0)))
            );
        }
        y += height + 4.0;
    }
    let step = tick_ms(total);
    let mut axis = format!(
        "<line x1=\"{LABELS}\" y1=\"22\" x2=\"{:.0}\" y2=\"22\" stroke=\"#334155\"/>",
        LABELS + plot
    );
    let mut at = 0;
    while at <= total {
        let _ = write!(
            axis,
            "<line x1=\"{0:.1}\" y1=\"18\" x2=\"{0:.1}\" y2=\"{y:.0}\" class=\"tick\"/><text x=\"{0:.1}\" y=\"14\" class=\"tick-label\">{1}</text>",
            x(at),
            human(at as f64 / 1000.0)
        );
        at += step;
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"timeline\" width=\"{WIDTH}\" height=\"{:.0}\">{axis}{rows}</svg>",
        y + 4.0
    )
}

fn phases_svg(report: &Report) -> String {
    let critical: Vec<_> = report.phases.iter().filter(|p| p.critical && p.seconds > 0.0).collect();
    let total: f64 = critical.iter().map(|p| p.seconds).sum();
    if total <= 0.0 {
        return String::new();
    }
    let mut left = 0.0;
    let mut out = String::new();
    for p in &critical {
        let w = p.seconds / total * WIDTH;
        let _ = write!(
            out,
            "<rect x=\"{left:.1}\" y=\"0\" width=\"{w:.1}\" height=\"22\" fill=\"{}\"><title>{} {}</title></rect>",
            colour(p.phase),
            p.phase.label(),
            human(p.seconds)
        );
        left += w;
    }
    format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"22\">{out}</svg>")
}

fn measurement(name: &str, m: Option<&crate::objectives::Measurement>) -> String {
    match m {
        Some(m) => match m.actual_seconds {
            Some(a) => format!(
                "<span class=\"{}\">{name} {} (target {})</span>",
                if m.met == Some(true) { "met" } else { "missed" },
                human(a),
                human(m.target_seconds as f64)
            ),
            None => format!("{name} not measured (target {})", human(m.target_seconds as f64)),
        },
        None => format!("{name} not measured"),
    }
}

fn compact(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn list(items: &[String]) -> String {
    items.iter().map(|i| format!("<li>{}</li>", escape(i))).collect()
}

/// The page; `extra` is more HTML for the end (a drill adds what it verified).
pub fn render(report: &Report, extra: &str) -> String {
    let verdict = match (&report.error, report.execution.status.as_str()) {
        (Some(e), _) => format!("FAILED: {} {}", e.error, e.cause),
        (None, status) => status.to_string(),
    };
    let e = &report.decision.event;
    let mut actions = String::new();
    for a in &report.actions {
        let x = &a.action;
        let _ = write!(
            actions,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td class=\"res\">{}</td><td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
            escape(&x.status.to_string()),
            escape(&a.step),
            escape(&x.operation),
            escape(&x.resource),
            escape(&compact(&x.before)),
            escape(&compact(&x.after)),
            escape(&if x.already_done { "already done".to_string() } else { x.status.to_string() }),
        );
    }
    let custom: String = report
        .custom_actions
        .iter()
        .map(|c| {
            format!(
                "<tr><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
                escape(&c.name),
                escape(&match &c.skipped {
                    Some(mark) => format!("SKIPPED by {}: {}", mark.by, mark.reason),
                    None => c.status.clone(),
                }),
                escape(
                    &c.output
                        .as_ref()
                        .map(compact)
                        .or_else(|| c.cause.clone())
                        .unwrap_or_default()
                )
            )
        })
        .collect();
    let approvals: Vec<String> = report
        .approvals
        .iter()
        .map(|a| {
            format!(
                "{} by {} (AWS identity: {}) at {}{}",
                if a.approved { "approved" } else { "rejected" },
                a.by.as_deref().unwrap_or("(not recorded)"),
                a.principal.as_deref().unwrap_or("not given"),
                a.at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "(not recorded)".into()),
                a.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default()
            )
        })
        .collect();
    let phases: String = report
        .phases
        .iter()
        .map(|p| {
            format!(
                "<tr><td><span class=\"swatch\" style=\"background:{}\"></span>{}</td><td>{}</td><td>{}</td></tr>",
                colour(p.phase),
                p.phase.label(),
                human(p.seconds),
                if p.critical { "critical path" } else { "in parallel" }
            )
        })
        .collect();
    let undone = [
        ("Left unfenced (may still take writes)", &report.unfenced),
        ("Not done", &report.not_done),
        ("Not verified", &report.unverified),
    ]
    .iter()
    .filter(|(_, items)| !items.is_empty())
    .map(|(title, items)| format!("<h3>{title}</h3><ul class=\"undone\">{}</ul>", list(items)))
    .collect::<String>();
    let plan = &report.plan;
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Rebound {app}: {name}</title><style>\
body{{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#0f172a;max-width:1000px}}\
h1{{font-size:22px;margin:0 0 4px}}h2{{font-size:17px;margin:22px 0 6px;border-bottom:1px solid #e2e8f0}}\
table{{border-collapse:collapse;font-size:13px}}td,th{{padding:3px 8px;text-align:left;vertical-align:top;border-bottom:1px solid #f1f5f9}}\
code{{font-size:12px;word-break:break-all}}.res{{word-break:break-all;max-width:260px}}.met{{color:#15803d;font-weight:600}}.missed{{color:#b91c1c;font-weight:600}}\
.verdict{{font-size:16px;font-weight:600}}.lane-name{{font-size:12px;font-weight:600;fill:#475569}}.bar-label{{font-size:12px}}.bar-note{{font-size:11px;fill:#334155}}\
.tick{{stroke:#e2e8f0}}.tick-label{{font-size:10px;fill:#64748b;text-anchor:middle}}.swatch{{display:inline-block;width:10px;height:10px;margin-right:6px}}\
.undone li{{color:#b91c1c}}tr.failed td{{background:#fef2f2}}\
</style></head><body>\
<h1>Rebound: {app} {mode} ({path}){dry}</h1>\
<p class=\"verdict\">Execution {name}: {verdict}</p>\
<p>{rto} · {rpo} · {primary} → {recovery}</p>\
<h2>Timeline</h2>{timeline}\
<h2>RTO by phase</h2>{phase_bar}<table>{phases}</table>\
<h2>Decision</h2><p>{etype} ({severity}) in {region} from {source}, detected {detected}{declined}</p><ul>{signals}</ul>\
<h2>Plan</h2><p>{plan_where}</p>\
<h2>Approvals</h2>{approvals}\
{undone}\
<h2>Actions</h2><table><tr><th>step</th><th>operation</th><th>resource</th><th>before</th><th>after</th><th>status</th></tr>{actions}</table>\
{custom}{extra}</body></html>",
        app = escape(&report.application),
        name = escape(&report.execution.name),
        mode = report.mode,
        path = report.path,
        dry = if report.dry_run { " — dry run" } else { "" },
        verdict = escape(&verdict),
        rto = measurement("RTO", report.rto.as_ref()),
        rpo = measurement("RPO", report.rpo.as_ref()),
        primary = escape(&plan.primary_region),
        recovery = escape(&plan.recovery_region),
        timeline = timeline_svg(&report.timeline),
        phase_bar = phases_svg(report),
        etype = e.disaster_type,
        severity = e.severity,
        region = escape(&e.affected_region),
        source = escape(&serde_json::to_value(e.source).map(|v| compact(&v)).unwrap_or_default()),
        detected = e.detected_at.to_rfc3339(),
        declined = report
            .decision
            .declined
            .as_deref()
            .map(|d| format!("; declined: {}", escape(d)))
            .unwrap_or_default(),
        signals = list(&report.decision.signals),
        plan_where = match &plan.location {
            Some(l) => format!(
                "{} version {} (sha256 {}){}",
                escape(l),
                escape(plan.version.as_deref().unwrap_or("unversioned")),
                escape(plan.sha256.as_deref().unwrap_or("")),
                if plan.from_start {
                    ": BROUGHT BY THE START, not the stack's plan (allowed by AllowStartPlan)"
                } else {
                    ""
                }
            ),
            None => "not recorded".into(),
        },
        approvals = if approvals.is_empty() {
            "<p>none asked</p>".to_string()
        } else {
            format!("<ul>{}</ul>", list(&approvals))
        },
        custom = if custom.is_empty() {
            String::new()
        } else {
            format!("<h2>Custom actions</h2><table>{custom}</table>")
        },
    )
}
