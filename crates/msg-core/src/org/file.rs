//! Locked, durable transactions on an org file.
//!
//! Every process that writes (hooks, the `msg` command, the relay client) takes an exclusive
//! `flock` on a permanent sidecar `<file>.lock` (never deleted: deleting it is how the Python
//! original lost mutual exclusion). Under the lock a transaction re-reads the file, finds
//! entries by ID, applies byte splices and writes:
//!
//! - only new entries: one `write` in append mode, then `fdatasync`. The cost does not depend
//!   on the file's size: the whole file is not read, only the text before the first heading
//!   (to see which keywords it declares) and its last bytes;
//! - anything else: a temporary file in the same directory, `fsync`, `rename` over the file,
//!   `fsync` of the directory (both in [`crate::durable`]). A crash leaves the old file or the
//!   new one, never a mix.
//!
//! Before anything is written, a guard compares the new bytes with the old: every byte
//! outside the touched entries (and the header line added for a new keyword) must be
//! identical, and every touched entry must still scan as one entry with its ID.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::edit::EntryEditor;
use super::entry::NewEntry;
use super::error::OrgError;
use super::keywords::{KeywordSequence, TodoKeywords, keyword_line_value};
use super::outline::{Outline, read_into_spare, recycle};
use super::scan::{Document, Entry, Span};
use crate::durable::{self, DurableError, FileLock};
use crate::validate;

pub use crate::durable::DEFAULT_LOCK_TIMEOUT;

/// An org file that transactions run on. Cheap to create; holds no open file.
#[derive(Debug, Clone)]
pub struct OrgFile {
    path: PathBuf,
    states: TodoKeywords,
    lock_timeout: Duration,
}

impl OrgFile {
    /// The file at `path`, read with the caller's `states` as keywords in addition to those
    /// the file declares. A missing file is created by the first transaction, with one
    /// `#+TODO:` line per sequence of `states`.
    pub fn new(path: impl Into<PathBuf>, states: TodoKeywords) -> OrgFile {
        OrgFile {
            path: path.into(),
            states,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }

    /// Waits at most `timeout` for another process's lock.
    pub fn with_lock_timeout(mut self, timeout: Duration) -> OrgFile {
        self.lock_timeout = timeout;
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The caller's states.
    pub fn states(&self) -> &TodoKeywords {
        &self.states
    }

    /// The text of a new file: one `#+TODO:` line per sequence of the states.
    pub fn header(&self) -> String {
        self.states
            .sequences()
            .iter()
            .map(|s| format!("#+TODO: {}\n", s.to_line_value()))
            .collect()
    }

    /// Reads and scans the file as it is now, under a shared lock so that no append is seen
    /// half-written. A missing file reads as an empty document (and creates nothing).
    pub fn read(&self) -> Result<Document, OrgError> {
        if !self.path.exists() {
            return Ok(Document::parse(Vec::new(), &self.states));
        }
        let _lock = FileLock::shared(&self.path, self.lock_timeout)?;
        match fs::read(&self.path) {
            Ok(bytes) => Ok(Document::parse(bytes, &self.states)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Ok(Document::parse(Vec::new(), &self.states))
            }
            Err(e) => Err(durable::io_error("read", &self.path)(e).into()),
        }
    }

    /// [`OrgFile::read`] without indexing every entry: the file as it is now, under a shared
    /// lock, as an [`Outline`] that scans an entry when asked for. For queries that read a
    /// few entries of a large file, or only headings.
    pub fn read_outline(&self) -> Result<Outline, OrgError> {
        if !self.path.exists() {
            return Ok(Outline::parse(Vec::new(), &self.states));
        }
        let _lock = FileLock::shared(&self.path, self.lock_timeout)?;
        let mut file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Outline::parse(Vec::new(), &self.states));
            }
            Err(e) => return Err(durable::io_error("read", &self.path)(e).into()),
        };
        let len = file
            .metadata()
            .map_err(durable::io_error("stat", &self.path))?
            .len() as usize;
        let bytes =
            read_into_spare(&mut file, len, 0).map_err(durable::io_error("read", &self.path))?;
        Ok(Outline::parse(bytes, &self.states))
    }

    /// Runs `f` under the file's exclusive lock and writes what it staged when it returns
    /// `Ok`. When `f` or the write fails, the file is unchanged.
    pub fn transaction<T>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, OrgError>,
    ) -> Result<T, OrgError> {
        OrgFile::transaction_all(&[self], |txns| f(&mut txns[0]))
    }

    /// Runs `f` with all `files` locked. Locks are taken in sorted path order, so two
    /// processes locking the same files never deadlock; `f` gets the transactions in the
    /// order of `files`. Each file is written durably, one after the other.
    pub fn transaction_all<T>(
        files: &[&OrgFile],
        f: impl FnOnce(&mut [Transaction<'_>]) -> Result<T, OrgError>,
    ) -> Result<T, OrgError> {
        let mut order: Vec<usize> = (0..files.len()).collect();
        order.sort_by(|&a, &b| files[a].path.cmp(&files[b].path));
        order.dedup_by(|a, b| files[*a].path == files[*b].path);
        if order.len() != files.len() {
            // Locking one file twice through two descriptors would wait on ourselves.
            return Err(DurableError::Io {
                action: "lock twice in one transaction",
                path: files[order[0]].path.clone(),
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the same file was given twice",
                ),
            }
            .into());
        }
        let mut held = Vec::with_capacity(order.len());
        for &i in &order {
            held.push(FileLock::exclusive(&files[i].path, files[i].lock_timeout)?);
        }
        let mut txns: Vec<Transaction<'_>> = files.iter().map(|f| Transaction::new(f)).collect();
        let value = f(&mut txns)?;
        // Files that lose entries (taken to another file) are written last: if writing the
        // receiving file fails, the entries are still where they were; at worst a failure in
        // between leaves them in both files, never in neither.
        txns.sort_by_key(|txn| !txn.cuts.is_empty());
        for txn in txns {
            txn.commit()?;
        }
        drop(held);
        Ok(value)
    }
}

