//! Inputs that name no recovery never start one: with the primary's alarms in ALARM, `[]`, `{}`,
//! a string, a number, `null`, a bare dry run or a start without a reason end as
//! `Rebound.InvalidInput`, and moto shows nothing changed, leased, audited or published.

mod common;

use rebound::drill::TABLE;
use rebound_shared::table::RecoveryTable;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_that_name_no_recovery_are_refused_and_change_nothing() {
    // The disaster is real: a well-formed alarm event would fail the region over.
    let (stage, _alarm) = common::region_outage().await;
    let cases = [
        ("[]", "not an array"),
        ("{}", "name what to do"),
        ("\"failover\"", "not a string"),
        ("42", "not a number"),
        ("null", "not null"),
        ("{\"dryRun\": false, \"force\": true}", "name what to do"),
        ("{\"mode\": \"failover\"}", "reason: required"),
        ("{\"mode\": \"failover\", \"reason\": \"  \"}", "reason: required"),
    ];
    for (input, why) in cases {
        let out = common::finish(common::run(&stage, input, &[])).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{input}: {err}");
        let output: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{input}: {e}: {err}"));
        assert_eq!(output["Error"], "Rebound.InvalidInput", "{input}: {output}");
        let cause = output["Cause"].as_str().unwrap_or_default();
        assert!(cause.contains(why), "{input}: {cause}");
        assert!(!cause.contains("ResultPath"), "{input}: {cause}");
    }

    assert!(
        common::replica_still_a_replica(&stage).await,
        "the replica was not promoted"
    );
    let table = RecoveryTable::new(&stage.recovery, TABLE);
    assert_eq!(table.holder("orders", chrono::Utc::now()).await.expect("read"), None);
    assert_eq!(table.audit_records("orders").await.expect("audit").len(), 0);
    let messages = aws_sdk_sqs::Client::new(&stage.recovery)
        .receive_message()
        .queue_url(stage.queue_url())
        .max_number_of_messages(10)
        .send()
        .await
        .expect("receive");
    assert!(messages.messages().is_empty(), "nobody was notified: {messages:?}");
}
