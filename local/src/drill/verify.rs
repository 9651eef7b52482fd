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
    // The success notification of this execution (a failback follows a failover's).
    let mode = ended.context().map_or(Value::Null, |c| json!(c.mode));
    let success = envelopes
        .iter()
        .find(|e| {
            let body: Value = e["Message"]
                .as_str()
                .and_then(|m| serde_json::from_str(m).ok())
                .unwrap_or(Value::Null);
            e["MessageAttributes"]["status"]["Value"] == "SUCCEEDED" && body["mode"] == mode
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
    facts.push(writer_endpoint_fact(scenario, global, recovery, world).await?);
    facts.push(consumer_fact(scenario, global, recovery, world).await?);
    facts.push(custom_actions_fact(scenario, ended));
    facts.push(super::stages::order_fact(scenario, ended));
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

/// Where the application reads its writer's host (the parameter and the secret, in the region
/// it runs in after the drill): the new writer once the database moved, else the old one.
async fn writer_endpoint_fact(
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
async fn consumer_fact(
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
fn custom_actions_fact(scenario: Scenario, ended: &Ended) -> Verified {
    let ran: Vec<String> = ended
        .context()
        .and_then(|c| c.custom_action_results.as_ref())
        .map(|o| {
            o.all()
                .map(|o| match &o.output {
                    Some(output) => format!("{} {} ({})", o.name, o.status, output.as_str().unwrap_or("?")),
                    None => format!("{} {}", o.name, o.status),
                })
                .collect()
        })
        .unwrap_or_default();
    let [(drain, drained), (warm, warmed)] = CUSTOM_ANSWERS;
    let want = match scenario {
        Scenario::ReadinessCheck | Scenario::LaggingReplica => "none".to_string(),
        // A service restore moves nothing: only the step after services runs.
        Scenario::ServiceOutage => format!("{warm} succeeded ({warmed})"),
        _ => format!("{drain} succeeded ({drained}), {warm} succeeded ({warmed})"),
    };
    let found = if ran.is_empty() {
        "none".to_string()
    } else {
        ran.join(", ")
    };
    fact("custom actions", want, found)
}

/// The report the notifier left in the report bucket for execution `name`, read back.
pub(super) async fn stored_report(
    recovery: &SdkConfig,
    name: &str,
) -> Result<Option<rebound_shared::report::Report>, DrillError> {
    let s3 = aws_sdk_s3::Client::new(recovery);
    let key = format!("reports/orders/{name}");
    let json = match s3
        .get_object()
        .bucket(REPORT_BUCKET)
        .key(format!("{key}.json"))
        .send()
        .await
    {
        Ok(out) => out.body.collect().await.map_err(|e| DrillError::Read {
            what: "the execution's report",
            message: e.to_string(),
        })?,
        Err(e) if aws_smithy_types::error::metadata::ProvideErrorMetadata::code(&e) == Some("NoSuchKey") => {
            return Ok(None)
        }
        Err(e) => {
            return Err(DrillError::Read {
                what: "the execution's report",
                message: format!("{e:?}"),
            })
        }
    };
    let page = s3
        .head_object()
        .bucket(REPORT_BUCKET)
        .key(format!("{key}.html"))
        .send()
        .await
        .map_err(|e| DrillError::Read {
            what: "the execution's report page",
            message: format!("{e:?}"),
        })?;
    if page.content_length().unwrap_or(0) == 0 {
        return Err(DrillError::Read {
            what: "the execution's report page",
            message: "empty".into(),
        });
    }
    serde_json::from_slice(&json.into_bytes())
        .map(Some)
        .map_err(|e| DrillError::Read {
            what: "the execution's report",
            message: e.to_string(),
        })
}

/// Every execution that ends by notifying leaves its report; a readiness check that found the
/// recovery region ready notifies nobody.
pub(super) fn report_fact(scenario: Scenario, stored: Option<&rebound_shared::report::Report>) -> Verified {
    let expected = match scenario {
        Scenario::ReadinessCheck => "none".to_string(),
        s if s.refused() => format!("FAILED in s3://{REPORT_BUCKET}"),
        _ => format!("SUCCEEDED in s3://{REPORT_BUCKET}"),
    };
    let found = stored.map_or("none".to_string(), |r| {
        format!("{} in s3://{REPORT_BUCKET}", r.execution.status)
    });
    fact("execution report (JSON and page)", expected, found)
}
