//! Setup: what makes a machine ready and keeps it healthy.
//!
//! - [`init`]: the settings file and the space from the templates (`msg init`);
//! - [`claude_settings`]: `inbox-watcher` registered in Claude Code's settings (`msg hooks
//!   install`);
//! - [`doctor`]: every messaging file checked, and the safe fixes (`msg doctor [--fix]`),
//!   with [`settings_keys`] (keys of the settings this module does not know: typos) and
//!   [`integration`] (Claude Code's hook, the relay, the outbox);
//! - [`migrate`]: the v0.1.0 layout into today's files (`msg migrate`);
//! - [`demo`]: the whole flow on one machine (`msg demo`).

pub(crate) mod claude_settings;
pub(crate) mod demo;
pub(crate) mod doctor;
pub(crate) mod init;
pub(crate) mod integration;
pub(crate) mod migrate;
pub(crate) mod settings_keys;
