//! The local AWS for drills, benchmarks and tests: a private `moto_server` per run on a free loopback port, and an
//! `SdkConfig` pointed at it. Dropping the server stops it, so tests never share AWS state.
//!
//! ```no_run
//! # async fn demo() {
//! let moto = rebound_moto::MotoServer::start().expect("moto_server starts");
//! let route53 = aws_sdk_route53::Client::new(&moto.config("us-east-1"));
//! # }
//! ```

pub mod arc;
pub mod faults;
pub mod held;
pub mod kubernetes;
pub mod private;
mod python;
pub mod seed;
pub mod wait;
mod zygote;

pub use python::{choose_python, moto_python};

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_credential_types::Credentials;

/// The action a step took on `operation` (the first), or a panic naming what it took instead.
pub fn action<'a>(
    result: &'a rebound_shared::context::StepResult,
    operation: &str,
) -> &'a rebound_shared::context::Action {
    result
        .actions
        .iter()
        .find(|a| a.operation == operation)
        .unwrap_or_else(|| panic!("no {operation} in {:?}", result.actions))
}

/// The tests' regions at `endpoint`: primary us-east-1, recovery us-west-2.
pub fn regions(endpoint: &str) -> rebound_shared::aws::Regions {
    rebound_shared::aws::Regions {
        primary: local_config(endpoint, "us-east-1"),
        recovery: local_config(endpoint, "us-west-2"),
    }
}

/// The moto release the tests are written against (installed by `scripts/setup`).
pub const MOTO_VERSION: &str = "5.2.5";
pub const MOTO_REQUIREMENT: &str = "moto[server]==5.2.5";

/// The one command that makes a Python with the pinned moto.
const FIX: &str = "run `bash scripts/setup` (it makes ~/.cache/rebound/venv with moto 5.2.5), \
or set REBOUND_PYTHON to a Python that has `moto[server]==5.2.5`";

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("moto's Python {tried} was rejected: {why}; {FIX}")]
    NoPython { tried: String, why: String },
    #[error("could not start {program}: {source}; {FIX}")]
    Spawn { program: String, source: std::io::Error },
    #[error("moto_server exited before answering on port {port}: {log}")]
    Exited { port: u16, log: String },
    #[error("moto_server did not answer on port {port} within {seconds} s: {log}")]
    NoAnswer { port: u16, seconds: u64, log: String },
    #[error("the fault proxy {tried} is missing; run `bash scripts/setup` (it installs mitmproxy 11.0.2 under ~/.cache/rebound/mitmproxy)")]
    NoProxy { tried: String },
    #[error("no free loopback port: {0}")]
    NoPort(std::io::Error),
}

/// A running `moto_server`, stopped when dropped.
pub struct MotoServer {
    process: Process,
    port: u16,
    log: PathBuf,
}

/// A server spawned whole, or forked by the launcher imported once ([`zygote`]).
enum Process {
    Spawned(Child),
    Forked(u32),
}

/// Runs moto's server as released, from `python -c`, with the server's own arguments after it.
const UNPATCHED: &str = "import sys, moto.server; sys.exit(moto.server.main(sys.argv[1:]))";

impl MotoServer {
    /// Starts moto, in the Python that [`moto_python`] chooses, with the launcher's patches for
    /// where moto contradicts AWS.
    pub fn start() -> Result<MotoServer, HarnessError> {
        let python = moto_python()?;
        let launcher = launcher_file()?;
        let port = free_port()?;
        let log = MotoServer::log_file(&python, port)?;
        match zygote::fork(&python, &launcher, port, &log) {
            Some(pid) => MotoServer::ready(Process::Forked(pid), port, log),
            None => MotoServer::spawn(&python, &[launcher.as_os_str()], port, log),
        }
    }

    /// Starts moto exactly as released, without the launcher's patches.
    pub fn start_unpatched() -> Result<MotoServer, HarnessError> {
        let python = moto_python()?;
        let port = free_port()?;
        let log = MotoServer::log_file(&python, port)?;
        MotoServer::spawn(&python, &["-c".as_ref(), UNPATCHED.as_ref()], port, log)
    }

