//! Who is online, on which connections, and who watches whom.
//!
//! One mutex over three maps. Every operation is short and never waits while holding it:
//! frames are *pushed* to bounded outboxes (`session.rs`), never written to sockets, so a
//! stalled client cannot hold the lock. Sessions are keyed by connection ID, which fixes the
//! Python relay's R1 defect: a connection's cleanup removes its own session only, never a
//! newer one under the same name.
//!
//! The offline queues (`queue.rs`) live under the same mutex: [`Registry::send`] decides
//! "deliver now" or "queue" and does it in one step, and a login takes its backlog in
//! chunks and registers the session only when no queued message is left, so a message is
//! either in the backlog or delivered live, never lost between the two.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use crate::config::PresenceMode;
use crate::limits::Limits;
use crate::protocol::{AckStatus, ErrorCode, QueueLimit, ServerFrame};
use crate::queue::{Delivery, Expired, MessageId, Pending, Queues, Receipt, Seq};
use crate::session::{CloseReason, ConnId, OutboxPermit, Push, QueuedAt, SessionHandle};
use crate::spool::Spool;

/// Backlog messages a login takes from its queue per step (the lock is released between).
const BACKLOG_CHUNK: usize = 64;

/// The status of a user with at least one session and no `status_change` since login.
pub(crate) const ONLINE: &str = "online";
/// The status reported for a user without sessions.
pub(crate) const OFFLINE: &str = "offline";

pub(crate) struct Registry {
    inner: Mutex<Inner>,
    presence: PresenceMode,
    max_sessions_per_user: usize,
    max_watches: usize,
}

struct Inner {
    users: HashMap<String, UserEntry>,
    /// Keyed by IDs the relay assigns (a counter), never by client input: a cheap hash.
    conns: HashMap<ConnId, ConnEntry, BuildHasherDefault<ConnIdHasher>>,
    /// Watched name → the connections watching it (Watchers mode).
    watchers: HashMap<String, HashSet<ConnId>>,
    queues: Queues,
    /// The token generation of each name whose tokens were revoked (the others are at 0).
    /// Under the same lock as the sessions: a login checks it when it registers, so none
    /// can slip in with a token revoked while it was logging in.
    token_generations: BTreeMap<String, u32>,
    /// `delivered` notices for senders that were offline when their queued message reached
    /// its recipient, pushed at the sender's next login (at most [`MAX_RECEIPTS`] each).
    receipts: HashMap<Arc<str>, Vec<Message>>,
}

/// The most `delivered` notices kept for one offline sender (the oldest go first): the
/// notices only correct a sender's record from `queued` to `delivered`.
pub(crate) const MAX_RECEIPTS: usize = 1024;

struct UserEntry {
    /// The name (the map's key), shared by every message frame that tells a writer which
    /// queue it came from.
    name: Arc<str>,
    status: String,
    /// Oldest first, so the oldest session is the one a new login replaces.
    sessions: Vec<ConnId>,
}

struct ConnEntry {
    user: String,
    handle: SessionHandle,
    watching: HashSet<String>,
}

/// The hasher of the connection map. Its keys are connection IDs the relay numbers itself,
/// so no client can choose them to flood a bucket, and SipHash (three lookups per `send`)
/// buys nothing: a multiplication by an odd constant spreads consecutive IDs over the
/// table's buckets (the low bits) and its 7-bit tags (the high bits).
#[derive(Default)]
struct ConnIdHasher(u64);

impl Hasher for ConnIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed with it; fold anything else in anyway.
        for byte in bytes {
            self.write_u64(self.0.rotate_left(8) ^ u64::from(*byte));
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// What became of a `send`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SendOutcome {
    /// Accepted: written to the recipient, or in its queue.
    Accepted {
        status: AckStatus,
        /// The same (sender, id) was accepted before; nothing was delivered this time.
        duplicate: bool,
    },
    /// Not accepted: the recipient's queue (or all queues) is at this bound.
    Refused(QueueLimit),
    /// Not accepted: the sender's sends across all nodes are over the rate (the Redis
    /// engine only; a single node limits each connection's frames before they get here).
    RateLimited { retry_after_ms: u64 },
}

/// One step of a login.
pub(crate) enum LoginStep {
    /// Queued messages to write first (oldest first); ask again after writing them. The
    /// permit comes back unused.
    Backlog(Vec<Pending>, OutboxPermit),
    /// No backlog left: the session is registered and `synced` is in its outbox.
    Registered {
        replaced: Vec<ConnId>,
        kicked: Kicked,
    },
    /// The name's tokens were revoked since this login's token was checked: nothing more is
    /// written to it, and it is not registered.
    Revoked,
}

/// A message dropped at the end of its time to live, and whether its sender was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExpiredReport {
    pub(crate) expired: Expired,
    pub(crate) sender_told: bool,
}

/// Connections disconnected during an operation because their outbox was full, for the log.
pub(crate) type Kicked = Vec<(ConnId, String)>;

