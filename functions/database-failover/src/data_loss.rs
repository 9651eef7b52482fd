//! The data-loss rule every copy's lag goes through (a replica's, a global database's, a global
//! datastore's, a multi-Region cluster's): within the RPO target it is the RPO; beyond it, or
//! unknown, a failover's is put to an approver when the plan allows, and any other mode refuses
//! it. And the lag as read from a metric's listed series.

use aws_sdk_cloudwatch::types::Metric;
use chrono::{DateTime, Utc};
use rebound_shared::context::{Mode, RecoveryContext};
use rebound_shared::metrics::{last_minutes, metric_datapoints, newest};

use crate::DatabaseError;

/// How far behind the copy the application moves to is.
#[derive(Debug, Clone, PartialEq)]
pub enum Lag {
    Seconds(f64),
    /// No datapoint, or the metric could not be read: why.
    Unknown(String),
}

/// The replicas' data-loss rule for what `lag` loses of `store`: within the RPO target it is
/// the RPO; beyond it, or unknown, a failover's is put to an approver when the plan allows
/// (and goes once approved), any other mode refuses it.
pub(crate) fn within_rpo(
    ctx: &RecoveryContext,
    store: String,
    allow: bool,
    lag: &Lag,
) -> Result<Option<f64>, DatabaseError> {
    let rpo = ctx.plan.objectives.rpo_seconds;
    let seconds = match lag {
        Lag::Seconds(s) => Some(*s),
        Lag::Unknown(_) => None,
    };
    let failover = matches!(ctx.mode, Mode::Failover | Mode::Drill);
    if seconds.is_none_or(|s| s > rpo as f64) && (!failover || ctx.approval.is_none()) {
        return Err(DatabaseError::DataLoss {
            database: store,
            lag_seconds: seconds,
            rpo_seconds: rpo,
            allowed: failover && allow,
        });
    }
    Ok(seconds)
}

/// What `DatabaseError::DataLoss` says.
pub(crate) fn data_loss_text(lag: Option<f64>, rpo: u64, allowed: bool) -> String {
    let lag = match lag {
        Some(lag) => format!("replica lag is {lag} s, beyond the RPO target of {rpo} s"),
        None => "replica lag is unknown (no lag datapoint in the last 10 minutes), so the data loss cannot be bounded"
            .to_string(),
    };
    if allowed {
        format!("{lag}; the plan allows that loss only with a human's approval, and none was given")
    } else {
        format!("{lag}, and the plan does not allow more data loss")
    }
}

/// The newest datapoint of `metric` (milliseconds) into `cluster`, the most behind of its
/// series. Where a service emits one per source region or shard and its dimension names are not
/// all documented, the series are found by listing those that name the cluster (ListMetrics),
/// whatever else they name.
pub(crate) async fn listed_lag(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    (namespace, metric): (&str, &str),
    cluster: &str,
    now: DateTime<Utc>,
) -> Lag {
    let mut pages = cloudwatch
        .list_metrics()
        .namespace(namespace)
        .metric_name(metric)
        .into_paginator()
        .send();
    let mut metrics: Vec<(String, Metric)> = Vec::new();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(page) => page,
            Err(e) => {
                return Lag::Unknown(rebound_shared::error::from_sdk("cloudwatch", "ListMetrics", &e).to_string())
            }
        };
        for found in page.metrics() {
            if found.dimensions().iter().any(|d| d.value() == Some(cluster)) {
                metrics.push((metrics.len().to_string(), found.clone()));
            }
        }
    }
    if metrics.is_empty() {
        return Lag::Unknown(format!("no {metric} series names {cluster}"));
    }
    match metric_datapoints(cloudwatch, metrics, &last_minutes(now)).await {
        Ok(found) => found
            .values()
            .filter_map(|points| newest(points))
            .reduce(f64::max)
            .map_or_else(
                || Lag::Unknown(format!("no {metric} datapoint in the last 10 minutes")),
                |ms| Lag::Seconds(ms / 1000.0),
            ),
        Err(e) => Lag::Unknown(e.to_string()),
    }
}
