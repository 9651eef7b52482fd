//! The plan's rules: every section checked, every problem reported with its path.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::check_databases::check_databases;
use super::check_dns::check_dns;
use super::check_parts::{
    check_custom_actions, check_event_source_mappings, check_global_datastores, check_global_tables,
    check_multi_region_clusters, check_writer_endpoints,
};
use super::check_services::check_services;
use super::checker::Checker;
use super::{default_deadline, PlanProblem};

/// Checks a plan document and returns every problem found, in document order.
pub fn check_plan(value: &Value) -> Vec<PlanProblem> {
    let mut c = Checker::default();
    let Some(plan) = c.object(
        "",
        value,
        &[
            "application",
            "primaryRegion",
            "recoveryRegion",
            "otherRecoveryRegions",
            "strategy",
            "objectives",
            "detection",
            "dns",
            "routingControlCluster",
            "databases",
            "writerEndpoints",
            "globalTables",
            "globalDatastores",
            "multiRegionClusters",
            "services",
            "eventSourceMappings",
            "customActions",
            "validation",
            "notification",
            "approval",
            "acknowledgedDependencies",
            "accounts",
        ],
    ) else {
        return c.problems;
    };

    if let Some(app) = c.string("", plan, "application", true) {
        if app.len() > 64
            || !app
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            c.report("application", "must be 1-64 letters, digits, '-' or '_'");
        }
    }
    let primary = c.region("", plan, "primaryRegion", true);
    let recovery = c.region("", plan, "recoveryRegion", true);
    if let (Some(p), Some(r)) = (primary, recovery) {
        if p == r {
            c.report("recoveryRegion", "must differ from primaryRegion");
        }
    }
    c.one_of(
        "",
        plan,
        "strategy",
        false,
        &["backupRestore", "pilotLight", "warmStandby", "multiSiteActiveActive"],
    );

    let mut rto = None;
    if let Some(o) = c.child_object("", plan, "objectives", true, &["rtoSeconds", "rpoSeconds"]) {
        rto = c.seconds("objectives", o, "rtoSeconds", true, 1, "> 0");
        c.seconds("objectives", o, "rpoSeconds", true, 1, "> 0");
    }

    check_detection(&mut c, plan);
    check_dns(&mut c, plan);
    check_databases(&mut c, plan, primary, recovery);
    check_writer_endpoints(&mut c, plan);
    check_global_tables(&mut c, plan);
    check_global_datastores(&mut c, plan);
    check_multi_region_clusters(&mut c, plan);
    check_event_source_mappings(&mut c, plan);
    check_custom_actions(&mut c, plan);
    check_services(&mut c, plan);
    check_validation(&mut c, plan, rto);

    if let Some(n) = c.child_object("", plan, "notification", true, &["topicArn"]) {
        if let Some(arn) = c.string("notification", n, "topicArn", true) {
            let parts: Vec<&str> = arn.split(':').collect();
            if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5].is_empty() {
                c.report(
                    "notification.topicArn",
                    "must be an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)",
                );
            }
        }
    }
    if let Some(a) = c.child_object("", plan, "approval", false, &["required", "timeoutSeconds"]) {
        c.boolean("approval", a, "required", false);
        if let Some(t) = c.integer("approval", a, "timeoutSeconds", false, 1, "> 0") {
            if t > 7 * 24 * 3600 {
                c.report("approval.timeoutSeconds", "must be at most 604800 (7 days)");
            }
        }
    }

    super::accounts::check_accounts(&mut c, plan);
    for (path, item) in c.array("", plan, "acknowledgedDependencies", false) {
        let named = item
            .as_str()
            .and_then(|t| t.split_once(':'))
            .is_some_and(|(service, op)| {
                !service.is_empty() && op.chars().next().is_some_and(|ch| ch.is_ascii_uppercase())
            });
        if !named {
            c.report(
                &path,
                "must name an operation as service:Operation (see rebound validate --audit)",
            );
        }
    }
    let empty = |key: &str| plan.get(key).and_then(Value::as_array).is_none_or(|a| a.is_empty());
    if empty("dns") && empty("databases") && empty("services") {
        c.report("", "must recover something: at least one of dns, databases or services");
    }
    let others = super::regions::check_other_regions(plan, &c.problems);
    c.problems.extend(others);
    c.problems
}

