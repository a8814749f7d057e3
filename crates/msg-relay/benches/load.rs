//! Load generator for the relay: K authenticated WebSocket clients on loopback against a
//! `msg-relay serve` child process, so that the relay's RSS and CPU time are its own
//! (`/proc/<pid>/status` VmRSS, `/proc/<pid>/stat` utime + stime).
//!
//! Scenarios (issue 7's targets are printed next to the figures):
//! - **flood**: every client sends as fast as the relay acknowledges (a window of
//!   `--window` unacknowledged sends per client) to the next client in a ring; reports
//!   delivered messages/s, latency p50/p99 and relay CPU µs per delivered message;
//! - **paced**: `--rate` messages/s in total, spread evenly over the clients and over time;
//!   reports latency p50/p99 (target with 500 clients at 1,000 msg/s: p99 ≤ 5 ms);
//! - **idle**: `--idle` authenticated connections that do nothing; reports relay RSS (target
//!   for 10,000: ≤ 150 MB);
//! - **spool**: like flood, but every message goes to a name that is offline, on a relay
//!   with `--spool`: durable queuing, where each `queued` ack waits for the spool's
//!   `fdatasync` (group commit). Its "delivered" column counts acknowledged sends.
//!
//! Every run is bounded in time (`--seconds`) and in messages (`--messages`). With `--acks`
//! the clients log in with `acks` and acknowledge every message, so that each one is also
//! kept in (and removed from) its recipient's queue. With `--sealed` every `send` carries
//! what a signed and sealed message of the relay client carries (issue 21): a `signature`
//! token (176 characters), a `sealed` payload (600 characters: a 200-byte message sealed to
//! two readers) and `priority`, which the relay passes on untouched.
//!
//! ```sh
//! cargo bench -p msg-relay --bench load                  # everything, about a minute
//! cargo bench -p msg-relay --bench load -- --quick       # shorter runs, about 20 s
//! cargo bench -p msg-relay --bench load -- flood --clients 10 --seconds 5
//! ```
//!
//! Without `--bench` on the command line (`cargo test --benches`, `--all-targets`) it runs a
//! smoke check of every scenario with a handful of clients in a few seconds, so the
//! generator cannot rot.
//!
//! 10,000 idle connections need 10,000 descriptors in this process and in the relay (which
//! inherits the limit): raise it first if `ulimit -n` is lower (`ulimit -n 20000`).

use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use msg_relay::ServerSecret;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const SECRET: &str = "load-generator-secret-0123456789abcdef";
const TARGET_CPU_US_PER_MESSAGE: f64 = 4.0;
const TARGET_PACED_P99_MS: f64 = 5.0;
const TARGET_IDLE_RSS_MB: f64 = 150.0;

