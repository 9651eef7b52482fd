//! Operators' commands to a running recovery (`rebound pause|resume|skip|cancel`): each writes
//! the execution's control row ([`RecoveryTable::control`]) and is audited. Only `rebound`
//! reaches this module; the steps only read the row.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::control::{apply, Control, Mark, Steer, SteerRefused};
use crate::error::AwsError;
use crate::table::{control_pk, n, pk, s, text, time, RecoveryTable};

/// How long a control row is kept after its last change (the TTL).
const CONTROL_DAYS: i64 = 30;

/// Why a command did not apply.
#[derive(Debug, thiserror::Error)]
pub enum SteerError {
    #[error("recovery {recovery}: {source}")]
    Refused { recovery: String, source: SteerRefused },
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("recovery {0}: its control row changed under this command five times running; try again")]
    Contended(String),
}

/// What an operator's command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Steered {
    pub control: Control,
    /// A resume: the pause it ended.
    pub ended: Option<Mark>,
    /// A resume: the lease's new end, moved on by as long as the pause lasted.
    pub lease_until: Option<DateTime<Utc>>,
}

impl RecoveryTable {
    /// Applies an operator's command to a recovery's control row, audited under the
    /// application with who and why. Two commands at once do not lose one: the row is written
    /// only over the version that was read.
    pub async fn steer(
        &self,
        application: &str,
        recovery_id: &str,
        steer: &Steer,
        mark: Mark,
    ) -> Result<Steered, SteerError> {
        for _ in 0..5 {
            let (control, version) = self.control(application, recovery_id).await?;
            let (next, ended) = apply(&control, steer, mark.clone()).map_err(|source| SteerError::Refused {
                recovery: recovery_id.to_string(),
                source,
            })?;
            let body = serde_json::to_string(&next).unwrap_or_default();
            let written = self
                .client
                .put_item()
                .table_name(&self.name)
                .item("pk", control_pk(application))
                .item("sk", s(recovery_id))
                .item("control", s(body))
                .item("version", n(version + 1))
                .item(
                    "expiresAt",
                    n((mark.at + chrono::Duration::days(CONTROL_DAYS)).timestamp()),
                )
                .condition_expression("attribute_not_exists(sk) OR version = :version")
                .expression_attribute_values(":version", n(version))
                .send()
                .await;
            match written {
                Ok(_) => {}
                Err(e) => {
                    let err = crate::error::from_sdk("dynamodb", "PutItem", &e);
                    if err.code == "ConditionalCheckFailedException" {
                        continue;
                    }
                    return Err(err.into());
                }
            }
            let lease_until = match &ended {
                Some(pause) => self.extend_lease(application, recovery_id, mark.at - pause.at).await?,
                None => None,
            };
            let mut detail = json!({ "by": mark.by, "principal": mark.principal, "reason": mark.reason });
            if let Steer::Skip(step) = steer {
                detail["step"] = json!(step);
            }
            if let Some(pause) = &ended {
                detail["pausedSince"] = json!(pause.at);
                detail["pausedSeconds"] = json!((mark.at - pause.at).num_seconds());
            }
            self.audit(application, recovery_id, steer.kind(), mark.at, &detail)
                .await?;
            return Ok(Steered {
                control: next,
                ended,
                lease_until,
            });
        }
        Err(SteerError::Contended(recovery_id.to_string()))
    }

    /// Moves the end of `owner`'s lease on by `by` (the time a pause held the recovery, which
    /// the lease, sized for the RTO, did not allow for). Nothing when it no longer holds it.
    async fn extend_lease(
        &self,
        application: &str,
        owner: &str,
        by: chrono::Duration,
    ) -> Result<Option<DateTime<Utc>>, AwsError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.name)
            .key("pk", pk(application))
            .key("sk", s("lease"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| crate::error::from_sdk("dynamodb", "GetItem", &e))?;
        let Some(item) = out.item() else { return Ok(None) };
        let Some(expires_at) = time(item, "expiresAt") else {
            return Ok(None);
        };
        if text(item, "owner") != owner {
            return Ok(None);
        }
        let until = expires_at + by.max(chrono::Duration::zero());
        let updated = self
            .client
            .update_item()
            .table_name(&self.name)
            .key("pk", pk(application))
            .key("sk", s("lease"))
            .update_expression("SET expiresAt = :until")
            .condition_expression("#owner = :owner AND expiresAt = :was")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":was", n(expires_at.timestamp()))
            .expression_attribute_values(":until", n(until.timestamp()))
            .send()
            .await;
        match updated {
            Ok(_) => Ok(Some(until)),
            Err(e) => {
                let err = crate::error::from_sdk("dynamodb", "UpdateItem", &e);
                if err.code == "ConditionalCheckFailedException" {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }
}
