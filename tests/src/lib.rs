//! The workspace-level tests live in `tests/`; every crate's tests reach the local AWS (moto's
//! server, the fault proxy, the seeding) through this crate, which is `rebound-moto`.

pub use rebound_moto::*;
