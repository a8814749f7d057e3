//! A transaction: what one process changes in one file while holding its lock.
//!
//! Under the lock a transaction re-reads the file, finds entries by ID, applies byte splices
//! and writes when its closure returns `Ok`:
//!
//! - only new entries: one `write` in append mode, then `fdatasync`. The cost does not depend
//!   on the file's size: the whole file is not read, only the text before the first heading
//!   (to see which keywords it declares) and its last bytes;
//! - anything else: a temporary file in the same directory, `fsync`, `rename` over the file,
//!   `fsync` of the directory (both in [`crate::durable`]). A crash leaves the old file or the
//!   new one, never a mix.
//!
//! A transaction reads no more than its operations need, so it moves through explicit
//! states ([`State`]): nothing read; the fast path (the file read as an [`Outline`], at most
//! one section edited); appending (only the head read); the full [`Document`]. Each operation
//! moves it forward as far as it must, never back. Before anything is written, the
//! [`guard`] compares the new bytes with the old.

mod fast;
mod full;
mod redo;

use std::io;
use std::path::Path;

use super::edit::EntryEditor;
use super::emacs_lock;
use super::entry::NewEntry;
use super::eol::Eol;
use super::error::OrgError;
use super::file::OrgFile;
use super::guard;
use super::head::{Head, read_head};
use super::keywords::TodoKeywords;
use super::outline::Outline;
use super::ranges::Entry;
use super::scan::{Document, InvalidUtf8};
use super::subtree::Subtree;
use crate::durable::{self, DurableError, FileLock, ReadFile, Replaced};
use crate::validate;
use fast::{Fast, FastEdited};
use full::Full;

/// Staged changes to one file, applied when the transaction's closure returns `Ok`.
#[derive(Debug)]
pub struct Transaction<'a> {
    file: &'a OrgFile,
    state: State,
}

/// How much of the file a transaction has read, and what it has staged.
#[derive(Debug)]
enum State {
    /// Nothing read yet.
    Unread,
    /// The fast path: the file read as an [`Outline`], nothing changed yet.
    Fast(Box<Fast>),
    /// The fast path on one section: the outline and the entry's edited section.
    FastEdited(Box<FastEdited>),
    /// Only new entries: the text before the first heading and the file's end were read.
    Appending(Appending),
    /// The whole file, scanned and indexed, with the changes so far.
    Full(Box<Full>),
    /// An operation failed after the state had been taken apart; nothing will be written.
    Poisoned,
}

/// New entries for a file of which only the head was read.
#[derive(Debug)]
struct Appending {
    head: Head,
    /// New entries, rendered, in order.
    appended: Vec<String>,
    /// Their keywords, which the file declares.
    keywords: Vec<String>,
}

impl Appending {
    /// Appends the new entries: after Emacs's lock is free, and with the head read again,
    /// since a save meanwhile may have changed how the file ends or what it declares.
    fn commit(self, file: &OrgFile) -> Result<(), OrgError> {
        if self.appended.is_empty() {
            return Ok(());
        }
        let path = file.path();
        emacs_lock::wait_until_free(path, file.lock_timeout())?;
        let head = match read_head(path)? {
            Some(head) if self.keywords.iter().all(|k| head.declared.contains(k)) => head,
            _ => {
                return Err(OrgError::ChangedMeanwhile {
                    path: path.to_owned(),
                });
            }
        };
        let text = joined(
            &self.appended,
            "\n",
            head.ends_with_newline || head.is_empty,
        );
        Ok(durable::append(path, text.as_bytes())?)
    }
}

/// An edited section: its new bytes, their one entry (scanned from offset 0) and the
/// keywords the edit wrote.
type EditedSection = (Vec<u8>, Entry, Vec<String>);

/// Runs `f` on an editor of `old`, the section at line `line` of `path`: the one edit
/// step of both paths ([`Transaction::edit_at`] and the fast path). `None` beside `f`'s
/// value when `f` changed nothing.
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
    guard::keeps_final_line_ending(path, old, editor.bytes(), line)?;
    Ok((value, Some(editor.into_parts())))
}

/// Refuses to write a file that is not UTF-8, or whose lines end in CR only (Emacs reads
/// it, and so do we, but every line we write would change how Emacs reads it).
fn writable(path: &Path, invalid: Option<InvalidUtf8>, eol: Eol) -> Result<(), OrgError> {
    if let Some(bad) = invalid {
        return Err(OrgError::InvalidUtf8 {
            path: path.to_owned(),
            line: bad.line,
        });
    }
    if eol == Eol::Mac {
        return Err(OrgError::MacLineEndings {
            path: path.to_owned(),
        });
    }
    Ok(())
}

