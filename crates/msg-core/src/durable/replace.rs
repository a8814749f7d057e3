//! Replacing a file that another program may write at the same moment without our lock.
//!
//! Our lock keeps our own processes apart, but the person's editor takes no lock of ours.
//! Emacs saves a file in place (truncate and write the same inode) or, for the first save
//! of a session or with `file-precious-flag`, by writing a new file and renaming it over the
//! old one. Either can land at any moment of our edit: while we read, while we write our
//! temporary file, between a check and our rename. A check of the file's identity before
//! the rename cannot close that window; this module checks after it instead:
//!
//! 1. The file was read through a descriptor ([`ReadFile`]), its fingerprint taken first.
//! 2. Our new bytes go to a temporary file, synced, which is then *exchanged* with the file
//!    (`renameat2(RENAME_EXCHANGE)`): the old file is not unlinked but moves to the
//!    temporary name, so whatever it holds stays on disk.
//! 3. The file we displaced must be the one we read, unchanged: same fingerprint, and when
//!    the fingerprint is too recent to prove that (a change within one clock tick leaves it
//!    as it was), the same bytes. Only then is it removed.
//! 4. Otherwise another program wrote it meanwhile. We wait until it is done (the caller's
//!    `settle`, then until its fingerprint stops changing), read what it wrote, and redo our
//!    change on that (`rebase`). The result replaces our first version the same way, checked
//!    the same way, until a round finds nothing new. When the change cannot be redone (the
//!    other program changed what we changed), what it wrote is put back instead and the
//!    caller is told ([`Replaced::Conflict`]). Nothing it wrote is lost either way.
//!
//! Without `RENAME_EXCHANGE` (a file system that lacks it) the file is renamed over after a
//! last check, and the descriptor of the old file still shows any write that landed: steps 3
//! and 4 are the same, except that a rename by another program in the few microseconds
//! between that check and ours is not seen.
//!
//! What remains: a program that opened the file before step 2 and writes into it only after
//! step 3 writes into a file that is then gone. Emacs truncates the file in the same system
//! call that opens it, so for Emacs that is a window inside one system call.

use std::borrow::Cow;
use std::fs::{self, File};
use std::io::{self, Read, Seek};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use rustix::fs::{CWD, RenameFlags, renameat_with};

use super::{DurableError, holds, io_error, sync_parent, write_temp};
use crate::fingerprint::Fingerprint;

/// How many times a change is redone on what another program wrote before giving up.
const ROUNDS: usize = 8;
/// How long a file must go without changing before what it holds is taken as written.
const QUIET: Duration = Duration::from_millis(20);
/// The longest wait for a file to go quiet.
const QUIET_AT_MOST: Duration = Duration::from_secs(2);

/// A file as read: the descriptor it was read through, its fingerprint before the read, and
/// when that was taken.
#[derive(Debug)]
pub struct ReadFile {
    file: File,
    fingerprint: Fingerprint,
    taken: SystemTime,
}

impl ReadFile {
    /// Opens `path` for reading and takes its fingerprint; `None` when it does not exist.
    pub fn open(path: &Path) -> Result<Option<ReadFile>, DurableError> {
        match File::open(path) {
            Ok(file) => ReadFile::new(file, path).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("read", path)(e)),
        }
    }

    /// Opens `path` and reads it with `read`; `None` when it does not exist. The read is
    /// done again when the file changed while it was read, and, while `busy` says another
    /// program may be writing it (Emacs's lock file exists) and the file changed recently,
    /// until it is quiet (at most [`QUIET_AT_MOST`]): a reader never works from a file
    /// half written by an editor saving it in place.
    pub fn read_stable<T>(
        path: &Path,
        mut busy: impl FnMut() -> bool,
        mut read: impl FnMut(&mut File) -> io::Result<T>,
    ) -> Result<Option<(ReadFile, T)>, DurableError> {
        let deadline = Instant::now() + QUIET_AT_MOST;
        loop {
            let Some(mut opened) = ReadFile::open(path)? else {
                return Ok(None);
            };
            let value = read(&mut opened.file).map_err(io_error("read", path))?;
            let settled = opened.now(path)? == opened.fingerprint
                && (opened.fingerprint.settled(opened.taken) || !busy());
            if settled || Instant::now() >= deadline {
                return Ok(Some((opened, value)));
            }
            std::thread::sleep(QUIET);
        }
    }

    fn new(file: File, path: &Path) -> Result<ReadFile, DurableError> {
        let taken = SystemTime::now();
        let meta = file.metadata().map_err(io_error("examine", path))?;
        Ok(ReadFile {
            file,
            fingerprint: Fingerprint::of_metadata(&meta),
            taken,
        })
    }

    /// The fingerprint taken when the file was opened.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The descriptor, to read the file through.
    pub fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The fingerprint of the file now, through the descriptor.
    fn now(&self, path: &Path) -> Result<Fingerprint, DurableError> {
        self.file
            .metadata()
            .map(|meta| Fingerprint::of_metadata(&meta))
            .map_err(io_error("examine", path))
    }

    /// Whether the file is still as it was read, given what it held then (`held`, the
    /// concatenation of the pieces): the same fingerprint, and when that is too recent to
    /// prove it (see [`Fingerprint::settled`]), the same bytes.
    pub fn unchanged(&self, path: &Path, held: &[&[u8]]) -> Result<bool, DurableError> {
        Ok(self.now(path)? == self.fingerprint && self.same_bytes_if_racy(path, held)?)
    }

    /// [`ReadFile::unchanged`] for a file we just renamed (which sets its status change
    /// time): the same size and modification time, and when the fingerprint is too recent,
    /// the same bytes.
    fn unchanged_but_renamed(&self, path: &Path, held: &[&[u8]]) -> Result<bool, DurableError> {
        Ok(self.now(path)?.same_data(&self.fingerprint) && self.same_bytes_if_racy(path, held)?)
    }

    fn same_bytes_if_racy(&self, path: &Path, held: &[&[u8]]) -> Result<bool, DurableError> {
        if self.fingerprint.settled(self.taken) {
            return Ok(true);
        }
        holds(&self.file, held).map_err(io_error("read", path))
    }
}

