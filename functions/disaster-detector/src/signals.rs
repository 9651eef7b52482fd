//! N of M independent signals: before an automatic recovery, the detector re-reads every signal
//! the plan names (CloudWatch alarms, metric queries, the AWS Health event that arrived) and
//! requires `minSignals` of them to agree. A signal that cannot be read is unknown, never
//! silently healthy or failing; the plan says how unknown counts.

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, StateValue};
use chrono::{DateTime, Duration, Utc};
use futures_util::future::join_all;
use rebound_shared::plan::{AlarmSignal, MetricSignal, RecoveryPlan, UnknownSignals};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    Failing,
    Healthy,
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    pub name: String,
    pub detail: String,
    pub vote: Vote,
}

impl Signal {
    /// `alarm orders-api-5xx-rate (us-east-1): ALARM -> failing`
    pub fn reason(&self) -> String {
        let vote = match self.vote {
            Vote::Failing => "failing",
            Vote::Healthy => "healthy",
            Vote::Unknown => "unknown",
        };
        format!("{}: {} -> {vote}", self.name, self.detail)
    }
}

/// How many signals vote failing, unknown ones counted as the plan says.
pub fn failing_votes(signals: &[Signal], unknown: UnknownSignals) -> usize {
    signals
        .iter()
        .filter(|s| s.vote == Vote::Failing || (s.vote == Vote::Unknown && unknown == UnknownSignals::Failing))
        .count()
}

/// Reads the plan's alarms and metrics now, all at once: a signal in a region that does not
/// answer costs its best-effort timeout once, not once per signal. `health` is the AWS Health
/// issue that triggered the run, if any: it votes failing (there is no reading AWS Health back
/// without it).
pub async fn read(config: &SdkConfig, plan: &RecoveryPlan, health: Option<String>, now: DateTime<Utc>) -> Vec<Signal> {
    let alarms = join_all(plan.detection.alarms.iter().map(|a| read_alarm(config, plan, a)));
    let metrics = join_all(plan.detection.metrics.iter().map(|m| read_metric(config, plan, m, now)));
    let (alarms, metrics) = futures_util::join!(alarms, metrics);
    let mut signals = alarms;
    signals.extend(metrics);
    if let Some(issue) = health {
        signals.push(Signal {
            name: format!("AWS Health ({})", plan.primary_region),
            detail: issue,
            vote: Vote::Failing,
        });
    }
    signals
}

async fn read_alarm(config: &SdkConfig, plan: &RecoveryPlan, alarm: &AlarmSignal) -> Signal {
    let region = plan.signal_region(&alarm.region).to_string();
    let name = format!("alarm {} ({region})", alarm.name);
    let client = aws_sdk_cloudwatch::Client::new(&rebound_shared::aws::best_effort_in(config, &region));
    match client.describe_alarms().alarm_names(&alarm.name).send().await {
        Ok(out) => match out.metric_alarms().first().and_then(|a| a.state_value()) {
            Some(StateValue::Alarm) => Signal {
                name,
                detail: "ALARM".into(),
                vote: Vote::Failing,
            },
            Some(StateValue::Ok) => Signal {
                name,
                detail: "OK".into(),
                vote: Vote::Healthy,
            },
            Some(other) => Signal {
                name,
                detail: other.as_str().to_string(),
                vote: Vote::Unknown,
            },
            None => Signal {
                name,
                detail: "not found".into(),
                vote: Vote::Unknown,
            },
        },
        Err(e) => {
            let err = rebound_shared::error::from_sdk("cloudwatch", "DescribeAlarms", &e);
            Signal {
                name,
                detail: format!("unreadable ({})", err.code),
                vote: Vote::Unknown,
            }
        }
    }
}

async fn read_metric(config: &SdkConfig, plan: &RecoveryPlan, metric: &MetricSignal, now: DateTime<Utc>) -> Signal {
    let region = plan.signal_region(&metric.region).to_string();
    let name = format!(
        "metric {} {}/{} ({region})",
        metric.id, metric.namespace, metric.metric_name
    );
    let client = aws_sdk_cloudwatch::Client::new(&rebound_shared::aws::best_effort_in(config, &region));
    let dimensions = metric
        .dimensions
        .iter()
        .map(|(k, v)| Dimension::builder().name(k).value(v).build());
    let query = MetricDataQuery::builder()
        .id(&metric.id)
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace(&metric.namespace)
                        .metric_name(&metric.metric_name)
                        .set_dimensions(Some(dimensions.collect()))
                        .build(),
                )
                .period(i32::try_from(metric.period_seconds).unwrap_or(60))
                .stat(&metric.statistic)
                .build(),
        )
        .build();
    // The last five periods: the newest datapoint decides.
    let window = Duration::seconds(i64::from(metric.period_seconds) * 5);
    let read = client
        .get_metric_data()
        .metric_data_queries(query)
        .start_time(aws_smithy_types::DateTime::from_secs((now - window).timestamp()))
        .end_time(aws_smithy_types::DateTime::from_secs(
            (now + Duration::minutes(1)).timestamp(),
        ))
        .send()
        .await;
    match read {
        Ok(out) => {
            let newest = out
                .metric_data_results()
                .iter()
                .flat_map(|r| r.timestamps().iter().zip(r.values().iter()))
                .max_by_key(|(t, _)| t.secs())
                .map(|(_, v)| *v);
            match newest {
                Some(v) if metric.comparison.breached(v, metric.threshold) => Signal {
                    name,
                    detail: format!("{v} breaches {} {}", metric.comparison, metric.threshold),
                    vote: Vote::Failing,
                },
                Some(v) => Signal {
                    name,
                    detail: format!("{v} within {} {}", metric.comparison, metric.threshold),
                    vote: Vote::Healthy,
                },
                None => Signal {
                    name,
                    detail: "no datapoint".into(),
                    vote: Vote::Unknown,
                },
            }
        }
        Err(e) => {
            let err = rebound_shared::error::from_sdk("cloudwatch", "GetMetricData", &e);
            Signal {
                name,
                detail: format!("unreadable ({})", err.code),
                vote: Vote::Unknown,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(vote: Vote) -> Signal {
        Signal {
            name: "x".into(),
            detail: String::new(),
            vote,
        }
    }

    #[test]
    fn unknown_signals_count_as_the_plan_says() {
        let signals = [s(Vote::Failing), s(Vote::Unknown), s(Vote::Healthy)];
        assert_eq!(failing_votes(&signals, UnknownSignals::Abstain), 1);
        assert_eq!(failing_votes(&signals, UnknownSignals::Failing), 2);
    }
}
