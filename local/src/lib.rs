//! `rebound`: runs the recovery state machine locally with the real handlers in-process, against
//! whatever AWS endpoint is configured; validates plans; runs recovery drills against moto; and
//! operates the deployed state machine (start, status, watch, approve, reject, report).

pub mod approvals;
pub mod asl;
pub mod bench;
pub mod deployed;
pub mod drill;
pub mod functions;
pub mod input;
pub mod invoke;
pub mod lambda;
pub mod region;
pub mod run;
pub mod steer;
pub mod template;
