//! One relay node on Redis: the connections this process holds, and how the shared state
//! reaches them.
//!
//! The shared state is in Redis ([`RedisStore`]); what stays here is local: which of this
//! node's connections belong to which user, who watches whom, what each connection was
//! given and has not acknowledged, and where each connection's delivery stands. One mutex
//! over it, never held across an await: frames are *pushed* to bounded outboxes, as in the
//! single node.
//!
//! A login goes through three steps so that a message is either in the backlog or comes
//! live after `synced`, never lost between the two and never written twice:
//!
//! 1. the connection is registered here as *syncing*, then its session is claimed in Redis:
//!    from then on every message for the user is announced to this node, and a syncing
//!    connection keeps those announcements in a buffer;
//! 2. the backlog is read from the user's stream in chunks and written;
//! 3. under the lock, `synced` goes out, the buffered messages the backlog did not have
//!    (stream IDs are ordered) follow, and the connection turns *live*. If the buffer
//!    overflowed, or the node lost its pub/sub connection meanwhile, step 2 runs again first.
//!
//! A live connection takes announcements in stream order and skips what it already has.
//!
//! Receipts (`delivered` frames) wait in Redis until a node takes them for a connection of
//! their sender that asked for them: at its login, after the backlog and before `synced`,
//! or when the removal script announces them to the sender's nodes.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio_tungstenite::tungstenite::Message;

use super::events::{KickReason, NodeEvent};
use super::store::{Entry, ExpiredEntry, Receipt, RedisStore};
use super::{BrokerError, StreamId};
use crate::protocol::{ErrorCode, ServerFrame, close};
use crate::session::{CloseReason, ConnId, OutboxPermit, Push, QueuedAt, SessionHandle};

/// Backlog messages a login reads from Redis per call.
const BACKLOG_CHUNK: usize = 64;
/// Queues the expiry sweep of one tick looks at, at most.
const EXPIRE_USERS: usize = 256;

/// This node: its connections and its handle on Redis.
pub(crate) struct RedisNode {
    store: RedisStore,
    inner: Mutex<Inner>,
    /// Presence goes to every connection (`--presence broadcast`), not only to watchers.
    broadcast_presence: bool,
    max_watches: usize,
    /// Announcements a syncing connection keeps; beyond it, it reads its stream again.
    sync_buffer: usize,
    /// Unacknowledged messages a connection remembers (to map an `ack`'s ID to the stream);
    /// the oldest are forgotten first, and then come again at the next login.
    written_cap: usize,
    /// The relay-wide queue totals as last read (for `/metrics`).
    totals: (AtomicU64, AtomicU64),
    /// Whether the heartbeat ran once: a later beat that finds this node unregistered
    /// means other nodes declared it dead.
    beaten: AtomicBool,
    /// Held while this node changes which names it watches in Redis, so that an `unwatch`
    /// cannot reach Redis after a later `watch` of the same name.
    watch_registration: tokio::sync::Mutex<()>,
    /// Numbers the messages handed to writers of connections that take them on write (see
    /// [`LocalConn::on_write`]).
    next_token: AtomicU64,
}

#[derive(Default)]
struct Inner {
    /// User → this node's connections of it, oldest first.
    users: HashMap<String, Vec<ConnId>>,
    conns: HashMap<ConnId, LocalConn>,
    /// Watched name → this node's connections watching it.
    watchers: HashMap<String, HashSet<ConnId>>,
}

struct LocalConn {
    user: Arc<str>,
    handle: SessionHandle,
    delivery: Delivery,
    watching: HashSet<String>,
    /// Written to an `acks` connection and not acknowledged: (sender, id, stream ID),
    /// oldest first.
    written: VecDeque<(String, String, StreamId)>,
    /// Handed to the writer of a connection that takes its messages on write, and not
    /// flushed yet: the number in the frame's [`QueuedAt`] → the stream ID. Once the writer
    /// reports it flushed ([`RedisNode::written`]), the message leaves the stream; if the
    /// connection dies first, it stays there for the next login.
    on_write: HashMap<u64, StreamId>,
}

