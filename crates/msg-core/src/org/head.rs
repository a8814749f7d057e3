//! What an append needs to know about a file without reading all of it: the keywords the
//! text before the first heading declares, and how the file ends.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use memchr::memchr2;

use super::emacs_lock;
use super::eol::bom_len;
use super::error::OrgError;
use super::keywords::{KeywordLines, TodoKeywords};
use super::ranges::Span;
use crate::durable::ReadFile;

/// What an append needs to know about the file without reading all of it.
#[derive(Debug)]
pub(super) struct Head {
    /// The keywords the text before the first heading declares.
    pub(super) declared: TodoKeywords,
    pub(super) ends_with_newline: bool,
    pub(super) is_empty: bool,
}

/// Reads the text before the first heading and the file's last bytes: enough to append.
/// Returns `None` when the full read must decide instead: the file is missing, the preamble
/// is too long to be worth it, the bytes read are not UTF-8 (the full read reports the
/// line), or the first line ends in CR: whether Emacs then reads the file with DOS line
/// endings depends on every other line (one LF-only line anywhere makes it read all as
/// Unix), so only a file whose first line ends in LF (which Emacs always reads as Unix) is
/// appended to from its head alone.
pub(super) fn read_head(path: &Path) -> Result<Option<Head>, OrgError> {
    const CHUNK: usize = 64 * 1024;
    let busy = || emacs_lock::holder(path).is_some();
    let read = |file: &mut File| {
        let len = file.metadata()?.len() as usize;
        let mut head = vec![0; len.min(CHUNK)];
        file.read_exact(&mut head)?;
        // The tail: where the new text joins, and a cheap check that the file is UTF-8 there.
        let tail_len = len.min(4096);
        let mut tail = vec![0; tail_len];
        file.seek(SeekFrom::Start((len - tail_len) as u64))?;
        file.read_exact(&mut tail)?;
        Ok((len, head, tail))
    };
    let Some((_, (len, head, tail))) = ReadFile::read_stable(path, busy, read)? else {
        return Ok(None);
    };
    if memchr2(b'\n', b'\r', &head).is_some_and(|at| head[at] == b'\r') {
        return Ok(None);
    }
    // Lines from after a byte order mark, which Emacs does not show.
    let start = bom_len(&head);
    let lines = head[start..]
        .split(|&b| b == b'\n')
        .scan(start, |offset, line| {
            let at = *offset;
            *offset += line.len() + 1;
            Some((at, line))
        });
    let mut keyword_lines = KeywordLines::default();
    let mut heading = None;
    for (at, line) in lines {
        let stars = line.iter().take_while(|&&b| b == b'*').count();
        if stars > 0 && line.get(stars) == Some(&b' ') {
            heading = Some(at);
            break;
        }
        let blanks = line
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        if line[blanks..].starts_with(b"#+") {
            keyword_lines.line(line, Span::new(at, at + line.len()));
        }
    }
    let preamble_end = match heading {
        Some(at) => at,
        None if len <= CHUNK => len,
        None => return Ok(None),
    };
    let (declared, _) = keyword_lines.finish();
    let skip = tail
        .iter()
        .take(3)
        .take_while(|&&b| b & 0xC0 == 0x80)
        .count();
    let valid = std::str::from_utf8(&head[..preamble_end]).is_ok()
        && std::str::from_utf8(&tail[skip..]).is_ok();
    if !valid {
        return Ok(None);
    }
    Ok(Some(Head {
        declared,
        ends_with_newline: tail.last().is_none_or(|&b| b == b'\n'),
        is_empty: len == 0,
    }))
}
