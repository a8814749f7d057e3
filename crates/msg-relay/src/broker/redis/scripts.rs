//! The engine's Lua scripts, each run atomically by Redis (`EVALSHA`, falling back to
//! `EVAL` when a restarted Redis no longer has it cached).
//!
//! Every script is `lua/common.lua` (the key prefix, Redis's clock, the event encoding and the
//! counters a queued message holds) followed by its own file: `send.lua` is the hot path,
//! `queue.lua` the rest of a queue's life, `sessions.lua` who is connected where. The files
//! say what each operation takes and answers.

use std::sync::OnceLock;

use redis::Script;

macro_rules! with_common {
    ($file:literal) => {
        concat!(include_str!("lua/common.lua"), "\n", include_str!($file))
    };
}

/// The compiled-once scripts (a [`Script`] keeps its source and SHA-1).
pub(super) struct Scripts {
    pub(super) send: Script,
    pub(super) queue: Script,
    pub(super) sessions: Script,
}

/// The scripts, hashed once per process.
pub(super) fn scripts() -> &'static Scripts {
    static SCRIPTS: OnceLock<Scripts> = OnceLock::new();
    SCRIPTS.get_or_init(|| Scripts {
        send: Script::new(with_common!("lua/send.lua")),
        queue: Script::new(with_common!("lua/queue.lua")),
        sessions: Script::new(with_common!("lua/sessions.lua")),
    })
}
