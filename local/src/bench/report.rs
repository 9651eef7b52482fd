//! The bench's figures as printed: each shape's last run in full, then medians over the pairs
//! and Route 53's quota floor, then every run as JSON.

use super::Figures;

pub(super) fn print(all: &[Figures]) {
    // Every pair is measured; the last one is shown in full.
    for f in all.iter().rev().take(2).rev() {
        println!("\n{}", f.shape);
        println!(
            "  {}  wall {} ms (moto's own CPU {} ms), {} AWS calls ({:.2} per resource), largest payload {} B ({}), plan {} B, peak memory {} KiB",
            if f.succeeded { "recovered" } else { "FAILED" },
            f.wall_ms,
            f.moto_cpu_ms,
            f.total_calls,
            f.total_calls as f64 / f.resources.max(1) as f64,
            f.largest_payload_bytes,
            f.largest_payload,
            f.plan_bytes,
            f.peak_memory_kib
        );
        if let (Some(rto), Some(floor)) = (f.forecast_seconds, f.floor_seconds) {
            println!(
                "  forecast RTO {rto:.0} s, physical floor {floor:.0} s: {:.2}x the floor",
                rto / floor.max(1.0)
            );
        }
        println!(
            "  execution report in S3: {} B JSON, {} B page",
            f.report_bytes.0, f.report_bytes.1
        );
        println!(
            "  Route 53 at its quota of five requests a second: at least {} ms of the wall time",
            route53_floor_ms(f)
        );
        println!(
            "  moto afterwards: {} records moved, {} databases promoted, {} services scaled, lease {}",
            f.moved.records,
            f.moved.databases,
            f.moved.services,
            if f.moved.lease_released { "released" } else { "HELD" }
        );
        if let Some(e) = &f.error {
            println!("  error: {}", e.chars().take(300).collect::<String>());
        }
        println!("  time per state (ms):");
        for (state, ms) in &f.per_state_ms {
            println!("    {state:<28} {ms:>8}");
        }
        println!("  calls per operation:");
        for (op, n) in &f.calls {
            println!("    {op:<44} {n:>6}");
        }
    }
    // Runs alternate small, large.
    let small: Vec<&Figures> = all.iter().step_by(2).collect();
    let large: Vec<&Figures> = all.iter().skip(1).step_by(2).collect();
    if !small.is_empty() && small.len() == large.len() {
        let wall = |fs: &[&Figures]| median(fs.iter().map(|f| f.wall_ms as f64).collect());
        let own = |fs: &[&Figures]| {
            median(
                fs.iter()
                    .map(|f| f.wall_ms.saturating_sub(f.moto_cpu_ms).max(1) as f64)
                    .collect(),
            )
        };
        let spread = |fs: &[&Figures]| {
            let walls: Vec<u64> = fs.iter().map(|f| f.wall_ms).collect();
            format!(
                "{}-{} ms",
                walls.iter().min().unwrap_or(&0),
                walls.iter().max().unwrap_or(&0)
            )
        };
        println!(
            "\n{} pair(s), medians: small {:.0} ms ({}), large {:.0} ms ({})",
            small.len(),
            wall(&small),
            spread(&small),
            wall(&large),
            spread(&large)
        );
        let floor = |fs: &[&Figures]| median(fs.iter().map(|f| route53_floor_ms(f) as f64).collect());
        println!(
            "large/small wall time: {:.1}x; without moto's CPU time: {:.1}x",
            wall(&large) / wall(&small).max(1.0),
            own(&large) / own(&small)
        );
        // The quota's floor overlaps moto's CPU time and the other branches: it is not subtracted.
        println!(
            "Route 53's quota alone needs {:.0} ms of the small run and {:.0} ms of the large one",
            floor(&small),
            floor(&large)
        );
    }
    println!("{}", serde_json::to_string(&all).unwrap_or_default());
}

/// Route 53 answers five requests a second per account: the least time `calls` of them take.
fn route53_floor_ms(f: &Figures) -> u64 {
    let calls = f
        .calls
        .iter()
        .filter(|(op, _)| op.starts_with("route53:"))
        .map(|(_, n)| *n as u64)
        .sum::<u64>();
    calls.saturating_sub(1) * 200
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}
