//! CheckReadiness: before anything changes, every step's own checks as a dry run, the old
//! writers' fences, the acting roles' permissions and the recovery endpoint. Not ready fails
//! with `Rebound.PreconditionFailed`; a scheduled check reports instead.

use chrono::{DateTime, Utc};
use database_failover::DatabaseError;
use futures_util::future::join_all;
use rebound_shared::context::{
    Action, ActionStatus, Check, Mode, ReadinessReport, RecoveryContext, RecoveryPath, StepResult,
};
use rebound_shared::error::ErrorKind;
use rebound_shared::plan::{Probe, Strategy};
use rebound_shared::step::{moves_region, towards_recovery};
use serde_json::json;

use crate::{check, RecoveryValidator, ValidationError};

impl RecoveryValidator {
    /// Everything the path would act on, read and checked, nothing changed: each step's own
    /// checks in a dry run, the old writers' fences, and the recovery endpoint.
    pub async fn readiness(
        &self,
        ctx: &RecoveryContext,
        now: DateTime<Utc>,
    ) -> Result<ReadinessReport, ValidationError> {
        let scheduled = ctx.path == RecoveryPath::ReadinessCheck;
        let mut checks = Vec::new();
        let mut data_loss_approval = false;
        let mut split_brain_approval = false;
        let mut expected_data_loss_seconds = None;
        let request = |ctx: &RecoveryContext| json!({ "action": "readiness", "context": ctx });
        if moves_region(ctx) {
            checks.push(match self.dns.handle(request(ctx), now).await {
                Ok(result) => check("dns records".into(), true, step_summary(&result)),
                Err(e) => transient("dns records", e.kind(), e.to_string())?,
            });
            let databases = match self.databases.handle(request(ctx), now).await {
                Err(DatabaseError::DataLoss { allowed, .. })
                    if !scheduled && ctx.mode == Mode::Failover && (allowed || ctx.approval_required) =>
                {
                    // Put the loss to the approver, and check the rest as if they had agreed.
                    data_loss_approval = true;
                    let mut assumed = ctx.clone();
                    assumed.approval = Some(json!("assumed by the readiness check"));
                    self.databases.handle(request(&assumed), now).await
                }
                other => other,
            };
            match databases {
                Ok(result) => {
                    expected_data_loss_seconds = result.rpo_seconds;
                    // A restore loses every write since its restore point or snapshot: beyond the
                    // RPO target that is for a human to accept too.
                    let rpo = ctx.plan.objectives.rpo_seconds as f64;
                    if !scheduled && ctx.mode == Mode::Failover && result.rpo_seconds.is_some_and(|s| s > rpo) {
                        data_loss_approval = true;
                    }
                    let mut detail = step_summary(&result);
                    if data_loss_approval {
                        detail.push_str(&format!(
                            "; expected data loss {} beyond the RPO target of {} s: needs approval",
                            expected_data_loss_seconds.map_or("unknown".to_string(), |s| format!("{s} s")),
                            ctx.plan.objectives.rpo_seconds
                        ));
                    }
                    checks.push(check("databases".into(), true, detail));
                    for fence in result.actions.iter().filter(|a| a.operation == "FenceOldWriter") {
                        if !scheduled && database_failover::fence::leaves_a_writer(fence) {
                            split_brain_approval = true;
                        }
                        checks.push(fence_check(fence, scheduled));
                    }
                }
                Err(e) => checks.push(transient("databases", e.kind(), e.to_string())?),
            }
        }
        checks.push(match self.services.handle(request(ctx), now).await {
            Ok(result) if result.actions.is_empty() => check(
                "services".into(),
                false,
                "none of the plan's services is in this recovery's scope".into(),
            ),
            Ok(result) => check("services".into(), true, step_summary(&result)),
            Err(e) => transient("services", e.kind(), e.to_string())?,
        });
        match &self.permissions {
            Some(permissions) => checks.extend(permissions.checks(ctx, scheduled).await),
            None => checks.push(Check::skipped(
                "permissions".into(),
                "not checked: ACTING_ROLES names no roles (a local run acts with the caller's own credentials)".into(),
            )),
        }
        if moves_region(ctx) {
            checks.extend(self.endpoint_checks(ctx).await);
            checks.push(static_stability(ctx, scheduled));
        }
        let failing: Vec<String> = checks
            .iter()
            .filter(|c| c.failed())
            .map(|c| format!("{}: {}", c.name, c.detail))
            .collect();
        let report = ReadinessReport {
            ready: failing.is_empty(),
            checked_at: now,
            summary: if failing.is_empty() {
                "ready".into()
            } else {
                failing.join("; ")
            },
            checks,
            data_loss_approval,
            split_brain_approval,
            expected_data_loss_seconds,
        };
        tracing::info!(ready = report.ready, summary = %report.summary, "readiness");
        if !report.ready && !scheduled {
            return Err(ValidationError::NotReady(report.summary));
        }
        Ok(report)
    }

