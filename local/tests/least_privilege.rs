//! Each function's role grants exactly the AWS calls its code makes: the calls are read from the
//! source (every `.operation()…send()` chain in the function's crate and in the shared modules
//! it reaches), the grants from template.yaml (the function's own statements and the managed
//! policies it references). Nothing missing (a call AWS would refuse), nothing extra.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_norway::Value;

fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// The six functions: crate folder and logical id in the template.
const FUNCTIONS: [(&str, &str); 6] = [
    ("disaster-detector", "DisasterDetectorFunction"),
    ("dns-failover", "DnsFailoverFunction"),
    ("database-failover", "DatabaseFailoverFunction"),
    ("service-restoration", "ServiceRestorationFunction"),
    ("recovery-validator", "RecoveryValidatorFunction"),
    ("recovery-notifier", "RecoveryNotifierFunction"),
];

/// Where an IAM action is not the operation's own name.
const ACTION_OF: [(&str, &str); 4] = [
    ("head_object", "s3:GetObject"),
    ("list_object_versions", "s3:ListBucketVersions"),
    ("invoke", "lambda:InvokeFunction"),
    ("list_objects_v2", "s3:ListBucket"),
];

/// Grants no `.send()` in the code shows, each with the call that needs it.
const IMPLIED: [(&str, &str); 10] = [
    (
        "kms:GenerateDataKey*",
        "sns:Publish to a topic encrypted with a customer key",
    ),
    ("kms:Decrypt", "sns:Publish to a topic encrypted with a customer key"),
    (
        "s3:GetObjectVersion",
        "s3:GetObject of a pinned plan version (VersionId)",
    ),
    (
        "dynamodb:CreateTableReplica",
        "dynamodb:UpdateTable with ReplicaUpdates Create (reprotect)",
    ),
    (
        "dynamodb:Scan",
        "dynamodb:UpdateTable ReplicaUpdates: the new replica is filled as the caller",
    ),
    ("dynamodb:Query", "as dynamodb:Scan"),
    ("dynamodb:UpdateItem", "as dynamodb:Scan"),
    ("dynamodb:PutItem", "as dynamodb:Scan"),
    ("dynamodb:DeleteItem", "as dynamodb:Scan"),
    ("dynamodb:BatchWriteItem", "as dynamodb:Scan"),
];

/// Calls in a shared module a function links but never makes, each with why: the scan reads
/// modules whole, the role grants what runs.
const NOT_CALLED: [(&str, &str, &str); 16] = [
    (
        "service-restoration",
        "put_metric_data",
        "peaks: the primary's peaks are kept by the readiness check, read here",
    ),
    (
        "recovery-notifier",
        "get_item",
        "table: leases and cooldowns are read by the detector, control rows by the acting steps",
    ),
    (
        "disaster-detector",
        "delete_item",
        "table: a lease is released by the notifier",
    ),
    (
        "disaster-detector",
        "query",
        "table: audit rows and kept results are read by rebound and the steps",
    ),
    (
        "dns-failover",
        "delete_item",
        "table: a lease is released by the notifier",
    ),
    (
        "database-failover",
        "delete_item",
        "table: a lease is released by the notifier",
    ),
    (
        "database-failover",
        "get_health_check",
        "dns: only its record helpers are used, for writer CNAMEs",
    ),
    (
        "service-restoration",
        "delete_item",
        "table: a lease is released by the notifier",
    ),
    (
        "recovery-validator",
        "delete_item",
        "table: a lease is released by the notifier",
    ),
    (
        "recovery-validator",
        "put_parameter",
        "endpoints: it reads writer endpoints, database-failover points them",
    ),
    ("recovery-validator", "put_secret_value", "endpoints: as put_parameter"),
    (
        "recovery-validator",
        "describe_parameters",
        "endpoints: a SecureString's key is read only to write it",
    ),
    (
        "recovery-validator",
        "change_resource_record_sets",
        "endpoints: as put_parameter",
    ),
    ("recovery-validator", "get_change", "endpoints: as put_parameter"),
    (
        "recovery-validator",
        "update_table",
        "global_tables: it reads replicas, database-failover's reprotect adds them",
    ),
    (
        "recovery-validator",
        "update_event_source_mapping",
        "event_streams: it reads mappings, service-restoration moves them",
    ),
];