    /// The server's log, made private and empty.
    fn log_file(program: &Path, port: u16) -> Result<PathBuf, HarnessError> {
        let log = process_dir()?.join(format!("moto-{port}.log"));
        private::file(&log, false).map_err(|source| HarnessError::Spawn {
            program: program.display().to_string(),
            source,
        })?;
        Ok(log)
    }

    fn spawn(
        program: &Path,
        leading: &[&std::ffi::OsStr],
        port: u16,
        log: PathBuf,
    ) -> Result<MotoServer, HarnessError> {
        let log_file = std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .map_err(|source| HarnessError::Spawn {
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
        MotoServer::ready(Process::Spawned(child), port, log)
    }

    fn ready(process: Process, port: u16, log: PathBuf) -> Result<MotoServer, HarnessError> {
        let mut server = MotoServer { process, port, log };
        server.wait_until_ready(Duration::from_secs(60))?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id, to measure its CPU time apart.
    pub fn pid(&self) -> u32 {
        match &self.process {
            Process::Spawned(child) => child.id(),
            Process::Forked(pid) => *pid,
        }
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An AWS configuration for `region` pointed at this server, with dummy credentials.
    pub fn config(&self, region: &str) -> SdkConfig {
        local_config(&self.endpoint(), region)
    }

    /// The tests' regions: primary us-east-1, recovery us-west-2.
    pub fn regions(&self) -> rebound_shared::aws::Regions {
        regions(&self.endpoint())
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

    /// Queues what moto's Lambda answers to the next invocations in `region`, one answer each,
    /// in order (moto runs no function code here: see the launcher).
    pub fn lambda_answers(&self, region: &str, answers: &[serde_json::Value]) -> std::io::Result<()> {
        let results: Vec<String> = answers.iter().map(|a| a.to_string()).collect();
        let body = serde_json::json!({"results": results, "region": region}).to_string();
        let status = http_request_with(self.port, "POST", "/moto-api/static/lambda-simple/response", &body)?;
        if status == 201 {
            Ok(())
        } else {
            Err(std::io::Error::other(format!("lambda answers: HTTP {status}")))
        }
    }

    /// Makes moto's Step Functions run the executions it starts (its documented
    /// `stepfunctions.execute_state_machine` setting): states advance, task tokens wait for
    /// SendTaskSuccess/SendTaskFailure, and GetExecutionHistory returns the real events.
    pub fn execute_state_machines(&self) -> std::io::Result<()> {
        let body = serde_json::json!({"stepfunctions": {"execute_state_machine": true}}).to_string();
        match http_request_with(self.port, "POST", "/moto-api/config", &body)? {
            200 | 201 => Ok(()),
            status => Err(std::io::Error::other(format!("stepfunctions config: HTTP {status}"))),
        }
    }

    /// Sets how long the launcher's timed changes take, in seconds, by operation name
    /// (`{"PromoteReadReplica": 0.5}`); the rest keep AWS's documented figures times
    /// `REBOUND_AWS_TIME_SCALE` (default 1/100). See the launcher's "AWS's time".
    pub fn set_durations(&self, durations: &serde_json::Value) -> std::io::Result<()> {
        match http_request_with(self.port, "POST", "/rebound-api/durations", &durations.to_string())? {
            200 => Ok(()),
            status => Err(std::io::Error::other(format!("durations {durations}: HTTP {status}"))),
        }
    }

    /// Sets the account's applied value of Service Quotas quotas the launcher describes, by
    /// `SERVICE/QUOTA` code (`{"fargate/L-3032A538": 4}`); moto knows no other account values.
    pub fn set_quotas(&self, quotas: &serde_json::Value) -> std::io::Result<()> {
        self.set_quotas_in("", quotas)
    }

    /// [`MotoServer::set_quotas`] in account `account` (moto's default when empty): quotas are
    /// each account's own.
    pub fn set_quotas_in(&self, account: &str, quotas: &serde_json::Value) -> std::io::Result<()> {
        let path = match account {
            "" => "/rebound-api/quotas".to_string(),
            account => format!("/rebound-api/quotas?account={account}"),
        };
        match http_request_with(self.port, "POST", &path, &quotas.to_string())? {
            200 => Ok(()),
            status => Err(std::io::Error::other(format!("quotas {quotas}: HTTP {status}"))),
        }
    }

    /// Sets the scale of every timed change's documented duration (and of the alarms'
    /// periods): 0.1 runs AWS's time ten times faster.
    pub fn set_time_scale(&self, scale: f64) -> std::io::Result<()> {
        self.set_durations(&serde_json::json!({ "timeScale": scale }))
    }

    /// What moto printed so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_until_ready(&mut self, limit: Duration) -> Result<(), HarnessError> {
        let start = Instant::now();
        loop {
            let ended = match &mut self.process {
                Process::Spawned(child) => matches!(child.try_wait(), Ok(Some(_))),
                Process::Forked(pid) => !zygote::running(*pid),
            };
            if ended {
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
        match &mut self.process {
            Process::Spawned(child) => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Process::Forked(pid) => zygote::kill(*pid),
        }
        let _ = std::fs::remove_file(&self.log);
    }
}

/// This process's own temporary folder (0700, a name nobody can guess): the launcher Python
/// runs, and the servers' logs, where no other user could have put a file or a link first.
fn process_dir() -> Result<PathBuf, HarnessError> {
    static MADE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    MADE.get_or_init(|| private::temp_dir("rebound-moto-").map_err(|e| format!("a private temporary folder: {e}")))
        .clone()
        .map_err(|message| HarnessError::Spawn {
            program: "the harness".into(),
            source: std::io::Error::other(message),
        })
}

/// The launcher, written once per process into [`process_dir`], whole before any server reads
/// it (a Python given an empty file exits at once, saying nothing).
pub fn launcher_file() -> Result<PathBuf, HarnessError> {
    static WRITTEN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = process_dir()?;
    WRITTEN
        .get_or_init(|| {
            // The modules first: the launcher imports them from its own folder.
            [
                ("global_datastores.py", GLOBAL_DATASTORES),
                ("multi_region_clusters.py", MULTI_REGION_CLUSTERS),
                ("launcher.py", LAUNCHER),
            ]
            .into_iter()
            .map(|(name, text)| {
                let path = dir.join(name);
                let next = path.with_extension("py.next");
                private::write(&next, text)
                    .and_then(|()| std::fs::rename(&next, &path))
                    .map(|()| path.clone())
                    .map_err(|e| format!("{}: {e}", path.display()))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|mut written| written.remove(2))
        })
        .clone()
        .map_err(|message| HarnessError::Spawn {
            program: "the moto launcher".into(),
            source: std::io::Error::other(message),
        })
}

/// The launcher that patches moto's gaps (tests/harness/moto/launcher.py).
pub const LAUNCHER: &str = include_str!("../moto/launcher.py");
/// The ElastiCache global datastores the launcher adds (tests/harness/moto/global_datastores.py).
pub const GLOBAL_DATASTORES: &str = include_str!("../moto/global_datastores.py");
/// The MemoryDB multi-Region clusters the launcher adds (tests/harness/moto/multi_region_clusters.py).
pub const MULTI_REGION_CLUSTERS: &str = include_str!("../moto/multi_region_clusters.py");

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

/// An AWS configuration for `region` pointed at a local endpoint, with dummy credentials.
pub(crate) fn local_config(endpoint: &str, region: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "moto",
        )))
        .sleep_impl(aws_smithy_async::rt::sleep::default_async_sleep().expect("tokio sleep is available"))
        .time_source(aws_smithy_async::time::SystemTimeSource::new())
        .build()
}

fn free_port() -> Result<u16, HarnessError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(HarnessError::NoPort)?;
    let port = listener.local_addr().map_err(HarnessError::NoPort)?.port();
    Ok(port)
}

/// A minimal HTTP/1.0 request; returns the status code.
fn http_request(port: u16, method: &str, path: &str) -> std::io::Result<u16> {
    http_request_with(port, method, path, "")
}

fn http_request_with(port: u16, method: &str, path: &str, body: &str) -> std::io::Result<u16> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
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
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
