//! What a migration would do: the v0.1.0 files of the space, each entry with the ID it gets
//! (an ID already taken gets `-dup<n>`; an entry an earlier run wrote keeps its ID), and the
//! plan as text.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use msg_core::org::{Document, NewEntry, OrgFile, TodoKeywords};

use super::contacts::{ContactsPlan, contacts_plan};
use super::convert::{convert, readable};
use super::read::{OldEntry, read_old};
use super::{MIGRATED_FROM, ORIGINAL_ID, Target, V010_DIR, file_name, org_error};
use crate::context::{AGENT_SUFFIX, Context};
use crate::error::HooksError;
use msg_core::figures::counted;

/// One v0.1.0 entry and what it becomes.
#[derive(Debug, Clone)]
pub(crate) struct PlannedEntry {
    /// Its heading line in the old file.
    pub(crate) line: usize,
    /// The v0.1.0 ID.
    pub(crate) old_id: String,
    /// The ID it has in the new file.
    pub(crate) new_id: String,
    /// The entry as it is written.
    pub(crate) entry: NewEntry,
    /// It is in the target already (an earlier run wrote it).
    pub(crate) already_there: bool,
}

/// An old org file and the entries it gives.
#[derive(Debug, Clone)]
pub(crate) struct FilePlan {
    /// The old file.
    pub(crate) source: PathBuf,
    /// The new file.
    pub(crate) target: PathBuf,
    /// Messages or tasks.
    pub(crate) kind: Target,
    /// Its entries.
    pub(crate) entries: Vec<PlannedEntry>,
    /// Things a person should know (entries that are not messages, references to a
    /// duplicate ID).
    pub(crate) notes: Vec<String>,
}

/// What `msg migrate` does (or would do) in one space.
#[derive(Debug, Clone)]
pub(crate) struct MigrationPlan {
    /// `<space>/org/inboxes`.
    pub(crate) source_dir: PathBuf,
    /// The org files to convert.
    pub(crate) files: Vec<FilePlan>,
    /// `USERS.yaml`, when there is one.
    pub(crate) contacts: Option<ContactsPlan>,
    /// Files left where they are, and why.
    pub(crate) left: Vec<(PathBuf, String)>,
    /// Other spaces that hold v0.1.0 files.
    pub(crate) other_spaces: Vec<String>,
}

impl MigrationPlan {
    /// Whether there is nothing to move or write.
    pub(crate) fn is_empty(&self) -> bool {
        self.files.is_empty() && self.contacts.is_none()
    }

    /// The plan for a terminal.
    pub(crate) fn to_text(&self, root: &Path) -> String {
        let show = |p: &Path| {
            p.strip_prefix(root)
                .map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
        };
        let mut out = String::new();
        if self.is_empty() && self.left.is_empty() {
            let _ = writeln!(
                out,
                "no v0.1.0 files in {}: nothing to migrate",
                show(&self.source_dir)
            );
        } else {
            let _ = writeln!(out, "v0.1.0 files in {}:", show(&self.source_dir));
        }
        for file in &self.files {
            let what = match file.kind {
                Target::Inbox => ("message", "messages"),
                Target::Agent => ("task", "tasks"),
            };
            let new = file.entries.iter().filter(|e| !e.already_there).count();
            let done = file.entries.len() - new;
            let _ = write!(
                out,
                "  {} -> {}: {}",
                file_name(&file.source),
                show(&file.target),
                counted(new, what.0, what.1)
            );
            if done > 0 {
                let _ = write!(out, " ({done} already there)");
            }
            out.push('\n');
            for entry in &file.entries {
                let heading = match (&entry.entry.keyword, entry.entry.tags.is_empty()) {
                    (Some(k), false) => format!("{k} :{}:", entry.entry.tags.join(":")),
                    (Some(k), true) => k.clone(),
                    (None, _) => String::new(),
                };
                let _ = write!(out, "    line {:<4} {}", entry.line, entry.new_id);
                if entry.new_id != entry.old_id {
                    let _ = write!(
                        out,
                        " (was {}, a duplicate ID; kept in {ORIGINAL_ID})",
                        entry.old_id
                    );
                }
                let _ = write!(out, "  {heading}");
                if file.kind == Target::Agent {
                    let _ = write!(out, "  {}", entry.entry.title);
                }
                if entry.already_there {
                    out.push_str("  (already there)");
                }
                out.push('\n');
            }
            for note in &file.notes {
                let _ = writeln!(out, "    note: {note}");
            }
        }
        if let Some(contacts) = &self.contacts {
            let names: Vec<&str> = contacts.add.iter().map(|(id, _)| id.as_str()).collect();
            let _ = write!(
                out,
                "  {} -> {}: {}",
                file_name(&contacts.source),
                show(&contacts.target),
                counted(names.len(), "actor", "actors")
            );
            if !names.is_empty() {
                let _ = write!(out, " ({})", names.join(", "));
            }
            if !contacts.present.is_empty() {
                let _ = write!(out, "; already listed: {}", contacts.present.join(", "));
            }
            out.push('\n');
        }
        for (path, why) in &self.left {
            let _ = writeln!(out, "  {}: left in place ({why})", file_name(path));
        }
        for space in &self.other_spaces {
            let _ = writeln!(
                out,
                "space {space} has v0.1.0 files too: `msg --space {space} migrate` migrates them"
            );
        }
        out
    }
}

