//! What readiness's EC2 checks read in the recovery region: each group's launch (its launch
//! template or configuration), the vCPUs of its instance types, and the Capacity Reservations
//! the plan names; then the asks and checks `instances.rs` decides.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_autoscaling::types::AutoScalingGroup;
use aws_sdk_ec2::types::InstanceType;
use rebound_shared::capacities::Described;
use rebound_shared::capacity::target_capacity;
use rebound_shared::context::Check;
use rebound_shared::error::from_sdk;
use rebound_shared::plan::Service;

use super::{reserved, Launch, Reservation};
use crate::quotas::Ask;
use crate::ServiceReads;

/// DescribeCapacityReservations' answer for an ID it does not know (EC2 API Reference, Error
/// codes).
const NOT_FOUND: &str = "InvalidCapacityReservationId.NotFound";

/// The EC2 asks of the groups in scope by quota code, and the checks of their reservations
/// and of what could not be read.
pub(crate) type GroupAsks = (BTreeMap<&'static str, Vec<Ask>>, Vec<Check>);

impl ServiceReads {
    /// For each Auto Scaling group the recovery scales (an EKS node group's being the group EKS
    /// runs it in, whose launch template or mixed instances policy EKS writes from the node
    /// group's instance types and capacity type): the On-Demand units it adds (its
    /// target, from the primary's peak where it is sized from it, less what it is set to now),
    /// what its named reservations hold of them, and the rest as vCPUs by quota.
    pub(crate) async fn group_asks(
        &self,
        services: &[&Service],
        described: &Described,
        peaks: &HashMap<String, f64>,
    ) -> GroupAsks {
        let mut asks: BTreeMap<&'static str, Vec<Ask>> = BTreeMap::new();
        let mut checks = Vec::new();
        for (service, capacity) in services.iter().zip(&described.capacities) {
            if !matches!(service, Service::AutoScalingGroup { .. } | Service::EksNodegroup { .. }) {
                continue;
            }
            let resource = service.resource_name();
            // A group not found or not read is the capacity check's and the dry run's to report.
            let (Some(group), Ok(now)) = (described.groups.get(&resource), capacity) else {
                continue;
            };
            let unknown = |detail: String| Check::unknown(format!("quota ec2 ({resource})"), detail);
            let launch = match self.launch(group).await {
                Ok(launch) => launch,
                Err(e) => {
                    checks.push(unknown(format!("what it launches could not be read: {e}")));
                    continue;
                }
            };
            let peak = peaks.get(&resource).copied();
            let target = target_capacity(service, *now, peak).desired;
            let more = (launch.on_demand_units(target) - launch.on_demand_units(now.desired)).max(0);
            let mut covered = 0;
            let wanted = service.capacity_reservations();
            if !wanted.is_empty() {
                let name = format!("capacity reservations {resource}");
                match self.reservations(wanted).await {
                    Ok(found) => {
                        let held = reserved(&launch, wanted, &found, more);
                        covered = held.covered;
                        checks.push(Check::new(name, held.passed, held.detail));
                    }
                    Err(e) => checks.push(Check::unknown(name, format!("not read: {e}"))),
                }
            }
            if more - covered <= 0 {
                continue;
            }
            let vcpus = match self.vcpus(&launch).await {
                Ok(vcpus) => vcpus,
                Err(e) => {
                    checks.push(unknown(format!("its instance types' vCPUs could not be read: {e}")));
                    continue;
                }
            };
            let (by_quota, unplaced) = launch.asks(&resource, more - covered, now.desired, &vcpus);
            if !unplaced.is_empty() {
                checks.push(unknown(format!(
                    "no On-Demand vCPU quota is known for {}",
                    unplaced.join(", ")
                )));
            }
            for (code, mut ask) in by_quota {
                ask.peak = peak.zip(service.from_peak().map(|f| f.percent_of_peak));
                asks.entry(code).or_default().push(ask);
            }
        }
        (asks, checks)
    }

    /// How the group launches: its instance types and weights (a mixed instances policy's
    /// overrides, else its launch template's or configuration's type), its zones, its
    /// On-Demand share, and its Capacity Reservation preference and targets (the group's own,
    /// else its launch template's).
    async fn launch(&self, group: &AutoScalingGroup) -> Result<Launch, String> {
        let mut launch = Launch {
            zones: group.availability_zones().to_vec(),
            ..Launch::default()
        };
        if let Some(spec) = group.capacity_reservation_specification() {
            launch.preference = spec
                .capacity_reservation_preference()
                .map(|p| p.as_str().to_string())
                .filter(|p| p != "default");
            if let Some(target) = spec.capacity_reservation_target() {
                launch.targets.extend(target.capacity_reservation_ids().iter().cloned());
                launch.targets_resource_group = !target.capacity_reservation_resource_group_arns().is_empty();
            }
        }
        let mixed = group.mixed_instances_policy();
        let template = mixed
            .and_then(|m| m.launch_template())
            .and_then(|t| t.launch_template_specification())
            .or(group.launch_template());
        if let Some(distribution) = mixed.and_then(|m| m.instances_distribution()) {
            launch.on_demand = Some((
                distribution.on_demand_base_capacity().unwrap_or(0),
                distribution.on_demand_percentage_above_base_capacity().unwrap_or(100),
            ));
        }
        for o in mixed
            .and_then(|m| m.launch_template())
            .map(|t| t.overrides())
            .unwrap_or_default()
        {
            if o.instance_requirements().is_some() {
                return Err("it chooses its instance types by attributes (InstanceRequirements), so which it launches is not known ahead".into());
            }
            if let Some(instance_type) = o.instance_type() {
                let weight = o.weighted_capacity().and_then(|w| w.parse::<f64>().ok()).unwrap_or(1.0);
                launch.types.push((instance_type.to_string(), weight));
            }
        }
        match (template, group.launch_configuration_name()) {
            (Some(spec), _) => {
                // By ID where the group names one (EC2 takes one of the two).
                let id = spec.launch_template_id().map(str::to_string);
                let name = id
                    .is_none()
                    .then(|| spec.launch_template_name().map(str::to_string))
                    .flatten();
                let read = self
                    .ec2
                    .describe_launch_template_versions()
                    .set_launch_template_id(id)
                    .set_launch_template_name(name)
                    .versions(spec.version().unwrap_or("$Default"))
                    .send()
                    .await
                    .map_err(|e| from_sdk("ec2", "DescribeLaunchTemplateVersions", &e).to_string())?;
                let data = read
                    .launch_template_versions()
                    .first()
                    .and_then(|v| v.launch_template_data())
                    .ok_or("its launch template version has no data")?;
                if launch.types.is_empty() {
                    let instance_type = data
                        .instance_type()
                        .ok_or("its launch template names no instance type")?;
                    launch.types.push((instance_type.as_str().to_string(), 1.0));
                }
                if let Some(spec) = data.capacity_reservation_specification() {
                    if launch.preference.is_none() {
                        launch.preference = spec.capacity_reservation_preference().map(|p| p.as_str().to_string());
                    }
                    if let Some(target) = spec.capacity_reservation_target() {
                        launch
                            .targets
                            .extend(target.capacity_reservation_id().map(str::to_string));
                        launch.targets_resource_group |= target.capacity_reservation_resource_group_arn().is_some();
                    }
                }
            }
            (None, Some(name)) => {
                let read = self
                    .capacities
                    .autoscaling
                    .describe_launch_configurations()
                    .launch_configuration_names(name)
                    .send()
                    .await
                    .map_err(|e| from_sdk("autoscaling", "DescribeLaunchConfigurations", &e).to_string())?;
                let instance_type = read
                    .launch_configurations()
                    .first()
                    .and_then(|c| c.instance_type())
                    .ok_or_else(|| format!("launch configuration {name} not found"))?;
                launch.types.push((instance_type.to_string(), 1.0));
            }
            (None, None) => return Err("it names no launch template or configuration".into()),
        }
        Ok(launch)
    }

    /// Each of the group's instance types' default vCPUs (DescribeInstanceTypes).
    async fn vcpus(&self, launch: &Launch) -> Result<BTreeMap<String, i32>, String> {
        let types: Vec<InstanceType> = launch
            .types
            .iter()
            .map(|(t, _)| InstanceType::from(t.as_str()))
            .collect();
        let read = self
            .ec2
            .describe_instance_types()
            .set_instance_types(Some(types))
            .send()
            .await
            .map_err(|e| from_sdk("ec2", "DescribeInstanceTypes", &e).to_string())?;
        Ok(read
            .instance_types()
            .iter()
            .filter_map(|t| {
                let cpus = t.v_cpu_info()?.default_v_cpus()?;
                Some((t.instance_type()?.as_str().to_string(), cpus))
            })
            .collect())
    }

    /// The named reservations EC2 knows; one it does not is left out. DescribeCapacityReservations
    /// fails the whole call on one unknown ID, so then each is read alone.
    async fn reservations(&self, ids: &[String]) -> Result<Vec<Reservation>, String> {
        match self.describe_reservations(ids).await? {
            Some(found) => Ok(found),
            None => {
                let mut found = Vec::new();
                for id in ids {
                    found.extend(
                        self.describe_reservations(std::slice::from_ref(id))
                            .await?
                            .unwrap_or_default(),
                    );
                }
                Ok(found)
            }
        }
    }

    /// None when EC2 answers that one of `ids` does not exist.
    async fn describe_reservations(&self, ids: &[String]) -> Result<Option<Vec<Reservation>>, String> {
        let read = match self
            .ec2
            .describe_capacity_reservations()
            .set_capacity_reservation_ids(Some(ids.to_vec()))
            .send()
            .await
        {
            Ok(read) => read,
            Err(e) => {
                let e = from_sdk("ec2", "DescribeCapacityReservations", &e);
                return if e.code == NOT_FOUND {
                    Ok(None)
                } else {
                    Err(e.to_string())
                };
            }
        };
        Ok(Some(
            read.capacity_reservations()
                .iter()
                .map(|r| Reservation {
                    id: r.capacity_reservation_id().unwrap_or_default().to_string(),
                    state: r.state().map(|s| s.as_str().to_string()).unwrap_or_default(),
                    instance_type: r.instance_type().unwrap_or_default().to_string(),
                    zone: r.availability_zone().unwrap_or_default().to_string(),
                    available: r.available_instance_count().unwrap_or(0),
                    total: r.total_instance_count().unwrap_or(0),
                    targeted: r.instance_match_criteria().is_some_and(|m| m.as_str() == "targeted"),
                    ends: r.end_date().map(|d| d.to_string()),
                })
                .collect(),
        ))
    }
}
