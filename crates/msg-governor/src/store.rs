//! Where the state lives and how it is changed: a snapshot, `governor.json`, continued by an
//! append-only journal, `governor.journal`, under one lock, `governor.json.lock`.
//!
//! **Why a journal.** Rewriting the whole file for every admission costs two `fsync`s (file
//! and directory) inside the lock, so processes admitting at once queue behind each other's
//! disk flushes: about 500–1,500 admissions/s on the reference machine, depending on how busy
//! the disk is. Instead, a change is one line appended to the journal under the lock, and
//! its `fdatasync` happens after the lock is released: the flushes of several processes
//! overlap and the file system commits them together (group commit), while the decisions
//! themselves stay strictly one after another. A call returns only after its own line is on
//! disk, and a line can only be on disk with every line before it (the same file, flushed
//! as a whole), so an acknowledged admission is never lost and never depends on one that
//! could be.
//!
//! **Compaction.** When the journal passes [`COMPACT_AFTER_LINES`] lines or
//! [`COMPACT_AFTER_BYTES`], on the first change of a new budget day (which prunes old days
//! and imports the original's budget file of the day), and whenever the journal cannot be
//! appended to (missing, stale, an unfinished last line), the writer holding the lock writes
//! the whole state as a new snapshot with the next generation number, then a new journal
//! holding only a header with that number, both atomically (temporary file, fsync, rename,
//! directory fsync). A crash between the two leaves a snapshot that is newer than the
//! journal; the journal is then ignored (everything in it is in the snapshot) and replaced by
//! the next writer.
//!
//! **Caching.** Each process keeps the state it last read and where it stopped reading the
//! journal. Under the lock it checks that the snapshot is the one it read (its
//! `msg_core::fingerprint`: device, inode, length, modification and status change times)
//! and that the journal is the file it holds open (device and
//! inode: the journal only ever grows in place, and is replaced only by a rename, and while
//! the descriptor is open its inode number cannot be reused), then reads only the lines
//! added since. Anything else means a full re-read. So no decision starts from a stale copy,
//! and a writer reads a few hundred bytes instead of the whole state.
//!
//! Readers (`explain`, `usage`, ...) take the shared lock so that they never see a snapshot
//! and a journal from different generations.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use msg_core::durable::{DEFAULT_LOCK_TIMEOUT, FileLock, append_to, io_error, write_atomically};
use msg_core::fingerprint::Fingerprint;
use time::{Date, OffsetDateTime};

use crate::FORMAT;
use crate::GovernorError;
use crate::journal::{Header, Op, complete_lines, parse_line};
use crate::legacy;
use crate::state::{self, State, unix_seconds};

/// The snapshot's name inside the state directory. Its lock is `governor.json.lock`.
pub(crate) const STATE_FILE: &str = "governor.json";
/// The journal's name inside the state directory.
pub(crate) const JOURNAL_FILE: &str = "governor.journal";
/// Journal lines (header included) after which the next change compacts.
const COMPACT_AFTER_LINES: u64 = 1000;
/// Journal bytes after which the next change compacts.
const COMPACT_AFTER_BYTES: u64 = 256 * 1024;

/// The state directory and this process's copy of what is in it.
#[derive(Debug)]
pub(crate) struct StateStore {
    dir: PathBuf,
    snapshot: PathBuf,
    journal: PathBuf,
    lock_timeout: Duration,
    /// Taken only while holding the file lock, so it never waits long; it serialises the
    /// threads of one process that share a governor.
    cache: Mutex<Option<Cache>>,
}

/// The state as of the last read, and where that read stopped.
#[derive(Debug)]
struct Cache {
    state: State,
    snapshot_id: Option<Fingerprint>,
    journal: Option<Journal>,
}

/// The open journal.
#[derive(Debug)]
struct Journal {
    /// Opened for reading and appending; kept open so that its inode stays ours.
    file: File,
    dev: u64,
    ino: u64,
    /// Bytes of complete lines read so far.
    offset: u64,
    /// Lines read so far, header included.
    lines: u64,
    /// Whether the header's generation is the snapshot's. Only then are its lines part of
    /// the state, and only then may lines be appended.
    continues_snapshot: bool,
    /// Whether bytes follow the last complete line (being written now, or left by a crash).
    unfinished_tail: bool,
}

impl Cache {
    fn needs_compaction(&self) -> bool {
        match &self.journal {
            None => true,
            Some(journal) => {
                !journal.continues_snapshot
                    || journal.unfinished_tail
                    || journal.lines >= COMPACT_AFTER_LINES
                    || journal.offset >= COMPACT_AFTER_BYTES
            }
        }
    }
}

