//! What every connection and route shares: the configuration, the registry (sessions and
//! queues), metrics, the logger and the shutdown signal, plus the expiry task that keeps the
//! queues within their time to live.
//!
//! Its own module so that `server.rs` (which creates it) and `connection.rs` (which uses it)
//! both depend on it and not on each other.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Semaphore, mpsc, watch};
use tokio::time::Instant;

use crate::config::RelayConfig;
use crate::log::Logger;
use crate::metrics::Metrics;
use crate::protocol::ErrorCode;
use crate::registry::{Kicked, Registry};
use crate::session::ConnId;

/// How often the expiry task looks for messages at the end of their time to live, at most.
const EXPIRY_TICK: std::time::Duration = std::time::Duration::from_secs(1);

/// What every connection and route shares.
pub(crate) struct Shared {
    pub(crate) config: RelayConfig,
    pub(crate) registry: Registry,
    pub(crate) metrics: Metrics,
    pub(crate) log: Logger,
    /// One permit per WebSocket connection: the connection limit.
    pub(crate) connections: Arc<Semaphore>,
    /// Turns `true` when the relay shuts down; the sender is held by [`run`].
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Held by a token revocation (`admin.rs`) from reading the generations to applying
    /// them, so that two revocations cannot lose one another's generation.
    pub(crate) revoking: tokio::sync::Mutex<()>,
    next_conn: AtomicU64,
    /// Keys the IDs the relay generates for sends without one: different for every process
    /// (start time and pid), so IDs do not repeat across restarts.
    id_key: [u8; 32],
    next_id: AtomicU64,
    /// Never sent on: [`run`] holds the receiver and learns that every connection has ended
    /// when the last `Shared` (and so the last sender) is dropped.
    _alive: mpsc::Sender<()>,
}

impl Shared {
    /// `shutdown` turns `true` to close every connection; `alive` is dropped with the last
    /// `Shared`, which tells its receiver that every connection has ended.
    pub(crate) fn new(
        config: RelayConfig,
        shutdown: watch::Receiver<bool>,
        alive: mpsc::Sender<()>,
    ) -> Shared {
        Shared {
            registry: Registry::new(config.presence, &config.limits, config.spool.clone()),
            metrics: Metrics::default(),
            log: Logger::new(config.log_level),
            connections: Arc::new(Semaphore::new(config.limits.max_connections)),
            shutdown,
            revoking: tokio::sync::Mutex::new(()),
            next_conn: AtomicU64::new(1),
            id_key: {
                let mut hasher = blake3::Hasher::new_derive_key(
                    "datacore-messaging msg-relay generated message ids v1",
                );
                let since_epoch = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                hasher.update(&since_epoch.as_nanos().to_le_bytes());
                hasher.update(&std::process::id().to_le_bytes());
                *hasher.finalize().as_bytes()
            },
            next_id: AtomicU64::new(0),
            _alive: alive,
            config,
        }
    }

    pub(crate) fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// A new message ID, `relay-` and 24 hex digits, for a `send` without one.
    pub(crate) fn generate_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let hash = blake3::keyed_hash(&self.id_key, &n.to_le_bytes());
        let mut id = String::with_capacity(6 + 24);
        id.push_str("relay-");
        for byte in &hash.as_bytes()[..12] {
            use std::fmt::Write as _;
            let _ = write!(id, "{byte:02x}");
        }
        id
    }

    /// Drops the queued messages whose time to live ended at `now`, counting and logging
    /// each (senders that are online are told by the registry).
    pub(crate) fn expire_due(&self, now: Instant) {
        let (reports, kicked) = self.registry.expire(now);
        for report in reports {
            self.metrics.message_expired();
            if report.sender_told {
                self.metrics.rejected(ErrorCode::Expired);
            }
            let expired = &report.expired;
            self.log.warn(
                "expired",
                &[
                    ("from", (&*expired.sender).into()),
                    ("to", (&*expired.to).into()),
                    ("id", (&*expired.id).into()),
                    ("delivered_unacked", u64::from(expired.written).into()),
                ],
            );
        }
        self.log_kicked(&kicked);
    }

    /// Counts and logs connections the registry disconnected for a full outbox.
    pub(crate) fn log_kicked(&self, kicked: &Kicked) {
        for (conn, user) in kicked {
            self.metrics.rejected(ErrorCode::SlowConsumer);
            self.log.warn(
                "slow_consumer",
                &[("conn", (*conn).into()), ("user", user.into())],
            );
        }
    }
}

/// Drops expired messages until shutdown: wakes at the next deadline, and at least every
/// [`EXPIRY_TICK`] to see messages queued meanwhile.
pub(crate) async fn expire_loop(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        let now = Instant::now();
        let wake = shared
            .registry
            .next_expiry()
            .map_or(now + EXPIRY_TICK, |deadline| {
                deadline.min(now + EXPIRY_TICK)
            });
        tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            () = tokio::time::sleep_until(wake) => shared.expire_due(Instant::now()),
        }
    }
}
