//! What `start` does to each record, decided from what was read ([`Observed`]) and the context,
//! with no call: the record sets to upsert (and those already at their target), the health
//! checks to invert, the one routing-control batch and the alarms to drive.

use std::collections::BTreeMap;

use aws_sdk_route53::types::ResourceRecordSet;
use rebound_shared::context::{Action, RecoveryContext};
use rebound_shared::dns::records::{desired_record, find};
use rebound_shared::plan::DnsMode;
use rebound_shared::step::towards_recovery;

use crate::alarm::{plan_gates, Gate};
use crate::observe::Observed;
use crate::routing::{self, Cells, Switch};
use crate::DnsError;

/// What one record should become, and what it is now.
pub(crate) struct RecordChange {
    pub resource: String,
    pub current: Option<ResourceRecordSet>,
    pub desired: ResourceRecordSet,
}

#[derive(Default)]
pub(crate) struct Intent {
    /// Each zone's upserts, by zone id.
    pub upserts: BTreeMap<String, Vec<RecordChange>>,
    /// (health check id, inverted now, inverted wanted), one per record.
    pub inversions: Vec<(String, bool, bool)>,
    /// The routing-control batch to send (on before off) and each record's action.
    pub routing: Option<Switch>,
    /// Each gate's alarm, the value to publish, and its action.
    pub gates: Vec<(Gate, Action)>,
}

