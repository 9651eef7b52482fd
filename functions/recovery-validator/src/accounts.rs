//! What readiness and validation read a service through: Rebound's own clients, or each acting
//! as the role of the account the service names (`services[].account`), assumed once a recovery ([`rebound_shared::accounts::Roles`]).

use rebound_shared::accounts::{PerAccount, SharedCredentialsProvider};
use rebound_shared::as_role;
use rebound_shared::aws::{best_effort, Regions};
use rebound_shared::capacities::Capacities;
use rebound_shared::context::{Check, RecoveryContext};
use rebound_shared::global_tables::GlobalTables;
use rebound_shared::plan::{Database, Service};
use rebound_shared::rds::GlobalClients;
use rebound_shared::step::StepFault;

use crate::{check, RecoveryValidator};

/// One account's reads of the services: their capacity, the quotas and instance types they
/// count against, and the primary's peaks. Quotas, usage and peaks are each account's own.
#[derive(Debug, Clone)]
pub struct ServiceReads {
    /// The recovery region's ECS, Auto Scaling, EKS and clusters.
    pub capacities: Capacities,
    /// The recovery region's Service Quotas.
    pub quotas: aws_sdk_servicequotas::Client,
    /// The recovery region's EC2: instance types, launch templates, Capacity Reservations.
    pub ec2: aws_sdk_ec2::Client,
    /// The recovery region's CloudWatch, where the quotas' usage metrics are.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// In the primary region, where the services' peaks are read (best effort: it may be the
    /// failed region).
    pub primary_cloudwatch: aws_sdk_cloudwatch::Client,
    /// In the primary region, where a node group's Auto Scaling groups are named.
    pub primary_eks: aws_sdk_eks::Client,
}

impl ServiceReads {
    pub fn new(regions: &Regions) -> Self {
        ServiceReads {
            capacities: Capacities::new(&regions.recovery),
            quotas: aws_sdk_servicequotas::Client::new(&regions.recovery),
            ec2: aws_sdk_ec2::Client::new(&regions.recovery),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&regions.recovery),
            primary_cloudwatch: aws_sdk_cloudwatch::Client::new(&best_effort(&regions.primary)),
            primary_eks: aws_sdk_eks::Client::new(&best_effort(&regions.primary)),
        }
    }

    /// The same reads, as another account's role.
    pub fn as_role(&self, credentials: &SharedCredentialsProvider) -> Self {
        ServiceReads {
            capacities: self.capacities.as_role(credentials),
            quotas: as_role!(aws_sdk_servicequotas::Client, self.quotas, credentials),
            ec2: as_role!(aws_sdk_ec2::Client, self.ec2, credentials),
            cloudwatch: as_role!(aws_sdk_cloudwatch::Client, self.cloudwatch, credentials),
            primary_cloudwatch: as_role!(aws_sdk_cloudwatch::Client, self.primary_cloudwatch, credentials),
            primary_eks: as_role!(aws_sdk_eks::Client, self.primary_eks, credentials),
        }
    }
}

/// One account's reads of the databases: the side they act on (the recovery region, or the
/// primary after a failback), its DocumentDB and Neptune clients, and the recovery region's RDS
/// the old writers are read through (in their own region).
#[derive(Debug, Clone)]
pub struct DatabaseReads {
    pub acting: aws_sdk_rds::Client,
    pub globals: GlobalClients,
    pub home: aws_sdk_rds::Client,
}

impl DatabaseReads {
    fn as_role(&self, credentials: &SharedCredentialsProvider) -> Self {
        DatabaseReads {
            acting: as_role!(aws_sdk_rds::Client, self.acting, credentials),
            globals: self.globals.as_role(credentials),
            home: as_role!(aws_sdk_rds::Client, self.home, credentials),
        }
    }
}

/// One account's reads of the global tables, datastores and multi-Region clusters, in both
/// regions.
#[derive(Debug, Clone)]
pub struct StoreReads {
    pub tables: GlobalTables,
    /// ElastiCache global datastores, read where they were failed over to.
    pub elasticache: aws_sdk_elasticache::Client,
    pub primary_elasticache: aws_sdk_elasticache::Client,
    /// MemoryDB multi-Region clusters, read where the application writes.
    pub memorydb: aws_sdk_memorydb::Client,
    pub primary_memorydb: aws_sdk_memorydb::Client,
}

impl StoreReads {
    pub fn new(regions: &Regions) -> Self {
        StoreReads {
            tables: GlobalTables::new(regions),
            elasticache: aws_sdk_elasticache::Client::new(&regions.recovery),
            primary_elasticache: aws_sdk_elasticache::Client::new(&regions.primary),
            memorydb: aws_sdk_memorydb::Client::new(&regions.recovery),
            primary_memorydb: aws_sdk_memorydb::Client::new(&regions.primary),
        }
    }

