//! What an execution did besides its output: each state's run, time spent in handlers and
//! waits, the interpreter's own time, the largest payload, and the history events Step
//! Functions would have written.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::dataflow::payload_bytes;
use super::StateError;

/// One state's run, for the timeline.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Transition {
    pub state: String,
    pub state_type: String,
    pub started_at: DateTime<Utc>,
    /// Milliseconds since the execution started.
    pub offset_ms: u64,
    pub duration_ms: u64,
    pub summary: String,
}

impl Transition {
    /// The live log's line, the same for a local run and `rebound watch`.
    pub fn line(&self) -> String {
        format!(
            "{:>9.3}s  {:<26} {:<8} {:>7} ms  {}",
            self.offset_ms as f64 / 1000.0,
            self.state,
            self.state_type,
            self.duration_ms,
            self.summary
        )
    }
}

/// What an execution did, besides its output.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    pub transitions: Vec<Transition>,
    /// Time spent in Task handlers, and in Wait states and retry back-off, summed over
    /// parallel branches.
    pub task_ms: u64,
    pub wait_ms: u64,
    pub total_ms: u64,
    /// The interpreter's own time in microseconds: every state's time minus what its handler
    /// and its sleeps took (Parallel and Map count through their children).
    pub interpreter_us: u64,
    /// The largest payload (a state's input or output, a task's input or result) in bytes,
    /// and what it was.
    pub largest_payload_bytes: usize,
    pub largest_payload: String,
    /// Payloads (what the execution history would hold) that contained a watched value
    /// ([`Recorder::watch`]): the values themselves are never copied here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub watched_in: Vec<String>,
}

impl Timeline {
    pub fn interpreter_ms(&self) -> u64 {
        self.interpreter_us / 1000
    }
}

/// Step Functions ends a Standard execution at 25,000 history events. The interpreter counts
/// the events AWS would write: two per state (entered, exited), three per task attempt
/// (scheduled, started, and succeeded or failed), two for a Parallel or Map state's own start
/// and end, and the execution's start.
pub const MAX_HISTORY_EVENTS: u64 = 25_000;

/// Keeps the timeline of the running execution, shared by its branches.
#[derive(Default)]
pub struct Recorder {
    timeline: Mutex<Timeline>,
    started: Mutex<Option<Instant>>,
    events: AtomicU64,
    watched: Mutex<Vec<String>>,
}

impl Recorder {
    /// A new execution: an empty timeline, one history event (the execution's start).
    pub fn start(&self, at: Instant) {
        if let Ok(mut s) = self.started.lock() {
            *s = Some(at);
        }
        self.with(|t| *t = Timeline::default());
        self.events.store(1, Ordering::Relaxed);
    }

    /// What ran so far, in the order states were entered.
    pub fn snapshot(&self) -> Timeline {
        let mut timeline = self.timeline.lock().map(|t| t.clone()).unwrap_or_default();
        timeline.transitions.sort_by_key(|t| t.offset_ms);
        timeline
    }

    pub fn with(&self, change: impl FnOnce(&mut Timeline)) {
        if let Ok(mut t) = self.timeline.lock() {
            change(&mut t);
        }
    }

    /// Counts `n` more history events; past the quota the execution fails, as in AWS.
    pub fn history(&self, n: u64) -> Result<(), StateError> {
        if self.events.fetch_add(n, Ordering::Relaxed) + n > MAX_HISTORY_EVENTS {
            return Err(StateError::runtime(format!(
                "the execution exceeded {MAX_HISTORY_EVENTS} history events (Step Functions' quota); a polling loop never ended"
            )));
        }
        Ok(())
    }

    /// Counts a state's two events (entered, exited) and gives the id of the first, which
    /// Step Functions names in a failing state's cause.
    pub fn entered(&self) -> Result<u64, StateError> {
        let before = self.events.load(Ordering::Relaxed);
        self.history(2)?;
        Ok(before + 1)
    }

    /// Values no payload may contain (a drill's canary secrets): each payload that does is
    /// named in [`Timeline::watched_in`].
    pub fn watch(&self, values: Vec<String>) {
        if let Ok(mut w) = self.watched.lock() {
            *w = values;
        }
    }

    /// Checks a payload against the quota, keeps the largest seen, and looks for watched values.
    pub fn within_payload_limit(&self, what: &str, value: &Value) -> Result<(), StateError> {
        let bytes = payload_bytes(what, value)?;
        let seen = match self.watched.lock() {
            Ok(watched) if !watched.is_empty() => {
                let text = value.to_string();
                watched.iter().any(|w| text.contains(w.as_str()))
            }
            _ => false,
        };
        self.with(|t| {
            if bytes > t.largest_payload_bytes {
                t.largest_payload_bytes = bytes;
                t.largest_payload = what.to_string();
            }
            if seen && t.watched_in.len() < 20 {
                t.watched_in.push(what.to_string());
            }
        });
        Ok(())
    }

    /// A state that ran from `entered`; printed at once when `verbose`.
    pub fn record(
        &self,
        name: &str,
        kind: &str,
        started_at: DateTime<Utc>,
        entered: Instant,
        summary: String,
        verbose: bool,
    ) {
        let offset = self
            .started
            .lock()
            .ok()
            .and_then(|s| s.map(|i| ms(entered.duration_since(i))))
            .unwrap_or(0);
        let t = Transition {
            state: name.to_string(),
            state_type: kind.to_string(),
            started_at,
            offset_ms: offset,
            duration_ms: ms(entered.elapsed()),
            summary,
        };
        if verbose {
            eprintln!("{}", t.line());
        }
        self.with(|timeline| timeline.transitions.push(t));
    }
}

pub fn us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

pub fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

pub fn truncate(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(n).collect::<String>())
    }
}

/// A short line about a finished state for the live log.
pub fn summarise(kind: &str, next: Option<&str>) -> String {
    let arrow = next.map(|n| format!(" → {n}")).unwrap_or_default();
    match kind {
        "Choice" => format!("chose{arrow}"),
        "Task" => format!("done{arrow}"),
        _ => format!("ok{arrow}"),
    }
}
