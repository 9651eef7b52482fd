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
