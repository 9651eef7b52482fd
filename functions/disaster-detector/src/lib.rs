//! disaster-detector: the first state. It recognises the event, loads and validates the plan,
//! decides whether recovery is required (and why), classifies the disaster, and emits the
//! recovery context every later state works on.

mod decide;
pub mod event;
pub mod reprotect;
pub mod signals;

use chrono::{DateTime, Utc};
use rebound_shared::context::{Declined, Mode, RecoveryPath};
use rebound_shared::error::{AwsError, ErrorKind};
use rebound_shared::objectives::later;
use rebound_shared::plan::{InvalidPlan, RecoveryPlan, UnknownSignals};
use rebound_shared::source::{load_plan, PlanLocation, PlanRef, PlanSourceError};
use rebound_shared::table::{Lease, RecoveryTable};
use rebound_shared::RecoveryContext;
use serde_json::{json, Value};

pub use decide::assess;
pub use event::{DetectorRequest, ManualStart, TriggerEvent};

#[derive(Debug, thiserror::Error)]
pub enum DetectorError {
    #[error("malformed event: {0}")]
    MalformedEvent(String),
    #[error("unsupported event detail-type '{0}': expected a CloudWatch Alarm State Change, an AWS Health Event, a Scheduled Event, or a manual start")]
    UnsupportedEvent(String),
    #[error("no plan: set PLAN_LOCATION (the stack's PlanLocation)")]
    NoPlan,
    #[error(
        "this start brings its own plan ({brought}), and this stack runs only its own ({pinned}): \
         leave plan and planLocation out, or deploy with AllowStartPlan=true (rebound run --allow-start-plan locally)"
    )]
    StartPlanNotAllowed { brought: String, pinned: String },
    #[error("the {what} is from account {found}, not this stack's account {expected}")]
    ForeignAccount {
        what: &'static str,
        found: String,
        expected: String,
    },
    #[error(transparent)]
    PlanSource(#[from] PlanSourceError),
    #[error("inline plan: {0}")]
    InvalidPlan(#[from] InvalidPlan),
    #[error("recoveryStrategy.{field}: {message}")]
    StrategyMismatch { field: &'static str, message: String },
    #[error("recovery table: {0}")]
    Table(AwsError),
    #[error("{0}")]
    Retry(String),
    #[error("the context could not be written as JSON: {0}")]
    Output(String),
}

impl DetectorError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            DetectorError::PlanSource(e) => e.kind(),
            DetectorError::Table(e) => e.kind,
            DetectorError::Output(_) => ErrorKind::StepFailed,
            _ => ErrorKind::InvalidInput,
        }
    }
}

rebound_shared::impl_diagnostic!(DetectorError);

/// The detector's AWS clients and configuration, built once per process.
pub struct Detector {
    pub ssm: aws_sdk_ssm::Client,
    pub s3: aws_sdk_s3::Client,
    /// `PLAN_LOCATION`: the stack's plan, the only one an execution runs unless
    /// `allow_start_plan`.
    pub plan_location: Option<String>,
    /// `ALLOW_START_PLAN` (the stack's `AllowStartPlan`, off by default): a manual start may bring
    /// its own plan (inline, or another location). The plan sets approvals, cooldown, lease and
    /// RPO rules, so whoever may start an execution would otherwise set them.
    pub allow_start_plan: bool,
    /// `STACK_ACCOUNT`: the account whose EventBridge events may start a recovery (the rules pin
    /// it too); an event naming another is refused. Unset (a bare local run): not checked.
    pub account: Option<String>,
    /// `RECOVERY_TABLE`: the lease, cooldown and audit records. Without it (a bare local run)
    /// nothing stops a second recovery.
    pub table: Option<RecoveryTable>,
    /// For reading signals in the regions the plan names.
    pub config: aws_config::SdkConfig,
}

