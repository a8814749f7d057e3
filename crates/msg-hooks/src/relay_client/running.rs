//! One relay client per Datacore root and space.
//!
//! The relay keeps one session per name: a second `msg relay connect` for the same root (a
//! `--once` run while the foreground client works, say) would log in under the same names
//! and silently replace the first one's sessions. So a client holds
//! `<state>/relay-client/<space>.pid.lock` (msg-core's [`FileLock`], released by the
//! operating system when the process ends, however it ends) for as long as it runs, with its
//! process ID in `<space>.pid` beside it; a second one finds the lock taken and says which
//! process holds it, changing nothing.

use std::path::PathBuf;
use std::time::Duration;

use msg_core::durable::{DurableError, FileLock};

use super::ClientError;
use crate::context::Context;
use crate::error::HooksError;

/// The claim of a running client; dropping it lets the next one start.
#[derive(Debug)]
pub(crate) struct Running {
    _lock: FileLock,
    pid_file: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        // The lock goes with the process anyway; the number is only for the message.
        let _ = std::fs::remove_file(&self.pid_file);
    }
}

/// Claims the relay client of `ctx`'s root and space, or says which process has it.
pub(crate) fn claim(ctx: &Context) -> Result<Running, ClientError> {
    let pid_file = ctx
        .paths()
        .governor_state_dir()
        .join("relay-client")
        .join(format!("{}.pid", ctx.space()));
    match FileLock::exclusive(&pid_file, Duration::ZERO) {
        Ok(lock) => {
            std::fs::write(&pid_file, format!("{}\n", std::process::id()))
                .map_err(HooksError::io("write", &pid_file))?;
            Ok(Running {
                _lock: lock,
                pid_file,
            })
        }
        Err(DurableError::LockTimeout { .. }) => Err(ClientError::AlreadyRunning {
            pid: std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|text| text.trim().parse().ok()),
            lock: FileLock::lock_path(&pid_file),
        }),
        Err(err) => Err(HooksError::from(err).into()),
    }
}
