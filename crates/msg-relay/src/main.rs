//! `msg-relay`: run the relay (`serve`), issue a user's token (`token`), probe a running relay
//! (`healthcheck`). Exit status: 0 ok, 1 failure, 2 usage (bad flags, no secret).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, anyhow};
use argh::FromArgs;
use msg_relay::{LegacyDelivery, Limits, LogLevel, PresenceMode, RelayConfig, ServerSecret};

#[derive(FromArgs, Debug)]
/// The datacore-messaging relay: a WebSocket server that carries messages between machines.
#[argh(help_triggers("-h", "--help", "help"))]
struct Cli {
    #[argh(subcommand)]
    command: Command,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once per process; argh cannot parse a boxed subcommand"
)]
enum Command {
    Serve(ServeArgs),
    Token(TokenArgs),
    Healthcheck(HealthcheckArgs),
}

#[derive(FromArgs, Debug)]
/// Run the relay. The secret comes from --secret-file, else $RELAY_SECRET_FILE, else
/// $RELAY_SECRET; without one the relay refuses to start.
#[argh(subcommand, name = "serve", help_triggers("-h", "--help", "help"))]
struct ServeArgs {
    /// address to listen on (default 127.0.0.1; 0.0.0.0 in a container)
    #[argh(option, default = "IpAddr::V4(Ipv4Addr::LOCALHOST)")]
    bind: IpAddr,
    /// port to listen on (default $PORT, else 8080)
    #[argh(option)]
    port: Option<u16>,
    /// does nothing: accepted so that Procfiles written for the Python relay
    /// (`python -m lib.relay --host`) keep working; use --bind to choose the address
    #[argh(switch)]
    host: bool,
    /// read the secret from this file (trailing newline ignored)
    #[argh(option)]
    secret_file: Option<PathBuf>,
    /// also accept the v0.2.0 login with the shared secret, which lets anyone holding it
    /// log in under any name (logged as a warning)
    #[argh(switch)]
    allow_shared_secret: bool,
    /// who receives presence: `watchers` (default: connections that sent `watch` for that
    /// user) or `broadcast` (every user, as v0.2.0 did)
    #[argh(option, default = "String::from(\"watchers\")")]
    presence: String,
    /// largest frame a client may send, in bytes
    #[argh(option)]
    max_frame_bytes: Option<usize>,
    /// sustained frames per second per connection
    #[argh(option)]
    messages_per_second: Option<u32>,
    /// frames per connection in a burst above that rate
    #[argh(option)]
    burst: Option<u32>,
    /// most connections held at once, WebSockets and those not upgraded yet
    #[argh(option)]
    max_connections: Option<usize>,
    /// concurrent sessions per user; a login beyond it replaces the oldest
    #[argh(option)]
    max_sessions_per_user: Option<usize>,
    /// users one connection may watch
    #[argh(option)]
    max_watches: Option<usize>,
    /// seconds from connect to a completed WebSocket upgrade (or the end of a plain HTTP
    /// connection)
    #[argh(option)]
    handshake_timeout_secs: Option<u64>,
    /// seconds from the upgrade to a successful auth
    #[argh(option)]
    auth_timeout_secs: Option<u64>,
    /// seconds between the relay's WebSocket pings
    #[argh(option)]
    heartbeat_secs: Option<u64>,
    /// seconds without any frame, pongs included, before a connection is closed
    #[argh(option)]
    idle_timeout_secs: Option<u64>,
    /// frames queued for one connection before it counts as not reading
    #[argh(option)]
    outbound_queue_frames: Option<usize>,
    /// bytes queued for one connection before it counts as not reading
    #[argh(option)]
    outbound_queue_bytes: Option<usize>,
    /// seconds a write may take before the connection is closed
    #[argh(option)]
    write_timeout_secs: Option<u64>,
    /// seconds open connections get on shutdown to receive what is queued
    #[argh(option)]
    shutdown_grace_secs: Option<u64>,
    /// log level: `info` (default), `warn` or `off`
    #[argh(option, default = "String::from(\"info\")")]
    log_level: String,
    /// messages one recipient's offline queue holds, unacknowledged ones included
    #[argh(option)]
    queue_max_messages: Option<usize>,
    /// bytes one recipient's offline queue holds
    #[argh(option)]
    queue_max_bytes: Option<usize>,
    /// bytes all offline queues together hold
    #[argh(option)]
    queue_total_bytes: Option<usize>,
    /// messages of one sender waiting in all queues together
    #[argh(option)]
    sender_queue_max_messages: Option<usize>,
    /// bytes of one sender's messages in all queues together
    #[argh(option)]
    sender_queue_max_bytes: Option<usize>,
    /// seconds a queued message waits for its recipient before it expires
    #[argh(option)]
    queue_ttl_secs: Option<u64>,
    /// seconds a (sender, id) is remembered to recognise a repeated send
    #[argh(option)]
    dedupe_window_secs: Option<u64>,
    /// how many (sender, id) pairs are remembered at most; 0 turns dedupe off
    #[argh(option)]
    dedupe_max_entries: Option<usize>,
    /// keep the offline queues durably in this directory (an append-only log, synced before
    /// a message is acknowledged as queued); without it they live in memory only
    #[argh(option)]
    spool: Option<PathBuf>,
    /// when a message to a client that logged in without `acks` counts as delivered:
    /// `on-write` (default) or `ack-required`
    #[argh(option, default = "String::from(\"on-write\")")]
    legacy_delivery: String,
    /// run as one node of several sharing this Redis (default $REDIS_URL; e.g.
    /// redis://HOST:6379, rediss:// for TLS): queues, sessions, presence and limits live
    /// there (docs/relay.md, "Running several nodes"); not with --spool
    #[argh(option)]
    redis: Option<String>,
    /// with --redis: the prefix of every key and channel (default msg-relay:)
    #[argh(option)]
    redis_prefix: Option<String>,
    /// with --redis: milliseconds a Redis operation may take before the relay refuses
    /// what waited for it with a retryable `unavailable` (default 2000)
    #[argh(option)]
    redis_timeout_ms: Option<u64>,
}

