//! What arrives for the person, and noticing it as it happens: `msg watch`.
//!
//! An arrival is a message or file delivery that is unread in the inbox, a task of the
//! person's agent that waits for their approval, or one that is done and waits for them to
//! accept it. [`pending`] lists them as the files are now; [`Seen`] remembers which were
//! announced, so each is announced once (a task again when it moves from waiting to done).
//!
//! [`FileWatch`] is driven by file notifications (the `notify` crate: inotify on Linux,
//! FSEvents on macOS, kqueue on the BSDs): it blocks without using the CPU until an org file
//! in the messaging directory or its `agents/` directory changes, then lets the events of
//! the same write settle (a rename, a change of attributes) for [`SETTLE`] before the files
//! are read once. There is no polling loop.
//!
//! [`run_notify_command`] starts `messaging.notify_command` for an arrival, without a shell.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use msg_inbox::TaskState;
use msg_store::MessageKind;
use notify::{RecursiveMode, Watcher as _};

use crate::HooksError;
use crate::context::Context;

/// How long the events of one write may keep coming before the files are read: an edit is a
/// rename plus attribute changes, an append a write plus a close. A read that is too early
/// is harmless (the next event reads again); this only saves reads.
pub(crate) const SETTLE: Duration = Duration::from_millis(3);

/// The most time spent letting events settle, however many keep coming.
const SETTLE_AT_MOST: Duration = Duration::from_millis(30);

/// What arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ArrivalKind {
    /// An unread message.
    Message,
    /// An unread file delivery notice.
    FileDelivery,
    /// A task that waits for the person's approval.
    TaskWaiting,
    /// A task the agent finished, waiting for the person to accept it or ask for a revision.
    TaskDone,
}

impl ArrivalKind {
    /// `message`, `file_delivery`, `task_waiting` or `task_done`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ArrivalKind::Message => "message",
            ArrivalKind::FileDelivery => "file_delivery",
            ArrivalKind::TaskWaiting => "task_waiting",
            ArrivalKind::TaskDone => "task_done",
        }
    }
}

/// One message or task that is there for the person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Arrival {
    /// What it is.
    pub(crate) kind: ArrivalKind,
    /// Its ID.
    pub(crate) id: String,
    /// Who sent it.
    pub(crate) from: String,
    /// Its first line (a file delivery: `file NAME`).
    pub(crate) subject: String,
    /// When it was written (`CREATED` of a message, `SUBMITTED` of a task), as written.
    pub(crate) created: Option<String>,
    /// The file it is in.
    pub(crate) file: PathBuf,
}

/// The first non-blank line of `text`, trimmed.
fn first_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("")
}

/// Everything that is there for the person now, in file order: unread messages and file
/// deliveries of the inbox, then the tasks of `agent` (default: the person's) that wait
/// for approval or are done.
pub(crate) fn pending(ctx: &Context, agent: Option<&str>) -> Result<Vec<Arrival>, HooksError> {
    let mut out = Vec::new();
    if let Some(store) = ctx.existing_store()? {
        let inbox = store.inbox_path().to_owned();
        for message in store.unread()? {
            let (kind, subject) = match message.kind {
                MessageKind::FileDelivery => (
                    ArrivalKind::FileDelivery,
                    format!("file {}", message.property("FILENAME").unwrap_or("")),
                ),
                _ => (ArrivalKind::Message, first_line(&message.body).to_owned()),
            };
            out.push(Arrival {
                kind,
                id: message.id,
                from: message.from,
                subject,
                created: message.created,
                file: inbox.clone(),
            });
        }
    }
    if let Some(inbox) = ctx.existing_agent_inbox(agent)? {
        for task in inbox.find_by_state(&[TaskState::Waiting, TaskState::Done])? {
            let kind = if task.state() == TaskState::Waiting {
                ArrivalKind::TaskWaiting
            } else {
                ArrivalKind::TaskDone
            };
            out.push(Arrival {
                kind,
                id: task.id().to_owned(),
                from: task.from().unwrap_or("").to_owned(),
                subject: task.title().to_owned(),
                created: task.property("SUBMITTED").map(str::to_owned),
                file: inbox.path().to_owned(),
            });
        }
    }
    Ok(out)
}

/// The arrivals already announced.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    announced: HashSet<(ArrivalKind, String)>,
}

impl Seen {
    /// Nothing announced yet.
    pub(crate) fn new() -> Seen {
        Seen::default()
    }

    /// The arrivals of `now` not announced before, in order; they count as announced from
    /// now on.
    pub(crate) fn fresh(&mut self, now: Vec<Arrival>) -> Vec<Arrival> {
        now.into_iter()
            .filter(|a| self.announced.insert((a.kind, a.id.clone())))
            .collect()
    }
}

