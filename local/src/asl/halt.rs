//! How one failing branch of a Parallel (or iteration of a Map) stops the others, as Step
//! Functions stops them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::Value;

use super::StateError;

/// The error a branch stopped by its sibling's failure ends with; never the Parallel's (or the
/// Map's) own, which is the failing branch's.
pub(super) const HALTED: &str = "States.BranchHalted";

/// Step Functions stops every other branch of a Parallel (every other iteration of a Map) once
/// one fails: states in flight finish, none starts, and a Wait ends at once ("If any branch
/// fails ... the entire Parallel state fails and all its branches are stopped", Developer Guide,
/// Parallel workflow state). A halt is set for a Parallel's branches; it sees its parents'.
#[derive(Debug, Default)]
pub struct Halt {
    stopped: AtomicBool,
    parent: Option<Arc<Halt>>,
}

impl Halt {
    pub(super) fn child(parent: &Arc<Halt>) -> Arc<Halt> {
        Arc::new(Halt {
            stopped: Default::default(),
            parent: Some(parent.clone()),
        })
    }

    pub(super) fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    pub(super) fn is_set(&self) -> bool {
        self.stopped.load(Ordering::SeqCst) || self.parent.as_ref().is_some_and(|p| p.is_set())
    }
}

/// The error of branches run side by side under `halt`: the first that is not a stopped
/// sibling's, in branch order; `Ok` only when every branch succeeded.
pub(super) fn first_failure(results: Vec<Result<Value, StateError>>) -> Result<Vec<Value>, StateError> {
    let mut halted = None;
    let mut outputs = Vec::with_capacity(results.len());
    for result in results {
        match result {
            Ok(v) => outputs.push(v),
            Err(e) if e.error == HALTED => halted = halted.or(Some(e)),
            Err(e) => return Err(e),
        }
    }
    match halted {
        Some(e) => Err(e),
        None => Ok(outputs),
    }
}
