//! The plan's event streams: Lambda event source mappings (SQS, Kinesis, DynamoDB streams)
//! whose consumers must run in one region only, moved with the application.

use serde::{Deserialize, Serialize};

/// One consumer, as a mapping in each region (either may be absent: a consumer that runs only
/// in one of them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventSourceMapping {
    /// The mapping's UUID in `primaryRegion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_uuid: Option<String>,
    /// The mapping's UUID in `recoveryRegion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_uuid: Option<String>,
    /// Whether the consumer moves only once the new writer takes writes. On by default: a
    /// consumer writes what it reads, and one started before the promotion ends fails its
    /// batches into retries and dead-letter queues. `false` for one that writes elsewhere.
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub needs_writer: bool,
    /// The account (a name in the plan's `accounts`) both mappings are in; unset, Rebound's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

fn yes() -> bool {
    true
}

fn is_yes(value: &bool) -> bool {
    *value
}

/// How results name one side of a mapping: its UUID and the region it lives in.
pub fn mapping_resource(uuid: &str, region: &str) -> String {
    format!("lambda:event-source-mapping/{uuid} ({region})")
}

/// Which side of a mapping a step acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Primary,
    Recovery,
}

impl EventSourceMapping {
    /// Whether `uuid` is one of its two mappings.
    pub fn names(&self, uuid: &str) -> bool {
        [&self.primary_uuid, &self.recovery_uuid]
            .iter()
            .any(|side| side.as_deref() == Some(uuid))
    }

    /// The mappings to turn off and on when the application moves towards `recovery` (or back):
    /// (side, uuid, enabled), the side being left first, so that a consumer never runs in both
    /// regions because of Rebound.
    pub fn moves(&self, towards_recovery: bool) -> Vec<(Side, &str, bool)> {
        let (leave, join) = if towards_recovery {
            (
                (Side::Primary, &self.primary_uuid),
                (Side::Recovery, &self.recovery_uuid),
            )
        } else {
            (
                (Side::Recovery, &self.recovery_uuid),
                (Side::Primary, &self.primary_uuid),
            )
        };
        let mut moves = Vec::new();
        if let Some(uuid) = leave.1 {
            moves.push((leave.0, uuid.as_str(), false));
        }
        if let Some(uuid) = join.1 {
            moves.push((join.0, uuid.as_str(), true));
        }
        moves
    }
}

/// Where a mapping stands against the state it should reach (Lambda's `State`: `Enabled`,
/// `Disabled`, or on its way: `Enabling`, `Disabling`, `Updating`, `Creating`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamProgress {
    There,
    OnItsWay,
    /// Another state (`Deleting`, or the opposite of the target): the change must be made.
    Elsewhere,
}

pub fn stream_progress(state: &str, enabled: bool) -> StreamProgress {
    match (state, enabled) {
        ("Enabled", true) | ("Disabled", false) => StreamProgress::There,
        ("Enabling", true) | ("Disabling", false) | ("Updating" | "Creating", _) => StreamProgress::OnItsWay,
        _ => StreamProgress::Elsewhere,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_side_left_is_turned_off_before_the_side_joined_is_turned_on() {
        let m = EventSourceMapping {
            primary_uuid: Some("p".into()),
            recovery_uuid: Some("r".into()),
            needs_writer: true,
            account: None,
        };
        assert_eq!(
            m.moves(true),
            vec![(Side::Primary, "p", false), (Side::Recovery, "r", true)]
        );
        assert_eq!(
            m.moves(false),
            vec![(Side::Recovery, "r", false), (Side::Primary, "p", true)]
        );
        let only_recovery = EventSourceMapping {
            primary_uuid: None,
            recovery_uuid: Some("r".into()),
            needs_writer: true,
            account: None,
        };
        assert_eq!(only_recovery.moves(true), vec![(Side::Recovery, "r", true)]);
        assert!(m.names("p") && m.names("r") && only_recovery.names("r"));
        assert!(!only_recovery.names("p") && !m.names(""));
    }

    #[test]
    fn a_mapping_is_there_on_its_way_or_must_be_changed() {
        assert_eq!(stream_progress("Enabled", true), StreamProgress::There);
        assert_eq!(stream_progress("Enabling", true), StreamProgress::OnItsWay);
        assert_eq!(stream_progress("Disabled", true), StreamProgress::Elsewhere);
        assert_eq!(stream_progress("Disabling", true), StreamProgress::Elsewhere);
        assert_eq!(stream_progress("Disabled", false), StreamProgress::There);
        assert_eq!(stream_progress("Updating", false), StreamProgress::OnItsWay);
    }
}
