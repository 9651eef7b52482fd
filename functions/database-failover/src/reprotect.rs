//! Reprotect: after a failover, once the old primary region answers, what a failback needs is
//! built there again: a replica of each new writer under its `failbackIdentifier`, the old region
//! back in each DynamoDB global table, and each Aurora global database's failback cluster found
//! among its members. Decided here without a call; `rebuild.rs` reads and acts.

use rebound_shared::context::Action;
use rebound_shared::plan::{Replica, Reprotect};
use rebound_shared::rds::{reads::key, Global};
use rebound_shared::step::StepFault;
use serde_json::json;

use crate::decide::precondition;
use crate::observed::Instance;
use crate::DatabaseError;

pub const CREATE_REPLICA: &str = "CreateDBInstanceReadReplica";
pub const ADD_TABLE_REPLICA: &str = "CreateTableReplica";
pub const GLOBAL_MEMBER: &str = "GlobalClusterMember";

/// A failback replica to create in the primary region.
#[derive(Debug, Clone, PartialEq)]
pub struct NewReplica {
    pub identifier: String,
    /// The new writer's ARN: a cross-region replica names its source by ARN.
    pub source_arn: String,
    pub class: String,
    pub settings: Reprotect,
}

/// What a reprotect creates in the primary region.
#[derive(Debug, Clone, PartialEq)]
pub enum Build {
    Replica(NewReplica),
    Cluster(NewCluster),
}

/// What stands under a name in the primary region, or why the region did not say.
pub type PrimarySide = Result<Option<Instance>, String>;

/// One read replica database, reprotected: `writer` is the instance the failover made writable
/// (`identifier`, in the recovery region), `failback` what the primary region holds under
/// `failbackIdentifier`. Already there and replicating from the writer: done (or pending while
/// RDS still creates it); missing: created; anything else stands in the way and is named.
pub fn replica(
    identifier: &str,
    failback: &str,
    settings: &Reprotect,
    regions: (&str, &str),
    writer: Option<&Instance>,
    found: &PrimarySide,
) -> Result<(Action, Option<NewReplica>), DatabaseError> {
    let (primary, recovery) = regions;
    let resource = format!("{failback} ({primary}, replica of {identifier})");
    let refuse = |reason: String| precondition(failback, reason);
    let Some(writer) = writer else {
        return Err(refuse(format!(
            "no instance {identifier} in {recovery}: reprotect follows a failover that made it the writer"
        )));
    };
    if let Some(source) = &writer.replica_of {
        return Err(refuse(format!(
            "{identifier} in {recovery} is still a replica of {source}: nothing failed over, so there is nothing to reprotect"
        )));
    }
    if writer.status != "available" {
        return Err(refuse(format!(
            "the writer {identifier} in {recovery} is {}, not available: reprotect once it is",
            writer.status
        )));
    }
    let found = match found {
        Ok(found) => found,
        Err(why) => {
            return Err(refuse(format!(
                "{primary} did not answer ({why}): reprotect once it returns"
            )))
        }
    };
    let replicates_writer = |source: &str| {
        writer.arn.as_deref() == Some(source) || (!source.starts_with("arn:") && key(source) == key(identifier))
    };
    match found {
        Some(instance) => match &instance.replica_of {
            Some(source) if replicates_writer(source) => {
                let state = instance.state();
                if instance.status == "available" {
                    let mut action = Action::already_done(resource, CREATE_REPLICA, state);
                    action.detail = Some(format!("already a replica of {identifier}, available"));
                    Ok((action, None))
                } else {
                    // Created by an earlier try (its answer lost) or by hand: waited on, not made again.
                    let mut action = Action::change(resource, CREATE_REPLICA, state.clone(), state, false);
                    action.detail = Some(format!("already being created as a replica of {identifier}"));
                    Ok((action, None))
                }
            }
            Some(other) => Err(refuse(format!(
                "{failback} in {primary} already replicates from {other}, not from the new writer {identifier}: \
                 delete or rename it, then reprotect again"
            ))),
            None => Err(refuse(format!(
                "{failback} in {primary} is a standalone instance ({}), not a replica: a writer cannot become a \
                 replica; keep what it holds, delete or rename it, then reprotect again",
                instance.status
            ))),
        },
        None => {
            let (Some(source_arn), Some(class)) = (
                writer.arn.clone(),
                settings.instance_class.clone().or_else(|| writer.class.clone()),
            ) else {
                return Err(refuse(format!(
                    "RDS did not give the writer {identifier}'s ARN and class; set reprotect.instanceClass"
                )));
            };
            if writer.encrypted && settings.kms_key_id.is_none() {
                return Err(refuse(format!(
                    "{identifier} is encrypted: a replica of it in {primary} needs reprotect.kmsKeyId, a KMS key in {primary}"
                )));
            }
            let after = json!({"status": "available", "replicaOf": source_arn, "class": class});
            let mut action = Action::change(resource, CREATE_REPLICA, json!({"exists": false}), after, false);
            action.detail = Some(format!(
                "creates {failback} in {primary}, a {class} replica of {identifier}"
            ));
            let create = NewReplica {
                identifier: failback.to_string(),
                source_arn,
                class,
                settings: settings.clone(),
            };
            Ok((action, Some(create)))
        }
    }
}

