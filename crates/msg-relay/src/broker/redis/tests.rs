//! The Redis engine against a real redis-server of each test's own (`test_server.rs`), with
//! two or three stores standing for relay nodes.

use std::collections::HashMap;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::StreamId;
use super::events::{KickReason, NodeEvent};
use super::node::RedisNode;
use super::store::{Bound, Receipt, RedisSettings, RedisStore, Sent, SessionRef};
use super::test_server::RedisServer;
use crate::limits::Limits;
use crate::session::{Closer, Outbox, Outgoing, QueuedAt, SessionHandle};

/// How long a test waits for something that must happen; never reached when it works.
const GUARD: Duration = Duration::from_secs(20);

/// A store standing for one relay node, with the events published to it.
struct Node {
    store: RedisStore,
    events: mpsc::Receiver<NodeEvent>,
    _stop: watch::Sender<bool>,
}

fn settings() -> RedisSettings {
    RedisSettings {
        op_timeout: Duration::from_millis(500),
        sends_per_second: 0,
        ..RedisSettings::new(&Limits::default(), false)
    }
}

async fn node(server: &RedisServer, settings: RedisSettings) -> Node {
    let (stop, stopped) = watch::channel(false);
    let (store, events) = RedisStore::connect(&server.url(), settings, stopped)
        .await
        .expect("the engine connects");
    Node {
        store,
        events,
        _stop: stop,
    }
}

impl Node {
    async fn event(&mut self) -> NodeEvent {
        tokio::time::timeout(GUARD, self.events.recv())
            .await
            .expect("an event within the guard")
            .expect("the listener runs")
    }

    /// Asserts that nothing was published to this node before now: events arrive in the
    /// order Redis published them, so the snapshot asked for here must come next.
    async fn assert_no_event(&mut self) {
        self.store.watch(u64::MAX, &[]).await.unwrap();
        assert_eq!(
            self.event().await,
            NodeEvent::Snapshot {
                conn: u64::MAX,
                statuses: Vec::new()
            }
        );
    }

    async fn send(&self, from: &str, to: &str, id: &str, frame: &str) -> Sent {
        self.store.send(from, to, id, frame).await.unwrap()
    }
}

fn accepted(sent: &Sent) -> (StreamId, bool) {
    match sent {
        Sent::Accepted { sid, delivered, .. } => (*sid, *delivered),
        other => panic!("not accepted: {other:?}"),
    }
}

/// Checks the counters the scripts keep against the streams themselves: each queue's bytes,
/// the totals, and every sender's quota.
fn assert_counters_match(server: &RedisServer, prefix: &str) {
    let client = redis::Client::open(server.url()).unwrap();
    let mut conn = client.get_connection().unwrap();
    let queues: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}q:*"))
        .query(&mut conn)
        .unwrap();
    let (mut messages, mut bytes) = (0i64, 0i64);
    let mut by_sender: HashMap<String, (i64, i64)> = HashMap::new();
    for queue in queues {
        let user = &queue[prefix.len() + 2..];
        let entries: Vec<(String, HashMap<String, String>)> = redis::cmd("XRANGE")
            .arg(&queue)
            .arg("-")
            .arg("+")
            .query(&mut conn)
            .unwrap();
        let queue_bytes: i64 = entries.iter().map(|(_, f)| f["m"].len() as i64).sum();
        let meta: Option<i64> = redis::cmd("HGET")
            .arg(format!("{prefix}m:{user}"))
            .arg("b")
            .query(&mut conn)
            .unwrap();
        assert_eq!(meta.unwrap_or(0), queue_bytes, "bytes of {user}'s queue");
        for (_, fields) in &entries {
            let held = by_sender.entry(fields["f"].clone()).or_default();
            held.0 += 1;
            held.1 += fields["m"].len() as i64;
        }
        messages += entries.len() as i64;
        bytes += queue_bytes;
    }
    let totals: (Option<i64>, Option<i64>) = redis::cmd("HMGET")
        .arg(format!("{prefix}totals"))
        .arg("n")
        .arg("b")
        .query(&mut conn)
        .unwrap();
    assert_eq!(
        (totals.0.unwrap_or(0), totals.1.unwrap_or(0)),
        (messages, bytes),
        "totals"
    );
    let quotas: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}sq:*"))
        .query(&mut conn)
        .unwrap();
    assert_eq!(quotas.len(), by_sender.len(), "quota keys {quotas:?}");
    for (sender, held) in by_sender {
        let quota: (i64, i64) = redis::cmd("HMGET")
            .arg(format!("{prefix}sq:{sender}"))
            .arg("n")
            .arg("b")
            .query(&mut conn)
            .unwrap();
        assert_eq!(quota, held, "quota of {sender}");
    }
}

