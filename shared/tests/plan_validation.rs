//! The plan validator against the shipped example and a catalogue of broken plans.

use rebound_shared::plan::{Database, DnsMode, GlobalEngine, RecordTarget, RecoveryPlan};
use serde_json::{json, Value};

fn example() -> Value {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/plan.json"))
        .expect("examples/plan.json is readable");
    serde_json::from_str(&text).expect("examples/plan.json is JSON")
}

/// Applies `edit` to the example plan and returns every problem the validator reports.
fn problems(edit: impl FnOnce(&mut Value)) -> Vec<String> {
    let mut plan = example();
    edit(&mut plan);
    match RecoveryPlan::from_value(&plan) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    }
}

/// Sets the value at `pointer`, adding the key when its parent object exists.
fn set(plan: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
    match plan
        .pointer_mut(parent)
        .unwrap_or_else(|| panic!("{parent} exists in the example"))
    {
        Value::Object(map) => {
            map.insert(key.to_string(), value);
        }
        Value::Array(items) => items[key.parse::<usize>().expect("array index")] = value,
        other => panic!("{parent} is {other}, not a container"),
    }
}

/// Gives the plan writer endpoints for its replica (a parameter and a secret), then `edit`s them.
fn endpoints(plan: &mut Value, edit: impl FnOnce(&mut Value)) {
    plan["writerEndpoints"] = json!([
        {"kind": "ssmParameter", "database": "orders-db-usw2", "name": "/orders/db/host"},
        {"kind": "secret", "database": "orders-db-usw2", "secretId": "orders/db"}
    ]);
    edit(plan);
}

fn remove(plan: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
    let parent = plan
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("parent is an object");
    assert!(parent.remove(key).is_some(), "{pointer} exists in the example");
}

#[test]
fn the_example_plan_is_valid_and_complete() {
    let plan = RecoveryPlan::from_value(&example()).expect("example plan is valid");
    assert_eq!(plan.application, "orders");
    assert_eq!(plan.recovery_region, "us-west-2");
    assert_eq!(plan.objectives.rto_seconds, 1800);
    assert_eq!(plan.detection.min_signals, 2);
    assert_eq!(plan.dns.len(), 3);
    assert!(matches!(plan.dns[1].recovery, Some(RecordTarget::Alias { .. })));
    assert_eq!(plan.dns[2].mode, DnsMode::HealthCheckInversion);
    assert!(matches!(plan.databases[0], Database::ReadReplica { .. }));
    assert_eq!(plan.services.len(), 3);
    assert_eq!(plan.validation.probes.len(), 2);
    // Serializing and parsing again gives the same plan.
    let again =
        RecoveryPlan::from_value(&serde_json::to_value(&plan).expect("serializes")).expect("round trip is valid");
    assert_eq!(again, plan);
}

