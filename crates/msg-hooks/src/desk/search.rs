//! `msg search TEXT`: every message and task of the space whose sender, recipient, title,
//! body or property values contain TEXT (ignoring the case of ASCII letters): in
//! `inbox.org`, `outbox.org`, the archive files and every agent's task file.
//!
//! Built for files of 100,000 entries (docs/PERFORMANCE.md): each file is read once, a
//! lowercase copy is searched with `memmem` (SIMD), and only an entry the bytes hit is
//! scanned (msg-core's [`Outline`] finds the entry of a hit by binary search over its
//! headings) and checked field by field, so that a hit in a property's name (`:FROM:`) or
//! in drawer syntax does not count. Reading takes each file's shared lock, as every reader
//! does, so a search never sees half of an append.

use std::path::{Path, PathBuf};

use memchr::memmem;
use msg_core::durable::{DEFAULT_LOCK_TIMEOUT, FileLock};
use msg_core::org::{EntryRef, Outline, TodoKeywords};

use crate::context::Context;
use crate::error::HooksError;

/// Which kind of file a hit is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    /// `inbox.org`: received.
    Inbox,
    /// `outbox.org`: sent.
    Outbox,
    /// `archive/*.org`.
    Archive,
    /// `agents/<agent>.org`: that agent's tasks.
    Tasks(String),
}

impl Place {
    /// `inbox`, `outbox`, `archive`, `tasks:<agent>`.
    pub(crate) fn name(&self) -> String {
        match self {
            Place::Inbox => "inbox".into(),
            Place::Outbox => "outbox".into(),
            Place::Archive => "archive".into(),
            Place::Tasks(agent) => format!("tasks:{agent}"),
        }
    }
}

/// One entry that matches.
#[derive(Debug, Clone)]
pub(crate) struct Hit {
    /// Where it is.
    pub(crate) place: Place,
    /// The file.
    pub(crate) path: PathBuf,
    /// Its heading's line.
    pub(crate) line: usize,
    /// Its ID (`None` for an entry a person wrote without one).
    pub(crate) id: Option<String>,
    /// Its keyword.
    pub(crate) keyword: Option<String>,
    /// `FROM`.
    pub(crate) from: Option<String>,
    /// `TO`.
    pub(crate) to: Option<String>,
    /// The heading's title.
    pub(crate) title: String,
    /// The field that matched first: `title`, `body` or a property's name.
    pub(crate) field: String,
    /// The matching line of that field.
    pub(crate) snippet: String,
}

/// What a search found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Found {
    /// The first `limit` hits, file by file (inbox, outbox, archives, task files), each
    /// file in order.
    pub(crate) hits: Vec<Hit>,
    /// Every matching entry, including those past the limit.
    pub(crate) total: usize,
    /// The files searched.
    pub(crate) files: usize,
}

/// The files of the space to search, in the order their hits are listed.
fn files(ctx: &Context) -> Result<Vec<(Place, PathBuf)>, HooksError> {
    let dir = ctx.paths().messaging_dir(ctx.space())?;
    let mut files = vec![
        (Place::Inbox, dir.join("inbox.org")),
        (Place::Outbox, dir.join("outbox.org")),
    ];
    let listed = |sub: &str| -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir.join(sub))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|e| e == "org"))
                    .collect()
            })
            .unwrap_or_default();
        found.sort();
        found
    };
    files.extend(listed("archive").into_iter().map(|p| (Place::Archive, p)));
    for path in listed("agents") {
        let agent = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.push((Place::Tasks(agent), path));
    }
    Ok(files.into_iter().filter(|(_, p)| p.is_file()).collect())
}

/// Searches the space of `ctx` for `text`; at most `limit` hits are kept (all are counted).
pub(crate) fn search(ctx: &Context, text: &str, limit: usize) -> Result<Found, HooksError> {
    let needle = text.trim().to_ascii_lowercase();
    if needle.is_empty() {
        return Err(msg_core::validate::ValidationError::Empty {
            field: "the search text".into(),
        }
        .into());
    }
    let finder = memmem::Finder::new(needle.as_bytes());
    let states = TodoKeywords::parse(msg_store::STATES);
    let mut found = Found::default();
    for (place, path) in files(ctx)? {
        found.files += 1;
        search_file(&place, &path, &finder, &needle, &states, limit, &mut found)?;
    }
    Ok(found)
}

