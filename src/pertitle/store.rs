//! The result store: every finished grid point, kept under its task's content address
//! ([`GridTask::key`](crate::grid::GridTask::key)) so a repeated or resumed run encodes nothing
//! it already has.
//!
//! Layout: one readable, pretty JSON file per entry, `<dir>/<key[0..2]>/<key>.json`:
//!
//! ```text
//! {
//!   "format": "pertitle-store",
//!   "version": 1,
//!   "key": "<64 hex>",
//!   "checksum": "sha256:<64 hex>",
//!   "payload": { ...the TaskResult... }
//! }
//! ```
//!
//! `checksum` is the SHA-256 of the payload's exact bytes as they appear in the file (from its
//! `{` to its `}`), so any torn write or flipped byte in it is detected without trusting the JSON
//! parser; the header fields are checked one by one. Entries are written with
//! [`crate::fsutil::atomic_write`], so concurrent `put`s of the same key from
//! threads or processes are safe (the last rename wins; every version is complete). Entries are
//! meant to be read, not edited: reformatting one makes it corrupt (it is then recomputed).
//!
//! A lookup never trusts a doubtful entry: corrupt ones (truncated, altered, wrong key, task that
//! no longer hashes to its key) and incompatible ones (another store version) are counted and
//! reported as misses, so the caller recomputes and overwrites them and can say how many.
//!
//! No cache: call sites hold an `Option<Store>`; `None` computes everything and
//! stores nothing.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::fsutil::{atomic_write, ensure_dir};
use crate::grid::TaskResult;
use crate::{Error, Result};

/// Value of the `format` field of every entry.
pub const STORE_FORMAT: &str = "pertitle-store";
/// Entry layout version; entries of another version are ignored (recomputed), not misread.
pub const STORE_VERSION: u32 = 1;

const PAYLOAD_PREFIX: &str = "\n  \"payload\": ";
const SUFFIX: &str = "\n}\n";

/// The kinds of record kept beside the task entries, each in its own directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shelf {
    /// Source analyses (identity, shots, probe).
    Sources,
    /// Dataset pairs' features.
    Features,
}

impl Shelf {
    /// (directory, file-name suffix).
    const TABLE: [(Shelf, &'static str, &'static str); 2] = [
        (Shelf::Sources, "sources", "source"),
        (Shelf::Features, "features", "features"),
    ];

    fn row(self) -> (&'static str, &'static str) {
        let (_, d, s) = Self::TABLE
            .iter()
            .find(|(k, _, _)| *k == self)
            .expect("every shelf is in the table");
        (d, s)
    }

    fn dir(self) -> &'static str {
        self.row().0
    }

    fn suffix(self) -> &'static str {
        self.row().1
    }
}

/// The outcome of a lookup.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// A verified entry.
    Hit(Box<TaskResult>),
    /// No entry for this key.
    Miss,
    /// An entry exists but cannot be trusted; `reason` says why.
    Corrupt { path: PathBuf, reason: String },
    /// An entry written by another store version.
    Incompatible { path: PathBuf, version: u32 },
}

/// Why an existing entry is not trusted (see [`decode_entry`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryProblem {
    /// Truncated, altered, misplaced or inconsistent; the text says which.
    Corrupt(String),
    /// Written by another store version (the number found).
    Incompatible(u32),
}

/// Verifies and decodes the bytes of the entry file for `key` without touching the disk (what
/// [`Store::lookup`] does after reading the file; also for offline checks of a store).
pub fn decode_entry(key: &str, bytes: &[u8]) -> std::result::Result<TaskResult, EntryProblem> {
    Store::verify(key, bytes)
}

/// The header fields checked before the payload.
#[derive(Deserialize)]
struct Header {
    format: String,
    version: u32,
    key: String,
    checksum: String,
}

/// A directory of cached [`TaskResult`]s. Cheap to share between threads (`&Store` is `Sync`).
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    corrupt: AtomicU64,
    incompatible: AtomicU64,
}

