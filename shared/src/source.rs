//! Where a plan comes from: inline JSON, an SSM parameter, or an S3 object.

use crate::error::{AwsError, ErrorKind};
use crate::plan::{InvalidPlan, RecoveryPlan};

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
}

impl PlanSourceError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            PlanSourceError::Aws { source, .. } if source.kind == ErrorKind::Transient => ErrorKind::Transient,
            PlanSourceError::Aws { .. } => ErrorKind::StepFailed,
            _ => ErrorKind::InvalidInput,
        }
    }
}

/// Reads and validates a plan from SSM or S3.
pub async fn load_plan(
    location: &PlanLocation,
    ssm: &aws_sdk_ssm::Client,
    s3: &aws_sdk_s3::Client,
) -> Result<RecoveryPlan, PlanSourceError> {
    let text = match location {
        PlanLocation::SsmParameter { name } => {
            let out = ssm.get_parameter().name(name).with_decryption(true).send().await;
            match out {
                Ok(out) => out.parameter.and_then(|p| p.value).unwrap_or_default(),
                Err(e) => {
                    let err = AwsError::from_sdk("ssm", "GetParameter", &e);
                    return Err(if err.code == "ParameterNotFound" {
                        PlanSourceError::NotFound {
                            location: location.to_string(),
                        }
                    } else {
                        PlanSourceError::Aws {
                            location: location.to_string(),
                            source: err,
                        }
                    });
                }
            }
        }
        PlanLocation::S3Object { bucket, key } => {
            let out = s3.get_object().bucket(bucket).key(key).send().await;
            let out = match out {
                Ok(out) => out,
                Err(e) => {
                    let err = AwsError::from_sdk("s3", "GetObject", &e);
                    return Err(
                        if matches!(err.code.as_str(), "NoSuchKey" | "NoSuchBucket" | "NotFound") {
                            PlanSourceError::NotFound {
                                location: location.to_string(),
                            }
                        } else {
                            PlanSourceError::Aws {
                                location: location.to_string(),
                                source: err,
                            }
                        },
                    );
                }
            };
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
            String::from_utf8(bytes.into_bytes().to_vec()).map_err(|_| PlanSourceError::NotText {
                location: location.to_string(),
            })?
        }
    };
    RecoveryPlan::from_json(&text).map_err(|source| PlanSourceError::Invalid {
        location: location.to_string(),
        source,
    })
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
