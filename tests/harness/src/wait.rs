//! Waiting on AWS's time: the launcher's changes take seconds (see its "AWS's time"), so a test
//! waits until moto shows the state it expects, never for a guess of how long that takes.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long a condition may take before the test fails: far beyond any modelled duration, so
/// that only a change that never ends reaches it, however busy the machine.
pub const LIMIT: Duration = Duration::from_secs(180);

/// Checks `check` every 100 ms until it gives `Some`, and returns that. Panics naming `what`
/// when [`LIMIT`] passes first.
pub async fn until<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(started.elapsed() < LIMIT, "{what}: not within {} s", LIMIT.as_secs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the RDS instance `id` where `config` points is promoted: `available` and no
/// longer a replica (while RDS promotes it, it is `modifying` with its source still set).
pub async fn promoted(config: &aws_config::SdkConfig, id: &str) -> aws_sdk_rds::types::DbInstance {
    let rds = aws_sdk_rds::Client::new(config);
    until(&format!("{id} promoted"), || async {
        let out = rds
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .ok()?;
        let instance = out.db_instances().first()?.clone();
        let done = instance.db_instance_status() == Some("available")
            && instance.read_replica_source_db_instance_identifier().is_none();
        done.then_some(instance)
    })
    .await
}

/// Sets an ECS service's desired count and waits until that many of its tasks run (ECS
/// starts them in its own time).
pub async fn scaled(ecs: &aws_sdk_ecs::Client, cluster: &str, service: &str, count: i32) {
    ecs.update_service()
        .cluster(cluster)
        .service(service)
        .desired_count(count)
        .send()
        .await
        .unwrap_or_else(|e| panic!("UpdateService {service}: {e:?}"));
    until(&format!("{count} tasks of {service} running"), || async {
        let out = ecs
            .describe_services()
            .cluster(cluster)
            .services(service)
            .send()
            .await
            .ok()?;
        (out.services().first()?.running_count() == count).then_some(())
    })
    .await
}

/// The `status` request a state machine's wait loop sends after `started` (the step's result,
/// kept under `results.<step>`), its deadline an hour from now: a sample context's deadline has
/// long passed, and a change still under way past it fails the step.
pub fn status_request(request: &serde_json::Value, step: &str, started: &impl serde::Serialize) -> serde_json::Value {
    let mut status = request.clone();
    status["action"] = serde_json::json!("status");
    status["context"]["results"][step] = serde_json::to_value(started).unwrap_or_default();
    let deadline = std::time::SystemTime::now() + Duration::from_secs(3600);
    let deadline = aws_smithy_types::DateTime::from(deadline)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default();
    status["context"]["timestamps"]["deadline"] = serde_json::json!(deadline);
    status
}

/// Polls a step's `status` after `started` as the state machine's wait loop does: each poll
/// carries the result the last one returned, until the step completes. `poll` runs the step's
/// handler on a request.
pub async fn step_completed<F, Fut>(
    request: &serde_json::Value,
    step: &str,
    started: rebound_shared::context::StepResult,
    mut poll: F,
) -> rebound_shared::context::StepResult
where
    F: FnMut(serde_json::Value) -> Fut,
    Fut: Future<Output = rebound_shared::context::StepResult>,
{
    let since = Instant::now();
    let mut latest = started;
    while latest.status != rebound_shared::context::StepStatus::Completed {
        assert!(
            since.elapsed() < LIMIT,
            "{step} not completed within {} s: {:?}",
            LIMIT.as_secs(),
            latest.actions
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        latest = poll(status_request(request, step, &latest)).await;
    }
    latest
}

/// An Aurora global database's writer cluster (its ARN), once no failover or switchover is
/// under way: Aurora takes its time (the launcher's "AWS's time").
pub async fn global_writer(rds: &aws_sdk_rds::Client, global: &str) -> Option<String> {
    let out = until("the global database available", || async {
        let out = rds
            .describe_global_clusters()
            .global_cluster_identifier(global)
            .send()
            .await
            .expect("DescribeGlobalClusters");
        (out.global_clusters().first().and_then(|g| g.status()) == Some("available")).then_some(out)
    })
    .await;
    out.global_clusters()
        .first()?
        .global_cluster_members()
        .iter()
        .find(|m| m.is_writer() == Some(true))
        .and_then(|m| m.db_cluster_arn().map(str::to_string))
}