impl StateStore {
    pub(crate) fn new(dir: PathBuf) -> StateStore {
        StateStore {
            snapshot: dir.join(STATE_FILE),
            journal: dir.join(JOURNAL_FILE),
            dir,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            cache: Mutex::new(None),
        }
    }

    pub(crate) fn set_lock_timeout(&mut self, timeout: Duration) {
        self.lock_timeout = timeout;
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn file(&self) -> &Path {
        &self.snapshot
    }

    /// Whether any state has been written here.
    pub(crate) fn exists(&self) -> bool {
        self.snapshot.exists() || self.journal.exists()
    }

    /// Runs `view` on the state as the checks of `today` see it.
    pub(crate) fn read<T>(
        &self,
        today: Date,
        view: impl FnOnce(&State) -> T,
    ) -> Result<T, GovernorError> {
        if !self.exists() {
            // Nothing to lock: a read creates no directory and no lock file.
            let empty = State::empty();
            let seeded = normalize(&empty, &self.dir, today)?;
            return Ok(view(seeded.as_ref().unwrap_or(&empty)));
        }
        let _shared = FileLock::shared(&self.snapshot, self.lock_timeout)?;
        let mut slot = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let cache = self.refresh(&mut slot)?;
        let normalized = normalize(&cache.state, &self.dir, today)?;
        Ok(view(normalized.as_ref().unwrap_or(&cache.state)))
    }

    /// Runs `change` on the state as the checks of `today` see it, under the exclusive lock,
    /// and records the operation it returns. Returns once the operation is on disk.
    pub(crate) fn update<T>(
        &self,
        today: Date,
        now: OffsetDateTime,
        change: impl FnOnce(&State) -> Result<(T, Option<Op>), GovernorError>,
    ) -> Result<T, GovernorError> {
        let lock = FileLock::exclusive(&self.snapshot, self.lock_timeout)?;
        let mut slot = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let outcome = self.update_locked(&mut slot, today, now, change);
        if outcome.is_err() {
            // Whatever failed may have left the copy ahead of the files: read them afresh.
            *slot = None;
        }
        drop(slot);
        drop(lock);
        let (value, appended_to) = outcome?;
        if let Some(journal) = appended_to {
            // After the lock, so that other processes decide while this flush runs and
            // theirs join it. Until it returns, the caller has been told nothing.
            journal
                .sync_data()
                .map_err(io_error("sync", &self.journal))?;
        }
        Ok(value)
    }

    /// The part of `update` under the lock. Returns the journal to sync when a line was
    /// appended (a compaction is durable when it returns).
    fn update_locked<T>(
        &self,
        slot: &mut Option<Cache>,
        today: Date,
        now: OffsetDateTime,
        change: impl FnOnce(&State) -> Result<(T, Option<Op>), GovernorError>,
    ) -> Result<(T, Option<File>), GovernorError> {
        let cache = self.refresh(slot)?;
        let normalized = normalize(&cache.state, &self.dir, today)?;
        let (value, op) = change(normalized.as_ref().unwrap_or(&cache.state))?;
        let Some(op) = op else {
            return Ok((value, None));
        };
        let compact = normalized.is_some() || cache.needs_compaction();
        if let Some(state) = normalized {
            cache.state = state;
        }
        cache
            .state
            .apply(&op)
            .map_err(|message| GovernorError::Corrupt {
                // `change` decided on this very state, so this is unreachable; if it ever
                // happens, nothing has been written.
                path: self.journal.clone(),
                line: None,
                column: None,
                message,
            })?;
        match cache.journal.as_mut() {
            Some(journal) if !compact => {
                let line = op.line();
                // One `write` on a descriptor opened for appending: it lands at the end, as
                // one piece for every reader that takes the lock after us. A write that
                // fails part way (a full disk) is cut back, so no half line stays behind.
                append_to(&journal.file, &self.journal, &line)?;
                journal.offset += line.len() as u64;
                journal.lines += 1;
                let to_sync = journal
                    .file
                    .try_clone()
                    .map_err(io_error("duplicate the descriptor of", &self.journal))?;
                Ok((value, Some(to_sync)))
            }
            _ => {
                self.compact(cache, today, now)?;
                Ok((value, None))
            }
        }
    }

    /// Writes the whole state as a new snapshot and starts a new journal after it.
    fn compact(
        &self,
        cache: &mut Cache,
        today: Date,
        now: OffsetDateTime,
    ) -> Result<(), GovernorError> {
        cache.state.generation += 1;
        cache.state.prune(today, unix_seconds(now));
        let mut snapshot =
            serde_json::to_vec_pretty(&cache.state).map_err(|err| GovernorError::Corrupt {
                // Only non-finite floats fail to serialise; reading rejects them and the
                // governor never makes one.
                path: self.snapshot.clone(),
                line: None,
                column: None,
                message: format!("cannot serialise the state: {err}"),
            })?;
        snapshot.push(b'\n');
        // Snapshot first: if the journal's replacement never happens, the old journal's
        // generation is lower and it is ignored, its lines being in the snapshot already.
        write_atomically(&self.snapshot, &snapshot)?;
        let header = Header::new(cache.state.generation).line();
        write_atomically(&self.journal, &header)?;
        let file = open_journal(&self.journal)?;
        let meta = file
            .metadata()
            .map_err(io_error("read the metadata of", &self.journal))?;
        cache.journal = Some(Journal {
            file,
            dev: meta.dev(),
            ino: meta.ino(),
            offset: header.len() as u64,
            lines: 1,
            continues_snapshot: true,
            unfinished_tail: false,
        });
        cache.snapshot_id = self.snapshot_id()?;
        Ok(())
    }

    /// Brings the cached copy up to date with the files (the lock is held).
    fn refresh<'c>(&self, slot: &'c mut Option<Cache>) -> Result<&'c mut Cache, GovernorError> {
        let snapshot_id = self.snapshot_id()?;
        let journal_meta = match fs::metadata(&self.journal) {
            Ok(meta) => Some(meta),
            Err(err) if err.kind() == io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(GovernorError::Read {
                    path: self.journal.clone(),
                    source,
                });
            }
        };
        let cache = match slot.take() {
            Some(mut cache) if cache.snapshot_id == snapshot_id => {
                match (&cache.journal, &journal_meta) {
                    (Some(journal), Some(meta))
                        if journal.dev == meta.dev()
                            && journal.ino == meta.ino()
                            && meta.len() >= journal.offset =>
                    {
                        self.read_journal_tail(&mut cache)?;
                        cache
                    }
                    (None, None) => cache,
                    _ => self.load(snapshot_id)?,
                }
            }
            _ => self.load(snapshot_id)?,
        };
        Ok(slot.insert(cache))
    }

    fn snapshot_id(&self) -> Result<Option<Fingerprint>, GovernorError> {
        match fs::metadata(&self.snapshot) {
            Ok(meta) => Ok(Some(Fingerprint::of_metadata(&meta))),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(GovernorError::Read {
                path: self.snapshot.clone(),
                source,
            }),
        }
    }

    /// Reads the snapshot and the whole journal.
    fn load(&self, snapshot_id: Option<Fingerprint>) -> Result<Cache, GovernorError> {
        let mut state = match fs::read(&self.snapshot) {
            Ok(bytes) => state::parse(&self.snapshot, &bytes)?,
            Err(err) if err.kind() == io::ErrorKind::NotFound => State::empty(),
            Err(source) => {
                return Err(GovernorError::Read {
                    path: self.snapshot.clone(),
                    source,
                });
            }
        };
        let journal = match open_journal(&self.journal) {
            Ok(file) => Some(self.read_journal(file, &mut state)?),
            Err(GovernorError::Read { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                None
            }
            Err(err) => return Err(err),
        };
        Ok(Cache {
            state,
            snapshot_id,
            journal,
        })
    }

    /// Reads a whole journal, applying its lines to `state` when it continues it.
    fn read_journal(&self, file: File, state: &mut State) -> Result<Journal, GovernorError> {
        let meta = file
            .metadata()
            .map_err(io_error("read the metadata of", &self.journal))?;
        let bytes = read_from(&file, 0, &self.journal)?;
        let mut journal = Journal {
            file,
            dev: meta.dev(),
            ino: meta.ino(),
            offset: 0,
            lines: 0,
            continues_snapshot: false,
            unfinished_tail: !bytes.is_empty(),
        };
        let (lines, _) = complete_lines(&bytes);
        let Some(header) = lines.first() else {
            // Empty, or a header never finished: nothing in it counts.
            return Ok(journal);
        };
        let header: Header = parse_line(&self.journal, 1, header)?;
        if header.format > FORMAT {
            return Err(GovernorError::UnsupportedFormat {
                path: self.journal.clone(),
                found: header.format,
                supported: FORMAT,
            });
        }
        if header.format != FORMAT {
            return Err(GovernorError::Corrupt {
                path: self.journal.clone(),
                line: Some(1),
                column: None,
                message: format!(
                    "format: {} is not a known format (expected {FORMAT})",
                    header.format
                ),
            });
        }
        if header.generation > state.generation {
            return Err(GovernorError::Corrupt {
                path: self.journal.clone(),
                line: Some(1),
                column: None,
                message: format!(
                    "it continues generation {} of {STATE_FILE}, but {} holds generation {}; put back the {STATE_FILE} written with it",
                    header.generation,
                    self.snapshot.display(),
                    state.generation
                ),
            });
        }
        journal.offset = (lines[0].len() + 1) as u64;
        journal.lines = 1;
        journal.continues_snapshot = header.generation == state.generation;
        journal.unfinished_tail = false;
        if journal.continues_snapshot {
            let rest = &bytes[lines[0].len() + 1..];
            self.apply_lines(state, &mut journal, rest)?;
        }
        Ok(journal)
    }

    /// Reads and applies the lines appended since the last read.
    fn read_journal_tail(&self, cache: &mut Cache) -> Result<(), GovernorError> {
        let Some(journal) = cache.journal.as_mut() else {
            return Ok(());
        };
        if !journal.continues_snapshot {
            return Ok(());
        }
        let bytes = read_from(&journal.file, journal.offset, &self.journal)?;
        self.apply_lines(&mut cache.state, journal, &bytes)
    }

    fn apply_lines(
        &self,
        state: &mut State,
        journal: &mut Journal,
        bytes: &[u8],
    ) -> Result<(), GovernorError> {
        let (lines, complete) = complete_lines(bytes);
        for line in lines {
            journal.lines += 1;
            let op: Op = parse_line(&self.journal, journal.lines, line)?;
            state.apply(&op).map_err(|message| GovernorError::Corrupt {
                path: self.journal.clone(),
                line: usize::try_from(journal.lines).ok(),
                column: None,
                message,
            })?;
        }
        journal.offset += complete as u64;
        journal.unfinished_tail = complete < bytes.len();
        Ok(())
    }
}