/// File notifications on the directories that hold the messaging files.
pub(crate) struct FileWatch {
    /// Keeps the OS watches alive; its callback holds the other end of `events`.
    watcher: notify::RecommendedWatcher,
    /// Every event of the watched directories, from the watcher's thread.
    events: mpsc::Receiver<notify::Result<notify::Event>>,
    /// Directories to watch that did not exist yet (`agents/` before the first task): each
    /// is watched as soon as it appears.
    missing: Vec<PathBuf>,
}

impl FileWatch {
    /// Watches each directory of `dirs` that exists (not recursively).
    pub(crate) fn new(dirs: &[PathBuf]) -> Result<FileWatch, HooksError> {
        let (sender, events) = mpsc::channel();
        let failed = |path: &Path| {
            let path = path.to_owned();
            move |err: notify::Error| HooksError::Io {
                action: "watch",
                path,
                source: io::Error::other(err.to_string()),
            }
        };
        let first = dirs.first().map(PathBuf::as_path).unwrap_or(Path::new("."));
        let mut watcher = notify::recommended_watcher(move |event| {
            // The receiver is gone only when the FileWatch was dropped: nothing to tell.
            let _ = sender.send(event);
        })
        .map_err(failed(first))?;
        let mut missing = Vec::new();
        for dir in dirs {
            if dir.is_dir() {
                watcher
                    .watch(dir, RecursiveMode::NonRecursive)
                    .map_err(failed(dir))?;
            } else {
                missing.push(dir.clone());
            }
        }
        Ok(FileWatch {
            watcher,
            events,
            missing,
        })
    }

    /// Watches the missing directories that exist now; whether there was one (its files,
    /// written before the watch, must then be read).
    fn watch_new_dirs(&mut self) -> Result<bool, HooksError> {
        let mut found = false;
        let mut still_missing = Vec::new();
        for dir in std::mem::take(&mut self.missing) {
            if dir.is_dir() {
                self.watcher
                    .watch(&dir, RecursiveMode::NonRecursive)
                    .map_err(|err| HooksError::Io {
                        action: "watch",
                        path: dir.clone(),
                        source: io::Error::other(err.to_string()),
                    })?;
                found = true;
            } else {
                still_missing.push(dir);
            }
        }
        self.missing = still_missing;
        Ok(found)
    }

    /// Blocks until an org file changed (or `timeout` passed: `Ok(false)`), then until the
    /// events of that write settled.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) -> Result<bool, HooksError> {
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            let event = match deadline {
                None => self.events.recv().map_err(|_| ()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match self.events.recv_timeout(left) {
                        Ok(event) => Ok(event),
                        Err(mpsc::RecvTimeoutError::Timeout) => return Ok(false),
                        Err(mpsc::RecvTimeoutError::Disconnected) => Err(()),
                    }
                }
            };
            // The watcher's thread ended: its sender is gone, nothing will come.
            let Ok(event) = event else {
                return Ok(false);
            };
            if touches_org_file(&event) || (!self.missing.is_empty() && self.watch_new_dirs()?) {
                break;
            }
        }
        let settle_until = Instant::now() + SETTLE_AT_MOST;
        while Instant::now() < settle_until && self.events.recv_timeout(SETTLE).is_ok() {}
        Ok(true)
    }
}

/// Whether `event` is a change of an org file (not a lock file, not a temporary file). Our
/// own reads open the files too: an access that is not the close of a write is no change.
fn touches_org_file(event: &notify::Result<notify::Event>) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    match event {
        // An error of the OS watch (an overflowed queue): read the files to be sure.
        Err(_) => true,
        Ok(event) => {
            let change = match event.kind {
                EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
                EventKind::Access(_) => false,
                _ => true,
            };
            change && event.paths.iter().any(|path| is_org_file(path))
        }
    }
}

/// `*.org`, not hidden (the engine's temporary files are `.NAME.org.*.tmp`).
fn is_org_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "org")
        && !path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// Starts `command` (`messaging.notify_command`: the program, then its arguments) for
/// `arrival`: `{from}`, `{subject}`, `{id}` and `{kind}` in the arguments are replaced, and
/// the same values are in the environment as `MSG_FROM`, `MSG_SUBJECT`, `MSG_ID` and
/// `MSG_KIND`. No shell is involved. The child is returned, not waited for.
pub(crate) fn run_notify_command(command: &[String], arrival: &Arrival) -> io::Result<Child> {
    let Some((program, args)) = command.split_first() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "messaging.notify_command is empty",
        ));
    };
    let fill = |arg: &String| {
        arg.replace("{from}", &arrival.from)
            .replace("{subject}", &arrival.subject)
            .replace("{id}", &arrival.id)
            .replace("{kind}", arrival.kind.as_str())
    };
    Command::new(program)
        .args(args.iter().map(fill))
        .env("MSG_FROM", &arrival.from)
        .env("MSG_SUBJECT", &arrival.subject)
        .env("MSG_ID", &arrival.id)
        .env("MSG_KIND", arrival.kind.as_str())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
}