fn check_detection(c: &mut Checker, plan: &Map<String, Value>) {
    let Some(d) = c.child_object(
        "",
        plan,
        "detection",
        false,
        &[
            "alarms",
            "metrics",
            "thresholds",
            "minSignals",
            "unknownSignals",
            "cooldownSeconds",
            "healthEvents",
            "reprotectWhenHealthy",
        ],
    ) else {
        return;
    };
    let mut signals = 0usize;
    for (path, alarm) in c.array("detection", d, "alarms", false) {
        if let Some(a) = c.object(&path, alarm, &["name", "region"]) {
            c.string(&path, a, "name", true);
            c.region(&path, a, "region", false);
        }
        signals += 1;
    }
    let mut ids = BTreeSet::new();
    for (path, metric) in c.array("detection", d, "metrics", false) {
        signals += 1;
        let Some(m) = c.object(
            &path,
            metric,
            &[
                "id",
                "namespace",
                "metricName",
                "dimensions",
                "statistic",
                "periodSeconds",
                "comparison",
                "threshold",
                "region",
            ],
        ) else {
            continue;
        };
        if let Some(id) = c.string(&path, m, "id", true) {
            let mut chars = id.chars();
            let starts_lower = chars.next().is_some_and(|ch| ch.is_ascii_lowercase());
            if !starts_lower || !chars.all(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                c.report(
                    &format!("{path}.id"),
                    "must start with a lowercase letter and hold only letters, digits and '_'",
                );
            } else if !ids.insert(id.to_string()) {
                c.report(&format!("{path}.id"), format!("duplicate metric id '{id}'"));
            }
        }
        c.string(&path, m, "namespace", true);
        c.string(&path, m, "metricName", true);
        if let Some(dims) = c.child_object(&path, m, "dimensions", false, &[]) {
            for (k, v) in dims {
                if !v.is_string() {
                    c.report(&format!("{path}.dimensions.{k}"), "must be a string");
                }
            }
        }
        if let Some(stat) = c.string(&path, m, "statistic", true) {
            let known = ["Average", "Sum", "Minimum", "Maximum", "SampleCount"];
            let percentile = stat.strip_prefix('p').is_some_and(|p| p.parse::<f64>().is_ok());
            if !known.contains(&stat) && !percentile {
                c.report(
                    &format!("{path}.statistic"),
                    "must be one of: Average, Sum, Minimum, Maximum, SampleCount, or a percentile like p99",
                );
            }
        }
        if let Some(p) = c.integer(&path, m, "periodSeconds", false, 1, "> 0") {
            if ![1, 5, 10, 30].contains(&p) && p % 60 != 0 {
                c.report(
                    &format!("{path}.periodSeconds"),
                    "must be 1, 5, 10, 30 or a multiple of 60",
                );
            }
        }
        c.one_of(
            &path,
            m,
            "comparison",
            true,
            &["greaterThan", "greaterThanOrEqual", "lessThan", "lessThanOrEqual"],
        );
        c.number(&path, m, "threshold", true);
        c.region(&path, m, "region", false);
    }
    if let Some(t) = c.child_object(
        "detection",
        d,
        "thresholds",
        false,
        &["errorRatePercent", "availabilityPercent", "responseTimeMs"],
    ) {
        for key in ["errorRatePercent", "availabilityPercent"] {
            if let Some(v) = c.number("detection.thresholds", t, key, false) {
                if !(0.0..=100.0).contains(&v) {
                    c.report(&format!("detection.thresholds.{key}"), "must be between 0 and 100");
                }
            }
        }
        if let Some(v) = c.number("detection.thresholds", t, "responseTimeMs", false) {
            if v <= 0.0 {
                c.report("detection.thresholds.responseTimeMs", "must be > 0");
            }
        }
    }
    let health = c.boolean("detection", d, "healthEvents", false).unwrap_or(true);
    if let Some(min) = c.integer("detection", d, "minSignals", false, 1, ">= 1") {
        let available = signals + usize::from(health);
        if signals > 0 && min as usize > available {
            c.report(
                "detection.minSignals",
                format!("must be at most the number of signals ({available}: alarms, metrics and health events)"),
            );
        }
    }
    c.one_of("detection", d, "unknownSignals", false, &["abstain", "failing"]);
    c.seconds("detection", d, "cooldownSeconds", false, 0, ">= 0");
    if c.boolean("detection", d, "reprotectWhenHealthy", false) == Some(true) && signals == 0 {
        c.report(
            "detection.reprotectWhenHealthy",
            "needs an alarm or metric signal: the primary is seen healthy through them",
        );
    }
}