impl Detector {
    pub fn new(config: &aws_config::SdkConfig, plan_location: Option<String>, table: Option<String>) -> Self {
        Detector {
            ssm: aws_sdk_ssm::Client::new(config),
            s3: aws_sdk_s3::Client::new(config),
            plan_location: plan_location.filter(|l| !l.is_empty()),
            allow_start_plan: false,
            account: None,
            table: table
                .filter(|t| !t.is_empty())
                .map(|name| RecoveryTable::new(config, name)),
            config: config.clone(),
        }
    }

    /// Handles one request: parse, load the plan, decide. The payload is either a
    /// [`DetectorRequest`] (from the state machine) or the bare event (`sam local invoke`).
    /// [`Detector::detect`], as the state machine's state: the plan by reference when it was
    /// read from a location.
    pub async fn detect_state(&self, payload: Value, now: DateTime<Utc>) -> Result<Value, DetectorError> {
        let context = self.detect(payload, now).await?;
        context.to_state().map_err(|e| DetectorError::Output(e.to_string()))
    }

    pub async fn detect(&self, payload: Value, now: DateTime<Utc>) -> Result<RecoveryContext, DetectorError> {
        let mut request = DetectorRequest::from_payload(payload)?;
        // Any start (an alarm's event included) may be a retry: `rebound retry` adds `retryOf`.
        let retry_of = match request.event.as_object_mut().and_then(|e| e.remove("retryOf")) {
            None => None,
            Some(Value::String(of)) => Some(of),
            Some(other) => {
                return Err(DetectorError::Retry(format!(
                    "retryOf must be a recovery id, not {other}"
                )))
            }
        };
        let trigger = TriggerEvent::parse(&request.event)?;
        self.same_account(&trigger)?;
        let (plan, plan_ref) = self.plan_for(&trigger).await?;
        let recovery_id = recovery_id(request.execution_id.as_deref(), &plan.application, now);
        let mut context = assess(&trigger, request.event, plan, recovery_id, now)?;
        context.plan_ref = plan_ref;
        self.quorum(&trigger, &mut context, now).await;
        if matches!(trigger, TriggerEvent::Schedule(_)) && context.plan.detection.reprotect_when_healthy {
            Box::pin(self.reprotect_when_healthy(&mut context, now)).await;
        }
        if let Some(of) = retry_of {
            retry(self.table.as_ref(), &mut context, &of).await?;
        }
        self.follow_last_region(&mut context).await?;
        // A readiness check changes nothing, so it neither takes the lease nor is audited as a decision.
        if let (Some(table), false) = (&self.table, context.path == RecoveryPath::ReadinessCheck) {
            guard(table, &mut context, now).await.map_err(DetectorError::Table)?;
        }
        tracing::info!(
            recovery_id = %context.recovery_id,
            recovery_required = context.decision.recovery_required,
            disaster_type = ?context.event.disaster_type,
            reasons = ?context.decision.reasons,
            "decided"
        );
        Ok(context)
    }

    /// An EventBridge event names the account it came from: only this stack's may start.
    fn same_account(&self, trigger: &TriggerEvent) -> Result<(), DetectorError> {
        let Some(expected) = &self.account else {
            return Ok(());
        };
        let (what, found) = match trigger {
            TriggerEvent::Alarm(e) => ("CloudWatch alarm event", &e.account),
            TriggerEvent::Health(e) => ("AWS Health event", &e.account),
            TriggerEvent::Schedule(e) => ("scheduled event", &e.account),
            TriggerEvent::Manual(_) => return Ok(()),
        };
        match found {
            Some(found) if found == expected => Ok(()),
            found => Err(DetectorError::ForeignAccount {
                what,
                found: found.clone().unwrap_or_else(|| "(none given)".into()),
                expected: expected.clone(),
            }),
        }
    }

