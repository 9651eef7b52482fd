//! `rebound`: runs the recovery state machine locally with the real handlers in-process, against
//! whatever AWS endpoint is configured; validates plans; and runs recovery drills against moto.

pub mod approvals;
pub mod asl;
pub mod bench;
pub mod drill;
pub mod functions;
pub mod invoke;
