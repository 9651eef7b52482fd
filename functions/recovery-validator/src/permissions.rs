//! Permissions to act: readiness asks IAM (`SimulatePrincipalPolicy`) whether each acting
//! function's role may make the changes this plan needs, so a missing permission shows up on a
//! quiet afternoon rather than halfway through a failover.

use std::collections::BTreeMap;

use aws_sdk_iam::types::PolicyEvaluationDecisionType;
use rebound_shared::context::{Check, Mode, RecoveryContext};
use rebound_shared::error::AwsError;
use rebound_shared::plan::{writer_after, Database, DnsMode, Service, Side, WriterEndpoint};
use rebound_shared::step::{moves_region, services_in_scope, towards_recovery};

/// The acting functions' roles, from `ACTING_ROLES` (`dns-failover=ROLE_ARN,...`).
#[derive(Clone)]
pub struct Permissions {
    pub iam: aws_sdk_iam::Client,
    /// (function, role ARN)
    pub roles: Vec<(String, String)>,
}

pub const FUNCTIONS: [&str; 3] = ["dns-failover", "database-failover", "service-restoration"];

impl Permissions {
    /// The roles `ACTING_ROLES` names, checked through IAM (its control plane is homed in
    /// us-east-1: best effort); None when it names none.
    pub fn from_env(regions: &rebound_shared::aws::Regions) -> Result<Option<Permissions>, String> {
        let Some(roles) = std::env::var("ACTING_ROLES").ok().filter(|r| !r.trim().is_empty()) else {
            return Ok(None);
        };
        Ok(Some(Permissions {
            iam: aws_sdk_iam::Client::new(&rebound_shared::aws::best_effort(&regions.primary)),
            roles: parse_roles(&roles)?,
        }))
    }
}

/// Parses `dns-failover=arn:...,database-failover=arn:...`, naming what is wrong.
pub fn parse_roles(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (function, role) = pair
                .split_once('=')
                .ok_or_else(|| format!("ACTING_ROLES: '{pair}' is not FUNCTION=ROLE_ARN"))?;
            if !FUNCTIONS.contains(&function) {
                return Err(format!(
                    "ACTING_ROLES: unknown function '{function}' (expected one of {})",
                    FUNCTIONS.join(", ")
                ));
            }
            if role_account(role).is_none() {
                return Err(format!("ACTING_ROLES: '{role}' is not an IAM role ARN"));
            }
            Ok((function.to_string(), role.to_string()))
        })
        .collect()
}

/// `arn:PARTITION:iam::ACCOUNT:role/NAME` → (PARTITION, ACCOUNT).
fn role_account(arn: &str) -> Option<(&str, &str)> {
    match arn.split(':').collect::<Vec<_>>()[..] {
        ["arn", partition, "iam", "", account, role] if role.starts_with("role/") && !account.is_empty() => {
            Some((partition, account))
        }
        _ => None,
    }
}

