//! The two-region application a drill seeds in moto, and the state a failback starts from.

use super::*;

/// A local HTTP endpoint answering every request with `status` and `body`.
pub(super) async fn endpoint(status: u16, body: &'static str) -> Result<SocketAddr, DrillError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| seed("a local endpoint")(e.to_string()))?;
    let addr = listener
        .local_addr()
        .map_err(|e| seed("a local endpoint")(e.to_string()))?;
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            let reply = format!("HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}", body.len());
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    Ok(addr)
}

/// What the seeded application is called in moto.
pub(super) struct World {
    pub(super) zone: String,
    pub(super) health_check: String,
    /// The alarm the primary records' health check follows, for data-plane DNS.
    pub(super) gate: Option<String>,
    pub(super) queue_url: String,
    pub(super) plan: Value,
}

pub(super) fn record(
    name: &str,
    kind: RrType,
    target: Result<RecordBody, String>,
) -> Result<ResourceRecordSet, String> {
    let builder = ResourceRecordSet::builder().name(name).r#type(kind);
    let builder = match target? {
        RecordBody::Value(v, ttl) => builder
            .ttl(ttl)
            .resource_records(ResourceRecord::builder().value(v).build().map_err(|e| e.to_string())?),
        RecordBody::Alias(zone, dns) => builder.alias_target(
            AliasTarget::builder()
                .hosted_zone_id(zone)
                .dns_name(dns)
                .evaluate_target_health(true)
                .build()
                .map_err(|e| e.to_string())?,
        ),
    };
    builder.build().map_err(|e| e.to_string())
}

pub(super) enum RecordBody {
    Value(String, i64),
    Alias(String, String),
}

