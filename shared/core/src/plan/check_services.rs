//! The plan's services: each kind's fields, and how many it runs (a fixed count, or a share of
//! the primary region's peak).

use serde_json::{Map, Value};

use super::checker::{fields_of, Checker};

const ECS_FIELDS: &[&str] = &[
    "kind",
    "cluster",
    "service",
    "desiredCount",
    "capacity",
    "needsWriter",
    "account",
];
const ASG_FIELDS: &[&str] = &[
    "kind",
    "name",
    "minSize",
    "desiredCapacity",
    "capacity",
    "maxSize",
    "needsWriter",
    "capacityReservations",
    "account",
];

const EKS_FIELDS: &[&str] = &[
    "kind",
    "cluster",
    "nodegroup",
    "minSize",
    "desiredSize",
    "capacity",
    "maxSize",
    "needsWriter",
    "account",
];

const DEPLOYMENT_FIELDS: &[&str] = &[
    "kind",
    "cluster",
    "namespace",
    "deployment",
    "replicas",
    "horizontalPodAutoscaler",
    "needsWriter",
    "account",
];

pub(super) fn check_services(c: &mut Checker, plan: &Map<String, Value>) {
    let mut clusters: std::collections::BTreeMap<String, (Option<String>, String)> = Default::default();
    for (path, svc) in c.array("", plan, "services", false) {
        let kind = svc.get("kind").and_then(Value::as_str);
        let fields = fields_of(
            kind,
            &[
                ("ecs", ECS_FIELDS),
                ("autoScalingGroup", ASG_FIELDS),
                ("eksNodegroup", EKS_FIELDS),
                ("eksDeployment", DEPLOYMENT_FIELDS),
            ],
        );
        let Some(s) = c.object(&path, svc, &fields) else {
            continue;
        };
        c.boolean(&path, s, "needsWriter", false);
        let account = super::accounts::account_ref(c, &path, s, plan);
        // One account per EKS cluster: its node groups and Deployments are reached through it.
        if let (Some("eksNodegroup" | "eksDeployment"), Some(cluster)) =
            (kind, s.get("cluster").and_then(Value::as_str))
        {
            match clusters.get(cluster) {
                Some((there, at)) if *there != account => c.report(
                    &format!("{path}.account"),
                    format!(
                        "EKS cluster {cluster} is in {} at {at}: a cluster's node groups and Deployments are in one account",
                        there.as_deref().unwrap_or("Rebound's own account")
                    ),
                ),
                Some(_) => {}
                None => {
                    clusters.insert(cluster.to_string(), (account.clone(), path.clone()));
                }
            }
        }
        match c.one_of(
            &path,
            s,
            "kind",
            true,
            &["ecs", "autoScalingGroup", "eksNodegroup", "eksDeployment"],
        ) {
            Some("ecs") => {
                c.string(&path, s, "cluster", true);
                c.string(&path, s, "service", true);
                how_many(c, &path, s, ("desiredCount", 1));
            }
            Some("eksNodegroup") => {
                // EKS API Reference, CreateNodegroup: names of 1 to 100 (cluster) and 1 to 63
                // (node group) letters, digits, hyphens and underscores, starting alphanumeric.
                eks_name(c, &path, s, "cluster", 100);
                eks_name(c, &path, s, "nodegroup", 63);
                let min = c.integer(&path, s, "minSize", true, 0, ">= 0");
                let desired = how_many(c, &path, s, ("desiredSize", 0));
                let max = c.integer(&path, s, "maxSize", false, 1, ">= 1");
                sizes(c, &path, (min, desired, max), ("desiredSize", "minSize", "maxSize"));
            }
            Some("eksDeployment") => {
                eks_name(c, &path, s, "cluster", 100);
                kubernetes_name(c, &path, s, "namespace", true, 63);
                kubernetes_name(c, &path, s, "deployment", true, 253);
                kubernetes_name(c, &path, s, "horizontalPodAutoscaler", false, 253);
                c.integer(&path, s, "replicas", true, 0, ">= 0");
            }
            Some(_) => {
                c.string(&path, s, "name", true);
                let min = c.integer(&path, s, "minSize", true, 0, ">= 0");
                let desired = how_many(c, &path, s, ("desiredCapacity", 1));
                let max = c.integer(&path, s, "maxSize", false, 1, ">= 1");
                sizes(c, &path, (min, desired, max), ("desiredCapacity", "minSize", "maxSize"));
                reservations(c, &path, s);
            }
            None => {}
        }
    }
}