/// What [`replace`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Replaced {
    /// The new bytes are in place; `rounds` is how many times they had to be redone on what
    /// another program wrote meanwhile (0: nobody did).
    Written {
        /// Rounds redone.
        rounds: usize,
    },
    /// Another program wrote the file meanwhile, and the change could not be redone on what
    /// it wrote: the file holds what that program wrote, and nothing of the change.
    Conflict,
}

/// The file at `path` now, as far as a round knows it: the descriptor of the inode it
/// expects there and what that inode holds.
struct Base<'a> {
    read: ReadFile,
    held: Held<'a>,
}

enum Held<'a> {
    Pieces(&'a [&'a [u8]]),
    Owned(Vec<u8>),
}

impl Held<'_> {
    fn pieces(&self) -> Vec<&[u8]> {
        match self {
            Held::Pieces(pieces) => pieces.to_vec(),
            Held::Owned(bytes) => vec![bytes],
        }
    }
}

/// Replaces `path`, read as `read` when it held `held` (the concatenation of the pieces),
/// with `new`, and keeps whatever another program writes to it meanwhile (see the module
/// documentation). Hold the file's lock while calling this.
///
/// - `settle` is called when another program wrote the file, before its bytes are read: it
///   waits until that program is done (the org engine waits for Emacs's lock file to go).
/// - `rebase` redoes the change on the bytes another program wrote; `None` when it cannot.
pub fn replace(
    path: &Path,
    read: ReadFile,
    held: &[&[u8]],
    new: &[u8],
    mut settle: impl FnMut(),
    mut rebase: impl FnMut(&[u8]) -> Option<Vec<u8>>,
) -> Result<Replaced, DurableError> {
    let mut base = Base {
        read,
        held: Held::Pieces(held),
    };
    let mut target: Cow<'_, [u8]> = Cow::Borrowed(new);
    let mut conflict = false;
    // Files holding what another program wrote, kept on disk until a version with it is in
    // place.
    let mut theirs_kept: Vec<PathBuf> = Vec::new();
    for round in 0..ROUNDS {
        let (temp, temp_file) = write_temp(path, &target)?;
        let theirs = match swap_in(path, &temp, &base)? {
            Swap::Unchanged { displaced } => {
                if let Some(displaced) = displaced {
                    let _ = fs::remove_file(displaced);
                }
                for kept in &theirs_kept {
                    let _ = fs::remove_file(kept);
                }
                return Ok(if conflict {
                    Replaced::Conflict
                } else {
                    Replaced::Written { rounds: round }
                });
            }
            Swap::Changed(theirs) => theirs,
        };
        settle();
        let ours_in_place = !matches!(theirs, Theirs::AtPath);
        let (their_read, their_bytes) = read_settled(path, &theirs, base.read)?;
        if let Theirs::At(at) = theirs {
            theirs_kept.push(at);
        }
        let next = match rebase(&their_bytes) {
            Some(rebased) => rebased,
            None => {
                conflict = true;
                their_bytes.clone()
            }
        };
        base = if ours_in_place {
            // Our temporary file is at `path` now, holding the target of this round.
            Base {
                read: ReadFile::new(temp_file, path)?,
                held: Held::Owned(target.into_owned()),
            }
        } else {
            let _ = fs::remove_file(&temp);
            Base {
                read: their_read,
                held: Held::Owned(their_bytes),
            }
        };
        target = Cow::Owned(next);
    }
    Err(DurableError::Io {
        action: "replace",
        path: path.to_owned(),
        source: io::Error::other(match theirs_kept.last() {
            Some(kept) => format!(
                "another program kept writing it; what it wrote last is kept in {}",
                kept.display()
            ),
            None => "another program kept writing it".to_owned(),
        }),
    })
}

