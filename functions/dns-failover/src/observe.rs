//! What `start` reads before deciding, all of it before any change: each upsert zone's record
//! sets (one listing a zone, however many records the plan names in it), each inverted health
//! check, the routing controls' states (through the cluster's data-plane endpoints) and the
//! gates' alarms.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_cloudwatch::types::MetricAlarm;
use aws_sdk_route53::types::ResourceRecordSet;
use rebound_shared::accounts::Route53s;
use rebound_shared::context::RecoveryContext;
use rebound_shared::dns::cluster::{cluster_role, states, Endpoints};
use rebound_shared::dns::{self, alarms};
use rebound_shared::plan::DnsMode;
use rebound_shared::step::ensure_region;

use crate::{health_check_inverted, route53_error, DnsError, DnsFailover};

#[derive(Default)]
pub(crate) struct Observed {
    /// Each upsert zone's record sets, by zone id.
    pub zones: BTreeMap<String, Vec<ResourceRecordSet>>,
    /// Whether each inverted-mode health check is inverted now, by id.
    pub inverted: BTreeMap<String, bool>,
    /// The cluster endpoints the routing controls were read through (the plan's, and the one that answered).
    pub endpoints: Endpoints,
    /// Each routing control's state (On: true), by ARN.
    pub controls: BTreeMap<String, bool>,
    /// The gates' alarms, by name; a name missing does not exist.
    pub alarms: BTreeMap<String, MetricAlarm>,
}

impl DnsFailover {
    pub(crate) async fn observe(&self, ctx: &RecoveryContext, route53: &Route53s) -> Result<Observed, DnsError> {
        let mut observed = Observed::default();
        let records = &ctx.plan.dns;
        for record in records.iter().filter(|r| r.mode == DnsMode::Upsert) {
            if let std::collections::btree_map::Entry::Vacant(slot) =
                observed.zones.entry(record.hosted_zone_id.clone())
            {
                let zone = slot.key();
                let sets = dns::zone_records(route53.zone(zone), zone)
                    .await
                    .map_err(|e| route53_error(&format!("route53:{zone}"), e))?;
                slot.insert(sets);
            }
        }
        for record in records.iter().filter(|r| r.mode == DnsMode::HealthCheckInversion) {
            let id = record.health_check_id.clone().unwrap_or_default();
            if let std::collections::btree_map::Entry::Vacant(slot) = observed.inverted.entry(id) {
                let inverted = health_check_inverted(route53.health_check(&ctx.plan, slot.key()), slot.key()).await?;
                slot.insert(inverted);
            }
        }
        let arns: BTreeSet<&str> = records
            .iter()
            .filter(|r| r.mode == DnsMode::RoutingControl)
            .flat_map(|r| [&r.primary_routing_control_arn, &r.recovery_routing_control_arn])
            .map(|arn| arn.as_deref().unwrap_or_default())
            .collect();
        if !arns.is_empty() {
            // A cluster in another account is read and switched as that account's role.
            let role = cluster_role(&self.roles, &ctx.plan, &ctx.recovery_id).await?;
            observed.endpoints = self.cluster.endpoints(&ctx.plan, role.as_ref());
            let arns: Vec<&str> = arns.into_iter().collect();
            observed.controls = states(&observed.endpoints, &arns).await?;
        }
        let names: BTreeSet<&str> = records
            .iter()
            .filter(|r| r.mode == DnsMode::AlarmHealthCheck)
            .map(|r| r.alarm_name.as_deref().unwrap_or_default())
            .collect();
        if !names.is_empty() {
            // The gates' alarms live in the recovery region, where this CloudWatch client acts.
            ensure_region(
                self.cloudwatch.config().region().map(|r| r.as_ref()),
                &ctx.plan.recovery_region,
                "keeps its health-check alarms in",
            )?;
            let names: Vec<&str> = names.into_iter().collect();
            observed.alarms = alarms::read(&self.cloudwatch, &names).await?;
        }
        Ok(observed)
    }
}
