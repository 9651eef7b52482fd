//! What moto holds after a drill, checked fact by fact.

use super::*;

/// One verified fact about the end state.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Verified {
    pub what: String,
    pub expected: String,
    pub found: String,
    pub ok: bool,
}

pub(super) fn fact(what: &str, expected: impl Into<String>, found: impl Into<String>) -> Verified {
    let (expected, found) = (expected.into(), found.into());
    Verified {
        what: what.into(),
        ok: expected == found,
        expected,
        found,
    }
}

/// The execution's output with every step's whole result: the output carries a large result
/// as its summary, the whole kept in the recovery table, and the report takes the whole, as the
/// notifier's does.
pub(super) async fn expanded(
    outcome: Result<Value, StateError>,
    results: &rebound_shared::results::ResultStore,
) -> Result<Result<Value, StateError>, DrillError> {
    let Ok(output) = outcome else {
        return Ok(outcome);
    };
    let mut payload = serde_json::json!({ "context": output });
    results
        .expand(&mut payload, rebound_shared::results::needed_by("recovery-notifier"))
        .await
        .map_err(|e| DrillError::Read {
            what: "the execution's results",
            message: e.to_string(),
        })?;
    Ok(Ok(payload["context"].take()))
}

/// How the execution ended: the recovery context it carried out, or the error that ended it.
pub(crate) enum Ended {
    Context(Box<RecoveryContext>),
    Failed(StateError),
}

impl Ended {
    /// `plan` is the plan the drill wrote, for an output that carries it by reference
    /// (`planRef`), as every step's context does.
    pub(super) fn of(outcome: &Result<Value, StateError>, plan: &Value) -> Result<Ended, DrillError> {
        match outcome {
            Ok(output) => {
                let mut output = output.clone();
                if output.get("plan").is_none() {
                    output["plan"] = plan.clone();
                }
                serde_json::from_value(output)
                    .map(|c| Ended::Context(Box::new(c)))
                    .map_err(|e| DrillError::Read {
                        what: "the execution's output",
                        message: e.to_string(),
                    })
            }
            Err(e) => Ok(Ended::Failed(e.clone())),
        }
    }

    pub(super) fn context(&self) -> Option<&RecoveryContext> {
        match self {
            Ended::Context(ctx) => Some(ctx),
            Ended::Failed(_) => None,
        }
    }

    fn error(&self) -> Option<&StateError> {
        match self {
            Ended::Context(_) => None,
            Ended::Failed(e) => Some(e),
        }
    }
}

/// A value's serde name: `regionalOutage`, `failover`.
fn named(value: impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(name)) => name,
        _ => "none".into(),
    }
}

