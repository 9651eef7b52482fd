//! Databases, global tables, global datastores and multi-Region clusters in other accounts
//! (`account` on each): the step acts in parts, one for Rebound's own account and one for each
//! other account's resources, as its role (assumed through [`Roles`](rebound_shared::accounts::Roles), once a recovery, through the recovery
//! region's STS), and reports them as one result.
//!
//! An account's part holds its resources and the writer endpoints that follow its databases:
//! the resources (and an old writer) are read and changed as the role, the endpoints' stores as
//! before (Rebound's own, or their zone's account). Rebound's own part holds the rest. A start that changes
//! anything first runs every part as a dry run, so that one part's refusal (a database missing,
//! in the wrong state, further behind than the RPO allows, an old writer that cannot be fenced)
//! stops the step before any part acts.

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::{DateTime, Utc};
use rebound_shared::accounts::SharedCredentialsProvider;
use rebound_shared::as_role;
use rebound_shared::context::{Action, RecoveryContext, StepResult};
use rebound_shared::plan::{Database, RecoveryPlan};
use rebound_shared::step::{elapsed_ms, Phase};

use crate::repoint::POINT_AT_WRITER;
use crate::{DatabaseError, DatabaseFailover};

impl DatabaseFailover {
    /// The same step acting as another account's role on its resources (both regions'), the
    /// endpoints' stores left as they are.
    pub fn as_role(&self, credentials: &SharedCredentialsProvider) -> DatabaseFailover {
        DatabaseFailover {
            rds: as_role!(aws_sdk_rds::Client, self.rds, credentials),
            cloudwatch: as_role!(aws_sdk_cloudwatch::Client, self.cloudwatch, credentials),
            primary_rds: as_role!(aws_sdk_rds::Client, self.primary_rds, credentials),
            primary_cloudwatch: as_role!(aws_sdk_cloudwatch::Client, self.primary_cloudwatch, credentials),
            endpoints: self.endpoints.clone(),
            tables: self.tables.as_role(credentials),
            elasticache: as_role!(aws_sdk_elasticache::Client, self.elasticache, credentials),
            primary_elasticache: as_role!(aws_sdk_elasticache::Client, self.primary_elasticache, credentials),
            memorydb: as_role!(aws_sdk_memorydb::Client, self.memorydb, credentials),
            primary_memorydb: as_role!(aws_sdk_memorydb::Client, self.primary_memorydb, credentials),
            globals: self.globals.as_role(credentials),
            primary_globals: self.primary_globals.as_role(credentials),
            roles: self.roles.clone(),
        }
    }

    /// The step in parts, one per account (Rebound's own first), merged into one result.
    pub(crate) async fn in_parts(
        &self,
        phase: Phase,
        ctx: RecoveryContext,
        now: DateTime<Utc>,
    ) -> Result<StepResult, DatabaseError> {
        let invocation = Instant::now();
        let names: Vec<&str> = accounts(&ctx.plan).into_iter().flatten().collect();
        let credentials = self.roles.assume_each(&ctx.plan, &names, &ctx.recovery_id).await?;
        let mut parts = vec![(self.clone(), part(&ctx, None))];
        for (name, credentials) in &credentials {
            parts.push((self.as_role(credentials), part(&ctx, Some(name))));
        }
        if phase == Phase::Start && !ctx.dry_run {
            for (step, part) in &parts {
                let mut check = part.clone();
                check.dry_run = true;
                let planned = Box::pin(step.run(Phase::Start, check, now)).await?;
                // An old writer that takes writes and cannot be fenced: refused here as the
                // part's own start would, before another part promotes.
                if let (None, Some(fence)) = (&ctx.approval, planned.actions.iter().find(|a| a.leaves_a_writer())) {
                    return Err(DatabaseError::SplitBrainRisk {
                        database: fence.resource.clone(),
                        reason: fence.detail.clone().unwrap_or_else(|| "it cannot be fenced".into()),
                    });
                }
            }
        }
        let mut merged: Option<StepResult> = None;
        for (step, part) in parts {
            let result = Box::pin(step.run(phase, part, now)).await?;
            match &mut merged {
                Some(all) => all.absorb(result),
                None => merged = Some(result),
            }
        }
        let mut merged = merged
            .ok_or_else(|| rebound_shared::step::StepFault::precondition("databases", "no part of the step ran"))?;
        // One invocation, however many parts it ran in.
        let before = ctx.results.database.as_ref().filter(|_| phase == Phase::Status);
        merged.duration_ms = before.map_or(0, |b| b.duration_ms) + elapsed_ms(invocation);
        merged.invocations = before.map_or(0, |b| b.invocations) + 1;
        Ok(merged)
    }
}