enum Delivery {
    /// Logging in: announcements wait here (step 1 of the module doc).
    Syncing {
        buffer: Vec<(StreamId, Announced)>,
        /// Announcements were dropped (a full buffer, a lost subscription): read the stream
        /// again before going live.
        overflowed: bool,
    },
    /// Taking announcements; `last` is the newest stream ID written.
    Live { last: Option<StreamId> },
}

/// A message as announced to this node.
#[derive(Clone)]
struct Announced {
    sender: String,
    id: String,
    frame: String,
}

/// A login that went through.
#[derive(Debug)]
pub(crate) struct Login {
    /// Sessions of this node that the login replaced (already closed).
    pub(crate) replaced: Vec<ConnId>,
    /// Messages written before `synced`.
    pub(crate) backlog: u64,
}

/// Why a login did not go through.
#[derive(Debug)]
pub(crate) enum LoginError {
    /// Redis did not answer; nothing is registered.
    Unavailable(BrokerError),
    /// The connection closed or was replaced meanwhile.
    Closed,
    /// The client did not read its backlog within the write timeout.
    SlowConsumer,
    /// The user's tokens were revoked since its token was checked.
    Revoked,
}

/// What handling an event or a tick did, for the log and the metrics.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Connections disconnected for a full outbox.
    pub(crate) kicked: Vec<(ConnId, String)>,
    /// Sessions closed because their name logged in elsewhere or its tokens were revoked.
    pub(crate) closed: Vec<(ConnId, String, KickReason)>,
    /// Messages that reached the end of their time to live (by this node's sweep).
    pub(crate) expired: Vec<ExpiredEntry>,
    /// Messages written live.
    pub(crate) routed: u64,
    /// Errors talking to Redis, for the log.
    pub(crate) errors: Vec<BrokerError>,
}

impl RedisNode {
    pub(crate) fn new(
        store: RedisStore,
        max_watches: usize,
        outbound_queue_frames: usize,
    ) -> RedisNode {
        let written_cap = store.settings().queue_max_messages;
        let broadcast_presence = store.settings().broadcast_presence;
        RedisNode {
            store,
            inner: Mutex::default(),
            broadcast_presence,
            max_watches,
            sync_buffer: outbound_queue_frames,
            written_cap,
            totals: (AtomicU64::new(0), AtomicU64::new(0)),
            beaten: AtomicBool::new(false),
            watch_registration: tokio::sync::Mutex::new(()),
            next_token: AtomicU64::new(0),
        }
    }

