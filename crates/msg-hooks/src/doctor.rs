//! `msg doctor`: checks the settings and every messaging file, and says what to fix.
//!
//! A first version: the settings load, their tiers are defined, you are the owner of your
//! agent; every org file (inbox, outbox, archives, task files) is valid UTF-8, has no
//! duplicate IDs and no property drawer that Emacs would ignore; `contacts.yaml`, the
//! governor's state, the task admission links and the watcher's state read. It changes
//! nothing.

use std::path::{Path, PathBuf};

use msg_core::config::Settings;
use msg_core::org::{OrgFile, TodoKeywords};
use msg_core::paths::Paths;
use msg_core::timestamp::{OffsetSource, local_offset_source};
use serde_json::{Value, json};

use crate::context::Context;
use crate::seen::{SeenState, seen_file};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// All is well.
    Ok,
    /// Works, but probably not as intended.
    Warning,
    /// Something does not work until it is fixed.
    Error,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How serious.
    pub level: Level,
    /// What it is about: a file, or `settings`.
    pub subject: String,
    /// What was found, and what to do.
    pub message: String,
}

/// Everything `msg doctor` found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The findings, in the order checked.
    pub findings: Vec<Finding>,
}

impl Report {
    fn push(&mut self, level: Level, subject: impl Into<String>, message: impl Into<String>) {
        self.findings.push(Finding {
            level,
            subject: subject.into(),
            message: message.into(),
        });
    }

    /// How many findings have `level`.
    pub fn count(&self, level: Level) -> usize {
        self.findings.iter().filter(|f| f.level == level).count()
    }

    /// The report for a terminal: one line per finding, then the totals.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for finding in &self.findings {
            out.push_str(&format!(
                "{:<8} {}: {}\n",
                finding.level.name(),
                finding.subject,
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
    pub fn to_json(&self) -> Value {
        json!({
            "errors": self.count(Level::Error),
            "warnings": self.count(Level::Warning),
            "findings": self.findings.iter().map(|f| json!({
                "level": f.level.name(),
                "subject": f.subject,
                "message": f.message,
            })).collect::<Vec<_>>(),
        })
    }
}

/// Checks the Datacore root of `paths` and `space` (else the default space).
pub fn check(paths: &Paths, space: Option<&str>) -> Report {
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
    for (actor, tier) in settings.unknown_tiers_in_overrides() {
        report.push(
            Level::Warning,
            "settings",
            format!(
                "messaging.trust_overrides gives {actor:?} the tier {tier:?}, which is neither built in nor defined under messaging.trust_tiers; it gets the unknown tier's limits"
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
    check_contacts(&ctx, &mut report);
    check_state(&ctx, &mut report);
    report
}

/// `1 entry`, `2 entries`.
fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn check_org_files(ctx: &Context, report: &mut Report) {
    let messaging = match ctx.paths().messaging_dir(ctx.space()) {
        Ok(dir) => dir,
        Err(err) => {
            report.push(Level::Error, "space", err.to_string());
            return;
        }
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
    for path in &files {
        if !path.exists() {
            report.push(
                Level::Warning,
                path.display().to_string(),
                "missing: `msg init` creates it",
            );
            continue;
        }
        check_org_file(path, report);
    }
}

fn check_org_file(path: &Path, report: &mut Report) {
    let subject = path.display().to_string();
    let file = OrgFile::new(path, TodoKeywords::parse(msg_store::STATES));
    let doc = match file.read() {
        Ok(doc) => doc,
        Err(err) => {
            report.push(Level::Error, &subject, err.to_string());
            return;
        }
    };
    let mut clean = true;
    if let Some(bad) = doc.invalid_utf8() {
        clean = false;
        report.push(
            Level::Error,
            &subject,
            format!(
                "line {} is not valid UTF-8: the file is read but never written; re-save it as UTF-8",
                bad.line
            ),
        );
    }
    for duplicate in doc.duplicate_ids() {
        clean = false;
        report.push(
            Level::Error,
            &subject,
            format!(
                "{duplicate}: operations on that ID refuse to guess; give one of them a new ID"
            ),
        );
    }
    for line in doc.ignored_drawers() {
        clean = false;
        report.push(
            Level::Warning,
            &subject,
            format!(
                "line {line}: a property drawer Emacs ignores (a blank or non-property line inside, or no :END:); its properties are not read"
            ),
        );
    }
    if clean {
        report.push(
            Level::Ok,
            &subject,
            format!(
                "{} {}",
                doc.len(),
                if doc.len() == 1 { "entry" } else { "entries" }
            ),
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
                count(contacts.len(), "actor", "actors"),
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
            Ok(active) => report.push(
                Level::Ok,
                governor.state_file().display().to_string(),
                format!(
                    "governor state reads; {}",
                    count(active.len(), "active admission", "active admissions")
                ),
            ),
            Err(err) => report.push(Level::Error, "governor", err.to_string()),
        },
        Err(err) => report.push(Level::Error, "governor", err.to_string()),
    }
    let links = state_dir.join("task-admissions.jsonl");
    if links.exists() {
        match crate::admission_links::AdmissionLinks::new(&state_dir).admission_of("") {
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