/// A source org file and what it becomes, before IDs are decided.
pub(super) struct Source {
    path: PathBuf,
    kind: Target,
    entries: Vec<(OldEntry, NewEntry)>,
    notes: Vec<String>,
}

impl Source {
    /// Reads the v0.1.0 file `path` and converts each of its entries for `kind`.
    pub(super) fn read(ctx: &Context, kind: Target, path: PathBuf) -> Result<Source, HooksError> {
        let rel = format!("org/{V010_DIR}/{}", file_name(&path));
        let (old, notes) = read_old(&path, &rel)?;
        let entries = old
            .into_iter()
            .map(|o| {
                let new = readable(kind, convert(ctx, kind, &o));
                (o, new)
            })
            .collect();
        Ok(Source {
            path,
            kind,
            entries,
            notes,
        })
    }
}

/// Decides the IDs of `sources` (all going to one target whose current text is `target`):
/// entries whose `MIGRATED_FROM` is in the target already keep the ID they got there; an
/// ID taken by another entry gets `-dup<n>`.
pub(super) fn assign(target: &Document, sources: &[Source]) -> Vec<Vec<PlannedEntry>> {
    let mut migrated: HashMap<String, String> = HashMap::new();
    let mut taken: HashSet<String> = HashSet::new();
    for entry in target.entries() {
        let Some(id) = entry.id() else { continue };
        if let Some(marker) = entry.property(MIGRATED_FROM) {
            migrated.insert(marker.into_owned(), id.clone().into_owned());
        }
        taken.insert(id.into_owned());
    }
    let mut out = Vec::with_capacity(sources.len());
    for source in sources {
        let mut planned = Vec::with_capacity(source.entries.len());
        for (old, new) in &source.entries {
            if let Some(id) = migrated.get(&old.marker) {
                planned.push(PlannedEntry {
                    line: old.line,
                    old_id: old.id.clone(),
                    new_id: id.clone(),
                    entry: with_ids(source.kind, new, id, &old.id, &old.marker),
                    already_there: true,
                });
                continue;
            }
            let mut id = old.id.clone();
            let mut n = 2;
            while taken.contains(&id) {
                id = format!("{}-dup{n}", old.id);
                n += 1;
            }
            taken.insert(id.clone());
            planned.push(PlannedEntry {
                line: old.line,
                old_id: old.id.clone(),
                entry: with_ids(source.kind, new, &id, &old.id, &old.marker),
                new_id: id,
                already_there: false,
            });
        }
        out.push(planned);
    }
    out
}

/// `entry` with its `ID` where the stores write it (first for messages; before `CREATED`
/// for tasks), and `ORIGINAL_ID` and `MIGRATED_FROM` last.
fn with_ids(kind: Target, entry: &NewEntry, id: &str, old_id: &str, marker: &str) -> NewEntry {
    let mut entry = entry.clone();
    let at = match kind {
        Target::Inbox => 0,
        Target::Agent => entry
            .properties
            .iter()
            .position(|(k, _)| k == "CREATED")
            .unwrap_or(0),
    };
    let mut properties = Vec::with_capacity(entry.properties.len() + 3);
    properties.extend(entry.properties[..at].iter().cloned());
    properties.push(("ID".into(), id.into()));
    properties.extend(entry.properties[at..].iter().cloned());
    if id != old_id {
        properties.push((ORIGINAL_ID.into(), old_id.into()));
    }
    properties.push((MIGRATED_FROM.into(), marker.into()));
    entry.properties = properties;
    entry
}

