use super::*;
use rebound_shared::context::StepStatus;

#[test]
fn a_message_over_snss_limit_is_cut_and_says_so() {
    let note = Notification {
        subject: "[Rebound] orders recovery FAILED".into(),
        text: "line of a very long report\n".repeat(40_000),
        body: json!({"readiness": {"checks": vec!["x".repeat(100); 3000]}, "reasons": ["r"], "status": "FAILED"}),
        attributes: Vec::new(),
    }
    .fit();
    let size = note.message_structure().len();
    assert!(size <= MAX_MESSAGE_BYTES, "{size}");
    assert!(note
        .text
        .ends_with("the execution's history and the recovery table's audit records hold the rest)"));
    assert_eq!(note.body["truncated"], json!(true));
    assert_eq!(note.body["status"], json!("FAILED"), "what matters stays");
    // A message that fits is left alone.
    let small = Notification {
        subject: "s".into(),
        text: "short".into(),
        body: json!({"status": "SUCCEEDED"}),
        attributes: Vec::new(),
    }
    .fit();
    assert_eq!(small.text, "short");
    assert!(small.body.get("truncated").is_none());
}

fn request(event: &str) -> NotificationRequest {
    let path = format!("{}/../../events/{event}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn operator(reason: &str) -> rebound_shared::control::Mark {
    rebound_shared::control::Mark {
        by: "j.doe".into(),
        principal: Some("arn:aws:sts::123456789012:assumed-role/oncall/j.doe".into()),
        reason: reason.into(),
        at: Utc::now(),
    }
}

#[test]
fn a_skipped_step_or_action_is_told_as_skipped_with_who_and_why_never_as_passed() {
    let mut request = request("recovery-notifier-success.json");
    let services = request.context.results.services.as_mut().expect("services");
    services.status = StepStatus::Skipped;
    services.skipped = Some(Box::new(operator("orders-worker never starts")));
    let note = compose(&request, Utc::now());
    assert!(note.subject.ends_with(", 1 step(s) SKIPPED"), "{}", note.subject);
    assert!(note.text.contains("SKIPPED"), "{}", note.text);
    assert!(
        note.text.contains("skipped by j.doe at ") && note.text.contains(": orders-worker never starts"),
        "{}",
        note.text
    );
    assert!(!note.text.contains("services             completed"), "{}", note.text);

    let mut request = request_with_action_skipped();
    let note = compose(&request, Utc::now());
    assert!(
        note.text
            .contains("SKIPPED warm-caches by j.doe: hangs (it had failed: States.Timeout)"),
        "{}",
        note.text
    );
    request.context.custom_action_results = None;
    assert!(!compose(&request, Utc::now()).subject.contains("SKIPPED"));
}

#[test]
fn a_switchover_switched_to_ungraceful_says_who_switched_it_and_that_data_may_be_lost() {
    let mut request = request("recovery-notifier-success.json");
    let database = request.context.results.database.as_mut().expect("database");
    database.ungraceful = Some(Box::new(operator("us-east-1 degrading")));
    let note = compose(&request, Utc::now());
    assert!(
        note.text.contains("switched to UNGRACEFUL by j.doe at ")
            && note
                .text
                .contains(": us-east-1 degrading (a failover: data not yet replicated may be lost)"),
        "{}",
        note.text
    );
    request.context.results.database.as_mut().expect("database").ungraceful = None;
    assert!(!compose(&request, Utc::now()).text.contains("UNGRACEFUL"));
}

fn request_with_action_skipped() -> NotificationRequest {
    let mut request = request("recovery-notifier-success.json");
    let outcome = rebound_shared::plan::ActionOutcome {
        name: "warm-caches".into(),
        status: "skipped".into(),
        skipped: Some(operator("hangs")),
        output: None,
        error: Some("States.Timeout".into()),
        cause: None,
    };
    request.context.custom_action_results = Some(rebound_shared::plan::ActionOutcomes {
        after_services: vec![outcome],
        ..Default::default()
    });
    request
}

#[test]
fn a_cancelled_recovery_is_told_as_cancelled_whichever_step_met_the_cancel() {
    let mut request = request("recovery-notifier-failure.json");
    assert!(compose(&request, Utc::now()).subject.contains("recovery FAILED"));
    let mut dns = request.context.results.dns.clone().unwrap_or_else(|| {
        rebound_shared::context::StepResult::begin(
            rebound_shared::context::Step::DnsFailover,
            &request.context,
            Utc::now(),
        )
    });
    dns.status = StepStatus::Failed;
    dns.error = Some(rebound_shared::context::StateError {
        error: rebound_shared::error::CANCELLED.into(),
        cause: rebound_shared::control::cancelled_message("orders-1", &operator("a false alarm")),
    });
    request.context.results.dns = Some(dns);
    let note = compose(&request, Utc::now());
    assert!(
        note.subject.contains("recovery CANCELLED by an operator"),
        "{}",
        note.subject
    );
    assert!(note.text.contains("was cancelled by j.doe at "), "{}", note.text);
    assert!(note.text.contains("a false alarm"), "{}", note.text);
}

#[test]
fn a_reprotect_is_told_as_protected_again_or_as_a_failed_reprotect() {
    let mut done = request("recovery-notifier-success.json");
    done.context.path = rebound_shared::context::RecoveryPath::Reprotect;
    done.context.mode = rebound_shared::context::Mode::Failback;
    let note = compose(&done, Utc::now());
    assert_eq!(
        note.subject,
        "[Rebound] orders protected again: ready to fail back to us-east-1"
    );
    let mut failed = request("recovery-notifier-failure.json");
    failed.context.path = rebound_shared::context::RecoveryPath::Reprotect;
    let note = compose(&failed, Utc::now());
    assert!(note.subject.contains("orders reprotect FAILED: "), "{}", note.subject);
}
