//! Where the state lives that a relay shares between its connections: one interface inside
//! msg-relay, two engines chosen at start (DESIGN.md §11).
//!
//! - **single node** (the default, no dependency): the registry and its queues in this
//!   process (`registry.rs`, `queue.rs`), made durable by the spool (`spool.rs`) when given
//!   one;
//! - **Redis** (`serve --redis URL`, [`redis`]): several nodes behind a load balancer share
//!   the queues, dedupe, sessions, presence, rate limits, quotas and token generations in one
//!   Redis; each node keeps only its own connections.
//!
//! What a connection asks of either engine: log a user in (take over its sessions, write
//! its backlog, then go live), log it out, accept a `send` (dedupe, bounds, quotas, route or
//! queue, answered only once the message is stored), take an `ack`, set a status, watch and
//! unwatch users; what the relay asks besides: expire old messages, count users and queued
//! bytes. Both engines promise the same things to clients (docs/relay.md); where Redis is
//! down the Redis engine refuses with a retryable error instead of acknowledging.

pub(crate) mod redis;
