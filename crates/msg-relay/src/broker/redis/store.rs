//! [`RedisStore`]: one node's handle on the shared state, one method per script operation,
//! each bounded in time. A timeout or a lost connection is [`BrokerError::Unavailable`]: the
//! caller refuses what it was doing (a `send` gets a retryable error, never an ack), and the
//! connection manager reconnects in the background, so the next call can succeed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::aio::ConnectionManager;
use redis::{FromRedisValue, Script, ScriptInvocation};
use tokio::sync::{mpsc, oneshot, watch};

use super::StreamId;
use super::events::{self, NodeEvent};
use super::scripts::scripts;
use crate::limits::Limits;
use crate::redis_engine::{BrokerError, RedisEngine, bounded};
use crate::registry::MAX_RECEIPTS;
use crate::session::ConnId;

/// Events waiting for the node to take them; beyond it the listener stops reading (see
/// [`events::listen`]).
const EVENT_BUFFER: usize = 4096;
/// Dead nodes one heartbeat sweeps at most (the next beat takes the rest).
const SWEEP_NODES: usize = 16;

/// What the engine needs to know of the relay's policy.
#[derive(Debug, Clone)]
pub(crate) struct RedisSettings {
    /// Prepended to every key and channel, so deployments can share one Redis.
    pub(crate) prefix: String,
    pub(crate) queue_max_messages: usize,
    pub(crate) queue_max_bytes: usize,
    pub(crate) queue_total_bytes: usize,
    pub(crate) queue_ttl: Duration,
    pub(crate) dedupe_window: Duration,
    /// Per recipient (one sorted set each), where the single node bounds all together.
    pub(crate) dedupe_max_entries: usize,
    /// Sends per second per user across all nodes and sessions (0: no limit), and the burst.
    pub(crate) sends_per_second: u32,
    pub(crate) send_burst: u32,
    /// What one sender may hold in all queues together.
    pub(crate) sender_max_messages: usize,
    pub(crate) sender_max_bytes: usize,
    pub(crate) max_sessions_per_user: usize,
    /// A node's heartbeat keeps it registered this long; a node not registered for another
    /// such time is dead (its users go offline). The relay beats three times per expiry.
    pub(crate) node_expiry: Duration,
    /// The longest any Redis operation may take before it counts as unavailable.
    pub(crate) op_timeout: Duration,
    /// Listen for every presence change (`--presence broadcast`), not only watched users'.
    pub(crate) broadcast_presence: bool,
}

impl RedisSettings {
    /// The default key prefix.
    pub(crate) const PREFIX: &'static str = "msg-relay:";
    /// How long a Redis operation may take by default: far above a healthy Redis's
    /// sub-millisecond answers, short enough that a client hears of an outage at once.
    pub(crate) const OP_TIMEOUT: Duration = Duration::from_secs(2);

    /// The settings that follow from the relay's limits: the same bounds as the single
    /// node, the per-connection rate applied per user, a node dead within one heartbeat
    /// interval of its last beat (two expiries of half an interval).
    pub(crate) fn new(limits: &Limits, broadcast_presence: bool) -> RedisSettings {
        RedisSettings {
            prefix: RedisSettings::PREFIX.to_owned(),
            queue_max_messages: limits.queue_max_messages,
            queue_max_bytes: limits.queue_max_bytes,
            queue_total_bytes: limits.queue_total_bytes,
            queue_ttl: limits.queue_ttl,
            dedupe_window: limits.dedupe_window,
            dedupe_max_entries: limits.dedupe_max_entries,
            sends_per_second: limits.messages_per_second,
            send_burst: limits.burst,
            sender_max_messages: usize::MAX,
            sender_max_bytes: usize::MAX,
            max_sessions_per_user: limits.max_sessions_per_user,
            node_expiry: limits.heartbeat_interval / 2,
            op_timeout: RedisSettings::OP_TIMEOUT,
            broadcast_presence,
        }
    }
}

