//! The primary region's recent peak of each service sized from it (`capacity.percentOfPeak`):
//! read where the primary answers (the readiness check, scheduled and before each recovery),
//! kept in the recovery region's CloudWatch (`Rebound` / `PeakRunning`, per application and
//! service), and read back there when the recovery scales, when the primary may no longer
//! answer.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use chrono::{DateTime, Duration, Utc};
use rebound_core::plan::Service;

use crate::error::AwsError;
use crate::metrics::{datapoints, newest, Series, Window};

/// Where peaks are kept, beside the RTO forecast.
pub const NAMESPACE: &str = "Rebound";
pub const PEAK_METRIC: &str = "PeakRunning";
/// How far back a peak is read in the primary.
pub const PEAK_HOURS: i64 = 24;
/// How long a kept peak is used: a recovery a week after the primary last answered sizes from
/// the plan's minimum.
pub const KEPT_DAYS: i64 = 7;
/// PutMetricData takes at most 1000 metrics a call.
const DATA_PER_CALL: usize = 1000;

/// A peak, and when it was read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Peak {
    pub running: f64,
    pub at: DateTime<Utc>,
}

/// Each service's highest running count (hourly Maximum) in the last 24 hours in the primary,
/// by the service's resource name: ECS `RunningTaskCount` (Container Insights) and Auto Scaling
/// `GroupInServiceInstances` (group metrics collection), for an EKS node group summed over the
/// Auto Scaling groups EKS runs it in (`DescribeNodegroup` through `eks`, the primary's). A
/// service with no datapoint, or a node group EKS does not know there, is absent.
pub async fn primary_peaks(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    eks: &aws_sdk_eks::Client,
    services: &[&Service],
    now: DateTime<Utc>,
) -> Result<HashMap<String, f64>, AwsError> {
    let window = Window {
        from: now - Duration::hours(PEAK_HOURS),
        to: now,
        period: 3600,
    };
    // Container Insights names a service by cluster and service: one read per cluster.
    let mut ecs: BTreeMap<String, Vec<(&Service, String)>> = BTreeMap::new();
    // Each service's Auto Scaling groups: its own, or the node group's.
    let mut groups: Vec<(&Service, Vec<String>)> = Vec::new();
    for service in services {
        let name = service.primary_name();
        match service {
            Service::Ecs { .. } => {
                let (cluster, svc) = name.split_once('/').unwrap_or(("", name.as_str()));
                ecs.entry(cluster.to_string())
                    .or_default()
                    .push((service, svc.to_string()));
            }
            Service::AutoScalingGroup { .. } => groups.push((service, vec![name])),
            Service::EksNodegroup { .. } => {
                let (cluster, nodegroup) = name.split_once('/').unwrap_or(("", name.as_str()));
                if let Some(backing) = nodegroup_groups(eks, cluster, nodegroup).await? {
                    groups.push((service, backing));
                }
            }
            // Sized by a fixed count only: it has no peak.
            Service::EksDeployment { .. } => {}
        }
    }
    let mut peaks = HashMap::new();
    for (cluster, members) in &ecs {
        let series = Series {
            namespace: "ECS/ContainerInsights",
            metric: "RunningTaskCount",
            dimension: "ServiceName",
            fixed: &[("ClusterName", cluster.as_str())],
        };
        let names: Vec<&str> = members.iter().map(|(_, n)| n.as_str()).collect();
        let found = datapoints(cloudwatch, &series, &names, &window).await?;
        peaks.extend(members.iter().filter_map(|(service, name)| {
            Some((
                service.resource_name(),
                highest_sum(&found, std::slice::from_ref(name))?,
            ))
        }));
    }
    if !groups.is_empty() {
        let series = Series {
            namespace: "AWS/AutoScaling",
            metric: "GroupInServiceInstances",
            dimension: "AutoScalingGroupName",
            fixed: &[],
        };
        let names: Vec<&str> = groups.iter().flat_map(|(_, n)| n).map(String::as_str).collect();
        let found = datapoints(cloudwatch, &series, &names, &window).await?;
        peaks.extend(
            groups
                .iter()
                .filter_map(|(service, names)| Some((service.resource_name(), highest_sum(&found, names)?))),
        );
    }
    Ok(peaks)
}

