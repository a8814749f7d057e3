//! `cargo bench -p msg-hooks --bench arrival`: how soon the person hears of a message.
//!
//! A message is appended to the inbox as the relay client does it (`MessageStore`: lock,
//! append, `fdatasync`), and the time is taken from the moment that write returned to:
//!
//! - **Emacs**: the package's notification function (`datacore-msg-watch-mode` in
//!   `emacs --batch`, file notifications, then `msg inbox --unread --json` and
//!   `msg tasks --json`), which prints `float-time` on stderr;
//! - **`msg watch --json`**: its JSON line, read from its stdout.
//!
//! Both clocks are the system's wall clock on the same machine. Each figure is the median of
//! 31 messages (`--quick`: 9), one at a time, each awaited before the next. Then `msg watch`
//! is left alone for 10 s (`--quick`: 3 s) and the CPU time it used is read from
//! `/proc/<pid>/stat`. Run without `--bench` (as `cargo test --all-targets` does), it
//! checks one message of each kind; without Emacs it says so and leaves that part out.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use msg_store::{MessageStore, NewMessage};

const MSG: &str = env!("CARGO_BIN_EXE_msg");

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|arg| arg == "--bench");
    let quick =
        args.iter().any(|arg| arg == "--quick") || std::env::var_os("MSG_BENCH_QUICK").is_some();
    let (rounds, idle) = match (full, quick) {
        (false, _) => (1, Duration::from_millis(500)),
        (true, true) => (9, Duration::from_secs(3)),
        (true, false) => (31, Duration::from_secs(10)),
    };
    let dir = std::env::temp_dir().join(format!("msg-bench-arrival-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let root = dir.join("root");
    run(&root, &["init", "--name", "alice"]);
    let store = MessageStore::open(&root.join("0-personal")).unwrap();

    println!(
        "From the inbox append's return to the person being told, median of {rounds} (min–max)\n"
    );
    println!("| who is told | latency |");
    println!("|---|---|");
    match Emacs::start(&dir, &root) {
        Some(mut emacs) => {
            let times = measure(&store, rounds, |id| emacs.wait_for(id));
            println!("| Emacs notification function | {} |", summary(&times));
            emacs.stop();
        }
        None => println!("| Emacs notification function | skipped: emacs is not installed |"),
    }
    let mut watch = Watch::start(&root, &store);
    let times = measure(&store, rounds, |id| watch.wait_for(id));
    println!("| `msg watch --json` line | {} |", summary(&times));
    let cpu = watch.idle_cpu(idle);
    println!(
        "\n`msg watch` idle for {:.0} s: {:.1} ms of CPU ({:.3} %)",
        idle.as_secs_f64(),
        cpu.as_secs_f64() * 1e3,
        cpu.as_secs_f64() / idle.as_secs_f64() * 100.0
    );
    watch.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

fn run(root: &Path, args: &[&str]) {
    let status = Command::new(MSG)
        .arg("--root")
        .arg(root)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "msg {args:?}");
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Writes `rounds` messages one at a time; `told(id)` waits until the person was told of
/// message `id` and returns when (seconds since the epoch). Returns each latency.
fn measure(
    store: &MessageStore,
    rounds: usize,
    mut told: impl FnMut(&str) -> f64,
) -> Vec<Duration> {
    (0..rounds)
        .map(|n| {
            let message = store
                .create_message(&NewMessage::new("bob", "alice", format!("Lunch at {n}?")))
                .unwrap();
            let written = now();
            let at = told(&message.id);
            Duration::from_secs_f64((at - written).max(0.0))
        })
        .collect()
}

fn summary(times: &[Duration]) -> String {
    let mut sorted = times.to_vec();
    sorted.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "{:.1} ms ({:.1}–{:.1})",
        ms(sorted[sorted.len() / 2]),
        ms(sorted[0]),
        ms(sorted[sorted.len() - 1])
    )
}

/// Lines of a child's output, read on a thread of their own.
fn lines(reader: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    receiver
}

/// Waits (at most 30 s) for a line that `matches`, returning it.
fn line_where(
    lines: &mpsc::Receiver<String>,
    what: &str,
    matches: impl Fn(&str) -> bool,
) -> String {
    loop {
        match lines.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if matches(&line) => return line,
            Ok(_) => {}
            Err(err) => panic!("no {what} within 30 s: {err}"),
        }
    }
}

/// Emacs with the package, its notification function printing when it was called.
struct Emacs {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Emacs {
    fn start(dir: &Path, root: &Path) -> Option<Emacs> {
        if Command::new("emacs").arg("--version").output().is_err() {
            eprintln!(
                "SKIPPED the Emacs figure: emacs is not installed (apt-get install emacs-nox)"
            );
            return None;
        }
        let package = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../editors/emacs");
        let script = dir.join("bench.el");
        std::fs::write(
            &script,
            format!(
                r#"
(add-to-list 'load-path {package:?})
(require 'datacore-msg)
(setq datacore-msg-program {MSG:?}
      datacore-msg-root {root:?}
      datacore-msg-notify-function
      (lambda (item)
        (princ (format "ARRIVED %s %.6f\n" (alist-get 'id item) (float-time))
               #'external-debugging-output)))
(datacore-msg-watch-mode 1)
(princ "READY\n" #'external-debugging-output)
(while t (read-event nil nil 1))
"#
            ),
        )
        .unwrap();
        let mut child = Command::new("emacs")
            .args(["-Q", "--batch", "-l"])
            .arg(&script)
            .env("HOME", dir)
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr: ChildStderr = child.stderr.take().unwrap();
        let lines = lines(stderr);
        line_where(&lines, "READY from Emacs", |l| l == "READY");
        Some(Emacs { child, lines })
    }

    fn wait_for(&mut self, id: &str) -> f64 {
        let prefix = format!("ARRIVED {id} ");
        let line = line_where(&self.lines, "notification from Emacs", |l| {
            l.starts_with(&prefix)
        });
        line[prefix.len()..].parse().unwrap()
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `msg watch --json`, its lines timed as they are read.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<(f64, String)>,
}

impl Watch {
    /// Starts `msg watch --json --existing` and waits until it is watching: the line of a
    /// message written now comes (as one already there, or as one that arrived) only once
    /// its file watch is set up.
    fn start(root: &PathBuf, store: &MessageStore) -> Watch {
        let mut child = Command::new(MSG)
            .arg("--root")
            .arg(root)
            .args(["watch", "--json", "--existing"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send((now(), line)).is_err() {
                    break;
                }
            }
        });
        let mut watch = Watch {
            child,
            lines: receiver,
        };
        let ready = store
            .create_message(&NewMessage::new("bob", "alice", "Are you watching?"))
            .unwrap();
        watch.wait_for(&ready.id);
        watch
    }

    fn wait_for(&mut self, id: &str) -> f64 {
        let needle = format!("\"id\":\"{id}\"");
        loop {
            match self.lines.recv_timeout(Duration::from_secs(30)) {
                Ok((at, line)) if line.contains(&needle) => return at,
                Ok(_) => {}
                Err(err) => panic!("no line from msg watch within 30 s: {err}"),
            }
        }
    }

    /// The CPU time (user + system) `msg watch` uses during `idle`.
    fn idle_cpu(&self, idle: Duration) -> Duration {
        let before = cpu_time(self.child.id());
        std::thread::sleep(idle);
        cpu_time(self.child.id()) - before
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of process `pid`, from /proc (Linux).
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name may hold spaces; the fields after its closing parenthesis are fixed.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // USER_HZ is 100 on Linux (sysconf(_SC_CLK_TCK)).
    Duration::from_millis(ticks * 10)
}
