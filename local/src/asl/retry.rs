//! Retry and Catch: which errors an `ErrorEquals` list covers, how long a retrier waits before
//! the next attempt, and which catcher takes an error.

use super::definition::{Catcher, Retrier};
use super::StateError;

/// Whether an `ErrorEquals` list covers `error`. `States.Runtime` always fails the execution,
/// even where a Retry or Catch names it ("Retrying on or catching States.Runtime won't prevent
/// that", Step Functions Developer Guide, error names); `States.DataLimitExceeded` only where
/// named: no wildcard covers either; `States.TaskFailed` covers all but `States.Timeout`.
pub fn covers(error_equals: &[String], error: &StateError) -> bool {
    if error.error == "States.Runtime" {
        return false;
    }
    let terminal = matches!(error.error.as_str(), "States.Runtime" | "States.DataLimitExceeded");
    error_equals.iter().any(|name| {
        *name == error.error
            || (!terminal && name == "States.ALL")
            || (!terminal && name == "States.TaskFailed" && error.error != "States.Timeout")
    })
}

/// The retrier that takes `error` and has attempts left (`attempts` counts each one's retries
/// so far), and its delay in seconds before the next attempt; None when the error stands.
pub fn next_attempt(retriers: &[Retrier], attempts: &[u64], error: &StateError) -> Option<(usize, f64)> {
    let index = retriers.iter().position(|r| covers(&r.error_equals, error))?;
    let r = &retriers[index];
    let done = attempts.get(index).copied().unwrap_or(0);
    if done >= r.max_attempts {
        return None;
    }
    let mut delay = r.interval_seconds * r.backoff_rate.powi(i32::try_from(done).unwrap_or(i32::MAX));
    if let Some(cap) = r.max_delay_seconds {
        delay = delay.min(cap);
    }
    if r.jitter_strategy.as_deref() == Some("FULL") {
        delay *= rand::random::<f64>();
    }
    Some((index, delay))
}

/// The catcher that takes `error`, if any.
pub fn catcher<'c>(catchers: &'c [Catcher], error: &StateError) -> Option<&'c Catcher> {
    catchers.iter().find(|c| covers(&c.error_equals, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retrier(max_attempts: u64) -> Retrier {
        Retrier {
            error_equals: vec!["Rebound.Transient".into()],
            interval_seconds: 2.0,
            max_attempts,
            backoff_rate: 2.0,
            max_delay_seconds: Some(5.0),
            jitter_strategy: None,
        }
    }

    #[test]
    fn delays_back_off_up_to_the_cap_and_attempts_run_out() {
        let transient = StateError::new("Rebound.Transient", "throttled");
        let r = [retrier(3)];
        assert_eq!(next_attempt(&r, &[0], &transient), Some((0, 2.0)));
        assert_eq!(next_attempt(&r, &[1], &transient), Some((0, 4.0)));
        assert_eq!(next_attempt(&r, &[2], &transient), Some((0, 5.0)));
        assert_eq!(next_attempt(&r, &[3], &transient), None);
        assert_eq!(
            next_attempt(&r, &[0], &StateError::new("Rebound.InvalidInput", "x")),
            None
        );
    }

    #[test]
    fn wildcards_cover_all_but_terminal_errors() {
        let all = vec!["States.ALL".to_string()];
        let failed = vec!["States.TaskFailed".to_string()];
        assert!(covers(&all, &StateError::new("Rebound.StepFailed", "")));
        assert!(!covers(&all, &StateError::new("States.DataLimitExceeded", "")));
        assert!(!covers(&all, &StateError::runtime("")));
        let runtime = vec!["States.Runtime".to_string()];
        assert!(!covers(&runtime, &StateError::runtime("a path that matched nothing")));
        let limit = vec!["States.DataLimitExceeded".to_string()];
        assert!(covers(&limit, &StateError::new("States.DataLimitExceeded", "")));
        assert!(covers(&failed, &StateError::new("Lambda.ServiceException", "")));
        assert!(!covers(&failed, &StateError::new("States.Timeout", "")));
    }
}
