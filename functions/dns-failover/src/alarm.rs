//! `alarmHealthCheck` mode: the primary's failover record has a Route 53 health check that
//! follows a CloudWatch alarm in the recovery region. Driving that alarm into ALARM (its metric
//! past the threshold, and its state set at once) makes Route 53's data plane answer with the
//! secondary record; nothing in Route 53's control plane is called.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{ComparisonOperator, MetricAlarm, MetricDatum, StateValue, Statistic};
use aws_sdk_route53::types::{HealthCheckType, InsufficientDataHealthStatus};
use rebound_shared::context::{Action, RecoveryContext, RecoveryPath, StepResult};
use rebound_shared::dns::alarms::alarm_resource;
use rebound_shared::error::{aws_fault, ErrorKind};
use rebound_shared::plan::{DnsMode, DnsRecord};
use rebound_shared::step::StepFault;
use serde_json::json;

use crate::{aws, DnsError, DnsFailover};

/// SetAlarmState's reason is at most 1,023 characters.
const MAX_REASON: usize = 1023;

/// What to publish to the alarm's metric so that it breaches (`breach`) or clears its
/// threshold, or why the alarm cannot serve as a gate.
pub fn gate_value(alarm: &MetricAlarm, breach: bool) -> Result<f64, String> {
    if alarm.metric_name().is_none() || alarm.namespace().is_none() || !alarm.metrics().is_empty() {
        return Err("watches metric math, not one metric: Rebound cannot drive it".into());
    }
    if !matches!(
        alarm.statistic(),
        Some(Statistic::Average | Statistic::Maximum | Statistic::Minimum | Statistic::Sum)
    ) {
        return Err(format!(
            "uses statistic {:?}: the gate needs Average, Maximum, Minimum or Sum",
            alarm.statistic().map(|s| s.as_str()).unwrap_or("none")
        ));
    }
    let threshold = alarm.threshold().ok_or_else(|| "has no static threshold".to_string())?;
    let (breaching, clear) = match alarm.comparison_operator() {
        Some(ComparisonOperator::GreaterThanOrEqualToThreshold) => (threshold, threshold - 1.0),
        Some(ComparisonOperator::GreaterThanThreshold) => (threshold + 1.0, threshold),
        Some(ComparisonOperator::LessThanThreshold) => (threshold - 1.0, threshold),
        Some(ComparisonOperator::LessThanOrEqualToThreshold) => (threshold, threshold + 1.0),
        other => {
            return Err(format!(
                "compares with {}: the gate needs a static threshold comparison",
                other.map(|o| o.as_str()).unwrap_or("nothing")
            ))
        }
    };
    Ok(if breach { breaching } else { clear })
}

/// Why the alarm would not hold the state Rebound gives it, if it would not. CloudWatch
/// re-evaluates an alarm every period from its metric: with one datapoint published, the alarm
/// keeps ALARM (or OK) only if missing data keeps the state (`TreatMissingData: ignore`) and one
/// datapoint is enough to decide it (`DatapointsToAlarm`, else `EvaluationPeriods`, of 1).
/// Otherwise the next evaluations undo the failover (CloudWatch User Guide, "Configuring how
/// CloudWatch alarms treat missing data").
pub fn gate_holds(alarm: &MetricAlarm) -> Result<(), String> {
    match alarm.treat_missing_data() {
        Some("ignore") => {}
        other => {
            return Err(format!(
                "treats missing data as '{}': re-evaluated without Rebound's datapoint it leaves the state Rebound set; set TreatMissingData to ignore",
                other.unwrap_or("missing")
            ))
        }
    }
    let needed = alarm.datapoints_to_alarm().or(alarm.evaluation_periods()).unwrap_or(1);
    if needed != 1 {
        return Err(format!(
            "needs {needed} datapoints to alarm: the one Rebound publishes cannot hold it; set DatapointsToAlarm (or EvaluationPeriods) to 1"
        ));
    }
    Ok(())
}

/// Publishes `value` to the alarm's metric, then sets its state, so Route 53 sees the new
/// state at once and the next evaluation keeps it.
pub async fn drive(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    alarm: &MetricAlarm,
    value: f64,
    state: StateValue,
    reason: &str,
) -> Result<(), DnsError> {
    let name = alarm.alarm_name().unwrap_or_default();
    let resource = alarm_resource(name);
    let datum = MetricDatum::builder()
        .metric_name(alarm.metric_name().unwrap_or_default())
        .set_dimensions(Some(alarm.dimensions().to_vec()))
        .value(value)
        .timestamp(aws_smithy_types::DateTime::from(std::time::SystemTime::now()))
        .build();
    cloudwatch
        .put_metric_data()
        .namespace(alarm.namespace().unwrap_or_default())
        .metric_data(datum)
        .send()
        .await
        .map_err(|e| aws_fault(&resource, "cloudwatch", "PutMetricData", &e))?;
    let reason: String = reason.chars().take(MAX_REASON).collect();
    cloudwatch
        .set_alarm_state()
        .alarm_name(name)
        .state_value(state)
        .state_reason(reason)
        .send()
        .await
        .map_err(|e| aws_fault(&resource, "cloudwatch", "SetAlarmState", &e))?;
    Ok(())
}

