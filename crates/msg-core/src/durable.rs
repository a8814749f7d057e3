//! Cross-process locks and durable writes: the two mechanisms every file-backed store shares
//! (the org engine, the governor's state files).
//!
//! - [`FileLock`]: an `flock` (through fd-lock) on a permanent sidecar `<file>.lock`, exclusive
//!   or shared, waited for with a timeout, held until dropped. The sidecar is never deleted:
//!   deleting it lets a waiter on the old inode and a newcomer on a new one both "hold" it.
//! - [`write_atomically`]: temporary file in the same directory, `fsync`, `rename`, `fsync` of
//!   the directory. A crash leaves the old content or the new, never a mix.
//! - [`append`] and [`create_new`]: the append-only and first-write cases; [`sync_dir`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use thiserror::Error;

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
/// journaling (ext4's default) a crash keeps the old length or the whole text.
pub fn append(path: &Path, bytes: &[u8]) -> Result<(), DurableError> {
    let mut file = OpenOptions::new()
        .append(true)
        .open(path)
        .map_err(io_error("open for appending", path))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_data())
        .map_err(io_error("append to", path))
}

/// Creates `path` with `bytes`, failing if it exists, durably (file and directory synced).
pub fn create_new(path: &Path, bytes: &[u8]) -> Result<(), DurableError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(io_error("create", path))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_error("write", path))?;
    sync_parent(path)
}

/// Replaces (or creates) `path` with `bytes` atomically and durably, keeping the old file's
/// permissions. Hold the file's lock while calling this.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), DurableError> {
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
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(io_error("create a temporary file for", path))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(io_error("write a temporary file for", path))?;
        // Keep the file's permissions (a person may have made their inbox private).
        if let Ok(meta) = fs::metadata(path) {
            fs::set_permissions(&temp, meta.permissions())
                .map_err(io_error("set permissions on a temporary file for", path))?;
        }
        fs::rename(&temp, path).map_err(io_error("rename a temporary file over", path))?;
        sync_parent(path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
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
