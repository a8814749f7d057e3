//! "Did you mean": the known word closest to a mistyped one (`msg sned` → `send`,
//! `task-queue aprove` → `approve`, `messaging.show_in_todya` → `show_in_today`), for the
//! programs' usage errors (`cli/`) and `msg doctor`'s settings check (`setup/`).

/// The edit distance of `a` and `b` counting an adjacent swap as one edit (the optimal
/// string alignment distance), over characters.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

/// The candidate `given` most likely means: the nearest within two edits (one for words of
/// up to four characters), else the only one it is a prefix of (three characters at least).
pub(crate) fn closest<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let given_lower = given.to_lowercase();
    let allowed = if given.chars().count() <= 4 { 1 } else { 2 };
    let candidates: Vec<&str> = candidates.into_iter().collect();
    let nearest = candidates
        .iter()
        .map(|c| (distance(&given_lower, &c.to_lowercase()), *c))
        .filter(|(d, _)| *d <= allowed)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c);
    nearest.or_else(|| {
        let prefixed: Vec<&str> = candidates
            .iter()
            .copied()
            .filter(|c| given.len() >= 3 && c.starts_with(given))
            .collect();
        match prefixed.as_slice() {
            [only] => Some(*only),
            _ => None,
        }
    })
}

/// ` (did you mean `…`?)` for [`closest`], or nothing.
pub(crate) fn did_you_mean<'a>(
    given: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    prefix: &str,
) -> String {
    closest(given, candidates)
        .map(|word| format!(" (did you mean `{prefix}{word}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMANDS: [&str; 6] = ["send", "inbox", "show", "read", "unread", "thread"];

    #[test]
    fn typos_find_their_word_and_nonsense_finds_nothing() {
        assert_eq!(distance("sned", "send"), 1);
        assert_eq!(distance("aprove", "approve"), 1);
        assert_eq!(closest("sned", COMMANDS), Some("send"));
        assert_eq!(closest("inbx", COMMANDS), Some("inbox"));
        assert_eq!(closest("thred", COMMANDS), Some("thread"));
        assert_eq!(closest("SEND", COMMANDS), Some("send"));
        assert_eq!(closest("unre", COMMANDS), Some("unread"));
        assert_eq!(closest("aprove", ["approve", "reject"]), Some("approve"));
        assert_eq!(closest("--jsn", ["--json", "--all"]), Some("--json"));
        assert_eq!(closest("xyzzy", COMMANDS), None);
        assert_eq!(closest("re", COMMANDS), None);
        assert_eq!(
            did_you_mean("sned", COMMANDS, "msg "),
            " (did you mean `msg send`?)"
        );
    }
}