fn mixed_cut_and_edit(path: &Path) -> OrgError {
    OrgError::Guard {
        path: path.to_owned(),
        line: 0,
        reason: "a transaction that takes entries out of a file makes no other change to it".into(),
    }
}

fn not_found(path: &Path, id: &str) -> OrgError {
    OrgError::NotFound {
        path: path.to_owned(),
        id: id.to_owned(),
    }
}

/// New entries as one text to append: a line ending first when the file does not end with
/// one (and is not empty).
fn joined(appended: &[String], eol: &str, starts_on_a_new_line: bool) -> String {
    let mut text = String::new();
    if !starts_on_a_new_line {
        text.push_str(eol);
    }
    text.extend(appended.iter().map(String::as_str));
    text
}

/// The full document of a transaction in state `previous`, with what it staged. On an
/// error, the state to go on with: `previous` when nothing of it was taken apart.
fn full_from(file: &OrgFile, previous: State) -> Result<Full, Box<(OrgError, State)>> {
    let failed = |state: State| move |err: OrgError| Box::new((err, state));
    match previous {
        State::Unread => Full::load(file).map_err(failed(State::Unread)),
        State::Appending(appending) => match Full::load(file) {
            Ok(mut full) => {
                full.appended = appending.appended;
                Ok(full)
            }
            Err(err) => Err(Box::new((err, State::Appending(appending)))),
        },
        State::Fast(fast) => {
            let Fast { read, outline } = *fast;
            Full::from_fast(file, read, outline, None).map_err(failed(State::Poisoned))
        }
        State::FastEdited(edited) => {
            let FastEdited { fast, staged } = *edited;
            Full::from_fast(file, fast.read, fast.outline, Some(staged))
                .map_err(failed(State::Poisoned))
        }
        State::Full(full) => Ok(*full),
        State::Poisoned => Err(Box::new((poisoned(file.path()), State::Poisoned))),
    }
}

/// Replaces the file with `new` (it held `held` when read through `read`), keeping what a
/// program that does not take our lock (Emacs saving it) writes meanwhile: the change is
/// redone on that with `rebase`, or, when it cannot be, the file keeps what the program
/// wrote and this is [`OrgError::ChangedMeanwhile`]. Waits for Emacs's own lock first.
fn write_back(
    file: &OrgFile,
    read: ReadFile,
    held: &[&[u8]],
    new: &[u8],
    rebase: impl FnMut(&[u8]) -> Option<Vec<u8>>,
) -> Result<(), OrgError> {
    let path = file.path();
    emacs_lock::wait_until_free(path, file.lock_timeout())?;
    let settle = || {
        // A save in progress ends when Emacs removes its lock; a lock that stays is
        // reported by the next transaction, and what is on disk now is what counts.
        let _ = emacs_lock::wait_until_free(path, file.lock_timeout());
    };
    match durable::replace(path, read, held, new, settle, rebase)? {
        Replaced::Written { .. } => Ok(()),
        Replaced::Conflict => Err(OrgError::ChangedMeanwhile {
            path: path.to_owned(),
        }),
    }
}

// Transactions are started from the file, but live here so that `file` knows nothing of them.
impl OrgFile {
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
        order.sort_by(|&a, &b| files[a].path().cmp(files[b].path()));
        order.dedup_by(|a, b| files[*a].path() == files[*b].path());
        if order.len() != files.len() {
            // Locking one file twice through two descriptors would wait on ourselves.
            return Err(DurableError::Io {
                action: "lock twice in one transaction",
                path: files[order[0]].path().to_path_buf(),
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "the same file was given twice",
                ),
            }
            .into());
        }
        let mut held = Vec::with_capacity(order.len());
        for &i in &order {
            held.push(FileLock::exclusive(
                files[i].path(),
                files[i].lock_timeout(),
            )?);
        }
        let mut txns: Vec<Transaction<'_>> = files.iter().map(|f| Transaction::new(f)).collect();
        let value = f(&mut txns)?;
        // Files that lose entries (taken to another file) are written last: if writing the
        // receiving file fails, the entries are still where they were; at worst a failure in
        // between leaves them in both files, never in neither.
        txns.sort_by_key(Transaction::takes_entries);
        for txn in txns {
            txn.commit()?;
        }
        drop(held);
        Ok(value)
    }
}