#[tokio::test]
async fn a_queue_is_shared_and_an_ack_on_one_node_is_seen_by_another() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, settings()).await;
    let b = node(&server, settings()).await;
    let (first, delivered) = accepted(&a.send("alice", "bob", "m1", "{one}").await);
    assert!(!delivered, "bob has no session: queued");
    let (second, _) = accepted(&b.send("carol", "bob", "m1", "{two}").await);
    assert!(second > first);

    let backlog = b.store.backlog("bob", None, 10).await.unwrap();
    let seen: Vec<_> = backlog
        .entries
        .iter()
        .map(|entry| {
            (
                entry.sender.as_str(),
                entry.id.as_str(),
                entry.frame.as_str(),
            )
        })
        .collect();
    assert_eq!(seen, [("alice", "m1", "{one}"), ("carol", "m1", "{two}")]);
    let after_first = b.store.backlog("bob", Some(first), 10).await.unwrap();
    assert_eq!(after_first.entries.len(), 1);
    assert_eq!(after_first.epoch, backlog.epoch);

    assert_eq!(b.store.ack("bob", &[first]).await.unwrap(), 1);
    assert_eq!(b.store.ack("bob", &[first]).await.unwrap(), 0, "idempotent");
    let left = a.store.backlog("bob", None, 10).await.unwrap();
    assert_eq!(left.entries.len(), 1);
    assert_eq!(left.entries[0].sid, second);
    assert_eq!(a.store.totals().await.unwrap(), (1, 5));
    assert_counters_match(&server, RedisSettings::PREFIX);
    assert_eq!(a.store.ack("bob", &[second]).await.unwrap(), 1);
    assert_eq!(a.store.totals().await.unwrap(), (0, 0));
    assert_counters_match(&server, RedisSettings::PREFIX);
}

#[tokio::test]
async fn dedupe_holds_across_nodes_by_sender_id_and_recipient() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, settings()).await;
    let b = node(&server, settings()).await;
    accepted(&a.send("alice", "bob", "x", "{1}").await);
    assert_eq!(
        b.send("alice", "bob", "x", "{1}").await,
        Sent::Duplicate { delivered: false }
    );
    accepted(&b.send("eve", "bob", "x", "{eve}").await);
    accepted(&b.send("alice", "carol", "x", "{1}").await);
    // A name and an ID that run into each other are another triple.
    accepted(&b.send("alic", "bob", "ex", "{2}").await);
    assert_eq!(
        a.store
            .backlog("bob", None, 10)
            .await
            .unwrap()
            .entries
            .len(),
        3
    );

    // The window forgets by age.
    let short = node(
        &server,
        RedisSettings {
            prefix: "short:".to_owned(),
            dedupe_window: Duration::from_millis(200),
            ..settings()
        },
    )
    .await;
    accepted(&short.send("alice", "bob", "y", "{1}").await);
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        match short.send("alice", "bob", "y", "{1}").await {
            Sent::Duplicate { .. } => {}
            Sent::Accepted { .. } => break,
            other => panic!("{other:?}"),
        }
        assert!(tokio::time::Instant::now() < deadline, "never forgotten");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_counters_match(&server, "short:");
}

#[tokio::test]
async fn each_bound_refuses_by_name_and_nothing_is_stored() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let bounded = |prefix: &str| RedisSettings {
        prefix: prefix.to_owned(),
        queue_max_messages: 2,
        queue_max_bytes: 100,
        queue_total_bytes: 150,
        sender_max_messages: 3,
        sender_max_bytes: 120,
        ..settings()
    };
    let n = node(&server, bounded("a:")).await;
    let x40 = "x".repeat(40);
    accepted(&n.send("alice", "bob", "1", &x40).await);
    accepted(&n.send("carol", "bob", "2", &x40).await);
    assert_eq!(
        n.send("dave", "bob", "3", "x").await,
        Sent::Full(Bound::Count)
    );
    assert_eq!(
        n.send("dave", "erin", "4", &"x".repeat(101)).await,
        Sent::Full(Bound::Bytes)
    );
    accepted(&n.send("dave", "erin", "5", &"x".repeat(60)).await);
    assert_eq!(
        n.send("dave", "frank", "6", &"x".repeat(11)).await,
        Sent::Full(Bound::TotalBytes)
    );
    assert_eq!(n.store.totals().await.unwrap(), (3, 140));
    assert_counters_match(&server, "a:");

    let n = node(&server, bounded("b:")).await;
    accepted(&n.send("alice", "bob", "1", "x").await);
    accepted(&n.send("alice", "carol", "2", "x").await);
    accepted(&n.send("alice", "dave", "3", "x").await);
    assert_eq!(
        n.send("alice", "erin", "4", "x").await,
        Sent::Full(Bound::SenderCount)
    );
    accepted(&n.send("zoe", "erin", "5", &"x".repeat(70)).await);
    assert_eq!(
        n.send("zoe", "frank", "6", &"x".repeat(51)).await,
        Sent::Full(Bound::SenderBytes)
    );
    // An acknowledgement gives the sender its room back.
    let sid = n.store.backlog("bob", None, 1).await.unwrap().entries[0].sid;
    n.store.ack("bob", &[sid]).await.unwrap();
    accepted(&n.send("alice", "erin", "7", "x").await);
    assert_counters_match(&server, "b:");
}

