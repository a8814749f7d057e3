//! The durable spool (`--spool DIR`): the offline queues as an append-only log, so that what
//! the relay accepted survives a restart or a crash.
//!
//! One file, `DIR/queue.log`: an 8-byte magic, then records, each `length: u32 LE`,
//! `checksum: u32 LE` (the first four bytes of the payload's blake3 hash) and a JSON payload:
//! `accept` (a queued message, with everything needed to deliver it), `done` (acknowledged,
//! written to a v0.2.0 client, or expired) or `seen` (a send that left its queue but is still
//! in the dedupe window, kept by compaction). `DIR/queue.log.lock` is held (`flock`) while
//! the relay runs, so two relays cannot share a spool.
//!
//! One writer thread owns the file. Under the registry lock the queues hand it records
//! through a channel, so the log's order is the order of the changes. It takes whatever has
//! arrived, writes it with one `write`, calls `fdatasync` once for all of it (group commit:
//! concurrent senders share one sync), and only then pushes the `queued` acks that waited for
//! those records: accepted means durable. `done` records wait for nobody; losing the last
//! ones in a crash only means delivering those messages once more (at-least-once).
//!
//! When live records are less than a quarter of a file over 1 MiB (and the file has doubled
//! since the last compaction), the writer compacts it: the live `accept` records, and a `seen`
//! record for each send still in the dedupe window (at most its number of entries), go to a
//! temporary file, synced, renamed over the log, directory synced
//! ([`msg_core::durable::write_atomically`]). So a relay restarted within the window still
//! recognises a repeated send of a message it delivered and let go.
//!
//! Recovery reads the log front to back. A last record cut short (the relay died in the
//! middle of an append) is dropped and the file truncated to the records before it; a record
//! that fails its checksum or does not parse *before* the end is corruption the relay refuses
//! to guess about: [`SpoolError::Corrupt`] names the file and the byte offset.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use msg_core::durable::{self, DurableError, FileLock};
use serde::{Deserialize, Serialize};
use tokio_tungstenite::tungstenite::Message;

use crate::session::Outbox;

/// The first bytes of a spool log; the digit is the format version.
const MAGIC: &[u8; 8] = b"MRSPOOL1";
/// Record header: length and checksum.
const HEADER: usize = 8;
/// A record larger than this is not a record (a frame is at most a few MiB).
const MAX_RECORD: usize = 64 * 1024 * 1024;
/// Compaction is considered above this file size.
const COMPACT_MIN_BYTES: u64 = 1024 * 1024;
/// Requests the writer takes into one group commit at most.
const MAX_BATCH: usize = 4096;

/// Why the spool cannot be opened or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpoolError {
    /// Another relay holds the spool directory.
    #[error(
        "spool directory {dir} is in use by another relay (its queue.log.lock is held); \
         give each relay its own --spool directory"
    )]
    Locked {
        /// The spool directory.
        dir: PathBuf,
    },
    /// A record in the middle of the log is damaged: not a torn last append but corruption.
    #[error(
        "spool log {path} is corrupt at byte offset {offset}: {reason}; the relay does not \
         guess which queued messages are lost. Move the file aside to start with an empty \
         spool, or truncate it to {offset} bytes to keep the records before the damage"
    )]
    Corrupt {
        /// The log file.
        path: PathBuf,
        /// Where the damaged record starts.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The token generations file cannot be read as one.
    #[error(
        "token generations file {path} is not valid: {reason}; restore it from a backup (every \
         name it lists would otherwise accept its revoked tokens again), or rotate the secret"
    )]
    BadTokens {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file operation failed.
    #[error(transparent)]
    Io(#[from] DurableError),
}

/// The file of a spool directory that holds the token generations of the names whose tokens
/// were revoked.
const TOKENS_FILE: &str = "tokens.json";

/// `tokens.json`: `{"generations":{"alice":2}}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokensFile {
    generations: BTreeMap<String, u32>,
}

