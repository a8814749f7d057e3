//! `msg relay connect`: the machine's connection to the relay.
//!
//! The client logs in once per local identity ([`identities`]): as the user
//! (`identity.name` with `messaging.relay.token`) and as each agent with a token of its own
//! (`messaging.relay.agent_tokens`), each on its own WebSocket, because the relay routes a
//! message by the recipient's name and proves every name by its own token. On each
//! connection it:
//!
//! - **receives**: a `message` frame is written to `inbox.org` (once: a redelivery finds its
//!   ID there, see [`mailroom`]) and only then acknowledged (`ack`), so a
//!   crash before the write means the relay delivers it again; a message to an agent then
//!   goes through task intake ([`crate::desk::intake`]);
//! - **sends** the entries of `outbox.org` that are `:DELIVERY: pending` and from this
//!   identity, and records the relay's answer on each: `delivered` or `queued` (from the
//!   relay's `ack`; a `queued` one becomes `delivered` when the relay later says it reached
//!   its recipient, with its `delivered` frame), `failed` with `DELIVERY_ERROR` for a refusal
//!   that retrying cannot fix;
//!   a refusal that can pass later (`rate_limited`, `queue_full`, ...) leaves it pending
//!   with `DELIVERY_ERROR` and it is sent again later. A message without an ack stays
//!   pending: a relay without acks never makes a message count as delivered;
//! - **reports presence**: `status_change online` after the login, and `watch` of the
//!   space's contacts on the user's connection: their `presence` frames are printed and,
//!   in the foreground, recorded for `msg presence` ([`presence`]);
//! - **reconnects** with exponential backoff and jitter (`backoff.rs`), except after a
//!   refused login (a wrong token does not fix itself) and after close code 4000
//!   (`session_replaced`: another client logged in under the name; two clients replacing
//!   each other forever would help no one).
//!
//! With [`ConnectOptions::once`], each connection logs in, takes in the backlog until the
//! relay's `synced`, sends what is pending, waits for the acks (at most
//! [`ConnectOptions::timeout`]) and closes.
//!
//! One client runs per root and space (`running.rs`: a second one is refused, saying
//! which process runs). This file holds the client's API and each identity's life
//! (sessions, with backoff between them); `session.rs` one login (the frames in and out, the files), `wire.rs` the
//! frames on top of [`msg_relay::protocol`], `mailroom.rs` the calls of the space's
//! [`msg_store::MessageStore`], `error.rs` [`ClientError`].

mod backoff;
mod error;
mod mailroom;
pub(crate) mod presence;
mod running;
mod session;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

pub(crate) use error::ClientError;
use presence::PresenceRecorder;
use session::Session;

use crate::context::Context;
use crate::error::HooksError;

/// One name the client logs in as, and how it proves it.
#[derive(Clone)]
pub(crate) struct Identity {
    /// The name.
    pub(crate) name: String,
    pub(super) token: Option<String>,
    pub(super) secret: Option<String>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a credential.
        f.debug_struct("Identity")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The identities of `ctx`: the user, with `messaging.relay.token` (else the v0.2.0 shared
/// `messaging.relay.secret`), then each agent of `messaging.relay.agent_tokens`. The user
/// without a token or a secret is left out; no identity at all is an error saying what to
/// set.
pub(crate) fn identities(ctx: &Context) -> Result<Vec<Identity>, ClientError> {
    let settings = ctx.settings();
    let mut identities = Vec::new();
    if let Some(token) = settings.relay_token() {
        identities.push(Identity {
            name: ctx.user().to_owned(),
            token: Some(token),
            secret: None,
        });
    } else if let Some(secret) = settings.relay_secret() {
        identities.push(Identity {
            name: ctx.user().to_owned(),
            token: None,
            secret: Some(secret),
        });
    }
    for (agent, token) in settings.relay_agent_tokens() {
        msg_core::validate::actor("messaging.relay.agent_tokens", agent)
            .map_err(HooksError::from)?;
        msg_core::validate::path_component("messaging.relay.agent_tokens", agent)
            .map_err(HooksError::from)?;
        if agent != ctx.user() {
            identities.push(Identity {
                name: agent.clone(),
                token: Some(token.clone()),
                secret: None,
            });
        }
    }
    if identities.is_empty() {
        return Err(ClientError::NoIdentity {
            user: ctx.user().to_owned(),
        });
    }
    Ok(identities)
}

/// How `msg relay connect` runs.
#[derive(Debug, Clone)]
pub(crate) struct ConnectOptions {
    /// Drain and exit: log in, take in the backlog, send what is pending, wait for acks.
    pub(crate) once: bool,
    /// With `once`: how long to wait for the backlog (`synced`) and then for the acks.
    pub(crate) timeout: Duration,
    /// How often the outbox is checked for new pending messages (a `stat`; read only when
    /// it changed).
    pub(crate) poll: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            once: false,
            timeout: Duration::from_secs(10),
            poll: Duration::from_millis(200),
        }
    }
}

