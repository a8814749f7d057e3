//! `msg doctor`: checks the settings and every messaging file, and says what to fix.
//!
//! The settings load, their tiers are defined, you are the owner of your agent; every org
//! file (inbox, outbox, archives, task files) is valid UTF-8, has a `#+TODO:` header that
//! declares every keyword it uses, no duplicate IDs and no property drawer that Emacs would
//! ignore (each reported with its line and why); `contacts.yaml`, the governor's state, the
//! task admission links and the watcher's state read; no v0.1.0 files wait for `msg migrate`.
//!
//! [`check`] changes nothing. [`fix`] applies only fixes that cannot lose or misread
//! anything, each under the file's lock and written atomically, and says what it did: a
//! missing `#+TODO:` header is added, undeclared keywords are declared in a new `#+TODO:`
//! line, a missing inbox or outbox is created. It never guesses: duplicate IDs, drawers
//! Emacs ignores and invalid UTF-8 are left for the person, with what to do.

use std::path::{Path, PathBuf};

use msg_core::config::Settings;
use msg_core::figures::counted;
use msg_core::id::{IdKind, parse_id};
use msg_core::org::{Document, Eol, OrgError, OrgFile, TodoKeywords};
use msg_core::paths::Paths;
use msg_core::timestamp::{OffsetSource, local_offset_source};
use msg_inbox::TaskState;
use serde_json::{Value, json};

use crate::context::Context;
use crate::error::HooksError;
use crate::hook::seen::{SeenState, seen_file};
use crate::record::Record as _;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// All is well.
    Ok,
    /// Works, but probably not as intended.
    Warning,
    /// Something does not work until it is fixed.
    Error,
    /// Worth knowing, possibly intended (not counted).
    Note,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Note => "note",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finding {
    /// How serious.
    pub(crate) level: Level,
    /// What it is about: a file, or `settings`.
    pub(crate) subject: String,
    /// The 1-based line of the file it is about, when there is one.
    pub(crate) line: Option<usize>,
    /// What was found, and what to do.
    pub(crate) message: String,
}

impl Finding {
    /// A finding about `subject` as a whole.
    pub(crate) fn new(
        level: Level,
        subject: impl Into<String>,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            level,
            subject: subject.into(),
            line: None,
            message: message.into(),
        }
    }
}

/// Everything `msg doctor` found.
#[derive(Debug, Clone, Default)]
pub(crate) struct Report {
    /// The findings, in the order checked.
    pub(crate) findings: Vec<Finding>,
}

impl Report {
    fn push(&mut self, level: Level, subject: impl Into<String>, message: impl Into<String>) {
        self.findings.push(Finding::new(level, subject, message));
    }

    /// A finding about line `line` of the file `subject`.
    fn push_at(&mut self, level: Level, subject: &str, line: usize, message: impl Into<String>) {
        self.findings.push(Finding {
            line: Some(line),
            ..Finding::new(level, subject, message)
        });
    }

    /// How many findings have `level`.
    pub(crate) fn count(&self, level: Level) -> usize {
        self.findings.iter().filter(|f| f.level == level).count()
    }

    /// The report for a terminal: one line per finding, `FILE:LINE: level: message` (the
    /// form compilation-mode and editors jump to) or `SUBJECT: level: message`, then the
    /// totals.
    pub(crate) fn to_text(&self) -> String {
        let mut out = String::new();
        for finding in &self.findings {
            let at = match finding.line {
                Some(line) => format!("{}:{line}", finding.subject),
                None => finding.subject.clone(),
            };
            out.push_str(&format!(
                "{at}: {}: {}\n",
                finding.level.name(),
                finding.message.replace('\n', " ")
            ));
        }
        let errors = self.count(Level::Error);
        let warnings = self.count(Level::Warning);
        out.push_str(&format!(
            "{errors} {}, {warnings} {}\n",
            if errors == 1 { "error" } else { "errors" },
            if warnings == 1 { "warning" } else { "warnings" }
        ));
        out
    }

