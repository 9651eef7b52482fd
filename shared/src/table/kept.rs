//! Step results kept in the recovery table, under `pk = "results#<application>"`, when the
//! state carries only their summary: in parts, since an item holds 400 KB.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};

use super::{n, s, text, RecoveryTable, AUDIT_DAYS};
use crate::error::AwsError;

/// The most of a result one item holds: DynamoDB items are at most 400 KB.
pub const RESULT_PART_BYTES: usize = 300 * 1024;

/// `text` in pieces of at most `max` bytes, cut between characters.
fn split_at_bytes(text: &str, max: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let mut cut = max;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let (head, tail) = rest.split_at(cut);
        parts.push(head);
        rest = tail;
    }
    parts.push(rest);
    parts
}

/// Names one write of a result's parts.
fn uuid_like(now: DateTime<Utc>, len: usize) -> String {
    format!(
        "{}-{len}-{}",
        now.timestamp_nanos_opt().unwrap_or_default(),
        std::process::id()
    )
}

fn results_pk(application: &str) -> AttributeValue {
    AttributeValue::S(format!("results#{application}"))
}

impl RecoveryTable {
    /// Keeps a step's whole result, in parts of at most [`RESULT_PART_BYTES`] (an item holds
    /// 400 KB). The first part is written last and names the write: a reader never joins parts
    /// of two writes.
    pub async fn put_result(
        &self,
        application: &str,
        recovery_id: &str,
        step: &str,
        text: &str,
        now: DateTime<Utc>,
    ) -> Result<(), AwsError> {
        let parts = split_at_bytes(text, RESULT_PART_BYTES);
        let write = uuid_like(now, text.len());
        for (i, part) in parts.iter().enumerate().rev() {
            self.client
                .put_item()
                .table_name(&self.name)
                .item("pk", results_pk(application))
                .item("sk", s(format!("result#{recovery_id}#{step}#{i:04}")))
                .item("body", s(*part))
                .item("write", s(&write))
                .item("parts", n(i64::try_from(parts.len()).unwrap_or(i64::MAX)))
                .item("expiresAt", n((now + Duration::days(AUDIT_DAYS)).timestamp()))
                .send()
                .await
                .map_err(|e| crate::error::from_sdk("dynamodb", "PutItem", &e))?;
        }
        Ok(())
    }

    /// A step's whole result as [`RecoveryTable::put_result`] kept it, if it did.
    pub async fn get_result(
        &self,
        application: &str,
        recovery_id: &str,
        step: &str,
    ) -> Result<Option<String>, AwsError> {
        let prefix = format!("result#{recovery_id}#{step}#");
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.name)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", results_pk(application))
                .expression_attribute_values(":prefix", s(&prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| crate::error::from_sdk("dynamodb", "Query", &e))?;
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        let Some(first) = items.first() else {
            return Ok(None);
        };
        let write = text(first, "write");
        let parts = first
            .get("parts")
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(1);
        let body: Vec<String> = items
            .iter()
            .take(parts)
            .filter(|item| text(item, "write") == write)
            .map(|item| text(item, "body"))
            .collect();
        if body.len() != parts {
            return Ok(None);
        }
        Ok(Some(body.concat()))
    }
}