/// One DynamoDB global table, seen from the recovery region (where the application writes now):
/// the primary region among its replicas is done (pending while `CREATING`); absent, it is added
/// (true: `UpdateTable` `ReplicaUpdates` Create).
pub fn table(table: &str, regions: (&str, &str), seen: Option<&Replica>) -> Result<(Action, bool), DatabaseError> {
    let (primary, recovery) = regions;
    let resource = format!("dynamodb:{table} ({primary})");
    let refuse = |reason: String| -> DatabaseError { StepFault::precondition(format!("table {table}"), reason).into() };
    let Some(seen) = seen else {
        return Err(refuse(format!(
            "no table {table} in {recovery}, where the application writes now"
        )));
    };
    match seen.peers.iter().find(|(region, _)| region == primary) {
        Some((_, status)) if status == "ACTIVE" => {
            let state = json!({"replicaIn": primary, "status": status});
            Ok((Action::already_done(resource, ADD_TABLE_REPLICA, state), false))
        }
        Some((_, status)) if status == "CREATING" || status == "UPDATING" => {
            let state = json!({"replicaIn": primary, "status": status});
            Ok((Action::change(resource, ADD_TABLE_REPLICA, state.clone(), state, false), false))
        }
        Some((_, status)) => Err(refuse(format!(
            "its replica in {primary} is {status}: DynamoDB cannot replicate into it; see the table's ReplicaStatusDescription"
        ))),
        None => {
            let mut action = Action::change(
                resource,
                ADD_TABLE_REPLICA,
                json!({"replicaIn": null}),
                json!({"replicaIn": primary, "status": "ACTIVE"}),
                false,
            );
            action.detail = Some(format!("adds {primary} back to the global table {table}"));
            Ok((action, true))
        }
    }
}

/// An Aurora secondary cluster to add to a global database in the primary region, with one
/// instance (`{identifier}-1`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewCluster {
    pub identifier: String,
    pub global: String,
    pub engine: String,
    pub engine_version: Option<String>,
    pub instance_class: String,
    pub settings: Reprotect,
}

impl NewCluster {
    pub fn instance(&self) -> String {
        format!("{}-1", self.identifier)
    }
}

/// What one Aurora global database's reprotect read: the global database (from the recovery
/// region), the failback cluster's status in the primary region (None: not there; Err: the
/// region did not answer), and the new writer cluster's instance class.
pub struct GlobalSides<'a> {
    pub global: Option<&'a Global>,
    pub failback_status: Result<Option<String>, String>,
    pub writer_class: Option<String>,
}

/// Whether `failback` is a settled member of `global`: listed, the global database available
/// and no failover under way.
pub fn member_settled(global: &Global, failback: &str) -> bool {
    global.members.iter().any(|(arn, _)| arn == failback) && global.available && global.moving_to.is_none()
}