#[derive(FromArgs, Debug)]
/// Print the token that USERNAME logs in with (the `token` of its `auth` frame), or with
/// --revoke make a running relay refuse USERNAME's tokens and print the new one. Uses the
/// same secret as `serve`: --secret-file, $RELAY_SECRET_FILE or $RELAY_SECRET.
#[argh(subcommand, name = "token", help_triggers("-h", "--help", "help"))]
struct TokenArgs {
    /// the user name the token is for
    #[argh(positional)]
    username: String,
    /// read the secret from this file (trailing newline ignored)
    #[argh(option)]
    secret_file: Option<PathBuf>,
    /// the relay's spool directory: once a name's tokens were revoked, its token depends on
    /// how often (recorded there), so give it to print the token that works now
    #[argh(option)]
    spool: Option<PathBuf>,
    /// the Redis of a relay of several nodes (default $REDIS_URL), which records the
    /// generations instead of a spool
    #[argh(option)]
    redis: Option<String>,
    /// revoke USERNAME's tokens on the running relay at --address and --port: its sessions
    /// are closed and its old tokens refused from now on (the relay needs --spool); prints
    /// the new token
    #[argh(switch)]
    revoke: bool,
    /// with --revoke: the relay's address (default 127.0.0.1)
    #[argh(option, default = "IpAddr::V4(Ipv4Addr::LOCALHOST)")]
    address: IpAddr,
    /// with --revoke: the relay's port (default $PORT, else 8080)
    #[argh(option)]
    port: Option<u16>,
    /// with --revoke: seconds to wait for the answer (default 10)
    #[argh(option, default = "10")]
    timeout_secs: u64,
}

#[derive(FromArgs, Debug)]
/// Exit 0 when a relay answers GET /healthz with 200, else 1 (for container health checks).
#[argh(
    subcommand,
    name = "healthcheck",
    help_triggers("-h", "--help", "help")
)]
struct HealthcheckArgs {
    /// the relay's address (default 127.0.0.1)
    #[argh(option, default = "IpAddr::V4(Ipv4Addr::LOCALHOST)")]
    address: IpAddr,
    /// the relay's port (default $PORT, else 8080)
    #[argh(option)]
    port: Option<u16>,
    /// seconds to wait for the answer (default 3)
    #[argh(option, default = "3")]
    timeout_secs: u64,
}

