//! `msg search TEXT`: messages and tasks holding a text, across the space's files.

use argh::{ArgsInfo, FromArgs};
use serde_json::json;

use crate::cli::{print, render};
use crate::context::Context;
use crate::desk::search::search;

#[derive(FromArgs, ArgsInfo, Debug)]
/// Find the messages and tasks whose sender, recipient, title, body or other property
/// values contain TEXT (ASCII letters in any case): received (inbox.org), sent (outbox.org),
/// archived (archive/*.org) and every agent's tasks (agents/*.org).
#[argh(subcommand, name = "search", help_triggers("-h", "--help"))]
pub(super) struct Search {
    /// the text to look for
    #[argh(positional)]
    text: String,
    /// show at most this many (default 50); all are counted
    #[argh(option, default = "50")]
    limit: usize,
    /// print JSON
    #[argh(switch)]
    json: bool,
}

impl Search {
    pub(super) fn run(self, ctx: &Context) -> anyhow::Result<()> {
        let found = search(ctx, &self.text, self.limit)?;
        if self.json {
            let hits: Vec<serde_json::Value> = found
                .hits
                .iter()
                .map(|hit| {
                    json!({
                        "place": hit.place.name(),
                        "file": hit.path.display().to_string(),
                        "line": hit.line,
                        "id": hit.id,
                        "keyword": hit.keyword,
                        "from": hit.from,
                        "to": hit.to,
                        "title": hit.title,
                        "field": hit.field,
                        "snippet": hit.snippet,
                    })
                })
                .collect();
            return print(&crate::cli::json::to_text(&json!({
                "total": found.total,
                "files": found.files,
                "hits": hits,
            })));
        }
        print(&render::search_results(&found))
    }
}
