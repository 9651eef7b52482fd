//! Permissions to act, asked of IAM's SimulatePrincipalPolicy, which moto does not serve: its
//! answers are scripted with aws-smithy-mocks, and the tests check what was asked.

use aws_sdk_iam::operation::simulate_principal_policy::{SimulatePrincipalPolicyError, SimulatePrincipalPolicyOutput};
use aws_sdk_iam::types::{EvaluationResult, PolicyEvaluationDecisionType};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::error::ErrorMetadata;
use rebound_shared::RecoveryContext;
use rebound_tests::event;
use recovery_validator::permissions::{needed, parse_roles, Permissions};

const DNS_ROLE: &str = "arn:aws:iam::123456789012:role/rebound-orders-DnsFailoverFunctionRole-1AB2";
const SERVICES_ROLE: &str = "arn:aws:iam::123456789012:role/rebound-orders-ServiceRestorationFunctionRole-3CD4";

fn context() -> RecoveryContext {
    serde_json::from_value(event("recovery-validator.json")["context"].clone()).expect("context")
}

fn answer(action: &str, decision: PolicyEvaluationDecisionType) -> Rule {
    let action = action.to_string();
    let matched = action.clone();
    mock!(aws_sdk_iam::Client::simulate_principal_policy)
        .match_requests(move |r| r.action_names() == [matched.as_str()])
        .then_output(move || {
            let mut out = SimulatePrincipalPolicyOutput::builder().is_truncated(false);
            let resources = if action == "ecs:UpdateService" {
                vec![
                    "arn:aws:ecs:us-west-2:123456789012:service/orders-usw2/orders-api",
                    "arn:aws:ecs:us-west-2:123456789012:service/orders-usw2/orders-worker",
                ]
            } else {
                vec!["arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"]
            };
            for resource in resources {
                out = out.evaluation_results(
                    EvaluationResult::builder()
                        .eval_action_name(action.clone())
                        .eval_resource_name(resource)
                        .eval_decision(decision.clone())
                        .build()
                        .expect("result"),
                );
            }
            out.build()
        })
}

fn permissions(rules: &[&Rule]) -> Permissions {
    let iam = mock_client!(aws_sdk_iam, RuleMode::MatchAny, rules);
    Permissions {
        iam,
        roles: parse_roles(&format!("dns-failover={DNS_ROLE}, service-restoration={SERVICES_ROLE}")).expect("roles"),
    }
}

#[test]
fn each_function_needs_the_changes_this_plan_makes() {
    let ctx = context();
    let dns = needed("dns-failover", &ctx, "aws", "123456789012");
    assert!(dns.contains(&(
        "route53:ChangeResourceRecordSets",
        "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ".to_string()
    )));
    assert!(dns.iter().any(|(a, _)| *a == "route53:UpdateHealthCheck"));
    assert_eq!(
        needed("database-failover", &ctx, "aws", "123456789012"),
        vec![(
            "rds:PromoteReadReplica",
            "arn:aws:rds:us-west-2:123456789012:db:orders-db-usw2".to_string()
        )]
    );
    // A multi-Region cluster is only read, and the step stops without that read.
    let mut caches = ctx.clone();
    caches.plan.multi_region_clusters = serde_json::from_value(serde_json::json!([{
        "multiRegionClusterName": "ldgnf-orders", "primaryClusterName": "orders-use1",
        "recoveryClusterName": "orders-usw2"
    }]))
    .expect("clusters");
    assert!(needed("database-failover", &caches, "aws", "123456789012").contains(&(
        "memorydb:DescribeMultiRegionClusters",
        "arn:aws:memorydb::123456789012:multiregioncluster/ldgnf-orders".to_string()
    )));
    let services = needed("service-restoration", &ctx, "aws", "123456789012");
    assert!(services.contains(&(
        "autoscaling:UpdateAutoScalingGroup",
        "arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:*:autoScalingGroupName/orders-web-usw2"
            .to_string()
    )));
    // A service restore needs nothing of DNS or databases.
    let mut restore = ctx.clone();
    restore.path = rebound_shared::context::RecoveryPath::ServiceRestore;
    restore.event.affected_services = vec!["orders-worker".into()];
    assert!(needed("dns-failover", &restore, "aws", "123456789012").is_empty());
    assert_eq!(needed("service-restoration", &restore, "aws", "123456789012").len(), 1);
}