#[test]
fn each_broken_plan_is_rejected_with_its_path_and_reason() {
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "missing database identifier",
            Box::new(|p| remove(p, "/databases/0/identifier")),
            "databases[0].identifier: required",
        ),
        (
            "zero RPO",
            Box::new(|p| set(p, "/objectives/rpoSeconds", json!(0))),
            "objectives.rpoSeconds: must be > 0",
        ),
        (
            "same regions",
            Box::new(|p| set(p, "/recoveryRegion", json!("us-east-1"))),
            "recoveryRegion: must differ from primaryRegion",
        ),
        (
            "typo in a field name",
            Box::new(|p| set(p, "/objectives", json!({"rtoSeconds": 1800, "rpoSecs": 900}))),
            "objectives.rpoSecs: unknown field",
        ),
        (
            "region is not a region",
            Box::new(|p| set(p, "/primaryRegion", json!("virginia"))),
            "primaryRegion: must be an AWS region",
        ),
        (
            "RTO as text",
            Box::new(|p| set(p, "/objectives/rtoSeconds", json!("30m"))),
            "objectives.rtoSeconds: must be a number",
        ),
        (
            "fractional TTL",
            Box::new(|p| set(p, "/dns/0/ttl", json!(1.5))),
            "dns[0].ttl: must be a whole number",
        ),
        (
            "A record with a hostname",
            Box::new(|p| {
                set(
                    p,
                    "/dns/0",
                    json!({"hostedZoneId": "Z1", "name": "a.example.com.", "type": "A", "ttl": 60, "primary": {"values": ["10.0.0.1"]}, "recovery": {"values": ["not-an-ip"]}}),
                )
            }),
            "dns[0].recovery.values[0]: must be an IPv4 address",
        ),
        (
            "CNAME with two values",
            Box::new(|p| set(p, "/dns/0/recovery/values", json!(["a.example.com", "b.example.com"]))),
            "dns[0].recovery.values: a CNAME takes exactly one value",
        ),
        (
            "recovery equals primary",
            Box::new(|p| {
                set(
                    p,
                    "/dns/0/recovery",
                    json!({"values": ["orders-api-use1.orders.example.com"]}),
                )
            }),
            "dns[0].recovery: must differ from primary",
        ),
        (
            "values record without TTL",
            Box::new(|p| remove(p, "/dns/0/ttl")),
            "dns[0].ttl: required for records with values",
        ),
        (
            "alias record with TTL",
            Box::new(|p| set(p, "/dns/1/ttl", json!(60))),
            "dns[1].ttl: must be absent for alias records",
        ),
        (
            "target with both values and alias",
            Box::new(|p| {
                set(
                    p,
                    "/dns/0/recovery",
                    json!({"values": ["x.example.com"], "alias": {"hostedZoneId": "Z1", "dnsName": "y.example.com"}}),
                )
            }),
            "dns[0].recovery: must have exactly one of values or alias",
        ),
        (
            "upsert without recovery target",
            Box::new(|p| remove(p, "/dns/0/recovery")),
            "dns[0].recovery: required in upsert mode",
        ),
        (
            "inversion without health check",
            Box::new(|p| remove(p, "/dns/2/healthCheckId")),
            "dns[2].healthCheckId: required in healthCheckInversion mode",
        ),
        (
            "unknown database kind",
            Box::new(|p| set(p, "/databases/0/kind", json!("dynamo"))),
            "databases[0].kind: must be one of: readReplica, auroraGlobal, pointInTimeRestore, snapshotRestore",
        ),
        (
            "replica without source",
            Box::new(|p| remove(p, "/databases/0/sourceIdentifier")),
            "databases[0].sourceIdentifier: required",
        ),
        (
            "bad RDS identifier",
            Box::new(|p| set(p, "/databases/0/identifier", json!("1orders_db"))),
            "databases[0].identifier: must be an RDS identifier",
        ),
        (
            "Aurora target outside the recovery region",
            Box::new(|p| {
                set(
                    p,
                    "/databases/0",
                    json!({"kind": "auroraGlobal", "identifier": "orders-global", "targetClusterArn": "arn:aws:rds:eu-west-1:123456789012:cluster:orders-euw1"}),
                )
            }),
            "databases[0].targetClusterArn: must be a cluster in recoveryRegion",
        ),
        (
            "Aurora failback cluster outside the primary region",
            Box::new(|p| {
                set(
                    p,
                    "/databases/0",
                    json!({"kind": "auroraGlobal", "identifier": "orders-global",
                           "targetClusterArn": "arn:aws:rds:us-west-2:123456789012:cluster:orders-usw2",
                           "failbackClusterArn": "arn:aws:rds:us-west-2:123456789012:cluster:orders-usw2"}),
                )
            }),
            "databases[0].failbackClusterArn: must be a cluster in primaryRegion",
        ),
        (
            "a global database of an engine Rebound does not fail over",
            Box::new(|p| {
                set(
                    p,
                    "/databases/0",
                    json!({"kind": "auroraGlobal", "engine": "mysql", "identifier": "orders-global",
                           "targetClusterArn": "arn:aws:rds:us-west-2:123456789012:cluster:orders-usw2"}),
                )
            }),
            "databases[0].engine: must be one of: aurora, docdb, neptune",
        ),
        (
            "a DocumentDB global database with reprotect",
            Box::new(|p| {
                set(
                    p,
                    "/databases/0",
                    json!({"kind": "auroraGlobal", "engine": "docdb", "identifier": "graph-global",
                           "targetClusterArn": "arn:aws:rds:us-west-2:123456789012:cluster:graph-usw2",
                           "reprotect": {"instanceClass": "db.r6g.large"}}),
                )
            }),
            "databases[0].reprotect: rebound reprotect rebuilds Aurora secondary clusters only",
        ),
        (
            "duplicate databases",
            Box::new(|p| {
                let db = p["databases"][0].clone();
                p["databases"].as_array_mut().expect("array").push(db);
            }),
            "databases[1].identifier: duplicate database 'orders-db-usw2'",
        ),
        (
            "writer endpoint of a database not in the plan",
            Box::new(|p| endpoints(p, |p| set(p, "/writerEndpoints/0/database", json!("orders-db")))),
            "writerEndpoints[0].database: must be the identifier of one of the plan's databases, got 'orders-db'",
        ),
        (
            "SSM parameter path without its leading slash",
            Box::new(|p| endpoints(p, |p| set(p, "/writerEndpoints/0/name", json!("orders/db/host")))),
            "writerEndpoints[0].name: a hierarchical name must start with /",
        ),
        (
            "SSM parameter under the reserved aws prefix",
            Box::new(|p| endpoints(p, |p| set(p, "/writerEndpoints/0/name", json!("/aws/orders/host")))),
            "writerEndpoints[0].name: may not begin with aws or ssm",
        ),
        (
            "secret with a field of another kind",
            Box::new(|p| endpoints(p, |p| set(p, "/writerEndpoints/1/ttl", json!(60)))),
            "writerEndpoints[1].ttl: unknown field",
        ),
        (
            "secret in a region that is not one",
            Box::new(|p| endpoints(p, |p| set(p, "/writerEndpoints/1/region", json!("west")))),
            "writerEndpoints[1].region: must be an AWS region",
        ),
        (
            "the same parameter twice",
            Box::new(|p| {
                endpoints(p, |_| {});
                let e = p["writerEndpoints"][0].clone();
                p["writerEndpoints"].as_array_mut().expect("array").push(e);
            }),
            "writerEndpoints[2]: duplicate writer endpoint",
        ),
        (
            "a writer CNAME that the dns section also moves",
            Box::new(|p| {
                endpoints(p, |_| {});
                set(
                    p,
                    "/writerEndpoints/1",
                    json!({"kind": "cname", "database": "orders-db-usw2", "hostedZoneId": "Z1",
                           "name": "API.orders.example.com", "ttl": 60}),
                )
            }),
            "writerEndpoints[1].name: API.orders.example.com is also a dns record of the plan",
        ),
        (
            "a writer CNAME without its TTL",
            Box::new(|p| {
                endpoints(p, |_| {});
                set(
                    p,
                    "/writerEndpoints/1",
                    json!({"kind": "cname", "database": "orders-db-usw2", "hostedZoneId": "Z1", "name": "db.orders.example.com."}),
                )
            }),
            "writerEndpoints[1].ttl: required",
        ),
        (
            "global table with a name DynamoDB refuses",
            Box::new(|p| set(p, "/globalTables", json!([{"tableName": "orders carts"}]))),
            "globalTables[0].tableName: must be a DynamoDB table name",
        ),
        (
            "the same global table twice",
            Box::new(|p| set(p, "/globalTables", json!([{"tableName": "carts"}, {"tableName": "carts"}]))),
            "globalTables[1].tableName: duplicate table 'carts'",
        ),
        (
            "event source mapping that is not a UUID",
            Box::new(|p| set(p, "/eventSourceMappings", json!([{"primaryUuid": "orders-consumer"}]))),
            "eventSourceMappings[0].primaryUuid: must be an event source mapping UUID",
        ),
        (
            "event source mapping with neither side",
            Box::new(|p| set(p, "/eventSourceMappings", json!([{}]))),
            "eventSourceMappings[0]: needs primaryUuid, recoveryUuid or both",
        ),
        (
            "custom action at a point that does not exist",
            Box::new(|p| {
                set(
                    p,
                    "/customActions",
                    json!([{"name": "drain", "at": "afterDns", "functionArn": "arn:aws:lambda:us-west-2:123456789012:function:orders-drain"}]),
                )
            }),
            "customActions[0].at: must be one of: beforeFailover, afterDatabases, afterServices, beforeValidation",
        ),
        (
            "custom action that is not a Lambda function",
            Box::new(|p| {
                set(
                    p,
                    "/customActions",
                    json!([{"name": "drain", "at": "beforeFailover", "functionArn": "arn:aws:sns:us-west-2:123456789012:orders"}]),
                )
            }),
            "customActions[0].functionArn: must be a Lambda function ARN",
        ),
        (
            "custom action waiting longer than Lambda runs",
            Box::new(|p| {
                set(
                    p,
                    "/customActions",
                    json!([{"name": "drain", "at": "beforeFailover", "timeoutSeconds": 901,
                            "functionArn": "arn:aws:lambda:us-west-2:123456789012:function:orders-drain"}]),
                )
            }),
            "customActions[0].timeoutSeconds: must be at most 900",
        ),
        (
            "ECS service scaled to zero",
            Box::new(|p| set(p, "/services/0/desiredCount", json!(0))),
            "services[0].desiredCount: must be >= 1",
        ),
        (
            "ASG desired below min",
            Box::new(|p| set(p, "/services/2/desiredCapacity", json!(1))),
            "services[2].desiredCapacity: must be >= minSize",
        ),
        (
            "ASG max below desired",
            Box::new(|p| set(p, "/services/2/maxSize", json!(3))),
            "services[2].maxSize: must be >= desiredCapacity",
        ),
        (
            "field of another service kind",
            Box::new(|p| set(p, "/services/0/minSize", json!(1))),
            "services[0].minSize: unknown field",
        ),
        (
            "capacity reservations of an ECS service",
            Box::new(|p| set(p, "/services/0/capacityReservations", json!(["cr-0123456789abcdef0"]))),
            "services[0].capacityReservations: unknown field",
        ),
        (
            "capacity reservations not a list",
            Box::new(|p| set(p, "/services/2/capacityReservations", json!("cr-0123456789abcdef0"))),
            "services[2].capacityReservations: must be an array of Capacity Reservation IDs",
        ),
        (
            "capacity reservation not an ID",
            Box::new(|p| set(p, "/services/2/capacityReservations", json!(["cr-0123456789abcdef0", "cr-XYZ"]))),
            "services[2].capacityReservations[1]: must be a Capacity Reservation ID (cr- and 17 hex digits)",
        ),
        (
            "capacity reservation twice",
            Box::new(|p| set(p, "/services/2/capacityReservations", json!(["cr-0123456789abcdef0", "cr-0123456789abcdef0"]))),
            "services[2].capacityReservations[1]: is listed twice",
        ),
        (
            "probe URL without scheme",
            Box::new(|p| set(p, "/validation/probes/0/url", json!("orders.example.com/health"))),
            "validation.probes[0].url: must be an http:// or https:// URL",
        ),
        (
            "validation slower than the RTO",
            Box::new(|p| set(p, "/validation/deadlineSeconds", json!(3600))),
            "validation.deadlineSeconds: must not exceed objectives.rtoSeconds",
        ),
        (
            "an RTO under the default validation deadline, no deadline given",
            Box::new(|p| {
                set(p, "/objectives/rtoSeconds", json!(60));
                remove(p, "/validation/deadlineSeconds");
            }),
            "validation.deadlineSeconds: required when objectives.rtoSeconds is under 600 s",
        ),
        (
            "quorum larger than the signals",
            Box::new(|p| set(p, "/detection/minSignals", json!(5))),
            "detection.minSignals: must be at most the number of signals (4",
        ),
        (
            "threshold above 100 %",
            Box::new(|p| set(p, "/detection/thresholds/availabilityPercent", json!(150))),
            "detection.thresholds.availabilityPercent: must be between 0 and 100",
        ),
        (
            "metric with an odd period",
            Box::new(|p| set(p, "/detection/metrics/0/periodSeconds", json!(45))),
            "detection.metrics[0].periodSeconds: must be 1, 5, 10, 30 or a multiple of 60",
        ),
        (
            "comparison misspelt",
            Box::new(|p| set(p, "/detection/metrics/0/comparison", json!("<"))),
            "detection.metrics[0].comparison: must be one of",
        ),
        (
            "topic is not an SNS ARN",
            Box::new(|p| set(p, "/notification/topicArn", json!("rebound-orders"))),
            "notification.topicArn: must be an SNS topic ARN",
        ),
        (
            "missing notification",
            Box::new(|p| remove(p, "/notification")),
            "notification: required",
        ),
        (
            "nothing to recover",
            Box::new(|p| {
                set(p, "/dns", json!([]));
                set(p, "/databases", json!([]));
                set(p, "/services", json!([]));
            }),
            "$: must recover something",
        ),
        (
            "application name with spaces",
            Box::new(|p| set(p, "/application", json!("orders app"))),
            "application: must be 1-64 letters",
        ),
        (
            "approval timeout of zero",
            Box::new(|p| set(p, "/approval/timeoutSeconds", json!(0))),
            "approval.timeoutSeconds: must be > 0",
        ),
        (
            "routing control record without a cluster",
            Box::new(|p| set(p, "/dns/0", routing_record(P_ARN, R_ARN))),
            "routingControlCluster: required: dns[0] is in routingControl mode",
        ),
        (
            "routing control ARN of another service",
            Box::new(|p| {
                set(p, "/routingControlCluster", cluster());
                set(p, "/dns/0", routing_record("arn:aws:route53:::healthcheck/abc", R_ARN));
            }),
            "dns[0].primaryRoutingControlArn: must be a routing control ARN",
        ),
        (
            "one routing control for both cells",
            Box::new(|p| {
                set(p, "/routingControlCluster", cluster());
                set(p, "/dns/0", routing_record(R_ARN, R_ARN));
            }),
            "dns[0].recoveryRoutingControlArn: must differ from primaryRoutingControlArn",
        ),
        (
            "a primary control that is another record's recovery control",
            Box::new(|p| {
                set(p, "/routingControlCluster", cluster());
                set(p, "/dns/0", routing_record(P_ARN, R_ARN));
                let mut other = routing_record(R_ARN, "arn:aws:route53-recovery-control::111122223333:controlpanel/cp/routingcontrol/euw1");
                other["name"] = json!("www.orders.example.com.");
                set(p, "/dns/1", other);
            }),
            "dns[1].primaryRoutingControlArn: arn:aws:route53-recovery-control::111122223333:controlpanel/cp/routingcontrol/usw2 is the recovery routing control at dns[0]",
        ),
        (
            "cluster endpoint that is not a URL",
            Box::new(|p| {
                set(p, "/routingControlCluster", json!({"endpoints": [{"region": "us-west-2", "url": "host-a.example.com"}]}));
            }),
            "routingControlCluster.endpoints[0].url: must be an endpoint URL",
        ),
        (
            "more cluster endpoints than a cluster has",
            Box::new(|p| {
                let endpoints: Vec<Value> = (0..6)
                    .map(|i| json!({"region": "us-west-2", "url": format!("https://host-{i}.example.com/v1")}))
                    .collect();
                set(p, "/routingControlCluster", json!({ "endpoints": endpoints }));
            }),
            "routingControlCluster.endpoints: at most 5",
        ),
        (
            "alarm health check without its alarm",
            Box::new(|p| set(p, "/dns/2", json!({"hostedZoneId": "Z1", "name": "pay.orders.example.com.", "type": "A", "mode": "alarmHealthCheck", "healthCheckId": "hc-1"}))),
            "dns[2].alarmName: required in alarmHealthCheck mode",
        ),
        (
            "alarm health check without its health check",
            Box::new(|p| set(p, "/dns/2", json!({"hostedZoneId": "Z1", "name": "pay.orders.example.com.", "type": "A", "mode": "alarmHealthCheck", "alarmName": "gate"}))),
            "dns[2].healthCheckId: required in alarmHealthCheck mode",
        ),
        (
            "a target in a data-plane mode",
            Box::new(|p| set(p, "/dns/0/mode", json!("alarmHealthCheck"))),
            "dns[0].ttl: not used in alarmHealthCheck mode",
        ),
        (
            "dns is not a list",
            Box::new(|p| set(p, "/dns", json!({"name": "api"}))),
            "dns: must be an array",
        ),
    ];
    assert!(cases.len() >= 15);
    let mut failures = Vec::new();
    for (name, edit, expected) in cases {
        let found = problems(edit);
        if !found.iter().any(|p| p.starts_with(expected)) {
            failures.push(format!(
                "{name}: expected a problem starting with {expected:?}, got {found:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

const P_ARN: &str = "arn:aws:route53-recovery-control::111122223333:controlpanel/cp/routingcontrol/use1";
const R_ARN: &str = "arn:aws:route53-recovery-control::111122223333:controlpanel/cp/routingcontrol/usw2";

fn routing_record(primary: &str, recovery: &str) -> Value {
    json!({"hostedZoneId": "Z1", "name": "api.orders.example.com.", "type": "CNAME", "mode": "routingControl",
           "primaryRoutingControlArn": primary, "recoveryRoutingControlArn": recovery})
}

fn cluster() -> Value {
    json!({"endpoints": [
        {"region": "us-west-2", "url": "https://host-aaaaaa.us-west-2.example.com/v1"},
        {"region": "eu-west-1", "url": "https://host-bbbbbb.eu-west-1.example.com/v1"}
    ]})
}

#[test]
fn data_plane_records_are_valid_with_what_their_mode_needs() {
    let mut plan = example();
    set(&mut plan, "/routingControlCluster", cluster());
    set(&mut plan, "/dns/0", routing_record(P_ARN, R_ARN));
    set(
        &mut plan,
        "/dns/2",
        json!({"hostedZoneId": "Z1", "name": "pay.orders.example.com.", "type": "A", "mode": "alarmHealthCheck",
               "alarmName": "orders-primary-gate", "healthCheckId": "hc-1"}),
    );
    let plan = RecoveryPlan::from_value(&plan).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.dns[0].mode, DnsMode::RoutingControl);
    assert_eq!(plan.dns[0].recovery_routing_control_arn.as_deref(), Some(R_ARN));
    assert_eq!(plan.dns[2].alarm_name.as_deref(), Some("orders-primary-gate"));
    assert_eq!(plan.routing_control_cluster.map(|c| c.endpoints.len()), Some(2));
}

#[test]
fn every_problem_is_reported_at_once() {
    let found = problems(|p| {
        remove(p, "/databases/0/identifier");
        set(p, "/objectives/rpoSeconds", json!(0));
        set(p, "/recoveryRegion", json!("us-east-1"));
        set(p, "/services/1/colour", json!("blue"));
    });
    assert_eq!(
        found,
        vec![
            "recoveryRegion: must differ from primaryRegion",
            "objectives.rpoSeconds: must be > 0",
            "databases[0].identifier: required",
            "services[1].colour: unknown field (expected one of: kind, cluster, service, desiredCount, capacity, needsWriter, account)",
        ]
    );
}

#[test]
fn text_that_is_not_json_is_one_problem_at_the_root() {
    let err = RecoveryPlan::from_json("{\"application\": ").expect_err("not JSON");
    assert_eq!(err.problems.len(), 1);
    assert_eq!(err.problems[0].path, "$");
    assert!(
        err.problems[0].message.starts_with("not valid JSON"),
        "{}",
        err.problems[0].message
    );
    let err = RecoveryPlan::from_json("[]").expect_err("not an object");
    assert_eq!(err.problems[0].to_string(), "$: must be an object");
}

#[test]
fn a_plan_inside_a_step_request_is_checked_like_one_loaded_on_its_own() {
    use rebound_shared::context::{parse_request, StepRequest};
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../events/dns-failover.json"))
        .expect("events/dns-failover.json is readable");
    let request: Value = serde_json::from_str(&text).expect("JSON");
    parse_request::<StepRequest>(request.clone()).expect("the sample request is valid");

    // A field the typed plan would silently ignore or take is refused, with its path.
    let mut bad = request.clone();
    bad["context"]["plan"]["dns"][0]["ttl"] = json!(-5);
    bad["context"]["plan"]["colour"] = json!("blue");
    let err = parse_request::<StepRequest>(bad).expect_err("a bad plan in the context");
    let text = err.to_string();
    assert!(text.contains("context.plan: dns[0].ttl"), "{text}");
    assert!(text.contains("context.plan: colour: unknown field"), "{text}");
}

#[test]
fn a_service_runs_a_fixed_count_or_a_share_of_the_primarys_peak_never_both_nor_neither() {
    let sized = json!({"percentOfPeak": 80, "minimum": 60, "floor": 2, "primaryName": "orders-use1/orders-api"});
    // Either kind, sized from the peak: valid, and kept through a round trip.
    let mut plan = example();
    remove(&mut plan, "/services/0/desiredCount");
    set(&mut plan, "/services/0/capacity", sized.clone());
    remove(&mut plan, "/services/2/desiredCapacity");
    set(
        &mut plan,
        "/services/2/capacity",
        json!({"percentOfPeak": 150, "floor": 2}),
    );
    let parsed = RecoveryPlan::from_value(&plan).expect("sized from the peak");
    assert_eq!(parsed.services[0].desired(Some(10.0)), 8);
    assert_eq!(parsed.services[0].primary_name(), "orders-use1/orders-api");
    let from = parsed.services[0].from_peak().expect("sized");
    assert_eq!((from.minimum, from.enough(8)), (60, 5), "60 % of 8, rounded up");
    assert_eq!(
        parsed.services[2].from_peak().map(|f| f.minimum),
        Some(100),
        "all of it by default"
    );
    let again = RecoveryPlan::from_value(&serde_json::to_value(&parsed).expect("json")).expect("round trip");
    assert_eq!(again, parsed);
    assert!(parsed.services[2].capacity_reservations().is_empty(), "none by default");
    set(
        &mut plan,
        "/services/2/capacityReservations",
        json!(["cr-0123456789abcdef0", "cr-01234567"]),
    );
    let reserved = RecoveryPlan::from_value(&plan).expect("with reservations");
    assert_eq!(
        reserved.services[2].capacity_reservations(),
        ["cr-0123456789abcdef0", "cr-01234567"]
    );

    let both = problems(|p| set(p, "/services/0/capacity", sized.clone()));
    assert_eq!(both, ["services[0].capacity: give desiredCount or capacity, not both"]);
    let neither = problems(|p| remove(p, "/services/2/desiredCapacity"));
    assert_eq!(neither, ["services[2].desiredCapacity: required"]);
    let out_of_range = problems(|p| {
        remove(p, "/services/0/desiredCount");
        set(
            p,
            "/services/0/capacity",
            json!({"percentOfPeak": 201, "minimum": 101, "peak": 3}),
        );
    });
    assert_eq!(
        out_of_range,
        [
            "services[0].capacity.peak: unknown field (expected one of: percentOfPeak, minimum, floor, primaryName)",
            "services[0].capacity.percentOfPeak: must be 1 to 200",
            "services[0].capacity.minimum: must be 1 to 100",
            "services[0].capacity.floor: required",
        ]
    );
}

#[test]
fn a_replicas_reprotect_settings_need_its_failback_replica_and_are_checked() {
    let settings = json!({"instanceClass": "db.r6g.xlarge", "parameterGroupName": "orders-mysql",
                          "subnetGroupName": "orders-db", "securityGroupIds": ["sg-0123456789abcdef0"],
                          "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/orders"});
    let mut plan = example();
    set(&mut plan, "/databases/0/failbackIdentifier", json!("orders-db-use1"));
    set(&mut plan, "/databases/0/reprotect", settings.clone());
    let parsed = RecoveryPlan::from_value(&plan).expect("valid");
    let Database::ReadReplica { reprotect: Some(r), .. } = &parsed.databases[0] else {
        panic!("{:?}", parsed.databases[0]);
    };
    assert_eq!(
        (r.instance_class.as_deref(), r.security_group_ids.len()),
        (Some("db.r6g.xlarge"), 1)
    );
    let again = RecoveryPlan::from_value(&serde_json::to_value(&parsed).expect("json")).expect("round trip");
    assert_eq!(again, parsed);

    let alone = problems(|p| set(p, "/databases/0/reprotect", settings.clone()));
    assert_eq!(
        alone,
        ["databases[0].reprotect: needs failbackIdentifier: the replica reprotect builds in the primary region"]
    );
    let aurora = problems(|p| {
        set(
            p,
            "/databases",
            json!([{"kind": "auroraGlobal", "identifier": "orders-global",
                    "targetClusterArn": "arn:aws:rds:us-west-2:123456789012:cluster:orders-west",
                    "reprotect": {"instanceClass": "db.r6g.large"}}]),
        );
    });
    assert_eq!(
        aurora,
        ["databases[0].reprotect: needs failbackClusterArn: the cluster reprotect builds in the primary region"]
    );
    let broken = problems(|p| {
        set(p, "/databases/0/failbackIdentifier", json!("orders-db-use1"));
        set(
            p,
            "/databases/0/reprotect",
            json!({"securityGroupIds": ["default"], "instanceClass": "", "storage": 100}),
        );
    });
    assert_eq!(
        broken,
        [
            "databases[0].reprotect.storage: unknown field (expected one of: instanceClass, parameterGroupName, subnetGroupName, securityGroupIds, kmsKeyId)",
            "databases[0].reprotect.instanceClass: must be a non-empty string",
            "databases[0].reprotect.securityGroupIds[0]: must be a security group id (sg- and 8 to 17 hex digits)",
        ]
    );
}

#[test]
fn a_reprotect_when_the_primary_is_healthy_needs_a_signal_to_see_it_by() {
    let mut plan = example();
    set(&mut plan, "/detection/reprotectWhenHealthy", json!(true));
    let parsed = RecoveryPlan::from_value(&plan).expect("valid");
    assert!(parsed.detection.reprotect_when_healthy);
    let blind = problems(|p| {
        set(p, "/detection/reprotectWhenHealthy", json!(true));
        set(p, "/detection/alarms", json!([]));
        set(p, "/detection/metrics", json!([]));
    });
    assert!(
        blind.contains(
            &"detection.reprotectWhenHealthy: needs an alarm or metric signal: the primary is seen healthy through them"
                .to_string()
        ),
        "{blind:?}"
    );
}

#[test]
fn an_eks_node_group_runs_a_fixed_size_or_a_share_of_the_peak_within_its_bounds_and_eks_names() {
    let group = json!({
        "kind": "eksNodegroup", "cluster": "orders-eks", "nodegroup": "orders-workers",
        "minSize": 2, "desiredSize": 6, "maxSize": 12
    });
    let push = |plan: &mut Value, group: Value| plan["services"].as_array_mut().expect("services").push(group);
    let mut plan = example();
    push(&mut plan, group.clone());
    let parsed = RecoveryPlan::from_value(&plan).expect("a node group");
    let nodes = &parsed.services[3];
    assert_eq!(nodes.resource_name(), "eks:orders-eks/orders-workers");
    assert_eq!(nodes.desired(Some(100.0)), 6, "a fixed size, whatever the peak");
    assert!(nodes.from_peak().is_none() && nodes.matches("EKS") && nodes.matches("orders-workers"));
    let again = RecoveryPlan::from_value(&serde_json::to_value(&parsed).expect("json")).expect("round trip");
    assert_eq!(again, parsed);

    let broken = problems(|p| {
        let mut bad = group.clone();
        bad["cluster"] = json!("-orders");
        bad["nodegroup"] = json!("x".repeat(64));
        bad["desiredSize"] = json!(1);
        push(p, bad);
    });
    assert_eq!(
        broken,
        [
            "services[3].cluster: must be 1 to 100 letters, digits, - or _, starting with a letter or digit",
            "services[3].nodegroup: must be 1 to 63 letters, digits, - or _, starting with a letter or digit",
            "services[3].desiredSize: must be >= minSize",
        ]
    );
    let both = problems(|p| {
        let mut bad = group.clone();
        bad["capacity"] = json!({"percentOfPeak": 80, "floor": 1});
        push(p, bad);
    });
    assert_eq!(both, ["services[3].capacity: give desiredSize or capacity, not both"]);
    // Sized from the primary's node group's peak: its share, never below its floor.
    let mut sized = group.clone();
    sized.as_object_mut().expect("group").remove("desiredSize");
    sized["capacity"] = json!({"percentOfPeak": 75, "floor": 3, "primaryName": "orders-use1/orders-workers"});
    let mut plan = example();
    push(&mut plan, sized);
    let parsed = RecoveryPlan::from_value(&plan).expect("sized from the peak");
    let nodes = &parsed.services[3];
    assert_eq!(nodes.desired(Some(8.0)), 6);
    assert_eq!(nodes.desired(None), 3, "the floor without a peak");
    assert_eq!(nodes.primary_name(), "orders-use1/orders-workers");
    let too_small = problems(|p| {
        let mut bad = group.clone();
        bad["maxSize"] = json!(4);
        push(p, bad);
    });
    assert_eq!(too_small, ["services[3].maxSize: must be >= desiredSize"]);
}

#[test]
fn a_global_datastore_names_its_members_and_itself_as_elasticache_does() {
    let sessions = json!({
        "globalReplicationGroupId": "ldgnf-orders-sessions",
        "primaryReplicationGroupId": "orders-sessions-use1",
        "recoveryReplicationGroupId": "orders-sessions-usw2",
        "allowDataLoss": true
    });
    let mut plan = example();
    plan["globalDatastores"] = json!([sessions.clone()]);
    let parsed = RecoveryPlan::from_value(&plan).expect("a global datastore");
    assert_eq!(
        parsed.global_datastores[0].recovery_replication_group_id,
        "orders-sessions-usw2"
    );
    assert!(parsed.global_datastores[0].allow_data_loss);
    let again = RecoveryPlan::from_value(&serde_json::to_value(&parsed).expect("json")).expect("round trip");
    assert_eq!(again, parsed);

    let broken = problems(|p| {
        let mut bad = sessions.clone();
        // The suffix alone, as the console shows it at creation.
        bad["globalReplicationGroupId"] = json!("orders-sessions");
        bad["primaryReplicationGroupId"] = json!("orders--sessions");
        bad["recoveryReplicationGroupId"] = json!("9-sessions-usw2");
        bad["allowDataLoss"] = json!("yes");
        bad["port"] = json!(6379);
        p["globalDatastores"] = json!([sessions.clone(), sessions.clone(), bad]);
    });
    assert_eq!(
        broken,
        [
            "globalDatastores[1].globalReplicationGroupId: duplicate global datastore 'ldgnf-orders-sessions'",
            "globalDatastores[2].port: unknown field (expected one of: globalReplicationGroupId, primaryReplicationGroupId, recoveryReplicationGroupId, allowDataLoss, account)",
            "globalDatastores[2].allowDataLoss: must be true or false",
            "globalDatastores[2].globalReplicationGroupId: must be a global datastore's name as ElastiCache gives it: its region's five-letter prefix, '-', and the suffix (ldgnf-orders-sessions)",
            "globalDatastores[2].primaryReplicationGroupId: must be a replication group's name: 1-40 letters, digits or hyphens, beginning with a letter, no '--', not ending with '-'",
            "globalDatastores[2].recoveryReplicationGroupId: must be a replication group's name: 1-40 letters, digits or hyphens, beginning with a letter, no '--', not ending with '-'",
        ]
    );
}

#[test]
fn a_multi_region_cluster_names_its_regional_clusters_and_itself_as_memorydb_does() {
    let orders = json!({
        "multiRegionClusterName": "ldgnf-orders-cache",
        "primaryClusterName": "orders-cache-use1",
        "recoveryClusterName": "orders-cache-usw2",
    });
    let mut plan = example();
    plan["multiRegionClusters"] = json!([orders.clone()]);
    let parsed = RecoveryPlan::from_value(&plan).expect("a multi-Region cluster");
    assert_eq!(
        parsed.multi_region_clusters[0].recovery_cluster_name,
        "orders-cache-usw2"
    );
    assert!(!parsed.multi_region_clusters[0].allow_data_loss);
    let again = RecoveryPlan::from_value(&serde_json::to_value(&parsed).expect("json")).expect("round trip");
    assert_eq!(again, parsed);

    let broken = problems(|p| {
        let mut bad = orders.clone();
        bad["multiRegionClusterName"] = json!("orders-cache");
        bad["primaryClusterName"] = json!("orders-cache-");
        bad["recoveryClusterName"] = json!("x".repeat(41));
        bad["allowDataLoss"] = json!(1);
        bad["shards"] = json!(2);
        p["multiRegionClusters"] = json!([orders.clone(), orders.clone(), bad]);
    });
    assert_eq!(
        broken,
        [
            "multiRegionClusters[1].multiRegionClusterName: duplicate multi-Region cluster 'ldgnf-orders-cache'",
            "multiRegionClusters[2].shards: unknown field (expected one of: multiRegionClusterName, primaryClusterName, recoveryClusterName, allowDataLoss, account)",
            "multiRegionClusters[2].allowDataLoss: must be true or false",
            "multiRegionClusters[2].multiRegionClusterName: must be a multi-Region cluster's name as MemoryDB gives it: its region's five-letter prefix, '-', and the suffix (ldgnf-orders)",
            "multiRegionClusters[2].primaryClusterName: must be a MemoryDB cluster's name: 1-40 letters, digits or hyphens, beginning with a letter, no '--', not ending with '-'",
            "multiRegionClusters[2].recoveryClusterName: must be a MemoryDB cluster's name: 1-40 letters, digits or hyphens, beginning with a letter, no '--', not ending with '-'",
        ]
    );
}

#[test]
fn a_kubernetes_deployment_names_its_cluster_namespace_and_objects_as_kubernetes_does() {
    let api = json!({
        "kind": "eksDeployment", "cluster": "orders-eks", "namespace": "orders", "deployment": "api.v2",
        "replicas": 6, "horizontalPodAutoscaler": "api", "needsWriter": true
    });
    let push = |plan: &mut Value, service: Value| plan["services"].as_array_mut().expect("services").push(service);
    let mut plan = example();
    push(&mut plan, api.clone());
    let parsed = RecoveryPlan::from_value(&plan).expect("a Deployment");
    let service = &parsed.services[3];
    assert_eq!(service.resource_name(), "k8s:orders-eks/orders/api.v2");
    assert_eq!(service.desired(Some(100.0)), 6, "a fixed count, whatever the peak");
    assert!(service.needs_writer() && service.matches("orders/api.v2") && service.matches("EKS"));
    let again = RecoveryPlan::from_value(&serde_json::to_value(&parsed).expect("json")).expect("round trip");
    assert_eq!(again, parsed);

    let broken = problems(|p| {
        let mut bad = api.clone();
        bad["namespace"] = json!("Orders");
        bad["deployment"] = json!("api-");
        bad["horizontalPodAutoscaler"] = json!("a".repeat(254));
        bad["replicas"] = json!(-1);
        bad["desiredSize"] = json!(2);
        push(p, bad);
    });
    assert_eq!(
        broken,
        [
            "services[3].desiredSize: unknown field (expected one of: kind, cluster, namespace, deployment, replicas, horizontalPodAutoscaler, needsWriter, account)",
            "services[3].namespace: must be 1 to 63 lowercase letters, digits or -, starting and ending with a letter or digit",
            "services[3].deployment: must be 1 to 253 lowercase letters, digits, . or -, starting and ending with a letter or digit",
            "services[3].horizontalPodAutoscaler: must be 1 to 253 lowercase letters, digits, . or -, starting and ending with a letter or digit",
            "services[3].replicas: must be >= 0",
        ]
    );
}

#[test]
fn a_global_database_names_its_engine_aurora_unless_said() {
    let mut plan = example();
    plan["databases"] = json!([
        {"kind": "auroraGlobal", "identifier": "orders-global",
         "targetClusterArn": "arn:aws:rds:us-west-2:123456789012:cluster:orders-usw2"},
        {"kind": "auroraGlobal", "engine": "docdb", "identifier": "docs-global",
         "targetClusterArn": "arn:aws:rds:us-west-2:123456789012:cluster:docs-usw2"},
        {"kind": "auroraGlobal", "engine": "neptune", "identifier": "graph-global",
         "targetClusterArn": "arn:aws:rds:us-west-2:123456789012:cluster:graph-usw2"},
    ]);
    plan["writerEndpoints"] = json!([]);
    let parsed = RecoveryPlan::from_value(&plan).expect("three engines");
    let engines: Vec<GlobalEngine> = parsed
        .databases
        .iter()
        .filter_map(|db| match db {
            Database::AuroraGlobal { engine, .. } => Some(*engine),
            _ => None,
        })
        .collect();
    assert_eq!(
        engines,
        [GlobalEngine::Aurora, GlobalEngine::Docdb, GlobalEngine::Neptune]
    );
    let written = serde_json::to_value(&parsed).expect("json");
    assert!(
        written["databases"][0].get("engine").is_none(),
        "Aurora's is left unsaid"
    );
    assert_eq!(written["databases"][2]["engine"], "neptune");
    assert_eq!(RecoveryPlan::from_value(&written).expect("round trip"), parsed);
}

#[test]
fn a_zone_in_another_account_names_an_account_the_plan_gives_a_role_for() {
    let mut plan = example();
    plan["accounts"] = json!({"network": {"roleArn": "arn:aws:iam::222222222222:role/rebound-dns",
                                          "externalId": "rebound-orders"}});
    for record in plan["dns"].as_array_mut().expect("dns") {
        if record["mode"] != "alarmHealthCheck" {
            record["account"] = json!("network");
        }
    }
    let parsed = RecoveryPlan::from_value(&plan).expect("a zone in another account");
    let zone = parsed.dns[0].hosted_zone_id.clone();
    let (name, account) = parsed.zone_account(&zone).expect("the zone's account");
    assert_eq!((name, account.id()), ("network", "222222222222"));
    assert_eq!(
        RecoveryPlan::from_value(&serde_json::to_value(&parsed).expect("json")).expect("again"),
        parsed
    );

    let broken = problems(|p| {
        p["accounts"] = json!({"network": {"roleArn": "arn:aws:iam::2222:user/x", "externalId": "x", "mfa": true},
                               "bad name": {"roleArn": "arn:aws:iam::222222222222:role/r"}});
        p["dns"][0]["account"] = json!("nowhere");
    });
    assert!(
        broken.contains(&"accounts.network.mfa: unknown field (expected one of: roleArn, externalId)".to_string()),
        "{broken:?}"
    );
    for expected in [
        "accounts.network.roleArn: must be an IAM role's ARN",
        "accounts.network.externalId: must be 2-1224",
        "accounts.bad name: an account's name is 1-64",
        "dns[0].account: must name one of the plan's accounts, got 'nowhere'",
    ] {
        assert!(
            broken.iter().any(|p| p.starts_with(expected)),
            "{expected} in {broken:?}"
        );
    }
}

#[test]
fn a_zones_records_are_in_one_account_and_an_alarm_gate_in_rebounds_own() {
    let mut plan = example();
    plan["accounts"] = json!({"network": {"roleArn": "arn:aws:iam::222222222222:role/rebound-dns"}});
    let zone = plan["dns"][0]["hostedZoneId"].clone();
    plan["dns"] = json!([
        {"hostedZoneId": zone, "name": "a.orders.example.com.", "type": "CNAME", "ttl": 60, "account": "network",
         "primary": {"values": ["a-use1.orders.example.com"]}, "recovery": {"values": ["a-usw2.orders.example.com"]}},
        {"hostedZoneId": zone, "name": "b.orders.example.com.", "type": "CNAME", "ttl": 60,
         "primary": {"values": ["b-use1.orders.example.com"]}, "recovery": {"values": ["b-usw2.orders.example.com"]}},
        {"hostedZoneId": "Z0OTHERZONE", "name": "c.orders.example.com.", "type": "A", "mode": "alarmHealthCheck",
         "account": "network", "setIdentifier": "primary", "alarmName": "orders-gate", "healthCheckId": "hc-1"},
    ]);
    let found = match RecoveryPlan::from_value(&plan) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    };
    for expected in [
        "dns[1].account: zone ",
        "dns[2].account: not used in alarmHealthCheck mode",
    ] {
        assert!(found.iter().any(|p| p.starts_with(expected)), "{expected} in {found:?}");
    }
}

#[test]
fn a_cname_writer_endpoint_names_its_zones_account_as_the_zones_records_do() {
    let mut plan = example();
    plan["accounts"] = json!({"network": {"roleArn": "arn:aws:iam::222222222222:role/rebound-dns"}});
    let zone = plan["dns"][0]["hostedZoneId"].clone();
    let database = plan["databases"][0]["identifier"].clone();
    plan["writerEndpoints"] = json!([
        {"kind": "cname", "database": database, "hostedZoneId": "Z0OTHERZONE", "name": "db.orders.example.com.",
         "ttl": 60, "account": "network"},
    ]);
    let parsed = RecoveryPlan::from_value(&plan).expect("a CNAME in another account");
    assert_eq!(
        parsed.zone_account("Z0OTHERZONE").map(|(name, _)| name),
        Some("network")
    );

    plan["writerEndpoints"][0]["hostedZoneId"] = zone;
    plan["writerEndpoints"][0]["name"] = json!("db2.orders.example.com.");
    let found = match RecoveryPlan::from_value(&plan) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    };
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("writerEndpoints[0].account: the zone's records are in Rebound's own account")),
        "{found:?}"
    );
}

