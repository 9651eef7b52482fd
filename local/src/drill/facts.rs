//! The application's own parts after a drill: where it reads its writer's host, its queue
//! consumers, and the plan's custom actions.

use super::verify::{fact, Ended, Verified};
use super::*;

/// Where the application reads its writer's host (the parameter and the secret, in the region
/// it runs in after the drill): the new writer once the database moved, else the old one.
pub(super) async fn writer_endpoint_fact(
    scenario: Scenario,
    global: &SdkConfig,
    recovery: &SdkConfig,
    world: &World,
) -> Result<Verified, DrillError> {
    let read = |what: &'static str| move |e: String| DrillError::Read { what, message: e };
    let primary = rebound_shared::aws::in_region(global, PRIMARY);
    let back = scenario == Scenario::Failback;
    let acting = if back { primary.clone() } else { recovery.clone() };
    let plan: rebound_shared::plan::RecoveryPlan =
        serde_json::from_value(world.plan.clone()).map_err(|e| read("the plan")(e.to_string()))?;
    let plan = if back {
        plan.for_failback().map_err(|e| read("the failback plan")(e.reason))?
    } else {
        plan
    };
    let (want, want_parameter) = match plan.databases.first() {
        Some(db) if scenario.moves_region() => {
            let host = rebound_shared::rds::reads::writer_host(&aws_sdk_rds::Client::new(&acting), db)
                .await
                .map_err(|e| read("the new writer's host")(e.to_string()))?
                .unwrap_or_else(|| "none".into());
            (host.clone(), host)
        }
        // Untouched: the secret's host as seeded, the parameter's canary.
        _ => (
            seeded_writer_host(&primary, scenario == Scenario::AuroraGlobal).await?,
            super::canary::SEALED_HOST.to_string(),
        ),
    };
    let parameter = aws_sdk_ssm::Client::new(&acting)
        .get_parameter()
        .name(WRITER_PARAMETER)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| read("the writer parameter")(format!("{e:?}")))?
        .parameter
        .and_then(|p| p.value)
        .unwrap_or_default();
    let secret = aws_sdk_secretsmanager::Client::new(&acting)
        .get_secret_value()
        .secret_id(WRITER_SECRET)
        .send()
        .await
        .map_err(|e| read("the writer secret")(format!("{e:?}")))?;
    let secret_host = secret
        .secret_string()
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|v| v["host"].as_str().map(str::to_string))
        .unwrap_or_default();
    Ok(fact(
        &format!("{WRITER_PARAMETER} and {WRITER_SECRET} (host)"),
        format!("{want_parameter}, {want}"),
        format!("{parameter}, {secret_host}"),
    ))
}

