//! A validation round's writer-endpoint checks: each place the application reads a database's
//! writer from (`writerEndpoints`) holds that writer's host.

use futures_util::{stream, StreamExt};
use rebound_shared::context::Check;
use rebound_shared::endpoints::EndpointStores;
use rebound_shared::plan::{same_host, Database, RecoveryPlan, WriterEndpoint};
use rebound_shared::rds::reads::writer_host;

use rebound_shared::accounts::PerAccount;

use crate::accounts::DatabaseReads;
use crate::{check, RecoveryValidator, READ_CONCURRENCY};

impl RecoveryValidator {
    /// `plan` as it acts (a failback's databases), `reads` each account's databases' clients,
    /// `region` the region the application runs in now, and `key` the recovery's id (a
    /// secret's fingerprint).
    pub(crate) async fn writer_endpoint_checks(
        &self,
        reads: &Result<PerAccount<DatabaseReads>, String>,
        plan: &RecoveryPlan,
        region: &str,
        key: &str,
    ) -> Vec<Check> {
        // A CNAME in another account's zone is read as the role the plan names for it.
        let stores = match self.endpoints.for_plan(plan, key).await {
            Ok(stores) => stores,
            Err(e) => {
                return plan
                    .writer_endpoints_acting()
                    .into_iter()
                    .map(|(endpoint, _)| {
                        check(
                            format!("writer endpoint {}", endpoint.resource()),
                            false,
                            format!("could not be read: {e}"),
                        )
                    })
                    .collect()
            }
        };
        let stores = &stores;
        let checks: Vec<_> = plan
            .writer_endpoints_acting()
            .into_iter()
            .map(|(endpoint, db)| {
                // The database's writer is read in its account.
                let acting = reads.as_ref().map(|r| &r.of(db.account()).acting);
                self.writer_endpoint_check(key, (acting, stores), endpoint, db, region)
            })
            .collect();
        stream::iter(checks).buffered(READ_CONCURRENCY).collect().await
    }

    async fn writer_endpoint_check(
        &self,
        key: &str,
        (acting, stores): (Result<&aws_sdk_rds::Client, &String>, &EndpointStores),
        endpoint: &WriterEndpoint,
        db: &Database,
        region: &str,
    ) -> Check {
        let name = format!("writer endpoint {}", endpoint.resource());
        let database = db.identifier();
        let acting = match acting {
            Ok(acting) => acting,
            Err(e) => return check(name, false, format!("the writer of {database} could not be read: {e}")),
        };
        let (writer, current) = futures_util::join!(writer_host(acting, db), stores.read(endpoint, region));
        let (writer, current) = match (writer, current) {
            (Err(e), _) => return check(name, false, format!("the writer of {database} could not be read: {e}")),
            (_, Err(e)) => return check(name, false, format!("could not be read: {e}")),
            (Ok(None), _) => return check(name, false, format!("{database} has no endpoint to point at")),
            (Ok(Some(writer)), Ok(current)) => (writer, current),
        };
        match &current.host {
            Some(host) if same_host(host, &writer) => {
                check(name, true, format!("points at {writer}, the writer of {database}"))
            }
            Some(_) => check(
                name,
                false,
                format!(
                    "points at {}, not at {writer}, the writer of {database}",
                    current.described(key)
                ),
            ),
            None => check(
                name,
                false,
                format!("holds no host; the writer of {database} is {writer}"),
            ),
        }
    }
}