pub(super) async fn seed_world(
    scenario: Scenario,
    global: &SdkConfig,
    recovery: &SdkConfig,
    health_url: &str,
    primary_health_url: &str,
) -> Result<World, DrillError> {
    let mut plan: Value = serde_json::from_str(PLAN).map_err(|e| seed("the plan")(e.to_string()))?;
    let primary_config = rebound_shared::aws::in_region(global, PRIMARY);

    // DNS: the zone, its records pointing at the primary, and the primary's health check.
    let route53 = aws_sdk_route53::Client::new(global);
    let zone = rebound_moto::seed::hosted_zone(global, "orders.example.com")
        .await
        .map_err(seed("the hosted zone"))?;
    let check = route53
        .create_health_check()
        .caller_reference(format!("drill-pay-{}", Utc::now().timestamp_millis()))
        .health_check_config(
            HealthCheckConfig::builder()
                .r#type(HealthCheckType::Https)
                .fully_qualified_domain_name("pay-use1.orders.example.com")
                .resource_path("/health")
                .build()
                .map_err(|e| seed("the health check")(e.to_string()))?,
        )
        .send()
        .await
        .map_err(|e| seed("the health check")(format!("{e:?}")))?;
    let health_check = check
        .health_check()
        .map(|h| h.id().to_string())
        .ok_or_else(|| seed("the health check")("no id".into()))?;
    let records = [
        record(
            "api.orders.example.com.",
            RrType::Cname,
            Ok(RecordBody::Value("orders-api-use1.orders.example.com".into(), 60)),
        ),
        record(
            "www.orders.example.com.",
            RrType::A,
            Ok(RecordBody::Alias(
                "Z35SXDOTRQ7X7K".into(),
                "orders-web-use1-1234567890.us-east-1.elb.amazonaws.com.".into(),
            )),
        ),
        record(
            "pay.orders.example.com.",
            RrType::A,
            Ok(RecordBody::Value("10.20.0.10".into(), 60)),
        ),
    ];
    let sets = records
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(seed("records"))?;
    rebound_moto::seed::create_records(global, &zone, sets)
        .await
        .map_err(seed("records"))?;

    // The primary database and its cross-region read replica (MySQL: its replicas keep backups,
    // so a corrupted replica can be restored to a point in time).
    let primary_arn = rebound_moto::seed::database_with_replica(&primary_config, recovery, "mysql")
        .await
        .map_err(seed("the databases"))?;
    rebound_moto::seed::replica_lag(recovery, rebound_moto::seed::REPLICA_DB, scenario.replica_lag())
        .await
        .map_err(seed("replica lag"))?;
    // An Aurora global database instead, on its own cluster parameter group, 4 s behind.
    let aurora = if scenario == Scenario::AuroraGlobal {
        Some(
            rebound_moto::seed::aurora_global(
                &primary_config,
                recovery,
                AURORA_GLOBAL,
                "sg-0aaaaaaaaaaaaaaaa",
                Some(4000.0),
                true,
            )
            .await
            .map_err(seed("the Aurora global database"))?,
        )
    } else {
        None
    };

    // The application in the recovery region reads the writer's host from a parameter and a
    // secret, both naming the primary's writer until a failover points them elsewhere.
    let old_host = seeded_writer_host(&primary_config, aurora.is_some()).await?;
    rebound_moto::seed::writer_endpoints(recovery, WRITER_PARAMETER, WRITER_SECRET, None, &old_host)
        .await
        .map_err(seed("the writer endpoints"))?;
    super::canary::plant(recovery, &old_host)
        .await
        .map_err(seed("the canary secrets"))?;

    // The shopping carts: a DynamoDB global table with its replica in the recovery region,
    // 1.5 s behind.
    rebound_moto::seed::global_table(&primary_config, RECOVERY, CARTS_TABLE)
        .await
        .map_err(seed("the global table"))?;
    rebound_moto::seed::replication_latency(&primary_config, CARTS_TABLE, RECOVERY, 1500.0)
        .await
        .map_err(seed("the global table's latency"))?;

    // The orders queue's consumer: running in the primary, stopped in the recovery region.
    let primary_consumer = rebound_moto::seed::queue_consumer(&primary_config, CONSUMER, true)
        .await
        .map_err(seed("the primary's consumer"))?;
    let recovery_consumer = rebound_moto::seed::queue_consumer(recovery, CONSUMER, false)
        .await
        .map_err(seed("the recovery region's consumer"))?;

    // The application's own steps, each a function in the recovery region.
    let drain = rebound_moto::seed::function(recovery, CUSTOM_ANSWERS[0].0)
        .await
        .map_err(seed("the custom actions' functions"))?;
    let warm = rebound_moto::seed::function(recovery, CUSTOM_ANSWERS[1].0)
        .await
        .map_err(seed("the custom actions' functions"))?;

    // Warm standby: services running at minimum in the recovery region.
    rebound_moto::seed::ecs_services(recovery, &[("orders-api", 1), ("orders-worker", 1)])
        .await
        .map_err(seed("ECS services"))?;
    rebound_moto::seed::auto_scaling_group(recovery, 1, 1, 2)
        .await
        .map_err(seed("the Auto Scaling group"))?;

    // Notifications, read back through a subscribed queue.
    let sns = aws_sdk_sns::Client::new(recovery);
    let topic = sns
        .create_topic()
        .name("rebound-orders")
        .send()
        .await
        .map_err(|e| seed("the topic")(format!("{e:?}")))?;
    let topic_arn = topic
        .topic_arn()
        .map(str::to_string)
        .ok_or_else(|| seed("the topic")("no ARN".into()))?;
    let sqs = aws_sdk_sqs::Client::new(recovery);
    let queue = sqs
        .create_queue()
        .queue_name("rebound-orders-drill")
        .send()
        .await
        .map_err(|e| seed("the queue")(format!("{e:?}")))?;
    let queue_url = queue
        .queue_url()
        .map(str::to_string)
        .ok_or_else(|| seed("the queue")("no URL".into()))?;
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| seed("the queue")(format!("{e:?}")))?;
    let queue_arn = attrs
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| seed("the queue")("no ARN".into()))?;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .map_err(|e| seed("the subscription")(format!("{e:?}")))?;

    // The alarms the plan watches, in the primary region, quiet before the disaster; and its
    // canary's availability, healthy.
    for alarm in ["orders-api-5xx-rate", "orders-alb-unhealthy-hosts"] {
        rebound_moto::seed::alarm(&primary_config, alarm, "OK")
            .await
            .map_err(seed("alarms"))?;
    }
    rebound_moto::seed::metric(
        &primary_config,
        "Orders/Synthetics",
        "SuccessPercent",
        &[("Canary", "orders-checkout")],
        99.8,
    )
    .await
    .map_err(seed("the canary metric"))?;

    // EKS and the caches, in the `eks-and-cache` scenario: the recovery cluster's node group at 1
    // node, a global datastore whose us-west-2 member is 0.5 s behind, and a multi-Region cluster.
    if scenario == Scenario::EksAndCache {
        // The EKS cluster is the workload account's: Rebound scales it as that account's role.
        let apps = rebound_moto::seed::as_role(recovery, APPS_ROLE)
            .await
            .map_err(seed("the workload account's role"))?;
        rebound_moto::seed::eks_nodegroup(&apps, EKS_CLUSTER, EKS_NODEGROUP, (1, 1, 6))
            .await
            .map_err(seed("the EKS node group"))?;
        plan["accounts"] = json!({"apps": {"roleArn": APPS_ROLE}});
        let (suffix, primary_group, recovery_group) = SESSIONS;
        let id = rebound_moto::seed::cache_global_datastore(
            &primary_config,
            recovery,
            suffix,
            (primary_group, recovery_group),
        )
        .await
        .map_err(seed("the global datastore"))?;
        for node in ["001", "002"] {
            rebound_moto::seed::metric(
                recovery,
                "AWS/ElastiCache",
                "GlobalDatastoreReplicationLag",
                &[("CacheClusterId", &format!("{recovery_group}-{node}"))],
                0.5,
            )
            .await
            .map_err(seed("the global datastore's lag"))?;
        }
        plan["globalDatastores"] = json!([{"globalReplicationGroupId": id,
            "primaryReplicationGroupId": primary_group, "recoveryReplicationGroupId": recovery_group}]);
        // Carts in a MemoryDB multi-Region cluster (active-active), the us-west-2 cluster's
        // slowest shard 1.5 s behind.
        let (suffix, primary_cluster, recovery_cluster) = CARTS;
        let name = rebound_moto::seed::memorydb_multi_region_cluster(
            &primary_config,
            recovery,
            suffix,
            (primary_cluster, recovery_cluster),
        )
        .await
        .map_err(seed("the multi-Region cluster"))?;
        for (shard, ms) in [("0001", 400.0), ("0002", 1500.0)] {
            let dimensions = [
                ("ClusterName", recovery_cluster),
                ("ShardId", shard),
                ("SourceRegion", PRIMARY),
            ];
            rebound_moto::seed::metric(
                recovery,
                "AWS/MemoryDB",
                "MultiRegionClusterReplicationLag",
                &dimensions,
                ms,
            )
            .await
            .map_err(seed("the multi-Region cluster's lag"))?;
        }
        plan["multiRegionClusters"] = json!([{"multiRegionClusterName": name,
            "primaryClusterName": primary_cluster, "recoveryClusterName": recovery_cluster}]);
        // The catalog in a DocumentDB global cluster, its us-west-2 cluster 0.8 s behind.
        // Boxed: the seeding of two engines' clusters would weigh on the drill's stack.
        let (_, catalog) = Box::pin(rebound_moto::seed::engine_global(
            (&primary_config, recovery),
            "docdb",
            CATALOG,
            "sg-0aaaaaaaaaaaaaaaa",
            Some(800.0),
        ))
        .await
        .map_err(seed("the DocumentDB global cluster"))?;
        if let Some(databases) = plan["databases"].as_array_mut() {
            databases.push(json!({"kind": "auroraGlobal", "engine": "docdb", "identifier": CATALOG,
                "targetClusterArn": catalog, "allowDataLoss": true}));
        }
        if let Some(services) = plan["services"].as_array_mut() {
            services.push(
                json!({"kind": "eksNodegroup", "cluster": EKS_CLUSTER, "nodegroup": EKS_NODEGROUP,
                                 "minSize": 2, "desiredSize": 4, "maxSize": 6, "account": "apps"}),
            );
        }
    }

    rebound_moto::seed::recovery_table(recovery, TABLE)
        .await
        .map_err(seed("the recovery table"))?;

    // The plan, pointed at what moto named things, stored where the detector reads it.
    for record in plan["dns"].as_array_mut().into_iter().flatten() {
        record["hostedZoneId"] = json!(zone);
        if record.get("healthCheckId").is_some() {
            record["healthCheckId"] = json!(health_check);
        }
    }
    plan["databases"][0]["sourceIdentifier"] = json!(primary_arn);
    if scenario == Scenario::DataCorruption {
        // The replica copied the bad writes: restore it to before they began, as a new instance.
        plan["databases"] = json!([{"kind": "pointInTimeRestore", "identifier": "orders-db-restored", "sourceIdentifier": "orders-db-usw2"}]);
    }
    plan["notification"]["topicArn"] = json!(topic_arn);
    if scenario.cuts_the_primary() {
        // Once the region is gone its alarms cannot be re-read: for this plan an unreadable
        // primary signal is evidence of the outage.
        plan["detection"]["unknownSignals"] = json!("failing");
    }
    if let Some((writer, target)) = &aurora {
        plan["databases"] = json!([{"kind": "auroraGlobal", "identifier": AURORA_GLOBAL,
                                    "targetClusterArn": target, "failbackClusterArn": writer}]);
    }
    if scenario == Scenario::Reprotect {
        plan["detection"]["reprotectWhenHealthy"] = json!(true);
    }
    if plan["databases"][0]["kind"] == "readReplica" {
        plan["databases"][0]["failbackIdentifier"] = json!(FAILBACK_DB);
        plan["databases"][0]["reprotect"] = json!({"parameterGroupName": FAILBACK_PARAMETER_GROUP});
    }
    // The application finds its writer through a parameter and a secret: pointed at the new one.
    let database = plan["databases"][0]["identifier"].clone();
    plan["globalTables"] = json!([{"tableName": CARTS_TABLE}]);
    plan["customActions"] = json!([
        {"name": CUSTOM_ANSWERS[0].0, "at": "beforeFailover", "functionArn": drain, "timeoutSeconds": 30, "stopOnFailure": false},
        {"name": CUSTOM_ANSWERS[1].0, "at": "afterServices", "functionArn": warm, "timeoutSeconds": 60, "stopOnFailure": true}
    ]);
    if scenario == Scenario::OperatorSteers {
        // The warm-up hangs: the state machine gives up on it after this long, real time.
        plan["customActions"][1]["timeoutSeconds"] = json!(3);
    }
    plan["eventSourceMappings"] = json!([{"primaryUuid": primary_consumer, "recoveryUuid": recovery_consumer}]);
    // The worker writes what it takes from the queue: it starts once the new writer takes writes.
    plan["services"][1]["needsWriter"] = json!(true);
    // Turning the primary's consumer off is best effort; this plan accepts that knowingly.
    if let Some(acknowledged) = plan["acknowledgedDependencies"].as_array_mut() {
        acknowledged.extend([
            json!("lambda:GetEventSourceMapping"),
            json!("lambda:UpdateEventSourceMapping"),
        ]);
    }
    plan["writerEndpoints"] = json!([
        {"kind": "ssmParameter", "database": database, "name": WRITER_PARAMETER},
        {"kind": "secret", "database": database, "secretId": WRITER_SECRET}
    ]);
    plan["validation"]["probes"] = json!([
        {"kind": "http", "url": health_url, "expectedStatus": 200, "expectedBody": "\"status\":\"ok\""},
        {"kind": "dns", "hostedZoneId": zone, "name": "api.orders.example.com.", "type": "CNAME", "expected": ["orders-api-usw2.orders.example.com"]},
        {"kind": "http", "url": primary_health_url, "expectedStatus": 200, "expectedBody": "\"status\":\"ok\"", "when": "failback"},
        {"kind": "dns", "hostedZoneId": zone, "name": "api.orders.example.com.", "type": "CNAME", "expected": ["orders-api-use1.orders.example.com"], "when": "failback"}
    ]);
    let gate = if scenario.data_plane_dns() {
        // Pre-provisioned failover records whose primary health check follows an alarm in the
        // recovery region: the failover drives that alarm and calls nothing in Route 53, and
        // validation reads the alarm rather than the records (DNS probes read Route 53's control
        // plane).
        let health_check = rebound_moto::seed::health_check_gate(global, recovery, GATE)
            .await
            .map_err(seed("the health check's alarm"))?;
        for record in plan["dns"].as_array_mut().into_iter().flatten() {
            let (zone, name, rtype) = (
                record["hostedZoneId"].clone(),
                record["name"].clone(),
                record["type"].clone(),
            );
            *record = json!({"hostedZoneId": zone, "name": name, "type": rtype, "mode": "alarmHealthCheck",
                             "alarmName": GATE, "healthCheckId": health_check});
        }
        if let Some(probes) = plan["validation"]["probes"].as_array_mut() {
            probes.retain(|p| p["kind"] != "dns");
        }
        Some(GATE.to_string())
    } else {
        None
    };
    rebound_moto::seed::plan_parameter(recovery, "/rebound/orders/plan", &plan.to_string())
        .await
        .map_err(seed("the plan parameter"))?;
    // The bucket the template creates for every execution's report, under Object Lock as there.
    rebound_moto::seed::report_bucket(recovery, REPORT_BUCKET, super::REPORT_RETENTION_DAYS)
        .await
        .map_err(seed("the report bucket"))?;
    Ok(World {
        zone,
        health_check,
        gate,
        queue_url,
        plan,
    })
}