/// The queue consumer's event source mapping in each region: it runs where the application runs
/// (in a cut region it could not be stopped, and people are told).
pub(super) async fn consumer_fact(
    scenario: Scenario,
    global: &SdkConfig,
    recovery: &SdkConfig,
    world: &World,
) -> Result<Verified, DrillError> {
    let read = |what: &'static str| move |e: String| DrillError::Read { what, message: e };
    let state = |config: SdkConfig, uuid: String| async move {
        aws_sdk_lambda::Client::new(&config)
            .get_event_source_mapping()
            .uuid(uuid)
            .send()
            .await
            .map(|out| out.state.unwrap_or_default())
            .map_err(|e| read("the consumer")(format!("{e:?}")))
    };
    let uuid = |key: &str| {
        world.plan["eventSourceMappings"][0][key]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let primary = state(rebound_shared::aws::in_region(global, PRIMARY), uuid("primaryUuid")).await?;
    let recovered = state(recovery.clone(), uuid("recoveryUuid")).await?;
    let want = if !scenario.moves_region() || scenario == Scenario::Failback {
        "Enabled, Disabled"
    } else if scenario.cuts_the_primary() {
        "Enabled (region cut), Enabled"
    } else {
        "Disabled, Enabled"
    };
    let found = if scenario.cuts_the_primary() && primary == "Enabled" {
        format!("{primary} (region cut), {recovered}")
    } else {
        format!("{primary}, {recovered}")
    };
    Ok(fact(
        &format!("{CONSUMER} mappings ({PRIMARY}, {RECOVERY})"),
        want,
        found,
    ))
}

/// The plan's own steps: each that its point reached ran once and answered as scripted.
pub(super) fn custom_actions_fact(scenario: Scenario, ended: &Ended) -> Verified {
    let ran: Vec<String> = ended
        .context()
        .and_then(|c| c.custom_action_results.as_ref())
        .map(|o| {
            o.all()
                .map(|o| match (&o.output, &o.skipped) {
                    (Some(output), _) => format!("{} {} ({})", o.name, o.status, output.as_str().unwrap_or("?")),
                    (None, Some(mark)) => format!(
                        "{} {} by {} after {}",
                        o.name,
                        o.status,
                        mark.by,
                        o.error.as_deref().unwrap_or("no error")
                    ),
                    (None, None) => format!("{} {}", o.name, o.status),
                })
                .collect()
        })
        .unwrap_or_default();
    let [(drain, drained), (warm, warmed)] = CUSTOM_ANSWERS;
    let want = match scenario {
        // A reprotect runs none of them: its context is its own.
        Scenario::ReadinessCheck | Scenario::LaggingReplica | Scenario::Reprotect => "none".to_string(),
        // A service restore moves nothing: only the step after services runs.
        Scenario::ServiceOutage => format!("{warm} succeeded ({warmed})"),
        // Hung past its timeout, skipped by the operator meanwhile: the recovery went on.
        Scenario::OperatorSteers => {
            format!("{drain} succeeded ({drained}), {warm} skipped by {OPERATOR} after States.Timeout")
        }
        _ => format!("{drain} succeeded ({drained}), {warm} succeeded ({warmed})"),
    };
    let found = if ran.is_empty() {
        "none".to_string()
    } else {
        ran.join(", ")
    };
    fact("custom actions", want, found)
}

/// What a reprotect leaves: the failback replica in the primary region, replicating from the
/// recovery-region writer and tagged with the reprotect; the failback's readiness; the lease
/// released and no cooldown started (the last recovery is still the failover).
pub(super) async fn reprotect_facts(
    envelopes: &[Value],
    global: &SdkConfig,
    recovery: &SdkConfig,
) -> Result<Vec<Verified>, DrillError> {
    let read = |what: &'static str| move |e: String| DrillError::Read { what, message: e };
    let primary = rebound_shared::aws::in_region(global, PRIMARY);
    let writer = aws_sdk_rds::Client::new(recovery)
        .describe_db_instances()
        .db_instance_identifier(rebound_moto::seed::REPLICA_DB)
        .send()
        .await
        .map_err(|e| read("the writer")(format!("{e:?}")))?;
    let writer_arn = writer
        .db_instances()
        .first()
        .and_then(|d| d.db_instance_arn())
        .unwrap_or_default()
        .to_string();
    let built = aws_sdk_rds::Client::new(&primary)
        .describe_db_instances()
        .db_instance_identifier(FAILBACK_DB)
        .send()
        .await
        .ok()
        .and_then(|out| out.db_instances().first().cloned());
    // What the reprotect's notification says (its last one: a failed run has no context).
    let told: Value = envelopes
        .iter()
        .filter_map(|e| {
            e["Message"]
                .as_str()
                .and_then(|m| serde_json::from_str::<Value>(m).ok())
        })
        .rfind(|body| body["mode"] == "failback")
        .unwrap_or(Value::Null);
    let recovery_id = told["recoveryId"].as_str().unwrap_or_default().to_string();
    let replica = built.as_ref().map_or("missing".to_string(), |d| {
        let tagged = d
            .tag_list()
            .iter()
            .any(|t| t.key() == Some("rebound:recovery-id") && t.value() == Some(recovery_id.as_str()));
        format!(
            "{}, replica of {}, {} group, tagged: {tagged}",
            d.db_instance_status().unwrap_or("?"),
            d.read_replica_source_db_instance_identifier().unwrap_or("nothing"),
            d.db_parameter_groups()
                .first()
                .and_then(|g| g.db_parameter_group_name())
                .unwrap_or("no"),
        )
    });
    let readiness = match told["readiness"]["ready"].as_bool() {
        Some(true) => "ready".to_string(),
        Some(false) => {
            let failing: Vec<String> = told["readiness"]["failing"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    format!(
                        "{}: {}",
                        c["name"].as_str().unwrap_or("?"),
                        c["detail"].as_str().unwrap_or("")
                    )
                })
                .collect();
            format!("NOT READY: {}", failing.join("; "))
        }
        None => "not checked".to_string(),
    };
    let table = rebound_shared::table::RecoveryTable::new(recovery, TABLE);
    let lease = table
        .holder("orders", Utc::now())
        .await
        .map_err(|e| read("the lease")(e.to_string()))?;
    let last = table
        .last_recovery("orders")
        .await
        .map_err(|e| read("the last recovery")(e.to_string()))?
        .map_or("none".to_string(), |l| {
            if l.recovery_id == recovery_id {
                "the reprotect".to_string()
            } else {
                "the failover".to_string()
            }
        });
    Ok(vec![
        fact(
            "started by",
            "schedule (the plan's reprotectWhenHealthy)",
            format!(
                "{} (the plan's reprotectWhenHealthy)",
                told["disaster"]["source"].as_str().unwrap_or("nothing")
            ),
        ),
        fact(
            &format!("{FAILBACK_DB} ({PRIMARY})"),
            format!("available, replica of {writer_arn}, {FAILBACK_PARAMETER_GROUP} group, tagged: true"),
            replica,
        ),
        fact(
            "the failback's readiness",
            "ready, as a failback",
            format!("{readiness}, as a {}", told["mode"].as_str().unwrap_or("none")),
        ),
        fact(
            "lease released, no cooldown from the reprotect",
            "released, last recovery: the failover",
            format!(
                "{}, last recovery: {last}",
                if lease.is_none() { "released" } else { "HELD" }
            ),
        ),
    ])
}