#[tokio::test]
async fn a_send_reaches_the_node_holding_the_recipients_session_and_no_other() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut a = node(&server, settings()).await;
    let mut b = node(&server, settings()).await;
    assert_eq!(b.store.claim("bob", 7, 0).await.unwrap(), Some(vec![]));
    let (sid, delivered) = accepted(&a.send("alice", "bob", "m1", "{\"hi\":1}\n").await);
    assert!(delivered);
    assert_eq!(
        b.event().await,
        NodeEvent::Message {
            user: "bob".to_owned(),
            sid,
            sender: "alice".to_owned(),
            id: "m1".to_owned(),
            frame: "{\"hi\":1}\n".to_owned()
        }
    );
    a.assert_no_event().await;
    // Delivered live, and still in the stream until acknowledged.
    assert_eq!(
        b.store
            .backlog("bob", None, 10)
            .await
            .unwrap()
            .entries
            .len(),
        1
    );
    assert!(b.store.release("bob", 7).await.unwrap());
    assert!(!accepted(&a.send("alice", "bob", "m2", "{}").await).1);
    b.assert_no_event().await;
}

#[tokio::test]
async fn a_login_on_another_node_replaces_the_session() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut a = node(&server, settings()).await;
    let mut b = node(&server, settings()).await;
    let mut watcher = node(&server, settings()).await;
    a.store.claim("alice", 1, 0).await.unwrap().unwrap();
    watcher.store.watch(5, &["alice"]).await.unwrap();
    assert_eq!(
        watcher.event().await,
        NodeEvent::Snapshot {
            conn: 5,
            statuses: vec![("alice".to_owned(), "online".to_owned())]
        }
    );
    let replaced = b.store.claim("alice", 2, 0).await.unwrap().unwrap();
    assert_eq!(
        replaced,
        [SessionRef {
            node: a.store.node().to_owned(),
            conn: 1
        }]
    );
    assert_eq!(
        a.event().await,
        NodeEvent::Kick {
            conn: 1,
            user: "alice".to_owned(),
            reason: KickReason::SessionReplaced
        }
    );
    // The old session's cleanup finds nothing to remove and takes nobody offline.
    assert!(!a.store.release("alice", 1).await.unwrap());
    assert_eq!(
        a.store.check("alice", &[1]).await.unwrap(),
        Vec::<u64>::new()
    );
    assert_eq!(b.store.check("alice", &[2, 3]).await.unwrap(), [2]);
    watcher.assert_no_event().await;
    b.assert_no_event().await;
}

#[tokio::test]
async fn presence_crosses_nodes_and_a_dead_node_takes_its_users_offline() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let short = || RedisSettings {
        node_expiry: Duration::from_millis(300),
        ..settings()
    };
    let mut a = node(&server, short()).await;
    let b = node(&server, short()).await;
    a.store.beat().await.unwrap();
    b.store.beat().await.unwrap();
    a.store.watch(5, &["bob"]).await.unwrap();
    assert_eq!(
        a.event().await,
        NodeEvent::Snapshot {
            conn: 5,
            statuses: vec![("bob".to_owned(), "offline".to_owned())]
        }
    );
    b.store.claim("bob", 9, 0).await.unwrap().unwrap();
    let presence = |status: &str| NodeEvent::Presence {
        user: "bob".to_owned(),
        status: status.to_owned(),
    };
    assert_eq!(a.event().await, presence("online"));
    assert!(b.store.set_status("bob", "busy").await.unwrap());
    assert_eq!(a.event().await, presence("busy"));
    assert!(b.store.set_status("bob", "busy").await.unwrap());
    assert!(!b.store.set_status("nobody", "busy").await.unwrap());
    a.assert_no_event().await;

    // Node b stops beating (it died): a's heartbeat takes bob offline once b's expiry
    // passed.
    drop(b);
    let deadline = tokio::time::Instant::now() + GUARD;
    let mut swept = 0;
    while swept == 0 {
        assert!(tokio::time::Instant::now() < deadline, "b never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
        swept = a.store.beat().await.unwrap().swept;
    }
    assert_eq!(a.event().await, presence("offline"));
    assert_eq!(server.cli(&["EXISTS", "msg-relay:s:bob"]), "0");
    // A node that was swept while alive learns it at its next beat.
    let c = node(&server, short()).await;
    assert!(!c.store.beat().await.unwrap().was_registered, "first beat");
    assert!(c.store.beat().await.unwrap().was_registered);
    // Unwatching stops the events.
    a.store.unwatch(&["bob"]).await.unwrap();
    c.store.claim("bob", 1, 0).await.unwrap().unwrap();
    a.assert_no_event().await;
}

#[tokio::test]
async fn the_send_rate_holds_across_nodes() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let rate = || RedisSettings {
        sends_per_second: 1,
        send_burst: 3,
        ..settings()
    };
    let a = node(&server, rate()).await;
    let b = node(&server, rate()).await;
    accepted(&a.send("alice", "bob", "1", "x").await);
    accepted(&b.send("alice", "bob", "2", "x").await);
    accepted(&a.send("alice", "bob", "3", "x").await);
    match b.send("alice", "bob", "4", "x").await {
        Sent::RateLimited { retry_after_ms } => {
            assert!((1..=1000).contains(&retry_after_ms), "{retry_after_ms}");
        }
        other => panic!("{other:?}"),
    }
    // Another sender has its own bucket.
    accepted(&b.send("carol", "bob", "5", "x").await);
}