/// What a transaction knows about the file before it has read all of it.
#[derive(Debug)]
struct Head {
    declared: TodoKeywords,
    crlf: bool,
    ends_with_newline: bool,
    is_empty: bool,
}

/// Reads the text before the first heading and the file's last bytes: enough to append.
/// Returns `None` when the file is missing or the preamble is too long to be worth it.
fn read_head(path: &Path) -> Result<Option<Head>, OrgError> {
    const CHUNK: usize = 64 * 1024;
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(durable::io_error("open", path)(e).into()),
    };
    let len = file
        .metadata()
        .map_err(durable::io_error("stat", path))?
        .len() as usize;
    let mut head = vec![0; len.min(CHUNK)];
    file.read_exact(&mut head)
        .map_err(durable::io_error("read", path))?;
    let heading = head
        .split(|&b| b == b'\n')
        .scan(0, |offset, line| {
            let at = *offset;
            *offset += line.len() + 1;
            Some((at, line))
        })
        .find(|(_, line)| {
            line.first() == Some(&b'*') && {
                let stars = line.iter().take_while(|&&b| b == b'*').count();
                line.get(stars) == Some(&b' ')
            }
        });
    let preamble_end = match heading {
        Some((at, _)) => at,
        None if len <= CHUNK => len,
        None => return Ok(None),
    };
    let preamble = &head[..preamble_end];
    let mut declared = TodoKeywords::empty();
    for line in preamble.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if let Some(value) = keyword_line_value(line) {
            declared.push(KeywordSequence::parse(&String::from_utf8_lossy(value)));
        }
    }
    let crlf = head
        .iter()
        .position(|&b| b == b'\n')
        .is_some_and(|nl| nl > 0 && head[nl - 1] == b'\r');
    // The tail: where the new text joins, and a cheap check that the file is UTF-8 there.
    let tail_len = len.min(4096);
    let mut tail = vec![0; tail_len];
    file.seek(SeekFrom::Start((len - tail_len) as u64))
        .and_then(|_| file.read_exact(&mut tail))
        .map_err(durable::io_error("read", path))?;
    let skip = tail
        .iter()
        .take(3)
        .take_while(|&&b| b & 0xC0 == 0x80)
        .count();
    let valid = std::str::from_utf8(preamble).is_ok() && std::str::from_utf8(&tail[skip..]).is_ok();
    if !valid {
        return Ok(None); // The full read reports the line.
    }
    Ok(Some(Head {
        declared,
        crlf,
        ends_with_newline: tail.last().is_none_or(|&b| b == b'\n'),
        is_empty: len == 0,
    }))
}

/// Staged changes to one file, applied when the transaction's closure returns `Ok`.
#[derive(Debug)]
pub struct Transaction<'a> {
    file: &'a OrgFile,
    /// The file as read under the lock, with the edits so far.
    doc: Option<Document>,
    /// What the file held when read, for the guard.
    original: Option<Vec<u8>>,
    /// The sections of the entries as read (indexed like `doc`'s entries).
    original_sections: Vec<Span>,
    /// Indices of edited entries.
    edited: Vec<usize>,
    /// A `#+TODO:` line inserted at this original offset with this length.
    header_insert: Option<(usize, usize)>,
    /// The file did not exist and was created with the header.
    created: bool,
    /// New entries, rendered, in order.
    appended: Vec<String>,
    head: Option<Head>,
    /// Subtrees taken out of the file, in original coordinates.
    cuts: Vec<Span>,
    /// The file's identity when it was read, to notice a program that writes it without our
    /// lock (an editor saving it) before we replace it.
    stamp: Option<Stamp>,
    /// The file as read, without the full index, while the transaction needs no more.
    fast: Option<Fast>,
    /// [`Transaction::outline`] of the file with this transaction's changes.
    view: Option<Outline>,
}

