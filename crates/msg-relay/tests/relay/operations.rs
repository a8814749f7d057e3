//! HTTP endpoints, reconnects and graceful shutdown.

use serde_json::json;

use crate::support::Relay;

#[tokio::test]
async fn status_is_the_v0_2_0_shape_and_counts_names_without_listing_them() {
    let relay = Relay::default().await;
    assert_eq!(
        relay.status().await,
        json!({"status": "ok", "connected": 0})
    );
    let _alice = relay.login("alice").await;
    let _bob = relay.login("bob").await;
    let _lurker = relay.connect().await; // not logged in: not counted
    let status = relay.status().await;
    assert_eq!(status, json!({"status": "ok", "connected": 2}));
    let (_, body) = relay.get("/status").await;
    assert!(!body.contains("alice") && !body.contains("users"));
}

#[tokio::test]
async fn healthz_answers_ok() {
    let relay = Relay::default().await;
    assert_eq!(relay.get("/healthz").await, (200, "ok\n".to_owned()));
}

#[tokio::test]
async fn other_paths_are_not_found_and_ws_needs_an_upgrade() {
    let relay = Relay::default().await;
    assert_eq!(relay.get("/").await.0, 404);
    assert_eq!(relay.get("/users").await.0, 404);
    assert_eq!(relay.get("/ws").await.0, 400);
}

#[tokio::test]
async fn metrics_count_connections_frames_routing_refusals_and_auth_failures() {
    let relay = Relay::default().await;
    let mut alice = relay.login("alice").await;
    let mut bob = relay.login("bob").await;
    alice.send_message("bob", "one").await;
    bob.recv().await;
    alice.expect_ack("delivered").await;
    alice.send_message("nobody", "two").await;
    alice.expect_ack("queued").await;
    alice.send_message("nobody", "").await;
    alice
        .send(json!({"type": "send", "to": "nobody", "id": "again"}))
        .await;
    alice.expect_ack("queued").await;
    alice.expect_ack("queued").await;
    alice
        .send(json!({"type": "send", "to": "nobody", "id": "again"}))
        .await;
    assert_eq!(alice.recv().await["duplicate"], true);
    let mut eve = relay.connect().await;
    eve.send(json!({"type": "auth", "username": "bob", "token": "00"}))
        .await;
    eve.expect_error("auth_failed").await;
    eve.expect_close(1000).await;
    relay.wait_for_metric("msg_relay_connections", 2).await;

    let text = relay.metrics().await;
    for (sample, value) in [
        ("msg_relay_connections", 2),
        ("msg_relay_users_online", 2),
        ("msg_relay_connections_total", 3),
        // alice: auth, 5 × send; bob: auth; eve: auth.
        ("msg_relay_frames_in_total", 8),
        // auth_ok and synced ×2, the message, 5 acks, eve's error.
        ("msg_relay_frames_out_total", 11),
        ("msg_relay_messages_routed_total", 1),
        ("msg_relay_messages_queued_total", 3),
        ("msg_relay_messages_duplicate_total", 1),
        ("msg_relay_queue_messages", 3),
        ("msg_relay_auth_failures_total", 1),
        ("msg_relay_rejected_total{reason=\"not_online\"}", 0),
        ("msg_relay_rejected_total{reason=\"auth_failed\"}", 1),
        ("msg_relay_rejected_total{reason=\"rate_limited\"}", 0),
    ] {
        assert!(
            text.lines().any(|line| line == format!("{sample} {value}")),
            "{sample} {value} missing from\n{text}"
        );
    }
    assert!(text.contains("# TYPE msg_relay_frames_in_total counter"));
    assert!(text.contains("# TYPE msg_relay_connections gauge"));
    assert!(!text.contains("alice"), "metrics must not name users");
}

#[tokio::test]
async fn a_user_who_reconnects_is_reachable_again_and_watchers_see_both_changes() {
    let relay = Relay::default().await;
    let mut bob = relay.login("bob").await;
    bob.send(json!({"type": "watch", "users": ["alice"]})).await;
    assert_eq!(bob.recv().await["status"], "offline");
    let alice = relay.login("alice").await;
    assert_eq!(bob.recv().await["status"], "online");
    alice.close().await;
    assert_eq!(bob.recv().await["status"], "offline");
    bob.send_message("alice", "missed").await;
    bob.expect_ack("queued").await;

    // The message waited for her.
    let mut alice = relay.connect().await;
    let backlog = alice.auth_backlog("alice", false).await;
    assert_eq!(backlog.len(), 1);
    assert_eq!(backlog[0]["content"], "missed");
    assert_eq!(backlog[0]["from"], "bob");
    assert_eq!(bob.recv().await["status"], "online");
    bob.send_message("alice", "welcome back").await;
    assert_eq!(alice.recv().await["content"], "welcome back");
}

#[tokio::test]
async fn shutdown_closes_every_socket_with_1001_and_loses_no_routed_message() {
    let relay = Relay::default().await;
    let mut alice = relay.login("alice").await;
    let mut bob = relay.login("bob").await;
    let mut lurker = relay.connect().await;
    alice.send_message("bob", "last words").await;
    // The ack comes after her message was routed to bob's queue.
    alice.expect_ack("delivered").await;
    alice.expect_nothing_pending().await;
    relay.shutdown().await;
    assert_eq!(bob.recv().await["content"], "last words");
    bob.expect_close(1001).await;
    alice.expect_close(1001).await;
    lurker.expect_close(1001).await;
}

#[tokio::test]
async fn run_refuses_limits_that_cannot_work_before_serving() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = msg_relay::RelayConfig {
        limits: msg_relay::Limits {
            heartbeat_interval: std::time::Duration::from_secs(120),
            ..msg_relay::Limits::default()
        },
        ..crate::support::config()
    };
    let run = msg_relay::run(listener, config, std::future::pending());
    let result = tokio::time::timeout(crate::support::GUARD, run)
        .await
        .expect("run returns at once");
    assert!(matches!(
        result,
        Err(msg_relay::LimitsError::IdleNotAboveHeartbeat { .. })
    ));
}
