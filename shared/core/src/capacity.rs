//! What a service's capacity is, what the plan wants it to be, and whether it is there yet:
//! plain values and predicates, shared by service-restoration and the validator.

use serde_json::{json, Value};

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

/// The capacity the plan asks for. An Auto Scaling group's maximum is raised to fit, never lowered.
pub fn target_capacity(service: &Service, current: Capacity) -> Capacity {
    match service {
        Service::Ecs { desired_count, .. } => Capacity {
            min: None,
            desired: *desired_count,
            max: None,
            running: current.running,
        },
        Service::AutoScalingGroup {
            min_size,
            desired_capacity,
            max_size,
            ..
        } => {
            let max = max_size.unwrap_or_else(|| current.max.unwrap_or(*desired_capacity).max(*desired_capacity));
            Capacity {
                min: Some(*min_size),
                desired: *desired_capacity,
                max: Some(max),
                running: current.running,
            }
        }
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

/// Decides one service's scaling from what it is now.
pub fn scaling(service: &Service, current: Capacity) -> Scaling {
    let target = target_capacity(service, current);
    if current.desired == target.desired && current.min == target.min && current.max == target.max {
        Scaling::Set {
            starting: !running(service, current),
        }
    } else {
        Scaling::To(target)
    }
}

/// Whether as many run as the plan wants: the "done?" of a scaling.
pub fn running(service: &Service, current: Capacity) -> bool {
    current.running >= target_capacity(service, current).desired
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asg(max_size: Option<i32>) -> Service {
        Service::AutoScalingGroup {
            name: "web".into(),
            min_size: 2,
            desired_capacity: 4,
            max_size,
            needs_writer: false,
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

    #[test]
    fn an_asg_maximum_is_raised_to_fit_and_never_lowered() {
        let small = capacity(Some(0), 0, Some(1), 0);
        assert_eq!(target_capacity(&asg(None), small).max, Some(4));
        let large = capacity(Some(0), 0, Some(20), 0);
        assert_eq!(target_capacity(&asg(None), large).max, Some(20));
        assert_eq!(target_capacity(&asg(Some(12)), large).max, Some(12));
    }

    #[test]
    fn a_service_at_its_settings_is_set_and_starting_until_enough_run() {
        let ecs = Service::Ecs {
            cluster: "c".into(),
            service: "api".into(),
            desired_count: 3,
            needs_writer: false,
        };
        assert_eq!(
            scaling(&ecs, capacity(None, 3, None, 1)),
            Scaling::Set { starting: true }
        );
        assert_eq!(
            scaling(&ecs, capacity(None, 3, None, 3)),
            Scaling::Set { starting: false }
        );
        assert_eq!(
            scaling(&ecs, capacity(None, 0, None, 0)),
            Scaling::To(capacity(None, 3, None, 0))
        );
        assert!(!running(&ecs, capacity(None, 3, None, 2)));
        assert!(running(&ecs, capacity(None, 3, None, 4)));
        // A group whose maximum is below the plan's desired is changed, even at the desired.
        assert_eq!(
            scaling(&asg(None), capacity(Some(2), 4, Some(3), 4)),
            Scaling::To(capacity(Some(2), 4, Some(4), 4))
        );
    }
}