impl Registry {
    /// A registry whose queues log to `spool` and start with what it recovered.
    pub(crate) fn new(presence: PresenceMode, limits: &Limits, spool: Option<Spool>) -> Registry {
        let recovered = spool.as_ref().and_then(Spool::take_recovered);
        let token_generations = spool
            .as_ref()
            .map(Spool::token_generations)
            .unwrap_or_default();
        let mut queues = Queues::new(limits, spool);
        if let Some(recovery) = recovered {
            queues.restore(recovery, Instant::now());
        }
        Registry {
            inner: Mutex::new(Inner {
                users: HashMap::new(),
                conns: HashMap::default(),
                watchers: HashMap::new(),
                queues,
                token_generations,
                receipts: HashMap::new(),
            }),
            presence,
            max_sessions_per_user: limits.max_sessions_per_user.max(1),
            max_watches: limits.max_watches,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No code path panics while holding the lock; if one ever did, the maps are still
        // structurally valid (each step leaves them consistent), so keep serving.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers an authenticated session. Sessions beyond `max_sessions_per_user` (the
    /// oldest first) are closed with `session_replaced`. Watchers learn that the user is
    /// online when they were not, or had another status. Returns the replaced connections
    /// and any watcher disconnected for being too slow.
    ///
    /// First, while `user` has queued messages after `after` (the last one this login
    /// wrote), returns the next chunk of them instead, marked as handed to this session
    /// (delivered once written, or awaiting an `ack` when the session keeps its messages
    /// pending): the caller writes them and asks again. Only when none is left is the
    /// session registered and `synced {backlog}` pushed with `permit`, under the lock, so
    /// every message sent meanwhile is either in the backlog or comes live after `synced`.
    ///
    /// `generation` is the token generation the login's token was checked against: once
    /// the name's tokens are revoked, every further step answers [`LoginStep::Revoked`].
    pub(crate) fn login(
        &self,
        user: &str,
        generation: u32,
        handle: SessionHandle,
        after: Seq,
        backlog: u64,
        permit: OutboxPermit,
    ) -> LoginStep {
        let mut guard = self.lock();
        let inner = &mut *guard;
        if inner.generation(user) != generation {
            return LoginStep::Revoked;
        }
        if inner.queues.has_after(user, after) {
            let handed = if handle.keeps_pending {
                Delivery::AwaitingAck
            } else {
                Delivery::OnWrite
            };
            return LoginStep::Backlog(
                inner
                    .queues
                    .backlog_after(user, after, BACKLOG_CHUNK, handed),
                permit,
            );
        }
        // `delivered` notices kept while this user was offline come before `synced`, so a
        // `--once` client that stops at `synced` has them; a login that did not ask for
        // them drops them (its client would not know the frame).
        if let Some(notices) = inner.receipts.remove(user)
            && handle.receipts
        {
            let mut unsent = Vec::new();
            for notice in notices {
                if !matches!(handle.outbox.push(notice.clone()), Push::Queued) {
                    unsent.push(notice);
                }
            }
            if !unsent.is_empty() {
                inner.receipts.insert(Arc::from(user), unsent);
            }
        }
        permit.send(
            Message::text(
                ServerFrame::Synced {
                    backlog,
                    epoch: None,
                }
                .to_json(),
            ),
            None,
        );
        let (replaced, kicked) = self.register(inner, user, handle);
        LoginStep::Registered { replaced, kicked }
    }

    /// A connection's writer flushed these messages to its socket: those that count as
    /// delivered on write leave their queues. Returns how many left.
    pub(crate) fn written(&self, messages: &[QueuedAt]) -> usize {
        let mut guard = self.lock();
        let mut receipts = Vec::new();
        let removed = guard.queues.remove_written(messages, &mut receipts);
        Self::tell_delivered_all(&mut guard, receipts);
        removed
    }

    /// The token generation of `user`: 0 until its tokens are first revoked.
    pub(crate) fn token_generation(&self, user: &str) -> u32 {
        self.lock().generation(user)
    }

    /// The generation of every name whose tokens were revoked (what the spool records).
    pub(crate) fn token_generations(&self) -> BTreeMap<String, u32> {
        self.lock().token_generations.clone()
    }

    /// Moves `user` to token `generation`: tokens of earlier generations stop working, and
    /// every session of `user` is closed with `token_revoked` (whichever token it logged in
    /// with, since the leaked one cannot be told apart). Returns how many sessions it closed,
    /// and the watchers disconnected for being too slow for the `offline` frame.
    pub(crate) fn revoke_tokens(&self, user: &str, generation: u32) -> (usize, Kicked) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        inner.token_generations.insert(user.to_owned(), generation);
        let sessions = inner
            .users
            .get(user)
            .map(|entry| entry.sessions.clone())
            .unwrap_or_default();
        let mut kicked = Kicked::new();
        let mut too_slow = Vec::new();
        for conn in &sessions {
            if let Some(entry) = self.remove_session_collect(inner, *conn, &mut too_slow) {
                entry.handle.closer.close(CloseReason::token_revoked());
            }
        }
        for slow in too_slow {
            self.kick(inner, slow, &mut kicked);
        }
        (sessions.len(), kicked)
    }

    /// The recipient `user` acknowledged `id` of `from` (of any sender when not given).
    /// Returns how many queued messages that removed (0 for an unknown or repeated
    /// acknowledgement). The sender of a message it had been told was `queued` is told it
    /// is `delivered`.
    pub(crate) fn ack(&self, user: &str, from: Option<&str>, id: &str) -> usize {
        let mut guard = self.lock();
        let mut receipts = Vec::new();
        let removed = guard.queues.ack(user, from, id, &mut receipts);
        Self::tell_delivered_all(&mut guard, receipts);
        removed
    }

    /// [`Registry::tell_delivered`] for each message that left a queue after its sender was
    /// told `queued` (none for messages delivered live: their sender was told `delivered`).
    fn tell_delivered_all(inner: &mut Inner, receipts: Vec<Receipt>) {
        for receipt in receipts {
            Self::tell_delivered(inner, &receipt.sender, receipt.id.as_str(), &receipt.to);
        }
    }

    /// Tells `sender` that its message `id` reached `to`, unless the sender's `ack` for it
    /// already said `delivered` (the dedupe window remembers; outside it, a repeat notice
    /// does no harm: a client records `delivered` once). Online: pushed to each session
    /// that asked for receipts; otherwise kept for its next login. Later sends of the same message are answered
    /// `delivered`.
    fn tell_delivered(inner: &mut Inner, sender: &Arc<str>, id: &str, to: &str) {
        let now = Instant::now();
        let key = inner.queues.dedupe_key(sender, id, to);
        if inner.queues.dedupe_lookup(key, now) == Some(AckStatus::Delivered) {
            return;
        }
        inner.queues.dedupe_record(key, AckStatus::Delivered, now);
        let notice = Message::text(
            ServerFrame::Delivered {
                id: id.to_owned(),
                to: to.to_owned(),
            }
            .to_json(),
        );
        let mut told = false;
        if let Some(entry) = inner.users.get(&**sender) {
            for conn in &entry.sessions {
                if let Some(conn) = inner.conns.get(conn)
                    && conn.handle.receipts
                    && matches!(conn.handle.outbox.push(notice.clone()), Push::Queued)
                {
                    told = true;
                }
            }
        }
        if !told {
            let kept = inner.receipts.entry(Arc::clone(sender)).or_default();
            if kept.len() >= MAX_RECEIPTS {
                kept.remove(0);
            }
            kept.push(notice);
        }
    }

    /// Messages and bytes in all offline queues.
    pub(crate) fn queue_totals(&self) -> (usize, usize) {
        self.lock().queues.totals()
    }

    /// When the next queued message expires.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.lock().queues.next_deadline()
    }