/// A mistake in how the program was called: exit status 2.
#[derive(Debug)]
struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

fn main() -> ExitCode {
    // Decided before the runtime starts threads (msg-core's timestamp rules).
    msg_core::timestamp::init_local_offset(None);
    let args: Vec<String> = std::env::args().collect();
    if matches!(&args[1..], [only] if only == "--version" || only == "-V") {
        println!("msg-relay {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let cli = match Cli::from_args(
        &["msg-relay"],
        &args.iter().skip(1).map(String::as_str).collect::<Vec<_>>(),
    ) {
        Ok(cli) => cli,
        Err(early) => {
            return match early.status {
                Ok(()) => {
                    println!("{}", with_limit_defaults(&early.output));
                    ExitCode::SUCCESS
                }
                Err(()) => {
                    eprintln!(
                        "{}\nRun msg-relay --help for more information.",
                        early.output
                    );
                    ExitCode::from(2)
                }
            };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("msg-relay: {err:#}");
            if err.downcast_ref::<UsageError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Token(args) => token(&args),
        Command::Healthcheck(args) => {
            let port = port(args.port)?;
            let addr = SocketAddr::new(args.address, port);
            msg_relay::healthcheck(addr, Duration::from_secs(args.timeout_secs.max(1)))?;
            Ok(())
        }
    }
}

/// `msg-relay token`: the token of a name, from the secret and the name's token generation;
/// with `--revoke`, after moving the name to its next generation on the running relay.
fn token(args: &TokenArgs) -> anyhow::Result<()> {
    let secret = load_secret(args.secret_file.as_deref())?;
    let username = &args.username;
    msg_relay::validate_username(username).map_err(|err| usage(err.to_string()))?;
    if !args.revoke {
        let redis = redis_url(args.redis.as_deref());
        let generation = match (&args.spool, redis) {
            (Some(_), Some(_)) => {
                return Err(usage("give --spool or --redis (or $REDIS_URL), not both"));
            }
            (Some(dir), None) => msg_relay::Spool::token_generation(dir, username)
                .with_context(|| format!("cannot read the spool {}", dir.display()))?,
            (None, Some(url)) => redis_token_generation(&url, username)?,
            (None, None) => 0,
        };
        println!("{}", secret.token_at(username, generation));
        return Ok(());
    }
    if args.spool.is_some() {
        return Err(usage(
            "--spool is for printing a token; --revoke asks the running relay, which knows \
             its spool",
        ));
    }
    let addr = SocketAddr::new(args.address, port(args.port)?);
    let timeout = Duration::from_secs(args.timeout_secs.max(1));
    let revoked = msg_relay::revoke_tokens(addr, &secret, username, timeout)?;
    println!("{}", secret.token_at(username, revoked.generation));
    eprintln!(
        "Revoked every earlier token of {username} (now at generation {}) and closed {} of \
         its sessions; the line above is its new token.",
        revoked.generation, revoked.sessions_closed
    );
    Ok(())
}

/// `--redis`, else a non-empty `$REDIS_URL`.
fn redis_url(flag: Option<&str>) -> Option<String> {
    flag.map(str::to_owned).or_else(|| {
        std::env::var("REDIS_URL")
            .ok()
            .filter(|url| !url.trim().is_empty())
    })
}

/// A name's token generation as the Redis of a relay of several nodes records it.
fn redis_token_generation(url: &str, username: &str) -> anyhow::Result<u32> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let engine = msg_relay::RedisEngine::connect(
            url,
            msg_relay::RedisEngine::DEFAULT_PREFIX,
            msg_relay::RedisEngine::DEFAULT_TIMEOUT,
        )
        .await?;
        Ok(engine.token_generation(username).await?)
    })
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // `--host` is read and deliberately has no effect (see its help).
    let _no_op = args.host;
    let mut config = config(&args)?;
    let addr = SocketAddr::new(args.bind, port(args.port)?);
    let redis = redis_url(args.redis.as_deref());
    if redis.is_some() && config.spool.is_some() {
        return Err(usage(
            "--spool and --redis (or $REDIS_URL) exclude each other: with Redis the queues \
             live there",
        ));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        if let Some(url) = redis {
            let prefix = args
                .redis_prefix
                .as_deref()
                .unwrap_or(msg_relay::RedisEngine::DEFAULT_PREFIX);
            let timeout = args.redis_timeout_ms.map_or(
                msg_relay::RedisEngine::DEFAULT_TIMEOUT,
                Duration::from_millis,
            );
            if timeout.is_zero() {
                return Err(usage("--redis-timeout-ms must be greater than zero"));
            }
            config.redis = Some(msg_relay::RedisEngine::connect(&url, prefix, timeout).await?);
        }
        let shutdown = shutdown_signal()?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let spool = config.spool.clone();
        msg_relay::run(listener, config, shutdown).await?;
        if let Some(failure) = spool.as_ref().and_then(msg_relay::Spool::failure) {
            return Err(anyhow!("the spool failed, so the relay stopped: {failure}"));
        }
        Ok(())
    })
}