/// Where the client's narrative lines go (stdout for `msg relay connect`).
pub(crate) type Report = Arc<dyn Fn(&str) + Send + Sync>;

/// What a run did, over all identities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Messages written to the inbox.
    pub(crate) received: usize,
    /// Messages received again that were already in the inbox.
    pub(crate) duplicates: usize,
    /// Messages sent to the relay.
    pub(crate) sent: usize,
    /// Sent messages the relay wrote to the recipient's connection.
    pub(crate) delivered: usize,
    /// Sent messages the relay queued for an offline recipient.
    pub(crate) queued: usize,
    /// Sent messages refused for good.
    pub(crate) failed: usize,
    /// Pending messages still without an answer when a `once` run ended.
    pub(crate) unanswered: usize,
    /// Messages that became tasks.
    pub(crate) tasks: usize,
    /// Messages the governor refused as tasks.
    pub(crate) rejected: usize,
}

impl Summary {
    pub(super) fn add(&mut self, other: &Summary) {
        self.received += other.received;
        self.duplicates += other.duplicates;
        self.sent += other.sent;
        self.delivered += other.delivered;
        self.queued += other.queued;
        self.failed += other.failed;
        self.unanswered += other.unanswered;
        self.tasks += other.tasks;
        self.rejected += other.rejected;
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "received {} new ({} again), sent {} ({} delivered, {} queued, {} failed, {} unanswered), {} new tasks, {} refused",
            self.received,
            self.duplicates,
            self.sent,
            self.delivered,
            self.queued,
            self.failed,
            self.unanswered,
            self.tasks,
            self.rejected
        )
    }
}

/// Runs the client for every identity of `ctx` until `shutdown` turns `true` (or, with
/// `once`, until each connection has drained). The files are worked on in blocking tasks;
/// call it inside a multi-threaded tokio runtime.
pub(crate) async fn connect(
    ctx: Context,
    options: ConnectOptions,
    report: Report,
    shutdown: watch::Receiver<bool>,
) -> Result<Summary, ClientError> {
    let setting = named_url(&ctx)?;
    let urls = relay_urls(&setting)?;
    let identities = identities(&ctx)?;
    // Held until every identity's run has ended: a second client for this root would
    // replace these sessions on the relay.
    let _running = running::claim(&ctx)?;
    let mut runs = Vec::new();
    for identity in identities {
        let ctx = ctx.clone();
        let options = options.clone();
        let report = report.clone();
        let relays = Relays::new(urls.clone(), &identity.name);
        let shutdown = shutdown.clone();
        runs.push(tokio::spawn(async move {
            let result = if options.once {
                once(&ctx, relays, &identity, &options, &report).await
            } else {
                foreground(&ctx, relays, &identity, &options, &report, shutdown).await
            };
            // Said at once: the other identities may go on for hours.
            if let Err(err) = &result {
                report(&format!("[relay] stopped: {err}"));
            }
            result
        }));
    }
    let mut summary = Summary::default();
    let mut first_error = None;
    for run in runs {
        match run.await {
            Ok(Ok(part)) => summary.add(&part),
            Ok(Err(err)) => {
                first_error.get_or_insert(err);
            }
            Err(join) => {
                first_error.get_or_insert(ClientError::Connection {
                    name: "client".into(),
                    url: setting.clone(),
                    reason: format!("a connection task failed: {join}"),
                });
            }
        }
    }
    match first_error {
        Some(err) => Err(err),
        None => Ok(summary),
    }
}

