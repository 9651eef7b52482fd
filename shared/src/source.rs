//! Where a plan comes from: inline JSON, an SSM parameter, or an S3 object; and the plan by
//! reference. A plan read from a location travels through the state machine as a
//! [`PlanRef`] (its location, version and digest), not as a copy: each function reads that very
//! version again, so a plan of thousands of resources never fills Step Functions' 256 KiB
//! state, and a plan edited during a recovery is noticed rather than half-applied.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{AwsError, ErrorKind};
use crate::plan::{InvalidPlan, RecoveryPlan};

pub use rebound_core::plan_ref::PlanRef;

pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A plan location as written in configuration (`PLAN_LOCATION`) or a manual start:
/// `ssm:/rebound/orders/plan`, `arn:aws:ssm:REGION:ACCOUNT:parameter/rebound/orders/plan`,
/// or `s3://bucket/key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanLocation {
    SsmParameter { name: String },
    S3Object { bucket: String, key: String },
}

impl std::fmt::Display for PlanLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PlanLocation::SsmParameter { name } => write!(f, "ssm:{name}"),
            PlanLocation::S3Object { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

impl std::str::FromStr for PlanLocation {
    type Err = PlanSourceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || PlanSourceError::BadLocation(s.to_string());
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, key) = rest.split_once('/').ok_or_else(bad)?;
            if bucket.is_empty() || key.is_empty() {
                return Err(bad());
            }
            return Ok(PlanLocation::S3Object {
                bucket: bucket.to_string(),
                key: key.to_string(),
            });
        }
        if let Some(name) = s.strip_prefix("ssm:") {
            if name.is_empty() {
                return Err(bad());
            }
            return Ok(PlanLocation::SsmParameter { name: name.to_string() });
        }
        if s.starts_with("arn:") && s.contains(":ssm:") && s.contains(":parameter/") {
            return Ok(PlanLocation::SsmParameter { name: s.to_string() });
        }
        Err(bad())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanSourceError {
    #[error("plan location '{0}' is not ssm:NAME, an SSM parameter ARN, or s3://BUCKET/KEY")]
    BadLocation(String),
    #[error("plan {location} does not exist")]
    NotFound { location: String },
    #[error("reading plan {location}: {source}")]
    Aws { location: String, source: AwsError },
    #[error("plan {location} is not UTF-8 text")]
    NotText { location: String },
    #[error("plan {location}: {source}")]
    Invalid { location: String, source: InvalidPlan },
    #[error(
        "plan {location} changed during the recovery (sha256 {expected} when it started, {found} now): \
         start a new recovery with the new plan"
    )]
    Changed {
        location: String,
        expected: String,
        found: String,
    },
    #[error("context.planRef: {0}")]
    BadReference(String),
}

impl PlanSourceError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            PlanSourceError::Aws { source, .. } if source.kind == ErrorKind::Transient => ErrorKind::Transient,
            PlanSourceError::Aws { .. } => ErrorKind::StepFailed,
            PlanSourceError::Changed { .. } => ErrorKind::PreconditionFailed,
            _ => ErrorKind::InvalidInput,
        }
    }
}

crate::impl_diagnostic!(PlanSourceError);

/// Reads and validates a plan from SSM or S3, and says which version was read.
pub async fn load_plan(
    location: &PlanLocation,
    ssm: &aws_sdk_ssm::Client,
    s3: &aws_sdk_s3::Client,
) -> Result<(RecoveryPlan, PlanRef), PlanSourceError> {
    let (text, version) = read_text(location, None, ssm, s3).await?;
    let reference = PlanRef {
        location: location.to_string(),
        version,
        sha256: sha256_hex(&text),
        from_start: false,
    };
    Ok((parse(location, &text)?, reference))
}

/// Reads again the very plan `reference` names; a plan whose text changed is refused.
pub async fn load_pinned(
    reference: &PlanRef,
    ssm: &aws_sdk_ssm::Client,
    s3: &aws_sdk_s3::Client,
) -> Result<RecoveryPlan, PlanSourceError> {
    let location: PlanLocation = reference.location.parse()?;
    let (text, _) = read_text(&location, reference.version.as_deref(), ssm, s3).await?;
    let found = sha256_hex(&text);
    if found != reference.sha256 {
        return Err(PlanSourceError::Changed {
            location: reference.location.clone(),
            expected: reference.sha256.clone(),
            found,
        });
    }
    parse(&location, &text)
}

fn parse(location: &PlanLocation, text: &str) -> Result<RecoveryPlan, PlanSourceError> {
    RecoveryPlan::from_json(text).map_err(|source| PlanSourceError::Invalid {
        location: location.to_string(),
        source,
    })
}

