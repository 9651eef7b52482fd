//! What every acting step shares: its request taken apart ([`StepRequest::phase`]), the causes
//! of failure common to all ([`StepFault`]), the region check, starting a result, timing
//! actions, carrying a result from `start` to `status`, and the deadline after which polling
//! gives up.

use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::context::{
    Action, ActionStatus, BadRequest, Mode, RecoveryContext, RecoveryPath, ServiceStage, Step, StepAction, StepRequest,
    StepResult, StepStatus,
};
use crate::error::{AwsError, ErrorKind};
use crate::plan::Service;

/// What a step is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Start,
    Status,
    /// A start in a dry run: every read and decision, no change (a step may check more).
    Readiness,
}

impl StepRequest {
    /// The phase and the context to run it on (a readiness check's is a dry run).
    pub fn phase(self) -> (Phase, RecoveryContext) {
        let mut context = self.context;
        match self.action {
            StepAction::Start => (Phase::Start, context),
            StepAction::Status => (Phase::Status, context),
            StepAction::Readiness => {
                context.dry_run = true;
                (Phase::Readiness, context)
            }
        }
    }
}

/// The causes of failure every acting step shares; each step's error carries them
/// (`Step(#[from] StepFault)`) beside its own.
#[derive(Debug, thiserror::Error)]
pub enum StepFault {
    #[error(transparent)]
    BadRequest(#[from] BadRequest),
    /// An AWS call about `resource` failed; its kind is the call's.
    #[error("{resource}: {source}")]
    Aws { resource: String, source: AwsError },
    /// `resource` is missing or in a state the step may not act on.
    #[error("{resource}: {reason}")]
    Precondition { resource: String, reason: String },
    #[error("this function acts in {client} but the plan {wants} {plan}")]
    WrongRegion {
        /// What the plan wants there: "recovers into", "fails back into".
        wants: &'static str,
        plan: String,
        client: String,
    },
    #[error("status was asked before start: results.{0} is missing")]
    NotStarted(&'static str),
    #[error("{what} by the deadline {deadline}: {pending}")]
    DeadlinePassed {
        /// What did not happen in time: "DNS changes not INSYNC".
        what: &'static str,
        deadline: String,
        pending: String,
    },
}

impl StepFault {
    pub fn kind(&self) -> ErrorKind {
        match self {
            StepFault::Aws { source, .. } => source.kind,
            StepFault::Precondition { .. } => ErrorKind::PreconditionFailed,
            StepFault::BadRequest(_) | StepFault::WrongRegion { .. } | StepFault::NotStarted(_) => {
                ErrorKind::InvalidInput
            }
            StepFault::DeadlinePassed { .. } => ErrorKind::StepFailed,
        }
    }
}

impl StepFault {
    pub fn precondition(resource: impl Into<String>, reason: impl Into<String>) -> StepFault {
        StepFault::Precondition {
            resource: resource.into(),
            reason: reason.into(),
        }
    }
}

/// A client acting in `client` (its configuration's region) may act for the plan only in
/// `plan`: a function deployed or configured for another region refuses before any call.
pub fn ensure_region(client: Option<&str>, plan: &str, wants: &'static str) -> Result<(), StepFault> {
    let client = client.unwrap_or_default().to_string();
    if client == plan {
        return Ok(());
    }
    Err(StepFault::WrongRegion {
        wants,
        plan: plan.to_string(),
        client,
    })
}

/// A poll that leaves work pending past the context's deadline gives up, naming each pending
/// action as `describe` puts it; otherwise the result as it is.
pub fn within_deadline(
    result: StepResult,
    context: &RecoveryContext,
    now: DateTime<Utc>,
    what: &'static str,
    describe: impl Fn(&Action) -> String,
) -> Result<StepResult, StepFault> {
    if result.status == StepStatus::Completed || !past_deadline(context, now) {
        return Ok(result);
    }
    let pending: Vec<String> = result.pending().map(describe).collect();
    Err(StepFault::DeadlinePassed {
        what,
        deadline: context.timestamps.deadline.map(|d| d.to_rfc3339()).unwrap_or_default(),
        pending: pending.join(", "),
    })
}

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
            invocations: 0,
            actions: Vec::new(),
            rpo_seconds: None,
            needs_approval: None,
            error: None,
            next_check_seconds: None,
            skipped: None,
            ungraceful: context.ungraceful.clone().map(Box::new),
        }
    }

    /// A readiness dry run of a step the recovery's path does not take: nothing to check.
    pub fn not_in_scope(step: Step, context: &RecoveryContext, now: DateTime<Utc>) -> StepResult {
        StepResult {
            status: StepStatus::Completed,
            finished_at: Some(now),
            ..StepResult::begin(step, context, now)
        }
    }

    /// Completed when nothing is pending any more; adds this invocation's time.
    pub fn settle(mut self, invocation: Instant, now: DateTime<Utc>) -> StepResult {
        self.duration_ms += elapsed_ms(invocation);
        self.invocations += 1;
        if self.actions.iter().any(|a| a.status == ActionStatus::Pending) {
            self.status = StepStatus::InProgress;
            crate::poll::stamp(self.step, &mut self.actions, now);
            self.next_check_seconds = Some(crate::poll::next_check(&self.actions, now));
        } else {
            self.status = StepStatus::Completed;
            self.finished_at = Some(now);
            self.next_check_seconds = None;
        }
        self
    }

    /// This result and `other`'s, for one step that acted in parts (each account's resources
    /// as its role): every action, the larger RPO, every finding for an approver; in progress
    /// while any part is, looked at again when the soonest part wants.
    pub fn absorb(&mut self, other: StepResult) {
        self.actions.extend(other.actions);
        self.rpo_seconds = match (self.rpo_seconds, other.rpo_seconds) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.needs_approval = match (self.needs_approval.take(), other.needs_approval) {
            (Some(a), Some(b)) => Some(format!("{a}; {b}")),
            (a, b) => a.or(b),
        };
        if other.status == StepStatus::InProgress {
            self.status = StepStatus::InProgress;
            self.finished_at = None;
        }
        self.next_check_seconds = match (self.next_check_seconds, other.next_check_seconds) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.duration_ms = self.duration_ms.max(other.duration_ms);
    }

    pub fn pending(&self) -> impl Iterator<Item = &Action> {
        self.actions.iter().filter(|a| a.status == ActionStatus::Pending)
    }
}