    /// Drops the messages whose time to live ended at `now`. The sender of each message that
    /// never reached its recipient gets an `expired` error on every session it has.
    pub(crate) fn expire(&self, now: Instant) -> (Vec<ExpiredReport>, Kicked) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let mut kicked = Kicked::new();
        let ttl = inner.queues.ttl();
        let mut reports = Vec::new();
        let mut too_slow = Vec::new();
        for expired in inner.queues.expire(now) {
            let mut sender_told = false;
            if !expired.written
                && let Some(sender) = inner.users.get(&*expired.sender)
            {
                let frame = Message::text(
                    ServerFrame::Error {
                        code: ErrorCode::Expired,
                        message: format!(
                            "Message {} to {} waited {} s, its time to live, and was dropped",
                            expired.id,
                            expired.to,
                            ttl.as_secs()
                        ),
                        retry_after_ms: None,
                        id: Some(expired.id.to_string()),
                        max_bytes: None,
                        to: Some(expired.to.to_string()),
                        limit: None,
                    }
                    .to_json(),
                );
                for conn in &sender.sessions {
                    if let Some(entry) = inner.conns.get(conn) {
                        match entry.handle.outbox.push(frame.clone()) {
                            Push::Queued => sender_told = true,
                            Push::Full => too_slow.push(*conn),
                            Push::Closed => {}
                        }
                    }
                }
            }
            reports.push(ExpiredReport {
                expired,
                sender_told,
            });
        }
        for conn in too_slow {
            self.kick(inner, conn, &mut kicked);
        }
        (reports, kicked)
    }

    /// Registers the session (the last step of [`Registry::login`]).
    fn register(
        &self,
        inner: &mut Inner,
        user: &str,
        handle: SessionHandle,
    ) -> (Vec<ConnId>, Kicked) {
        let mut kicked = Kicked::new();
        let conn = handle.conn;
        let entry = inner
            .users
            .entry(user.to_owned())
            .or_insert_with(|| UserEntry {
                name: Arc::from(user),
                status: OFFLINE.to_owned(),
                sessions: Vec::new(),
            });
        let mut replaced = Vec::new();
        while entry.sessions.len() >= self.max_sessions_per_user {
            replaced.push(entry.sessions.remove(0));
        }
        entry.sessions.push(conn);
        let announce = entry.status != ONLINE;
        entry.status = ONLINE.to_owned();
        inner.conns.insert(
            conn,
            ConnEntry {
                user: user.to_owned(),
                handle,
                watching: HashSet::new(),
            },
        );
        for old in &replaced {
            // Already out of the user's session list, so this announces nothing: the user
            // stays online throughout a replacement.
            if let Some(entry) = inner.remove_conn(*old) {
                entry.handle.closer.close(CloseReason::session_replaced());
            }
        }
        if announce {
            self.announce(inner, user, ONLINE, &mut kicked);
        }
        (replaced, kicked)
    }

    /// Removes connection `conn`'s session, if it still has one. A session that was replaced
    /// or disconnected is already gone, and a newer session under the same name is left
    /// alone. Watchers learn that the user is offline when this was the last session.
    pub(crate) fn logout(&self, conn: ConnId) -> Kicked {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let mut kicked = Kicked::new();
        self.remove_session(inner, conn, &mut kicked);
        kicked
    }

    /// Accepts a message from `from` to `to` with `id` (`frame` is the serialised `message`):
    /// a (sender, id) to the same recipient seen within the dedupe window is answered with
    /// its first outcome and not delivered again; a queue at one of its bounds refuses it;
    /// otherwise it enters `to`'s queue and is pushed to every session of `to`. It stays in
    /// the queue until a session's writer has written it (a v0.2.0 client) or a session has
    /// acknowledged it (an `acks` client), so a connection that dies with it does not lose
    /// it. Without a session that takes it (offline, or every session too slow and
    /// disconnected), it waits for the next login.
    pub(crate) fn send(
        &self,
        from: &Arc<str>,
        to: &str,
        id: &str,
        frame: Message,
        now: Instant,
    ) -> (SendOutcome, Kicked) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let mut kicked = Kicked::new();
        let dedupe_key = inner.queues.dedupe_key(from, id, to);
        if let Some(status) = inner.queues.dedupe_lookup(dedupe_key, now) {
            let outcome = SendOutcome::Accepted {
                status,
                duplicate: true,
            };
            return (outcome, kicked);
        }
        let bytes = frame.len();
        if let Err(limit) = inner.queues.check_room(from, to, bytes) {
            return (SendOutcome::Refused(limit), kicked);
        }
        let seq = inner.queues.take_seq();
        let mut delivery = Delivery::Waiting;
        let mut too_slow = Vec::new();
        if let Some(user) = inner.users.get(to) {
            for conn in &user.sessions {
                let Some(entry) = inner.conns.get(conn) else {
                    continue;
                };
                let keeps_pending = entry.handle.keeps_pending;
                let on_write = (!keeps_pending).then(|| QueuedAt {
                    recipient: Arc::clone(&user.name),
                    seq,
                });
                match entry.handle.outbox.push_message(frame.clone(), on_write) {
                    Push::Queued if keeps_pending => delivery = Delivery::AwaitingAck,
                    Push::Queued if delivery == Delivery::Waiting => {
                        delivery = Delivery::OnWrite;
                    }
                    Push::Queued => {}
                    Push::Full => too_slow.push(*conn),
                    // The connection is ending and will log out in a moment.
                    Push::Closed => {}
                }
            }
        }
        for conn in &too_slow {
            self.kick(inner, *conn, &mut kicked);
        }
        let status = if delivery.handed_over() {
            AckStatus::Delivered
        } else {
            AckStatus::Queued
        };
        // In the queue whatever happened: until it is written (or acknowledged), a message
        // handed to a connection that dies is delivered at the next login.
        let pending = Pending {
            seq,
            sender: Arc::clone(from),
            id: MessageId::new(id),
            frame,
            accepted: now,
            delivery,
            told_queued: status == AckStatus::Queued,
        };
        inner.queues.push(to, pending);
        inner.queues.dedupe_record(dedupe_key, status, now);
        let outcome = SendOutcome::Accepted {
            status,
            duplicate: false,
        };
        (outcome, kicked)
    }

    /// Sets the status of `conn`'s user and tells watchers when it changed.
    pub(crate) fn set_status(&self, conn: ConnId, status: &str) -> Kicked {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let mut kicked = Kicked::new();
        let Some(user) = inner.conns.get(&conn).map(|entry| entry.user.clone()) else {
            return kicked;
        };
        let Some(entry) = inner.users.get_mut(&user) else {
            return kicked;
        };
        if entry.status != status {
            entry.status = status.to_owned();
            self.announce(inner, &user, status, &mut kicked);
        }
        kicked
    }

    /// Adds watches for `conn` and pushes one `presence` frame per name with its current
    /// status, under the lock, so no later change can overtake the snapshot.
    pub(crate) fn watch(&self, conn: ConnId, names: &[String]) -> Result<Kicked, ErrorCode> {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let mut kicked = Kicked::new();
        let Some(entry) = inner.conns.get(&conn) else {
            return Ok(kicked);
        };
        let new: HashSet<&String> = names
            .iter()
            .filter(|name| !entry.watching.contains(*name))
            .collect();
        if entry.watching.len() + new.len() > self.max_watches {
            return Err(ErrorCode::TooManyWatches);
        }
        let mut snapshot = Vec::with_capacity(names.len());
        for name in names {
            let status = inner
                .users
                .get(name)
                .map_or(OFFLINE, |user| user.status.as_str());
            let frame = ServerFrame::Presence {
                username: name.clone(),
                status: status.to_owned(),
            };
            snapshot.push(Message::text(frame.to_json()));
        }
        let entry = inner
            .conns
            .get_mut(&conn)
            .expect("checked above, same lock");
        for name in names {
            entry.watching.insert(name.clone());
        }
        let outbox = entry.handle.outbox.clone();
        for name in names {
            inner.watchers.entry(name.clone()).or_default().insert(conn);
        }
        for frame in snapshot {
            if outbox.push(frame) == Push::Full {
                self.kick(inner, conn, &mut kicked);
                break;
            }
        }
        Ok(kicked)
    }

    /// Removes watches of `conn`.
    pub(crate) fn unwatch(&self, conn: ConnId, names: &[String]) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let Some(entry) = inner.conns.get_mut(&conn) else {
            return;
        };
        for name in names {
            entry.watching.remove(name);
        }
        for name in names {
            inner.unwatch_one(name, conn);
        }
    }

    /// Distinct user names with at least one session (`GET /status`'s `connected`).
    pub(crate) fn users_online(&self) -> usize {
        self.lock().users.len()
    }

    /// Removes a session whose outbox is full and closes its connection; cascades through
    /// watchers that turn out to be too slow for the resulting `offline` frame.
    fn kick(&self, inner: &mut Inner, conn: ConnId, kicked: &mut Kicked) {
        let mut pending = vec![conn];
        while let Some(conn) = pending.pop() {
            if let Some(entry) = self.remove_session_collect(inner, conn, &mut pending) {
                entry.handle.closer.close(CloseReason::slow_consumer());
                kicked.push((conn, entry.user));
            }
        }
    }

    fn remove_session(&self, inner: &mut Inner, conn: ConnId, kicked: &mut Kicked) {
        let mut too_slow = Vec::new();
        self.remove_session_collect(inner, conn, &mut too_slow);
        for slow in too_slow {
            self.kick(inner, slow, kicked);
        }
    }

    /// Removes `conn`'s session; if it was its user's last, marks the user offline and
    /// announces it, collecting watchers whose outbox was full in `too_slow`.
    fn remove_session_collect(
        &self,
        inner: &mut Inner,
        conn: ConnId,
        too_slow: &mut Vec<ConnId>,
    ) -> Option<ConnEntry> {
        let entry = inner.remove_conn(conn)?;
        let user = entry.user.clone();
        let last = match inner.users.get_mut(&user) {
            Some(user_entry) => {
                user_entry.sessions.retain(|c| *c != conn);
                user_entry.sessions.is_empty()
            }
            None => false,
        };
        if last {
            inner.users.remove(&user);
            inner.queues.release_if_empty(&user);
            too_slow.extend(self.push_presence(inner, &user, OFFLINE));
        }
        Some(entry)
    }

    fn announce(&self, inner: &mut Inner, user: &str, status: &str, kicked: &mut Kicked) {
        for slow in self.push_presence(inner, user, status) {
            self.kick(inner, slow, kicked);
        }
    }

    /// Pushes a `presence` frame about `user` to the connections that should see it and
    /// returns those whose outbox was full. The user's own sessions never get it.
    fn push_presence(&self, inner: &Inner, user: &str, status: &str) -> Vec<ConnId> {
        let frame = Message::text(
            ServerFrame::Presence {
                username: user.to_owned(),
                status: status.to_owned(),
            }
            .to_json(),
        );
        let mut too_slow = Vec::new();
        let mut push = |conn: ConnId, entry: &ConnEntry| {
            if entry.user != user && entry.handle.outbox.push(frame.clone()) == Push::Full {
                too_slow.push(conn);
            }
        };
        match self.presence {
            PresenceMode::Watchers => {
                if let Some(watchers) = inner.watchers.get(user) {
                    for conn in watchers {
                        if let Some(entry) = inner.conns.get(conn) {
                            push(*conn, entry);
                        }
                    }
                }
            }
            PresenceMode::Broadcast => {
                for (conn, entry) in &inner.conns {
                    push(*conn, entry);
                }
            }
        }
        too_slow
    }
}

