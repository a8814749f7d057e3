//! `msg-core`: the types, validation, configuration and org file engine that every crate of
//! datacore-messaging shares.
//!
//! (Crate documentation is completed once the engine lands.)

pub mod config;
pub mod id;
pub mod org;
pub mod paths;
pub mod timestamp;
pub mod validate;