/// `DescribeDBInstances` → `describe_db_instances`, as the SDK names its operations.
fn snake(pascal: &str) -> String {
    let chars: Vec<char> = pascal.chars().collect();
    let mut out = String::new();
    for (i, c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase() || prev.is_ascii_digit() || (prev.is_ascii_uppercase() && next_lower) {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A source file's code: comments and its `#[cfg(test)]` module left out, and every string
/// literal blanked (a `{` or a `(` in a message is not code).
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = text.split("#[cfg(test)]").next().unwrap_or_default();
    let text = text
        .lines()
        .map(|l| match l.trim_start().starts_with("//") {
            true => "",
            false => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        match (in_string, escaped, c) {
            (true, true, _) => {
                escaped = false;
                out.push(' ');
            }
            (true, false, '\\') => {
                escaped = true;
                out.push(' ');
            }
            (true, false, '"') => {
                in_string = false;
                out.push('"');
            }
            (true, false, _) => out.push(if c == '\n' { '\n' } else { ' ' }),
            (false, _, '"') => {
                in_string = true;
                out.push('"');
            }
            (false, _, _) => out.push(c),
        }
    }
    out
}

/// The paths `prefix` (`rebound_shared::` or `crate::`) names in `text`, each as its first two
/// segments, grouped imports (`{a::X, b::{c, d}}`) included.
fn modules_named(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices(prefix) {
        paths(&text[at + prefix.len()..], "", &mut found);
    }
    found
}

/// The paths at the start of `rest` (one, or a `{...}` group), under `parent`.
fn paths(rest: &str, parent: &str, found: &mut BTreeSet<String>) {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let join = |name: &str| match parent {
        "" => name.to_string(),
        p => format!("{p}::{name}"),
    };
    if let Some(group) = rest.strip_prefix('{') {
        let mut depth = 0;
        let mut item_start = true;
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => break,
                '}' => depth -= 1,
                ',' if depth == 0 => item_start = true,
                c if item_start && depth == 0 && !c.is_whitespace() => {
                    paths(&group[i..], parent, found);
                    item_start = false;
                }
                _ => {}
            }
        }
        return;
    }
    let name = ident(rest);
    if name.is_empty() {
        return;
    }
    let path = join(&name);
    let after = &rest[name.len()..];
    match after.strip_prefix("::") {
        // Two segments are enough to find a file.
        Some(deeper) if !parent.contains("::") && parent.is_empty() => paths(deeper, &path, found),
        _ => {
            found.insert(path);
        }
    }
}

/// The shared crate's files a function reaches: `a` is `a.rs` (with the `a/b.rs` it declares),
/// or `a/mod.rs`, `a::b` is `a/b.rs` with `a/mod.rs`, following `crate::`, `super::` and a folder's own siblings.
fn shared_files(start: &BTreeSet<String>) -> Vec<PathBuf> {
    let shared = root().join("shared/src");
    let files_of = |path: &str| -> Vec<PathBuf> {
        let (first, second) = path.split_once("::").unwrap_or((path, ""));
        let file = shared.join(format!("{first}.rs"));
        if file.is_file() {
            // `a.rs` with its own folder: the modules it declares (`mod b;` is `a/b.rs`).
            let text = code(&file);
            let mut files = vec![file];
            let mut children = Vec::new();
            rust_files(&shared.join(first), &mut children);
            files.extend(children.into_iter().filter(|child| {
                child
                    .file_stem()
                    .is_some_and(|stem| text.contains(&format!("mod {};", stem.to_string_lossy())))
            }));
            return files;
        }
        let dir = shared.join(first);
        let mut files = vec![dir.join("mod.rs")];
        let inner = dir.join(format!("{second}.rs"));
        if inner.is_file() {
            files.push(inner);
        }
        files.into_iter().filter(|f| f.is_file()).collect()
    };
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = start.iter().cloned().collect();
    let mut files = BTreeSet::new();
    while let Some(path) = todo.pop() {
        if !seen.insert(path.clone()) {
            continue;
        }
        for file in files_of(&path) {
            let text = code(&file);
            todo.extend(modules_named(&text, "crate::"));
            // Within a folder: `super::x` and a sibling named `x::`.
            if let Some(dir) = file.parent().filter(|d| *d != shared) {
                let folder = dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let mut siblings = Vec::new();
                rust_files(dir, &mut siblings);
                for sibling in siblings {
                    let stem = sibling
                        .file_stem()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if text.contains(&format!("super::{stem}")) || text.contains(&format!("{stem}::")) {
                        todo.push(format!("{folder}::{stem}"));
                    }
                }
            }
            files.insert(file);
        }
    }
    files.into_iter().collect()
}

/// Every SDK operation a file calls: the last empty-argument call of each chain that ends in
/// `.send()`, at the chain's own level (not a call inside an argument); where the chain is a
/// variable (a request built, then sent), the statement that built it.
fn operations(text: &str) -> BTreeSet<String> {
    let mut ops = BTreeSet::new();
    for (at, _) in text.match_indices(".send()") {
        let window = &text[text[..at].rfind([';', '{']).map_or(0, |p| p + 1)..at];
        let found = last_call(window).or_else(|| {
            let variable = window.rsplit('=').next().unwrap_or_default().trim();
            if variable.is_empty() || !variable.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return None;
            }
            [format!("let mut {variable} ="), format!("let {variable} =")]
                .iter()
                .filter_map(|binding| text[..at].rfind(binding.as_str()))
                .max()
                .and_then(|start| {
                    let statement = &text[start..at];
                    last_call(&statement[..statement.find(';').unwrap_or(statement.len())])
                })
        });
        ops.extend(found);
    }
    ops
}

