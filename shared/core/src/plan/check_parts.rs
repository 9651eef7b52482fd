//! The rules for what sits beside the databases: `writerEndpoints` (each names a database of the
//! plan and a place AWS accepts: SSM's and Secrets Manager's name rules, a DNS name no `dns`
//! record also moves), `globalTables` (DynamoDB's name rules), `eventSourceMappings` and
//! `customActions`.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::checker::{is_domain_name, Checker};

/// The longest SSM parameter name and Secrets Manager secret id (a name or an ARN).
const MAX_NAME: usize = 2048;
/// SSM allows at most 15 levels in a parameter's path.
const MAX_SSM_DEPTH: usize = 15;
/// Route 53's largest TTL.
const MAX_TTL: u64 = 2_147_483_647;

const KIND_FIELDS: [(&str, &[&str]); 3] = [
    ("ssmParameter", &["kind", "database", "name", "region", "account"]),
    (
        "secret",
        &["kind", "database", "secretId", "field", "region", "account"],
    ),
    ("cname", &["kind", "database", "hostedZoneId", "name", "ttl", "account"]),
];

pub(super) fn check_writer_endpoints(c: &mut Checker, plan: &Map<String, Value>) {
    // A database without an identifier is reported where it is: no endpoint is blamed for it.
    let databases: Option<BTreeSet<&str>> = plan
        .get("databases")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|db| db.get("identifier").and_then(Value::as_str))
        .collect();
    let moved: BTreeSet<String> = plan
        .get("dns")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("name").and_then(Value::as_str))
        .map(dns_key)
        .collect();
    let mut seen = BTreeSet::new();
    for (path, endpoint) in c.array("", plan, "writerEndpoints", false) {
        let kind = endpoint.get("kind").and_then(Value::as_str);
        let fields = KIND_FIELDS.iter().find(|(k, _)| Some(*k) == kind).map_or(
            &[
                "kind",
                "database",
                "name",
                "secretId",
                "field",
                "region",
                "hostedZoneId",
                "ttl",
                "account",
            ][..],
            |(_, f)| *f,
        );
        let Some(e) = c.object(&path, endpoint, fields) else {
            continue;
        };
        let kinds: Vec<&str> = KIND_FIELDS.iter().map(|(k, _)| *k).collect();
        let kind = c.one_of(&path, e, "kind", true, &kinds);
        if let Some(db) = c.string(&path, e, "database", true) {
            if databases.as_ref().is_some_and(|known| !known.contains(db)) {
                c.report(
                    &format!("{path}.database"),
                    format!("must be the identifier of one of the plan's databases, got '{db}'"),
                );
            }
        }
        c.region(&path, e, "region", false);
        let in_account = match kind {
            Some("ssmParameter" | "secret") => super::accounts::account_ref(c, &path, e, plan),
            _ => None,
        };
        let key = match kind {
            Some("ssmParameter") => c.string(&path, e, "name", true).map(|name| {
                if let Some(problem) = ssm_name_problem(name) {
                    c.report(&format!("{path}.name"), problem);
                }
                format!("ssm:{name}")
            }),
            Some("secret") => {
                let field = c.string(&path, e, "field", false).unwrap_or("host").to_string();
                if !super::endpoints::HOST_FIELDS.contains(&field.as_str()) {
                    c.report(
                        &format!("{path}.field"),
                        format!(
                            "must name the field that holds the writer's host, one of {}, got '{field}': \
                             a recovery reads and rewrites that field only, and no other field of a secret",
                            super::endpoints::HOST_FIELDS.join(", ")
                        ),
                    );
                }
                c.string(&path, e, "secretId", true).map(|id| {
                    // A secret's ARN names the account it is in: with `account`, the role's.
                    let role_account = in_account.as_ref().and_then(|name| {
                        plan.get("accounts")?
                            .get(name)?
                            .get("roleArn")?
                            .as_str()?
                            .split(':')
                            .nth(4)
                    });
                    let arn_account = id.strip_prefix("arn:").and_then(|_| id.split(':').nth(4));
                    if let (Some(role), Some(arn)) = (role_account, arn_account) {
                        if role != arn {
                            c.report(
                                &format!("{path}.secretId"),
                                format!(
                                    "is in account {arn}, and the role of account {} in {role}",
                                    in_account.as_deref().unwrap_or_default()
                                ),
                            );
                        }
                    }
                    if id.len() > MAX_NAME
                        || !id
                            .chars()
                            .all(|ch| ch.is_ascii_alphanumeric() || "/_+=.@-:".contains(ch))
                    {
                        c.report(
                            &format!("{path}.secretId"),
                            "must be a secret name (up to 2048 letters, digits and /_+=.@-) or ARN",
                        );
                    }
                    format!("secret:{id}#{field}")
                })
            }
            Some("cname") => {
                let zone = c.string(&path, e, "hostedZoneId", true);
                let account = super::accounts::account_ref(c, &path, e, plan);
                let account = account.as_deref();
                // The zone's records name its account too: the two must agree.
                let records = plan.get("dns").and_then(Value::as_array).into_iter().flatten();
                if let Some(record) = records
                    .filter_map(Value::as_object)
                    .find(|r| zone.is_some() && r.get("hostedZoneId").and_then(Value::as_str) == zone)
                {
                    let theirs = record.get("account").and_then(Value::as_str);
                    if theirs != account {
                        c.report(
                            &format!("{path}.account"),
                            format!(
                                "the zone's records are in {}: a zone is in one account",
                                theirs.unwrap_or("Rebound's own account")
                            ),
                        );
                    }
                }
                if let Some(ttl) = c.integer(&path, e, "ttl", true, 0, ">= 0") {
                    if ttl > MAX_TTL {
                        c.report(&format!("{path}.ttl"), format!("must be at most {MAX_TTL}"));
                    }
                }
                c.string(&path, e, "name", true).map(|name| {
                    if !is_domain_name(name) {
                        c.report(&format!("{path}.name"), "must be a DNS name like db.example.com.");
                    } else if moved.contains(&dns_key(name)) {
                        c.report(
                            &format!("{path}.name"),
                            format!("{name} is also a dns record of the plan: one of the two would undo the other"),
                        );
                    }
                    format!("cname:{}", dns_key(name))
                })
            }
            _ => None,
        };
        if let Some(key) = key {
            if !seen.insert(key) {
                c.report(&path, "duplicate writer endpoint: another entry already sets it");
            }
        }
    }
}

