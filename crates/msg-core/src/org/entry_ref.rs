//! Reading one entry: [`EntryRef`], an entry together with the bytes of its file.
//!
//! Everything is read as Emacs (Org 9.5) reads it: the keyword, priority, title and tags of
//! the heading, the `CLOSED` time of the planning line, and the properties of a valid drawer
//! the way `org-entry-properties` returns them (keys upper-cased, `:KEY+:` lines extending
//! `KEY`, a repeated key ignored, Org's special properties left out).

use std::borrow::Cow;

use super::ranges::{Entry, Span};

/// Org's special properties that Emacs ignores in a property drawer (`org-special-properties`
/// without `PRIORITY`, which we read: see [`EntryRef::property`]).
const SPECIAL: [&[u8]; 13] = [
    b"ALLTAGS",
    b"BLOCKED",
    b"CLOCKSUM",
    b"CLOCKSUM_T",
    b"CLOSED",
    b"DEADLINE",
    b"FILE",
    b"ITEM",
    b"SCHEDULED",
    b"TAGS",
    b"TIMESTAMP",
    b"TIMESTAMP_IA",
    b"TODO",
];

fn is_special(key: &[u8]) -> bool {
    SPECIAL.iter().any(|s| s.eq_ignore_ascii_case(key))
}

/// An entry together with the document it belongs to: the reading API.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    bytes: &'a [u8],
    index: usize,
    entry: &'a Entry,
}

