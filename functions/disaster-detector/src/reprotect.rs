//! When a scheduled check becomes a reprotect: the plan asks for it (`reprotectWhenHealthy`),
//! the last recovery moved the application out of the primary region and succeeded, nothing
//! has protected it since, and every alarm and metric signal of the primary reads healthy.

use chrono::{DateTime, Utc};
use rebound_shared::context::RecoveryPath;
use rebound_shared::objectives::{later, REPROTECT_SECONDS};
use rebound_shared::table::LastRecovery;
use rebound_shared::RecoveryContext;

use crate::signals::{Signal, Vote};

/// Why the last recovery needs a reprotect, or why not.
pub fn pending(last: Option<&LastRecovery>, protected_at: Option<DateTime<Utc>>) -> Result<String, String> {
    let last = last.ok_or("no recovery has run")?;
    if !last.moved_away {
        return Err(format!(
            "the last recovery, {}, did not move the application out of the primary region",
            last.recovery_id
        ));
    }
    if last.outcome != "succeeded" {
        return Err(format!("the last recovery, {}, {}", last.recovery_id, last.outcome));
    }
    if protected_at.is_some_and(|at| at >= last.finished_at) {
        return Err(format!("protected again since recovery {}", last.recovery_id));
    }
    Ok(format!(
        "recovery {} moved the application out of the primary region at {} and nothing replicates back yet",
        last.recovery_id,
        last.finished_at.to_rfc3339()
    ))
}

/// Whether the primary is seen healthy: every signal read, none failing.
pub fn primary_healthy(signals: &[Signal]) -> Result<(), String> {
    if signals.is_empty() {
        return Err("the plan has no signal to see the primary by".into());
    }
    let not: Vec<String> = signals
        .iter()
        .filter(|s| s.vote != Vote::Healthy)
        .map(|s| format!("{} ({})", s.name, s.detail))
        .collect();
    if !not.is_empty() {
        return Err(format!("the primary is not seen healthy yet: {}", not.join("; ")));
    }
    Ok(())
}

/// Turns the scheduled check into a reprotect: it acts (takes the lease), needs no approval, and
/// has the replicas' building time, not the RTO.
pub fn become_reprotect(ctx: &mut RecoveryContext, why: String, now: DateTime<Utc>) {
    ctx.path = RecoveryPath::Reprotect;
    ctx.dry_run = false;
    ctx.decision.recovery_required = true;
    ctx.approval_required = false;
    ctx.timestamps.deadline = Some(later(now, REPROTECT_SECONDS));
    ctx.decision.reasons.push(format!(
        "reprotect (the plan's detection.reprotectWhenHealthy): {why}; every signal of the primary reads healthy"
    ));
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn last(outcome: &str, moved_away: bool) -> LastRecovery {
        LastRecovery {
            recovery_id: "orders-1".into(),
            outcome: outcome.into(),
            finished_at: Utc::now() - Duration::hours(2),
            attempt: 1,
            moved_away,
            region: Some("us-west-2".into()),
        }
    }

    fn signal(vote: Vote) -> Signal {
        Signal {
            name: "orders-api-5xx-rate".into(),
            detail: format!("{vote:?}"),
            vote,
        }
    }

    #[test]
    fn only_a_succeeded_move_away_not_yet_protected_is_reprotected() {
        let failover = last("succeeded", true);
        assert!(pending(Some(&failover), None).is_ok());
        let before = Some(failover.finished_at - Duration::minutes(1));
        assert!(pending(Some(&failover), before).is_ok(), "protected before it: again");
        let since = Some(failover.finished_at + Duration::minutes(5));
        assert!(pending(Some(&failover), since).unwrap_err().contains("protected again"));
        assert!(pending(Some(&last("failed", true)), None).is_err());
        assert!(pending(Some(&last("succeeded", false)), None)
            .unwrap_err()
            .contains("did not move"));
        assert!(pending(None, None).is_err());
    }

    #[test]
    fn the_primary_is_healthy_only_when_every_signal_reads_healthy() {
        assert!(primary_healthy(&[signal(Vote::Healthy), signal(Vote::Healthy)]).is_ok());
        assert!(primary_healthy(&[signal(Vote::Healthy), signal(Vote::Unknown)])
            .unwrap_err()
            .contains("not seen healthy"));
        assert!(primary_healthy(&[signal(Vote::Failing)]).is_err());
        assert!(primary_healthy(&[]).is_err());
    }
}
