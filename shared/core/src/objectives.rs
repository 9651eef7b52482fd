//! RTO and RPO arithmetic: what was measured against what was promised.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// One objective: the target, what was measured, and whether the target was met.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    pub target_seconds: u64,
    /// `None` when nothing could be measured (no database was promoted, validation never passed).
    pub actual_seconds: Option<f64>,
    pub met: Option<bool>,
}

impl Measurement {
    pub fn new(target_seconds: u64, actual_seconds: Option<f64>) -> Self {
        Measurement {
            target_seconds,
            actual_seconds,
            met: actual_seconds.map(|a| a <= target_seconds as f64),
        }
    }
}

/// Recovery time: from detection to the moment validation passed.
pub fn recovery_time(detected_at: DateTime<Utc>, validated_at: DateTime<Utc>, target_seconds: u64) -> Measurement {
    let elapsed = (validated_at - detected_at).num_milliseconds().max(0) as f64 / 1000.0;
    Measurement::new(target_seconds, Some(elapsed))
}

/// Recovery point: the worst data loss among the databases (replication lag at promotion, or
/// the distance between the restore point and the last good write).
pub fn recovery_point(losses_seconds: &[f64], target_seconds: u64) -> Measurement {
    let worst = losses_seconds
        .iter()
        .copied()
        .fold(None, |acc: Option<f64>, x| Some(acc.map_or(x, |a| a.max(x))));
    Measurement::new(target_seconds, worst)
}

/// `t` plus `seconds`, saturating at the last time chrono can represent instead of panicking
/// (a plan's seconds are bounded by its checker; an event's times are not).
pub fn later(t: DateTime<Utc>, seconds: u64) -> DateTime<Utc> {
    i64::try_from(seconds)
        .ok()
        .and_then(Duration::try_seconds)
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The time by which failover and restoration must have finished so that validation can still
/// complete within the RTO target: detection + RTO - the validation deadline, never before now.
pub fn action_deadline(
    detected_at: DateTime<Utc>,
    rto_seconds: u64,
    validation_seconds: u64,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let budget = rto_seconds.saturating_sub(validation_seconds).max(rto_seconds / 2);
    later(detected_at, budget).max(later(now, 60))
}

/// How long a reprotect waits for RDS and DynamoDB to build the failback's replicas. AWS gives no
/// figure (a cross-region replica starts from a snapshot of the whole database); at the polls'
/// longest interval 20 hours are 1,200 rounds of 9 history events, within Step Functions'
/// 25,000-event history.
pub const REPROTECT_SECONDS: u64 = 20 * 3600;

/// Whether a data loss of `lag_seconds` is acceptable for this mode and target: within the RPO
/// target, or beyond it once a human approved; never any loss where none is allowed.
pub fn data_loss_acceptable(lag_seconds: f64, rpo_seconds: u64, zero_loss_required: bool, approved: bool) -> bool {
    if zero_loss_required {
        return lag_seconds <= 0.0;
    }
    approved || lag_seconds <= rpo_seconds as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_700_000_000 + secs, 0)
            .single()
            .expect("valid timestamp")
    }

    #[test]
    fn rto_is_detection_to_validation() {
        let m = recovery_time(at(0), at(1500), 1800);
        assert_eq!(m.actual_seconds, Some(1500.0));
        assert_eq!(m.met, Some(true));
        let late = recovery_time(at(0), at(1801), 1800);
        assert_eq!(late.met, Some(false));
    }

    #[test]
    fn rpo_is_the_worst_loss_and_unknown_without_databases() {
        let m = recovery_point(&[3.0, 120.5, 0.0], 900);
        assert_eq!(m.actual_seconds, Some(120.5));
        assert_eq!(m.met, Some(true));
        let none = recovery_point(&[], 900);
        assert_eq!(none.actual_seconds, None);
        assert_eq!(none.met, None);
        assert_eq!(recovery_point(&[901.0], 900).met, Some(false));
    }

    #[test]
    fn deadline_leaves_room_for_validation_but_never_lies_in_the_past() {
        assert_eq!(action_deadline(at(0), 1800, 600, at(10)), at(1200));
        // Validation longer than half the RTO: keep half the RTO for acting.
        assert_eq!(action_deadline(at(0), 1800, 1700, at(10)), at(900));
        // Started late: at least a minute from now.
        assert_eq!(action_deadline(at(0), 1800, 600, at(5000)), at(5060));
    }

    #[test]
    fn switchover_requires_zero_loss_and_failover_the_target() {
        assert!(!data_loss_acceptable(1.0, 900, true, true));
        assert!(data_loss_acceptable(0.0, 900, true, false));
        assert!(data_loss_acceptable(900.0, 900, false, false));
        assert!(!data_loss_acceptable(901.0, 900, false, false));
        assert!(data_loss_acceptable(5000.0, 900, false, true));
    }
}
