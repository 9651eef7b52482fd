//! What a service's capacity is, what the plan wants it to be, and whether it is there yet:
//! plain values and predicates, shared by service-restoration and the validator.

use serde_json::{json, Value};

use crate::context::{Action, RecoveryContext};
use crate::plan::Service;

/// What one service looks like now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub min: Option<i32>,
    pub desired: i32,
    pub max: Option<i32>,
    /// ECS running tasks, or InService instances.
    pub running: i32,
}

impl Capacity {
    pub fn to_json(self) -> Value {
        json!({ "min": self.min, "desired": self.desired, "max": self.max, "running": self.running })
    }
}

/// The capacity the plan asks for, `peak` being the primary's (for a service sized from it).
/// An Auto Scaling group's maximum is raised to fit, never lowered, and its desired capacity is
/// never below its minimum.
pub fn target_capacity(service: &Service, current: Capacity, peak: Option<f64>) -> Capacity {
    let desired = service.desired(peak);
    match service {
        Service::Ecs { .. }
        | Service::EksDeployment {
            horizontal_pod_autoscaler: None,
            ..
        } => Capacity {
            min: None,
            desired,
            max: None,
            running: current.running,
        },
        Service::AutoScalingGroup { min_size, max_size, .. } | Service::EksNodegroup { min_size, max_size, .. } => {
            // The plan's own maximum is a ceiling a peak does not raise.
            let desired = desired.max(*min_size).min(max_size.unwrap_or(i32::MAX));
            let max = max_size.unwrap_or_else(|| current.max.unwrap_or(desired).max(desired));
            Capacity {
                min: Some(*min_size),
                desired,
                max: Some(max),
                running: current.running,
            }
        }
        // The autoscaler's minimum is the plan's count, its maximum raised to fit; the
        // Deployment runs at least that many now, never fewer than the autoscaler already set.
        Service::EksDeployment { .. } => Capacity {
            min: Some(desired),
            desired: current.desired.max(desired),
            max: Some(current.max.unwrap_or(desired).max(desired)),
            running: current.running,
        },
    }
}

/// What to do about one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scaling {
    /// Its settings are the plan's; `starting` while fewer than desired run yet.
    Set { starting: bool },
    /// Set it to `target`.
    To(Capacity),
}

/// Decides one service's scaling from what it is now and the primary's `peak`.
pub fn scaling(service: &Service, current: Capacity, peak: Option<f64>) -> Scaling {
    let target = target_capacity(service, current, peak);
    if current.desired == target.desired && current.min == target.min && current.max == target.max {
        Scaling::Set {
            starting: current.running < target.desired,
        }
    } else {
        Scaling::To(target)
    }
}

/// The desired count service-restoration set for `service` in this recovery (its scaling
/// action's `after`, or what it found already set): the number its wait and the validator
/// compare with. A service not scaled in this recovery is compared with the plan's count, or
/// for one sized from the peak, its minimum.
pub fn recovery_target(ctx: &RecoveryContext, service: &Service) -> i32 {
    let resource = service.resource_name();
    ctx.results
        .capacity
        .iter()
        .chain(&ctx.results.services)
        .flat_map(|r| &r.actions)
        .find(|a| a.resource == resource)
        .and_then(recorded_target)
        .unwrap_or_else(|| service.desired(None))
}

/// The desired count a scaling action recorded: its `after` (the target), which for a service
/// found already set is what it found.
pub fn recorded_target(action: &Action) -> Option<i32> {
    action
        .after
        .get("desired")?
        .as_i64()
        .and_then(|d| i32::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::FromPeak;

    fn asg(max_size: Option<i32>) -> Service {
        Service::AutoScalingGroup {
            name: "web".into(),
            min_size: 2,
            desired_capacity: Some(4),
            capacity: None,
            max_size,
            needs_writer: false,
            account: None,
            capacity_reservations: Vec::new(),
        }
    }

    fn capacity(min: Option<i32>, desired: i32, max: Option<i32>, running: i32) -> Capacity {
        Capacity {
            min,
            desired,
            max,
            running,
        }
    }

    fn from_peak(percent_of_peak: u32, floor: i32) -> Option<FromPeak> {
        Some(FromPeak {
            percent_of_peak,
            minimum: 100,
            floor,
            primary_name: None,
        })
    }

    #[test]
    fn an_asg_maximum_is_raised_to_fit_and_never_lowered() {
        let small = capacity(Some(0), 0, Some(1), 0);
        assert_eq!(target_capacity(&asg(None), small, None).max, Some(4));
        let large = capacity(Some(0), 0, Some(20), 0);
        assert_eq!(target_capacity(&asg(None), large, None).max, Some(20));
        assert_eq!(target_capacity(&asg(Some(12)), large, None).max, Some(12));
    }

    #[test]
    fn a_service_sized_from_the_peak_runs_its_share_rounded_up_and_never_below_its_floor() {
        let ecs = Service::Ecs {
            cluster: "c".into(),
            service: "api".into(),
            desired_count: None,
            capacity: from_peak(80, 2),
            needs_writer: false,
            account: None,
        };
        let none = capacity(None, 0, None, 0);
        assert_eq!(target_capacity(&ecs, none, Some(10.0)).desired, 8);
        assert_eq!(target_capacity(&ecs, none, Some(9.0)).desired, 8, "7.2 rounds up");
        assert_eq!(target_capacity(&ecs, none, Some(1.0)).desired, 2, "the floor");
        assert_eq!(target_capacity(&ecs, none, None).desired, 2, "no peak known: the floor");
        assert_eq!(ecs.primary_name(), "c/api");
        // A group: within its minimum and the plan's maximum; its maximum raised to fit.
        let group = Service::AutoScalingGroup {
            name: "web".into(),
            min_size: 3,
            desired_capacity: None,
            capacity: from_peak(150, 1),
            max_size: None,
            needs_writer: false,
            account: None,
            capacity_reservations: Vec::new(),
        };
        let small = capacity(Some(0), 0, Some(2), 0);
        assert_eq!(
            target_capacity(&group, small, Some(10.0)),
            capacity(Some(3), 15, Some(15), 0)
        );
        assert_eq!(target_capacity(&group, small, Some(1.0)).desired, 3, "its minSize");
        let capped = Service::AutoScalingGroup {
            name: "web".into(),
            min_size: 3,
            desired_capacity: None,
            capacity: from_peak(150, 1),
            max_size: Some(12),
            needs_writer: false,
            account: None,
            capacity_reservations: Vec::new(),
        };
        assert_eq!(
            target_capacity(&capped, small, Some(10.0)),
            capacity(Some(3), 12, Some(12), 0)
        );
    }

    #[test]
    fn a_service_at_its_settings_is_set_and_starting_until_enough_run() {
        let ecs = Service::Ecs {
            cluster: "c".into(),
            service: "api".into(),
            desired_count: Some(3),
            capacity: None,
            needs_writer: false,
            account: None,
        };
        assert_eq!(
            scaling(&ecs, capacity(None, 3, None, 1), None),
            Scaling::Set { starting: true }
        );
        assert_eq!(
            scaling(&ecs, capacity(None, 3, None, 3), None),
            Scaling::Set { starting: false }
        );
        assert_eq!(
            scaling(&ecs, capacity(None, 0, None, 0), None),
            Scaling::To(capacity(None, 3, None, 0))
        );
        // A group whose maximum is below the plan's desired is changed, even at the desired.
        assert_eq!(
            scaling(&asg(None), capacity(Some(2), 4, Some(3), 4), None),
            Scaling::To(capacity(Some(2), 4, Some(4), 4))
        );
    }
}
