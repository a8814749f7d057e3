//! Several `msg-relay serve --redis` processes sharing one redis-server of the test's own
//! (started on a free loopback port in a temporary directory): what issue 20 asks to show,
//! and issue 19's delivery receipts across nodes (the same scenarios also on one node), each
//! bounded in time.
//!
//! `.ci/run` installs redis-server and sets `MSG_REQUIRE_REDIS=1`; elsewhere a missing
//! redis-server skips these tests and says so.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Client, Event, GUARD, Relay, SECRET, token};

#[allow(dead_code)]
#[path = "../../src/broker/redis/test_server.rs"]
mod test_server;

use test_server::RedisServer;

/// One `msg-relay serve --redis` process.
struct Node {
    child: Option<Child>,
    addr: SocketAddr,
}

impl Node {
    /// Starts a node on a free port, with a one-second heartbeat (so a dead node is noticed
    /// within about a second) and `extra` flags.
    fn start(redis: &RedisServer, extra: &[&str]) -> Node {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_msg-relay"))
            .env("RELAY_SECRET", SECRET)
            .env("REDIS_URL", redis.url())
            .args(["serve", "--port", &port.to_string(), "--log-level", "warn"])
            .args(["--heartbeat-secs", "1", "--idle-timeout-secs", "60"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Its warnings while Redis is away are expected; the assertions say what failed.
            .stderr(Stdio::null())
            .spawn()
            .expect("msg-relay starts");
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + GUARD;
        while msg_relay::healthcheck(addr, Duration::from_secs(1)).is_err() {
            assert!(Instant::now() < deadline, "the node did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        Node {
            child: Some(child),
            addr,
        }
    }

    async fn login(&self, user: &str, acks: bool) -> (Client, Vec<Value>) {
        let mut client = Client::connect_to(self.addr).await;
        let backlog = client.auth_backlog(user, acks).await;
        (client, backlog)
    }

    /// SIGKILL: the node has no chance to do anything more.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn cluster(nodes: usize, extra: &[&str]) -> Option<(RedisServer, Vec<Node>)> {
    let redis = RedisServer::start()?;
    let nodes = (0..nodes).map(|_| Node::start(&redis, extra)).collect();
    Some((redis, nodes))
}

fn send(to: &str, id: &str, content: &str) -> Value {
    json!({"type": "send", "to": to, "id": id, "content": content})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_cross_nodes_live_and_queued_and_an_ack_holds_everywhere() {
    let Some((_redis, nodes)) = cluster(2, &[]) else {
        return;
    };
    let (mut alice, _) = nodes[0].login("alice", true).await;
    let (mut bob, _) = nodes[1].login("bob", true).await;
    // Live across nodes.
    alice.send(send("bob", "m1", "hello")).await;
    alice.expect_ack("delivered").await;
    let message = bob.recv().await;
    assert_eq!(
        (message["from"].clone(), message["content"].clone()),
        (json!("alice"), json!("hello"))
    );
    bob.ack(&message["id"]).await;
    // Queued on one node, delivered at a login on the other; acknowledged there, never again.
    bob.close().await;
    // Wait until bob is offline everywhere: the next send is queued, not delivered.
    alice.send(send("bob", "m2", "queued")).await;
    let ack = alice.recv().await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let (mut bob, backlog) = nodes[0].login("bob", true).await;
    assert_eq!(backlog.len(), 1, "{backlog:?}");
    assert_eq!(backlog[0]["id"], "m2");
    bob.ack(&backlog[0]["id"]).await;
    bob.expect_nothing_pending().await;
    bob.close().await;
    let (_bob, backlog) = nodes[1].login("bob", true).await;
    assert!(
        backlog.is_empty(),
        "acknowledged on node 0, not again on node 1: {backlog:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedupe_holds_across_nodes() {
    let Some((_redis, nodes)) = cluster(2, &[]) else {
        return;
    };
    let (mut alice, _) = nodes[0].login("alice", true).await;
    alice.send(send("carol", "x1", "once")).await;
    alice.expect_ack("queued").await;
    alice.close().await;
    // A client that failed over sends it again, to the other node.
    let (mut alice, _) = nodes[1].login("alice", true).await;
    alice.send(send("carol", "x1", "once")).await;
    let ack = alice.recv().await;
    assert_eq!(
        (ack["status"].clone(), ack["duplicate"].clone()),
        (json!("queued"), json!(true))
    );
    let (_carol, backlog) = nodes[0].login("carol", true).await;
    assert_eq!(backlog.len(), 1, "{backlog:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_crosses_nodes_and_a_killed_node_takes_its_users_offline() {
    let Some((_redis, mut nodes)) = cluster(2, &[]) else {
        return;
    };
    let (mut watcher, _) = nodes[0].login("watcher", true).await;
    watcher
        .send(json!({"type": "watch", "users": ["bob"]}))
        .await;
    let presence = |status: &str| json!({"type": "presence", "username": "bob", "status": status});
    assert_eq!(watcher.recv().await, presence("offline"));
    let (mut bob, _) = nodes[1].login("bob", true).await;
    assert_eq!(watcher.recv().await, presence("online"));
    bob.send(json!({"type": "status_change", "status": "busy"}))
        .await;
    assert_eq!(watcher.recv().await, presence("busy"));
    // The node dies without a word: the other node's heartbeat notices within about a
    // heartbeat interval (1 s here).
    let killed = Instant::now();
    nodes[1].kill();
    assert_eq!(watcher.recv().await, presence("offline"));
    assert!(
        killed.elapsed() < Duration::from_secs(5),
        "{:?}",
        killed.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_on_another_node_replaces_the_session() {
    let Some((_redis, nodes)) = cluster(2, &[]) else {
        return;
    };
    let (mut first, _) = nodes[0].login("alice", true).await;
    let (mut second, _) = nodes[1].login("alice", true).await;
    first.expect_error("session_replaced").await;
    first.expect_close(4000).await;
    second.expect_nothing_pending().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_send_rate_holds_across_nodes() {
    let Some((_redis, nodes)) = cluster(
        2,
        &[
            "--messages-per-second",
            "1",
            "--burst",
            "4",
            "--max-sessions-per-user",
            "2",
        ],
    ) else {
        return;
    };
    let (mut one, _) = nodes[0].login("alice", true).await;
    let (mut two, _) = nodes[1].login("alice", true).await;
    // Four sends in all fit the burst; the fifth, on either node, is over the rate, though
    // each connection sent only half of them.
    for n in 0..2 {
        one.send(send("bob", &format!("a{n}"), "x")).await;
        one.expect_ack("queued").await;
        two.send(send("bob", &format!("b{n}"), "x")).await;
        two.expect_ack("queued").await;
    }
    two.send(send("bob", "b2", "x")).await;
    let refused = two.expect_error("rate_limited").await;
    assert!(
        refused["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0),
        "{refused}"
    );
}

/// A client with `acks` that follows the nodes: when its connection ends it logs in again
/// on the next node (what `msg relay connect` does with several URLs).
struct Roaming {
    user: String,
    nodes: Vec<SocketAddr>,
    at: usize,
    client: Client,
    /// Every frame of every connection, in order, with the number of the connection.
    connections: usize,
}

impl Roaming {
    async fn login(user: &str, nodes: &[SocketAddr], at: usize) -> (Roaming, Vec<Value>) {
        let mut client = Client::connect_to(nodes[at]).await;
        let backlog = client.auth_backlog(user, true).await;
        let roaming = Roaming {
            user: user.to_owned(),
            nodes: nodes.to_vec(),
            at,
            client,
            connections: 1,
        };
        (roaming, backlog)
    }

    /// Logs in on the next node that takes the connection; returns the backlog.
    async fn fail_over(&mut self) -> Vec<Value> {
        let deadline = Instant::now() + GUARD;
        loop {
            assert!(Instant::now() < deadline, "{} found no node", self.user);
            self.at = (self.at + 1) % self.nodes.len();
            let Ok(stream) = tokio::net::TcpStream::connect(self.nodes[self.at]).await else {
                continue;
            };
            drop(stream);
            self.client = Client::connect_to(self.nodes[self.at]).await;
            self.connections += 1;
            return self.client.auth_backlog(&self.user, true).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_mid_flood_loses_no_acknowledged_message() {
    const SENDERS: usize = 4;
    const MESSAGES: usize = 120;
    const WINDOW: usize = 8;
    let Some((_redis, mut nodes)) =
        cluster(2, &["--messages-per-second", "1000", "--burst", "1000"])
    else {
        return;
    };
    let addrs: Vec<SocketAddr> = nodes.iter().map(|node| node.addr).collect();
    let acked_total = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));

    // Recipients r0..r3, on node i % 2: they record every message (and on which
    // connection) and acknowledge it.
    let mut recipients = Vec::new();
    for index in 0..SENDERS {
        let (mut roaming, backlog) = Roaming::login(&format!("r{index}"), &addrs, index % 2).await;
        assert!(backlog.is_empty());
        let done = std::sync::Arc::clone(&done);
        recipients.push(tokio::spawn(async move {
            let mut received: Vec<(String, usize)> = Vec::new();
            let mut quiet_since = None;
            loop {
                match roaming
                    .client
                    .event_within(Duration::from_millis(200))
                    .await
                {
                    Some(Event::Frame(frame)) if frame["type"] == "message" => {
                        received.push((
                            frame["id"].as_str().unwrap().to_owned(),
                            roaming.connections,
                        ));
                        roaming.client.ack(&frame["id"]).await;
                        quiet_since = None;
                    }
                    Some(Event::Frame(_)) => {}
                    Some(Event::End | Event::Close(_) | Event::Binary) => {
                        for frame in roaming.fail_over().await {
                            received.push((
                                frame["id"].as_str().unwrap().to_owned(),
                                roaming.connections,
                            ));
                            roaming.client.ack(&frame["id"]).await;
                        }
                    }
                    None if done.load(std::sync::atomic::Ordering::Relaxed) => {
                        let since = *quiet_since.get_or_insert_with(Instant::now);
                        if since.elapsed() > Duration::from_secs(1) {
                            return received;
                        }
                    }
                    None => {}
                }
            }
        }));
    }

    // Senders s0..s3, on node (i + 1) % 2, each to its recipient, a window of sends in
    // flight; after a failover everything unacknowledged is sent again, same ID.
    let mut senders = Vec::new();
    for index in 0..SENDERS {
        let (mut roaming, _) = Roaming::login(&format!("s{index}"), &addrs, (index + 1) % 2).await;
        let acked_total = std::sync::Arc::clone(&acked_total);
        senders.push(tokio::spawn(async move {
            let to = format!("r{index}");
            let mut next = 0;
            let mut in_flight: BTreeSet<usize> = BTreeSet::new();
            let mut acked: BTreeMap<usize, bool> = BTreeMap::new();
            let deadline = Instant::now() + GUARD;
            while acked.len() < MESSAGES {
                assert!(Instant::now() < deadline, "s{index}: {} acked", acked.len());
                while in_flight.len() < WINDOW && next < MESSAGES {
                    roaming
                        .client
                        .feed(send(&to, &format!("s{index}-{next}"), "x"))
                        .await;
                    in_flight.insert(next);
                    next += 1;
                }
                roaming.client.flush().await;
                match roaming.client.event_within(Duration::from_secs(5)).await {
                    Some(Event::Frame(frame)) if frame["type"] == "ack" => {
                        let id = frame["id"].as_str().unwrap();
                        let n: usize = id.rsplit('-').next().unwrap().parse().unwrap();
                        in_flight.remove(&n);
                        let duplicate = frame["duplicate"] == true;
                        if acked.insert(n, duplicate).is_none() {
                            acked_total.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    Some(Event::Frame(frame)) => panic!("s{index}: {frame}"),
                    Some(_) | None => {
                        // The node is gone (or silent): everything not acknowledged goes
                        // again, to the next node.
                        roaming.fail_over().await;
                        for n in std::mem::take(&mut in_flight) {
                            roaming
                                .client
                                .feed(send(&to, &format!("s{index}-{n}"), "x"))
                                .await;
                            in_flight.insert(n);
                        }
                    }
                }
            }
            acked
        }));
    }

    // SIGKILL node 0 once about a third of the messages were acknowledged.
    let deadline = Instant::now() + GUARD;
    while acked_total.load(std::sync::atomic::Ordering::Relaxed) < SENDERS * MESSAGES / 3 {
        assert!(Instant::now() < deadline, "the flood did not start");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    nodes[0].kill();
    let mut acked = Vec::new();
    for sender in senders {
        acked.push(sender.await.unwrap());
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for (index, recipient) in recipients.into_iter().enumerate() {
        let received = recipient.await.unwrap();
        let ids: BTreeSet<&str> = received.iter().map(|(id, _)| id.as_str()).collect();
        // Every acknowledged message arrived.
        for n in acked[index].keys() {
            assert!(
                ids.contains(format!("s{index}-{n}").as_str()),
                "r{index} lost s{index}-{n}"
            );
        }
        // A message arrived twice only when the first copy came on a connection that died
        // before its ack could count (a redelivery of an unacknowledged message).
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (id, connection) in &received {
            if let Some(first) = seen.insert(id, *connection) {
                assert!(
                    first < *connection,
                    "r{index} got {id} twice on one connection"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_sends_survive_a_redis_kill_with_appendfsync_always() {
    let Some((mut redis, nodes)) = cluster(2, &["--redis-timeout-ms", "500"]) else {
        return;
    };
    let (mut alice, _) = nodes[0].login("alice", true).await;
    let mut acked = BTreeSet::new();
    let deadline = Instant::now() + GUARD;
    let mut n = 0;
    while n < 60 {
        assert!(Instant::now() < deadline, "{} acked", acked.len());
        if n == 30 && !acked.is_empty() && acked.len() == 30 {
            redis.kill();
            redis.restart();
        }
        alice.send(send("bob", &format!("k{n}"), "x")).await;
        let frame = alice.recv().await;
        match frame["type"].as_str() {
            Some("ack") => {
                acked.insert(n);
                n += 1;
            }
            // Retried, same ID, after the pause it asks for.
            Some("error") if frame["code"] == "unavailable" => {
                let wait = frame["retry_after_ms"].as_u64().unwrap();
                tokio::time::sleep(Duration::from_millis(wait.min(200))).await;
            }
            _ => panic!("{frame}"),
        }
    }
    let (_bob, backlog) = nodes[1].login("bob", true).await;
    let ids: BTreeSet<String> = backlog
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect();
    for n in acked {
        assert!(
            ids.contains(&format!("k{n}")),
            "k{n} was acknowledged and lost"
        );
    }
    assert_eq!(ids.len(), 60, "each once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_stopped_sends_are_refused_and_nothing_is_acknowledged() {
    let Some((redis, nodes)) = cluster(2, &["--redis-timeout-ms", "500"]) else {
        return;
    };
    let (mut alice, _) = nodes[0].login("alice", true).await;
    let (mut bob, _) = nodes[1].login("bob", true).await;
    alice.send(send("bob", "before", "x")).await;
    alice.expect_ack("delivered").await;
    assert_eq!(bob.recv().await["id"], "before");

    redis.pause();
    let stopped = Instant::now();
    let mut refused = 0;
    while stopped.elapsed() < Duration::from_secs(10) {
        alice.send(send("bob", &format!("p{refused}"), "x")).await;
        let frame = alice.recv().await;
        assert_eq!(
            frame["type"], "error",
            "acknowledged while Redis was stopped: {frame}"
        );
        assert_eq!(frame["code"], "unavailable", "{frame}");
        assert!(frame["retry_after_ms"].as_u64().is_some(), "{frame}");
        refused += 1;
    }
    redis.resume();
    let resumed = Instant::now();
    // Back within seconds: the same sends again, acknowledged (a send that reached Redis
    // before it stopped is recognised as a duplicate).
    let mut n = 0;
    while n < refused {
        assert!(resumed.elapsed() < GUARD, "not back");
        alice.send(send("bob", &format!("p{n}"), "x")).await;
        let frame = alice.recv().await;
        if frame["type"] == "ack" {
            n += 1;
        } else {
            assert_eq!(frame["code"], "unavailable", "{frame}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(
        resumed.elapsed() < Duration::from_secs(10),
        "{:?}",
        resumed.elapsed()
    );
    // bob gets each once (live, or from the stream after the node caught up).
    let mut got = BTreeSet::new();
    while got.len() < refused {
        let frame = bob.recv().await;
        assert_eq!(frame["type"], "message", "{frame}");
        assert!(
            got.insert(frame["id"].as_str().unwrap().to_owned()),
            "twice: {frame}"
        );
        bob.ack(&frame["id"]).await;
    }
}

/// Logs in at `addr` with `acks` and `receipts`: the client, its backlog, and the
/// `delivered` notices that came before `synced`.
async fn login_receipts(addr: SocketAddr, user: &str) -> (Client, Vec<Value>, Vec<Value>) {
    let mut client = Client::connect_to(addr).await;
    client
        .send(json!({"type": "auth", "username": user, "token": token(user), "acks": true, "receipts": true}))
        .await;
    assert_eq!(
        client.recv().await,
        json!({"type": "auth_ok", "username": user})
    );
    let (mut backlog, mut notices) = (Vec::new(), Vec::new());
    loop {
        let frame = client.recv().await;
        match frame["type"].as_str() {
            Some("synced") => {
                assert_eq!(frame["backlog"], backlog.len(), "{backlog:?}");
                return (client, backlog, notices);
            }
            Some("delivered") => notices.push(frame),
            _ => backlog.push(frame),
        }
    }
}

fn delivered(id: &str, to: &str) -> Value {
    json!({"type": "delivered", "id": id, "to": to})
}

/// Issue 19's receipts with the sender and its recipients on two relays `a` and `b` (the
/// same address for one node): an online sender is told once, a message acknowledged
/// `delivered` gives none, a repeat is answered `delivered`.
async fn receipts_for_an_online_sender(a: SocketAddr, b: SocketAddr) {
    let (mut alice, backlog, notices) = login_receipts(a, "alice").await;
    assert!(backlog.is_empty() && notices.is_empty());
    alice.send(send("bob", "m1", "queued")).await;
    alice.expect_ack("queued").await;
    // The recipient logs in on the other node and acknowledges it there.
    let mut bob = Client::connect_to(b).await;
    let backlog = bob.auth_backlog("bob", true).await;
    assert_eq!(backlog.len(), 1, "{backlog:?}");
    bob.ack(&backlog[0]["id"]).await;
    assert_eq!(alice.recv().await, delivered("m1", "bob"));
    // A repeat of the send is answered `delivered` now.
    alice.send(send("bob", "m1", "queued")).await;
    let ack = alice.recv().await;
    assert_eq!(
        (ack["status"].clone(), ack["duplicate"].clone()),
        (json!("delivered"), json!(true)),
        "{ack}"
    );
    // Acknowledged `delivered` (bob is online): no receipt for it.
    alice.send(send("bob", "m2", "live")).await;
    alice.expect_ack("delivered").await;
    let message = bob.recv().await;
    assert_eq!(message["id"], "m2");
    bob.ack(&message["id"]).await;
    bob.expect_nothing_pending().await;
    // A recipient without `acks` has a message once it was written to it. Receipts reach a
    // sender in the order their messages were delivered, so had m2 (or m1 again) given
    // one, it would come first.
    alice.send(send("carol", "m3", "queued")).await;
    alice.expect_ack("queued").await;
    let mut carol = Client::connect_to(b).await;
    let backlog = carol.auth_backlog("carol", false).await;
    assert_eq!(backlog.len(), 1, "{backlog:?}");
    assert_eq!(alice.recv().await, delivered("m3", "carol"));
    alice.expect_nothing_pending().await;
}

/// A sender offline when its messages were delivered hears of them at its next login with
/// `receipts`, on either node, before `synced`, once; a login without `receipts` drops
/// them.
async fn receipts_for_an_offline_sender(a: SocketAddr, b: SocketAddr) {
    // Someone who sees alice go offline everywhere.
    let mut watcher = Client::connect_to(b).await;
    watcher.auth_backlog("watcher", true).await;
    watcher
        .send(json!({"type": "watch", "users": ["alice"]}))
        .await;
    let presence =
        |status: &str| json!({"type": "presence", "username": "alice", "status": status});
    assert_eq!(watcher.recv().await, presence("offline"));
    let (mut alice, _, _) = login_receipts(a, "alice").await;
    assert_eq!(watcher.recv().await, presence("online"));
    for (id, to) in [("m1", "bob"), ("m2", "bob"), ("m3", "carol")] {
        alice.send(send(to, id, "queued")).await;
        alice.expect_ack("queued").await;
    }
    alice.close().await;
    assert_eq!(watcher.recv().await, presence("offline"));
    let mut bob = Client::connect_to(b).await;
    let backlog = bob.auth_backlog("bob", true).await;
    assert_eq!(backlog.len(), 2, "{backlog:?}");
    for message in &backlog {
        bob.ack(&message["id"]).await;
    }
    bob.expect_nothing_pending().await;
    let (alice, backlog, notices) = login_receipts(b, "alice").await;
    assert!(backlog.is_empty(), "{backlog:?}");
    assert_eq!(notices, [delivered("m1", "bob"), delivered("m2", "bob")]);
    alice.close().await;
    assert_eq!(watcher.recv().await, presence("online"));
    assert_eq!(watcher.recv().await, presence("offline"));
    let (alice, _, notices) = login_receipts(a, "alice").await;
    assert!(notices.is_empty(), "told twice: {notices:?}");
    alice.close().await;
    assert_eq!(watcher.recv().await, presence("online"));
    assert_eq!(watcher.recv().await, presence("offline"));
    // carol's message reaches her while alice is away; alice comes back without
    // `receipts` (auth_backlog checks that only `synced` follows), then with them.
    let mut carol = Client::connect_to(a).await;
    let backlog = carol.auth_backlog("carol", true).await;
    carol.ack(&backlog[0]["id"]).await;
    carol.expect_nothing_pending().await;
    let mut plain = Client::connect_to(b).await;
    assert!(plain.auth_backlog("alice", true).await.is_empty());
    plain.close().await;
    assert_eq!(watcher.recv().await, presence("online"));
    assert_eq!(watcher.recv().await, presence("offline"));
    let (_alice, _, notices) = login_receipts(a, "alice").await;
    assert!(
        notices.is_empty(),
        "kept past a login without receipts: {notices:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_on_one_node_hears_once_of_a_delivery_on_the_other() {
    let Some((_redis, nodes)) = cluster(2, &[]) else {
        return;
    };
    receipts_for_an_online_sender(nodes[0].addr, nodes[1].addr).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offline_sender_hears_of_deliveries_at_its_next_login_on_any_node() {
    let Some((_redis, nodes)) = cluster(2, &[]) else {
        return;
    };
    receipts_for_an_offline_sender(nodes[0].addr, nodes[1].addr).await;
}

/// The same scenarios on one node without Redis: the engines agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_single_node_gives_the_same_receipts() {
    let relay = Relay::default().await;
    receipts_for_an_online_sender(relay.addr, relay.addr).await;
    let relay = Relay::default().await;
    receipts_for_an_offline_sender(relay.addr, relay.addr).await;
}
