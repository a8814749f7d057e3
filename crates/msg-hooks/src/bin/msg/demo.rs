//! `msg demo`: see `msg_hooks::demo`.

use std::path::Path;

use anyhow::Context as _;

pub(crate) fn run(root: Option<&Path>) -> anyhow::Result<()> {
    let exe = std::env::current_exe().context("cannot find this program's path")?;
    msg_hooks::demo::run(&exe, root, &mut |text: &str| {
        let _ = msg_hooks::cli::print_stdout(text);
    })?;
    Ok(())
}
