//! What an approval request says: what would move, the data it may lose, the split-brain risk,
//! when it expires, and how to answer. It names the execution and never carries the task token:
//! the token stays in the execution's history, where IAM decides who reads it.

use rebound_shared::context::NotificationRequest;

use super::{direction, duration};

/// The approval request's lines, after the message's common ones.
pub(super) fn lines(request: &NotificationRequest) -> Vec<String> {
    let ctx = &request.context;
    let mut text = Vec::new();
    let dbs = ctx.plan.databases.len();
    text.push(format!(
        "Approval needed: Rebound will move DNS ({} records), {dbs} database(s) and {} service(s) to {}.",
        ctx.plan.dns.len(),
        ctx.plan.services.len(),
        direction(ctx).1
    ));
    let rpo = duration(ctx.plan.objectives.rpo_seconds as f64);
    text.push(match ctx.readiness.as_ref() {
        Some(ready) if ready.data_loss_approval => format!(
            "Expected data loss: {} of writes, BEYOND the RPO target of {rpo}; approving accepts that loss.",
            ready
                .expected_data_loss_seconds
                .map_or("an unknown amount (no replica lag reading)".to_string(), duration)
        ),
        Some(ready) => format!(
            "Expected data loss: {} (replica lag now), within the RPO target of {rpo}.",
            ready.expected_data_loss_seconds.map_or("none".to_string(), duration)
        ),
        None => format!(
            "Expected data loss: up to the replication lag at promotion; promotion is refused above the RPO target of {rpo}."
        ),
    });
    if ctx.readiness.as_ref().is_some_and(|r| r.split_brain_approval) {
        text.push(
            "SPLIT-BRAIN RISK: an old writer still answers and accepts writes, and cannot be fenced (see the \
             fence checks above). Approving promotes a second writer while it runs: stop its clients or the \
             instance first."
                .into(),
        );
    }
    text.push(format!(
        "This request expires, and the recovery aborts, after {}.",
        duration(ctx.approval_timeout_seconds as f64)
    ));
    // The task token stays in the execution's history: a message is read by whoever the
    // topic delivers to (an email inbox, an HTTPS endpoint), and the token alone answers.
    let execution = request.execution_arn.as_deref().unwrap_or(&ctx.recovery_id);
    text.push(format!(
        "Execution: {execution}. Rebound never sends a task token: a message that carries one, or names an execution you do not see in Step Functions, is not Rebound's."
    ));
    text.push("Approve (your AWS identity is recorded with the answer):".into());
    text.push(format!("  rebound approve --execution '{execution}' --by 'YOUR NAME'"));
    text.push("Reject:".into());
    text.push(format!("  rebound reject --execution '{execution}' --cause 'WHY'"));
    text.push(format!(
        "Without rebound: the token of the {} task is in the execution's history (aws stepfunctions get-execution-history --execution-arn '{execution}' --reverse-order); answer with send-task-success --task-output '{{\"approved\":true,\"by\":\"YOUR NAME\"}}' or send-task-failure --error {}.",
        "RequestApproval",
        rebound_shared::error::APPROVAL_REJECTED
    ));
    text
}
