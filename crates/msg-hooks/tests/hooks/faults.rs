//! A full disk under every command that writes a message or a task (issue 15): the command
//! exits 1 with an error naming the file, the org files are exactly as they were (no torn
//! entry the relay would deliver, nothing a retry would duplicate), and no admission stays
//! reserved for a task that was never written. The disk is made full by msg-core's test hook
//! (`MSG_FAULT_DISK_FULL=<dir>=<free bytes>`, read by the executables this test builds).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;

use crate::support::{Env, finish, id_in};

/// The org files below the messaging folder, with their bytes.
fn org_files(env: &Env) -> BTreeMap<PathBuf, Vec<u8>> {
    env.tree()
        .into_iter()
        .filter(|(path, _)| path.extension().is_some_and(|e| e == "org"))
        .collect()
}

fn reserved(env: &Env) -> Vec<String> {
    env.ctx()
        .governor()
        .unwrap()
        .active_admissions()
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect()
}

#[test]
fn a_full_disk_fails_every_write_cleanly() {
    let env = Env::new();
    env.run("msg", &["init"]).ok();
    // A task being worked on, for `send-reply --complete-task`.
    let submitted = env
        .run(
            "msg",
            &[
                "task",
                "submit",
                "Summarise the notes",
                "--from",
                "tex@team.example.com",
                "--tokens",
                "5000",
            ],
        )
        .ok()
        .to_owned();
    let task = id_in(&submitted);
    env.run("msg", &["task", "claim", &task]).ok();
    let long =
        "A line of a long message, long enough to need more than a little room.\n".repeat(20);
    let commands: Vec<(&str, Vec<&str>)> = vec![
        ("msg", vec!["send", "tex@team.example.com", &long]),
        ("msg", vec!["send", "gregor", &long]),
        (
            "msg",
            vec![
                "task",
                "submit",
                &long,
                "--from",
                "tex@team.example.com",
                "--tokens",
                "2000",
            ],
        ),
        (
            "send-reply",
            vec!["tex@team.example.com", &long, "--complete-task", &task],
        ),
    ];
    let messaging = env.messaging();
    for free in [0, 60, 400] {
        for (program, args) in &commands {
            let before = org_files(&env);
            let admissions = reserved(&env);
            let output = env
                .command(program, args)
                .env(
                    "MSG_FAULT_DISK_FULL",
                    format!("{}={free}", messaging.display()),
                )
                .stdin(Stdio::null())
                .output()
                .unwrap();
            let run = finish(output);
            let what = format!("{program} {}, {free} bytes free", args[0]);
            assert_eq!(run.code, 1, "{what}: {}{}", run.stdout, run.stderr);
            assert!(
                run.stderr.contains(".org"),
                "{what}: the error names no file: {}",
                run.stderr
            );
            assert!(org_files(&env) == before, "{what}: an org file changed");
            assert_eq!(
                reserved(&env),
                admissions,
                "{what}: an admission stayed reserved"
            );
        }
    }
    // With room again, every command works.
    for (program, args) in &commands {
        env.run(program, args).ok();
    }
}
