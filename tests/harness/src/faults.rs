//! A fault proxy between the AWS SDK and moto: mitmproxy in reverse mode with the addon in
//! tests/harness/moto/faults.py. Tests and drills point the SDK at the proxy and change its rules while a
//! recovery runs; moto stays the source of truth for what was changed.
//!
//! ```no_run
//! # async fn demo() {
//! use rebound_moto::{faults::{Fault, FaultProxy}, MotoServer};
//! let moto = MotoServer::start().expect("moto starts");
//! let proxy = FaultProxy::start(&moto).expect("the proxy starts");
//! proxy.set(&[Fault::drop_answer("rds", "PromoteReadReplica").times(1)]).expect("rules");
//! let rds = aws_sdk_rds::Client::new(&proxy.config("us-west-2"));
//! # }
//! ```

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use serde::{Deserialize, Serialize};

use crate::{cache_dir, free_port, tail, HarnessError, MotoServer};

/// The addon (tests/harness/moto/faults.py).
pub const ADDON: &str = include_str!("../moto/faults.py");

/// One rule: which calls it matches (unset: any) and what happens to them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// Services the rule spares.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub except_services: Vec<String>,
    pub fault: FaultKind,
    /// How many matching calls it applies to; unset: all.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    /// moto applies the call; its answer is lost.
    DropAnswer,
    /// The connection closes before the call reaches moto.
    Reset,
    /// No answer for `seconds`, then the connection closes.
    Timeout,
    /// An HTTP error (`status`, default 503) in the service's own format.
    Status,
    /// The service's own throttling error.
    Throttle,
    /// `ms` more, then the call goes through.
    Latency,
}

impl Fault {
    fn new(fault: FaultKind) -> Fault {
        Fault {
            service: None,
            region: None,
            operation: None,
            except_services: Vec::new(),
            fault,
            times: None,
            status: None,
            ms: None,
            seconds: None,
        }
    }

    /// `operation` of `service` is applied by moto, and its answer lost.
    pub fn drop_answer(service: &str, operation: &str) -> Fault {
        Fault::new(FaultKind::DropAnswer).service(service).operation(operation)
    }

    /// Calls never answer: a region or control plane that is gone.
    pub fn timeout(seconds: u64) -> Fault {
        Fault {
            seconds: Some(seconds),
            ..Fault::new(FaultKind::Timeout)
        }
    }

    pub fn reset() -> Fault {
        Fault::new(FaultKind::Reset)
    }

    pub fn status(status: u16) -> Fault {
        Fault {
            status: Some(status),
            ..Fault::new(FaultKind::Status)
        }
    }

    pub fn throttle() -> Fault {
        Fault::new(FaultKind::Throttle)
    }

    pub fn latency(ms: u64) -> Fault {
        Fault {
            ms: Some(ms),
            ..Fault::new(FaultKind::Latency)
        }
    }

    pub fn service(mut self, service: &str) -> Fault {
        self.service = Some(service.into());
        self
    }

    pub fn region(mut self, region: &str) -> Fault {
        self.region = Some(region.into());
        self
    }

    pub fn operation(mut self, operation: &str) -> Fault {
        self.operation = Some(operation.into());
        self
    }

    /// Spares `services`: a cut region whose global control planes (signed for us-east-1) still
    /// answer, say.
    pub fn except(mut self, services: &[&str]) -> Fault {
        self.except_services = services.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn times(mut self, times: u32) -> Fault {
        self.times = Some(times);
        self
    }
}

/// One request that passed the proxy, as its log records it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Call {
    pub service: Option<String>,
    pub region: Option<String>,
    pub operation: Option<String>,
    /// The fault applied to it, if any (`dropAnswer`, `timeout`, ...).
    pub fault: Option<String>,
    /// moto's (or the injected) HTTP status; None when no answer was given.
    pub status: Option<u16>,
    /// When the request reached the proxy, in seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<f64>,
}

/// A running fault proxy in front of one moto server, stopped when dropped.
pub struct FaultProxy {
    child: Child,
    port: u16,
    rules: PathBuf,
    log: PathBuf,
    _dir: PathBuf,
}

impl FaultProxy {
    /// Starts mitmproxy (from the venv `scripts/setup` makes) in front of `moto`, with no faults.
    pub fn start(moto: &MotoServer) -> Result<FaultProxy, HarnessError> {
        let program = cache_dir().join("mitmproxy/bin/mitmdump");
        if !program.is_file() {
            return Err(HarnessError::NoProxy {
                tried: program.display().to_string(),
            });
        }
        let port = free_port()?;
        // mitmdump runs the addon: it lives where only this user could have written it.
        let dir =
            crate::private::temp_dir(&format!("rebound-faults-{port}-")).map_err(|source| HarnessError::Spawn {
                program: "a private temporary folder".into(),
                source,
            })?;
        let io = |source: std::io::Error| HarnessError::Spawn {
            program: dir.display().to_string(),
            source,
        };
        let addon = dir.join("faults.py");
        crate::private::write(&addon, ADDON).map_err(io)?;
        let rules = dir.join("rules.json");
        crate::private::write(&rules, "[]").map_err(io)?;
        let log = dir.join("mitmdump.log");
        let out = crate::private::file(&log, false).map_err(io)?;
        let err = out.try_clone().map_err(io)?;
        let child = Command::new(&program)
            .arg("--mode")
            .arg(format!("reverse:{}", moto.endpoint()))
            .args(["--listen-host", "127.0.0.1", "--listen-port", &port.to_string(), "-q"])
            .arg("-s")
            .arg(&addon)
            .arg("--set")
            .arg(format!("faults={}", rules.display()))
            // Keep idle connections short, so a cut takes effect on the next call.
            .args(["--set", "connection_strategy=lazy"])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| HarnessError::Spawn {
                program: program.display().to_string(),
                source,
            })?;
        let mut proxy = FaultProxy {
            child,
            port,
            rules,
            log,
            _dir: dir,
        };
        proxy.wait_until_ready(Duration::from_secs(30))?;
        Ok(proxy)
    }

    fn wait_until_ready(&mut self, limit: Duration) -> Result<(), HarnessError> {
        let start = Instant::now();
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        loop {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Err(HarnessError::Exited {
                    port: self.port,
                    log: tail(&std::fs::read_to_string(&self.log).unwrap_or_default()),
                });
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if start.elapsed() > limit {
                return Err(HarnessError::NoAnswer {
                    port: self.port,
                    seconds: limit.as_secs(),
                    log: tail(&std::fs::read_to_string(&self.log).unwrap_or_default()),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `http://127.0.0.1:PORT`, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An AWS configuration for `region` that goes through the proxy.
    pub fn config(&self, region: &str) -> SdkConfig {
        crate::local_config(&self.endpoint(), region)
    }

    /// The tests' regions through the proxy: primary us-east-1, recovery us-west-2.
    pub fn regions(&self) -> rebound_shared::aws::Regions {
        crate::regions(&self.endpoint())
    }

    /// Replaces the rules; the proxy applies them from its next request on.
    pub fn set(&self, faults: &[Fault]) -> std::io::Result<()> {
        let text = serde_json::to_string(faults).map_err(std::io::Error::other)?;
        // Written whole and renamed, so the proxy never reads half a file.
        let next = self.rules.with_extension("next");
        std::fs::write(&next, text)?;
        std::fs::rename(&next, &self.rules)
    }

    /// Every call that passed the proxy so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        let log = self.rules.with_extension("json.log");
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// How many calls of `operation` passed the proxy so far.
    pub fn count(&self, operation: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.operation.as_deref() == Some(operation))
            .count()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}
