//! CloudWatch reads that serve many resources at once: one `GetMetricData` query per resource,
//! `QUERIES_PER_CALL` a call, paged, a few calls at a time.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use chrono::{DateTime, Duration, Utc};
use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::error::AwsError;

/// `GetMetricData` takes at most 500 queries in one call.
pub const QUERIES_PER_CALL: usize = 500;
/// Calls in flight at once.
const READ_CONCURRENCY: usize = 8;

/// A metric read for many values of one dimension, the other dimensions `fixed`.
pub struct Series<'a> {
    pub namespace: &'a str,
    pub metric: &'a str,
    pub dimension: &'a str,
    pub fixed: &'a [(&'a str, &'a str)],
}

/// The newest datapoint (Maximum per minute, last ten minutes) of `series` for each value of its
/// dimension that has one.
pub async fn newest_datapoints(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    series: &Series<'_>,
    values: &[&str],
    now: DateTime<Utc>,
) -> Result<HashMap<String, f64>, AwsError> {
    let found = datapoints(cloudwatch, series, values, &last_minutes(now)).await?;
    Ok(found
        .into_iter()
        .filter_map(|(value, points)| Some((value, newest(&points)?)))
        .collect())
}

/// The value of the newest of `points` (timestamp, value).
pub fn newest(points: &[(i64, f64)]) -> Option<f64> {
    points.iter().max_by_key(|(t, _)| *t).map(|(_, v)| *v)
}

/// Which datapoints a read asks for: from, to, and the period each is the Maximum of.
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    /// Seconds.
    pub period: i32,
}

/// Every datapoint (timestamp, Maximum per period, never below 0) of `series` in `window`, for
/// each value of its dimension that has one: `QUERIES_PER_CALL` values a call, paged.
pub async fn datapoints(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    series: &Series<'_>,
    values: &[&str],
    window: &Window,
) -> Result<HashMap<String, Vec<(i64, f64)>>, AwsError> {
    let values: BTreeSet<&str> = values.iter().copied().collect();
    let metrics = values
        .into_iter()
        .map(|value| {
            let metric = Metric::builder()
                .namespace(series.namespace)
                .metric_name(series.metric)
                .set_dimensions(Some(
                    std::iter::once(Dimension::builder().name(series.dimension).value(value).build())
                        .chain(
                            series
                                .fixed
                                .iter()
                                .map(|(name, value)| Dimension::builder().name(*name).value(*value).build()),
                        )
                        .collect(),
                ))
                .build();
            (value.to_string(), metric)
        })
        .collect();
    metric_datapoints(cloudwatch, metrics, window).await
}

/// Every datapoint (timestamp, Maximum per period, never below 0) of each labelled metric in
/// `window`, by label, for those that have one: `QUERIES_PER_CALL` metrics a call, paged.
pub async fn metric_datapoints(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    metrics: Vec<(String, Metric)>,
    window: &Window,
) -> Result<HashMap<String, Vec<(i64, f64)>>, AwsError> {
    let calls: Vec<_> = metrics
        .chunks(QUERIES_PER_CALL)
        .map(|chunk| async move {
            let queries = chunk.iter().enumerate().map(|(i, (_, metric))| {
                MetricDataQuery::builder()
                    .id(format!("m{i}"))
                    .metric_stat(
                        MetricStat::builder()
                            .metric(metric.clone())
                            .period(window.period)
                            .stat("Maximum")
                            .build(),
                    )
                    .build()
            });
            let mut pages = cloudwatch
                .get_metric_data()
                .set_metric_data_queries(Some(queries.collect()))
                .start_time(aws_smithy_types::DateTime::from_secs(window.from.timestamp()))
                .end_time(aws_smithy_types::DateTime::from_secs(window.to.timestamp()))
                .into_paginator()
                .send();
            let mut found: HashMap<String, Vec<(i64, f64)>> = HashMap::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| crate::error::from_sdk("cloudwatch", "GetMetricData", &e))?;
                for result in page.metric_data_results() {
                    let Some((label, _)) = result
                        .id()
                        .and_then(|id| id.strip_prefix('m')?.parse::<usize>().ok())
                        .and_then(|i| chunk.get(i))
                    else {
                        continue;
                    };
                    let points = result.timestamps().iter().zip(result.values());
                    found
                        .entry(label.clone())
                        .or_default()
                        .extend(points.map(|(t, v)| (t.secs(), v.max(0.0))));
                }
            }
            Ok::<_, AwsError>(found)
        })
        .collect();
    let found: Vec<HashMap<String, Vec<(i64, f64)>>> =
        stream::iter(calls).buffered(READ_CONCURRENCY).try_collect().await?;
    Ok(found
        .into_iter()
        .flatten()
        .filter(|(_, points)| !points.is_empty())
        .collect())
}

/// The last ten minutes, per minute: what a read of the newest datapoint looks at.
pub fn last_minutes(now: DateTime<Utc>) -> Window {
    Window {
        from: now - Duration::minutes(10),
        to: now + Duration::minutes(1),
        period: 60,
    }
}
