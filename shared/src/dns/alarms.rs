//! CloudWatch alarms read by name, for the `alarmHealthCheck` mode's gates and the validator.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::types::{AlarmType, MetricAlarm};
use rebound_core::step::StepFault;

/// DescribeAlarms takes at most 100 names.
const NAMES_PER_CALL: usize = 100;

/// The alarms by name; a name missing from the map does not exist.
pub async fn read(
    cloudwatch: &aws_sdk_cloudwatch::Client,
    names: &[&str],
) -> Result<BTreeMap<String, MetricAlarm>, StepFault> {
    let mut found = BTreeMap::new();
    for chunk in names.chunks(NAMES_PER_CALL) {
        let out = cloudwatch
            .describe_alarms()
            .set_alarm_names(Some(chunk.iter().map(|n| n.to_string()).collect()))
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .send()
            .await
            .map_err(|e| crate::error::aws_fault(chunk.join(", "), "cloudwatch", "DescribeAlarms", &e))?;
        if let Some(composite) = out.composite_alarms().first() {
            return Err(StepFault::precondition(
                alarm_resource(composite.alarm_name().unwrap_or_default()),
                "a composite alarm: the gate must be a metric alarm Rebound can drive through its metric",
            ));
        }
        for alarm in out.metric_alarms() {
            if let Some(name) = alarm.alarm_name() {
                found.insert(name.to_string(), alarm.clone());
            }
        }
    }
    Ok(found)
}

pub fn alarm_resource(name: &str) -> String {
    format!("cloudwatch:alarm/{name}")
}
