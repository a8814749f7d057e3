//! Who is online, on which connections, and who watches whom.
//!
//! One mutex over three maps. Every operation is short and never waits while holding it:
//! frames are *pushed* to bounded outboxes (`session.rs`), never written to sockets, so a
//! stalled client cannot hold the lock. Sessions are keyed by connection ID, which fixes the
//! Python relay's R1 defect: a connection's cleanup removes its own session only, never a
//! newer one under the same name.
//!
//! Issue 7 (store-and-forward) plugs in at [`Registry::route`]: `NotOnline` is where a
//! message will be queued instead of refused.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use warp::ws::Message;

use crate::config::PresenceMode;
use crate::protocol::{ErrorCode, ServerFrame};
use crate::session::{CloseReason, ConnId, Push, SessionHandle};

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

#[derive(Default)]
struct Inner {
    users: HashMap<String, UserEntry>,
    conns: HashMap<ConnId, ConnEntry>,
    /// Watched name → the connections watching it (Watchers mode).
    watchers: HashMap<String, HashSet<ConnId>>,
}

struct UserEntry {
    status: String,
    /// Oldest first, so the oldest session is the one a new login replaces.
    sessions: Vec<ConnId>,
}

struct ConnEntry {
    user: String,
    handle: SessionHandle,
    watching: HashSet<String>,
}

/// The result of routing a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// Queued on at least one of the recipient's sessions.
    Delivered,
    /// The recipient has no session.
    NotOnline,
    /// Every session of the recipient had a full outbox; they were disconnected.
    RecipientTooSlow,
}

/// Connections disconnected during an operation because their outbox was full, for the log.
pub(crate) type Kicked = Vec<(ConnId, String)>;

impl Registry {
    pub(crate) fn new(
        presence: PresenceMode,
        max_sessions_per_user: usize,
        max_watches: usize,
    ) -> Registry {
        Registry {
            inner: Mutex::new(Inner::default()),
            presence,
            max_sessions_per_user: max_sessions_per_user.max(1),
            max_watches,
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
    pub(crate) fn login(&self, user: &str, handle: SessionHandle) -> (Vec<ConnId>, Kicked) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let mut kicked = Kicked::new();
        let conn = handle.conn;
        let entry = inner
            .users
            .entry(user.to_owned())
            .or_insert_with(|| UserEntry {
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

    /// Pushes `frame` (a serialised `message`) to every session of `to`.
    pub(crate) fn route(&self, to: &str, frame: &Message) -> (Route, Kicked) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let mut kicked = Kicked::new();
        let Some(user) = inner.users.get(to) else {
            return (Route::NotOnline, kicked);
        };
        let mut delivered = false;
        let mut too_slow = Vec::new();
        for conn in &user.sessions {
            let Some(entry) = inner.conns.get(conn) else {
                continue;
            };
            match entry.handle.outbox.push(frame.clone()) {
                Push::Queued => delivered = true,
                Push::Full => too_slow.push(*conn),
                // The connection is ending and will log out in a moment.
                Push::Closed => {}
            }
        }
        for conn in &too_slow {
            self.kick(inner, *conn, &mut kicked);
        }
        let route = if delivered {
            Route::Delivered
        } else if too_slow.is_empty() {
            Route::NotOnline
        } else {
            Route::RecipientTooSlow
        };
        (route, kicked)
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
    use crate::session::{Closer, Outbox};
    use tokio::sync::mpsc;

    struct Probe {
        handle: SessionHandle,
        frames: mpsc::Receiver<Message>,
        closed: tokio::sync::watch::Receiver<Option<CloseReason>>,
    }

    fn probe(conn: ConnId, queue: usize) -> Probe {
        let (outbox, frames, _) = Outbox::new(queue, 1 << 20);
        let closer = Closer::new();
        let closed = closer.subscribe();
        Probe {
            handle: SessionHandle {
                conn,
                outbox,
                closer,
            },
            frames,
            closed,
        }
    }

    fn texts(frames: &mut mpsc::Receiver<Message>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(frame) = frames.try_recv() {
            out.push(frame.to_str().unwrap().to_owned());
        }
        out
    }

    #[test]
    fn an_old_sessions_logout_never_removes_the_new_one() {
        let registry = Registry::new(PresenceMode::Watchers, 1, 10);
        let old = probe(1, 8);
        let new = probe(2, 8);
        registry.login("alice", old.handle.clone());
        let (replaced, _) = registry.login("alice", new.handle.clone());
        assert_eq!(replaced, vec![1]);
        assert_eq!(
            old.closed.borrow().as_ref().unwrap().label,
            "session_replaced"
        );
        registry.logout(1);
        assert_eq!(registry.users_online(), 1);
        let frame = Message::text("m");
        assert_eq!(registry.route("alice", &frame).0, Route::Delivered);
    }

    #[test]
    fn presence_goes_to_watchers_only() {
        let registry = Registry::new(PresenceMode::Watchers, 1, 10);
        let mut watcher = probe(1, 8);
        let mut bystander = probe(2, 8);
        registry.login("bob", watcher.handle.clone());
        registry.login("carol", bystander.handle.clone());
        registry.watch(1, &["alice".to_owned()]).unwrap();
        assert_eq!(
            texts(&mut watcher.frames),
            vec![r#"{"type":"presence","username":"alice","status":"offline"}"#]
        );
        let alice = probe(3, 8);
        registry.login("alice", alice.handle.clone());
        assert_eq!(
            texts(&mut watcher.frames),
            vec![r#"{"type":"presence","username":"alice","status":"online"}"#]
        );
        assert!(texts(&mut bystander.frames).is_empty());
    }

    #[test]
    fn a_full_outbox_disconnects_its_owner_only() {
        let registry = Registry::new(PresenceMode::Broadcast, 1, 10);
        let slow = probe(1, 1);
        let mut fast = probe(2, 8);
        registry.login("slow", slow.handle.clone());
        registry.login("fast", fast.handle.clone()); // fills slow's queue (presence)
        let (route, kicked) = registry.route("slow", &Message::text("m"));
        assert_eq!(route, Route::RecipientTooSlow);
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
        let registry = Registry::new(PresenceMode::Watchers, 1, 2);
        let watcher = probe(1, 8);
        registry.login("bob", watcher.handle.clone());
        let names: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        assert_eq!(
            registry.watch(1, &names).unwrap_err(),
            ErrorCode::TooManyWatches
        );
        registry.watch(1, &names[..2]).unwrap();
        registry.logout(1);
        assert!(registry.lock().watchers.is_empty());
    }
}
