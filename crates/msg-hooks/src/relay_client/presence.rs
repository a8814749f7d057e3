//! Who of the person's contacts is online, as the relay client last heard it.
//!
//! The relay client (`msg relay connect`) watches the presence of the space's contacts. It
//! records what it hears in `.datacore/state/messaging/presence.json` (written atomically
//! on each change) through a [`PresenceRecorder`], which holds `presence.json.lock`
//! exclusively for as long as the client runs. [`read`] (for `msg presence`) reads the file
//! and tries that lock: when it can take it, no client runs and what the file says is old
//! news, so nobody is reported online.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use msg_core::durable::{self, FileLock};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::HooksError;
use crate::context::Context;

/// The file's name in the governor's state directory.
const FILE: &str = "presence.json";

/// What the file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    /// Whether the client's connection to the relay is up.
    connected: bool,
    /// When this was last written (RFC 3339).
    updated: String,
    /// Each watched user's last status (`online`, `offline`, `busy`, …) and since when.
    users: BTreeMap<String, UserStatus>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct UserStatus {
    status: String,
    since: String,
}

fn now() -> String {
    OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn presence_file(ctx: &Context) -> PathBuf {
    ctx.paths().governor_state_dir().join(FILE)
}

/// The relay client's side: records what the relay says about the contacts' presence.
#[derive(Debug)]
pub(crate) struct PresenceRecorder {
    path: PathBuf,
    record: Record,
    /// Held while the client runs: `msg presence` tells a running client by it.
    _running: FileLock,
}

impl PresenceRecorder {
    /// Starts recording for `ctx`: takes the lock that says a client runs (waiting at most
    /// `timeout` for a client that is stopping) and writes a record with nobody known.
    pub(crate) fn start(ctx: &Context, timeout: Duration) -> Result<PresenceRecorder, HooksError> {
        let path = presence_file(ctx);
        let running = FileLock::exclusive(&path, timeout)?;
        let mut recorder = PresenceRecorder {
            path,
            record: Record::default(),
            _running: running,
        };
        recorder.write()?;
        Ok(recorder)
    }

    /// The connection to the relay came up (`true`) or went down: everybody's status is
    /// unknown again until the relay tells it.
    pub(crate) fn connected(&mut self, up: bool) -> Result<(), HooksError> {
        self.record.connected = up;
        self.record.users.clear();
        self.write()
    }

    /// The relay said `user` is `status` (`online`, `offline`, or one the user set).
    pub(crate) fn status(&mut self, user: &str, status: &str) -> Result<(), HooksError> {
        if self
            .record
            .users
            .get(user)
            .is_some_and(|u| u.status == status)
        {
            return Ok(());
        }
        self.record.users.insert(
            user.to_owned(),
            UserStatus {
                status: status.to_owned(),
                since: now(),
            },
        );
        self.write()
    }

    fn write(&mut self) -> Result<(), HooksError> {
        self.record.updated = now();
        let text = serde_json::to_string_pretty(&self.record).expect("a record serialises");
        durable::write_atomically(&self.path, text.as_bytes())?;
        Ok(())
    }
}

/// What `msg presence` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Presence {
    /// Whether a relay client runs for this root.
    pub(crate) client_running: bool,
    /// Whether it is connected to the relay now.
    pub(crate) connected: bool,
    /// When the client last wrote (RFC 3339).
    pub(crate) updated: Option<String>,
    /// Each contact, and each other user the client heard about, by name.
    pub(crate) people: Vec<Person>,
}

/// One contact's presence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Person {
    /// The actor name.
    pub(crate) name: String,
    /// `online`, `offline`, a status the user set (`busy`), or `unknown` when the client
    /// does not run or has not heard.
    pub(crate) status: String,
    /// Since when (RFC 3339), when known.
    pub(crate) since: Option<String>,
}

impl Person {
    /// Whether the person is connected to the relay (any status but `offline`/`unknown`).
    pub(crate) fn online(&self) -> bool {
        !matches!(self.status.as_str(), "offline" | "unknown")
    }
}