/// The relay configuration from the flags, with [`Limits::default`] for what is not given.
fn config(args: &ServeArgs) -> anyhow::Result<RelayConfig> {
    let secret = load_secret(args.secret_file.as_deref())?;
    let defaults = Limits::default();
    let secs = |value: Option<u64>, default: Duration| value.map_or(default, Duration::from_secs);
    let limits = Limits {
        max_frame_bytes: args.max_frame_bytes.unwrap_or(defaults.max_frame_bytes),
        messages_per_second: args
            .messages_per_second
            .unwrap_or(defaults.messages_per_second),
        burst: args.burst.unwrap_or(defaults.burst),
        max_connections: args.max_connections.unwrap_or(defaults.max_connections),
        max_sessions_per_user: args
            .max_sessions_per_user
            .unwrap_or(defaults.max_sessions_per_user),
        max_watches: args.max_watches.unwrap_or(defaults.max_watches),
        handshake_timeout: secs(args.handshake_timeout_secs, defaults.handshake_timeout),
        auth_timeout: secs(args.auth_timeout_secs, defaults.auth_timeout),
        heartbeat_interval: secs(args.heartbeat_secs, defaults.heartbeat_interval),
        idle_timeout: secs(args.idle_timeout_secs, defaults.idle_timeout),
        outbound_queue_frames: args
            .outbound_queue_frames
            .unwrap_or(defaults.outbound_queue_frames),
        outbound_queue_bytes: args
            .outbound_queue_bytes
            .unwrap_or(defaults.outbound_queue_bytes),
        write_timeout: secs(args.write_timeout_secs, defaults.write_timeout),
        shutdown_grace: secs(args.shutdown_grace_secs, defaults.shutdown_grace),
        queue_max_messages: args
            .queue_max_messages
            .unwrap_or(defaults.queue_max_messages),
        queue_max_bytes: args.queue_max_bytes.unwrap_or(defaults.queue_max_bytes),
        queue_total_bytes: args.queue_total_bytes.unwrap_or(defaults.queue_total_bytes),
        sender_queue_max_messages: args
            .sender_queue_max_messages
            .unwrap_or(defaults.sender_queue_max_messages),
        sender_queue_max_bytes: args
            .sender_queue_max_bytes
            .unwrap_or(defaults.sender_queue_max_bytes),
        queue_ttl: secs(args.queue_ttl_secs, defaults.queue_ttl),
        dedupe_window: secs(args.dedupe_window_secs, defaults.dedupe_window),
        dedupe_max_entries: args
            .dedupe_max_entries
            .unwrap_or(defaults.dedupe_max_entries),
    };
    limits.check().map_err(|err| usage(err.to_string()))?;
    let presence = match args.presence.as_str() {
        "watchers" => PresenceMode::Watchers,
        "broadcast" => PresenceMode::Broadcast,
        other => {
            return Err(usage(format!(
                "--presence must be `watchers` or `broadcast`, not {other:?}"
            )));
        }
    };
    let log_level = match args.log_level.as_str() {
        "info" => LogLevel::Info,
        "warn" => LogLevel::Warn,
        "off" => LogLevel::Off,
        other => {
            return Err(usage(format!(
                "--log-level must be `info`, `warn` or `off`, not {other:?}"
            )));
        }
    };
    let legacy_delivery = match args.legacy_delivery.as_str() {
        "on-write" => LegacyDelivery::OnWrite,
        "ack-required" => LegacyDelivery::AckRequired,
        other => {
            return Err(usage(format!(
                "--legacy-delivery must be `on-write` or `ack-required`, not {other:?}"
            )));
        }
    };
    // Opened last: it takes the directory's lock and starts the writer.
    let spool = match &args.spool {
        Some(dir) => Some(
            msg_relay::Spool::open(dir)
                .with_context(|| format!("cannot open the spool {}", dir.display()))?,
        ),
        None => None,
    };
    Ok(RelayConfig {
        spool,
        redis: None,
        legacy_delivery,
        secret,
        allow_shared_secret: args.allow_shared_secret,
        presence,
        limits,
        log_level,
    })
}