#[tokio::test]
async fn revoking_raises_the_generation_and_closes_every_session() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let two = || RedisSettings {
        max_sessions_per_user: 2,
        ..settings()
    };
    let mut a = node(&server, two()).await;
    let mut b = node(&server, two()).await;
    assert_eq!(a.store.claim("alice", 1, 0).await.unwrap(), Some(vec![]));
    assert_eq!(b.store.claim("alice", 2, 0).await.unwrap(), Some(vec![]));
    assert_eq!(a.store.token_generation("alice").await.unwrap(), 0);
    assert_eq!(a.store.revoke("alice").await.unwrap(), (1, 2));
    let kick = |conn| NodeEvent::Kick {
        conn,
        user: "alice".to_owned(),
        reason: KickReason::TokenRevoked,
    };
    assert_eq!(a.event().await, kick(1));
    assert_eq!(b.event().await, kick(2));
    assert_eq!(b.store.token_generation("alice").await.unwrap(), 1);
    assert_eq!(b.store.token_generation("bob").await.unwrap(), 0);
    assert!(!b.store.release("alice", 2).await.unwrap());
    assert_eq!(
        server.cli(&[
            "SISMEMBER",
            &format!("msg-relay:nu:{}", a.store.node()),
            "alice"
        ]),
        "0"
    );
}

#[tokio::test]
async fn messages_expire_by_age_and_their_unwritten_senders_hear_of_it() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let short = || RedisSettings {
        queue_ttl: Duration::from_millis(300),
        ..settings()
    };
    let a = node(&server, short()).await;
    let mut b = node(&server, short()).await;
    b.store.claim("alice", 3, 0).await.unwrap().unwrap();
    a.store.claim("carol", 4, 0).await.unwrap().unwrap();
    assert!(!accepted(&a.send("alice", "bob", "m1", "{1}").await).1);
    assert!(accepted(&a.send("alice", "carol", "m2", "{2}").await).1);
    let mut expired = Vec::new();
    let deadline = tokio::time::Instant::now() + GUARD;
    while expired.len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
        expired.extend(a.store.expire_due(100).await.unwrap());
    }
    expired.sort_by(|x, y| x.id.cmp(&y.id));
    let summary: Vec<_> = expired
        .iter()
        .map(|e| (e.to.as_str(), e.sender.as_str(), e.id.as_str(), e.written))
        .collect();
    assert_eq!(
        summary,
        [
            ("bob", "alice", "m1", false),
            ("carol", "alice", "m2", true)
        ]
    );
    assert_eq!(
        b.event().await,
        NodeEvent::Expired {
            sender: "alice".to_owned(),
            to: "bob".to_owned(),
            id: "m1".to_owned()
        }
    );
    b.assert_no_event().await;
    assert!(a.store.expire_due(100).await.unwrap().is_empty(), "once");
    assert_eq!(a.store.totals().await.unwrap(), (0, 0));
    assert_counters_match(&server, RedisSettings::PREFIX);
    assert_eq!(server.cli(&["ZCARD", "msg-relay:exp"]), "0");

    // A read skips what is past its time even before the sweep dropped it.
    accepted(&a.send("alice", "bob", "m3", "{3}").await);
    let deadline = tokio::time::Instant::now() + GUARD;
    while !a
        .store
        .backlog("bob", None, 10)
        .await
        .unwrap()
        .entries
        .is_empty()
    {
        assert!(tokio::time::Instant::now() < deadline, "never too old");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(a.store.totals().await.unwrap().0, 1, "not swept yet");
}

#[tokio::test]
async fn the_epoch_stays_until_redis_loses_the_queues_state() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, settings()).await;
    let b = node(&server, settings()).await;
    let epoch = |sent: Sent| match sent {
        Sent::Accepted { epoch, .. } => epoch,
        other => panic!("{other:?}"),
    };
    let first = epoch(a.send("alice", "bob", "1", "{1}").await);
    let sid = b.store.backlog("bob", None, 10).await.unwrap().entries[0].sid;
    b.store.ack("bob", &[sid]).await.unwrap();
    assert_eq!(
        epoch(b.send("alice", "bob", "2", "{22}").await),
        first,
        "emptied"
    );
    assert_eq!(b.store.backlog("bob", None, 10).await.unwrap().epoch, first);
    // The metadata is lost, the stream is not: a new epoch, the same messages, the bytes
    // counted again.
    server.cli(&["DEL", "msg-relay:m:bob"]);
    let second = b.store.backlog("bob", None, 10).await.unwrap();
    assert_ne!(second.epoch, first);
    assert_eq!(second.entries.len(), 1);
    assert_counters_match(&server, RedisSettings::PREFIX);
    // Everything lost.
    server.cli(&["FLUSHALL"]);
    let third = a.store.backlog("bob", None, 10).await.unwrap();
    assert!(third.entries.is_empty());
    assert_ne!(third.epoch, second.epoch);
    assert_ne!(third.epoch, first);
}

