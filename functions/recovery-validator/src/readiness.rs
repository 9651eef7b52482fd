//! CheckReadiness: before anything changes, every acting step's own checks as a dry run (run
//! just before by `DryRunSteps`, each step in its own function with its own role, and handed
//! over in `dryRuns`), the old writers' fences, the acting roles' permissions and the recovery
//! endpoint; on a schedule, also the RTO forecast. Not ready fails with
//! `Rebound.PreconditionFailed`; a scheduled check reports instead.

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use rebound_shared::context::{
    failing_checks, Action, ActionStatus, BadRequest, Check, DryRun, PassedOver, ReadinessReport, RecoveryContext,
    RecoveryPath, StepResult,
};
use rebound_shared::error::ErrorKind;
use rebound_shared::plan::{Probe, Strategy};
use rebound_shared::step::{moves_region, towards_recovery, StepFault};

use crate::{check, RecoveryValidator, ValidationError};

impl RecoveryValidator {
    /// Everything the path would act on, read and checked, nothing changed: each step's dry run,
    /// the old writers' fences, the acting roles' permissions and the recovery endpoint.
    pub async fn readiness(
        &self,
        ctx: &RecoveryContext,
        now: DateTime<Utc>,
    ) -> Result<ReadinessReport, ValidationError> {
        // A reprotect ends with the failback's readiness, reported like a scheduled check's.
        let scheduled = matches!(ctx.path, RecoveryPath::ReadinessCheck | RecoveryPath::Reprotect);
        let dry_runs = ctx.dry_runs.as_ref().ok_or_else(|| {
            StepFault::BadRequest(BadRequest(
                "readiness needs the acting steps' dry runs (dryRuns), which the state machine's DryRunSteps runs first".into(),
            ))
        })?;
        let mut checks = Vec::new();
        let mut data_loss_approval = false;
        let mut split_brain_approval = false;
        let mut expected_data_loss_seconds = None;
        if moves_region(ctx) {
            checks.push(match ran("dns records", &dry_runs.dns)? {
                Ok(result) => check("dns records".into(), true, step_summary(result)),
                Err(failed) => failed,
            });
            match ran("databases", &dry_runs.database)? {
                Ok(result) => {
                    // The step found a loss beyond the RPO target that an approver may accept.
                    data_loss_approval = result.needs_approval.is_some();
                    expected_data_loss_seconds = result.rpo_seconds;
                    // A restore loses every write since its restore point or snapshot: beyond the
                    // RPO target that is for a human to accept too.
                    let rpo = ctx.plan.objectives.rpo_seconds as f64;
                    if !scheduled
                        && ctx.mode == rebound_shared::context::Mode::Failover
                        && result.rpo_seconds.is_some_and(|s| s > rpo)
                    {
                        data_loss_approval = true;
                    }
                    let mut detail = step_summary(result);
                    if data_loss_approval {
                        detail.push_str(&format!(
                            "; expected data loss {} beyond the RPO target of {} s: needs approval",
                            expected_data_loss_seconds.map_or("unknown".to_string(), |s| format!("{s} s")),
                            ctx.plan.objectives.rpo_seconds
                        ));
                    }
                    checks.push(check("databases".into(), true, detail));
                    for fence in result.actions.iter().filter(|a| a.operation == "FenceOldWriter") {
                        if !scheduled && fence.leaves_a_writer() {
                            split_brain_approval = true;
                        }
                        checks.push(fence_check(fence, scheduled));
                    }
                }
                Err(failed) => checks.push(failed),
            }
        }
        checks.push(match ran("services", &dry_runs.services)? {
            Ok(result) if result.actions.is_empty() => check(
                "services".into(),
                false,
                "none of the plan's services is in this recovery's scope".into(),
            ),
            Ok(result) => check("services".into(), true, step_summary(result)),
            Err(failed) => failed,
        });
        // The capacity the recovery will ask for, and whether the region's quotas leave room.
        let (peak_check, peaks) = self.peak_check(ctx, scheduled, now).await;
        checks.extend(peak_check);
        checks.extend(self.quota_checks(ctx, &peaks, dry_runs.database.as_ref(), now).await);
        match &self.permissions {
            Some(permissions) => checks.extend(permissions.checks(ctx, scheduled).await),
            None => checks.push(Check::skipped(
                "permissions".into(),
                "not checked: ACTING_ROLES names no roles (a local run acts with the caller's own credentials)".into(),
            )),
        }
        checks.extend(self.custom_action_checks(ctx).await);
        if moves_region(ctx) {
            checks.extend(self.endpoint_checks(ctx).await);
            checks.push(static_stability(ctx, &self.stack_region, scheduled));
        }
        if scheduled {
            checks.push(self.forecast(ctx, now).await);
        }
        let failing = failing_checks(&checks);
        let region = ctx.plan.recovery_region.clone();
        let ready = failing.is_empty();
        let next_region = if ready || !moves_region(ctx) || !towards_recovery(ctx) {
            None
        } else {
            region_after(&ctx.recovery_regions, &region)
        };
        let passed_over = passed_over_before(ctx, &region);
        let report = ReadinessReport {
            ready,
            checked_at: now,
            summary: summary(&failing, &region, next_region.as_deref(), &passed_over),
            checks,
            data_loss_approval,
            split_brain_approval,
            expected_data_loss_seconds,
            region,
            next_region,
            passed_over,
        };
        tracing::info!(ready = report.ready, region = %report.region, summary = %report.summary, "readiness");
        if !report.ready && !scheduled && report.next_region.is_none() {
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
        } else if action.leaves_a_writer() {
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

/// A step's dry run as `DryRunSteps` left it: its result, or its error as a failed check.
/// Throttling, a network error or a timeout says nothing about readiness: once the state
/// machine's retries are spent it fails the check as unreadable rather than as not ready. A dry
/// run missing where the path takes its step is a bad request.
fn ran<'a>(name: &str, dry_run: &'a Option<DryRun>) -> Result<Result<&'a StepResult, Check>, ValidationError> {
    match dry_run {
        Some(DryRun::Ran(result)) => Ok(Ok(result)),
        Some(DryRun::Failed(e)) if !e.error.starts_with("Rebound.") || e.error == ErrorKind::Transient.error_name() => {
            Err(ValidationError::Unreadable(format!(
                "{name}: {} ({})",
                e.message(),
                e.error
            )))
        }
        Some(DryRun::Failed(e)) => Ok(Err(check(name.into(), false, e.message()))),
        None => Err(StepFault::BadRequest(BadRequest(format!("dryRuns has no {name} dry run"))).into()),
    }
}

/// What the failover path needs from the primary region (`rebound validate --audit`): a
/// scheduled check is not ready while the plan has not acknowledged it; before a failover it is
/// a warning, since the failover is under way either way.
impl RecoveryValidator {
    /// The scheduled check's forecast of the RTO, from what the dry runs say the recovery would
    /// do: published as the `Rebound` metrics `ForecastRtoSeconds` and `RtoTargetSeconds` (per
    /// application), and a failing check, which the not-ready notification carries, when it
    /// exceeds the target.
    async fn forecast(&self, ctx: &RecoveryContext, now: DateTime<Utc>) -> Check {
        use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
        let forecast = rebound_shared::forecast::of_context(ctx);
        let datum = |name: &str, value: f64| {
            MetricDatum::builder()
                .metric_name(name)
                .dimensions(Dimension::builder().name("Application").value(&ctx.application).build())
                .value(value)
                .unit(StandardUnit::Seconds)
                .timestamp(aws_smithy_types::DateTime::from_millis(now.timestamp_millis()))
                .build()
        };
        let published = self
            .cloudwatch
            .put_metric_data()
            .namespace(FORECAST_NAMESPACE)
            .metric_data(datum("ForecastRtoSeconds", forecast.rto_seconds))
            .metric_data(datum("RtoTargetSeconds", forecast.target_seconds as f64))
            .send()
            .await;
        let mut detail = format!("{}; critical path: {}", forecast.verdict(), forecast.critical_path());
        for left in &forecast.excluded {
            detail.push_str(&format!("; not counted: {left}"));
        }
        if let Err(e) = published {
            let e = rebound_shared::error::from_sdk("cloudwatch", "PutMetricData", &e);
            tracing::warn!(error = %e, "forecast metric not published");
            detail.push_str(&format!("; metric not published: {e}"));
        }
        check("forecast RTO".into(), forecast.within_target, detail)
    }
}

/// Where the scheduled check publishes its forecast.
pub const FORECAST_NAMESPACE: &str = "Rebound";

fn static_stability(ctx: &RecoveryContext, stack: &str, scheduled: bool) -> Check {
    let flags = rebound_shared::audit::open_flags(&ctx.plan, stack);
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

/// The region of `regions` after `region`, if any.
fn region_after(regions: &[String], region: &str) -> Option<String> {
    let at = regions.iter().position(|r| r == region)?;
    regions.get(at + 1).cloned()
}

/// The regions an earlier round of this recovery's readiness found not ready and moved on from
/// to `region` (`ctx.readiness` is the last round's report until this one replaces it).
fn passed_over_before(ctx: &RecoveryContext, region: &str) -> Vec<PassedOver> {
    match &ctx.readiness {
        Some(last) if last.next_region.as_deref() == Some(region) => last.passed_over_after(),
        _ => Vec::new(),
    }
}

/// One line for people: what fails here, where the recovery goes next, and the regions passed
/// over before this one.
fn summary(failing: &[String], region: &str, next: Option<&str>, passed_over: &[PassedOver]) -> String {
    let here = match (failing.is_empty(), passed_over.is_empty()) {
        (true, true) => return "ready".into(),
        (true, false) => format!("{region} is ready"),
        (false, true) if next.is_none() => return failing.join("; "),
        (false, _) => format!("{region} is not ready: {}", failing.join("; ")),
    };
    let before: Vec<String> = passed_over
        .iter()
        .map(|p| format!("{} was not ready: {}", p.region, p.summary))
        .collect();
    let then = next.map(|n| format!("; trying {n} next")).unwrap_or_default();
    if before.is_empty() {
        format!("{here}{then}")
    } else {
        format!("{}; {here}{then}", before.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rebound_shared::context::StateError;

    fn failed(error: &str, cause: &str) -> Option<DryRun> {
        Some(DryRun::Failed(StateError {
            error: error.into(),
            cause: cause.into(),
        }))
    }

    #[test]
    fn the_summary_names_each_region_passed_over_and_where_the_recovery_goes() {
        let failing = vec!["databases: lag 3600 s".to_string()];
        assert_eq!(summary(&[], "us-west-2", None, &[]), "ready");
        assert_eq!(summary(&failing, "us-west-2", None, &[]), "databases: lag 3600 s");
        assert_eq!(
            summary(&failing, "us-west-2", Some("eu-west-1"), &[]),
            "us-west-2 is not ready: databases: lag 3600 s; trying eu-west-1 next"
        );
        let passed = [PassedOver {
            region: "us-west-2".into(),
            summary: "databases: lag 3600 s".into(),
        }];
        assert_eq!(
            summary(&[], "eu-west-1", None, &passed),
            "us-west-2 was not ready: databases: lag 3600 s; eu-west-1 is ready"
        );
        assert_eq!(
            summary(&failing, "eu-west-1", None, &passed),
            "us-west-2 was not ready: databases: lag 3600 s; eu-west-1 is not ready: databases: lag 3600 s"
        );
        assert_eq!(region_after(&["a".into(), "b".into()], "a"), Some("b".into()));
        assert_eq!(region_after(&["a".into(), "b".into()], "b"), None);
        assert_eq!(region_after(&["a".into()], "c"), None);
    }

    #[test]
    fn a_refused_dry_run_is_a_failed_check_naming_lambdas_error_message() {
        let cause = r#"{"errorType":"Rebound.PreconditionFailed","errorMessage":"database orders-db-usw2: not found in the recovery region"}"#;
        let check = match ran("databases", &failed("Rebound.PreconditionFailed", cause)) {
            Ok(Err(check)) => check,
            other => panic!("expected a failed check, got {other:?}"),
        };
        assert!(check.failed(), "{check:?}");
        assert_eq!(
            check.detail,
            "database orders-db-usw2: not found in the recovery region"
        );
    }

    #[test]
    fn a_dry_run_that_could_not_read_is_unreadable_and_not_retried_again() {
        for error in ["Rebound.Transient", "States.Timeout", "Lambda.ServiceException"] {
            let err = ran("dns records", &failed(error, "throttled")).expect_err(error);
            assert!(matches!(err, ValidationError::Unreadable(_)), "{err:?}");
            assert_eq!(err.kind(), ErrorKind::StepFailed, "{error}");
            assert!(err.to_string().contains("dns records: throttled"), "{err}");
        }
    }

    #[test]
    fn a_missing_dry_run_is_a_bad_request() {
        let err = ran("services", &None).expect_err("missing");
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("no services dry run"), "{err}");
    }
}
