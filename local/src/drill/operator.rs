//! The operator of the operator-steers drill: takes the wheel of the running recovery through
//! the recovery table, as `rebound pause|resume|skip` do, and checks in moto what holding it did.

use std::time::Duration;

use rebound_shared::control::{Mark, Steer};
use rebound_shared::table::{Lease, RecoveryTable};

use super::verify::{fact, Verified};
use super::*;

/// Who the drill's operator is, in the audit and the report.
pub(super) const OPERATOR: &str = "drill-operator";

/// How long the operator waits for what it watches before it gives up.
const PATIENCE: Duration = Duration::from_secs(120);

fn mark(reason: &str) -> Mark {
    Mark {
        by: OPERATOR.into(),
        principal: None,
        reason: reason.into(),
        at: Utc::now(),
    }
}

async fn steer(table: &RecoveryTable, name: &str, steer: Steer, reason: &str) -> Result<(), DrillError> {
    table
        .steer("orders", name, &steer, mark(reason))
        .await
        .map(|_| ())
        .map_err(|e| DrillError::Read {
            what: "the operator's command",
            message: e.to_string(),
        })
}

/// Holds execution `name` before it starts: it takes its lease, then asks to change things.
pub(super) async fn pause_first(recovery: &SdkConfig, name: &str) -> Result<(), DrillError> {
    let table = RecoveryTable::new(recovery, TABLE);
    eprintln!("drill: the operator pauses {name} before its first change");
    steer(&table, name, Steer::Pause, "checking the primary before anything moves").await
}

/// Polls `done` every 100 ms until it holds or [`PATIENCE`] runs out.
async fn until<F, Fut>(what: &str, mut done: F) -> Result<(), DrillError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        if done().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(DrillError::Read {
        what: "the running recovery",
        message: format!("the operator waited {} s for {what}", PATIENCE.as_secs()),
    })
}

/// While the recovery runs: once it holds its lease (and is paused), checks that nothing has
/// changed, resumes it, and when the warm-up's call hangs, skips it. The facts it saw.
pub(super) async fn take_the_wheel(
    recovery: &SdkConfig,
    proxy: &FaultProxy,
    name: &str,
) -> Result<Vec<Verified>, DrillError> {
    let table = RecoveryTable::new(recovery, TABLE);
    until("the recovery to take its lease", || async {
        matches!(table.holder("orders", Utc::now()).await, Ok(Some(Lease::HeldBy { owner, .. })) if owner == name)
    })
    .await?;
    // Long enough for every branch to have asked to start a few times, and been held.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let held = fact(
        "while paused (replica, orders-api desired)",
        "a replica, desired 1",
        format!(
            "{}, desired {}",
            if replica_is_replica(recovery).await? {
                "a replica"
            } else {
                "PROMOTED"
            },
            desired(recovery, "orders-api").await?
        ),
    );
    eprintln!("drill: held while paused: {}; the operator resumes", held.found);
    steer(&table, name, Steer::Resume, "").await?;
    until("the warm-up's call to hang", || async {
        proxy
            .calls()
            .iter()
            .any(|c| c.operation.as_deref() == Some("Invoke") && c.fault.as_deref() == Some("timeout"))
    })
    .await?;
    eprintln!("drill: the warm-up hangs; the operator skips it");
    steer(
        &table,
        name,
        Steer::Skip(format!("action:{}", CUSTOM_ANSWERS[1].0)),
        "the cache warm-up hangs; caches warm on demand",
    )
    .await?;
    Ok(vec![held])
}

/// The operator's commands as the audit recorded them.
pub(super) async fn audited(recovery: &SdkConfig, name: &str) -> Result<Verified, DrillError> {
    let rows = RecoveryTable::new(recovery, TABLE)
        .audit_records("orders")
        .await
        .map_err(|e| DrillError::Read {
            what: "the audit",
            message: e.to_string(),
        })?;
    let text = |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, key: &str| {
        item.get(key).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
    };
    let kinds: Vec<String> = rows
        .iter()
        .filter(|r| text(r, "recoveryId") == name)
        .map(|r| text(r, "kind"))
        .filter(|k| ["paused", "resumed", "skipped"].contains(&k.as_str()))
        .collect();
    Ok(fact(
        "the operator's commands, audited",
        "paused, resumed, skipped",
        kinds.join(", "),
    ))
}

async fn replica_is_replica(recovery: &SdkConfig) -> Result<bool, DrillError> {
    let out = aws_sdk_rds::Client::new(recovery)
        .describe_db_instances()
        .db_instance_identifier(rebound_moto::seed::REPLICA_DB)
        .send()
        .await
        .map_err(|e| DrillError::Read {
            what: "the replica",
            message: e.to_string(),
        })?;
    Ok(out
        .db_instances()
        .first()
        .and_then(|d| d.read_replica_source_db_instance_identifier())
        .is_some())
}

async fn desired(recovery: &SdkConfig, service: &str) -> Result<i32, DrillError> {
    let out = aws_sdk_ecs::Client::new(recovery)
        .describe_services()
        .cluster(rebound_moto::seed::ECS_CLUSTER)
        .services(service)
        .send()
        .await
        .map_err(|e| DrillError::Read {
            what: "the services",
            message: e.to_string(),
        })?;
    Ok(out.services().first().map_or(0, |s| s.desired_count()))
}
