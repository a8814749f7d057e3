//! Issue 16: protocol abuse on loopback, one regression test per item, each against the
//! real relay.

use std::time::{Duration, Instant};

use msg_relay::{Limits, RelayConfig};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Event, GUARD, KEY, RawSocket, Relay, config, read_head};

/// The connections the relay keeps beyond its limit to tell them so (`accept.rs`).
const OVERFLOW: usize = 64;

fn with_limits(limits: Limits) -> RelayConfig {
    RelayConfig { limits, ..config() }
}

/// Reads until the relay ends the connection; the last `error` frame's code, if any.
async fn last_error_before_the_end(client: &mut crate::support::Client) -> Option<String> {
    let mut code = None;
    loop {
        match client.event().await {
            Event::Frame(frame) if frame["type"] == "error" => {
                code = frame["code"].as_str().map(str::to_owned);
            }
            Event::Frame(_) | Event::Binary => {}
            Event::Close(_) | Event::End => return code,
        }
    }
}

/// Item 1: pings skipped the rate limit and reset the idle timer, and tungstenite buffered a
/// pong for each without bound. Now a ping flood closes the connection, logged in or not,
/// and the relay goes on serving everyone else.
#[tokio::test]
async fn a_ping_flood_closes_the_connection_logged_in_or_not() {
    let relay = Relay::start(with_limits(Limits {
        messages_per_second: 10,
        burst: 20,
        ..Limits::default()
    }))
    .await;
    let mut bystander = relay.login("bystander").await;
    let mut anonymous = relay.connect().await;
    let mut alice = relay.login("alice").await;
    for flooder in [&mut anonymous, &mut alice] {
        for _ in 0..200 {
            flooder.feed_ping().await;
        }
        flooder.flush().await;
    }
    relay
        .wait_for_metric("msg_relay_rejected_total{reason=\"rate_limited\"}", 2)
        .await;
    for flooder in [&mut anonymous, &mut alice] {
        assert_eq!(
            last_error_before_the_end(flooder).await.as_deref(),
            Some("rate_limited")
        );
    }
    relay.wait_for_metric("msg_relay_connections", 1).await;
    bystander.expect_nothing_pending().await;
}

