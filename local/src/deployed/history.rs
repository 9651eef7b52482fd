//! An execution's history as Step Functions records it, read into plain events, and what the
//! operator asks of it: which states ran and how long, where it is now, which task token waits
//! for an answer, and the recovery context it carries.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::asl::Transition;

/// One history event, with what Rebound reads of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    /// The event this one follows (a task's `TaskScheduled` follows its state's entry).
    pub previous: i64,
    /// Step Functions' type: `TaskStateEntered`, `TaskScheduled`, `ExecutionSucceeded`, ...
    pub kind: String,
    pub at: DateTime<Utc>,
    /// The state a `*StateEntered`/`*StateExited` event names.
    pub state: Option<String>,
    /// The state's input or output, a scheduled task's parameters, the execution's output.
    pub payload: Option<String>,
    /// A failure's error and cause.
    pub error: Option<(String, String)>,
}

impl Event {
    pub fn from_sdk(e: &aws_sdk_sfn::types::HistoryEvent) -> Event {
        let at = e
            .timestamp()
            .to_millis()
            .ok()
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or_default();
        let entered = e.state_entered_event_details();
        let exited = e.state_exited_event_details();
        let state = entered
            .map(|d| d.name().to_string())
            .or_else(|| exited.map(|d| d.name().to_string()));
        let payload = entered
            .and_then(|d| d.input())
            .or_else(|| exited.and_then(|d| d.output()))
            .or_else(|| e.task_scheduled_event_details().map(|d| d.parameters()))
            .or_else(|| e.execution_succeeded_event_details().and_then(|d| d.output()))
            .or_else(|| e.execution_started_event_details().and_then(|d| d.input()))
            .map(str::to_string);
        let failure = |error: Option<&str>, cause: Option<&str>| {
            (
                error.unwrap_or_default().to_string(),
                cause.unwrap_or_default().to_string(),
            )
        };
        let error = e
            .execution_failed_event_details()
            .map(|d| failure(d.error(), d.cause()))
            .or_else(|| e.task_failed_event_details().map(|d| failure(d.error(), d.cause())))
            .or_else(|| {
                e.lambda_function_failed_event_details()
                    .map(|d| failure(d.error(), d.cause()))
            })
            .or_else(|| {
                e.execution_timed_out_event_details()
                    .map(|d| failure(d.error(), d.cause()))
            })
            .or_else(|| {
                e.execution_aborted_event_details()
                    .map(|d| failure(d.error(), d.cause()))
            });
        Event {
            id: e.id(),
            previous: e.previous_event_id(),
            kind: e.r#type().as_str().to_string(),
            at,
            state: state.filter(|_| e.r#type().as_str().contains("State")),
            payload,
            error,
        }
    }
}

/// One state's run: entered, and exited unless it still runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub state: String,
    /// `Task`, `Wait`, `Choice`, `Parallel`, `Map`, `Pass`, `Succeed`, `Fail`.
    pub kind: String,
    pub entered: DateTime<Utc>,
    pub exited: Option<DateTime<Utc>>,
    /// The id of the event that ended it, for `watch` to print each once.
    pub exit_id: Option<i64>,
    /// A task in it failed (and was retried or caught).
    pub failed: bool,
}

impl Run {
    /// The same line a local run prints, `origin` being the execution's start.
    pub fn transition(&self, origin: DateTime<Utc>) -> Transition {
        let ms = |a: DateTime<Utc>, b: DateTime<Utc>| u64::try_from((b - a).num_milliseconds()).unwrap_or(0);
        Transition {
            state: self.state.clone(),
            state_type: self.kind.clone(),
            started_at: self.entered,
            offset_ms: ms(origin, self.entered),
            duration_ms: self.exited.map_or(0, |x| ms(self.entered, x)),
            summary: match (self.exited, self.failed) {
                (None, _) => "running".into(),
                (Some(_), true) => "done after a failed attempt".into(),
                (Some(_), false) => "ok".into(),
            },
        }
    }
}

/// The states' runs in the order they were entered. A state's exit pairs with its earliest
/// open entry (a Map's iterations run one at a time here).
pub fn runs(events: &[Event]) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for e in events {
        let Some(state) = &e.state else {
            if e.kind.ends_with("Failed") || e.kind.ends_with("TimedOut") {
                // A task's failure belongs to the innermost state still open.
                if let Some(open) = out.iter_mut().rev().find(|r| r.exited.is_none()) {
                    open.failed = true;
                }
            }
            continue;
        };
        if let Some(kind) = e.kind.strip_suffix("StateEntered") {
            out.push(Run {
                state: state.clone(),
                kind: kind.to_string(),
                entered: e.at,
                exited: None,
                exit_id: None,
                failed: false,
            });
        } else if e.kind.ends_with("StateExited") {
            if let Some(open) = out.iter_mut().find(|r| r.exited.is_none() && &r.state == state) {
                open.exited = Some(e.at);
                open.exit_id = Some(e.id);
            }
        }
    }
    out
}

