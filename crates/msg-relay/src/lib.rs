//! `msg-relay` will hold the WebSocket relay server (warp + tokio): the v0.2.0 wire protocol,
//! per-user tokens, presence by watch, store-and-forward delivery with acknowledgements
//! (DESIGN.md §7).
//!
//! **Status: not implemented yet.** This crate is a placeholder in the workspace so that the
//! layering of the design card exists from the start; it exports nothing.
//!
//! Architecture invariant: depends on `msg-core` only; it is the only crate that knows warp
//! and the wire JSON.