/// Item 1: pings within the rate are fine, and do not count against the messages.
#[tokio::test]
async fn pings_within_the_rate_are_answered_and_keep_the_connection() {
    let relay = Relay::start(with_limits(Limits {
        messages_per_second: 100,
        burst: 20,
        ..Limits::default()
    }))
    .await;
    let mut alice = relay.login("alice").await;
    // 45 pings in 0.4 s or more: within 20 at once plus 100 per second.
    for _ in 0..3 {
        for _ in 0..15 {
            alice.feed_ping().await;
        }
        alice.flush().await;
        // The text frames have their own budget: the login took one of 20.
        for _ in 0..15 {
            alice.expect_nothing_pending().await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        relay
            .metric("msg_relay_rejected_total{reason=\"rate_limited\"}")
            .await,
        0
    );
}

/// Item 8: a frame that breaks RFC 6455 was answered with an empty close frame; the code
/// must say why (1002), and 1007 for text or a close reason that is not UTF-8.
#[tokio::test]
async fn protocol_violations_close_with_1002_and_invalid_utf8_with_1007() {
    let relay = Relay::default().await;
    let cases: [(&str, u8, &[u8], u16); 6] = [
        ("reserved bit", 0x80 | 0x40 | 0x1, b"{}", 1002),
        ("unknown opcode", 0x80 | 0x3, b"x", 1002),
        ("fragmented ping", 0x9, b"", 1002),
        ("continuation without a start", 0x80, b"x", 1002),
        ("text that is not UTF-8", 0x81, b"\xff\xfe", 1007),
        (
            "close reason that is not UTF-8",
            0x88,
            b"\x03\xe8\xff",
            1007,
        ),
    ];
    for (case, first, payload, code) in cases {
        let mut socket = RawSocket::upgrade(relay.addr).await;
        socket.write_frame(first, payload).await;
        assert_eq!(socket.close_code().await, Some(code), "{case}");
    }
    // The relay is unharmed.
    relay.login("alice").await.expect_nothing_pending().await;
}

/// Item 4: `to` was not checked, so names nobody can log in as waited 7 days in a queue.
#[tokio::test]
async fn a_recipient_nobody_can_log_in_as_is_refused_not_queued() {
    let relay = Relay::default().await;
    let mut alice = relay.login("alice").await;
    for (n, to) in ["bad\nname", &"x".repeat(5_000), "\0", " ", "tab\tname"]
        .into_iter()
        .enumerate()
    {
        alice
            .send(json!({"type": "send", "to": to, "content": "hi", "id": format!("j{n}")}))
            .await;
        let error = alice.expect_error("invalid_recipient").await;
        assert_eq!(error["id"], format!("j{n}"));
        assert!(error.get("to").is_none(), "the junk is not echoed: {error}");
    }
    assert_eq!(relay.metric("msg_relay_queue_messages").await, 0);
    // A name at the limit is a name.
    alice
        .send(json!({"type": "send", "to": "y".repeat(128), "content": "hi"}))
        .await;
    alice.expect_ack("queued").await;
}

/// Item 4: the per-recipient bounds did not stop one sender writing to many names; at the
/// default rate one client could block offline delivery for everyone within minutes.
#[tokio::test]
async fn one_sender_cannot_fill_the_queues_for_everyone() {
    let relay = Relay::start(with_limits(Limits {
        sender_queue_max_messages: 5,
        sender_queue_max_bytes: 2_000,
        ..Limits::default()
    }))
    .await;
    let mut mallory = relay.login("mallory").await;
    for n in 0..5 {
        mallory
            .send(json!({"type": "send", "to": format!("r{n}"), "content": "x"}))
            .await;
        mallory.expect_ack("queued").await;
    }
    mallory
        .send(json!({"type": "send", "to": "r5", "content": "x", "id": "over"}))
        .await;
    let error = mallory.expect_error("queue_full").await;
    assert_eq!(error["limit"], "sender_count", "{error}");
    assert_eq!(error["id"], "over");
    // Someone else is not affected.
    let mut alice = relay.login("alice").await;
    alice.send_message("r5", "hello").await;
    alice.expect_ack("queued").await;
    // Once one of them is delivered, mallory may queue one more.
    let r0 = relay.login_acks("r0").await;
    assert_eq!(r0.1.len(), 1);
    let (mut r0, backlog) = r0;
    r0.ack(&backlog[0]["id"]).await;
    r0.expect_nothing_pending().await;
    mallory
        .send(json!({"type": "send", "to": "r5", "content": "x", "id": "over"}))
        .await;
    mallory.expect_ack("queued").await;

    // Bytes: a sender whose queued messages would pass the byte bound.
    let mut eve = relay.login("eve").await;
    let big = "b".repeat(800);
    for n in 0..2 {
        eve.send(json!({"type": "send", "to": format!("s{n}"), "content": big}))
            .await;
        eve.expect_ack("queued").await;
    }
    eve.send(json!({"type": "send", "to": "s2", "content": big}))
        .await;
    assert_eq!(
        eve.expect_error("queue_full").await["limit"],
        "sender_bytes"
    );
}

/// Reads from a raw connection until the relay closes it (or the guard passes).
async fn closed_by_relay(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 1024];
    let read_to_end = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    };
    tokio::time::timeout(GUARD, read_to_end).await.is_ok()
}

/// Item 2: a TCP connection that sends nothing, or its upgrade request one byte at a time,
/// stayed open forever.
#[tokio::test]
async fn connections_that_do_not_complete_their_upgrade_are_closed_at_the_deadline() {
    let relay = Relay::start(with_limits(Limits {
        handshake_timeout: Duration::from_millis(300),
        ..Limits::default()
    }))
    .await;
    let start = Instant::now();
    let mut silent = TcpStream::connect(relay.addr).await.unwrap();
    let mut slow = TcpStream::connect(relay.addr).await.unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        relay.addr
    );
    // One byte every 20 ms: the request would take over three seconds.
    let mut cut = false;
    for byte in request.bytes() {
        if slow.write_all(&[byte]).await.is_err() {
            cut = true;
            break;
        }
        let mut probe = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(20), slow.read(&mut probe)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                cut = true;
                break;
            }
            Ok(Ok(_)) => panic!("the relay answered an incomplete request"),
            Err(_) => {}
        }
    }
    assert!(cut, "the slow request was never cut");
    assert!(closed_by_relay(&mut silent).await);
    assert!(start.elapsed() >= Duration::from_millis(300));
    relay
        .wait_for_metric("msg_relay_handshake_timeouts_total", 2)
        .await;
    // A real client is served as always.
    relay.login("alice").await.expect_nothing_pending().await;
}