/// What became of a `send`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sent {
    /// In the recipient's stream under `sid`; `delivered` when some node holds a session of
    /// the recipient and was told.
    Accepted {
        sid: StreamId,
        delivered: bool,
        epoch: String,
    },
    /// The same (sender, id, recipient) was accepted within the dedupe window; `delivered`
    /// repeats its first outcome. Nothing was stored or delivered this time.
    Duplicate { delivered: bool },
    /// Not accepted: at this bound.
    Full(Bound),
    /// Not accepted: the sender's sends across all nodes are over the rate.
    RateLimited { retry_after_ms: u64 },
}

/// The bound that refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    /// The recipient's queue holds its most messages.
    Count,
    /// The recipient's queue would exceed its bytes.
    Bytes,
    /// All queues together would exceed their bytes.
    TotalBytes,
    /// The sender holds its most messages in all queues together.
    SenderCount,
    /// The sender would exceed its bytes in all queues together.
    SenderBytes,
}

/// A message in a user's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) sid: StreamId,
    pub(crate) sender: String,
    pub(crate) id: String,
    /// The `message` frame, as written to the recipient.
    pub(crate) frame: String,
}

/// A chunk of a user's queue, and the queue's epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Backlog {
    /// Changes only when Redis lost the queue's state: a client that saw another epoch
    /// before knows that messages queued for it may be gone.
    pub(crate) epoch: String,
    pub(crate) entries: Vec<Entry>,
}

/// A message dropped at the end of its time to live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExpiredEntry {
    pub(crate) to: String,
    pub(crate) sender: String,
    pub(crate) id: String,
    /// It had been handed to a node for the recipient (who never acknowledged it); the
    /// sender was told only when not.
    pub(crate) written: bool,
}

/// A message of a sender that was told `queued` and has since reached its recipient `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Receipt {
    pub(crate) to: String,
    pub(crate) id: String,
}

/// A session somewhere in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionRef {
    pub(crate) node: String,
    pub(crate) conn: ConnId,
}

/// The answer to a heartbeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Beat {
    /// This node was registered as alive before this beat. `false` after the first beat
    /// means another node declared it dead meanwhile and took its sessions away.
    pub(crate) was_registered: bool,
    /// Dead nodes whose users this beat took offline.
    pub(crate) swept: u64,
}

/// One node's handle on the shared state. The connection behind it is shared by every
/// clone and reconnects by itself.
#[derive(Clone)]
pub(crate) struct RedisStore {
    conn: ConnectionManager,
    settings: std::sync::Arc<RedisSettings>,
    /// This node's ID: 16 hex digits, new for every process.
    node: std::sync::Arc<str>,
    epochs: std::sync::Arc<Epochs>,
}

/// New epochs, unique across nodes and restarts (keyed by the node's random key).
struct Epochs {
    key: [u8; 32],
    next: AtomicU64,
}

impl RedisStore {
    /// Connects to Redis at `url` and starts this node on it (see [`RedisStore::start`]).
    #[cfg(test)]
    pub(crate) async fn connect(
        url: &str,
        settings: RedisSettings,
        stop: watch::Receiver<bool>,
    ) -> Result<(RedisStore, mpsc::Receiver<NodeEvent>), BrokerError> {
        let engine = RedisEngine::connect(url, &settings.prefix, settings.op_timeout).await?;
        Ok(RedisStore::start(&engine, settings, stop).await)
    }

    /// Starts a node on `engine`: a new node ID, and a listener for the node's events
    /// (ending when `stop` turns `true` or the receiver is dropped). Waits up to the
    /// operation timeout for the first subscription; the listener keeps trying after that,
    /// and says [`NodeEvent::Resubscribed`] when it got there.
    pub(crate) async fn start(
        engine: &RedisEngine,
        mut settings: RedisSettings,
        stop: watch::Receiver<bool>,
    ) -> (RedisStore, mpsc::Receiver<NodeEvent>) {
        settings.prefix = engine.prefix().to_owned();
        settings.op_timeout = engine.op_timeout();
        let (node, key) = node_identity();
        let mut channels = vec![format!("{}node:{node}", settings.prefix)];
        if settings.broadcast_presence {
            channels.push(format!("{}presence", settings.prefix));
        }
        let (events, receiver) = mpsc::channel(EVENT_BUFFER);
        let (ready, subscribed) = oneshot::channel();
        tokio::spawn(events::listen(
            engine.client().clone(),
            channels,
            events,
            ready,
            stop,
        ));
        let _ = tokio::time::timeout(settings.op_timeout, subscribed).await;
        let store = RedisStore {
            conn: engine.commands().clone(),
            settings: std::sync::Arc::new(settings),
            node: std::sync::Arc::from(node),
            epochs: std::sync::Arc::new(Epochs {
                key,
                next: AtomicU64::new(0),
            }),
        };
        (store, receiver)
    }