#[test]
fn a_parameter_or_secret_writer_endpoint_names_a_known_account_and_a_secrets_arn_is_in_it() {
    let mut plan = example();
    plan["accounts"] = json!({"data": {"roleArn": "arn:aws:iam::222222222222:role/rebound-data"}});
    let database = plan["databases"][0]["identifier"].clone();
    plan["writerEndpoints"] = json!([
        {"kind": "ssmParameter", "database": database, "name": "/orders/db/host", "account": "data"},
        {"kind": "secret", "database": database, "secretId": "arn:aws:secretsmanager:us-west-2:222222222222:secret:orders-db-AbCdEf", "account": "data"},
    ]);
    let parsed = RecoveryPlan::from_value(&plan).expect("endpoints in another account");
    let accounts: Vec<_> = parsed.writer_endpoints.iter().map(|e| e.account()).collect();
    assert_eq!(accounts, [Some("data"), Some("data")]);

    let found = problems(|p| {
        p["accounts"] = json!({"data": {"roleArn": "arn:aws:iam::222222222222:role/rebound-data"}});
        p["writerEndpoints"] = json!([
            {"kind": "ssmParameter", "database": database, "name": "/orders/db/host", "account": "nowhere"},
            {"kind": "secret", "database": database, "secretId": "arn:aws:secretsmanager:us-west-2:333333333333:secret:orders-db-AbCdEf", "account": "data"},
        ]);
    });
    assert_eq!(
        found,
        [
            "writerEndpoints[0].account: must name one of the plan's accounts, got 'nowhere'",
            "writerEndpoints[1].secretId: is in account 333333333333, and the role of account data in 222222222222",
        ],
        "{found:?}"
    );
}