/// The Auto Scaling groups EKS runs node group `cluster/nodegroup` in; None when EKS does not
/// know it.
async fn nodegroup_groups(
    eks: &aws_sdk_eks::Client,
    cluster: &str,
    nodegroup: &str,
) -> Result<Option<Vec<String>>, AwsError> {
    let read = eks
        .describe_nodegroup()
        .cluster_name(cluster)
        .nodegroup_name(nodegroup)
        .send()
        .await;
    match read {
        Ok(out) => Ok(Some(
            out.nodegroup()
                .map(crate::capacities::nodegroups::backing_groups)
                .unwrap_or_default(),
        )),
        Err(e)
            if aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e)
                == Some("ResourceNotFoundException") =>
        {
            Ok(None)
        }
        Err(e) => Err(crate::error::from_sdk("eks", "DescribeNodegroup", &e)),
    }
}

/// The highest, over the hours, of `names`' datapoints summed hour by hour; None without any.
fn highest_sum(found: &HashMap<String, Vec<(i64, f64)>>, names: &[String]) -> Option<f64> {
    let mut by_hour: BTreeMap<i64, f64> = BTreeMap::new();
    for (at, value) in names.iter().filter_map(|n| found.get(n)).flatten() {
        *by_hour.entry(*at).or_default() += value;
    }
    by_hour.into_values().reduce(f64::max)
}

/// Keeps `peaks` (by resource name) in the recovery region, stamped `now`.
pub async fn keep(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    application: &str,
    peaks: &BTreeMap<String, f64>,
    now: DateTime<Utc>,
) -> Result<(), AwsError> {
    let data: Vec<MetricDatum> = peaks
        .iter()
        .map(|(service, running)| {
            MetricDatum::builder()
                .metric_name(PEAK_METRIC)
                .dimensions(Dimension::builder().name("Application").value(application).build())
                .dimensions(Dimension::builder().name("Service").value(service).build())
                .value(*running)
                .unit(StandardUnit::Count)
                .timestamp(aws_smithy_types::DateTime::from_millis(now.timestamp_millis()))
                .build()
        })
        .collect();
    for batch in data.chunks(DATA_PER_CALL) {
        cloudwatch
            .put_metric_data()
            .namespace(NAMESPACE)
            .set_metric_data(Some(batch.to_vec()))
            .send()
            .await
            .map_err(|e| crate::error::from_sdk("cloudwatch", "PutMetricData", &e))?;
    }
    Ok(())
}

/// The newest peak kept for each of `services` (by resource name) in the last week.
pub async fn kept(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    application: &str,
    services: &[&Service],
    now: DateTime<Utc>,
) -> Result<HashMap<String, Peak>, AwsError> {
    if services.is_empty() {
        return Ok(HashMap::new());
    }
    let series = Series {
        namespace: NAMESPACE,
        metric: PEAK_METRIC,
        dimension: "Service",
        fixed: &[("Application", application)],
    };
    let names: Vec<String> = services.iter().map(|s| s.resource_name()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let window = Window {
        from: now - Duration::days(KEPT_DAYS),
        to: now + Duration::minutes(1),
        period: 60,
    };
    let found = datapoints(cloudwatch, &series, &names, &window).await?;
    Ok(found
        .into_iter()
        .filter_map(|(service, points)| {
            let at = points.iter().map(|(t, _)| *t).max()?;
            let peak = Peak {
                running: newest(&points)?,
                at: DateTime::from_timestamp(at, 0)?,
            };
            Some((service, peak))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_groups_peak_sums_its_groups_hour_by_hour() {
        let found: HashMap<String, Vec<(i64, f64)>> = [
            ("a".to_string(), vec![(0, 3.0), (3600, 5.0)]),
            ("b".to_string(), vec![(0, 4.0), (3600, 1.0)]),
        ]
        .into_iter()
        .collect();
        // 3 + 4 at the first hour beats 5 + 1 at the second, and either group's own peak.
        assert_eq!(highest_sum(&found, &["a".into(), "b".into()]), Some(7.0));
        assert_eq!(highest_sum(&found, &["a".into()]), Some(5.0));
        assert_eq!(highest_sum(&found, &["c".into()]), None);
    }
}
