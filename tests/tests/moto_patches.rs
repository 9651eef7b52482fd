//! Each patch in tests/moto/launcher.py, shown against moto as released and as patched.

use aws_sdk_rds::Client;
use rebound_tests::MotoServer;

async fn promote_cross_region_replica(moto: &MotoServer) -> (Option<String>, Vec<String>) {
    let east = Client::new(&moto.config("us-east-1"));
    let west = Client::new(&moto.config("us-west-2"));
    let primary = east
        .create_db_instance()
        .db_instance_identifier("orders-db")
        .engine("postgres")
        .db_instance_class("db.t3.micro")
        .allocated_storage(20)
        .master_username("orders")
        .master_user_password("not-a-secret-1")
        .send()
        .await
        .expect("CreateDBInstance");
    let arn = primary.db_instance().and_then(|d| d.db_instance_arn()).expect("arn").to_string();
    west.create_db_instance_read_replica()
        .db_instance_identifier("orders-db-usw2")
        .source_db_instance_identifier(&arn)
        .db_instance_class("db.t3.micro")
        .send()
        .await
        .expect("CreateDBInstanceReadReplica");
    west.promote_read_replica().db_instance_identifier("orders-db-usw2").send().await.expect("PromoteReadReplica");
    let replica = west.describe_db_instances().db_instance_identifier("orders-db-usw2").send().await.expect("describe");
    let source = replica.db_instances()[0].read_replica_source_db_instance_identifier().map(str::to_string);
    let primary = east.describe_db_instances().db_instance_identifier("orders-db").send().await.expect("describe");
    (source, primary.db_instances()[0].read_replica_db_instance_identifiers().to_vec())
}

#[tokio::test]
async fn a_promoted_cross_region_replica_is_no_longer_a_replica() {
    let released = MotoServer::start_unpatched().unwrap_or_else(|e| panic!("{e}"));
    let (source, replicas) = promote_cross_region_replica(&released).await;
    assert!(source.is_some(), "moto as released keeps the source (the gap the launcher patches)");
    assert_eq!(replicas.len(), 1);

    let patched = MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let (source, replicas) = promote_cross_region_replica(&patched).await;
    assert_eq!(source, None);
    assert!(replicas.is_empty(), "{replicas:?}");
}