#[tokio::test]
async fn acknowledged_sends_survive_a_redis_kill_with_appendfsync_always() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, settings()).await;
    let mut sids = Vec::new();
    for n in 0..200 {
        let frame = format!("{{\"n\":{n}}}");
        sids.push(accepted(&a.send("alice", "bob", &n.to_string(), &frame).await).0);
    }
    let before = server.pid();
    server.kill();
    server.restart();
    assert_ne!(server.pid(), before, "a new process");
    let deadline = tokio::time::Instant::now() + GUARD;
    let backlog = loop {
        match a.store.backlog("bob", None, 1000).await {
            Ok(backlog) => break backlog,
            Err(err) => assert!(tokio::time::Instant::now() < deadline, "{err}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let kept: Vec<StreamId> = backlog.entries.iter().map(|entry| entry.sid).collect();
    assert_eq!(kept, sids);
    assert_counters_match(&server, RedisSettings::PREFIX);
}

#[tokio::test]
async fn a_node_refuses_while_redis_is_down_and_recovers_when_it_returns() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let a = node(&server, settings()).await;
    let mut b = node(&server, settings()).await;
    b.store.claim("bob", 1, 0).await.unwrap().unwrap();

    server.kill();
    let started = tokio::time::Instant::now();
    let refused = a.store.send("alice", "bob", "down", "{}").await;
    assert!(
        matches!(
            refused,
            Err(super::BrokerError::Unavailable { op: "send", .. })
        ),
        "{refused:?}"
    );
    assert!(started.elapsed() < GUARD);
    server.restart();
    let deadline = tokio::time::Instant::now() + GUARD;
    let sid = loop {
        if let Ok(sent) = a.store.send("alice", "bob", "up", "{up}").await {
            break accepted(&sent).0;
        }
        assert!(tokio::time::Instant::now() < deadline, "never recovered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // b's listener came back, and says first that it may have missed events; the session
    // it claimed was on disk, so what is sent now reaches it live.
    assert_eq!(b.event().await, NodeEvent::Resubscribed);
    let (again, delivered) = accepted(&a.send("alice", "bob", "after", "{after}").await);
    assert!(delivered);
    loop {
        match b.event().await {
            NodeEvent::Message { sid: got, .. } if got == again => break,
            // Sent after b resubscribed, before `after`.
            NodeEvent::Message { sid: got, .. } if got == sid => {}
            other => panic!("{other:?}"),
        }
    }
    let stream = b.store.backlog("bob", None, 10).await.unwrap().entries;
    assert_eq!(stream.len(), 2, "up and after");

    // Frozen: the connection stays up and nothing is answered, so a send times out and is
    // refused. It may still run once Redis wakes up; sent again, it is stored once.
    server.pause();
    let refused = a.store.send("alice", "bob", "frozen", "{f}").await;
    assert!(
        matches!(refused, Err(super::BrokerError::Unavailable { .. })),
        "{refused:?}"
    );
    server.resume();
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        match a.store.send("alice", "bob", "frozen", "{f}").await {
            Ok(Sent::Accepted { .. } | Sent::Duplicate { .. }) => break,
            Ok(other) => panic!("{other:?}"),
            Err(_) => assert!(tokio::time::Instant::now() < deadline, "never thawed"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let frozen = b
        .store
        .backlog("bob", None, 10)
        .await
        .unwrap()
        .entries
        .iter()
        .filter(|entry| entry.id == "frozen")
        .count();
    assert_eq!(frozen, 1);
    assert_counters_match(&server, RedisSettings::PREFIX);
}

// The node: local connections on top of the store.

/// A node with its dispatcher running (every event handled as it arrives), and a store of
/// its own for sending.
struct RunningNode {
    node: std::sync::Arc<RedisNode>,
    _stop: watch::Sender<bool>,
}

async fn running_node(server: &RedisServer, settings: RedisSettings) -> RunningNode {
    let Node {
        store,
        mut events,
        _stop,
    } = node(server, settings).await;
    let node = std::sync::Arc::new(RedisNode::new(store, 100, 1024));
    let dispatcher = std::sync::Arc::clone(&node);
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            dispatcher.on_event(event).await;
        }
    });
    RunningNode { node, _stop }
}

struct Probe {
    handle: SessionHandle,
    frames: mpsc::Receiver<Outgoing>,
    /// What the frames taken so far say a writer would report as flushed.
    flushed: Vec<QueuedAt>,
}

fn probe(conn: u64, keeps_pending: bool) -> Probe {
    let (outbox, frames, _) = Outbox::new(4096, 1 << 24);
    Probe {
        handle: SessionHandle {
            conn,
            keeps_pending,
            receipts: false,
            outbox,
            closer: Closer::new(),
        },
        frames,
        flushed: Vec::new(),
    }
}

impl Probe {
    /// The next frame's text, within the guard.
    async fn next(&mut self) -> String {
        let outgoing = tokio::time::timeout(GUARD, self.frames.recv())
            .await
            .expect("a frame within the guard")
            .expect("the outbox is open");
        self.flushed.extend(outgoing.on_write);
        outgoing.frame.to_text().unwrap().to_owned()
    }
}

#[tokio::test]
async fn a_login_during_a_flood_gets_every_message_once_in_order() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = running_node(&server, settings()).await;
    let sender = node(&server, settings()).await;
    for n in 0..100 {
        accepted(
            &sender
                .send("alice", "bob", &format!("q{n}"), &format!("q{n}"))
                .await,
        );
    }
    // Sends go on while bob logs in, so some land in the backlog, some in the buffer of
    // the syncing login, some after it went live.
    let flood = tokio::spawn(async move {
        for n in 0..400 {
            accepted(
                &sender
                    .send("alice", "bob", &format!("l{n}"), &format!("l{n}"))
                    .await,
            );
        }
    });
    let mut bob = probe(1, true);
    let login = a
        .node
        .login("bob", 0, bob.handle.clone(), GUARD)
        .await
        .unwrap();
    assert!(login.backlog >= 100, "{}", login.backlog);
    flood.await.unwrap();
    let mut seen = Vec::new();
    let mut synced_at = None;
    while seen.len() < 500 {
        let text = bob.next().await;
        if text.starts_with('{') {
            let synced = format!(r#"{{"type":"synced","backlog":{},"epoch":""#, login.backlog);
            assert!(text.starts_with(&synced), "{text}");
            synced_at = Some(seen.len());
        } else {
            seen.push(text);
        }
    }
    assert_eq!(synced_at, Some(usize::try_from(login.backlog).unwrap()));
    let expected: Vec<String> = (0..100)
        .map(|n| format!("q{n}"))
        .chain((0..400).map(|n| format!("l{n}")))
        .collect();
    assert_eq!(seen, expected);
    // Nothing more: every message came once.
    let barrier = node(&server, settings()).await;
    accepted(&barrier.send("carol", "bob", "end", "end").await);
    assert_eq!(bob.next().await, "end");
}

#[tokio::test]
async fn acknowledged_on_one_node_and_not_redelivered_on_another() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = running_node(&server, settings()).await;
    let b = running_node(&server, settings()).await;
    let sender = node(&server, settings()).await;
    accepted(&sender.send("alice", "bob", "m1", "m1").await);
    let mut bob = probe(1, true);
    a.node
        .login("bob", 0, bob.handle.clone(), GUARD)
        .await
        .unwrap();
    assert_eq!(bob.next().await, "m1");
    bob.next().await; // synced
    accepted(&sender.send("alice", "bob", "m2", "m2").await);
    assert_eq!(bob.next().await, "m2");
    assert_eq!(a.node.ack(1, Some("alice"), "m2").await.unwrap(), 1);
    assert_eq!(
        a.node.ack(1, Some("alice"), "m2").await.unwrap(),
        0,
        "idempotent"
    );
    a.node.logout(1).await.unwrap();

    let mut bob = probe(2, true);
    let login = b
        .node
        .login("bob", 0, bob.handle.clone(), GUARD)
        .await
        .unwrap();
    assert_eq!(login.backlog, 1, "m1 was never acknowledged");
    assert_eq!(bob.next().await, "m1");
    assert_eq!(b.node.ack(2, None, "m1").await.unwrap(), 1);
    b.node.logout(2).await.unwrap();
    let bob = probe(3, true);
    assert_eq!(
        a.node
            .login("bob", 0, bob.handle.clone(), GUARD)
            .await
            .unwrap()
            .backlog,
        0
    );
    assert_counters_match(&server, RedisSettings::PREFIX);
}

#[tokio::test]
async fn a_client_without_acks_takes_its_messages_on_write() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = running_node(&server, settings()).await;
    let sender = node(&server, settings()).await;
    accepted(&sender.send("alice", "bob", "m1", "m1").await);
    let mut bob = probe(1, false);
    assert_eq!(
        a.node
            .login("bob", 0, bob.handle.clone(), GUARD)
            .await
            .unwrap()
            .backlog,
        1
    );
    assert_eq!(bob.next().await, "m1");
    bob.next().await; // synced
    assert!(accepted(&sender.send("alice", "bob", "m2", "m2").await).1);
    assert_eq!(bob.next().await, "m2");
    // Handed to the writer, not flushed yet: still in the stream.
    assert_eq!(a.node.store().totals().await.unwrap().0, 2);
    assert_eq!(bob.flushed.len(), 2);
    assert_eq!(a.node.written(&bob.flushed).await.unwrap(), 2);
    assert_eq!(a.node.written(&bob.flushed).await.unwrap(), 0, "once");
    assert_eq!(a.node.store().totals().await.unwrap(), (0, 0));
    // A connection that dies with a message unflushed leaves it for the next login.
    assert!(accepted(&sender.send("alice", "bob", "m3", "m3").await).1);
    assert_eq!(bob.next().await, "m3");
    a.node.logout(1).await.unwrap();
    let mut again = probe(2, false);
    assert_eq!(
        a.node
            .login("bob", 0, again.handle.clone(), GUARD)
            .await
            .unwrap()
            .backlog,
        1
    );
    assert_eq!(again.next().await, "m3");
    assert_counters_match(&server, RedisSettings::PREFIX);
}

