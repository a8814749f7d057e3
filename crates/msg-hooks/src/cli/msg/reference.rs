//! `msg completions bash|zsh|fish` and `msg man`: shell completions and man pages for every
//! program, generated from the same argh definitions the programs parse with.

use std::path::PathBuf;

use anyhow::Context as _;
use argh::{ArgsInfo, FromArgs};

use crate::cli::{self, completions, man, print};

#[derive(FromArgs, ArgsInfo, Debug)]
/// Print shell completions for msg, inbox-watcher, send-reply, mark-message and task-queue.
/// bash: `source <(msg completions bash)` in ~/.bashrc; zsh: `source <(msg completions zsh)`
/// after compinit; fish: `msg completions fish | source` in config.fish.
#[argh(subcommand, name = "completions", help_triggers("-h", "--help"))]
pub(super) struct Completions {
    /// the shell: bash, zsh or fish
    #[argh(positional)]
    shell: String,
}

impl Completions {
    pub(super) fn run(self) -> anyhow::Result<()> {
        let programs = cli::programs();
        let script = match self.shell.as_str() {
            "bash" => completions::bash(&programs),
            "zsh" => completions::zsh(&programs),
            "fish" => completions::fish(&programs),
            other => {
                return Err(cli::usage(format!(
                    "no completions for {other:?}: use bash, zsh or fish"
                )));
            }
        };
        print(&script)
    }
}

#[derive(FromArgs, ArgsInfo, Debug)]
/// Print the man page of a program (roff; `msg man | man -l -`), or write every program's
/// page into a directory (`msg man --dir ~/.local/share/man/man1`).
#[argh(subcommand, name = "man", help_triggers("-h", "--help"))]
pub(super) struct Man {
    /// msg (default), inbox-watcher, send-reply, mark-message or task-queue
    #[argh(positional)]
    program: Option<String>,
    /// write PROGRAM.1 for every program into this directory instead
    #[argh(option)]
    dir: Option<PathBuf>,
}

impl Man {
    pub(super) fn run(self) -> anyhow::Result<()> {
        let programs = cli::programs();
        if let Some(dir) = &self.dir {
            if self.program.is_some() {
                return Err(cli::usage("give a program or --dir, not both"));
            }
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            let mut out = String::new();
            for program in &programs {
                let path = dir.join(format!("{}.1", program.name));
                std::fs::write(&path, man::page(program))
                    .with_context(|| format!("cannot write {}", path.display()))?;
                out.push_str(&format!("wrote {}\n", path.display()));
            }
            return print(&out);
        }
        let name = self.program.as_deref().unwrap_or("msg");
        let Some(program) = programs.iter().find(|p| p.name == name) else {
            let names: Vec<&str> = programs.iter().map(|p| p.name).collect();
            return Err(cli::usage(format!(
                "no man page for {name:?}: use {}",
                names.join(", ")
            )));
        };
        print(&man::page(program))
    }
}