/// A group's desired size between its minimum and its maximum, each named by its field.
fn sizes(
    c: &mut Checker,
    path: &str,
    (min, desired, max): (Option<u64>, Option<u64>, Option<u64>),
    names: (&str, &str, &str),
) {
    let (desired_field, min_field, max_field) = names;
    if let (Some(min), Some(desired)) = (min, desired) {
        if desired < min {
            c.report(&format!("{path}.{desired_field}"), format!("must be >= {min_field}"));
        }
    }
    if let (Some(desired), Some(max)) = (desired, max) {
        if max < desired {
            c.report(&format!("{path}.{max_field}"), format!("must be >= {desired_field}"));
        }
    }
}

/// An EKS name of at most `longest` characters: letters, digits, `-` and `_`, starting with a
/// letter or digit.
fn eks_name(c: &mut Checker, path: &str, s: &Map<String, Value>, field: &str, longest: usize) {
    let Some(name) = c.string(path, s, field, true) else {
        return;
    };
    let valid = name.len() <= longest
        && name.chars().next().is_some_and(|f| f.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
    if !valid {
        c.report(
            &format!("{path}.{field}"),
            format!("must be 1 to {longest} letters, digits, - or _, starting with a letter or digit"),
        );
    }
}

/// A Kubernetes object's name (Kubernetes documentation, "Object Names and IDs": a namespace is a
/// DNS label of at most 63 characters, a Deployment or an autoscaler a DNS subdomain of at most
/// 253): lowercase letters, digits and `-` (and `.` in a subdomain), starting and ending with a
/// letter or digit.
fn kubernetes_name(c: &mut Checker, path: &str, s: &Map<String, Value>, field: &str, required: bool, longest: usize) {
    let Some(name) = c.string(path, s, field, required) else {
        return;
    };
    let dots = longest > 63;
    let alnum = |ch: char| ch.is_ascii_lowercase() || ch.is_ascii_digit();
    let valid = name.len() <= longest
        && name.starts_with(alnum)
        && name.ends_with(alnum)
        && name.chars().all(|ch| alnum(ch) || ch == '-' || (dots && ch == '.'));
    if !valid {
        c.report(
            &format!("{path}.{field}"),
            format!(
                "must be 1 to {longest} lowercase letters, digits{} or -, starting and ending with a letter or digit",
                if dots { ", ." } else { "" }
            ),
        );
    }
}

/// `capacityReservations`: EC2 Capacity Reservation IDs (`cr-` and 8 or 17 hex digits, EC2
/// API Reference, CapacityReservation), each once.
fn reservations(c: &mut Checker, path: &str, s: &Map<String, Value>) {
    let Some(ids) = s.get("capacityReservations").filter(|v| !v.is_null()) else {
        return;
    };
    let here = format!("{path}.capacityReservations");
    let Some(ids) = ids.as_array() else {
        c.report(&here, "must be an array of Capacity Reservation IDs");
        return;
    };
    let mut seen = std::collections::BTreeSet::new();
    for (i, id) in ids.iter().enumerate() {
        let valid = id.as_str().and_then(|id| id.strip_prefix("cr-")).is_some_and(|hex| {
            (hex.len() == 8 || hex.len() == 17) && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        });
        if !valid {
            c.report(
                &format!("{here}[{i}]"),
                "must be a Capacity Reservation ID (cr- and 17 hex digits)",
            );
        } else if !seen.insert(id.as_str()) {
            c.report(&format!("{here}[{i}]"), "is listed twice");
        }
    }
}

/// A service runs a fixed count (`fixed`, at least `least`) or a share of the primary's peak
/// (`capacity`), one of the two; the fixed count, if that is what it has.
fn how_many(c: &mut Checker, path: &str, s: &Map<String, Value>, (fixed, least): (&str, u64)) -> Option<u64> {
    let sized = s.get("capacity").is_some_and(|v| !v.is_null());
    if s.get(fixed).is_some_and(|v| !v.is_null()) && sized {
        c.report(
            &format!("{path}.capacity"),
            format!("give {fixed} or capacity, not both"),
        );
    }
    if !sized {
        return c.integer(path, s, fixed, true, least, &format!(">= {least}"));
    }
    let allowed = ["percentOfPeak", "minimum", "floor", "primaryName"];
    if let Some(capacity) = c.child_object(path, s, "capacity", true, &allowed) {
        let here = format!("{path}.capacity");
        if let Some(percent) = c.integer(&here, capacity, "percentOfPeak", true, 1, "1 to 200") {
            if percent > 200 {
                c.report(&format!("{here}.percentOfPeak"), "must be 1 to 200");
            }
        }
        if let Some(minimum) = c.integer(&here, capacity, "minimum", false, 1, "1 to 100") {
            if minimum > 100 {
                c.report(&format!("{here}.minimum"), "must be 1 to 100");
            }
        }
        c.integer(&here, capacity, "floor", true, 1, ">= 1");
        c.string(&here, capacity, "primaryName", false);
    }
    None
}
