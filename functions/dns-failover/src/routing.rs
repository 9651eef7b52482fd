//! `routingControl` mode: ARC routing controls, read and set through the cluster's data-plane
//! endpoints (`rebound_shared::dns::cluster`), never its control plane: the one batch that
//! switches every record's cells, decided from their states as read.

use std::collections::BTreeMap;

use aws_sdk_route53recoverycluster::types::{RoutingControlState, UpdateRoutingControlStateEntry};
use rebound_shared::context::Action;
use rebound_shared::dns::cluster::{first_answer, Endpoints};
use rebound_shared::step::StepFault;
use serde_json::json;

use crate::DnsError;

/// Sets every state in one call: ARC applies the entries together, so turning the target cell
/// on and the other off never passes through a moment with both off.
pub async fn update(endpoints: &Endpoints, resource: &str, entries: &[(String, bool)]) -> Result<(), DnsError> {
    let entries = entries
        .iter()
        .map(|(arn, on)| {
            UpdateRoutingControlStateEntry::builder()
                .routing_control_arn(arn)
                .routing_control_state(if *on {
                    RoutingControlState::On
                } else {
                    RoutingControlState::Off
                })
                .build()
                .map_err(|e| DnsError::BadRecord {
                    resource: arn.clone(),
                    reason: e.to_string(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    first_answer(endpoints, resource, "UpdateRoutingControlStates", |client| {
        let entries = entries.clone();
        async move {
            client
                .update_routing_control_states()
                .set_update_routing_control_state_entries(Some(entries))
                .send()
                .await
        }
    })
    .await?;
    Ok(())
}

/// One record's pair of cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cells<'a> {
    pub primary: &'a str,
    pub recovery: &'a str,
}

/// The states to set so that every record's target cell is on and its other cell off, in one
/// batch (on before off), or why that cannot be done. The safety rule, at least one cell of
/// each record on, holds once the batch is applied, as the target is always among its entries
/// or already on. `current` holds every control's state as read.
pub fn updates(
    cells: &[Cells],
    current: &BTreeMap<String, bool>,
    to_recovery: bool,
) -> Result<Vec<(String, bool)>, String> {
    let mut desired: BTreeMap<&str, bool> = BTreeMap::new();
    for c in cells {
        let (on, off) = if to_recovery {
            (c.recovery, c.primary)
        } else {
            (c.primary, c.recovery)
        };
        for (arn, state) in [(on, true), (off, false)] {
            if desired.insert(arn, state).is_some_and(|before| before != state) {
                return Err(format!("{arn} would be turned both on and off"));
            }
        }
    }
    let mut out: Vec<(String, bool)> = desired
        .into_iter()
        .filter(|(arn, state)| current.get(*arn) != Some(state))
        .map(|(arn, state)| (arn.to_string(), state))
        .collect();
    out.sort_by_key(|(_, on)| !on);
    Ok(out)
}

/// The batch to send (on before off), and each record's action.
pub type Switch = (Vec<(String, bool)>, Vec<Action>);

/// The one batch that switches every record's cells (`current` holds each control's state as
/// read), and each record's action; no call.
pub(crate) fn plan(
    cells: &[(String, Cells<'_>)],
    current: &BTreeMap<String, bool>,
    to_recovery: bool,
    dry_run: bool,
) -> Result<Switch, DnsError> {
    let pairs: Vec<Cells> = cells.iter().map(|(_, c)| *c).collect();
    let entries =
        updates(&pairs, current, to_recovery).map_err(|reason| StepFault::precondition("routing controls", reason))?;
    let state = |arn: &str| {
        if current.get(arn).copied().unwrap_or(false) {
            "On"
        } else {
            "Off"
        }
    };
    let actions = cells
        .iter()
        .map(|(resource, c)| {
            let before = json!({ "primary": state(c.primary), "recovery": state(c.recovery) });
            let after = json!({
                "primary": if to_recovery { "Off" } else { "On" },
                "recovery": if to_recovery { "On" } else { "Off" },
            });
            if before == after {
                Action::already_done(resource, "UpdateRoutingControlStates", after)
            } else {
                Action::change(resource, "UpdateRoutingControlStates", before, after, dry_run)
            }
        })
        .collect();
    Ok((entries, actions))
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: &str = "arn:aws:route53-recovery-control::111122223333:controlpanel/cp/routingcontrol/use1";
    const R: &str = "arn:aws:route53-recovery-control::111122223333:controlpanel/cp/routingcontrol/usw2";

    fn states(p: bool, r: bool) -> BTreeMap<String, bool> {
        BTreeMap::from([(P.to_string(), p), (R.to_string(), r)])
    }

    #[test]
    fn a_failover_turns_the_recovery_cell_on_before_the_primary_off() {
        let cells = [Cells {
            primary: P,
            recovery: R,
        }];
        assert_eq!(
            updates(&cells, &states(true, false), true),
            Ok(vec![(R.to_string(), true), (P.to_string(), false)])
        );
        // A failback is the mirror image.
        assert_eq!(
            updates(&cells, &states(false, true), false),
            Ok(vec![(P.to_string(), true), (R.to_string(), false)])
        );
    }

    #[test]
    fn cells_already_switched_need_nothing_and_a_half_switch_is_finished() {
        let cells = [Cells {
            primary: P,
            recovery: R,
        }];
        assert_eq!(updates(&cells, &states(false, true), true), Ok(vec![]));
        // Both on (an earlier attempt set only the first entry, or a human did): turn the primary off.
        assert_eq!(
            updates(&cells, &states(true, true), true),
            Ok(vec![(P.to_string(), false)])
        );
    }

    #[test]
    fn from_any_state_the_batch_leaves_exactly_the_target_cell_on() {
        let cells = [Cells {
            primary: P,
            recovery: R,
        }];
        for (p, r) in [(false, false), (false, true), (true, false), (true, true)] {
            for to_recovery in [true, false] {
                let mut after = states(p, r);
                for (arn, on) in updates(&cells, &after.clone(), to_recovery).expect("updates") {
                    after.insert(arn, on);
                }
                assert_eq!(after, states(!to_recovery, to_recovery), "from {p}/{r}");
            }
        }
    }

    #[test]
    fn a_control_asked_to_be_on_and_off_is_refused() {
        let shared = [
            Cells {
                primary: P,
                recovery: R,
            },
            Cells {
                primary: R,
                recovery: P,
            },
        ];
        let err = updates(&shared, &states(true, false), true).expect_err("conflict");
        assert!(err.contains("both on and off"), "{err}");
    }
}