/// The `eks-and-cache` scenario's own parts: the recovery cluster's node group scaled up with
/// its nodes in service, the sessions datastore's us-west-2 member the primary, the carts
/// multi-Region cluster's us-west-2 cluster serving, and the catalog's DocumentDB us-west-2
/// cluster the writer, as EKS, Auto Scaling, ElastiCache, MemoryDB and DocumentDB hold them; the
/// RPO is the worst of the lags.
pub(super) async fn stack_facts(recovery: &SdkConfig, world: &World, ended: &Ended) -> Vec<Verified> {
    // Read in the workload account, as its role.
    let apps = rebound_moto::seed::as_role(recovery, APPS_ROLE).await;
    let nodes = match &apps {
        Ok(apps) => rebound_moto::held::nodegroup_nodes(apps, EKS_CLUSTER, EKS_NODEGROUP).await,
        Err(_) => None,
    };
    let nodes = nodes.map_or_else(
        || "unreadable".into(),
        |(status, desired, in_service)| format!("{status}, desired {desired}, {in_service} in service"),
    );
    let id = world.plan["globalDatastores"][0]["globalReplicationGroupId"]
        .as_str()
        .unwrap_or_default();
    let primary = match rebound_moto::held::global_datastore(recovery, id).await {
        Some((status, members)) => members.iter().find(|m| m.2 == "PRIMARY").map_or_else(
            || format!("none, {status}"),
            |m| format!("{} in {}, {status}", m.0, m.1),
        ),
        None => "missing".into(),
    };
    let carts = world.plan["multiRegionClusters"][0]["multiRegionClusterName"]
        .as_str()
        .unwrap_or_default();
    let serving = match rebound_moto::held::multi_region_cluster(recovery, carts).await {
        Some((status, clusters)) => clusters.iter().find(|c| c.1 == RECOVERY).map_or_else(
            || format!("none in {RECOVERY}, {status}"),
            |c| format!("{} in {}, {}", c.0, c.1, c.2),
        ),
        None => "missing".into(),
    };
    let catalog = rebound_shared::rds::GlobalClients::new(recovery);
    let catalog = match catalog
        .client(
            &aws_sdk_rds::Client::new(recovery),
            rebound_shared::plan::GlobalEngine::Docdb,
        )
        .read(CATALOG)
        .await
    {
        Ok(Some(global)) => global.writer().map_or_else(
            || "no writer".into(),
            |w| rebound_shared::rds::instance_name(w).to_string(),
        ),
        Ok(None) => "missing".into(),
        Err(e) => e.to_string(),
    };
    let rpo = ended
        .context()
        .and_then(|c| c.results.database.as_ref())
        .and_then(|r| r.rpo_seconds)
        .map_or_else(|| "none".into(), |s| format!("{s} s"));
    vec![
        fact(
            &format!("EKS {EKS_CLUSTER}/{EKS_NODEGROUP} (account apps, as its role)"),
            "ACTIVE, desired 4, 4 in service",
            nodes,
        ),
        fact(
            &format!("{id}'s primary"),
            format!("{} in {RECOVERY}, available", SESSIONS.2),
            primary,
        ),
        fact(
            &format!("{carts}'s regional cluster in {RECOVERY}"),
            format!("{} in {RECOVERY}, available", CARTS.2),
            serving,
        ),
        fact(
            &format!("{CATALOG}'s writer (DocumentDB, through its own API)"),
            format!("{CATALOG}-west"),
            catalog,
        ),
        fact(
            "database step's RPO (replica 4 s behind, sessions 0.5 s, carts 1.5 s, catalog 0.8 s)",
            "4 s",
            rpo,
        ),
    ]
}