    /// The report as JSON.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "errors": self.count(Level::Error),
            "warnings": self.count(Level::Warning),
            "findings": self.findings.iter().map(|f| json!({
                "level": f.level.name(),
                "subject": f.subject,
                "line": f.line,
                "message": f.message,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Checks the Datacore root of `paths` and `space` (else the default space).
pub(crate) fn check(paths: &Paths, space: Option<&str>) -> Report {
    let mut report = Report::default();
    let root = paths.root();
    if !root.is_dir() {
        report.push(
            Level::Error,
            root.display().to_string(),
            "the Datacore root does not exist: set DATACORE_ROOT or run `msg init`",
        );
        return report;
    }
    let settings_file = paths.settings_file();
    let subject = settings_file.display().to_string();
    let settings = match Settings::load(root) {
        Ok(settings) => {
            if settings_file.exists() {
                report.push(Level::Ok, &subject, "loads");
            } else {
                report.push(
                    Level::Warning,
                    &subject,
                    "missing: the defaults apply; `msg init` writes one",
                );
            }
            settings
        }
        Err(err) => {
            report.push(Level::Error, &subject, err.to_string());
            report.push(
                Level::Warning,
                "settings",
                "the other checks use the defaults until the settings file loads",
            );
            Settings::default()
        }
    };
    if let Ok(text) = std::fs::read_to_string(&settings_file) {
        for (key, closest) in super::settings_keys::unknown_keys(&text) {
            report.push(
                Level::Warning,
                "settings",
                format!(
                    "{key} is not a setting of datacore-messaging{}; as written it is ignored and the default applies",
                    closest
                        .map(|c| format!(" (did you mean {c}?)"))
                        .unwrap_or_default()
                ),
            );
        }
    }
    for (actor, tier) in settings.unknown_tiers_in_overrides() {
        report.push(
            Level::Error,
            "settings",
            format!(
                "messaging.trust_overrides gives {actor:?} the tier {tier:?}, which is neither built in (owner, team, trusted, unknown) nor defined under messaging.trust_tiers; it gets the unknown tier's limits: correct the name or define the tier"
            ),
        );
    }
    let ctx = match Context::new(paths.clone(), settings, space) {
        Ok(ctx) => ctx,
        Err(err) => {
            report.push(Level::Error, "settings", err.to_string());
            return report;
        }
    };
    let user = ctx.user();
    if user == "unknown" {
        report.push(
            Level::Warning,
            "settings",
            "no identity.name and no $USER: you are \"unknown\"; set identity.name",
        );
    }
    if ctx.is_owner(user) {
        report.push(
            Level::Ok,
            "settings",
            format!("you are {user:?}, owner; your agent is {:?}", ctx.agent()),
        );
    } else {
        report.push(
            Level::Warning,
            "settings",
            format!(
                "you ({user:?}) are not listed as owner under messaging.trust_overrides: your own tasks wait for approval and the hook frames your text as untrusted; add `{user}: owner`"
            ),
        );
    }
    let source = match local_offset_source() {
        OffsetSource::Configured => "from messaging.utc_offset",
        OffsetSource::Detected => "from the system",
        OffsetSource::FallbackUtc => "unknown, UTC used: set messaging.utc_offset",
    };
    report.push(
        if local_offset_source() == OffsetSource::FallbackUtc {
            Level::Warning
        } else {
            Level::Ok
        },
        "time",
        format!("local UTC offset {source}"),
    );

    check_org_files(&ctx, &mut report);
    check_v010(&ctx, &mut report);
    check_contacts(&ctx, &mut report);
    check_state(&ctx, &mut report);
    for (seriousness, subject, message) in super::integration::report(&ctx) {
        let level = match seriousness {
            super::integration::Seriousness::Ok => Level::Ok,
            super::integration::Seriousness::Warning => Level::Warning,
            super::integration::Seriousness::Note => Level::Note,
        };
        report.push(level, subject, message);
    }
    report
}

/// The messaging org files of the context's space: inbox, outbox, task files, archives.
fn org_files(ctx: &Context) -> Vec<PathBuf> {
    let Ok(messaging) = ctx.paths().messaging_dir(ctx.space()) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = vec![messaging.join("inbox.org"), messaging.join("outbox.org")];
    for dir in [messaging.join("agents"), messaging.join("archive")] {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "org"))
                .collect();
            found.sort();
            files.extend(found);
        }
    }
    files
}

fn check_org_files(ctx: &Context, report: &mut Report) {
    if let Err(err) = ctx.paths().messaging_dir(ctx.space()) {
        report.push(Level::Error, "space", err.to_string());
        return;
    }
    for path in &org_files(ctx) {
        if !path.exists() {
            report.push(
                Level::Warning,
                path.display().to_string(),
                "missing: `msg init` or `msg doctor --fix` creates it",
            );
            continue;
        }
        check_org_file(path, report);
    }
}

/// The keywords the stores write, for files that declare none.
fn store_states() -> TodoKeywords {
    TodoKeywords::parse(msg_store::STATES)
}

fn check_org_file(path: &Path, report: &mut Report) {
    let subject = path.display().to_string();
    let subject = subject.as_str();
    let file = OrgFile::new(path, store_states());
    let doc = match file.read() {
        Ok(doc) => doc,
        Err(err) => {
            report.push(Level::Error, subject, err.to_string());
            return;
        }
    };
    let before = report.findings.len();
    if let Some(bad) = doc.invalid_utf8() {
        report.push_at(
            Level::Error,
            subject,
            bad.line,
            "not valid UTF-8: the file is read but never written; re-save it as UTF-8",
        );
    }
    check_line_endings(&doc, subject, report);
    match undeclared(&doc) {
        Undeclared::Nothing => {}
        Undeclared::NoHeader => report.push_at(
            Level::Error,
            subject,
            1,
            format!(
                "no #+TODO: header, so Emacs reads only TODO and DONE as keywords here (`msg doctor --fix` adds `#+TODO: {}`)",
                msg_store::STATES
            ),
        ),
        Undeclared::Keywords(found) => {
            for (keyword, line) in found {
                report.push_at(
                    Level::Error,
                    subject,
                    line,
                    format!(
                        "the keyword {keyword} is not declared by a #+TODO: line, so Emacs reads it as part of the title (`msg doctor --fix` declares it)"
                    ),
                );
            }
        }
    }
    for duplicate in doc.duplicate_ids() {
        report.push_at(
            Level::Error,
            subject,
            duplicate.second_line,
            format!(
                "{duplicate}: operations on that ID refuse to guess; give one of them a new ID"
            ),
        );
    }
    for ignored in doc.drawer_problems() {
        report.push_at(
            Level::Error,
            subject,
            ignored.line,
            format!(
                "a property drawer Emacs ignores ({}); its properties (the ID too) are not read until it is repaired by hand",
                ignored.problem
            ),
        );
    }
    check_keywordless(&doc, path, subject, report);
    if report.findings.len() == before {
        report.push(Level::Ok, subject, counted(doc.len(), "entry", "entries"));
    }
}

/// Line endings Emacs reads differently from how the file looks: CR only (we never write
/// such a file), or CRLF lines in a file that also has an LF-only line (Emacs then reads
/// every line as Unix, and a CR ends no drawer line).
fn check_line_endings(doc: &Document, subject: &str, report: &mut Report) {
    if doc.line_endings() == Eol::Mac {
        report.push_at(
            Level::Error,
            subject,
            1,
            "its lines end in CR only (classic Mac OS): Emacs and msg read it, but msg never writes to it; convert it to LF (in Emacs: C-x RET f utf-8-unix RET, then save)",
        );
    }
    let crlf = doc.lines_ending_in_cr();
    if let Some(&first) = crlf.first() {
        report.push_at(
            Level::Error,
            subject,
            first,
            format!(
                "{} end in CR LF while others end in LF alone, so Emacs reads every line as Unix and their CR as text (`^M`): drawers on those lines are ignored and their IDs not read; convert the file to one kind (in Emacs: C-x RET f utf-8-unix RET, then save)",
                counted(crlf.len(), "line", "lines")
            ),
        );
    }
}

/// Entries with one of our IDs (`msg-`, `file-`, `task-`, `org-`) but no keyword, or, in a
/// task file, no task keyword (mistyped in Emacs): Emacs, the task list and the hook do not
/// see them, and a task's governor admission stays counted until the keyword is back.
fn check_keywordless(doc: &Document, path: &Path, subject: &str, report: &mut Report) {
    let task_file = path
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|dir| dir == "agents");
    for entry in doc.entries() {
        let Some(id) = entry.id() else { continue };
        let ours = !matches!(parse_id(&id).kind, IdKind::Other | IdKind::Thread);
        let keyword = entry.keyword();
        let missing = match &keyword {
            None => ours,
            Some(keyword) => task_file && TaskState::from_keyword(keyword).is_none(),
        };
        if !missing {
            continue;
        }
        let word = keyword
            .or_else(|| entry.keyword_like())
            .map(|w| format!(" ({w:?} is not one)"))
            .unwrap_or_default();
        let admission = entry
            .property(crate::desk::ADMISSION_PROPERTY)
            .map(|a| format!(", and the governor still counts its admission {a}"))
            .unwrap_or_default();
        let (what, states, unseen) = if task_file {
            (
                "task",
                "TODO, WAITING, QUEUED, WORKING, DONE, CANCELLED or ARCHIVED",
                "Emacs, `msg tasks` and the hook do not see it as a task",
            )
        } else {
            (
                "entry",
                "TODO, DONE or ARCHIVED",
                "msg cannot say whether it is read",
            )
        };
        report.push_at(
            Level::Error,
            subject,
            entry.line(),
            format!(
                "{what} {id} has no keyword{word}: {unseen}{admission}; set one of {states} (in Emacs: C-c C-t on the heading)"
            ),
        );
    }
}

