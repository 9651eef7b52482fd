//! The harness itself: moto starts on a free port, the Rust SDK talks to it, state is private.

use rebound_tests::{HarnessError, MotoServer};

fn moto() -> MotoServer {
    MotoServer::start().unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_route53_zone_created_through_the_sdk_reads_back() {
    let moto = moto();
    let route53 = aws_sdk_route53::Client::new(&moto.config("us-east-1"));
    let created = route53
        .create_hosted_zone()
        .name("orders.example.com")
        .caller_reference("harness-test")
        .send()
        .await
        .expect("CreateHostedZone");
    let id = created.hosted_zone().map(|z| z.id().to_string()).expect("zone id");
    let zone = route53.get_hosted_zone().id(&id).send().await.expect("GetHostedZone");
    assert_eq!(zone.hosted_zone().map(|z| z.name()), Some("orders.example.com."));
    let listed = route53.list_hosted_zones().send().await.expect("ListHostedZones");
    assert_eq!(listed.hosted_zones().len(), 1);
}

#[tokio::test]
async fn servers_do_not_share_state_and_reset_clears_it() {
    let first = moto();
    let second = moto();
    assert_ne!(first.port(), second.port());
    let sns = aws_sdk_sns::Client::new(&first.config("us-west-2"));
    sns.create_topic()
        .name("rebound-orders")
        .send()
        .await
        .expect("CreateTopic");
    let in_first = sns.list_topics().send().await.expect("ListTopics").topics().len();
    let other = aws_sdk_sns::Client::new(&second.config("us-west-2"));
    let in_second = other.list_topics().send().await.expect("ListTopics").topics().len();
    assert_eq!((in_first, in_second), (1, 0));
    first.reset().expect("reset");
    assert_eq!(sns.list_topics().send().await.expect("ListTopics").topics().len(), 0);
}

#[test]
fn a_missing_moto_server_says_how_to_install_it() {
    let err = MotoServer::start_program(std::path::Path::new("/nonexistent/moto_server"))
        .err()
        .expect("cannot start");
    assert!(matches!(err, HarnessError::Spawn { .. }), "{err}");
    assert!(err.to_string().contains("pip install 'moto[server]==5.2.5'"), "{err}");
}