/// What `function` must be allowed for this recovery: (action, resource ARN) pairs.
pub fn needed(function: &str, ctx: &RecoveryContext, partition: &str, account: &str) -> Vec<(&'static str, String)> {
    let plan = &ctx.plan;
    let mut needs = Vec::new();
    match function {
        "dns-failover" if moves_region(ctx) => {
            for record in &plan.dns {
                // A zone in another account is changed as that account's role: this function
                // needs only to assume it (the role's own grants are that account's to check).
                if let Some((_, other)) = plan.zone_account(&record.hosted_zone_id) {
                    needs.push(("sts:AssumeRole", other.role_arn.clone()));
                    continue;
                }
                match record.mode {
                    DnsMode::Upsert => needs.push((
                        "route53:ChangeResourceRecordSets",
                        format!("arn:{partition}:route53:::hostedzone/{}", record.hosted_zone_id),
                    )),
                    DnsMode::HealthCheckInversion => needs.push((
                        "route53:UpdateHealthCheck",
                        format!(
                            "arn:{partition}:route53:::healthcheck/{}",
                            record.health_check_id.as_deref().unwrap_or_default()
                        ),
                    )),
                    DnsMode::RoutingControl => {
                        // A cluster in another account is switched as that account's role.
                        let cluster = plan.routing_control_cluster.as_ref();
                        if let Some(other) = cluster
                            .and_then(|c| c.account.as_deref())
                            .and_then(|a| plan.accounts.get(a))
                        {
                            needs.push(("sts:AssumeRole", other.role_arn.clone()));
                            continue;
                        }
                        for arn in [
                            &record.primary_routing_control_arn,
                            &record.recovery_routing_control_arn,
                        ]
                        .into_iter()
                        .flatten()
                        {
                            needs.push(("route53-recovery-cluster:UpdateRoutingControlStates", arn.clone()));
                        }
                    }
                    DnsMode::AlarmHealthCheck => {
                        needs.push((
                            "cloudwatch:SetAlarmState",
                            format!(
                                "arn:{partition}:cloudwatch:{}:{account}:alarm:{}",
                                plan.recovery_region,
                                record.alarm_name.as_deref().unwrap_or_default()
                            ),
                        ));
                        // PutMetricData has no resource-level permissions.
                        needs.push(("cloudwatch:PutMetricData", "*".into()));
                    }
                }
            }
        }
        "database-failover" if moves_region(ctx) => {
            let (region, acting) = if towards_recovery(ctx) {
                (&plan.recovery_region, plan.clone())
            } else {
                (
                    &plan.primary_region,
                    plan.for_failback().unwrap_or_else(|_| plan.clone()),
                )
            };
            let databases = &acting.databases;
            let db = |id: &str| format!("arn:{partition}:rds:{region}:{account}:db:{id}");
            for database in databases {
                // In another account: acted on as that account's role.
                if let Some(other) = database.account().and_then(|a| plan.accounts.get(a)) {
                    needs.push(("sts:AssumeRole", other.role_arn.clone()));
                    continue;
                }
                match database {
                    Database::ReadReplica { identifier, .. } => needs.push(("rds:PromoteReadReplica", db(identifier))),
                    Database::AuroraGlobal { identifier, .. } => needs.push((
                        if matches!(ctx.mode, Mode::Switchover | Mode::Failback) {
                            "rds:SwitchoverGlobalCluster"
                        } else {
                            "rds:FailoverGlobalCluster"
                        },
                        format!("arn:{partition}:rds::{account}:global-cluster:{identifier}"),
                    )),
                    Database::PointInTimeRestore { identifier, .. } => {
                        needs.push(("rds:RestoreDBInstanceToPointInTime", db(identifier)))
                    }
                    Database::SnapshotRestore { identifier, .. } => {
                        needs.push(("rds:RestoreDBInstanceFromDBSnapshot", db(identifier)))
                    }
                }
            }
            for datastore in &acting.global_datastores {
                if let Some(other) = datastore.account.as_deref().and_then(|a| plan.accounts.get(a)) {
                    needs.push(("sts:AssumeRole", other.role_arn.clone()));
                    continue;
                }
                let (_, group) = writer_after(
                    datastore,
                    &plan.primary_region,
                    &plan.recovery_region,
                    towards_recovery(ctx),
                );
                needs.push((
                    "elasticache:FailoverGlobalReplicationGroup",
                    format!(
                        "arn:{partition}:elasticache::{account}:globalreplicationgroup:{}",
                        datastore.global_replication_group_id
                    ),
                ));
                needs.push((
                    "elasticache:FailoverGlobalReplicationGroup",
                    format!("arn:{partition}:elasticache:{region}:{account}:replicationgroup:{group}"),
                ));
            }
            // Only read, but the step stops without it.
            for cluster in &acting.multi_region_clusters {
                if let Some(other) = cluster.account.as_deref().and_then(|a| plan.accounts.get(a)) {
                    needs.push(("sts:AssumeRole", other.role_arn.clone()));
                    continue;
                }
                needs.push((
                    "memorydb:DescribeMultiRegionClusters",
                    format!(
                        "arn:{partition}:memorydb::{account}:multiregioncluster/{}",
                        cluster.multi_region_cluster_name
                    ),
                ));
            }
            for (endpoint, _) in acting.writer_endpoints_acting() {
                let at = endpoint.region(region).unwrap_or(region);
                // A parameter or secret in another account: that account's role, assumed.
                let other = endpoint.account().and_then(|name| plan.accounts.get(name));
                if let (Some(other), false) = (other, matches!(endpoint, WriterEndpoint::Cname { .. })) {
                    needs.push(("sts:AssumeRole", other.role_arn.clone()));
                    continue;
                }
                needs.push(match endpoint {
                    WriterEndpoint::SsmParameter { name, .. } => (
                        "ssm:PutParameter",
                        format!(
                            "arn:{partition}:ssm:{at}:{account}:parameter/{}",
                            name.trim_start_matches('/')
                        ),
                    ),
                    // A secret's ARN ends in six random characters the plan does not know.
                    WriterEndpoint::Secret { secret_id, .. } if secret_id.starts_with("arn:") => {
                        ("secretsmanager:PutSecretValue", secret_id.clone())
                    }
                    WriterEndpoint::Secret { secret_id, .. } => (
                        "secretsmanager:PutSecretValue",
                        format!("arn:{partition}:secretsmanager:{at}:{account}:secret:{secret_id}-*"),
                    ),
                    // In another account's zone: that account's role, assumed.
                    WriterEndpoint::Cname { hosted_zone_id, .. } => match plan.zone_account(hosted_zone_id) {
                        Some((_, other)) => ("sts:AssumeRole", other.role_arn.clone()),
                        None => (
                            "route53:ChangeResourceRecordSets",
                            format!("arn:{partition}:route53:::hostedzone/{hosted_zone_id}"),
                        ),
                    },
                });
            }
        }
        "service-restoration" => {
            let region = &plan.recovery_region;
            if moves_region(ctx) {
                for mapping in &plan.event_source_mappings {
                    // In another account: moved as that account's role.
                    if let Some(other) = mapping.account.as_deref().and_then(|a| plan.accounts.get(a)) {
                        needs.push(("sts:AssumeRole", other.role_arn.clone()));
                        continue;
                    }
                    for (side, uuid, _) in mapping.moves(towards_recovery(ctx)) {
                        let at = match side {
                            Side::Primary => &plan.primary_region,
                            Side::Recovery => &plan.recovery_region,
                        };
                        needs.push((
                            "lambda:UpdateEventSourceMapping",
                            format!("arn:{partition}:lambda:{at}:{account}:event-source-mapping:{uuid}"),
                        ));
                    }
                }
            }
            // A Deployment is patched through its cluster's API, as the access entry allows:
            // no IAM action to simulate beyond reading the cluster.
            for service in services_in_scope(ctx) {
                // A service in another account is scaled as that account's role.
                if let Some(other) = service.account().and_then(|a| plan.accounts.get(a)) {
                    needs.push(("sts:AssumeRole", other.role_arn.clone()));
                    continue;
                }
                needs.push(match service {
                    Service::EksDeployment { cluster, .. } => (
                        "eks:DescribeCluster",
                        format!("arn:{partition}:eks:{region}:{account}:cluster/{cluster}"),
                    ),
                    Service::Ecs { cluster, service, .. } => (
                        "ecs:UpdateService",
                        format!("arn:{partition}:ecs:{region}:{account}:service/{cluster}/{service}"),
                    ),
                    Service::AutoScalingGroup { name, .. } => (
                        "autoscaling:UpdateAutoScalingGroup",
                        format!("arn:{partition}:autoscaling:{region}:{account}:autoScalingGroup:*:autoScalingGroupName/{name}"),
                    ),
                    Service::EksNodegroup { cluster, nodegroup, .. } => (
                        "eks:UpdateNodegroupConfig",
                        format!("arn:{partition}:eks:{region}:{account}:nodegroup/{cluster}/{nodegroup}/*"),
                    ),
                });
            }
        }
        _ => {}
    }
    needs.sort();
    needs.dedup();
    needs
}