    pub(crate) fn store(&self) -> &RedisStore {
        &self.store
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every step leaves the maps consistent, so a panic elsewhere does not poison them.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Logs `user` in on `handle`'s connection: claims the session across nodes, writes the
    /// backlog (waiting for room in the outbox at most `write_timeout` per frame), then
    /// `synced` and whatever arrived meanwhile.
    pub(crate) async fn login(
        &self,
        user: &str,
        generation: u32,
        handle: SessionHandle,
        write_timeout: Duration,
    ) -> Result<Login, LoginError> {
        let conn = handle.conn;
        let keeps_pending = handle.keeps_pending;
        {
            let mut inner = self.lock();
            inner.users.entry(user.to_owned()).or_default().push(conn);
            inner.conns.insert(
                conn,
                LocalConn {
                    user: Arc::from(user),
                    handle: handle.clone(),
                    delivery: Delivery::Syncing {
                        buffer: Vec::new(),
                        overflowed: false,
                    },
                    watching: HashSet::new(),
                    written: VecDeque::new(),
                    on_write: HashMap::new(),
                },
            );
        }
        let result = self
            .sync(user, generation, &handle, keeps_pending, write_timeout)
            .await;
        if result.is_err() {
            // Not logged in: undo what is registered (best effort: a session left in Redis
            // is replaced by the user's next login, or swept with this node).
            self.forget(conn);
            let _ = self.store.release(user, conn).await;
        }
        result
    }

    async fn sync(
        &self,
        user: &str,
        generation: u32,
        handle: &SessionHandle,
        keeps_pending: bool,
        write_timeout: Duration,
    ) -> Result<Login, LoginError> {
        let conn = handle.conn;
        let replaced_refs = self
            .store
            .claim(user, conn, generation)
            .await
            .map_err(LoginError::Unavailable)?
            .ok_or(LoginError::Revoked)?;
        let mut replaced = Vec::new();
        for old in replaced_refs {
            if old.node == self.store.node()
                && self.close_local(old.conn, user, KickReason::SessionReplaced)
            {
                replaced.push(old.conn);
            }
        }
        let reserve = || async {
            match tokio::time::timeout(write_timeout, handle.outbox.reserve()).await {
                Ok(Some(permit)) => Ok(permit),
                Ok(None) => Err(LoginError::Closed),
                Err(_) => Err(LoginError::SlowConsumer),
            }
        };
        let mut after = None;
        let mut backlog = 0u64;
        let mut receipts_taken = false;
        loop {
            let chunk = self
                .store
                .backlog(user, after, BACKLOG_CHUNK)
                .await
                .map_err(LoginError::Unavailable)?;
            if chunk.entries.is_empty() {
                if !receipts_taken {
                    receipts_taken = true;
                    // Receipts kept while this user was away come after the backlog and
                    // before `synced`, as on one node; a login that did not ask for them
                    // drops them (its client would not know the frame). Later ones come
                    // as events, to this connection too once it is registered here.
                    let receipts = self
                        .store
                        .take_receipts(user, handle.receipts)
                        .await
                        .map_err(LoginError::Unavailable)?;
                    for (written, receipt) in receipts.iter().enumerate() {
                        match reserve().await {
                            Ok(permit) => permit.send(receipt_frame(receipt), None),
                            Err(err) => {
                                // Best effort: the login fails anyway.
                                let _ = self.store.keep_receipts(user, &receipts[written..]).await;
                                return Err(err);
                            }
                        }
                    }
                }
                let permit = reserve().await?;
                if self.go_live(conn, after, backlog, &chunk.epoch, permit)? {
                    continue;
                }
                return Ok(Login { replaced, backlog });
            }
            for entry in chunk.entries {
                let permit = reserve().await?;
                let on_write = self.hand_over(conn, keeps_pending, &entry)?;
                permit.send(Message::text(entry.frame), on_write);
                after = Some(entry.sid);
                backlog += 1;
            }
        }
    }

    /// Records that `entry` goes to `conn`: an `acks` connection remembers it until
    /// acknowledged; for any other the writer reports it once flushed (the returned
    /// [`QueuedAt`]).
    fn hand_over(
        &self,
        conn: ConnId,
        keeps_pending: bool,
        entry: &Entry,
    ) -> Result<Option<QueuedAt>, LoginError> {
        let mut inner = self.lock();
        let Some(local) = inner.conns.get_mut(&conn) else {
            return Err(LoginError::Closed);
        };
        if keeps_pending {
            remember(
                local,
                self.written_cap,
                entry.sender.clone(),
                entry.id.clone(),
                entry.sid,
            );
            return Ok(None);
        }
        Ok(Some(self.on_write(local, entry.sid)))
    }

    /// Numbers a message written to `local` that counts as delivered once flushed.
    fn on_write(&self, local: &mut LocalConn, sid: StreamId) -> QueuedAt {
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        local.on_write.insert(token, sid);
        QueuedAt {
            recipient: Arc::clone(&local.user),
            seq: token,
        }
    }

    /// A connection's writer flushed these messages to its socket: those of this node's
    /// connections that take messages on write leave their streams. Returns how many did.
    pub(crate) async fn written(&self, messages: &[QueuedAt]) -> Result<u64, BrokerError> {
        let mut by_user: HashMap<Arc<str>, Vec<StreamId>> = HashMap::new();
        {
            let mut guard = self.lock();
            let inner = &mut *guard;
            for at in messages {
                let conns = inner.users.get(&*at.recipient).cloned().unwrap_or_default();
                let sid = conns.iter().find_map(|conn| {
                    inner
                        .conns
                        .get_mut(conn)
                        .and_then(|local| local.on_write.remove(&at.seq))
                });
                if let Some(sid) = sid {
                    by_user
                        .entry(Arc::clone(&at.recipient))
                        .or_default()
                        .push(sid);
                }
            }
        }
        let mut removed = 0;
        for (user, sids) in by_user {
            removed += self.store.ack(&user, &sids).await?;
        }
        Ok(removed)
    }

    /// Step 3 of a login: under the lock, `synced` (with `permit`), then the buffered
    /// announcements after `after`, and the connection is live. `true` instead when
    /// announcements were dropped: the caller reads the stream again after `after`.
    fn go_live(
        &self,
        conn: ConnId,
        after: Option<StreamId>,
        backlog: u64,
        epoch: &str,
        permit: OutboxPermit,
    ) -> Result<bool, LoginError> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(LocalConn {
            delivery: Delivery::Syncing { buffer, overflowed },
            ..
        }) = inner.conns.get_mut(&conn)
        else {
            return Err(LoginError::Closed);
        };
        if std::mem::take(overflowed) {
            buffer.clear();
            return Ok(true);
        }
        let buffer = std::mem::take(buffer);
        permit.send(
            Message::text(
                ServerFrame::Synced {
                    backlog,
                    epoch: Some(epoch.to_owned()),
                }
                .to_json(),
            ),
            None,
        );
        if let Some(local) = inner.conns.get_mut(&conn) {
            local.delivery = Delivery::Live { last: after };
        }
        let mut report = Report::default();
        for (sid, announced) in buffer {
            self.deliver(inner, conn, sid, &announced, &mut report);
        }
        if !report.kicked.is_empty() {
            // The only connection written to here is this one.
            return Err(LoginError::SlowConsumer);
        }
        Ok(false)
    }

