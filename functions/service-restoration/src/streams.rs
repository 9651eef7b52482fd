//! Event streams (`eventSourceMappings`): each consumer's mapping is turned off in the region
//! being left (best effort: it may be the region that failed) and on in the region the
//! application moves to, so that it neither runs twice nor not at all. `status` waits until
//! Lambda reports each one `Enabled` or `Disabled`. A mapping in another account is read and
//! moved as that account's role.

use std::time::Instant;

use rebound_shared::accounts::PerAccount;
use rebound_shared::context::{Action, ActionStatus, RecoveryContext, ServiceStage};
use rebound_shared::error::AwsError;
use rebound_shared::event_streams::EventStreams;
use rebound_shared::plan::{mapping_resource, stream_progress, EventSourceMapping, Side, StreamProgress};
use rebound_shared::step::{elapsed_ms, in_stage, moves_region, towards_recovery, StepFault};
use serde_json::{json, Value};

use crate::{ServiceError, ServiceRestoration};

pub(crate) const ENABLE: &str = "EnableEventSourceMapping";
pub(crate) const DISABLE: &str = "DisableEventSourceMapping";

pub(crate) fn is_stream(action: &Action) -> bool {
    action.operation == ENABLE || action.operation == DISABLE
}

/// Each mapping to move, and the clients of each account they are in.
pub(crate) struct Streams<'c> {
    clients: PerAccount<EventStreams>,
    moves: Vec<Move<'c>>,
}

/// One mapping to move: its side, UUID, account, target (enabled or not) and the state read, or
/// why its region did not answer.
struct Move<'c> {
    side: Side,
    uuid: &'c str,
    account: Option<&'c str>,
    enabled: bool,
    state: Result<String, AwsError>,
}

fn region(ctx: &RecoveryContext, side: Side) -> &str {
    match side {
        Side::Primary => &ctx.plan.primary_region,
        Side::Recovery => &ctx.plan.recovery_region,
    }
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Primary => "primary",
        Side::Recovery => "recovery",
    }
}

fn side_of(after: &Value) -> Option<Side> {
    match after["side"].as_str()? {
        "primary" => Some(Side::Primary),
        "recovery" => Some(Side::Recovery),
        _ => None,
    }
}

impl ServiceRestoration {
    /// The mappings' clients: Rebound's own, and each other account's that a mapping names (its
    /// role assumed once a recovery).
    async fn stream_clients(&self, ctx: &RecoveryContext) -> Result<PerAccount<EventStreams>, StepFault> {
        PerAccount::for_mappings(&self.streams, &self.roles, &ctx.plan, &ctx.recovery_id).await
    }

    /// Every mapping the step moves, read before any change: a missing one is refused; the side
    /// being left may not answer (the region that failed).
    pub(crate) async fn read_streams<'c>(
        &self,
        ctx: &'c RecoveryContext,
        stage: ServiceStage,
    ) -> Result<Streams<'c>, ServiceError> {
        let in_stage = |m: &&EventSourceMapping| in_stage(ctx, stage, m.needs_writer);
        let moved: Vec<&EventSourceMapping> = if moves_region(ctx) {
            ctx.plan.event_source_mappings.iter().filter(in_stage).collect()
        } else {
            Vec::new()
        };
        let clients = if moved.is_empty() {
            PerAccount::own(self.streams.clone())
        } else {
            self.stream_clients(ctx).await?
        };
        let mut moves = Vec::new();
        for mapping in moved {
            let account = mapping.account.as_deref();
            for (side, uuid, enabled) in mapping.moves(towards_recovery(ctx)) {
                let region = region(ctx, side);
                let resource = mapping_resource(uuid, region);
                let state = match clients.of(account).state(side, uuid).await {
                    Ok(Some(state)) => Ok(state),
                    Ok(None) => {
                        return Err(StepFault::precondition(
                            resource,
                            format!("no such event source mapping in {region}"),
                        )
                        .into())
                    }
                    Err(e) if !enabled => Err(e),
                    Err(source) => return Err(StepFault::Aws { resource, source }.into()),
                };
                moves.push(Move {
                    side,
                    uuid,
                    account,
                    enabled,
                    state,
                });
            }
        }
        Ok(Streams { clients, moves })
    }

    /// Each mapping moved from the state read (or, in a dry run, reported), in order: the side
    /// left before the side joined.
    pub(crate) async fn move_streams(
        &self,
        ctx: &RecoveryContext,
        read: Streams<'_>,
    ) -> Result<Vec<Action>, ServiceError> {
        let mut actions = Vec::new();
        for one in read.moves {
            actions.push(move_stream(read.clients.of(one.account), ctx, one).await?);
        }
        Ok(actions)
    }

    /// Polls the mappings still on their way.
    pub(crate) async fn poll_streams(&self, ctx: &RecoveryContext, actions: &mut [Action]) -> Result<(), ServiceError> {
        if !actions
            .iter()
            .any(|a| is_stream(a) && a.status == ActionStatus::Pending)
        {
            return Ok(());
        }
        let clients = self.stream_clients(ctx).await?;
        for action in actions
            .iter_mut()
            .filter(|a| is_stream(a) && a.status == ActionStatus::Pending)
        {
            let (Some(side), Some(uuid)) = (
                side_of(&action.after),
                action.after["uuid"].as_str().map(str::to_string),
            ) else {
                continue;
            };
            let account = ctx
                .plan
                .event_source_mappings
                .iter()
                .find(|m| m.names(&uuid))
                .and_then(|m| m.account.as_deref());
            poll_stream(clients.of(account), action, side, &uuid).await?;
        }
        Ok(())
    }
}