fn search_file(
    place: &Place,
    path: &Path,
    finder: &memmem::Finder<'_>,
    needle: &str,
    states: &TodoKeywords,
    limit: usize,
    found: &mut Found,
) -> Result<(), HooksError> {
    let bytes = {
        let _shared = FileLock::shared(path, DEFAULT_LOCK_TIMEOUT)?;
        std::fs::read(path).map_err(HooksError::io("read", path))?
    };
    let lower = bytes.to_ascii_lowercase();
    let outline = Outline::parse(bytes, states);
    let mut from = 0;
    while let Some(at) = finder.find(&lower[from..]).map(|p| from + p) {
        let Some(index) = outline.entry_at(at) else {
            // Before the first heading: not an entry.
            from = at + 1;
            continue;
        };
        if in_drawer_syntax(&lower, at, needle.len()) {
            // `:FROM:`, `:END:`: not a value. The entry may still hold the text elsewhere.
            from = at + 1;
            continue;
        }
        // The next search starts after this entry: each entry counts once.
        from = outline.section_end(index);
        let entry = outline.entry(index);
        let entry = entry.get();
        let Some((field, snippet)) = matching_field(&entry, needle) else {
            continue;
        };
        found.total += 1;
        if found.hits.len() < limit {
            found.hits.push(Hit {
                place: place.clone(),
                path: path.to_owned(),
                line: entry.line(),
                id: entry.id().map(|id| id.into_owned()),
                keyword: entry.keyword().map(|k| k.into_owned()),
                from: entry.property("FROM").map(|v| v.into_owned()),
                to: entry.property("TO").map(|v| v.into_owned()),
                title: entry.title().into_owned(),
                field,
                snippet,
            });
        }
    }
    Ok(())
}

/// Whether the `len` bytes at `at` lie in drawer syntax: a line's `:KEY:` (or `:END:`),
/// which every entry has (searching `from` must not scan every entry to reject it).
fn in_drawer_syntax(bytes: &[u8], at: usize, len: usize) -> bool {
    let line_start = memchr::memrchr(b'\n', &bytes[..at]).map_or(0, |nl| nl + 1);
    let Some(colon) = bytes[line_start..at]
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .map(|p| line_start + p)
        .filter(|&p| bytes[p] == b':')
    else {
        return false;
    };
    match memchr::memchr(b':', &bytes[colon + 1..]) {
        Some(p) => at + len <= colon + 1 + p + 1,
        None => false,
    }
}

/// The first field of `entry` whose text contains `needle` (lowercase), with the line that
/// does: the title, each property's value, then the body.
fn matching_field(entry: &EntryRef<'_>, needle: &str) -> Option<(String, String)> {
    let line_with = |text: &str| {
        text.lines()
            .find(|line| line.to_ascii_lowercase().contains(needle))
            .map(|line| line.trim().to_owned())
    };
    if let Some(line) = line_with(&entry.title()) {
        return Some(("title".into(), line));
    }
    for (key, value) in entry.properties() {
        if let Some(line) = line_with(&value) {
            return Some((key.into_owned(), line));
        }
    }
    line_with(&entry.body_text()).map(|line| ("body".into(), line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use msg_core::config::Settings;
    use msg_core::paths::Paths;

    #[test]
    fn finds_values_not_property_names_and_counts_each_entry_once() {
        let dir = assert_fs::TempDir::new().unwrap();
        let settings =
            Settings::from_yaml_str("identity: {name: bob}\n", std::path::Path::new("s.yaml"))
                .unwrap();
        let ctx = Context::new(Paths::new(dir.path()), settings, None).unwrap();
        let store = ctx.store().unwrap();
        store
            .create_message(&msg_store::NewMessage::new(
                "alice",
                "bob",
                "The Release is Friday.\nrelease notes follow",
            ))
            .unwrap();
        store
            .create_message(&msg_store::NewMessage::new("fromage", "bob", "cheese"))
            .unwrap();
        let found = search(&ctx, "RELEASE", 10).unwrap();
        assert_eq!(found.total, 1);
        // The heading carries the first line ("[ts] alice: The Release is Friday."), so the
        // title is the first field that holds it.
        assert_eq!(found.hits[0].field, "title");
        assert!(
            found.hits[0]
                .snippet
                .ends_with("alice: The Release is Friday.")
        );
        // `from` is in every `:FROM:` line, but only one entry's text holds it.
        let found = search(&ctx, "from", 10).unwrap();
        assert_eq!(found.total, 1, "{:?}", found.hits);
        assert!(found.hits[0].snippet.contains("fromage: cheese"));
        // A property's value is searched: `:TO: bob` names the field.
        let found = search(&ctx, "bob", 10).unwrap();
        assert_eq!((found.total, found.hits[0].field.as_str()), (2, "TO"));
        let found = search(&ctx, "e", 1).unwrap();
        assert_eq!((found.total, found.hits.len()), (2, 1));
        assert!(search(&ctx, "  ", 1).is_err());
        assert!(in_drawer_syntax(b"x\n  :from: a\n", 5, 4));
        assert!(!in_drawer_syntax(b"x\n  :from: alice\n", 11, 5));
        assert!(!in_drawer_syntax(b"x\n  from: alice\n", 4, 4));
    }
}
