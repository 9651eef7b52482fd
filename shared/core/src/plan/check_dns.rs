//! The plan's DNS rules: each record's mode and the fields it needs, and the ARC cluster that
//! `routingControl` records are switched through.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::checker::{is_domain_name, Checker};

/// The fields each mode uses beyond `hostedZoneId`, `name`, `type` and `mode`.
const MODE_FIELDS: [(&str, &[&str]); 4] = [
    ("upsert", &["ttl", "setIdentifier", "primary", "recovery"]),
    ("healthCheckInversion", &["setIdentifier", "healthCheckId"]),
    (
        "routingControl",
        &["setIdentifier", "primaryRoutingControlArn", "recoveryRoutingControlArn"],
    ),
    ("alarmHealthCheck", &["setIdentifier", "alarmName", "healthCheckId"]),
];

/// ARC clusters have five regional endpoints.
const MAX_CLUSTER_ENDPOINTS: usize = 5;

pub(super) fn check_dns(c: &mut Checker, plan: &Map<String, Value>) {
    let mut seen = BTreeSet::new();
    // Which side each routing control stands for: one control cannot be both.
    let mut controls: BTreeMap<String, (&'static str, String)> = BTreeMap::new();
    let mut needs_cluster = None;
    let all_fields: BTreeSet<&str> = MODE_FIELDS.iter().flat_map(|(_, f)| f.iter().copied()).collect();
    let mut allowed: Vec<&str> = vec!["hostedZoneId", "name", "type", "mode", "account"];
    // One account per hosted zone: where its records and its changes are.
    let mut zone_accounts: BTreeMap<String, (Option<String>, String)> = BTreeMap::new();
    allowed.extend(all_fields.iter().copied());
    for (path, record) in c.array("", plan, "dns", false) {
        let Some(r) = c.object(&path, record, &allowed) else {
            continue;
        };
        let zone = c.string(&path, r, "hostedZoneId", true);
        let name = c.string(&path, r, "name", true);
        if let Some(n) = name {
            if !is_domain_name(n) {
                c.report(&format!("{path}.name"), "must be a DNS name like api.example.com.");
            }
        }
        let account = super::accounts::account_ref(c, &path, r, plan);
        let account = account.as_deref();
        if let Some(z) = zone {
            let here = account.map(str::to_string);
            match zone_accounts.get(z) {
                Some((there, at)) if *there != here => c.report(
                    &format!("{path}.account"),
                    format!(
                        "zone {z} is in {} at {at}: a zone's records are in one account",
                        there.as_deref().unwrap_or("Rebound's own account")
                    ),
                ),
                Some(_) => {}
                None => {
                    zone_accounts.insert(z.to_string(), (here, path.clone()));
                }
            }
        }
        let rtype = c.one_of(&path, r, "type", true, &["A", "AAAA", "CNAME"]);
        let set_id = c.string(&path, r, "setIdentifier", false);
        if let (Some(z), Some(n), Some(t)) = (zone, name, rtype) {
            let key = (
                z.to_string(),
                n.trim_end_matches('.').to_ascii_lowercase(),
                t.to_string(),
                set_id.map(str::to_string),
            );
            if !seen.insert(key) {
                c.report(&path, format!("duplicate record {n} {t} in zone {z}"));
            }
        }
        let modes: Vec<&str> = MODE_FIELDS.iter().map(|(m, _)| *m).collect();
        let Some(mode) = c.one_of(&path, r, "mode", false, &modes).or(match r.get("mode") {
            None | Some(Value::Null) => Some("upsert"),
            Some(_) => None,
        }) else {
            continue;
        };
        let fields = MODE_FIELDS
            .iter()
            .find(|(m, _)| *m == mode)
            .map_or(&[][..], |(_, f)| *f);
        for key in r.keys().filter(|k| all_fields.contains(k.as_str())) {
            if !fields.contains(&key.as_str()) {
                c.report(&format!("{path}.{key}"), format!("not used in {mode} mode"));
            }
        }
        match mode {
            "upsert" => check_upsert(c, &path, r, rtype),
            "healthCheckInversion" => {
                required_in(c, &path, r, "healthCheckId", mode);
            }
            "routingControl" => {
                needs_cluster.get_or_insert(path.clone());
                let primary = routing_control_arn(c, &path, r, "primaryRoutingControlArn");
                let recovery = routing_control_arn(c, &path, r, "recoveryRoutingControlArn");
                if primary.is_some() && primary == recovery {
                    c.report(
                        &format!("{path}.recoveryRoutingControlArn"),
                        "must differ from primaryRoutingControlArn",
                    );
                }
                for (side, arn) in [("primary", primary), ("recovery", recovery)] {
                    let Some(arn) = arn else { continue };
                    match controls.get(arn) {
                        Some((other, at)) if *other != side => c.report(
                            &format!("{path}.{side}RoutingControlArn"),
                            format!(
                                "{arn} is the {other} routing control at {at}: one control cannot stand for both sides"
                            ),
                        ),
                        Some(_) => {}
                        None => {
                            controls.insert(arn.to_string(), (side, path.clone()));
                        }
                    }
                }
            }
            _ => {
                if account.is_some() {
                    // A health check follows an alarm of its own account; Rebound drives the
                    // alarm in its own.
                    c.report(&format!("{path}.account"), "not used in alarmHealthCheck mode: the health check and the alarm it follows are in one account, Rebound's");
                }
                if let Some(alarm) = required_in(c, &path, r, "alarmName", mode) {
                    if alarm.chars().count() > 255 || alarm.chars().any(char::is_control) {
                        c.report(
                            &format!("{path}.alarmName"),
                            "must be a CloudWatch alarm name: 1-255 characters, no control characters",
                        );
                    }
                }
                required_in(c, &path, r, "healthCheckId", mode);
            }
        }
    }
    check_cluster(c, plan, needs_cluster);
}

/// A string field the record's mode needs.
fn required_in<'v>(c: &mut Checker, path: &str, r: &'v Map<String, Value>, key: &str, mode: &str) -> Option<&'v str> {
    if r.get(key).is_none_or(Value::is_null) {
        c.report(&format!("{path}.{key}"), format!("required in {mode} mode"));
        return None;
    }
    c.string(path, r, key, false)
}

