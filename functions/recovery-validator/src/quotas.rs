//! Readiness's quota checks: whether the recovery region's Service Quotas leave room for what
//! the recovery will add. Fargate tasks count against the account's On-Demand vCPU quota
//! (`fargate` L-3032A538), Auto Scaling groups' instances against their family's EC2 On-Demand
//! vCPU quota (`instances.rs`), restored databases against its DB instances (`rds`
//! L-7B6409FD). Each
//! quota is read with GetServiceQuota, its usage from the CloudWatch metric the quota names
//! (`AWS/Usage` `ResourceCount`, as the service publishes it). Services in another account count
//! against that account's quotas, read as its role.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use rebound_shared::capacities::Described;
use rebound_shared::capacity::Capacity;
use rebound_shared::context::{Check, DryRun, RecoveryContext};
use rebound_shared::metrics::{newest_datapoints, Series};
use rebound_shared::plan::Service;
use rebound_shared::step::services_in_scope;

use crate::accounts::{by_account, in_account};
use crate::{RecoveryValidator, ServiceReads};

/// One thing the recovery adds that counts against a quota.
#[derive(Debug, Clone, PartialEq)]
pub struct Ask {
    pub resource: String,
    /// How many it adds (tasks, instances).
    pub more: i32,
    /// What each counts against the quota (vCPUs per task; 1 per database).
    pub each: f64,
    /// How many run now.
    pub current: i32,
    /// For a service sized from the primary's peak: the peak and the plan's percentage.
    pub peak: Option<(f64, u32)>,
}

/// A quota as the account has it.
#[derive(Debug, Clone, PartialEq)]
pub struct Quota {
    pub name: String,
    pub value: f64,
    /// What is used now (None: no usage datapoint in the last 10 minutes).
    pub usage: Option<f64>,
}

/// Whether `asks` fit in what `quota` leaves free, and the check's detail. Short, it says how
/// many of each fit (the free room given out in the plan's order) and, for a service sized from
/// the peak, what share of its peak that is against the share the plan asks.
pub fn verdict(quota: &Quota, unit: &str, asks: &[Ask]) -> (bool, String) {
    let need: f64 = asks.iter().map(|a| f64::from(a.more) * a.each).sum();
    let used = quota.usage.unwrap_or(0.0);
    let free = (quota.value - used).max(0.0);
    let usage = match quota.usage {
        Some(u) => format!("{} - {u} used = {free} free", quota.value),
        None => format!(
            "{} (usage unknown: no AWS/Usage datapoint in 10 minutes) free",
            quota.value
        ),
    };
    let wants: Vec<String> = asks
        .iter()
        .map(|a| format!("{} +{} × {} {unit}", a.resource, a.more, a.each))
        .collect();
    if need <= free + 1e-9 {
        return (
            true,
            format!("needs {need} {unit} more ({}); {usage}", wants.join(", ")),
        );
    }
    let mut room = free;
    let fits: Vec<String> = asks
        .iter()
        .map(|a| {
            let fit = if a.each > 0.0 {
                ((room / a.each + 1e-9).floor() as i32).clamp(0, a.more)
            } else {
                a.more
            };
            room -= f64::from(fit) * a.each;
            let runs = a.current + fit;
            let mut line = format!("{}: {fit} of {} more fit", a.resource, a.more);
            if let Some((peak, percent)) = a.peak.filter(|(p, _)| *p > 0.0) {
                let share = (f64::from(runs) / peak * 100.0).floor();
                line.push_str(&format!(
                    " ({runs} running, {share} % of its peak {peak}; the plan asks {percent} %)"
                ));
            }
            line
        })
        .collect();
    (
        false,
        format!(
            "short by {} {unit}: needs {need} more, {usage}; {}",
            need - free,
            fits.join("; ")
        ),
    )
}

/// Each ECS service's task vCPUs when it runs on Fargate (on demand), by resource name.
type FargateCpus = HashMap<String, f64>;

