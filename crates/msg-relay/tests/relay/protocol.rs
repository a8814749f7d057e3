//! Every frame and every reply of the protocol, v0.2.0 and new.

use serde_json::{Value, json};

use crate::support::{Relay, config, token};
use msg_relay::{Limits, PresenceMode, RelayConfig};

#[tokio::test]
async fn auth_with_a_token_answers_auth_ok_with_the_name() {
    let relay = Relay::default().await;
    let mut alice = relay.connect().await;
    alice
        .send(json!({"type": "auth", "username": "alice", "token": token("alice")}))
        .await;
    assert_eq!(
        alice.recv().await,
        json!({"type": "auth_ok", "username": "alice"})
    );
    // Then the backlog (none) and `synced`, for every login.
    assert_eq!(alice.recv().await, json!({"type": "synced", "backlog": 0}));
    alice.expect_nothing_pending().await;
}

#[tokio::test]
async fn send_delivers_every_field_and_the_sender_gets_an_ack() {
    let relay = Relay::default().await;
    let mut alice = relay.login("alice").await;
    let mut bob = relay.login("bob").await;
    alice
        .send(json!({
            "type": "send",
            "to": "bob",
            "content": "Can you review PR #24?",
            "id": "msg-20260101-120000-abcdef12",
            "thread": "thread-1",
            "reply_to": "msg-0",
            "timestamp": "2026-01-01T12:00:00",
        }))
        .await;
    assert_eq!(
        bob.recv().await,
        json!({
            "type": "message",
            "from": "alice",
            "to": "bob",
            "content": "Can you review PR #24?",
            "id": "msg-20260101-120000-abcdef12",
            "thread": "thread-1",
            "reply_to": "msg-0",
            "timestamp": "2026-01-01T12:00:00",
        })
    );
    // New: the sender learns that the message reached bob.
    assert_eq!(
        alice.recv().await,
        json!({"type": "ack", "id": "msg-20260101-120000-abcdef12", "to": "bob", "status": "delivered", "duplicate": false})
    );
    alice.expect_nothing_pending().await;
}

/// `priority`, `signature` and `sealed` (issue 21) reach the recipient as they were sent,
/// live and from the queue, through the fast reader and through serde; a send without them
/// gives the v0.2.0 frame (the test above).
#[tokio::test]
async fn the_fields_for_the_recipients_client_are_passed_on_untouched() {
    let relay = Relay::default().await;
    let mut alice = relay.login("alice").await;
    let mut bob = relay.login("bob").await;
    let passed = json!({
        "priority": "high",
        "signature": "sig1.c2lnbmluZw.ZW5jcnlwdGlvbg.c2lnbmF0dXJl",
        "sealed": "AQI\u{e9} not even base64: the relay does not look",
    });
    let send = |id: &str, extra: Value| {
        let mut frame = json!({"type": "send", "to": "bob", "content": "", "id": id,
            "timestamp": "2026-01-01T12:00:00"});
        for (key, value) in passed
            .as_object()
            .unwrap()
            .iter()
            .chain(extra.as_object().unwrap())
        {
            frame[key] = value.clone();
        }
        frame
    };
    // The first takes the fast reader; a number in an unknown field sends the second to serde.
    alice.send(send("m-fast", json!({}))).await;
    alice.send(send("m-serde", json!({"n": 1}))).await;
    for id in ["m-fast", "m-serde"] {
        let message = bob.recv().await;
        assert_eq!(message["id"], id);
        for (key, value) in passed.as_object().unwrap() {
            assert_eq!(&message[key], value, "{key} of {id}");
        }
        alice.expect_ack("delivered").await;
    }
    // Queued for someone offline, and delivered at their login.
    alice
        .send(json!({"type": "send", "to": "carol", "id": "m-q", "sealed": "AQ"}))
        .await;
    alice.expect_ack("queued").await;
    let mut carol = relay.connect().await;
    let backlog = carol.auth_backlog("carol", true).await;
    assert_eq!(backlog.len(), 1, "{backlog:?}");
    assert_eq!(backlog[0]["sealed"], "AQ");
    assert!(backlog[0].get("signature").is_none(), "absent stays absent");
}

#[tokio::test]
async fn send_without_optional_fields_gets_the_v0_2_0_defaults() {
    let relay = Relay::default().await;
    let mut alice = relay.login("alice").await;
    let mut bob = relay.login("bob").await;
    alice.send(json!({"type": "send", "to": "bob"})).await;
    let message = bob.recv().await;
    assert_eq!(message["content"], "");
    // No id: the relay generates one and tells the sender in the ack.
    let id = message["id"].as_str().unwrap();
    assert!(id.starts_with("relay-") && id.len() == 30, "{id}");
    assert_eq!(alice.expect_ack("delivered").await["id"], id);
    assert_eq!(message["thread"], json!(null));
    assert_eq!(message["reply_to"], json!(null));
    // The relay's local time, YYYY-MM-DDTHH:MM:SS without a zone.
    let timestamp = message["timestamp"].as_str().unwrap();
    assert_eq!(timestamp.len(), 19, "{timestamp}");
    assert_eq!(&timestamp[10..11], "T");
    assert!(
        timestamp
            .chars()
            .enumerate()
            .all(|(i, c)| matches!(i, 4 | 7 | 10 | 13 | 16) || c.is_ascii_digit())
    );
}

