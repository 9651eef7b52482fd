//! Where the plan of a recovery lives and which version of it the recovery runs: what the context
//! carries instead of the plan itself.

use serde::{Deserialize, Serialize};

/// The plan a recovery runs, as the detector read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanRef {
    /// `ssm:NAME` or `s3://BUCKET/KEY`.
    pub location: String,
    /// The SSM parameter's version or the S3 object's version id, when it has one: that version
    /// is read again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// SHA-256 of the plan's text, hex (for a plan given inline: of its compact JSON).
    pub sha256: String,
    /// The start brought this plan (inline, or a location other than the stack's), which the
    /// stack allows only with `AllowStartPlan` (`rebound run --allow-start-plan` locally).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_start: bool,
}

impl PlanRef {
    /// The location of a plan the start carried inline: it travels in the state, not by reference.
    pub const INLINE: &'static str = "inline";

    pub fn is_inline(&self) -> bool {
        self.location == Self::INLINE
    }
}