impl Permissions {
    /// One check per acting function. `strict` (the scheduled check) fails when IAM cannot be
    /// asked; before a failover that is only a warning, as IAM's control plane may be the thing
    /// that is down.
    pub async fn checks(&self, ctx: &RecoveryContext, strict: bool) -> Vec<Check> {
        let mut checks = Vec::new();
        for (function, role) in &self.roles {
            let name = format!("permissions: {function}");
            let Some((partition, account)) = role_account(role) else {
                checks.push(Check::new(name, false, format!("'{role}' is not an IAM role ARN")));
                continue;
            };
            let needs = needed(function, ctx, partition, account);
            if needs.is_empty() {
                continue;
            }
            let check = match self.denied(role, &needs).await {
                Ok(denied) if denied.is_empty() => Check::new(
                    name,
                    true,
                    format!(
                        "allowed: {} action(s) on {} resource(s)",
                        count_actions(&needs),
                        needs.len()
                    ),
                ),
                Ok(denied) => Check::new(name, false, format!("{role} is denied {}", denied.join(", "))),
                Err(e) if strict => Check::new(name, false, format!("could not ask IAM: {e}")),
                Err(e) => Check::unknown(name, format!("WARNING: could not ask IAM: {e}")),
            };
            checks.push(check);
        }
        checks
    }

    /// The (action on resource) pairs IAM does not allow the role.
    async fn denied(&self, role: &str, needs: &[(&'static str, String)]) -> Result<Vec<String>, AwsError> {
        let mut by_action: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (action, resource) in needs {
            by_action.entry(action).or_default().push(resource.clone());
        }
        let mut denied = Vec::new();
        for (action, resources) in by_action {
            let mut marker = None;
            loop {
                let out = self
                    .iam
                    .simulate_principal_policy()
                    .policy_source_arn(role)
                    .action_names(action)
                    .set_resource_arns(Some(resources.clone()))
                    .set_marker(marker.take())
                    .send()
                    .await
                    .map_err(|e| rebound_shared::error::from_sdk("iam", "SimulatePrincipalPolicy", &e))?;
                for result in out.evaluation_results() {
                    if result.eval_decision() != &PolicyEvaluationDecisionType::Allowed {
                        denied.push(format!(
                            "{} on {} ({})",
                            result.eval_action_name(),
                            result.eval_resource_name().unwrap_or("*"),
                            result.eval_decision().as_str()
                        ));
                    }
                }
                if !out.is_truncated() {
                    break;
                }
                marker = out.marker().map(str::to_string);
                if marker.is_none() {
                    break;
                }
            }
        }
        Ok(denied)
    }
}

fn count_actions(needs: &[(&'static str, String)]) -> usize {
    let mut actions: Vec<&str> = needs.iter().map(|(a, _)| *a).collect();
    actions.dedup();
    actions.len()
}