/// One mapping from its state (as just read, or why its region did not answer) to its target,
/// through `streams`, its account's clients.
async fn move_stream(streams: &EventStreams, ctx: &RecoveryContext, one: Move<'_>) -> Result<Action, ServiceError> {
    let Move {
        side,
        uuid,
        enabled,
        state,
        ..
    } = one;
    let region = region(ctx, side);
    let resource = mapping_resource(uuid, region);
    let operation = if enabled { ENABLE } else { DISABLE };
    let target = if enabled { "Enabled" } else { "Disabled" };
    let after = json!({"side": side_name(side), "uuid": uuid, "state": target});
    // Its consumer cannot be stopped from here, and people must know it may run twice when
    // the region returns.
    let state = match state {
        Ok(state) => state,
        Err(e) => return Ok(not_disabled(resource, after, region, &e)),
    };
    let before = json!({"state": state});
    let mut action = match stream_progress(&state, enabled) {
        StreamProgress::There => return Ok(Action::already_done(resource, operation, before)),
        StreamProgress::OnItsWay => {
            let mut action = Action::already_done(resource, operation, before);
            action.status = ActionStatus::Pending;
            action.after = after;
            return Ok(action);
        }
        StreamProgress::Elsewhere => Action::change(resource.clone(), operation, before, after, ctx.dry_run),
    };
    if ctx.dry_run {
        return Ok(action);
    }
    let started = Instant::now();
    match streams.set(side, uuid, enabled).await {
        Ok(now) => {
            if stream_progress(&now, enabled) == StreamProgress::There {
                action.status = ActionStatus::Done;
            } else {
                action.detail = Some(format!("waiting: {now}"));
            }
        }
        Err(e) if !enabled => return Ok(not_disabled(resource, action.after, region, &e)),
        Err(source) => return Err(StepFault::Aws { resource, source }.into()),
    }
    action.duration_ms = elapsed_ms(started);
    Ok(action)
}

/// Polls one mapping on its way, through its account's clients.
async fn poll_stream(streams: &EventStreams, action: &mut Action, side: Side, uuid: &str) -> Result<(), ServiceError> {
    let enabled = action.operation == ENABLE;
    let state = streams
        .state(side, uuid)
        .await
        .map_err(|source| StepFault::Aws {
            resource: action.resource.clone(),
            source,
        })?
        .ok_or_else(|| StepFault::precondition(action.resource.clone(), "disappeared while being changed"))?;
    match stream_progress(&state, enabled) {
        StreamProgress::There => action.status = ActionStatus::Done,
        StreamProgress::OnItsWay => action.detail = Some(format!("waiting: {state}")),
        // Turned back by someone else: asked again.
        StreamProgress::Elsewhere => {
            let now = streams
                .set(side, uuid, enabled)
                .await
                .map_err(|source| StepFault::Aws {
                    resource: action.resource.clone(),
                    source,
                })?;
            action.detail = Some(format!("was {state}, asked again: {now}"));
        }
    }
    Ok(())
}

/// A mapping in the region being left that could not be turned off.
fn not_disabled(resource: String, after: Value, region: &str, e: &AwsError) -> Action {
    let mut action = Action::change(resource, DISABLE, Value::Null, after, false);
    action.status = ActionStatus::Failed;
    action.detail = Some(format!(
        "NOT DISABLED: {region} did not let it be read or changed ({e}); disable it before {region} returns, or its consumer runs twice"
    ));
    action
}