/// The token generations recorded in the spool directory `dir` (none when it has no
/// `tokens.json`).
fn read_token_generations(dir: &Path) -> Result<BTreeMap<String, u32>, SpoolError> {
    let path = dir.join(TOKENS_FILE);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(err) => return Err(durable::io_error("read", &path)(err).into()),
    };
    serde_json::from_slice::<TokensFile>(&text)
        .map(|file| file.generations)
        .map_err(|err| SpoolError::BadTokens {
            path,
            reason: err.to_string(),
        })
}

/// One record of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub(crate) enum Record {
    /// A message entered a recipient's queue.
    Accept {
        seq: u64,
        from: String,
        to: String,
        id: String,
        /// When it was accepted, in milliseconds since the Unix epoch (its age after a
        /// restart counts from here).
        at_ms: u64,
        /// The sender's ack said `delivered` (else `queued`): what a repeated send is told.
        /// Absent in logs written before it existed: `queued`.
        #[serde(default)]
        delivered: bool,
        /// The `message` frame as written to the recipient.
        frame: String,
    },
    /// The message left its queue.
    Done { seq: u64 },
    /// A send no longer queued that is still in the dedupe window (written by compaction in
    /// place of its `accept`).
    Seen {
        from: String,
        to: String,
        id: String,
        at_ms: u64,
        delivered: bool,
    },
}

/// A queued message found in the log at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recovered {
    pub(crate) seq: u64,
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) id: String,
    pub(crate) at_ms: u64,
    pub(crate) delivered: bool,
    pub(crate) frame: String,
}

/// A send the log remembers, for the dedupe window: (sender, id, recipient), when, and what
/// the sender was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SeenSend {
    pub(crate) from: String,
    pub(crate) to: String,
    pub(crate) id: String,
    pub(crate) at_ms: u64,
    pub(crate) delivered: bool,
}

/// What the log held at start.
#[derive(Debug, Default)]
pub(crate) struct Recovery {
    /// The queued messages, oldest first.
    pub(crate) queued: Vec<Recovered>,
    /// Every send that left its queue, as far back as the log remembers, oldest first (the
    /// relay keeps those still in its dedupe window).
    pub(crate) seen: Vec<SeenSend>,
    /// The highest sequence number the log used.
    pub(crate) max_seq: u64,
}

enum Request {
    Append(Record),
    /// Push `frame` to `outbox` once everything sent before this request is on disk.
    AfterSync(Outbox, Message),
    /// Answer once everything sent before is on disk (shutdown).
    Sync(tokio::sync::oneshot::Sender<()>),
    /// How long, and how many, sends a compaction keeps for the dedupe window.
    Remember {
        window: Duration,
        max_entries: usize,
    },
}

/// The durable spool of a relay, opened with [`Spool::open`] and handed to
/// [`run`](crate::run) in [`RelayConfig::spool`](crate::RelayConfig::spool). Clones share it.
#[derive(Clone)]
pub struct Spool {
    inner: Arc<Inner>,
}

struct Inner {
    dir: PathBuf,
    /// The receiver is held by the writer thread, which ends when every sender is gone.
    /// `None` only while dropping.
    requests: Option<mpsc::Sender<Request>>,
    /// Joined on drop, so the directory lock is released only after the last write.
    writer: Option<std::thread::JoinHandle<()>>,
    /// What the log held at start; taken once by the relay that uses this spool.
    recovered: Mutex<Option<Recovery>>,
    /// `tokens.json` as found at open.
    token_generations: BTreeMap<String, u32>,
    failure: Arc<Failure>,
    _lock: FileLock,
}

/// The writer's first failure, shared with the relay, which shuts down on it.
#[derive(Default)]
struct Failure {
    error: Mutex<Option<String>>,
    notify: tokio::sync::Notify,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spool")
            .field("dir", &self.inner.dir)
            .finish_non_exhaustive()
    }
}

