//! `rebound run` as a process against a staged application in moto.

use std::process::{Child, Command, Stdio};

use rebound::drill::{Stage, PLAN_LOCATION, TABLE};

/// Starts `rebound run` of the recovery state machine with `input`, against the stage's moto,
/// with the drill's plan and recovery table; `extra` arguments follow.
pub fn run(stage: &Stage, input: &str, extra: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_rebound"))
        .args(["run", "--definition"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../statemachine/recovery.asl.json"
        ))
        .args(["--input", input, "--time-scale", "0", "--table", TABLE])
        .args(["--plan-location", PLAN_LOCATION, "--recovery-region", "us-west-2"])
        .args(extra)
        .env("AWS_ENDPOINT_URL", stage.moto.endpoint())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_PROFILE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rebound starts")
}
