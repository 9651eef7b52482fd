//! Carrying out what was decided: one change per database (or, in a dry run, only its report),
//! each safe to retry after a lost answer.

use std::time::Instant;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rebound_shared::context::{Action, ActionStatus};
use rebound_shared::error::AwsError;
use rebound_shared::plan::GlobalEngine;
use rebound_shared::rds::GlobalClient;
use rebound_shared::step::{elapsed_ms, StepFault};

use crate::decide::{Change, Intent};
use crate::observe::batch_error;
use crate::observed::Instance;
use crate::{aws, DatabaseError, DatabaseFailover};
use aws_sdk_rds::types::DbInstance;
use rebound_shared::rds::reads;

/// The tag every instance Rebound creates or promotes carries: which recovery made it.
pub(crate) const RECOVERY_TAG: &str = "rebound:recovery-id";

pub(crate) fn recovery_tag(recovery_id: &str) -> aws_sdk_rds::types::Tag {
    aws_sdk_rds::types::Tag::builder()
        .key(RECOVERY_TAG)
        .value(recovery_id)
        .build()
}

impl DatabaseFailover {
    /// Starts one change (or, in a dry run, only reports it).
    /// A restore whose target already exists is this recovery's own when the target carries its
    /// tag: the SDK retried a restore whose answer was lost. Anything else is an error.
    async fn restored_by<E>(
        &self,
        target: &str,
        recovery_id: &str,
        err: &SdkError<E, HttpResponse>,
        operation: &'static str,
        action: &mut Action,
    ) -> Result<(), DatabaseError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let ours = matches!(
            err.code(),
            Some("DBInstanceAlreadyExists" | "DBInstanceAlreadyExistsFault")
        ) && self.described(target).await?.is_some_and(|i| {
            i.tag_list()
                .iter()
                .any(|t| t.key() == Some(RECOVERY_TAG) && t.value() == Some(recovery_id))
        });
        if !ours {
            return Err(aws(target, "rds", operation, err));
        }
        found_on_retry(action, "found already restored by this recovery");
        Ok(())
    }

    /// After a lost answer, the SDK's retry of a global failover or switchover meets
    /// InvalidGlobalClusterStateFault: the engine is making the change (`FailoverState` names
    /// the target) or has made it. Either is the change Rebound asked for, made once.
    async fn moving_to(
        &self,
        (global, engine): (&str, GlobalEngine),
        target: &str,
        err: AwsError,
        action: &mut Action,
    ) -> Result<(), DatabaseError> {
        let ours = err.code == "InvalidGlobalClusterStateFault"
            && self
                .global_cluster(engine, global)
                .await
                .is_ok_and(|g| g.moving_to.as_deref() == Some(target) || g.writer() == Some(target));
        if !ours {
            return Err(StepFault::Aws {
                resource: format!("database {global}"),
                source: err,
            }
            .into());
        }
        found_on_retry(action, "found under way");
        Ok(())
    }

    /// One instance as RDS describes it (tags included), if it exists.
    async fn described(&self, id: &str) -> Result<Option<DbInstance>, DatabaseError> {
        let found = reads::instances(&self.rds, &[id])
            .await
            .map_err(|source| batch_error(&[id], source))?;
        Ok(found.get(id).cloned())
    }

    pub(crate) async fn act(&self, intent: &Intent, dry_run: bool, recovery_id: &str) -> Result<Action, DatabaseError> {
        let mut action = intent.action.clone();
        if dry_run {
            return Ok(action);
        }
        let started = Instant::now();
        let id = action.resource.clone();
        match &intent.change {
            Change::None => return Ok(action),
            Change::Promote { identifier, arn } => {
                // Tagged first: a promotion under way is then known as this recovery's own, by
                // a retry of this call or a later run of this step.
                if let Some(arn) = arn {
                    self.rds
                        .add_tags_to_resource()
                        .resource_name(arn)
                        .tags(recovery_tag(recovery_id))
                        .send()
                        .await
                        .map_err(|e| aws(&id, "rds", "AddTagsToResource", &e))?;
                }
                let promoted = self
                    .rds
                    .promote_read_replica()
                    .db_instance_identifier(identifier)
                    .send()
                    .await;
                if let Err(e) = promoted {
                    // After a lost answer, the SDK's retry of PromoteReadReplica meets
                    // InvalidDBInstanceState: RDS is promoting the instance (`modifying`, then
                    // `rebooting`, its source still set) or has promoted it. Either is the change
                    // Rebound asked for, made once.
                    let state = if e.code() == Some("InvalidDBInstanceState") {
                        self.described(identifier).await?.map(|i| Instance::from(&i))
                    } else {
                        None
                    };
                    let found = match state {
                        Some(i) if i.replica_of.is_none() => "found already promoted",
                        Some(i) if i.promoted_by().is_some() => "found being promoted",
                        _ => return Err(aws(&id, "rds", "PromoteReadReplica", &e)),
                    };
                    found_on_retry(&mut action, found);
                }
            }
            Change::Switchover { global, target, engine } | Change::Failover { global, target, engine } => {
                let switchover = matches!(intent.change, Change::Switchover { .. });
                let moved = move_writer(self.global_client(*engine), global, target, switchover).await;
                if let Err(e) = moved {
                    self.moving_to((global, *engine), target, e, &mut action).await?;
                }
            }
            Change::RestoreToPointInTime {
                source,
                target,
                time,
                class,
            } => {
                let restored = self
                    .rds
                    .restore_db_instance_to_point_in_time()
                    .source_db_instance_identifier(source)
                    .target_db_instance_identifier(target)
                    .restore_time(aws_smithy_types::DateTime::from_millis(time.timestamp_millis()))
                    .set_db_instance_class(class.clone())
                    .tags(recovery_tag(recovery_id))
                    .send()
                    .await;
                if let Err(e) = restored {
                    self.restored_by(target, recovery_id, &e, "RestoreDBInstanceToPointInTime", &mut action)
                        .await?;
                }
            }
            Change::RestoreFromSnapshot {
                snapshot,
                target,
                class,
            } => {
                let restored = self
                    .rds
                    .restore_db_instance_from_db_snapshot()
                    .db_snapshot_identifier(snapshot)
                    .db_instance_identifier(target)
                    .set_db_instance_class(class.clone())
                    .tags(recovery_tag(recovery_id))
                    .send()
                    .await;
                if let Err(e) = restored {
                    self.restored_by(target, recovery_id, &e, "RestoreDBInstanceFromDBSnapshot", &mut action)
                        .await?;
                }
            }
        }
        action.status = ActionStatus::Pending;
        action.tracking_id = Some(id);
        action.duration_ms = elapsed_ms(started);
        Ok(action)
    }
}

