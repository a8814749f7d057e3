//! Performance figures of the org engine on generated inboxes of 10,000 and 100,000 messages.
//!
//! `cargo bench -p msg-core` prints a Markdown table of scan throughput, peak memory, property
//! edits, keyword changes and appends next to their targets (DESIGN.md §3–§4; the method and
//! the figures are in docs/PERFORMANCE.md). It takes about half a minute.
//!
//! - `--quick` runs fewer iterations (about 10 s). Name the target so that the lib's libtest
//!   harness does not see the flag: `cargo bench -p msg-core --bench org_engine -- --quick`,
//!   or set `MSG_BENCH_QUICK=1` with any `cargo bench` command.
//! - Without `--bench` (as `cargo test --benches` or `--all-targets` runs it) it only checks,
//!   on a 200-message file, that every measurement works: about a second in a debug build.
//! - `--child scan <path> [n]`, `--child edit <path> <id> [n]` and `--child generate <n>
//!   <path>` are the child processes it starts; they are handy under `perf record` too.
//!
//! Files are written in the exact canonical form of the Python original (the `#+TODO:` header,
//! `* TODO [ts] :unread:message:`, a two-space-indented drawer, an indented body), with read
//! messages as this engine marks them (CLOSED line and LOGBOOK) and archived ones as the
//! original left them (CLOSED line only). They live in a fresh directory under
//! `std::env::temp_dir()`, removed at the end.
//!
//! Peak memory is measured in a child process (this binary re-run with `--child`), which reads
//! `VmHWM` from `/proc/self/status` before and after, so that the parent's own allocations
//! (the generated files, earlier runs) do not count.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::hint::black_box;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use msg_core::id::{IdKind, new_id};
use msg_core::org::{
    Document, Entry, EntryEditor, NewEntry, OrgError, OrgFile, Outline, TodoKeywords,
};
use msg_core::timestamp::{format_inactive, now_local};
use time::{Duration as TimeDelta, OffsetDateTime};

const STATES: &str = "TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED";
const HEADER: &str = "#+TODO: TODO WAITING QUEUED WORKING | DONE CANCELLED ARCHIVED\n";

const TARGET_SCAN_MB_S: f64 = 400.0;
const TARGET_PEAK_RATIO: f64 = 3.0;
const TARGET_APPEND_MS: f64 = 2.0;
const TARGET_EDIT_10K_MS: f64 = 20.0;

fn states() -> TodoKeywords {
    TodoKeywords::parse(STATES)
}

// ---------------------------------------------------------------------------------------------
// Generated inboxes

/// splitmix64: a small deterministic generator, so every run measures the same files (up to
/// the hash part of the IDs, which `new_id` draws from the clock).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const SENDERS: &[&str] = &[
    "tex@team.example.com",
    "gregor",
    "gregor-claude",
    "stranger@other.org",
    "ana.novak@datafund.io",
    "build-bot@ci.example.com",
];

/// Body words, some of them non-ASCII as real messages are.
const WORDS: &str = "review the PR #24 OAuth part is tricky please deploy relay tonight budget for \
    agent tasks looks fine to me can you check inbox messages Héllo ünïcode émoji ✓ and thread \
    reply later today — tests pass on CI merge when ready file report quarterly numbers look \
    good thanks! ping done.";

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// `TODO … :unread:message:`, as both versions append it.
    Unread,
    /// Marked read by this engine: `DONE`, CLOSED line, LOGBOOK note, `:message:`.
    Read,
    /// Archived by the Python original: `ARCHIVED`, CLOSED line, no LOGBOOK.
    Archived,
}

/// One message's fields; [`Message::render`] writes it in canonical form.
struct Message {
    at: OffsetDateTime,
    properties: Vec<(&'static str, String)>,
    body: Vec<String>,
}

impl Message {
    fn generate(rng: &mut Rng, at: OffsetDateTime, earlier: &[String]) -> Message {
        let words: Vec<&str> = WORDS.split_whitespace().collect();
        let stamp = format_inactive(at);
        let mut body = Vec::new();
        for line in 0..1 + rng.below(5) {
            if line > 0 && rng.below(4) == 0 {
                body.push(String::new()); // a blank line between paragraphs
            }
            let mut text = String::new();
            for word in 0..5 + rng.below(12) {
                if word > 0 {
                    text.push(' ');
                }
                text.push_str(rng.pick(&words));
            }
            body.push(text);
        }
        let from = rng.pick(SENDERS);
        let content = format!("{from}:gregor:{}", body.join("\n"));
        let id = new_id(IdKind::Message, content.as_bytes(), at);
        let mut properties = vec![
            ("ID", id),
            ("FROM", from.to_owned()),
            ("TO", "gregor".to_owned()),
        ];
        if !earlier.is_empty() && rng.below(10) < 3 {
            let parent = earlier[earlier.len() - 1 - rng.below(earlier.len().min(50))].clone();
            properties.push(("REPLY_TO", parent.clone()));
            properties.push(("THREAD", parent));
        }
        properties.push(("CREATED", stamp));
        Message {
            at,
            properties,
            body,
        }
    }

