//! Integration tests for msg-relay: the real relay on `127.0.0.1:0` with a real WebSocket
//! client (tokio-tungstenite), and the real `msg-relay` binary.

mod binary;
mod cluster;
mod defects;
mod hostile;
mod limits;
mod operations;
mod protocol;
mod store_forward;
mod support;