/// What a file's `#+TODO:` lines lack.
#[derive(Debug, PartialEq, Eq)]
enum Undeclared {
    /// Every keyword used is declared.
    Nothing,
    /// The file has no `#+TODO:` line at all.
    NoHeader,
    /// These keywords, each with the first line using it, are not declared.
    Keywords(Vec<(String, usize)>),
}

fn undeclared(doc: &Document) -> Undeclared {
    let declared = doc.declared_keywords();
    if declared.sequences().is_empty() {
        return Undeclared::NoHeader;
    }
    let mut found: Vec<(String, usize)> = Vec::new();
    for entry in doc.entries() {
        if let Some(keyword) = entry.keyword()
            && !declared.contains(&keyword)
            && !found.iter().any(|(k, _)| *k == keyword)
        {
            found.push((keyword.into_owned(), entry.line()));
        }
    }
    if found.is_empty() {
        Undeclared::Nothing
    } else {
        Undeclared::Keywords(found)
    }
}

/// One fix `msg doctor --fix` applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fixed {
    /// The file.
    pub(crate) path: PathBuf,
    /// What was done.
    pub(crate) what: String,
}

/// Applies the safe fixes below `paths` for `space`, then checks again. Returns what was
/// fixed and the report of what remains.
pub(crate) fn fix(paths: &Paths, space: Option<&str>) -> (Vec<Fixed>, Vec<Finding>, Report) {
    let mut fixed = Vec::new();
    let mut failed = Vec::new();
    if let Ok(settings) = Settings::load(paths.root())
        && let Ok(ctx) = Context::new(paths.clone(), settings, space)
    {
        if let (Ok(inbox), Ok(outbox)) = (
            ctx.inbox_file(),
            ctx.paths()
                .outbox_file(ctx.space())
                .map_err(HooksError::from),
        ) && (!inbox.exists() || !outbox.exists())
        {
            let missing: Vec<PathBuf> = [inbox, outbox]
                .into_iter()
                .filter(|p| !p.exists())
                .collect();
            match ctx.store() {
                Ok(_) => fixed.extend(missing.into_iter().map(|path| Fixed {
                    path,
                    what: "created it with its #+TODO: header".into(),
                })),
                Err(err) => failed.push(Finding::new(Level::Error, "fix", err.to_string())),
            }
        }
        for path in org_files(&ctx) {
            if !path.exists() {
                continue;
            }
            match declare_keywords(&path) {
                Ok(Some(what)) => fixed.push(Fixed { path, what }),
                Ok(None) => {}
                Err(err) => failed.push(Finding::new(
                    Level::Error,
                    path.display().to_string(),
                    format!("not fixed: {err}"),
                )),
            }
        }
    }
    if let Ok(settings) = Settings::load(paths.root())
        && let Ok(ctx) = Context::new(paths.clone(), settings, space)
        && let Ok(governor) = ctx.governor()
        && let Ok(active) = governor.active_admissions()
    {
        for orphan in orphaned_admissions(&ctx, active) {
            match governor.release(&orphan.id) {
                Ok(_) => fixed.push(Fixed {
                    path: governor.state_file().to_owned(),
                    what: format!(
                        "released admission {} ({}), which belonged to no task",
                        orphan.id, orphan.actor
                    ),
                }),
                Err(err) => failed.push(Finding::new(
                    Level::Error,
                    governor.state_file().display().to_string(),
                    format!("not fixed: {err}"),
                )),
            }
        }
    }
    (fixed, failed, check(paths, space))
}

