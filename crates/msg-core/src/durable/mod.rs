//! Cross-process locks and durable writes: the two mechanisms every file-backed store shares
//! (the org engine, the governor's state files).
//!
//! - [`FileLock`]: an `flock` (through fd-lock) on a permanent sidecar `<file>.lock`, exclusive
//!   or shared, waited for with a timeout, held until dropped. The sidecar is never deleted:
//!   deleting it lets a waiter on the old inode and a newcomer on a new one both "hold" it.
//! - [`write_atomically`]: temporary file in the same directory, `fsync`, `rename`, `fsync` of
//!   the directory. A crash leaves the old content or the new, never a mix.
//! - [`append`] and [`append_to`]: the append-only case, undone when any part of it fails;
//!   [`create_new`]: the first write; [`sync_dir`].
//! - [`ReadFile`] and [`replace`]: a replacement that checks, through the descriptor the file
//!   was read with, that no other program (an editor saving the file, which takes no lock of
//!   ours) wrote it meanwhile, and keeps what that program wrote.
//!
//! Every byte goes through one write function, which the `fault-injection` feature lets
//! tests make fail as on a full disk ([`fault`]).

#[cfg(feature = "fault-injection")]
pub mod fault;
mod replace;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use thiserror::Error;

pub use replace::{ReadFile, Replaced, replace};

/// How long a lock is waited for by default.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// A file operation that failed. Nothing was changed when this is returned, except where the
/// operation itself says otherwise.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DurableError {
    /// The operating system refused an operation.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What we tried, e.g. `read` or `rename a temporary file over`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Another process held the lock longer than the timeout.
    #[error(
        "cannot lock {path}: another process has held {path}.lock for {waited:?} (a hook, the msg command, the relay client); try again, or see who holds it with `fuser {path}.lock`"
    )]
    LockTimeout {
        /// The data file the lock protects.
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
}

/// Writes all of `bytes` at `file`'s position: the one place where this module writes.
fn write_all(file: &File, path: &Path, bytes: &[u8]) -> io::Result<()> {
    #[cfg(feature = "fault-injection")]
    {
        fault::write_all(file, path, bytes)
    }
    #[cfg(not(feature = "fault-injection"))]
    {
        let _ = path;
        io::Write::write_all(&mut &*file, bytes)
    }
}

/// Wraps an `io::Error` with what we tried and on which file.
pub fn io_error<'p>(
    action: &'static str,
    path: &'p Path,
) -> impl FnOnce(io::Error) -> DurableError + 'p {
    move |source| DurableError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// An `flock` on `<file>.lock`, held until this value drops.
///
/// fd-lock's guard borrows its `RwLock`, and a borrow taken in a retry loop cannot be returned
/// from it (the borrow checker's "conditional return" limitation). So the guard is forgotten
/// once the lock is taken: the lock belongs to the open descriptor, which this value owns and
/// closes on drop. Nothing leaks; the guard owns no resource of its own.
#[derive(Debug)]
pub struct FileLock {
    _descriptor: fd_lock::RwLock<File>,
}

impl FileLock {
    /// The sidecar lock file of `path`: `path` with `.lock` appended.
    pub fn lock_path(path: &Path) -> PathBuf {
        let mut lock = path.as_os_str().to_owned();
        lock.push(".lock");
        lock.into()
    }

    /// Takes the exclusive lock of `path` (creating its directory and lock file if needed),
    /// waiting at most `timeout` for other holders.
    pub fn exclusive(path: &Path, timeout: Duration) -> Result<FileLock, DurableError> {
        FileLock::take(path, timeout, |lock| lock.try_write().map(std::mem::forget))
    }

    /// Takes the shared lock of `path`: any number of readers, no writer.
    pub fn shared(path: &Path, timeout: Duration) -> Result<FileLock, DurableError> {
        FileLock::take(path, timeout, |lock| lock.try_read().map(std::mem::forget))
    }