fn check_validation(c: &mut Checker, plan: &Map<String, Value>, rto: Option<u64>) {
    // The default deadline counts like a written one: a plan the checker accepts must pass
    // again once written out with its defaults.
    let default_too_long = || {
        rto.is_some_and(|rto| default_deadline() > rto).then(|| {
            format!(
                "required when objectives.rtoSeconds is under {} s, the default: validation must end within the RTO",
                default_deadline()
            )
        })
    };
    let Some(v) = c.child_object(
        "",
        plan,
        "validation",
        false,
        &["probes", "deadlineSeconds", "consecutiveSuccesses"],
    ) else {
        if let Some(why) = default_too_long() {
            c.report("validation.deadlineSeconds", why);
        }
        return;
    };
    if v.get("deadlineSeconds").is_none_or(Value::is_null) {
        if let Some(why) = default_too_long() {
            c.report("validation.deadlineSeconds", why);
        }
    }
    if let Some(deadline) = c.seconds("validation", v, "deadlineSeconds", false, 1, "> 0") {
        if rto.is_some_and(|rto| deadline > rto) {
            c.report("validation.deadlineSeconds", "must not exceed objectives.rtoSeconds");
        }
    }
    c.integer("validation", v, "consecutiveSuccesses", false, 1, ">= 1");
    for (path, probe) in c.array("validation", v, "probes", false) {
        let kind = probe.get("kind").and_then(Value::as_str);
        let fields: &[&str] = match kind {
            Some("http") => &["kind", "url", "expectedStatus", "expectedBody", "timeoutMs", "when"],
            Some("dns") => &["kind", "hostedZoneId", "name", "type", "expected", "when"],
            _ => &[
                "kind",
                "url",
                "expectedStatus",
                "expectedBody",
                "timeoutMs",
                "hostedZoneId",
                "name",
                "type",
                "expected",
                "when",
            ],
        };
        let Some(p) = c.object(&path, probe, fields) else {
            continue;
        };
        c.one_of(&path, p, "when", false, &["failover", "failback", "always"]);
        match c.one_of(&path, p, "kind", true, &["http", "dns"]) {
            Some("http") => {
                if let Some(url) = c.string(&path, p, "url", true) {
                    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 10 {
                        c.report(&format!("{path}.url"), "must be an http:// or https:// URL");
                    }
                }
                if let Some(s) = c.integer(&path, p, "expectedStatus", false, 100, "an HTTP status (100-599)") {
                    if s > 599 {
                        c.report(&format!("{path}.expectedStatus"), "must be an HTTP status (100-599)");
                    }
                }
                c.string(&path, p, "expectedBody", false);
                c.integer(&path, p, "timeoutMs", false, 1, "> 0");
            }
            Some(_) => {
                c.string(&path, p, "hostedZoneId", true);
                c.string(&path, p, "name", true);
                c.one_of(&path, p, "type", true, &["A", "AAAA", "CNAME"]);
                let expected = c.array(&path, p, "expected", true);
                if expected.is_empty() && p.get("expected").is_some_and(Value::is_array) {
                    c.report(&format!("{path}.expected"), "must not be empty");
                }
                for (epath, e) in expected {
                    if !e.is_string() {
                        c.report(&epath, "must be a string");
                    }
                }
            }
            None => {}
        }
    }
}
