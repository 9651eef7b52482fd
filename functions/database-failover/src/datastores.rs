//! ElastiCache global datastores (`globalDatastores`): the member in the region the recovery
//! moves to becomes the primary (`FailoverGlobalReplicationGroup`, called in that region: it
//! needs nothing from the failed one). ElastiCache replicates asynchronously and the old
//! primary, once it answers again, resynchronises from the new one, so what had not replicated
//! is lost in every mode: the member's `GlobalDatastoreReplicationLag` is the RPO and goes
//! through the same data-loss rule as a replica's lag. Read and decided with the databases,
//! before any change; failed over with them; polled until the member is the primary.

use chrono::{DateTime, Utc};
use rebound_shared::context::{Action, ActionStatus, RecoveryContext};
use rebound_shared::datastores::describe;
use rebound_shared::metrics::{newest_datapoints, Series};
use rebound_shared::plan::{writer_after, Datastore, GlobalDatastore};
use rebound_shared::step::{towards_recovery, StepFault};
use serde_json::{json, Value};

use crate::data_loss::{within_rpo, Lag};
use crate::{aws, before_waiting, DatabaseError, DatabaseFailover, WAITING};

/// The operation a datastore's action carries.
pub(crate) const FAIL_OVER: &str = "FailoverGlobalReplicationGroup";

/// What a datastore needs, as it now is.
#[derive(Debug, Clone, PartialEq)]
pub enum Move {
    /// Its member there is the primary.
    Done,
    /// A change is under way on the datastore (the failover an earlier attempt asked for, whose
    /// answer was lost, or another one): ElastiCache refuses a failover meanwhile.
    Wait,
    /// Fail over to its member there.
    FailOver,
}

/// Where `found` stands towards `(region, group)` being its primary, or why it never will.
pub fn standing(found: Option<&Datastore>, region: &str, group: &str) -> Result<Move, String> {
    let Some(found) = found else {
        return Err("not found".into());
    };
    let Some(member) = found.member(group, region) else {
        let members: Vec<String> = found
            .members
            .iter()
            .map(|m| format!("{} in {}", m.group, m.region))
            .collect();
        return Err(format!(
            "has no member {group} in {region} (members: {})",
            if members.is_empty() {
                "none".into()
            } else {
                members.join(", ")
            }
        ));
    };
    if member.is_primary() {
        return Ok(Move::Done);
    }
    match found.status.as_str() {
        "available" => Ok(Move::FailOver),
        "modifying" => Ok(Move::Wait),
        other => Err(format!(
            "is {other}: ElastiCache fails over only an available global datastore"
        )),
    }
}

/// One datastore's move and the data it loses (the lag, when it fails over), or why the
/// recovery cannot make it. A lag beyond the RPO target, or unknown, is the replicas'
/// data-loss rule: a failover's is put to an approver when the plan allows (and goes once
/// approved), any other mode refuses it.
pub fn decide(
    ctx: &RecoveryContext,
    datastore: &GlobalDatastore,
    found: Option<&Datastore>,
    lag: &Lag,
) -> Result<(Move, Option<f64>), DatabaseError> {
    let (region, group) = target(ctx, datastore);
    let id = &datastore.global_replication_group_id;
    let step =
        standing(found, region, group).map_err(|why| StepFault::precondition(format!("global datastore {id}"), why))?;
    if step != Move::FailOver {
        return Ok((step, None));
    }
    let seconds = within_rpo(
        ctx,
        format!("{id} (ElastiCache global datastore)"),
        datastore.allow_data_loss,
        lag,
    )?;
    Ok((Move::FailOver, seconds))
}

/// A datastore decided before any change: its action (already done, waiting, or the failover
/// to make) and the plan entry it is for.
pub(crate) struct Planned<'p> {
    datastore: &'p GlobalDatastore,
    action: Action,
    change: Move,
}

/// `(region, group)` of the member this step makes the primary.
fn target<'p>(ctx: &'p RecoveryContext, datastore: &'p GlobalDatastore) -> (&'p str, &'p str) {
    let plan = &ctx.plan;
    writer_after(
        datastore,
        &plan.primary_region,
        &plan.recovery_region,
        towards_recovery(ctx),
    )
}