    /// The recovery endpoint answers before traffic moves, where the strategy keeps one
    /// running; a pilot light or a backup restore has none until its services are restored.
    async fn endpoint_checks(&self, ctx: &RecoveryContext) -> Vec<Check> {
        let to_recovery = towards_recovery(ctx);
        let http: Vec<&Probe> = ctx
            .plan
            .validation
            .probes
            .iter()
            .filter(|p| matches!(p, Probe::Http { .. }) && p.when().applies(!to_recovery))
            .collect();
        if to_recovery && matches!(ctx.plan.strategy, Strategy::PilotLight | Strategy::BackupRestore) {
            return vec![Check::skipped(
                "recovery endpoint".into(),
                format!(
                    "not probed: a {} strategy serves nothing before restoration",
                    ctx.plan.strategy
                ),
            )];
        }
        let no_zones = Default::default();
        join_all(http.into_iter().map(|p| self.probe(p, &no_zones))).await
    }
}

/// What a step would do, in a few words.
fn step_summary(result: &StepResult) -> String {
    let ready = result.actions.iter().filter(|a| a.already_done).count();
    let to_change: Vec<String> = result
        .actions
        .iter()
        .filter(|a| !a.already_done && a.operation != "FenceOldWriter")
        .map(|a| format!("{} {}", a.operation, a.resource))
        .collect();
    // A plan of thousands of records is named by its first few changes and a count.
    const NAMED: usize = 5;
    match to_change.len() {
        0 => format!("{ready} already in place"),
        n if n <= NAMED => format!("would {} ({ready} already in place)", to_change.join(", ")),
        n => format!(
            "would {}, and {} more ({ready} already in place)",
            to_change[..NAMED].join(", "),
            n - NAMED
        ),
    }
}

/// A fence that cannot be applied: a scheduled check says so as not ready; before a failover it
/// is a loud warning, as the old region may simply be down.
fn fence_check(action: &Action, scheduled: bool) -> Check {
    let name = format!("fence {}", action.resource);
    let detail = action.detail.clone().unwrap_or_default();
    if action.status == ActionStatus::Failed {
        if scheduled {
            check(name, false, detail)
        } else if database_failover::fence::leaves_a_writer(action) {
            check(name, true, format!("SPLIT-BRAIN RISK, needs approval: {detail}"))
        } else {
            check(name, true, format!("WARNING: {detail}"))
        }
    } else if action.already_done {
        check(name, true, format!("already fenced: {}", action.after["state"]))
    } else {
        check(name, true, format!("can be fenced: {detail}"))
    }
}

/// A step's readiness error: a failed check, unless it was throttling or a network error, which
/// says nothing about readiness and is retried by the state machine (`Rebound.Transient`).
fn transient(name: &str, kind: ErrorKind, detail: String) -> Result<Check, ValidationError> {
    if kind == ErrorKind::Transient {
        return Err(ValidationError::Unreadable(format!("{name}: {detail}")));
    }
    Ok(check(name.into(), false, detail))
}

/// What the failover path needs from the primary region (`rebound validate --audit`): a
/// scheduled check is not ready while the plan has not acknowledged it; before a failover it is
/// a warning, since the failover is under way either way.
fn static_stability(ctx: &RecoveryContext, scheduled: bool) -> Check {
    let flags = rebound_shared::audit::open_flags(&ctx.plan);
    let name = "static stability".to_string();
    if flags.is_empty() {
        return check(
            name,
            true,
            format!("nothing unacknowledged depends on {}", ctx.plan.primary_region),
        );
    }
    let detail = format!(
        "{}; acknowledge each in the plan's acknowledgedDependencies, or use a mode that does not need it",
        flags.join("; ")
    );
    if scheduled {
        check(name, false, detail)
    } else {
        check(name, true, format!("WARNING: {detail}"))
    }
}