impl Action {
    /// Whether a fence action left a writer that answers and takes writes: the split-brain risk
    /// a promotion must not run into without approval.
    pub fn leaves_a_writer(&self) -> bool {
        self.operation == "FenceOldWriter"
            && self.status == ActionStatus::Failed
            && self.before["acceptsWrites"] == true
    }

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
            expected_at: None,
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
            expected_at: None,
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

/// Whether a service or consumer that does (or does not) need the new writer is restored at
/// `stage`: when the region moves, what needs no writer is added beside the failover and the
/// rest after it; a service restore moves no writer and restores everything after its wait.
pub fn in_stage(context: &RecoveryContext, stage: ServiceStage, needs_writer: bool) -> bool {
    match stage {
        ServiceStage::All => true,
        ServiceStage::Capacity => moves_region(context) && !needs_writer,
        ServiceStage::AfterWriter => !moves_region(context) || needs_writer,
    }
}

/// The services in scope that `stage` restores.
pub fn services_in_stage(context: &RecoveryContext, stage: ServiceStage) -> Vec<&Service> {
    services_in_scope(context)
        .into_iter()
        .filter(|s| in_stage(context, stage, s.needs_writer()))
        .collect()
}

/// Whether DNS and databases fail over on this path.
pub fn moves_region(context: &RecoveryContext) -> bool {
    context.path != RecoveryPath::ServiceRestore
}