#[test]
fn a_service_in_another_account_names_a_known_account_and_an_eks_cluster_is_in_one() {
    let mut plan = example();
    plan["accounts"] = json!({"apps": {"roleArn": "arn:aws:iam::333333333333:role/rebound-services"}});
    plan["services"] = json!([
        {"kind": "ecs", "cluster": "orders-usw2", "service": "orders-api", "desiredCount": 2, "account": "apps"},
        {"kind": "eksNodegroup", "cluster": "orders-eks", "nodegroup": "workers", "minSize": 1, "desiredSize": 2,
         "account": "apps"},
        {"kind": "eksDeployment", "cluster": "orders-eks", "namespace": "orders", "deployment": "api", "replicas": 3,
         "account": "apps"},
        {"kind": "autoScalingGroup", "name": "orders-web-usw2", "minSize": 1, "desiredCapacity": 2},
    ]);
    let parsed = RecoveryPlan::from_value(&plan).expect("services in another account");
    let accounts: Vec<Option<&str>> = parsed.services.iter().map(|s| s.account()).collect();
    assert_eq!(accounts, [Some("apps"), Some("apps"), Some("apps"), None]);
    assert_eq!(
        RecoveryPlan::from_value(&serde_json::to_value(&parsed).expect("json")).expect("again"),
        parsed
    );

    plan["services"][0]["account"] = json!("nowhere");
    plan["services"][2].as_object_mut().expect("service").remove("account");
    let found = match RecoveryPlan::from_value(&plan) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    };
    for expected in [
        "services[0].account: must name one of the plan's accounts, got 'nowhere'",
        "services[2].account: EKS cluster orders-eks is in apps at services[1]",
    ] {
        assert!(found.iter().any(|p| p.starts_with(expected)), "{expected} in {found:?}");
    }
}

