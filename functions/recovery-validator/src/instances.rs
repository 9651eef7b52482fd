//! Readiness's EC2 checks for Auto Scaling groups, decided here from what `instances/read.rs`
//! observed: which On-Demand vCPU quota the instances a failover adds count against, and
//! whether the Capacity Reservations the plan names will take them.
//!
//! EC2 User Guide, "On-Demand Instance quotas": each quota caps the vCPUs of the running
//! On-Demand instances of some families, and "Capacity Reservations count toward your
//! On-Demand Instance quotas, even if they are unused", so an instance launched into a
//! reservation adds nothing more to its quota.

mod read;

use std::collections::BTreeMap;

use crate::quotas::Ask;

/// The EC2 On-Demand quota (Service Quotas code) an instance type's vCPUs count against, by
/// its family (the type's leading letters); None for a family no On-Demand vCPU quota covers
/// (mac instances run on Dedicated Hosts).
pub fn on_demand_quota(instance_type: &str) -> Option<&'static str> {
    let family: String = instance_type
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase();
    // The longer prefixes first: inf is not i, trn not t, hpc not h, dl not d.
    let code = match family.as_str() {
        f if f.starts_with("mac") => return None,
        f if f.starts_with("inf") => "L-1945791B",
        f if f.starts_with("trn") => "L-2C3B7624",
        f if f.starts_with("hpc") => "L-F7808C92",
        f if f.starts_with("dl") => "L-6E869C2A",
        f if f.starts_with("vt") || f.starts_with('g') => "L-DB2E81BA",
        f if f.starts_with('u') => "L-43DA4232",
        f if f.starts_with('p') => "L-417A185B",
        f if f.starts_with('f') => "L-74FC7D96",
        f if f.starts_with('x') => "L-7295265B",
        f if f.starts_with(['a', 'c', 'd', 'h', 'i', 'm', 'r', 't', 'z']) => "L-1216C47A",
        _ => return None,
    };
    Some(code)
}

/// How a group launches its instances, as read from it and its launch template or
/// configuration.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Launch {
    /// The instance types it launches, each with its weight (capacity units per instance; 1
    /// unless a mixed instances policy weighs them).
    pub types: Vec<(String, f64)>,
    /// The Availability Zones it launches into.
    pub zones: Vec<String>,
    /// A mixed instances policy's On-Demand base and percentage above it; None: all On-Demand.
    pub on_demand: Option<(i32, i32)>,
    /// The Capacity Reservation preference in force: the group's own, else its launch
    /// template's (`open`, `none`, `capacity-reservations-only`, ...); None: the default, open.
    pub preference: Option<String>,
    /// The reservations the group or its launch template targets by ID.
    pub targets: Vec<String>,
    /// Whether it targets a resource group of reservations (its members are not read).
    pub targets_resource_group: bool,
}

impl Launch {
    /// The weight of `instance_type` in this group, if it launches that type.
    fn weight(&self, instance_type: &str) -> Option<f64> {
        self.types.iter().find(|(t, _)| t == instance_type).map(|(_, w)| *w)
    }

    /// How many of `units` of the group's capacity are On-Demand. EC2 Auto Scaling fills the
    /// On-Demand base first, then splits the rest by the percentage; a fraction is counted as
    /// On-Demand here, so the quota check never counts short.
    pub fn on_demand_units(&self, units: i32) -> i32 {
        let units = units.max(0);
        match self.on_demand {
            None => units,
            Some((base, percent)) => {
                let base = base.clamp(0, units);
                let above = f64::from(units - base) * f64::from(percent.clamp(0, 100)) / 100.0;
                base + above.ceil() as i32
            }
        }
    }

    /// The asks the group's added On-Demand `units` make, by quota: each type's vCPUs per unit,
    /// the most of the types of one quota (which type EC2 places is not known ahead). Types
    /// with no vCPU count read, or no On-Demand quota, are returned apart.
    pub fn asks(
        &self,
        resource: &str,
        units: i32,
        current: i32,
        vcpus: &BTreeMap<String, i32>,
    ) -> (BTreeMap<&'static str, Ask>, Vec<String>) {
        let mut asks: BTreeMap<&'static str, Ask> = BTreeMap::new();
        let mut unplaced = Vec::new();
        for (instance_type, weight) in &self.types {
            let (Some(code), Some(cpus)) = (on_demand_quota(instance_type), vcpus.get(instance_type)) else {
                unplaced.push(instance_type.clone());
                continue;
            };
            let each = f64::from(*cpus) / weight.max(f64::MIN_POSITIVE);
            let ask = asks.entry(code).or_insert_with(|| Ask {
                resource: resource.to_string(),
                more: units,
                each,
                current,
                peak: None,
            });
            ask.each = ask.each.max(each);
        }
        (asks, unplaced)
    }
}