/// The task token a running `.waitForTaskToken` state waits on, and that state's name: read
/// from the parameters Step Functions scheduled it with (`taskToken` or `token` anywhere in
/// them).
pub fn waiting_token(events: &[Event]) -> Option<(String, String)> {
    let open: Vec<Run> = runs(events).into_iter().filter(|r| r.exited.is_none()).collect();
    events
        .iter()
        .rev()
        .filter(|e| e.kind == "TaskScheduled")
        .find_map(|scheduled| {
            let entry = events.iter().find(|e| e.id == scheduled.previous)?;
            let name = entry.state.as_ref().filter(|n| open.iter().any(|r| &r.state == *n))?;
            let parameters: Value = serde_json::from_str(scheduled.payload.as_deref()?).ok()?;
            find_token(&parameters).map(|token| (name.clone(), token))
        })
}

fn find_token(v: &Value) -> Option<String> {
    match v {
        Value::Object(map) => map
            .iter()
            .find(|(k, v)| (*k == "taskToken" || *k == "token") && v.is_string())
            .and_then(|(_, v)| v.as_str().map(String::from))
            .or_else(|| map.values().find_map(find_token)),
        Value::Array(items) => items.iter().find_map(find_token),
        _ => None,
    }
}

/// The recovery context the execution carried last: its output when it succeeded, otherwise
/// the newest state input or output that is one (a failed execution ends in a Fail state whose
/// input is the context).
pub fn last_context(events: &[Event]) -> Option<Value> {
    events.iter().rev().find_map(|e| {
        let payload: Value = serde_json::from_str(e.payload.as_deref()?).ok()?;
        let context = if payload.get("recoveryId").is_some() {
            payload
        } else {
            payload
                .get("context")
                .filter(|c| c.get("recoveryId").is_some())?
                .clone()
        };
        Some(context)
    })
}

/// The execution's failure, as its last event with an error says; the cause from the failure
/// that ended it when the execution's own event has none.
pub fn failure(events: &[Event]) -> Option<(String, String)> {
    let (error, cause) = events
        .iter()
        .rev()
        .find_map(|e| e.error.clone().filter(|_| e.kind.starts_with("Execution")))?;
    if !cause.is_empty() {
        return Some((error, cause));
    }
    let cause = events
        .iter()
        .rev()
        .filter_map(|e| e.error.as_ref())
        .find(|(e, c)| *e == error && !c.is_empty())
        .map(|(_, c)| c.clone())
        .unwrap_or_default();
    Some((error, cause))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: i64, kind: &str, second: u32, state: Option<&str>, payload: Option<&str>) -> Event {
        Event {
            id,
            previous: id - 1,
            kind: kind.into(),
            at: format!("2026-11-30T03:00:{second:02}Z").parse().expect("time"),
            state: state.map(String::from),
            payload: payload.map(String::from),
            error: None,
        }
    }

    /// The shape moto's executing Step Functions and AWS write for an approval then a
    /// two-branch Parallel.
    fn history() -> Vec<Event> {
        vec![
            event(1, "ExecutionStarted", 0, None, Some("{}")),
            event(2, "TaskStateEntered", 1, Some("Ask"), Some(r#"{"recoveryId":"r1"}"#)),
            event(
                3,
                "TaskScheduled",
                1,
                None,
                Some(r#"{"FunctionName":"f","Payload":{"taskToken":"T-1"}}"#),
            ),
            event(4, "TaskStarted", 1, None, None),
            event(5, "TaskSubmitted", 1, None, None),
        ]
    }

    #[test]
    fn an_open_approval_gives_its_state_and_token_until_it_is_answered() {
        let mut h = history();
        assert_eq!(waiting_token(&h), Some(("Ask".into(), "T-1".into())));
        h.push(event(6, "TaskSucceeded", 9, None, Some(r#"{"approved":true}"#)));
        h.push(event(
            7,
            "TaskStateExited",
            9,
            Some("Ask"),
            Some(r#"{"recoveryId":"r1","approval":{}}"#),
        ));
        assert_eq!(waiting_token(&h), None);
        let runs = runs(&h);
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].transition(h[0].at).duration_ms, 8000);
        assert_eq!(runs[0].exit_id, Some(7));
    }

    #[test]
    fn parallel_branches_pair_each_exit_with_its_own_entry() {
        let mut h = history();
        h.extend([
            event(8, "ParallelStateEntered", 10, Some("Par"), Some("{}")),
            event(9, "WaitStateEntered", 10, Some("W"), Some("{}")),
            event(10, "PassStateEntered", 10, Some("P"), Some("{}")),
            event(11, "PassStateExited", 10, Some("P"), Some("{}")),
            event(12, "WaitStateExited", 12, Some("W"), Some("{}")),
            event(13, "ParallelStateExited", 12, Some("Par"), Some("{}")),
        ]);
        let runs = runs(&h);
        let w = runs.iter().find(|r| r.state == "W").expect("W");
        assert_eq!((w.kind.as_str(), w.transition(h[0].at).duration_ms), ("Wait", 2000));
        assert!(runs.iter().filter(|r| r.state != "Ask").all(|r| r.exited.is_some()));
    }

    #[test]
    fn a_failed_attempt_marks_the_state_and_the_context_is_the_newest_one() {
        let mut h = history();
        h.push(Event {
            error: Some(("Lambda.ServiceException".into(), "boom".into())),
            ..event(6, "TaskFailed", 3, None, None)
        });
        assert!(runs(&h)[0].failed);
        assert_eq!(last_context(&h).map(|c| c["recoveryId"].clone()), Some("r1".into()));
        assert_eq!(failure(&h), None);
    }
}