/// The fast path: the file read under the lock as an [`Outline`], and at most one edited
/// section. Anything else (a second edit, [`Transaction::document`], an append, a new
/// keyword to declare) turns it into the full [`Document`] first, the staged section applied.
#[derive(Debug)]
struct Fast {
    outline: Outline,
    staged: Option<Staged>,
}

/// One edited section, not yet applied to the bytes.
#[derive(Debug)]
struct Staged {
    index: usize,
    /// The section as read.
    section: Span,
    /// Its new bytes, and their one entry scanned from offset 0.
    bytes: Vec<u8>,
    scanned: Entry,
    /// Keywords the edit wrote.
    written: Vec<String>,
}

/// An edited section: its new bytes, their one entry (scanned from offset 0) and the
/// keywords the edit wrote.
type EditedSection = (Vec<u8>, Entry, Vec<String>);

/// Runs `f` on an editor of `old`, the section at line `line` of `path`: the one edit
/// step of both paths ([`Transaction::edit_at`] and the fast path). `None` beside `f`'s
/// value when `f` changed nothing; a section that would lose its final line ending is
/// refused.
fn edit_section<T>(
    path: &Path,
    old: &[u8],
    keywords: &TodoKeywords,
    eol: &'static str,
    line: usize,
    f: impl FnOnce(&mut EntryEditor<'_>) -> Result<T, OrgError>,
) -> Result<(T, Option<EditedSection>), OrgError> {
    let mut editor = EntryEditor::new(path, old, keywords, eol, line)?;
    let value = f(&mut editor)?;
    if editor.bytes() == old {
        return Ok((value, None));
    }
    if old.ends_with(b"\n") && !editor.bytes().ends_with(b"\n") {
        return Err(OrgError::Guard {
            path: path.to_owned(),
            line,
            reason: "the entry would lose its final line ending".into(),
        });
    }
    Ok((value, Some(editor.into_parts())))
}

/// Size, modification time and inode of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    inode: u64,
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            inode: meta.ino(),
        }
    }
}

/// An entry with its children, cut out of one file by [`Transaction::take`] to be appended to
/// another by [`Transaction::append_subtree`].
#[derive(Debug, Clone)]
pub struct Subtree {
    bytes: Vec<u8>,
    id: String,
    keyword: Option<String>,
    entries: usize,
    section_len: usize,
    keywords: TodoKeywords,
    eol: &'static str,
    line: usize,
}

