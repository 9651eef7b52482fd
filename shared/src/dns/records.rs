//! `upsert` mode's record sets: what a record should become, and whether it already is that.

use std::ops::Range;

use aws_sdk_route53::types::{AliasTarget, ResourceRecord, ResourceRecordSet, RrType};
use rebound_core::plan::{DnsRecord, RecordTarget, RecordType};
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
pub fn desired_record(
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
pub fn same_target(current: &ResourceRecordSet, desired: &ResourceRecordSet) -> bool {
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
pub fn summary(rs: Option<&ResourceRecordSet>) -> Value {
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

/// The record set the plan names in a zone's listing, if it exists.
pub fn find<'a>(sets: &'a [ResourceRecordSet], record: &DnsRecord) -> Option<&'a ResourceRecordSet> {
    sets.iter().find(|rs| {
        same_name(rs.name(), &record.name)
            && rs.r#type().as_str() == record.record_type.as_str()
            && rs.set_identifier() == record.set_identifier.as_deref()
    })
}

/// Route 53's limits on one ChangeResourceRecordSets request: 1,000 `ResourceRecord` elements
/// and 32,000 characters of `Value`s, each UPSERT counting twice.
pub const MAX_BATCH_RECORDS: usize = 1_000;
pub const MAX_BATCH_VALUE_CHARS: usize = 32_000;

/// Consecutive ranges of `sets`, each within Route 53's per-request limits for UPSERTs. A set
/// too large on its own gets a batch to itself (and Route 53's refusal).
pub fn batches(sets: &[ResourceRecordSet]) -> Vec<Range<usize>> {
    let weight = |rs: &ResourceRecordSet| {
        // An alias has no ResourceRecord elements; it is counted as one to stay on the safe side.
        let records = rs.resource_records().len().max(1);
        let chars: usize = rs.resource_records().iter().map(|r| r.value().chars().count()).sum();
        (2 * records, 2 * chars)
    };
    let mut out = Vec::new();
    let (mut start, mut records, mut chars) = (0, 0, 0);
    for (i, rs) in sets.iter().enumerate() {
        let (r, c) = weight(rs);
        if i > start && (records + r > MAX_BATCH_RECORDS || chars + c > MAX_BATCH_VALUE_CHARS) {
            out.push(start..i);
            (start, records, chars) = (i, 0, 0);
        }
        records += r;
        chars += c;
    }
    if start < sets.len() {
        out.push(start..sets.len());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cname(i: usize, value_len: usize) -> ResourceRecordSet {
        ResourceRecordSet::builder()
            .name(format!("r{i}.example.com."))
            .r#type(RrType::Cname)
            .ttl(60)
            .resource_records(
                ResourceRecord::builder()
                    .value("v".repeat(value_len))
                    .build()
                    .expect("rr"),
            )
            .build()
            .expect("rrs")
    }

    #[test]
    fn batches_split_at_route53s_element_and_character_limits() {
        // 600 UPSERTs of one short value: 1,200 elements, so two batches of at most 500.
        let sets: Vec<_> = (0..600).map(|i| cname(i, 10)).collect();
        assert_eq!(batches(&sets), vec![0..500, 500..600]);
        // 100 values of 200 characters: 40,000 characters counted twice, so 80 a batch.
        let sets: Vec<_> = (0..100).map(|i| cname(i, 200)).collect();
        assert_eq!(batches(&sets), vec![0..80, 80..100]);
        assert!(batches(&[]).is_empty());
        // Every batch is within both limits.
        let sets: Vec<_> = (0..2_000).map(|i| cname(i, i % 97)).collect();
        let ranges = batches(&sets);
        assert_eq!(ranges.iter().map(ExactSizeIterator::len).sum::<usize>(), 2_000);
        for r in ranges {
            let chars: usize = sets[r.clone()]
                .iter()
                .map(|s| 2 * s.resource_records()[0].value().len())
                .sum();
            assert!(
                2 * r.len() <= MAX_BATCH_RECORDS && chars <= MAX_BATCH_VALUE_CHARS,
                "{r:?}"
            );
        }
    }
}
