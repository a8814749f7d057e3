//! Store-and-forward (issue 7): offline queues, acks both ways, redelivery, dedupe, bounds.
//! Expiry by time to live is tested on a paused clock in `src/connection.rs`.

use serde_json::{Value, json};

use crate::support::{Relay, config};
use msg_relay::{LegacyDelivery, Limits, RelayConfig};

fn contents(frames: &[Value]) -> Vec<&str> {
    frames
        .iter()
        .map(|frame| {
            assert_eq!(frame["type"], "message", "{frame}");
            frame["content"].as_str().unwrap()
        })
        .collect()
}

fn with_limits(limits: Limits) -> RelayConfig {
    RelayConfig { limits, ..config() }
}

#[tokio::test]
async fn messages_for_an_offline_user_arrive_at_login_in_order_then_live_ones() {
    let relay = Relay::default().await;
    let mut alice = relay.login("alice").await;
    let mut carol = relay.login("carol").await;
    for n in 1..=5 {
        alice.send_message("bob", &format!("a{n}")).await;
        carol.send_message("bob", &format!("c{n}")).await;
        alice.expect_ack("queued").await;
        carol.expect_ack("queued").await;
    }
    let mut bob = relay.connect().await;
    let backlog = bob.auth_backlog("bob", false).await;
    assert_eq!(
        contents(&backlog),
        ["a1", "c1", "a2", "c2", "a3", "c3", "a4", "c4", "a5", "c5"]
    );
    assert_eq!(backlog[0]["from"], "alice");
    assert_eq!(backlog[1]["from"], "carol");
    // After `synced`, live messages.
    alice.send_message("bob", "live").await;
    assert_eq!(bob.recv().await["content"], "live");
    alice.expect_ack("delivered").await;
    assert_eq!(relay.metric("msg_relay_messages_queued_total").await, 10);
    // A v0.2.0 client's messages count as delivered once written: none is left.
    assert_eq!(relay.metric("msg_relay_queue_messages").await, 0);
    bob.close().await;
    relay.login("bob").await; // asserts an empty backlog
}

#[tokio::test]
async fn a_backlog_larger_than_the_outbound_queue_arrives_whole() {
    let relay = Relay::start(with_limits(Limits {
        outbound_queue_frames: 4,
        messages_per_second: 10_000,
        burst: 10_000,
        ..Limits::default()
    }))
    .await;
    let mut alice = relay.login("alice").await;
    for n in 0..300 {
        // One at a time: alice's own outbound queue holds only 4 acks.
        alice
            .send(json!({"type": "send", "to": "bob", "content": n.to_string()}))
            .await;
        alice.expect_ack("queued").await;
    }
    let (_bob, backlog) = relay.login_acks("bob").await;
    let expected: Vec<String> = (0..300).map(|n| n.to_string()).collect();
    assert_eq!(contents(&backlog), expected);
}

#[tokio::test]
async fn an_acks_client_gets_what_it_did_not_acknowledge_again_after_a_reconnect() {
    let relay = Relay::default().await;
    let mut alice = relay.login("alice").await;
    for id in ["m1", "m2"] {
        alice
            .send(json!({"type": "send", "to": "bob", "content": id, "id": id}))
            .await;
        alice.expect_ack("queued").await;
    }
    let (mut bob, backlog) = relay.login_acks("bob").await;
    assert_eq!(contents(&backlog), ["m1", "m2"]);
    // A live message to an acks client is kept until acknowledged, too.
    alice
        .send(json!({"type": "send", "to": "bob", "content": "m3", "id": "m3"}))
        .await;
    assert_eq!(bob.recv().await["id"], "m3");
    alice.expect_ack("delivered").await;
    bob.ack(&json!("m1")).await;
    bob.ack(&json!("m3")).await;
    bob.ack(&json!("m3")).await; // idempotent
    bob.ack(&json!("never-sent")).await; // ignored
    bob.expect_nothing_pending().await;
    bob.close().await;

    // m2 was never acknowledged: it comes again, and nothing else.
    let (mut bob, backlog) = relay.login_acks("bob").await;
    assert_eq!(contents(&backlog), ["m2"]);
    assert_eq!(
        relay.metric("msg_relay_messages_redelivered_total").await,
        1
    );
    bob.ack(&backlog[0]["id"]).await;
    bob.expect_nothing_pending().await;
    bob.close().await;
    let (_bob, backlog) = relay.login_acks("bob").await;
    assert!(backlog.is_empty(), "{backlog:?}");
    assert_eq!(relay.metric("msg_relay_messages_acked_total").await, 3);
    assert_eq!(relay.metric("msg_relay_queue_messages").await, 0);
}

#[tokio::test]
async fn a_repeated_id_is_acknowledged_again_but_delivered_once() {
    let relay = Relay::default().await;
    let mut alice = relay.login("alice").await;
    let send = json!({"type": "send", "to": "bob", "content": "once", "id": "dup-1"});
    alice.send(send.clone()).await;
    alice.expect_ack("queued").await;
    // The sender did not see the ack (say it reconnected) and sends again.
    alice.send(send.clone()).await;
    assert_eq!(
        alice.recv().await,
        json!({"type": "ack", "id": "dup-1", "to": "bob", "status": "queued", "duplicate": true})
    );
    let (mut bob, backlog) = relay.login_acks("bob").await;
    assert_eq!(contents(&backlog), ["once"]);
    // Also while bob is online: still not delivered a second time.
    alice.send(send).await;
    assert_eq!(alice.recv().await["duplicate"], true);
    bob.expect_nothing_pending().await;
    assert_eq!(relay.metric("msg_relay_messages_duplicate_total").await, 2);
}