impl<'a> Transaction<'a> {
    pub(super) fn new(file: &'a OrgFile) -> Transaction<'a> {
        Transaction {
            file,
            state: State::Unread,
        }
    }

    /// Whether this transaction takes entries out of its file (those are written last).
    pub(super) fn takes_entries(&self) -> bool {
        matches!(&self.state, State::Full(full) if !full.cuts.is_empty())
    }

    /// The file's path.
    pub fn path(&self) -> &'a Path {
        self.file.path()
    }

    /// Moves the transaction to the full document (reading what it has not read yet) and
    /// returns it.
    fn full(&mut self) -> Result<&mut Full, OrgError> {
        let file = self.file;
        loop {
            match self.state {
                State::Full(ref mut full) => return Ok(full),
                State::Poisoned => return Err(poisoned(file.path())),
                State::Unread | State::Fast(_) | State::FastEdited(_) | State::Appending(_) => {
                    let previous = std::mem::replace(&mut self.state, State::Poisoned);
                    match full_from(file, previous) {
                        Ok(full) => self.state = State::Full(Box::new(full)),
                        Err(failure) => {
                            let (err, previous) = *failure;
                            self.state = previous;
                            return Err(err);
                        }
                    }
                }
            }
        }
    }

    /// Reads the file as an outline when nothing is read yet (the fast path). A missing
    /// file stays unread: the full load creates it.
    fn read_fast(&mut self) -> Result<(), OrgError> {
        if matches!(self.state, State::Unread)
            && let Some(fast) = Fast::read(self.file)?
        {
            self.state = State::Fast(fast);
        }
        Ok(())
    }

    /// The file as it is now under the lock (read once per transaction), with this
    /// transaction's edits applied. Entries appended in this transaction are not included.
    pub fn document(&mut self) -> Result<&Document, OrgError> {
        Ok(&self.full()?.doc)
    }

    /// The file as read under the lock, as an [`Outline`] (no index of every entry): for
    /// choosing entries to edit with [`Transaction::edit_at`] (indices are the same as in
    /// [`Transaction::document`]). Once this transaction has changed anything, it is the
    /// outline of the changed file (built from the full document, so it costs a full scan).
    pub fn outline(&mut self) -> Result<&Outline, OrgError> {
        self.read_fast()?;
        let states = self.file.states();
        match self.state {
            State::Fast(ref fast) => Ok(&fast.outline),
            _ => {
                let full = self.full()?;
                let bytes = full.doc.bytes().to_vec();
                Ok(full.view.insert(Outline::parse(bytes, states)))
            }
        }
    }