    /// This node's ID, as other nodes see it in sessions and channels.
    pub(crate) fn node(&self) -> &str {
        &self.node
    }

    pub(crate) fn settings(&self) -> &RedisSettings {
        &self.settings
    }

    /// Accepts (or refuses) a message from `from` to `to` with `id`; `frame` is the
    /// `message` frame the recipient gets. `Accepted` means Redis has it: with
    /// `appendfsync always`, on disk.
    pub(crate) async fn send(
        &self,
        from: &str,
        to: &str,
        id: &str,
        frame: &str,
    ) -> Result<Sent, BrokerError> {
        const OP: &str = "send";
        let settings = &*self.settings;
        let reply: Vec<String> = self
            .run(OP, &scripts().send, |call| {
                call.arg(from)
                    .arg(to)
                    .arg(id)
                    .arg(frame)
                    .arg(self.new_epoch())
                    .arg(settings.queue_max_messages)
                    .arg(settings.queue_max_bytes)
                    .arg(settings.queue_total_bytes)
                    .arg(millis(settings.queue_ttl))
                    .arg(millis(settings.dedupe_window))
                    .arg(settings.dedupe_max_entries)
                    .arg(settings.sends_per_second)
                    .arg(settings.send_burst)
                    .arg(settings.sender_max_messages)
                    .arg(settings.sender_max_bytes);
            })
            .await?;
        let parsed = match reply.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["ok", sid, status, epoch] => sid.parse().ok().map(|sid| Sent::Accepted {
                sid,
                delivered: status == "0",
                epoch: epoch.to_owned(),
            }),
            ["dup", status] => Some(Sent::Duplicate {
                delivered: status == "0",
            }),
            ["rate", wait] => wait
                .parse()
                .ok()
                .map(|retry_after_ms| Sent::RateLimited { retry_after_ms }),
            ["full", bound] => match bound {
                "count" => Some(Bound::Count),
                "bytes" => Some(Bound::Bytes),
                "total_bytes" => Some(Bound::TotalBytes),
                "sender_count" => Some(Bound::SenderCount),
                "sender_bytes" => Some(Bound::SenderBytes),
                _ => None,
            }
            .map(Sent::Full),
            _ => None,
        };
        parsed.ok_or_else(|| unexpected(OP, &reply))
    }

    /// Up to `max` of `user`'s queued messages after `after` (from the oldest when `None`),
    /// oldest first, none older than the time to live; and the queue's epoch.
    pub(crate) async fn backlog(
        &self,
        user: &str,
        after: Option<StreamId>,
        max: usize,
    ) -> Result<Backlog, BrokerError> {
        const OP: &str = "backlog";
        let settings = &*self.settings;
        let reply: Vec<String> = self
            .run(OP, &scripts().queue, |call| {
                call.arg(OP)
                    .arg(user)
                    .arg(after.map(|sid| sid.to_string()).unwrap_or_default())
                    .arg(max)
                    .arg(self.new_epoch())
                    .arg(millis(settings.queue_ttl))
                    .arg(millis(settings.queue_ttl + settings.dedupe_window));
            })
            .await?;
        let Some((epoch, flat)) = reply.split_first() else {
            return Err(unexpected(OP, &reply));
        };
        if !flat.len().is_multiple_of(4) {
            return Err(unexpected(OP, &reply));
        }
        let mut entries = Vec::with_capacity(flat.len() / 4);
        for chunk in flat.chunks_exact(4) {
            let sid = chunk[0].parse().map_err(|()| unexpected(OP, &reply))?;
            entries.push(Entry {
                sid,
                sender: chunk[1].clone(),
                id: chunk[2].clone(),
                frame: chunk[3].clone(),
            });
        }
        Ok(Backlog {
            epoch: epoch.clone(),
            entries,
        })
    }

    /// Removes `sids` from `user`'s queue (acknowledged, or written to a client without
    /// acks). Returns how many were still there. The sender of each one it had told
    /// `queued` gets a receipt: kept in Redis, its nodes told ([`NodeEvent::Receipts`]).
    pub(crate) async fn ack(&self, user: &str, sids: &[StreamId]) -> Result<u64, BrokerError> {
        if sids.is_empty() {
            return Ok(0);
        }
        self.run("ack", &scripts().queue, |call| {
            call.arg("ack")
                .arg(user)
                .arg(MAX_RECEIPTS)
                .arg(self.receipts_ttl());
            for sid in sids {
                call.arg(sid.to_string());
            }
        })
        .await
    }

    /// The receipts kept for `user`, oldest first, and gone from Redis; with `take` false
    /// they are only dropped (a login that did not ask for them).
    pub(crate) async fn take_receipts(
        &self,
        user: &str,
        take: bool,
    ) -> Result<Vec<Receipt>, BrokerError> {
        const OP: &str = "receipts";
        let reply: Vec<String> = self
            .run(OP, &scripts().queue, |call| {
                call.arg(OP).arg(user).arg(u8::from(take));
            })
            .await?;
        if !reply.len().is_multiple_of(2) {
            return Err(unexpected(OP, &reply));
        }
        Ok(reply
            .chunks_exact(2)
            .map(|pair| Receipt {
                to: pair[0].clone(),
                id: pair[1].clone(),
            })
            .collect())
    }

    /// Puts back receipts taken from [`RedisStore::take_receipts`] that no connection took,
    /// ahead of any kept since.
    pub(crate) async fn keep_receipts(
        &self,
        user: &str,
        receipts: &[Receipt],
    ) -> Result<(), BrokerError> {
        if receipts.is_empty() {
            return Ok(());
        }
        let _: i64 = self
            .run("keep", &scripts().queue, |call| {
                call.arg("keep")
                    .arg(user)
                    .arg(MAX_RECEIPTS)
                    .arg(self.receipts_ttl());
                for receipt in receipts {
                    call.arg(&receipt.to).arg(&receipt.id);
                }
            })
            .await?;
        Ok(())
    }

    /// How long a sender's receipts wait for it after the last one: as long as a queue's
    /// metadata outlives its last message.
    fn receipts_ttl(&self) -> u64 {
        millis(self.settings.queue_ttl + self.settings.dedupe_window)
    }

    /// Drops the messages (of at most `max_users` queues) at the end of their time to live
    /// and tells their senders' nodes. Any node may run it; each message is dropped once.
    pub(crate) async fn expire_due(
        &self,
        max_users: usize,
    ) -> Result<Vec<ExpiredEntry>, BrokerError> {
        const OP: &str = "expire";
        let reply: Vec<String> = self
            .run(OP, &scripts().queue, |call| {
                call.arg(OP)
                    .arg(millis(self.settings.queue_ttl))
                    .arg(max_users);
            })
            .await?;
        if !reply.len().is_multiple_of(4) {
            return Err(unexpected(OP, &reply));
        }
        Ok(reply
            .chunks_exact(4)
            .map(|chunk| ExpiredEntry {
                to: chunk[0].clone(),
                sender: chunk[1].clone(),
                id: chunk[2].clone(),
                written: chunk[3] == "1",
            })
            .collect())
    }

    /// Registers the session of `user` on connection `conn` of this node, if the user's
    /// token generation is still `generation` (the one its token was checked against).
    /// Sessions beyond the per-user limit, oldest first and on whichever node, are told to
    /// close ([`NodeEvent::Kick`]) and returned; watchers hear that the user is online if it
    /// was not. `None` when the user's tokens were revoked meanwhile.
    pub(crate) async fn claim(
        &self,
        user: &str,
        conn: ConnId,
        generation: u32,
    ) -> Result<Option<Vec<SessionRef>>, BrokerError> {
        const OP: &str = "claim";
        let reply: Vec<String> = self
            .run(OP, &scripts().sessions, |call| {
                call.arg(OP)
                    .arg(&*self.node)
                    .arg(conn)
                    .arg(user)
                    .arg(self.settings.max_sessions_per_user.max(1))
                    .arg(generation);
            })
            .await?;
        match reply.split_first() {
            Some((status, [])) if status == "revoked" => Ok(None),
            Some((status, members)) if status == "ok" => members
                .iter()
                .map(|member| {
                    let (node, conn) = member.split_once('/')?;
                    Some(SessionRef {
                        node: node.to_owned(),
                        conn: conn.parse().ok()?,
                    })
                })
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| unexpected(OP, &reply)),
            _ => Err(unexpected(OP, &reply)),
        }
    }

    /// Removes the session of `user` on connection `conn` of this node, if it is still
    /// registered; watchers hear that the user is offline when it was the last.
    pub(crate) async fn release(&self, user: &str, conn: ConnId) -> Result<bool, BrokerError> {
        let removed: i64 = self
            .run("release", &scripts().sessions, |call| {
                call.arg("release").arg(&*self.node).arg(conn).arg(user);
            })
            .await?;
        Ok(removed == 1)
    }

    /// Which of this node's `conns` are still registered sessions of `user` (after an
    /// outage, the others were replaced or swept and must close).
    pub(crate) async fn check(
        &self,
        user: &str,
        conns: &[ConnId],
    ) -> Result<Vec<ConnId>, BrokerError> {
        const OP: &str = "check";
        let reply: Vec<String> = self
            .run(OP, &scripts().sessions, |call| {
                call.arg(OP).arg(&*self.node).arg(user);
                for conn in conns {
                    call.arg(*conn);
                }
            })
            .await?;
        reply
            .iter()
            .map(|conn| conn.parse().ok())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| unexpected(OP, &reply))
    }

    /// Sets `user`'s status and tells its watchers if it changed. `false` when the user has
    /// no session anywhere.
    pub(crate) async fn set_status(&self, user: &str, status: &str) -> Result<bool, BrokerError> {
        let online: i64 = self
            .run("status", &scripts().sessions, |call| {
                call.arg("status").arg(user).arg(status);
            })
            .await?;
        Ok(online == 1)
    }

    /// Registers this node as watching `names` and has the current status of each sent to
    /// connection `conn` as a [`NodeEvent::Snapshot`], ahead of any later change.
    pub(crate) async fn watch(&self, conn: ConnId, names: &[&str]) -> Result<(), BrokerError> {
        let _: i64 = self
            .run("watch", &scripts().sessions, |call| {
                call.arg("watch").arg(&*self.node).arg(conn);
                for name in names {
                    call.arg(*name);
                }
            })
            .await?;
        Ok(())
    }

    /// This node no longer watches `names` (no connection of it does).
    pub(crate) async fn unwatch(&self, names: &[&str]) -> Result<(), BrokerError> {
        if names.is_empty() {
            return Ok(());
        }
        let _: i64 = self
            .run("unwatch", &scripts().sessions, |call| {
                call.arg("unwatch").arg(&*self.node);
                for name in names {
                    call.arg(*name);
                }
            })
            .await?;
        Ok(())
    }

    /// The heartbeat: keeps this node alive for another [`RedisSettings::node_expiry`], and
    /// takes the users of nodes whose expiry passed offline.
    pub(crate) async fn beat(&self) -> Result<Beat, BrokerError> {
        const OP: &str = "beat";
        let reply: Vec<i64> = self
            .run(OP, &scripts().sessions, |call| {
                call.arg(OP)
                    .arg(&*self.node)
                    .arg(millis(self.settings.node_expiry))
                    .arg(SWEEP_NODES);
            })
            .await?;
        match reply[..] {
            [registered, swept] => Ok(Beat {
                was_registered: registered == 1,
                swept: u64::try_from(swept).unwrap_or(0),
            }),
            _ => Err(unexpected(OP, &reply)),
        }
    }

    /// Invalidates `user`'s tokens: raises its generation and closes its sessions on every
    /// node. Returns the new generation and how many sessions it closed.
    pub(crate) async fn revoke(&self, user: &str) -> Result<(u32, usize), BrokerError> {
        const OP: &str = "revoke";
        let reply: Vec<u64> = self
            .run(OP, &scripts().sessions, |call| {
                call.arg(OP).arg(user);
            })
            .await?;
        match reply[..] {
            [generation, closed] => match (u32::try_from(generation), usize::try_from(closed)) {
                (Ok(generation), Ok(closed)) => Ok((generation, closed)),
                _ => Err(unexpected(OP, &reply)),
            },
            _ => Err(unexpected(OP, &reply)),
        }
    }

    /// `user`'s token generation: 0 until its tokens are first revoked.
    pub(crate) async fn token_generation(&self, user: &str) -> Result<u32, BrokerError> {
        let key = format!("{}tokgen", self.settings.prefix);
        let generation: Option<u32> = self
            .command("token_generation", redis::cmd("HGET").arg(key).arg(user))
            .await?;
        Ok(generation.unwrap_or(0))
    }

    /// Messages and bytes in all queues together.
    pub(crate) async fn totals(&self) -> Result<(u64, u64), BrokerError> {
        let key = format!("{}totals", self.settings.prefix);
        let (messages, bytes): (Option<i64>, Option<i64>) = self
            .command("totals", redis::cmd("HMGET").arg(key).arg("n").arg("b"))
            .await?;
        let count = |value: Option<i64>| u64::try_from(value.unwrap_or(0)).unwrap_or(0);
        Ok((count(messages), count(bytes)))
    }

    /// Runs `script` with the key prefix and the arguments `args` adds, within the
    /// operation timeout.
    async fn run<T: FromRedisValue>(
        &self,
        op: &'static str,
        script: &Script,
        args: impl FnOnce(&mut ScriptInvocation<'_>),
    ) -> Result<T, BrokerError> {
        let mut call = script.prepare_invoke();
        call.arg(&self.settings.prefix);
        args(&mut call);
        let mut conn = self.conn.clone();
        self.bounded(op, call.invoke_async(&mut conn)).await
    }

    async fn command<T: FromRedisValue>(
        &self,
        op: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, BrokerError> {
        let mut conn = self.conn.clone();
        self.bounded(op, cmd.query_async(&mut conn)).await
    }

    async fn bounded<T>(
        &self,
        op: &'static str,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, BrokerError> {
        bounded(op, self.settings.op_timeout, call).await
    }

    /// A fresh epoch, offered to a script that may need to start a queue's metadata.
    fn new_epoch(&self) -> String {
        let n = self.epochs.next.fetch_add(1, Ordering::Relaxed);
        let hash = blake3::keyed_hash(&self.epochs.key, &n.to_le_bytes());
        hex(&hash.as_bytes()[..8])
    }
}

/// A new node ID (16 hex digits) and the key its epochs are made with: different for every
/// process and every store in it.
fn node_identity() -> (String, [u8; 32]) {
    static STORES: AtomicU64 = AtomicU64::new(0);
    let mut hasher =
        blake3::Hasher::new_derive_key("datacore-messaging msg-relay redis node identity v1");
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.update(&since_epoch.as_nanos().to_le_bytes());
    hasher.update(&std::process::id().to_le_bytes());
    hasher.update(&STORES.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let key = *hasher.finalize().as_bytes();
    (hex(&key[..8]), blake3::derive_key("msg-relay epochs", &key))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn unexpected<T: std::fmt::Debug>(op: &'static str, reply: &T) -> BrokerError {
    let mut reply = format!("{reply:?}");
    if reply.len() > 200 {
        let mut cut = 200;
        while !reply.is_char_boundary(cut) {
            cut -= 1;
        }
        reply.truncate(cut);
        reply.push('…');
    }
    BrokerError::Unexpected { op, reply }
}
