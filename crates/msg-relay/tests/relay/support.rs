//! A relay on `127.0.0.1:0` and a real WebSocket client (tokio-tungstenite) to talk to it.

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use msg_relay::{LogLevel, RelayConfig, ServerSecret};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

pub(crate) const SECRET: &str = "test-secret-0123456789abcdef";

/// How long a test waits for something that must happen. Never reached when the relay
/// works; under a paused clock it is virtual time.
pub(crate) const GUARD: Duration = Duration::from_secs(30);

pub(crate) fn secret() -> ServerSecret {
    ServerSecret::new(SECRET).unwrap()
}

pub(crate) fn token(username: &str) -> String {
    secret().token_for(username).to_string()
}

/// The defaults, silent.
pub(crate) fn config() -> RelayConfig {
    RelayConfig {
        log_level: LogLevel::Off,
        ..RelayConfig::new(secret())
    }
}

pub(crate) struct Relay {
    pub(crate) addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), msg_relay::LimitsError>>>,
}

impl Relay {
    pub(crate) async fn start(config: RelayConfig) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(msg_relay::run(listener, config, async {
            let _ = stopped.await;
        }));
        Relay {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub(crate) async fn default() -> Relay {
        Relay::start(config()).await
    }

    pub(crate) async fn connect(&self) -> Client {
        let stream = TcpStream::connect(self.addr).await.unwrap();
        Client::handshake(self.addr, stream).await
    }

    /// A client whose kernel receive buffer is tiny, so that a relay writing to it while
    /// it does not read fills its queue quickly.
    pub(crate) async fn connect_with_small_receive_buffer(&self) -> Client {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(self.addr).await.unwrap();
        Client::handshake(self.addr, stream).await
    }

    /// Connects and logs in with `username`'s token (no `acks`), with an empty backlog.
    pub(crate) async fn login(&self, username: &str) -> Client {
        let mut client = self.connect().await;
        client.auth(username).await;
        client
    }

    /// Connects and logs in with `acks`; returns the client and its backlog.
    pub(crate) async fn login_acks(&self, username: &str) -> (Client, Vec<Value>) {
        let mut client = self.connect().await;
        let backlog = client.auth_backlog(username, true).await;
        (client, backlog)
    }

    /// `GET path`: status code and body.
    pub(crate) async fn get(&self, path: &str) -> (u16, String) {
        self.request("GET", path).await
    }

    /// `method path` on a connection of its own: status code and body.
    pub(crate) async fn request(&self, method: &str, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        stream
            .write_all(
                format!("{method} {path} HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
        let mut response = Vec::new();
        tokio::time::timeout(GUARD, stream.read_to_end(&mut response))
            .await
            .expect("HTTP response within the guard")
            .unwrap();
        let text = String::from_utf8(response).unwrap();
        let status = text.split(' ').nth(1).unwrap().parse().unwrap();
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    pub(crate) async fn status(&self) -> Value {
        let (code, body) = self.get("/status").await;
        assert_eq!(code, 200);
        serde_json::from_str(&body).unwrap()
    }

    pub(crate) async fn metrics(&self) -> String {
        let (code, body) = self.get("/metrics").await;
        assert_eq!(code, 200);
        body
    }

    /// The value of one metrics sample line (`name` including labels).
    pub(crate) async fn metric(&self, name: &str) -> u64 {
        let body = self.metrics().await;
        body.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no sample {name} in\n{body}"))
            .parse()
            .unwrap()
    }

    /// Polls `/metrics` until `name` has `value`: for effects a client cannot see, such as
    /// the relay finishing a connection's cleanup.
    pub(crate) async fn wait_for_metric(&self, name: &str, value: u64) {
        let wait = async {
            while self.metric(name).await != value {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(GUARD, wait)
            .await
            .unwrap_or_else(|_| panic!("{name} never became {value}"));
    }

    /// Signals shutdown and waits for `run` to return.
    pub(crate) async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(GUARD, self.task.take().unwrap())
            .await
            .expect("run returns after shutdown")
            .unwrap()
            .unwrap();
    }
}

/// What a client saw next, pings and pongs of the WebSocket layer aside.
#[derive(Debug)]
pub(crate) enum Event {
    Frame(Value),
    Binary,
    Close(Option<(u16, String)>),
    /// The stream ended (or failed) without a close frame.
    End,
}

pub(crate) struct Client {
    ws: WebSocketStream<TcpStream>,
}

impl Client {
    /// Connects to a relay at `addr` (a `msg-relay` process, say).
    pub(crate) async fn connect_to(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).await.unwrap();
        Client::handshake(addr, stream).await
    }

    /// Connects to the relay at `addr` and logs in as `username` (with `acks` when asked),
    /// expecting an empty backlog.
    pub(crate) async fn logged_in(addr: SocketAddr, username: &str, acks: bool) -> Client {
        let mut client = Client::connect_to(addr).await;
        let backlog = client.auth_backlog(username, acks).await;
        assert!(backlog.is_empty(), "unexpected backlog {backlog:?}");
        client
    }

    async fn handshake(addr: SocketAddr, stream: TcpStream) -> Client {
        let (ws, _response) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), stream)
            .await
            .unwrap();
        Client { ws }
    }

    pub(crate) async fn send(&mut self, frame: Value) {
        self.send_text(frame.to_string()).await;
    }

    /// Sends a text frame; errors are ignored (the relay may have closed the socket).
    pub(crate) async fn send_text(&mut self, text: impl Into<String>) {
        let _ = self.ws.send(Message::text(text.into())).await;
    }

    /// Queues a WebSocket ping without flushing (errors ignored, as in `send_text`).
    pub(crate) async fn feed_ping(&mut self) {
        let _ = self.ws.feed(Message::Ping(Default::default())).await;
    }

    pub(crate) async fn send_binary(&mut self, bytes: Vec<u8>) {
        let _ = self.ws.send(Message::binary(bytes)).await;
    }

    /// Queues a frame without flushing: a burst goes out in one write with `flush`.
    /// Errors are ignored, as in `send_text`.
    pub(crate) async fn feed(&mut self, frame: Value) {
        let _ = self.ws.feed(Message::text(frame.to_string())).await;
    }

    pub(crate) async fn flush(&mut self) {
        let _ = self.ws.flush().await;
    }

    /// Logs in as a v0.2.0-style client (no `acks`) and expects an empty backlog.
    pub(crate) async fn auth(&mut self, username: &str) {
        let backlog = self.auth_backlog(username, false).await;
        assert!(backlog.is_empty(), "unexpected backlog {backlog:?}");
    }

    /// Logs in (with `acks` when asked) and returns the backlog: every frame up to `synced`,
    /// whose count it checks.
    pub(crate) async fn auth_backlog(&mut self, username: &str, acks: bool) -> Vec<Value> {
        let mut frame = json!({"type": "auth", "username": username, "token": token(username)});
        if acks {
            frame["acks"] = json!(true);
        }
        self.send(frame).await;
        assert_eq!(
            self.recv().await,
            json!({"type": "auth_ok", "username": username})
        );
        self.backlog().await
    }

    /// Frames up to `synced`, which must count them. With [`Client::auth`]'s check of an
    /// empty backlog left out, for tests that expect one.
    pub(crate) async fn backlog(&mut self) -> Vec<Value> {
        let mut frames = Vec::new();
        loop {
            let frame = self.recv().await;
            if frame["type"] == "synced" {
                assert_eq!(frame["backlog"], frames.len(), "{frames:?}");
                return frames;
            }
            frames.push(frame);
        }
    }

    pub(crate) async fn send_message(&mut self, to: &str, content: &str) {
        self.send(json!({"type": "send", "to": to, "content": content}))
            .await;
    }

    /// The next event within [`GUARD`].
    pub(crate) async fn event(&mut self) -> Event {
        self.event_within(GUARD)
            .await
            .expect("an event within the guard")
    }

    /// The next event, or `None` when nothing arrives within `wait`.
    pub(crate) async fn event_within(&mut self, wait: Duration) -> Option<Event> {
        let next = async {
            loop {
                match self.ws.next().await {
                    None => return Event::End,
                    Some(Err(_)) => return Event::End,
                    Some(Ok(Message::Text(text))) => {
                        return Event::Frame(serde_json::from_str(&text).unwrap());
                    }
                    Some(Ok(Message::Binary(_))) => return Event::Binary,
                    Some(Ok(Message::Close(frame))) => {
                        return Event::Close(
                            frame.map(|frame| (u16::from(frame.code), frame.reason.to_string())),
                        );
                    }
                    Some(Ok(_)) => continue, // ping, pong
                }
            }
        };
        tokio::time::timeout(wait, next).await.ok()
    }

    /// The next JSON frame.
    pub(crate) async fn recv(&mut self) -> Value {
        match self.event().await {
            Event::Frame(frame) => frame,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    /// The next frame, which must be an `ack` with `status` and `duplicate: false`.
    pub(crate) async fn expect_ack(&mut self, status: &str) -> Value {
        let frame = self.recv().await;
        assert_eq!(frame["type"], "ack", "expected ack {status}, got {frame}");
        assert_eq!(frame["status"], status, "{frame}");
        assert_eq!(frame["duplicate"], false, "{frame}");
        frame
    }

    /// Acknowledges a message (what an `acks` client does once it has stored it).
    pub(crate) async fn ack(&mut self, id: &Value) {
        self.send(json!({"type": "ack", "id": id})).await;
    }

    /// The next frame, which must be an `error` with `code`.
    pub(crate) async fn expect_error(&mut self, code: &str) -> Value {
        let frame = self.recv().await;
        assert_eq!(frame["type"], "error", "expected error {code}, got {frame}");
        assert_eq!(frame["code"], code, "unexpected error {frame}");
        assert!(frame["message"].as_str().is_some_and(|m| !m.is_empty()));
        frame
    }

    /// The next event, which must be a close frame with `code`; then the stream ends.
    pub(crate) async fn expect_close(&mut self, code: u16) {
        match self.event().await {
            Event::Close(Some((got, _))) => assert_eq!(got, code),
            other => panic!("expected close {code}, got {other:?}"),
        }
        self.expect_end().await;
    }

    /// The relay closed the connection: no further frames.
    pub(crate) async fn expect_end(&mut self) {
        match self.event().await {
            Event::End => {}
            other => panic!("expected the end of the stream, got {other:?}"),
        }
    }

    /// Proves that nothing else is queued for this client: a `ping` is answered by the
    /// very next frame.
    pub(crate) async fn expect_nothing_pending(&mut self) {
        self.send(json!({"type": "ping"})).await;
        let next = self.recv().await;
        assert_eq!(next, json!({"type": "pong"}), "a frame was pending");
    }

    /// Closes from the client side and waits for the relay's answer.
    pub(crate) async fn close(mut self) {
        let _ = self.ws.close(None).await;
        while let Some(Ok(_)) = self.ws.next().await {}
    }
}

/// An HTTP response head: the status code and the headers (names in lower case).
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
}

impl Head {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Reads an HTTP response head (up to the blank line) from `stream`.
pub(crate) async fn read_head(stream: &mut TcpStream) -> Head {
    let mut bytes = Vec::new();
    let read = async {
        while !bytes.ends_with(b"\r\n\r\n") {
            let mut byte = [0u8; 1];
            if stream.read(&mut byte).await.unwrap() == 0 {
                panic!("the connection ended inside the response head: {bytes:?}");
            }
            bytes.push(byte[0]);
        }
    };
    tokio::time::timeout(GUARD, read)
        .await
        .expect("a response head within the guard");
    let text = String::from_utf8(bytes).unwrap();
    let mut lines = text.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    Head { status, headers }
}

/// A WebSocket spoken by hand, for frames no WebSocket library would send.
pub(crate) struct RawSocket {
    stream: TcpStream,
}

/// A valid `Sec-WebSocket-Key` (RFC 6455's example).
pub(crate) const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

impl RawSocket {
    /// Connects and upgrades with a valid handshake.
    pub(crate) async fn upgrade(addr: SocketAddr) -> RawSocket {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(
                format!(
                    "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
                     Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n\
                     Sec-WebSocket-Version: 13\r\n\r\n"
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        assert_eq!(read_head(&mut stream).await.status, 101);
        RawSocket { stream }
    }

    /// Writes one masked frame: `first` is the first byte (FIN, RSV bits, opcode).
    pub(crate) async fn write_frame(&mut self, first: u8, payload: &[u8]) {
        let mask = [0x12u8, 0x34, 0x56, 0x78];
        let mut frame = vec![first];
        match payload.len() {
            len @ 0..=125 => frame.push(0x80 | len as u8),
            len @ 126..=65535 => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        let _ = self.stream.write_all(&frame).await;
    }

    /// The next frame from the relay (opcode and payload), or `None` when the connection
    /// ends.
    pub(crate) async fn read_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        let read = async {
            let mut head = [0u8; 2];
            self.stream.read_exact(&mut head).await.ok()?;
            let len = match head[1] & 0x7f {
                126 => {
                    let mut len = [0u8; 2];
                    self.stream.read_exact(&mut len).await.ok()?;
                    usize::from(u16::from_be_bytes(len))
                }
                127 => {
                    let mut len = [0u8; 8];
                    self.stream.read_exact(&mut len).await.ok()?;
                    usize::try_from(u64::from_be_bytes(len)).ok()?
                }
                len => usize::from(len),
            };
            let mut payload = vec![0u8; len];
            self.stream.read_exact(&mut payload).await.ok()?;
            Some((head[0] & 0x0f, payload))
        };
        tokio::time::timeout(GUARD, read)
            .await
            .expect("a frame or the end within the guard")
    }

    /// The code of the relay's close frame, other frames skipped; `None` when the
    /// connection ends without one.
    pub(crate) async fn close_code(&mut self) -> Option<u16> {
        while let Some((opcode, payload)) = self.read_frame().await {
            if opcode == 0x8 {
                return (payload.len() >= 2).then(|| u16::from_be_bytes([payload[0], payload[1]]));
            }
        }
        None
    }
}
