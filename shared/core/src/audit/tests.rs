use super::*;

fn plan(primary: &str, mode: &str) -> RecoveryPlan {
    let mut plan: serde_json::Value =
        serde_json::from_str(include_str!("../../../../examples/plan.json")).expect("example plan");
    plan["primaryRegion"] = serde_json::json!(primary);
    plan["acknowledgedDependencies"] = serde_json::json!([]);
    for record in plan["dns"].as_array_mut().into_iter().flatten() {
        record["mode"] = serde_json::json!(mode);
    }
    serde_json::from_value(plan).expect("plan")
}

#[test]
fn a_us_east_1_primary_flags_the_route53_and_iam_control_planes() {
    let deps = failover_dependencies(&plan("us-east-1", "upsert"));
    let flagged: Vec<&str> = deps.iter().filter(|d| d.flagged).map(|d| d.operation).collect();
    for op in [
        "route53:ChangeResourceRecordSets",
        "route53:ListResourceRecordSets",
        "iam:SimulatePrincipalPolicy",
    ] {
        assert!(flagged.contains(&op), "{op} in {flagged:?}");
    }
    // The promotion and the services live in the recovery region.
    for op in ["rds:PromoteReadReplica", "ecs:UpdateService", "sns:Publish"] {
        assert!(!flagged.contains(&op), "{op} in {flagged:?}");
    }
    // Fencing and re-reading alarms in the primary are flagged, but best effort.
    let fence = deps
        .iter()
        .find(|d| d.operation == "rds:ModifyDBParameterGroup")
        .expect("fence");
    assert!(fence.flagged && !fence.blocking);
}

#[test]
fn another_primary_region_leaves_route53_unflagged_and_acknowledgements_close_flags() {
    let mut p = plan("eu-west-1", "healthCheckInversion");
    let deps = failover_dependencies(&p);
    let check = deps
        .iter()
        .find(|d| d.operation == "route53:UpdateHealthCheck")
        .expect("health check");
    assert_eq!((check.region.as_str(), check.flagged), ("us-east-1", false));
    assert!(deps.iter().all(|d| d.operation != "route53:ChangeResourceRecordSets"));

    let mut q = plan("us-east-1", "upsert");
    assert!(!open_flags(&q, "us-west-2").is_empty());
    q.acknowledged_dependencies = failover_dependencies(&q)
        .iter()
        .filter(|d| d.flagged)
        .map(|d| d.operation.to_string())
        .collect();
    assert_eq!(open_flags(&q, "us-west-2"), Vec::<String>::new());
    p.acknowledged_dependencies = vec!["route53:UpdateHealthCheck".into()];
    assert!(failover_dependencies(&p).iter().any(|d| d.acknowledged));
}

