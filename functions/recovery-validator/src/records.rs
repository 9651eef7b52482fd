//! A validation round's DNS checks: each zone listed once, each health-check alarm and routing
//! control read once, however many records share them; and whether each record holds its target.

use rebound_shared::accounts::Route53s;
use rebound_shared::dns::{self, records::find, records::record_holds};

use super::*;

impl RecoveryValidator {
    /// Every zone's record sets, listed at most `READ_CONCURRENCY` at a time; a zone in another
    /// account through the role the plan names for it (a role that cannot be assumed fails each
    /// of the account's zones, naming it).
    pub(crate) async fn list_zones(&self, ctx: &RecoveryContext, zones: BTreeSet<String>) -> Zones {
        let route53 = if ctx.plan.dns.iter().all(|r| r.account.is_none()) {
            Ok(Route53s::own(&self.route53))
        } else {
            Route53s::for_plan(&self.route53, &self.roles, &ctx.plan, &ctx.recovery_id).await
        };
        let route53 = match route53 {
            Ok(route53) => route53,
            Err(e) => return zones.into_iter().map(|zone| (zone, Err(e.to_string()))).collect(),
        };
        let route53 = &route53;
        // Futures collected first: a closure inside the stream would make it !Send.
        let reads: Vec<_> = zones
            .into_iter()
            .map(|zone| async move {
                let sets = dns::zone_records(route53.zone(&zone), &zone)
                    .await
                    .map_err(|e| format!("route53:{zone}: {e}"));
                (zone, sets)
            })
            .collect();
        stream::iter(reads).buffered(READ_CONCURRENCY).collect().await
    }

    /// The health-check alarms by name, read together.
    pub(crate) async fn read_gates(&self, names: BTreeSet<&str>) -> Result<BTreeMap<String, MetricAlarm>, String> {
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        let names: Vec<&str> = names.into_iter().collect();
        dns::alarms::read(&self.cloudwatch, &names)
            .await
            .map_err(|e| e.to_string())
    }

    /// The routing controls' states (on: true), read through the cluster's endpoints.
    pub(crate) async fn read_controls(
        &self,
        plan: &RecoveryPlan,
        session: &str,
        arns: BTreeSet<&str>,
    ) -> Result<BTreeMap<String, bool>, String> {
        if arns.is_empty() {
            return Ok(BTreeMap::new());
        }
        let arns: Vec<&str> = arns.into_iter().collect();
        // A cluster in another account is read as that account's role.
        let role = dns::cluster::cluster_role(&self.roles, plan, session)
            .await
            .map_err(|e| e.to_string())?;
        dns::cluster::states(&self.cluster.endpoints(plan, role.as_ref()), &arns)
            .await
            .map_err(|e| e.to_string())
    }

    pub(crate) async fn record_check(
        &self,
        plan: &RecoveryPlan,
        record: &DnsRecord,
        to_recovery: bool,
        zones: &Zones,
        gates: &Result<BTreeMap<String, MetricAlarm>, String>,
        controls: &Result<BTreeMap<String, bool>, String>,
    ) -> Check {
        let label = format!("record {} {}", record.name, record.record_type.as_str());
        match record.mode {
            DnsMode::Upsert => {
                let target = if to_recovery { &record.recovery } else { &record.primary };
                match target {
                    Some(target) => holds(label, record, target, zones),
                    None => check(label, false, "the plan gives no target".into()),
                }
            }
            DnsMode::HealthCheckInversion => {
                let id = record.health_check_id.as_deref().unwrap_or_default();
                let label = format!("health check {id}");
                match dns::health_check_inverted(&self.route53, id).await {
                    Ok(Some(inverted)) if inverted == to_recovery => {
                        check(label, true, format!("inverted: {inverted}"))
                    }
                    Ok(Some(inverted)) => check(label, false, format!("inverted: {inverted}, expected {to_recovery}")),
                    Ok(None) => check(label, false, "health check has no configuration".into()),
                    Err(e) => check(label, false, e.to_string()),
                }
            }
            DnsMode::RoutingControl => {
                let (Some(primary), Some(recovery)) = (
                    record.primary_routing_control_arn.as_deref(),
                    record.recovery_routing_control_arn.as_deref(),
                ) else {
                    return check(label, false, "the plan gives no routing controls".into());
                };
                let label = format!("routing controls of {}", record.name);
                match controls {
                    Ok(states) => {
                        let on = |arn: &str| states.get(arn).copied().unwrap_or(false);
                        let (p, r) = (on(primary), on(recovery));
                        let detail = format!("primary {}, recovery {}", on_off(p), on_off(r));
                        check(label, r == to_recovery && p != to_recovery, detail)
                    }
                    Err(e) => check(label, false, e.clone()),
                }
            }
            DnsMode::AlarmHealthCheck => {
                let name = record.alarm_name.as_deref().unwrap_or_default();
                let label = format!("health check alarm {name}");
                let want = if to_recovery { "ALARM" } else { "OK" };
                match gates {
                    Ok(alarms) => match alarms.get(name).and_then(|a| a.state_value()) {
                        Some(state) => check(
                            label,
                            state.as_str() == want,
                            format!("{}, expected {want}", state.as_str()),
                        ),
                        None => check(label, false, format!("not found in {}", plan.recovery_region)),
                    },
                    Err(e) => check(label, false, e.clone()),
                }
            }
        }
    }
}

/// Each listed zone's record sets, or why it could not be listed.
pub(crate) type Zones = BTreeMap<String, Result<Vec<ResourceRecordSet>, String>>;

/// Whether `record` holds `target` in its zone's listing.
pub(crate) fn holds(label: String, record: &DnsRecord, target: &RecordTarget, zones: &Zones) -> Check {
    let current = match zones.get(&record.hosted_zone_id) {
        Some(Ok(sets)) => find(sets, record),
        Some(Err(e)) => return check(label, false, e.clone()),
        None => return check(label, false, "its zone was not read".into()),
    };
    match current {
        Some(current) if record_holds(record, target, current) => check(label, true, "holds the target".into()),
        Some(current) => {
            let values: Vec<&str> = current.resource_records().iter().map(|r| r.value()).collect();
            let alias = current.alias_target().map(|a| a.dns_name());
            check(
                label,
                false,
                format!(
                    "holds {values:?}{}",
                    alias.map(|a| format!(" alias {a}")).unwrap_or_default()
                ),
            )
        }
        None => check(label, false, "record not found".into()),
    }
}

fn on_off(on: bool) -> &'static str {
    if on {
        "On"
    } else {
        "Off"
    }
}