/// Reads the presence of `ctx`'s contacts (and anyone else the client heard about).
pub(crate) fn read(ctx: &Context) -> Result<Presence, HooksError> {
    let path = presence_file(ctx);
    let client_running = client_running(&path)?;
    let record = read_record(&path)?.filter(|_| client_running);
    let mut people: Vec<Person> = ctx
        .contact_rows()?
        .0
        .into_iter()
        .filter(|c| c.id != ctx.user())
        .map(|c| Person {
            name: c.id,
            status: "unknown".into(),
            since: None,
        })
        .collect();
    if let Some(record) = &record {
        for (name, user) in &record.users {
            let person = match people.iter_mut().find(|p| &p.name == name) {
                Some(person) => person,
                None => {
                    people.push(Person {
                        name: name.clone(),
                        status: String::new(),
                        since: None,
                    });
                    people.last_mut().expect("just pushed")
                }
            };
            person.status = user.status.clone();
            person.since = Some(user.since.clone());
        }
    }
    Ok(Presence {
        client_running,
        connected: record.as_ref().is_some_and(|r| r.connected),
        updated: record.map(|r| r.updated),
        people,
    })
}

/// Whether a client holds the lock: the shared lock cannot be taken at once.
fn client_running(path: &Path) -> Result<bool, HooksError> {
    match FileLock::shared(path, Duration::ZERO) {
        Ok(_) => Ok(false),
        Err(durable::DurableError::LockTimeout { .. }) => Ok(true),
        Err(err) => Err(err.into()),
    }
}

fn read_record(path: &Path) -> Result<Option<Record>, HooksError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(HooksError::io("read", path)(err)),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|err| HooksError::BadFile {
            path: path.to_owned(),
            line: Some(err.line()),
            message: format!(
                "{err}; it is rewritten by `msg relay connect`: stop the client and delete the file"
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use msg_core::config::Settings;
    use msg_core::paths::Paths;

    fn ctx(root: &Path) -> Context {
        let settings =
            Settings::from_yaml_str("identity: {name: alice}\n", Path::new("s.yaml")).unwrap();
        Context::new(Paths::new(root), settings, None).unwrap()
    }

    #[test]
    fn presence_is_known_only_while_a_client_records_it() {
        let root = assert_fs::TempDir::new().unwrap();
        let ctx = ctx(root.path());
        std::fs::create_dir_all(root.path().join("0-personal")).unwrap();
        std::fs::write(
            root.path().join("0-personal/contacts.yaml"),
            "actors:\n  - id: bob\n  - id: carol\n",
        )
        .unwrap();
        let nobody = read(&ctx).unwrap();
        assert!(!nobody.client_running);
        assert_eq!(
            nobody
                .people
                .iter()
                .map(|p| p.status.as_str())
                .collect::<Vec<_>>(),
            ["unknown", "unknown"]
        );

        let mut recorder = PresenceRecorder::start(&ctx, Duration::ZERO).unwrap();
        assert!(
            PresenceRecorder::start(&ctx, Duration::ZERO).is_err(),
            "one client per root records"
        );
        recorder.connected(true).unwrap();
        recorder.status("bob", "online").unwrap();
        recorder.status("dave", "busy").unwrap();
        let now = read(&ctx).unwrap();
        assert!(now.client_running && now.connected);
        let seen: Vec<(&str, &str, bool)> = now
            .people
            .iter()
            .map(|p| (p.name.as_str(), p.status.as_str(), p.online()))
            .collect();
        assert_eq!(
            seen,
            [
                ("bob", "online", true),
                ("carol", "unknown", false),
                ("dave", "busy", true)
            ]
        );
        recorder.connected(false).unwrap();
        assert!(read(&ctx).unwrap().people.iter().all(|p| !p.online()));

        // A client that stopped leaves its file behind: old news.
        recorder.status("bob", "online").unwrap();
        drop(recorder);
        // Another test of this process may fork a child while the lock is held; the child's
        // copy of the descriptor holds the lock until it execs (O_CLOEXEC), so wait for that.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let after = loop {
            let after = read(&ctx).unwrap();
            if !after.client_running || std::time::Instant::now() > deadline {
                break after;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(!after.client_running);
        assert!(after.people.iter().all(|p| p.status == "unknown"));
    }

    #[test]
    fn a_damaged_file_is_an_error_naming_it() {
        let root = assert_fs::TempDir::new().unwrap();
        let ctx = ctx(root.path());
        let recorder = PresenceRecorder::start(&ctx, Duration::ZERO).unwrap();
        std::fs::write(presence_file(&ctx), "{not json").unwrap();
        let err = read(&ctx).unwrap_err().to_string();
        assert!(err.contains("presence.json"), "{err}");
        drop(recorder);
    }
}