/// Why the health check does not follow the alarm in the recovery region, if it does not.
pub fn wiring_problem(check: &aws_sdk_route53::types::HealthCheck, region: &str, alarm: &str) -> Option<String> {
    let Some(config) = check.health_check_config() else {
        return Some("has no configuration".into());
    };
    if *config.r#type() != HealthCheckType::CloudwatchMetric {
        return Some(format!(
            "is of type {}, not CLOUDWATCH_METRIC: it cannot follow {alarm}",
            config.r#type().as_str()
        ));
    }
    match config.alarm_identifier() {
        Some(id) if id.name() == alarm && id.region().as_str() == region => {}
        Some(id) => {
            return Some(format!(
                "follows {} in {}, not {alarm} in {region}",
                id.name(),
                id.region().as_str()
            ))
        }
        None => return Some(format!("follows no alarm; it should follow {alarm} in {region}")),
    }
    // Whenever the alarm has too little data, Route 53 takes this status: only the last known
    // one keeps a failover (or a failback) where Rebound put it.
    match config.insufficient_data_health_status() {
        Some(InsufficientDataHealthStatus::LastKnownStatus) => None,
        other => Some(format!(
            "takes the status {} when {alarm} has insufficient data, which can undo the failover; set InsufficientDataHealthStatus to LastKnownStatus",
            other.map(|s| s.as_str()).unwrap_or("Route 53 defaults to (none set)")
        )),
    }
}

/// An alarm to drive, and the value that puts its metric where the gate should be.
pub(crate) struct Gate {
    pub(crate) alarm: aws_sdk_cloudwatch::types::MetricAlarm,
    pub(crate) value: f64,
}

/// What each gate's alarm must become (`alarms` as read, by name; `gates` the records that
/// follow each), or why one cannot serve as a gate; no call.
pub(crate) fn plan_gates(
    ctx: &RecoveryContext,
    gates: &BTreeMap<&str, Vec<String>>,
    alarms: &BTreeMap<String, MetricAlarm>,
    to_recovery: bool,
) -> Result<Vec<(Gate, Action)>, DnsError> {
    let want = if to_recovery { StateValue::Alarm } else { StateValue::Ok };
    let mut out = Vec::new();
    for (name, records) in gates {
        let resource = alarm_resource(name);
        let found = alarms.get(*name).ok_or_else(|| {
            StepFault::precondition(
                &resource,
                format!("no such metric alarm in {}", ctx.plan.recovery_region),
            )
        })?;
        let value = gate_value(found, to_recovery).map_err(|reason| StepFault::precondition(&resource, reason))?;
        gate_holds(found).map_err(|reason| StepFault::precondition(&resource, reason))?;
        let state = found.state_value().map(|s| s.as_str()).unwrap_or("unknown");
        let after = json!({ "state": want.as_str(), "metricValue": value });
        let mut action = if found.state_value() == Some(&want) {
            Action::already_done(&resource, "SetAlarmState", after)
        } else {
            Action::change(
                &resource,
                "SetAlarmState",
                json!({ "state": state }),
                after,
                ctx.dry_run,
            )
        };
        action.detail = Some(format!("the health check of {} follows it", records.join(", ")));
        out.push((
            Gate {
                alarm: found.clone(),
                value,
            },
            action,
        ));
    }
    Ok(out)
}