/// Every account the plan's databases, global tables, datastores and multi-Region clusters name
/// (None: Rebound's own); `in_parts` runs when any is another's.
pub(crate) fn accounts(plan: &RecoveryPlan) -> Vec<Option<&str>> {
    let databases = plan.databases.iter().map(|db| db.account());
    let tables = plan.global_tables.iter().map(|t| t.account.as_deref());
    let datastores = plan.global_datastores.iter().map(|d| d.account.as_deref());
    let clusters = plan.multi_region_clusters.iter().map(|c| c.account.as_deref());
    databases.chain(tables).chain(datastores).chain(clusters).collect()
}

/// `ctx` as the part of `account` (None: Rebound's own) acts on it: its resources, and the
/// writer endpoints of its databases. A status's actions are each given back to the part that
/// made it.
fn part(ctx: &RecoveryContext, account: Option<&str>) -> RecoveryContext {
    let mut part = ctx.clone();
    let plan = &mut part.plan;
    plan.databases.retain(|db| db.account() == account);
    plan.global_tables.retain(|t| t.account.as_deref() == account);
    plan.global_datastores.retain(|d| d.account.as_deref() == account);
    plan.multi_region_clusters.retain(|c| c.account.as_deref() == account);
    let ids: BTreeSet<&str> = plan.databases.iter().map(|db| db.identifier()).collect();
    plan.writer_endpoints.retain(|e| ids.contains(e.database()));
    if let Some(result) = &mut part.results.database {
        result.actions.retain(|a| account_of(&ctx.plan, a) == account);
    }
    part
}

/// The account of the plan's resource an action is about (None: Rebound's own, or none of the
/// plan's).
fn account_of<'p>(plan: &'p RecoveryPlan, action: &Action) -> Option<&'p str> {
    let about = database_of(action);
    let resource = action.resource.as_str();
    // A failback's actions name the failback replica.
    let named = |db: &Database| {
        db.identifier() == about
            || matches!(db, Database::ReadReplica { failback_identifier: Some(back), .. } if back == about)
    };
    if let Some(db) = plan.databases.iter().find(|db| named(db)) {
        return db.account();
    }
    if let Some(t) = plan
        .global_tables
        .iter()
        .find(|t| resource.starts_with(&format!("dynamodb:{} (", t.table_name)))
    {
        return t.account.as_deref();
    }
    if let Some(d) = plan
        .global_datastores
        .iter()
        .find(|d| resource == format!("elasticache:{}", d.global_replication_group_id))
    {
        return d.account.as_deref();
    }
    plan.multi_region_clusters
        .iter()
        .find(|c| resource == format!("memorydb:{}", c.multi_region_cluster_name))
        .and_then(|c| c.account.as_deref())
}

/// The database an action is about: its resource, the database named in "SOURCE (old writer of
/// DATABASE)", or the one a writer endpoint follows.
fn database_of(action: &Action) -> &str {
    if action.operation == POINT_AT_WRITER {
        return action.before["database"].as_str().unwrap_or_default();
    }
    match action.resource.rsplit_once(" of ") {
        Some((_, database)) if action.resource.ends_with(')') => database.trim_end_matches(')'),
        _ => &action.resource,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_action_belongs_to_the_database_it_is_about() {
        let fence = Action::already_done(
            "orders-db-use1 (old writer of orders-db-usw2)",
            "FenceOldWriter",
            json!({}),
        );
        assert_eq!(database_of(&fence), "orders-db-usw2");
        let promote = Action::already_done("orders-db-usw2", "PromoteReadReplica", json!({}));
        assert_eq!(database_of(&promote), "orders-db-usw2");
        let endpoint = Action::already_done("ssm:/orders/db-host", POINT_AT_WRITER, json!({"database": "orders-db"}));
        assert_eq!(database_of(&endpoint), "orders-db");
    }
}
