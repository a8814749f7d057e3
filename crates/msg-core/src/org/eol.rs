//! Line endings as Emacs decides them for a whole file.
//!
//! Emacs looks at every line ending of a file when it visits it (checked with Emacs 28 on
//! files of 200 KB with the odd line in the middle): the first one sets the kind; a CR
//! followed later by CRLF (or the other way round) counts as DOS, the CR being a stray
//! character; any other mix means Unix, and every CR then stays in the text (`^M`).
//!
//! - [`Eol::Unix`]: lines end at LF; a CR before it is part of the line, so `:END:^M` ends
//!   no drawer and `:ID: x^M` has the ID `x^M`.
//! - [`Eol::Dos`]: lines end at LF, and a CR right before it belongs to the line ending; a
//!   lone CR is text.
//! - [`Eol::Mac`]: every line ends in a lone CR (the file has no LF at all).
//!
//! A file with no line ending at all is read as Unix, Emacs's default here.

use memchr::{memchr, memchr2_iter};

/// How Emacs ends the lines of a file, decided for the whole file when it visits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Eol {
    /// LF.
    #[default]
    Unix,
    /// CRLF.
    Dos,
    /// CR (classic Mac OS).
    Mac,
}

impl Eol {
    /// Emacs's decision for `bytes`; `None` when they hold no line ending.
    pub(crate) fn detect(bytes: &[u8]) -> Option<Eol> {
        let mut seen: Option<Eol> = None;
        let mut skip_lf_at = usize::MAX;
        for at in memchr2_iter(b'\n', b'\r', bytes) {
            let this = if bytes[at] == b'\n' {
                if at == skip_lf_at {
                    continue; // the LF of a CRLF
                }
                Eol::Unix
            } else if bytes.get(at + 1) == Some(&b'\n') {
                skip_lf_at = at + 1;
                Eol::Dos
            } else {
                Eol::Mac
            };
            seen = Some(match (seen, this) {
                // A first LF decides at once: any other ending later also means Unix.
                (None, Eol::Unix) => return Some(Eol::Unix),
                (None, this) => this,
                (Some(before), this) if before == this => before,
                (Some(Eol::Mac | Eol::Dos), Eol::Mac | Eol::Dos) => Eol::Dos,
                _ => return Some(Eol::Unix),
            });
        }
        seen
    }

    /// [`Eol::detect`], with Emacs's default for a file without line endings.
    pub(crate) fn of(bytes: &[u8]) -> Eol {
        Eol::detect(bytes).unwrap_or_default()
    }

    /// The line ending new lines get.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Eol::Unix => "\n",
            Eol::Dos => "\r\n",
            Eol::Mac => "\r",
        }
    }

    /// The kind whose line ending is `eol` (`"\r\n"`, `"\r"`, else Unix).
    pub(crate) fn of_ending(eol: &str) -> Eol {
        match eol {
            "\r\n" => Eol::Dos,
            "\r" => Eol::Mac,
            _ => Eol::Unix,
        }
    }

    /// What a person calls it: `LF (Unix)`, `CRLF (DOS)`, `CR (classic Mac OS)`.
    pub fn name(self) -> &'static str {
        match self {
            Eol::Unix => "LF (Unix)",
            Eol::Dos => "CRLF (DOS)",
            Eol::Mac => "CR (classic Mac OS)",
        }
    }
}

/// `bytes` as Emacs shows a file with [`Eol::Mac`] line endings: every CR turned into LF.
/// The length stays the same, so every byte range is valid in both.
pub(crate) fn mac_as_unix(mut bytes: Vec<u8>) -> Vec<u8> {
    if memchr(b'\r', &bytes).is_some() {
        for b in &mut bytes {
            if *b == b'\r' {
                *b = b'\n';
            }
        }
    }
    bytes
}

/// The length of a UTF-8 byte order mark at the start of `bytes` (0 or 3). Emacs reads such
/// a file as `utf-8-with-signature` and does not show the mark: the first line starts after
/// it.
pub(crate) fn bom_len(bytes: &[u8]) -> usize {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emacs_decides_by_every_line_ending() {
        assert_eq!(Eol::detect(b"* a"), None);
        assert_eq!(Eol::of(b"* a"), Eol::Unix);
        assert_eq!(Eol::detect(b"* a\n* b\r\n"), Some(Eol::Unix));
        assert_eq!(Eol::detect(b"* a\r\n* b\r\n"), Some(Eol::Dos));
        assert_eq!(Eol::detect(b"* a\r\n* b\r\n* c\n* d\r\n"), Some(Eol::Unix));
        assert_eq!(Eol::detect(b"* a\r* b\r"), Some(Eol::Mac));
        assert_eq!(Eol::detect(b"* a\r* b\r\n* c\r\n"), Some(Eol::Dos));
        assert_eq!(Eol::detect(b"* a\r\n* b\r* c\r\n"), Some(Eol::Dos));
        assert_eq!(Eol::detect(b"* a\r* b\r* c\n"), Some(Eol::Unix));
        let mut big = b"* a\r\n".repeat(20_000);
        big.extend_from_slice(b"* mid\n");
        big.extend_from_slice(&b"* b\r\n".repeat(20_000));
        assert_eq!(Eol::detect(&big), Some(Eol::Unix));
        assert_eq!(mac_as_unix(b"* a\r* b\r".to_vec()), b"* a\n* b\n");
        assert_eq!(bom_len(b"\xEF\xBB\xBF#+TODO: A"), 3);
    }
}
