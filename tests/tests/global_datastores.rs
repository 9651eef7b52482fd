//! The launcher's ElastiCache global datastores (tests/harness/moto/global_datastores.py):
//! moto as released serves none; patched, a failover is `modifying` for its time, refuses a
//! second call meanwhile, then swaps the members' roles in both regions.

use aws_sdk_elasticache::error::ProvideErrorMetadata;
use rebound_tests::{held, seed, wait, MotoServer};
use serde_json::json;

async fn fail_over(moto: &MotoServer, id: &str, region: &str, group: &str) -> Result<String, String> {
    aws_sdk_elasticache::Client::new(&moto.config("us-west-2"))
        .failover_global_replication_group()
        .global_replication_group_id(id)
        .primary_region(region)
        .primary_replication_group_id(group)
        .send()
        .await
        .map(|out| {
            out.global_replication_group()
                .and_then(|g| g.status())
                .unwrap_or_default()
                .to_string()
        })
        .map_err(|e| e.code().unwrap_or("no code").to_string())
}

fn members(primary: &str, secondary: &str) -> Vec<(String, String, String)> {
    vec![
        ("sessions-use1".into(), "us-east-1".into(), primary.into()),
        ("sessions-usw2".into(), "us-west-2".into(), secondary.into()),
    ]
}

#[tokio::test]
async fn a_global_datastore_fails_over_in_its_time_and_swaps_the_roles() {
    // As released: moto has no global datastores at all.
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    let seeded = seed::cache_global_datastore(
        &released.config("us-east-1"),
        &released.config("us-west-2"),
        "sessions",
        ("sessions-use1", "sessions-usw2"),
    )
    .await;
    assert!(
        seeded
            .as_ref()
            .is_err_and(|e| e.contains("CreateGlobalReplicationGroup")),
        "{seeded:?}"
    );

    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    moto.set_durations(&json!({"FailoverGlobalReplicationGroup": 1.0}))
        .expect("durations");
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let id = seed::cache_global_datastore(&east, &west, "sessions", ("sessions-use1", "sessions-usw2"))
        .await
        .expect("seeded");
    // The region's prefix, as AWS names it.
    assert_eq!(id, "ldgnf-sessions");
    // A global resource: the same from either region.
    let both = ("available".to_string(), members("PRIMARY", "SECONDARY"));
    assert_eq!(held::global_datastore(&west, &id).await, Some(both.clone()));
    assert_eq!(held::global_datastore(&east, &id).await, Some(both));
    assert_eq!(
        fail_over(&moto, &id, "us-east-1", "sessions-use1").await,
        Err("InvalidParameterValue".into()),
        "the primary is not promoted"
    );
    assert_eq!(
        fail_over(&moto, "ldgnf-nothing", "us-west-2", "sessions-usw2").await,
        Err("GlobalReplicationGroupNotFoundFault".into())
    );

    assert_eq!(
        fail_over(&moto, &id, "us-west-2", "sessions-usw2").await,
        Ok("modifying".into())
    );
    // Meanwhile the old primary is still the primary, and a second call is refused.
    assert_eq!(
        held::global_datastore(&west, &id).await,
        Some(("modifying".into(), members("PRIMARY", "SECONDARY")))
    );
    assert_eq!(
        fail_over(&moto, &id, "us-west-2", "sessions-usw2").await,
        Err("InvalidGlobalReplicationGroupState".into())
    );
    wait::until("the failover's end", || async {
        let now = held::global_datastore(&west, &id).await;
        (now == Some(("available".into(), members("SECONDARY", "PRIMARY")))).then_some(())
    })
    .await;
    // Each region's replication group says its new role too.
    let role = |config| async move {
        let out = aws_sdk_elasticache::Client::new(config)
            .describe_replication_groups()
            .send()
            .await
            .expect("describe");
        out.replication_groups()[0]
            .global_replication_group_info()
            .and_then(|i| i.global_replication_group_member_role())
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(role(&west).await, "PRIMARY");
    assert_eq!(role(&east).await, "SECONDARY");
}