/// The relay URLs of `messaging.relay.url`: one, or several separated by commas or
/// whitespace (the nodes of one relay, `msg-relay serve --redis`), each checked.
fn relay_urls(setting: &str) -> Result<Vec<String>, ClientError> {
    let urls: Vec<String> = setting
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect();
    if urls.is_empty() {
        return Err(ClientError::Url {
            url: setting.to_owned(),
            reason: "no URL: use wss://HOST/ws, or several separated by commas".to_owned(),
        });
    }
    for url in &urls {
        check_url(url)?;
    }
    Ok(urls)
}

/// The relay URLs one identity uses, and which is next. Identities start at different
/// URL at random (time, process and name), so the clients of a team spread over the nodes.
struct Relays {
    urls: Vec<String>,
    next: usize,
    /// Sessions that failed since one last opened: once every URL failed in a row, the
    /// client waits (backoff) before the next round.
    failed_in_a_row: usize,
}

impl Relays {
    fn new(urls: Vec<String>, name: &str) -> Relays {
        let next = usize::try_from(backoff::seed(name) % urls.len() as u64).unwrap_or(0);
        Relays {
            urls,
            next,
            failed_in_a_row: 0,
        }
    }

    fn current(&self) -> &str {
        &self.urls[self.next]
    }

    /// A session on the current URL opened.
    fn opened(&mut self) {
        self.failed_in_a_row = 0;
    }

    /// A session on the current URL failed (or ended) for a reason another try can fix:
    /// moves to the next URL. `true` when that one has not failed in this round yet, so the
    /// client tries it at once (a node that died); `false` when every URL failed in a row,
    /// and the client waits before the next round.
    fn failed(&mut self) -> bool {
        self.next = (self.next + 1) % self.urls.len();
        self.failed_in_a_row += 1;
        if self.failed_in_a_row < self.urls.len() {
            return true;
        }
        self.failed_in_a_row = 0;
        false
    }
}

/// `messaging.relay.url`, which must be set: the settings' fallback (a public relay) is
/// never where a token goes unless the person wrote it there (issue 16).
fn named_url(ctx: &Context) -> Result<String, ClientError> {
    let named = ctx.settings().messaging.relay.url.as_deref().map(str::trim);
    match named {
        Some(url) if !url.is_empty() => Ok(url.to_owned()),
        _ => Err(ClientError::NoUrl {
            settings: ctx.paths().settings_file().display().to_string(),
        }),
    }
}

fn check_url(url: &str) -> Result<(), ClientError> {
    if url.starts_with("ws://") {
        return Ok(());
    }
    if url.starts_with("wss://") {
        // rustls needs a process-wide crypto provider; a second call finds one installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        return Ok(());
    }
    Err(ClientError::Url {
        url: url.to_owned(),
        reason: "not a WebSocket URL: use wss://HOST/ws (TLS) or ws://HOST:PORT/ws".to_owned(),
    })
}

/// The presence record of the user's connection, shared with its sessions (its file is
/// written on the blocking pool, under this lock).
pub(super) type SharedPresence = Arc<std::sync::Mutex<PresenceRecorder>>;