impl Subtree {
    /// The top entry's ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The bytes as they were in the file.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Edits the top entry (for example to add `ARCHIVE_TIME`); children are untouched.
    pub fn edit<T>(
        &mut self,
        path: &Path,
        f: impl FnOnce(&mut EntryEditor<'_>) -> Result<T, OrgError>,
    ) -> Result<T, OrgError> {
        let keywords = self.keywords.clone();
        let mut editor = EntryEditor::new(
            path,
            &self.bytes[..self.section_len],
            &keywords,
            self.eol,
            self.line,
        )?;
        let value = f(&mut editor)?;
        let (section, _, written) = editor.into_parts();
        let mut bytes = section;
        bytes.extend_from_slice(&self.bytes[self.section_len..]);
        self.section_len = bytes.len() - (self.bytes.len() - self.section_len);
        self.bytes = bytes;
        if let Some(keyword) = written.last() {
            self.keyword = Some(keyword.clone());
        }
        Ok(value)
    }
}

impl<'a> Transaction<'a> {
    fn new(file: &'a OrgFile) -> Transaction<'a> {
        Transaction {
            file,
            doc: None,
            original: None,
            original_sections: Vec::new(),
            edited: Vec::new(),
            header_insert: None,
            created: false,
            appended: Vec::new(),
            head: None,
            cuts: Vec::new(),
            stamp: None,
            fast: None,
            view: None,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &'a Path {
        &self.file.path
    }

    /// The file as it is now under the lock (read once per transaction), with this
    /// transaction's edits applied. Entries appended in this transaction are not included.
    pub fn document(&mut self) -> Result<&Document, OrgError> {
        self.load()?;
        Ok(self.doc.as_ref().expect("loaded"))
    }

    /// The file as read under the lock, as an [`Outline`] (no index of every entry): for
    /// choosing entries to edit with [`Transaction::edit_at`] (indices are the same as in
    /// [`Transaction::document`]). Once this transaction has changed anything, it is the
    /// outline of the changed file (built from the full document, so it costs a full scan).
    pub fn outline(&mut self) -> Result<&Outline, OrgError> {
        if self.fast_available()? && self.fast.as_ref().is_some_and(|f| f.staged.is_none()) {
            return Ok(&self.fast.as_ref().expect("loaded").outline);
        }
        self.load()?;
        let bytes = self.doc.as_ref().expect("loaded").bytes().to_vec();
        Ok(self.view.insert(Outline::parse(bytes, &self.file.states)))
    }

    /// Reads the file into [`Transaction::fast`] unless the transaction already needs the
    /// full document. `false` when the fast path is not available: the file is missing (the
    /// full load creates it), or the transaction has read or staged anything else.
    fn fast_available(&mut self) -> Result<bool, OrgError> {
        if self.fast.is_some() {
            return Ok(true);
        }
        if self.doc.is_some()
            || self.head.is_some()
            || self.created
            || !self.appended.is_empty()
            || !self.cuts.is_empty()
        {
            return Ok(false);
        }
        let path = &self.file.path;
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(durable::io_error("read", path)(e).into()),
        };
        let meta = file.metadata().map_err(durable::io_error("stat", path))?;
        self.stamp = Some(Stamp::of(&meta));
        // Room for the edited section to grow in place, so that splicing it in moves the
        // tail instead of copying the whole file to new memory; the memory of an earlier
        // read on this thread is reused (see `outline::read_into_spare`).
        let bytes = read_into_spare(&mut file, meta.len() as usize, 64 * 1024)
            .map_err(durable::io_error("read", path))?;
        self.fast = Some(Fast {
            outline: Outline::parse(bytes, &self.file.states),
            staged: None,
        });
        Ok(true)
    }

    fn load(&mut self) -> Result<(), OrgError> {
        if self.doc.is_some() {
            return Ok(());
        }
        if let Some(fast) = self.fast.take() {
            return self.materialize(fast);
        }
        let path = &self.file.path;
        let bytes = match File::open(path) {
            Ok(mut file) => {
                let meta = file.metadata().map_err(durable::io_error("stat", path))?;
                self.stamp = Some(Stamp::of(&meta));
                let mut bytes = Vec::with_capacity(meta.len() as usize);
                file.read_to_end(&mut bytes)
                    .map_err(durable::io_error("read", path))?;
                bytes
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.created = true;
                self.file.header().into_bytes()
            }
            Err(e) => return Err(durable::io_error("read", path)(e).into()),
        };
        let doc = Document::parse(bytes, &self.file.states);
        self.original_sections = doc.entries().map(|e| e.ranges().section).collect();
        self.original = Some(if self.created {
            Vec::new()
        } else {
            doc.bytes().to_vec()
        });
        self.doc = Some(doc);
        Ok(())
    }

    /// Turns the fast path's state into the full document, applying its staged section as
    /// [`Transaction::edit_at`] would have.
    fn materialize(&mut self, fast: Fast) -> Result<(), OrgError> {
        let doc = Document::parse(fast.outline.into_bytes(), &self.file.states);
        self.original_sections = doc.entries().map(|e| e.ranges().section).collect();
        self.original = Some(doc.bytes().to_vec());
        self.doc = Some(doc);
        if let Some(staged) = fast.staged {
            let doc = self.doc.as_mut().expect("loaded");
            if self.original_sections.get(staged.index) != Some(&staged.section) {
                return Err(OrgError::Guard {
                    path: self.file.path.clone(),
                    line: staged.scanned.line,
                    reason: "the outline and the full scan disagree on the entry's section".into(),
                });
            }
            doc.replace_section(staged.index, &staged.bytes, staged.scanned);
            self.edited.push(staged.index);
            let written: Vec<&str> = staged.written.iter().map(String::as_str).collect();
            self.declare(&written)?;
        }
        Ok(())
    }

    fn check_writable(&self) -> Result<(), OrgError> {
        match self.doc.as_ref().and_then(Document::invalid_utf8) {
            Some(bad) => Err(OrgError::InvalidUtf8 {
                path: self.file.path.clone(),
                line: bad.line,
            }),
            None => Ok(()),
        }
    }

    /// Stages `entry` to be appended at the end of the file in canonical form. When the
    /// file does not declare its keyword, a `#+TODO:` line is added to its header too.
    pub fn append(&mut self, entry: &NewEntry) -> Result<(), OrgError> {
        let keywords = self.prepare_append(entry.keyword.as_deref())?;
        entry.validate(&keywords)?;
        let text = entry.render(self.append_eol());
        let id = entry
            .properties
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("ID"))
            .map(|(_, v)| v.as_str());
        self.stage_append(text, &keywords, 1, id)
    }