/// The directories [`FileWatch`] watches for `ctx`: the messaging directory and `agents/`.
pub(crate) fn watched_dirs(ctx: &Context) -> Result<Vec<PathBuf>, HooksError> {
    let paths = ctx.paths();
    Ok(vec![
        paths.messaging_dir(ctx.space())?,
        paths.agents_dir(ctx.space())?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrival(kind: ArrivalKind, id: &str) -> Arrival {
        Arrival {
            kind,
            id: id.into(),
            from: "bob".into(),
            subject: "Lunch?".into(),
            created: None,
            file: PathBuf::from("inbox.org"),
        }
    }

    #[test]
    fn each_arrival_is_announced_once_and_a_task_again_when_done() {
        let mut seen = Seen::new();
        let first = seen.fresh(vec![arrival(ArrivalKind::Message, "m1")]);
        assert_eq!(first.len(), 1);
        assert!(
            seen.fresh(vec![arrival(ArrivalKind::Message, "m1")])
                .is_empty()
        );
        let next = seen.fresh(vec![
            arrival(ArrivalKind::Message, "m1"),
            arrival(ArrivalKind::TaskWaiting, "t1"),
        ]);
        assert_eq!(next, [arrival(ArrivalKind::TaskWaiting, "t1")]);
        assert_eq!(
            seen.fresh(vec![arrival(ArrivalKind::TaskDone, "t1")]).len(),
            1
        );
    }

    #[test]
    fn only_org_files_count() {
        let event = |path: &str| {
            Ok(
                notify::Event::new(notify::EventKind::Create(notify::event::CreateKind::File))
                    .add_path(PathBuf::from(path)),
            )
        };
        assert!(touches_org_file(&event("/m/inbox.org")));
        assert!(touches_org_file(&event("/m/agents/alice-claude.org")));
        assert!(!touches_org_file(&event("/m/inbox.org.lock")));
        assert!(!touches_org_file(&event("/m/.inbox.org.12-3.tmp")));
        assert!(touches_org_file(&Err(notify::Error::generic("overflow"))));
        let read = Ok(notify::Event::new(notify::EventKind::Access(
            notify::event::AccessKind::Close(notify::event::AccessMode::Read),
        ))
        .add_path(PathBuf::from("/m/inbox.org")));
        assert!(!touches_org_file(&read), "our own reads are no change");
    }

    #[test]
    fn a_write_to_an_org_file_ends_the_wait_and_other_files_do_not() {
        let dir = assert_fs::TempDir::new().unwrap();
        let mut watch = FileWatch::new(&[dir.path().to_owned(), dir.path().join("later")]).unwrap();
        std::fs::write(dir.path().join("inbox.org.lock"), "").unwrap();
        assert!(!watch.wait(Some(Duration::from_millis(50))).unwrap());
        std::fs::write(dir.path().join("inbox.org"), "* TODO x\n").unwrap();
        assert!(watch.wait(Some(Duration::from_secs(10))).unwrap());
        // The events of that write were drained with it; reading is no change.
        let _ = std::fs::read(dir.path().join("inbox.org")).unwrap();
        assert!(!watch.wait(Some(Duration::from_millis(50))).unwrap());
        // A directory that appears is watched from then on (and its files are read).
        std::fs::create_dir(dir.path().join("later")).unwrap();
        assert!(watch.wait(Some(Duration::from_secs(10))).unwrap());
        std::fs::write(dir.path().join("later/alice-claude.org"), "* QUEUED x\n").unwrap();
        assert!(watch.wait(Some(Duration::from_secs(10))).unwrap());
    }

    #[test]
    fn the_notify_command_gets_the_values_without_a_shell() {
        let dir = assert_fs::TempDir::new().unwrap();
        let out = dir.path().join("out");
        let command = vec![
            "sh".to_owned(),
            "-c".to_owned(),
            r#"printf '%s|%s|%s|%s|%s' "$1" "$MSG_FROM" "$MSG_SUBJECT" "$MSG_ID" "$MSG_KIND" > "$2""#.to_owned(),
            "sh".to_owned(),
            "{from}: {subject} ({kind})".to_owned(),
            out.display().to_string(),
        ];
        let mut hostile = arrival(ArrivalKind::Message, "m1");
        hostile.subject = "$(touch pwned); `x` \"q\"".into();
        let status = run_notify_command(&command, &hostile)
            .unwrap()
            .wait()
            .unwrap();
        assert!(status.success());
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "bob: $(touch pwned); `x` \"q\" (message)|bob|$(touch pwned); `x` \"q\"|m1|message"
        );
        assert!(!dir.path().join("pwned").exists());
    }
}
