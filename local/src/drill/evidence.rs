//! The execution's report is evidence: the notifier leaves it (JSON and page) in the report
//! bucket, and once written a second write of its key is refused and its version is retained,
//! as the template's bucket (Object Lock, governance mode, conditional writes only) keeps it.

use aws_config::SdkConfig;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::verify::{fact, Verified};
use super::{DrillError, Scenario, REPORT_BUCKET};

/// Tries to replace the report of execution `name`, and to delete its version.
pub(super) async fn kept(recovery: &SdkConfig, name: &str) -> Verified {
    let s3 = aws_sdk_s3::Client::new(recovery);
    let key = format!("reports/orders/{name}.json");
    let rewrite = s3
        .put_object()
        .bucket(REPORT_BUCKET)
        .key(&key)
        .if_none_match("*")
        .body(aws_sdk_s3::primitives::ByteStream::from_static(b"{\"forged\":true}"))
        .send()
        .await;
    let rewritten = match &rewrite {
        Ok(_) => "replaced".to_string(),
        Err(e) if e.code() == Some("PreconditionFailed") => "refused".to_string(),
        Err(e) => format!("failed otherwise: {}", e.code().unwrap_or("no answer")),
    };
    let head = s3.head_object().bucket(REPORT_BUCKET).key(&key).send().await;
    let deleted = match head.as_ref().ok().and_then(|h| h.version_id()) {
        Some(version) => {
            let delete = s3
                .delete_object()
                .bucket(REPORT_BUCKET)
                .key(&key)
                .version_id(version)
                .send()
                .await;
            if delete.is_ok() {
                "deleted"
            } else {
                "refused"
            }
        }
        None => "no version",
    };
    fact(
        "the report rewritten / deleted",
        "refused / refused",
        format!("{rewritten} / {deleted}"),
    )
}

/// The report the notifier left in the report bucket for execution `name`, read back.
pub(super) async fn stored_report(
    recovery: &SdkConfig,
    name: &str,
) -> Result<Option<rebound_shared::report::Report>, DrillError> {
    let s3 = aws_sdk_s3::Client::new(recovery);
    let key = format!("reports/orders/{name}");
    let json = match s3
        .get_object()
        .bucket(REPORT_BUCKET)
        .key(format!("{key}.json"))
        .send()
        .await
    {
        Ok(out) => out.body.collect().await.map_err(|e| DrillError::Read {
            what: "the execution's report",
            message: e.to_string(),
        })?,
        Err(e) if aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e) == Some("NoSuchKey") => {
            return Ok(None)
        }
        Err(e) => {
            return Err(DrillError::Read {
                what: "the execution's report",
                message: format!("{e:?}"),
            })
        }
    };
    let page = s3
        .head_object()
        .bucket(REPORT_BUCKET)
        .key(format!("{key}.html"))
        .send()
        .await
        .map_err(|e| DrillError::Read {
            what: "the execution's report page",
            message: format!("{e:?}"),
        })?;
    if page.content_length().unwrap_or(0) == 0 {
        return Err(DrillError::Read {
            what: "the execution's report page",
            message: "empty".into(),
        });
    }
    serde_json::from_slice(&json.into_bytes())
        .map(Some)
        .map_err(|e| DrillError::Read {
            what: "the execution's report",
            message: e.to_string(),
        })
}

/// Every execution that ends by notifying leaves its report; a readiness check that found the
/// recovery region ready notifies nobody.
pub(super) fn report_fact(scenario: Scenario, stored: Option<&rebound_shared::report::Report>) -> Verified {
    let expected = match scenario {
        Scenario::ReadinessCheck => "none".to_string(),
        s if s.refused() => format!("FAILED in s3://{REPORT_BUCKET}"),
        _ => format!("SUCCEEDED in s3://{REPORT_BUCKET}"),
    };
    let found = stored.map_or("none".to_string(), |r| {
        format!("{} in s3://{REPORT_BUCKET}", r.execution.status)
    });
    fact("execution report (JSON and page)", expected, found)
}
