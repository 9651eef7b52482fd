//! One launcher per test process, imported once, forking a `moto_server` per start
//! (`launcher.py --zygote`). Importing moto and the launcher's patches costs about two seconds
//! of CPU; a test binary starts dozens of servers, each its own process on its own port, so each
//! start now costs a fork. Linux only (the servers end with the zygote through the parent-death
//! signal); elsewhere every server is spawned whole.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Mutex, OnceLock};

struct Zygote {
    // Kept so the zygote is not reaped while it serves; it ends when `stdin` closes at exit.
    _child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

static ZYGOTE: OnceLock<Mutex<Option<Zygote>>> = OnceLock::new();

/// A server forked on `port`, its output appended to `log`: its pid, or None when no zygote
/// serves here (the caller spawns one whole instead).
pub(crate) fn fork(python: &Path, launcher: &Path, port: u16, log: &Path) -> Option<u32> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let log = log.to_str()?;
    let cell = ZYGOTE.get_or_init(|| Mutex::new(start(python, launcher, log)));
    let mut guard = cell.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let zygote = guard.as_mut()?;
    let asked = writeln!(zygote.stdin, "{port} {log}").and_then(|()| zygote.stdin.flush());
    let mut line = String::new();
    let answered = asked.and_then(|()| zygote.stdout.read_line(&mut line));
    match answered.ok().and_then(|_| line.trim().parse().ok()) {
        Some(pid) => Some(pid),
        None => {
            // The zygote is gone: every later start is spawned whole.
            *guard = None;
            None
        }
    }
}

/// Stops server `pid`, forked by the zygote.
pub(crate) fn kill(pid: u32) {
    if let Some(cell) = ZYGOTE.get() {
        let mut guard = cell.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(zygote) = guard.as_mut() {
            let _ = writeln!(zygote.stdin, "kill {pid}").and_then(|()| zygote.stdin.flush());
        }
    }
}

/// Whether forked server `pid` still runs (the zygote reaps its servers as they end).
pub(crate) fn running(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn start(python: &Path, launcher: &Path, log: &str) -> Option<Zygote> {
    // Its own errors (an import that fails) go where the first server's log is.
    let errors = std::fs::OpenOptions::new().append(true).open(log).ok()?;
    let mut child = Command::new(python)
        .arg(launcher)
        .arg("--zygote")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(errors)
        .spawn()
        .ok()?;
    let stdin = child.stdin.take()?;
    let stdout = BufReader::new(child.stdout.take()?);
    Some(Zygote {
        _child: child,
        stdin,
        stdout,
    })
}
