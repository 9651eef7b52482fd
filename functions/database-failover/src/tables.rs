//! DynamoDB global tables (`globalTables`): nothing to promote, every replica takes writes; but
//! the recovery region must hold an ACTIVE replica of each, and how far behind it is counts in
//! the RPO. Read with the databases (before any change), decided here without a call.

use rebound_shared::context::{Action, Mode, RecoveryContext};
use rebound_shared::error::AwsError;
use rebound_shared::plan::{replica_problem, GlobalTable, Replica};
use rebound_shared::step::{towards_recovery, StepFault};
use serde_json::json;

use crate::{DatabaseError, DatabaseFailover};

/// The operation a global table's action carries: a check, nothing changes.
pub(crate) const USE_REPLICA: &str = "UseGlobalTableReplica";

/// How far behind a replica is, as its sending region tells it.
#[derive(Debug, Clone, PartialEq)]
pub enum Latency {
    Seconds(f64),
    /// No datapoint in ten minutes: no writes to replicate.
    NoData,
    /// The sending region did not answer (it may be the one that failed).
    Unreadable(String),
}

/// The regions a table's replication runs between for this step: (where the application runs
/// after it, where the changes come from).
fn regions(ctx: &RecoveryContext) -> (&str, &str) {
    if towards_recovery(ctx) {
        (&ctx.plan.recovery_region, &ctx.plan.primary_region)
    } else {
        (&ctx.plan.primary_region, &ctx.plan.recovery_region)
    }
}

/// One table's action and RPO, or why the recovery cannot rely on it. A latency beyond the RPO
/// target is the replicas' data-loss rule: a failover's is put to an approver when the plan
/// allows (and goes once approved), any other mode refuses it.
pub fn assess(
    ctx: &RecoveryContext,
    table: &GlobalTable,
    replica: Option<&Replica>,
    latency: &Latency,
) -> Result<(Action, Option<f64>), DatabaseError> {
    let (region, source) = regions(ctx);
    let resource = format!("dynamodb:{} ({region})", table.table_name);
    if let Some(problem) = replica_problem(replica, region, source) {
        return Err(StepFault::precondition(format!("table {}", table.table_name), problem).into());
    }
    let rpo = ctx.plan.objectives.rpo_seconds;
    let (seconds, detail) = match latency {
        Latency::Seconds(s) => (Some(*s), format!("ACTIVE in {region}, {s} s behind {source}")),
        Latency::NoData => (
            Some(0.0),
            format!("ACTIVE in {region}; no ReplicationLatency from {source} in 10 minutes (no writes to replicate)"),
        ),
        Latency::Unreadable(why) => (
            None,
            format!(
                "ACTIVE in {region}; UNKNOWN how far behind: ReplicationLatency could not be read in {source} ({why})"
            ),
        ),
    };
    // A drill rehearses a failover.
    let failover = matches!(ctx.mode, Mode::Failover | Mode::Drill);
    if let Some(s) = seconds.filter(|s| *s > rpo as f64) {
        if !failover || ctx.approval.is_none() {
            return Err(DatabaseError::DataLoss {
                database: format!("{} (DynamoDB global table)", table.table_name),
                lag_seconds: Some(s),
                rpo_seconds: rpo,
                allowed: failover && table.allow_data_loss,
            });
        }
    }
    let state = json!({"replica": region, "status": "ACTIVE", "latencySeconds": seconds});
    let mut action = Action::already_done(resource, USE_REPLICA, state);
    action.detail = Some(detail);
    // A failover loses what had not replicated when the source failed; a switchover or failback
    // leaves the source running, so its last writes still arrive: nothing is lost.
    let lost = if failover { seconds } else { Some(0.0) };
    Ok((action, lost))
}