pub(super) async fn verify(
    scenario: Scenario,
    ended: &Ended,
    global: &SdkConfig,
    recovery: &SdkConfig,
    world: &World,
) -> Result<(Vec<Verified>, Option<Value>, Vec<Value>), DrillError> {
    let read = |what: &'static str| move |e: String| DrillError::Read { what, message: e };
    let route53 = aws_sdk_route53::Client::new(global);
    let records = route53
        .list_resource_record_sets()
        .hosted_zone_id(&world.zone)
        .send()
        .await
        .map_err(|e| read("records")(format!("{e:?}")))?;
    let find = |name: &str| {
        records
            .resource_record_sets()
            .iter()
            .find(|r| r.name() == name)
            .cloned()
    };
    let api = find("api.orders.example.com.")
        .and_then(|r| r.resource_records().first().map(|v| v.value().to_string()))
        .unwrap_or_default();
    let www = find("www.orders.example.com.")
        .and_then(|r| r.alias_target().map(|a| a.dns_name().to_string()))
        .unwrap_or_default();
    let check = route53
        .get_health_check()
        .health_check_id(&world.health_check)
        .send()
        .await
        .map_err(|e| read("the health check")(format!("{e:?}")))?;
    let inverted = check
        .health_check()
        .and_then(|h| h.health_check_config())
        .and_then(|c| c.inverted())
        .unwrap_or(false);
    let rds = aws_sdk_rds::Client::new(recovery);
    let back = scenario == Scenario::Failback;
    let (writer_client, writer_id) = if back {
        (aws_sdk_rds::Client::new(global), FAILBACK_DB)
    } else {
        (rds.clone(), "orders-db-usw2")
    };
    let db = writer_client
        .describe_db_instances()
        .db_instance_identifier(writer_id)
        .send()
        .await
        .map_err(|e| read("the database")(format!("{e:?}")))?;
    let db = db.db_instances().first().cloned();
    let replica_of = db
        .as_ref()
        .and_then(|d| d.read_replica_source_db_instance_identifier().map(str::to_string));
    let ecs = aws_sdk_ecs::Client::new(recovery);
    let services = ecs
        .describe_services()
        .cluster("orders-usw2")
        .services("orders-api")
        .services("orders-worker")
        .send()
        .await
        .map_err(|e| read("services")(format!("{e:?}")))?;
    let counts: Vec<String> = services
        .services()
        .iter()
        .map(|s| {
            // moto starts no tasks for a service it was never asked to scale: for those, only
            // the desired count says that nothing touched them.
            if s.running_count() == 0 && !scenario.moves_region() {
                format!("desired {}", s.desired_count())
            } else {
                format!("{}/{}", s.running_count(), s.desired_count())
            }
        })
        .collect();
    let asg = aws_sdk_autoscaling::Client::new(recovery)
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("orders-web-usw2")
        .send()
        .await
        .map_err(|e| read("the Auto Scaling group")(format!("{e:?}")))?;
    let asg = asg
        .auto_scaling_groups()
        .first()
        .map(|g| {
            format!(
                "{} in service, desired {}",
                g.instances().len(),
                g.desired_capacity().unwrap_or(0)
            )
        })
        .unwrap_or_default();
    let sqs = aws_sdk_sqs::Client::new(recovery);
    let messages = sqs
        .receive_message()
        .queue_url(&world.queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        .send()
        .await
        .map_err(|e| read("notifications")(format!("{e:?}")))?;
    let envelopes: Vec<Value> = messages
        .messages()
        .iter()
        .filter_map(|m| m.body().and_then(|b| serde_json::from_str(b).ok()))
        .collect();
    // The success notification of this execution (a failback follows a failover's and a
    // reprotect's, the reprotect's also as a failback).
    let recovery_id = ended.context().map_or(Value::Null, |c| json!(c.recovery_id));
    let success = envelopes
        .iter()
        .find(|e| {
            let body: Value = e["Message"]
                .as_str()
                .and_then(|m| serde_json::from_str(m).ok())
                .unwrap_or(Value::Null);
            e["MessageAttributes"]["status"]["Value"] == "SUCCEEDED" && body["recoveryId"] == recovery_id
        })
        .cloned()
        .map(|mut success| {
            // Copies of one notification (a publish retried after a lost answer) share its id.
            let id = &success["MessageAttributes"]["notificationId"]["Value"];
            let copies = envelopes
                .iter()
                .filter(|e| &e["MessageAttributes"]["notificationId"]["Value"] == id)
                .count();
            success["copies"] = json!(copies);
            success
        });
    let moved = scenario.moves_region();
    // Data-plane DNS leaves the records as they are: Route 53 answers with the failover record
    // once the primary's health check follows its alarm into ALARM.
    let (api_want, www_want) = if back || !moved || world.gate.is_some() {
        (
            "orders-api-use1.orders.example.com",
            "orders-web-use1-1234567890.us-east-1.elb.amazonaws.com.",
        )
    } else {
        (
            "orders-api-usw2.orders.example.com",
            "orders-web-usw2-0987654321.us-west-2.elb.amazonaws.com.",
        )
    };
    let promoted = moved && scenario != Scenario::DataCorruption;
    let db_fact = if promoted {
        fact(
            &format!("{writer_id} is a standalone writer"),
            "available, not a replica",
            match (&db, &replica_of) {
                (Some(d), None) => format!("{}, not a replica", d.db_instance_status().unwrap_or("?")),
                (Some(_), Some(src)) => format!("still a replica of {src}"),
                (None, _) => "missing".into(),
            },
        )
    } else {
        fact(
            "orders-db-usw2 was not promoted",
            "still a replica",
            if replica_of.is_some() {
                "still a replica"
            } else {
                "promoted"
            },
        )
    };
    // The split-brain fence: the writer being left is read-only once the other is promoted.
    let (fenced_client, fenced_name) = if back {
        (aws_sdk_rds::Client::new(recovery), "orders-db-usw2 fenced read-only")
    } else {
        (
            aws_sdk_rds::Client::new(&rebound_shared::aws::in_region(global, PRIMARY)),
            "orders-db fenced read-only",
        )
    };
    let read_only = fenced_client
        .describe_db_parameters()
        .db_parameter_group_name(rebound_moto::seed::PARAMETER_GROUP)
        .send()
        .await
        .map_err(|e| read("the parameter group")(format!("{e:?}")))?
        .parameters()
        .iter()
        .find(|p| p.parameter_name() == Some("read_only"))
        .and_then(|p| p.parameter_value().map(str::to_string))
        .unwrap_or_else(|| "unset".into());
    let fence_fact = if scenario.cuts_the_primary() {
        // Its region is gone: nothing could be fenced, and people must be told so.
        let reported = success
            .as_ref()
            .and_then(|e| e["Message"].as_str())
            .and_then(|m| serde_json::from_str::<Value>(m).ok())
            .is_some_and(|body| {
                body["unfencedWriters"]
                    .as_array()
                    .is_some_and(|w| w.iter().any(|r| r.as_str().is_some_and(|r| r.contains("orders-db"))))
            });
        fact(
            "orders-db unreachable: unchanged, told NOT FENCED",
            "unset, told",
            format!("{read_only}, {}", if reported { "told" } else { "not told" }),
        )
    } else {
        fact(fenced_name, if promoted { "1" } else { "unset" }, read_only)
    };
    let (db_fact, fence_fact) = if scenario == Scenario::AuroraGlobal {
        aurora_facts(global).await?
    } else {
        (db_fact, fence_fact)
    };
    let (ecs_want, asg_want) = match scenario {
        Scenario::ServiceOutage => ("desired 1, 3/3", "1 in service, desired 1"),
        Scenario::ReadinessCheck | Scenario::LaggingReplica => ("desired 1, desired 1", "1 in service, desired 1"),
        _ => ("6/6, 3/3", "4 in service, desired 4"),
    };
    let mut told: Vec<String> = envelopes
        .iter()
        .filter_map(|e| e["MessageAttributes"]["status"]["Value"].as_str().map(str::to_string))
        .collect();
    told.sort();
    let facts = vec![
        fact("api.orders.example.com CNAME", api_want, api),
        fact("www.orders.example.com alias", www_want, www),
        match &world.gate {
            Some(gate) => fact(
                &format!("{gate} (the health check's alarm)"),
                if moved && !back { "ALARM" } else { "OK" },
                gate_state(recovery, gate).await?,
            ),
            None => fact(
                "pay health check inverted",
                (moved && !back).to_string(),
                inverted.to_string(),
            ),
        },
        if scenario.refused() {
            fact(
                "recovery refused with",
                "Rebound.PreconditionFailed",
                ended.error().map_or("no error", |e| e.error.as_str()),
            )
        } else {
            fact(
                "disaster classified",
                scenario.expected_type(),
                ended.context().map_or("none".into(), |c| named(c.event.disaster_type)),
            )
        },
        if scenario.refused() {
            let cause = ended.error().map_or("", |e| e.cause.as_str());
            fact(
                "the refusal names the lag",
                "yes",
                if cause.contains("replica lag is 1260 s") {
                    "yes"
                } else {
                    cause
                },
            )
        } else {
            fact(
                "recovery path",
                scenario.expected_path(),
                ended.context().map_or("none".into(), |c| named(c.path)),
            )
        },
        db_fact,
        fence_fact,
        fact("ECS running/desired (api, worker)", ecs_want, counts.join(", ")),
        fact("orders-web-usw2", asg_want, asg),
        if scenario == Scenario::ReadinessCheck {
            fact(
                "notifications (none while ready)",
                "none",
                if told.is_empty() {
                    "none".into()
                } else {
                    told.join(", ")
                },
            )
        } else if scenario.refused() {
            fact("notifications", "FAILED", told.join(", "))
        } else if scenario == Scenario::SecurityIncident {
            fact("notifications", "AWAITING APPROVAL, SUCCEEDED", told.join(", "))
        } else {
            fact(
                "success notification delivered",
                "yes",
                if success.is_some() { "yes" } else { "no" },
            )
        },
    ];
    let mut facts = facts;
    facts.push(super::facts::writer_endpoint_fact(scenario, global, recovery, world).await?);
    facts.push(super::facts::consumer_fact(scenario, global, recovery, world).await?);
    facts.push(super::facts::custom_actions_fact(scenario, ended));
    facts.push(super::stages::order_fact(scenario, ended));
    if scenario == Scenario::Reprotect {
        facts.extend(super::facts::reprotect_facts(&envelopes, global, recovery).await?);
    }
    if scenario == Scenario::EksAndCache {
        // Boxed: its reads would weigh on the stack of whoever awaits the drill.
        facts.extend(Box::pin(super::facts::stack_facts(recovery, world, ended)).await);
    }
    if scenario == Scenario::DataCorruption {
        let restored = rds
            .describe_db_instances()
            .db_instance_identifier("orders-db-restored")
            .send()
            .await;
        let state = match restored {
            Ok(out) => out
                .db_instances()
                .first()
                .map(|d| {
                    format!(
                        "{}, writer: {}",
                        d.db_instance_status().unwrap_or("?"),
                        d.read_replica_source_db_instance_identifier().is_none()
                    )
                })
                .unwrap_or_else(|| "missing".into()),
            Err(e) => format!(
                "missing ({})",
                aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e).unwrap_or("error")
            ),
        };
        facts.push(fact(
            "orders-db-restored to before the corruption",
            "available, writer: true",
            state,
        ));
    }
    Ok((facts, success, envelopes))
}

