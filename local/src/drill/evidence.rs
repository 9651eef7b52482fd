//! The execution's report is evidence: once the notifier wrote it, a second write of its key is
//! refused and its version is retained, as the template's bucket (Object Lock, governance mode,
//! conditional writes only) keeps it.

use aws_config::SdkConfig;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::verify::{fact, Verified};
use super::REPORT_BUCKET;

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