    fn take(
        path: &Path,
        timeout: Duration,
        try_lock: impl Fn(&mut fd_lock::RwLock<File>) -> io::Result<()>,
    ) -> Result<FileLock, DurableError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io_error("create the directory of", path))?;
        }
        let lock_path = FileLock::lock_path(path);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_error("open the lock file", &lock_path))?;
        let mut lock = fd_lock::RwLock::new(file);
        let deadline = Instant::now() + timeout;
        loop {
            match try_lock(&mut lock) {
                Ok(()) => return Ok(FileLock { _descriptor: lock }),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(io_error("lock", &lock_path)(e)),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(DurableError::LockTimeout {
                    path: path.to_owned(),
                    waited: timeout,
                });
            }
            // Short sleeps: a lock is normally held for milliseconds.
            std::thread::sleep(Duration::from_millis(2).min(deadline - now));
        }
    }
}

/// `fsync` of the directory `dir`, so that a file created, renamed or removed in it stays
/// so after a crash.
pub fn sync_dir(dir: &Path) -> Result<(), DurableError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("sync the directory", dir))
}

/// [`sync_dir`] of the directory holding `path`.
fn sync_parent(path: &Path) -> Result<(), DurableError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    sync_dir(dir)
}

/// Appends `bytes` to the existing file `path` with one `write`, then `fdatasync`. With the
/// file's lock held, readers under the shared lock never see part of it; with ordered
/// journaling (ext4's default) a crash keeps the old length or the whole text. When the
/// write or the sync fails (a full disk), the file is cut back to its length before the
/// append and synced: it holds exactly what it held before.
pub fn append(path: &Path, bytes: &[u8]) -> Result<(), DurableError> {
    let file = OpenOptions::new()
        .read(true)
        .append(true)
        .open(path)
        .map_err(io_error("open for appending", path))?;
    let before = write_appended(&file, path, bytes)?;
    if let Err(e) = file.sync_data() {
        return Err(undo_append(&file, path, before, bytes, "sync", e));
    }
    Ok(())
}

/// Appends `bytes` to `file` (opened for appending; `path` names it in errors), without a
/// sync. When the write fails part way, the file is cut back to its length before it (if
/// what follows that length is the start of `bytes`, that is, nobody else wrote there) and
/// synced. The governor's journal uses this and syncs after releasing its lock.
pub fn append_to(file: &File, path: &Path, bytes: &[u8]) -> Result<(), DurableError> {
    write_appended(file, path, bytes).map(drop)
}

/// [`append_to`], returning the file's length before the append.
fn write_appended(file: &File, path: &Path, bytes: &[u8]) -> Result<u64, DurableError> {
    let before = file.metadata().map_err(io_error("examine", path))?.len();
    match write_all(file, path, bytes) {
        Ok(()) => Ok(before),
        Err(e) => Err(undo_append(file, path, before, bytes, "append to", e)),
    }
}

/// Cuts `file` back to `before` after a failed append of `bytes`, and builds the error.
fn undo_append(
    file: &File,
    path: &Path,
    before: u64,
    bytes: &[u8],
    action: &'static str,
    error: io::Error,
) -> DurableError {
    let undone = (|| {
        let now = file.metadata()?.len();
        if now < before {
            return Ok(false);
        }
        let mut written = vec![0; (now - before).min(bytes.len() as u64 + 1) as usize];
        file.read_exact_at(&mut written, before)?;
        if now - before > bytes.len() as u64 || !bytes.starts_with(&written) {
            return Ok(false); // someone else wrote there: not ours to cut
        }
        file.set_len(before)?;
        file.sync_data()?;
        Ok::<bool, io::Error>(true)
    })();
    match undone {
        Ok(true) => io_error(action, path)(error),
        Ok(false) => DurableError::Io {
            action,
            path: path.to_owned(),
            source: io::Error::new(
                error.kind(),
                format!(
                    "{error}; the file changed meanwhile, so the partial append was left in place"
                ),
            ),
        },
        Err(undo) => DurableError::Io {
            action,
            path: path.to_owned(),
            source: io::Error::new(
                error.kind(),
                format!(
                    "{error}; cutting the file back also failed ({undo}), so it may end with a partial entry"
                ),
            ),
        },
    }
}