/// Notes about references (`REPLY_TO`, `THREAD`) to an ID two old entries carried.
fn reference_notes(planned: &[PlannedEntry]) -> Vec<String> {
    let renamed: HashSet<&str> = planned
        .iter()
        .filter(|p| p.new_id != p.old_id)
        .map(|p| p.old_id.as_str())
        .collect();
    let mut notes = Vec::new();
    for p in planned {
        for (key, value) in &p.entry.properties {
            if (key == "REPLY_TO" || key == "THREAD") && renamed.contains(value.as_str()) {
                notes.push(format!(
                    "line {}: {key} {value} was carried by two old entries; it now names the first (check {} -dupN if it meant the other)",
                    p.line, value
                ));
            }
        }
    }
    notes
}

/// The org files to read for a target, keyed by target path.
pub(super) fn target_file(path: &Path, kind: Target) -> OrgFile {
    let states = match kind {
        Target::Inbox => msg_store::STATES,
        Target::Agent => msg_inbox::TASK_KEYWORDS,
    };
    OrgFile::new(path, TodoKeywords::parse(states))
}

/// Reads the v0.1.0 files of the context's space and the current targets, and says what a
/// migration would do. Reads only.
pub(crate) fn plan(ctx: &Context) -> Result<MigrationPlan, HooksError> {
    let space = ctx.space();
    let space_dir = ctx.paths().space_dir(space)?;
    let source_dir = space_dir.join("org").join(V010_DIR);
    let other_spaces = other_spaces(ctx.paths().root(), space);
    let mut plan = MigrationPlan {
        source_dir: source_dir.clone(),
        files: Vec::new(),
        contacts: None,
        left: Vec::new(),
        other_spaces,
    };
    let mut names: Vec<PathBuf> = match std::fs::read_dir(&source_dir) {
        Ok(entries) => entries
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(HooksError::io("list", &source_dir))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(plan),
        Err(e) => return Err(HooksError::io("list", &source_dir)(e)),
    };
    names.sort();
    let user = ctx.user();
    let agent = ctx.agent();
    let mut sources: Vec<Source> = Vec::new();
    for path in names {
        let name = file_name(&path);
        if !path.is_file() {
            plan.left
                .push((path, "a directory; v0.1.0 kept none here".into()));
            continue;
        }
        if name == "USERS.yaml" {
            plan.contacts = Some(contacts_plan(ctx, &path)?);
            continue;
        }
        let Some(stem) = name.strip_suffix(".org") else {
            plan.left.push((path, "not a v0.1.0 inbox file".into()));
            continue;
        };
        let kind = if stem == user {
            Target::Inbox
        } else if stem == agent {
            Target::Agent
        } else {
            let why = if stem.ends_with(AGENT_SUFFIX) {
                format!("another person's agent; you are {user:?} (identity.name)")
            } else {
                format!(
                    "the inbox of {stem:?}, not yours; you are {user:?} (identity.name in the settings)"
                )
            };
            plan.left.push((path, why));
            continue;
        };
        sources.push(Source::read(ctx, kind, path)?);
    }
    for kind in [Target::Inbox, Target::Agent] {
        let group: Vec<Source> = sources
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| Source {
                path: s.path.clone(),
                kind: s.kind,
                entries: s.entries.clone(),
                notes: s.notes.clone(),
            })
            .collect();
        if group.is_empty() {
            continue;
        }
        let target = match kind {
            Target::Inbox => ctx.inbox_file()?,
            Target::Agent => ctx.agent_file(None)?,
        };
        let doc = target_file(&target, kind).read().map_err(org_error)?;
        let assigned = assign(&doc, &group);
        for (source, entries) in group.into_iter().zip(assigned) {
            let mut notes = source.notes;
            notes.extend(reference_notes(&entries));
            plan.files.push(FilePlan {
                source: source.path,
                target: target.clone(),
                kind,
                entries,
                notes,
            });
        }
    }
    Ok(plan)
}

/// Spaces other than `space` below `root` that have `org/inboxes/`.
fn other_spaces(root: &Path, space: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut found: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("org").join(V010_DIR).is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != space && !name.starts_with('.'))
        .collect();
    found.sort();
    found
}