/// The keyword line `doc` needs, or `None`.
fn needed_line(doc: &Document) -> Option<String> {
    match undeclared(doc) {
        Undeclared::Nothing => None,
        Undeclared::NoHeader => Some(format!("#+TODO: {}", msg_store::STATES)),
        Undeclared::Keywords(found) => {
            let words: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
            let missing = doc
                .declared_keywords()
                .missing_from(&words, &store_states());
            Some(format!("#+TODO: {}", missing.to_line_value()))
        }
    }
}

/// How the entries of `doc` read: keyword, title and ID of each, in order.
fn reading(doc: &Document) -> Vec<(Option<String>, String, Option<String>)> {
    doc.entries()
        .map(|e| {
            (
                e.keyword().map(|k| k.into_owned()),
                e.title().into_owned(),
                e.id().map(|id| id.into_owned()),
            )
        })
        .collect()
}

/// Adds the `#+TODO:` line `path` needs, in one transaction of the org engine (under the
/// file's lock, written atomically, refused when another program changed the file
/// meanwhile); `None` when it needs none. Files that are not UTF-8 are left alone, and a
/// result that would read differently apart from the keywords is refused.
fn declare_keywords(path: &Path) -> Result<Option<String>, HooksError> {
    let file = OrgFile::new(path, store_states());
    // Set when the closure refuses the result, to say why in doctor's words.
    let mut refused: Option<(String, usize)> = None;
    let outcome = file.transaction(|txn| {
        let doc = txn.document()?;
        if doc.invalid_utf8().is_some() {
            return Ok(None);
        }
        let Some(line) = needed_line(doc) else {
            return Ok(None);
        };
        let words: Vec<String> = match undeclared(doc) {
            Undeclared::Keywords(found) => found.into_iter().map(|(k, _)| k).collect(),
            // No header: any missing keyword makes the engine write the whole sequence.
            Undeclared::NoHeader | Undeclared::Nothing => msg_store::STATES
                .split_whitespace()
                .filter(|w| *w != "|")
                .map(str::to_owned)
                .collect(),
        };
        let before = reading(doc);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let Some(at) = txn.declare_keywords(&words)? else {
            return Ok(None);
        };
        let fixed = txn.document()?;
        if reading(fixed) != before || undeclared(fixed) != Undeclared::Nothing {
            refused = Some((line, at));
            return Err(OrgError::Guard {
                path: path.to_owned(),
                line: at,
                reason: "the entries would read differently".into(),
            });
        }
        Ok(Some(format!("added `{line}` at line {at}")))
    });
    match (outcome, refused) {
        (Err(_), Some((line, at))) => Err(HooksError::BadFile {
            path: path.to_owned(),
            line: Some(at),
            message: format!("adding `{line}` would change how the entries read; add it by hand"),
        }),
        (outcome, _) => Ok(outcome?),
    }
}