    /// Takes `conn` out of the local maps (not out of Redis).
    fn forget(&self, conn: ConnId) -> Option<LocalConn> {
        remove_conn(&mut self.lock(), conn)
    }

    /// Closes this node's connection `conn` if it is still `user`'s session; `true` if it was.
    fn close_local(&self, conn: ConnId, user: &str, reason: KickReason) -> bool {
        let local = {
            let mut inner = self.lock();
            if inner
                .conns
                .get(&conn)
                .is_none_or(|local| &*local.user != user)
            {
                return false;
            }
            remove_conn(&mut inner, conn)
        };
        if let Some(local) = local {
            local.handle.closer.close(match reason {
                KickReason::SessionReplaced => CloseReason::session_replaced(),
                KickReason::TokenRevoked => CloseReason::refused(
                    ErrorCode::AuthFailed,
                    "This user's tokens were revoked; log in with a new one",
                    close::AUTH_FAILED,
                    "token revoked",
                ),
            });
        }
        true
    }

    /// Logs out connection `conn`: gone from this node, and from Redis if still registered
    /// (watchers hear that the user is offline when it was the last session).
    pub(crate) async fn logout(&self, conn: ConnId) -> Result<(), BrokerError> {
        let Some(local) = self.forget(conn) else {
            return Ok(());
        };
        self.unwatch_unused(&local.watching).await?;
        self.store.release(&local.user, conn).await.map(|_| ())
    }

    /// The recipient on `conn` acknowledged `id` of `from` (of any sender when not given):
    /// every such message written to it leaves its stream. Returns how many did.
    pub(crate) async fn ack(
        &self,
        conn: ConnId,
        from: Option<&str>,
        id: &str,
    ) -> Result<u64, BrokerError> {
        let (user, sids) = {
            let mut inner = self.lock();
            let Some(local) = inner.conns.get_mut(&conn) else {
                return Ok(0);
            };
            let mut sids = Vec::new();
            local.written.retain(|(sender, written_id, sid)| {
                let matches = written_id == id && from.is_none_or(|from| from == sender);
                if matches {
                    sids.push(*sid);
                }
                !matches
            });
            (local.user.clone(), sids)
        };
        self.store.ack(&user, &sids).await
    }