#[tokio::test]
async fn send_without_a_recipient_says_so_instead_of_user_none() {
    let relay = Relay::default().await;
    let mut alice = relay.login("alice").await;
    alice.send(json!({"type": "send", "content": "hi"})).await;
    let error = alice.expect_error("recipient_required").await;
    assert!(!error["message"].as_str().unwrap().contains("None"));
}

#[tokio::test]
async fn sending_to_yourself_works_as_in_v0_2_0() {
    let relay = Relay::default().await;
    let mut alice = relay.login("alice").await;
    alice.send_message("alice", "note to self").await;
    let message = alice.recv().await;
    assert_eq!(message["from"], "alice");
    assert_eq!(message["content"], "note to self");
}

#[tokio::test]
async fn ping_is_answered_with_pong_before_and_after_auth() {
    let relay = Relay::default().await;
    let mut client = relay.connect().await;
    client.send(json!({"type": "ping"})).await;
    assert_eq!(client.recv().await, json!({"type": "pong"}));
    client.auth("alice").await;
    client.send(json!({"type": "ping"})).await;
    assert_eq!(client.recv().await, json!({"type": "pong"}));
}

#[tokio::test]
async fn status_change_reaches_watchers_as_presence() {
    let relay = Relay::default().await;
    let mut alice = relay.login("alice").await;
    let mut bob = relay.login("bob").await;
    bob.send(json!({"type": "watch", "users": ["alice"]})).await;
    assert_eq!(
        bob.recv().await,
        json!({"type": "presence", "username": "alice", "status": "online"})
    );
    alice
        .send(json!({"type": "status_change", "status": "busy"}))
        .await;
    assert_eq!(
        bob.recv().await,
        json!({"type": "presence", "username": "alice", "status": "busy"})
    );
    // v0.2.0: a missing status means online. Not sent back to the user it describes.
    alice.send(json!({"type": "status_change"})).await;
    assert_eq!(
        bob.recv().await,
        json!({"type": "presence", "username": "alice", "status": "online"})
    );
    alice.expect_nothing_pending().await;
}

#[tokio::test]
async fn invalid_statuses_are_refused() {
    let relay = Relay::default().await;
    let mut alice = relay.login("alice").await;
    for status in ["", "a\nb", &"x".repeat(65)] {
        alice
            .send(json!({"type": "status_change", "status": status}))
            .await;
        alice.expect_error("invalid_status").await;
    }
}

#[tokio::test]
async fn watch_gives_a_snapshot_then_online_and_offline_and_unwatch_stops_it() {
    let relay = Relay::default().await;
    let mut bob = relay.login("bob").await;
    bob.send(json!({"type": "watch", "users": ["alice", "carol"]}))
        .await;
    assert_eq!(
        bob.recv().await,
        json!({"type": "presence", "username": "alice", "status": "offline"})
    );
    assert_eq!(
        bob.recv().await,
        json!({"type": "presence", "username": "carol", "status": "offline"})
    );
    let alice = relay.login("alice").await;
    assert_eq!(
        bob.recv().await,
        json!({"type": "presence", "username": "alice", "status": "online"})
    );
    alice.close().await;
    assert_eq!(
        bob.recv().await,
        json!({"type": "presence", "username": "alice", "status": "offline"})
    );
    bob.send(json!({"type": "unwatch", "users": ["alice"]}))
        .await;
    let alice = relay.login("alice").await;
    bob.expect_nothing_pending().await;
    drop(alice);
}

#[tokio::test]
async fn broadcast_presence_is_the_v0_2_0_behaviour_as_an_option() {
    let relay = Relay::start(RelayConfig {
        presence: PresenceMode::Broadcast,
        ..config()
    })
    .await;
    let mut bob = relay.login("bob").await;
    let alice = relay.login("alice").await;
    assert_eq!(
        bob.recv().await,
        json!({"type": "presence", "username": "alice", "status": "online"})
    );
    alice.close().await;
    assert_eq!(
        bob.recv().await,
        json!({"type": "presence", "username": "alice", "status": "offline"})
    );
}

#[tokio::test]
async fn frames_that_need_a_login_are_refused_before_auth() {
    let relay = Relay::default().await;
    let mut client = relay.connect().await;
    for frame in [
        json!({"type": "send", "to": "bob", "content": "hi"}),
        json!({"type": "status_change", "status": "busy"}),
        json!({"type": "watch", "users": ["bob"]}),
        json!({"type": "unwatch", "users": ["bob"]}),
    ] {
        client.send(frame).await;
        client.expect_error("auth_required").await;
    }
}

