//! The disaster itself: what a drill breaks, and the event or start that begins the recovery.

use super::*;

/// Injects the disaster and returns the execution input that starts the recovery: the event
/// EventBridge would deliver, or an operator's manual start.
pub(super) async fn inject(scenario: Scenario, global: &SdkConfig) -> Result<Value, DrillError> {
    let now = Utc::now();
    match scenario {
        Scenario::RegionOutage
        | Scenario::LaggingReplica
        | Scenario::DegradedPrimary
        | Scenario::UsEast1Outage
        | Scenario::AuroraGlobal
        | Scenario::EksAndCache
        | Scenario::OperatorSteers => inject_region_outage(global).await,
        Scenario::SecurityIncident => Ok(json!({
            "reason": "Credentials for the orders account leaked; us-east-1 workloads isolated (incident SEC-118)",
            "disasterType": "securityIncident",
            "severity": "critical",
        })),
        Scenario::AzOutage => {
            inject_region_outage(global).await?;
            Ok(json!({
                "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "AWS Health Event", "source": "aws.health",
                "account": "123456789012", "time": now.to_rfc3339(), "region": PRIMARY, "resources": [],
                "detail": {
                    "eventArn": format!("arn:aws:health:{PRIMARY}::event/EC2/AWS_EC2_AZ_OPERATIONAL_ISSUE/drill-{}", now.timestamp()),
                    "service": "EC2", "eventTypeCode": "AWS_EC2_AZ_OPERATIONAL_ISSUE", "eventTypeCategory": "issue",
                    "statusCode": "open", "eventRegion": PRIMARY, "startTime": now.to_rfc2822(),
                    "eventDescription": [{"language": "en_US", "latestDescription": "We are investigating connectivity issues affecting instances in a single Availability Zone (use1-az2) in the US-EAST-1 Region."}],
                    "affectedEntities": []
                }
            }))
        }
        Scenario::DataCorruption => Ok(json!({
            "reason": "Orders table overwritten by a faulty migration (incident INC-2211)",
            "disasterType": "dataCorruption",
            "severity": "critical",
            "detectedAt": (now - chrono::Duration::minutes(CORRUPTION_MINUTES)).to_rfc3339(),
        })),
        Scenario::Switchover => Ok(json!({
            "mode": "switchover",
            "reason": "Planned move to us-west-2 ahead of us-east-1 maintenance (change CHG-1042)",
        })),
        Scenario::ServiceOutage => Ok(json!({
            "reason": "orders-worker tasks crash-looping in us-east-1 (incident INC-2230)",
            "disasterType": "serviceOutage",
            "affectedServices": ["orders-worker"],
        })),
        Scenario::ReadinessCheck => Ok(scheduled_event(now)),
        // The plan's detection.reprotectWhenHealthy: the scheduled check finds the primary's
        // signals healthy after the failover.
        Scenario::Reprotect => Ok(scheduled_event(now)),
        Scenario::Failback => Ok(json!({
            "mode": "failback",
            "reason": "us-east-1 healthy for 24 h; returning (change CHG-1043)",
            // The drill fails back seconds after the failover, inside the plan's cooldown.
            "force": true,
        })),
    }
}

/// EventBridge's event for the stack's readiness schedule.
fn scheduled_event(now: chrono::DateTime<Utc>) -> Value {
    json!({
        "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "Scheduled Event",
        "source": "aws.events", "account": "123456789012", "time": now.to_rfc3339(), "region": RECOVERY,
        "resources": [format!("arn:aws:events:{RECOVERY}:123456789012:rule/rebound-orders-ReadinessCheck")],
        "detail": {}
    })
}

/// An operator's `rebound reprotect`.
pub(super) fn manual_reprotect() -> Value {
    json!({
        "reprotect": true,
        "reason": "us-east-1 answers again: protect the orders database from us-west-2 (change CHG-1044)",
    })
}

pub(super) async fn inject_region_outage(global: &SdkConfig) -> Result<Value, DrillError> {
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&rebound_shared::aws::in_region(global, PRIMARY));
    let reason = "Threshold Crossed: 3 out of the last 3 datapoints were greater than the threshold (50.0).";
    for alarm in ["orders-api-5xx-rate", "orders-alb-unhealthy-hosts"] {
        cloudwatch
            .set_alarm_state()
            .alarm_name(alarm)
            .state_value(aws_sdk_cloudwatch::types::StateValue::Alarm)
            .state_reason(reason)
            .send()
            .await
            .map_err(|e| seed("alarm state")(format!("{e:?}")))?;
    }
    let now = Utc::now();
    Ok(json!({
        "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch", "account": "123456789012", "time": now.to_rfc3339(), "region": PRIMARY,
        "resources": [format!("arn:aws:cloudwatch:{PRIMARY}:123456789012:alarm:orders-api-5xx-rate")],
        "detail": {
            "alarmName": "orders-api-5xx-rate",
            "state": {"value": "ALARM", "reason": reason, "timestamp": now.to_rfc3339()},
            "previousState": {"value": "OK", "reason": "Threshold Crossed: 0 out of the last 3 datapoints were greater than the threshold (50.0).", "timestamp": now.to_rfc3339()},
            "configuration": {"description": "5xx rate of the orders API above 50 %"}
        }
    }))
}
