//! The plan's `databases`: each kind's fields, identifiers, ARNs in the right regions and
//! accounts, and isolation security groups.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::checker::{fields_of, is_rds_identifier, Checker};

const READ_REPLICA_FIELDS: &[&str] = &[
    "kind",
    "identifier",
    "sourceIdentifier",
    "allowDataLoss",
    "failbackIdentifier",
    "isolationSecurityGroupId",
    "reprotect",
    "account",
];
const AURORA_GLOBAL_FIELDS: &[&str] = &[
    "kind",
    "identifier",
    "targetClusterArn",
    "engine",
    "allowDataLoss",
    "isolationSecurityGroupId",
    "failbackClusterArn",
    "reprotect",
    "account",
];

pub(super) fn check_databases(
    c: &mut Checker,
    plan: &Map<String, Value>,
    primary_region: Option<&str>,
    recovery_region: Option<&str>,
) {
    let mut seen = BTreeSet::new();
    for (path, db) in c.array("", plan, "databases", false) {
        let kind = db.get("kind").and_then(Value::as_str);
        let fields = fields_of(
            kind,
            &[
                ("readReplica", READ_REPLICA_FIELDS),
                ("auroraGlobal", AURORA_GLOBAL_FIELDS),
                (
                    "pointInTimeRestore",
                    &["kind", "identifier", "sourceIdentifier", "instanceClass", "account"],
                ),
                (
                    "snapshotRestore",
                    &["kind", "identifier", "snapshotIdentifier", "instanceClass", "account"],
                ),
            ],
        );
        let Some(d) = c.object(&path, db, &fields) else {
            continue;
        };
        let kind = c.one_of(
            &path,
            d,
            "kind",
            true,
            &["readReplica", "auroraGlobal", "pointInTimeRestore", "snapshotRestore"],
        );
        if let Some(id) = c.string(&path, d, "identifier", true) {
            if kind != Some("auroraGlobal") && !is_rds_identifier(id) {
                c.report(
                    &format!("{path}.identifier"),
                    "must be an RDS identifier: 1-63 letters, digits or hyphens, starting with a letter",
                );
            } else if !seen.insert(id.to_string()) {
                c.report(&format!("{path}.identifier"), format!("duplicate database '{id}'"));
            }
        }
        match kind {
            Some("readReplica") | Some("pointInTimeRestore") => {
                c.string(&path, d, "sourceIdentifier", true);
            }
            Some("auroraGlobal") => {
                let engine = c.one_of(&path, d, "engine", false, &["aurora", "docdb", "neptune"]);
                if engine.is_some_and(|e| e != "aurora") && d.contains_key("reprotect") {
                    // rebuild.rs creates Aurora clusters: their engine, instance and
                    // parameter-group rules are Aurora's.
                    c.report(
                        &format!("{path}.reprotect"),
                        "rebound reprotect rebuilds Aurora secondary clusters only; add the primary region's cluster to the global cluster by hand",
                    );
                }
                cluster_arn(c, &path, d, "targetClusterArn", true, recovery_region, "recoveryRegion");
                cluster_arn(
                    c,
                    &path,
                    d,
                    "failbackClusterArn",
                    false,
                    primary_region,
                    "primaryRegion",
                );
            }
            Some("snapshotRestore") => {
                c.string(&path, d, "snapshotIdentifier", true);
            }
            _ => {}
        }
        if let Some(account) = super::accounts::account_ref(c, &path, d, plan) {
            // A cluster's ARN names the account it is in: the role's.
            let id = plan
                .get("accounts")
                .and_then(|a| a.get(&account))
                .and_then(|a| a.get("roleArn"))
                .and_then(Value::as_str)
                .and_then(|arn| arn.split(':').nth(4));
            for field in ["targetClusterArn", "failbackClusterArn"] {
                let arn_account = d.get(field).and_then(Value::as_str).and_then(|a| a.split(':').nth(4));
                if let (Some(id), Some(arn_account)) = (id, arn_account) {
                    if id != arn_account {
                        c.report(
                            &format!("{path}.{field}"),
                            format!("is in account {arn_account}, and account {account}'s role in {id}"),
                        );
                    }
                }
            }
        }
        c.boolean(&path, d, "allowDataLoss", false);
        c.string(&path, d, "instanceClass", false);
        if let Some(sg) = c.string(&path, d, "isolationSecurityGroupId", false) {
            security_group_id(c, &format!("{path}.isolationSecurityGroupId"), sg);
        }
        super::check_parts::check_reprotect(c, &path, d);
        if let Some(fb) = c.string(&path, d, "failbackIdentifier", false) {
            if !is_rds_identifier(fb) {
                c.report(
                    &format!("{path}.failbackIdentifier"),
                    "must be an RDS identifier: 1-63 letters, digits or hyphens, starting with a letter",
                );
            }
        }
    }
}

pub(super) fn security_group_id(c: &mut Checker, path: &str, sg: &str) {
    let hex = sg.strip_prefix("sg-").unwrap_or_default();
    if !(8..=17).contains(&hex.len()) || !hex.chars().all(|ch| ch.is_ascii_hexdigit()) {
        c.report(path, "must be a security group id (sg- and 8 to 17 hex digits)");
    }
}

/// An Aurora cluster ARN in `region` (named `region_field` in the message).
fn cluster_arn(
    c: &mut Checker,
    path: &str,
    d: &Map<String, Value>,
    key: &str,
    required: bool,
    region: Option<&str>,
    region_field: &str,
) {
    let Some(arn) = c.string(path, d, key, required) else {
        return;
    };
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() != 7 || parts[2] != "rds" || parts[5] != "cluster" {
        c.report(
            &format!("{path}.{key}"),
            "must be an Aurora cluster ARN (arn:aws:rds:REGION:ACCOUNT:cluster:NAME)",
        );
    } else if region.is_some_and(|r| r != parts[3]) {
        c.report(&format!("{path}.{key}"), format!("must be a cluster in {region_field}"));
    }
}
