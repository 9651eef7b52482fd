//! Event streams (`eventSourceMappings`): each consumer's mapping is turned off in the region
//! being left (best effort: it may be the region that failed) and on in the region the
//! application moves to, so that it neither runs twice nor not at all. `status` waits until
//! Lambda reports each one `Enabled` or `Disabled`.

use std::time::Instant;

use rebound_shared::context::{Action, ActionStatus, RecoveryContext, ServiceStage};
use rebound_shared::error::AwsError;
use rebound_shared::plan::{mapping_resource, stream_progress, EventSourceMapping, Side, StreamProgress};
use rebound_shared::step::{elapsed_ms, in_stage, moves_region, towards_recovery, StepFault};
use serde_json::{json, Value};

use crate::{ServiceError, ServiceRestoration};

pub(crate) const ENABLE: &str = "EnableEventSourceMapping";
pub(crate) const DISABLE: &str = "DisableEventSourceMapping";

pub(crate) fn is_stream(action: &Action) -> bool {
    action.operation == ENABLE || action.operation == DISABLE
}

/// Each mapping to move: its side, UUID, target (enabled or not) and the state read, or why its
/// region did not answer.
pub(crate) type Streams<'c> = Vec<(Side, &'c str, bool, Result<String, AwsError>)>;

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
    /// Every mapping the step moves, read before any change: a missing one is refused; the side
    /// being left may not answer (the region that failed).
    pub(crate) async fn read_streams<'c>(
        &self,
        ctx: &'c RecoveryContext,
        stage: ServiceStage,
    ) -> Result<Streams<'c>, ServiceError> {
        let mut read = Vec::new();
        if !moves_region(ctx) {
            return Ok(read);
        }
        let in_stage = |m: &&EventSourceMapping| in_stage(ctx, stage, m.needs_writer);
        for mapping in ctx.plan.event_source_mappings.iter().filter(in_stage) {
            for (side, uuid, enabled) in mapping.moves(towards_recovery(ctx)) {
                let region = region(ctx, side);
                let resource = mapping_resource(uuid, region);
                let state = match self.streams.state(side, uuid).await {
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
                read.push((side, uuid, enabled, state));
            }
        }
        Ok(read)
    }

    /// Each mapping moved from the state read (or, in a dry run, reported), in order: the side
    /// left before the side joined.
    pub(crate) async fn move_streams(
        &self,
        ctx: &RecoveryContext,
        read: Streams<'_>,
    ) -> Result<Vec<Action>, ServiceError> {
        let mut actions = Vec::new();
        for (side, uuid, enabled, state) in read {
            actions.push(self.move_stream(ctx, side, uuid, enabled, state).await?);
        }
        Ok(actions)
    }

    /// One mapping from `state` (as just read, or why its region did not answer) to its target.
    async fn move_stream(
        &self,
        ctx: &RecoveryContext,
        side: Side,
        uuid: &str,
        enabled: bool,
        state: Result<String, AwsError>,
    ) -> Result<Action, ServiceError> {
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
        match self.streams.set(side, uuid, enabled).await {
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

    /// Polls the mappings still on their way.
    pub(crate) async fn poll_streams(&self, actions: &mut [Action]) -> Result<(), ServiceError> {
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
            let enabled = action.operation == ENABLE;
            let state = self
                .streams
                .state(side, &uuid)
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
                    let now = self
                        .streams
                        .set(side, &uuid, enabled)
                        .await
                        .map_err(|source| StepFault::Aws {
                            resource: action.resource.clone(),
                            source,
                        })?;
                    action.detail = Some(format!("was {state}, asked again: {now}"));
                }
            }
        }
        Ok(())
    }
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
