//! The failover's order, as the drill saw it: the capacity that needs no writer grew while the
//! databases failed over, and what needs the writer (the plan's `needsWriter` services and
//! consumers) started only once the databases' step had completed.

use super::verify::{fact, Ended, Verified};
use super::Scenario;

pub(super) fn order_fact(scenario: Scenario, ended: &Ended) -> Verified {
    let results = ended.context().map(|c| &c.results);
    let want = match scenario {
        _ if !scenario.moves_region() && scenario != Scenario::ServiceOutage => "nothing restored",
        Scenario::ServiceOutage => "every service restored at once (no writer moves)",
        Scenario::Reprotect => "only the databases rebuilt (a reprotect restores no service)",
        _ => "capacity began before the databases were done; what needs the writer began after",
    };
    let found = match results {
        // A refused recovery fails before any stage: it has no results.
        None => "nothing restored".to_string(),
        Some(r) => match (&r.database, &r.capacity, &r.services) {
            (Some(db), Some(capacity), Some(services)) => {
                let done = db.finished_at;
                let capacity = match (capacity.started_at, done) {
                    (Some(began), Some(done)) if began < done => "began before the databases were done",
                    _ => "did not begin before the databases were done",
                };
                let writer = match (services.started_at, done) {
                    (Some(began), Some(done)) if began >= done => "began after",
                    _ => "did not wait for them",
                };
                format!("capacity {capacity}; what needs the writer {writer}")
            }
            (None, None, Some(_)) => "every service restored at once (no writer moves)".to_string(),
            (Some(_), None, None) => "only the databases rebuilt (a reprotect restores no service)".to_string(),
            (None, None, None) => "nothing restored".to_string(),
            _ => "a stage is missing from the results".to_string(),
        },
    };
    fact("the failover's order", want, found)
}