impl DnsFailover {
    /// Readiness only: each gate's health check follows its alarm. Route 53's control plane
    /// answers this; when it does not, a scheduled check retries later, and a failover goes on
    /// with a warning, since the failover itself does not need it.
    pub(crate) async fn check_wiring(&self, ctx: &RecoveryContext, result: &mut StepResult) -> Result<(), DnsError> {
        // Records that share a health check (one gate for the whole primary) are read once.
        let mut wired: BTreeMap<(&str, &str), &DnsRecord> = BTreeMap::new();
        for record in ctx.plan.dns.iter().filter(|r| r.mode == DnsMode::AlarmHealthCheck) {
            if let (Some(id), Some(name)) = (record.health_check_id.as_deref(), record.alarm_name.as_deref()) {
                wired.entry((id, name)).or_insert(record);
            }
        }
        for ((id, name), record) in wired {
            let resource = format!("route53:healthcheck/{id}");
            rebound_shared::dns::pace::route53().turn().await;
            let read = self
                .route53
                .get_health_check()
                .health_check_id(id)
                .customize()
                .config_override(
                    aws_sdk_route53::config::Builder::default()
                        .timeout_config(rebound_shared::aws::best_effort_timeouts())
                        .retry_config(rebound_shared::aws::best_effort_retries()),
                )
                .send()
                .await
                .map_err(|e| aws(&resource, "GetHealthCheck", &e));
            let problem = match read {
                Ok(out) => match out.health_check() {
                    Some(check) => wiring_problem(check, &ctx.plan.recovery_region, name),
                    None => Some("not found".into()),
                },
                Err(e) if e.kind() == ErrorKind::Transient && ctx.path != RecoveryPath::ReadinessCheck => {
                    let note = format!("WARNING: health check {id} not verified: {e}");
                    if let Some(a) = result.actions.iter_mut().find(|a| a.resource == alarm_resource(name)) {
                        a.detail = Some(format!("{}; {note}", a.detail.as_deref().unwrap_or_default()));
                    }
                    None
                }
                Err(e) => return Err(e),
            };
            if let Some(problem) = problem {
                return Err(StepFault::precondition(
                    resource,
                    format!("the health check of {} {problem}", record.name),
                )
                .into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alarm(comparison: ComparisonOperator, threshold: f64) -> MetricAlarm {
        counted(comparison, threshold, Statistic::Maximum)
    }

    fn counted(comparison: ComparisonOperator, threshold: f64, statistic: Statistic) -> MetricAlarm {
        MetricAlarm::builder()
            .alarm_name("gate")
            .namespace("Rebound")
            .metric_name("PrimaryOut")
            .statistic(statistic)
            .comparison_operator(comparison)
            .threshold(threshold)
            .build()
    }

    #[test]
    fn the_gate_value_breaches_or_clears_each_comparison() {
        use ComparisonOperator::*;
        for (op, breach, clear) in [
            (GreaterThanOrEqualToThreshold, 1.0, 0.0),
            (GreaterThanThreshold, 2.0, 1.0),
            (LessThanThreshold, 0.0, 1.0),
            (LessThanOrEqualToThreshold, 1.0, 2.0),
        ] {
            let a = alarm(op.clone(), 1.0);
            assert_eq!(gate_value(&a, true), Ok(breach), "{op:?}");
            assert_eq!(gate_value(&a, false), Ok(clear), "{op:?}");
        }
    }

    #[test]
    fn a_gate_holds_only_when_missing_data_keeps_its_state_and_one_datapoint_decides_it() {
        let gate = |treat: Option<&str>, datapoints: Option<i32>, periods: Option<i32>| {
            MetricAlarm::builder()
                .set_treat_missing_data(treat.map(str::to_string))
                .set_datapoints_to_alarm(datapoints)
                .set_evaluation_periods(periods)
                .build()
        };
        assert_eq!(gate_holds(&gate(Some("ignore"), None, Some(1))), Ok(()));
        assert_eq!(gate_holds(&gate(Some("ignore"), Some(1), Some(3))), Ok(()));
        for (alarm, why) in [
            (gate(None, None, Some(1)), "treats missing data as 'missing'"),
            (gate(Some("notBreaching"), None, Some(1)), "'notBreaching'"),
            (gate(Some("breaching"), None, Some(1)), "'breaching'"),
            (gate(Some("ignore"), None, Some(3)), "needs 3 datapoints"),
            (gate(Some("ignore"), Some(2), Some(3)), "needs 2 datapoints"),
        ] {
            assert!(
                gate_holds(&alarm).is_err_and(|e| e.contains(why)),
                "{why}: {:?}",
                gate_holds(&alarm)
            );
        }
    }

    #[test]
    fn a_health_check_must_keep_its_last_status_when_the_alarm_has_no_data() {
        use aws_sdk_route53::types::{AlarmIdentifier, CloudWatchRegion, HealthCheck, HealthCheckConfig};
        let check = |status: Option<InsufficientDataHealthStatus>| {
            let config = HealthCheckConfig::builder()
                .r#type(HealthCheckType::CloudwatchMetric)
                .alarm_identifier(
                    AlarmIdentifier::builder()
                        .name("gate")
                        .region(CloudWatchRegion::UsWest2)
                        .build()
                        .expect("identifier"),
                )
                .set_insufficient_data_health_status(status)
                .build()
                .expect("config");
            HealthCheck::builder()
                .id("hc")
                .caller_reference("r")
                .health_check_config(config)
                .health_check_version(1)
                .build()
                .expect("check")
        };
        assert_eq!(
            wiring_problem(
                &check(Some(InsufficientDataHealthStatus::LastKnownStatus)),
                "us-west-2",
                "gate"
            ),
            None
        );
        for status in [
            Some(InsufficientDataHealthStatus::Healthy),
            Some(InsufficientDataHealthStatus::Unhealthy),
            None,
        ] {
            let problem = wiring_problem(&check(status.clone()), "us-west-2", "gate").expect("refused");
            assert!(
                problem.contains("InsufficientDataHealthStatus to LastKnownStatus"),
                "{problem}"
            );
        }
    }

    #[test]
    fn alarms_rebound_cannot_drive_are_refused_with_the_reason() {
        let anomaly = alarm(ComparisonOperator::LessThanLowerOrGreaterThanUpperThreshold, 1.0);
        assert!(gate_value(&anomaly, true).is_err_and(|e| e.contains("static threshold")));
        let count = counted(ComparisonOperator::GreaterThanThreshold, 1.0, Statistic::SampleCount);
        assert!(gate_value(&count, true).is_err_and(|e| e.contains("SampleCount")));
        let math = MetricAlarm::builder().alarm_name("gate").threshold(1.0).build();
        assert!(gate_value(&math, true).is_err_and(|e| e.contains("metric math")));
    }
}
