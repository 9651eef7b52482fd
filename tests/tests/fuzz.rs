//! Fuzz targets for what every invocation parses first: the starting event, the plan, and a
//! step's request with its context. Each input is a seed from the corpus (events/, examples/,
//! tests/fuzz/corpus/) with a few mutations. For every input, the code under test returns a value
//! or a typed `Rebound.*` error; it never panics, and a plan the checker accepts deserialises,
//! round-trips and runs through the detector's decision.
//!
//! `REBOUND_FUZZ_CASES` sets the number of inputs per target (default 2,000; the issue note's
//! figures use 100,000).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use chrono::{TimeZone, Utc};
use disaster_detector::{assess, DetectorRequest, TriggerEvent};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rebound_shared::context::{parse_request, NotificationRequest, StepRequest};
use rebound_shared::RecoveryPlan;
use serde_json::{json, Value};

fn cases() -> u32 {
    std::env::var("REBOUND_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000)
}

fn load(dir: &Path, filter: impl Fn(&str) -> bool) -> Vec<Value> {
    let mut seeds: Vec<(String, Value)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&filter))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.display().to_string(), value)
        })
        .collect();
    seeds.sort_by(|a, b| a.0.cmp(&b.0));
    seeds.into_iter().map(|(_, v)| v).collect()
}

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The samples the detector starts from, as opposed to the steps' requests.
fn starts_a_recovery(name: &str) -> bool {
    ["cloudwatch", "manual", "aws-health", "scheduled", "disaster-detector"]
        .iter()
        .any(|p| name.starts_with(p))
}

fn corpus(target: &str) -> Vec<Value> {
    load(&root().join("tests/fuzz/corpus").join(target), |_| true)
}

/// One change to a JSON document, at the node `at` (an index into its nodes, wrapped).
#[derive(Debug, Clone)]
enum Mutation {
    Remove {
        at: usize,
    },
    Replace {
        at: usize,
        with: Value,
    },
    /// Copies one node over another: right shapes in wrong places.
    Transplant {
        from: usize,
        to: usize,
    },
}

fn odd_values() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        Just(json!(1e13)),
        Just(json!(i64::MAX)),
        Just(json!(u64::MAX)),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!("")),
        Just(json!([])),
        Just(json!({})),
        Just(json!("2026-13-45T99:99:99Z")),
        Just(json!("+262143-12-31T23:59:59Z")),
        Just(json!("-262143-01-01T00:00:00Z")),
        "[a-zA-Z0-9 :/._-]{0,40}".prop_map(Value::String),
        "\\PC{0,20}".prop_map(Value::String),
        (1usize..160).prop_map(|depth| (0..depth).fold(json!(1), |v, _| json!([v]))),
        (1usize..4000).prop_map(|n| Value::String("x".repeat(n))),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        1 => any::<usize>().prop_map(|at| Mutation::Remove { at }),
        3 => (any::<usize>(), odd_values()).prop_map(|(at, with)| Mutation::Replace { at, with }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(from, to)| Mutation::Transplant { from, to }),
    ]
}

/// JSON pointers of every node, root first.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                pointers(v, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn mutate(mut doc: Value, mutations: &[Mutation]) -> Value {
    for m in mutations {
        let mut all = Vec::new();
        pointers(&doc, String::new(), &mut all);
        let pick = |i: usize| all[i % all.len()].clone();
        match m {
            Mutation::Remove { at } => {
                let target = pick(*at);
                let Some((parent, key)) = target.rsplit_once('/') else {
                    continue;
                };
                match doc.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&key.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(i) = key.parse::<usize>() {
                            if i < items.len() {
                                items.remove(i);
                            }
                        }
                    }
                    _ => {}
                }
            }
            Mutation::Replace { at, with } => {
                if let Some(node) = doc.pointer_mut(&pick(*at)) {
                    *node = with.clone();
                }
            }
            Mutation::Transplant { from, to } => {
                let value = doc.pointer(&pick(*from)).cloned();
                if let (Some(value), Some(node)) = (value, doc.pointer_mut(&pick(*to))) {
                    *node = value;
                }
            }
        }
    }
    doc
}

/// A seed and its mutations: none sometimes, so the seeds themselves are checked too.
fn input(seeds: Vec<Value>) -> impl Strategy<Value = Value> {
    let n = seeds.len();
    (0..n, prop::collection::vec(mutation(), 0..6)).prop_map(move |(i, ms)| mutate(seeds[i].clone(), &ms))
}

/// What a target made of one input, counted for the summary line.
#[derive(Default, Debug)]
struct Tally {
    accepted: u64,
    refused: u64,
}

fn typed(error_type: &str) -> Result<(), TestCaseError> {
    prop_assert!(error_type.starts_with("Rebound."), "untyped error {error_type}");
    Ok(())
}