/// v0.1.0 files that `msg migrate` would move.
fn check_v010(ctx: &Context, report: &mut Report) {
    let Ok(space_dir) = ctx.paths().space_dir(ctx.space()) else {
        return;
    };
    let old = space_dir.join("org").join(super::migrate::V010_DIR);
    if old.is_dir() {
        report.push(
            Level::Warning,
            old.display().to_string(),
            "v0.1.0 files are here: `msg migrate --dry-run` shows what `msg migrate` would do with them",
        );
    }
}

fn check_contacts(ctx: &Context, report: &mut Report) {
    let Ok(path) = ctx.paths().contacts_file(ctx.space()) else {
        return;
    };
    if !path.exists() {
        return;
    }
    let subject = path.display().to_string();
    match crate::contacts::load(&path) {
        Ok(contacts) => {
            report.push(
                Level::Ok,
                &subject,
                counted(contacts.len(), "actor", "actors"),
            );
            for contact in contacts {
                let effective = ctx.trust_tier(&contact.id);
                if let Some(noted) = contact.trust_tier.filter(|noted| *noted != effective) {
                    report.push(
                        Level::Warning,
                        &subject,
                        format!(
                            "{} is noted as {noted:?} here but is {effective:?} in the settings, which is what counts; add it to messaging.trust_overrides to change it",
                            contact.id
                        ),
                    );
                }
            }
        }
        Err(err) => report.push(Level::Error, &subject, err.to_string()),
    }
}