/// One Aurora global database: after the failover, the cluster a failback switches back to
/// (`failback`, an ARN in the primary region) must be a secondary again. Aurora re-adds the old
/// primary by itself after a managed failover, once its region is back: a member is done (or
/// waited on). A cluster gone from the primary region is created again as a secondary (Aurora
/// copies the data into it); one still there outside the global database cannot rejoin with its
/// data, so it is named with what to do.
pub fn global_member(
    global_id: &str,
    failback: &str,
    primary: &str,
    seen: GlobalSides,
    settings: &Reprotect,
) -> Result<(Action, Option<NewCluster>), DatabaseError> {
    let refuse = |reason: String| precondition(global_id, reason);
    let Some(global) = seen.global else {
        return Err(refuse(format!("no global database {global_id}")));
    };
    if global.writer() == Some(failback) {
        return Err(refuse(format!(
            "{failback} is still its writer: nothing failed over, so there is nothing to reprotect"
        )));
    }
    let resource = format!("{global_id} member {failback}");
    let state = json!({"member": true, "writer": global.writer(), "available": global.available});
    if global.members.iter().any(|(arn, _)| arn == failback) {
        if member_settled(global, failback) {
            return Ok((Action::already_done(resource, GLOBAL_MEMBER, state), None));
        }
        let mut action = Action::change(resource, GLOBAL_MEMBER, state.clone(), state, false);
        action.detail = Some("a member again; the global database is still changing".into());
        return Ok((action, None));
    }
    let cluster = rebound_shared::rds::instance_name(failback).to_string();
    match seen.failback_status {
        Err(why) => Err(refuse(format!(
            "{primary} did not answer ({why}): reprotect once it returns"
        ))),
        Ok(Some(status)) => Err(refuse(format!(
            "{cluster} in {primary} ({status}) is not a member of {global_id}, and a cluster cannot rejoin a \
             global database with its own data: keep what it holds, delete or rename it, and reprotect creates \
             it again as a secondary"
        ))),
        Ok(None) => {
            let engine = global
                .engine
                .clone()
                .ok_or_else(|| refuse(format!("RDS did not give {global_id}'s engine")))?;
            let instance_class = settings.instance_class.clone().or(seen.writer_class).ok_or_else(|| {
                refuse("the new writer cluster's instance class is unknown: set reprotect.instanceClass".into())
            })?;
            if cluster.len() > 61 {
                return Err(refuse(format!(
                    "{cluster}-1, its instance's name, would be over 63 characters"
                )));
            }
            let new = NewCluster {
                identifier: cluster.clone(),
                global: global_id.to_string(),
                engine,
                engine_version: global.engine_version.clone(),
                instance_class,
                settings: settings.clone(),
            };
            let after = json!({"member": true, "writer": global.writer(), "instance": new.instance()});
            let mut action = Action::change(resource, GLOBAL_MEMBER, json!({"member": false}), after, false);
            action.detail = Some(format!(
                "creates {cluster} in {primary} as a secondary of {global_id}, with {} ({})",
                new.instance(),
                new.instance_class
            ));
            Ok((action, Some(new)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rebound_shared::context::ActionStatus;

    const WRITER_ARN: &str = "arn:aws:rds:us-west-2:123456789012:db:orders-db-usw2";
    const REGIONS: (&str, &str) = ("us-east-1", "us-west-2");

    fn writer() -> Instance {
        Instance {
            status: "available".into(),
            arn: Some(WRITER_ARN.into()),
            class: Some("db.r6g.large".into()),
            ..Instance::default()
        }
    }

    fn decide(writer: Option<&Instance>, found: &PrimarySide) -> Result<(Action, Option<NewReplica>), DatabaseError> {
        replica(
            "orders-db-usw2",
            "orders-db-use1",
            &Reprotect::default(),
            REGIONS,
            writer,
            found,
        )
    }

    fn refused(result: Result<(Action, Option<NewReplica>), DatabaseError>) -> String {
        let err = result.expect_err("refused");
        assert_eq!(err.kind(), rebound_shared::ErrorKind::PreconditionFailed, "{err}");
        err.to_string()
    }

    #[test]
    fn a_missing_failback_replica_is_created_from_the_new_writer_with_its_class() {
        let (action, create) = decide(Some(&writer()), &Ok(None)).expect("create");
        assert_eq!(action.status, ActionStatus::Pending);
        let create = create.expect("a replica to create");
        assert_eq!(create.source_arn, WRITER_ARN);
        assert_eq!(create.class, "db.r6g.large");
        let settings = Reprotect {
            instance_class: Some("db.r6g.xlarge".into()),
            ..Reprotect::default()
        };
        let (_, create) = replica(
            "orders-db-usw2",
            "orders-db-use1",
            &settings,
            REGIONS,
            Some(&writer()),
            &Ok(None),
        )
        .expect("create");
        assert_eq!(create.expect("create").class, "db.r6g.xlarge");
    }

    #[test]
    fn a_replica_of_the_writer_is_done_or_waited_on_never_made_twice() {
        let mut there = Instance {
            status: "creating".into(),
            replica_of: Some(WRITER_ARN.into()),
            ..Instance::default()
        };
        let (action, create) = decide(Some(&writer()), &Ok(Some(there.clone()))).expect("waits");
        assert_eq!((action.status, create), (ActionStatus::Pending, None));
        there.status = "available".into();
        let (action, create) = decide(Some(&writer()), &Ok(Some(there))).expect("done");
        assert!(action.already_done && create.is_none());
    }

    #[test]
    fn what_stands_in_the_way_is_named_and_nothing_is_made() {
        let standalone = Instance {
            status: "available".into(),
            ..Instance::default()
        };
        assert!(refused(decide(Some(&writer()), &Ok(Some(standalone)))).contains("standalone instance"));
        let elsewhere = Instance {
            status: "available".into(),
            replica_of: Some("arn:aws:rds:eu-west-1:123456789012:db:other".into()),
            ..Instance::default()
        };
        assert!(refused(decide(Some(&writer()), &Ok(Some(elsewhere)))).contains("already replicates from"));
        assert!(refused(decide(Some(&writer()), &Err("no answer in 3 s".into()))).contains("once it returns"));
        assert!(refused(decide(None, &Ok(None))).contains("follows a failover"));
        let still_replica = Instance {
            replica_of: Some("arn:aws:rds:us-east-1:123456789012:db:orders-db".into()),
            ..writer()
        };
        assert!(refused(decide(Some(&still_replica), &Ok(None))).contains("nothing failed over"));
        let encrypted = Instance {
            encrypted: true,
            ..writer()
        };
        assert!(refused(decide(Some(&encrypted), &Ok(None))).contains("reprotect.kmsKeyId"));
    }

    #[test]
    fn a_global_table_gets_the_old_region_back_once() {
        let replica = |peers: &[(&str, &str)]| Replica {
            status: "ACTIVE".into(),
            peers: peers.iter().map(|(r, s)| (r.to_string(), s.to_string())).collect(),
        };
        let (action, add) = table("orders", REGIONS, Some(&replica(&[]))).expect("add");
        assert!(add && action.status == ActionStatus::Pending);
        let (action, add) = table("orders", REGIONS, Some(&replica(&[("us-east-1", "ACTIVE")]))).expect("done");
        assert!(!add && action.already_done);
        let (action, add) = table("orders", REGIONS, Some(&replica(&[("us-east-1", "CREATING")]))).expect("waits");
        assert!(!add && action.status == ActionStatus::Pending);
        assert!(table("orders", REGIONS, Some(&replica(&[("us-east-1", "REGION_DISABLED")]))).is_err());
        assert!(table("orders", REGIONS, None).is_err());
    }

    #[test]
    fn an_aurora_failback_cluster_is_a_member_again_or_created_as_one() {
        let east = "arn:aws:rds:us-east-1:123456789012:cluster:orders-east";
        let west = "arn:aws:rds:us-west-2:123456789012:cluster:orders-west";
        let global = |members: Vec<(&str, bool)>| Global {
            members: members.into_iter().map(|(a, w)| (a.to_string(), w)).collect(),
            available: true,
            engine: Some("aurora-mysql".into()),
            ..Global::default()
        };
        let decide = |g: &Global, status: Result<Option<String>, String>| {
            let seen = GlobalSides {
                global: Some(g),
                failback_status: status,
                writer_class: Some("db.r6g.large".into()),
            };
            global_member("orders", east, "us-east-1", seen, &Reprotect::default())
        };
        let member = global(vec![(west, true), (east, false)]);
        let (action, create) = decide(&member, Ok(Some("available".into()))).expect("member");
        assert!(action.already_done && create.is_none());
        let detached = global(vec![(west, true)]);
        let (action, create) = decide(&detached, Ok(None)).expect("created again");
        assert_eq!(action.status, ActionStatus::Pending);
        let create = create.expect("a cluster to create");
        assert_eq!(
            (
                create.identifier.as_str(),
                create.instance().as_str(),
                create.instance_class.as_str()
            ),
            ("orders-east", "orders-east-1", "db.r6g.large")
        );
        let standing = decide(&detached, Ok(Some("available".into())));
        assert!(standing.expect_err("in the way").to_string().contains("cannot rejoin"));
        let silent = decide(&detached, Err("no answer in 15 s".into()));
        assert!(silent.expect_err("silent").to_string().contains("once it returns"));
        let unmoved = decide(&global(vec![(east, true), (west, false)]), Ok(None));
        assert!(unmoved
            .expect_err("no failover")
            .to_string()
            .contains("nothing failed over"));
    }
}
