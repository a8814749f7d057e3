//! `msg`: the person's command. Exit 0 ok, 1 failure (one line on stderr), 2 usage.

mod args;
mod commands;
mod demo;

use std::process::ExitCode;

use msg_hooks::cli;

use crate::args::Cli;

fn main() -> ExitCode {
    let cli = match parse() {
        Ok(cli) => cli,
        Err(early) => return early.finish(2),
    };
    cli::exit_with("msg", commands::run(cli))
}

/// `--root` and `--space` may come anywhere: they are taken out first, then argh parses the
/// rest.
fn parse() -> Result<Cli, cli::EarlyOut> {
    let mut args = cli::args()?;
    let root = cli::take_option("msg", &mut args, "root")?;
    let space = cli::take_option("msg", &mut args, "space")?;
    let mut cli: Cli = cli::parse("msg", &args)?;
    cli.root = root.map(Into::into);
    cli.space = space;
    Ok(cli)
}
