//! An org file that transactions run on, and its reads.
//!
//! Every process that writes (hooks, the `msg` command, the relay client) takes an exclusive
//! `flock` on a permanent sidecar `<file>.lock` (never deleted: deleting it is how the Python
//! original lost mutual exclusion) and runs a [`Transaction`] under it. Readers take the
//! shared lock, so they never see half an append.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::OrgError;
use super::keywords::{KeywordSequence, TodoKeywords, keyword_line_value};
use super::outline::{Outline, read_into_spare};
use super::scan::Document;
use super::transaction::Transaction;
use crate::durable::{self, DurableError, FileLock, ReadFile};

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

    /// The caller's states.
    pub fn states(&self) -> &TodoKeywords {
        &self.states
    }

    /// How long a lock (ours, or Emacs's on the file) is waited for.
    pub(crate) fn lock_timeout(&self) -> Duration {
        self.lock_timeout
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

    /// Runs `f` under the file's exclusive lock and writes what it staged when it returns
    /// `Ok`. When `f` or the write fails, the file is unchanged.
    pub fn transaction<T>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, OrgError>,
    ) -> Result<T, OrgError> {
        OrgFile::transaction_all(&[self], |txns| f(&mut txns[0]))
    }

    /// Runs `f` with all `files` locked. Locks are taken in sorted path order, so two
    /// processes locking the same files never deadlock; `f` gets the transactions in the
    /// order of `files`. Each file is written durably, one after the other.
    pub fn transaction_all<T>(
        files: &[&OrgFile],
        f: impl FnOnce(&mut [Transaction<'_>]) -> Result<T, OrgError>,
    ) -> Result<T, OrgError> {
        let mut order: Vec<usize> = (0..files.len()).collect();
        order.sort_by(|&a, &b| files[a].path.cmp(&files[b].path));
        order.dedup_by(|a, b| files[*a].path == files[*b].path);
        if order.len() != files.len() {
            // Locking one file twice through two descriptors would wait on ourselves.
            return Err(DurableError::Io {
                action: "lock twice in one transaction",
                path: files[order[0]].path.clone(),
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the same file was given twice",
                ),
            }
            .into());
        }
        let mut held = Vec::with_capacity(order.len());
        for &i in &order {
            held.push(FileLock::exclusive(&files[i].path, files[i].lock_timeout)?);
        }
        let mut txns: Vec<Transaction<'_>> = files.iter().map(|f| Transaction::new(f)).collect();
        let value = f(&mut txns)?;
        // Files that lose entries (taken to another file) are written last: if writing the
        // receiving file fails, the entries are still where they were; at worst a failure in
        // between leaves them in both files, never in neither.
        txns.sort_by_key(Transaction::takes_entries);
        for txn in txns {
            txn.commit()?;
        }
        drop(held);
        Ok(value)
    }
}

/// What an append needs to know about the file without reading all of it.
#[derive(Debug)]
pub(super) struct Head {
    /// The keywords the text before the first heading declares.
    pub(super) declared: TodoKeywords,
    pub(super) ends_with_newline: bool,
    pub(super) is_empty: bool,
}

/// Reads the text before the first heading and the file's last bytes: enough to append.
/// Returns `None` when the full read must decide instead: the file is missing, the preamble
/// is too long to be worth it, the bytes read are not UTF-8 (the full read reports the
/// line), or the first line ends in CR: whether Emacs then reads the file with DOS line
/// endings depends on every other line (one LF-only line anywhere makes it read all as
/// Unix), so only a file whose first line ends in LF (which Emacs always reads as Unix) is
/// appended to from its head alone.
pub(super) fn read_head(path: &Path) -> Result<Option<Head>, OrgError> {
    const CHUNK: usize = 64 * 1024;
    let busy = || super::emacs_lock::holder(path).is_some();
    let read = |file: &mut File| {
        let len = file.metadata()?.len() as usize;
        let mut head = vec![0; len.min(CHUNK)];
        file.read_exact(&mut head)?;
        // The tail: where the new text joins, and a cheap check that the file is UTF-8 there.
        let tail_len = len.min(4096);
        let mut tail = vec![0; tail_len];
        file.seek(SeekFrom::Start((len - tail_len) as u64))?;
        file.read_exact(&mut tail)?;
        Ok((len, head, tail))
    };
    let Some((_, (len, head, tail))) = ReadFile::read_stable(path, busy, read)? else {
        return Ok(None);
    };
    let heading = head
        .split(|&b| b == b'\n')
        .scan(0, |offset, line| {
            let at = *offset;
            *offset += line.len() + 1;
            Some((at, line))
        })
        .find(|(_, line)| {
            line.first() == Some(&b'*') && {
                let stars = line.iter().take_while(|&&b| b == b'*').count();
                line.get(stars) == Some(&b' ')
            }
        });
    let preamble_end = match heading {
        Some((at, _)) => at,
        None if len <= CHUNK => len,
        None => return Ok(None),
    };
    let preamble = &head[..preamble_end];
    let mut declared = TodoKeywords::empty();
    for line in preamble.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(value) = keyword_line_value(line) {
            declared.push(KeywordSequence::parse(&String::from_utf8_lossy(value)));
        }
    }
    if memchr::memchr2(b'\n', b'\r', &head).is_some_and(|at| head[at] == b'\r') {
        return Ok(None);
    }
    let skip = tail
        .iter()
        .take(3)
        .take_while(|&&b| b & 0xC0 == 0x80)
        .count();
    let valid = std::str::from_utf8(preamble).is_ok() && std::str::from_utf8(&tail[skip..]).is_ok();
    if !valid {
        return Ok(None);
    }
    Ok(Some(Head {
        declared,
        ends_with_newline: tail.last().is_none_or(|&b| b == b'\n'),
        is_empty: len == 0,
    }))
}