/// The limit flags of `serve` with the default each shows in `--help`, read from
/// [`Limits::default`]: a default is written once, in msg-relay's `limits.rs`.
fn limit_defaults() -> [(&'static str, String); 22] {
    let defaults = Limits::default();
    let secs = |duration: Duration| duration.as_secs().to_string();
    [
        ("--max-frame-bytes", defaults.max_frame_bytes.to_string()),
        (
            "--messages-per-second",
            defaults.messages_per_second.to_string(),
        ),
        ("--burst", defaults.burst.to_string()),
        ("--max-connections", defaults.max_connections.to_string()),
        (
            "--max-sessions-per-user",
            defaults.max_sessions_per_user.to_string(),
        ),
        ("--max-watches", defaults.max_watches.to_string()),
        ("--handshake-timeout-secs", secs(defaults.handshake_timeout)),
        ("--auth-timeout-secs", secs(defaults.auth_timeout)),
        ("--heartbeat-secs", secs(defaults.heartbeat_interval)),
        ("--idle-timeout-secs", secs(defaults.idle_timeout)),
        (
            "--outbound-queue-frames",
            defaults.outbound_queue_frames.to_string(),
        ),
        (
            "--outbound-queue-bytes",
            defaults.outbound_queue_bytes.to_string(),
        ),
        ("--write-timeout-secs", secs(defaults.write_timeout)),
        ("--shutdown-grace-secs", secs(defaults.shutdown_grace)),
        (
            "--queue-max-messages",
            defaults.queue_max_messages.to_string(),
        ),
        ("--queue-max-bytes", defaults.queue_max_bytes.to_string()),
        (
            "--queue-total-bytes",
            defaults.queue_total_bytes.to_string(),
        ),
        (
            "--sender-queue-max-messages",
            defaults.sender_queue_max_messages.to_string(),
        ),
        (
            "--sender-queue-max-bytes",
            defaults.sender_queue_max_bytes.to_string(),
        ),
        ("--queue-ttl-secs", secs(defaults.queue_ttl)),
        ("--dedupe-window-secs", secs(defaults.dedupe_window)),
        (
            "--dedupe-max-entries",
            defaults.dedupe_max_entries.to_string(),
        ),
    ]
}

/// argh's help text with `(default N)` after the description of each limit flag (argh takes
/// descriptions from doc comments, which cannot name a constant). Other text is unchanged.
fn with_limit_defaults(help: &str) -> String {
    // argh indents a description's continuation lines by this much and wraps at 80 columns.
    const INDENT: usize = 20;
    const WIDTH: usize = 80;
    let defaults = limit_defaults();
    let mut lines: Vec<String> = Vec::new();
    // The default of the flag whose description is being copied, added after its last line.
    let mut pending: Option<&str> = None;
    let finish = |lines: &mut Vec<String>, default: &str| {
        let suffix = format!("(default {default})");
        match lines.last_mut() {
            Some(last) if last.len() + 1 + suffix.len() <= WIDTH => {
                last.push(' ');
                last.push_str(&suffix);
            }
            _ => lines.push(format!("{:INDENT$}{suffix}", "")),
        }
    };
    for line in help.lines() {
        let continues = line.len() > INDENT && line[..INDENT].trim().is_empty();
        if !continues && let Some(default) = pending.take() {
            finish(&mut lines, default);
        }
        if let Some(flag) = line.strip_prefix("  --") {
            let name = flag.split_whitespace().next().unwrap_or_default();
            pending = defaults
                .iter()
                .find(|(known, _)| known.strip_prefix("--") == Some(name))
                .map(|(_, default)| default.as_str());
        }
        lines.push(line.to_owned());
    }
    if let Some(default) = pending {
        finish(&mut lines, default);
    }
    lines.join("\n")
}

/// `--port`, else `$PORT` (as platforms like Heroku and Fly set it), else 8080.
fn port(flag: Option<u16>) -> anyhow::Result<u16> {
    if let Some(port) = flag {
        return Ok(port);
    }
    match std::env::var("PORT") {
        Ok(value) if !value.trim().is_empty() => value
            .trim()
            .parse()
            .map_err(|_| usage(format!("PORT must be a port number, not {value:?}"))),
        _ => Ok(8080),
    }
}

/// The secret from `--secret-file`, else `$RELAY_SECRET_FILE`, else `$RELAY_SECRET`.
fn load_secret(file: Option<&std::path::Path>) -> anyhow::Result<ServerSecret> {
    let from_env_file = std::env::var_os("RELAY_SECRET_FILE").map(PathBuf::from);
    let text = match file.map(std::path::Path::to_path_buf).or(from_env_file) {
        Some(path) => std::fs::read_to_string(&path).map_err(|err| {
            usage(format!(
                "cannot read the secret file {}: {err}",
                path.display()
            ))
        })?,
        None => std::env::var("RELAY_SECRET").unwrap_or_default(),
    };
    ServerSecret::new(&text).map_err(|err| usage(err.to_string()))
}

/// Completes on Ctrl-C or SIGTERM (what `docker stop` and systemd send).
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|err| anyhow!("cannot listen for SIGTERM: {err}"))?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, argh::EarlyExit> {
        Cli::from_args(&["msg-relay"], args)
    }

    fn serve_args(args: &[&str]) -> ServeArgs {
        let mut all = vec!["serve"];
        all.extend_from_slice(args);
        match parse(&all).unwrap().command {
            Command::Serve(args) => args,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn serve_defaults_to_loopback_and_accepts_host_as_a_no_op() {
        let args = serve_args(&["--host"]);
        assert!(args.host);
        assert_eq!(args.bind, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(args.port, None);
        assert_eq!(serve_args(&[]).bind, serve_args(&["--host"]).bind);
    }

    /// Every limit flag with a value that is not its default.
    const LIMIT_ARGS: [(&str, &str); 22] = [
        ("--max-frame-bytes", "1000"),
        ("--messages-per-second", "5"),
        ("--burst", "7"),
        ("--max-connections", "9"),
        ("--max-sessions-per-user", "2"),
        ("--max-watches", "3"),
        ("--handshake-timeout-secs", "3"),
        ("--auth-timeout-secs", "4"),
        ("--heartbeat-secs", "6"),
        ("--idle-timeout-secs", "100"),
        ("--outbound-queue-frames", "11"),
        ("--outbound-queue-bytes", "12000"),
        ("--write-timeout-secs", "13"),
        ("--shutdown-grace-secs", "14"),
        ("--queue-max-messages", "15"),
        ("--queue-max-bytes", "16000"),
        ("--queue-total-bytes", "17000"),
        ("--sender-queue-max-messages", "21"),
        ("--sender-queue-max-bytes", "22000"),
        ("--queue-ttl-secs", "18"),
        ("--dedupe-window-secs", "19"),
        ("--dedupe-max-entries", "20"),
    ];

    /// A secret file for `config`, removed with the guard.
    struct SecretFile(std::path::PathBuf);

    impl SecretFile {
        fn new(name: &str) -> SecretFile {
            let dir =
                std::env::temp_dir().join(format!("msg-relay-cli-{name}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let file = dir.join("secret");
            std::fs::write(&file, "0123456789abcdef0123456789abcdef\n").unwrap();
            SecretFile(file)
        }

        /// The limits `serve` runs with, given `args`.
        fn limits(&self, args: &[&str]) -> Limits {
            let args = ServeArgs {
                secret_file: Some(self.0.clone()),
                ..serve_args(args)
            };
            config(&args).unwrap().limits
        }
    }

    impl Drop for SecretFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(self.0.parent().unwrap());
        }
    }

    #[test]
    fn every_limit_flag_reaches_the_config() {
        let mut args: Vec<&str> = LIMIT_ARGS
            .iter()
            .flat_map(|(flag, value)| [*flag, *value])
            .collect();
        args.extend([
            "--legacy-delivery",
            "ack-required",
            "--presence",
            "broadcast",
            "--log-level",
            "off",
            "--allow-shared-secret",
            "--secret-file",
            "/nonexistent",
        ]);
        let args = serve_args(&args);
        // Every field, so that a new limit without a flag does not compile here.
        let limits = Limits {
            max_frame_bytes: 1000,
            messages_per_second: 5,
            burst: 7,
            max_connections: 9,
            max_sessions_per_user: 2,
            max_watches: 3,
            handshake_timeout: Duration::from_secs(3),
            auth_timeout: Duration::from_secs(4),
            heartbeat_interval: Duration::from_secs(6),
            idle_timeout: Duration::from_secs(100),
            outbound_queue_frames: 11,
            outbound_queue_bytes: 12000,
            write_timeout: Duration::from_secs(13),
            shutdown_grace: Duration::from_secs(14),
            queue_max_messages: 15,
            queue_max_bytes: 16000,
            queue_total_bytes: 17000,
            sender_queue_max_messages: 21,
            sender_queue_max_bytes: 22000,
            queue_ttl: Duration::from_secs(18),
            dedupe_window: Duration::from_secs(19),
            dedupe_max_entries: 20,
        };
        // The secret file does not exist: a usage error naming it.
        let err = config(&args).unwrap_err();
        assert!(err.downcast_ref::<UsageError>().is_some());
        assert!(err.to_string().contains("/nonexistent"));
        let secret = SecretFile::new("flags");
        let args = ServeArgs {
            secret_file: Some(secret.0.clone()),
            ..args
        };
        let config = config(&args).unwrap();
        assert_eq!(config.limits, limits);
        assert_eq!(config.presence, PresenceMode::Broadcast);
        assert_eq!(config.log_level, LogLevel::Off);
        assert!(config.allow_shared_secret);
        assert_eq!(config.legacy_delivery, LegacyDelivery::AckRequired);
    }

    /// The default `--help` shows for a limit is the one `serve` uses: passing it changes
    /// nothing, and passing another value changes the limits (so the flag and the default
    /// shown belong together).
    #[test]
    fn the_help_shows_each_limits_real_default() {
        let secret = SecretFile::new("help");
        let defaults = limit_defaults();
        let shown: Vec<&str> = defaults.iter().map(|(flag, _)| *flag).collect();
        let parsed: Vec<&str> = LIMIT_ARGS.iter().map(|(flag, _)| *flag).collect();
        assert_eq!(shown, parsed, "every limit flag shows a default");
        assert_eq!(secret.limits(&[]), Limits::default());
        for ((flag, default), (_, other)) in defaults.iter().zip(LIMIT_ARGS) {
            assert_eq!(
                secret.limits(&[flag, default]),
                Limits::default(),
                "{flag} {default} is not the default"
            );
            assert_ne!(secret.limits(&[flag, other]), Limits::default(), "{flag}");
        }
        let help = with_limit_defaults(&parse(&["serve", "--help"]).unwrap_err().output);
        for (flag, default) in &defaults {
            let block: String = help
                .split("\n  --")
                .find(|block| block.split_whitespace().next() == flag.strip_prefix("--"))
                .unwrap_or_else(|| panic!("{flag} not in\n{help}"))
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            assert!(
                block.ends_with(&format!("(default {default})")),
                "{flag}: {block}"
            );
        }
        // The options as argh lays them out: at most 80 columns.
        let options = help.lines().filter(|line| line.starts_with("  "));
        assert!(options.clone().all(|line| line.len() <= 80), "{help}");
    }

    #[test]
    fn bad_values_are_usage_errors() {
        assert!(parse(&["serve", "--port", "http"]).is_err());
        assert!(parse(&["serve", "--bind", "localhost:80"]).is_err());
        assert!(parse(&["frobnicate"]).is_err());
        assert!(parse(&["token"]).is_err());
        let help = parse(&["serve", "-h"]).unwrap_err();
        assert_eq!(help.status, Ok(()));
        assert!(help.output.contains("--host"));
        assert!(help.output.contains("does nothing"));
    }
}
