//! ElastiCache global datastores as the recovery reads them (`DescribeGlobalReplicationGroups`
//! with the members): a global resource, read in the region the recovery acts in.

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use rebound_core::plan::{Datastore, Member};

use crate::error::{from_sdk, AwsError};

/// Global datastore `id` and its members; None when ElastiCache does not know it.
pub async fn describe(elasticache: &aws_sdk_elasticache::Client, id: &str) -> Result<Option<Datastore>, AwsError> {
    let read = elasticache
        .describe_global_replication_groups()
        .global_replication_group_id(id)
        .show_member_info(true)
        .send()
        .await;
    let out = match read {
        Ok(out) => out,
        Err(e) if e.code() == Some("GlobalReplicationGroupNotFoundFault") => return Ok(None),
        Err(e) => return Err(from_sdk("elasticache", "DescribeGlobalReplicationGroups", &e)),
    };
    let text = |s: Option<&str>| s.unwrap_or_default().to_string();
    Ok(out.global_replication_groups().first().map(|g| Datastore {
        status: text(g.status()),
        members: g
            .members()
            .iter()
            .map(|m| Member {
                group: text(m.replication_group_id()),
                region: text(m.replication_group_region()),
                role: text(m.role()),
            })
            .collect(),
    }))
}
