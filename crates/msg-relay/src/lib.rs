//! `msg-relay`: the WebSocket relay server of datacore-messaging, safe on the open internet.
//!
//! People and their agents on different machines reach each other through the relay: a
//! client logs in over a WebSocket (`GET /ws`) and sends JSON frames; the relay pushes each
//! message to the recipient's connection. It speaks the v0.2.0 protocol that existing clients
//! use and fixes what the Python relay got wrong:
//!
//! - **identity**: per-user tokens derived from the server secret ([`ServerSecret`],
//!   `msg-relay token <name>`), checked in constant time and revocable one name at a time
//!   ([`revoke_tokens`]); `from` is always the authenticated name. The v0.2.0 shared-secret
//!   login only when the operator enables it.
//! - **sessions**: a second login under a name replaces the first cleanly, and the old
//!   socket's cleanup never removes the new session.
//! - **presence** only to connections that `watch` a user ([`PresenceMode`]).
//! - **limits** ([`Limits`]): frame size, frames per second (pings too), connections in
//!   total (counted from the first byte, with a handshake deadline) and per user,
//!   authentication and idle timeouts with a heartbeat, bounded buffers and a bounded
//!   outbound queue per connection, so a reader that stops reading is disconnected instead
//!   of stalling senders, and per-sender queue quotas. Every refusal is an `error` frame
//!   with a [`protocol::ErrorCode`].
//! - **operations**: `GET /status`, `GET /healthz`, Prometheus `GET /metrics`, key=value logs
//!   on stderr, graceful shutdown ([`run`] closes every socket with 1001).
//! - **store-and-forward**: a message for someone offline waits in a per-recipient queue,
//!   bounded by count, bytes and age ([`Limits::queue_max_messages`] and the fields after
//!   it), and arrives at the recipient's next login, oldest first, before `synced`. Every
//!   `send` is answered with an `ack` (`delivered` or `queued`); a repeated (sender, id) is
//!   acknowledged again and not delivered twice; a client that logs in with `acks` confirms
//!   each message and gets unconfirmed ones again at its next login ([`LegacyDelivery`] says
//!   what counts as delivered for v0.2.0 clients).
//!
//! Main items: [`run`] serves a bound listener until a shutdown future completes;
//! [`RelayConfig`] holds the policy; [`Spool`] the durable queues; [`protocol`] has the frame
//! types a Rust client uses;
//! [`healthcheck()`] is the container probe. The `msg-relay` binary (`serve`, `token`,
//! `healthcheck`) wraps them; `docs/relay.md` is the deployment guide and protocol reference.
//!
//! ```
//! use msg_relay::{RelayConfig, ServerSecret, run};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let secret = ServerSecret::new("0123456789abcdef0123456789abcdef").unwrap();
//! println!("alice's token: {}", secret.token_for("alice"));
//! let config = RelayConfig {
//!     log_level: msg_relay::LogLevel::Off,
//!     ..RelayConfig::new(secret)
//! };
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let relay = tokio::spawn(run(listener, config, async {
//!     let _ = stopped.await;
//! }));
//! // ... clients connect to ws://<addr>/ws ...
//! let _ = stop.send(());
//! relay.await.unwrap().expect("the default limits are valid");
//! # Ok(())
//! # }
//! ```
//!
//! Architecture invariant: depends on `msg-core` only among the workspace crates, and it is
//! the only crate that knows warp and the wire JSON. It keeps no state on disk unless given a
//! [`Spool`] (`--spool DIR`): then the offline queues are an append-only log in that
//! directory, synced before a message is acknowledged as queued, and recovered at start.

mod accept;
mod admin;
mod broker;
mod config;
mod connection;
mod healthcheck;
mod limits;
mod log;
mod metrics;
pub mod protocol;
mod queue;
mod rate;
mod redis_engine;
mod registry;
mod server;
mod session;
mod shared;
mod spool;
mod token;
mod upgrade;

pub use admin::{AdminError, Revoked, revoke_tokens};
pub use config::{LegacyDelivery, LogLevel, PresenceMode, RelayConfig};
pub use healthcheck::{HealthError, healthcheck};
pub use limits::{Limits, LimitsError};
pub use redis_engine::{BrokerError, RedisEngine};
pub use server::run;
pub use spool::{Spool, SpoolError};
pub use token::{
    MAX_USERNAME_BYTES, MIN_SECRET_CHARS, SecretError, ServerSecret, UserToken, UsernameError,
    validate_username,
};