/// The text at `location` (at `version` when given) and the version read.
async fn read_text(
    location: &PlanLocation,
    version: Option<&str>,
    ssm: &aws_sdk_ssm::Client,
    s3: &aws_sdk_s3::Client,
) -> Result<(String, Option<String>), PlanSourceError> {
    match location {
        PlanLocation::SsmParameter { name } => {
            // `NAME:VERSION` selects a version of a parameter.
            let selector = match version {
                Some(v) => format!("{name}:{v}"),
                None => name.clone(),
            };
            let out = ssm.get_parameter().name(selector).with_decryption(true).send().await;
            match out {
                Ok(out) => {
                    let parameter = out.parameter;
                    let version = parameter.as_ref().map(|p| p.version.to_string());
                    Ok((parameter.and_then(|p| p.value).unwrap_or_default(), version))
                }
                Err(e) => Err(read_error(
                    location,
                    crate::error::from_sdk("ssm", "GetParameter", &e),
                    &["ParameterNotFound", "ParameterVersionNotFound"],
                )),
            }
        }
        PlanLocation::S3Object { bucket, key } => {
            let out = s3
                .get_object()
                .bucket(bucket)
                .key(key)
                .set_version_id(version.map(str::to_string))
                .send()
                .await;
            let out = match out {
                Ok(out) => out,
                Err(e) => {
                    return Err(read_error(
                        location,
                        crate::error::from_sdk("s3", "GetObject", &e),
                        &["NoSuchKey", "NoSuchBucket", "NotFound", "NoSuchVersion"],
                    ))
                }
            };
            // An unversioned bucket answers "null": the digest alone pins the plan.
            let version = out.version_id().filter(|v| *v != "null").map(str::to_string);
            let bytes = out.body.collect().await.map_err(|e| PlanSourceError::Aws {
                location: location.to_string(),
                source: AwsError {
                    service: "s3",
                    operation: "GetObject",
                    code: "BodyReadFailed".into(),
                    message: e.to_string(),
                    status: None,
                    kind: ErrorKind::Transient,
                },
            })?;
            let text = String::from_utf8(bytes.into_bytes().to_vec()).map_err(|_| PlanSourceError::NotText {
                location: location.to_string(),
            })?;
            Ok((text, version))
        }
    }
}

/// A failed read: one of the `missing` codes means there is no such plan (or version).
fn read_error(location: &PlanLocation, err: AwsError, missing: &[&str]) -> PlanSourceError {
    if missing.contains(&err.code.as_str()) {
        PlanSourceError::NotFound {
            location: location.to_string(),
        }
    } else {
        PlanSourceError::Aws {
            location: location.to_string(),
            source: err,
        }
    }
}

/// Reads plans for the functions that receive a context by reference.
pub struct PlanSource {
    pub ssm: aws_sdk_ssm::Client,
    pub s3: aws_sdk_s3::Client,
}

impl PlanSource {
    /// Clients where the plans live (the recovery region's).
    pub fn new(config: &aws_config::SdkConfig) -> Self {
        PlanSource {
            ssm: aws_sdk_ssm::Client::new(config),
            s3: aws_sdk_s3::Client::new(config),
        }
    }

    /// Puts the plan into a request whose context carries it by reference
    /// (`context.planRef`, no `context.plan`); any other payload is left as it is.
    pub async fn resolve(&self, payload: &mut Value) -> Result<(), PlanSourceError> {
        let Some(context) = payload.get_mut("context").and_then(Value::as_object_mut) else {
            return Ok(());
        };
        if context.get("plan").is_some_and(|p| !p.is_null()) {
            return Ok(());
        }
        let Some(reference) = context.get("planRef") else {
            return Ok(());
        };
        let reference: PlanRef =
            serde_json::from_value(reference.clone()).map_err(|e| PlanSourceError::BadReference(e.to_string()))?;
        let plan = load_pinned(&reference, &self.ssm, &self.s3).await?;
        let plan = serde_json::to_value(plan).map_err(|e| PlanSourceError::BadReference(e.to_string()))?;
        context.insert("plan".into(), plan);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(
            "ssm:/rebound/orders/plan".parse::<PlanLocation>().ok(),
            Some(PlanLocation::SsmParameter {
                name: "/rebound/orders/plan".into()
            })
        );
        assert_eq!(
            "s3://plans/orders.json".parse::<PlanLocation>().ok(),
            Some(PlanLocation::S3Object {
                bucket: "plans".into(),
                key: "orders.json".into()
            })
        );
        for bad in [
            "",
            "s3://",
            "s3://bucket",
            "s3://bucket/",
            "ssm:",
            "https://x/y",
            "/rebound/plan",
        ] {
            assert!(
                matches!(bad.parse::<PlanLocation>(), Err(PlanSourceError::BadLocation(_))),
                "{bad}"
            );
        }
    }
}
