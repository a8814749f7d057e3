//! An org file that transactions run on, and its reads.
//!
//! Every process that writes (hooks, the `msg` command, the relay client) takes an exclusive
//! `flock` on a permanent sidecar `<file>.lock` (never deleted: deleting it is how the Python
//! original lost mutual exclusion) and runs a [`Transaction`] under it. Readers take the
//! shared lock, so they never see half an append.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::OrgError;
use super::keywords::TodoKeywords;
use super::outline::{Outline, read_into_spare};
use super::scan::Document;
use crate::durable::{self, FileLock};

pub use crate::durable::DEFAULT_LOCK_TIMEOUT;

/// An org file that transactions run on. Cheap to create; holds no open file.
#[derive(Debug, Clone)]
pub struct OrgFile {
    path: PathBuf,
    states: TodoKeywords,
    lock_timeout: Duration,
}

impl OrgFile {
    /// The file at `path`, read with the caller's `states` as keywords in addition to those
    /// the file declares. A missing file is created by the first transaction, with one
    /// `#+TODO:` line per sequence of `states`.
    pub fn new(path: impl Into<PathBuf>, states: TodoKeywords) -> OrgFile {
        OrgFile {
            path: path.into(),
            states,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// Waits at most `timeout` for another process's lock.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> OrgFile {
        self.lock_timeout = timeout;
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How long a transaction waits for another process's lock.
    pub(super) fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }

    /// The caller's states.
    pub fn states(&self) -> &TodoKeywords {
        &self.states
    }

    /// The text of a new file: one `#+TODO:` line per sequence of the states.
    pub fn header(&self) -> String {
        self.states
            .sequences()
            .iter()
            .map(|s| format!("#+TODO: {}\n", s.to_line_value()))
            .collect()
    }

    /// Reads and scans the file as it is now, under a shared lock so that no append is seen
    /// half-written. A missing file reads as an empty document (and creates nothing).
    pub fn read(&self) -> Result<Document, OrgError> {
        if !self.path.exists() {
            return Ok(Document::parse(Vec::new(), &self.states));
        }
        let _lock = FileLock::shared(&self.path, self.lock_timeout)?;
        match fs::read(&self.path) {
            Ok(bytes) => Ok(Document::parse(bytes, &self.states)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Ok(Document::parse(Vec::new(), &self.states))
            }
            Err(e) => Err(durable::io_error("read", &self.path)(e).into()),
        }
    }

    /// [`OrgFile::read`] without indexing every entry: the file as it is now, under a shared
    /// lock, as an [`Outline`] that scans an entry when asked for. For queries that read a
    /// few entries of a large file, or only headings.
    pub fn read_outline(&self) -> Result<Outline, OrgError> {
        if !self.path.exists() {
            return Ok(Outline::parse(Vec::new(), &self.states));
        }
        let _lock = FileLock::shared(&self.path, self.lock_timeout)?;
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Outline::parse(Vec::new(), &self.states));
            }
            Err(e) => return Err(durable::io_error("read", &self.path)(e).into()),
        };
        let len = file
            .metadata()
            .map_err(durable::io_error("stat", &self.path))?
            .len() as usize;
        let bytes =
            read_into_spare(&mut file, len, 0).map_err(durable::io_error("read", &self.path))?;
        Ok(Outline::parse(bytes, &self.states))
    }
}