fn dns_key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// SSM's rules for a parameter name (PutParameter, "Requirements and constraints for parameter
/// names").
fn ssm_name_problem(name: &str) -> Option<&'static str> {
    let bare = name.trim_start_matches('/');
    if name.len() > MAX_NAME || !name.chars().all(|ch| ch.is_ascii_alphanumeric() || "_.-/".contains(ch)) {
        return Some("must be up to 2048 letters, digits and _.-/");
    }
    if name.contains('/') && !name.starts_with('/') {
        return Some("a hierarchical name must start with /");
    }
    if name.split('/').filter(|l| !l.is_empty()).count() > MAX_SSM_DEPTH {
        return Some("may have at most 15 levels");
    }
    let lower = bare.to_ascii_lowercase();
    if lower.starts_with("aws") || lower.starts_with("ssm") {
        return Some("may not begin with aws or ssm");
    }
    None
}

/// DynamoDB's table name rule: 3-255 letters, digits, `_`, `.`, `-`.
fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len()) && name.chars().all(|ch| ch.is_ascii_alphanumeric() || "_.-".contains(ch))
}

pub(super) fn check_global_tables(c: &mut Checker, plan: &Map<String, Value>) {
    let mut seen = BTreeSet::new();
    for (path, table) in c.array("", plan, "globalTables", false) {
        let Some(t) = c.object(&path, table, &["tableName", "allowDataLoss", "account"]) else {
            continue;
        };
        c.boolean(&path, t, "allowDataLoss", false);
        super::accounts::account_ref(c, &path, t, plan);
        if let Some(name) = c.string(&path, t, "tableName", true) {
            if !is_table_name(name) {
                c.report(
                    &format!("{path}.tableName"),
                    "must be a DynamoDB table name: 3-255 letters, digits, '_', '.' or '-'",
                );
            } else if !seen.insert(name.to_string()) {
                c.report(&format!("{path}.tableName"), format!("duplicate table '{name}'"));
            }
        }
    }
}

/// ElastiCache's rule for a replication group's name (ElastiCache API Reference,
/// CreateReplicationGroup, ReplicationGroupId): 1-40 letters, digits or hyphens, beginning with
/// a letter, never two hyphens in a row nor one at the end.
fn is_replication_group_id(id: &str) -> bool {
    (1..=40).contains(&id.len())
        && id.starts_with(|ch: char| ch.is_ascii_alphabetic())
        && id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-')
        && !id.contains("--")
        && !id.ends_with('-')
}

