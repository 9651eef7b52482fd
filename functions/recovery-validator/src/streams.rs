//! A validation round's event-stream checks: each consumer on where the application runs now,
//! and off where it left (unknown, never a pass, when that region does not answer), each read
//! in the account it is in.

use rebound_shared::accounts::PerAccount;
use rebound_shared::context::{Check, RecoveryContext};
use rebound_shared::plan::{stream_progress, Side, StreamProgress};
use rebound_shared::step::towards_recovery;

use crate::{check, RecoveryValidator};

impl RecoveryValidator {
    pub(crate) async fn stream_checks(&self, ctx: &RecoveryContext) -> Vec<Check> {
        let mut checks = Vec::new();
        // A mapping in another account is read as its role; one that cannot be assumed fails
        // that account's checks, naming it.
        let (clients, refused) =
            match PerAccount::for_mappings(&self.streams, &self.roles, &ctx.plan, &ctx.recovery_id).await {
                Ok(clients) => (clients, None),
                Err(e) => (PerAccount::own(self.streams.clone()), Some(e)),
            };
        for mapping in &ctx.plan.event_source_mappings {
            let streams = clients.of(mapping.account.as_deref());
            for (side, uuid, enabled) in mapping.moves(towards_recovery(ctx)) {
                let region = match side {
                    Side::Primary => &ctx.plan.primary_region,
                    Side::Recovery => &ctx.plan.recovery_region,
                };
                let name = format!("event source mapping {uuid} ({region})");
                let want = if enabled { "Enabled" } else { "Disabled" };
                if let (Some(e), Some(_)) = (&refused, &mapping.account) {
                    checks.push(check(name, false, format!("could not be read: {e}")));
                    continue;
                }
                checks.push(match streams.state(side, uuid).await {
                    Ok(Some(state)) if stream_progress(&state, enabled) == StreamProgress::There => {
                        check(name, true, state)
                    }
                    Ok(Some(state)) => check(name, false, format!("{state}, not {want}")),
                    Ok(None) => check(name, false, "no such event source mapping".into()),
                    Err(e) if !enabled => Check::unknown(
                        name,
                        format!("UNKNOWN: {region} did not answer ({e}); disable it before the region returns"),
                    ),
                    Err(e) => check(name, false, format!("could not be read: {e}")),
                });
            }
        }
        checks
    }
}