/// Item 2: connections not upgraded yet did not count against --max-connections, so 1,100
/// of them exhausted the file descriptors. Now they hold a place from their first byte, a
/// WebSocket beyond the limit is told why, /healthz still answers, and past the few
/// connections kept for saying so, more are closed at once.
#[tokio::test]
async fn connections_not_upgraded_yet_count_against_the_limit() {
    let relay = Relay::start(with_limits(Limits {
        max_connections: 3,
        handshake_timeout: Duration::from_secs(3),
        ..Limits::default()
    }))
    .await;
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(relay.addr).await.unwrap());
    }
    // Three idle ones and the one asking.
    relay.wait_for_metric("msg_relay_http_connections", 4).await;
    let mut refused = relay.connect().await;
    refused.expect_error("too_many_connections").await;
    refused.expect_close(1013).await;
    assert_eq!(relay.get("/healthz").await.0, 200);
    // Past the overflow, closed without a word.
    let mut overflow = Vec::new();
    for _ in 0..OVERFLOW + 5 {
        overflow.push(TcpStream::connect(relay.addr).await.unwrap());
    }
    // All read at once, for less than the overflow's deadline: only those the relay did not
    // keep end now.
    let reads = overflow.iter_mut().map(|stream| async move {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut byte));
        matches!(read.await, Ok(Ok(0) | Err(_)))
    });
    let closed_at_once = futures::future::join_all(reads)
        .await
        .into_iter()
        .filter(|closed| *closed)
        .count();
    // The `/healthz` connection may still be giving its place back.
    assert!((5..=6).contains(&closed_at_once), "{closed_at_once}");
    drop(overflow);
    // The idle ones reach their deadline and give their places back.
    for stream in &mut idle {
        assert!(closed_by_relay(stream).await);
    }
    relay.login("alice").await.expect_nothing_pending().await;
}

/// Item 8: handshakes with a key that is not 16 bytes of base64, or no Host, were accepted;
/// version 8 got a 400 without saying which version the relay speaks.
#[tokio::test]
async fn the_opening_handshake_follows_rfc_6455() {
    let relay = Relay::default().await;
    let handshake = |host: Option<&str>, key: &str, version: &str| {
        let host = host.map_or_else(String::new, |host| format!("Host: {host}\r\n"));
        format!(
            "GET /ws HTTP/1.1\r\n{host}Upgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n\r\n"
        )
    };
    let answer = |request: String| async move {
        let mut stream = TcpStream::connect(relay.addr).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        read_head(&mut stream).await
    };
    let host = Some("relay.example");
    for key in [
        "abc",
        "",
        "dGhlIHNhbXBsZSBub25jZQ",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ] {
        let head = answer(handshake(host, key, "13")).await;
        assert_eq!(head.status, 400, "key {key:?}");
        assert_eq!(head.header("sec-websocket-version"), Some("13"));
    }
    assert_eq!(answer(handshake(None, KEY, "13")).await.status, 400);
    let old = answer(handshake(host, KEY, "8")).await;
    assert_eq!(old.status, 426);
    assert_eq!(old.header("sec-websocket-version"), Some("13"));
    let ok = answer(handshake(host, KEY, "13")).await;
    assert_eq!(ok.status, 101);
    assert_eq!(
        ok.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
}

/// Item 8: `HEAD /status` was 405.
#[tokio::test]
async fn head_is_answered_like_get_without_a_body() {
    let relay = Relay::default().await;
    for path in ["/status", "/healthz", "/metrics"] {
        assert_eq!(
            relay.request("HEAD", path).await,
            (200, String::new()),
            "{path}"
        );
    }
    let (status, _) = relay.get("/status").await;
    assert_eq!(status, 200);
}
