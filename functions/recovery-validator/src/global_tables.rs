//! A validation round's global-table checks: each of the plan's DynamoDB global tables still has
//! an ACTIVE replica, fed by the other region, where the application now runs.

use rebound_shared::context::{Check, RecoveryContext};
use rebound_shared::plan::replica_problem;
use rebound_shared::step::towards_recovery;

use crate::{check, StoreReads};

impl StoreReads {
    pub(crate) async fn global_table_checks(&self, ctx: &RecoveryContext) -> Vec<Check> {
        let names: Vec<&str> = ctx.plan.global_tables.iter().map(|t| t.table_name.as_str()).collect();
        if names.is_empty() {
            return Vec::new();
        }
        let to_recovery = towards_recovery(ctx);
        let (region, source) = if to_recovery {
            (&ctx.plan.recovery_region, &ctx.plan.primary_region)
        } else {
            (&ctx.plan.primary_region, &ctx.plan.recovery_region)
        };
        let replicas = self.tables.replicas(&names, to_recovery).await;
        names
            .iter()
            .map(|name| {
                let check_name = format!("table {name}");
                match &replicas {
                    Err(e) => check(check_name, false, format!("could not be read in {region}: {e}")),
                    Ok(found) => match replica_problem(found.get(*name).and_then(Option::as_ref), region, source) {
                        Some(problem) => check(check_name, false, problem),
                        None => check(
                            check_name,
                            true,
                            format!("ACTIVE replica in {region} of the global table with {source}"),
                        ),
                    },
                }
            })
            .collect()
    }
}
