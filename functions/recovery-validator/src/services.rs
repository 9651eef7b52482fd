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
        let read: Vec<Result<_, String>> = match self.service_reads(ctx, services).await {
            Ok(reads) => {
                let capacities = reads.map(|r| r.capacities.clone());
                let read = capacities.read(services).await;
                read.into_iter().map(|r| r.map_err(|e| e.to_string())).collect()
            }
            Err(e) => services.iter().map(|_| Err(e.to_string())).collect(),
        };
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
                    Err(e) => check(label, false, e),
                }
            })
            .collect()
    }
}
