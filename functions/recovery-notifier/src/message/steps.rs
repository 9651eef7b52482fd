//! How a notification tells the recovery's steps: one line each, and what operators did to
//! them (skipped, cancelled).

use rebound_shared::context::{RecoveryContext, StepResult, StepStatus};

/// Whether an operator cancelled the recovery (`rebound cancel`): the step that met the cancel
/// failed with it, in the failover's branches (which end as failed results) or outside them.
pub(crate) fn cancelled(ctx: &RecoveryContext) -> bool {
    ctx.error
        .iter()
        .chain(ctx.results.acting().filter_map(|s| s.error.as_ref()))
        .any(|e| e.error == rebound_shared::error::CANCELLED)
}

/// How many of the recovery's steps (custom actions included) an operator skipped.
pub(super) fn skipped_steps(ctx: &RecoveryContext) -> usize {
    let r = &ctx.results;
    let actions = ctx.custom_action_results.iter().flat_map(|o| o.all());
    r.acting().filter(|s| s.status == StepStatus::Skipped).count()
        + usize::from(
            r.validation
                .as_ref()
                .is_some_and(|v| v.result.status == StepStatus::Skipped),
        )
        + actions.filter(|a| a.skipped.is_some()).count()
}

pub(super) fn step_line(name: &str, step: Option<&StepResult>) -> Option<String> {
    let step = step?;
    let status = match step.status {
        StepStatus::InProgress => "in progress",
        StepStatus::Completed => "completed",
        StepStatus::Failed => "FAILED",
        StepStatus::Skipped => "SKIPPED",
    };
    let done = step.actions.iter().filter(|a| a.already_done).count();
    let mut line = format!(
        "  {name:<20} {status:<12} {:>7} ms  {} actions",
        step.duration_ms,
        step.actions.len()
    );
    if done > 0 {
        line.push_str(&format!(" ({done} already done)"));
    }
    if let Some(e) = &step.error {
        line.push_str(&format!("\n      {}: {}", e.error, e.cause));
    }
    let marks = [
        (
            &step.ungraceful,
            "switched to UNGRACEFUL",
            "a failover: data not yet replicated may be lost",
        ),
        (&step.skipped, "skipped", "what it left pending was never confirmed"),
    ];
    for (mark, what, meaning) in marks {
        if let Some(mark) = mark {
            line.push_str(&format!(
                "\n      {what} by {} at {}: {} ({meaning})",
                mark.by,
                mark.at.to_rfc3339(),
                mark.reason
            ));
        }
    }
    Some(line)
}