fn data_plane_plan(cluster_regions: &[&str]) -> RecoveryPlan {
    let mut plan: serde_json::Value =
        serde_json::from_str(include_str!("../../../../examples/plan.json")).expect("example plan");
    plan["acknowledgedDependencies"] = serde_json::json!([]);
    plan["validation"]["probes"] = serde_json::json!([]);
    let endpoints: Vec<serde_json::Value> = cluster_regions
        .iter()
        .map(|r| serde_json::json!({"region": r, "url": format!("https://host.{r}.example.com/v1")}))
        .collect();
    plan["routingControlCluster"] = serde_json::json!({ "endpoints": endpoints });
    plan["dns"] = serde_json::json!([
        {"hostedZoneId": "Z1", "name": "api.orders.example.com.", "type": "CNAME", "mode": "routingControl",
         "primaryRoutingControlArn": "arn:aws:route53-recovery-control::111122223333:controlpanel/cp/routingcontrol/a",
         "recoveryRoutingControlArn": "arn:aws:route53-recovery-control::111122223333:controlpanel/cp/routingcontrol/b"},
        {"hostedZoneId": "Z1", "name": "pay.orders.example.com.", "type": "A", "mode": "alarmHealthCheck",
         "alarmName": "orders-primary-gate", "healthCheckId": "hc-1"}
    ]);
    RecoveryPlan::from_value(&plan).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn data_plane_dns_modes_fail_over_without_route53s_control_plane() {
    let deps = failover_dependencies(&data_plane_plan(&["us-west-2", "eu-west-1", "us-east-1"]));
    let dns: Vec<(&str, &str, bool)> = deps
        .iter()
        .filter(|d| d.step == "StartDnsFailover")
        .map(|d| (d.operation, d.region.as_str(), d.flagged))
        .collect();
    assert_eq!(
        dns,
        vec![
            (
                "route53-recovery-cluster:GetRoutingControlState",
                "us-west-2 or eu-west-1 or us-east-1",
                false
            ),
            (
                "route53-recovery-cluster:UpdateRoutingControlStates",
                "us-west-2 or eu-west-1 or us-east-1",
                false
            ),
            ("cloudwatch:DescribeAlarms", "us-west-2", false),
            ("cloudwatch:PutMetricData", "us-west-2", false),
            ("cloudwatch:SetAlarmState", "us-west-2", false),
        ]
    );
    // Route 53 is read only to check the alarm's wiring beforehand, best effort.
    let route53: Vec<&Dependency> = deps.iter().filter(|d| d.operation.starts_with("route53:")).collect();
    assert_eq!(route53.len(), 1, "{route53:?}");
    assert_eq!(
        (route53[0].operation, route53[0].blocking),
        ("route53:GetHealthCheck", false)
    );
}

#[test]
fn a_cluster_whose_every_endpoint_is_in_the_primary_is_flagged() {
    let deps = failover_dependencies(&data_plane_plan(&["us-east-1"]));
    let update = deps
        .iter()
        .find(|d| d.operation == "route53-recovery-cluster:UpdateRoutingControlStates")
        .expect("update");
    assert!(update.flagged && update.blocking, "{update:?}");
}

#[test]
fn writer_endpoints_depend_on_where_they_live() {
    let mut p = plan("us-east-1", "routingControl");
    let db = p.databases[0].identifier().to_string();
    p.writer_endpoints = serde_json::from_value(serde_json::json!([
        {"kind": "ssmParameter", "database": db, "name": "/orders/db/host"},
        {"kind": "secret", "database": db, "secretId": "orders/db", "region": "us-east-1"},
        {"kind": "cname", "database": db, "hostedZoneId": "Z1", "name": "db.orders.example.com.", "ttl": 60}
    ]))
    .expect("endpoints");
    let deps = failover_dependencies(&p);
    let dep = |op: &str| {
        deps.iter()
            .find(|d| d.step == "CheckDatabaseFailover" && d.operation == op)
            .unwrap_or_else(|| panic!("{op} in {deps:?}"))
    };
    // In the recovery region by default: not flagged.
    assert_eq!(dep("ssm:PutParameter").region, "us-west-2");
    assert!(!dep("ssm:PutParameter").flagged);
    // A secret the plan keeps in the primary region, and Route 53's control plane homed in
    // us-east-1, both depend on the failed region.
    assert!(dep("secretsmanager:PutSecretValue").flagged);
    let cname = dep("route53:ChangeResourceRecordSets");
    assert!(cname.flagged && cname.blocking, "{cname:?}");
}

#[test]
fn a_consumer_in_the_primary_is_turned_off_best_effort() {
    let mut p = plan("us-east-1", "routingControl");
    p.event_source_mappings = serde_json::from_value(serde_json::json!([
        {"primaryUuid": "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "recoveryUuid": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"}
    ]))
    .expect("mappings");
    let deps = failover_dependencies(&p);
    let update = |region: &str| {
        deps.iter()
            .find(|d| d.operation == "lambda:UpdateEventSourceMapping" && d.region == region)
            .unwrap_or_else(|| panic!("{region} in {deps:?}"))
    };
    assert!(update("us-east-1").flagged && !update("us-east-1").blocking);
    assert!(!update("us-west-2").flagged && update("us-west-2").blocking);
}

#[test]
fn a_multi_region_cluster_is_read_in_the_recovery_region_only() {
    let mut p = plan("us-east-1", "routingControl");
    p.multi_region_clusters = serde_json::from_value(serde_json::json!([
        {"multiRegionClusterName": "ldgnf-orders", "primaryClusterName": "orders-use1", "recoveryClusterName": "orders-usw2"}
    ]))
    .expect("clusters");
    let deps = failover_dependencies(&p);
    let memorydb: Vec<_> = deps.iter().filter(|d| d.operation.starts_with("memorydb:")).collect();
    assert_eq!(memorydb.len(), 3, "{memorydb:?}");
    assert!(
        memorydb.iter().all(|d| d.region == "us-west-2" && !d.flagged),
        "{memorydb:?}"
    );
    assert!(deps.iter().any(|d| d.step == "StartDatabaseFailover"
        && d.operation == "cloudwatch:ListMetrics"
        && d.region == "us-west-2"));
}

#[test]
fn a_documentdb_global_database_is_fenced_on_the_network_only_and_its_lag_listed() {
    let global = |engine: &str| {
        let mut p = plan("us-east-1", "routingControl");
        p.databases = serde_json::from_value(serde_json::json!([
            {"kind": "auroraGlobal", "engine": engine, "identifier": "docs-global",
             "targetClusterArn": "arn:aws:rds:us-west-2:123456789012:cluster:docs-usw2",
             "isolationSecurityGroupId": "sg-0bbbbbbbbbbbbbbbb"}
        ]))
        .expect("databases");
        p.writer_endpoints.clear();
        failover_dependencies(&p)
    };
    let has = |deps: &[Dependency], operation: &str| deps.iter().any(|d| d.operation == operation);
    let (aurora, docdb) = (global("aurora"), global("docdb"));
    assert!(has(&aurora, "rds:ModifyDBClusterParameterGroup"));
    assert!(
        !has(&docdb, "rds:ModifyDBClusterParameterGroup"),
        "no read-only parameter"
    );
    assert!(has(&docdb, "rds:ModifyDBCluster") && has(&docdb, "rds:FailoverGlobalCluster"));
    assert!(docdb
        .iter()
        .any(|d| d.operation == "cloudwatch:ListMetrics" && d.region == "us-west-2"));
    assert!(!has(&aurora, "cloudwatch:ListMetrics"));
}

#[test]
fn a_zone_in_another_account_depends_on_sts_in_the_recovery_region() {
    let mut p = plan("us-east-1", "upsert");
    let none = failover_dependencies(&p);
    assert!(none.iter().all(|d| d.operation != "sts:AssumeRole"), "{none:?}");
    p.accounts.insert(
        "network".into(),
        serde_json::from_value(serde_json::json!({"roleArn": "arn:aws:iam::222222222222:role/rebound-dns"}))
            .expect("account"),
    );
    p.dns[0].account = Some("network".into());
    let deps = failover_dependencies(&p);
    let sts: Vec<_> = deps.iter().filter(|d| d.operation == "sts:AssumeRole").collect();
    assert_eq!(sts.len(), 3, "{sts:?}");
    assert!(sts.iter().all(|d| d.region == "us-west-2" && !d.flagged), "{sts:?}");

    // A CNAME writer endpoint in that account's zone: the database step assumes it too.
    p.dns[0].account = None;
    p.writer_endpoints = serde_json::from_value(serde_json::json!([
        {"kind": "cname", "database": p.databases[0].identifier(), "hostedZoneId": "Z0OTHERZONE",
         "name": "db.orders.example.com.", "ttl": 60, "account": "network"}
    ]))
    .expect("endpoints");
    let mut phases: Vec<&str> = failover_dependencies(&p)
        .into_iter()
        .filter(|d| d.operation == "sts:AssumeRole")
        .map(|d| d.step)
        .collect();
    phases.sort_unstable();
    let every = [
        "CheckDatabaseFailover",
        "DryRunSteps",
        "StartDatabaseFailover",
        "ValidateRecovery",
    ];
    assert_eq!(phases, every, "{phases:?}");

    // A parameter in that account: the same phases read or point it as the role.
    p.writer_endpoints = serde_json::from_value(serde_json::json!([
        {"kind": "ssmParameter", "database": p.databases[0].identifier(), "name": "/orders/db/host",
         "account": "network"}
    ]))
    .expect("endpoints");
    let mut phases: Vec<&str> = failover_dependencies(&p)
        .into_iter()
        .filter(|d| d.operation == "sts:AssumeRole")
        .map(|d| d.step)
        .collect();
    phases.sort_unstable();
    assert_eq!(phases, every, "{phases:?}");
}

/// `p`'s first `field` entry (`services`, `databases`) alone, in account `data`; the phases that
/// assume its role, each through the recovery region's STS and none flagged.
fn in_another_account(mut p: RecoveryPlan, field: &str) -> Vec<&'static str> {
    p.accounts.insert(
        "data".into(),
        serde_json::from_value(serde_json::json!({"roleArn": "arn:aws:iam::222222222222:role/rebound-data"}))
            .expect("account"),
    );
    let mut value = serde_json::to_value(&p).expect("plan");
    let mut first = value[field][0].clone();
    first["account"] = serde_json::json!("data");
    value[field] = serde_json::json!([first]);
    value["writerEndpoints"] = serde_json::json!([]);
    let p: RecoveryPlan = serde_json::from_value(value).expect("plan");
    let mut phases: Vec<&str> = failover_dependencies(&p)
        .into_iter()
        .filter(|d| d.operation == "sts:AssumeRole")
        .inspect(|d| assert!(d.region == "us-west-2" && !d.flagged, "{d:?}"))
        .map(|d| d.step)
        .collect();
    phases.sort_unstable();
    phases.dedup();
    phases
}

