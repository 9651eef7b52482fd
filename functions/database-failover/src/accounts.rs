//! Databases in other accounts (`databases[].account`): the step acts in parts, one for
//! Rebound's own account and one for each other account's databases, as its role (assumed once
//! an invocation through the recovery region's STS), and reports them as one result.
//!
//! An account's part holds its databases and the writer endpoints that follow them: the
//! database and its old writer are read and changed as the role, the endpoints' stores as
//! before (Rebound's own, or their zone's account). Rebound's own part holds everything else:
//! its databases, global tables, datastores and multi-Region clusters. A start that changes
//! anything first runs every part as a dry run, so that one part's refusal (a database missing,
//! in the wrong state, further behind than the RPO allows, an old writer that cannot be fenced)
//! stops the step before any part acts.

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::{DateTime, Utc};
use rebound_shared::accounts::{assume_each, SharedCredentialsProvider};
use rebound_shared::as_role;
use rebound_shared::context::{Action, RecoveryContext, StepResult};
use rebound_shared::step::{elapsed_ms, Phase};

use crate::repoint::POINT_AT_WRITER;
use crate::{DatabaseError, DatabaseFailover};

impl DatabaseFailover {
    /// The same step acting as another account's role on its databases (both regions'), the
    /// endpoints' stores, tables and datastores left as they are (that part has none).
    pub fn as_role(&self, credentials: &SharedCredentialsProvider) -> DatabaseFailover {
        DatabaseFailover {
            rds: as_role!(aws_sdk_rds::Client, self.rds, credentials),
            cloudwatch: as_role!(aws_sdk_cloudwatch::Client, self.cloudwatch, credentials),
            primary_rds: as_role!(aws_sdk_rds::Client, self.primary_rds, credentials),
            primary_cloudwatch: as_role!(aws_sdk_cloudwatch::Client, self.primary_cloudwatch, credentials),
            endpoints: self.endpoints.clone(),
            tables: self.tables.clone(),
            elasticache: self.elasticache.clone(),
            primary_elasticache: self.primary_elasticache.clone(),
            memorydb: self.memorydb.clone(),
            primary_memorydb: self.primary_memorydb.clone(),
            globals: self.globals.as_role(credentials),
            primary_globals: self.primary_globals.as_role(credentials),
            sts: self.sts.clone(),
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
        let names: Vec<&str> = ctx.plan.databases.iter().filter_map(|db| db.account()).collect();
        let credentials = assume_each(&self.sts, &ctx.plan, &names, &ctx.recovery_id).await?;
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

/// `ctx` as the part of `account` (None: Rebound's own) acts on it: its databases and their
/// writer endpoints; Rebound's own part keeps the rest of the plan. A status's actions are each
/// given back to the part that made it.
fn part(ctx: &RecoveryContext, account: Option<&str>) -> RecoveryContext {
    let mut part = ctx.clone();
    let plan = &mut part.plan;
    plan.databases.retain(|db| db.account() == account);
    let ids: BTreeSet<String> = plan.databases.iter().map(|db| db.identifier().to_string()).collect();
    let others: BTreeSet<String> = ctx
        .plan
        .databases
        .iter()
        .filter(|db| db.account() != account)
        .map(|db| db.identifier().to_string())
        .collect();
    plan.writer_endpoints.retain(|e| !others.contains(e.database()));
    if account.is_some() {
        plan.global_tables.clear();
        plan.global_datastores.clear();
        plan.multi_region_clusters.clear();
    }
    if let Some(result) = &mut part.results.database {
        result.actions.retain(|a| {
            let database = database_of(a);
            if account.is_some() {
                ids.contains(database)
            } else {
                !others.contains(database)
            }
        });
    }
    part
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
