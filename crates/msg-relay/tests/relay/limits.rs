//! Each limit is enforced and answered with an `error` frame carrying a code. The frame
//! size and the slow reader are in `defects.rs` (they were Python defects).

use std::time::Duration;

use msg_relay::{Limits, RelayConfig};
use serde_json::json;
use std::time::Instant;

use crate::support::{Event, Relay, config};

fn with_limits(limits: Limits) -> RelayConfig {
    RelayConfig { limits, ..config() }
}

// Timing on real sockets: only lower bounds and "eventually" are asserted, never "within
// N ms". Exact timings (the 10 s default, the 30 s heartbeat, 90 s idle, retry_after_ms to
// the millisecond) are checked on a paused clock in the unit tests of `connection.rs`,
// where the connection is fed by channels: tokio's paused clock and real I/O do not mix.

#[tokio::test]
async fn a_flood_is_refused_with_retry_after_and_the_rate_recovers() {
    let relay = Relay::start(with_limits(Limits {
        messages_per_second: 1,
        burst: 5,
        ..Limits::default()
    }))
    .await;
    let mut alice = relay.login("alice").await; // takes one token
    let start = Instant::now();
    // Twenty pings in one write: the burst passes, the rest is refused, none silently.
    for _ in 0..20 {
        alice.feed(json!({"type": "ping"})).await;
    }
    alice.flush().await;
    let (mut pongs, mut refused, mut last_retry) = (0, 0, 0);
    for _ in 0..20 {
        let frame = alice.recv().await;
        if frame["type"] == "pong" {
            pongs += 1;
        } else {
            assert_eq!(frame["code"], "rate_limited", "{frame}");
            last_retry = frame["retry_after_ms"].as_u64().unwrap();
            assert!(
                (1..=1000).contains(&last_retry),
                "retry_after_ms {last_retry}"
            );
            refused += 1;
        }
    }
    // At one frame per second, only time spent here can add to the four left in the burst.
    let refilled = start.elapsed().as_secs() + 1;
    assert!(
        pongs <= 4 + refilled,
        "{pongs} pongs in {:?}",
        start.elapsed()
    );
    assert_eq!(pongs + refused, 20);
    // Waiting as told is enough for the next frame.
    tokio::time::sleep(Duration::from_millis(last_retry)).await;
    alice.send(json!({"type": "ping"})).await;
    assert_eq!(alice.recv().await, json!({"type": "pong"}));
    assert_eq!(
        relay
            .metric("msg_relay_rejected_total{reason=\"rate_limited\"}")
            .await,
        refused
    );
}

#[tokio::test]
async fn a_connection_that_does_not_authenticate_is_closed_after_the_timeout() {
    let relay = Relay::start(with_limits(Limits {
        auth_timeout: Duration::from_millis(300),
        ..Limits::default()
    }))
    .await;
    let start = Instant::now();
    let mut client = relay.connect().await;
    // Pings are answered but do not keep an unauthenticated socket open.
    client.send(json!({"type": "ping"})).await;
    assert_eq!(client.recv().await, json!({"type": "pong"}));
    client.expect_error("auth_timeout").await;
    assert!(start.elapsed() >= Duration::from_millis(300));
    client.expect_close(1008).await;
}

#[tokio::test]
async fn a_connection_that_never_answers_pings_is_closed_after_the_idle_timeout() {
    let relay = Relay::start(with_limits(Limits {
        heartbeat_interval: Duration::from_millis(50),
        idle_timeout: Duration::from_millis(200),
        ..Limits::default()
    }))
    .await;
    let mut silent = relay.login("silent").await;
    let start = Instant::now();
    // The client does not read, so its WebSocket library never answers the pings.
    relay
        .wait_for_metric("msg_relay_rejected_total{reason=\"idle_timeout\"}", 1)
        .await;
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(relay.status().await["connected"], 0);
    // Reading now, the client finds the pings, the reason and the close frame, unless its
    // WebSocket library fails first trying to answer a ping on the closed socket.
    loop {
        match silent.event().await {
            Event::Frame(frame) => assert_eq!(frame["code"], "idle_timeout", "{frame}"),
            Event::Close(close) => {
                assert_eq!(close.map(|(code, _)| code), Some(1008));
                break;
            }
            Event::End => break,
            Event::Binary => panic!("binary frame"),
        }
    }
}