fn resource(datastore: &GlobalDatastore) -> String {
    format!("elasticache:{}", datastore.global_replication_group_id)
}

fn primary_state(region: &str, group: &str) -> Value {
    json!({"primaryRegion": region, "primaryReplicationGroup": group})
}

impl DatabaseFailover {
    /// Every datastore read and decided; refuses before any change. Returns the plans and the
    /// data the failovers lose.
    pub(crate) async fn global_datastores<'p>(
        &self,
        ctx: &'p RecoveryContext,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Planned<'p>>, Option<f64>), DatabaseError> {
        let mut planned = Vec::new();
        let mut rpo: Option<f64> = None;
        for datastore in &ctx.plan.global_datastores {
            let id = &datastore.global_replication_group_id;
            let (region, group) = target(ctx, datastore);
            let found = self.read_datastore(id).await?;
            // The lag matters only to a failover still to make.
            let lag = match standing(found.as_ref(), region, group) {
                Ok(Move::FailOver) => self.replication_lag(group, now).await,
                _ => Lag::Unknown("not read".into()),
            };
            let (change, seconds) = decide(ctx, datastore, found.as_ref(), &lag)?;
            let before = found.as_ref().map_or(Value::Null, |f| {
                let primary = f.members.iter().find(|m| m.is_primary());
                json!({
                    "status": f.status,
                    "primaryRegion": primary.map(|m| m.region.as_str()),
                    "primaryReplicationGroup": primary.map(|m| m.group.as_str()),
                })
            });
            let mut action = match change {
                Move::Done => Action::already_done(resource(datastore), FAIL_OVER, primary_state(region, group)),
                _ => Action::change(
                    resource(datastore),
                    FAIL_OVER,
                    before,
                    primary_state(region, group),
                    ctx.dry_run,
                ),
            };
            action.detail = Some(match (&change, seconds) {
                (Move::Done, _) => format!("{group} in {region} is the primary"),
                (Move::Wait, _) => format!(
                    "{WAITING}the datastore is modifying (a failover asked before its answer was lost, or another change); {group} in {region} is still a secondary"
                ),
                (Move::FailOver, Some(s)) => format!("{group} in {region} was {s} s behind the primary"),
                (Move::FailOver, None) => format!(
                    "{group} in {region}: UNKNOWN how far behind ({}); failing over with approval",
                    match &lag {
                        Lag::Unknown(why) => why.as_str(),
                        Lag::Seconds(_) => "",
                    }
                ),
            });
            rpo = match (rpo, seconds) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            planned.push(Planned {
                datastore,
                action,
                change,
            });
        }
        Ok((planned, rpo))
    }

    async fn read_datastore(&self, id: &str) -> Result<Option<Datastore>, DatabaseError> {
        describe(&self.elasticache, id).await.map_err(|source| {
            StepFault::Aws {
                resource: format!("global datastore {id}"),
                source,
            }
            .into()
        })
    }

    /// The member's newest `GlobalDatastoreReplicationLag` (ElastiCache publishes it for each
    /// node of a secondary, as `CacheClusterId`): the most behind of its nodes.
    async fn replication_lag(&self, group: &str, now: DateTime<Utc>) -> Lag {
        let read = self
            .elasticache
            .describe_replication_groups()
            .replication_group_id(group)
            .send()
            .await;
        let nodes: Vec<String> = match read {
            Ok(out) => out
                .replication_groups()
                .iter()
                .flat_map(|g| g.member_clusters())
                .cloned()
                .collect(),
            Err(e) => return Lag::Unknown(aws(group, "elasticache", "DescribeReplicationGroups", &e).to_string()),
        };
        let series = Series {
            namespace: "AWS/ElastiCache",
            metric: "GlobalDatastoreReplicationLag",
            dimension: "CacheClusterId",
            fixed: &[],
        };
        let names: Vec<&str> = nodes.iter().map(String::as_str).collect();
        match newest_datapoints(&self.cloudwatch, &series, &names, now).await {
            Ok(found) => found.values().copied().reduce(f64::max).map_or_else(
                || Lag::Unknown("no GlobalDatastoreReplicationLag datapoint in the last 10 minutes".into()),
                Lag::Seconds,
            ),
            Err(e) => Lag::Unknown(e.to_string()),
        }
    }

    /// Asks for each failover decided; one already under way is waited on. Nothing is asked in
    /// a dry run.
    pub(crate) async fn fail_over_datastores(
        &self,
        ctx: &RecoveryContext,
        planned: Vec<Planned<'_>>,
    ) -> Result<Vec<Action>, DatabaseError> {
        let mut actions = Vec::new();
        for Planned {
            datastore,
            mut action,
            change,
        } in planned
        {
            if change == Move::FailOver && !ctx.dry_run {
                let (region, group) = target(ctx, datastore);
                if let Some(busy) = self.fail_over(datastore, region, group).await? {
                    let said = action.detail.take().unwrap_or_default();
                    action.detail = Some(format!("{said}; {WAITING}{busy}"));
                }
            }
            actions.push(action);
        }
        Ok(actions)
    }

    /// `FailoverGlobalReplicationGroup` to `group` in `region`. ElastiCache refuses it while the
    /// datastore is modifying, which is what the SDK's retry after a lost answer meets: that
    /// is said (Some) and waited on, the poll tells which change it was.
    async fn fail_over(
        &self,
        datastore: &GlobalDatastore,
        region: &str,
        group: &str,
    ) -> Result<Option<String>, DatabaseError> {
        let id = &datastore.global_replication_group_id;
        let asked = self
            .elasticache
            .failover_global_replication_group()
            .global_replication_group_id(id)
            .primary_region(region)
            .primary_replication_group_id(group)
            .send()
            .await;
        match asked {
            Ok(_) => Ok(None),
            Err(e) if aws_sdk_elasticache::error::ProvideErrorMetadata::code(&e) == Some("InvalidGlobalReplicationGroupState") => {
                Ok(Some(
                "ElastiCache answered InvalidGlobalReplicationGroupState: a change is under way (likely this failover, its first answer lost)".into(),
            ))
            }
            Err(e) => Err(aws(id, "elasticache", FAIL_OVER, &e)),
        }
    }

    /// Each pending datastore failover read again: done once its member is the primary. One
    /// found available with the member still a secondary (the change it waited on was another)
    /// is asked for now.
    pub(crate) async fn datastores_status(
        &self,
        ctx: &RecoveryContext,
        actions: &mut [Action],
    ) -> Result<(), DatabaseError> {
        for action in actions
            .iter_mut()
            .filter(|a| a.operation == FAIL_OVER && a.status == ActionStatus::Pending)
        {
            let Some(datastore) = ctx
                .plan
                .global_datastores
                .iter()
                .find(|d| resource(d) == action.resource)
            else {
                continue;
            };
            let id = &datastore.global_replication_group_id;
            let (region, group) = target(ctx, datastore);
            let found = self.read_datastore(id).await?;
            let said = before_waiting(action.detail.as_deref());
            let waiting = match standing(found.as_ref(), region, group) {
                Ok(Move::Done) => {
                    action.status = ActionStatus::Done;
                    action.detail = said;
                    continue;
                }
                Ok(Move::Wait) => "the datastore is modifying".to_string(),
                Ok(Move::FailOver) => match self.fail_over(datastore, region, group).await? {
                    Some(busy) => busy,
                    None => "the change waited on was another; failover asked now".into(),
                },
                Err(reason) => {
                    return Err(DatabaseError::Failed {
                        database: format!("global datastore {id}"),
                        reason,
                    })
                }
            };
            action.detail = Some(match said {
                Some(said) => format!("{said}; {WAITING}{waiting}"),
                None => format!("{WAITING}{waiting}"),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rebound_shared::plan::Member;

    use crate::decide::tests::context as ctx;

    fn sessions(allow: bool) -> GlobalDatastore {
        GlobalDatastore {
            account: None,
            global_replication_group_id: "ldgnf-sessions".into(),
            primary_replication_group_id: "sessions-use1".into(),
            recovery_replication_group_id: "sessions-usw2".into(),
            allow_data_loss: allow,
        }
    }

    fn found(status: &str, west_role: &str) -> Datastore {
        let east_role = if west_role == "PRIMARY" { "SECONDARY" } else { "PRIMARY" };
        Datastore {
            status: status.into(),
            members: vec![
                Member {
                    group: "sessions-use1".into(),
                    region: "us-east-1".into(),
                    role: east_role.into(),
                },
                Member {
                    group: "sessions-usw2".into(),
                    region: "us-west-2".into(),
                    role: west_role.into(),
                },
            ],
        }
    }

    #[test]
    fn the_member_there_is_failed_over_to_once_and_its_lag_is_the_rpo() {
        let ctx = ctx("failover");
        let secondary = found("available", "SECONDARY");
        assert_eq!(
            decide(&ctx, &sessions(false), Some(&secondary), &Lag::Seconds(0.4)).expect("goes"),
            (Move::FailOver, Some(0.4))
        );
        // Already the primary (a retried start): nothing to ask, whatever the lag.
        let moved = found("available", "primary");
        let unknown = Lag::Unknown("none".into());
        assert_eq!(
            decide(&ctx, &sessions(false), Some(&moved), &unknown).expect("done"),
            (Move::Done, None)
        );
        // A change under way: waited on, never asked twice.
        let busy = found("modifying", "SECONDARY");
        assert_eq!(
            decide(&ctx, &sessions(false), Some(&busy), &unknown).expect("waits"),
            (Move::Wait, None)
        );
    }

    #[test]
    fn a_missing_datastore_member_or_state_is_refused_naming_it() {
        let ctx = ctx("failover");
        let lag = Lag::Seconds(0.0);
        let err = decide(&ctx, &sessions(false), None, &lag).expect_err("missing");
        assert_eq!(err.to_string(), "global datastore ldgnf-sessions: not found");
        let mut other = found("available", "SECONDARY");
        other.members.pop();
        let err = decide(&ctx, &sessions(false), Some(&other), &lag).expect_err("no member");
        assert_eq!(
            err.to_string(),
            "global datastore ldgnf-sessions: has no member sessions-usw2 in us-west-2 (members: sessions-use1 in us-east-1)"
        );
        let err = decide(&ctx, &sessions(false), Some(&found("primary-only", "SECONDARY")), &lag).expect_err("state");
        assert!(err.to_string().contains("is primary-only"), "{err}");
        assert_eq!(err.kind(), rebound_shared::ErrorKind::PreconditionFailed);
    }

    #[test]
    fn a_lag_beyond_the_rpo_or_unknown_follows_the_data_loss_rule() {
        let secondary = found("available", "SECONDARY");
        let behind = Lag::Seconds(1200.0);
        let err = decide(&ctx("failover"), &sessions(false), Some(&secondary), &behind).expect_err("behind");
        assert!(matches!(err, DatabaseError::DataLoss { allowed: false, .. }), "{err}");
        let err = decide(&ctx("failover"), &sessions(true), Some(&secondary), &behind).expect_err("approval");
        assert!(matches!(err, DatabaseError::DataLoss { allowed: true, .. }), "{err}");
        let unknown = Lag::Unknown("no datapoint".into());
        let err = decide(&ctx("failover"), &sessions(true), Some(&secondary), &unknown).expect_err("unknown");
        assert!(
            matches!(
                err,
                DatabaseError::DataLoss {
                    lag_seconds: None,
                    allowed: true,
                    ..
                }
            ),
            "{err}"
        );
        let mut approved = ctx("failover");
        approved.approval = Some(json!("ops"));
        assert_eq!(
            decide(&approved, &sessions(true), Some(&secondary), &behind).expect("approved"),
            (Move::FailOver, Some(1200.0))
        );
        // A switchover never accepts the loss: the old primary resynchronises from the new.
        let mut switchover = ctx("switchover");
        switchover.approval = Some(json!("ops"));
        assert!(decide(&switchover, &sessions(true), Some(&secondary), &behind).is_err());
    }

    #[test]
    fn a_failback_makes_the_primary_regions_member_the_primary_again() {
        let after_failover = found("available", "PRIMARY");
        assert_eq!(
            decide(
                &ctx("failback"),
                &sessions(false),
                Some(&after_failover),
                &Lag::Seconds(0.2)
            )
            .expect("goes"),
            (Move::FailOver, Some(0.2))
        );
        assert_eq!(
            decide(
                &ctx("failback"),
                &sessions(false),
                Some(&found("available", "SECONDARY")),
                &Lag::Seconds(0.2)
            )
            .expect("done"),
            (Move::Done, None)
        );
    }
}