/// `$name`: `SwitchoverGlobalCluster` (nothing lost: the secondary catches up first), or
/// `FailoverGlobalCluster` with `AllowDataLoss` (what was not replicated is lost), through
/// `$client`'s SDK; one function an engine, as the global database's reads are.
macro_rules! writer_mover {
    ($name:ident, $client:ty, $service:literal) => {
        async fn $name(client: &$client, id: &str, target: &str, switchover: bool) -> Result<(), AwsError> {
            if switchover {
                client
                    .switchover_global_cluster()
                    .global_cluster_identifier(id)
                    .target_db_cluster_identifier(target)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| rebound_shared::error::from_sdk($service, "SwitchoverGlobalCluster", &e))
            } else {
                client
                    .failover_global_cluster()
                    .global_cluster_identifier(id)
                    .target_db_cluster_identifier(target)
                    .allow_data_loss(true)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| rebound_shared::error::from_sdk($service, "FailoverGlobalCluster", &e))
            }
        }
    };
}

writer_mover!(move_aurora, aws_sdk_rds::Client, "rds");
writer_mover!(move_docdb, aws_sdk_docdb::Client, "docdb");
writer_mover!(move_neptune, aws_sdk_neptune::Client, "neptune");

/// The global database's writer moved to `target` through its engine's client (boxed, as
/// [`GlobalClient::read`] is).
async fn move_writer(on: GlobalClient<'_>, id: &str, target: &str, switchover: bool) -> Result<(), AwsError> {
    match on {
        GlobalClient::Aurora(client) => Box::pin(move_aurora(client, id, target, switchover)).await,
        GlobalClient::Docdb(client) => Box::pin(move_docdb(client, id, target, switchover)).await,
        GlobalClient::Neptune(client) => Box::pin(move_neptune(client, id, target, switchover)).await,
    }
}

/// Says in the action's detail that the change was found made (or under way) by the SDK's retry
/// of a call whose answer was lost.
fn found_on_retry(action: &mut Action, found: &str) {
    let note = format!("{found} on retry (an earlier answer was lost)");
    action.detail = Some(match action.detail.take() {
        Some(detail) if !detail.is_empty() => format!("{detail}; {note}"),
        _ => note,
    });
}