/// An alarm's state, as CloudWatch in the recovery region holds it.
pub(super) async fn gate_state(recovery: &SdkConfig, gate: &str) -> Result<String, DrillError> {
    let out = aws_sdk_cloudwatch::Client::new(recovery)
        .describe_alarms()
        .alarm_names(gate)
        .send()
        .await
        .map_err(|e| DrillError::Read {
            what: "the health check's alarm",
            message: format!("{e:?}"),
        })?;
    Ok(out
        .metric_alarms()
        .first()
        .and_then(|a| a.state_value())
        .map_or_else(|| "missing".into(), |s| s.as_str().to_string()))
}

/// The `aurora-global` scenario's database facts: the recovery cluster is the global database's
/// writer, and the old writer cluster is read-only through its own cluster parameter group.
async fn aurora_facts(global: &SdkConfig) -> Result<(Verified, Verified), DrillError> {
    let read = |what: &'static str| move |e: String| DrillError::Read { what, message: e };
    let east = aws_sdk_rds::Client::new(&rebound_shared::aws::in_region(global, PRIMARY));
    let writer = rebound_shared::rds::global_cluster(&east, AURORA_GLOBAL)
        .await
        .map_err(|e| read("the global database")(e.to_string()))?
        .and_then(|g| {
            g.writer()
                .map(|arn| rebound_shared::rds::instance_name(arn).to_string())
        })
        .unwrap_or_else(|| "none".into());
    let params = east
        .describe_db_cluster_parameters()
        .db_cluster_parameter_group_name(format!("{AURORA_GLOBAL}-params"))
        .send()
        .await
        .map_err(|e| read("the cluster parameter group")(format!("{e:?}")))?;
    let read_only = params
        .parameters()
        .iter()
        .find(|p| p.parameter_name() == Some("read_only"))
        .and_then(|p| p.parameter_value().map(str::to_string))
        .unwrap_or_else(|| "unset".into());
    Ok((
        fact("orders-global's writer", format!("{AURORA_GLOBAL}-west"), writer),
        fact(
            "orders-global-east fenced read-only (cluster parameter group)",
            "1",
            read_only,
        ),
    ))
}