fn open_journal(path: &Path) -> Result<File, GovernorError> {
    OpenOptions::new()
        .read(true)
        .append(true)
        .open(path)
        .map_err(|source| GovernorError::Read {
            path: path.to_owned(),
            source,
        })
}

/// Everything in `file` from `offset` to its end. `read_to_end` grows the buffer with the
/// file instead of zeroing a fixed chunk for every read (a journal is usually a few lines).
fn read_from(file: &File, offset: u64, path: &Path) -> Result<Vec<u8>, GovernorError> {
    /// The file from an offset, read with `pread`: the descriptor's own position (which
    /// appends ignore anyway) is left alone.
    struct Tail<'f> {
        file: &'f File,
        offset: u64,
    }
    impl io::Read for Tail<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.file.read_at(buf, self.offset)?;
            self.offset += n as u64;
            Ok(n)
        }
    }
    let mut bytes = Vec::new();
    io::Read::read_to_end(&mut Tail { file, offset }, &mut bytes).map_err(|source| {
        GovernorError::Read {
            path: path.to_owned(),
            source,
        }
    })?;
    Ok(bytes)
}

/// The state as the checks of `today` see it, when that differs from `state`: a day the
/// state has not met yet is seeded from the original's budget file of that day (if any) and
/// marked as met, and imported active tasks of earlier days are dropped (they expired at
/// their midnight, as in the original). A writer persists the result by compacting.
fn normalize(state: &State, dir: &Path, today: Date) -> Result<Option<State>, GovernorError> {
    let today_key = today.to_string();
    let expired =
        |legacy_day: &Option<String>| legacy_day.as_ref().is_some_and(|day| *day < today_key);
    let new_day = !state.days.contains_key(&today_key);
    let any_expired = state
        .admissions
        .values()
        .any(|admission| expired(&admission.legacy_day));
    if !new_day && !any_expired {
        return Ok(None);
    }
    let mut normalized = state.clone();
    normalized
        .admissions
        .retain(|_, admission| !expired(&admission.legacy_day));
    if new_day {
        legacy::seed(&mut normalized, dir, today)?;
        normalized.days.entry(today_key).or_default();
    }
    Ok(Some(normalized))
}
