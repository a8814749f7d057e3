//! `msg relay connect`: the relay client in the foreground, or once (`--once`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use argh::{ArgsInfo, FromArgs};

use crate::cli;
use crate::context::Context;
use crate::relay_client::{self, ConnectOptions};

#[derive(FromArgs, ArgsInfo, Debug)]
/// The connection to the relay.
#[argh(subcommand, name = "relay", help_triggers("-h", "--help"))]
pub(super) struct Relay {
    #[argh(subcommand)]
    command: RelayCommand,
}

#[derive(FromArgs, ArgsInfo, Debug)]
#[argh(subcommand)]
enum RelayCommand {
    Connect(Connect),
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Connect to the relay (messaging.relay.url) as you and as each agent with a token
/// (messaging.relay.token, messaging.relay.agent_tokens): receive messages into inbox.org,
/// acknowledged once on disk; turn messages to an agent into its tasks; send what outbox.org
/// holds pending and record each delivery. Runs until Ctrl-C, reconnecting with backoff.
#[argh(subcommand, name = "connect", help_triggers("-h", "--help"))]
struct Connect {
    /// receive what is waiting, send what is pending, wait for the acks, and exit
    #[argh(switch)]
    once: bool,
    /// with --once: seconds to wait for the backlog and then for the acks (default 10)
    #[argh(option, default = "10")]
    timeout: u64,
}

/// Prints one line at once (the relay client's narrative); a closed pipe is ignored.
fn say(line: &str) {
    let _ = cli::print_stdout(&format!("{line}\n"));
}

impl Relay {
    pub(super) fn run(self, ctx: Context) -> anyhow::Result<()> {
        let RelayCommand::Connect(connect) = self.command;
        let options = ConnectOptions {
            once: connect.once,
            timeout: Duration::from_secs(connect.timeout.max(1)),
            ..ConnectOptions::default()
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let summary = runtime.block_on(async move {
            let (stop, shutdown) = tokio::sync::watch::channel(false);
            // In the foreground, Ctrl-C closes the connections cleanly; a `--once` run keeps
            // the default (the process ends at once, which loses nothing: every write is
            // atomic and a message not yet acknowledged is delivered again).
            if !options.once {
                tokio::spawn(async move {
                    if tokio::signal::ctrl_c().await.is_ok() {
                        say("[relay] stopping (Ctrl-C)");
                        let _ = stop.send(true);
                    }
                });
            }
            relay_client::connect(ctx, options, Arc::new(say), shutdown).await
        })?;
        say(&format!("[relay] done: {summary}"));
        Ok(())
    }
}
