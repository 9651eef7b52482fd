//! What validation and readiness found: each check, and the reports that gather them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StepResult;
use crate::objectives::Measurement;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationReport {
    pub result: StepResult,
    pub passed: bool,
    pub checks: Vec<Check>,
    /// Consecutive rounds in which every check passed.
    pub consecutive_successes: u32,
    pub rto: Measurement,
    pub rpo: Measurement,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
    /// Could not be read (a region that did not answer, a read that timed out): neither passed
    /// nor failed, and never counted as a pass.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unknown: bool,
    /// Not run, on purpose (nothing to check in this setup): neither passed nor failed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
}

impl Check {
    pub fn new(name: String, passed: bool, detail: String) -> Check {
        Check {
            name,
            passed,
            detail,
            unknown: false,
            skipped: false,
        }
    }

    /// A check whose read got no answer.
    pub fn unknown(name: String, detail: String) -> Check {
        Check {
            unknown: true,
            ..Check::new(name, false, detail)
        }
    }

    /// A check that does not apply here, and says why.
    pub fn skipped(name: String, detail: String) -> Check {
        Check {
            skipped: true,
            ..Check::new(name, false, detail)
        }
    }

    /// Ran, and found something wrong: neither passed, unknown nor skipped.
    pub fn failed(&self) -> bool {
        !self.passed && !self.unknown && !self.skipped
    }

    /// How the check came out, in one word.
    pub fn verdict(&self) -> &'static str {
        match (self.passed, self.unknown, self.skipped) {
            (true, _, _) => "passed",
            (false, true, _) => "unknown",
            (false, false, true) => "skipped",
            (false, false, false) => "failed",
        }
    }
}

/// Whether the recovery side is ready for what the path would do, checked before acting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadinessReport {
    pub ready: bool,
    pub checked_at: DateTime<Utc>,
    pub checks: Vec<Check>,
    /// The failover would lose more data than the RPO target (or an unknown amount): it goes
    /// ahead only after a human approves.
    #[serde(default)]
    pub data_loss_approval: bool,
    /// An old writer answers and cannot be fenced: promoting would make two writers, so the
    /// failover goes ahead only after a human approves, knowing it.
    #[serde(default)]
    pub split_brain_approval: bool,
    /// The largest replication lag found, i.e. the data a failover now would lose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_data_loss_seconds: Option<f64>,
    /// One line naming every failing check (or "ready").
    pub summary: String,
    /// The recovery region checked.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    /// Not ready, and the recovery may try this region next: the state machine dry-runs the
    /// steps there and checks again (`TryNextRecoveryRegion`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_region: Option<String>,
    /// The regions tried before this one, in order, and why each was not ready.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passed_over: Vec<PassedOver>,
}

/// A recovery region readiness found not ready before trying the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PassedOver {
    pub region: String,
    /// Its failing checks.
    pub summary: String,
}

/// Each failing check as `name: detail`, as a readiness summary names them.
pub fn failing_checks(checks: &[Check]) -> Vec<String> {
    checks
        .iter()
        .filter(|c| c.failed())
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect()
}

impl ReadinessReport {
    /// The regions passed over so far, this one added when the recovery moves on from it.
    pub fn passed_over_after(&self) -> Vec<PassedOver> {
        let mut passed = self.passed_over.clone();
        if self.next_region.is_some() {
            let failing = failing_checks(&self.checks);
            passed.push(PassedOver {
                region: self.region.clone(),
                summary: failing.join("; "),
            });
        }
        passed
    }
}
