//! Files and folders for one user: what a drill or a run writes may hold recovery data (reports,
//! logs, approval answers), and what the harness executes (moto's launcher, the proxy's addon)
//! must not sit where another user could have put it first.

use std::fs::{File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Opens `path` for writing, readable and writable by its owner only (0600): created, truncated,
/// or appended to; an existing file's mode is narrowed too.
pub fn file(path: &Path, append: bool) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .append(append)
        .truncate(!append)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(Permissions::from_mode(0o600))?;
    Ok(file)
}

/// Writes `contents` to `path` as [`file`] makes it.
pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> std::io::Result<()> {
    file(path, false)?.write_all(contents.as_ref())
}

/// Creates `dir` and its missing parents, new ones for their owner only (0700).
pub fn create_dir_all(dir: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

/// A new folder under the system's temporary folder, with a name nobody can guess and room for
/// its owner only (0700). It stays until removed.
pub fn temp_dir(prefix: &str) -> std::io::Result<PathBuf> {
    Ok(tempfile::Builder::new()
        .prefix(prefix)
        .permissions(Permissions::from_mode(0o700))
        .tempdir()?
        .keep())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_folders_are_their_owners_alone() {
        let dir = temp_dir("rebound-private-test-").expect("dir");
        let mode = |p: &Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        let path = dir.join("report.json");
        std::fs::write(&path, "open").expect("a file as the umask leaves it");
        std::fs::set_permissions(&path, Permissions::from_mode(0o644)).expect("chmod");
        write(&path, "closed").expect("written");
        assert_eq!(mode(&path), 0o600, "an existing file narrowed");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "closed");
        let nested = dir.join("a/b");
        create_dir_all(&nested).expect("dirs");
        assert_eq!(mode(&nested), 0o700);
        assert_ne!(temp_dir("rebound-private-test-").expect("another"), dir);
        std::fs::remove_dir_all(&dir).expect("cleaned");
    }
}