/// Where the bytes another program wrote are.
enum Theirs {
    /// Exchanged out of `path` to this name.
    At(PathBuf),
    /// In the inode we read, which our rename unlinked: read through its descriptor.
    InBase,
    /// At `path`: our temporary file was not put in place.
    AtPath,
}

/// The result of one attempt to put a temporary file in place.
enum Swap {
    /// The file we replaced is the one we read, unchanged; `displaced` names it now (to be
    /// removed), when it is still linked.
    Unchanged { displaced: Option<PathBuf> },
    /// Another program wrote the file meanwhile.
    Changed(Theirs),
}

fn swap_in(path: &Path, temp: &Path, base: &Base<'_>) -> Result<Swap, DurableError> {
    // A change before this point shows in the status change time too; after our rename it
    // would not (a rename sets it), so the size, the modification time and, when recent,
    // the bytes decide.
    let here = Fingerprint::of(path).is_some_and(|p| p.same_file(&base.read.fingerprint));
    if !here || base.read.now(path)? != base.read.fingerprint {
        let _ = fs::remove_file(temp);
        return Ok(Swap::Changed(Theirs::AtPath));
    }
    let held = base.held.pieces();
    match renameat_with(CWD, temp, CWD, path, RenameFlags::EXCHANGE) {
        Ok(()) => {
            sync_parent(path)?;
            let displaced = fs::symlink_metadata(temp)
                .map(|meta| Fingerprint::of_metadata(&meta))
                .map_err(io_error("examine the old version of", path))?;
            if displaced.same_file(&base.read.fingerprint)
                && base.read.unchanged_but_renamed(path, &held)?
            {
                Ok(Swap::Unchanged {
                    displaced: Some(temp.to_owned()),
                })
            } else {
                Ok(Swap::Changed(Theirs::At(temp.to_owned())))
            }
        }
        Err(e) if exchange_unsupported(e) => {
            // A plain rename; the descriptor still shows writes that land after it.
            fs::rename(temp, path).map_err(io_error("rename a temporary file over", path))?;
            sync_parent(path)?;
            if base.read.unchanged_but_renamed(path, &held)? {
                Ok(Swap::Unchanged { displaced: None })
            } else {
                Ok(Swap::Changed(Theirs::InBase))
            }
        }
        Err(e) => {
            let _ = fs::remove_file(temp);
            Err(io_error("exchange a temporary file with", path)(e.into()))
        }
    }
}

fn exchange_unsupported(e: rustix::io::Errno) -> bool {
    use rustix::io::Errno;
    e == Errno::INVAL || e == Errno::NOSYS || e == Errno::OPNOTSUPP
}

/// Waits until the file another program wrote stops changing, then reads it.
fn read_settled(
    path: &Path,
    theirs: &Theirs,
    base: ReadFile,
) -> Result<(ReadFile, Vec<u8>), DurableError> {
    let file = match theirs {
        Theirs::At(at) => {
            File::open(at).map_err(io_error("read what another program wrote to", path))?
        }
        Theirs::InBase => base.file,
        Theirs::AtPath => File::open(path).map_err(io_error("read", path))?,
    };
    let deadline = Instant::now() + QUIET_AT_MOST;
    let examine = |file: &File| {
        file.metadata()
            .map(|meta| Fingerprint::of_metadata(&meta))
            .map_err(io_error("examine", path))
    };
    let mut last = examine(&file)?;
    loop {
        std::thread::sleep(QUIET);
        let now = examine(&file)?;
        if now == last || Instant::now() >= deadline {
            break;
        }
        last = now;
    }
    let mut read = ReadFile::new(file, path)?;
    let mut bytes = Vec::new();
    read.file
        .seek(io::SeekFrom::Start(0))
        .and_then(|_| read.file.read_to_end(&mut bytes))
        .map_err(io_error("read", path))?;
    Ok((read, bytes))
}