    fn id(&self) -> &str {
        &self.properties[0].1
    }

    /// The entry as the Python original (and this engine's `NewEntry`) writes it; a read
    /// message as this engine's `set_keyword("DONE")` leaves it, closed at `closed_at`.
    fn render(&self, state: State, closed_at: OffsetDateTime, out: &mut String) {
        let stamp = format_inactive(self.at);
        let closed = format_inactive(closed_at);
        let (keyword, tags) = match state {
            State::Unread => ("TODO", ":unread:message:"),
            State::Read => ("DONE", ":message:"),
            State::Archived => ("ARCHIVED", ":message:"),
        };
        let _ = writeln!(out, "* {keyword} {stamp} {tags}");
        if state != State::Unread {
            let _ = writeln!(out, "CLOSED: {closed}");
        }
        out.push_str("  :PROPERTIES:\n");
        for (key, value) in &self.properties {
            let _ = writeln!(out, "  :{key}: {value}");
        }
        out.push_str("  :END:\n");
        if state == State::Read {
            let _ = writeln!(
                out,
                "  :LOGBOOK:\n  - State {:<12} from {:<12} {closed}\n  :END:",
                "\"DONE\"", "\"TODO\""
            );
        }
        for line in &self.body {
            let _ = writeln!(out, "  {line}");
        }
    }

