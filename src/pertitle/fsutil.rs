//! Crash-safe output. Every file pertitle writes (store entries, points, ladders, reports) goes
//! through [`atomic_write`]: the bytes land in a temporary file in the same directory, are fsynced,
//! and the temporary is renamed over the target. A reader (or a run killed with `kill -9`) sees
//! either the old file, the new file, or no file — never a half-written one (POSIX `rename(2)` is
//! atomic within one filesystem, which "same directory" guarantees).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{Error, Result};

/// Marker in temporary names, so stale temporaries (from a killed process) can be recognised.
const TEMP_MARKER: &str = ".pertitle-tmp-";

/// Distinguishes temporaries of concurrent writers within one process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The directory a file lives in (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// A temporary name next to `path`: hidden (leading dot), unique per process (pid), per call
/// (counter) and across hosts sharing a filesystem (nanoseconds), so concurrent writers of the
/// same target never share a temporary.
fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a file path (no file name)",
        )
    })?;
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut tmp = OsString::from(".");
    tmp.push(name);
    tmp.push(format!(
        "{TEMP_MARKER}{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    Ok(parent_dir(path).join(tmp))
}

/// Writes `bytes` to `path` atomically (temp file in the same directory, fsync, rename).
///
/// On any error the temporary is removed, `path` is untouched, and the error is
/// [`Error::Io`] naming `path`.
pub fn atomic_write(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    atomic_write_with(path, |w| w.write_all(bytes))
}

/// Like [`atomic_write`], for content produced by a writer callback (large CSVs, images) so it
/// need not be held in memory first. The callback's I/O errors abort the write the same way.
pub fn atomic_write_with<F>(path: impl AsRef<Path>, write: F) -> Result<()>
where
    F: FnOnce(&mut BufWriter<File>) -> io::Result<()>,
{
    let path = path.as_ref();
    let tmp = temp_path(path).map_err(|e| Error::io(path, e))?;
    let result = (|| -> io::Result<()> {
        let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    match result {
        Ok(()) => {
            // Make the rename itself durable. Best effort: some filesystems refuse to fsync a
            // directory, and the new file is already complete and in place either way.
            if let Ok(d) = File::open(parent_dir(path)) {
                let _ = d.sync_all();
            }
            Ok(())
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(Error::io(path, e))
        }
    }
}

/// Creates `dir` (and its parents) if needed and checks that files can be created in it.
/// The error names `dir` and says whether it is not a directory or not writable.
pub fn ensure_dir(dir: impl AsRef<Path>) -> Result<()> {
    let dir = dir.as_ref();
    if dir.exists() && !dir.is_dir() {
        return Err(Error::io(
            dir,
            io::Error::new(
                io::ErrorKind::AlreadyExists,
                "exists and is not a directory",
            ),
        ));
    }
    fs::create_dir_all(dir).map_err(|e| {
        Error::io(
            dir,
            io::Error::new(e.kind(), format!("cannot create directory: {e}")),
        )
    })?;
    check_writable(dir)
}

/// Checks, before a long job starts, that `dir` exists and a file can be created, written,
/// synced and removed in it — the same operations [`atomic_write`] needs. Catches read-only
/// mounts, missing permissions (when not root) and a full disk that refuses even a small file.
pub fn check_writable(dir: impl AsRef<Path>) -> Result<()> {
    let dir = dir.as_ref();
    if !dir.is_dir() {
        return Err(Error::io(
            dir,
            io::Error::new(io::ErrorKind::NotFound, "not an existing directory"),
        ));
    }
    let probe = temp_path(&dir.join("write-probe")).map_err(|e| Error::io(dir, e))?;
    let result = (|| -> io::Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)?;
        f.write_all(&[0u8; 4096])?;
        f.sync_all()
    })();
    let _ = fs::remove_file(&probe);
    result.map_err(|e| {
        Error::io(
            dir,
            io::Error::new(e.kind(), format!("directory is not writable: {e}")),
        )
    })
}

/// Bytes available to an unprivileged writer on the filesystem holding `path` (statvfs), so a
/// caller can refuse a job that cannot fit before spending an hour on it.
pub fn available_bytes(path: impl AsRef<Path>) -> Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = path.as_ref();
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        Error::io(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"),
        )
    })?;
    // SAFETY: statvfs is a plain C struct of integers, for which all-zero bytes are valid.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated string and `st` a live struct statvfs only writes.
    let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
    if rc != 0 {
        return Err(Error::io(path, io::Error::last_os_error()));
    }
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Peak resident memory of this process so far, in MiB (getrusage; Linux reports KiB).
pub fn peak_rss_mib() -> f64 {
    // SAFETY: rusage is a plain C struct of integers, for which all-zero bytes are valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a live struct getrusage only writes; RUSAGE_SELF cannot fail.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_maxrss as f64 / 1024.0
}

