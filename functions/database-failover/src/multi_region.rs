//! MemoryDB multi-Region clusters (`multiRegionClusters`): active-active, every regional cluster
//! takes writes, so nothing fails over. What the recovery needs is that the regional cluster
//! where the application now runs belongs to the multi-Region cluster and serves, and how far
//! behind it was: writes the failed region took and had not replicated are not there
//! (`MultiRegionClusterReplicationLag`, which MemoryDB publishes on the receiving regional
//! cluster). That lag is the RPO and goes through the replicas' data-loss rule. Read and
//! decided with the databases, before any change.

use chrono::{DateTime, Utc};
use rebound_shared::context::{Action, RecoveryContext};
use rebound_shared::datastores::describe_multi_region;
use rebound_shared::plan::{MultiRegion, MultiRegionCluster, Regional};
use rebound_shared::step::{towards_recovery, StepFault};
use serde_json::json;

use crate::data_loss::{listed_lag, within_rpo, Lag};
use crate::{DatabaseError, DatabaseFailover};

/// The operation a multi-Region cluster's action carries: the application writes to the
/// regional cluster where it runs, which takes writes already.
pub(crate) const USE_REGIONAL: &str = "UseRegionalCluster";
const LAG_METRIC: &str = "MultiRegionClusterReplicationLag";

/// The statuses in which a regional cluster serves reads and writes (MemoryDB applies updates
/// shard by shard, serving meanwhile).
const SERVING: &[&str] = &["available", "updating"];

/// The regional cluster `cluster` in `region` as `found` shows it, or why the recovery cannot
/// count on it.
pub fn standing<'f>(found: Option<&'f MultiRegion>, region: &str, cluster: &str) -> Result<&'f Regional, String> {
    let found = found.ok_or_else(|| "not found".to_string())?;
    let regional = found.cluster(cluster, region).ok_or_else(|| {
        format!(
            "has no regional cluster {cluster} in {region} (regional clusters: {})",
            found.listed()
        )
    })?;
    if !SERVING.contains(&regional.status.as_str()) {
        return Err(format!(
            "regional cluster {cluster} in {region} is {}: it takes writes only when available",
            regional.status
        ));
    }
    Ok(regional)
}

/// The data the application no longer sees once it writes to the regional cluster there, or
/// why the recovery cannot use it: a cluster that does not serve is refused, a lag beyond the
/// RPO target (or unknown) follows the replicas' data-loss rule.
pub fn decide(
    ctx: &RecoveryContext,
    cluster: &MultiRegionCluster,
    found: Option<&MultiRegion>,
    lag: &Lag,
) -> Result<Option<f64>, DatabaseError> {
    let (region, name) = target(ctx, cluster);
    let id = &cluster.multi_region_cluster_name;
    standing(found, region, name).map_err(|why| StepFault::precondition(resource(cluster), why))?;
    within_rpo(
        ctx,
        format!("{id} (MemoryDB multi-Region cluster)"),
        cluster.allow_data_loss,
        lag,
    )
}

/// `(region, cluster)` where the application writes once this step is done.
fn target<'p>(ctx: &'p RecoveryContext, cluster: &'p MultiRegionCluster) -> (&'p str, &'p str) {
    let plan = &ctx.plan;
    cluster.serving(&plan.primary_region, &plan.recovery_region, towards_recovery(ctx))
}

fn resource(cluster: &MultiRegionCluster) -> String {
    format!("memorydb:{}", cluster.multi_region_cluster_name)
}