    /// Stages `entry` to be appended at the end of the file in canonical form. When the
    /// file does not declare its keyword, a `#+TODO:` line is added to its header too.
    pub fn append(&mut self, entry: &NewEntry) -> Result<(), OrgError> {
        let path = self.file.path();
        let target = self.prepare_append(entry.keyword.as_deref())?;
        entry.validate(&target.keywords)?;
        let text = entry.render(target.eol);
        let id = entry
            .properties
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("ID"))
            .map(|(_, v)| v.as_str());
        let text = guard::appended_text(path, text, &target.keywords, target.eol, 1, id)?;
        target.appended.push(text);
        Ok(())
    }

    /// Stages a subtree taken from another file ([`Transaction::take`]) to be appended here,
    /// with this file's line endings.
    pub fn append_subtree(&mut self, subtree: &Subtree) -> Result<(), OrgError> {
        let path = self.file.path();
        let target = self.prepare_append(subtree.keyword.as_deref())?;
        let text = String::from_utf8_lossy(&subtree.bytes).replace("\r\n", "\n");
        let mut text = text.replace('\n', target.eol);
        if !text.ends_with('\n') {
            text.push_str(target.eol);
        }
        let text = guard::appended_text(
            path,
            text,
            &target.keywords,
            target.eol,
            subtree.entries,
            Some(&subtree.id),
        )?;
        target.appended.push(text);
        Ok(())
    }

    /// Reads what an append needs (the head, or the whole file when the head will not do),
    /// declares `keyword` when the file does not, and returns where the new entry goes.
    fn prepare_append(&mut self, keyword: Option<&str>) -> Result<AppendTarget<'_>, OrgError> {
        let file = self.file;
        let declared = loop {
            match self.state {
                State::Appending(ref appending) => break appending.head.declared.clone(),
                State::Full(ref full) => {
                    if !full.cuts.is_empty() {
                        return Err(mixed_cut_and_edit(file.path()));
                    }
                    break full.doc.declared_keywords().clone();
                }
                State::Unread => match read_head(file.path())? {
                    Some(head) => {
                        self.state = State::Appending(Appending {
                            head,
                            appended: Vec::new(),
                            keywords: Vec::new(),
                        })
                    }
                    None => {
                        self.full()?;
                    }
                },
                State::Fast(_) | State::FastEdited(_) | State::Poisoned => {
                    self.full()?;
                }
            }
        };
        let keywords = declared.union(file.states());
        if let Some(keyword) = keyword {
            if !keywords.contains(keyword) {
                return Err(OrgError::UnknownKeyword {
                    path: file.path().to_owned(),
                    keyword: keyword.to_owned(),
                });
            }
            if !declared.contains(keyword) {
                self.full()?.declare(file, &[keyword])?;
            }
        }
        match self.state {
            State::Appending(ref mut appending) => {
                appending.keywords.extend(keyword.map(str::to_owned));
                Ok(AppendTarget {
                    keywords,
                    eol: "\n",
                    appended: &mut appending.appended,
                })
            }
            _ => {
                let full = self.full()?;
                full.check_writable(file.path())?;
                Ok(AppendTarget {
                    keywords,
                    eol: full.doc.eol(),
                    appended: &mut full.appended,
                })
            }
        }
    }

    /// Cuts the subtrees (entry and children) of the entries with these IDs out of the file
    /// and returns them in file order, for moving them to another file (archiving). Call it
    /// once, before any other change in this transaction; an ID that is missing or on two
    /// entries is an error, and an entry inside another taken subtree goes with its parent.
    pub fn take(&mut self, ids: &[&str]) -> Result<Vec<Subtree>, OrgError> {
        let file = self.file;
        self.full()?.take(file, ids)
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
        let file = self.file;
        let full = self.full()?;
        full.check_writable(file.path())?;
        full.declare(file, keywords)
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
        let path = self.file.path();
        self.read_fast()?;
        let index = match self.state {
            State::Fast(ref fast) => match fast.outline.find_by_id(id) {
                Ok(Some(index)) => index,
                Ok(None) => return Err(not_found(path, id)),
                Err(dup) => return Err(dup.in_file(path)),
            },
            _ => self.full()?.index_of(path, id)?,
        };
        self.edit_at(index, f)
    }

    /// Edits the entry at `index` in [`Transaction::document`]'s order (for entries without
    /// an ID, such as a person's notes; prefer [`Transaction::edit`]).
    pub fn edit_at<T>(
        &mut self,
        index: usize,
        f: impl FnOnce(&mut EntryEditor<'_>) -> Result<T, OrgError>,
    ) -> Result<T, OrgError> {
        let file = self.file;
        match std::mem::replace(&mut self.state, State::Poisoned) {
            State::Fast(fast) => match fast.edit(file, index, f) {
                Ok((value, Some((staged, undeclared)))) => {
                    self.state = State::FastEdited(Box::new(FastEdited {
                        fast: *fast,
                        staged,
                    }));
                    if undeclared {
                        self.full()?;
                    }
                    Ok(value)
                }
                result => {
                    self.state = State::Fast(fast);
                    result.map(|(value, _)| value)
                }
            },
            other => {
                self.state = other;
                self.full()?.edit_at(file, index, f)
            }
        }
    }

    /// Writes what the transaction staged, if anything.
    pub(super) fn commit(self) -> Result<(), OrgError> {
        let path = self.file.path();
        match self.state {
            State::Unread => Ok(()),
            State::Fast(_) => Ok(()),
            State::FastEdited(edited) => {
                let FastEdited { fast, staged } = *edited;
                fast.commit(self.file, staged)
            }
            State::Appending(appending) => appending.commit(self.file),
            State::Full(full) => full.commit(self.file),
            State::Poisoned => Err(poisoned(path)),
        }
    }
}

/// Where a new entry goes: the keywords in force, the line ending, and the list to add it to.
struct AppendTarget<'t> {
    keywords: TodoKeywords,
    eol: &'static str,
    appended: &'t mut Vec<String>,
}

fn poisoned(path: &Path) -> OrgError {
    OrgError::Guard {
        path: path.to_owned(),
        line: 0,
        reason: "an earlier operation of this transaction failed halfway".into(),
    }
}