/// Creates `path` with `bytes`, failing if it exists, durably (file and directory synced).
/// When writing fails, the new file is removed again.
pub fn create_new(path: &Path, bytes: &[u8]) -> Result<(), DurableError> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_error("create", path))?;
    if let Err(e) = write_all(&file, path, bytes).and_then(|()| file.sync_all()) {
        let _ = fs::remove_file(path);
        let _ = sync_parent(path);
        return Err(io_error("write", path)(e));
    }
    sync_parent(path)
}

/// Replaces (or creates) `path` with `bytes` atomically and durably, keeping the old file's
/// permissions. Hold the file's lock while calling this. (Org files, which an editor may
/// save meanwhile, are replaced with [`replace`] instead.)
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DurableError> {
    let (temp, _file) = write_temp(path, bytes)?;
    let result = fs::rename(&temp, path)
        .map_err(io_error("rename a temporary file over", path))
        .and_then(|()| sync_parent(path));
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Writes `bytes` to a new temporary file beside `path` (with `path`'s permissions when it
/// exists) and syncs it. Returns its name and the open file (for reading and writing).
fn write_temp(path: &Path, bytes: &[u8]) -> Result<(PathBuf, File), DurableError> {
    static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(io_error("create a temporary file for", path))?;
    let written = (|| {
        write_all(&file, path, bytes)
            .and_then(|()| file.sync_all())
            .map_err(io_error("write a temporary file for", path))?;
        // Keep the file's permissions (a person may have made their inbox private).
        if let Ok(meta) = fs::metadata(path) {
            fs::set_permissions(&temp, meta.permissions())
                .map_err(io_error("set permissions on a temporary file for", path))?;
        }
        Ok(())
    })();
    match written {
        Ok(()) => Ok((temp, file)),
        Err(e) => {
            let _ = fs::remove_file(&temp);
            Err(e)
        }
    }
}

/// Whether `file` holds exactly the concatenation of `pieces`.
fn holds(file: &File, pieces: &[&[u8]]) -> io::Result<bool> {
    let len: usize = pieces.iter().map(|p| p.len()).sum();
    if file.metadata()?.len() != len as u64 {
        return Ok(false);
    }
    let mut reader = io::BufReader::with_capacity(64 * 1024, ReadAt { file, at: 0 });
    let mut chunk = vec![0; 64 * 1024];
    for piece in pieces {
        let mut rest = *piece;
        while !rest.is_empty() {
            let n = rest.len().min(chunk.len());
            reader.read_exact(&mut chunk[..n])?;
            if chunk[..n] != rest[..n] {
                return Ok(false);
            }
            rest = &rest[n..];
        }
    }
    Ok(true)
}

/// Reads a file from an offset without moving its descriptor's position.
struct ReadAt<'f> {
    file: &'f File,
    at: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes_shared_and_exclusive_until_dropped() {
        let dir = std::env::temp_dir().join(format!("msg-core-lock-{}", std::process::id()));
        let path = dir.join("state.json");
        let short = Duration::from_millis(20);
        let held = FileLock::exclusive(&path, short).unwrap();
        assert!(matches!(
            FileLock::exclusive(&path, short),
            Err(DurableError::LockTimeout { .. })
        ));
        assert!(matches!(
            FileLock::shared(&path, short),
            Err(DurableError::LockTimeout { .. })
        ));
        drop(held);
        let reader = FileLock::shared(&path, short).unwrap();
        let second_reader = FileLock::shared(&path, short).unwrap();
        assert!(FileLock::exclusive(&path, short).is_err());
        drop((reader, second_reader));
        FileLock::exclusive(&path, short).unwrap();
        assert!(
            FileLock::lock_path(&path).exists(),
            "the lock file is permanent"
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn atomic_writes_replace_and_keep_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("msg-core-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        write_atomically(&path, b"one").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(
            create_new(&path, b"x").is_err(),
            "create_new never overwrites"
        );
        append(&path, b"+").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two+");
        let leftovers = fs::read_dir(&dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(leftovers, 0);
        fs::remove_dir_all(dir).unwrap();
    }
}