#[tokio::test]
async fn each_queue_bound_is_named_in_the_error_and_nothing_is_dropped_silently() {
    let relay = Relay::start(with_limits(Limits {
        queue_max_messages: 2,
        queue_max_bytes: 700,
        queue_total_bytes: 1000,
        ..Limits::default()
    }))
    .await;
    let mut alice = relay.login("alice").await;
    // count: two fit, the third does not.
    for id in ["c1", "c2"] {
        alice
            .send(json!({"type": "send", "to": "bob", "content": "x", "id": id}))
            .await;
        alice.expect_ack("queued").await;
    }
    alice
        .send(json!({"type": "send", "to": "bob", "content": "x", "id": "c3"}))
        .await;
    let error = alice.expect_error("queue_full").await;
    assert_eq!(error["limit"], "count");
    assert_eq!(error["id"], "c3");
    assert_eq!(error["to"], "bob");
    // bytes: one message over the recipient's byte bound.
    let big = "b".repeat(500);
    alice
        .send(json!({"type": "send", "to": "carol", "content": big, "id": "b1"}))
        .await;
    alice.expect_ack("queued").await;
    alice
        .send(json!({"type": "send", "to": "carol", "content": big, "id": "b2"}))
        .await;
    assert_eq!(alice.expect_error("queue_full").await["limit"], "bytes");
    // total_bytes: dave's queue is empty, but all queues together are near the bound.
    alice
        .send(json!({"type": "send", "to": "dave", "content": big, "id": "t1"}))
        .await;
    assert_eq!(
        alice.expect_error("queue_full").await["limit"],
        "total_bytes"
    );
    // A refused message may be sent again once there is room: it was not recorded.
    let (mut bob, backlog) = relay.login_acks("bob").await;
    assert_eq!(backlog.len(), 2);
    for message in &backlog {
        bob.ack(&message["id"]).await;
    }
    bob.expect_nothing_pending().await;
    bob.close().await;
    alice
        .send(json!({"type": "send", "to": "bob", "content": "x", "id": "c3"}))
        .await;
    alice.expect_ack("queued").await;
    assert_eq!(
        relay
            .metric("msg_relay_rejected_total{reason=\"queue_full\"}")
            .await,
        3
    );
}

#[tokio::test]
async fn ids_are_checked_and_generated() {
    let relay = Relay::default().await;
    let mut alice = relay.login("alice").await;
    for bad in [
        "x".repeat(129),
        "line\nbreak".to_owned(),
        "tab\t".to_owned(),
    ] {
        alice
            .send(json!({"type": "send", "to": "bob", "content": "x", "id": bad}))
            .await;
        alice.expect_error("invalid_frame").await;
    }
    alice
        .send(json!({"type": "send", "to": "bob", "content": "x", "id": "x".repeat(128)}))
        .await;
    alice.expect_ack("queued").await;
    alice
        .send(json!({"type": "send", "to": "bob", "content": "x", "id": ""}))
        .await;
    let first = alice.expect_ack("queued").await["id"].clone();
    alice
        .send(json!({"type": "send", "to": "bob", "content": "x"}))
        .await;
    let second = alice.expect_ack("queued").await["id"].clone();
    assert_ne!(first, second);
    let (_bob, backlog) = relay.login_acks("bob").await;
    assert_eq!(backlog[1]["id"], first);
    assert_eq!(backlog[2]["id"], second);
}

#[tokio::test]
async fn ack_needs_a_login() {
    let relay = Relay::default().await;
    let mut client = relay.connect().await;
    client.send(json!({"type": "ack", "id": "m1"})).await;
    client.expect_error("auth_required").await;
}

#[tokio::test]
async fn with_ack_required_a_legacy_client_gets_its_messages_again_until_it_acknowledges() {
    let relay = Relay::start(RelayConfig {
        legacy_delivery: LegacyDelivery::AckRequired,
        ..config()
    })
    .await;
    let mut alice = relay.login("alice").await;
    alice.send_message("bob", "hello").await;
    alice.expect_ack("queued").await;
    for _ in 0..2 {
        let mut bob = relay.connect().await;
        assert_eq!(contents(&bob.auth_backlog("bob", false).await), ["hello"]);
        bob.close().await;
    }
}

/// Issue 16, item 5: IDs are chosen by senders, so eve can send `sec-1` next to alice's
/// `sec-1`. Both are delivered (the dedupe window keys by sender), and an `ack` that names
/// its sender acknowledges that sender's message only.
#[tokio::test]
async fn an_ack_names_the_sender_whose_message_it_confirms() {
    let relay = Relay::default().await;
    for sender in ["alice", "eve"] {
        let mut client = relay.login(sender).await;
        client
            .send(json!({"type": "send", "to": "bob", "content": format!("from {sender}"), "id": "sec-1"}))
            .await;
        client.expect_ack("queued").await;
    }
    let (mut bob, backlog) = relay.login_acks("bob").await;
    assert_eq!(contents(&backlog), ["from alice", "from eve"]);
    bob.send(json!({"type": "ack", "id": "sec-1", "from": "alice"}))
        .await;
    bob.expect_nothing_pending().await;
    bob.close().await;
    // Eve's was not acknowledged: it comes again, alone.
    let (mut bob, backlog) = relay.login_acks("bob").await;
    assert_eq!(contents(&backlog), ["from eve"]);
    bob.send(json!({"type": "ack", "id": "sec-1", "from": "eve"}))
        .await;
    bob.expect_nothing_pending().await;
    assert_eq!(relay.metric("msg_relay_queue_messages").await, 0);
    assert_eq!(relay.metric("msg_relay_messages_acked_total").await, 2);
}
