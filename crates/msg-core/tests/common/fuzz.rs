//! Mutants of org files for the Emacs oracle: the fixtures and small hand-made seeds, each
//! changed in one to three places the way hand edits and broken tools change files
//! (a character inserted or deleted, lines swapped or doubled, blanks, TABs, stars, colons,
//! CRs, BOMs, case, keyword lines and blocks). Deterministic for a seed.

use std::fs;

use super::org_fixtures;

/// splitmix64: small, fast, and the same on every machine.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Hand-made seeds with the constructs the fixtures have few of.
const SEEDS: &[&str] = &[
    "#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED\n\
     * TODO [#A] First message :unread:message:\n\
     \x20 SCHEDULED: <2026-11-25 Wed>\n\
     \x20 :PROPERTIES:\n\
     \x20 :ID: msg-1\n\
     \x20 :FROM: ana@example.org\n\
     \x20 :FROM+: bo@example.org\n\
     \x20 :EMPTY:\n\
     \x20 :END:\n\
     \x20 :LOGBOOK:\n\
     \x20 - State \"TODO\"       from              [2026-11-24 Tue 10:02]\n\
     \x20 :END:\n\
     \x20 Body text.\n\
     ** DONE Child :tag_1:@home:\n\
     \x20  CLOSED: [2026-11-24 Tue 10:05] DEADLINE: <2026-11-30 Mon>\n\
     \x20  :PROPERTIES:\n\
     \x20  :ID: msg-2\n\
     \x20  :END:\n\
     * QUEUED Task with a block\n\
     \x20 :PROPERTIES:\n\
     \x20 :ID: task-3\n\
     \x20 :TRUST_TIER: owner\n\
     \x20 :END:\n\
     #+BEGIN_SRC org\n\
     #+TODO: FAKE | FAKEDONE\n\
     * not a keyword line inside\n\
     #+END_SRC\n\
     * WAITING Größe :größe:x²:\n\
     \x20 :PROPERTIES:\n\
     \x20 :ID: msg-4\n\
     \x20 :END:\n",
    "#+TODO: NEXT | FINISHED\r\n* NEXT crlf entry :a:b:\r\n  :PROPERTIES:\r\n  :ID: crlf-1\r\n  :END:\r\n* FINISHED done\r\n  CLOSED: [2026-01-01 Thu 10:00]\r\n  :PROPERTIES:\r\n  :ID: crlf-2\r\n  :END:\r\n",
    "* TODO no header\n  :PROPERTIES:\n  :ID: plain-1\n  :Custom_Key: value with: colons\n  :END:\n* DONE second\n  :PROPERTIES:\n  :ID: plain-2\n  :END:\n",
];

/// Pieces inserted at a random place.
const PIECES: &[&str] = &[
    " ",
    "\t",
    "*",
    "* ",
    "** ",
    ":",
    "::",
    "\r",
    "\n",
    "#",
    "#+",
    ",",
    "+",
    "\u{feff}",
    "é",
    "²",
    "e\u{301}",
    "\u{a0}",
    "TODO ",
    "DONE ",
    "QUEUD ",
    ":PROPERTIES:",
    ":END:",
    "[#B] ",
    ":tag:",
    "-",
    "_",
    "@",
    "%",
    "x",
];

/// Whole lines inserted at a random line start.
const LINES: &[&str] = &[
    "#+TODO: NEWKW | NEWDONE\n",
    "#+todo: LOWKW | LOWDONE\n",
    "#+BEGIN_SRC org\n#+TODO: HIDDEN | HIDDENDONE\n#+END_SRC\n",
    "#+begin_example\n#+TODO: HIDDEN2\n#+end_example\n",
    "#+BEGIN_QUOTE\n#+TODO: QUOTED | QUOTEDDONE\n#+END_QUOTE\n",
    "* NEWKW heading with a new keyword\n",
    "* HIDDEN heading\n",
    "* QUOTED heading\n",
    "  :FROM+: more@example.org\n",
    "  :todo: SPECIAL\n",
    "  :tags: special\n",
    "  :item: special\n",
    "  :lower_key: v\n",
    "  scheduled: <2026-11-25 Wed>\n",
    "  closed: [2026-11-24 Tue 10:02]\n",
    "  : note: a blank after the first colon\n",
    "  :\tTAB: after the first colon\n",
    "  :KEY:\tTAB before the value\n",
    "  :CR\rKEY: x\n",
    "\n",
];