    /// Sets the status of `conn`'s user; watchers on every node hear of a change.
    pub(crate) async fn set_status(&self, conn: ConnId, status: &str) -> Result<(), BrokerError> {
        let Some(user) = self.lock().conns.get(&conn).map(|local| local.user.clone()) else {
            return Ok(());
        };
        self.store.set_status(&user, status).await.map(|_| ())
    }

    /// Adds watches for `conn`; the current status of each name arrives as a snapshot event.
    /// `Ok(false)` when the watch limit refuses them.
    pub(crate) async fn watch(&self, conn: ConnId, names: &[String]) -> Result<bool, BrokerError> {
        let _registration = self.watch_registration.lock().await;
        {
            let mut guard = self.lock();
            let inner = &mut *guard;
            let Some(local) = inner.conns.get_mut(&conn) else {
                return Ok(true);
            };
            let new = names
                .iter()
                .filter(|name| !local.watching.contains(*name))
                .count();
            if local.watching.len() + new > self.max_watches {
                return Ok(false);
            }
            for name in names {
                local.watching.insert(name.clone());
                inner.watchers.entry(name.clone()).or_default().insert(conn);
            }
        }
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.store.watch(conn, &names).await.map(|()| true)
    }

    /// Removes watches of `conn`; names no connection here watches any more leave Redis.
    pub(crate) async fn unwatch(&self, conn: ConnId, names: &[String]) -> Result<(), BrokerError> {
        let _registration = self.watch_registration.lock().await;
        let removed: HashSet<String> = {
            let mut guard = self.lock();
            let inner = &mut *guard;
            let Some(local) = inner.conns.get_mut(&conn) else {
                return Ok(());
            };
            let removed: HashSet<String> = names
                .iter()
                .filter(|name| local.watching.remove(*name))
                .cloned()
                .collect();
            for name in &removed {
                unwatch_one(&mut inner.watchers, name, conn);
            }
            removed
        };
        self.unregister_unwatched(&removed).await
    }

    /// After a connection left: the names of `watching` that nobody here watches any more
    /// leave Redis.
    async fn unwatch_unused(&self, watching: &HashSet<String>) -> Result<(), BrokerError> {
        if watching.is_empty() {
            return Ok(());
        }
        let _registration = self.watch_registration.lock().await;
        self.unregister_unwatched(watching).await
    }

    /// Unregisters the names of `names` that no connection here watches (the caller holds
    /// `watch_registration`).
    async fn unregister_unwatched(&self, names: &HashSet<String>) -> Result<(), BrokerError> {
        let unused: Vec<String> = {
            let inner = self.lock();
            names
                .iter()
                .filter(|name| !inner.watchers.contains_key(*name))
                .cloned()
                .collect()
        };
        let unused: Vec<&str> = unused.iter().map(String::as_str).collect();
        self.store.unwatch(&unused).await
    }

    /// Distinct users with a session on this node.
    pub(crate) fn users_online(&self) -> usize {
        self.lock().users.len()
    }

    /// Messages and bytes in all queues, as last read by [`RedisNode::tick`].
    pub(crate) fn queue_totals(&self) -> (usize, usize) {
        let get = |value: &AtomicU64| {
            usize::try_from(value.load(Ordering::Relaxed)).unwrap_or(usize::MAX)
        };
        (get(&self.totals.0), get(&self.totals.1))
    }

    /// Accepts a message (see [`RedisStore::send`]).
    pub(crate) async fn send(
        &self,
        from: &str,
        to: &str,
        id: &str,
        frame: &str,
    ) -> Result<super::store::Sent, BrokerError> {
        self.store.send(from, to, id, frame).await
    }