fn is_key(key: &str) -> bool {
    key.len() == 64
        && key
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Store {
    /// Opens (creating if needed) the store in `dir`; the error names `dir` if it cannot be
    /// created or written.
    pub fn open(dir: impl AsRef<Path>) -> Result<Store> {
        let dir = dir.as_ref().to_path_buf();
        ensure_dir(&dir)?;
        Ok(Store {
            dir,
            corrupt: AtomicU64::new(0),
            incompatible: AtomicU64::new(0),
        })
    }

    /// The default location: `$PERTITLE_CACHE`, else `$XDG_CACHE_HOME/pertitle`, else
    /// `$HOME/.cache/pertitle` (empty variables count as unset; a relative `XDG_CACHE_HOME` is
    /// ignored as the XDG spec says).
    pub fn default_dir() -> Result<PathBuf> {
        Self::default_dir_from(|name| std::env::var_os(name))
    }

    /// [`Store::default_dir`] with the environment given as a lookup function (for tests).
    pub fn default_dir_from(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<PathBuf> {
        let get = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(p) = get("PERTITLE_CACHE") {
            return Ok(p);
        }
        if let Some(p) = get("XDG_CACHE_HOME").filter(|p| p.is_absolute()) {
            return Ok(p.join("pertitle"));
        }
        if let Some(p) = get("HOME") {
            return Ok(p.join(".cache").join("pertitle"));
        }
        Err(Error::config(
            "cache directory",
            "none of $PERTITLE_CACHE, $XDG_CACHE_HOME, $HOME is set: name a cache directory, or run without one",
        ))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the entry for `key` lives (whether or not it exists).
    pub fn entry_path(&self, key: &str) -> PathBuf {
        let shard = key.get(..2).unwrap_or("__");
        self.dir.join(shard).join(format!("{key}.json"))
    }

    fn check_key(key: &str) -> Result<()> {
        if is_key(key) {
            Ok(())
        } else {
            Err(Error::data(
                format!("store key '{key}'"),
                "not a lowercase hex SHA-256",
            ))
        }
    }

    /// Looks `key` up and says exactly what was found. I/O errors other than "not found" are
    /// errors naming the entry's path; doubtful contents are [`Lookup::Corrupt`] or
    /// [`Lookup::Incompatible`] (and counted), never a hit.
    pub fn lookup(&self, key: &str) -> Result<Lookup> {
        Self::check_key(key)?;
        let path = self.entry_path(key);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Lookup::Miss),
            Err(e) => return Err(Error::io(&path, e)),
        };
        Ok(match Self::verify(key, &bytes) {
            Ok(r) => Lookup::Hit(Box::new(r)),
            Err(EntryProblem::Corrupt(reason)) => {
                self.corrupt.fetch_add(1, Ordering::Relaxed);
                Lookup::Corrupt { path, reason }
            }
            Err(EntryProblem::Incompatible(version)) => {
                self.incompatible.fetch_add(1, Ordering::Relaxed);
                Lookup::Incompatible { path, version }
            }
        })
    }

    /// Checks an entry's bytes; `Err` says why not to trust it.
    fn verify(key: &str, bytes: &[u8]) -> std::result::Result<TaskResult, EntryProblem> {
        let corrupt = EntryProblem::Corrupt;
        let text = std::str::from_utf8(bytes).map_err(|_| corrupt("not UTF-8".into()))?;
        let header: Header =
            serde_json::from_str(text).map_err(|e| corrupt(format!("unreadable JSON: {e}")))?;
        if header.format != STORE_FORMAT {
            return Err(corrupt(format!(
                "format '{}' is not a store entry",
                header.format
            )));
        }
        if header.version != STORE_VERSION {
            return Err(EntryProblem::Incompatible(header.version));
        }
        if header.key != key {
            return Err(corrupt(format!("holds key {}", header.key)));
        }
        let start = text
            .find(PAYLOAD_PREFIX)
            .map(|i| i + PAYLOAD_PREFIX.len())
            .ok_or_else(|| corrupt("no payload".into()))?;
        let end = text
            .len()
            .checked_sub(SUFFIX.len())
            .filter(|&e| e >= start && text.ends_with(SUFFIX))
            .ok_or_else(|| corrupt("payload not where it was written".into()))?;
        let payload = &text[start..end];
        if header.checksum != payload_checksum(payload) {
            return Err(corrupt("checksum mismatch".into()));
        }
        let result: TaskResult = serde_json::from_str(payload)
            .map_err(|e| corrupt(format!("payload does not parse: {e}")))?;
        let task_key = result.key();
        if task_key != key {
            // The canonical form or the task's fields changed since it was written.
            return Err(corrupt(format!("its task now hashes to {task_key}")));
        }
        result
            .check()
            .map_err(|e| corrupt(format!("inconsistent: {e}")))?;
        Ok(result)
    }

    /// The verified entry for `key`, or `None` (missing, corrupt or incompatible — the latter two
    /// counted, see [`Store::corrupt_count`]).
    pub fn get(&self, key: &str) -> Result<Option<TaskResult>> {
        Ok(match self.lookup(key)? {
            Lookup::Hit(r) => Some(*r),
            _ => None,
        })
    }

    /// Stores `result` under its task's key, atomically, replacing any entry there. Refuses a
    /// result that is inconsistent or would not read back identical (e.g. a NaN score, which JSON
    /// cannot hold); the error names the key.
    pub fn put(&self, result: &TaskResult) -> Result<()> {
        result.check()?;
        let key = result.key();
        let what = || format!("store entry {key}");
        let pretty = serde_json::to_string_pretty(result)
            .map_err(|e| Error::data(what(), format!("cannot serialize: {e}")))?;
        let back: TaskResult = serde_json::from_str(&pretty)
            .map_err(|e| Error::data(what(), format!("does not read back: {e}")))?;
        // Compared as written: a NaN CRF (an encode not made at a CRF) is `null` both ways.
        let again = serde_json::to_string_pretty(&back)
            .map_err(|e| Error::data(what(), format!("cannot serialize: {e}")))?;
        if again != pretty {
            return Err(Error::data(
                what(),
                "does not read back identical (a non-finite score?)",
            ));
        }
        // Indent the payload under its header (JSON strings hold no raw newlines, so this only
        // touches whitespace between tokens).
        let payload = pretty.replace('\n', "\n  ");
        let checksum = payload_checksum(&payload);
        let text = format!(
            "{{\n  \"format\": \"{STORE_FORMAT}\",\n  \"version\": {STORE_VERSION},\n  \"key\": \"{key}\",\n  \"checksum\": \"{checksum}\",{PAYLOAD_PREFIX}{payload}{SUFFIX}"
        );
        let path = self.entry_path(&key);
        if let Some(shard) = path.parent() {
            std::fs::create_dir_all(shard).map_err(|e| Error::io(shard, e))?;
        }
        atomic_write(&path, text.as_bytes())
    }

    /// Where a record of `shelf` for `key` lives (`<shelf>/<key>.<shelf>.json`, apart from
    /// the task entries).
    fn shelf_path(&self, shelf: Shelf, key: &str) -> PathBuf {
        let dir = shelf.dir();
        self.dir
            .join(dir)
            .join(format!("{key}.{}.json", shelf.suffix()))
    }

    /// A source analysis stored by [`Store::put_source`] under `key`: `None` if absent, or if
    /// it fails its checksum or does not parse (it is then recomputed, as a corrupt task is).
    pub fn get_source<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.get_record(Shelf::Sources, key)
    }

    /// Keeps a source analysis (identity, shots, probe) under `key`, atomically: a checksum
    /// line, then the JSON.
    pub fn put_source<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<()> {
        self.put_record(Shelf::Sources, key, value)
    }

    /// A dataset pair's features ([`crate::features`]) stored under `key`, as
    /// [`Store::get_source`] reads a source.
    pub fn get_features<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        self.get_record(Shelf::Features, key)
    }

    /// Keeps a dataset pair's features under `key`, as [`Store::put_source`] keeps a source.
    pub fn put_features<T: serde::Serialize>(&self, key: &str, value: &T) -> Result<()> {
        self.put_record(Shelf::Features, key, value)
    }

    fn get_record<T: serde::de::DeserializeOwned>(
        &self,
        shelf: Shelf,
        key: &str,
    ) -> Result<Option<T>> {
        Self::check_key(key)?;
        let path = self.shelf_path(shelf, key);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let Some((sum, payload)) = text.split_once('\n') else {
            self.corrupt.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        };
        if sum != payload_checksum(payload) {
            self.corrupt.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        match serde_json::from_str(payload) {
            Ok(v) => Ok(Some(v)),
            Err(_) => {
                self.corrupt.fetch_add(1, Ordering::Relaxed);
                Ok(None)
            }
        }
    }

    fn put_record<T: serde::Serialize>(&self, shelf: Shelf, key: &str, value: &T) -> Result<()> {
        Self::check_key(key)?;
        let payload = serde_json::to_string(value)
            .map_err(|e| Error::data(format!("{} entry {key}", shelf.suffix()), e.to_string()))?;
        let path = self.shelf_path(shelf, key);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        atomic_write(
            &path,
            format!("{}\n{payload}", payload_checksum(&payload)).as_bytes(),
        )
    }

    /// Entries found corrupt by lookups on this handle so far.
    pub fn corrupt_count(&self) -> u64 {
        self.corrupt.load(Ordering::Relaxed)
    }

    /// Entries of another store version found by lookups on this handle so far.
    pub fn incompatible_count(&self) -> u64 {
        self.incompatible.load(Ordering::Relaxed)
    }

    /// Removes temporaries left by writers that were killed mid-write, older than `max_age`
    /// (younger ones may belong to a concurrent run). Returns how many were removed.
    pub fn sweep_temps(&self, max_age: std::time::Duration) -> Result<usize> {
        let mut n = 0;
        let entries = std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        for e in entries.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                n += crate::fsutil::remove_stale_temps(e.path(), max_age)?;
            }
        }
        Ok(n)
    }
}

/// The `checksum` field for a payload's exact text (as it appears in the file); public so tools
/// can verify entries offline.
pub fn payload_checksum(payload: &str) -> String {
    format!("sha256:{:x}", Sha256::digest(payload.as_bytes()))
}