#[test]
fn a_database_in_another_account_names_a_known_account_and_its_clusters_are_in_it() {
    let mut plan = example();
    plan["accounts"] = json!({"data": {"roleArn": "arn:aws:iam::222222222222:role/rebound-data"}});
    plan["databases"] = json!([
        {"kind": "readReplica", "identifier": "ledger-db-usw2",
         "sourceIdentifier": "arn:aws:rds:us-east-1:222222222222:db:ledger-db", "account": "data"},
        {"kind": "auroraGlobal", "identifier": "orders-global", "account": "data",
         "targetClusterArn": "arn:aws:rds:us-west-2:222222222222:cluster:orders-usw2"},
    ]);
    let parsed = RecoveryPlan::from_value(&plan).expect("databases in another account");
    assert!(parsed.databases.iter().all(|db| db.account() == Some("data")));
    assert_eq!(
        RecoveryPlan::from_value(&serde_json::to_value(&parsed).expect("json")).expect("again"),
        parsed
    );

    plan["databases"][0]["account"] = json!("nowhere");
    plan["databases"][1]["targetClusterArn"] = json!("arn:aws:rds:us-west-2:123456789012:cluster:orders-usw2");
    plan["globalTables"] = json!([{"tableName": "ledger", "account": "elsewhere"}]);
    plan["routingControlCluster"] = json!({"account": "arc",
        "endpoints": [{"region": "us-west-2", "url": "https://host-a.us-west-2.example.com/v1"}]});
    let found = match RecoveryPlan::from_value(&plan) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems.iter().map(ToString::to_string).collect(),
    };
    for expected in [
        "databases[0].account: must name one of the plan's accounts, got 'nowhere'",
        "databases[1].targetClusterArn: is in account 123456789012, and account data's role in 222222222222",
        "globalTables[0].account: must name one of the plan's accounts, got 'elsewhere'",
        "routingControlCluster.account: must name one of the plan's accounts, got 'arc'",
    ] {
        assert!(found.iter().any(|p| p.starts_with(expected)), "{expected} in {found:?}");
    }
}