/// After a failover: the primary region is back and its alarms are OK again. The failback
/// replica's parameter group is there (the plan's `reprotect` names it); RDS publishes a
/// replica's ReplicaLag once it replicates, moto never does: published for it ahead.
pub async fn region_returns(global: &SdkConfig) -> Result<(), DrillError> {
    let primary = rebound_shared::aws::in_region(global, PRIMARY);
    rebound_moto::seed::parameter_group(&primary, FAILBACK_PARAMETER_GROUP, "mysql")
        .await
        .map_err(seed("the failback replica's parameter group"))?;
    rebound_moto::seed::replica_lag(&primary, FAILBACK_DB, 0.0)
        .await
        .map_err(seed("the failback replica's lag"))?;
    // The application back in the primary region reads its own parameter and secret, still
    // naming the writer it had before the failover.
    let old_host = seeded_writer_host(&primary, false).await?;
    rebound_moto::seed::writer_endpoints(&primary, WRITER_PARAMETER, WRITER_SECRET, None, &old_host)
        .await
        .map_err(seed("the primary's writer endpoints"))?;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&primary);
    for alarm in ["orders-api-5xx-rate", "orders-alb-unhealthy-hosts"] {
        cloudwatch
            .set_alarm_state()
            .alarm_name(alarm)
            .state_value(aws_sdk_cloudwatch::types::StateValue::Ok)
            .state_reason("us-east-1 recovered")
            .send()
            .await
            .map_err(|e| seed("alarm state")(format!("{e:?}")))?;
    }
    Ok(())
}

/// The host of the writer the application uses before the disaster: the primary instance, or
/// the Aurora global database's writer cluster.
pub(super) async fn seeded_writer_host(primary: &SdkConfig, aurora: bool) -> Result<String, DrillError> {
    let rds = aws_sdk_rds::Client::new(primary);
    let host = if aurora {
        rds.describe_db_clusters()
            .db_cluster_identifier(format!("{AURORA_GLOBAL}-east"))
            .send()
            .await
            .map_err(|e| seed("the writer's host")(format!("{e:?}")))?
            .db_clusters()
            .first()
            .and_then(|c| c.endpoint())
            .map(str::to_string)
    } else {
        rds.describe_db_instances()
            .db_instance_identifier(rebound_moto::seed::PRIMARY_DB)
            .send()
            .await
            .map_err(|e| seed("the writer's host")(format!("{e:?}")))?
            .db_instances()
            .first()
            .and_then(|d| d.endpoint())
            .and_then(|e| e.address())
            .map(str::to_string)
    };
    host.ok_or_else(|| seed("the writer's host")("RDS gives the writer no endpoint".into()))
}