impl DatabaseFailover {
    /// Every multi-Region cluster read and decided, refused before any change; its action (done
    /// at once: there is nothing to ask) and the data the recovery leaves behind.
    pub(crate) async fn multi_region_clusters(
        &self,
        ctx: &RecoveryContext,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Action>, Option<f64>), DatabaseError> {
        let mut actions = Vec::new();
        let mut rpo: Option<f64> = None;
        for cluster in &ctx.plan.multi_region_clusters {
            let id = &cluster.multi_region_cluster_name;
            let (region, name) = target(ctx, cluster);
            let found = describe_multi_region(&self.memorydb, id)
                .await
                .map_err(|source| StepFault::Aws {
                    resource: resource(cluster),
                    source,
                })?;
            let lag = match standing(found.as_ref(), region, name) {
                Ok(_) => listed_lag(&self.cloudwatch, ("AWS/MemoryDB", LAG_METRIC), name, now).await,
                Err(_) => Lag::Unknown("not read".into()),
            };
            let seconds = decide(ctx, cluster, found.as_ref(), &lag)?;
            let status = found
                .as_ref()
                .and_then(|f| f.cluster(name, region))
                .map_or("unknown", |c| c.status.as_str());
            let mut action = Action::already_done(
                resource(cluster),
                USE_REGIONAL,
                json!({"region": region, "cluster": name, "status": status}),
            );
            action.detail = Some(match &lag {
                Lag::Seconds(s) => format!("{name} in {region} takes writes (active-active); it was {s} s behind"),
                Lag::Unknown(why) => {
                    format!("{name} in {region} takes writes (active-active); UNKNOWN how far behind ({why}), used with approval")
                }
            });
            rpo = match (rpo, seconds) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            actions.push(action);
        }
        Ok((actions, rpo))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::decide::tests::context as ctx;

    fn orders(allow: bool) -> MultiRegionCluster {
        MultiRegionCluster {
            account: None,
            multi_region_cluster_name: "ldgnf-orders".into(),
            primary_cluster_name: "orders-use1".into(),
            recovery_cluster_name: "orders-usw2".into(),
            allow_data_loss: allow,
        }
    }

    fn found(west: &str) -> MultiRegion {
        MultiRegion {
            status: "available".into(),
            clusters: vec![
                Regional {
                    name: "orders-use1".into(),
                    region: "us-east-1".into(),
                    status: "available".into(),
                },
                Regional {
                    name: "orders-usw2".into(),
                    region: "us-west-2".into(),
                    status: west.into(),
                },
            ],
        }
    }

    #[test]
    fn the_regional_cluster_there_is_used_and_its_lag_is_the_rpo() {
        let ctx = ctx("failover");
        let lag = Lag::Seconds(0.3);
        assert_eq!(
            decide(&ctx, &orders(false), Some(&found("available")), &lag).expect("used"),
            Some(0.3)
        );
        // Serving through an update.
        assert_eq!(
            decide(&ctx, &orders(false), Some(&found("updating")), &lag).expect("used"),
            Some(0.3)
        );
        // A failback writes to the primary region's cluster again.
        assert_eq!(
            decide(&self::ctx("failback"), &orders(false), Some(&found("creating")), &lag).expect("primary's"),
            Some(0.3)
        );
    }

    #[test]
    fn a_missing_cluster_or_one_that_does_not_serve_is_refused_naming_it() {
        let ctx = ctx("failover");
        let lag = Lag::Seconds(0.0);
        let err = decide(&ctx, &orders(false), None, &lag).expect_err("missing");
        assert_eq!(err.to_string(), "memorydb:ldgnf-orders: not found");
        let mut other = found("available");
        other.clusters.pop();
        let err = decide(&ctx, &orders(false), Some(&other), &lag).expect_err("no member");
        assert_eq!(
            err.to_string(),
            "memorydb:ldgnf-orders: has no regional cluster orders-usw2 in us-west-2 (regional clusters: orders-use1 in us-east-1)"
        );
        let err = decide(&ctx, &orders(false), Some(&found("creating")), &lag).expect_err("state");
        assert!(
            err.to_string().contains("orders-usw2 in us-west-2 is creating"),
            "{err}"
        );
        assert_eq!(err.kind(), rebound_shared::ErrorKind::PreconditionFailed);
    }

    #[test]
    fn a_lag_beyond_the_rpo_follows_the_replicas_data_loss_rule() {
        // The rule itself (`within_rpo`) is the datastores', tested there.
        let behind = Lag::Seconds(1200.0);
        let err = decide(&ctx("failover"), &orders(false), Some(&found("available")), &behind).expect_err("behind");
        assert!(matches!(err, DatabaseError::DataLoss { allowed: false, .. }), "{err}");
        assert!(
            err.to_string().contains("ldgnf-orders (MemoryDB multi-Region cluster)"),
            "{err}"
        );
    }
}