/// Removes temporaries left in `dir` by [`atomic_write`] calls of processes that were killed,
/// if older than `max_age` (younger ones may belong to a writer still running). Returns how
/// many were removed. Not recursive.
pub fn remove_stale_temps(dir: impl AsRef<Path>, max_age: Duration) -> Result<usize> {
    let dir = dir.as_ref();
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let now = SystemTime::now();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with('.') && name.contains(TEMP_MARKER)) {
            continue;
        }
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| now.duration_since(t).ok())
            .is_some_and(|age| age >= max_age);
        if old && fs::remove_file(entry.path()).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn writes_and_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.json");
        atomic_write(&p, b"first").unwrap();
        atomic_write(&p, b"second, longer").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second, longer");
        assert_eq!(names(d.path()), vec!["a.json"]);
    }

    #[test]
    fn failing_writer_leaves_nothing_and_keeps_old_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.csv");
        atomic_write(&p, b"old").unwrap();
        let err = atomic_write_with(&p, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("disk full (simulated)"))
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("out.csv") && msg.contains("simulated"),
            "{msg}"
        );
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert_eq!(names(d.path()), vec!["out.csv"]);
    }

    #[test]
    fn target_is_a_directory() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("sub");
        fs::create_dir(&p).unwrap();
        let err = atomic_write(&p, b"x").unwrap_err();
        assert!(err.to_string().contains("sub"), "{err}");
        assert_eq!(names(d.path()), vec!["sub"]);
        assert!(fs::read_dir(&p).unwrap().next().is_none());
    }

    #[test]
    fn ensure_dir_creates_and_rejects_files() {
        let d = tempfile::tempdir().unwrap();
        let nested = d.path().join("x/y/z");
        ensure_dir(&nested).unwrap();
        assert!(nested.is_dir());
        assert!(names(&nested).is_empty(), "probe file left behind");
        let file = d.path().join("plain");
        fs::write(&file, b"").unwrap();
        let err = ensure_dir(&file).unwrap_err().to_string();
        assert!(
            err.contains("plain") && err.contains("not a directory"),
            "{err}"
        );
        // A directory below a regular file cannot be created (ENOTDIR), even as root.
        let err = ensure_dir(file.join("below")).unwrap_err().to_string();
        assert!(
            err.contains("below") && err.contains("cannot create"),
            "{err}"
        );
        let err = check_writable(d.path().join("missing")).unwrap_err();
        assert!(err.to_string().contains("missing"), "{err}");
    }

    #[test]
    fn available_bytes_is_positive() {
        let d = tempfile::tempdir().unwrap();
        assert!(available_bytes(d.path()).unwrap() > 0);
        assert!(available_bytes(d.path().join("nope")).is_err());
    }

    #[test]
    fn stale_temps_are_swept_fresh_ones_kept() {
        let d = tempfile::tempdir().unwrap();
        let tmp = temp_path(&d.path().join("e.json")).unwrap();
        fs::write(&tmp, b"torn").unwrap();
        fs::write(d.path().join("e.json"), b"ok").unwrap();
        assert_eq!(
            remove_stale_temps(d.path(), Duration::from_secs(3600)).unwrap(),
            0
        );
        assert_eq!(remove_stale_temps(d.path(), Duration::ZERO).unwrap(), 1);
        assert_eq!(names(d.path()), vec!["e.json"]);
    }
}