    /// Acts on one event published to this node.
    pub(crate) async fn on_event(&self, event: NodeEvent) -> Report {
        let mut report = Report::default();
        match event {
            NodeEvent::Message {
                user,
                sid,
                sender,
                id,
                frame,
            } => {
                let announced = Announced { sender, id, frame };
                let mut guard = self.lock();
                let inner = &mut *guard;
                for conn in inner.users.get(&user).cloned().unwrap_or_default() {
                    self.take(inner, conn, sid, &announced, &mut report);
                }
            }
            NodeEvent::Kick { conn, user, reason } => {
                if self.close_local(conn, &user, reason) {
                    report.closed.push((conn, user, reason));
                }
            }
            NodeEvent::Presence { user, status } => {
                let frame = presence_frame(&user, &status);
                let mut guard = self.lock();
                let inner = &mut *guard;
                let targets: Vec<ConnId> = if self.broadcast_presence {
                    inner.conns.keys().copied().collect()
                } else {
                    inner
                        .watchers
                        .get(&user)
                        .map(|conns| conns.iter().copied().collect())
                        .unwrap_or_default()
                };
                for conn in targets {
                    let own = inner
                        .conns
                        .get(&conn)
                        .is_some_and(|local| *local.user == *user);
                    if !own {
                        push(inner, conn, frame.clone(), &mut report);
                    }
                }
            }
            NodeEvent::Snapshot { conn, statuses } => {
                let mut inner = self.lock();
                for (name, status) in statuses {
                    if push(
                        &mut inner,
                        conn,
                        presence_frame(&name, &status),
                        &mut report,
                    ) != Push::Queued
                    {
                        break;
                    }
                }
            }
            NodeEvent::Expired { sender, to, id } => {
                let ttl = self.store.settings().queue_ttl;
                let frame = Message::text(
                    ServerFrame::Error {
                        code: ErrorCode::Expired,
                        message: format!(
                            "Message {id} to {to} waited {} s, its time to live, and was dropped",
                            ttl.as_secs()
                        ),
                        retry_after_ms: None,
                        id: Some(id),
                        max_bytes: None,
                        to: Some(to),
                        limit: None,
                    }
                    .to_json(),
                );
                let mut guard = self.lock();
                let inner = &mut *guard;
                for conn in inner.users.get(&sender).cloned().unwrap_or_default() {
                    push(inner, conn, frame.clone(), &mut report);
                }
            }
            NodeEvent::Receipts { user } => self.tell_receipts(&user, &mut report).await,
            NodeEvent::Resubscribed => self.resync(&mut report).await,
        }
        report
    }

    /// Receipts are kept for `user`: when a connection of it here asked for them, takes
    /// them from Redis and writes each to every such connection; those that none could
    /// take (full outboxes) go back to Redis for its next login.
    async fn tell_receipts(&self, user: &str, report: &mut Report) {
        let wanted = {
            let inner = self.lock();
            receipt_conns(&inner, user).next().is_some()
        };
        if !wanted {
            return;
        }
        let receipts = match self.store.take_receipts(user, true).await {
            Ok(receipts) => receipts,
            Err(err) => {
                report.errors.push(err);
                return;
            }
        };
        let unsent: Vec<Receipt> = {
            let inner = self.lock();
            let conns: Vec<&LocalConn> = receipt_conns(&inner, user).collect();
            receipts
                .into_iter()
                .filter(|receipt| {
                    let frame = receipt_frame(receipt);
                    let told = conns
                        .iter()
                        .filter(|local| local.handle.outbox.push(frame.clone()) == Push::Queued)
                        .count();
                    told == 0
                })
                .collect()
        };
        if let Err(err) = self.store.keep_receipts(user, &unsent).await {
            report.errors.push(err);
        }
    }

    /// An announced message for `conn`: buffered while it syncs, written when it is live
    /// and does not have it yet.
    fn take(
        &self,
        inner: &mut Inner,
        conn: ConnId,
        sid: StreamId,
        announced: &Announced,
        report: &mut Report,
    ) {
        let Some(local) = inner.conns.get_mut(&conn) else {
            return;
        };
        if let Delivery::Syncing { buffer, overflowed } = &mut local.delivery {
            if buffer.len() >= self.sync_buffer {
                *overflowed = true;
            } else if !*overflowed {
                buffer.push((sid, announced.clone()));
            }
            return;
        }
        self.deliver(inner, conn, sid, announced, report);
    }