#[test]
fn a_service_or_a_database_in_another_account_depends_on_sts_in_the_recovery_region() {
    assert_eq!(
        in_another_account(plan("us-east-1", "upsert"), "services"),
        ["AddCapacity", "CheckCapacity", "DryRunSteps", "ValidateRecovery"]
    );
    assert_eq!(
        in_another_account(plan("us-east-1", "upsert"), "databases"),
        [
            "CheckDatabaseFailover",
            "DryRunSteps",
            "StartDatabaseFailover",
            "ValidateRecovery"
        ]
    );
}

#[test]
fn a_routing_control_cluster_in_another_account_depends_on_sts_in_the_recovery_region() {
    let mut p = plan("us-east-1", "routingControl");
    let sts = |p: &RecoveryPlan| {
        let mut phases: Vec<&str> = failover_dependencies(p)
            .into_iter()
            .filter(|d| d.operation == "sts:AssumeRole")
            .inspect(|d| assert!(d.region == "us-west-2" && !d.flagged, "{d:?}"))
            .map(|d| d.step)
            .collect();
        phases.dedup();
        phases
    };
    p.routing_control_cluster = Some(crate::plan::RoutingControlCluster {
        endpoints: Vec::new(),
        account: None,
    });
    assert!(sts(&p).is_empty());
    if let Some(cluster) = p.routing_control_cluster.as_mut() {
        cluster.account = Some("arc".into());
    }
    let mut phases = sts(&p);
    phases.sort_unstable();
    assert_eq!(
        phases,
        [
            "CheckDnsFailover",
            "DryRunSteps",
            "StartDnsFailover",
            "ValidateRecovery"
        ]
    );
}

