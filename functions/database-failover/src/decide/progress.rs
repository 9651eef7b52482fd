//! Where a promotion, restore or global failover in progress stands: pure reads of what was
//! observed, for the status polls.

use serde_json::{json, Value};

use super::Global;
use crate::observed::Instance;

/// Where a promotion, restore or global failover in progress stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// In the target state, as it now is.
    Done(Value),
    /// Not yet, as it now is.
    Waiting(Value),
    /// It cannot get there.
    Failed(String),
}

/// An instance being promoted or restored: done once available and a writer.
pub fn instance_progress(instance: Option<&Instance>) -> Progress {
    let Some(instance) = instance else {
        return Progress::Failed("disappeared while being promoted or restored".into());
    };
    let status = instance.status.as_str();
    if [
        "failed",
        "incompatible-restore",
        "incompatible-parameters",
        "storage-full",
    ]
    .contains(&status)
    {
        return Progress::Failed(format!("instance is '{status}'"));
    }
    if status == "available" && instance.replica_of.is_none() {
        Progress::Done(instance.state())
    } else {
        Progress::Waiting(instance.state())
    }
}

/// A global database failing or switching over: done once `target` is the writer and the
/// global database is available again.
pub fn global_progress(global: &Global, target: &str) -> Progress {
    let state = json!({ "writer": global.writer() });
    if global.writer() == Some(target) && global.available {
        Progress::Done(state)
    } else {
        Progress::Waiting(state)
    }
}