fn check_upsert(c: &mut Checker, path: &str, r: &Map<String, Value>, rtype: Option<&str>) {
    let ttl = c.integer(path, r, "ttl", false, 0, ">= 0");
    if ttl.is_some_and(|t| t > 2_147_483_647) {
        c.report(&format!("{path}.ttl"), "must be at most 2147483647");
    }
    let primary = target(c, path, r, "primary", rtype);
    let recovery = target(c, path, r, "recovery", rtype);
    for (key, t) in [("primary", &primary), ("recovery", &recovery)] {
        // `null` is absent, as serde reads it.
        if r.get(key).is_none_or(Value::is_null) {
            c.report(&format!("{path}.{key}"), "required in upsert mode");
        }
        if matches!(t, Some(Target::Values)) && ttl.is_none() {
            c.report(&format!("{path}.ttl"), "required for records with values");
        }
    }
    if matches!(primary, Some(Target::Alias)) && matches!(recovery, Some(Target::Alias)) && ttl.is_some() {
        c.report(&format!("{path}.ttl"), "must be absent for alias records");
    }
    if r.contains_key("primary") && r.get("primary") == r.get("recovery") {
        c.report(&format!("{path}.recovery"), "must differ from primary");
    }
}

/// `arn:aws:route53-recovery-control::ACCOUNT:controlpanel/ID/routingcontrol/ID`.
fn routing_control_arn<'v>(c: &mut Checker, path: &str, r: &'v Map<String, Value>, key: &str) -> Option<&'v str> {
    let arn = required_in(c, path, r, key, "routingControl")?;
    let parts: Vec<&str> = arn.split(':').collect();
    let resource: Vec<&str> = parts.get(5).map(|p| p.split('/').collect()).unwrap_or_default();
    let valid = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "route53-recovery-control"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].chars().all(|ch| ch.is_ascii_digit())
        && resource.len() == 4
        && resource[0] == "controlpanel"
        && resource[2] == "routingcontrol"
        && !resource[1].is_empty()
        && !resource[3].is_empty();
    if !valid {
        c.report(
            &format!("{path}.{key}"),
            "must be a routing control ARN (arn:aws:route53-recovery-control::ACCOUNT:controlpanel/ID/routingcontrol/ID)",
        );
        return None;
    }
    Some(arn)
}

