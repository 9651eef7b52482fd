//! The recovery context: the one JSON object the state machine carries from state to state.
//! Every function reads it and returns its own part (a [`StepResult`]), which the ASL places
//! under `results`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::plan::RecoveryPlan;
mod checks;
pub use crate::request::{
    parse_request, BadRequest, NotificationKind, NotificationRequest, ServiceStage, StepAction, StepRequest,
};
pub use checks::{failing_checks, Check, PassedOver, ReadinessReport, ValidationReport};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryContext {
    /// Identifies this recovery in logs, locks, audit records and notifications.
    pub recovery_id: String,
    pub application: String,
    pub mode: Mode,
    #[serde(default)]
    pub dry_run: bool,
    /// A manual start that overrides cooldowns and locks; recorded as such.
    #[serde(default)]
    pub force: bool,
    /// Which run of this recovery this is: 1, then one more for each `rebound retry` of it
    /// (the same recovery id, lease and control row).
    #[serde(default = "first_attempt", skip_serializing_if = "is_first_attempt")]
    pub attempt: u32,
    /// A retry's own execution name: its lease, control row and report are its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Set for a database-failover invocation of a switchover that an operator switched to
    /// ungraceful ([`crate::control::ungraceful`]): who and why. The mode is `failover` then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ungraceful: Option<crate::control::Mark>,
    pub event: DisasterEvent,
    pub decision: Decision,
    /// The plan. In the state machine's state it is absent and `planRef` names it instead;
    /// each function reads it again before anything uses the context (`source::PlanSource`).
    pub plan: RecoveryPlan,
    /// Where the plan was read, which version, and its digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_ref: Option<crate::plan_ref::PlanRef>,
    /// The recovery regions readiness may choose, in order: the plan's, or the one a manual
    /// start names (`recoveryStrategy.targetRegion`), or the one a failback returns from.
    /// The plan's when absent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery_regions: Vec<String>,
    /// The region this recovery acts in, of `recoveryRegions`; the first when absent. Readiness
    /// moves it on to the next region when one is not ready. Every step acts on the plan
    /// [`crate::plan::RecoveryPlan::towards`] it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_region: Option<String>,
    /// Whether the state machine waits for a human before acting.
    pub approval_required: bool,
    /// How long it waits for that answer (seconds).
    pub approval_timeout_seconds: u64,
    pub timestamps: Timestamps,
    /// Which states act: a regional failover, one service's restoration, or a read-only
    /// readiness check. Set by the detector from the classification.
    #[serde(default)]
    pub path: RecoveryPath,
    /// Set by the readiness check before anything changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness: Option<ReadinessReport>,
    /// Set by `DryRunSteps` before the readiness check: each acting step's dry run, run by the
    /// step's own function with its own role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_runs: Option<DryRuns>,
    /// Set by the approval gate: the approver's answer. Its presence is the approval that lets
    /// a failover lose more data than the RPO target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Value>,
    #[serde(default)]
    pub results: Results,
    /// The plan's custom actions by the point that runs them, carried in the state (the plan
    /// may travel by reference): the state machine's Map states read them.
    #[serde(default)]
    pub custom_actions: crate::plan::ActionsByPoint,
    /// What each custom action did, as the state machine recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_action_results: Option<crate::plan::ActionOutcomes>,
    /// Set by a `Catch`: the error that ended the recovery (`{"Error", "Cause"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<StateError>,
}

const fn first_attempt() -> u32 {
    1
}

fn is_first_attempt(attempt: &u32) -> bool {
    *attempt <= 1
}

impl RecoveryContext {
    /// This run's own name: the recovery id (its first execution's name) for its first run, a
    /// retry's execution name for a retry. The lease's owner, the control row's key and the
    /// report's name: a retry shares none of them with another run, one that still runs
    /// included.
    pub fn run_name(&self) -> String {
        self.run.clone().unwrap_or_else(|| self.recovery_id.clone())
    }

