//! The data-loss rule a replica's, a global datastore's and a multi-Region cluster's lag go
//! through: within the RPO target it is the RPO; beyond it, or unknown, a failover's is put to
//! an approver when the plan allows, and any other mode refuses it.

use rebound_shared::context::{Mode, RecoveryContext};

use crate::DatabaseError;

/// How far behind the copy the application moves to is.
#[derive(Debug, Clone, PartialEq)]
pub enum Lag {
    Seconds(f64),
    /// No datapoint, or the metric could not be read: why.
    Unknown(String),
}

/// The replicas' data-loss rule for what `lag` loses of `store`: within the RPO target it is
/// the RPO; beyond it, or unknown, a failover's is put to an approver when the plan allows
/// (and goes once approved), any other mode refuses it.
pub(crate) fn within_rpo(
    ctx: &RecoveryContext,
    store: String,
    allow: bool,
    lag: &Lag,
) -> Result<Option<f64>, DatabaseError> {
    let rpo = ctx.plan.objectives.rpo_seconds;
    let seconds = match lag {
        Lag::Seconds(s) => Some(*s),
        Lag::Unknown(_) => None,
    };
    let failover = matches!(ctx.mode, Mode::Failover | Mode::Drill);
    if seconds.is_none_or(|s| s > rpo as f64) && (!failover || ctx.approval.is_none()) {
        return Err(DatabaseError::DataLoss {
            database: store,
            lag_seconds: seconds,
            rpo_seconds: rpo,
            allowed: failover && allow,
        });
    }
    Ok(seconds)
}

/// What `DatabaseError::DataLoss` says.
pub(crate) fn data_loss_text(lag: Option<f64>, rpo: u64, allowed: bool) -> String {
    let lag = match lag {
        Some(lag) => format!("replica lag is {lag} s, beyond the RPO target of {rpo} s"),
        None => "replica lag is unknown (no lag datapoint in the last 10 minutes), so the data loss cannot be bounded"
            .to_string(),
    };
    if allowed {
        format!("{lag}; the plan allows that loss only with a human's approval, and none was given")
    } else {
        format!("{lag}, and the plan does not allow more data loss")
    }
}