fn check_state(ctx: &Context, report: &mut Report) {
    let state_dir = ctx.paths().governor_state_dir();
    match ctx.governor() {
        Ok(governor) => match governor.active_admissions() {
            Ok(active) => {
                let subject = governor.state_file().display().to_string();
                report.push(
                    Level::Ok,
                    &subject,
                    format!(
                        "governor state reads; {}",
                        counted(active.len(), "active admission", "active admissions")
                    ),
                );
                for orphan in orphaned_admissions(ctx, active) {
                    report.push(
                        Level::Error,
                        &subject,
                        format!(
                            "admission {} ({}, {} tokens reserved since {}) belongs to no task in any task file: its task was never written (a write that failed) or was deleted; `msg doctor --fix` releases it",
                            orphan.id,
                            orphan.actor,
                            msg_core::figures::grouped(orphan.reserved_tokens),
                            orphan.admitted_at.date()
                        ),
                    );
                }
            }
            Err(err) => report.push(Level::Error, "governor", err.to_string()),
        },
        Err(err) => report.push(Level::Error, "governor", err.to_string()),
    }
    let links = state_dir.join("task-admissions.jsonl");
    if links.exists() {
        match crate::desk::admission_links::AdmissionLinks::new(&state_dir).admission_of("") {
            Ok(_) => report.push(Level::Ok, links.display().to_string(), "reads"),
            Err(err) => report.push(Level::Error, "task admission links", err.to_string()),
        }
    }
    let seen = seen_file(&state_dir, ctx.space(), ctx.agent());
    if seen.exists() {
        let subject = seen.display().to_string();
        match SeenState::load(&seen) {
            Ok((_, None)) => report.push(Level::Ok, subject, "reads"),
            Ok((_, Some(problem))) => report.push(
                Level::Warning,
                "inbox-watcher",
                format!("{problem}: the hook shows everything once more"),
            ),
            Err(err) => report.push(Level::Error, subject, err.to_string()),
        }
    }
}

