//! What a reprotect creates in the primary region: a failback replica, or an Aurora global
//! database's secondary cluster and its instance. Each is tagged with the recovery, and one
//! found already there with that tag is this recovery's own (a retry after a lost answer).

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rebound_shared::context::Action;
use rebound_shared::rds::reads;

use crate::act::recovery_tag;
use crate::observed::Instance;
use crate::reprotect::{NewCluster, NewReplica};
use crate::{aws, DatabaseError, DatabaseFailover};

/// Whether `tags` name `recovery_id` as the recovery that made the resource.
fn tagged(tags: &[aws_sdk_rds::types::Tag], recovery_id: &str) -> bool {
    tags.iter()
        .any(|t| t.key() == Some(crate::act::RECOVERY_TAG) && t.value() == Some(recovery_id))
}

impl DatabaseFailover {
    /// `CreateDBCluster` into the global database in the primary region, then its instance,
    /// both tagged with the recovery; either already there with this recovery's tag is this
    /// recovery's own (a retry after a lost answer).
    pub(super) async fn create_cluster(
        &self,
        create: &NewCluster,
        recovery_id: &str,
        action: &mut Action,
    ) -> Result<(), DatabaseError> {
        let tag = || recovery_tag(recovery_id);
        let settings = &create.settings;
        let ours = |tags: &[aws_sdk_rds::types::Tag]| tagged(tags, recovery_id);
        let cluster = self
            .primary_rds
            .create_db_cluster()
            .db_cluster_identifier(&create.identifier)
            .global_cluster_identifier(&create.global)
            .engine(&create.engine)
            .set_engine_version(create.engine_version.clone())
            .set_db_subnet_group_name(settings.subnet_group_name.clone())
            .set_vpc_security_group_ids(
                (!settings.security_group_ids.is_empty()).then(|| settings.security_group_ids.clone()),
            )
            .set_kms_key_id(settings.kms_key_id.clone())
            .tags(tag())
            .send()
            .await;
        if let Err(err) = cluster {
            let found = self
                .primary_rds
                .describe_db_clusters()
                .db_cluster_identifier(&create.identifier)
                .send()
                .await
                .ok()
                .and_then(|out| out.db_clusters().first().map(|c| ours(c.tag_list())));
            if !(err.code() == Some("DBClusterAlreadyExistsFault") && found == Some(true)) {
                return Err(aws(&create.identifier, "rds", "CreateDBCluster", &err));
            }
        }
        let instance = create.instance();
        let made = self
            .primary_rds
            .create_db_instance()
            .db_instance_identifier(&instance)
            .db_cluster_identifier(&create.identifier)
            .engine(&create.engine)
            .db_instance_class(&create.instance_class)
            .set_db_parameter_group_name(settings.parameter_group_name.clone())
            .tags(tag())
            .send()
            .await;
        if let Err(err) = made {
            let found = reads::instances(&self.primary_rds, &[&instance])
                .await
                .ok()
                .and_then(|f| f.get(&instance).map(|i| ours(i.tag_list())));
            if !(matches!(
                err.code(),
                Some("DBInstanceAlreadyExists" | "DBInstanceAlreadyExistsFault")
            ) && found == Some(true))
            {
                return Err(aws(&instance, "rds", "CreateDBInstance", &err));
            }
            action.detail = Some(format!(
                "{}; found already created by this recovery",
                action.detail.as_deref().unwrap_or_default()
            ));
        }
        Ok(())
    }

    /// `CreateDBInstanceReadReplica` in the primary region, tagged with the recovery. An
    /// instance already there under that name carrying this recovery's tag is this recovery's
    /// own (the SDK retried a call whose answer was lost).
    pub(super) async fn create_replica(
        &self,
        create: &NewReplica,
        recovery_id: &str,
        action: &mut Action,
    ) -> Result<(), DatabaseError> {
        let tag = recovery_tag(recovery_id);
        let settings = &create.settings;
        let sent = self
            .primary_rds
            .create_db_instance_read_replica()
            .db_instance_identifier(&create.identifier)
            .source_db_instance_identifier(&create.source_arn)
            .db_instance_class(&create.class)
            .set_db_parameter_group_name(settings.parameter_group_name.clone())
            .set_db_subnet_group_name(settings.subnet_group_name.clone())
            .set_vpc_security_group_ids(
                (!settings.security_group_ids.is_empty()).then(|| settings.security_group_ids.clone()),
            )
            .set_kms_key_id(settings.kms_key_id.clone())
            .tags(tag)
            .send()
            .await;
        let err = match sent {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        if matches!(
            err.code(),
            Some("DBInstanceAlreadyExists" | "DBInstanceAlreadyExistsFault")
        ) {
            let ours = reads::instances(&self.primary_rds, &[&create.identifier])
                .await
                .ok()
                .and_then(|found| found.get(&create.identifier).map(Instance::from))
                .is_some_and(|i| i.recovery_tag.as_deref() == Some(recovery_id));
            if ours {
                action.detail = Some(format!(
                    "{}; found already created by this recovery",
                    action.detail.as_deref().unwrap_or_default()
                ));
                return Ok(());
            }
        }
        Err(aws(&create.identifier, "rds", "CreateDBInstanceReadReplica", &err))
    }
}