impl RecoveryValidator {
    /// The quota checks for what the recovery adds: none when it adds nothing that counts.
    /// `peaks` are the sized services' peaks (by resource name) the capacity check found. A
    /// service in another account counts against that account's quotas, read as its role.
    pub(crate) async fn quota_checks(
        &self,
        ctx: &RecoveryContext,
        peaks: &HashMap<String, f64>,
        database: Option<&DryRun>,
        now: DateTime<Utc>,
    ) -> Vec<Check> {
        let mut checks = Vec::new();
        let services = services_in_scope(ctx);
        if !services.is_empty() {
            match self.service_reads(ctx, &services).await {
                Ok(reads) => {
                    for (account, group) in by_account(&services) {
                        // Boxed: one account's reads at a time, off the caller's stack.
                        let found = Box::pin(reads.of(account).service_quotas(&group, peaks, account, now)).await;
                        checks.extend(found);
                    }
                }
                Err(e) => checks.push(Check::unknown("quotas".into(), format!("not read: {e}"))),
            }
        }
        let restores: Vec<Ask> = match database {
            Some(DryRun::Ran(result)) => result
                .actions
                .iter()
                .filter(|a| a.operation.starts_with("RestoreDBInstance") && !a.already_done)
                .map(|a| Ask {
                    resource: a.resource.clone(),
                    more: 1,
                    each: 1.0,
                    current: 0,
                    peak: None,
                })
                .collect(),
            _ => Vec::new(),
        };
        if !restores.is_empty() {
            checks.push(
                self.services
                    .quota_check(("rds", "L-7B6409FD"), "DB instances", &restores, None, now)
                    .await,
            );
        }
        checks
    }
}

impl ServiceReads {
    /// The Fargate and EC2 quota checks of one account's services (`account`; None: Rebound's
    /// own), each check naming the account.
    async fn service_quotas(
        &self,
        services: &[&Service],
        peaks: &HashMap<String, f64>,
        account: Option<&str>,
        now: DateTime<Utc>,
    ) -> Vec<Check> {
        let mut checks = Vec::new();
        let described = self.capacities.describe(services).await;
        match self.fargate_asks(services, &described, peaks).await {
            Ok(asks) if asks.is_empty() => {}
            Ok(asks) => checks.push(
                self.quota_check(("fargate", "L-3032A538"), "vCPU", &asks, account, now)
                    .await,
            ),
            Err(e) => checks.push(Check::unknown(
                format!("quota fargate/L-3032A538{}", in_account(account)),
                format!("the services' task sizes could not be read: {e}"),
            )),
        }
        let (by_quota, group_checks) = self.group_asks(services, &described, peaks).await;
        for (code, asks) in by_quota {
            checks.push(self.quota_check(("ec2", code), "vCPU", &asks, account, now).await);
        }
        checks.extend(group_checks);
        checks
    }

    /// What the ECS services on Fargate add: each one's target less what it is set to now.
    async fn fargate_asks(
        &self,
        services: &[&Service],
        described: &Described,
        peaks: &HashMap<String, f64>,
    ) -> Result<Vec<Ask>, String> {
        let cpus = self.fargate_cpus(&described.fargate).await?;
        let mut asks = Vec::new();
        for (service, now) in services.iter().zip(&described.capacities) {
            let resource = service.resource_name();
            let Some(each) = cpus.get(&resource) else {
                continue; // not on Fargate: the EC2 instances it runs on count instead
            };
            let now: Capacity = match now {
                Ok(now) => *now,
                Err(e) => return Err(e.to_string()),
            };
            let peak = peaks.get(&resource).copied();
            let target = service.desired(peak);
            if target > now.desired {
                asks.push(Ask {
                    resource,
                    more: target - now.desired,
                    each: *each,
                    current: now.desired,
                    peak: peak.zip(service.from_peak().map(|f| f.percent_of_peak)),
                });
            }
        }
        Ok(asks)
    }

    /// Each Fargate service's task size in vCPUs (`fargate`: its task definition by resource):
    /// each task definition read once.
    async fn fargate_cpus(&self, fargate: &BTreeMap<String, String>) -> Result<FargateCpus, String> {
        let mut definitions: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (resource, definition) in fargate {
            definitions
                .entry(definition.as_str())
                .or_default()
                .push(resource.as_str());
        }
        let mut cpus = HashMap::new();
        for (definition, resources) in definitions {
            let out = self
                .capacities
                .ecs
                .describe_task_definition()
                .task_definition(definition)
                .send()
                .await
                .map_err(|e| rebound_shared::error::from_sdk("ecs", "DescribeTaskDefinition", &e).to_string())?;
            // Fargate task sizes are CPU units, 1024 to a vCPU.
            let units = out
                .task_definition()
                .and_then(|t| t.cpu())
                .and_then(|c| c.parse::<f64>().ok())
                .ok_or_else(|| format!("{definition} has no task-level cpu, which Fargate requires"))?;
            for resource in resources {
                cpus.insert(resource.to_string(), units / 1024.0);
            }
        }
        Ok(cpus)
    }