#[tokio::test]
async fn a_node_that_lost_redis_catches_its_connections_up() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let a = running_node(&server, settings()).await;
    let mut bob = probe(1, true);
    a.node
        .login("bob", 0, bob.handle.clone(), GUARD)
        .await
        .unwrap();
    bob.next().await; // synced
    let mut watcher = probe(2, true);
    a.node
        .login("carol", 0, watcher.handle.clone(), GUARD)
        .await
        .unwrap();
    watcher.next().await; // synced
    assert!(a.node.watch(2, &["dave".to_owned()]).await.unwrap());
    assert_eq!(
        watcher.next().await,
        r#"{"type":"presence","username":"dave","status":"offline"}"#
    );

    server.kill();
    server.restart();
    // Sent as soon as Redis is back: likely before the node listens again, so it reaches
    // bob through the catch-up rather than live.
    let sender = node(&server, settings()).await;
    accepted(&sender.send("alice", "bob", "m1", "m1").await);
    assert_eq!(bob.next().await, "m1");
    // The watch was registered again, and the watcher told the status once more.
    assert_eq!(
        watcher.next().await,
        r#"{"type":"presence","username":"dave","status":"offline"}"#
    );
    let dave = probe(3, true);
    let other = running_node(&server, settings()).await;
    other
        .node
        .login("dave", 0, dave.handle.clone(), GUARD)
        .await
        .unwrap();
    assert_eq!(
        watcher.next().await,
        r#"{"type":"presence","username":"dave","status":"online"}"#
    );
}

