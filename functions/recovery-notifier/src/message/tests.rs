use super::*;

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