    /// A scheduled check after a failover, where the plan asks for it: once every signal of the
    /// primary reads healthy, it becomes a reprotect ([`reprotect`]). Anything unread leaves it a
    /// readiness check, with the reason.
    async fn reprotect_when_healthy(&self, ctx: &mut RecoveryContext, now: DateTime<Utc>) {
        let Some(table) = &self.table else {
            return;
        };
        let app = ctx.application.clone();
        let due = match futures_util::join!(table.last_recovery(&app), table.last_reprotect(&app)) {
            (Ok(last), Ok(protected)) => reprotect::pending(last.as_ref(), protected),
            (Err(e), _) | (_, Err(e)) => Err(format!("the recovery table could not be read ({e})")),
        };
        let signals = match &due {
            Ok(_) => signals::read(&self.config, &ctx.plan, None, now).await,
            Err(_) => Vec::new(),
        };
        match due.and_then(|why| reprotect::primary_healthy(&signals).map(|()| why)) {
            Ok(why) => reprotect::become_reprotect(ctx, why, now),
            Err(why) => ctx.decision.reasons.push(format!("no reprotect: {why}")),
        }
    }

    /// A retry, a failback and a reprotect act where the last recovery went, which may be
    /// another than the plan's first recovery region: they follow the region it recorded.
    async fn follow_last_region(&self, ctx: &mut RecoveryContext) -> Result<(), DetectorError> {
        let follows = ctx.run.is_some() || ctx.mode == Mode::Failback || ctx.path == RecoveryPath::Reprotect;
        let (Some(table), true, None) = (&self.table, follows, &ctx.recovery_region) else {
            return Ok(());
        };
        if ctx.plan.other_recovery_regions.is_empty() {
            return Ok(());
        }
        let last = table
            .last_recovery(&ctx.application)
            .await
            .map_err(DetectorError::Table)?;
        let Some(region) = last.and_then(|l| l.region) else {
            return Ok(());
        };
        if !ctx.plan.recovery_regions().contains(&region.as_str()) {
            return Err(DetectorError::StrategyMismatch {
                field: "recoveryRegion",
                message: format!(
                    "the last recovery went to {region}, which the plan no longer lists ({})",
                    ctx.plan.recovery_regions().join(", ")
                ),
            });
        }
        ctx.decision
            .reasons
            .push(format!("acts in {region}, where the last recovery went"));
        ctx.recovery_regions = vec![region.clone()];
        ctx.recovery_region = Some(region);
        Ok(())
    }

    /// An automatic trigger is one signal; the plan's `minSignals` must agree before acting.
    /// Manual starts are an operator's decision and are not put to the vote.
    async fn quorum(&self, trigger: &TriggerEvent, ctx: &mut RecoveryContext, now: DateTime<Utc>) {
        let detection = &ctx.plan.detection;
        let automatic = matches!(trigger, TriggerEvent::Alarm(_) | TriggerEvent::Health(_));
        if !automatic
            || !ctx.decision.recovery_required
            || (detection.alarms.is_empty() && detection.metrics.is_empty())
        {
            return;
        }
        let health = match trigger {
            TriggerEvent::Health(h) => Some(format!("open {} issue {}", h.detail.service, h.detail.event_type_code)),
            _ => None,
        };
        let read = signals::read(&self.config, &ctx.plan, health, now).await;
        let failing = signals::failing_votes(&read, detection.unknown_signals);
        let needed = detection.min_signals as usize;
        ctx.decision.reasons.extend(read.iter().map(signals::Signal::reason));
        let unknown = read.iter().filter(|s| s.vote == signals::Vote::Unknown).count();
        if failing < needed && failing + unknown >= needed && detection.unknown_signals == UnknownSignals::Abstain {
            // The signals that could not be read would have made the quorum: nothing is done,
            // and nothing is done in silence.
            ctx.decision.recovery_required = false;
            ctx.decision.declined = Some(Declined::Unconfirmed);
            ctx.decision.reasons.push(format!(
                "NOT CONFIRMED: {failing} of {} signals failing and {unknown} could not be read; {needed} must agree (unknownSignals: abstain)",
                read.len()
            ));
        } else if failing < needed {
            ctx.decision.recovery_required = false;
            ctx.decision.reasons.push(format!(
                "{failing} of {} signals failing; {needed} must agree",
                read.len()
            ));
        } else {
            ctx.decision.reasons.push(format!(
                "{failing} of {} signals failing; quorum of {needed} reached",
                read.len()
            ));
        }
    }