#[test]
fn towards_a_later_recovery_region_the_resources_are_there_and_the_stack_stays_in_the_first() {
    let mut p = plan("us-east-1", "upsert");
    p.other_recovery_regions = serde_json::from_value(serde_json::json!([{
        "region": "eu-west-1",
        "databases": [{"kind": "readReplica", "identifier": "orders-db-euw1",
                       "sourceIdentifier": "arn:aws:rds:us-east-1:123456789012:db:orders-db"}]
    }]))
    .expect("candidates");
    let by_region = dependencies_by_region(&p);
    let regions: Vec<&str> = by_region.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(regions, ["us-west-2", "eu-west-1"]);
    let region_of = |deps: &[Dependency], step: &str, op: &str| {
        deps.iter()
            .find(|d| d.step == step && d.operation == op)
            .map(|d| d.region.clone())
            .unwrap_or_else(|| panic!("no {op} in {step}"))
    };
    let (_, west) = &by_region[0];
    let (_, eu) = &by_region[1];
    assert_eq!(west, &failover_dependencies(&p));
    assert_eq!(
        region_of(eu, "StartDatabaseFailover", "rds:PromoteReadReplica"),
        "eu-west-1"
    );
    let scaled: Vec<&str> = eu
        .iter()
        .filter(|d| d.operation == "ecs:UpdateService")
        .map(|d| d.region.as_str())
        .collect();
    assert!(
        !scaled.is_empty() && scaled.iter().all(|r| *r == "eu-west-1"),
        "{scaled:?}"
    );
    // Rebound's own plan, table and reports stay where its stack runs.
    assert_eq!(region_of(eu, "DetectDisaster", "ssm:GetParameter"), "us-west-2");
    assert_eq!(region_of(eu, "SendNotification", "dynamodb:DeleteItem"), "us-west-2");
    assert_eq!(
        region_of(west, "StartDatabaseFailover", "rds:PromoteReadReplica"),
        "us-west-2"
    );
}
