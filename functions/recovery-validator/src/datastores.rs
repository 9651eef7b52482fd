//! A validation round's global datastore checks: where the application now runs, each of the
//! plan's ElastiCache global datastores has its member there as the primary, the datastore
//! available, and that replication group available: the one ElastiCache sends writes to. Each
//! MemoryDB multi-Region cluster has its regional cluster there, available in that region: the
//! one the application writes to.

use rebound_shared::context::{Check, RecoveryContext};
use rebound_shared::datastores::{describe, describe_multi_region};
use rebound_shared::plan::{writer_after, GlobalDatastore, MultiRegionCluster};
use rebound_shared::step::towards_recovery;

use crate::{check, StoreReads};

impl StoreReads {
    pub(crate) async fn datastore_checks(&self, ctx: &RecoveryContext) -> Vec<Check> {
        let mut checks = Vec::new();
        for datastore in &ctx.plan.global_datastores {
            checks.push(self.datastore_check(ctx, datastore).await);
        }
        for cluster in &ctx.plan.multi_region_clusters {
            checks.push(self.multi_region_check(ctx, cluster).await);
        }
        checks
    }

    async fn multi_region_check(&self, ctx: &RecoveryContext, cluster: &MultiRegionCluster) -> Check {
        let plan = &ctx.plan;
        let to_recovery = towards_recovery(ctx);
        let (region, name) = cluster.serving(&plan.primary_region, &plan.recovery_region, to_recovery);
        let memorydb = if to_recovery {
            &self.memorydb
        } else {
            &self.primary_memorydb
        };
        let id = &cluster.multi_region_cluster_name;
        let check_name = format!("multi-Region cluster {id}");
        match describe_multi_region(memorydb, id).await {
            Ok(Some(found)) if found.cluster(name, region).is_some() => {}
            Ok(Some(found)) => {
                return check(
                    check_name,
                    false,
                    format!(
                        "has no regional cluster {name} in {region} (regional clusters: {})",
                        found.listed()
                    ),
                )
            }
            Ok(None) => return check(check_name, false, format!("not found in {region}")),
            Err(e) => return check(check_name, false, format!("could not be read in {region}: {e}")),
        }
        // The regional cluster as its own region holds it: where the writes go.
        let read = memorydb.describe_clusters().cluster_name(name).send().await;
        let status = match read {
            Ok(out) => out
                .clusters()
                .first()
                .and_then(|c| c.status())
                .unwrap_or("missing")
                .to_string(),
            Err(e) if aws_sdk_memorydb::error::ProvideErrorMetadata::code(&e) == Some("ClusterNotFoundFault") => {
                "not found".to_string()
            }
            Err(e) => return check(check_name, false, format!("{name} could not be read in {region}: {e}")),
        };
        check(
            check_name,
            status == "available",
            format!("{name} in {region} takes the writes, {status}"),
        )
    }

    async fn datastore_check(&self, ctx: &RecoveryContext, datastore: &GlobalDatastore) -> Check {
        let plan = &ctx.plan;
        let to_recovery = towards_recovery(ctx);
        let (region, group) = writer_after(datastore, &plan.primary_region, &plan.recovery_region, to_recovery);
        let elasticache = if to_recovery {
            &self.elasticache
        } else {
            &self.primary_elasticache
        };
        let id = &datastore.global_replication_group_id;
        let name = format!("global datastore {id}");
        let found = match describe(elasticache, id).await {
            Ok(Some(found)) => found,
            Ok(None) => return check(name, false, format!("not found in {region}")),
            Err(e) => return check(name, false, format!("could not be read in {region}: {e}")),
        };
        match found.member(group, region) {
            Some(member) if member.is_primary() && found.status == "available" => {}
            Some(member) => {
                return check(
                    name,
                    false,
                    format!("{group} in {region} is {}, the datastore {}", member.role, found.status),
                )
            }
            None => return check(name, false, format!("has no member {group} in {region}")),
        }
        let read = elasticache
            .describe_replication_groups()
            .replication_group_id(group)
            .send()
            .await;
        let status = match read {
            Ok(out) => out
                .replication_groups()
                .first()
                .and_then(|g| g.status())
                .unwrap_or("missing")
                .to_string(),
            Err(e) => return check(name, false, format!("{group} could not be read in {region}: {e}")),
        };
        check(
            name,
            status == "available",
            format!("{group} in {region} is the primary, {status}"),
        )
    }
}