/// Runs `check` on every generated input; a panic fails the target with the input.
fn fuzz(
    target: &str,
    strategy: impl Strategy<Value = Value>,
    check: impl Fn(&Value, &mut Tally) -> Result<(), TestCaseError>,
) {
    let cases = cases();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 2_000,
        ..Config::default()
    });
    let tally = std::cell::RefCell::new(Tally::default());
    let result = runner.run(&strategy, |input| {
        let mut t = tally.borrow_mut();
        match catch_unwind(AssertUnwindSafe(|| check(&input, &mut t))) {
            Ok(outcome) => outcome,
            Err(_) => Err(TestCaseError::fail("panicked")),
        }
    });
    let t = tally.into_inner();
    println!(
        "fuzz {target}: {cases} inputs, {} accepted, {} refused with a typed error, 0 panics",
        t.accepted, t.refused
    );
    if let Err(e) = result {
        panic!("fuzz {target}: {e}");
    }
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 12, 0, 0).single().expect("a time")
}

fn example_plan() -> RecoveryPlan {
    let text = std::fs::read_to_string(root().join("examples/plan.json")).expect("plan");
    RecoveryPlan::from_json(&text).expect("the example is valid")
}

/// The detector's whole pure path: request, event, plan (inline or the example), decision.
fn decide(payload: &Value, plan: RecoveryPlan) -> Result<bool, String> {
    let diag = |e: disaster_detector::DetectorError| lambda_runtime::Diagnostic::from(e).error_type;
    let request = DetectorRequest::from_payload(payload.clone()).map_err(diag)?;
    let trigger = TriggerEvent::parse(&request.event).map_err(diag)?;
    let plan = match request.event.get("plan").filter(|p| !p.is_null()) {
        Some(inline) => {
            RecoveryPlan::from_value(inline).map_err(|e| diag(disaster_detector::DetectorError::InvalidPlan(e)))?
        }
        None => plan,
    };
    let ctx = assess(&trigger, request.event, plan, "fuzz".into(), now()).map_err(diag)?;
    // The decision must serialise into the context every step parses.
    let value = serde_json::to_value(&ctx).map_err(|e| format!("unserialisable context: {e}"))?;
    parse_request::<StepRequest>(json!({"action": "start", "context": value}))
        .map_err(|e| format!("the detector's own context is refused: {e}"))?;
    Ok(ctx.decision.recovery_required)
}

#[test]
fn fuzz_the_event_parser() {
    let seeds = load(&root().join("events"), starts_a_recovery)
        .into_iter()
        .chain(corpus("event"))
        .collect::<Vec<_>>();
    assert!(seeds.len() >= 5, "{} seeds", seeds.len());
    let plan = example_plan();
    fuzz("event", input(seeds), |event, tally| {
        match decide(event, plan.clone()) {
            Ok(_) => tally.accepted += 1,
            Err(e) if e.starts_with("Rebound.") => tally.refused += 1,
            Err(e) => typed(&e)?,
        }
        Ok(())
    });
}

#[test]
fn fuzz_the_plan_checker() {
    let mut seeds = vec![serde_json::to_value(example_plan()).expect("plan")];
    seeds.push(
        serde_json::from_str(&std::fs::read_to_string(root().join("examples/plan.json")).expect("plan")).expect("json"),
    );
    seeds.extend(corpus("plan"));
    let start = json!({"mode": "failover", "reason": "fuzz", "disasterType": "regionOutage"});
    fuzz("plan", input(seeds), |doc, tally| {
        match RecoveryPlan::from_value(doc) {
            Ok(plan) => {
                tally.accepted += 1;
                // Checker and types agree: the plan round-trips and passes again.
                let again = serde_json::to_value(&plan).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert!(RecoveryPlan::from_value(&again).is_ok(), "{again}");
                // ... and runs: a manual start decides with it, and its context is accepted.
                let decided = decide(&json!({"event": start.clone()}), plan);
                prop_assert!(decided.is_ok(), "an accepted plan fails the decision: {decided:?}");
            }
            Err(invalid) => {
                tally.refused += 1;
                prop_assert!(!invalid.problems.is_empty());
            }
        }
        Ok(())
    });
}

#[test]
fn fuzz_step_requests_and_their_context() {
    let seeds: Vec<Value> = load(&root().join("events"), |n| !starts_a_recovery(n))
        .into_iter()
        .chain(corpus("context"))
        .collect();
    assert!(seeds.len() >= 5, "{} seeds", seeds.len());
    fuzz("context", input(seeds), |payload, tally| {
        let step = parse_request::<StepRequest>(payload.clone());
        let note = parse_request::<NotificationRequest>(payload.clone());
        match (&step, &note) {
            (Err(_), Err(_)) => tally.refused += 1,
            _ => tally.accepted += 1,
        }
        if let Ok(request) = note {
            // Composing a message is pure: it must work for any context that parses.
            let n = recovery_notifier::compose(&request, now());
            prop_assert!(n.subject.len() < 100, "{}", n.subject);
            let _ = recovery_notifier::metrics_line(&request.context, true, now());
        }
        if let Ok(request) = step {
            let ctx = &request.context;
            let _ = rebound_shared::objectives::action_deadline(
                ctx.event.detected_at,
                ctx.plan.objectives.rto_seconds,
                ctx.plan.validation.deadline_seconds,
                now(),
            );
        }
        Ok(())
    });
}