#[derive(Debug, Clone)]
struct Options {
    scenarios: Vec<String>,
    clients: Option<usize>,
    rate: Option<u64>,
    idle: Option<usize>,
    window: usize,
    seconds: Option<f64>,
    messages: Option<u64>,
    quick: bool,
    smoke: bool,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut options = Options {
        scenarios: Vec::new(),
        clients: None,
        rate: None,
        idle: None,
        window: 16,
        seconds: None,
        messages: None,
        quick: std::env::var_os("MSG_BENCH_QUICK").is_some(),
        smoke: !args.iter().any(|arg| arg == "--bench"),
    };
    let mut args = args.into_iter();
    let value = |args: &mut std::vec::IntoIter<String>, flag: &str| -> String {
        args.next()
            .unwrap_or_else(|| panic!("{flag} needs a value"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => {}
            "--quick" => options.quick = true,
            "--acks" => ACKS.store(true, Ordering::Relaxed),
            "--sealed" => SEALED.store(true, Ordering::Relaxed),
            "--clients" => options.clients = Some(value(&mut args, "--clients").parse().unwrap()),
            "--rate" => options.rate = Some(value(&mut args, "--rate").parse().unwrap()),
            "--idle" => options.idle = Some(value(&mut args, "--idle").parse().unwrap()),
            "--window" => options.window = value(&mut args, "--window").parse().unwrap(),
            "--seconds" => options.seconds = Some(value(&mut args, "--seconds").parse().unwrap()),
            "--messages" => {
                options.messages = Some(value(&mut args, "--messages").parse().unwrap());
            }
            "flood" | "paced" | "idle" | "spool" => options.scenarios.push(arg),
            // libtest flags that `cargo bench` may pass along.
            other if other.starts_with('-') => {}
            other => panic!("unknown scenario {other:?}: flood, paced, idle or spool"),
        }
    }
    if options.scenarios.is_empty() {
        options.scenarios = vec![
            "flood".into(),
            "paced".into(),
            "idle".into(),
            "spool".into(),
        ];
    }
    options
}

// ---------------------------------------------------------------------------------------------
// The relay process

struct RelayProcess {
    child: Child,
    addr: SocketAddr,
}

impl RelayProcess {
    /// Starts `msg-relay serve` on a free loopback port with limits that let a load test
    /// through (the defaults protect a public relay from exactly this: 20 frames/s per
    /// connection, 10,000 connections, 256 queued frames per connection).
    fn start(extra: &[&str]) -> RelayProcess {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // `MSG_BENCH_RELAY_WRAPPER="valgrind --tool=callgrind"`: run the relay under a tool
        // (instruction counts do not move with the machine's load; see docs/PERFORMANCE.md).
        let wrapper = relay_wrapper();
        let mut command = match wrapper.split_first() {
            Some((tool, args)) => {
                let mut command = Command::new(tool);
                command.args(args).arg(env!("CARGO_BIN_EXE_msg-relay"));
                command
            }
            None => Command::new(env!("CARGO_BIN_EXE_msg-relay")),
        };
        let child = command
            .env("RELAY_SECRET", SECRET)
            .args([
                "serve",
                "--port",
                &port.to_string(),
                "--log-level",
                "warn",
                "--messages-per-second",
                "1000000",
                "--burst",
                "1000000",
                "--max-connections",
                "30000",
                "--outbound-queue-frames",
                "4096",
                "--outbound-queue-bytes",
                "4194304",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .spawn()
            .expect("start msg-relay");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        // Polling with a deadline: a real process must come up.
        let deadline = Instant::now() + Duration::from_secs(30);
        while msg_relay::healthcheck(addr, Duration::from_secs(1)).is_err() {
            assert!(Instant::now() < deadline, "msg-relay did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        RelayProcess { child, addr }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// utime + stime of the relay process, in microseconds.
    fn cpu_us(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // The command name (field 2) is in parentheses and may hold spaces: split after it.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after.split(' ').collect();
        // Fields 14 and 15 of the whole line are 12 and 13 after the name and state.
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        ticks * 1_000_000 / clock_ticks_per_second()
    }

    /// The relay's resident set size in bytes.
    fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status
            .lines()
            .find(|line| line.starts_with("VmRSS:"))
            .unwrap();
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        if !relay_wrapper().is_empty() {
            // A tool writes its results when the relay exits: SIGTERM, a graceful shutdown.
            let stopped = Command::new("kill")
                .args(["-TERM", &self.pid().to_string()])
                .status()
                .is_ok_and(|status| status.success());
            if stopped && self.child.wait().is_ok() {
                return;
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The command the relay runs under (`MSG_BENCH_RELAY_WRAPPER`, split at whitespace), if any.
fn relay_wrapper() -> Vec<String> {
    std::env::var("MSG_BENCH_RELAY_WRAPPER")
        .map(|wrapper| wrapper.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn clock_ticks_per_second() -> u64 {
    // `sysconf(_SC_CLK_TCK)` needs libc (and unsafe); getconf asks the same.
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(100)
}

// ---------------------------------------------------------------------------------------------
// Clients

type Socket = WebSocketStream<TcpStream>;

fn user(index: usize) -> String {
    format!("u{index}")
}

async fn login(addr: SocketAddr, index: usize, secret: &ServerSecret) -> Socket {
    let stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).unwrap();
    // A small read buffer: tungstenite's default (128 KiB, zero-filled on the first read)
    // would make 10,000 idle clients cost this process 1.3 GB.
    let config = WebSocketConfig::default().read_buffer_size(8 * 1024);
    let (mut socket, _) = tokio_tungstenite::client_async_with_config(
        format!("ws://{addr}/ws"),
        stream,
        Some(config),
    )
    .await
    .expect("websocket handshake");
    let name = user(index);
    let auth = format!(
        r#"{{"type":"auth","username":"{name}","token":"{}","acks":{}}}"#,
        secret.token_for(&name),
        ACKS.load(Ordering::Relaxed)
    );
    socket.send(Message::text(auth)).await.unwrap();
    // auth_ok, then the (empty) backlog and `synced`.
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) if text.starts_with(r#"{"type":"synced""#) => break,
            Some(Ok(Message::Text(text))) => {
                assert!(!text.contains(r#""type":"error""#), "login refused: {text}")
            }
            Some(Ok(_)) => {}
            other => panic!("login of {name} failed: {other:?}"),
        }
    }
    socket
}

/// Logs in `count` clients, `parallel` at a time (a burst of 10,000 SYNs would overflow the
/// listen backlog and measure TCP retransmission timers instead).
async fn login_all(addr: SocketAddr, count: usize, parallel: usize) -> Vec<Socket> {
    let secret = Arc::new(ServerSecret::new(SECRET).unwrap());
    let mut sockets = Vec::with_capacity(count);
    let mut start = 0;
    while start < count {
        let end = (start + parallel).min(count);
        let batch: Vec<_> = (start..end)
            .map(|index| {
                let secret = Arc::clone(&secret);
                tokio::spawn(async move { login(addr, index, &secret).await })
            })
            .collect();
        for task in batch {
            sockets.push(task.await.unwrap());
        }
        start = end;
    }
    sockets
}

/// What the receiving halves record.
#[derive(Default)]
struct Tally {
    delivered: AtomicU64,
    acks: AtomicU64,
}

/// The sender's clock reading in a message's content: nanoseconds since `epoch`.
fn stamp(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Reads one client's frames until the stream ends or `stop` is set and nothing arrives for
/// a moment; returns the latencies (µs) of the messages it received.
type Sink = Arc<tokio::sync::Mutex<futures::stream::SplitSink<Socket, Message>>>;

async fn receive(
    mut stream: futures::stream::SplitStream<Socket>,
    sink: Sink,
    epoch: Instant,
    tally: Arc<Tally>,
    window: Option<Arc<Semaphore>>,
    stop: Arc<AtomicBool>,
) -> Vec<u32> {
    let mut latencies = Vec::new();
    loop {
        let next = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
        let frame = match next {
            Ok(Some(Ok(frame))) => frame,
            Ok(_) => break,
            Err(_) if stop.load(Ordering::Relaxed) => break,
            Err(_) => continue,
        };
        let Message::Text(text) = frame else {
            continue;
        };
        // String checks instead of a JSON parse: the generator shares the CPU with the relay.
        if text.starts_with(r#"{"type":"message""#) {
            let now = stamp(epoch);
            if let Some(sent) = text
                .split_once(r#""content":""#)
                .and_then(|(_, rest)| rest.split_once('"'))
                .and_then(|(digits, _)| digits.parse::<u64>().ok())
            {
                latencies.push(u32::try_from(now.saturating_sub(sent) / 1000).unwrap_or(u32::MAX));
            }
            if ACKS.load(Ordering::Relaxed)
                && let Some((id, _)) = text
                    .split_once(r#""id":""#)
                    .and_then(|(_, rest)| rest.split_once('"'))
            {
                let ack = Message::text(format!(r#"{{"type":"ack","id":"{id}"}}"#));
                let _ = sink.lock().await.send(ack).await;
            }
            tally.delivered.fetch_add(1, Ordering::Relaxed);
        } else if text.starts_with(r#"{"type":"ack""#) {
            tally.acks.fetch_add(1, Ordering::Relaxed);
            if let Some(window) = &window {
                window.add_permits(1);
            }
        } else if text.contains(r#""type":"error""#) {
            panic!("the relay refused something: {text}");
        }
    }
    latencies
}

fn send_frame(from: usize, to: &str, seq: u64, epoch: Instant) -> Message {
    if SEALED.load(Ordering::Relaxed) {
        // The sizes of the relay client's frames (see the module docs); the content stays
        // the send time, which the receiver reads for the latency.
        const SIGNATURE: &str = concat!(
            "sig1.iojj3XQJ8ZX9UtstPLpdcspnCb8dlBIb83SIAbQPb1w",
            ".zo060cy2M-x7cMF4FKXHbs0CloUFDTRHRboFhw5YfVk",
            ".7U4lOp-FpieUqvsmyLkEeAF2ERLGCqqjjDL0KRE7lA-H-tfAkHwjOXwc7nEv4AukhZmQ-vzlRem2Qr9dUJ6ECA"
        );
        let sealed = "AQKd3gR7x_-9".repeat(50);
        return Message::text(format!(
            r#"{{"type":"send","to":"{to}","id":"m-{from}-{seq}","content":"{}","priority":"normal","signature":"{SIGNATURE}","sealed":"{sealed}"}}"#,
            stamp(epoch)
        ));
    }
    Message::text(format!(
        r#"{{"type":"send","to":"{to}","id":"m-{from}-{seq}","content":"{}"}}"#,
        stamp(epoch)
    ))
}

struct Run {
    clients: usize,
    sent: u64,
    delivered: u64,
    wall: Duration,
    relay_cpu_us: u64,
    latencies: Vec<u32>,
}

impl Run {
    fn rate(&self) -> f64 {
        self.delivered as f64 / self.wall.as_secs_f64()
    }

    fn cpu_per_message(&self) -> f64 {
        self.relay_cpu_us as f64 / self.delivered.max(1) as f64
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let index = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        f64::from(self.latencies[index]) / 1000.0
    }
}

/// Every client sends to the next one in a ring: as fast as its window of unacknowledged
/// sends allows (`rate == None`), or `rate` messages/s in total, evenly spread.
async fn traffic(
    relay: &RelayProcess,
    clients: usize,
    rate: Option<u64>,
    window: usize,
    seconds: f64,
    max_messages: u64,
    offline: bool,
) -> Run {
    let sockets = login_all(relay.addr, clients, 200).await;
    let epoch = Instant::now();
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let sent_total = Arc::new(AtomicU64::new(0));
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(seconds);
    let per_client_budget = max_messages.div_ceil(clients as u64);
    let cpu_before = relay.cpu_us();
    let started = Instant::now();
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for (index, socket) in sockets.into_iter().enumerate() {
        let (sink, stream) = socket.split();
        let sink: Sink = Arc::new(tokio::sync::Mutex::new(sink));
        let permits = rate.is_none().then(|| Arc::new(Semaphore::new(window)));
        receivers.push(tokio::spawn(receive(
            stream,
            Arc::clone(&sink),
            epoch,
            Arc::clone(&tally),
            permits.clone(),
            Arc::clone(&stop),
        )));
        let sent_total = Arc::clone(&sent_total);
        // Offline: names nobody logs in as, one per sender, so every message is queued.
        let to = if offline {
            format!("offline{index}")
        } else {
            user((index + 1) % clients)
        };
        senders.push(tokio::spawn(async move {
            let mut seq = 0u64;
            match (rate, permits) {
                (None, Some(permits)) => {
                    while seq < per_client_budget && tokio::time::Instant::now() < deadline {
                        let Ok(permit) = permits.acquire().await else {
                            break;
                        };
                        permit.forget();
                        // Take what else the window allows and flush once.
                        let mut batch = 1 + permits.available_permits();
                        if let Ok(more) = permits.try_acquire_many(batch as u32 - 1) {
                            more.forget();
                        } else {
                            batch = 1;
                        }
                        let mut sink = sink.lock().await;
                        for _ in 0..batch {
                            seq += 1;
                            sink.feed(send_frame(index, &to, seq, epoch)).await.unwrap();
                        }
                        sink.flush().await.unwrap();
                    }
                }
                (Some(rate), _) => {
                    // This client's share of the rate, phase-shifted so that the clients
                    // together send at an even pace.
                    let period = Duration::from_secs_f64(clients as f64 / rate as f64);
                    let offset = Duration::from_secs_f64(index as f64 / rate as f64);
                    let mut ticks =
                        tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
                    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                    loop {
                        let tick = ticks.tick().await;
                        if tick >= deadline || seq >= per_client_budget {
                            break;
                        }
                        seq += 1;
                        let frame = send_frame(index, &to, seq, epoch);
                        sink.lock().await.send(frame).await.unwrap();
                    }
                }
                (None, None) => unreachable!(),
            }
            sent_total.fetch_add(seq, Ordering::Relaxed);
            sink
        }));
    }
    let mut sinks = Vec::new();
    for sender in senders {
        sinks.push(sender.await.unwrap());
    }
    // Let what is in flight arrive (bounded: at most a second).
    let sent = sent_total.load(Ordering::Relaxed);
    let drain_deadline = Instant::now() + Duration::from_secs(1);
    let done = |tally: &Tally| {
        if offline {
            tally.acks.load(Ordering::Relaxed)
        } else {
            tally.delivered.load(Ordering::Relaxed)
        }
    };
    while done(&tally) < sent && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let wall = started.elapsed();
    let relay_cpu_us = relay.cpu_us() - cpu_before;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for receiver in receivers {
        latencies.extend(receiver.await.unwrap());
    }
    latencies.sort_unstable();
    for sink in sinks {
        let _ = sink.lock().await.close().await;
    }
    Run {
        clients,
        sent,
        delivered: done(&tally),
        wall,
        relay_cpu_us,
        latencies,
    }
}

/// `count` authenticated connections that do nothing: the relay's RSS before and after.
async fn idle(relay: &RelayProcess, count: usize) -> (u64, u64, Duration) {
    let before = relay.rss_bytes();
    let started = Instant::now();
    let sockets = login_all(relay.addr, count, 200).await;
    let took = started.elapsed();
    // Let the relay settle (its tasks finish their handshake work).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = relay.rss_bytes();
    drop(sockets);
    (before, after, took)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// PASS or MISS; smoke runs (debug builds, a handful of clients) give no verdict.
fn verdict(ok: bool) -> &'static str {
    if SMOKE.load(Ordering::Relaxed) {
        "smoke run, no verdict"
    } else if ok {
        "PASS"
    } else {
        "MISS"
    }
}

static SMOKE: AtomicBool = AtomicBool::new(false);
/// `--acks`: clients log in with `acks` and acknowledge every message, so each one also
/// passes through the recipient's queue (kept until its ack arrives).
static ACKS: AtomicBool = AtomicBool::new(false);
/// `--sealed`: every `send` carries a signature and a sealed payload of realistic size.
static SEALED: AtomicBool = AtomicBool::new(false);

fn print_run(name: &str, run: &Run, target: &str) {
    let latency = match run.latencies.last() {
        Some(max) => format!(
            "{:.2} / {:.2} / {:.2}",
            run.percentile_ms(0.50),
            run.percentile_ms(0.99),
            f64::from(*max) / 1000.0
        ),
        None => "–".to_owned(),
    };
    println!(
        "| {name} | {} | {} / {} | {:.1} s | {:.0} | {latency} | {:.2} | {target} |",
        run.clients,
        run.delivered,
        run.sent,
        run.wall.as_secs_f64(),
        run.rate(),
        run.cpu_per_message(),
    );
}

fn main() {
    let options = options();
    SMOKE.store(options.smoke, Ordering::Relaxed);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "msg-relay load generator ({} mode); load average before: {}",
        if options.smoke {
            "smoke"
        } else if options.quick {
            "quick"
        } else {
            "full"
        },
        load.split(' ').take(3).collect::<Vec<_>>().join(" ")
    );
    println!();
    println!(
        "| scenario | clients | delivered / sent | wall | delivered msg/s | latency p50 / p99 / max ms | relay CPU µs/msg | target |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let seconds = |full: f64, quick: f64, smoke: f64| {
        options.seconds.unwrap_or(if options.smoke {
            smoke
        } else if options.quick {
            quick
        } else {
            full
        })
    };
    let max_messages = options.messages.unwrap_or(u64::MAX);
    let mut idle_line = None;
    runtime.block_on(async {
        for scenario in &options.scenarios {
            // A fresh relay per run: one's leftovers do not weigh on the next.
            match scenario.as_str() {
                "flood" => {
                    let relay = RelayProcess::start(&[]);
                    let clients = options
                        .clients
                        .unwrap_or(if options.smoke { 4 } else { 100 });
                    let run = traffic(
                        &relay,
                        clients,
                        None,
                        options.window,
                        seconds(10.0, 3.0, 0.5),
                        max_messages,
                        false,
                    )
                    .await;
                    assert!(run.delivered > 0, "nothing was delivered");
                    let cpu = run.cpu_per_message();
                    let name = if ACKS.load(Ordering::Relaxed) {
                        "flood, acks"
                    } else {
                        "flood"
                    };
                    print_run(
                        name,
                        &run,
                        &format!(
                            "CPU ≤ {TARGET_CPU_US_PER_MESSAGE} µs/msg: {}",
                            verdict(cpu <= TARGET_CPU_US_PER_MESSAGE)
                        ),
                    );
                }
                "paced" => {
                    let rate = options.rate.unwrap_or(if options.smoke { 200 } else { 1000 });
                    let client_counts = match options.clients {
                        Some(clients) => vec![clients],
                        None if options.smoke => vec![20],
                        None => vec![50, 500],
                    };
                    for clients in client_counts {
                        let relay = RelayProcess::start(&[]);
                        let run = traffic(
                            &relay,
                            clients,
                            Some(rate),
                            options.window,
                            seconds(10.0, 3.0, 0.5),
                            max_messages,
                            false,
                        )
                        .await;
                        assert!(run.delivered > 0, "nothing was delivered");
                        let p99 = run.percentile_ms(0.99);
                        let target = if clients == 500 && rate == 1000 {
                            format!(
                                "p99 ≤ {TARGET_PACED_P99_MS} ms: {}",
                                verdict(p99 <= TARGET_PACED_P99_MS)
                            )
                        } else {
                            "(Python: p99 10 ms with 50 clients)".to_owned()
                        };
                        print_run(&format!("paced {rate}/s"), &run, &target);
                    }
                }
                "spool" => {
                    // Durable queuing: every message goes to an offline name, and its
                    // `queued` ack leaves only after the spool's fdatasync.
                    let dir = std::env::temp_dir()
                        .join(format!("msg-relay-bench-spool-{}", std::process::id()));
                    let _ = std::fs::remove_dir_all(&dir);
                    let relay = RelayProcess::start(&[
                        "--spool",
                        dir.to_str().expect("a UTF-8 temp dir"),
                        "--queue-max-messages",
                        "100000000",
                        "--queue-max-bytes",
                        "4000000000",
                        "--queue-total-bytes",
                        "4000000000",
                    ]);
                    let clients = options
                        .clients
                        .unwrap_or(if options.smoke { 4 } else { 100 });
                    let run = traffic(
                        &relay,
                        clients,
                        None,
                        options.window,
                        seconds(5.0, 3.0, 0.5),
                        max_messages,
                        true,
                    )
                    .await;
                    assert!(run.delivered > 0, "nothing was queued");
                    print_run(
                        "spool (queued, durable)",
                        &run,
                        "(no target; each ack after fdatasync)",
                    );
                    drop(relay);
                    let _ = std::fs::remove_dir_all(&dir);
                }
                "idle" => {
                    let relay = RelayProcess::start(&[]);
                    let count = options.idle.unwrap_or(if options.smoke { 100 } else { 10_000 });
                    let (before, after, took) = idle(&relay, count).await;
                    let per_connection = after.saturating_sub(before) as f64 / count as f64;
                    let target = if count == 10_000 {
                        format!(
                            "≤ {TARGET_IDLE_RSS_MB} MB: {}",
                            verdict(mib(after) <= TARGET_IDLE_RSS_MB)
                        )
                    } else {
                        format!("(target is for 10,000: ≤ {TARGET_IDLE_RSS_MB} MB)")
                    };
                    idle_line = Some(format!(
                        "idle: {count} authenticated connections (logged in within {:.1} s): relay RSS {:.1} MiB (empty relay {:.1} MiB, {:.1} KiB per connection) — {target}",
                        took.as_secs_f64(),
                        mib(after),
                        mib(before),
                        per_connection / 1024.0,
                    ));
                }
                other => unreachable!("{other}"),
            }
        }
    });
    if let Some(line) = idle_line {
        println!();
        println!("{line}");
    }
}
