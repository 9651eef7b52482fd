//! When a polling step looks next. A change AWS documents as taking minutes is not polled from
//! its first second, and one that ends just after a poll is not noticed a whole interval late:
//! each pending change is expected at its documented duration ([`crate::forecast::figures`]),
//! the first check lands there, and past it the step looks again every [`SHORT_SECONDS`].

use chrono::{DateTime, Duration, Utc};

use crate::context::{Action, ActionStatus, Step};
use crate::forecast::figures;

/// The shortest wait: past a change's expected end, how often to look. Each look is one
/// invocation with a handful of reads (GetChange, DescribeDBInstances, DescribeServices...),
/// far below those APIs' rates even with several recoveries at once.
pub const SHORT_SECONDS: u32 = 5;

/// The longest wait: a change expected in half an hour is still looked at every minute, so a
/// failure or a passed deadline is noticed within one.
pub const LONGEST_SECONDS: u32 = 60;

/// The step's name in [`figures::for_operation`].
pub fn figures_step(step: Step) -> &'static str {
    match step {
        Step::DnsFailover => "dns",
        Step::DatabaseFailover => "database",
        _ => "services",
    }
}

/// When AWS's documented duration says `action`, pending since `now`, ends.
pub fn expected_at(step: Step, action: &Action, now: DateTime<Utc>) -> DateTime<Utc> {
    let seconds = figures::for_operation(figures_step(step), &action.operation)
        .map(|f| f.seconds)
        .unwrap_or(0.0);
    now + Duration::milliseconds((seconds * 1000.0) as i64)
}

/// Stamps each pending action that has no expected end yet (seen pending for the first time).
pub fn stamp(step: Step, actions: &mut [Action], now: DateTime<Utc>) {
    for action in actions.iter_mut().filter(|a| a.status == ActionStatus::Pending) {
        if action.expected_at.is_none() {
            action.expected_at = Some(expected_at(step, action, now));
        }
    }
}

/// Seconds until the next look: until the last pending change is expected to end, at least
/// [`SHORT_SECONDS`] and at most [`LONGEST_SECONDS`]. Step Functions' `SecondsPath` takes a
/// whole number: rounded up, so the look never comes before the expected end.
pub fn next_check(actions: &[Action], now: DateTime<Utc>) -> u32 {
    let last = actions
        .iter()
        .filter(|a| a.status == ActionStatus::Pending)
        .filter_map(|a| a.expected_at)
        .max();
    let remaining_ms = last.map(|at| (at - now).num_milliseconds()).unwrap_or(0).max(0);
    let seconds = u32::try_from((remaining_ms + 999) / 1000).unwrap_or(LONGEST_SECONDS);
    seconds.clamp(SHORT_SECONDS, LONGEST_SECONDS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn pending(operation: &str) -> Action {
        Action {
            resource: "r".into(),
            operation: operation.into(),
            before: Value::Null,
            after: Value::Null,
            already_done: false,
            status: ActionStatus::Pending,
            duration_ms: 0,
            tracking_id: None,
            detail: None,
            expected_at: None,
        }
    }

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap_or_default()
    }

    #[test]
    fn a_promotion_is_first_looked_at_near_its_documented_end_then_often() {
        let mut actions = vec![pending("PromoteReadReplica"), pending("UPSERT")];
        stamp(Step::DatabaseFailover, &mut actions, at(0));
        assert_eq!(actions[0].expected_at, Some(at(300)));
        // A minute at most, so a failure or the deadline is seen within one.
        assert_eq!(next_check(&actions, at(1)), 60);
        assert_eq!(next_check(&actions, at(260)), 40);
        // Just before the end: the look lands on it, never before (rounded up).
        assert_eq!(
            next_check(&actions, at(297) + Duration::milliseconds(500)),
            SHORT_SECONDS
        );
        // Past the expected end: short intervals.
        assert_eq!(next_check(&actions, at(400)), SHORT_SECONDS);
    }

    #[test]
    fn a_stamp_is_kept_from_the_first_time_a_change_is_seen_pending() {
        let mut actions = vec![pending("UPSERT")];
        stamp(Step::DnsFailover, &mut actions, at(0));
        stamp(Step::DnsFailover, &mut actions, at(30));
        assert_eq!(actions[0].expected_at, Some(at(60)));
        assert_eq!(next_check(&actions, at(30)), 30);
        // A change made later (a promotion after the old writer drained) is expected from then.
        actions.push(pending("UpdateService"));
        stamp(Step::ServiceRestoration, &mut actions, at(30));
        assert_eq!(actions[1].expected_at, Some(at(120)));
        assert_eq!(next_check(&actions, at(30)), 60);
        // Done changes are not waited for.
        actions[1].status = ActionStatus::Done;
        assert_eq!(next_check(&actions, at(50)), 10);
        actions[0].status = ActionStatus::Done;
        assert_eq!(next_check(&actions, at(50)), SHORT_SECONDS);
    }
}