fn check_cluster(c: &mut Checker, plan: &Map<String, Value>, needed_by: Option<String>) {
    let Some(cluster) = c.child_object("", plan, "routingControlCluster", false, &["endpoints", "account"]) else {
        if let Some(record) = needed_by {
            c.report(
                "routingControlCluster",
                format!("required: {record} is in routingControl mode"),
            );
        }
        return;
    };
    super::accounts::account_ref(c, "routingControlCluster", cluster, plan);
    let endpoints = c.array("routingControlCluster", cluster, "endpoints", true);
    if endpoints.is_empty() && cluster.get("endpoints").is_some_and(Value::is_array) {
        c.report("routingControlCluster.endpoints", "must list at least one endpoint");
    }
    if endpoints.len() > MAX_CLUSTER_ENDPOINTS {
        c.report(
            "routingControlCluster.endpoints",
            format!("at most {MAX_CLUSTER_ENDPOINTS}: an ARC cluster has five regional endpoints"),
        );
    }
    let mut urls = BTreeSet::new();
    for (path, endpoint) in endpoints {
        let Some(e) = c.object(&path, endpoint, &["region", "url"]) else {
            continue;
        };
        c.region(&path, e, "region", true);
        if let Some(url) = c.string(&path, e, "url", true) {
            let host = url
                .strip_prefix("https://")
                .or_else(|| url.strip_prefix("http://"))
                .and_then(|rest| rest.split('/').next())
                .filter(|h| !h.is_empty() && !h.contains(char::is_whitespace));
            if host.is_none() {
                c.report(
                    &format!("{path}.url"),
                    "must be an endpoint URL like https://host-aaaaaa.us-west-2.example.com/v1",
                );
            } else if !urls.insert(url) {
                c.report(&format!("{path}.url"), "duplicate endpoint");
            }
        }
    }
}

enum Target {
    Values,
    Alias,
}

fn target(c: &mut Checker, path: &str, record: &Map<String, Value>, key: &str, rtype: Option<&str>) -> Option<Target> {
    let tpath = format!("{path}.{key}");
    let t = c.child_object(path, record, key, false, &["values", "alias"])?;
    match (t.get("values"), t.get("alias")) {
        (Some(_), Some(_)) | (None, None) => {
            c.report(&tpath, "must have exactly one of values or alias");
            None
        }
        (Some(values), None) => {
            let Some(values) = values.as_array().filter(|v| !v.is_empty()) else {
                c.report(&format!("{tpath}.values"), "must be a non-empty array of strings");
                return None;
            };
            if rtype == Some("CNAME") && values.len() != 1 {
                c.report(&format!("{tpath}.values"), "a CNAME takes exactly one value");
            }
            for (i, v) in values.iter().enumerate() {
                let vpath = format!("{tpath}.values[{i}]");
                match (v.as_str(), rtype) {
                    (None, _) => c.report(&vpath, "must be a string"),
                    (Some(s), Some("A")) if s.parse::<std::net::Ipv4Addr>().is_err() => {
                        c.report(&vpath, format!("must be an IPv4 address, got '{s}'"))
                    }
                    (Some(s), Some("AAAA")) if s.parse::<std::net::Ipv6Addr>().is_err() => {
                        c.report(&vpath, format!("must be an IPv6 address, got '{s}'"))
                    }
                    (Some(s), Some("CNAME")) if !is_domain_name(s) => c.report(&vpath, "must be a DNS name"),
                    _ => {}
                }
            }
            Some(Target::Values)
        }
        (None, Some(alias)) => {
            let apath = format!("{tpath}.alias");
            if let Some(a) = c.object(&apath, alias, &["hostedZoneId", "dnsName", "evaluateTargetHealth"]) {
                c.string(&apath, a, "hostedZoneId", true);
                c.string(&apath, a, "dnsName", true);
                c.boolean(&apath, a, "evaluateTargetHealth", false);
            }
            if rtype == Some("CNAME") {
                c.report(&apath, "an alias record must be of type A or AAAA");
            }
            Some(Target::Alias)
        }
    }
}
