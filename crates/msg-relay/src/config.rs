//! What the operator decides: the secret, login and presence policy, limits, logging.

use crate::limits::Limits;
use crate::redis_engine::RedisEngine;
use crate::spool::Spool;
use crate::token::ServerSecret;

/// Everything [`run`](crate::run) needs besides the listener.
///
/// ```
/// use msg_relay::{Limits, PresenceMode, RelayConfig, ServerSecret};
///
/// let secret = ServerSecret::new("0123456789abcdef0123456789abcdef").unwrap();
/// let config = RelayConfig {
///     presence: PresenceMode::Broadcast,
///     limits: Limits { messages_per_second: 50, ..Limits::default() },
///     ..RelayConfig::new(secret)
/// };
/// assert_eq!(config.limits.max_frame_bytes, msg_relay::protocol::MAX_FRAME_BYTES);
/// ```
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// The server secret; per-user tokens derive from it.
    pub secret: ServerSecret,
    /// Accept the v0.2.0 `auth {secret, username}` login, where anyone holding the shared
    /// secret may log in under any name. Off by default; the relay logs a warning at start and
    /// on each such login.
    pub allow_shared_secret: bool,
    /// Who receives `presence` frames.
    pub presence: PresenceMode,
    /// Limits on frames, rates, connections and time.
    pub limits: Limits,
    /// How much the relay logs to stderr.
    pub log_level: LogLevel,
    /// When a message to a v0.2.0 client (one that does not send `ack`) counts as delivered.
    pub legacy_delivery: LegacyDelivery,
    /// Where the offline queues are kept durably (`--spool DIR`); `None` keeps them in memory
    /// only, and a restart loses them.
    pub spool: Option<Spool>,
    /// The Redis that several relay nodes share (`--redis URL`); `None` runs a single node.
    /// Not together with `spool`: the queues are then in Redis.
    pub redis: Option<RedisEngine>,
}

/// When a message to a client that logged in without `acks` counts as delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegacyDelivery {
    /// Once written to its socket (the default): v0.2.0 clients never acknowledge, so keeping
    /// their messages would deliver them again at every login until they expire. Until it is
    /// written it stays queued: a connection that dies first leaves it for the next login.
    OnWrite,
    /// Only when acknowledged, like an `acks` client: a client that never acknowledges gets
    /// every message again at each login until the message expires.
    AckRequired,
}

impl RelayConfig {
    /// The defaults: tokens only, presence to watchers, [`Limits::default`], info logs.
    pub fn new(secret: ServerSecret) -> RelayConfig {
        RelayConfig {
            secret,
            allow_shared_secret: false,
            presence: PresenceMode::Watchers,
            limits: Limits::default(),
            log_level: LogLevel::Info,
            legacy_delivery: LegacyDelivery::OnWrite,
            spool: None,
            redis: None,
        }
    }
}

/// Who is told when a user connects, disconnects or changes status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceMode {
    /// Only connections that sent `watch` for that user (the default): nobody learns the
    /// names of users they did not ask about.
    Watchers,
    /// Every other authenticated connection, as v0.2.0 did. Every user then learns every
    /// other user's name.
    Broadcast,
}

/// How much the relay writes to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Nothing (tests).
    Off,
    /// Warnings and errors: refused logins, disconnected slow readers, shared-secret logins.
    Warn,
    /// Also connections, logins, logouts, start and shutdown.
    Info,
}