    /// Stages a subtree taken from another file ([`Transaction::take`]) to be appended here,
    /// with this file's line endings.
    pub fn append_subtree(&mut self, subtree: &Subtree) -> Result<(), OrgError> {
        let keywords = self.prepare_append(subtree.keyword.as_deref())?;
        let text = String::from_utf8_lossy(&subtree.bytes).replace("\r\n", "\n");
        let mut text = text.replace('\n', self.append_eol());
        if !text.ends_with('\n') {
            text.push_str(self.append_eol());
        }
        self.stage_append(text, &keywords, subtree.entries, Some(&subtree.id))
    }

    /// Reads what an append needs (the head, or the whole file when the head will not do),
    /// declares `keyword` when the file does not, and returns the keywords in force.
    fn prepare_append(&mut self, keyword: Option<&str>) -> Result<TodoKeywords, OrgError> {
        if !self.cuts.is_empty() {
            return Err(self.mixed_cut_and_edit());
        }
        if self.fast.is_some() {
            self.load()?;
        }
        if self.doc.is_none() && self.head.is_none() {
            self.head = read_head(&self.file.path)?;
            if self.head.is_none() {
                self.load()?;
            }
        }
        let declared = match (&self.doc, &self.head) {
            (Some(doc), _) => doc.declared_keywords().clone(),
            (None, Some(head)) => head.declared.clone(),
            (None, None) => unreachable!("loaded above"),
        };
        let keywords = declared.union(&self.file.states);
        if let Some(keyword) = keyword {
            if !keywords.contains(keyword) {
                return Err(OrgError::UnknownKeyword {
                    path: self.file.path.clone(),
                    keyword: keyword.to_owned(),
                });
            }
            if !declared.contains(keyword) {
                self.load()?;
                self.declare(&[keyword])?;
            }
        }
        self.check_writable()?;
        Ok(keywords)
    }

    fn append_eol(&self) -> &'static str {
        let crlf = match (&self.doc, &self.head) {
            (Some(doc), _) => doc.is_crlf(),
            (None, Some(head)) => head.crlf,
            (None, None) => false,
        };
        if crlf { "\r\n" } else { "\n" }
    }

    /// The guard for appends: `text` must scan as exactly `entries` entries, the first one
    /// carrying `id`.
    fn stage_append(
        &mut self,
        text: String,
        keywords: &TodoKeywords,
        entries: usize,
        id: Option<&str>,
    ) -> Result<(), OrgError> {
        let scanned = Document::parse(text.into_bytes(), keywords);
        if scanned.len() != entries || scanned.entry(0).id().as_deref() != id {
            return Err(OrgError::Guard {
                path: self.file.path.clone(),
                line: 0,
                reason: format!(
                    "the appended text would scan as {} entries instead of {entries}",
                    scanned.len()
                ),
            });
        }
        self.appended
            .push(String::from_utf8(scanned.into_bytes()).expect("built from a String"));
        Ok(())
    }

    /// Cuts the subtrees (entry and children) of the entries with these IDs out of the file
    /// and returns them in file order, for moving them to another file (archiving). Call it
    /// once, before any other change in this transaction; an ID that is missing or on two
    /// entries is an error, and an entry inside another taken subtree goes with its parent.
    pub fn take(&mut self, ids: &[&str]) -> Result<Vec<Subtree>, OrgError> {
        self.load()?;
        self.check_writable()?;
        if !self.edited.is_empty()
            || self.header_insert.is_some()
            || !self.appended.is_empty()
            || !self.cuts.is_empty()
        {
            return Err(self.mixed_cut_and_edit());
        }
        let doc = self.doc.as_ref().expect("loaded");
        let mut ranges: Vec<(Span, usize)> = Vec::with_capacity(ids.len());
        for id in ids {
            let index = self.index_of(id)?;
            let entry = doc.entry(index);
            let range = entry.ranges().subtree_range();
            ranges.push((Span::new(range.start, range.end), index));
        }
        ranges.sort_by_key(|(span, _)| span.start);
        ranges.dedup_by(|later, earlier| later.0.end <= earlier.0.end);
        let bytes = doc.bytes();
        let mut kept = Vec::with_capacity(bytes.len());
        let mut taken = Vec::with_capacity(ranges.len());
        let mut pos = 0;
        for (span, index) in &ranges {
            kept.extend_from_slice(&bytes[pos..span.start]);
            pos = span.end;
            let entry = doc.entry(*index);
            let entries = doc
                .entries()
                .skip(*index)
                .take_while(|e| e.ranges().section_range().start < span.end)
                .count();
            taken.push(Subtree {
                bytes: bytes[span.range()].to_vec(),
                id: entry.id().expect("found by ID").into_owned(),
                keyword: entry.keyword().map(|k| k.into_owned()),
                entries,
                section_len: entry.ranges().section_range().len(),
                keywords: doc.keywords().clone(),
                eol: doc.eol(),
                line: entry.line(),
            });
        }
        kept.extend_from_slice(&bytes[pos..]);
        let removed: usize = taken.iter().map(|t| t.entries).sum();
        let new_doc = Document::parse(kept, &self.file.states);
        if new_doc.len() + removed != doc.len() {
            return Err(OrgError::Guard {
                path: self.file.path.clone(),
                line: taken.first().map_or(0, |t| t.line),
                reason: "cutting the entries would change the others".into(),
            });
        }
        self.cuts = ranges.into_iter().map(|(span, _)| span).collect();
        self.doc = Some(new_doc);
        Ok(taken)
    }

