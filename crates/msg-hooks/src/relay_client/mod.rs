//! `msg relay connect`: the machine's connection to the relay.
//!
//! The client logs in once per local identity ([`identities`]): as the user
//! (`identity.name` with `messaging.relay.token`) and as each agent with a token of its own
//! (`messaging.relay.agent_tokens`), each on its own WebSocket, because the relay routes a
//! message by the recipient's name and proves every name by its own token. On each
//! connection it:
//!
//! - **receives**: a `message` frame is written to `inbox.org` (once: a redelivery finds its
//!   ID there, see [`crate::mailroom`]) and only then acknowledged (`ack`), so a
//!   crash before the write means the relay delivers it again; a message to an agent then
//!   goes through task intake ([`crate::intake`]);
//! - **sends** the entries of `outbox.org` that are `:DELIVERY: pending` and from this
//!   identity, and records the relay's answer on each: `delivered` or `queued` (from the
//!   relay's `ack`), `failed` with `DELIVERY_ERROR` for a refusal that retrying cannot fix;
//!   a refusal that can pass later (`rate_limited`, `queue_full`, ...) leaves it pending
//!   with `DELIVERY_ERROR` and it is sent again later. A message without an ack stays
//!   pending: a relay without acks never makes a message count as delivered;
//! - **reports presence**: `status_change online` after the login, and `watch` of the
//!   space's contacts on the user's connection (their `presence` frames are printed);
//! - **reconnects** with exponential backoff and jitter (`backoff.rs`), except after a
//!   refused login (a wrong token does not fix itself) and after close code 4000
//!   (`session_replaced`: another client logged in under the name; two clients replacing
//!   each other forever would help no one).
//!
//! With [`ConnectOptions::once`], each connection logs in, takes in the backlog until the
//! relay's `synced`, sends what is pending, waits for the acks (at most
//! [`ConnectOptions::timeout`]) and closes.

mod backoff;
mod wire;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::context::Context;
use crate::error::HooksError;
use crate::intake::{self, IntakeOutcome};
use crate::mailroom::{self, DeliveryState, Incoming};
use crate::seen::Fingerprint;
use wire::FromRelay;

/// How long the login may take.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a message refused for a passing reason waits before it is sent again, when
/// the relay does not say (`retry_after_ms`).
const RETRY_LATER: Duration = Duration::from_secs(30);
/// Silence after which the connection is taken for dead (the relay pings every 30 s).
const SILENCE: Duration = Duration::from_secs(120);
/// The most received messages stored in one inbox transaction.
const BATCH: usize = 256;
/// The largest frame accepted from the relay.
const MAX_INCOMING_BYTES: usize = 1024 * 1024;
/// Error codes after which retrying the same message cannot succeed.
const PERMANENT: [&str; 6] = [
    "recipient_required",
    "invalid_frame",
    "invalid_json",
    "frame_too_large",
    "expired",
    "invalid_username",
];

/// One name the client logs in as, and how it proves it.
#[derive(Clone)]
pub struct Identity {
    /// The name.
    pub name: String,
    token: Option<String>,
    secret: Option<String>,
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
pub fn identities(ctx: &Context) -> Result<Vec<Identity>, RelayError> {
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
        return Err(RelayError::NoIdentity {
            user: ctx.user().to_owned(),
        });
    }
    Ok(identities)
}

/// How `msg relay connect` runs.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Drain and exit: log in, take in the backlog, send what is pending, wait for acks.
    pub once: bool,
    /// With `once`: how long to wait for the backlog (`synced`) and then for the acks.
    pub timeout: Duration,
    /// How often the outbox is checked for new pending messages (a `stat`; read only when
    /// it changed).
    pub poll: Duration,
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
pub type Report = Arc<dyn Fn(&str) + Send + Sync>;

/// What a run did, over all identities.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Messages written to the inbox.
    pub received: usize,
    /// Messages received again that were already in the inbox.
    pub duplicates: usize,
    /// Messages sent to the relay.
    pub sent: usize,
    /// Sent messages the relay wrote to the recipient's connection.
    pub delivered: usize,
    /// Sent messages the relay queued for an offline recipient.
    pub queued: usize,
    /// Sent messages refused for good.
    pub failed: usize,
    /// Pending messages still without an answer when a `once` run ended.
    pub unanswered: usize,
    /// Messages that became tasks.
    pub tasks: usize,
    /// Messages the governor refused as tasks.
    pub rejected: usize,
}