impl Spool {
    /// Opens (creating if needed) the spool in `dir`: locks it, recovers the log (dropping a
    /// torn last record), and starts the writer thread.
    pub fn open(dir: &Path) -> Result<Spool, SpoolError> {
        std::fs::create_dir_all(dir)
            .map_err(durable::io_error("create the spool directory", dir))?;
        let path = dir.join("queue.log");
        let lock = match FileLock::exclusive(&path, Duration::ZERO) {
            Ok(lock) => lock,
            Err(DurableError::LockTimeout { .. }) => {
                return Err(SpoolError::Locked {
                    dir: dir.to_owned(),
                });
            }
            Err(err) => return Err(err.into()),
        };
        let (recovery, valid_len) = recover(&path)?;
        let token_generations = read_token_generations(dir)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(durable::io_error("open", &path))?;
        let file_len = if valid_len < MAGIC.len() as u64 {
            // New, or a magic cut short: start the file over.
            file.set_len(0)
                .and_then(|()| file.write_all(MAGIC))
                .and_then(|()| file.sync_all())
                .map_err(durable::io_error("start", &path))?;
            MAGIC.len() as u64
        } else {
            // Drop a torn last record, so new records follow whole ones.
            file.set_len(valid_len)
                .and_then(|()| file.sync_all())
                .map_err(durable::io_error("truncate the torn end of", &path))?;
            valid_len
        };
        file.seek(SeekFrom::End(0))
            .map_err(durable::io_error("seek to the end of", &path))?;
        let live: HashMap<u64, u64> = recovery
            .queued
            .iter()
            .map(|record| (record.seq, encoded_len_of_recovered(record)))
            .collect();
        let failure = Arc::new(Failure::default());
        let (requests, receiver) = mpsc::channel();
        let writer = Writer {
            path: path.clone(),
            file,
            file_len,
            live_bytes: live.values().sum(),
            live,
            next_compaction: COMPACT_MIN_BYTES,
            window: Duration::ZERO,
            window_entries: 0,
            failure: Arc::clone(&failure),
        };
        let writer = std::thread::Builder::new()
            .name("msg-relay-spool".to_owned())
            .spawn(move || writer.run(&receiver))
            .map_err(durable::io_error("start the writer thread of", &path))?;
        Ok(Spool {
            inner: Arc::new(Inner {
                dir: dir.to_owned(),
                requests: Some(requests),
                writer: Some(writer),
                recovered: Mutex::new(Some(recovery)),
                token_generations,
                failure,
                _lock: lock,
            }),
        })
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The write error that stopped the spool, if one did. The relay shuts down on it (it
    /// can no longer promise that what it accepts is durable).
    pub fn failure(&self) -> Option<String> {
        self.inner
            .failure
            .error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Completes when the writer failed.
    pub(crate) async fn failed(&self) {
        loop {
            let notified = self.inner.failure.notify.notified();
            if self.failure().is_some() {
                return;
            }
            notified.await;
        }
    }

    /// The token generation of every name whose tokens were revoked, as recorded at open.
    pub(crate) fn token_generations(&self) -> BTreeMap<String, u32> {
        self.inner.token_generations.clone()
    }

    /// Records `generations` durably (a temporary file, synced and renamed over
    /// `tokens.json`), before the relay acts on them: a revocation survives a restart.
    pub(crate) fn store_token_generations(
        &self,
        generations: &BTreeMap<String, u32>,
    ) -> Result<(), SpoolError> {
        let file = TokensFile {
            generations: generations.clone(),
        };
        // A map of strings to numbers always serialises.
        let text = serde_json::to_vec_pretty(&file).expect("token generations serialise");
        durable::write_atomically(&self.inner.dir.join(TOKENS_FILE), &text)?;
        Ok(())
    }

    /// The token generation of `username` recorded in the spool directory `dir`: 0 unless
    /// its tokens were revoked. Reads without taking the spool, which a running relay holds
    /// (`msg-relay token NAME --spool DIR` uses it to print the token that works now).
    pub fn token_generation(dir: &Path, username: &str) -> Result<u32, SpoolError> {
        Ok(read_token_generations(dir)?
            .get(username)
            .copied()
            .unwrap_or(0))
    }

    /// What the log held at open; `None` after the first call.
    pub(crate) fn take_recovered(&self) -> Option<Recovery> {
        self.inner
            .recovered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn request(&self, request: Request) -> bool {
        // Fails only when the writer stopped after a failure, which `failure` reports.
        self.inner
            .requests
            .as_ref()
            .is_some_and(|requests| requests.send(request).is_ok())
    }

    pub(crate) fn append(&self, record: Record) {
        self.request(Request::Append(record));
    }

    /// Tells compaction to keep, for each send that left its queue within `window` (at most
    /// `max_entries`, the newest), a `seen` record: the relay's dedupe window.
    pub(crate) fn remember_sends(&self, window: Duration, max_entries: usize) {
        self.request(Request::Remember {
            window,
            max_entries,
        });
    }

    /// Pushes `frame` to `outbox` once every record appended so far is on disk.
    pub(crate) fn after_sync(&self, outbox: Outbox, frame: Message) {
        self.request(Request::AfterSync(outbox, frame));
    }

    /// Waits until every record appended so far is on disk.
    pub(crate) async fn sync(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.request(Request::Sync(done)) {
            let _ = wait.await;
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the writer after what is queued; the lock (a field,
        // dropped after this) is released only then, so a new relay never writes alongside
        // a finishing one.
        self.requests.take();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

struct Writer {
    path: PathBuf,
    file: File,
    file_len: u64,
    /// Live `accept` records: seq → encoded length.
    live: HashMap<u64, u64>,
    /// The sum of `live`.
    live_bytes: u64,
    /// The file length below which it is not compacted: twice what the last compaction left
    /// (the `seen` records it keeps are not live, and must not make it compact every batch).
    next_compaction: u64,
    /// What compaction keeps of sends that left their queues ([`Request::Remember`]).
    window: Duration,
    window_entries: usize,
    failure: Arc<Failure>,
}

impl Writer {
    fn run(mut self, requests: &mpsc::Receiver<Request>) {
        let mut buffer = Vec::new();
        let mut waiting = Vec::new();
        while let Ok(first) = requests.recv() {
            buffer.clear();
            let mut next = Some(first);
            let mut taken = 0;
            while let Some(request) = next.take() {
                match request {
                    Request::Append(record) => {
                        let start = buffer.len();
                        encode(&record, &mut buffer);
                        let len = (buffer.len() - start) as u64;
                        match record {
                            Record::Accept { seq, .. } => {
                                self.live_bytes += len;
                                if let Some(old) = self.live.insert(seq, len) {
                                    self.live_bytes -= old;
                                }
                            }
                            Record::Done { seq } => {
                                if let Some(old) = self.live.remove(&seq) {
                                    self.live_bytes -= old;
                                }
                            }
                            Record::Seen { .. } => {}
                        }
                    }
                    Request::Remember {
                        window,
                        max_entries,
                    } => {
                        self.window = window;
                        self.window_entries = max_entries;
                    }
                    other => waiting.push(other),
                }
                taken += 1;
                if taken < MAX_BATCH {
                    next = requests.try_recv().ok();
                }
            }
            if !buffer.is_empty() {
                let written = self
                    .file
                    .write_all(&buffer)
                    .and_then(|()| self.file.sync_data());
                if let Err(err) = written {
                    self.fail(format!("cannot append to {}: {err}", self.path.display()));
                    return;
                }
                self.file_len += buffer.len() as u64;
            }
            // Before the waiting acks: a compaction's own syncs then count for them too.
            if let Err(err) = self.maybe_compact() {
                self.fail(err.to_string());
                return;
            }
            for request in waiting.drain(..) {
                match request {
                    Request::AfterSync(outbox, frame) => {
                        // A full or closed outbox: the sender is not reading or gone; its
                        // message is on disk either way, and a repeated send is re-acked.
                        let _ = outbox.push(frame);
                    }
                    Request::Sync(done) => {
                        let _ = done.send(());
                    }
                    Request::Append(_) | Request::Remember { .. } => {
                        unreachable!("appends and settings are not kept waiting")
                    }
                }
            }
        }
    }

    fn fail(&self, message: String) {
        *self
            .failure
            .error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(message);
        self.failure.notify.notify_waiters();
    }

    /// Rewrites the log with the live records (and the sends still in the dedupe window)
    /// only, when they are a small part of a large file.
    fn maybe_compact(&mut self) -> Result<(), DurableError> {
        if self.file_len < self.next_compaction || self.live_bytes * 4 > self.file_len {
            return Ok(());
        }
        let mut old = Vec::new();
        File::open(&self.path)
            .and_then(|mut file| file.read_to_end(&mut old))
            .map_err(durable::io_error("read for compaction", &self.path))?;
        let window_ms = u64::try_from(self.window.as_millis()).unwrap_or(u64::MAX);
        let since_ms = unix_ms().saturating_sub(window_ms);
        let keeps = |at_ms: u64| self.window_entries > 0 && window_ms > 0 && at_ms >= since_ms;
        let mut live = Vec::with_capacity(self.live_bytes as usize);
        // Encoded `seen` records, oldest first; the oldest go beyond the window's size.
        let mut seen: std::collections::VecDeque<Vec<u8>> = std::collections::VecDeque::new();
        let mut offset = MAGIC.len();
        // Everything in the file was written by this writer or recovered, so it parses.
        while let Some((record, len)) = parse_at(&old, offset).ok().flatten() {
            let bytes = &old[offset..offset + len];
            match record {
                Record::Accept { seq, .. } if self.live.contains_key(&seq) => {
                    live.extend_from_slice(bytes);
                }
                Record::Accept {
                    from,
                    to,
                    id,
                    at_ms,
                    delivered,
                    ..
                } if keeps(at_ms) => {
                    let mut encoded = Vec::new();
                    encode(
                        &Record::Seen {
                            from,
                            to,
                            id,
                            at_ms,
                            delivered,
                        },
                        &mut encoded,
                    );
                    seen.push_back(encoded);
                }
                Record::Seen { at_ms, .. } if keeps(at_ms) => seen.push_back(bytes.to_vec()),
                _ => {}
            }
            if seen.len() > self.window_entries {
                seen.pop_front();
            }
            offset += len;
        }
        let mut new = Vec::with_capacity(MAGIC.len() + live.len() + seen.len() * 128);
        new.extend_from_slice(MAGIC);
        for record in &seen {
            new.extend_from_slice(record);
        }
        new.extend_from_slice(&live);
        durable::write_atomically(&self.path, &new)?;
        self.file = OpenOptions::new()
            .append(true)
            .open(&self.path)
            .map_err(durable::io_error("reopen after compaction", &self.path))?;
        self.file_len = new.len() as u64;
        self.next_compaction = COMPACT_MIN_BYTES.max(2 * self.file_len);
        Ok(())
    }
}

/// Wall-clock milliseconds since the Unix epoch: what `at_ms` counts.
pub(crate) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

fn encode(record: &Record, out: &mut Vec<u8>) {
    // Serialising a record cannot fail: strings and numbers only.
    let payload = serde_json::to_vec(record).expect("records always serialise");
    let checksum = blake3::hash(&payload);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&checksum.as_bytes()[..4]);
    out.extend_from_slice(&payload);
}

fn encoded_len_of_recovered(record: &Recovered) -> u64 {
    let mut out = Vec::new();
    encode(
        &Record::Accept {
            seq: record.seq,
            from: record.from.clone(),
            to: record.to.clone(),
            id: record.id.clone(),
            at_ms: record.at_ms,
            delivered: record.delivered,
            frame: record.frame.clone(),
        },
        &mut out,
    );
    out.len() as u64
}

/// The record at `offset` and its encoded length; `Ok(None)` at the end of the data.
/// `Err(Torn)` when the data ends inside the record; `Err(Bad)` when it is complete but
/// damaged.
fn parse_at(data: &[u8], offset: usize) -> Result<Option<(Record, usize)>, Damage> {
    let rest = &data[offset..];
    if rest.is_empty() {
        return Ok(None);
    }
    if rest.len() < HEADER {
        return Err(Damage::Torn);
    }
    let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
    if len > MAX_RECORD {
        // A length this large is garbage; at the end of the file, a torn header.
        return Err(Damage::Bad(format!("record length {len} is impossible")));
    }
    if rest.len() < HEADER + len {
        return Err(Damage::Torn);
    }
    let payload = &rest[HEADER..HEADER + len];
    if blake3::hash(payload).as_bytes()[..4] != rest[4..8] {
        return Err(Damage::Bad("checksum mismatch".to_owned()));
    }
    let record = serde_json::from_slice(payload)
        .map_err(|err| Damage::Bad(format!("record is not valid: {err}")))?;
    Ok(Some((record, HEADER + len)))
}

enum Damage {
    Torn,
    Bad(String),
}

/// Reads the log at `path`: what it holds, and the length of the whole records (where new
/// ones go).
fn recover(path: &Path) -> Result<(Recovery, u64), SpoolError> {
    let data = match std::fs::read(path) {
        Ok(data) => data,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(err) => return Err(durable::io_error("read", path)(err).into()),
    };
    let not_a_spool = || SpoolError::Corrupt {
        path: path.to_owned(),
        offset: 0,
        reason: "not a msg-relay spool log (no MRSPOOL1 header)".to_owned(),
    };
    if data.len() < MAGIC.len() {
        if !MAGIC.starts_with(&data) {
            return Err(not_a_spool());
        }
        return Ok((Recovery::default(), 0));
    }
    if &data[..MAGIC.len()] != MAGIC {
        return Err(not_a_spool());
    }
    let mut live: BTreeMap<u64, Recovered> = BTreeMap::new();
    let mut recovery = Recovery::default();
    let mut offset = MAGIC.len();
    loop {
        match parse_at(&data, offset) {
            Ok(None) => break,
            Ok(Some((record, len))) => {
                match record {
                    Record::Accept {
                        seq,
                        from,
                        to,
                        id,
                        at_ms,
                        delivered,
                        frame,
                    } => {
                        recovery.max_seq = recovery.max_seq.max(seq);
                        live.insert(
                            seq,
                            Recovered {
                                seq,
                                from,
                                to,
                                id,
                                at_ms,
                                delivered,
                                frame,
                            },
                        );
                    }
                    Record::Done { seq } => {
                        recovery.max_seq = recovery.max_seq.max(seq);
                        if let Some(done) = live.remove(&seq) {
                            recovery.seen.push(SeenSend {
                                from: done.from,
                                to: done.to,
                                id: done.id,
                                at_ms: done.at_ms,
                                delivered: done.delivered,
                            });
                        }
                    }
                    Record::Seen {
                        from,
                        to,
                        id,
                        at_ms,
                        delivered,
                    } => recovery.seen.push(SeenSend {
                        from,
                        to,
                        id,
                        at_ms,
                        delivered,
                    }),
                }
                offset += len;
            }
            // The relay died in the middle of appending this record: it was never
            // acknowledged to anyone, so dropping it loses nothing that was accepted.
            Err(Damage::Torn) => break,
            Err(Damage::Bad(reason)) => {
                if is_last_record(&data, offset) {
                    // A damaged record that ends the file: also a torn append (the length
                    // reached the disk, the payload only partly).
                    break;
                }
                return Err(SpoolError::Corrupt {
                    path: path.to_owned(),
                    offset: offset as u64,
                    reason,
                });
            }
        }
    }
    // Done in the order they left their queues; the dedupe window wants them by age.
    recovery.seen.sort_by_key(|seen| seen.at_ms);
    recovery.queued = live.into_values().collect();
    Ok((recovery, offset as u64))
}

/// Whether the record at `offset` reaches (or claims to reach past) the end of `data`.
fn is_last_record(data: &[u8], offset: usize) -> bool {
    let rest = &data[offset..];
    if rest.len() < HEADER {
        return true;
    }
    let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
    HEADER.saturating_add(len) >= rest.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(seq: u64, to: &str) -> Record {
        Record::Accept {
            seq,
            from: "alice".to_owned(),
            to: to.to_owned(),
            id: format!("m{seq}"),
            at_ms: 1_700_000_000_000 + seq,
            delivered: false,
            frame: format!(r#"{{"type":"message","id":"m{seq}"}}"#),
        }
    }

    fn log(records: &[Record]) -> Vec<u8> {
        let mut data = MAGIC.to_vec();
        for record in records {
            encode(record, &mut data);
        }
        data
    }

    fn seqs(recovered: &[Recovered]) -> Vec<u64> {
        recovered.iter().map(|record| record.seq).collect()
    }

    #[test]
    fn recovery_keeps_accepted_records_that_are_not_done() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("queue.log");
        let data = log(&[
            accept(1, "bob"),
            accept(2, "bob"),
            Record::Done { seq: 1 },
            accept(3, "carol"),
        ]);
        std::fs::write(&path, &data).unwrap();
        let (recovery, len) = recover(&path).unwrap();
        assert_eq!(seqs(&recovery.queued), [2, 3]);
        assert_eq!(recovery.queued[1].to, "carol");
        assert_eq!(recovery.max_seq, 3);
        // The one that left its queue is remembered for the dedupe window.
        assert_eq!(recovery.seen.len(), 1);
        assert_eq!(recovery.seen[0].id, "m1");
        assert_eq!(len, data.len() as u64);
    }

    #[test]
    fn a_torn_last_record_is_dropped_at_every_cut() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("queue.log");
        let whole = log(&[accept(1, "bob")]);
        let full = log(&[accept(1, "bob"), accept(2, "bob")]);
        // Cut the second record at every byte: the first always survives.
        for cut in whole.len()..full.len() {
            std::fs::write(&path, &full[..cut]).unwrap();
            let (recovery, len) = recover(&path).unwrap();
            assert_eq!(seqs(&recovery.queued), [1], "cut at {cut}");
            assert_eq!(len, whole.len() as u64);
        }
        // A whole-length last record whose payload did not reach the disk (zeros).
        let mut zeroed = full.clone();
        let payload_start = whole.len() + HEADER;
        zeroed[payload_start..].fill(0);
        std::fs::write(&path, &zeroed).unwrap();
        assert_eq!(seqs(&recover(&path).unwrap().0.queued), [1]);
    }

    #[test]
    fn a_damaged_record_in_the_middle_is_refused_with_file_and_offset() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("queue.log");
        let first = log(&[accept(1, "bob")]);
        let mut data = log(&[accept(1, "bob"), accept(2, "bob"), accept(3, "bob")]);
        data[first.len() + HEADER + 3] ^= 0x20; // a flipped bit in record 2
        std::fs::write(&path, &data).unwrap();
        let err = recover(&path).unwrap_err();
        let SpoolError::Corrupt { offset, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(*offset, first.len() as u64);
        let text = err.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains(&format!("offset {}", first.len())), "{text}");
        std::fs::write(&path, b"#!/bin/sh\necho not a spool\n").unwrap();
        assert!(matches!(
            recover(&path),
            Err(SpoolError::Corrupt { offset: 0, .. })
        ));
    }

    #[tokio::test]
    async fn open_truncates_a_torn_tail_appends_after_it_and_locks_the_directory() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("queue.log");
        let full = log(&[accept(1, "bob"), accept(2, "bob")]);
        let whole = log(&[accept(1, "bob")]);
        std::fs::write(&path, &full[..full.len() - 5]).unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        assert!(matches!(
            Spool::open(dir.path()),
            Err(SpoolError::Locked { .. })
        ));
        let recovery = spool.take_recovered().unwrap();
        assert_eq!(seqs(&recovery.queued), [1]);
        assert_eq!(recovery.max_seq, 1);
        spool.append(accept(3, "carol"));
        spool.append(Record::Done { seq: 1 });
        spool.sync().await;
        assert_eq!(
            std::fs::read(&path).unwrap(),
            log(&[
                accept(1, "bob"),
                accept(3, "carol"),
                Record::Done { seq: 1 }
            ])
        );
        assert!(whole.len() < full.len());
        drop(spool);
        // The lock is released with the spool (the writer thread ends on its own).
        let spool = Spool::open(dir.path()).unwrap();
        assert_eq!(seqs(&spool.take_recovered().unwrap().queued), [3]);
    }

    #[test]
    fn token_generations_are_stored_durably_and_read_back_without_the_lock() {
        let dir = assert_fs::TempDir::new().unwrap();
        let spool = Spool::open(dir.path()).unwrap();
        assert!(spool.token_generations().is_empty());
        assert_eq!(Spool::token_generation(dir.path(), "alice").unwrap(), 0);
        let generations = BTreeMap::from([("alice".to_owned(), 2)]);
        spool.store_token_generations(&generations).unwrap();
        // Read while the relay holds the spool.
        assert_eq!(Spool::token_generation(dir.path(), "alice").unwrap(), 2);
        assert_eq!(Spool::token_generation(dir.path(), "bob").unwrap(), 0);
        drop(spool);
        let spool = Spool::open(dir.path()).unwrap();
        assert_eq!(spool.token_generations(), generations);
        drop(spool);
        // A damaged file stops the relay rather than let revoked tokens back in.
        std::fs::write(
            dir.path().join(TOKENS_FILE),
            "{\"generations\":{\"alice\":-1}}",
        )
        .unwrap();
        let err = Spool::open(dir.path()).unwrap_err();
        assert!(matches!(err, SpoolError::BadTokens { .. }), "{err}");
        assert!(err.to_string().contains("tokens.json"), "{err}");
    }

    #[tokio::test]
    async fn compaction_keeps_only_live_records() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("queue.log");
        let spool = Spool::open(dir.path()).unwrap();
        let big = "x".repeat(10_000);
        for seq in 1..=200 {
            spool.append(Record::Accept {
                seq,
                from: "alice".to_owned(),
                to: "bob".to_owned(),
                id: format!("m{seq}"),
                at_ms: 0,
                delivered: false,
                frame: big.clone(),
            });
            if seq != 7 {
                spool.append(Record::Done { seq });
            }
        }
        spool.sync().await;
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len < COMPACT_MIN_BYTES, "not compacted: {len} bytes");
        drop(spool);
        let spool = Spool::open(dir.path()).unwrap();
        let recovery = spool.take_recovered().unwrap();
        assert_eq!(seqs(&recovery.queued), [7]);
        assert!(recovery.seen.is_empty(), "no dedupe window asked for");
    }

    /// Issue 16, item 5: a compaction kept only the queued messages, so a send delivered and
    /// acknowledged before a restart was delivered again when repeated after it.
    #[tokio::test]
    async fn compaction_keeps_the_sends_in_the_dedupe_window_and_no_more() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("queue.log");
        let spool = Spool::open(dir.path()).unwrap();
        spool.remember_sends(Duration::from_secs(3600), 150);
        let now = unix_ms();
        let big = "x".repeat(10_000);
        for seq in 1..=200u64 {
            spool.append(Record::Accept {
                seq,
                from: "alice".to_owned(),
                to: "bob".to_owned(),
                id: format!("m{seq}"),
                // The first 20 are older than the window.
                at_ms: if seq <= 20 { now - 7_200_000 } else { now },
                delivered: seq % 2 == 0,
                frame: big.clone(),
            });
            spool.append(Record::Done { seq });
        }
        spool.sync().await;
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len < COMPACT_MIN_BYTES, "not compacted: {len} bytes");
        drop(spool);
        let spool = Spool::open(dir.path()).unwrap();
        let recovery = spool.take_recovered().unwrap();
        assert!(recovery.queued.is_empty());
        // The newest 150 of the 180 in the window, with what their senders were told.
        let ids: Vec<&str> = recovery.seen.iter().map(|seen| &*seen.id).collect();
        let expected: Vec<String> = (51..=200).map(|seq| format!("m{seq}")).collect();
        assert_eq!(ids, expected);
        assert!(recovery.seen[1].delivered && !recovery.seen[0].delivered);
    }
}
