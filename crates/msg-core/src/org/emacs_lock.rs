//! Emacs's own lock on a file: `.#<name>` beside it, a symbolic link to
//! `user@host.pid:boot-time`, made when a buffer visiting the file is first modified and
//! removed when the buffer is saved or reverted (it exists throughout a save).
//!
//! While it exists, the person has changes in Emacs that are not in the file, and their next
//! save writes the whole buffer over the file: whatever we wrote meanwhile is gone unless
//! they answer Emacs's "changed on disk; save anyway?" with no. A save in progress would also
//! tear an append. So our writers wait for the lock to go (Emacs removes it within
//! milliseconds of a save), up to the file's lock timeout, and then refuse with
//! [`OrgError::EditedInEmacs`], naming the buffer to save or revert. Reading is not affected.
//!
//! A lock left by an Emacs that is gone (same host, no such process) is ignored, as Emacs
//! itself ignores it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::OrgError;

/// How often a held lock is looked at again.
const POLL: Duration = Duration::from_millis(20);

/// The lock file Emacs makes for `path`.
pub(crate) fn lock_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    path.with_file_name(format!(".#{name}"))
}

/// Who holds Emacs's lock on `path` (`user@host.pid:boot`), when a live Emacs does.
pub(crate) fn holder(path: &Path) -> Option<String> {
    let lock = lock_path(path);
    let target = match std::fs::read_link(&lock) {
        Ok(target) => target.to_string_lossy().into_owned(),
        // Where symbolic links are not possible, Emacs writes a regular file instead.
        Err(_) => std::fs::read_to_string(&lock).ok()?,
    };
    (!is_stale(&target)).then_some(target)
}

/// Whether a lock naming `target` was left by an Emacs that no longer runs on this host.
fn is_stale(target: &str) -> bool {
    let Some((_, host_pid)) = target.rsplit_once('@') else {
        return false;
    };
    let host_pid = host_pid.split(':').next().unwrap_or(host_pid);
    let Some((host, pid)) = host_pid.rsplit_once('.') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    let this_host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    host == this_host && !Path::new(&format!("/proc/{pid}")).exists()
}

/// Waits until no live Emacs holds its lock on `path`, at most `timeout`. Returns whether
/// it had to wait (the file may have been saved meanwhile).
pub(crate) fn wait_until_free(path: &Path, timeout: Duration) -> Result<bool, OrgError> {
    let Some(mut holder) = holder(path) else {
        return Ok(false);
    };
    let deadline = Instant::now() + timeout;
    loop {
        if Instant::now() >= deadline {
            return Err(OrgError::EditedInEmacs {
                path: path.to_owned(),
                holder,
            });
        }
        std::thread::sleep(POLL);
        match self::holder(path) {
            Some(still) => holder = still,
            None => return Ok(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_of_a_process_that_is_gone_is_stale() {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let host = host.trim();
        let me = std::process::id();
        assert!(!is_stale(&format!("ana@{host}.{me}:1700000000")));
        assert!(is_stale(&format!("ana@{host}.4294967294:1700000000")));
        assert!(
            !is_stale("ana@elsewhere.example.4294967294:1"),
            "another host: assume it is live"
        );
        assert!(!is_stale("garbage"));
        assert_eq!(
            lock_path(Path::new("/a/inbox.org")),
            Path::new("/a/.#inbox.org")
        );
    }
}