/// The presence recorder for `identity` in the foreground: the user's connection records
/// what it hears for `msg presence`; another client that records for this root already
/// keeps doing it (said once, not an error).
async fn presence_recorder(
    ctx: &Context,
    identity: &Identity,
    report: &Report,
) -> Option<SharedPresence> {
    if identity.name != ctx.user() {
        return None;
    }
    let owned = ctx.clone();
    // `msg presence` holds the lock's shared side for a moment while it reads: wait that
    // out; another client holds the exclusive side for its whole life.
    let started = tokio::task::spawn_blocking(move || {
        PresenceRecorder::start(&owned, Duration::from_secs(2))
    })
    .await;
    match started {
        Ok(Ok(recorder)) => Some(Arc::new(std::sync::Mutex::new(recorder))),
        Ok(Err(err)) => {
            report(&format!(
                "[relay] {}: presence is not recorded for `msg presence` ({err}); is another `msg relay connect` running for this root?",
                identity.name
            ));
            None
        }
        Err(_) => None,
    }
}

/// Records on the blocking pool that the connection is `up` (or down: nobody's status is
/// known until the relay tells it again). A failure is said, never fatal: presence is news.
pub(super) async fn record_presence(
    presence: Option<&SharedPresence>,
    report: &Report,
    change: impl FnOnce(&mut PresenceRecorder) -> Result<(), HooksError> + Send + 'static,
) {
    let Some(presence) = presence.cloned() else {
        return;
    };
    let written = tokio::task::spawn_blocking(move || {
        // A panic while the lock was held leaves a record that is still whole (each change
        // is one atomic write), so the lock is taken even when poisoned.
        let mut recorder = presence.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut recorder)
    })
    .await;
    if let Ok(Err(err)) = written {
        report(&format!("[relay] presence not recorded: {err}"));
    }
}

/// The foreground life of one identity: sessions, failing over to the next relay URL at
/// once, with backoff after a round in which every URL failed.
async fn foreground(
    ctx: &Context,
    mut relays: Relays,
    identity: &Identity,
    options: &ConnectOptions,
    report: &Report,
    mut shutdown: watch::Receiver<bool>,
) -> Result<Summary, ClientError> {
    let mut backoff = backoff::Backoff::new(backoff::seed(&identity.name));
    let mut summary = Summary::default();
    let presence = presence_recorder(ctx, identity, report).await;
    loop {
        if *shutdown.borrow() {
            return Ok(summary);
        }
        let opened = Session::open(ctx, relays.current(), identity, report, presence.clone());
        let result = match opened.await {
            Ok(mut session) => {
                backoff.reset();
                relays.opened();
                let result = session.live(options, &mut shutdown).await;
                summary.add(&session.summary);
                record_presence(presence.as_ref(), report, |p| p.connected(false)).await;
                result
            }
            Err(err) => Err(err),
        };
        match result {
            Ok(()) => return Ok(summary),
            Err(err) if err.is_retryable() => {
                if relays.failed() {
                    report(&format!("[relay] {err}; trying {}", relays.current()));
                    continue;
                }
                let wait = backoff.next_delay();
                report(&format!(
                    "[relay] {err}; reconnecting in {:.1} s",
                    wait.as_secs_f64()
                ));
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = shutdown.changed() => {}
                }
            }
            Err(err) => return Err(err),
        }
    }
}