impl<'a> EntryRef<'a> {
    /// An entry of a file read as `bytes` (for readers other than [`Document`]).
    pub(crate) fn new(bytes: &'a [u8], index: usize, entry: &'a Entry) -> EntryRef<'a> {
        EntryRef {
            bytes,
            index,
            entry,
        }
    }

    /// The byte ranges.
    pub fn ranges(&self) -> &'a Entry {
        self.entry
    }

    /// Its position in [`Document::entries`].
    pub fn index(&self) -> usize {
        self.index
    }

    /// The 1-based line number of the heading.
    pub fn line(&self) -> usize {
        self.entry.line
    }

    /// The number of stars.
    pub fn level(&self) -> usize {
        self.entry.level
    }

    fn text(&self, span: Span) -> Cow<'a, str> {
        String::from_utf8_lossy(&self.bytes[span.range()])
    }

    /// The TODO keyword, if any.
    pub fn keyword(&self) -> Option<Cow<'a, str>> {
        self.entry.keyword.map(|s| self.text(s))
    }

    /// When the heading has no keyword, the first word of its title if it looks like one
    /// (two or more capital letters, digits, `_` or `-`, a letter first): a keyword the file
    /// does not declare or a mistyped one (`QUEUD`), which Emacs reads as part of the title.
    /// For reports such as `msg doctor`'s.
    pub fn keyword_like(&self) -> Option<Cow<'a, str>> {
        if self.entry.keyword.is_some() {
            return None;
        }
        let title = &self.bytes[self.entry.title.range()];
        let word = title
            .split(|b| b.is_ascii_whitespace())
            .next()
            .filter(|w| {
                w.len() >= 2
                    && w[0].is_ascii_uppercase()
                    && w.iter().all(|&b| {
                        b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-')
                    })
            })?;
        Some(String::from_utf8_lossy(word))
    }

    /// The priority letter of the `[#A]` cookie, if any.
    pub fn priority(&self) -> Option<char> {
        let span = self.entry.priority?;
        self.text(Span::new(span.start + 2, span.end - 1))
            .chars()
            .next()
    }

    /// The title, trimmed.
    pub fn title(&self) -> Cow<'a, str> {
        self.text(self.entry.title)
    }

    /// The entry's own tags, in file order (empty tags in `::` are skipped).
    pub fn tags(&self) -> Vec<Cow<'a, str>> {
        let Some(span) = self.entry.tags else {
            return Vec::new();
        };
        self.bytes[span.range()]
            .split(|&b| b == b':')
            .filter(|t| !t.is_empty())
            .map(String::from_utf8_lossy)
            .collect()
    }

    /// Whether the entry has `tag` (case-sensitive, as in Org).
    pub fn has_tag(&self, tag: &str) -> bool {
        // Compared as bytes, without building the tag list: queries call this per entry.
        !tag.is_empty()
            && self.entry.tags.is_some_and(|span| {
                self.bytes[span.range()]
                    .split(|&b| b == b':')
                    .any(|t| t == tag.as_bytes())
            })
    }

    /// The value of property `key` as Emacs's `org-entry-get` reads it: keys compare
    /// case-insensitively; the first `:KEY:` line gives the value (a repeated key is ignored)
    /// and every `:KEY+:` line adds a space and its value. Org's special properties (`TODO`,
    /// `TAGS`, `ITEM`, …), which Emacs ignores in a drawer, have none; `PRIORITY` is read
    /// anyway (the Python original wrote it there, see DESIGN.md §3).
    pub fn property(&self, key: &str) -> Option<Cow<'a, str>> {
        if is_special(key.as_bytes()) {
            return None;
        }
        let mut base = None;
        let mut extensions = Vec::new();
        for p in &self.entry.properties {
            let k = &self.bytes[p.key.range()];
            if k.eq_ignore_ascii_case(key.as_bytes()) {
                base = base.or(Some(p.value));
            } else if k
                .strip_suffix(b"+")
                .is_some_and(|k| k.eq_ignore_ascii_case(key.as_bytes()))
            {
                extensions.push(p.value);
            }
        }
        if extensions.is_empty() {
            return base.map(|value| self.text(value));
        }
        let parts: Vec<Cow<'a, str>> = base
            .into_iter()
            .chain(extensions)
            .map(|value| self.text(value))
            .collect();
        Some(Cow::Owned(parts.join(" ")))
    }

    /// Every property as Emacs's `org-entry-properties` returns it: keys upper-cased, in the
    /// order of their first line, each with its value as [`EntryRef::property`] reads it.
    pub fn properties(&self) -> impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> + 'a {
        let bytes = self.bytes;
        let mut keys: Vec<&'a [u8]> = Vec::with_capacity(self.entry.properties.len());
        for p in &self.entry.properties {
            let k = &bytes[p.key.range()];
            let k = k.strip_suffix(b"+").filter(|k| !k.is_empty()).unwrap_or(k);
            if !is_special(k) && !keys.iter().any(|seen| seen.eq_ignore_ascii_case(k)) {
                keys.push(k);
            }
        }
        let entry = *self;
        keys.into_iter().filter_map(move |k| {
            let key = String::from_utf8_lossy(k);
            let value = entry.property(&key)?;
            let upper = if key.bytes().any(|b| b.is_ascii_lowercase()) || !key.is_ascii() {
                Cow::Owned(key.to_uppercase())
            } else {
                key
            };
            Some((upper, value))
        })
    }

    /// The `:ID:` property, if present and non-empty. An entry whose ID is extended by an
    /// `:ID+:` line has none for us (our IDs never hold a space).
    pub fn id(&self) -> Option<Cow<'a, str>> {
        self.id_bytes()?;
        self.property("ID").filter(|id| !id.is_empty())
    }

    /// The `:ID:` value's bytes (the first ID line, when no `:ID+:` line extends it), without
    /// decoding: lookups by ID run over every entry.
    pub(crate) fn id_bytes(&self) -> Option<&'a [u8]> {
        let bytes = self.bytes;
        let mut base = None;
        for p in &self.entry.properties {
            let k = &bytes[p.key.range()];
            if k.eq_ignore_ascii_case(b"ID") {
                base = base.or(Some(&bytes[p.value.range()]));
            } else if k.eq_ignore_ascii_case(b"ID+") {
                return None;
            }
        }
        base
    }

    /// The `CLOSED:` timestamp text, e.g. `[2026-11-24 Tue 10:02]`.
    pub fn closed(&self) -> Option<Cow<'a, str>> {
        self.planning_timestamp(self.entry.planning.as_ref()?.closed?)
    }

    /// The `SCHEDULED:` timestamp text.
    pub fn scheduled(&self) -> Option<Cow<'a, str>> {
        self.planning_timestamp(self.entry.planning.as_ref()?.scheduled?)
    }

    /// The `DEADLINE:` timestamp text.
    pub fn deadline(&self) -> Option<Cow<'a, str>> {
        self.planning_timestamp(self.entry.planning.as_ref()?.deadline?)
    }

    fn planning_timestamp(&self, span: Span) -> Option<Cow<'a, str>> {
        let text = self.text(span);
        let start = text.find(['[', '<'])?;
        Some(match text {
            Cow::Borrowed(t) => Cow::Borrowed(&t[start..]),
            Cow::Owned(t) => Cow::Owned(t[start..].to_owned()),
        })
    }

    /// The LOGBOOK lines (between `:LOGBOOK:` and `:END:`), raw.
    pub fn logbook(&self) -> Option<Cow<'a, str>> {
        self.entry.logbook.as_ref().map(|d| self.text(d.contents()))
    }

    /// The body as written: everything after the meta data up to the next heading.
    pub fn raw_body(&self) -> Cow<'a, str> {
        self.text(self.entry.body)
    }

    /// The body as the text a person wrote: the LOGBOOK dropped, the canonical two-space
    /// indentation removed, comma escapes undone, line endings as LF, leading and trailing
    /// blank lines removed. Exactly the body given to `NewEntry` for entries we wrote.
    pub fn body_text(&self) -> String {
        super::entry::body_from_raw(
            &self.bytes[self.entry.body.range()],
            self.entry.logbook.as_ref().map(|d| {
                let base = self.entry.body.start;
                (d.whole.start - base)..(d.whole.end - base)
            }),
        )
    }
}