/// A Capacity Reservation as DescribeCapacityReservations describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    pub id: String,
    /// `active`, `expired`, `cancelled`, `pending`, `failed`, `scheduled`, ...
    pub state: String,
    pub instance_type: String,
    pub zone: String,
    pub available: i32,
    pub total: i32,
    /// InstanceMatchCriteria `targeted`: only instances that name it launch into it.
    pub targeted: bool,
    /// When it ends, if it has an end date.
    pub ends: Option<String>,
}

/// What the named reservations hold for a group.
#[derive(Debug, Clone, PartialEq)]
pub struct Reserved {
    pub passed: bool,
    pub detail: String,
    /// The added units they take: these add nothing to the On-Demand quota.
    pub covered: i32,
}

/// Whether the reservations the plan names (`wanted`; `found` as read, a missing one absent)
/// will take the `more` On-Demand units the failover adds to the group. A reservation that is
/// not active, reserves a type or zone the group does not launch, or that the group cannot
/// launch into (it opts out, or the reservation is targeted and the group does not target it)
/// holds nothing, and is named; together they must hold all of `more`.
pub fn reserved(launch: &Launch, wanted: &[String], found: &[Reservation], more: i32) -> Reserved {
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    let mut units = 0.0;
    for id in wanted {
        let Some(r) = found.iter().find(|r| &r.id == id) else {
            problems.push(format!("{id} not found"));
            continue;
        };
        let ends = r.ends.as_ref().map(|e| format!(", ends {e}")).unwrap_or_default();
        lines.push(format!(
            "{id}: {} in {}, {} of {} available{ends}",
            r.instance_type, r.zone, r.available, r.total
        ));
        let before = problems.len();
        if r.state != "active" {
            problems.push(format!("{id} is {}, not active", r.state));
        }
        let weight = launch.weight(&r.instance_type);
        if weight.is_none() {
            let types: Vec<&str> = launch.types.iter().map(|(t, _)| t.as_str()).collect();
            problems.push(format!(
                "{id} reserves {}, a type the group does not launch ({})",
                r.instance_type,
                types.join(", ")
            ));
        }
        if !launch.zones.is_empty() && !launch.zones.contains(&r.zone) {
            problems.push(format!(
                "{id} is in {}, where the group launches nothing ({})",
                r.zone,
                launch.zones.join(", ")
            ));
        }
        if launch.preference.as_deref() == Some("none") {
            problems.push(format!(
                "the group launches into no reservation (CapacityReservationPreference none), so not into {id}"
            ));
        } else if r.targeted && !launch.targets.contains(id) && !launch.targets_resource_group {
            problems.push(format!(
                "{id} takes only instances that target it, and neither the group nor its launch template does (CapacityReservationTarget)"
            ));
        }
        if problems.len() == before {
            units += f64::from(r.available.max(0)) * weight.unwrap_or(1.0);
        }
    }
    let held = units.floor() as i32;
    let covered = held.min(more.max(0));
    if held < more {
        problems.push(format!("they hold {held} of the {more} the failover adds On-Demand"));
    }
    let mut detail = if problems.is_empty() {
        format!("hold {held} for the {} the failover adds On-Demand", more.max(0))
    } else {
        problems.join("; ")
    };
    if launch.targets_resource_group {
        detail.push_str(" (the group also targets a resource group of reservations, whose members are not read)");
    }
    if !lines.is_empty() {
        detail.push_str(&format!(": {}", lines.join("; ")));
    }
    Reserved {
        passed: problems.is_empty(),
        detail,
        covered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_family_counts_against_its_own_on_demand_quota() {
        for (t, code) in [
            ("m5.large", Some("L-1216C47A")),
            ("t4g.small", Some("L-1216C47A")),
            ("im4gn.large", Some("L-1216C47A")),
            ("d3.xlarge", Some("L-1216C47A")),
            ("inf2.xlarge", Some("L-1945791B")),
            ("trn1.2xlarge", Some("L-2C3B7624")),
            ("hpc7g.4xlarge", Some("L-F7808C92")),
            ("dl1.24xlarge", Some("L-6E869C2A")),
            ("g5.xlarge", Some("L-DB2E81BA")),
            ("vt1.3xlarge", Some("L-DB2E81BA")),
            ("p4d.24xlarge", Some("L-417A185B")),
            ("f1.2xlarge", Some("L-74FC7D96")),
            ("x2idn.16xlarge", Some("L-7295265B")),
            ("u-6tb1.metal", Some("L-43DA4232")),
            ("mac2.metal", None),
            ("", None),
        ] {
            assert_eq!(on_demand_quota(t), code, "{t}");
        }
    }

    fn launch(types: &[(&str, f64)]) -> Launch {
        Launch {
            types: types.iter().map(|(t, w)| (t.to_string(), *w)).collect(),
            zones: vec!["us-west-2a".into()],
            ..Launch::default()
        }
    }

    #[test]
    fn the_on_demand_share_fills_the_base_first_and_rounds_towards_on_demand() {
        let mut group = launch(&[("m5.large", 1.0)]);
        assert_eq!(group.on_demand_units(7), 7, "no policy: all On-Demand");
        group.on_demand = Some((2, 50));
        assert_eq!(group.on_demand_units(1), 1);
        assert_eq!(group.on_demand_units(7), 2 + 3, "2.5 above the base counts as 3");
        group.on_demand = Some((0, 0));
        assert_eq!(group.on_demand_units(7), 0, "all Spot");
    }

    #[test]
    fn asks_take_the_largest_vcpus_per_unit_of_each_quota() {
        let vcpus = BTreeMap::from([
            ("m5.large".to_string(), 2),
            ("m5.2xlarge".to_string(), 8),
            ("g5.xlarge".to_string(), 4),
        ]);
        let group = launch(&[
            ("m5.large", 1.0),
            ("m5.2xlarge", 2.0),
            ("g5.xlarge", 1.0),
            ("mac2.metal", 1.0),
        ]);
        let (asks, unplaced) = group.asks("autoscaling:web", 3, 1, &vcpus);
        assert_eq!(asks["L-1216C47A"].each, 4.0, "8 vCPUs for 2 units");
        assert_eq!(asks["L-1216C47A"].more, 3);
        assert_eq!(asks["L-DB2E81BA"].each, 4.0);
        assert_eq!(unplaced, ["mac2.metal"]);
    }

    fn reservation(id: &str, state: &str, instance_type: &str, available: i32) -> Reservation {
        Reservation {
            id: id.into(),
            state: state.into(),
            instance_type: instance_type.into(),
            zone: "us-west-2a".into(),
            available,
            total: 10,
            targeted: false,
            ends: None,
        }
    }

    #[test]
    fn reservations_that_hold_what_the_failover_adds_pass_and_take_it_off_the_quota() {
        let group = launch(&[("m5.large", 1.0)]);
        let wanted = ["cr-0123456789abcdef0".to_string()];
        let found = [reservation("cr-0123456789abcdef0", "active", "m5.large", 6)];
        let r = reserved(&group, &wanted, &found, 4);
        assert!(r.passed, "{r:?}");
        assert_eq!(r.covered, 4);
        assert_eq!(
            r.detail,
            "hold 6 for the 4 the failover adds On-Demand: cr-0123456789abcdef0: m5.large in us-west-2a, 6 of 10 available"
        );
        let short = reserved(&group, &wanted, &found, 8);
        assert!(!short.passed);
        assert_eq!(short.covered, 6);
        assert!(
            short
                .detail
                .starts_with("they hold 6 of the 8 the failover adds On-Demand"),
            "{short:?}"
        );
    }

    #[test]
    fn a_reservation_the_group_cannot_launch_into_holds_nothing_and_is_named() {
        let group = launch(&[("m5.large", 1.0)]);
        let wanted: Vec<String> = ["cr-a", "cr-b", "cr-c", "cr-d"].map(String::from).to_vec();
        let mut targeted = reservation("cr-c", "active", "m5.large", 5);
        targeted.targeted = true;
        let mut elsewhere = reservation("cr-d", "active", "m5.large", 5);
        elsewhere.zone = "us-west-2b".into();
        let found = [
            reservation("cr-a", "expired", "m5.large", 5),
            reservation("cr-b", "active", "c5.large", 5),
            targeted,
            elsewhere,
        ];
        let r = reserved(&group, &wanted, &found, 2);
        assert!(!r.passed);
        assert_eq!(r.covered, 0);
        for part in [
            "cr-a is expired, not active",
            "cr-b reserves c5.large, a type the group does not launch (m5.large)",
            "cr-c takes only instances that target it",
            "cr-d is in us-west-2b, where the group launches nothing (us-west-2a)",
            "they hold 0 of the 2",
        ] {
            assert!(r.detail.contains(part), "{part}: {}", r.detail);
        }
        // Targeted by the group: it holds. Opted out: nothing does.
        let mut targeting = group.clone();
        targeting.targets = vec!["cr-c".into()];
        assert!(reserved(&targeting, &wanted[2..3], &found, 2).passed);
        targeting.preference = Some("none".into());
        let none = reserved(&targeting, &wanted[2..3], &found, 2);
        assert!(none.detail.contains("CapacityReservationPreference none"), "{none:?}");
        let missing = reserved(&group, &["cr-e".to_string()], &found, 0);
        assert!(
            !missing.passed && missing.detail.starts_with("cr-e not found"),
            "{missing:?}"
        );
    }
}
