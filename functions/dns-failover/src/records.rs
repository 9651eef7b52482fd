//! `upsert` mode's record sets: what a record should become, and whether it already is that.

use aws_sdk_route53::types::{AliasTarget, ResourceRecord, ResourceRecordSet, RrType};
use rebound_shared::plan::{DnsRecord, RecordTarget, RecordType};
use serde_json::{json, Value};

pub fn rr_type(t: RecordType) -> RrType {
    match t {
        RecordType::A => RrType::A,
        RecordType::AAAA => RrType::Aaaa,
        RecordType::CNAME => RrType::Cname,
    }
}

/// Route 53 answers names with a trailing dot and in lower case.
pub fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.').eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// The record as it should be: the target's values or alias, everything else (routing policy,
/// health check) kept from the current record.
pub(crate) fn desired_record(
    record: &DnsRecord,
    target: &RecordTarget,
    current: Option<&ResourceRecordSet>,
) -> Result<ResourceRecordSet, String> {
    let mut builder = match current {
        Some(c) => ResourceRecordSet::builder()
            .name(c.name())
            .r#type(c.r#type().clone())
            .set_set_identifier(c.set_identifier().map(str::to_string))
            .set_weight(c.weight())
            .set_region(c.region().cloned())
            .set_failover(c.failover().cloned())
            .set_multi_value_answer(c.multi_value_answer())
            .set_health_check_id(c.health_check_id().map(str::to_string))
            .set_geo_location(c.geo_location().cloned())
            .set_cidr_routing_config(c.cidr_routing_config().cloned())
            .set_geo_proximity_location(c.geo_proximity_location().cloned()),
        None => ResourceRecordSet::builder()
            .name(&record.name)
            .r#type(rr_type(record.record_type))
            .set_set_identifier(record.set_identifier.clone()),
    };
    match target {
        RecordTarget::Values { values } => {
            let records = values
                .iter()
                .map(|v| ResourceRecord::builder().value(v).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            builder = builder
                .set_alias_target(None)
                .set_resource_records(Some(records))
                .set_ttl(record.ttl.or(current.and_then(|c| c.ttl())));
        }
        RecordTarget::Alias { alias } => {
            let target = AliasTarget::builder()
                .hosted_zone_id(&alias.hosted_zone_id)
                .dns_name(&alias.dns_name)
                .evaluate_target_health(alias.evaluate_target_health)
                .build()
                .map_err(|e| e.to_string())?;
            builder = builder.set_resource_records(None).set_ttl(None).alias_target(target);
        }
    }
    builder.build().map_err(|e| e.to_string())
}

fn normalise(value: &str) -> String {
    value.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether the current record already holds the desired values (order and case aside).
pub(crate) fn same_target(current: &ResourceRecordSet, desired: &ResourceRecordSet) -> bool {
    let values = |rs: &ResourceRecordSet| {
        let mut v: Vec<String> = rs.resource_records().iter().map(|r| normalise(r.value())).collect();
        v.sort();
        v
    };
    let alias = |rs: &ResourceRecordSet| {
        rs.alias_target().map(|a| {
            (
                normalise(a.dns_name()),
                a.hosted_zone_id().to_string(),
                a.evaluate_target_health(),
            )
        })
    };
    values(current) == values(desired)
        && alias(current) == alias(desired)
        && (desired.ttl().is_none() || current.ttl() == desired.ttl())
}

/// A record's state for the step result.
pub(crate) fn summary(rs: Option<&ResourceRecordSet>) -> Value {
    let Some(rs) = rs else { return json!(null) };
    match rs.alias_target() {
        Some(a) => json!({ "alias": a.dns_name(), "hostedZoneId": a.hosted_zone_id() }),
        None => {
            json!({ "values": rs.resource_records().iter().map(|r| r.value()).collect::<Vec<_>>(), "ttl": rs.ttl() })
        }
    }
}

/// Whether `current` already holds `target` (values or alias; order and case aside).
pub fn record_holds(record: &DnsRecord, target: &RecordTarget, current: &ResourceRecordSet) -> bool {
    desired_record(record, target, Some(current)).is_ok_and(|desired| same_target(current, &desired))
}
