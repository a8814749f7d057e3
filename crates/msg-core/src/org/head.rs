//! What an append needs to know about a file without reading all of it: the keywords the
//! text before the first heading declares, the line ending, and how the file ends.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use super::error::OrgError;
use super::keywords::{KeywordSequence, TodoKeywords, keyword_line_value};
use crate::durable;

/// What an append needs to know about the file without reading all of it.
#[derive(Debug)]
pub(super) struct Head {
    /// The keywords the text before the first heading declares.
    pub(super) declared: TodoKeywords,
    pub(super) crlf: bool,
    pub(super) ends_with_newline: bool,
    pub(super) is_empty: bool,
}

/// Reads the text before the first heading and the file's last bytes: enough to append.
/// Returns `None` when the file is missing, the preamble is too long to be worth it, or the
/// bytes read are not UTF-8 (the full read reports the line).
pub(super) fn read_head(path: &Path) -> Result<Option<Head>, OrgError> {
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
        return Ok(None);
    }
    Ok(Some(Head {
        declared,
        crlf,
        ends_with_newline: tail.last().is_none_or(|&b| b == b'\n'),
        is_empty: len == 0,
    }))
}