    /// One quota of `account` (None: Rebound's own) read and checked against `asks`.
    async fn quota_check(
        &self,
        (service_code, quota_code): (&str, &str),
        unit: &str,
        asks: &[Ask],
        account: Option<&str>,
        now: DateTime<Utc>,
    ) -> Check {
        let name = format!("quota {service_code}/{quota_code}{}", in_account(account));
        match self.quota(service_code, quota_code, now).await {
            Ok(quota) => {
                let (passed, detail) = verdict(&quota, unit, asks);
                Check::new(format!("{name} ({})", quota.name), passed, detail)
            }
            Err(e) => Check::unknown(name, format!("not read: {e}")),
        }
    }

    async fn quota(&self, service_code: &str, quota_code: &str, now: DateTime<Utc>) -> Result<Quota, String> {
        let out = self
            .quotas
            .get_service_quota()
            .service_code(service_code)
            .quota_code(quota_code)
            .send()
            .await
            .map_err(|e| rebound_shared::error::from_sdk("service-quotas", "GetServiceQuota", &e).to_string())?;
        let quota = out.quota().ok_or("GetServiceQuota answered no quota")?;
        let value = quota.value().ok_or("the quota has no value")?;
        let usage = match quota.usage_metric() {
            Some(metric) => self.usage(metric, now).await?,
            None => None,
        };
        Ok(Quota {
            name: quota.quota_name().unwrap_or(quota_code).to_string(),
            value,
            usage,
        })
    }

    /// The newest value of the usage metric a quota names, in the recovery region.
    async fn usage(
        &self,
        metric: &aws_sdk_servicequotas::types::MetricInfo,
        now: DateTime<Utc>,
    ) -> Result<Option<f64>, String> {
        let dimensions: BTreeMap<String, String> = metric
            .metric_dimensions()
            .map(|d| d.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let Some((first, value)) = dimensions.iter().next() else {
            return Ok(None);
        };
        let fixed: Vec<(&str, &str)> = dimensions
            .iter()
            .skip(1)
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let series = Series {
            namespace: metric.metric_namespace().unwrap_or("AWS/Usage"),
            metric: metric.metric_name().unwrap_or("ResourceCount"),
            dimension: first,
            fixed: &fixed,
        };
        let found = newest_datapoints(&self.cloudwatch, &series, &[value.as_str()], now)
            .await
            .map_err(|e| e.to_string())?;
        Ok(found.get(value.as_str()).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(value: f64, usage: Option<f64>) -> Quota {
        Quota {
            name: "Fargate On-Demand vCPU resource count".into(),
            value,
            usage,
        }
    }

    fn ask(resource: &str, more: i32, each: f64, current: i32, peak: Option<(f64, u32)>) -> Ask {
        Ask {
            resource: resource.into(),
            more,
            each,
            current,
            peak,
        }
    }

    #[test]
    fn what_fits_in_the_free_room_passes_and_a_shortfall_says_what_share_of_the_peak_fits() {
        let asks = [ask("ecs:c/api", 6, 0.5, 2, Some((10.0, 80)))];
        let (ok, detail) = verdict(&quota(8.0, Some(4.0)), "vCPU", &asks);
        assert!(ok, "{detail}");
        assert_eq!(
            detail,
            "needs 3 vCPU more (ecs:c/api +6 × 0.5 vCPU); 8 - 4 used = 4 free"
        );
        let (ok, detail) = verdict(&quota(4.0, Some(3.0)), "vCPU", &asks);
        assert!(!ok);
        assert_eq!(
            detail,
            "short by 2 vCPU: needs 3 more, 4 - 3 used = 1 free; ecs:c/api: 2 of 6 more fit (4 running, 40 % of its peak 10; the plan asks 80 %)"
        );
        // The room is given out in the plan's order; unknown usage counts as none.
        let two = [ask("ecs:c/a", 2, 1.0, 0, None), ask("ecs:c/b", 2, 1.0, 0, None)];
        let (ok, detail) = verdict(&quota(3.0, None), "vCPU", &two);
        assert!(!ok);
        assert!(detail.contains("3 (usage unknown"), "{detail}");
        assert!(
            detail.ends_with("ecs:c/a: 2 of 2 more fit; ecs:c/b: 1 of 2 more fit"),
            "{detail}"
        );
    }
}
