//! The `rebound` command's contract: exit codes, stdout for results, stderr for progress.

use std::process::Command;

use serde_json::{json, Value};

fn rebound(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(args)
        .output()
        .expect("rebound runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write(dir: &std::path::Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).expect("write");
    path.display().to_string()
}

#[test]
fn validate_exits_0_for_the_example_and_2_with_every_problem() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/plan.json");
    let (code, out, _) = rebound(&["validate", example]);
    assert_eq!(code, 0, "{out}");
    let dir = tempfile::tempdir().expect("dir");
    let bad = write(
        dir.path(),
        "bad.json",
        &json!({"application": "orders", "primaryRegion": "us-east-1", "recoveryRegion": "us-east-1"}),
    );
    let (code, out, _) = rebound(&["validate", &bad]);
    assert_eq!(code, 2);
    assert!(out.contains("recoveryRegion: must differ from primaryRegion"), "{out}");
    assert!(out.contains("notification: required"), "{out}");
}

#[test]
fn run_prints_the_output_on_stdout_and_exits_by_outcome() {
    let dir = tempfile::tempdir().expect("dir");
    let ok = write(
        dir.path(),
        "ok.json",
        &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.r", "End": true}}}),
    );
    let (code, out, err) = rebound(&["run", "--definition", &ok, "--input", "{\"a\":1}"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).expect("stdout is the output JSON"),
        json!({"a": 1, "r": {"x": 1}})
    );
    assert!(err.contains("A "), "transitions go to stderr: {err}");

    let failing = write(
        dir.path(),
        "fail.json",
        &json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Rebound.StepFailed", "Cause": "probe failed"}}}),
    );
    let (code, out, err) = rebound(&["run", "--definition", &failing, "--input", "{}"]);
    assert_eq!(code, 1);
    assert_eq!(
        serde_json::from_str::<Value>(&out).expect("json"),
        json!({"Error": "Rebound.StepFailed", "Cause": "probe failed"})
    );
    assert!(err.contains("Cause: probe failed"), "{err}");

    let dangling = write(
        dir.path(),
        "dangling.json",
        &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}),
    );
    assert_eq!(rebound(&["run", "--definition", &dangling, "--input", "{}"]).0, 2);
    assert_eq!(
        rebound(&["run", "--definition", "/no/such/file.json", "--input", "{}"]).0,
        2
    );
    assert_eq!(rebound(&["run", "--definition", &ok, "--input", "{not json"]).0, 2);
}

