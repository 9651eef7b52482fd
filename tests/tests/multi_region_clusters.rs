//! The launcher's MemoryDB multi-Region clusters (tests/harness/moto/multi_region_clusters.py):
//! moto as released serves none; patched, a multi-Region cluster is named with its region's
//! prefix, takes one regional cluster per region, and shows each with its own region's status.

use aws_sdk_memorydb::error::ProvideErrorMetadata;
use rebound_tests::{held, seed, MotoServer};

#[tokio::test]
async fn a_multi_region_cluster_holds_one_regional_cluster_per_region() {
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    let seeded = seed::memorydb_multi_region_cluster(
        &released.config("us-east-1"),
        &released.config("us-west-2"),
        "orders",
        ("orders-use1", "orders-usw2"),
    )
    .await;
    assert!(
        seeded.as_ref().is_err_and(|e| e.contains("CreateMultiRegionCluster")),
        "{seeded:?}"
    );

    let moto = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (east, west) = (moto.config("us-east-1"), moto.config("us-west-2"));
    let name = seed::memorydb_multi_region_cluster(&east, &west, "orders", ("orders-use1", "orders-usw2"))
        .await
        .expect("seeded");
    // The region's prefix, as AWS names it.
    assert_eq!(name, "ldgnf-orders");
    let both = (
        "available".to_string(),
        vec![
            ("orders-use1".into(), "us-east-1".into(), "available".into()),
            ("orders-usw2".into(), "us-west-2".into(), "available".into()),
        ],
    );
    // A global resource: the same from either region.
    assert_eq!(held::multi_region_cluster(&west, &name).await, Some(both.clone()));
    assert_eq!(held::multi_region_cluster(&east, &name).await, Some(both));
    // The regional cluster names it.
    let regional = aws_sdk_memorydb::Client::new(&west)
        .describe_clusters()
        .cluster_name("orders-usw2")
        .send()
        .await
        .expect("regional cluster");
    assert_eq!(regional.clusters()[0].multi_region_cluster_name(), Some(name.as_str()));
    // A second regional cluster in one region, and a name MemoryDB does not know, are refused.
    let again = aws_sdk_memorydb::Client::new(&west)
        .create_cluster()
        .cluster_name("orders-usw2-b")
        .node_type("db.r7g.xlarge")
        .acl_name("open-access")
        .multi_region_cluster_name(&name)
        .send()
        .await
        .map_err(|e| e.code().unwrap_or_default().to_string());
    assert_eq!(again.err().as_deref(), Some("InvalidParameterValueException"));
    let unknown = aws_sdk_memorydb::Client::new(&west)
        .describe_multi_region_clusters()
        .multi_region_cluster_name("ldgnf-nothing")
        .send()
        .await
        .map_err(|e| e.code().unwrap_or_default().to_string());
    assert_eq!(unknown.err().as_deref(), Some("MultiRegionClusterNotFoundFault"));
}