#[tokio::test]
async fn garbage_is_answered_and_the_connection_survives() {
    let relay = Relay::default().await;
    let mut alice = relay.login("alice").await;
    alice.send_text("{not json").await;
    alice.expect_error("invalid_json").await;
    alice.send(json!({"type": "teleport"})).await;
    alice.expect_error("invalid_frame").await;
    alice.send(json!({"no_type": true})).await;
    alice.expect_error("invalid_frame").await;
    alice.send(json!({"type": "send", "to": 5})).await;
    alice.expect_error("invalid_frame").await;
    alice.send_binary(vec![1, 2, 3]).await;
    alice.expect_error("binary_not_supported").await;
    alice.expect_nothing_pending().await;
}

#[tokio::test]
async fn the_v0_2_0_shared_secret_login_works_when_the_operator_enables_it() {
    let relay = Relay::start(RelayConfig {
        allow_shared_secret: true,
        ..config()
    })
    .await;
    let mut alice = relay.connect().await;
    alice
        .send(json!({"type": "auth", "secret": crate::support::SECRET, "username": "alice"}))
        .await;
    assert_eq!(
        alice.recv().await,
        json!({"type": "auth_ok", "username": "alice"})
    );

    // The v0.2.0 refusals: the error texts, then the socket is closed.
    let mut wrong = relay.connect().await;
    wrong
        .send(json!({"type": "auth", "secret": "wrong", "username": "eve"}))
        .await;
    assert_eq!(
        wrong.expect_error("auth_failed").await["message"],
        "Invalid secret"
    );
    wrong.expect_close(1000).await;

    let mut nameless = relay.connect().await;
    nameless
        .send(json!({"type": "auth", "secret": crate::support::SECRET}))
        .await;
    assert_eq!(
        nameless.expect_error("username_required").await["message"],
        "Username required"
    );
    nameless.expect_close(1000).await;
}

#[tokio::test]
async fn auth_without_a_name_or_a_proof_or_with_a_bad_name_closes_the_socket() {
    let relay = Relay::default().await;
    let cases = [
        (
            json!({"type": "auth", "token": token("")}),
            "username_required",
        ),
        (json!({"type": "auth", "username": "alice"}), "auth_failed"),
        (
            json!({"type": "auth", "username": "a\u{7}b", "token": token("a\u{7}b")}),
            "invalid_username",
        ),
    ];
    for (frame, code) in cases {
        let mut client = relay.connect().await;
        client.send(frame).await;
        client.expect_error(code).await;
        client.expect_close(1000).await;
    }
    assert_eq!(relay.metric("msg_relay_auth_failures_total").await, 3);
}

#[tokio::test]
async fn several_sessions_per_user_when_allowed_all_receive_and_presence_waits_for_the_last() {
    let relay = Relay::start(RelayConfig {
        limits: Limits {
            max_sessions_per_user: 2,
            ..Limits::default()
        },
        ..config()
    })
    .await;
    let mut bob = relay.login("bob").await;
    bob.send(json!({"type": "watch", "users": ["alice"]})).await;
    bob.recv().await; // offline
    let mut laptop = relay.login("alice").await;
    assert_eq!(bob.recv().await["status"], "online");
    let mut phone = relay.login("alice").await;
    bob.send_message("alice", "to both").await;
    assert_eq!(laptop.recv().await["content"], "to both");
    assert_eq!(phone.recv().await["content"], "to both");
    bob.expect_ack("delivered").await;
    laptop.close().await;
    bob.expect_nothing_pending().await; // still online through the phone
    phone.close().await;
    assert_eq!(bob.recv().await["status"], "offline");
}

/// A client may send its first frames right behind the upgrade request, in the same packet,
/// before it has seen the 101: the relay must not lose them (they arrive in hyper's buffer).
#[tokio::test]
async fn frames_pipelined_behind_the_upgrade_request_are_read() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let relay = Relay::default().await;
    let auth = json!({"type": "auth", "username": "alice", "token": token("alice")}).to_string();
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    let mut request = b"GET /ws HTTP/1.1\r\nHost: relay\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n"
        .to_vec();
    // One masked text frame with a 16-bit length (the auth is over 125 bytes).
    request.extend_from_slice(&[0x81, 0x80 | 126]);
    request.extend_from_slice(&(auth.len() as u16).to_be_bytes());
    request.extend_from_slice(&mask);
    request.extend(auth.bytes().enumerate().map(|(i, byte)| byte ^ mask[i % 4]));
    let mut stream = tokio::net::TcpStream::connect(relay.addr).await.unwrap();
    stream.write_all(&request).await.unwrap();
    let expected = r#"{"type":"auth_ok","username":"alice"}"#;
    let mut received = Vec::new();
    let read = async {
        while !String::from_utf8_lossy(&received).contains(expected) {
            let mut chunk = [0u8; 1024];
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed: {}", String::from_utf8_lossy(&received));
            received.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(crate::support::GUARD, read)
        .await
        .expect("auth_ok within the guard");
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    assert!(text.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), "{text}");
}
