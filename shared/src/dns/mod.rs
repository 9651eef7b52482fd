//! Route 53 and what DNS fails over through, as dns-failover and the validator read it: a zone's
//! record sets (`records` says what a record should be), health checks, the alarms behind
//! `alarmHealthCheck` gates, ARC routing controls (`cluster`), and Route 53's request pace.

pub mod alarms;
pub mod cluster;
pub mod pace;
pub mod records;

use aws_sdk_route53::types::{ResourceRecordSet, RrType};

use crate::error::{from_sdk, AwsError};

/// A Route 53 client (a global service, called through the primary's configuration). Route 53
/// allows five requests a second per account: adaptive retry slows down when it throttles
/// instead of spending the attempts at once.
pub fn route53_client(primary: &aws_config::SdkConfig) -> aws_sdk_route53::Client {
    let config = aws_sdk_route53::config::Builder::from(primary)
        .timeout_config(crate::aws::blocking_timeouts())
        .retry_config(aws_config::retry::RetryConfig::adaptive())
        .build();
    aws_sdk_route53::Client::from_conf(config)
}

/// Every record set of a hosted zone: one listing, 300 sets a page, each page in its turn.
pub async fn zone_records(route53: &aws_sdk_route53::Client, zone: &str) -> Result<Vec<ResourceRecordSet>, AwsError> {
    let mut sets = Vec::new();
    let mut next: Option<(String, RrType, Option<String>)> = None;
    loop {
        let mut request = route53.list_resource_record_sets().hosted_zone_id(zone).max_items(300);
        if let Some((name, rtype, identifier)) = next.take() {
            request = request
                .start_record_name(name)
                .start_record_type(rtype)
                .set_start_record_identifier(identifier);
        }
        pace::route53().turn().await;
        let page = request
            .send()
            .await
            .map_err(|e| from_sdk("route53", "ListResourceRecordSets", &e))?;
        sets.extend(page.resource_record_sets().iter().cloned());
        match (page.is_truncated(), page.next_record_name(), page.next_record_type()) {
            (true, Some(name), Some(rtype)) => {
                next = Some((
                    name.to_string(),
                    rtype.clone(),
                    page.next_record_identifier().map(str::to_string),
                ))
            }
            _ => return Ok(sets),
        }
    }
}

/// Whether a health check is inverted; None when it has no configuration.
pub async fn health_check_inverted(route53: &aws_sdk_route53::Client, id: &str) -> Result<Option<bool>, AwsError> {
    pace::route53().turn().await;
    let out = route53
        .get_health_check()
        .health_check_id(id)
        .send()
        .await
        .map_err(|e| from_sdk("route53", "GetHealthCheck", &e))?;
    Ok(out
        .health_check()
        .and_then(|h| h.health_check_config())
        .map(|c| c.inverted().unwrap_or(false)))
}
