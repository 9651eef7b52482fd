//! The Python that runs moto: chosen once per process, and checked to import the pinned moto
//! before any server starts.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::{cache_dir, HarnessError, MOTO_VERSION};

/// The Python that runs moto, chosen once per process and checked before use:
/// `REBOUND_PYTHON`; else the Python named on the `#!` line of `MOTO_SERVER`; else the venv that
/// `scripts/setup` makes. Never whatever `moto_server` comes first on `PATH`: version managers
/// (pyenv, asdf) put shell shims there, and a system moto is rarely the pinned one.
pub fn moto_python() -> Result<PathBuf, HarnessError> {
    static CHOSEN: OnceLock<Result<PathBuf, (String, String)>> = OnceLock::new();
    CHOSEN
        .get_or_init(|| {
            choose_python(
                std::env::var_os("REBOUND_PYTHON"),
                std::env::var_os("MOTO_SERVER"),
                &cache_dir(),
            )
            .map_err(|e| match e {
                HarnessError::NoPython { tried, why } => (tried, why),
                other => (String::new(), other.to_string()),
            })
        })
        .clone()
        .map_err(|(tried, why)| HarnessError::NoPython { tried, why })
}

/// [`moto_python`] for explicit settings: the chosen file, checked to be a Python that imports
/// moto at [`MOTO_VERSION`].
pub fn choose_python(
    rebound_python: Option<OsString>,
    moto_server: Option<OsString>,
    cache: &Path,
) -> Result<PathBuf, HarnessError> {
    let python = match (rebound_python, moto_server) {
        (Some(python), _) => PathBuf::from(python),
        (None, Some(server)) => python_of_script(Path::new(&server))?,
        (None, None) => cache.join("venv/bin/python"),
    };
    check_python(&python)?;
    Ok(python)
}

/// The Python on a `moto_server` script's `#!` line; anything else (a shell shim) is rejected,
/// since a shell must never run the launcher.
fn python_of_script(script: &Path) -> Result<PathBuf, HarnessError> {
    let rejected = |why: String| HarnessError::NoPython {
        tried: format!("MOTO_SERVER={}", script.display()),
        why,
    };
    let text = std::fs::read(script).map_err(|e| rejected(format!("cannot read it: {e}")))?;
    let first = text.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = std::str::from_utf8(first)
        .ok()
        .and_then(|l| l.strip_prefix("#!"))
        .map(str::trim)
        .ok_or_else(|| rejected("it has no #! line naming a Python".into()))?;
    let mut parts = line.split_whitespace();
    let mut interpreter = parts.next().unwrap_or_default();
    // `#!/usr/bin/env python3` names the interpreter second.
    if interpreter.ends_with("/env") {
        interpreter = parts.next().unwrap_or_default();
    }
    let name = Path::new(interpreter)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if !name.starts_with("python") {
        return Err(rejected(format!(
            "it is not a Python script (its #! line runs `{line}`)"
        )));
    }
    Ok(PathBuf::from(interpreter))
}

/// Runs `python -c 'import moto'` and compares the version with the pin.
fn check_python(python: &Path) -> Result<(), HarnessError> {
    let rejected = |why: String| HarnessError::NoPython {
        tried: python.display().to_string(),
        why,
    };
    if python.is_absolute() && !python.is_file() {
        return Err(rejected("no such file".into()));
    }
    let out = Command::new(python)
        .args(["-c", "import moto; print(moto.__version__)"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| rejected(format!("cannot run it: {e}")))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        let last = said.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output");
        return Err(rejected(format!("it cannot import moto ({})", last.trim())));
    }
    let version = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if version != MOTO_VERSION {
        return Err(rejected(format!(
            "it has moto {version}, and Rebound's patches are written for {MOTO_VERSION}"
        )));
    }
    Ok(())
}