impl Inner {
    fn generation(&self, user: &str) -> u32 {
        self.token_generations.get(user).copied().unwrap_or(0)
    }

    /// Takes a connection out of `conns` and `watchers` (not out of its user's sessions).
    fn remove_conn(&mut self, conn: ConnId) -> Option<ConnEntry> {
        let entry = self.conns.remove(&conn)?;
        for name in &entry.watching {
            self.unwatch_one(name, conn);
        }
        Some(entry)
    }

    fn unwatch_one(&mut self, name: &str, conn: ConnId) {
        if let Some(set) = self.watchers.get_mut(name) {
            set.remove(&conn);
            if set.is_empty() {
                self.watchers.remove(name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{Closer, Outbox, Outgoing};
    use tokio::sync::mpsc;

    struct Probe {
        handle: SessionHandle,
        frames: mpsc::Receiver<Outgoing>,
        closed: tokio::sync::watch::Receiver<Option<CloseReason>>,
    }

    fn probe(conn: ConnId, queue: usize) -> Probe {
        probe_with(conn, queue, false)
    }

    fn probe_with(conn: ConnId, queue: usize, keeps_pending: bool) -> Probe {
        let (outbox, frames, _) = Outbox::new(queue, 1 << 20);
        let closer = Closer::new();
        let closed = closer.subscribe();
        Probe {
            handle: SessionHandle {
                conn,
                keeps_pending,
                receipts: false,
                outbox,
                closer,
            },
            frames,
            closed,
        }
    }

    fn registry(
        presence: PresenceMode,
        max_sessions_per_user: usize,
        max_watches: usize,
    ) -> Registry {
        Registry::new(
            presence,
            &Limits {
                max_sessions_per_user,
                max_watches,
                ..Limits::default()
            },
            None,
        )
    }

    /// A whole login as the connection does it: backlog chunks, then registration. Takes
    /// everything out of the outbox and returns the backlog (`synced` checked and dropped).
    fn login(registry: &Registry, user: &str, probe: &mut Probe) -> (Vec<ConnId>, Vec<String>) {
        let mut after = 0;
        let mut backlog = 0;
        let mut written = Vec::new();
        loop {
            let permit = futures::executor::block_on(probe.handle.outbox.reserve()).unwrap();
            let generation = registry.token_generation(user);
            match registry.login(
                user,
                generation,
                probe.handle.clone(),
                after,
                backlog,
                permit,
            ) {
                LoginStep::Registered { replaced, kicked } => {
                    assert!(kicked.is_empty());
                    assert_eq!(
                        texts(&mut probe.frames),
                        vec![format!(r#"{{"type":"synced","backlog":{backlog}}}"#)]
                    );
                    return (replaced, written);
                }
                LoginStep::Backlog(chunk, permit) => {
                    drop(permit);
                    for pending in chunk {
                        let on_write = (!probe.handle.keeps_pending).then(|| QueuedAt {
                            recipient: Arc::from(user),
                            seq: pending.seq,
                        });
                        let push = probe.handle.outbox.push_message(pending.frame, on_write);
                        assert_eq!(push, Push::Queued);
                        // The client reads as fast as the relay writes.
                        written.extend(write_out(registry, &mut probe.frames));
                        after = pending.seq;
                        backlog += 1;
                    }
                }
                LoginStep::Revoked => panic!("{user}'s tokens were revoked"),
            }
        }
    }

    fn send(registry: &Registry, from: &str, to: &str, id: &str) -> (SendOutcome, Kicked) {
        registry.send(
            &Arc::from(from),
            to,
            id,
            Message::text(format!("{from}:{id}")),
            Instant::now(),
        )
    }

    /// What a connection's writer would send now, without telling the registry (a writer
    /// that has not flushed yet).
    fn texts(frames: &mut mpsc::Receiver<Outgoing>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(outgoing) = frames.try_recv() {
            out.push(outgoing.frame.to_text().unwrap().to_owned());
        }
        out
    }

    /// What a connection's writer sends now, reported to the registry once flushed.
    fn write_out(registry: &Registry, frames: &mut mpsc::Receiver<Outgoing>) -> Vec<String> {
        let mut out = Vec::new();
        let mut written = Vec::new();
        while let Ok(outgoing) = frames.try_recv() {
            out.push(outgoing.frame.to_text().unwrap().to_owned());
            written.extend(outgoing.on_write);
        }
        registry.written(&written);
        out
    }

    #[test]
    fn a_queued_message_reaching_its_recipient_is_reported_to_a_sender_that_asked() {
        let registry = registry(PresenceMode::Watchers, 4, 10);
        let mut alice = probe_with(1, 64, true);
        alice.handle.receipts = true;
        login(&registry, "alice", &mut alice);
        let mut carol = probe_with(3, 64, true); // no receipts asked for
        login(&registry, "carol", &mut carol);
        assert_eq!(
            send(&registry, "alice", "bob", "m1").0,
            accepted(AckStatus::Queued, false)
        );
        send(&registry, "carol", "bob", "m2");
        let mut bob = probe_with(2, 64, true);
        let (_, backlog) = login(&registry, "bob", &mut bob);
        assert_eq!(backlog.len(), 2);
        assert!(texts(&mut alice.frames).is_empty(), "written is not stored");
        assert_eq!(registry.ack("bob", None, "m1"), 1);
        assert_eq!(registry.ack("bob", None, "m2"), 1);
        assert_eq!(
            texts(&mut alice.frames),
            [r#"{"type":"delivered","id":"m1","to":"bob"}"#]
        );
        assert!(texts(&mut carol.frames).is_empty());
        assert_eq!(registry.ack("bob", None, "m1"), 0);
        assert!(texts(&mut alice.frames).is_empty(), "once");
        // A repeated send is answered delivered now.
        assert_eq!(
            send(&registry, "alice", "bob", "m1").0,
            accepted(AckStatus::Delivered, true)
        );

        // Offline when its message arrives (dave reads without acks: delivered on write):
        // told at its next login, before `synced`.
        send(&registry, "alice", "dave", "m3");
        registry.logout(1);
        let mut dave = probe(4, 64);
        login(&registry, "dave", &mut dave);
        write_out(&registry, &mut dave.frames);
        let mut again = probe_with(5, 64, true);
        again.handle.receipts = true;
        let permit = futures::executor::block_on(again.handle.outbox.reserve()).unwrap();
        assert!(matches!(
            registry.login("alice", 0, again.handle.clone(), 0, 0, permit),
            LoginStep::Registered { .. }
        ));
        assert_eq!(
            texts(&mut again.frames),
            [
                r#"{"type":"delivered","id":"m3","to":"dave"}"#,
                r#"{"type":"synced","backlog":0}"#
            ]
        );
    }

    #[test]
    fn an_old_sessions_logout_never_removes_the_new_one() {
        let registry = registry(PresenceMode::Watchers, 1, 10);
        let mut old = probe(1, 8);
        let mut new = probe(2, 8);
        login(&registry, "alice", &mut old);
        let (replaced, _) = login(&registry, "alice", &mut new);
        assert_eq!(replaced, vec![1]);
        assert_eq!(
            old.closed.borrow().as_ref().unwrap().label,
            "session_replaced"
        );
        registry.logout(1);
        assert_eq!(registry.users_online(), 1);
        assert_eq!(
            send(&registry, "bob", "alice", "m1").0,
            SendOutcome::Accepted {
                status: AckStatus::Delivered,
                duplicate: false
            }
        );
    }

    #[test]
    fn presence_goes_to_watchers_only() {
        let registry = registry(PresenceMode::Watchers, 1, 10);
        let mut watcher = probe(1, 8);
        let mut bystander = probe(2, 8);
        login(&registry, "bob", &mut watcher);
        login(&registry, "carol", &mut bystander);
        registry.watch(1, &["alice".to_owned()]).unwrap();
        assert_eq!(
            texts(&mut watcher.frames),
            vec![r#"{"type":"presence","username":"alice","status":"offline"}"#]
        );
        let mut alice = probe(3, 8);
        login(&registry, "alice", &mut alice);
        assert_eq!(
            texts(&mut watcher.frames),
            vec![r#"{"type":"presence","username":"alice","status":"online"}"#]
        );
        assert!(texts(&mut bystander.frames).is_empty());
    }

    #[test]
    fn a_full_outbox_disconnects_its_owner_only() {
        let registry = registry(PresenceMode::Broadcast, 1, 10);
        let mut slow = probe(1, 2);
        let mut fast = probe(2, 8);
        login(&registry, "slow", &mut slow);
        login(&registry, "fast", &mut fast);
        // Fill slow's outbox (2 frames) with presence: fast came online, then got busy.
        registry.set_status(2, "busy");
        let (outcome, kicked) = send(&registry, "fast", "slow", "m1");
        // Not lost: queued for slow's next login.
        assert_eq!(
            outcome,
            SendOutcome::Accepted {
                status: AckStatus::Queued,
                duplicate: false
            }
        );
        assert_eq!(kicked, vec![(1, "slow".to_owned())]);
        assert_eq!(
            slow.closed.borrow().as_ref().unwrap().label,
            "slow_consumer"
        );
        assert_eq!(
            texts(&mut fast.frames),
            vec![r#"{"type":"presence","username":"slow","status":"offline"}"#]
        );
        assert_eq!(registry.users_online(), 1);
    }

    #[test]
    fn watches_are_bounded_and_cleaned_up() {
        let registry = registry(PresenceMode::Watchers, 1, 2);
        let mut watcher = probe(1, 8);
        login(&registry, "bob", &mut watcher);
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            registry.watch(1, &names).unwrap_err(),
            ErrorCode::TooManyWatches
        );
        registry.watch(1, &names[..2]).unwrap();
        registry.logout(1);
        assert!(registry.lock().watchers.is_empty());
    }

    fn accepted(status: AckStatus, duplicate: bool) -> SendOutcome {
        SendOutcome::Accepted { status, duplicate }
    }

    #[test]
    fn offline_messages_wait_in_order_and_a_legacy_login_takes_them_on_write() {
        let registry = registry(PresenceMode::Watchers, 1, 10);
        for id in ["m1", "m2", "m3"] {
            assert_eq!(
                send(&registry, "alice", "bob", id).0,
                accepted(AckStatus::Queued, false)
            );
        }
        let mut bob = probe(1, 2); // smaller than the backlog: chunks wait for room
        let (_, backlog) = login(&registry, "bob", &mut bob);
        assert_eq!(backlog, vec!["alice:m1", "alice:m2", "alice:m3"]);
        assert_eq!(registry.queue_totals(), (0, 0), "delivered on write");
        registry.logout(1);
        let mut bob = probe(2, 8);
        assert!(login(&registry, "bob", &mut bob).1.is_empty());
    }

    #[test]
    fn an_acks_client_gets_unacknowledged_messages_again_at_its_next_login() {
        let registry = registry(PresenceMode::Watchers, 1, 10);
        send(&registry, "alice", "bob", "m1");
        let mut bob = probe_with(1, 8, true);
        assert_eq!(login(&registry, "bob", &mut bob).1, vec!["alice:m1"]);
        assert_eq!(
            send(&registry, "alice", "bob", "m2").0,
            accepted(AckStatus::Delivered, false)
        );
        assert_eq!(texts(&mut bob.frames), vec!["alice:m2"]);
        assert_eq!(registry.ack("bob", None, "m2"), 1);
        assert_eq!(registry.ack("bob", None, "m2"), 0, "acks are idempotent");
        assert_eq!(registry.ack("bob", None, "unknown"), 0);
        registry.logout(1);
        let mut bob = probe_with(2, 8, true);
        assert_eq!(login(&registry, "bob", &mut bob).1, vec!["alice:m1"]);
        assert_eq!(registry.ack("bob", None, "m1"), 1);
        registry.logout(2);
        let mut bob = probe_with(3, 8, true);
        assert!(login(&registry, "bob", &mut bob).1.is_empty());
    }

    /// Issue 16, item 3: `delivered` to a v0.2.0 client was a promise nobody kept once its
    /// connection died with the message still in its outbox.
    #[test]
    fn a_legacy_clients_message_not_yet_written_when_its_connection_dies_comes_again() {
        let registry = registry(PresenceMode::Watchers, 1, 10);
        let mut bob = probe(1, 8);
        login(&registry, "bob", &mut bob);
        for id in ["m1", "m2"] {
            assert_eq!(
                send(&registry, "alice", "bob", id).0,
                accepted(AckStatus::Delivered, false)
            );
        }
        // The writer flushes m1; m2 is still in the outbox when the connection dies.
        let first = bob.frames.try_recv().unwrap();
        assert_eq!(registry.written(&[first.on_write.unwrap()]), 1);
        assert_eq!(registry.queue_totals().0, 1);
        registry.logout(1);
        drop(bob);
        let mut bob = probe(2, 8);
        assert_eq!(login(&registry, "bob", &mut bob).1, vec!["alice:m2"]);
        assert_eq!(registry.queue_totals(), (0, 0), "written this time");
    }

    /// Issue 16, item 6: a revocation closes the name's sessions and no others, and a login
    /// whose token was checked before it cannot register after it.
    #[test]
    fn revoking_a_names_tokens_closes_its_sessions_and_stops_its_logins_in_progress() {
        let registry = registry(PresenceMode::Watchers, 2, 10);
        let (mut alice1, mut alice2, mut bob) = (probe(1, 8), probe(2, 8), probe(3, 8));
        login(&registry, "alice", &mut alice1);
        login(&registry, "alice", &mut alice2);
        login(&registry, "bob", &mut bob);
        send(&registry, "bob", "carol", "m1");
        // A login of carol in progress: its token was checked at generation 0.
        let carol = probe(4, 8);
        let permit = futures::executor::block_on(carol.handle.outbox.reserve()).unwrap();
        assert!(matches!(
            registry.login("carol", 0, carol.handle.clone(), 0, 0, permit),
            LoginStep::Backlog(..)
        ));
        assert_eq!(registry.revoke_tokens("alice", 1).0, 2);
        for closed in [&alice1, &alice2] {
            assert_eq!(
                closed.closed.borrow().as_ref().unwrap().label,
                "token_revoked"
            );
        }
        assert!(bob.closed.borrow().is_none());
        assert_eq!(registry.users_online(), 1);
        assert_eq!(registry.token_generation("alice"), 1);
        assert_eq!(registry.revoke_tokens("carol", 1).0, 0);
        let permit = futures::executor::block_on(carol.handle.outbox.reserve()).unwrap();
        assert!(matches!(
            registry.login("carol", 0, carol.handle.clone(), 1, 1, permit),
            LoginStep::Revoked
        ));
        assert_eq!(
            registry.token_generations(),
            BTreeMap::from([("alice".to_owned(), 1), ("carol".to_owned(), 1)])
        );
    }

    #[test]
    fn a_repeated_id_is_acknowledged_again_and_not_delivered_twice() {
        let registry = registry(PresenceMode::Watchers, 1, 10);
        let mut bob = probe(1, 8);
        login(&registry, "bob", &mut bob);
        assert_eq!(
            send(&registry, "alice", "bob", "m1").0,
            accepted(AckStatus::Delivered, false)
        );
        assert_eq!(
            send(&registry, "alice", "bob", "m1").0,
            accepted(AckStatus::Delivered, true)
        );
        assert_eq!(texts(&mut bob.frames), vec!["alice:m1"]);
        // Another sender's m1 is another message.
        assert_eq!(
            send(&registry, "carol", "bob", "m1").0,
            accepted(AckStatus::Delivered, false)
        );
    }
}