    fn as_role(&self, credentials: &SharedCredentialsProvider) -> Self {
        StoreReads {
            tables: self.tables.as_role(credentials),
            elasticache: as_role!(aws_sdk_elasticache::Client, self.elasticache, credentials),
            primary_elasticache: as_role!(aws_sdk_elasticache::Client, self.primary_elasticache, credentials),
            memorydb: as_role!(aws_sdk_memorydb::Client, self.memorydb, credentials),
            primary_memorydb: as_role!(aws_sdk_memorydb::Client, self.primary_memorydb, credentials),
        }
    }

    /// Every check of the tables, datastores and clusters of `ctx`'s plan, read here.
    async fn checks(&self, ctx: &RecoveryContext) -> Vec<Check> {
        let mut checks = self.global_table_checks(ctx).await;
        checks.extend(self.datastore_checks(ctx).await);
        checks
    }
}

impl RecoveryValidator {
    /// The global tables', datastores' and multi-Region clusters' checks, each account's read as
    /// its role.
    pub(crate) async fn store_checks(&self, ctx: &RecoveryContext) -> Vec<Check> {
        let plan = &ctx.plan;
        let mut accounts: Vec<Option<&str>> = plan
            .global_tables
            .iter()
            .map(|t| t.account.as_deref())
            .chain(plan.global_datastores.iter().map(|d| d.account.as_deref()))
            .chain(plan.multi_region_clusters.iter().map(|c| c.account.as_deref()))
            .collect();
        accounts.sort_unstable();
        accounts.dedup();
        let names: Vec<&str> = accounts.iter().copied().flatten().collect();
        let reads = match self.roles.assume_each(plan, &names, &ctx.recovery_id).await {
            Ok(credentials) => PerAccount::assumed(self.stores.clone(), &credentials, StoreReads::as_role),
            Err(e) => {
                let failed = |name: String| check(name, false, format!("could not be read: {e}"));
                let tables = plan.global_tables.iter().map(|t| format!("table {}", t.table_name));
                let datastores = plan
                    .global_datastores
                    .iter()
                    .map(|d| format!("global datastore {}", d.global_replication_group_id));
                let clusters = plan
                    .multi_region_clusters
                    .iter()
                    .map(|c| format!("multi-Region cluster {}", c.multi_region_cluster_name));
                return tables.chain(datastores).chain(clusters).map(failed).collect();
            }
        };
        let mut checks = Vec::new();
        for account in accounts {
            let mut part = ctx.clone();
            part.plan.global_tables.retain(|t| t.account.as_deref() == account);
            part.plan.global_datastores.retain(|d| d.account.as_deref() == account);
            part.plan
                .multi_region_clusters
                .retain(|c| c.account.as_deref() == account);
            // Boxed: one account's reads at a time, off the caller's stack.
            checks.extend(Box::pin(reads.of(account).checks(&part)).await);
        }
        checks
    }

    /// The reads of `dbs` in each account they name, `own` Rebound's.
    pub(crate) async fn database_reads(
        &self,
        ctx: &RecoveryContext,
        dbs: &[Database],
        own: DatabaseReads,
    ) -> Result<PerAccount<DatabaseReads>, StepFault> {
        let names: Vec<&str> = dbs.iter().filter_map(|db| db.account()).collect();
        let credentials = self.roles.assume_each(&ctx.plan, &names, &ctx.recovery_id).await?;
        Ok(PerAccount::assumed(own, &credentials, DatabaseReads::as_role))
    }

    /// The reads of `services` in each account they name; a role that cannot be assumed is
    /// told, naming the account.
    pub(crate) async fn service_reads(
        &self,
        ctx: &RecoveryContext,
        services: &[&Service],
    ) -> Result<PerAccount<ServiceReads>, StepFault> {
        let names: Vec<&str> = services.iter().filter_map(|s| s.account()).collect();
        let credentials = self.roles.assume_each(&ctx.plan, &names, &ctx.recovery_id).await?;
        Ok(PerAccount::assumed(
            self.services.clone(),
            &credentials,
            ServiceReads::as_role,
        ))
    }
}

/// `services` by the account each names (None: Rebound's own), in the plan's order within each.
pub fn by_account<'a>(services: &[&'a Service]) -> std::collections::BTreeMap<Option<&'a str>, Vec<&'a Service>> {
    let mut grouped: std::collections::BTreeMap<Option<&str>, Vec<&Service>> = Default::default();
    for service in services {
        grouped.entry(service.account()).or_default().push(service);
    }
    grouped
}

/// How a check about `account`'s services says which account (nothing for Rebound's own).
pub fn in_account(account: Option<&str>) -> String {
    account.map(|a| format!(" in account {a}")).unwrap_or_default()
}
