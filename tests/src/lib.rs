//! The local AWS test harness: a private `moto_server` per test on a free loopback port, and an
//! `SdkConfig` pointed at it. Dropping the server stops it, so tests never share AWS state.
//!
//! ```no_run
//! # async fn demo() {
//! let moto = rebound_tests::MotoServer::start().expect("moto_server starts");
//! let route53 = aws_sdk_route53::Client::new(&moto.config("us-east-1"));
//! # }
//! ```

pub mod seed;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;

/// The moto release the tests are written against (installed by `scripts/setup` and `.ci/run`).
pub const MOTO_REQUIREMENT: &str = "moto[server]==5.2.5";

const HOW_TO_INSTALL: &str = "install it with `bash scripts/setup` (a venv under ~/.cache/rebound), \
or `pip install 'moto[server]==5.2.5'`, or set MOTO_SERVER to its path";

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("moto_server was not found ({looked}); {HOW_TO_INSTALL}")]
    NotInstalled { looked: String },
    #[error("could not start {program}: {source}; {HOW_TO_INSTALL}")]
    Spawn { program: String, source: std::io::Error },
    #[error("moto_server exited before answering on port {port}: {log}")]
    Exited { port: u16, log: String },
    #[error("moto_server did not answer on port {port} within {seconds} s: {log}")]
    NoAnswer { port: u16, seconds: u64, log: String },
    #[error("no free loopback port: {0}")]
    NoPort(std::io::Error),
}

/// A running `moto_server`, stopped when dropped.
pub struct MotoServer {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl MotoServer {
    /// Starts moto (found through `MOTO_SERVER`, `PATH`, or the project's venv) with the
    /// launcher's patches for where moto contradicts AWS.
    pub fn start() -> Result<MotoServer, HarnessError> {
        let program = find_moto_server()?;
        let python = interpreter_of(&program).ok_or_else(|| HarnessError::NotInstalled {
            looked: format!("{} has no #! interpreter line", program.display()),
        })?;
        let launcher = std::env::temp_dir().join(format!("rebound-moto-launcher-{}.py", std::process::id()));
        std::fs::write(&launcher, LAUNCHER).map_err(|source| HarnessError::Spawn {
            program: launcher.display().to_string(),
            source,
        })?;
        MotoServer::spawn(&python, &[launcher.as_os_str()])
    }

    /// Starts moto exactly as released, without the launcher's patches.
    pub fn start_unpatched() -> Result<MotoServer, HarnessError> {
        MotoServer::start_program(&find_moto_server()?)
    }

    /// Starts the given `moto_server` program on a free port and waits until it answers.
    pub fn start_program(program: &Path) -> Result<MotoServer, HarnessError> {
        MotoServer::spawn(program, &[])
    }

    fn spawn(program: &Path, leading: &[&std::ffi::OsStr]) -> Result<MotoServer, HarnessError> {
        let port = free_port()?;
        let log = std::env::temp_dir().join(format!("rebound-moto-{port}-{}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).map_err(|source| HarnessError::Spawn {
            program: program.display().to_string(),
            source,
        })?;
        let log_err = log_file.try_clone().map_err(|source| HarnessError::Spawn {
            program: program.display().to_string(),
            source,
        })?;
        let child = Command::new(program)
            .args(leading)
            .env("PYTHONUNBUFFERED", "1")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log_file)
            .stderr(log_err)
            .spawn()
            .map_err(|source| HarnessError::Spawn {
                program: program.display().to_string(),
                source,
            })?;
        let mut server = MotoServer { child, port, log };
        server.wait_until_ready(Duration::from_secs(60))?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An AWS configuration for `region` pointed at this server, with dummy credentials.
    pub fn config(&self, region: &str) -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(self.endpoint())
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                "testing", "testing", None, None, "moto",
            )))
            .sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep().expect("tokio sleep is available"))
            .time_source(aws_smithy_async::time::SystemTimeSource::new())
            .build()
    }

    /// Clears every resource in every region (`POST /moto-api/reset`).
    pub fn reset(&self) -> std::io::Result<()> {
        let status = http_request(self.port, "POST", "/moto-api/reset")?;
        if status == 200 {
            Ok(())
        } else {
            Err(std::io::Error::other(format!("reset answered HTTP {status}")))
        }
    }

    /// What moto printed so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_until_ready(&mut self, limit: Duration) -> Result<(), HarnessError> {
        let start = Instant::now();
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Err(HarnessError::Exited {
                    port: self.port,
                    log: tail(&self.log()),
                });
            }
            if http_request(self.port, "GET", "/moto-api/").is_ok() {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(HarnessError::NoAnswer {
                    port: self.port,
                    seconds: limit.as_secs(),
                    log: tail(&self.log()),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Where `moto_server` is: `MOTO_SERVER`, then `PATH`, then the venv `scripts/setup` makes.
pub fn find_moto_server() -> Result<PathBuf, HarnessError> {
    let mut looked = Vec::new();
    if let Some(explicit) = std::env::var_os("MOTO_SERVER") {
        let path = PathBuf::from(explicit);
        if path.is_file() {
            return Ok(path);
        }
        looked.push(format!("MOTO_SERVER={}", path.display()));
    }
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("moto_server");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
        looked.push("PATH".to_string());
    }
    let venv = cache_dir().join("venv/bin/moto_server");
    if venv.is_file() {
        return Ok(venv);
    }
    looked.push(venv.display().to_string());
    Err(HarnessError::NotInstalled {
        looked: looked.join(", "),
    })
}

/// The launcher that patches moto's gaps (tests/moto/launcher.py).
pub const LAUNCHER: &str = include_str!("../moto/launcher.py");

/// The Python that runs `moto_server` (its `#!` line), so the launcher imports the same moto.
fn interpreter_of(program: &Path) -> Option<PathBuf> {
    let text = std::fs::read(program).ok()?;
    let first = text.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(first).ok()?.strip_prefix("#!")?.trim();
    let mut parts = line.split_whitespace();
    let interpreter = parts.next()?;
    // `#!/usr/bin/env python3` names the interpreter second.
    if interpreter.ends_with("/env") {
        return parts.next().map(PathBuf::from);
    }
    Some(PathBuf::from(interpreter))
}

/// The project's cache folder: `REBOUND_CACHE`, or `~/.cache/rebound`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("REBOUND_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    home.join(".cache/rebound")
}

fn free_port() -> Result<u16, HarnessError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(HarnessError::NoPort)?;
    let port = listener.local_addr().map_err(HarnessError::NoPort)?.port();
    Ok(port)
}

/// A minimal HTTP/1.0 request; returns the status code.
fn http_request(port: u16, method: &str, path: &str) -> std::io::Result<u16> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head)?;
    let line = String::from_utf8_lossy(&head[..n]);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP answer: {line:?}")))
}

fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A sample from events/, as JSON: handler tests start from the same files as `sam local invoke`.
pub fn event(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
