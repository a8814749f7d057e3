//! Test hooks: writes that fail as on a full disk, without needing a full disk.
//!
//! Built only with the `fault-injection` feature (the test suites turn it on). Every byte
//! this module's parent writes (appends, temporary files, new files, the governor's journal)
//! goes through [`write_all`], which consults the faults set for the file's directory:
//!
//! - in a test process, [`disk_full`] below a directory, undone when its guard drops;
//! - in a process the test starts (`msg`, `send-reply`, …), the environment variable
//!   [`ENV`] = `<dir>=<free bytes>`, read once.
//!
//! A write that does not fit writes the part that does (as a real full disk does) and fails
//! with `ENOSPC`.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};

/// The environment variable that sets a full disk for a process: `<dir>=<free bytes>`.
pub const ENV: &str = "MSG_FAULT_DISK_FULL";

/// A simulated full disk below a directory.
#[derive(Debug)]
struct Fault {
    id: u64,
    dir: PathBuf,
    /// Bytes that may still be written below `dir`.
    free: u64,
}

#[derive(Debug, Default)]
struct Faults {
    next_id: u64,
    active: Vec<Fault>,
}

fn faults() -> &'static Mutex<Faults> {
    static FAULTS: OnceLock<Mutex<Faults>> = OnceLock::new();
    FAULTS.get_or_init(|| {
        let mut faults = Faults::default();
        if let Some((dir, free)) = std::env::var(ENV).ok().and_then(|v| {
            v.rsplit_once('=')
                .map(|(d, f)| (d.to_owned(), f.to_owned()))
        }) && let Ok(free) = free.parse()
        {
            faults.active.push(Fault {
                id: 0,
                dir: PathBuf::from(dir),
                free,
            });
            faults.next_id = 1;
        }
        Mutex::new(faults)
    })
}

/// Until the returned guard drops, writes below `dir` fail once `free` more bytes have been
/// written there (by this process).
pub fn disk_full(dir: &Path, free: u64) -> DiskFull {
    let mut faults = faults().lock().unwrap_or_else(PoisonError::into_inner);
    let id = faults.next_id;
    faults.next_id += 1;
    faults.active.push(Fault {
        id,
        dir: dir.to_owned(),
        free,
    });
    DiskFull { id }
}

/// A full disk set by [`disk_full`]; dropping it frees the disk again.
#[derive(Debug)]
#[must_use = "the disk is full only while this guard lives"]
pub struct DiskFull {
    id: u64,
}

impl Drop for DiskFull {
    fn drop(&mut self) {
        let mut faults = faults().lock().unwrap_or_else(PoisonError::into_inner);
        faults.active.retain(|f| f.id != self.id);
    }
}

/// How many of `wanted` bytes may be written to `path` now (taking them from the budget).
fn allowance(path: &Path, wanted: usize) -> usize {
    let mut faults = faults().lock().unwrap_or_else(PoisonError::into_inner);
    let Some(fault) = faults.active.iter_mut().find(|f| path.starts_with(&f.dir)) else {
        return wanted;
    };
    let granted = (wanted as u64).min(fault.free);
    fault.free -= granted;
    granted as usize
}

/// `file.write_all(bytes)`, failing with `ENOSPC` after a partial write when a simulated
/// full disk covers `path`.
pub(super) fn write_all(mut file: &File, path: &Path, bytes: &[u8]) -> io::Result<()> {
    let granted = allowance(path, bytes.len());
    file.write_all(&bytes[..granted])?;
    if granted < bytes.len() {
        return Err(io::Error::from_raw_os_error(28)); // ENOSPC
    }
    Ok(())
}
