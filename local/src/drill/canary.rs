//! Secrets a drill plants and then looks for everywhere the recovery wrote: the secret the
//! application reads its writer from holds a password, and its parameter is a SecureString;
//! neither value may reach the execution's states (its history), the notifications, the recovery
//! table, the report bucket or the drill's own report.

use aws_config::SdkConfig;
use serde_json::Value;

use super::verify::{fact, Verified};
use super::{DrillError, REPORT_BUCKET, TABLE, WRITER_PARAMETER, WRITER_SECRET};

/// The password beside the secret's host.
pub const PASSWORD: &str = "canary-password-0f9e2d7c41";
/// What the SecureString parameter holds before the failover: a host name nothing else knows.
pub const SEALED_HOST: &str = "orders-writer.canary-5b1a93e0.internal";

/// The values no output may contain.
pub fn values() -> Vec<String> {
    vec![PASSWORD.to_string(), SEALED_HOST.to_string()]
}

/// Plants both canaries in the recovery region's writer endpoints, seeded already: the secret
/// keeps its host and gains the password; the parameter becomes a SecureString.
pub(super) async fn plant(recovery: &SdkConfig, old_host: &str) -> Result<(), String> {
    let secret = serde_json::json!({"engine": "postgres", "username": "orders", "password": PASSWORD, "host": old_host, "port": 5432});
    aws_sdk_secretsmanager::Client::new(recovery)
        .put_secret_value()
        .secret_id(WRITER_SECRET)
        .secret_string(secret.to_string())
        .send()
        .await
        .map_err(|e| format!("PutSecretValue: {e}"))?;
    let ssm = aws_sdk_ssm::Client::new(recovery);
    // SSM keeps a parameter's type: a String becomes a SecureString by being made again.
    ssm.delete_parameter()
        .name(WRITER_PARAMETER)
        .send()
        .await
        .map_err(|e| format!("DeleteParameter: {e}"))?;
    ssm.put_parameter()
        .name(WRITER_PARAMETER)
        .value(SEALED_HOST)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .map_err(|e| format!("PutParameter: {e}"))?;
    Ok(())
}

/// Where a canary was found: the execution's payloads (`watched_in`, from the interpreter),
/// `outputs` the drill holds (the outcome, notifications, its report), every item of the
/// recovery table and every object in the report bucket.
pub(super) async fn found(
    recovery: &SdkConfig,
    watched_in: &[String],
    outputs: &[(&str, &Value)],
) -> Result<Verified, DrillError> {
    let read = |what: &'static str| move |e: String| DrillError::Read { what, message: e };
    let mut places: Vec<String> = watched_in.iter().map(|w| format!("history: {w}")).collect();
    let holds = |text: &str| values().iter().any(|v| text.contains(v.as_str()));
    places.extend(
        outputs
            .iter()
            .filter(|(_, v)| holds(&v.to_string()))
            .map(|(what, _)| what.to_string()),
    );
    let items = aws_sdk_dynamodb::Client::new(recovery)
        .scan()
        .table_name(TABLE)
        .send()
        .await
        .map_err(|e| read("the recovery table")(e.to_string()))?;
    if items.items().iter().any(|item| holds(&format!("{item:?}"))) {
        places.push(format!("the recovery table {TABLE}"));
    }
    let s3 = aws_sdk_s3::Client::new(recovery);
    let listed = s3
        .list_object_versions()
        .bucket(REPORT_BUCKET)
        .send()
        .await
        .map_err(|e| read("the report bucket")(e.to_string()))?;
    for version in listed.versions() {
        let (Some(key), Some(id)) = (version.key(), version.version_id()) else {
            continue;
        };
        let object = s3
            .get_object()
            .bucket(REPORT_BUCKET)
            .key(key)
            .version_id(id)
            .send()
            .await
            .map_err(|e| read("a report")(e.to_string()))?;
        let body = object
            .body
            .collect()
            .await
            .map_err(|e| read("a report")(e.to_string()))?;
        if holds(&String::from_utf8_lossy(&body.into_bytes())) {
            places.push(format!("s3://{REPORT_BUCKET}/{key}"));
        }
    }
    Ok(fact(
        "no secret value written",
        "nowhere",
        if places.is_empty() {
            "nowhere".to_string()
        } else {
            places.join(", ")
        },
    ))
}