    fn new_entry(&self) -> NewEntry {
        NewEntry {
            keyword: Some("TODO".into()),
            priority: None,
            title: format_inactive(self.at),
            tags: vec!["unread".into(), "message".into()],
            properties: self
                .properties
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
            body: self.body.join("\n"),
        }
    }
}

struct Inbox {
    text: String,
    ids: Vec<String>,
    /// Indices (into `ids`) of the unread `TODO` entries.
    unread: Vec<usize>,
}

fn start_time() -> OffsetDateTime {
    time::macros::datetime!(2026-01-05 08:00 UTC)
}

/// `n` messages: about 70 % unread, 20 % read, 10 % archived; 30 % replies.
fn generate(n: usize, seed: u64) -> Inbox {
    let mut rng = Rng(seed);
    let mut text = String::with_capacity(n * 450);
    text.push_str(HEADER);
    let mut ids = Vec::with_capacity(n);
    let mut unread = Vec::new();
    let mut at = start_time();
    for index in 0..n {
        at += TimeDelta::seconds(30 + rng.below(600) as i64);
        let message = Message::generate(&mut rng, at, &ids);
        let state = match rng.below(10) {
            0..=6 => State::Unread,
            7..=8 => State::Read,
            _ => State::Archived,
        };
        if state == State::Unread {
            unread.push(index);
        }
        message.render(state, at + TimeDelta::minutes(5), &mut text);
        ids.push(message.id().to_owned());
    }
    Inbox { text, ids, unread }
}

/// Checks that the generator writes byte for byte what the engine writes (append, then
/// TODO→DONE with the unread tag dropped), and that a generated file scans as intended.
fn check_generator(dir: &Path) {
    let mut rng = Rng(7);
    let earlier = vec!["msg-20260105-080000-000000000000".to_owned()];
    let at = start_time();
    let closed_at = at + TimeDelta::minutes(5);
    // Draw until the message is a reply, so REPLY_TO/THREAD are checked too.
    let message = loop {
        let m = Message::generate(&mut rng, at, &earlier);
        if m.properties.len() == 6 && m.body.iter().any(String::is_empty) {
            break m;
        }
    };
    let path = dir.join("check.org");
    let file = OrgFile::new(&path, states());
    file.transaction(|txn| txn.append(&message.new_entry()))
        .expect("append");
    let mut expected = HEADER.to_owned();
    message.render(State::Unread, closed_at, &mut expected);
    assert_eq!(fs::read_to_string(&path).unwrap(), expected, "unread form");
    file.transaction(|txn| {
        txn.edit(message.id(), |e| {
            e.set_keyword("DONE", closed_at)?;
            e.set_tags(&["message"])
        })
    })
    .expect("mark read");
    let mut expected = HEADER.to_owned();
    message.render(State::Read, closed_at, &mut expected);
    assert_eq!(fs::read_to_string(&path).unwrap(), expected, "read form");

    // And what the Python original wrote: its third inbox entry, an unread reply.
    let python = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/python-v0.2.0/root/0-personal/org/messaging/inbox.org");
    let python = fs::read_to_string(python).expect("the Python v0.2.0 inbox fixture");
    let original = Message {
        at: time::macros::datetime!(2026-11-24 07:08 UTC),
        properties: vec![
            ("ID", "msg-20261124-070853-75ae0f47".into()),
            ("FROM", "tex@team.example.com".into()),
            ("TO", "gregor".into()),
            ("REPLY_TO", "msg-20261124-070853-8afa25ad".into()),
            ("THREAD", "msg-20261124-070853-f0089658".into()),
            ("CREATED", "[2026-11-24 Tue 07:08]".into()),
        ],
        body: vec!["Thanks! Ping me when done.".into()],
    };
    let mut rendered = String::new();
    original.render(State::Unread, original.at, &mut rendered);
    assert!(
        python.contains(&rendered),
        "not the original's form:\n{rendered}"
    );

    let inbox = generate(300, 1);
    let doc = Document::parse(inbox.text.clone().into_bytes(), &states());
    assert_eq!(doc.len(), 300);
    assert!(doc.duplicate_ids().is_empty());
    assert!(doc.ignored_drawers().is_empty());
    assert!(doc.invalid_utf8().is_none());
    let mut counts = [0; 3];
    for (entry, id) in doc.entries().zip(&inbox.ids) {
        assert_eq!(entry.id().as_deref(), Some(id.as_str()));
        match entry.keyword().as_deref() {
            Some("TODO") => {
                assert!(entry.has_tag("unread") && entry.closed().is_none());
                counts[0] += 1;
            }
            Some("DONE") => {
                assert!(entry.closed().is_some() && entry.logbook().is_some());
                counts[1] += 1;
            }
            Some("ARCHIVED") => {
                assert!(entry.closed().is_some() && entry.logbook().is_none());
                counts[2] += 1;
            }
            other => panic!("unexpected keyword {other:?}"),
        }
    }
    assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
    assert_eq!(counts[0], inbox.unread.len());
}

// ---------------------------------------------------------------------------------------------
// Statistics and the table

#[derive(Clone, Copy)]
struct Stats {
    median: Duration,
    p90: Duration,
    min: Duration,
    max: Duration,
    runs: usize,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    assert!(!samples.is_empty());
    samples.sort_unstable();
    let n = samples.len();
    // Nearest rank.
    let rank = |q: f64| samples[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
    Stats {
        median: if n % 2 == 1 {
            samples[n / 2]
        } else {
            (samples[n / 2 - 1] + samples[n / 2]) / 2
        },
        p90: rank(0.9),
        min: samples[0],
        max: samples[n - 1],
        runs: n,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mb(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

struct Table {
    rows: Vec<[String; 5]>,
}

impl Table {
    fn row(&mut self, figure: &str, size: &str, measured: String, target: &str, result: &str) {
        self.rows.push([
            figure.to_owned(),
            size.to_owned(),
            measured,
            target.to_owned(),
            result.to_owned(),
        ]);
    }

    fn print(&self) {
        let head = ["figure", "inbox", "measured", "target", "result"];
        let mut widths = head.map(|h| h.chars().count());
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let line = |cells: &[&str]| {
            let mut out = String::from("|");
            for (cell, w) in cells.iter().zip(widths) {
                let _ = write!(out, " {cell:<w$} |");
            }
            println!("{out}");
        };
        line(&head);
        let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
        line(&rule.iter().map(String::as_str).collect::<Vec<_>>());
        for row in &self.rows {
            line(&row.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Measurements

struct Runs {
    scan: usize,
    read_scan: usize,
    children: usize,
    edit: usize,
    append: usize,
}

impl Runs {
    fn for_mode(mode: Mode, messages: usize) -> Runs {
        let big = messages >= 50_000;
        match mode {
            Mode::Full => Runs {
                scan: if big { 9 } else { 31 },
                read_scan: if big { 7 } else { 21 },
                children: 7,
                edit: 21,
                append: 51,
            },
            Mode::Quick => Runs {
                scan: 3,
                read_scan: 3,
                children: 3,
                edit: 5,
                append: 11,
            },
            Mode::Smoke => Runs {
                scan: 1,
                read_scan: 1,
                children: 1,
                edit: 2,
                append: 2,
            },
        }
    }
}

/// `Document::parse` on bytes already in memory (the copy handed to it is made untimed).
/// Returns the first run (allocator cold) and the statistics of the `runs` after it.
fn measure_scan(bytes: &[u8], runs: usize) -> (Duration, Stats) {
    let states = states();
    let mut samples = Vec::with_capacity(runs + 1);
    for _ in 0..=runs {
        let copy = bytes.to_vec();
        let start = Instant::now();
        let doc = Document::parse(copy, &states);
        samples.push(start.elapsed());
        black_box(doc.len());
    }
    let first = samples.remove(0);
    (first, stats(samples))
}

/// The parts of the fast edit path on bytes in memory: `Outline::parse` (headings and
/// keyword lines), `Outline::find_by_id` (memmem for the ID over the whole file, then a scan
/// of the hit's section) and the whole-file UTF-8 check a write makes.
fn measure_outline(bytes: &[u8], ids: &[String], runs: usize) -> (Stats, Stats, Stats) {
    let states = states();
    let (mut parse, mut find, mut utf8) = (Vec::new(), Vec::new(), Vec::new());
    for (run, index) in spread(ids.len(), runs + 1, 0.3).enumerate() {
        let copy = bytes.to_vec();
        let start = Instant::now();
        let outline = Outline::parse(copy, &states);
        let parsed = start.elapsed();
        let start = Instant::now();
        let found = outline.find_by_id(&ids[index]).expect("unique IDs");
        let found_in = start.elapsed();
        assert!(found.is_some());
        let start = Instant::now();
        black_box(std::str::from_utf8(outline.bytes()).is_ok());
        let checked = start.elapsed();
        if run > 0 {
            parse.push(parsed);
            find.push(found_in);
            utf8.push(checked);
        }
    }
    (stats(parse), stats(find), stats(utf8))
}

/// `OrgFile::read`: open the lock file, shared lock, `fs::read` (page cache warm), scan.
fn measure_read_scan(path: &Path, runs: usize) -> Stats {
    let file = OrgFile::new(path, states());
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let doc = file.read().expect("read");
        samples.push(start.elapsed());
        black_box(doc.len());
    }
    stats(samples)
}

/// What the original's `find_unread` did: read the file and list the unread messages.
fn measure_list_unread(path: &Path, runs: usize) -> (Stats, usize) {
    let file = OrgFile::new(path, states());
    let mut samples = Vec::with_capacity(runs);
    let mut found = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let doc = file.read().expect("read");
        let unread: Vec<String> = doc
            .entries()
            .filter(|e| e.keyword().as_deref() == Some("TODO") && e.has_tag("unread"))
            .filter_map(|e| e.id().map(|id| id.into_owned()))
            .collect();
        samples.push(start.elapsed());
        found = unread.len();
    }
    (stats(samples), found)
}

/// `count` indices spread evenly over `0..len`, starting at `phase` (0..1) of a step.
fn spread(len: usize, count: usize, phase: f64) -> impl Iterator<Item = usize> {
    (0..count).map(move |i| (((i as f64 + phase) / count as f64) * len as f64) as usize % len)
}

fn abort(path: &Path) -> OrgError {
    OrgError::NotFound {
        path: path.to_owned(),
        id: "(aborted on purpose: measure without writing)".into(),
    }
}

/// A durable edit, and two controls that split its time.
struct EditFigures {
    /// `file.transaction(|txn| txn.edit(id, f))`: lock, read, scan, find, splice, guard, write
    /// a temporary file, fsync, rename, fsync the directory.
    full: Stats,
    /// The same edit of other entries, with the closure failing afterwards: everything but
    /// the guard, the copy for writing and the write.
    dry: Stats,
    /// Only the write: the file's bytes to a temporary file, fsync, rename over a scratch
    /// file, fsync the directory.
    floor: Stats,
}

type Edit<'e> = &'e dyn Fn(&mut EntryEditor<'_>, usize) -> Result<(), OrgError>;

/// Each in its own loop of back-to-back runs, as a long-running process would do them.
fn measure_edits(
    dir: &Path,
    path: &Path,
    ids: &[&str],
    dry_ids: &[&str],
    edit: Edit<'_>,
) -> EditFigures {
    let file = OrgFile::new(path, states());
    let mut full = Vec::new();
    for (run, id) in ids.iter().enumerate() {
        let start = Instant::now();
        file.transaction(|txn| txn.edit(id, |e| edit(e, run)))
            .expect("edit");
        full.push(start.elapsed());
    }
    let mut dry = Vec::new();
    for (run, id) in dry_ids.iter().enumerate() {
        let start = Instant::now();
        let result = file.transaction(|txn| {
            txn.edit(id, |e| edit(e, run))?;
            Err::<(), _>(abort(path))
        });
        dry.push(start.elapsed());
        assert!(matches!(result, Err(OrgError::NotFound { .. })));
    }
    let bytes = fs::read(path).expect("read");
    let scratch = dir.join("floor-replace.org");
    fs::write(&scratch, &bytes).unwrap();
    let mut floor = Vec::new();
    for _ in ids {
        let start = Instant::now();
        replace_durably(&scratch, &bytes);
        floor.push(start.elapsed());
    }
    fs::remove_file(&scratch).unwrap();
    EditFigures {
        full: stats(full),
        dry: stats(dry),
        floor: stats(floor),
    }
}

/// What the engine does to write an edited file, without the engine.
fn replace_durably(path: &Path, bytes: &[u8]) {
    let dir = path.parent().expect("a directory");
    let temp = dir.join(".floor-replace.org.tmp");
    let mut file = File::create_new(&temp).unwrap();
    file.write_all(bytes).unwrap();
    file.sync_all().unwrap();
    drop(file);
    fs::rename(&temp, path).unwrap();
    File::open(dir).unwrap().sync_all().unwrap();
}

struct AppendFigures {
    /// `file.transaction(|txn| txn.append(&entry))`, durable (fdatasync).
    full: Vec<Stats>,
    /// The same append with the closure failing afterwards: lock, read the head and tail,
    /// render and check the entry; no write.
    dry: Vec<Stats>,
    /// Only the write: open in append mode, write one entry's bytes, fdatasync.
    floor: Stats,
}

/// Appends to each of `paths` in turn, `runs` rounds, so both sizes see the same disk.
fn measure_appends(dir: &Path, paths: &[&Path], runs: usize) -> AppendFigures {
    let files: Vec<OrgFile> = paths.iter().map(|p| OrgFile::new(p, states())).collect();
    let scratch = dir.join("floor-append.org");
    fs::write(&scratch, HEADER).unwrap();
    let mut rng = Rng(1000);
    let mut full = vec![Vec::new(); paths.len()];
    let mut dry = vec![Vec::new(); paths.len()];
    let mut floor = Vec::new();
    for _ in 0..runs {
        for (i, file) in files.iter().enumerate() {
            let entry = Message::generate(&mut rng, now_local(), &[]).new_entry();
            let start = Instant::now();
            file.transaction(|txn| txn.append(&entry)).expect("append");
            full[i].push(start.elapsed());

            let entry = Message::generate(&mut rng, now_local(), &[]).new_entry();
            let start = Instant::now();
            let result = file.transaction(|txn| {
                txn.append(&entry)?;
                Err::<(), _>(abort(file.path()))
            });
            dry[i].push(start.elapsed());
            assert!(matches!(result, Err(OrgError::NotFound { .. })));
        }
        let mut text = String::new();
        Message::generate(&mut rng, now_local(), &[]).render(State::Unread, now_local(), &mut text);
        let start = Instant::now();
        let mut file = OpenOptions::new().append(true).open(&scratch).unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file.sync_data().unwrap();
        floor.push(start.elapsed());
    }
    fs::remove_file(&scratch).unwrap();
    AppendFigures {
        full: full.into_iter().map(stats).collect(),
        dry: dry.into_iter().map(stats).collect(),
        floor: stats(floor),
    }
}

/// What fresh memory costs on this machine: the median time to fault in (first write to)
/// one MB of newly allocated memory, in ms. Every scan pays it for its index and buffer.
fn measure_fault_in(runs: usize) -> f64 {
    const LEN: usize = 64 << 20;
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let mut memory: Vec<u8> = Vec::with_capacity(LEN);
        let start = Instant::now();
        memory.resize(LEN, 1);
        samples.push(start.elapsed());
        black_box(&memory);
    }
    ms(stats(samples).median) / mb(LEN)
}

// ---------------------------------------------------------------------------------------------
// Peak memory, in a child process

/// `VmHWM` (peak resident set) of this process, in bytes.
fn vm_hwm() -> usize {
    let status = fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .expect("VmHWM in /proc/self/status")
        * 1024
}

/// The child's side: `--child scan <path>` reads and scans the file once; `--child edit <path>
/// <id>` runs one property edit transaction. Prints `hwm_before=… hwm_after=…` in bytes.
/// `--child scan <path> <n>` and `--child edit <path> <id> <n>` repeat (for `perf record`).
fn child(args: &[String]) {
    let what = args.first().map(String::as_str);
    if what == Some("generate") {
        // `--child generate <n> <path>`: write an inbox for profiling by hand; prints the IDs of
        // its first, middle and last message.
        let n: usize = args.get(1).and_then(|n| n.parse().ok()).expect("a count");
        let inbox = generate(n, 42);
        fs::write(args.get(2).expect("a path"), inbox.text).expect("write");
        println!("{} {} {}", inbox.ids[0], inbox.ids[n / 2], inbox.ids[n - 1]);
        return;
    }
    let path = Path::new(args.get(1).expect("a path"));
    let before = vm_hwm();
    match what {
        Some("scan") => {
            let repeat: usize = args.get(2).map_or(1, |n| n.parse().expect("a count"));
            let states = states();
            for _ in 0..repeat {
                let start = Instant::now();
                let bytes = fs::read(path).expect("read");
                let read = start.elapsed();
                let doc = Document::parse(bytes, &states);
                let total = start.elapsed();
                black_box(doc.len());
                if repeat == 1 {
                    // Measured while the document is alive.
                    println!(
                        "hwm_before={before} hwm_after={} read_ns={} parse_ns={}",
                        vm_hwm(),
                        read.as_nanos(),
                        (total - read).as_nanos()
                    );
                }
            }
        }
        Some("edit") => {
            let id = args.get(2).expect("an id");
            let repeat: usize = args.get(3).map_or(1, |n| n.parse().expect("a count"));
            let file = OrgFile::new(path, states());
            let start = Instant::now();
            for run in 0..repeat {
                let value = format!("{}-{run}", std::process::id());
                file.transaction(|txn| txn.edit(id, |e| e.set_property("BENCH_MEM", &value)))
                    .expect("edit");
            }
            let elapsed = start.elapsed();
            println!(
                "hwm_before={before} hwm_after={} edit_ns={}",
                vm_hwm(),
                elapsed.as_nanos()
            );
        }
        _ => panic!("usage: org_engine --child scan|edit <path> [id|repeat]"),
    }
}

/// Runs this binary as `--child args…` and returns the `name=number` fields it printed.
fn run_child(args: &[&str]) -> Vec<(String, u128)> {
    let exe = std::env::current_exe().expect("current_exe");
    let output = Command::new(exe)
        .arg("--child")
        .args(args)
        .output()
        .expect("run the child");
    assert!(
        output.status.success(),
        "child {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .filter_map(|w| {
            let (name, value) = w.split_once('=')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

fn field(fields: &[(String, u128)], name: &str) -> u128 {
    fields
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("the child printed no {name}: {fields:?}"))
        .1
}

/// Peak RSS growth of a fresh process reading and scanning `path` (the first child), and
/// the read and scan times of `runs` such processes.
fn measure_fresh_scans(path: &str, runs: usize) -> (usize, Stats, Stats) {
    let mut peak = 0;
    let (mut reads, mut parses) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let fields = run_child(&["scan", path]);
        if run == 0 {
            peak = (field(&fields, "hwm_after") - field(&fields, "hwm_before")) as usize;
        }
        reads.push(Duration::from_nanos(field(&fields, "read_ns") as u64));
        parses.push(Duration::from_nanos(field(&fields, "parse_ns") as u64));
    }
    (peak, stats(reads), stats(parses))
}

/// One property edit transaction in each of `ids.len()` fresh processes (as a hook or the
/// `msg` command runs it): the peak RSS growth of the first, and the times.
fn measure_fresh_edits(path: &str, ids: &[&str]) -> (usize, Stats) {
    let mut peak = 0;
    let mut times = Vec::new();
    for (run, id) in ids.iter().enumerate() {
        let fields = run_child(&["edit", path, id]);
        if run == 0 {
            peak = (field(&fields, "hwm_after") - field(&fields, "hwm_before")) as usize;
        }
        times.push(Duration::from_nanos(field(&fields, "edit_ns") as u64));
    }
    (peak, stats(times))
}

// ---------------------------------------------------------------------------------------------
// The run

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Full,
    Quick,
    Smoke,
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("msg-core-bench-{}-{nanos}", std::process::id()));
        fs::create_dir_all(&path).expect("create the bench directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn label(messages: usize) -> String {
    let digits = messages.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn fmt_ms(s: &Stats) -> String {
    format!("median {:.2} ms, p90 {:.2} ms", ms(s.median), ms(s.p90))
}

fn rate(bytes: usize, d: Duration) -> f64 {
    mb(bytes) / d.as_secs_f64()
}

/// The 1-minute load average: other work on the machine (a build) skews every figure.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn run(mode: Mode) {
    let started = Instant::now();
    let load_before = load_average();
    let dir = TempDir::new();
    check_generator(&dir.0);
    let sizes: &[usize] = match mode {
        Mode::Smoke => &[200],
        _ => &[10_000, 100_000],
    };
    let mut table = Table { rows: Vec::new() };
    let mut notes = vec![
        format!(
            "size_of::<Entry>() = {} B; each entry also owns a heap Vec of its properties",
            std::mem::size_of::<Entry>()
        ),
        format!(
            "faulting in fresh memory (first write to newly allocated pages): {:.2} ms per MB",
            measure_fault_in(if mode == Mode::Full { 9 } else { 3 })
        ),
    ];
    let mut prepared = Vec::new();
    for (n, &messages) in sizes.iter().enumerate() {
        let inbox = generate(messages, 42 + n as u64);
        let path = dir.0.join(format!("inbox-{messages}.org"));
        fs::write(&path, &inbox.text).unwrap();
        File::open(&path).unwrap().sync_all().unwrap();
        prepared.push((messages, path, inbox));
    }
    File::open(&dir.0).unwrap().sync_all().unwrap();

    // 5. Appends first, while the disk is quiet (the edits below write gigabytes that the
    // kernel flushes for a while), both sizes in turn within each round.
    let append_runs = Runs::for_mode(mode, 0).append;
    let paths: Vec<&Path> = prepared.iter().map(|(_, p, _)| p.as_path()).collect();
    let appends = measure_appends(&dir.0, &paths, append_runs);

    for (messages, path, inbox) in &prepared {
        let (messages, path) = (*messages, path.as_path());
        let runs = Runs::for_mode(mode, messages);
        let size = label(messages);
        let bytes = inbox.text.as_bytes();
        table.row(
            "file size",
            &size,
            format!(
                "{:.1} MB ({} B/message)",
                mb(bytes.len()),
                bytes.len() / messages
            ),
            "",
            "",
        );

        // 1. Scan throughput.
        let (first, scan) = measure_scan(bytes, runs.scan);
        let scan_rate = rate(bytes.len(), scan.median);
        table.row(
            "scan, bytes in memory (`Document::parse`)",
            &size,
            format!(
                "{scan_rate:.0} MB/s (median {:.1} ms of {}; first run {:.0} MB/s)",
                ms(scan.median),
                scan.runs,
                rate(bytes.len(), first)
            ),
            "≥ 400 MB/s",
            verdict(scan_rate >= TARGET_SCAN_MB_S),
        );
        let (outline, find, utf8) = measure_outline(bytes, &inbox.ids, runs.scan);
        table.row(
            "outline, bytes in memory (`Outline::parse`: headings only)",
            &size,
            format!(
                "{:.0} MB/s (median {:.2} ms of {})",
                rate(bytes.len(), outline.median),
                ms(outline.median),
                outline.runs
            ),
            "",
            "",
        );
        table.row(
            "  find an ID in it (`Outline::find_by_id`: memmem + one section)",
            &size,
            fmt_ms(&find),
            "",
            "",
        );
        table.row(
            "  UTF-8 check of the whole file (`str::from_utf8`)",
            &size,
            fmt_ms(&utf8),
            "",
            "",
        );
        let read = measure_read_scan(path, runs.read_scan);
        let read_rate = rate(bytes.len(), read.median);
        table.row(
            "read + scan (`OrgFile::read`, page cache warm)",
            &size,
            format!(
                "{read_rate:.0} MB/s (median {:.1} ms of {})",
                ms(read.median),
                read.runs
            ),
            "≥ 400 MB/s",
            verdict(read_rate >= TARGET_SCAN_MB_S),
        );

        // 2. A fresh process: peak memory, and the scan as a hook or `msg` sees it.
        let path_arg = path.to_str().expect("UTF-8 temp path");
        let (peak, fresh_read, fresh_parse) = measure_fresh_scans(path_arg, runs.children);
        table.row(
            "fresh process: `fs::read` + `Document::parse`",
            &size,
            format!(
                "scan {:.0} MB/s, read + scan {:.0} MB/s (median of {})",
                rate(bytes.len(), fresh_parse.median),
                rate(bytes.len(), fresh_read.median + fresh_parse.median),
                fresh_parse.runs
            ),
            "",
            "",
        );
        let ratio = peak as f64 / bytes.len() as f64;
        table.row(
            "peak RSS growth of read + scan / file size",
            &size,
            format!(
                "{ratio:.2}× ({:.1} MB; {} B/entry beyond the text)",
                mb(peak),
                peak.saturating_sub(bytes.len()) / messages
            ),
            "≤ 3×",
            verdict(ratio <= TARGET_PEAK_RATIO),
        );
        let (unread, found) = measure_list_unread(path, runs.read_scan);
        assert_eq!(found, inbox.unread.len() + append_runs);
        table.row(
            "list unread (read + scan + filter + collect IDs)",
            &size,
            format!("median {:.1} ms ({found} unread)", ms(unread.median)),
            "",
            "",
        );

        // 3. One property edit, durable; 4. one keyword change, durable.
        let edit_target = |f: &EditFigures| {
            if messages == 10_000 {
                ("≤ 20 ms", verdict(ms(f.full.median) <= TARGET_EDIT_10K_MS))
            } else {
                ("", "")
            }
        };
        let ids = |phase: f64| -> Vec<&str> {
            spread(messages, runs.edit, phase)
                .map(|i| inbox.ids[i].as_str())
                .collect()
        };
        // Fresh processes first, while the disk is quiet: the in-process edits below write
        // hundreds of MB that the kernel flushes for seconds afterwards, and an `fsync` in
        // ext4's ordered mode waits for that (a child's edit measured 20–24 ms right after
        // them and 8–12 ms on a quiet disk, the same code).
        let (edit_peak, fresh_edit) = measure_fresh_edits(path_arg, &ids(0.125)[..runs.children]);
        let property = measure_edits(&dir.0, path, &ids(0.5), &ids(0.25), &|e, run| {
            e.set_property("BENCH_NOTE", &format!("run {run}"))
        });
        let unread_ids = |phase: f64| -> Vec<&str> {
            spread(inbox.unread.len(), runs.edit, phase)
                .map(|i| inbox.ids[inbox.unread[i]].as_str())
                .collect()
        };
        let keyword = measure_edits(
            &dir.0,
            path,
            &unread_ids(0.5),
            &unread_ids(0.25),
            &|e, _| e.set_keyword("DONE", now_local()),
        );
        for (name, figures) in [
            (
                "property edit (`txn.edit` + `set_property`), durable",
                &property,
            ),
            (
                "keyword TODO→DONE (`set_keyword`: CLOSED + LOGBOOK), durable",
                &keyword,
            ),
        ] {
            let (target, result) = edit_target(figures);
            table.row(name, &size, fmt_ms(&figures.full), target, result);
            table.row(
                "  the same without the write (closure fails after the edit)",
                &size,
                fmt_ms(&figures.dry),
                "",
                "",
            );
            table.row(
                "  the write alone (temp + fsync + rename + dir fsync)",
                &size,
                fmt_ms(&figures.floor),
                "",
                "",
            );
            notes.push(format!(
                "{size}: {name}: min {:.2} ms, max {:.2} ms over {} runs",
                ms(figures.full.min),
                ms(figures.full.max),
                figures.full.runs
            ));
        }
        table.row(
            "fresh process: one property edit, durable",
            &size,
            format!("{} ({} processes)", fmt_ms(&fresh_edit), fresh_edit.runs),
            "",
            "",
        );
        table.row(
            "peak RSS growth of one edit transaction / file size",
            &size,
            format!(
                "{:.2}× ({:.1} MB)",
                edit_peak as f64 / bytes.len() as f64,
                mb(edit_peak)
            ),
            "",
            "",
        );
    }
    for (i, (messages, _, _)) in prepared.iter().enumerate() {
        let size = label(*messages);
        let (full, dry) = (&appends.full[i], &appends.dry[i]);
        table.row(
            "append (`txn.append`, fdatasync)",
            &size,
            fmt_ms(full),
            "≤ 2 ms",
            verdict(ms(full.median) <= TARGET_APPEND_MS),
        );
        table.row(
            "  the same without the write (closure fails after the append)",
            &size,
            fmt_ms(dry),
            "",
            "",
        );
        notes.push(format!(
            "{size}: append: min {:.2} ms, max {:.2} ms over {} runs",
            ms(full.min),
            ms(full.max),
            full.runs
        ));
    }
    table.row(
        "  the write alone (open + write + fdatasync)",
        "",
        fmt_ms(&appends.floor),
        "",
        "",
    );
    if prepared.len() == 2 {
        let ratio = |s: &[Stats]| s[1].median.as_secs_f64() / s[0].median.as_secs_f64();
        let (full, dry) = (ratio(&appends.full), ratio(&appends.dry));
        let growth = prepared[1].2.text.len() as f64 / prepared[0].2.text.len() as f64;
        table.row(
            "append median at 100,000 ÷ at 10,000 (durable; without write)",
            "both",
            format!("{full:.2}; {dry:.2} (the file is {growth:.0}× larger)"),
            "≈ 1 (independent of size)",
            verdict(full <= 1.5 && dry <= 1.5),
        );
    }

    // Every file must still be whole: every message, plus the appends, no duplicate ID.
    for (messages, path, _) in &prepared {
        let doc = OrgFile::new(path, states()).read().unwrap();
        assert_eq!(doc.len(), messages + append_runs);
        assert!(doc.duplicate_ids().is_empty());
        assert!(doc.invalid_utf8().is_none());
    }
    if mode == Mode::Smoke {
        println!("org_engine bench: smoke run passed (run `cargo bench -p msg-core` for figures)");
        return;
    }
    println!();
    println!(
        "org engine ({} mode, {} CPUs, load average {load_before} before and {} after; files \
         under {}; MB = 10^6 bytes)",
        if mode == Mode::Quick { "quick" } else { "full" },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average(),
        std::env::temp_dir().display()
    );
    println!();
    table.print();
    println!();
    for note in notes {
        println!("{note}");
    }
    println!("total bench time {:.1} s", started.elapsed().as_secs_f64());
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        child(&args[at + 1..]);
        return;
    }
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then only check that
    // the measurements work, quickly, in whatever profile the test run uses.
    let mode = if !args.iter().any(|a| a == "--bench") {
        Mode::Smoke
    } else if args.iter().any(|a| a == "--quick")
        || std::env::var_os("MSG_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0")
    {
        Mode::Quick
    } else {
        Mode::Full
    };
    run(mode);
}