#[test]
fn run_says_once_which_region_it_uses_and_keeps_the_sdks_search_behind_vv() {
    let dir = tempfile::tempdir().expect("dir");
    let ok = write(
        dir.path(),
        "ok.json",
        &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}),
    );
    let none = dir.path().join("none").display().to_string();
    let run = |env: &[(&str, &str)], flags: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rebound"));
        command
            .args(flags)
            .args(["run", "--definition", &ok, "--input", "{}"])
            .env_remove("AWS_REGION")
            .env_remove("AWS_DEFAULT_REGION")
            .env_remove("AWS_PROFILE")
            .env_remove("RUST_LOG")
            .env("AWS_CONFIG_FILE", &none)
            .env("AWS_SHARED_CREDENTIALS_FILE", &none)
            // Instance metadata that does not answer, at once: a closed loopback port.
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9");
        for (key, value) in env {
            command.env(key, value);
        }
        let out = command.output().expect("rebound runs");
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    // No region anywhere: said once, and none of the SDK's search.
    let (code, err) = run(&[], &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(err.matches("rebound: no region configured").count(), 1, "{err}");
    assert!(!err.contains("IMDS") && !err.contains("failed to load region"), "{err}");
    assert!(!err.contains("WARN"), "no SDK warning without -vv: {err}");

    let (_, err) = run(&[("AWS_REGION", "eu-west-1")], &[]);
    assert_eq!(err.matches("rebound: region").count(), 1, "{err}");
    assert!(err.contains("rebound: region eu-west-1 (from AWS_REGION)"), "{err}");

    let profile = dir.path().join("config");
    std::fs::write(&profile, "[default]\nregion = ap-southeast-2\n").expect("profile");
    let (_, err) = run(&[("AWS_CONFIG_FILE", &profile.display().to_string())], &[]);
    assert!(
        err.contains("rebound: region ap-southeast-2 (from profile default)"),
        "{err}"
    );

    // -vv: the SDK's own account of the search.
    let (code, err) = run(&[], &["-vv"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("failed to load region from IMDS"), "{err}");
}

/// The README's first command on a machine whose PATH starts with a shell `moto_server` (what
/// pyenv or asdf put there): the drill finds the project's own Python and is verified.
#[test]
fn the_drill_ignores_a_shell_moto_server_first_on_path() {
    let dir = tempfile::tempdir().expect("dir");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("dir");
    let shim = bin.join("moto_server");
    std::fs::write(
        &shim,
        "#!/usr/bin/env bash\necho 'this shim must never run' >&2\nexit 3\n",
    )
    .expect("write");
    std::fs::set_permissions(&shim, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    let path = std::env::join_paths(
        std::iter::once(bin.clone()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("PATH");
    let out = Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(["drill", "--report-dir"])
        .arg(dir.path().join("reports"))
        .env("PATH", path)
        .env_remove("MOTO_SERVER")
        .env_remove("REBOUND_PYTHON")
        .output()
        .expect("rebound runs");
    let err = String::from_utf8_lossy(&out.stderr);
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{err}\n{said}");
    assert!(said.contains("RECOVERY VERIFIED"), "{said}");
    assert!(!err.contains("this shim must never run"), "{err}");
}

/// Two validation rounds against an application that is not there: each failing round is one
/// line on stderr, as it happens, naming what failed; JSON lines with `--log-format json`.
#[test]
fn run_prints_each_failing_validation_round_on_stderr() {
    let moto = rebound_moto::MotoServer::start().unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().expect("dir");
    let task = |action: &str, next: Value| {
        let mut state = json!({"Type": "Task", "Resource": "${RecoveryValidatorFunctionArn}",
            "Parameters": {"action": action, "context.$": "$"}, "ResultPath": "$.results.validation"});
        state
            .as_object_mut()
            .expect("object")
            .extend(next.as_object().cloned().unwrap_or_default());
        state
    };
    let definition = write(
        dir.path(),
        "validate.json",
        &json!({"StartAt": "Validate", "States": {
            "Validate": task("start", json!({"Next": "ProbeAgain"})),
            "ProbeAgain": task("status", json!({"End": true})),
        }}),
    );
    let mut context = rebound_moto::event("recovery-validator.json")["context"].clone();
    context["plan"]["validation"]["probes"][0]["url"] = json!("http://127.0.0.1:1/health");
    let input = write(dir.path(), "context.json", &context);
    for format in ["text", "json"] {
        let out = Command::new(env!("CARGO_BIN_EXE_rebound"))
            .args([
                "--log-format",
                format,
                "run",
                "--definition",
                &definition,
                "--input",
                &input,
            ])
            .args(["--recovery-region", "us-west-2", "--time-scale", "0"])
            .env("AWS_ENDPOINT_URL", moto.endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("RECOVERY_TABLE")
            .env_remove("RUST_LOG")
            .output()
            .expect("rebound runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        let rounds: Vec<&str> = err.lines().filter(|l| l.contains("validation round failed")).collect();
        assert_eq!(rounds.len(), 2, "one line per failing round: {err}");
        for line in &rounds {
            assert!(
                line.contains("http://127.0.0.1:1/health"),
                "names the failing probe: {line}"
            );
            assert!(
                line.contains("api.orders.example.com"),
                "names the failing record: {line}"
            );
            if format == "json" {
                let parsed: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
                assert_eq!(parsed["level"], "WARN", "{line}");
            } else {
                assert!(line.contains("WARN"), "{line}");
            }
        }
        assert!(
            err.contains("no recovery table") && err.contains("no lease"),
            "a run without a table says so: {err}"
        );
    }
}

#[test]
fn validate_audit_lists_what_the_failover_path_depends_on() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/plan.json");
    let (code, out, err) = rebound(&["validate", "--audit", example]);
    assert_eq!(code, 0, "{err}");
    let line = |op: &str| {
        out.lines()
            .find(|l| l.contains(op))
            .unwrap_or_else(|| panic!("{op}: {out}"))
            .to_string()
    };
    let change = line("route53:ChangeResourceRecordSets");
    assert!(
        change.contains("us-east-1") && change.contains("control") && change.contains("primary region (acknowledged)"),
        "{change}"
    );
    let promote = line("rds:PromoteReadReplica");
    assert!(
        promote.contains("us-west-2") && !promote.contains("primary"),
        "{promote}"
    );
    let fence = line("rds:ModifyDBParameterGroup");
    assert!(fence.contains(" no "), "the fence is best effort: {fence}");
    assert!(
        out.contains("depend on the primary region us-east-1 (0 not acknowledged)"),
        "{out}"
    );
}