/// The last `.name()` at the chain's own level of `window`, read backwards from its end.
fn last_call(window: &str) -> Option<String> {
    let bytes = window.as_bytes();
    let mut depth = 0i32;
    let mut i = bytes.len();
    while i > 0 {
        i -= 1;
        match bytes[i] {
            b')' => depth += 1,
            b'(' => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
                if depth == 0 && bytes.get(i + 1) == Some(&b')') {
                    let start = window[..i]
                        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .map_or(0, |p| p + 1);
                    let name = &window[start..i];
                    if window[..start].ends_with('.') && !SKIPPED.contains(&name) {
                        return Some(name.to_string());
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// Calls on a request's way that are not operations.
const SKIPPED: [&str; 4] = ["into_paginator", "customize", "clone", "build"];

/// A function's calls, as the IAM actions they need (`service:snake_op` where the service is
/// not known from the call: the role says it).
fn calls_of(crate_dir: &str) -> BTreeSet<String> {
    let mut files = Vec::new();
    rust_files(&root().join("functions").join(crate_dir).join("src"), &mut files);
    let own: String = files.iter().map(|f| code(f)).collect::<Vec<_>>().join("\n");
    let mut reached = modules_named(&own, "rebound_shared::");
    // A module imported by name (`use rebound_shared::dns;`) and used as `dns::alarms::read`.
    let tops: BTreeSet<String> = reached
        .iter()
        .map(|p| p.split("::").next().unwrap_or_default().to_string())
        .collect();
    for top in tops {
        let inner = modules_named(&own, &format!("{top}::"));
        reached.extend(
            inner
                .into_iter()
                .map(|p| format!("{top}::{}", p.split("::").next().unwrap_or_default())),
        );
    }
    files.extend(shared_files(&reached));
    files.iter().flat_map(|f| operations(&code(f))).collect()
}

fn template() -> Value {
    let text = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml");
    serde_norway::from_str(&text).expect("the template is YAML")
}

/// `!If [cond, a, b]` granted either way: both sides.
fn statements(policy: &Value, resources: &Value, out: &mut Vec<Value>) {
    match policy {
        Value::Tagged(t) if t.tag == "Ref" => {
            let name = t.value.as_str().unwrap_or_default();
            let doc = &resources[name]["Properties"]["PolicyDocument"]["Statement"];
            for s in doc.as_sequence().into_iter().flatten() {
                statements(s, resources, out);
            }
        }
        Value::Tagged(t) if t.tag == "If" => {
            for side in t.value.as_sequence().into_iter().flatten().skip(1) {
                statements(side, resources, out);
            }
        }
        Value::Mapping(m) if m.contains_key("Statement") => {
            for s in policy["Statement"].as_sequence().into_iter().flatten() {
                statements(s, resources, out);
            }
        }
        Value::Mapping(m) if m.contains_key("Action") => out.push(policy.clone()),
        _ => {}
    }
}

/// The actions a function's role allows.
fn granted(logical_id: &str) -> BTreeSet<String> {
    let template = template();
    let resources = &template["Resources"];
    let mut found = Vec::new();
    for policy in resources[logical_id]["Properties"]["Policies"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        statements(policy, resources, &mut found);
    }
    found
        .iter()
        .filter(|s| s["Effect"].as_str() == Some("Allow"))
        .flat_map(|s| match &s["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Sequence(list) => list.iter().filter_map(|a| a.as_str().map(String::from)).collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// What each function calls that its role does not grant, and what its role grants that it
/// never calls.
fn compare() -> BTreeMap<&'static str, (Vec<String>, Vec<String>)> {
    let mut out = BTreeMap::new();
    for (dir, id) in FUNCTIONS {
        let mut calls = calls_of(dir);
        for (f, op, _) in NOT_CALLED {
            if f == dir {
                assert!(calls.remove(op), "{dir} no longer links {op}: drop it from NOT_CALLED");
            }
        }
        let grants = granted(id);
        let needed: BTreeSet<String> = calls
            .iter()
            .map(|op| {
                ACTION_OF
                    .iter()
                    .find(|(o, _)| o == op)
                    .map_or(op.clone(), |(_, action)| action.to_string())
            })
            .collect();
        let grant_of = |action: &str| -> Option<String> {
            let (service, name) = action.split_once(':')?;
            Some(format!("{service}:{}", snake(name)))
        };
        let missing: Vec<String> = needed
            .iter()
            .filter(|need| {
                !grants
                    .iter()
                    .any(|g| g == *need || grant_of(g).is_some_and(|s| s.ends_with(&format!(":{need}"))))
            })
            .cloned()
            .collect();
        let extra: Vec<String> = grants
            .iter()
            .filter(|g| !IMPLIED.iter().any(|(i, _)| i == g))
            .filter(|g| {
                let snake_name = grant_of(g).and_then(|s| s.split_once(':').map(|(_, n)| n.to_string()));
                !needed.contains(*g) && !snake_name.is_some_and(|n| needed.contains(&n))
            })
            .cloned()
            .collect();
        out.insert(dir, (missing, extra));
    }
    out
}

#[test]
fn the_sdks_names_are_derived_as_the_sdk_derives_them() {
    assert_eq!(snake("DescribeDBInstances"), "describe_db_instances");
    assert_eq!(
        snake("ModifyDBClusterParameterGroup"),
        "modify_db_cluster_parameter_group"
    );
    assert_eq!(snake("GetMetricData"), "get_metric_data");
    assert_eq!(snake("UpdateRoutingControlStates"), "update_routing_control_states");
    let text = "let out = self\n    .rds()\n    .describe_db_instances()\n    .db_instance_identifier(id)\n    .send()\n    .await;";
    assert_eq!(operations(text), BTreeSet::from(["describe_db_instances".to_string()]));
    assert_eq!(
        modules_named(
            "use rebound_shared::{dns::{records, pace}, endpoints::Current};",
            "rebound_shared::"
        ),
        BTreeSet::from(["dns::pace", "dns::records", "endpoints::Current"].map(String::from))
    );
}

#[test]
fn every_role_grants_exactly_what_its_function_calls() {
    let compared = compare();
    let wrong: Vec<String> = compared
        .iter()
        .filter(|(_, (missing, extra))| !missing.is_empty() || !extra.is_empty())
        .map(|(f, (missing, extra))| format!("{f}: calls without a grant {missing:?}; grants never called {extra:?}"))
        .collect();
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
    // The scan sees the calls at all: each function makes some.
    for (dir, _) in FUNCTIONS {
        assert!(!calls_of(dir).is_empty(), "{dir}");
    }
}

/// What the issue of trust asks of the template beyond each role's actions: prefixes end in a
/// delimiter (`orders*` would match `orders-payments-admin`), no grant spans every region, the
/// record changes are held to the plan's names, the steps to their results' partition, the rules
/// to the stack's account, the reports to Object Lock, the log group to no execution data.
#[test]
fn the_template_narrows_what_actions_alone_cannot() {
    let text = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml");
    let template = template();
    for (name, parameter) in template["Parameters"].as_mapping().expect("parameters") {
        let name = name.as_str().unwrap_or_default();
        if name.ends_with("Prefix") {
            let default = parameter["Default"].as_str().unwrap_or_default();
            let pattern = parameter["AllowedPattern"].as_str().unwrap_or_default();
            assert!(default.ends_with(['-', '_', '.', '/']), "{name} default {default}");
            assert!(pattern.ends_with(']'), "{name} must end in a delimiter: {pattern}");
        }
    }
    for line in text.lines() {
        for service in ["rds", "lambda", "ssm", "secretsmanager", "dynamodb", "cloudwatch"] {
            assert!(
                !line.contains(&format!(":{service}:*:")),
                "a grant in every region: {line}"
            );
        }
    }
    assert_eq!(
        text.matches("route53:ChangeResourceRecordSetsNormalizedRecordNames")
            .count(),
        text.matches("Action: route53:ChangeResourceRecordSets\n").count(),
        "every ChangeResourceRecordSets grant names its records"
    );
    assert!(text.contains("dynamodb:LeadingKeys: [!Sub \"results#${ApplicationName}\"]"));
    assert_eq!(
        text.matches("dynamodb:LeadingKeys").count(),
        4,
        "steps' results, steps' control rows, detector, notifier"
    );
    // The steps only read what operators asked: the control rows are written by operators.
    let control = &template["Resources"]["StepControlPolicy"]["Properties"]["PolicyDocument"]["Statement"][0];
    assert_eq!(control["Action"].as_str(), Some("dynamodb:GetItem"));
    assert!(text.contains("dynamodb:LeadingKeys: [!Sub \"control#${ApplicationName}\"]"));
    let resources = &template["Resources"];
    let events = &resources["RecoveryStateMachine"]["Properties"]["Events"];
    for rule in ["AlarmToAlarm", "PrimaryRegionHealthIssue"] {
        assert!(
            !events[rule]["Properties"]["Pattern"]["account"].is_null(),
            "{rule} pins the account"
        );
    }
    let logging = &resources["RecoveryStateMachine"]["Properties"]["Logging"];
    assert_eq!(logging["IncludeExecutionData"], Value::Bool(false));
    let bucket = &resources["ReportBucket"]["Properties"];
    assert_eq!(bucket["ObjectLockEnabled"], Value::Bool(true));
    assert_eq!(
        bucket["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Mode"].as_str(),
        Some("GOVERNANCE")
    );
    assert!(text.contains("s3:if-none-match"), "writes only where the key is free");
    assert!(text.contains("Sid: OnlyTheStackPublishes") && text.contains("sns:Protocol: http"));
    let detector = &resources["DisasterDetectorFunction"]["Properties"]["Environment"]["Variables"];
    assert!(!detector["ALLOW_START_PLAN"].is_null() && !detector["STACK_ACCOUNT"].is_null());
    assert_eq!(
        template["Parameters"]["AllowStartPlan"]["Default"].as_str(),
        Some("false")
    );
}

/// The ARNs template.yaml grants that name region parameter `param`, with the region left out.
fn arns_in(template: &str, param: &str) -> BTreeSet<String> {
    let marker = format!("${{{param}}}");
    template
        .lines()
        .filter(|l| l.contains(&marker) && l.contains("arn:"))
        .filter_map(|l| {
            l.find("arn:")
                .map(|at| l[at..].trim_end_matches(['"', ']', ' ']).to_string())
        })
        .map(|arn| {
            let arn = arn.split('"').next().unwrap_or_default();
            arn.replace(&marker, "REGION")
        })
        .collect()
}

#[test]
fn what_the_recovery_region_grants_the_other_recovery_regions_grant_when_given() {
    let text = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml");
    let first = arns_in(&text, "RecoveryRegion");
    assert!(first.len() > 20, "{first:?}");
    for (param, condition) in [
        ("SecondRecoveryRegion", "HasSecondRecoveryRegion"),
        ("ThirdRecoveryRegion", "HasThirdRecoveryRegion"),
    ] {
        assert_eq!(arns_in(&text, param), first, "{param}");
        // Each is granted only when the stack names that region.
        let marker = format!("${{{param}}}");
        let lines: Vec<&str> = text.lines().collect();
        for (at, line) in lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.contains(&marker) && l.contains("arn:"))
        {
            let guarded = line.contains(&format!("!If [{condition},"))
                || lines[at.saturating_sub(3)..at]
                    .iter()
                    .any(|l| l.trim() == format!("- {condition}"));
            assert!(guarded, "line {}: {line}", at + 1);
        }
    }
}
