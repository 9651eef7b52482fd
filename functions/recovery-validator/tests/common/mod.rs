//! What the validator's test files share: one validation round against moto.

// Each test file uses a part of it.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use rebound_shared::context::ValidationReport;
use rebound_tests::MotoServer;
use recovery_validator::{RecoveryValidator, ValidatorOutput};

/// `seconds` after 03:20 on the examples' day, when their recoveries validate.
pub fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 3, 20, 0).single().expect("time") + chrono::Duration::seconds(seconds)
}

/// One validation round of `request` at `when`.
pub async fn round(moto: &MotoServer, request: &serde_json::Value, when: DateTime<Utc>) -> ValidationReport {
    round_with(&RecoveryValidator::new(&moto.regions()), request, when).await
}

/// One validation round of `request` at `when`, by `validator`.
pub async fn round_with(
    validator: &RecoveryValidator,
    request: &serde_json::Value,
    when: DateTime<Utc>,
) -> ValidationReport {
    match validator.handle(request.clone(), when).await {
        Ok(ValidatorOutput::Validation(report)) => report,
        other => panic!("expected a validation report, got {other:?}"),
    }
}
