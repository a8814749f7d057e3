//! The Redis engine: the state several relay nodes share, kept in one Redis (7.0 or later)
//! and changed only by Lua scripts, each one atomic.
//!
//! Modelled on Centrifugo's Redis engine (per-channel streams with an epoch, a script that
//! dedupes, appends, trims and publishes in one step, presence in sorted sets scored by
//! expiry), for a relay's users instead of channels:
//!
//! - **queues**: a stream per recipient (`q:<user>`), bounded by count, bytes and age, and
//!   a hash (`m:<user>`) with the bytes it holds, its epoch and how far it was handed out.
//!   A message stays in the stream until it is acknowledged (or, for a client without
//!   acks, written), so any node can deliver it at the user's next login;
//! - **dedupe** by (sender, id, recipient) in a sorted set per recipient (`d:<user>`);
//! - **receipts**: the stream IDs of a user's queue whose senders were told `queued`
//!   (`tq:<user>`); removing one keeps a `delivered` notice for its sender (`rc:<sender>`,
//!   bounded) and announces it to the sender's nodes, in the same script;
//! - **live routing**: a `send` publishes the message on the channel of each node holding
//!   a session of the recipient (`node:<id>`), so a node hears only of its own users;
//! - **sessions and presence**: `s:<user>` holds the user's sessions as `<node>/<conn>`, at
//!   most the per-user limit (a login anywhere replaces the oldest, anywhere); nodes are
//!   alive while their heartbeat keeps their expiry score in `nodes` in the future, and a
//!   node that finds another one expired takes that node's users offline;
//! - **limits across nodes**: a token bucket per sender (`r:<user>`), a quota of what each
//!   sender holds queued (`sq:<user>`), the relay-wide totals (`totals`), and each user's
//!   token generation (`tokgen`), which `revoke` raises while closing every session.
//!
//! [`store::RedisStore`] runs the scripts, [`events`] listens for what is published to this
//! node, [`scripts`] assembles the Lua files of `lua/`.
//!
//! Not for a Redis Cluster: scripts build keys of several users from the prefix, so one
//! primary holds them all (replicas and Sentinel for failover are fine).

pub(crate) mod events;
pub(crate) mod node;
mod scripts;
pub(crate) mod store;

#[cfg(test)]
pub(crate) mod test_server;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

pub(crate) use crate::redis_engine::BrokerError;

/// A stream entry's ID, `<milliseconds>-<sequence>`: its position in its user's stream and
/// the Redis time it was accepted at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct StreamId {
    pub(crate) ms: u64,
    pub(crate) seq: u64,
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

impl FromStr for StreamId {
    type Err = ();

    fn from_str(text: &str) -> Result<StreamId, ()> {
        let (ms, seq) = text.split_once('-').ok_or(())?;
        let number = |digits: &str| {
            if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(());
            }
            digits.parse::<u64>().map_err(|_| ())
        };
        Ok(StreamId {
            ms: number(ms)?,
            seq: number(seq)?,
        })
    }
}
