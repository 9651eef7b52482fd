//! Carrying out what was decided: one change per database (or, in a dry run, only its report),
//! each safe to retry after a lost answer.

use std::time::Instant;

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rebound_shared::context::{Action, ActionStatus};
use rebound_shared::step::elapsed_ms;

use crate::decide::{Change, Intent};
use crate::observe::batch_error;
use crate::{aws, DatabaseError, DatabaseFailover};
use aws_sdk_rds::types::DbInstance;
use rebound_shared::rds::reads;

/// The tag every instance Rebound creates carries: which recovery made it.
const RECOVERY_TAG: &str = "rebound:recovery-id";

fn recovery_tag(recovery_id: &str) -> aws_sdk_rds::types::Tag {
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
        action.detail = Some(format!(
            "{}; found already restored by this recovery on retry (an earlier answer was lost)",
            action.detail.as_deref().unwrap_or_default()
        ));
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
            Change::Promote { identifier } => {
                let promoted = self
                    .rds
                    .promote_read_replica()
                    .db_instance_identifier(identifier)
                    .send()
                    .await;
                if let Err(e) = promoted {
                    // RDS answers a second PromoteReadReplica with InvalidDBInstanceState ("not a
                    // read replica"). After a lost answer that second call is the SDK's own retry
                    // of ours: the change Rebound asked for is made once, and done.
                    let standalone = e.code() == Some("InvalidDBInstanceState")
                        && self
                            .described(identifier)
                            .await?
                            .is_some_and(|i| i.read_replica_source_db_instance_identifier().is_none());
                    if !standalone {
                        return Err(aws(&id, "rds", "PromoteReadReplica", &e));
                    }
                    action.detail = Some(format!(
                        "{}; found already promoted on retry (an earlier answer was lost)",
                        action.detail.as_deref().unwrap_or_default()
                    ));
                }
            }
            Change::Switchover { global, target } => {
                self.rds
                    .switchover_global_cluster()
                    .global_cluster_identifier(global)
                    .target_db_cluster_identifier(target)
                    .send()
                    .await
                    .map_err(|e| aws(&id, "rds", "SwitchoverGlobalCluster", &e))?;
            }
            Change::Failover { global, target } => {
                self.rds
                    .failover_global_cluster()
                    .global_cluster_identifier(global)
                    .target_db_cluster_identifier(target)
                    .allow_data_loss(true)
                    .send()
                    .await
                    .map_err(|e| aws(&id, "rds", "FailoverGlobalCluster", &e))?;
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