#[tokio::test]
async fn a_login_on_another_node_closes_the_old_connection() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let a = running_node(&server, settings()).await;
    let b = running_node(&server, settings()).await;
    let old = probe(1, true);
    let mut closed = old.handle.closer.subscribe();
    a.node
        .login("alice", 0, old.handle.clone(), GUARD)
        .await
        .unwrap();
    let new = probe(1, true);
    b.node
        .login("alice", 0, new.handle.clone(), GUARD)
        .await
        .unwrap();
    tokio::time::timeout(GUARD, closed.wait_for(Option::is_some))
        .await
        .expect("closed within the guard")
        .unwrap();
    assert_eq!(closed.borrow().as_ref().unwrap().label, "session_replaced");
    assert_eq!(a.node.users_online(), 0);
    assert_eq!(b.node.users_online(), 1);
    // The old connection's logout does not take the new session away.
    a.node.logout(1).await.unwrap();
    assert_eq!(b.node.store().check("alice", &[1]).await.unwrap(), [1]);
}

#[tokio::test]
async fn receipts_are_kept_once_per_sender_at_most_the_cap_oldest_dropped_first() {
    // Without `appendfsync always`: a thousand sends, and durability is not the point.
    let Some(server) = RedisServer::start_with(&[]) else {
        return;
    };
    let total = crate::registry::MAX_RECEIPTS + 3;
    let a = node(
        &server,
        RedisSettings {
            queue_max_messages: total,
            ..settings()
        },
    )
    .await;
    let mut sids = Vec::new();
    for n in 0..total {
        let (sid, delivered) = accepted(&a.send("alice", "bob", &format!("m{n}"), "{}").await);
        assert!(!delivered);
        sids.push(sid);
    }
    assert_eq!(a.store.ack("bob", &sids).await.unwrap(), total as u64);
    assert_eq!(a.store.ack("bob", &sids).await.unwrap(), 0, "removed once");
    let receipt = |to: &str, id: String| Receipt {
        to: to.to_owned(),
        id,
    };
    let take = |take: bool| a.store.take_receipts("alice", take);
    let kept = take(true).await.unwrap();
    assert_eq!(kept.len(), crate::registry::MAX_RECEIPTS);
    assert_eq!(kept[0], receipt("bob", "m3".to_owned()));
    assert_eq!(
        kept[kept.len() - 1],
        receipt("bob", format!("m{}", total - 1))
    );
    assert!(take(true).await.unwrap().is_empty(), "taken once");
    // Put back ahead of a receipt kept since; dropped by a login without receipts.
    let (later, _) = accepted(&a.send("alice", "dave", "d:1\n", "{}").await);
    assert_eq!(a.store.ack("dave", &[later]).await.unwrap(), 1);
    a.store.keep_receipts("alice", &kept[..2]).await.unwrap();
    assert_eq!(
        take(true).await.unwrap(),
        [
            kept[0].clone(),
            kept[1].clone(),
            receipt("dave", "d:1\n".to_owned())
        ]
    );
    // What another program pushed there is skipped.
    let mut conn = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    for junk in ["", "x", "99:short", ":"] {
        let _: i64 = redis::cmd("RPUSH")
            .arg("msg-relay:rc:alice")
            .arg(junk)
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    a.store.keep_receipts("alice", &kept[..1]).await.unwrap();
    assert_eq!(take(true).await.unwrap(), [kept[0].clone()]);
    a.store.keep_receipts("alice", &kept[..1]).await.unwrap();
    assert!(take(false).await.unwrap().is_empty());
    assert!(take(true).await.unwrap().is_empty(), "dropped");
}

/// What Redis does for a message that is queued, read at its recipient's login on another
/// node and acknowledged there one by one, its sender online with `receipts` (its node takes
/// each receipt as announced) or away (its receipts wait in Redis), counted by redis-server
/// itself (`SLOWLOG` at threshold 0, `INFO commandstats`): the script runs are checked, the
/// times printed for docs/PERFORMANCE.md ("Delivery receipts on Redis"):
/// `cargo test -p msg-relay --lib -- --nocapture redis_cost`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cost_of_a_queued_then_delivered_message() {
    for sender_online in [true, false] {
        measure_queued_then_delivered(sender_online).await;
    }
}