#[test]
fn data_plane_dns_modes_need_their_own_actions() {
    let mut ctx = context();
    let plan: serde_json::Value = serde_json::json!({
        "dns": [
            {"hostedZoneId": "Z1", "name": "api.orders.example.com.", "type": "CNAME", "mode": "routingControl",
             "primaryRoutingControlArn": "arn:aws:route53-recovery-control::123456789012:controlpanel/cp/routingcontrol/use1",
             "recoveryRoutingControlArn": "arn:aws:route53-recovery-control::123456789012:controlpanel/cp/routingcontrol/usw2"},
            {"hostedZoneId": "Z1", "name": "pay.orders.example.com.", "type": "A", "mode": "alarmHealthCheck",
             "alarmName": "orders-primary-gate", "healthCheckId": "hc-1"}
        ]
    });
    ctx.plan.dns = serde_json::from_value(plan["dns"].clone()).expect("records");
    let dns = needed("dns-failover", &ctx, "aws", "123456789012");
    assert_eq!(
        dns,
        vec![
            ("cloudwatch:PutMetricData", "*".to_string()),
            (
                "cloudwatch:SetAlarmState",
                "arn:aws:cloudwatch:us-west-2:123456789012:alarm:orders-primary-gate".to_string()
            ),
            (
                "route53-recovery-cluster:UpdateRoutingControlStates",
                "arn:aws:route53-recovery-control::123456789012:controlpanel/cp/routingcontrol/use1".to_string()
            ),
            (
                "route53-recovery-cluster:UpdateRoutingControlStates",
                "arn:aws:route53-recovery-control::123456789012:controlpanel/cp/routingcontrol/usw2".to_string()
            ),
        ]
    );
}

#[test]
fn acting_roles_are_read_strictly() {
    assert!(parse_roles("dns-failover=arn:aws:iam::123456789012:role/x").is_ok());
    let err = parse_roles("dns=arn:aws:iam::123456789012:role/x").expect_err("unknown function");
    assert!(err.contains("unknown function 'dns'"), "{err}");
    let err = parse_roles("dns-failover=arn:aws:s3:::bucket").expect_err("not a role");
    assert!(err.contains("not an IAM role ARN"), "{err}");
    let err = parse_roles("dns-failover").expect_err("no role");
    assert!(err.contains("FUNCTION=ROLE_ARN"), "{err}");
}

#[tokio::test]
async fn a_denied_action_is_named_with_its_resource() {
    let zone = answer(
        "route53:ChangeResourceRecordSets",
        PolicyEvaluationDecisionType::Allowed,
    );
    let health = answer("route53:UpdateHealthCheck", PolicyEvaluationDecisionType::Allowed);
    let scale_asg = answer(
        "autoscaling:UpdateAutoScalingGroup",
        PolicyEvaluationDecisionType::Allowed,
    );
    let scale_ecs = answer("ecs:UpdateService", PolicyEvaluationDecisionType::ImplicitDeny);
    let checks = permissions(&[&zone, &health, &scale_asg, &scale_ecs])
        .checks(&context(), true)
        .await;
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[0].name, "permissions: dns-failover");
    assert!(checks[0].passed, "{}", checks[0].detail);
    assert_eq!(checks[1].name, "permissions: service-restoration");
    assert!(!checks[1].passed);
    assert!(
        checks[1].detail.contains(
            "is denied ecs:UpdateService on arn:aws:ecs:us-west-2:123456789012:service/orders-usw2/orders-api (implicitDeny)"
        ),
        "{}",
        checks[1].detail
    );
    // Asked once per action, with every resource of that action.
    assert_eq!(scale_ecs.num_calls(), 1);
    assert_eq!(zone.num_calls(), 1);
}

#[tokio::test]
async fn iam_out_of_reach_fails_a_scheduled_check_and_only_warns_before_a_failover() {
    let down = mock!(aws_sdk_iam::Client::simulate_principal_policy).then_error(|| {
        SimulatePrincipalPolicyError::generic(
            ErrorMetadata::builder()
                .code("ServiceUnavailable")
                .message("IAM is unavailable")
                .build(),
        )
    });
    let scheduled = permissions(&[&down]).checks(&context(), true).await;
    assert!(scheduled.iter().all(|c| !c.passed && !c.unknown), "{scheduled:?}");
    assert!(
        scheduled[0].detail.contains("could not ask IAM"),
        "{}",
        scheduled[0].detail
    );
    let failover = permissions(&[&down]).checks(&context(), false).await;
    assert!(
        // Unknown, not passed: IAM's control plane may be what is down, so it does not block.
        failover
            .iter()
            .all(|c| !c.passed && c.unknown && c.detail.starts_with("WARNING: ")),
        "{failover:?}"
    );
}

#[test]
fn a_zone_in_another_account_needs_only_its_role_assumed() {
    let mut ctx = context();
    ctx.plan.accounts.insert(
        "network".into(),
        serde_json::from_value(serde_json::json!({"roleArn": "arn:aws:iam::222222222222:role/rebound-dns"}))
            .expect("account"),
    );
    let zone = ctx.plan.dns[0].hosted_zone_id.clone();
    for record in ctx.plan.dns.iter_mut().filter(|r| r.hosted_zone_id == zone) {
        record.account = Some("network".into());
    }
    let dns = needed("dns-failover", &ctx, "aws", "123456789012");
    assert!(dns.contains(&(
        "sts:AssumeRole",
        "arn:aws:iam::222222222222:role/rebound-dns".to_string()
    )));
    assert!(
        !dns.iter()
            .any(|(_, resource)| resource == &format!("arn:aws:route53:::hostedzone/{zone}")),
        "the other account's grants are its own: {dns:?}"
    );
    // A CNAME writer endpoint in that zone: database-failover assumes the role too.
    let database = ctx.plan.databases[0].identifier().to_string();
    ctx.plan.writer_endpoints = serde_json::from_value(serde_json::json!([
        {"kind": "cname", "database": database, "hostedZoneId": zone, "name": "db.orders.example.com.",
         "ttl": 60, "account": "network"}
    ]))
    .expect("endpoints");
    let databases = needed("database-failover", &ctx, "aws", "123456789012");
    assert!(
        databases.contains(&(
            "sts:AssumeRole",
            "arn:aws:iam::222222222222:role/rebound-dns".to_string()
        )),
        "{databases:?}"
    );
}

