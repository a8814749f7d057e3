//! A real `redis-server` for tests: its own process on a free loopback port, its files in a
//! temporary directory, killed when dropped. Never a shared instance.
//!
//! Used by the engine's unit tests and, through `#[path]`, by the relay's integration tests.
//! `.ci/run` installs redis-server and sets `MSG_REQUIRE_REDIS=1`; elsewhere a missing
//! redis-server skips the test and says so.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a starting redis-server may take to answer PING.
const START_GUARD: Duration = Duration::from_secs(20);

/// A redis-server process of the test's own.
pub(crate) struct RedisServer {
    port: u16,
    dir: assert_fs::TempDir,
    /// Extra `redis-server` arguments, kept for restarts.
    options: Vec<String>,
    child: Option<Child>,
}

impl RedisServer {
    /// A server with `appendonly yes` and `appendfsync always` (an acknowledged write is on
    /// disk); `None` when redis-server is not installed and `MSG_REQUIRE_REDIS` is unset.
    pub(crate) fn start() -> Option<RedisServer> {
        RedisServer::start_with(&["--appendonly", "yes", "--appendfsync", "always"])
    }

    /// A server with these extra arguments; `None` as for [`RedisServer::start`].
    pub(crate) fn start_with(options: &[&str]) -> Option<RedisServer> {
        if Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_err()
        {
            assert!(
                std::env::var_os("MSG_REQUIRE_REDIS").is_none(),
                "MSG_REQUIRE_REDIS is set but redis-server is not installed \
                 (apt-get install redis-server)"
            );
            eprintln!(
                "SKIPPED: redis-server is not installed; the Redis engine is not tested \
                 (apt-get install redis-server to run these tests)"
            );
            return None;
        }
        let dir = assert_fs::TempDir::new().expect("a temporary directory");
        let mut server = RedisServer {
            port: 0,
            dir,
            options: options.iter().map(|option| (*option).to_owned()).collect(),
            child: None,
        };
        // A port found free can be taken before redis-server binds it: try a few.
        for _ in 0..5 {
            server.port = free_port();
            if server.launch() {
                return Some(server);
            }
        }
        panic!(
            "redis-server did not start; its log: {}",
            std::fs::read_to_string(server.log()).unwrap_or_default()
        );
    }

    /// `redis://127.0.0.1:<port>`.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    /// Starts the process and waits for its PING; `false` when it exited instead.
    fn launch(&mut self) -> bool {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--save", "", "--daemonize", "no", "--loglevel", "warning"])
            .arg("--logfile")
            .arg(self.log())
            .args(&self.options)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + START_GUARD;
        while Instant::now() < deadline {
            if self.pings() {
                return true;
            }
            if let Some(child) = &mut self.child
                && child.try_wait().ok().flatten().is_some()
            {
                self.child = None;
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
        false
    }

    /// Whether the server answers PING now.
    fn pings(&self) -> bool {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut answer = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG\r\n"
    }

    /// The server's process ID (for its CPU time).
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server runs").id()
    }

    /// Kills the server with SIGKILL (no chance to write anything more) and waits for it.
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory: with `appendonly yes` it
    /// reads back its append-only file.
    pub(crate) fn restart(&mut self) {
        self.kill();
        assert!(
            self.launch(),
            "redis-server did not restart on port {}; its log: {}",
            self.port,
            std::fs::read_to_string(self.log()).unwrap_or_default()
        );
    }

    /// Freezes the process (SIGSTOP): connections stay open and nothing is answered.
    pub(crate) fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen process go on (SIGCONT).
    pub(crate) fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("the server runs");
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} failed");
    }

    /// Runs one command with `redis-cli` and returns its output (for inspecting keys).
    pub(crate) fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // SIGKILL ends a frozen (SIGSTOP) process too.
        self.kill();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port");
    listener.local_addr().expect("its address").port()
}