async fn measure_queued_then_delivered(sender_online: bool) {
    const MESSAGES: usize = 1000;
    let Some(server) = RedisServer::start_with(&[]) else {
        return;
    };
    let a = running_node(&server, settings()).await;
    let b = running_node(&server, settings()).await;
    let mut alice = probe(1, true);
    alice.handle.receipts = true;
    if sender_online {
        a.node
            .login("alice", 0, alice.handle.clone(), GUARD)
            .await
            .unwrap();
        assert!(alice.next().await.contains("synced"));
    }
    let mut stats = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    stats.set_response_timeout(GUARD);
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query_async(&mut stats)
        .await
        .unwrap();
    for (key, value) in [
        ("slowlog-log-slower-than", "0"),
        ("slowlog-max-len", "100000"),
    ] {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg(key)
            .arg(value)
            .query_async(&mut stats)
            .await
            .unwrap();
    }
    let cpu_before = redis_cpu_us(&mut stats).await;
    for n in 0..MESSAGES {
        let sent = a
            .node
            .send("alice", "bob", &format!("m{n}"), "{\"type\":\"message\"}")
            .await
            .unwrap();
        assert!(!accepted(&sent).1, "bob is offline: queued");
    }
    let mut bob = probe(2, true);
    b.node
        .login("bob", 0, bob.handle.clone(), GUARD)
        .await
        .unwrap();
    for _ in 0..MESSAGES {
        assert!(bob.next().await.contains("message"));
    }
    assert!(bob.next().await.contains("synced"));
    for n in 0..MESSAGES {
        assert_eq!(
            b.node
                .ack(2, Some("alice"), &format!("m{n}"))
                .await
                .unwrap(),
            1
        );
    }
    let mut receipts = 0;
    while sender_online
        && receipts < MESSAGES
        && let Ok(Some(outgoing)) =
            tokio::time::timeout(Duration::from_secs(2), alice.frames.recv()).await
    {
        if outgoing.frame.to_text().unwrap().contains("\"delivered\"") {
            receipts += 1;
        }
    }
    let cpu = redis_cpu_us(&mut stats).await - cpu_before;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut stats)
        .await
        .unwrap();
    println!(
        "{MESSAGES} messages queued, delivered on another node and acknowledged, sender \
         online: {sender_online}; {receipts} receipts written; redis-server CPU {:.1} µs \
         per message",
        cpu / MESSAGES as f64
    );
    // Each script run by its operation: queue.lua's and sessions.lua's first argument;
    // send.lua's is the sender, alice.
    let log: Vec<(i64, i64, i64, Vec<String>, String, String)> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(-1)
        .query_async(&mut stats)
        .await
        .unwrap();
    let mut by_op: std::collections::BTreeMap<String, (u64, i64)> = Default::default();
    for (_, _, micros, args, _, _) in log {
        if args
            .first()
            .is_some_and(|cmd| cmd.eq_ignore_ascii_case("evalsha"))
        {
            let op = match args.get(4).map(String::as_str) {
                Some("alice") => "send".to_owned(),
                other => other.unwrap_or_default().to_owned(),
            };
            let entry = by_op.entry(op).or_default();
            entry.0 += 1;
            entry.1 += micros;
        }
    }
    for (op, (calls, micros)) in &by_op {
        println!(
            "script {op}: {calls} runs, {:.2} µs per message",
            *micros as f64 / MESSAGES as f64
        );
    }
    // One send and one removal per message (the first send on this fresh Redis may be
    // refused `NOSCRIPT` and run again); one take of receipts per receipt announced to an
    // online sender, plus bob's login dropping his (none).
    let runs = |op: &str| by_op.get(op).map_or(0, |(calls, _)| *calls);
    let messages = MESSAGES as u64;
    assert!((messages..=messages + 1).contains(&runs("send")));
    assert_eq!(runs("ack"), messages);
    assert_eq!(
        runs("receipts"),
        if sender_online { messages + 1 } else { 1 }
    );
    assert_eq!(receipts, if sender_online { MESSAGES } else { 0 });
    println!("command: calls per message, µs per message (a script's time includes its commands)");
    for line in info.lines() {
        let Some((name, fields)) = line
            .strip_prefix("cmdstat_")
            .and_then(|rest| rest.split_once(':'))
        else {
            continue;
        };
        let field = |key: &str| -> f64 {
            fields
                .split(',')
                .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                .and_then(|value| value.parse().ok())
                .unwrap_or(0.0)
        };
        let per = MESSAGES as f64;
        println!(
            "{name}: {:.3} calls, {:.2} µs",
            field("calls") / per,
            field("usec") / per
        );
    }
}

/// redis-server's CPU time so far (user and system), in microseconds.
async fn redis_cpu_us(conn: &mut redis::aio::MultiplexedConnection) -> f64 {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .filter_map(|line| {
            let (key, value) = line.trim().split_once(':')?;
            matches!(key, "used_cpu_sys" | "used_cpu_user").then(|| value.parse::<f64>().ok())?
        })
        .sum::<f64>()
        * 1e6
}
