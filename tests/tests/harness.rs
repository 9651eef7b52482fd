//! The harness itself: moto starts on a free port, the Rust SDK talks to it, state is private.

use std::path::{Path, PathBuf};

use rebound_tests::{choose_python, moto_python, HarnessError, MotoServer, MOTO_VERSION};

fn moto() -> MotoServer {
    MotoServer::start().unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn a_route53_zone_created_through_the_sdk_reads_back() {
    let moto = moto();
    let route53 = aws_sdk_route53::Client::new(&moto.config("us-east-1"));
    let created = route53
        .create_hosted_zone()
        .name("orders.example.com")
        .caller_reference("harness-test")
        .send()
        .await
        .expect("CreateHostedZone");
    let id = created.hosted_zone().map(|z| z.id().to_string()).expect("zone id");
    let zone = route53.get_hosted_zone().id(&id).send().await.expect("GetHostedZone");
    assert_eq!(zone.hosted_zone().map(|z| z.name()), Some("orders.example.com."));
    let listed = route53.list_hosted_zones().send().await.expect("ListHostedZones");
    assert_eq!(listed.hosted_zones().len(), 1);
}

#[tokio::test]
async fn servers_do_not_share_state_and_reset_clears_it() {
    let first = moto();
    let second = moto();
    assert_ne!(first.port(), second.port());
    let sns = aws_sdk_sns::Client::new(&first.config("us-west-2"));
    sns.create_topic()
        .name("rebound-orders")
        .send()
        .await
        .expect("CreateTopic");
    let in_first = sns.list_topics().send().await.expect("ListTopics").topics().len();
    let other = aws_sdk_sns::Client::new(&second.config("us-west-2"));
    let in_second = other.list_topics().send().await.expect("ListTopics").topics().len();
    assert_eq!((in_first, in_second), (1, 0));
    first.reset().expect("reset");
    assert_eq!(sns.list_topics().send().await.expect("ListTopics").topics().len(), 0);
}

#[tokio::test]
async fn each_server_is_a_process_of_its_own_with_its_own_ids_and_stops_when_dropped() {
    let (first, second) = (moto(), moto());
    assert_ne!(first.pid(), second.pid());
    let zone = |moto: &MotoServer| {
        let route53 = aws_sdk_route53::Client::new(&moto.config("us-east-1"));
        async move {
            let created = route53
                .create_hosted_zone()
                .name("orders.example.com")
                .caller_reference("harness-test")
                .send()
                .await
                .expect("CreateHostedZone");
            created.hosted_zone().map(|z| z.id().to_string()).expect("zone id")
        }
    };
    // Servers forked from one launcher draw their ids apart, as processes started apart do.
    assert_ne!(zone(&first).await, zone(&second).await);
    let (port, pid) = (first.port(), first.pid());
    drop(first);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "server {pid} still answers on {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(!zone(&second).await.is_empty(), "the other server goes on");
}

/// A file with `text`, executable.
fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    path
}

fn rejected(err: HarnessError) -> (String, String) {
    match err {
        HarnessError::NoPython { tried, why } => (tried, why),
        other => panic!("expected a rejected Python, got: {other}"),
    }
}

#[test]
fn a_shell_shim_named_by_moto_server_is_rejected_not_run() {
    let dir = tempfile::tempdir().expect("dir");
    // What pyenv puts first on PATH.
    let shim = script(
        dir.path(),
        "moto_server",
        "#!/usr/bin/env bash\nexec pyenv exec moto_server \"$@\"\n",
    );
    let err = choose_python(None, Some(shim.clone().into()), dir.path()).expect_err("a shell script is no Python");
    let text = err.to_string();
    let (tried, why) = rejected(err);
    assert_eq!(tried, format!("MOTO_SERVER={}", shim.display()));
    assert!(why.contains("not a Python script"), "{why}");
    assert!(text.contains("bash scripts/setup"), "says the fix: {text}");
}

#[test]
fn a_python_without_moto_or_with_another_version_is_rejected() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("venv/bin/python");
    let (tried, why) = rejected(choose_python(None, None, dir.path()).expect_err("no venv yet"));
    assert_eq!(tried, missing.display().to_string());
    assert_eq!(why, "no such file");

    // A Python whose `import moto` finds another release.
    let fake = dir.path().join("fake");
    std::fs::create_dir_all(fake.join("moto")).expect("dir");
    std::fs::write(fake.join("moto/__init__.py"), "__version__ = '5.2.1'\n").expect("write");
    let python = moto_python().expect("the project's Python");
    let old = script(
        dir.path(),
        "python-old-moto",
        &format!(
            "#!/bin/sh\nPYTHONPATH={} exec {} \"$@\"\n",
            fake.display(),
            python.display()
        ),
    );
    let (_, why) = rejected(choose_python(Some(old.into()), None, dir.path()).expect_err("old moto"));
    assert!(why.contains("moto 5.2.1") && why.contains(MOTO_VERSION), "{why}");

    let bare = script(
        dir.path(),
        "python-no-moto",
        "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'moto'\" >&2; exit 1\n",
    );
    let (_, why) = rejected(choose_python(Some(bare.into()), None, dir.path()).expect_err("no moto"));
    assert!(
        why.contains("cannot import moto") && why.contains("No module named 'moto'"),
        "{why}"
    );
}

#[test]
fn the_setup_venv_is_the_default_and_passes_the_check() {
    let chosen = choose_python(None, None, &rebound_tests::cache_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(chosen, rebound_tests::cache_dir().join("venv/bin/python"));
}

/// Python runs the launcher from wherever it was written: a folder of this process's own, with
/// a name nobody can guess and room for this user only, never a fixed path in /tmp where
/// another user could have put a file first.
#[test]
fn the_launcher_is_written_where_only_this_user_can_write() {
    use std::os::unix::fs::PermissionsExt;
    let launcher = rebound_tests::launcher_file().unwrap_or_else(|e| panic!("{e}"));
    let dir = launcher.parent().expect("a folder");
    let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    assert_eq!(mode(&launcher), 0o600, "{}", launcher.display());
    let predictable = std::env::temp_dir().join(format!("rebound-moto-launcher-{}.py", std::process::id()));
    assert_ne!(launcher, predictable);
    assert_eq!(
        std::fs::read_to_string(&launcher).expect("read"),
        rebound_tests::LAUNCHER
    );
}