/// A name ElastiCache or MemoryDB gives a resource spanning regions: the five-letter prefix of
/// the region it was created in, '-', and the suffix it was created with.
fn is_prefixed(name: &str) -> bool {
    name.split_once('-').is_some_and(|(prefix, suffix)| {
        prefix.len() == 5 && prefix.chars().all(|ch| ch.is_ascii_lowercase()) && is_replication_group_id(suffix)
    })
}

pub(super) fn check_global_datastores(c: &mut Checker, plan: &Map<String, Value>) {
    const FIELDS: &[&str] = &[
        "globalReplicationGroupId",
        "primaryReplicationGroupId",
        "recoveryReplicationGroupId",
        "allowDataLoss",
        "account",
    ];
    let mut seen = BTreeSet::new();
    for (path, datastore) in c.array("", plan, "globalDatastores", false) {
        let Some(d) = c.object(&path, datastore, FIELDS) else {
            continue;
        };
        c.boolean(&path, d, "allowDataLoss", false);
        super::accounts::account_ref(c, &path, d, plan);
        if let Some(id) = c.string(&path, d, "globalReplicationGroupId", true) {
            if !is_prefixed(id) {
                c.report(
                    &format!("{path}.globalReplicationGroupId"),
                    "must be a global datastore's name as ElastiCache gives it: its region's five-letter prefix, '-', and the suffix (ldgnf-orders-sessions)",
                );
            } else if !seen.insert(id.to_string()) {
                c.report(
                    &format!("{path}.globalReplicationGroupId"),
                    format!("duplicate global datastore '{id}'"),
                );
            }
        }
        for field in ["primaryReplicationGroupId", "recoveryReplicationGroupId"] {
            if let Some(id) = c.string(&path, d, field, true) {
                if !is_replication_group_id(id) {
                    c.report(
                        &format!("{path}.{field}"),
                        "must be a replication group's name: 1-40 letters, digits or hyphens, beginning with a letter, no '--', not ending with '-'",
                    );
                }
            }
        }
    }
}

/// MemoryDB's rule for a cluster's name (MemoryDB API Reference, CreateCluster, ClusterName) is
/// ElastiCache's for a replication group's: 1-40 letters, digits or hyphens, beginning with a
/// letter, never two hyphens in a row nor one at the end.
pub(super) fn check_multi_region_clusters(c: &mut Checker, plan: &Map<String, Value>) {
    const FIELDS: &[&str] = &[
        "multiRegionClusterName",
        "primaryClusterName",
        "recoveryClusterName",
        "allowDataLoss",
        "account",
    ];
    let mut seen = BTreeSet::new();
    for (path, cluster) in c.array("", plan, "multiRegionClusters", false) {
        let Some(m) = c.object(&path, cluster, FIELDS) else {
            continue;
        };
        c.boolean(&path, m, "allowDataLoss", false);
        super::accounts::account_ref(c, &path, m, plan);
        if let Some(name) = c.string(&path, m, "multiRegionClusterName", true) {
            if !is_prefixed(name) {
                c.report(
                    &format!("{path}.multiRegionClusterName"),
                    "must be a multi-Region cluster's name as MemoryDB gives it: its region's five-letter prefix, '-', and the suffix (ldgnf-orders)",
                );
            } else if !seen.insert(name.to_string()) {
                c.report(
                    &format!("{path}.multiRegionClusterName"),
                    format!("duplicate multi-Region cluster '{name}'"),
                );
            }
        }
        for field in ["primaryClusterName", "recoveryClusterName"] {
            if let Some(name) = c.string(&path, m, field, true) {
                if !is_replication_group_id(name) {
                    c.report(
                        &format!("{path}.{field}"),
                        "must be a MemoryDB cluster's name: 1-40 letters, digits or hyphens, beginning with a letter, no '--', not ending with '-'",
                    );
                }
            }
        }
    }
}

fn is_uuid(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, ch)| {
            if [8, 13, 18, 23].contains(&i) {
                ch == '-'
            } else {
                ch.is_ascii_hexdigit()
            }
        })
}