    /// The context as the state machine carries it: a plan read from a location travels by
    /// reference (`planRef`), not as a copy.
    pub fn to_state(&self) -> Result<Value, serde_json::Error> {
        let mut state = serde_json::to_value(self)?;
        if let (Some(r), Some(map)) = (&self.plan_ref, state.as_object_mut()) {
            if !r.is_inline() {
                map.remove("plan");
            }
        }
        Ok(state)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// The primary is down: move to the recovery region, accepting data loss within the RPO.
    Failover,
    /// Planned move with both regions healthy: no data loss allowed.
    Switchover,
    /// Return from the recovery region to the primary.
    Failback,
    /// Exercise the recovery against a test environment.
    Drill,
}

display_as_serde!(
    Mode,
    DisasterType,
    Severity,
    RecoveryPath,
    Declined,
    StepStatus,
    ActionStatus
);

/// What a recovery does, decided by the classification.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RecoveryPath {
    /// DNS and databases fail over, services are restored, everything is validated.
    #[default]
    Failover,
    /// One service's outage: only the affected services are restored; no DNS or database change.
    ServiceRestore,
    /// Scheduled or asked for: every check a failover would make, and no change.
    ReadinessCheck,
    /// After a failover, once the old primary region answers: what a failback needs is built
    /// there again (replicas of the new writers, the global databases' and tables' members),
    /// then the failback's readiness is checked. No DNS or service change.
    Reprotect,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DisasterEvent {
    pub disaster_type: DisasterType,
    pub severity: Severity,
    pub source: EventSource,
    pub affected_region: String,
    #[serde(default)]
    pub affected_services: Vec<String>,
    pub detected_at: DateTime<Utc>,
    #[serde(default)]
    pub description: String,
    /// The triggering event as received, for the audit trail.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub raw: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DisasterType {
    RegionOutage,
    AzOutage,
    ServiceOutage,
    DataCorruption,
    SecurityIncident,
    NaturalDisaster,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventSource {
    CloudwatchAlarm,
    AwsHealth,
    Manual,
    Schedule,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub recovery_required: bool,
    pub reasons: Vec<String>,
    /// Set when a recovery was needed but another one holds the lease or the cooldown runs:
    /// the execution ends cleanly, and callers can tell a refusal from "nothing to do".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declined: Option<Declined>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Declined {
    /// Another recovery of the application holds the lease.
    Lease,
    /// The application recovered recently; a manual start with `force: true` overrides.
    Cooldown,
    /// The alarm fired, but too few signals could be confirmed: those that could not be read
    /// would have made the quorum. Nothing is recovered, and the operators are told what was
    /// seen and why nothing was done.
    Unconfirmed,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timestamps {
    pub detected_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    /// After this the failover and restoration loops give up (derived from the RTO target).
    pub deadline: Option<DateTime<Utc>>,
}

/// One result per step, placed by the state machine's `ResultPath`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Results {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<StepResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<StepResult>,
    /// The capacity that does not need the new writer, added beside the failover
    /// (`AddCapacity`, service-restoration's `capacity` stage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<StepResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<StepResult>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<ValidationReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<StepResult>,
}

impl Results {
    /// The results of the steps that change resources, where they ran.
    pub fn acting(&self) -> impl Iterator<Item = &StepResult> {
        [&self.dns, &self.database, &self.capacity, &self.services]
            .into_iter()
            .flatten()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepResult {
    pub step: Step,
    pub status: StepStatus,
    #[serde(default)]
    pub dry_run: bool,
    /// Absent only on a result the state machine wrote for a step that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Time spent in this step's invocations so far.
    #[serde(default)]
    pub duration_ms: u64,
    /// How many times the step's function ran (its start, then each status poll): what a
    /// report folds a polling loop into.
    #[serde(default)]
    pub invocations: u32,
    #[serde(default)]
    pub actions: Vec<Action>,
    /// Replication lag or restore distance measured at promotion/restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpo_seconds: Option<f64>,
    /// A dry run's finding that only an approver may accept (a loss beyond the RPO target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needs_approval: Option<String>,
    /// Set by the branch's `Catch` when the step failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<StateError>,
    /// While in progress: when the state machine looks next (its Wait states' `SecondsPath`),
    /// from when AWS's documented durations say the pending changes end ([`crate::poll`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_check_seconds: Option<u32>,
    /// Who skipped the step and why (`status: skipped`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<Box<crate::control::Mark>>,
    /// Who switched the switchover this step carried out to ungraceful, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ungraceful: Option<Box<crate::control::Mark>>,
}

/// The acting steps' dry runs, as `DryRunSteps` leaves them: absent where the path has no such
/// step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DryRuns {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DryRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DryRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<DryRun>,
}

/// What one step's dry run gave: its result, or the error its branch caught.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum DryRun {
    Ran(Box<StepResult>),
    Failed(StateError),
}

impl StepResult {
    pub fn finished(&self) -> bool {
        matches!(
            self.status,
            StepStatus::Completed | StepStatus::Failed | StepStatus::Skipped
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Step {
    Detection,
    DnsFailover,
    DatabaseFailover,
    ServiceRestoration,
    Validation,
    Notification,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StepStatus {
    /// Changes were started; the state machine polls `status` until this changes.
    InProgress,
    Completed,
    Failed,
    /// An operator gave up on it (`rebound skip`): it changes nothing more, and never counts as
    /// passed.
    Skipped,
}

/// One change to one resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Action {
    /// What was acted on, e.g. `route53:Z0123/api.example.com./CNAME` or an ARN.
    pub resource: String,
    /// What was done, e.g. `UPSERT`, `PromoteReadReplica`, `UpdateService`.
    pub operation: String,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub before: Value,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub after: Value,
    /// Found already in the target state: nothing was changed.
    pub already_done: bool,
    pub status: ActionStatus,
    pub duration_ms: u64,
    /// A handle to poll (a Route 53 change id, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_id: Option<String>,
    /// While pending: when AWS's documented duration for the change says it ends, stamped the
    /// first time the change is seen pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ActionStatus {
    /// Dry run: this is what would be done.
    Planned,
    Pending,
    Done,
    Failed,
}

/// The error a `Catch` records: Step Functions' own shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

impl StateError {
    /// The cause as a person reads it: Lambda's `errorMessage` when the cause is the Lambda
    /// error object Step Functions passes on (`{"errorType", "errorMessage", ...}`), else the
    /// cause as it is.
    pub fn message(&self) -> String {
        serde_json::from_str::<Value>(&self.cause)
            .ok()
            .and_then(|v| v.get("errorMessage").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| self.cause.clone())
    }
}

#[cfg(test)]
mod display_tests {
    use super::*;
    use crate::plan::{Comparison, Strategy};

    #[test]
    fn enums_display_as_their_serde_names() {
        assert_eq!(Mode::Switchover.to_string(), "switchover");
        assert_eq!(DisasterType::RegionOutage.to_string(), "regionOutage");
        assert_eq!(Severity::Critical.to_string(), "critical");
        assert_eq!(NotificationKind::ApprovalRequest.to_string(), "approvalRequest");
        assert_eq!(NotificationKind::NoRecoveryNeeded.to_string(), "noRecoveryNeeded");
        assert_eq!(Strategy::PilotLight.to_string(), "pilotLight");
        assert_eq!(Comparison::GreaterThanOrEqual.to_string(), "greaterThanOrEqual");
        for kind in [NotificationKind::Success, NotificationKind::NotReady] {
            let parsed: NotificationKind =
                serde_json::from_value(serde_json::json!(kind.to_string())).expect("round trip");
            assert_eq!(parsed, kind);
        }
    }
}