    /// The plan, and where it was read: the stack's, or one the start brought where allowed.
    async fn plan_for(&self, trigger: &TriggerEvent) -> Result<(RecoveryPlan, Option<PlanRef>), DetectorError> {
        let start = match trigger {
            TriggerEvent::Manual(start) => Some(start),
            _ => None,
        };
        let brought = start.and_then(|s| match (&s.plan, &s.plan_location) {
            (Some(_), _) => Some(PlanRef::INLINE.to_string()),
            (None, Some(l)) if Some(l) != self.plan_location.as_ref() => Some(l.clone()),
            _ => None,
        });
        if let Some(brought) = brought {
            if !self.allow_start_plan {
                return Err(DetectorError::StartPlanNotAllowed {
                    brought: if brought == PlanRef::INLINE {
                        "plan, inline".into()
                    } else {
                        format!("planLocation {brought}")
                    },
                    pinned: self
                        .plan_location
                        .clone()
                        .unwrap_or_else(|| "none is set: PLAN_LOCATION".into()),
                });
            }
            if let Some(inline) = start.and_then(|s| s.plan.as_ref()) {
                let plan = RecoveryPlan::from_value(inline)?;
                let reference = PlanRef {
                    location: PlanRef::INLINE.into(),
                    version: None,
                    sha256: rebound_shared::source::sha256_hex(&inline.to_string()),
                    from_start: true,
                };
                return Ok((plan, Some(reference)));
            }
            let location: PlanLocation = brought.parse()?;
            let (plan, reference) = load_plan(&location, &self.ssm, &self.s3).await?;
            return Ok((
                plan,
                Some(PlanRef {
                    from_start: true,
                    ..reference
                }),
            ));
        }
        let location: PlanLocation = self.plan_location.clone().ok_or(DetectorError::NoPlan)?.parse()?;
        let (plan, reference) = load_plan(&location, &self.ssm, &self.s3).await?;
        Ok((plan, Some(reference)))
    }
}

/// A retry runs the application's last recovery again, under its recovery id, as its next
/// attempt: only that recovery, and only when it did not succeed (its end was recorded, so it
/// was needed and changed something). Whether a run of it still holds the lease is the guard's
/// to find, as for any other recovery.
async fn retry(table: Option<&RecoveryTable>, ctx: &mut RecoveryContext, of: &str) -> Result<(), DetectorError> {
    let refuse = |why: String| DetectorError::Retry(format!("retryOf {of}: {why}"));
    if of.is_empty() || of.len() > 80 || !of.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(refuse(
            "not a recovery id (an execution name: 1-80 letters, digits, '-' and '_')".into(),
        ));
    }
    let table = table.ok_or_else(|| refuse("a retry needs the recovery table (RECOVERY_TABLE)".into()))?;
    let last = table
        .last_recovery(&ctx.application)
        .await
        .map_err(DetectorError::Table)?;
    match last {
        Some(last) if last.recovery_id == of && last.outcome != "succeeded" => {
            ctx.run = Some(std::mem::replace(&mut ctx.recovery_id, of.to_string()));
            // The decision its first run made stands: the signals may have changed since.
            ctx.decision.recovery_required = true;
            ctx.decision.declined = None;
            ctx.attempt = last.attempt.saturating_add(1);
            ctx.decision.reasons.push(format!(
                "retry: run {} of recovery {of}, which ended {} at {}",
                ctx.attempt,
                last.outcome,
                last.finished_at.to_rfc3339()
            ));
            Ok(())
        }
        Some(last) if last.recovery_id == of => Err(refuse("it succeeded: there is nothing to retry".into())),
        Some(last) => Err(refuse(format!(
            "only the application's last recovery can be retried, and that is {} (it ended {})",
            last.recovery_id, last.outcome
        ))),
        None => Err(refuse(format!(
            "no recovery of {} has ended with a change: start a new one instead",
            ctx.application
        ))),
    }
}

