//! Bookkeeping every step shares: starting a result, timing actions, carrying a result from
//! `start` to `status`, and the deadline after which polling gives up.

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::context::{Action, ActionStatus, Mode, RecoveryContext, RecoveryPath, Step, StepResult, StepStatus};
use crate::plan::Service;

impl StepResult {
    /// A fresh result for a step starting now.
    pub fn begin(step: Step, context: &RecoveryContext, now: DateTime<Utc>) -> StepResult {
        StepResult {
            step,
            status: StepStatus::InProgress,
            dry_run: context.dry_run,
            started_at: Some(now),
            finished_at: None,
            duration_ms: 0,
            actions: Vec::new(),
            rpo_seconds: None,
            error: None,
        }
    }

    /// Completed when nothing is pending any more; adds this invocation's time.
    pub fn settle(mut self, invocation: Instant, now: DateTime<Utc>) -> StepResult {
        self.duration_ms += elapsed_ms(invocation);
        if self.actions.iter().any(|a| a.status == ActionStatus::Pending) {
            self.status = StepStatus::InProgress;
        } else {
            self.status = StepStatus::Completed;
            self.finished_at = Some(now);
        }
        self
    }

    pub fn pending(&self) -> impl Iterator<Item = &Action> {
        self.actions.iter().filter(|a| a.status == ActionStatus::Pending)
    }
}

impl Action {
    /// Found in the target state: nothing to do.
    pub fn already_done(resource: impl Into<String>, operation: &str, state: Value) -> Action {
        Action {
            resource: resource.into(),
            operation: operation.to_string(),
            before: state.clone(),
            after: state,
            already_done: true,
            status: ActionStatus::Done,
            duration_ms: 0,
            tracking_id: None,
            detail: None,
        }
    }

    /// A change to make: planned in a dry run, pending until carried out otherwise.
    pub fn change(resource: impl Into<String>, operation: &str, before: Value, after: Value, dry_run: bool) -> Action {
        Action {
            resource: resource.into(),
            operation: operation.to_string(),
            before,
            after,
            already_done: false,
            status: if dry_run {
                ActionStatus::Planned
            } else {
                ActionStatus::Pending
            },
            duration_ms: 0,
            tracking_id: None,
            detail: None,
        }
    }
}

pub fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Whether the context's action deadline has passed.
pub fn past_deadline(context: &RecoveryContext, now: DateTime<Utc>) -> bool {
    context.timestamps.deadline.is_some_and(|d| now > d)
}

/// Failback moves back to the primary's values; every other mode moves to the recovery's.
pub fn towards_recovery(context: &RecoveryContext) -> bool {
    context.mode != Mode::Failback
}

/// The services this recovery restores: all of the plan's, or on a service restore only those
/// the outage names.
pub fn services_in_scope(context: &RecoveryContext) -> Vec<&Service> {
    let all = context.plan.services.iter();
    match context.path {
        RecoveryPath::ServiceRestore => all
            .filter(|s| context.event.affected_services.iter().any(|a| s.matches(a)))
            .collect(),
        _ => all.collect(),
    }
}

/// Whether DNS and databases fail over on this path.
pub fn moves_region(context: &RecoveryContext) -> bool {
    context.path != RecoveryPath::ServiceRestore
}
