//! One login of one identity: the frames in and out, and what they change in the files.
//!
//! A received message is written (and `fdatasync`ed) before its `ack`; a sent message is
//! recorded `delivered`/`queued` on the relay's `ack` and `failed` on a refusal that
//! retrying cannot fix ([`ErrorCode::is_permanent`]); any other refusal leaves it pending
//! with `DELIVERY_ERROR`, sent again after `retry_after_ms` (else [`RETRY_LATER`]).

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::Duration;

use futures::{FutureExt, SinkExt, StreamExt};
use msg_relay::protocol::{AckStatus, ErrorCode, MAX_FRAME_BYTES};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::mailroom::{self, DeliveryState, Incoming};
use super::wire::{self, FromRelay};
use super::{
    ClientError, ConnectOptions, Identity, Report, SharedPresence, Summary, record_presence,
};
use crate::context::Context;
use crate::desk::intake::{self, IntakeOutcome};
use crate::error::HooksError;
use msg_core::fingerprint::Fingerprint;

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
type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One login of one identity.
pub(super) struct Session {
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
    /// Where the user's connection records its contacts' presence (foreground only).
    presence: Option<SharedPresence>,
    pub(super) summary: Summary,
}

impl Session {
    pub(super) async fn open(
        ctx: &Context,
        url: &str,
        identity: &Identity,
        report: &Report,
        presence: Option<SharedPresence>,
    ) -> Result<Session, ClientError> {
        let connection_error = |reason: String| ClientError::Connection {
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
                        code,
                        code_text,
                        message,
                        ..
                    }) => {
                        return Err(if code.is_retryable() {
                            connection_error(format!("{code_text}: {message}"))
                        } else {
                            ClientError::Login {
                                name: identity.name.clone(),
                                code,
                                code_text,
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
            presence,
            summary: Summary::default(),
        };
        record_presence(session.presence.as_ref(), report, |p| p.connected(true)).await;
        session.write(wire::status("online")).await?;
        if identity.name == ctx.user() {
            let watched = watched_contacts(ctx).await;
            if !watched.is_empty() {
                session.write(wire::watch(&watched)).await?;
            }
        }
        Ok(session)
    }

    fn broken(&self, reason: String) -> ClientError {
        ClientError::Connection {
            name: self.name.clone(),
            url: self.url.clone(),
            reason,
        }
    }

    async fn write(&mut self, text: String) -> Result<(), ClientError> {
        let result = self.socket.send(WsMessage::text(text)).await;
        result.map_err(|err| self.broken(err.to_string()))
    }

    pub(super) async fn close(&mut self) {
        let _ = self.socket.close(None).await;
    }

    /// The next frame, `Ok(None)` after the connection closed cleanly on the relay's side.
    async fn next(&mut self) -> Result<FromRelay, ClientError> {
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
                        return Err(ClientError::Replaced {
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
    pub(super) async fn drain(&mut self, options: &ConnectOptions) -> Result<(), ClientError> {
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
    pub(super) async fn live(
        &mut self,
        options: &ConnectOptions,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), ClientError> {
        let outbox = self
            .ctx
            .store()
            .map_err(ClientError::from)?
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

    async fn handle(&mut self, frame: FromRelay) -> Result<(), ClientError> {
        match frame {
            FromRelay::Message(message) => self.receive(message).await,
            FromRelay::Ack {
                id,
                status,
                duplicate,
            } => {
                self.in_flight.remove(&id);
                self.not_before.remove(&id);
                // A status this version does not know is taken as the weaker one: queued.
                let state = if status == AckStatus::Delivered {
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
            FromRelay::Delivered { id } => {
                // A message the relay had queued reached its recipient: `queued` becomes
                // `delivered` (a repeat, or an ID not in the outbox, changes nothing).
                let line = format!("[relay] {}: {id} delivered (it had been queued)", self.name);
                let changed = self
                    .files(move |ctx| {
                        mailroom::record_delivery(&ctx, &id, &DeliveryState::Delivered)
                    })
                    .await?;
                if changed {
                    self.summary.delivered += 1;
                    (self.report)(&line);
                }
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
                code,
                code_text,
                message,
                id,
                retry_after_ms,
            } => {
                self.refused(code, code_text, message, id, retry_after_ms)
                    .await
            }
            FromRelay::Presence { username, status } => {
                // Said once it is recorded, so that a reader of the line finds it there.
                let line = format!("[relay] {username} is {status}");
                record_presence(self.presence.as_ref(), &self.report, move |p| {
                    p.status(&username, &status)
                })
                .await;
                (self.report)(&line);
                Ok(())
            }
            FromRelay::AuthOk | FromRelay::Other => Ok(()),
        }
    }

    /// An `error` frame: `code` decides, `code_text` (the code as the relay wrote it) is
    /// what is said and recorded.
    async fn refused(
        &mut self,
        code: ErrorCode,
        code_text: String,
        message: String,
        id: Option<String>,
        retry_after_ms: Option<u64>,
    ) -> Result<(), ClientError> {
        if code == ErrorCode::SessionReplaced {
            return Err(ClientError::Replaced {
                name: self.name.clone(),
            });
        }
        let Some(id) = id.filter(|id| self.in_flight.contains(id) || code == ErrorCode::Expired)
        else {
            if code == ErrorCode::InvalidFrame && self.acks_understood {
                // A relay without store-and-forward does not know `ack`.
                self.acks_understood = false;
            }
            (self.report)(&format!(
                "[relay] {}: relay says {code_text}: {message}",
                self.name
            ));
            return Ok(());
        };
        self.in_flight.remove(&id);
        if code.is_permanent() {
            self.summary.failed += 1;
            (self.report)(&format!(
                "[relay] {}: {id} failed ({code_text}): {message}",
                self.name
            ));
            let state = DeliveryState::Failed(code_text);
            self.files(move |ctx| mailroom::record_delivery(&ctx, &id, &state))
                .await?;
        } else {
            let wait = retry_after_ms.map_or(RETRY_LATER, Duration::from_millis);
            (self.report)(&format!(
                "[relay] {}: {id} not accepted now ({code_text}); trying again in {} s",
                self.name,
                wait.as_secs().max(1)
            ));
            self.not_before.insert(id.clone(), Instant::now() + wait);
            self.files(move |ctx| mailroom::record_attempt_error(&ctx, &id, &code_text))
                .await?;
        }
        Ok(())
    }

    /// Stores a received message, with every further message the socket already holds (a
    /// backlog arrives as a burst: one inbox transaction for all of it), acknowledges each
    /// once on disk, and runs intake on those for an agent.
    async fn receive(&mut self, first: Incoming) -> Result<(), ClientError> {
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
                if !ctx.local_agents().contains(&name) {
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
        for ((receipt, relay_id), from) in receipts.into_iter().zip(&relay_ids).zip(&senders) {
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
        for (relay_id, from) in relay_ids.iter().zip(&senders) {
            self.ack(relay_id, from).await?;
        }
        // A refusal reply is pending now; send it without waiting for the next poll.
        if self.synced {
            self.send_pending().await?;
        }
        Ok(())
    }

    async fn ack(&mut self, id: &str, from: &str) -> Result<(), ClientError> {
        if self.acks_understood && !id.is_empty() {
            self.write(wire::ack(id, from)).await?;
        }
        Ok(())
    }

    /// Sends this identity's pending messages not already on their way.
    async fn send_pending(&mut self) -> Result<(), ClientError> {
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
            // The largest frame a relay takes by default: a message that does not fit is
            // marked failed here, instead of being refused (and the connection closed) by
            // the relay on every attempt.
            if frame.len() > MAX_FRAME_BYTES {
                self.summary.failed += 1;
                (self.report)(&format!(
                    "[relay] {}: {id} failed: {} bytes is more than a relay frame may hold ({MAX_FRAME_BYTES})",
                    self.name,
                    frame.len(),
                ));
                let state = DeliveryState::Failed(ErrorCode::FrameTooLarge.as_str().into());
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
    ) -> Result<T, ClientError> {
        let ctx = self.ctx.clone();
        match tokio::task::spawn_blocking(move || f(ctx)).await {
            Ok(result) => result.map_err(ClientError::from),
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