    /// Writes an announced message to live connection `conn` unless it has it already: an
    /// `acks` connection remembers it until acknowledged, any other hands it to its writer
    /// to be removed from the stream once flushed.
    fn deliver(
        &self,
        inner: &mut Inner,
        conn: ConnId,
        sid: StreamId,
        announced: &Announced,
        report: &mut Report,
    ) {
        let Some(local) = inner.conns.get_mut(&conn) else {
            return;
        };
        let Delivery::Live { last } = &mut local.delivery else {
            return;
        };
        if last.is_some_and(|last| sid <= last) {
            return;
        }
        let keeps_pending = local.handle.keeps_pending;
        let on_write = (!keeps_pending).then(|| self.on_write(local, sid));
        let token = on_write.as_ref().map(|at| at.seq);
        let frame = Message::text(announced.frame.clone());
        match local.handle.outbox.push_message(frame, on_write) {
            Push::Queued => {
                if let Delivery::Live { last } = &mut local.delivery {
                    *last = Some(sid);
                }
                report.routed += 1;
                if keeps_pending {
                    remember(
                        local,
                        self.written_cap,
                        announced.sender.clone(),
                        announced.id.clone(),
                        sid,
                    );
                }
            }
            Push::Full => kick(inner, conn, report),
            Push::Closed => {
                if let Some(token) = token {
                    local.on_write.remove(&token);
                }
            }
        }
    }

    /// After the pub/sub connection came back (or this node was declared dead): closes the
    /// sessions Redis no longer has, catches live connections up with their streams, makes
    /// syncing ones read theirs again, and registers the watches again (each watcher gets
    /// the current statuses).
    async fn resync(&self, report: &mut Report) {
        let users: Vec<(String, Vec<ConnId>)> = self
            .lock()
            .users
            .iter()
            .map(|(user, conns)| (user.clone(), conns.clone()))
            .collect();
        for (user, conns) in users {
            match self.store.check(&user, &conns).await {
                Ok(alive) => {
                    for conn in conns.iter().filter(|conn| !alive.contains(conn)) {
                        if self.close_local(*conn, &user, KickReason::SessionReplaced) {
                            report
                                .closed
                                .push((*conn, user.clone(), KickReason::SessionReplaced));
                        }
                    }
                }
                Err(err) => report.errors.push(err),
            }
        }
        let live: Vec<(ConnId, String, Option<StreamId>)> = {
            let mut inner = self.lock();
            let mut live = Vec::new();
            for (conn, local) in &mut inner.conns {
                match &mut local.delivery {
                    Delivery::Syncing { overflowed, .. } => *overflowed = true,
                    Delivery::Live { last } => live.push((*conn, local.user.to_string(), *last)),
                }
            }
            live
        };
        for (conn, user, mut after) in live {
            loop {
                let chunk = match self.store.backlog(&user, after, BACKLOG_CHUNK).await {
                    Ok(chunk) => chunk,
                    Err(err) => {
                        report.errors.push(err);
                        break;
                    }
                };
                let Some(newest) = chunk.entries.last().map(|entry| entry.sid) else {
                    break;
                };
                let mut guard = self.lock();
                let inner = &mut *guard;
                for entry in chunk.entries {
                    let announced = Announced {
                        sender: entry.sender,
                        id: entry.id,
                        frame: entry.frame,
                    };
                    self.deliver(inner, conn, entry.sid, &announced, report);
                }
                drop(guard);
                after = Some(newest);
            }
        }
        let watches: Vec<(ConnId, Vec<String>)> = self
            .lock()
            .conns
            .iter()
            .filter(|(_, local)| !local.watching.is_empty())
            .map(|(conn, local)| (*conn, local.watching.iter().cloned().collect()))
            .collect();
        for (conn, names) in watches {
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            if let Err(err) = self.store.watch(conn, &names).await {
                report.errors.push(err);
            }
        }
        // Receipts announced meanwhile are kept in Redis.
        let wanting: Vec<String> = {
            let inner = self.lock();
            inner
                .users
                .keys()
                .filter(|user| receipt_conns(&inner, user).next().is_some())
                .cloned()
                .collect()
        };
        for user in wanting {
            self.tell_receipts(&user, report).await;
        }
    }