/// One recovery per application, and none during the cooldown after the last one: a required
/// recovery takes the application's lease or yields to the one holding it. Every decision is
/// audited.
async fn guard(table: &RecoveryTable, ctx: &mut RecoveryContext, now: DateTime<Utc>) -> Result<(), AwsError> {
    let app = ctx.application.clone();
    // The cooldown holds back a second recovery after an alarm storm; a reprotect after the
    // recovery is what the recovery asks for next.
    if ctx.decision.recovery_required && ctx.path != RecoveryPath::Reprotect {
        // A retry continues the recovery that ended: its end starts no cooldown for it.
        if let Some(last) = table
            .last_recovery(&app)
            .await?
            .filter(|l| l.recovery_id != ctx.recovery_id)
        {
            let until = later(last.finished_at, ctx.plan.detection.cooldown_seconds);
            if now < until {
                let what = format!(
                    "recovery {} ended {} at {}",
                    last.recovery_id,
                    last.outcome,
                    last.finished_at.to_rfc3339()
                );
                if ctx.force {
                    ctx.decision.reasons.push(format!(
                        "force: the cooldown after {what} is overridden by this manual start"
                    ));
                } else {
                    ctx.decision.recovery_required = false;
                    ctx.decision.declined = Some(Declined::Cooldown);
                    ctx.decision.reasons.push(format!(
                        "cooldown: {what}; no new recovery before {} (a manual start with force: true overrides)",
                        until.to_rfc3339()
                    ));
                }
            }
        }
    }
    if ctx.decision.recovery_required {
        // Long enough for the approval, the whole RTO and its validation; expired leases are taken over.
        let approval = if ctx.approval_required {
            ctx.approval_timeout_seconds
        } else {
            0
        };
        let seconds = approval.saturating_add(ctx.plan.objectives.rto_seconds.saturating_mul(2));
        let until = later(now, seconds);
        let lease = if ctx.dry_run {
            table.holder(&app, now).await?.unwrap_or(Lease::Acquired)
        } else {
            table
                .acquire_run(&app, &ctx.run_name(), &ctx.recovery_id, now, until)
                .await?
        };
        match lease {
            Lease::HeldBy { owner, expires_at } if owner != ctx.run_name() => {
                ctx.decision.recovery_required = false;
                ctx.decision.declined = Some(Declined::Lease);
                ctx.decision.reasons.push(format!(
                    "recovery already in progress: {owner} holds the lease until {}",
                    expires_at.to_rfc3339()
                ));
            }
            _ if ctx.dry_run => ctx.decision.reasons.push("dry run: no lease taken".into()),
            _ => ctx
                .decision
                .reasons
                .push(format!("lease taken until {}", until.to_rfc3339())),
        }
    }
    let detail = json!({
        "recoveryRequired": ctx.decision.recovery_required,
        "reasons": ctx.decision.reasons,
        "mode": ctx.mode,
        "dryRun": ctx.dry_run,
        "force": ctx.force,
        "source": ctx.event.source,
        "disasterType": ctx.event.disaster_type,
    });
    // A dry run leaves no record that could be read as a recovery: its output is its report.
    if ctx.dry_run {
        return Ok(());
    }
    table.audit(&app, &ctx.recovery_id, "decision", now, &detail).await
}

/// The execution's name when run by Step Functions, so logs, locks and messages share one id.
fn recovery_id(execution_id: Option<&str>, application: &str, now: DateTime<Utc>) -> String {
    match execution_id
        .and_then(|id| id.rsplit(':').next())
        .filter(|s| !s.is_empty())
    {
        Some(name) => name.to_string(),
        None => format!("{application}-{}", now.format("%Y%m%dT%H%M%SZ")),
    }
}
