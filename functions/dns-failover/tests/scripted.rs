//! What moto cannot produce: a server error half-way through the zones, scripted with
//! aws-smithy-mocks. It must surface as `Rebound.Transient` (the state machine retries, and the
//! retry finds the first zone already done).

use aws_sdk_route53::operation::change_resource_record_sets::ChangeResourceRecordSetsOutput;
use aws_sdk_route53::operation::list_resource_record_sets::ListResourceRecordSetsOutput;
use aws_sdk_route53::types::{ChangeInfo, ChangeStatus, ResourceRecord, ResourceRecordSet, RrType};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use chrono::Utc;
use dns_failover::DnsFailover;
use rebound_shared::ErrorKind;
use rebound_tests::event;
use serde_json::json;

fn cname(name: &str, value: &str) -> ResourceRecordSet {
    ResourceRecordSet::builder()
        .name(name)
        .r#type(RrType::Cname)
        .ttl(60)
        .resource_records(ResourceRecord::builder().value(value).build().expect("rr"))
        .build()
        .expect("rrs")
}

#[tokio::test]
async fn a_server_error_on_the_second_zone_is_transient_and_names_the_zone() {
    let list_a = mock!(aws_sdk_route53::Client::list_resource_record_sets)
        .match_requests(|r| r.hosted_zone_id() == Some("ZONEA"))
        .then_output(|| {
            ListResourceRecordSetsOutput::builder()
                .resource_record_sets(cname("api.orders.example.com.", "orders-api-use1.orders.example.com"))
                .is_truncated(false)
                .max_items(100)
                .build()
                .expect("output")
        });
    let list_b = mock!(aws_sdk_route53::Client::list_resource_record_sets)
        .match_requests(|r| r.hosted_zone_id() == Some("ZONEB"))
        .then_output(|| {
            ListResourceRecordSetsOutput::builder()
                .resource_record_sets(cname("api.orders.example.net.", "orders-api-use1.orders.example.net"))
                .is_truncated(false)
                .max_items(100)
                .build()
                .expect("output")
        });
    let change_a = mock!(aws_sdk_route53::Client::change_resource_record_sets)
        .match_requests(|r| r.hosted_zone_id() == Some("ZONEA"))
        .then_output(|| {
            ChangeResourceRecordSetsOutput::builder()
                .change_info(
                    ChangeInfo::builder()
                        .id("/change/C1")
                        .status(ChangeStatus::Pending)
                        .submitted_at(aws_smithy_types::DateTime::from_secs(0))
                        .build()
                        .expect("info"),
                )
                .build()
        });
    let change_b = mock!(aws_sdk_route53::Client::change_resource_record_sets)
        .match_requests(|r| r.hosted_zone_id() == Some("ZONEB"))
        .sequence()
        .http_status(503, None)
        .repeatedly()
        .build();
    let route53 = mock_client!(
        aws_sdk_route53,
        RuleMode::MatchAny,
        &[&list_a, &list_b, &change_a, &change_b]
    );

    let mut request = event("dns-failover.json");
    request["context"]["plan"]["dns"] = json!([
        {"hostedZoneId": "ZONEA", "name": "api.orders.example.com.", "type": "CNAME", "ttl": 60,
         "primary": {"values": ["orders-api-use1.orders.example.com"]}, "recovery": {"values": ["orders-api-usw2.orders.example.com"]}},
        {"hostedZoneId": "ZONEB", "name": "api.orders.example.net.", "type": "CNAME", "ttl": 60,
         "primary": {"values": ["orders-api-use1.orders.example.net"]}, "recovery": {"values": ["orders-api-usw2.orders.example.net"]}}
    ]);
    let err = scripted(route53)
        .handle(request, Utc::now())
        .await
        .expect_err("503 on the second zone");
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert!(err.to_string().starts_with("ZONEB"), "{err}");
    assert_eq!(change_a.num_calls(), 1, "the first zone's batch was sent once");
    assert!(change_b.num_calls() >= 1);
    let diagnostic: lambda_runtime::Diagnostic = err.into();
    assert_eq!(diagnostic.error_type, "Rebound.Transient");
}

/// Route 53 scripted; the alarms' client is never called by these plans.
fn scripted(route53: aws_sdk_route53::Client) -> DnsFailover {
    let unused = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
        .region(aws_sdk_cloudwatch::config::Region::new("us-west-2"))
        .build();
    DnsFailover {
        route53,
        cloudwatch: aws_sdk_cloudwatch::Client::from_conf(unused),
        // No zone of these plans is in another account: never called.
        roles: rebound_shared::accounts::Roles::new(
            &aws_config::SdkConfig::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-west-2"))
                .build(),
        ),
        cluster: rebound_shared::dns::cluster::Cluster::Clients(Vec::new()),
    }
}