    /// The periodic work: the heartbeat (with a resync when other nodes had declared this
    /// one dead), the expiry sweep, and the totals for `/metrics`. Every node runs it; the
    /// scripts make sure each dead node and each expired message is handled once.
    pub(crate) async fn tick(&self) -> Report {
        let mut report = Report::default();
        match self.store.beat().await {
            Ok(beat) => {
                let first = !self.beaten.swap(true, Ordering::Relaxed);
                if !beat.was_registered && !first {
                    self.resync(&mut report).await;
                }
            }
            Err(err) => report.errors.push(err),
        }
        match self.store.expire_due(EXPIRE_USERS).await {
            Ok(expired) => report.expired = expired,
            Err(err) => report.errors.push(err),
        }
        match self.store.totals().await {
            Ok((messages, bytes)) => {
                self.totals.0.store(messages, Ordering::Relaxed);
                self.totals.1.store(bytes, Ordering::Relaxed);
            }
            Err(err) => report.errors.push(err),
        }
        report
    }

    /// How often [`RedisNode::tick`] should run: three heartbeats per node expiry, and at
    /// least every second for the expiry sweep.
    pub(crate) fn tick_interval(&self) -> Duration {
        (self.store.settings().node_expiry / 3).min(Duration::from_secs(1))
    }
}

/// Remembers a message written to an `acks` connection, forgetting the oldest beyond `cap`.
fn remember(local: &mut LocalConn, cap: usize, sender: String, id: String, sid: StreamId) {
    if local.written.len() >= cap {
        local.written.pop_front();
    }
    local.written.push_back((sender, id, sid));
}

/// `user`'s connections on this node that asked for receipts.
fn receipt_conns<'a>(inner: &'a Inner, user: &str) -> impl Iterator<Item = &'a LocalConn> {
    inner
        .users
        .get(user)
        .into_iter()
        .flatten()
        .filter_map(|conn| inner.conns.get(conn))
        .filter(|local| local.handle.receipts)
}

fn receipt_frame(receipt: &Receipt) -> Message {
    Message::text(
        ServerFrame::Delivered {
            id: receipt.id.clone(),
            to: receipt.to.clone(),
        }
        .to_json(),
    )
}

fn presence_frame(user: &str, status: &str) -> Message {
    Message::text(
        ServerFrame::Presence {
            username: user.to_owned(),
            status: status.to_owned(),
        }
        .to_json(),
    )
}

/// Pushes `frame` to `conn`; a full outbox disconnects it.
fn push(inner: &mut Inner, conn: ConnId, frame: Message, report: &mut Report) -> Push {
    let Some(local) = inner.conns.get(&conn) else {
        return Push::Closed;
    };
    let pushed = local.handle.outbox.push(frame);
    if pushed == Push::Full {
        kick(inner, conn, report);
    }
    pushed
}

/// Closes a connection whose outbox is full and takes it out of the local maps; its own
/// logout then releases it in Redis.
fn kick(inner: &mut Inner, conn: ConnId, report: &mut Report) {
    if let Some(local) = remove_conn(inner, conn) {
        local.handle.closer.close(CloseReason::slow_consumer());
        report.kicked.push((conn, local.user.to_string()));
    }
}

/// Takes `conn` out of the local maps.
fn remove_conn(inner: &mut Inner, conn: ConnId) -> Option<LocalConn> {
    let local = inner.conns.remove(&conn)?;
    if let Some(conns) = inner.users.get_mut(&*local.user) {
        conns.retain(|other| *other != conn);
        if conns.is_empty() {
            inner.users.remove(&*local.user);
        }
    }
    for name in &local.watching {
        unwatch_one(&mut inner.watchers, name, conn);
    }
    Some(local)
}

fn unwatch_one(watchers: &mut HashMap<String, HashSet<ConnId>>, name: &str, conn: ConnId) {
    if let Some(set) = watchers.get_mut(name) {
        set.remove(&conn);
        if set.is_empty() {
            watchers.remove(name);
        }
    }
}
