//! A validation round's service checks: each service runs as many as service-restoration set
//! it to (ECS running tasks, InService instances, a node group's nodes, a Deployment's
//! available pods), read in batches.

use rebound_shared::capacity::recovery_target;
use rebound_shared::context::{Check, RecoveryContext};
use rebound_shared::plan::Service;

use crate::{check, RecoveryValidator};

impl RecoveryValidator {
    /// Each service runs as many as service-restoration set it to (from the peak it read then).
    pub(crate) async fn service_checks(&self, ctx: &RecoveryContext, services: &[&Service]) -> Vec<Check> {
        let read = self.services.read(services).await;
        services
            .iter()
            .zip(read)
            .map(|(service, current)| {
                let label = service.resource_name();
                match current {
                    Ok(current) => {
                        let want = recovery_target(ctx, service);
                        // A service sized from the peak passes at the plan's minimum success
                        // percentage of its target.
                        let enough = service.from_peak().map_or(want, |f| f.enough(want));
                        let mut detail = format!("{} of {want} running", current.running);
                        if enough < want {
                            detail.push_str(&format!(" ({enough} accepted)"));
                        }
                        check(label, current.running >= enough, detail)
                    }
                    Err(e) => check(label, false, e.to_string()),
                }
            })
            .collect()
    }
}