pub(crate) fn decide(ctx: &RecoveryContext, observed: &Observed) -> Result<Intent, DnsError> {
    let to_recovery = towards_recovery(ctx);
    let mut intent = Intent::default();
    let mut cells: Vec<(String, Cells)> = Vec::new();
    let mut gates: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for record in &ctx.plan.dns {
        let resource = format!(
            "route53:{}/{}/{}",
            record.hosted_zone_id,
            record.name,
            record.record_type.as_str()
        );
        match record.mode {
            DnsMode::Upsert => {
                let current = observed
                    .zones
                    .get(&record.hosted_zone_id)
                    .and_then(|sets| find(sets, record))
                    .cloned();
                let target = if to_recovery { &record.recovery } else { &record.primary };
                let target = target.as_ref().ok_or_else(|| DnsError::BadRecord {
                    resource: resource.clone(),
                    reason: "no target values".into(),
                })?;
                let desired =
                    desired_record(record, target, current.as_ref()).map_err(|reason| DnsError::BadRecord {
                        resource: resource.clone(),
                        reason,
                    })?;
                intent
                    .upserts
                    .entry(record.hosted_zone_id.clone())
                    .or_default()
                    .push(RecordChange {
                        resource,
                        current,
                        desired,
                    });
            }
            DnsMode::HealthCheckInversion => {
                let id = record.health_check_id.clone().unwrap_or_default();
                let inverted = observed.inverted.get(&id).copied().unwrap_or(false);
                intent.inversions.push((id, inverted, to_recovery));
            }
            DnsMode::RoutingControl => cells.push((
                resource,
                Cells {
                    primary: record.primary_routing_control_arn.as_deref().unwrap_or_default(),
                    recovery: record.recovery_routing_control_arn.as_deref().unwrap_or_default(),
                },
            )),
            DnsMode::AlarmHealthCheck => gates
                .entry(record.alarm_name.as_deref().unwrap_or_default())
                .or_default()
                .push(resource),
        }
    }
    if !cells.is_empty() {
        intent.routing = Some(routing::plan(&cells, &observed.controls, to_recovery, ctx.dry_run)?);
    }
    intent.gates = plan_gates(ctx, &gates, &observed.alarms, to_recovery)?;
    Ok(intent)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use aws_sdk_cloudwatch::types::{ComparisonOperator, MetricAlarm, StateValue, Statistic};
    use aws_sdk_route53::types::{ResourceRecord, RrType};
    use rebound_shared::context::ActionStatus;
    use serde_json::{json, Value};

    use super::*;

    const ZONE: &str = "Z0123456789ABCDEFGHIJ";
    const P: &str = "arn:aws:route53-recovery-control::111122223333:controlpanel/cp/routingcontrol/use1";
    const R: &str = "arn:aws:route53-recovery-control::111122223333:controlpanel/cp/routingcontrol/usw2";

    /// The sample context, with `dns` as the plan's records.
    fn context(mode: &str, dns: Value) -> RecoveryContext {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/dns-failover.json"))
            .expect("sample");
        let mut request: Value = serde_json::from_str(&text).expect("json");
        request["context"]["mode"] = json!(mode);
        request["context"]["plan"]["dns"] = dns;
        serde_json::from_value(request["context"].clone()).expect("context")
    }

    fn cname(value: &str) -> ResourceRecordSet {
        ResourceRecordSet::builder()
            .name("api.orders.example.com.")
            .r#type(RrType::Cname)
            .ttl(60)
            .resource_records(ResourceRecord::builder().value(value).build().expect("rr"))
            .build()
            .expect("rrs")
    }

    fn api() -> Value {
        json!({"hostedZoneId": ZONE, "name": "api.orders.example.com.", "type": "CNAME", "ttl": 60,
               "primary": {"values": ["orders-api-use1.orders.example.com"]},
               "recovery": {"values": ["orders-api-usw2.orders.example.com"]}})
    }

    fn zone(sets: Vec<ResourceRecordSet>) -> Observed {
        Observed {
            zones: BTreeMap::from([(ZONE.to_string(), sets)]),
            ..Observed::default()
        }
    }

    #[test]
    fn an_upsert_goes_to_the_target_of_the_direction_and_knows_what_is_there() {
        let ctx = context("failover", json!([api()]));
        let intent = decide(&ctx, &zone(vec![cname("orders-api-use1.orders.example.com")])).expect("intent");
        let change = &intent.upserts[ZONE][0];
        assert_eq!(change.resource, format!("route53:{ZONE}/api.orders.example.com./CNAME"));
        assert!(change.current.is_some());
        assert_eq!(
            change.desired.resource_records()[0].value(),
            "orders-api-usw2.orders.example.com"
        );
        // A failback goes back to the primary's values; a record not there yet is created.
        let back = decide(&context("failback", json!([api()])), &zone(vec![])).expect("intent");
        let change = &back.upserts[ZONE][0];
        assert!(change.current.is_none());
        assert_eq!(
            change.desired.resource_records()[0].value(),
            "orders-api-use1.orders.example.com"
        );
    }

    #[test]
    fn a_record_without_a_target_is_refused_naming_it() {
        let mut record = api();
        record.as_object_mut().expect("object").remove("recovery");
        let err = decide(&context("failover", json!([record])), &zone(vec![]))
            .err()
            .expect("refused");
        assert!(
            matches!(&err, DnsError::BadRecord { reason, .. } if reason == "no target values"),
            "{err}"
        );
    }

    #[test]
    fn inversions_and_routing_controls_follow_what_was_read() {
        let dns = json!([
            {"hostedZoneId": ZONE, "name": "pay.orders.example.com.", "type": "A", "mode": "healthCheckInversion",
             "setIdentifier": "primary", "healthCheckId": "hc-1"},
            {"hostedZoneId": ZONE, "name": "shop.orders.example.com.", "type": "A", "mode": "routingControl",
             "primaryRoutingControlArn": P, "recoveryRoutingControlArn": R}
        ]);
        let observed = Observed {
            inverted: BTreeMap::from([("hc-1".to_string(), false)]),
            controls: BTreeMap::from([(P.to_string(), true), (R.to_string(), false)]),
            ..Observed::default()
        };
        let intent = decide(&context("failover", dns.clone()), &observed).expect("intent");
        assert_eq!(intent.inversions, vec![("hc-1".to_string(), false, true)]);
        let (entries, actions) = intent.routing.expect("routing");
        assert_eq!(entries, vec![(R.to_string(), true), (P.to_string(), false)]);
        assert!(!actions[0].already_done);
        // Already switched: nothing to send, the action already done.
        let switched = Observed {
            controls: BTreeMap::from([(P.to_string(), false), (R.to_string(), true)]),
            ..observed
        };
        let (entries, actions) = decide(&context("failover", dns), &switched)
            .expect("intent")
            .routing
            .expect("routing");
        assert!(entries.is_empty());
        assert!(actions[0].already_done && actions[0].status == ActionStatus::Done);
    }

    #[test]
    fn a_gate_needs_its_alarm_and_drives_it_past_its_threshold() {
        let dns = json!([{"hostedZoneId": ZONE, "name": "api.orders.example.com.", "type": "A",
                          "mode": "alarmHealthCheck", "setIdentifier": "primary", "healthCheckId": "hc-1",
                          "alarmName": "orders-primary-gate"}]);
        let ctx = context("failover", dns);
        let err = decide(&ctx, &Observed::default()).err().expect("no alarm");
        assert!(err.to_string().contains("no such metric alarm"), "{err}");
        let alarm = MetricAlarm::builder()
            .alarm_name("orders-primary-gate")
            .namespace("Orders")
            .metric_name("PrimaryOut")
            .statistic(Statistic::Maximum)
            .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
            .threshold(1.0)
            .treat_missing_data("ignore")
            .evaluation_periods(1)
            .state_value(StateValue::Ok)
            .build();
        let observed = Observed {
            alarms: BTreeMap::from([("orders-primary-gate".to_string(), alarm)]),
            ..Observed::default()
        };
        let intent = decide(&ctx, &observed).expect("intent");
        let (gate, action) = &intent.gates[0];
        assert_eq!(gate.value, 1.0);
        assert_eq!(action.after["state"], "ALARM");
        assert!(!action.already_done);
    }
}