#[test]
fn a_service_in_another_account_needs_only_its_role_assumed() {
    let mut ctx = context();
    let role = "arn:aws:iam::222222222222:role/rebound-services";
    ctx.plan.accounts.insert(
        "apps".into(),
        serde_json::from_value(serde_json::json!({ "roleArn": role })).expect("account"),
    );
    let mut own = serde_json::to_value(&ctx.plan.services[0]).expect("service");
    own["service"] = serde_json::json!("orders-own");
    let mut other = own.clone();
    other["service"] = serde_json::json!("orders-apps");
    other["account"] = serde_json::json!("apps");
    ctx.plan.services = serde_json::from_value(serde_json::json!([own, other])).expect("services");
    let needs = needed("service-restoration", &ctx, "aws", "123456789012");
    assert!(needs.contains(&("sts:AssumeRole", role.to_string())), "{needs:?}");
    assert!(
        needs
            .iter()
            .any(|(_, resource)| resource.ends_with("service/orders-usw2/orders-own")),
        "{needs:?}"
    );
    assert!(
        !needs.iter().any(|(_, resource)| resource.ends_with("orders-apps")),
        "the other account's grants are its own: {needs:?}"
    );
}

#[test]
fn a_database_in_another_account_needs_only_its_role_assumed() {
    let mut ctx = context();
    let role = "arn:aws:iam::222222222222:role/rebound-data";
    ctx.plan.accounts.insert(
        "data".into(),
        serde_json::from_value(serde_json::json!({ "roleArn": role })).expect("account"),
    );
    let mut database = serde_json::to_value(&ctx.plan.databases[0]).expect("database");
    database["account"] = serde_json::json!("data");
    let id = ctx.plan.databases[0].identifier().to_string();
    ctx.plan.databases = vec![serde_json::from_value(database).expect("database")];
    let needs = needed("database-failover", &ctx, "aws", "123456789012");
    assert!(needs.contains(&("sts:AssumeRole", role.to_string())), "{needs:?}");
    assert!(
        !needs
            .iter()
            .any(|(action, resource)| action.starts_with("rds:") && resource.ends_with(&id)),
        "the other account's grants are its own: {needs:?}"
    );
}

#[test]
fn a_parameter_or_a_mapping_in_another_account_needs_only_its_role_assumed() {
    let mut ctx = context();
    let role = "arn:aws:iam::222222222222:role/rebound-apps";
    ctx.plan.accounts.insert(
        "apps".into(),
        serde_json::from_value(serde_json::json!({ "roleArn": role })).expect("account"),
    );
    let database = ctx.plan.databases[0].identifier().to_string();
    ctx.plan.writer_endpoints = serde_json::from_value(serde_json::json!([
        {"kind": "ssmParameter", "database": database, "name": "/orders/db/host", "account": "apps"},
        {"kind": "secret", "database": database, "secretId": "orders/db"},
    ]))
    .expect("endpoints");
    let needs = needed("database-failover", &ctx, "aws", "123456789012");
    assert!(needs.contains(&("sts:AssumeRole", role.to_string())), "{needs:?}");
    assert!(
        !needs.iter().any(|(action, _)| *action == "ssm:PutParameter"),
        "the other account's grants are its own: {needs:?}"
    );
    assert!(
        needs
            .iter()
            .any(|(action, _)| *action == "secretsmanager:PutSecretValue"),
        "Rebound's own secret: {needs:?}"
    );

    ctx.plan.event_source_mappings = serde_json::from_value(serde_json::json!([
        {"primaryUuid": "6e1f0a36-8c1b-4f55-9d2a-0c7a3e5b9f10", "recoveryUuid": "0b6c8a7d-2e4f-4a1b-8c3d-5e6f7a8b9c0d",
         "account": "apps"}
    ]))
    .expect("mappings");
    let needs = needed("service-restoration", &ctx, "aws", "123456789012");
    assert!(needs.contains(&("sts:AssumeRole", role.to_string())), "{needs:?}");
    assert!(
        !needs
            .iter()
            .any(|(action, _)| *action == "lambda:UpdateEventSourceMapping"),
        "the other account's grants are its own: {needs:?}"
    );
}
