//! Issue 16: protocol abuse on loopback, one regression test per item, each against the
//! real relay.

use std::time::Duration;

use msg_relay::{Limits, RelayConfig};
use serde_json::json;

use crate::support::{Event, GUARD, RawSocket, Relay, config};

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
