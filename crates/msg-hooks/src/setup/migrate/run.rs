//! Carrying a plan out: one locked, durable append per target file, `contacts.yaml`
//! replaced atomically (its old version in the backup first), everything read back through
//! the stores, and only then the old files moved into the backup.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use msg_core::durable;

use super::contacts::contacts_complete;
use super::contacts::contacts_text;
use super::plan::{MigrationPlan, Source, assign, plan, target_file};
use super::{BACKUP_DIR, Target, V010_DIR, file_name, org_error};
use crate::context::Context;
use crate::error::HooksError;
use msg_core::durable::sync_dir;
use msg_core::figures::counted;

/// Options of a run.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MigrateOptions {
    /// Only plan.
    pub(crate) dry_run: bool,
}

/// Plans and, unless `dry_run`, carries out the migration of the context's space.
/// The v0.1.0 files are named after their owner (`<you>.org`, `<you>-claude.org`): without
/// `identity.name`, or under another name, a first run would merge `USERS.yaml` and move it
/// away while leaving the inboxes behind. Refused before anything is read or changed.
fn check_identity(ctx: &Context) -> Result<(), HooksError> {
    let dir = ctx
        .paths()
        .space_dir(ctx.space())?
        .join("org")
        .join(super::V010_DIR);
    let mut owners: Vec<String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "org"))
                .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .map(|stem| {
                    stem.strip_suffix(crate::context::AGENT_SUFFIX)
                        .map_or(stem.clone(), str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    owners.sort();
    owners.dedup();
    // Once `USERS.yaml` has moved, what is left are other people's files, which a run
    // leaves in place: nothing to refuse.
    if owners.is_empty() || !dir.join("USERS.yaml").exists() {
        return Ok(());
    }
    let example = owners.first().cloned().unwrap_or_default();
    let refuse = |reason: String| HooksError::InvalidName {
        field: "identity.name".into(),
        value: ctx.user().to_owned(),
        reason,
    };
    if ctx.settings().identity.name.is_none() {
        return Err(refuse(format!(
            "not set in the settings, and the v0.1.0 files in {} are named after their owner ({}): run `msg init --name {example}` first; nothing was changed",
            dir.display(),
            owners.join(", ")
        )));
    }
    if !owners.iter().any(|owner| owner == ctx.user()) {
        return Err(refuse(format!(
            "the v0.1.0 files in {} belong to {}, not to you: set identity.name to the name they use; nothing was changed",
            dir.display(),
            owners.join(", ")
        )));
    }
    Ok(())
}

pub(crate) fn migrate(
    ctx: &Context,
    options: MigrateOptions,
) -> Result<MigrationReport, HooksError> {
    check_identity(ctx)?;
    let plan = plan(ctx)?;
    let mut report = MigrationReport {
        plan,
        appended: Vec::new(),
        contacts_added: 0,
        backup: None,
        moved: Vec::new(),
    };
    if options.dry_run || report.plan.is_empty() {
        return Ok(report);
    }
    let space_org = ctx.paths().space_dir(ctx.space())?.join("org");
    let backup = fresh_backup_dir(&space_org)?;

    // 1. The new entries, durably: one locked append per target, deciding the IDs again
    //    under the lock from what the target holds now.
    let mut by_target: BTreeMap<PathBuf, Vec<usize>> = BTreeMap::new();
    for (i, file) in report.plan.files.iter().enumerate() {
        by_target.entry(file.target.clone()).or_default().push(i);
    }
    for (target, indices) in &by_target {
        let kind = report.plan.files[indices[0]].kind;
        if kind == Target::Inbox {
            // The store creates inbox.org and outbox.org with their header.
            ctx.store()?;
        }
        let sources: Vec<Source> = indices
            .iter()
            .map(|&i| Source::read(ctx, kind, report.plan.files[i].source.clone()))
            .collect::<Result<_, HooksError>>()?;
        let file = target_file(target, kind);
        let assigned = file
            .transaction(|txn| {
                let assigned = assign(txn.document()?, &sources);
                for planned in assigned.iter().flatten() {
                    if !planned.already_there {
                        txn.append(&planned.entry)?;
                    }
                }
                Ok(assigned)
            })
            .map_err(org_error)?;
        let count = assigned
            .iter()
            .flatten()
            .filter(|p| !p.already_there)
            .count();
        for (&i, entries) in indices.iter().zip(assigned) {
            report.plan.files[i].entries = entries;
        }
        report.appended.push((target.clone(), count));
    }

    // 2. Contacts: the old contacts.yaml is copied to the backup before it is replaced.
    if let Some(contacts) = &report.plan.contacts
        && !contacts.add.is_empty()
    {
        let existing = match std::fs::read_to_string(&contacts.target) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(HooksError::io("read", &contacts.target)(e)),
        };
        let text = contacts_text(existing.as_deref(), &contacts.add)
            .filter(|text| contacts_complete(text, contacts))
            .ok_or_else(|| HooksError::BadFile {
                path: contacts.target.clone(),
                line: None,
                message: format!(
                    "cannot add the v0.1.0 users to it automatically (no top-level `actors:` list); add them by hand:\n{}",
                    contacts.add.iter().map(|(_, item)| item.as_str()).collect::<String>()
                ),
            })?;
        match existing {
            Some(old) => {
                create_dir(&backup)?;
                durable::create_new(
                    &backup.join("contacts.yaml.before-migration"),
                    old.as_bytes(),
                )?;
                durable::write_atomically(&contacts.target, text.as_bytes())?;
            }
            None => {
                if let Some(dir) = contacts.target.parent() {
                    create_dir(dir)?;
                }
                durable::create_new(&contacts.target, text.as_bytes())?;
            }
        }
        report.contacts_added = contacts.add.len();
    }

    // 3. Read everything back through the stores before any old file moves.
    verify(ctx, &report.plan)?;

    // 4. Move the old files into the backup.
    let mut sources: Vec<PathBuf> = report.plan.files.iter().map(|f| f.source.clone()).collect();
    if let Some(contacts) = &report.plan.contacts {
        sources.push(contacts.source.clone());
    }
    create_dir(&backup.join(V010_DIR))?;
    for source in &sources {
        let to = backup.join(V010_DIR).join(file_name(source));
        std::fs::rename(source, &to).map_err(HooksError::io("move", source))?;
        report.moved.push(to);
    }
    sync_dir(&backup.join(V010_DIR))?;
    sync_dir(&report.plan.source_dir)?;
    // An emptied folder goes too (remove_dir fails on a folder that is not empty).
    if std::fs::remove_dir(&report.plan.source_dir).is_ok() {
        sync_dir(&space_org)?;
    }
    report.backup = Some(backup);
    Ok(report)
}

/// What a run did.
#[derive(Debug, Clone)]
pub(crate) struct MigrationReport {
    /// The plan it carried out.
    pub(crate) plan: MigrationPlan,
    /// Entries appended, per target file.
    pub(crate) appended: Vec<(PathBuf, usize)>,
    /// Actors added to contacts.yaml.
    pub(crate) contacts_added: usize,
    /// Where the old files went, when any were moved.
    pub(crate) backup: Option<PathBuf>,
    /// The old files moved there.
    pub(crate) moved: Vec<PathBuf>,
}

impl MigrationReport {
    /// The report for a terminal.
    pub(crate) fn to_text(&self, root: &Path) -> String {
        let mut out = self.plan.to_text(root);
        let show = |p: &Path| {
            p.strip_prefix(root)
                .map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
        };
        for (path, count) in &self.appended {
            let _ = writeln!(
                out,
                "wrote {}: {}",
                show(path),
                counted(*count, "new entry", "new entries")
            );
        }
        if self.contacts_added > 0
            && let Some(contacts) = &self.plan.contacts
        {
            let _ = writeln!(
                out,
                "wrote {}: {}",
                show(&contacts.target),
                counted(self.contacts_added, "actor", "actors")
            );
        }
        if let Some(backup) = &self.backup {
            let _ = writeln!(
                out,
                "moved {} to {} (kept, never deleted)",
                counted(self.moved.len(), "old file", "old files"),
                show(backup)
            );
        }
        if self.backup.is_some() {
            out.push_str("checked: every migrated entry reads back through the inbox and the agent's task file; `msg doctor` checks the rest\n");
        }
        out
    }
}

/// Every planned entry is found, by ID, through the store or the agent inbox.
fn verify(ctx: &Context, plan: &MigrationPlan) -> Result<(), HooksError> {
    for file in &plan.files {
        for entry in &file.entries {
            let keyword = entry.entry.keyword.as_deref().unwrap_or_default();
            let found = match file.kind {
                Target::Inbox => ctx
                    .store()?
                    .by_id(&entry.new_id)?
                    .map(|m| m.keyword.unwrap_or_default()),
                Target::Agent => ctx
                    .agent_inbox(None)?
                    .find_by_id(&entry.new_id)?
                    .map(|t| t.state().keyword().to_owned()),
            };
            // An entry an earlier run wrote may have been changed since (read, approved).
            let ok = match (&found, entry.already_there) {
                (Some(_), true) => true,
                (Some(found), false) => found == keyword,
                (None, _) => false,
            };
            if !ok {
                return Err(HooksError::BadFile {
                    path: file.target.clone(),
                    line: None,
                    message: format!(
                        "{} (from line {} of {}) does not read back as {keyword} (found {found:?}); the old files were not moved",
                        entry.new_id,
                        entry.line,
                        file.source.display()
                    ),
                });
            }
        }
    }
    Ok(())
}

/// `<space>/org/migration-backup/v0.1.0-<date>`, or `-2`, `-3`, … when taken. Not created.
fn fresh_backup_dir(space_org: &Path) -> Result<PathBuf, HooksError> {
    let today = msg_core::timestamp::now_local().date();
    let base = space_org.join(BACKUP_DIR).join(format!("v0.1.0-{today}"));
    let mut dir = base.clone();
    let mut n = 2;
    while dir.exists() {
        dir = PathBuf::from(format!("{}-{n}", base.display()));
        n += 1;
    }
    Ok(dir)
}

fn create_dir(dir: &Path) -> Result<(), HooksError> {
    std::fs::create_dir_all(dir).map_err(HooksError::io("create", dir))?;
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}