pub(super) fn check_event_source_mappings(c: &mut Checker, plan: &Map<String, Value>) {
    let mut seen = BTreeSet::new();
    for (path, mapping) in c.array("", plan, "eventSourceMappings", false) {
        let Some(m) = c.object(
            &path,
            mapping,
            &["primaryUuid", "recoveryUuid", "needsWriter", "account"],
        ) else {
            continue;
        };
        super::accounts::account_ref(c, &path, m, plan);
        c.boolean(&path, m, "needsWriter", false);
        let mut any = false;
        for key in ["primaryUuid", "recoveryUuid"] {
            if let Some(id) = c.string(&path, m, key, false) {
                any = true;
                if !is_uuid(id) {
                    c.report(
                        &format!("{path}.{key}"),
                        "must be an event source mapping UUID (aws lambda list-event-source-mappings)",
                    );
                } else if !seen.insert(id.to_ascii_lowercase()) {
                    c.report(&format!("{path}.{key}"), format!("mapping {id} is named twice"));
                }
            }
        }
        if !any && m.get("primaryUuid").is_none() && m.get("recoveryUuid").is_none() {
            c.report(&path, "needs primaryUuid, recoveryUuid or both");
        }
    }
}

/// A Lambda function ARN (`arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`).
fn is_function_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    (7..=8).contains(&parts.len())
        && parts[0] == "arn"
        && parts[2] == "lambda"
        && super::checker::is_region(parts[3])
        && parts[4].len() == 12
        && parts[4].chars().all(|ch| ch.is_ascii_digit())
        && parts[5] == "function"
        && !parts[6].is_empty()
        && parts[6].len() <= 64
        && parts[6]
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
}

pub(super) fn check_custom_actions(c: &mut Checker, plan: &Map<String, Value>) {
    let mut seen = BTreeSet::new();
    for (path, action) in c.array("", plan, "customActions", false) {
        let Some(a) = c.object(
            &path,
            action,
            &["name", "at", "functionArn", "timeoutSeconds", "stopOnFailure"],
        ) else {
            continue;
        };
        if let Some(name) = c.string(&path, a, "name", true) {
            if name.len() > 64
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
            {
                c.report(&format!("{path}.name"), "must be 1-64 letters, digits, '-' or '_'");
            } else if !seen.insert(name.to_string()) {
                c.report(&format!("{path}.name"), format!("duplicate action '{name}'"));
            }
        }
        c.one_of(
            &path,
            a,
            "at",
            true,
            &["beforeFailover", "afterDatabases", "afterServices", "beforeValidation"],
        );
        if let Some(arn) = c.string(&path, a, "functionArn", true) {
            if !is_function_arn(arn) {
                c.report(
                    &format!("{path}.functionArn"),
                    "must be a Lambda function ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME)",
                );
            }
        }
        if let Some(t) = c.integer(&path, a, "timeoutSeconds", false, 1, "> 0") {
            if t > super::MAX_ACTION_SECONDS {
                c.report(
                    &format!("{path}.timeoutSeconds"),
                    "must be at most 900 (a Lambda function runs at most 15 minutes)",
                );
            }
        }
        c.boolean(&path, a, "stopOnFailure", false);
    }
}

/// A database's `reprotect`: what the failback replica (or Aurora cluster) created in the
/// primary region gets.
pub(super) fn check_reprotect(c: &mut Checker, path: &str, d: &Map<String, Value>) {
    let fields = [
        "instanceClass",
        "parameterGroupName",
        "subnetGroupName",
        "securityGroupIds",
        "kmsKeyId",
    ];
    let Some(r) = c.child_object(path, d, "reprotect", false, &fields) else {
        return;
    };
    let at = format!("{path}.reprotect");
    for key in ["instanceClass", "parameterGroupName", "subnetGroupName", "kmsKeyId"] {
        c.string(&at, r, key, false);
    }
    for (sg_path, sg) in c.array(&at, r, "securityGroupIds", false) {
        match sg.as_str() {
            Some(sg) => super::check_databases::security_group_id(c, &sg_path, sg),
            None => c.report(&sg_path, "must be a security group id (sg- and 8 to 17 hex digits)"),
        }
    }
    let (target, what) = match d.get("kind").and_then(Value::as_str) {
        Some("auroraGlobal") => ("failbackClusterArn", "the cluster"),
        _ => ("failbackIdentifier", "the replica"),
    };
    if d.get(target).is_none_or(Value::is_null) {
        c.report(
            &at,
            format!("needs {target}: {what} reprotect builds in the primary region"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::ssm_name_problem;

    #[test]
    fn ssm_names_follow_aws_rules() {
        assert_eq!(ssm_name_problem("/orders/db/host"), None);
        assert_eq!(ssm_name_problem("orders-db-host"), None);
        assert!(ssm_name_problem("orders/db").is_some());
        assert!(ssm_name_problem("/aws/reserved").is_some());
        assert!(ssm_name_problem("/orders/db host").is_some());
        assert!(ssm_name_problem(&"/a".repeat(16)).is_some());
    }
}