/// One mutation of `bytes`; returns what it did.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) -> String {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let boundaries: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .filter(|&i| i <= text.len())
        .collect();
    let mut out = text.clone();
    let what = match rng.below(12) {
        0..=2 => {
            let at = *rng.pick(&boundaries);
            let piece = *rng.pick(PIECES);
            out.insert_str(at, piece);
            format!("insert {piece:?} at {at}")
        }
        3 => {
            if text.is_empty() {
                return "nothing".into();
            }
            let at = boundaries[rng.below(boundaries.len() - 1)];
            let len = text[at..].chars().next().map_or(0, char::len_utf8);
            out.replace_range(at..at + len, "");
            format!("delete at {at}")
        }
        4 => {
            let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
            if lines.len() < 2 {
                return "nothing".into();
            }
            let i = rng.below(lines.len() - 1);
            lines.swap(i, i + 1);
            out = lines.concat();
            format!("swap lines {} and {}", i + 1, i + 2)
        }
        5 => {
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            if lines.is_empty() {
                return "nothing".into();
            }
            let i = rng.below(lines.len());
            let mut doubled = lines.clone();
            doubled.insert(i, lines[i]);
            out = doubled.concat();
            format!("double line {}", i + 1)
        }
        6 => {
            let at = *rng.pick(&line_starts);
            let prefix = *rng.pick(&[" ", "\t", "*", ":", "  ", "* "]);
            out.insert_str(at, prefix);
            format!("prefix {prefix:?} at line start {at}")
        }
        7 => {
            // One line's ending: LF to CRLF, or CRLF to LF.
            let newlines: Vec<usize> = text.match_indices('\n').map(|(i, _)| i).collect();
            if newlines.is_empty() {
                return "nothing".into();
            }
            let nl = *rng.pick(&newlines);
            if nl > 0 && text.as_bytes()[nl - 1] == b'\r' {
                out.replace_range(nl - 1..nl, "");
                format!("CRLF to LF at {nl}")
            } else {
                out.insert(nl, '\r');
                format!("LF to CRLF at {nl}")
            }
        }
        8 => match rng.below(4) {
            0 => {
                out.insert(0, '\u{feff}');
                "BOM at the start".into()
            }
            1 => {
                out = text.replace("\r\n", "\n").replace('\n', "\r\n");
                "every line CRLF".into()
            }
            2 => {
                out = text.replace("\r\n", "\n").replace('\n', "\r");
                "every line CR".into()
            }
            _ => {
                out = text.replace("\r\n", "\n");
                "every line LF".into()
            }
        },
        9 => {
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            if lines.is_empty() {
                return "nothing".into();
            }
            let i = rng.below(lines.len());
            let mut changed: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            changed[i] = if rng.below(2) == 0 {
                changed[i].to_lowercase()
            } else {
                changed[i].to_uppercase()
            };
            out = changed.concat();
            format!("change the case of line {}", i + 1)
        }
        _ => {
            let at = *rng.pick(&line_starts);
            let line = *rng.pick(LINES);
            out.insert_str(at, line);
            format!("insert line {line:?} at {at}")
        }
    };
    *bytes = out.into_bytes();
    what
}

/// Every seed: the fixtures, then the hand-made ones.
pub(crate) fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut seeds: Vec<(String, Vec<u8>)> = org_fixtures()
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, fs::read(&p).unwrap())
        })
        .collect();
    for (i, seed) in SEEDS.iter().enumerate() {
        seeds.push((format!("seed-{i}"), seed.as_bytes().to_vec()));
    }
    seeds
}

/// `count` mutants for `seed`: (how it was made, bytes).
pub(crate) fn mutants(seed: u64, count: usize) -> Vec<(String, Vec<u8>)> {
    let seeds = seeds();
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|n| {
            let (name, bytes) = &seeds[rng.below(seeds.len())];
            let mut bytes = bytes.clone();
            let mut how = vec![format!("mutant {n} of {name}")];
            for _ in 0..1 + rng.below(3) {
                how.push(mutate(&mut rng, &mut bytes));
            }
            (how.join("; "), bytes)
        })
        .collect()
}