    fn mixed_cut_and_edit(&self) -> OrgError {
        OrgError::Guard {
            path: self.file.path.clone(),
            line: 0,
            reason: "a transaction that takes entries out of a file makes no other change to it"
                .into(),
        }
    }

    fn index_of(&self, id: &str) -> Result<usize, OrgError> {
        let doc = self.doc.as_ref().expect("loaded");
        match doc.find_by_id(id) {
            Ok(Some(entry)) => Ok(entry.index()),
            Ok(None) => Err(OrgError::NotFound {
                path: self.file.path.clone(),
                id: id.to_owned(),
            }),
            Err(dup) => Err(dup.in_file(&self.file.path)),
        }
    }

    /// Declares `keywords` in the file's header, in this transaction's write: those the
    /// file does not declare yet get one `#+TODO:` line (not-done before `|`, done after, as
    /// the file's states classify them), after the file's last `#+TODO:`-family line before
    /// the first heading, else at the end of the text before it. A file that declares no
    /// keyword gets the whole `#+TODO:` header of the states instead, because any `#+TODO:`
    /// line replaces Emacs's default `TODO | DONE`. This is what an edit or an append that
    /// writes an undeclared keyword does by itself; `declare_keywords` is for a header to
    /// repair without an entry to change (`msg doctor --fix`).
    ///
    /// Returns the 1-based line of the added line, or `None` when every keyword is
    /// declared already (nothing is written for it). Nothing else in the file changes, and
    /// the write is refused as every rewrite is (a file not UTF-8, changed meanwhile by a
    /// program that does not take the lock).
    pub fn declare_keywords(&mut self, keywords: &[&str]) -> Result<Option<usize>, OrgError> {
        for keyword in keywords {
            validate::keyword(keyword)?;
        }
        self.load()?;
        self.check_writable()?;
        self.declare(keywords)
    }

    /// Adds a `#+TODO:` line declaring those of `keywords` the file does not declare yet;
    /// returns its 1-based line.
    fn declare(&mut self, keywords: &[&str]) -> Result<Option<usize>, OrgError> {
        let doc = self.doc.as_mut().expect("loaded");
        let missing = doc
            .declared_keywords()
            .missing_from(keywords, &self.file.states);
        if missing.todo().is_empty() && missing.done().is_empty() {
            return Ok(None);
        }
        // A file that declares nothing gets the caller's whole sequence, because any
        // `#+TODO:` line replaces Emacs's default `TODO | DONE`.
        let value = if doc.declared_keywords().sequences().is_empty() {
            self.file.header()
        } else {
            format!("#+TODO: {}\n", missing.to_line_value())
        };
        let eol = doc.eol();
        let mut line = value.replace('\n', eol);
        let at = doc.keyword_insert_point();
        let bytes = doc.bytes();
        if at > 0 && bytes[at - 1] != b'\n' {
            line.insert_str(0, eol);
        }
        let first_line = doc.line_of(at) + usize::from(line.starts_with(eol));
        let mut new = bytes.to_vec();
        new.splice(at..at, line.bytes());
        let (old_at, old_len) = self.header_insert.unwrap_or((at, 0));
        self.header_insert = Some((old_at, old_len + line.len()));
        *doc = Document::parse(new, &self.file.states);
        Ok(Some(first_line))
    }