#[tokio::test]
async fn connections_beyond_the_limit_are_refused_and_a_slot_frees_on_close() {
    let relay = Relay::start(with_limits(Limits {
        max_connections: 2,
        ..Limits::default()
    }))
    .await;
    let first = relay.login("alice").await;
    let _second = relay.connect().await;
    let mut third = relay.connect().await;
    let error = third.expect_error("too_many_connections").await;
    assert!(error["retry_after_ms"].as_u64().unwrap() > 0);
    third.expect_close(1013).await;
    first.close().await;
    relay.wait_for_metric("msg_relay_connections", 1).await;
    relay.login("bob").await.expect_nothing_pending().await;
}

#[tokio::test]
async fn the_frame_size_limit_is_configurable_and_exact() {
    let relay = Relay::start(with_limits(Limits {
        max_frame_bytes: 1024,
        ..Limits::default()
    }))
    .await;
    let mut alice = relay.login("alice").await;
    let frame = |len: usize| {
        let skeleton = json!({"type": "send", "to": "alice", "content": ""}).to_string();
        json!({"type": "send", "to": "alice", "content": "z".repeat(len - skeleton.len())})
    };
    alice.send(frame(1024)).await;
    assert_eq!(alice.recv().await["type"], "message");
    alice.expect_ack("delivered").await;
    alice.send(frame(1025)).await;
    assert_eq!(
        alice.expect_error("frame_too_large").await["max_bytes"],
        1024
    );
    alice.expect_close(1009).await;
}

#[tokio::test]
async fn watches_per_connection_are_bounded() {
    let relay = Relay::start(with_limits(Limits {
        max_watches: 2,
        ..Limits::default()
    }))
    .await;
    let mut bob = relay.login("bob").await;
    bob.send(json!({"type": "watch", "users": ["a", "b", "c"]}))
        .await;
    bob.expect_error("too_many_watches").await;
    bob.send(json!({"type": "watch", "users": ["a", "b"]}))
        .await;
    for _ in 0..2 {
        assert_eq!(bob.recv().await["status"], "offline");
    }
    // Watching the same names again costs nothing.
    bob.send(json!({"type": "watch", "users": ["a"]})).await;
    assert_eq!(bob.recv().await["username"], "a");
}

#[tokio::test]
async fn a_client_that_floods_without_reading_its_replies_is_disconnected() {
    let relay = Relay::start(with_limits(Limits {
        messages_per_second: 100_000,
        burst: 100_000,
        outbound_queue_frames: 4,
        ..Limits::default()
    }))
    .await;
    let mut other = relay.login("other").await;
    let mut pest = relay.connect_with_small_receive_buffer().await;
    pest.auth("pest").await;
    // Replies pile up in the relay only as far as the queue allows.
    let wait = async {
        loop {
            for _ in 0..500 {
                pest.feed(json!({"type": "ping"})).await;
            }
            pest.flush().await;
            if relay
                .metric("msg_relay_rejected_total{reason=\"slow_consumer\"}")
                .await
                == 1
            {
                break;
            }
        }
    };
    tokio::time::timeout(crate::support::GUARD, wait)
        .await
        .expect("the flooding client is disconnected");
    other.expect_nothing_pending().await;
    // The pest sees pongs, then the reason and the close (or the connection drops first).
    loop {
        match pest.event().await {
            Event::Frame(frame) if frame["type"] == "pong" => continue,
            Event::Frame(frame) => {
                assert_eq!(frame["code"], "slow_consumer");
                break;
            }
            Event::Close(_) | Event::End => break,
            Event::Binary => panic!("binary frame"),
        }
    }
}
