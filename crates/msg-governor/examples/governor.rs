//! The governor end to end.
//!
//! With no arguments: a demo in a fresh temporary Datacore root. A team member's tasks are
//! admitted until their reservations fill the daily budget, a stranger's oversized task is
//! rejected with the rule, the figures and when to retry, a completion frees what the task
//! did not use, and the day's summary shows used against reserved.
//!
//! With `explain <actor> [estimated_tokens] [effort]`: a dry run against the real state of
//! `$DATACORE_ROOT` (default `~/Data`), writing nothing.
//!
//! ```text
//! cargo run -p msg-governor --example governor
//! cargo run -p msg-governor --example governor -- explain tex@team.example.com 5000 3
//! ```

use std::process::ExitCode;

use msg_core::config::Settings;
use msg_core::paths::Paths;
use msg_core::timestamp;
use msg_governor::{Decision, TaskGovernor};

fn main() -> ExitCode {
    timestamp::init_local_offset(None);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        None => demo(),
        Some("explain") if args.len() >= 2 => explain(&args[1..]),
        Some(_) => {
            eprintln!("usage: governor [explain <actor> [estimated_tokens] [effort]]");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("governor: {err}");
            ExitCode::FAILURE
        }
    }
}

fn demo() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::temp_dir().join(format!("msg-governor-example-{}", std::process::id()));
    let paths = Paths::new(&root);
    std::fs::create_dir_all(root.join(".datacore"))?;
    std::fs::write(
        paths.settings_file(),
        "messaging:\n  trust_overrides:\n    tex@team.example.com: team\n",
    )?;
    let governor = TaskGovernor::open(paths.governor_state_dir(), Settings::load(&root)?)?;
    println!("state in {}\n", governor.state_dir().display());

    let mut admitted = Vec::new();
    for estimate in [40_000, 40_000, 40_000] {
        match governor.admit("tex@team.example.com", estimate, 3)? {
            Decision::Admitted(admission) => {
                println!(
                    "admitted {} for {} (tier {}, {}), {} tokens reserved",
                    admission.id,
                    admission.actor,
                    admission.trust_tier,
                    if admission.tier.auto_accept {
                        "queued at once"
                    } else {
                        "waits for approval"
                    },
                    admission.reserved_tokens
                );
                admitted.push(admission);
            }
            Decision::Rejected(rejection) => println!("rejected: {rejection}"),
        }
    }
    if let Decision::Rejected(rejection) = governor.admit("stranger@other.org", 20_000, 2)? {
        println!("rejected {}: {rejection}", rejection.actor);
    }

    println!("\nthe first task used 12,000 of its 40,000 tokens:");
    governor.complete(&admitted[0].id, 12_000)?;
    print!("{}", governor.explain("tex@team.example.com", 40_000, 3)?);

    println!("\n{}", governor.daily_summary()?);
    std::fs::remove_dir_all(&root)?;
    Ok(())
}

fn explain(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let actor = &args[0];
    let number = |index: usize| -> Result<u64, Box<dyn std::error::Error>> {
        Ok(args.get(index).map(|n| n.parse()).transpose()?.unwrap_or(0))
    };
    let paths = Paths::from_env();
    let governor = TaskGovernor::open(paths.governor_state_dir(), Settings::load(paths.root())?)?;
    print!("{}", governor.explain(actor, number(1)?, number(2)?)?);
    print!("\n{}", governor.daily_summary()?);
    Ok(())
}