    /// Edits the entry whose `:ID:` is `id` with `f`. The ID is looked up in the file as it is
    /// now; an ID on two entries is an error naming both lines.
    ///
    /// As the first change of a transaction this takes the fast path: the file is searched
    /// for the ID's bytes ([`Outline::find_by_id`]) and only the entry's section is scanned;
    /// the write is the bytes as read with that section replaced. The result is the same as
    /// the full path's (read, scan and index everything, splice, guard), byte for byte.
    pub fn edit<T>(
        &mut self,
        id: &str,
        f: impl FnOnce(&mut EntryEditor<'_>) -> Result<T, OrgError>,
    ) -> Result<T, OrgError> {
        if self.fast_available()? {
            let fast = self.fast.as_ref().expect("loaded");
            if fast.staged.is_none() {
                let index = match fast.outline.find_by_id(id) {
                    Ok(Some(index)) => index,
                    Ok(None) => {
                        return Err(OrgError::NotFound {
                            path: self.file.path.clone(),
                            id: id.to_owned(),
                        });
                    }
                    Err(dup) => return Err(dup.in_file(&self.file.path)),
                };
                return self.edit_fast(index, f);
            }
        }
        self.load()?;
        let index = self.index_of(id)?;
        self.edit_at(index, f)
    }

    /// Edits the entry at `index` in [`Transaction::document`]'s order (for entries without
    /// an ID, such as a person's notes; prefer [`Transaction::edit`]).
    pub fn edit_at<T>(
        &mut self,
        index: usize,
        f: impl FnOnce(&mut EntryEditor<'_>) -> Result<T, OrgError>,
    ) -> Result<T, OrgError> {
        if self.doc.is_none() && self.fast.as_ref().is_some_and(|f| f.staged.is_none()) {
            return self.edit_fast(index, f);
        }
        self.load()?;
        self.check_writable()?;
        if !self.cuts.is_empty() {
            return Err(self.mixed_cut_and_edit());
        }
        let doc = self.doc.as_ref().expect("loaded");
        let entry = doc.entry(index);
        let old_bytes = &doc.bytes()[entry.ranges().section.range()];
        let (value, edited) = edit_section(
            &self.file.path,
            old_bytes,
            doc.keywords(),
            doc.eol(),
            entry.line(),
            f,
        )?;
        let Some((bytes, scanned, written)) = edited else {
            return Ok(value);
        };
        let written: Vec<&str> = written.iter().map(String::as_str).collect();
        let doc = self.doc.as_mut().expect("loaded");
        doc.replace_section(index, &bytes, scanned);
        if !self.edited.contains(&index) {
            self.edited.push(index);
        }
        self.declare(&written)?;
        Ok(value)
    }

    /// [`Transaction::edit_at`] on the fast path's outline: the section is edited as in the
    /// full path and staged; a keyword the file does not declare yet turns the transaction
    /// into the full path, which adds the `#+TODO:` line.
    fn edit_fast<T>(
        &mut self,
        index: usize,
        f: impl FnOnce(&mut EntryEditor<'_>) -> Result<T, OrgError>,
    ) -> Result<T, OrgError> {
        let path = &self.file.path;
        let outline = &self.fast.as_ref().expect("loaded").outline;
        // The full path refuses any file with invalid UTF-8, not only the entry's section:
        // the same rule here, so that both paths always agree (the check is one pass of
        // `from_utf8`, about a tenth of a full scan).
        if let Some(bad) = outline.invalid_utf8() {
            return Err(OrgError::InvalidUtf8 {
                path: path.clone(),
                line: bad.line,
            });
        }
        let section = outline.section(index);
        let (value, edited) = edit_section(
            path,
            &outline.bytes()[section.range()],
            outline.keywords(),
            outline.eol(),
            outline.line(index),
            f,
        )?;
        let Some((bytes, scanned, written)) = edited else {
            return Ok(value);
        };
        let missing = {
            let written: Vec<&str> = written.iter().map(String::as_str).collect();
            let missing = outline
                .declared_keywords()
                .missing_from(&written, &self.file.states);
            !missing.todo().is_empty() || !missing.done().is_empty()
        };
        let mut scanned = scanned;
        scanned.line = outline.line(index);
        self.fast.as_mut().expect("loaded").staged = Some(Staged {
            index,
            section,
            bytes,
            scanned,
            written,
        });
        if missing {
            self.load()?;
        }
        Ok(value)
    }

    /// The fast path's write: the bytes as read, with the one edited section replaced in
    /// place. The guard holds by construction: the bytes before the section are never
    /// written to, the bytes after it are moved as a block, and the length must come out as
    /// the old length minus the old section plus the new one.
    fn commit_fast(self) -> Result<(), OrgError> {
        let path = &self.file.path;
        let Fast { outline, staged } = self.fast.expect("the fast path");
        let staged = staged.expect("an edit is staged");
        let now = fs::metadata(path).map_err(durable::io_error("stat", path))?;
        if Some(Stamp::of(&now)) != self.stamp {
            return Err(OrgError::ChangedMeanwhile { path: path.clone() });
        }
        let mut bytes = outline.into_bytes();
        let expected = bytes.len() - staged.section.range().len() + staged.bytes.len();
        bytes.splice(staged.section.range(), staged.bytes.iter().copied());
        if bytes.len() != expected {
            return Err(OrgError::Guard {
                path: path.clone(),
                line: staged.scanned.line,
                reason: "the file would not be the old one with the entry replaced".into(),
            });
        }
        durable::write_atomically(path, &bytes)?;
        recycle(bytes);
        Ok(())
    }

    /// Checks the new bytes against the old: identical outside the edited sections and the
    /// inserted header line, or exactly the old bytes without the cut subtrees.
    fn guard(&self, doc: &Document) -> Result<(), OrgError> {
        let original = self.original.as_deref().unwrap_or_default();
        let new = doc.bytes();
        if !self.cuts.is_empty() {
            let mut expected = Vec::with_capacity(original.len());
            let mut pos = 0;
            for cut in &self.cuts {
                expected.extend_from_slice(&original[pos..cut.start]);
                pos = cut.end;
            }
            expected.extend_from_slice(&original[pos..]);
            if expected != new {
                return Err(OrgError::Guard {
                    path: self.file.path.clone(),
                    line: 0,
                    reason: "bytes outside the taken entries would change".into(),
                });
            }
            return Ok(());
        }
        // (original range, new range) of every change, in file order.
        let mut changes: Vec<(Span, Span)> = Vec::new();
        if let Some((at, len)) = self.header_insert {
            changes.push((Span::new(at, at), Span::new(at, at + len)));
        }
        let mut edited = self.edited.clone();
        edited.sort_unstable();
        for index in edited {
            let old = self.original_sections[index];
            let now = doc.entry(index).ranges().section;
            changes.push((old, now));
        }
        let mut old_pos = 0;
        let mut new_pos = 0;
        for (old, now) in changes {
            let same = old.start >= old_pos
                && now.start >= new_pos
                && original[old_pos..old.start] == new[new_pos..now.start];
            if !same {
                return Err(OrgError::Guard {
                    path: self.file.path.clone(),
                    line: doc.line_of(now.start),
                    reason: "bytes outside the edited entries would change".into(),
                });
            }
            old_pos = old.end;
            new_pos = now.end;
        }
        if original[old_pos..] != new[new_pos..] {
            return Err(OrgError::Guard {
                path: self.file.path.clone(),
                line: doc.line_of(new_pos),
                reason: "bytes after the edited entries would change".into(),
            });
        }
        Ok(())
    }

    fn commit(self) -> Result<(), OrgError> {
        if self.doc.is_none() && self.fast.as_ref().is_some_and(|f| f.staged.is_some()) {
            return self.commit_fast();
        }
        let path = &self.file.path;
        let rewrite = self.created
            || !self.edited.is_empty()
            || self.header_insert.is_some()
            || !self.cuts.is_empty();
        if !rewrite {
            if self.appended.is_empty() {
                return Ok(());
            }
            let (crlf, ends_with_newline, is_empty) = match (&self.doc, &self.head) {
                (Some(doc), _) => (
                    doc.is_crlf(),
                    doc.bytes().last().is_none_or(|&b| b == b'\n'),
                    doc.bytes().is_empty(),
                ),
                (None, Some(head)) => (head.crlf, head.ends_with_newline, head.is_empty),
                (None, None) => unreachable!("appends read the head or the document"),
            };
            let mut text = String::new();
            if !ends_with_newline && !is_empty {
                text.push_str(if crlf { "\r\n" } else { "\n" });
            }
            text.extend(self.appended.iter().map(String::as_str));
            return Ok(durable::append(path, text.as_bytes())?);
        }
        let doc = self.doc.as_ref().expect("a rewrite has a document");
        if !self.created {
            self.guard(doc)?;
            let now = fs::metadata(path).map_err(durable::io_error("stat", path))?;
            if Some(Stamp::of(&now)) != self.stamp {
                return Err(OrgError::ChangedMeanwhile { path: path.clone() });
            }
        }
        // Copy the file only when entries are appended to it.
        let with_appends;
        let bytes = if self.appended.is_empty() {
            doc.bytes()
        } else {
            let mut bytes = doc.bytes().to_vec();
            if !bytes.is_empty() && !bytes.ends_with(b"\n") {
                bytes.extend_from_slice(doc.eol().as_bytes());
            }
            for text in &self.appended {
                bytes.extend_from_slice(text.as_bytes());
            }
            with_appends = bytes;
            &with_appends
        };
        if self.created {
            durable::create_new(path, bytes)?;
        } else {
            durable::write_atomically(path, bytes)?;
        }
        Ok(())
    }
}