impl DatabaseFailover {
    /// Every global table read at once and assessed; refuses before any change.
    pub(crate) async fn global_tables(
        &self,
        ctx: &RecoveryContext,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Vec<Action>, Option<f64>), DatabaseError> {
        if ctx.plan.global_tables.is_empty() {
            return Ok((Vec::new(), None));
        }
        let names: Vec<&str> = ctx.plan.global_tables.iter().map(|t| t.table_name.as_str()).collect();
        let (region, _) = regions(ctx);
        let observed = self
            .tables
            .observe(&names, towards_recovery(ctx), region, now)
            .await
            .map_err(|source: AwsError| StepFault::Aws {
                resource: format!("tables {}", names.join(", ")),
                source,
            })?;
        let mut actions = Vec::new();
        let mut rpo: Option<f64> = None;
        for table in &ctx.plan.global_tables {
            let latency = match &observed.latencies {
                Ok(found) => found
                    .get(&table.table_name)
                    .map_or(Latency::NoData, |s| Latency::Seconds(*s)),
                Err(e) => Latency::Unreadable(e.to_string()),
            };
            let replica = observed.replicas.get(&table.table_name).and_then(Option::as_ref);
            let (action, seconds) = assess(ctx, table, replica, &latency)?;
            actions.push(action);
            rpo = match (rpo, seconds) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        Ok((actions, rpo))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(mode: &str) -> RecoveryContext {
        let mut request: serde_json::Value =
            serde_json::from_str(include_str!("../../../events/database-failover.json")).expect("event");
        request["context"]["mode"] = json!(mode);
        serde_json::from_value(request["context"].clone()).expect("context")
    }

    fn table(allow: bool) -> GlobalTable {
        GlobalTable {
            account: None,
            table_name: "orders-carts".into(),
            allow_data_loss: allow,
        }
    }

    fn active() -> Replica {
        Replica {
            status: "ACTIVE".into(),
            peers: vec![("us-east-1".into(), "ACTIVE".into())],
        }
    }

    #[test]
    fn an_active_replica_within_the_rpo_is_used_and_its_latency_is_the_rpo() {
        let (action, rpo) =
            assess(&ctx("failover"), &table(false), Some(&active()), &Latency::Seconds(1.5)).expect("usable");
        assert_eq!(rpo, Some(1.5));
        assert!(action.already_done);
        assert_eq!(action.resource, "dynamodb:orders-carts (us-west-2)");
        // An unreadable sender (the failed region) leaves the RPO unknown, not the step refused.
        let (action, rpo) = assess(
            &ctx("failover"),
            &table(false),
            Some(&active()),
            &Latency::Unreadable("timeout".into()),
        )
        .expect("usable");
        assert_eq!(rpo, None);
        assert!(action.detail.as_deref().is_some_and(|d| d.contains("UNKNOWN")));
    }

    #[test]
    fn a_missing_replica_or_one_too_far_behind_is_refused() {
        let err = assess(&ctx("failover"), &table(false), None, &Latency::NoData).expect_err("missing");
        assert_eq!(err.to_string(), "table orders-carts: no replica in us-west-2");
        let behind = Latency::Seconds(1200.0);
        let err = assess(&ctx("failover"), &table(false), Some(&active()), &behind).expect_err("behind");
        assert!(matches!(err, DatabaseError::DataLoss { allowed: false, .. }), "{err}");
        let err = assess(&ctx("failover"), &table(true), Some(&active()), &behind).expect_err("needs approval");
        assert!(matches!(err, DatabaseError::DataLoss { allowed: true, .. }), "{err}");
        let mut approved = ctx("failover");
        approved.approval = Some(json!("ops"));
        assert!(assess(&approved, &table(true), Some(&active()), &behind).is_ok());
        // A switchover never accepts the loss.
        let mut switchover = ctx("switchover");
        switchover.approval = Some(json!("ops"));
        assert!(assess(&switchover, &table(true), Some(&active()), &behind).is_err());
    }

    #[test]
    fn a_failback_relies_on_the_primary_regions_replica() {
        let fed_by_recovery = Replica {
            status: "ACTIVE".into(),
            peers: vec![("us-west-2".into(), "ACTIVE".into())],
        };
        let (action, _) = assess(
            &ctx("failback"),
            &table(false),
            Some(&fed_by_recovery),
            &Latency::NoData,
        )
        .expect("usable");
        assert_eq!(action.resource, "dynamodb:orders-carts (us-east-1)");
        assert!(assess(&ctx("failback"), &table(false), Some(&active()), &Latency::NoData).is_err());
    }
}
