//! Pointing the application at each new writer: once a database takes writes, every endpoint the
//! plan names for it (`writerEndpoints`: an SSM parameter, a secret's field, a CNAME) is set to
//! the writer's host. Each is read before anything changes (a missing or unusable one stops the
//! step first), compared before it is written (a retry finds it done), and a CNAME is polled
//! until Route 53 has it INSYNC.

use futures_util::stream::{self, StreamExt, TryStreamExt};
use rebound_shared::context::{Action, ActionStatus, RecoveryContext};
use rebound_shared::endpoints::{Current, EndpointStores, Pointed};
use rebound_shared::plan::{same_host, Database, WriterEndpoint};
use rebound_shared::rds::reads::writer_host;
use rebound_shared::step::{towards_recovery, StepFault};
use serde_json::json;

use crate::{DatabaseError, DatabaseFailover, CONCURRENCY};

/// The operation a re-pointing action carries.
pub(crate) const POINT_AT_WRITER: &str = "PointAtWriter";

/// Each writer endpoint of the plan with the database it follows and what it holds now.
pub(crate) type Endpoints<'a> = Vec<(&'a WriterEndpoint, &'a Database, Current)>;

/// The region the application runs in after the step: where its endpoints are by default.
fn acting_region(ctx: &RecoveryContext) -> &str {
    if towards_recovery(ctx) {
        &ctx.plan.recovery_region
    } else {
        &ctx.plan.primary_region
    }
}

/// An endpoint's `before`: what it held as [`Current::shown`] lets it be recorded.
fn recorded(ctx: &RecoveryContext, current: &Current, db: &Database) -> serde_json::Value {
    let mut before = current.shown(&ctx.recovery_id);
    before["database"] = json!(db.identifier());
    before
}

impl DatabaseFailover {
    /// Every writer endpoint as it is now, read before any change.
    pub(crate) async fn read_endpoints<'a>(&self, ctx: &'a RecoveryContext) -> Result<Endpoints<'a>, DatabaseError> {
        let region = acting_region(ctx);
        let stores = &self.endpoints.for_plan(&ctx.plan, &ctx.recovery_id).await?;
        let reads: Vec<_> = ctx
            .plan
            .writer_endpoints_acting()
            .into_iter()
            .map(|(endpoint, db)| async move {
                let current = stores.read(endpoint, region).await?;
                Ok::<_, DatabaseError>((endpoint, db, current))
            })
            .collect();
        stream::iter(reads).buffered(CONCURRENCY).try_collect().await
    }

    /// In a dry run: what each endpoint holds and the host it would get (unknown for a restore
    /// that has not made its instance yet).
    pub(crate) async fn planned_endpoints(
        &self,
        ctx: &RecoveryContext,
        endpoints: &Endpoints<'_>,
    ) -> Result<Vec<Action>, DatabaseError> {
        let mut actions = Vec::new();
        for (endpoint, db, current) in endpoints {
            let host = writer_host(&self.rds, db).await.map_err(|source| StepFault::Aws {
                resource: format!("database {}", db.identifier()),
                source,
            })?;
            let before = recorded(ctx, current, db);
            let action = match &host {
                Some(h) if current.host.as_deref().is_some_and(|c| same_host(c, h)) => {
                    Action::already_done(endpoint.resource(), POINT_AT_WRITER, before)
                }
                _ => {
                    let mut a = Action::change(
                        endpoint.resource(),
                        POINT_AT_WRITER,
                        before,
                        json!({"host": host}),
                        true,
                    );
                    a.detail = Some(format!("once {} takes writes", db.identifier()));
                    a
                }
            };
            actions.push(action);
        }
        Ok(actions)
    }

    /// Points the endpoints of every database that now takes writes (its change action done)
    /// and has not been pointed yet, and polls those Route 53 has not made INSYNC.
    pub(crate) async fn repoint(&self, ctx: &RecoveryContext, actions: &mut Vec<Action>) -> Result<(), DatabaseError> {
        let endpoints = ctx.plan.writer_endpoints_acting();
        let stores = &self.endpoints.for_plan(&ctx.plan, &ctx.recovery_id).await?;
        for action in actions
            .iter_mut()
            .filter(|a| a.operation == POINT_AT_WRITER && a.status == ActionStatus::Pending)
        {
            let (Some((endpoint, _)), Some(change)) = (
                endpoints.iter().find(|(e, _)| e.resource() == action.resource),
                action.tracking_id.clone(),
            ) else {
                continue;
            };
            if stores.in_sync(endpoint, &change).await? {
                action.status = ActionStatus::Done;
                action.detail = Some("INSYNC".into());
            }
        }
        let writable = |db: &Database| {
            actions.iter().any(|a| {
                a.resource == db.identifier() && a.operation != POINT_AT_WRITER && a.status == ActionStatus::Done
            })
        };
        let todo: Vec<_> = endpoints
            .into_iter()
            .filter(|(endpoint, db)| writable(db) && !actions.iter().any(|a| a.resource == endpoint.resource()))
            .map(|(endpoint, db)| self.point(ctx, stores, endpoint, db))
            .collect();
        let pointed: Vec<Action> = stream::iter(todo).buffered(CONCURRENCY).try_collect().await?;
        actions.extend(pointed);
        Ok(())
    }

    /// One endpoint set to its database's writer, read first so that a retry changes nothing.
    async fn point(
        &self,
        ctx: &RecoveryContext,
        stores: &EndpointStores,
        endpoint: &WriterEndpoint,
        db: &Database,
    ) -> Result<Action, DatabaseError> {
        let region = acting_region(ctx);
        let resource = endpoint.resource();
        let host = writer_host(&self.rds, db)
            .await
            .map_err(|source| StepFault::Aws {
                resource: format!("database {}", db.identifier()),
                source,
            })?
            .ok_or_else(|| DatabaseError::Failed {
                database: db.identifier().to_string(),
                reason: format!("takes writes but RDS gives it no endpoint to point {resource} at"),
            })?;
        let current = stores.read(endpoint, region).await?;
        let before = recorded(ctx, &current, db);
        if current.host.as_deref().is_some_and(|c| same_host(c, &host)) {
            return Ok(Action::already_done(resource, POINT_AT_WRITER, before));
        }
        let started = std::time::Instant::now();
        let pointed = stores
            .point(endpoint, region, &current, &host, &ctx.recovery_id)
            .await?;
        let mut action = Action::change(resource, POINT_AT_WRITER, before, json!({"host": host}), false);
        match pointed {
            Pointed::Done => action.status = ActionStatus::Done,
            Pointed::Pending { change_id } => {
                action.tracking_id = Some(change_id);
                action.detail = Some("waiting for Route 53: PENDING".into());
            }
        }
        action.duration_ms = rebound_shared::step::elapsed_ms(started);
        Ok(action)
    }
}
