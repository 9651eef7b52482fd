//! Where every execution's report is kept: `reports/APPLICATION/RECOVERY_ID.json` and `.html`
//! in the bucket the template creates (`REPORT_BUCKET`): encrypted, under Object Lock, written
//! once.

use aws_sdk_s3::primitives::ByteStream;
use rebound_core::report::{html, Report};

use crate::error::{from_sdk, AwsError};

/// S3's answer to a conditional write whose key exists.
pub const WRITTEN: &str = "PreconditionFailed";

pub struct ReportStore {
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    /// For the console link.
    pub region: String,
}

/// Where a report was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub json: String,
    pub html: String,
    /// The page in the S3 console (signed-in operators; the bucket is not public).
    pub console_url: String,
}

impl ReportStore {
    pub fn new(config: &aws_config::SdkConfig, bucket: impl Into<String>) -> Self {
        ReportStore {
            s3: aws_sdk_s3::Client::new(config),
            bucket: bucket.into(),
            region: config.region().map(|r| r.to_string()).unwrap_or_default(),
        }
    }

    /// `REPORT_BUCKET`, when set.
    pub fn from_env(config: &aws_config::SdkConfig) -> Option<Self> {
        std::env::var("REPORT_BUCKET")
            .ok()
            .filter(|b| !b.is_empty())
            .map(|b| ReportStore::new(config, b))
    }

    /// The key of a report, without its extension. Application names and recovery ids are
    /// checked by the plan checker and the detector to letters, digits and `-_.:`.
    pub fn key(report: &Report) -> String {
        format!("reports/{}/{}", report.application, report.recovery_id)
    }

    /// Writes the JSON, then the page, each only where no object has the key (`If-None-Match: *`,
    /// which the bucket policy requires): evidence is never replaced. A retry whose first write
    /// landed (its answer lost) finds the object there and leaves it as first written.
    pub async fn put(&self, report: &Report) -> Result<Stored, AwsError> {
        let key = Self::key(report);
        // A report has string keys only: serialising it cannot fail.
        let json = serde_json::to_vec_pretty(report).unwrap_or_default();
        let page = html::render(report, "");
        for (suffix, body, content_type) in [
            ("json", json, "application/json"),
            ("html", page.into_bytes(), "text/html; charset=utf-8"),
        ] {
            let written = self
                .s3
                .put_object()
                .bucket(&self.bucket)
                .key(format!("{key}.{suffix}"))
                .if_none_match("*")
                .content_type(content_type)
                .body(ByteStream::from(body))
                .send()
                .await;
            match written.map_err(|e| from_sdk("s3", "PutObject", &e)) {
                Ok(_) => {}
                Err(e) if e.code == WRITTEN => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Stored {
            json: format!("s3://{}/{key}.json", self.bucket),
            html: format!("s3://{}/{key}.html", self.bucket),
            console_url: format!(
                "https://console.aws.amazon.com/s3/object/{}?region={}&prefix={key}.html",
                self.bucket, self.region
            ),
        })
    }
}