/// How long an admission may go without its task: the task is written right after the
/// admission, so one younger than this may still be on its way.
const ORPHAN_AFTER: time::Duration = time::Duration::minutes(10);

/// The active admissions (older than [`ORPHAN_AFTER`]) whose ID no task file of any space
/// and no earlier build's link mentions: reserved for a task that does not exist.
fn orphaned_admissions(
    ctx: &Context,
    active: Vec<msg_governor::ActiveAdmission>,
) -> Vec<msg_governor::ActiveAdmission> {
    let now = time::OffsetDateTime::now_utc();
    let mut candidates: Vec<_> = active
        .into_iter()
        .filter(|a| !a.legacy && now - a.admitted_at >= ORPHAN_AFTER)
        .collect();
    if candidates.is_empty() {
        return candidates;
    }
    let mut texts: Vec<String> = Vec::new();
    let links = ctx
        .paths()
        .governor_state_dir()
        .join("task-admissions.jsonl");
    texts.extend(std::fs::read_to_string(links).ok());
    if let Ok(spaces) = std::fs::read_dir(ctx.paths().root()) {
        for space in spaces.filter_map(Result::ok) {
            let agents = space.path().join("org/messaging/agents");
            let Ok(files) = std::fs::read_dir(agents) else {
                continue;
            };
            texts.extend(
                files
                    .filter_map(Result::ok)
                    .filter(|f| f.path().extension().is_some_and(|e| e == "org"))
                    .filter_map(|f| std::fs::read(f.path()).ok())
                    .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
            );
        }
    }
    candidates.retain(|a| !texts.iter().any(|text| text.contains(&a.id)));
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        Document::parse(text.as_bytes().to_vec(), &store_states())
    }

    #[test]
    fn the_keyword_line_goes_after_the_last_keyword_line_or_before_the_first_heading() {
        let dir = assert_fs::TempDir::new().unwrap();
        let path = dir.path().join("agent.org");
        let fix = |text: &str| {
            std::fs::write(&path, text).unwrap();
            let said = declare_keywords(&path).unwrap();
            (said, std::fs::read_to_string(&path).unwrap())
        };
        let text = "#+TITLE: x\n#+TODO: TODO | DONE\nnotes\n* QUEUED a\n";
        assert_eq!(needed_line(&doc(text)).as_deref(), Some("#+TODO: QUEUED |"));
        assert_eq!(
            fix(text),
            (
                Some("added `#+TODO: QUEUED |` at line 3".into()),
                "#+TITLE: x\n#+TODO: TODO | DONE\n#+TODO: QUEUED |\nnotes\n* QUEUED a\n".into()
            )
        );
        let header = format!("#+TODO: {}", msg_store::STATES);
        let text = "# -*- mode: org -*-\n* WAITING a\n";
        assert_eq!(needed_line(&doc(text)), Some(header.clone()));
        assert_eq!(
            fix(text),
            (
                Some(format!("added `{header}` at line 2")),
                format!("# -*- mode: org -*-\n{header}\n* WAITING a\n")
            )
        );
        assert_eq!(
            fix("* TODO a\n"),
            (
                Some(format!("added `{header}` at line 1")),
                format!("{header}\n* TODO a\n")
            )
        );
        let fine = "#+TODO: TODO | DONE\n* DONE a\n";
        assert_eq!(needed_line(&doc(fine)), None);
        assert_eq!(fix(fine), (None, fine.to_owned()));
        // Not UTF-8: left alone (the check reports it).
        std::fs::write(&path, b"* WAITING caf\xe9\n").unwrap();
        assert_eq!(declare_keywords(&path).unwrap(), None);
        assert_eq!(std::fs::read(&path).unwrap(), b"* WAITING caf\xe9\n");
    }
}