impl Summary {
    fn add(&mut self, other: &Summary) {
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

/// Why the relay client stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// Nothing to log in with.
    #[error(
        "no relay credentials: set messaging.relay.token (the relay's `msg-relay token {user}` prints it) or messaging.relay.agent_tokens in the settings"
    )]
    NoIdentity {
        /// The local user.
        user: String,
    },
    /// The URL cannot be used.
    #[error("messaging.relay.url {url:?}: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The relay could not be reached or the connection broke.
    #[error("{name}: connection to {url} failed: {reason}")]
    Connection {
        /// The identity.
        name: String,
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The relay refused the login.
    #[error("{name}: the relay refused the login ({code}): {message}")]
    Login {
        /// The identity.
        name: String,
        /// The error code.
        code: String,
        /// The relay's words.
        message: String,
    },
    /// Another client logged in under the same name.
    #[error(
        "{name}: another client logged in as {name} and replaced this one (close code 4000); not reconnecting"
    )]
    Replaced {
        /// The identity.
        name: String,
    },
    /// Reading or writing the files failed.
    #[error(transparent)]
    Files(#[from] HooksError),
}

impl RelayError {
    /// Whether reconnecting can help.
    fn is_retryable(&self) -> bool {
        matches!(self, RelayError::Connection { .. })
    }
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Runs the client for every identity of `ctx` until `shutdown` turns `true` (or, with
/// `once`, until each connection has drained). The files are worked on in blocking tasks;
/// call it inside a multi-threaded tokio runtime.
pub async fn connect(
    ctx: Context,
    options: ConnectOptions,
    report: Report,
    shutdown: watch::Receiver<bool>,
) -> Result<Summary, RelayError> {
    let url = ctx.settings().relay_url().to_owned();
    check_url(&url)?;
    let identities = identities(&ctx)?;
    let mut runs = Vec::new();
    for identity in identities {
        let ctx = ctx.clone();
        let options = options.clone();
        let report = report.clone();
        let url = url.clone();
        let shutdown = shutdown.clone();
        runs.push(tokio::spawn(async move {
            let result = if options.once {
                once(&ctx, &url, &identity, &options, &report).await
            } else {
                foreground(&ctx, &url, &identity, &options, &report, shutdown).await
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
                first_error.get_or_insert(RelayError::Connection {
                    name: "client".into(),
                    url: url.clone(),
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

fn check_url(url: &str) -> Result<(), RelayError> {
    if url.starts_with("ws://") {
        return Ok(());
    }
    if url.starts_with("wss://") {
        // rustls needs a process-wide crypto provider; a second call finds one installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        return Ok(());
    }
    Err(RelayError::Url {
        url: url.to_owned(),
        reason: "not a WebSocket URL: use wss://HOST/ws (TLS) or ws://HOST:PORT/ws".to_owned(),
    })
}

/// The foreground life of one identity: sessions, with backoff between them.
async fn foreground(
    ctx: &Context,
    url: &str,
    identity: &Identity,
    options: &ConnectOptions,
    report: &Report,
    mut shutdown: watch::Receiver<bool>,
) -> Result<Summary, RelayError> {
    let mut backoff = backoff::Backoff::new(backoff::seed(&identity.name));
    let mut summary = Summary::default();
    loop {
        if *shutdown.borrow() {
            return Ok(summary);
        }
        let result = match Session::open(ctx, url, identity, report).await {
            Ok(mut session) => {
                backoff.reset();
                let result = session.live(options, &mut shutdown).await;
                summary.add(&session.summary);
                result
            }
            Err(err) => Err(err),
        };
        match result {
            Ok(()) => return Ok(summary),
            Err(err) if err.is_retryable() => {
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

/// Drain and exit, for one identity.
async fn once(
    ctx: &Context,
    url: &str,
    identity: &Identity,
    options: &ConnectOptions,
    report: &Report,
) -> Result<Summary, RelayError> {
    let mut session = Session::open(ctx, url, identity, report).await?;
    let result = session.drain(options).await;
    session.close().await;
    result.map(|()| session.summary)
}

/// One login of one identity.
struct Session {
    ctx: Context,
    name: String,
    url: String,
    report: Report,
    socket: Socket,
    /// Sent, waiting for the relay's ack or error.
    in_flight: HashSet<String>,
    /// Pending messages refused for a passing reason: not before this instant.
    not_before: HashMap<String, Instant>,
    /// Whether the relay understood an `ack` (it stops being sent after `invalid_frame`).
    acks_understood: bool,
    /// Frames read while gathering a batch of messages, to be handled next, in order.
    buffered: VecDeque<FromRelay>,
    /// What the socket gave while gathering a batch that is not a frame (a close, an
    /// error): [`Session::next`] deals with it next.
    stashed: Option<Option<Result<WsMessage, tokio_tungstenite::tungstenite::Error>>>,
    synced: bool,
    summary: Summary,
}

impl Session {
    async fn open(
        ctx: &Context,
        url: &str,
        identity: &Identity,
        report: &Report,
    ) -> Result<Session, RelayError> {
        let connection_error = |reason: String| RelayError::Connection {
            name: identity.name.clone(),
            url: url.to_owned(),
            reason,
        };
        // A relay sends frames of at most its own limit (64 KiB by default); a larger one is
        // refused here rather than buffered, whoever sends it.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .max_message_size(Some(MAX_INCOMING_BYTES))
            .max_frame_size(Some(MAX_INCOMING_BYTES));
        let connecting = tokio_tungstenite::connect_async_with_config(url, Some(config), false);
        let (mut socket, _) = tokio::time::timeout(LOGIN_TIMEOUT, connecting)
            .await
            .map_err(|_| connection_error("no answer within 10 s".into()))?
            .map_err(|err| connection_error(err.to_string()))?;
        let auth = wire::auth(
            &identity.name,
            identity.token.as_deref(),
            identity.secret.as_deref(),
        );
        socket
            .send(WsMessage::text(auth))
            .await
            .map_err(|err| connection_error(err.to_string()))?;
        let deadline = Instant::now() + LOGIN_TIMEOUT;
        loop {
            let frame = tokio::time::timeout_at(deadline, socket.next())
                .await
                .map_err(|_| connection_error("no login answer within 10 s".into()))?;
            match frame {
                Some(Ok(WsMessage::Text(text))) => match wire::parse(&text) {
                    Some(FromRelay::AuthOk) => break,
                    Some(FromRelay::Error {
                        code_text, message, ..
                    }) => {
                        let retryable =
                            matches!(code_text.as_str(), "too_many_connections" | "rate_limited");
                        return Err(if retryable {
                            connection_error(format!("{code_text}: {message}"))
                        } else {
                            RelayError::Login {
                                name: identity.name.clone(),
                                code: code_text,
                                message,
                            }
                        });
                    }
                    _ => {}
                },
                Some(Ok(WsMessage::Close(frame))) => {
                    return Err(connection_error(close_reason(frame.as_ref())));
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(connection_error(err.to_string())),
                None => return Err(connection_error("closed during the login".into())),
            }
        }
        report(&format!("[relay] {}: logged in to {url}", identity.name));
        let mut session = Session {
            ctx: ctx.clone(),
            name: identity.name.clone(),
            url: url.to_owned(),
            report: report.clone(),
            socket,
            in_flight: HashSet::new(),
            not_before: HashMap::new(),
            acks_understood: true,
            buffered: VecDeque::new(),
            stashed: None,
            synced: false,
            summary: Summary::default(),
        };
        session.write(wire::status("online")).await?;
        if identity.name == ctx.user() {
            let watched = watched_contacts(ctx).await;
            if !watched.is_empty() {
                session.write(wire::watch(&watched)).await?;
            }
        }
        Ok(session)
    }

    fn broken(&self, reason: String) -> RelayError {
        RelayError::Connection {
            name: self.name.clone(),
            url: self.url.clone(),
            reason,
        }
    }

    async fn write(&mut self, text: String) -> Result<(), RelayError> {
        let result = self.socket.send(WsMessage::text(text)).await;
        result.map_err(|err| self.broken(err.to_string()))
    }

    async fn close(&mut self) {
        let _ = self.socket.close(None).await;
    }

    /// The next frame, `Ok(None)` after the connection closed cleanly on the relay's side.
    async fn next(&mut self) -> Result<FromRelay, RelayError> {
        if let Some(frame) = self.buffered.pop_front() {
            return Ok(frame);
        }
        loop {
            let frame = match self.stashed.take() {
                Some(frame) => frame,
                None => tokio::time::timeout(SILENCE, self.socket.next())
                    .await
                    .map_err(|_| self.broken("nothing from the relay for 120 s".into()))?,
            };
            match frame {
                Some(Ok(WsMessage::Text(text))) => {
                    if let Some(frame) = wire::parse(&text) {
                        return Ok(frame);
                    }
                    (self.report)(&format!(
                        "[relay] {}: skipped a frame that is not understood",
                        self.name
                    ));
                }
                Some(Ok(WsMessage::Close(frame))) => {
                    if frame.as_ref().map(|f| u16::from(f.code))
                        == Some(msg_relay::protocol::close::SESSION_REPLACED)
                    {
                        return Err(RelayError::Replaced {
                            name: self.name.clone(),
                        });
                    }
                    return Err(self.broken(close_reason(frame.as_ref())));
                }
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(self.broken(err.to_string())),
                None => return Err(self.broken("the relay closed the connection".into())),
            }
        }
    }

    /// `--once`: backlog until `synced`, then the pending messages and their acks.
    async fn drain(&mut self, options: &ConnectOptions) -> Result<(), RelayError> {
        let deadline = Instant::now() + options.timeout;
        while !self.synced {
            match tokio::time::timeout_at(deadline, self.next()).await {
                Ok(frame) => self.handle(frame?).await?,
                Err(_) => {
                    (self.report)(&format!(
                        "[relay] {}: the relay sent no `synced` within {} s (a relay without store-and-forward?); going on",
                        self.name,
                        options.timeout.as_secs()
                    ));
                    break;
                }
            }
        }
        self.send_pending().await?;
        let deadline = Instant::now() + options.timeout;
        while !self.in_flight.is_empty() {
            match tokio::time::timeout_at(deadline, self.next()).await {
                Ok(frame) => self.handle(frame?).await?,
                Err(_) => break,
            }
        }
        self.summary.unanswered = self.in_flight.len();
        if !self.in_flight.is_empty() {
            (self.report)(&format!(
                "[relay] {}: no ack within {} s for {} message(s); they stay pending",
                self.name,
                options.timeout.as_secs(),
                self.in_flight.len()
            ));
        }
        Ok(())
    }

    /// Foreground: frames, and the outbox whenever it changes, until shutdown.
    async fn live(
        &mut self,
        options: &ConnectOptions,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), RelayError> {
        let outbox = self
            .ctx
            .store()
            .map_err(RelayError::from)?
            .outbox_path()
            .to_owned();
        let mut outbox_print = None;
        let mut poll = tokio::time::interval(options.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => {
                    self.close().await;
                    return Ok(());
                }
                frame = self.next() => self.handle(frame?).await?,
                _ = poll.tick() => {
                    let print = Fingerprint::of(&outbox);
                    let due = self.not_before.values().any(|at| *at <= Instant::now());
                    if print != outbox_print || due {
                        outbox_print = print;
                        self.send_pending().await?;
                    }
                }
            }
        }
    }

    async fn handle(&mut self, frame: FromRelay) -> Result<(), RelayError> {
        match frame {
            FromRelay::Message(message) => self.receive(message).await,
            FromRelay::Ack {
                id,
                status,
                duplicate,
            } => {
                self.in_flight.remove(&id);
                self.not_before.remove(&id);
                let state = if status == "delivered" {
                    self.summary.delivered += 1;
                    DeliveryState::Delivered
                } else {
                    self.summary.queued += 1;
                    DeliveryState::Queued
                };
                let again = if duplicate { " (a repeat)" } else { "" };
                let line = format!("[relay] {}: {id} {}{again}", self.name, state.as_str());
                // Said once it is on disk, so that a reader of the line finds it there.
                self.files(move |ctx| mailroom::record_delivery(&ctx, &id, &state))
                    .await?;
                (self.report)(&line);
                Ok(())
            }
            FromRelay::Synced { backlog } => {
                self.synced = true;
                (self.report)(&format!(
                    "[relay] {}: in sync ({backlog} from the backlog)",
                    self.name
                ));
                Ok(())
            }
            FromRelay::Error {
                code_text,
                message,
                id,
                retry_after_ms,
                ..
            } => self.refused(code_text, message, id, retry_after_ms).await,
            FromRelay::Presence { username, status } => {
                (self.report)(&format!("[relay] {username} is {status}"));
                Ok(())
            }
            FromRelay::AuthOk | FromRelay::Other => Ok(()),
        }
    }

    async fn refused(
        &mut self,
        code: String,
        message: String,
        id: Option<String>,
        retry_after_ms: Option<u64>,
    ) -> Result<(), RelayError> {
        if code == "session_replaced" {
            return Err(RelayError::Replaced {
                name: self.name.clone(),
            });
        }
        let Some(id) = id.filter(|id| self.in_flight.contains(id) || code == "expired") else {
            if code == "invalid_frame" && self.acks_understood {
                // A relay without store-and-forward does not know `ack`.
                self.acks_understood = false;
            }
            (self.report)(&format!(
                "[relay] {}: relay says {code}: {message}",
                self.name
            ));
            return Ok(());
        };
        self.in_flight.remove(&id);
        if PERMANENT.contains(&code.as_str()) {
            self.summary.failed += 1;
            (self.report)(&format!(
                "[relay] {}: {id} failed ({code}): {message}",
                self.name
            ));
            let state = DeliveryState::Failed(code);
            self.files(move |ctx| mailroom::record_delivery(&ctx, &id, &state))
                .await?;
        } else {
            let wait = retry_after_ms.map_or(RETRY_LATER, Duration::from_millis);
            (self.report)(&format!(
                "[relay] {}: {id} not accepted now ({code}); trying again in {} s",
                self.name,
                wait.as_secs().max(1)
            ));
            self.not_before.insert(id.clone(), Instant::now() + wait);
            self.files(move |ctx| mailroom::record_attempt_error(&ctx, &id, &code))
                .await?;
        }
        Ok(())
    }

    /// Stores a received message, with every further message the socket already holds (a
    /// backlog arrives as a burst: one inbox transaction for all of it), acknowledges each
    /// once on disk, and runs intake on those for an agent.
    async fn receive(&mut self, first: Incoming) -> Result<(), RelayError> {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match self.socket.next().now_or_never() {
                None => break,
                Some(Some(Ok(WsMessage::Text(text)))) => match wire::parse(&text) {
                    Some(FromRelay::Message(message)) => batch.push(message),
                    Some(other) => {
                        self.buffered.push_back(other);
                        break;
                    }
                    None => {}
                },
                Some(Some(Ok(WsMessage::Ping(_) | WsMessage::Pong(_)))) => {}
                Some(other) => {
                    self.stashed = Some(other);
                    break;
                }
            }
        }
        let relay_ids: Vec<String> = batch.iter().map(|m| m.id.clone()).collect();
        let senders: Vec<String> = batch.iter().map(|m| m.from.clone()).collect();
        for message in &mut batch {
            // The relay delivered it to this connection's name, whatever the sender wrote.
            message.to = self.name.clone();
        }
        let name = self.name.clone();
        let (receipts, outcomes) = self
            .files(move |ctx| {
                let receipts = mailroom::receive_all(&ctx, &batch)?;
                if !intake::local_agents(&ctx).contains(&name) {
                    return Ok((receipts, Ok(Vec::new())));
                }
                let stored: HashSet<&str> = receipts
                    .iter()
                    .filter_map(|r| r.as_ref().ok().map(|r| r.id.as_str()))
                    .collect();
                // Intake of a message no longer unread does nothing, so a redelivery costs
                // no more than this read.
                let unread: Vec<msg_store::Message> = ctx
                    .store()?
                    .unread()?
                    .into_iter()
                    .filter(|m| stored.contains(m.id.as_str()))
                    .collect();
                let outcomes = intake::run_on(&ctx, &unread).map_err(|e| e.to_string());
                Ok((receipts, outcomes))
            })
            .await?;
        // Every receipt and intake outcome is reported before the first ack: an ack that
        // fails on a dead socket must not hide what is already on disk.
        for ((receipt, relay_id), from) in receipts.into_iter().zip(&relay_ids).zip(senders) {
            match receipt {
                Ok(receipt) if receipt.new => {
                    self.summary.received += 1;
                    (self.report)(&format!(
                        "[relay] {}: received {} from {from}",
                        self.name, receipt.id
                    ));
                }
                Ok(receipt) => {
                    self.summary.duplicates += 1;
                    (self.report)(&format!(
                        "[relay] {}: {} again (already in the inbox)",
                        self.name, receipt.id
                    ));
                }
                Err(err) => {
                    // A message this client can never store (a sender name that is not an
                    // actor): acknowledged so the relay stops sending it, and said.
                    (self.report)(&format!(
                        "[relay] {}: dropped message {relay_id:?} from {from:?}: {err}",
                        self.name
                    ));
                }
            }
        }
        match outcomes {
            Ok(outcomes) => {
                for outcome in outcomes {
                    match &outcome {
                        IntakeOutcome::Task { .. } => self.summary.tasks += 1,
                        IntakeOutcome::Rejected { .. } => self.summary.rejected += 1,
                        _ => {}
                    }
                    (self.report)(&format!("[intake] {}", outcome.describe()));
                }
            }
            Err(err) => (self.report)(&format!(
                "[intake] {}: messages stay unread: {err}",
                self.name
            )),
        }
        // On disk (fdatasync'd) before the relay hears of it.
        for relay_id in &relay_ids {
            self.ack(relay_id).await?;
        }
        // A refusal reply is pending now; send it without waiting for the next poll.
        if self.synced {
            self.send_pending().await?;
        }
        Ok(())
    }

    async fn ack(&mut self, id: &str) -> Result<(), RelayError> {
        if self.acks_understood && !id.is_empty() {
            self.write(wire::ack(id)).await?;
        }
        Ok(())
    }

    /// Sends this identity's pending messages not already on their way.
    async fn send_pending(&mut self) -> Result<(), RelayError> {
        let name = self.name.clone();
        let pending = self
            .files(move |ctx| mailroom::pending(&ctx, &[name]))
            .await?;
        let now = Instant::now();
        for message in pending {
            if self.in_flight.contains(&message.id)
                || self.not_before.get(&message.id).is_some_and(|at| *at > now)
            {
                continue;
            }
            let frame = wire::send(&message);
            let id = message.id.clone();
            if frame.len() > wire::MAX_FRAME_BYTES {
                self.summary.failed += 1;
                (self.report)(&format!(
                    "[relay] {}: {id} failed: {} bytes is more than a relay frame may hold ({})",
                    self.name,
                    frame.len(),
                    wire::MAX_FRAME_BYTES
                ));
                let state = DeliveryState::Failed("frame_too_large".into());
                self.files(move |ctx| mailroom::record_delivery(&ctx, &id, &state))
                    .await?;
                continue;
            }
            self.write(frame).await?;
            self.not_before.remove(&id);
            self.summary.sent += 1;
            (self.report)(&format!(
                "[relay] {}: sent {id} to {}",
                self.name,
                message.to.as_deref().unwrap_or("?")
            ));
            self.in_flight.insert(id);
        }
        Ok(())
    }

    /// Runs a file operation on the blocking pool (locks and fsyncs must not stall the
    /// runtime's threads).
    async fn files<T: Send + 'static>(
        &self,
        f: impl FnOnce(Context) -> Result<T, HooksError> + Send + 'static,
    ) -> Result<T, RelayError> {
        let ctx = self.ctx.clone();
        match tokio::task::spawn_blocking(move || f(ctx)).await {
            Ok(result) => result.map_err(RelayError::from),
            Err(join) => Err(self.broken(format!("a file operation failed: {join}"))),
        }
    }
}

fn close_reason(frame: Option<&tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> String {
    match frame {
        Some(frame) => format!(
            "the relay closed the connection ({} {})",
            u16::from(frame.code),
            frame.reason
        ),
        None => "the relay closed the connection".into(),
    }
}

/// The contacts whose presence the user's connection watches.
async fn watched_contacts(ctx: &Context) -> Vec<String> {
    let ctx = ctx.clone();
    tokio::task::spawn_blocking(move || {
        let Ok(path) = ctx.paths().contacts_file(ctx.space()) else {
            return Vec::new();
        };
        crate::contacts::load(&path)
            .map(|contacts| contacts.into_iter().map(|c| c.id).collect())
            .unwrap_or_default()
    })
    .await
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use msg_core::config::Settings;
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
        assert!(check_url("wss://relay.example/ws").is_ok());
        let err = check_url("http://x").unwrap_err();
        assert!(err.to_string().contains("wss://HOST/ws"), "{err}");
    }
}
