//! The recovery table (DynamoDB): one lease per application so only one recovery runs at a time,
//! the last recovery's end for the cooldown, and an audit record of every decision and outcome.
//!
//! Items under `pk = "app#<application>"`: `sk = "lease"` (owner, expiresAt),
//! `sk = "last-recovery"` (recoveryId, outcome, finishedAt) and
//! `sk = "audit#<time>#<recoveryId>#<kind>"` (detail, written once); under
//! `pk = "results#<application>"`: `sk = "result#<recoveryId>#<step>#<part>"` (a step's whole
//! result when the state carries only its summary); under `pk = "control#<application>"`:
//! `sk = "<run>"` (what operators asked of that run of a recovery: pause, skip, cancel). The
//! partitions let IAM give the steps their results and a read of the control rows, nothing
//! else (`dynamodb:LeadingKeys`). `expiresAt` is the TTL attribute. The kept results are
//! `kept.rs`'s.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::control::Control;
use crate::error::AwsError;

mod kept;

pub use kept::RESULT_PART_BYTES;

/// How long audit records and kept results are kept (the TTL).
const AUDIT_DAYS: i64 = 400;

pub struct RecoveryTable {
    pub client: aws_sdk_dynamodb::Client,
    pub name: String,
}

/// Who holds an application's lease, if anyone else does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lease {
    Acquired,
    HeldBy { owner: String, expires_at: DateTime<Utc> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRecovery {
    pub recovery_id: String,
    pub outcome: String,
    pub finished_at: DateTime<Utc>,
    /// Which run of the recovery ended so (1, then one more per retry).
    pub attempt: u32,
    /// It moved the application out of the primary region (a failover, switchover or drill):
    /// what a reprotect follows.
    pub moved_away: bool,
    /// The recovery region it moved the application to (absent when it did not move it, and in
    /// records written before the region was kept).
    pub region: Option<String>,
}

pub(crate) fn pk(application: &str) -> AttributeValue {
    AttributeValue::S(format!("app#{application}"))
}

/// The partition of an application's control rows (what operators asked of each recovery).
pub(crate) fn control_pk(application: &str) -> AttributeValue {
    s(format!("control#{application}"))
}

/// The partition of an application's kept step results.
pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(crate) fn n(v: i64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(crate) fn text(item: &HashMap<String, AttributeValue>, key: &str) -> String {
    item.get(key).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

pub(crate) fn time(item: &HashMap<String, AttributeValue>, key: &str) -> Option<DateTime<Utc>> {
    item.get(key)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse::<i64>().ok())
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
}

impl RecoveryTable {
    pub fn new(config: &aws_config::SdkConfig, name: impl Into<String>) -> Self {
        RecoveryTable {
            client: aws_sdk_dynamodb::Client::new(config),
            name: name.into(),
        }
    }

    /// Takes the application's lease for `owner` until `until`, unless someone else holds an
    /// unexpired one. Taking it again as the same owner succeeds (a retried invocation).
    pub async fn acquire(
        &self,
        application: &str,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Lease, AwsError> {
        self.acquire_run(application, owner, owner, now, until).await
    }

    /// [`RecoveryTable::acquire`] for run `owner` (an execution's name) of recovery
    /// `recovery_id`: a retry is another run of the same recovery, and an operator's command
    /// for the recovery finds the run that holds the lease ([`RecoveryTable::run_holding`]).
    pub async fn acquire_run(
        &self,
        application: &str,
        owner: &str,
        recovery_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Lease, AwsError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.name)
            .item("pk", pk(application))
            .item("sk", s("lease"))
            .item("owner", s(owner))
            .item("recoveryId", s(recovery_id))
            .item("acquiredAt", n(now.timestamp()))
            .item("expiresAt", n(until.timestamp()))
            .condition_expression("attribute_not_exists(pk) OR expiresAt < :now OR #owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":now", n(now.timestamp()))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match put {
            Ok(_) => Ok(Lease::Acquired),
            Err(e) => {
                let err = crate::error::from_sdk("dynamodb", "PutItem", &e);
                if err.code != "ConditionalCheckFailedException" {
                    return Err(err);
                }
                let held = self.get(application, "lease").await?.unwrap_or_default();
                Ok(Lease::HeldBy {
                    owner: text(&held, "owner"),
                    expires_at: time(&held, "expiresAt").unwrap_or(now),
                })
            }
        }
    }

    /// Gives the lease back if `owner` holds it; true when it did.
    pub async fn release(&self, application: &str, owner: &str) -> Result<bool, AwsError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.name)
            .key("pk", pk(application))
            .key("sk", s("lease"))
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(true),
            Err(e) => {
                let err = crate::error::from_sdk("dynamodb", "DeleteItem", &e);
                if err.code == "ConditionalCheckFailedException" {
                    Ok(false)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Releases whoever's lease the application has, for an operator clearing a dead run's
    /// lease; audited with who and why. Returns the lease that was released, if any. Only the
    /// lease that was read is deleted, so a recovery that took it meanwhile keeps it.
    pub async fn break_lease(
        &self,
        application: &str,
        by: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<Lease>, AwsError> {
        let Some(item) = self.get(application, "lease").await? else {
            return Ok(None);
        };
        let owner = text(&item, "owner");
        let expires_at = time(&item, "expiresAt").unwrap_or(now);
        if !self.release(application, &owner).await? {
            return Ok(None);
        }
        let detail = serde_json::json!({
            "owner": owner, "expiresAt": expires_at.to_rfc3339(), "by": by, "reason": reason,
        });
        self.audit(application, &owner, "lease-released", now, &detail).await?;
        Ok(Some(Lease::HeldBy { owner, expires_at }))
    }

    /// The current lease holder, without taking anything (dry runs).
    pub async fn holder(&self, application: &str, now: DateTime<Utc>) -> Result<Option<Lease>, AwsError> {
        let Some(item) = self.get(application, "lease").await? else {
            return Ok(None);
        };
        let expires_at = time(&item, "expiresAt").unwrap_or(now);
        Ok((expires_at > now).then(|| Lease::HeldBy {
            owner: text(&item, "owner"),
            expires_at,
        }))
    }

    /// The run of recovery `recovery_id` that holds the application's lease, if one does.
    pub async fn run_holding(&self, application: &str, recovery_id: &str) -> Result<Option<String>, AwsError> {
        let Some(item) = self.get(application, "lease").await? else {
            return Ok(None);
        };
        let owner = text(&item, "owner");
        let of = match text(&item, "recoveryId") {
            id if id.is_empty() => owner.clone(),
            id => id,
        };
        Ok((of == recovery_id).then_some(owner))
    }

    pub async fn last_recovery(&self, application: &str) -> Result<Option<LastRecovery>, AwsError> {
        let Some(item) = self.get(application, "last-recovery").await? else {
            return Ok(None);
        };
        let attempt = item
            .get("attempt")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(1);
        Ok(time(&item, "finishedAt").map(|finished_at| LastRecovery {
            recovery_id: text(&item, "recoveryId"),
            outcome: text(&item, "outcome"),
            finished_at,
            attempt,
            moved_away: item
                .get("movedAway")
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false),
            region: item.get("region").and_then(|v| v.as_s().ok()).cloned(),
        }))
    }

    /// When the application was last protected again (a reprotect that succeeded).
    pub async fn last_reprotect(&self, application: &str) -> Result<Option<DateTime<Utc>>, AwsError> {
        Ok(self
            .get(application, "last-reprotect")
            .await?
            .and_then(|item| time(&item, "finishedAt")))
    }

    /// Records a reprotect that succeeded: no automatic reprotect follows the same recovery.
    pub async fn reprotected(&self, application: &str, recovery_id: &str, now: DateTime<Utc>) -> Result<(), AwsError> {
        self.client
            .put_item()
            .table_name(&self.name)
            .item("pk", pk(application))
            .item("sk", s("last-reprotect"))
            .item("recoveryId", s(recovery_id))
            .item("finishedAt", n(now.timestamp()))
            .send()
            .await
            .map_err(|e| crate::error::from_sdk("dynamodb", "PutItem", &e))?;
        Ok(())
    }

    /// Records how a recovery (its `attempt`th run) ended, and the recovery region it moved the
    /// application to, if it did; the cooldown counts from here.
    pub async fn finish(
        &self,
        application: &str,
        recovery_id: &str,
        attempt: u32,
        outcome: &str,
        moved_to: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), AwsError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.name)
            .item("pk", pk(application))
            .item("sk", s("last-recovery"))
            .item("recoveryId", s(recovery_id))
            .item("attempt", n(i64::from(attempt)))
            .item("outcome", s(outcome))
            .item("movedAway", AttributeValue::Bool(moved_to.is_some()))
            .item("finishedAt", n(now.timestamp()));
        if let Some(region) = moved_to {
            put = put.item("region", s(region));
        }
        put.send()
            .await
            .map_err(|e| crate::error::from_sdk("dynamodb", "PutItem", &e))?;
        Ok(())
    }

    /// Appends an audit record.
    pub async fn audit(
        &self,
        application: &str,
        recovery_id: &str,
        kind: &str,
        now: DateTime<Utc>,
        detail: &Value,
    ) -> Result<(), AwsError> {
        let written = self
            .client
            .put_item()
            .table_name(&self.name)
            .item("pk", pk(application))
            .item(
                "sk",
                s(format!(
                    "audit#{}#{recovery_id}#{kind}",
                    now.format("%Y-%m-%dT%H:%M:%S%.3fZ")
                )),
            )
            .item("recoveryId", s(recovery_id))
            .item("kind", s(kind))
            .item("detail", s(detail.to_string()))
            .item("expiresAt", n((now + Duration::days(AUDIT_DAYS)).timestamp()))
            // An audit row is evidence: never written over.
            .condition_expression("attribute_not_exists(sk)")
            .send()
            .await
            .map_err(|e| crate::error::from_sdk("dynamodb", "PutItem", &e));
        match written {
            // The same row (a retry whose answer was lost): it stands as first written.
            Err(e) if e.code == "ConditionalCheckFailedException" => Ok(()),
            other => other.map(|_| ()),
        }
    }

    /// Every audit record of an application, oldest first.
    pub async fn audit_records(&self, application: &str) -> Result<Vec<HashMap<String, AttributeValue>>, AwsError> {
        let out = self
            .client
            .query()
            .table_name(&self.name)
            .key_condition_expression("pk = :pk AND begins_with(sk, :audit)")
            .expression_attribute_values(":pk", pk(application))
            .expression_attribute_values(":audit", s("audit#"))
            .send()
            .await
            .map_err(|e| crate::error::from_sdk("dynamodb", "Query", &e))?;
        Ok(out.items().to_vec())
    }

    /// What operators asked of a recovery, and the row's version (0: none yet).
    pub async fn control(&self, application: &str, recovery_id: &str) -> Result<(Control, i64), AwsError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("pk", control_pk(application))
            .key("sk", s(recovery_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::error::from_sdk("dynamodb", "GetItem", &e))?;
        let Some(item) = out.item() else {
            return Ok((Control::default(), 0));
        };
        let version = item
            .get("version")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        // A row that does not parse steers nothing, and says so.
        let control = serde_json::from_str(&text(item, "control")).unwrap_or_else(|e| {
            tracing::warn!(error = %e, recovery_id, "the control row is not readable; ignored");
            Control::default()
        });
        Ok((control, version))
    }

    async fn get(&self, application: &str, sk: &str) -> Result<Option<HashMap<String, AttributeValue>>, AwsError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("pk", pk(application))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::error::from_sdk("dynamodb", "GetItem", &e))?;
        Ok(out.item().cloned())
    }
}