/// Drain and exit, for one identity: on the first relay URL where a session opens.
async fn once(
    ctx: &Context,
    mut relays: Relays,
    identity: &Identity,
    options: &ConnectOptions,
    report: &Report,
) -> Result<Summary, ClientError> {
    let mut session = loop {
        match Session::open(ctx, relays.current(), identity, report, None).await {
            Ok(session) => break session,
            Err(err) if err.is_retryable() && relays.failed() => {
                report(&format!("[relay] {err}; trying {}", relays.current()));
            }
            Err(err) => return Err(err),
        }
    };
    let result = session.drain(options).await;
    session.close().await;
    result.map(|()| session.summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use msg_core::config::Settings;

    #[test]
    fn a_failed_relay_gives_way_to_the_next_at_once_and_a_failed_round_to_a_wait() {
        let urls: Vec<String> = ["a", "b", "c"].iter().map(|u| (*u).to_owned()).collect();
        let mut relays = Relays::new(urls.clone(), "bob");
        let first = relays.current().to_owned();
        assert!(relays.failed(), "second URL at once");
        assert!(relays.failed(), "third URL at once");
        assert!(!relays.failed(), "all three failed: wait");
        assert_eq!(relays.current(), first, "the next round starts over");
        assert!(relays.failed());
        relays.opened();
        // A session that opened and then broke: the next URL at once, twice again.
        assert!(relays.failed() && relays.failed());
        assert!(!relays.failed());
        // One URL: every failure waits, as with a single relay.
        let mut single = Relays::new(vec!["a".to_owned()], "bob");
        assert!(!single.failed());
        assert_eq!(single.current(), "a");
        // Identities spread over the URLs.
        let starts: std::collections::HashSet<String> = (0..64)
            .map(|n| {
                Relays::new(urls.clone(), &format!("user{n}"))
                    .current()
                    .to_owned()
            })
            .collect();
        assert_eq!(starts.len(), 3);
    }
    use msg_core::paths::Paths;

    fn ctx(yaml: &str) -> Context {
        let settings = Settings::from_yaml_str(yaml, std::path::Path::new("s.yaml")).unwrap();
        Context::new(Paths::new("/data"), settings, None).unwrap()
    }

    #[test]
    fn the_user_and_each_agent_with_a_token_log_in() {
        let ctx = ctx(
            "identity: {name: bob}\nmessaging: {relay: {token: t1, agent_tokens: {bob-claude: t2, bob-reviewer: t3}}}\n",
        );
        let names: Vec<String> = identities(&ctx)
            .unwrap()
            .into_iter()
            .map(|i| i.name)
            .collect();
        assert_eq!(names, ["bob", "bob-claude", "bob-reviewer"]);
        // Debug output never shows a token.
        let shown = format!("{:?}", identities(&ctx).unwrap());
        assert!(!shown.contains("t1") && !shown.contains("t2"), "{shown}");
    }

    #[test]
    fn without_credentials_or_with_a_wrong_url_it_says_what_to_do() {
        let err = identities(&ctx("identity: {name: bob}\n")).unwrap_err();
        assert!(err.to_string().contains("messaging.relay.token"), "{err}");
        let err = identities(&ctx(
            "identity: {name: bob}\nmessaging: {relay: {agent_tokens: {../x: t}}}\n",
        ))
        .unwrap_err();
        assert!(err.to_string().contains("agent_tokens"), "{err}");
        assert!(check_url("ws://127.0.0.1:1/ws").is_ok());
        assert_eq!(
            relay_urls("wss://a/ws, wss://b/ws\nws://c:8080/ws").unwrap(),
            ["wss://a/ws", "wss://b/ws", "ws://c:8080/ws"]
        );
        let err = relay_urls("wss://a/ws,http://b").unwrap_err();
        assert!(err.to_string().contains("\"http://b\""), "{err}");
        assert!(relay_urls(" , ").is_err());
        assert!(check_url("wss://relay.example/ws").is_ok());
        let err = check_url("http://x").unwrap_err();
        assert!(err.to_string().contains("wss://HOST/ws"), "{err}");
    }

    /// Issue 16, item 7: with a token and no `messaging.relay.url`, the client went to the
    /// settings' default (a public relay) and sent the token there.
    #[test]
    fn a_token_goes_only_to_a_relay_the_person_named() {
        for yaml in [
            "identity: {name: bob}\nmessaging: {relay: {token: t1}}\n",
            "identity: {name: bob}\nmessaging: {relay: {token: t1, url: '  '}}\n",
        ] {
            let err = named_url(&ctx(yaml)).unwrap_err();
            assert!(matches!(err, ClientError::NoUrl { .. }), "{err}");
            assert!(
                err.to_string().contains("messaging.relay.url is not set"),
                "{err}"
            );
        }
        let named =
            "identity: {name: bob}\nmessaging: {relay: {token: t1, url: 'ws://relay:1/ws'}}\n";
        assert_eq!(named_url(&ctx(named)).unwrap(), "ws://relay:1/ws");
    }
}
