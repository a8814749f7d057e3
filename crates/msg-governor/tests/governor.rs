//! The governor against real state directories: the original's governor tests (reference
//! §9.4) and the governor parts of its integration tests (§9.7), reservations, rejections and
//! their figures, midnight, corrupt and legacy state files, and real processes racing.
//!
//! Multi-process tests start this test binary again (`std::env::current_exe()`) running only
//! the `worker_process` test, with `MSG_GOVERNOR_WORKER` naming its job. Without that variable
//! `worker_process` returns at once. This needs no extra binary target (nothing a user could
//! install by accident) and no `cargo run` inside a test. Workers wait on their standard input
//! until the parent has started all of them and closes it, so they really start together.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use assert_fs::TempDir;
use msg_core::config::Settings;
use msg_core::paths::Paths;
use msg_governor::{Decision, GovernorError, ManualClock, Rule, TaskGovernor};
use time::OffsetDateTime;
use time::macros::datetime;

fn settings(yaml: &str) -> Settings {
    Settings::from_yaml_str(yaml, Path::new("settings.local.yaml")).unwrap()
}

/// A governor on `dir` with the default settings and a clock at `at`.
fn governor_at(dir: &Path, yaml: &str, at: OffsetDateTime) -> (TaskGovernor, ManualClock) {
    let clock = ManualClock::new(at);
    let governor = TaskGovernor::open(dir, settings(yaml))
        .unwrap()
        .with_clock(clock.clone());
    (governor, clock)
}

const MORNING: OffsetDateTime = datetime!(2026-11-24 10:02:59 +01:00);

fn admitted(decision: Decision) -> msg_governor::Admission {
    match decision {
        Decision::Admitted(admission) => admission,
        Decision::Rejected(rejection) => panic!("rejected: {rejection}"),
    }
}

fn rejected(decision: Decision) -> msg_governor::Rejection {
    match decision {
        Decision::Admitted(admission) => panic!("admitted: {admission:?}"),
        Decision::Rejected(rejection) => rejection,
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/python-v0.2.0/root")
}

// ---------------------------------------------------------------------------------------------
// The original's tests/test_governor.py (reference §9.4), one test each.

#[test]
fn original_1_unknown_sender_is_tier_unknown_without_auto_accept() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    let explanation = governor.explain("random@example.com", 1000, 0).unwrap();
    assert_eq!(explanation.trust_tier, "unknown");
    assert!(!explanation.tier.auto_accept);
    let decision = governor.admit("random@example.com", 1000, 0).unwrap();
    assert_eq!(decision.trust_tier(), "unknown");
    assert!(!decision.tier().auto_accept);
}

#[test]
fn original_2_a_small_task_is_allowed() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    assert!(governor.explain("user@x.com", 5000, 0).unwrap().allowed());
    assert!(governor.admit("user@x.com", 5000, 0).unwrap().is_admitted());
}

#[test]
fn original_3_usage_past_the_daily_limit_rejects_with_budget() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    for _ in 0..3 {
        governor.record_usage("user@x.com", 4000).unwrap();
    }
    let rejection = rejected(governor.admit("user@x.com", 4000, 0).unwrap());
    assert_eq!(rejection.rule(), Rule::SenderBudget);
    assert!(rejection.reason.to_lowercase().contains("budget"));
    assert!(
        rejection
            .reason
            .starts_with("Budget exceeded: 12,000/10,000 tokens today"),
        "{}",
        rejection.reason
    );
    let explanation = governor.explain("user@x.com", 4000, 0).unwrap();
    assert_eq!(
        explanation.first_failure().unwrap().rule,
        Rule::SenderBudget
    );
}

#[test]
fn original_4_five_submissions_in_an_hour_reject_with_rate() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    for _ in 0..5 {
        admitted(governor.admit("user@x.com", 0, 0).unwrap());
    }
    let rejection = rejected(governor.admit("user@x.com", 100, 0).unwrap());
    assert_eq!(rejection.rule(), Rule::TasksPerHour);
    assert!(rejection.reason.to_lowercase().contains("rate"));
    assert_eq!(rejection.reason, "Rate limit: 5/5 tasks this hour");
}

#[test]
fn original_5_usage_adds_up() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    governor.record_usage("user@x.com", 5000).unwrap();
    governor.record_usage("user@x.com", 3000).unwrap();
    assert_eq!(governor.usage("user@x.com").unwrap().tokens_used, 8000);
}

#[test]
fn original_6_usage_persists_for_a_new_governor() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    governor.record_usage("user@x.com", 5000).unwrap();
    drop(governor);
    let (again, _) = governor_at(dir.path(), "", MORNING);
    assert_eq!(again.usage("user@x.com").unwrap().tokens_used, 5000);
}

#[test]
fn original_7_daily_summary_covers_every_sender() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    governor.record_usage("a@x.com", 5000).unwrap();
    governor.record_usage("b@x.com", 3000).unwrap();
    let summary = governor.daily_summary().unwrap();
    assert_eq!(summary.date, MORNING.date());
    assert_eq!(summary.total_tokens_used, 8000);
    assert_eq!(summary.by_sender.len(), 2);
    assert_eq!(summary.by_sender["a@x.com"].tokens_used, 5000);
}

#[test]
fn original_8_effort_at_the_tier_limit_is_allowed() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    assert!(governor.explain("u@x.com", 100, 3).unwrap().allowed());
    assert!(governor.admit("u@x.com", 100, 3).unwrap().is_admitted());
}

#[test]
fn original_9_effort_over_the_tier_limit_rejects_with_effort() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    let rejection = rejected(governor.admit("u@x.com", 100, 5).unwrap());
    assert_eq!(rejection.rule(), Rule::Effort);
    assert_eq!(rejection.reason, "Effort 5 exceeds tier limit 3");
    assert!(rejection.reason.to_lowercase().contains("effort"));
    assert_eq!(
        rejection.retry_after(),
        None,
        "waiting does not lower an effort"
    );
}

// ---------------------------------------------------------------------------------------------
// The governor parts of the original's tests/test_integration.py (reference §9.7).

#[test]
fn integration_1_a_sender_without_override_is_unknown_and_waits_for_approval() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    let explanation = governor.explain("tex@team.com", 5000, 0).unwrap();
    assert!(explanation.allowed());
    assert_eq!(explanation.trust_tier, "unknown");
    // `auto_accept` false is what makes msg-inbox create the task as WAITING.
    assert!(!explanation.tier.auto_accept);
}

#[test]
fn integration_2_an_owner_task_completes_and_its_tokens_are_used() {
    let dir = TempDir::new().unwrap();
    let yaml = "messaging:\n  trust_overrides:\n    gregor: owner\n";
    let (governor, _) = governor_at(dir.path(), yaml, MORNING);
    let admission = admitted(governor.admit("gregor", 2000, 0).unwrap());
    assert_eq!(admission.trust_tier, "owner");
    assert!(admission.tier.auto_accept);
    governor.complete(&admission.id, 800).unwrap();
    let usage = governor.usage("gregor").unwrap();
    assert_eq!(usage.tokens_used, 800);
    assert_eq!(usage.tokens_reserved, 0);
    assert!(usage.active.is_empty());
    assert_eq!(usage.tasks_today, 1);
}

#[test]
fn integration_3_five_submissions_stop_a_spammer() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    for _ in 0..5 {
        admitted(governor.admit("spammer@x.com", 0, 0).unwrap());
    }
    assert!(!governor.explain("spammer@x.com", 0, 0).unwrap().allowed());
    assert!(!governor.admit("spammer@x.com", 0, 0).unwrap().is_admitted());
}

// ---------------------------------------------------------------------------------------------
// Reservations, rejections, explanations.

#[test]
fn reservations_count_until_completed_or_released() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    // unknown: 10,000 tokens a day.
    let first = admitted(governor.admit("s@x.com", 6000, 0).unwrap());
    let rejection = rejected(governor.admit("s@x.com", 4001, 0).unwrap());
    assert_eq!(rejection.rule(), Rule::SenderBudget);
    assert_eq!(
        rejection.reason,
        "Budget exceeded: 6,000/10,000 tokens today (0 used, 6,000 reserved, 4,001 requested)"
    );
    let second = admitted(governor.admit("s@x.com", 4000, 0).unwrap());
    assert_eq!(
        governor.usage("s@x.com").unwrap().tokens_remaining(),
        Some(0)
    );

    // Completing below the estimate frees the difference; releasing frees everything.
    let done = governor.complete(&first.id, 2500).unwrap();
    assert_eq!(done.reserved_tokens, 6000);
    let usage = governor.usage("s@x.com").unwrap();
    assert_eq!((usage.tokens_used, usage.tokens_reserved), (2500, 4000));
    governor.release(&second.id).unwrap();
    let usage = governor.usage("s@x.com").unwrap();
    assert_eq!((usage.tokens_used, usage.tokens_reserved), (2500, 0));
    assert_eq!(usage.tasks_today, 2, "released tasks were still admitted");
    assert_eq!(usage.tasks_this_hour, 2);

    // An admission ends once.
    for result in [
        governor.complete(&first.id, 1).map(drop),
        governor.release(&second.id).map(drop),
        governor.release("adm-nonsense").map(drop),
    ] {
        let err = result.unwrap_err();
        assert!(
            matches!(err, GovernorError::UnknownAdmission { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("governor.json"), "{err}");
    }
    assert_eq!(governor.usage("s@x.com").unwrap().tokens_used, 2500);
}

#[test]
fn the_global_budget_and_the_queue_count_every_sender() {
    let dir = TempDir::new().unwrap();
    let yaml = "messaging:\n  compute:\n    daily_budget_tokens: 20000\n    max_queue_depth: 3\n";
    let (governor, _) = governor_at(dir.path(), yaml, MORNING);
    governor.record_usage("a@x.com", 9000).unwrap();
    admitted(governor.admit("b@x.com", 9000, 0).unwrap());
    let rejection = rejected(governor.admit("c@x.com", 2001, 0).unwrap());
    assert_eq!(rejection.rule(), Rule::GlobalBudget);
    assert!(
        rejection
            .reason
            .starts_with("Global budget exceeded: 18,000/20,000 tokens today (9,000 used, 9,000 reserved, 2,001 requested)"),
        "{}",
        rejection.reason
    );
    admitted(governor.admit("c@x.com", 2000, 0).unwrap());
    admitted(governor.admit("d@x.com", 0, 0).unwrap());
    let rejection = rejected(governor.admit("e@x.com", 0, 0).unwrap());
    assert_eq!(rejection.rule(), Rule::QueueDepth);
    assert_eq!(rejection.reason, "Queue full: 3/3 active tasks");
    assert_eq!(rejection.retry_after(), None);
    assert!(
        rejection
            .to_string()
            .contains("retry when an active task completes")
    );

    let summary = governor.daily_summary().unwrap();
    assert_eq!(summary.total_tokens_used, 9000);
    assert_eq!(summary.total_tokens_reserved, 11000);
    assert_eq!(summary.active_tasks, 3);
    assert_eq!(summary.daily_budget_tokens, Some(20000));
    assert_eq!(summary.by_sender.len(), 4);
    assert_eq!(summary.by_sender["b@x.com"].tokens_reserved, 9000);
    assert_eq!(summary.by_sender["b@x.com"].active_tasks, 1);
    assert_eq!(summary.by_sender["a@x.com"].tasks_today, 0);
}

#[test]
fn rejections_say_when_to_retry() {
    let dir = TempDir::new().unwrap();
    let (governor, clock) = governor_at(dir.path(), "", datetime!(2026-11-24 10:00 +01:00));
    for minutes in [0, 10, 20, 30, 40] {
        clock.set(datetime!(2026-11-24 10:00 +01:00) + time::Duration::minutes(minutes));
        admitted(governor.admit("s@x.com", 0, 0).unwrap());
    }
    // The oldest admission (10:00) leaves the window at 11:00.
    let rate = rejected(governor.admit("s@x.com", 0, 0).unwrap());
    assert_eq!(rate.retry_after(), Some(datetime!(2026-11-24 11:00 +01:00)));
    assert_eq!(
        rate.to_string(),
        "Rate limit: 5/5 tasks this hour; retry after 2026-11-24 11:00 +01:00"
    );
    clock.set(datetime!(2026-11-24 11:00 +01:00));
    admitted(governor.admit("s@x.com", 0, 0).unwrap());

    // Budgets reopen at the next local midnight, unless the task alone is too big.
    governor.record_usage("t@x.com", 9000).unwrap();
    let budget = rejected(governor.admit("t@x.com", 2000, 0).unwrap());
    assert_eq!(
        budget.retry_after(),
        Some(datetime!(2026-11-25 00:00 +01:00))
    );
    let too_big = rejected(governor.admit("u@x.com", 10_001, 0).unwrap());
    assert_eq!(too_big.rule(), Rule::SenderBudget);
    assert_eq!(too_big.retry_after(), None);
    assert!(too_big.to_string().contains("the task alone needs more"));
}

#[test]
fn explain_shows_every_rule_in_order_and_records_nothing() {
    let dir = TempDir::new().unwrap();
    let yaml = "messaging:\n  trust_overrides:\n    tex: team\n";
    let (governor, _) = governor_at(dir.path(), yaml, MORNING);
    governor.record_usage("tex", 12_000).unwrap();
    admitted(governor.admit("tex", 3000, 2).unwrap());
    let explanation = governor.explain("tex", 90_000, 9).unwrap();
    let rules: Vec<Rule> = explanation.checks.iter().map(|check| check.rule).collect();
    assert_eq!(rules, Rule::ALL);
    let verdicts: Vec<bool> = explanation.checks.iter().map(|c| c.passed).collect();
    assert_eq!(verdicts, [false, false, true, true, true]);
    assert_eq!(explanation.first_failure().unwrap().rule, Rule::Effort);
    insta::assert_snapshot!(explanation.to_string(), @r"
    tex (tier team, auto-accept), budget day 2026-11-24: would be rejected by effort
      effort: 9 of at most 8: rejected, split the task or give the sender a higher trust tier
      sender budget: 12,000 used + 3,000 reserved + 90,000 requested = 105,000 of 100,000 tokens today: rejected, retry after 2026-11-25 00:00 +01:00
      global budget: 12,000 used + 3,000 reserved + 90,000 requested = 105,000 of 500,000 tokens today: ok
      tasks per hour: 1 in the last hour + 1 = 2 of 5 tasks this hour: ok
      queue depth: 1 active + 1 = 2 of 20 active tasks: ok
    ");
    let usage = governor.usage("tex").unwrap();
    assert_eq!(usage.tasks_today, 1, "explain records nothing");
    assert_eq!(usage.active.len(), 1);
}

#[test]
fn custom_tiers_and_compute_limits_come_from_the_settings() {
    let dir = TempDir::new().unwrap();
    let yaml = "\
messaging:
  trust_tiers:
    contractor: {daily_token_limit: 2000, auto_accept: true}
    team: {max_task_effort: 2}
  trust_overrides:
    c@x.com: contractor
    t@x.com: team
    typo@x.com: tema
  compute:
    rate_limits: {tasks_per_hour: 1}
";
    let (governor, _) = governor_at(dir.path(), yaml, MORNING);
    // A custom tier starts from `unknown` (effort 3) and overrides the rest.
    let explanation = governor.explain("c@x.com", 2000, 3).unwrap();
    assert!(explanation.allowed(), "{explanation}");
    assert!(explanation.tier.auto_accept);
    assert_eq!(
        rejected(governor.admit("c@x.com", 2001, 0).unwrap()).rule(),
        Rule::SenderBudget
    );
    assert_eq!(
        rejected(governor.admit("t@x.com", 0, 3).unwrap()).rule(),
        Rule::Effort
    );
    // An override naming no known tier gets `unknown`'s limits under its own name.
    let typo = governor.explain("typo@x.com", 10_001, 0).unwrap();
    assert_eq!(typo.trust_tier, "tema");
    assert_eq!(typo.first_failure().unwrap().rule, Rule::SenderBudget);
    // tasks_per_hour comes from compute and applies to every tier.
    admitted(governor.admit("t@x.com", 0, 0).unwrap());
    assert_eq!(
        rejected(governor.admit("t@x.com", 0, 0).unwrap()).rule(),
        Rule::TasksPerHour
    );
}

#[test]
fn a_zero_rate_or_queue_limit_blocks_everything_as_in_the_original() {
    let dir = TempDir::new().unwrap();
    let yaml =
        "messaging:\n  trust_overrides:\n    me: owner\n  compute:\n    max_queue_depth: 0\n";
    let (governor, _) = governor_at(dir.path(), yaml, MORNING);
    let rejection = rejected(governor.admit("me", 0, 0).unwrap());
    assert_eq!(rejection.rule(), Rule::QueueDepth);
    assert!(
        rejection
            .to_string()
            .contains("the limit of 0 blocks every task")
    );
    // While 0 tokens or 0 effort means unlimited: the owner's tier.
    let explanation = governor.explain("me", u64::MAX, u64::MAX).unwrap();
    assert!(explanation.checks[0].passed && explanation.checks[1].passed);
}

#[test]
fn invalid_actors_are_refused_before_anything_is_touched() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    for actor in ["", "  ", "a\nb", "a\u{7}"] {
        let err = governor.admit(actor, 0, 0).unwrap_err();
        assert!(matches!(err, GovernorError::InvalidActor(_)), "{err}");
        assert!(err.to_string().starts_with("actor"), "{err}");
        assert!(governor.record_usage(actor, 1).is_err());
    }
    assert!(!governor.state_file().exists());
}

#[test]
fn a_relative_state_dir_is_made_absolute_once() {
    let governor = TaskGovernor::open("relative/state", Settings::default()).unwrap();
    assert!(governor.state_dir().is_absolute());
    assert_eq!(
        governor.state_dir(),
        std::env::current_dir().unwrap().join("relative/state")
    );
    assert_eq!(
        governor.state_file(),
        governor.state_dir().join("governor.json")
    );
}

// ---------------------------------------------------------------------------------------------
// Midnight.

#[test]
fn midnight_starts_a_fresh_daily_budget_and_keeps_tasks_and_the_hourly_window() {
    let dir = TempDir::new().unwrap();
    let yaml = "messaging:\n  compute:\n    rate_limits: {tasks_per_hour: 3}\n";
    let (governor, clock) = governor_at(dir.path(), yaml, datetime!(2026-11-24 23:30 +01:00));
    // A nested lock on the same file would wait for itself and fail after this timeout.
    let governor = governor.with_lock_timeout(Duration::from_millis(300));
    let mut ids = Vec::new();
    for at in [
        datetime!(2026-11-24 23:30 +01:00),
        datetime!(2026-11-24 23:40 +01:00),
        datetime!(2026-11-24 23:50 +01:00),
    ] {
        clock.set(at);
        ids.push(admitted(governor.admit("a@x.com", 1000, 0).unwrap()).id);
    }
    governor.record_usage("a@x.com", 5000).unwrap();
    clock.set(datetime!(2026-11-24 23:55 +01:00));
    let full = governor.explain("a@x.com", 2001, 0).unwrap();
    let budget = &full.checks[1];
    assert_eq!(
        (budget.used, budget.reserved, budget.passed),
        (5000, 3000, false)
    );
    assert_eq!(budget.retry_after, Some(datetime!(2026-11-25 00:00 +01:00)));
    let rate = rejected(governor.admit("a@x.com", 0, 0).unwrap());
    assert_eq!(rate.rule(), Rule::TasksPerHour);
    assert_eq!(rate.retry_after(), Some(datetime!(2026-11-25 00:30 +01:00)));

    clock.set(datetime!(2026-11-25 00:10 +01:00));
    let usage = governor.usage("a@x.com").unwrap();
    assert_eq!(usage.date, time::macros::date!(2026 - 11 - 25));
    assert_eq!(usage.tokens_used, 0, "a fresh daily budget");
    assert_eq!(usage.tasks_today, 0);
    assert_eq!(usage.tokens_reserved, 3000, "reservations carry over");
    assert_eq!(usage.active.len(), 3, "active tasks carry over");
    assert_eq!(usage.tasks_this_hour, 3, "the hourly window carries over");
    let rate = rejected(governor.admit("a@x.com", 0, 0).unwrap());
    assert_eq!(rate.rule(), Rule::TasksPerHour);
    assert_eq!(rate.retry_after(), Some(datetime!(2026-11-25 00:30 +01:00)));
    let sender_budget = |tokens| governor.explain("a@x.com", tokens, 0).unwrap().checks[1].passed;
    assert!(
        sender_budget(7000),
        "0 used + 3,000 reserved + 7,000 fits 10,000"
    );
    assert!(!sender_budget(7001));
    let summary = governor.daily_summary().unwrap();
    assert_eq!((summary.total_tokens_used, summary.active_tasks), (0, 3));

    // Completing after midnight charges the new day.
    governor.complete(&ids[0], 2500).unwrap();
    assert_eq!(governor.usage("a@x.com").unwrap().tokens_used, 2500);
    clock.set(datetime!(2026-11-25 00:30 +01:00));
    admitted(governor.admit("a@x.com", 0, 0).unwrap());

    // The first change of the 25th compacted: the snapshot holds the 24th as it ended.
    let snapshot: serde_json::Value =
        serde_json::from_slice(&fs::read(governor.state_file()).unwrap()).unwrap();
    assert_eq!(
        snapshot["days"]["2026-11-24"]["a@x.com"]["tokens_used"],
        5000
    );
    assert_eq!(snapshot["days"]["2026-11-24"]["a@x.com"]["tasks"], 3);
    assert_eq!(tokens_used_on_every_day(dir.path(), "a@x.com"), 7500);
    // One lock file, for the one state file: no per-day files, no per-day locks.
    assert_eq!(file_names(dir.path()), STATE_FILES);
}

/// What a state directory holds: the snapshot, its journal, and the lock.
const STATE_FILES: [&str; 3] = ["governor.journal", "governor.json", "governor.json.lock"];

fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------------
// Corrupt and legacy files.

#[test]
fn a_corrupt_state_file_is_an_error_and_is_never_written_over() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    governor.record_usage("a@x.com", 100).unwrap();
    governor.record_usage("b@x.com", 200).unwrap();
    let admission = admitted(governor.admit("b@x.com", 50, 0).unwrap());
    let good = fs::read(governor.state_file()).unwrap();

    let truncated = &good[..good.len() / 2];
    let wrong_type = String::from_utf8(good.clone()).unwrap().replacen(
        "\"tokens_used\": 100",
        "\"tokens_used\": \"lots\"",
        1,
    );
    for bad in [truncated, wrong_type.as_bytes(), b"", b"[]"] {
        fs::write(governor.state_file(), bad).unwrap();
        let attempts = [
            governor.admit("c@x.com", 1, 0).map(drop),
            governor.record_usage("c@x.com", 1),
            governor.complete(&admission.id, 1).map(drop),
            governor.release(&admission.id).map(drop),
            governor.usage("a@x.com").map(drop),
            governor.explain("a@x.com", 1, 0).map(drop),
            governor.daily_summary().map(drop),
            TaskGovernor::open(dir.path(), Settings::default()).map(drop),
        ];
        for result in attempts {
            let err = result.unwrap_err();
            assert!(matches!(err, GovernorError::Corrupt { .. }), "{err}");
            let message = err.to_string();
            assert!(
                message.contains(&governor.state_file().display().to_string()),
                "{message}"
            );
            assert!(message.contains("is corrupt"), "{message}");
        }
        assert_eq!(
            fs::read(governor.state_file()).unwrap(),
            bad,
            "never written over"
        );
    }
    fs::write(governor.state_file(), wrong_type.as_bytes()).unwrap();
    let message = governor.usage("a@x.com").unwrap_err().to_string();
    assert!(
        message.contains("governor.json, line 8 column 29, is corrupt"),
        "{message}"
    );
    assert!(
        message.contains("invalid type: string \"lots\""),
        "{message}"
    );

    // Once the file is repaired, the next write keeps every other sender's data.
    fs::write(governor.state_file(), &good).unwrap();
    governor.record_usage("c@x.com", 300).unwrap();
    assert_eq!(governor.usage("a@x.com").unwrap().tokens_used, 100);
    assert_eq!(governor.usage("b@x.com").unwrap().tokens_used, 200);
    assert_eq!(governor.usage("b@x.com").unwrap().tokens_reserved, 50);
    assert_eq!(governor.usage("c@x.com").unwrap().tokens_used, 300);
    assert_eq!(
        file_names(dir.path()),
        STATE_FILES,
        "no temporary file left behind"
    );
}

#[test]
fn an_unreadable_state_file_is_an_error_naming_it() {
    let dir = TempDir::new().unwrap();
    fs::create_dir(dir.path().join("governor.json")).unwrap();
    let err = TaskGovernor::open(dir.path(), Settings::default()).unwrap_err();
    assert!(matches!(err, GovernorError::Read { .. }), "{err}");
    assert!(err.to_string().contains("governor.json"), "{err}");
}

#[test]
fn a_newer_state_format_is_refused_and_left_alone() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("governor.json");
    fs::write(&path, r#"{"format": 2, "something": "new"}"#).unwrap();
    let err = TaskGovernor::open(dir.path(), Settings::default()).unwrap_err();
    assert!(
        matches!(err, GovernorError::UnsupportedFormat { found: 2, .. }),
        "{err}"
    );
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        r#"{"format": 2, "something": "new"}"#
    );
}

#[test]
fn the_original_budget_file_seeds_its_day() {
    let dir = TempDir::new().unwrap();
    let legacy_name = "budget-2026-11-24.json";
    let legacy = fixtures()
        .join(".datacore/state/messaging")
        .join(legacy_name);
    fs::copy(&legacy, dir.path().join(legacy_name)).unwrap();
    let settings = Settings::load(&fixtures()).unwrap();
    // 08:30 +01:00: the fixture's one task (07:08:53 UTC) is within the hour.
    let clock = ManualClock::new(datetime!(2026-11-24 08:30 +01:00));
    let governor = TaskGovernor::open(dir.path(), settings)
        .unwrap()
        .with_clock(clock.clone());

    let tex = governor.usage("tex@team.example.com").unwrap();
    assert_eq!(tex.trust_tier, "team");
    assert_eq!((tex.tokens_used, tex.tasks_today), (4200, 1));
    assert_eq!(tex.tasks_this_hour, 1);
    assert_eq!(tex.active.len(), 1);
    assert!(tex.active[0].legacy);
    assert_eq!(tex.active[0].id, "adm-legacy-20261124-1");
    assert_eq!(tex.tokens_reserved, 0);
    assert_eq!(
        governor.usage("stranger@other.org").unwrap().tokens_used,
        300
    );
    let summary = governor.daily_summary().unwrap();
    assert_eq!((summary.total_tokens_used, summary.active_tasks), (4500, 1));

    // The first write carries the imported day into governor.json; the budget file is
    // only read.
    let admission = admitted(governor.admit("tex@team.example.com", 1000, 2).unwrap());
    assert_eq!(
        fs::read(dir.path().join(legacy_name)).unwrap(),
        fs::read(&legacy).unwrap()
    );
    let tex = governor.usage("tex@team.example.com").unwrap();
    assert_eq!(
        (tex.tokens_used, tex.tasks_today, tex.active.len()),
        (4200, 2, 2)
    );
    assert_eq!(tex.tasks_this_hour, 2);

    // Imported active tasks expire at their midnight, as the original's did; ours carry over.
    clock.set(datetime!(2026-11-25 08:30 +01:00));
    let tex = governor.usage("tex@team.example.com").unwrap();
    assert_eq!(tex.tokens_used, 0);
    assert_eq!(
        tex.active.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        [admission.id.as_str()]
    );
    governor.record_usage("tex@team.example.com", 1).unwrap();

    // Imported once: back on the 24th, nothing is counted twice.
    clock.set(datetime!(2026-11-24 23:00 +01:00));
    assert_eq!(
        governor.usage("tex@team.example.com").unwrap().tokens_used,
        4200
    );
}

#[test]
fn a_corrupt_original_budget_file_is_an_error_naming_it() {
    for bad in [
        "{\"senders\": {\"a\": []}}",
        "{\"senders\": {\"a\": {\"tokens_today\": \"x\"}}}",
        "{\"date\": ",
    ] {
        let dir = TempDir::new().unwrap();
        let (governor, _) = governor_at(dir.path(), "", MORNING);
        fs::write(dir.path().join("budget-2026-11-24.json"), bad).unwrap();
        for result in [governor.usage("a").map(drop), governor.record_usage("a", 1)] {
            let err = result.unwrap_err();
            assert!(matches!(err, GovernorError::Corrupt { .. }), "{bad}: {err}");
            assert!(err.to_string().contains("budget-2026-11-24.json"), "{err}");
        }
        assert!(!governor.state_file().exists(), "nothing written");
    }
}

// ---------------------------------------------------------------------------------------------
// The journal.

fn journal_of(governor: &TaskGovernor) -> PathBuf {
    governor.state_dir().join("governor.journal")
}

fn generation_of(governor: &TaskGovernor) -> u64 {
    let snapshot: serde_json::Value =
        serde_json::from_slice(&fs::read(governor.state_file()).unwrap()).unwrap();
    snapshot["generation"].as_u64().unwrap()
}

#[test]
fn governors_sharing_a_directory_see_each_others_changes_at_once() {
    let dir = TempDir::new().unwrap();
    let (first, _) = governor_at(dir.path(), "", MORNING);
    let (second, _) = governor_at(dir.path(), "", MORNING);
    first.record_usage("a@x.com", 10).unwrap();
    assert_eq!(second.usage("a@x.com").unwrap().tokens_used, 10);
    let admission = admitted(second.admit("a@x.com", 5, 0).unwrap());
    first.complete(&admission.id, 7).unwrap();
    assert_eq!(second.usage("a@x.com").unwrap().tokens_used, 17);
    assert!(matches!(
        second.release(&admission.id),
        Err(GovernorError::UnknownAdmission { .. })
    ));
}

#[test]
fn threads_sharing_one_governor_lose_nothing() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    let governor = std::sync::Arc::new(governor);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let governor = std::sync::Arc::clone(&governor);
            std::thread::spawn(move || {
                for _ in 0..25 {
                    governor.record_usage("a@x.com", 1).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(governor.usage("a@x.com").unwrap().tokens_used, 100);
}

#[test]
fn a_long_journal_is_compacted_into_a_new_snapshot() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    governor.record_usage("a@x.com", 1).unwrap();
    assert_eq!(generation_of(&governor), 1);
    for _ in 0..1000 {
        governor.record_usage("a@x.com", 1).unwrap();
    }
    assert_eq!(generation_of(&governor), 2);
    let lines = fs::read_to_string(journal_of(&governor))
        .unwrap()
        .lines()
        .count();
    assert!(lines < 10, "the journal starts again: {lines} lines");
    let (fresh, _) = governor_at(dir.path(), "", MORNING);
    assert_eq!(fresh.usage("a@x.com").unwrap().tokens_used, 1001);
    assert_eq!(file_names(dir.path()), STATE_FILES);
}

#[test]
fn an_unfinished_last_line_is_ignored_and_dropped_by_the_next_writer() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    governor.record_usage("a@x.com", 1).unwrap();
    governor.record_usage("a@x.com", 2).unwrap();
    // What a crash in the middle of an append (never acknowledged) could leave.
    let mut journal = fs::OpenOptions::new()
        .append(true)
        .open(journal_of(&governor))
        .unwrap();
    std::io::Write::write_all(&mut journal, br#"{"op":"usage","actor":"a@x.com","tok"#).unwrap();
    let (fresh, _) = governor_at(dir.path(), "", MORNING);
    assert_eq!(fresh.usage("a@x.com").unwrap().tokens_used, 3);
    let generation = generation_of(&fresh);
    fresh.record_usage("a@x.com", 4).unwrap();
    assert_eq!(generation_of(&fresh), generation + 1, "a new journal");
    assert_eq!(governor.usage("a@x.com").unwrap().tokens_used, 7);
    assert!(fs::read(journal_of(&governor)).unwrap().ends_with(b"\n"));
}

#[test]
fn a_journal_older_than_its_snapshot_is_ignored() {
    // A crash after a compaction wrote the new snapshot and before it replaced the journal.
    let dir = TempDir::new().unwrap();
    let (governor, clock) = governor_at(dir.path(), "", MORNING);
    governor.record_usage("a@x.com", 1).unwrap();
    governor.record_usage("a@x.com", 2).unwrap();
    let old_journal = fs::read(journal_of(&governor)).unwrap();
    clock.set(datetime!(2026-11-25 09:00 +01:00));
    governor.record_usage("a@x.com", 4).unwrap(); // a new day: compaction
    fs::write(journal_of(&governor), &old_journal).unwrap();

    let (fresh, fresh_clock) = governor_at(dir.path(), "", datetime!(2026-11-25 09:00 +01:00));
    assert_eq!(fresh.usage("a@x.com").unwrap().tokens_used, 4);
    fresh_clock.set(MORNING);
    assert_eq!(
        fresh.usage("a@x.com").unwrap().tokens_used,
        3,
        "not counted twice"
    );
    fresh_clock.set(datetime!(2026-11-25 09:00 +01:00));
    fresh.record_usage("a@x.com", 8).unwrap();
    assert_eq!(governor.usage("a@x.com").unwrap().tokens_used, 12);
}

#[test]
fn a_corrupt_journal_is_an_error_naming_its_line() {
    let dir = TempDir::new().unwrap();
    let (governor, _) = governor_at(dir.path(), "", MORNING);
    governor.record_usage("a@x.com", 1).unwrap();
    governor.record_usage("a@x.com", 2).unwrap();
    let path = journal_of(&governor);
    let good = fs::read_to_string(&path).unwrap();
    for (bad, expected) in [
        (
            format!("{good}not json\n"),
            "governor.journal, line 3 column 2, is corrupt",
        ),
        (
            format!("{good}{{\"op\":\"release\",\"id\":\"adm-x\"}}\n"),
            "governor.journal, line 3, is corrupt: release adm-x: no such active admission",
        ),
        (
            good.replace("\"generation\":1", "\"generation\":9"),
            "it continues generation 9 of governor.json",
        ),
    ] {
        fs::write(&path, &bad).unwrap();
        for result in [
            governor.usage("a@x.com").map(drop),
            governor.record_usage("a@x.com", 1),
        ] {
            let err = result.unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
        }
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            bad,
            "never written over"
        );
    }
    fs::write(&path, &good).unwrap();
    assert_eq!(governor.usage("a@x.com").unwrap().tokens_used, 3);
}

// ---------------------------------------------------------------------------------------------
// The state file's shape.

#[test]
fn the_state_file_format() {
    let dir = TempDir::new().unwrap();
    let yaml = "messaging:\n  trust_overrides:\n    tex@team.example.com: team\n";
    let (governor, clock) = governor_at(dir.path(), yaml, MORNING);
    let first = admitted(governor.admit("tex@team.example.com", 5000, 3).unwrap());
    assert_eq!(first.id, "adm-20261124-100259-1");
    clock.advance(time::Duration::minutes(5));
    admitted(governor.admit("tex@team.example.com", 2000, 1).unwrap());
    let stranger = admitted(governor.admit("stranger@other.org", 300, 1).unwrap());
    governor.release(&stranger.id).unwrap();
    governor.record_usage("stranger@other.org", 120).unwrap();
    governor.complete(&first.id, 4200).unwrap();
    let journal = governor.state_dir().join("governor.journal");
    insta::assert_snapshot!(format!(
        "governor.json:\n{}\ngovernor.journal:\n{}",
        fs::read_to_string(governor.state_file()).unwrap(),
        fs::read_to_string(journal).unwrap()
    ));
}

// ---------------------------------------------------------------------------------------------
// Real processes.

/// The job of a worker process, from `MSG_GOVERNOR_WORKER`; a no-op in a normal test run.
#[test]
fn worker_process() {
    let Ok(job) = std::env::var("MSG_GOVERNOR_WORKER") else {
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap();
    let root = PathBuf::from(var("MSG_GOVERNOR_ROOT"));
    let actor = var("MSG_GOVERNOR_ACTOR");
    let count: u64 = var("MSG_GOVERNOR_COUNT").parse().unwrap();
    let tokens: u64 = var("MSG_GOVERNOR_TOKENS").parse().unwrap();
    let paths = Paths::new(&root);
    let governor =
        TaskGovernor::open(paths.governor_state_dir(), Settings::load(&root).unwrap()).unwrap();
    // Wait until every worker is started: the parent closes our stdin then.
    std::io::stdin().read_to_end(&mut Vec::new()).unwrap();
    for _ in 0..count {
        match job.as_str() {
            "record_usage" => governor.record_usage(&actor, tokens).unwrap(),
            "cycle" => {
                let admission = admitted(governor.admit(&actor, tokens, 0).unwrap());
                governor.complete(&admission.id, tokens).unwrap();
            }
            "admit" => match governor.admit(&actor, tokens, 0).unwrap() {
                Decision::Admitted(admission) => {
                    println!("worker-result admitted {} {}", admission.id, tokens)
                }
                Decision::Rejected(rejection) => {
                    println!("worker-result rejected {}", rejection.rule().key())
                }
            },
            other => panic!("unknown worker job {other}"),
        }
    }
}

/// A temporary Datacore root with `settings` as its settings file.
fn root_with_settings(yaml: &str) -> TempDir {
    let root = TempDir::new().unwrap();
    fs::create_dir_all(root.path().join(".datacore")).unwrap();
    fs::write(root.path().join(".datacore/settings.local.yaml"), yaml).unwrap();
    root
}

/// Starts one worker per actor, lets them go at once, and returns their `worker-result`
/// lines.
fn run_workers(root: &Path, job: &str, actors: &[String], count: u64, tokens: u64) -> Vec<String> {
    let children: Vec<Child> = actors
        .iter()
        .map(|actor| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "worker_process",
                    "--exact",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("MSG_GOVERNOR_WORKER", job)
                .env("MSG_GOVERNOR_ROOT", root)
                .env("MSG_GOVERNOR_ACTOR", actor)
                .env("MSG_GOVERNOR_COUNT", count.to_string())
                .env("MSG_GOVERNOR_TOKENS", tokens.to_string())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Every worker is started and waiting on stdin; closing it lets them all go.
    let children: Vec<Child> = children
        .into_iter()
        .map(|mut child| {
            drop(child.stdin.take());
            child
        })
        .collect();
    let mut results = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "worker failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        results.extend(
            String::from_utf8(output.stdout)
                .unwrap()
                .lines()
                // libtest may print "test worker_process ... " before the first line.
                .filter_map(|line| line.split_once("worker-result "))
                .map(|(_, result)| result.to_owned()),
        );
    }
    results
}

/// A governor on the state of the Datacore root `root`.
fn governor_of(root: &Path) -> TaskGovernor {
    TaskGovernor::open(
        Paths::new(root).governor_state_dir(),
        Settings::load(root).unwrap(),
    )
    .unwrap()
}

/// The tokens `actor` used, summed over every day in the snapshot and the journal of
/// `state_dir` (so that a run crossing midnight still adds up).
fn tokens_used_on_every_day(state_dir: &Path, actor: &str) -> u64 {
    let snapshot: serde_json::Value =
        serde_json::from_slice(&fs::read(state_dir.join("governor.json")).unwrap()).unwrap();
    let in_snapshot: u64 = snapshot["days"]
        .as_object()
        .unwrap()
        .values()
        .map(|senders| senders[actor]["tokens_used"].as_u64().unwrap_or(0))
        .sum();
    let completed_actor = |id: &str| {
        // A completion names the admission; its actor is in the admission line.
        fs::read_to_string(state_dir.join("governor.journal"))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
            .find(|op| op["op"] == "admit" && op["id"] == id)
            .map(|op| op["actor"].as_str().unwrap().to_owned())
            .or_else(|| {
                snapshot["admissions"][id]["actor"]
                    .as_str()
                    .map(str::to_owned)
            })
    };
    let in_journal: u64 = fs::read_to_string(state_dir.join("governor.journal"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|op| match op["op"].as_str() {
            Some("usage") => op["actor"] == actor,
            Some("complete") => {
                completed_actor(op["id"].as_str().unwrap()).as_deref() == Some(actor)
            }
            _ => false,
        })
        .map(|op| op["tokens"].as_u64().unwrap())
        .sum();
    in_snapshot + in_journal
}

#[test]
fn four_processes_recording_usage_lose_nothing() {
    let root = root_with_settings("");
    let actors = vec!["shared@x.com".to_owned(); 4];
    run_workers(root.path(), "record_usage", &actors, 200, 1);
    let state_dir = Paths::new(root.path()).governor_state_dir();
    assert_eq!(tokens_used_on_every_day(&state_dir, "shared@x.com"), 800);
}

#[test]
fn eight_processes_racing_for_the_queue_admit_exactly_its_depth() {
    let root = root_with_settings(
        "messaging:\n  compute:\n    max_queue_depth: 20\n    rate_limits: {tasks_per_hour: 1000}\n",
    );
    let actors: Vec<String> = (0..8).map(|n| format!("racer-{n}@x.com")).collect();
    let results = run_workers(root.path(), "admit", &actors, 5, 0);
    assert_eq!(results.len(), 40);
    let admitted = results.iter().filter(|r| r.starts_with("admitted")).count();
    assert_eq!(admitted, 20, "{results:#?}");
    assert!(
        results
            .iter()
            .filter(|r| r.starts_with("rejected"))
            .all(|r| r == "rejected queue_depth")
    );
    assert_eq!(
        governor_of(root.path()).active_admissions().unwrap().len(),
        20
    );
}

#[test]
fn processes_racing_for_a_token_budget_never_reserve_past_it() {
    // Two senders of a custom tier (5,000 a day each), a global budget of 8,000, tasks of 300
    // tokens: at most 16 per sender and 26 in all (7,800).
    let root = root_with_settings(
        "\
messaging:
  trust_tiers:
    racer: {daily_token_limit: 5000}
  trust_overrides:
    r0@x.com: racer
    r1@x.com: racer
  compute:
    daily_budget_tokens: 8000
    max_queue_depth: 1000
    rate_limits: {tasks_per_hour: 1000}
",
    );
    let actors: Vec<String> = (0..8).map(|n| format!("r{}@x.com", n % 2)).collect();
    let results = run_workers(root.path(), "admit", &actors, 6, 300);
    assert_eq!(results.len(), 48);
    let admitted = results.iter().filter(|r| r.starts_with("admitted")).count();
    assert_eq!(admitted, 26, "{results:#?}");

    let admissions = governor_of(root.path()).active_admissions().unwrap();
    assert_eq!(admissions.len(), 26);
    let reserved = |actor: Option<&str>| -> u64 {
        admissions
            .iter()
            .filter(|a| actor.is_none_or(|actor| a.actor == actor))
            .map(|a| a.reserved_tokens)
            .sum()
    };
    assert_eq!(reserved(None), 7800);
    assert!(reserved(Some("r0@x.com")) <= 5000);
    assert!(reserved(Some("r1@x.com")) <= 5000);
}

#[test]
fn processes_racing_through_a_compaction_lose_nothing() {
    // 4 × 150 admit + complete cycles write 1,200 journal lines: the journal is folded into a
    // new snapshot while the other processes are reading and appending.
    let root = root_with_settings(
        "messaging:\n  compute:\n    max_queue_depth: 1000\n    rate_limits: {tasks_per_hour: 1000}\n",
    );
    let actors: Vec<String> = (0..4).map(|n| format!("cycler-{n}@x.com")).collect();
    run_workers(root.path(), "cycle", &actors, 150, 3);
    let state_dir = Paths::new(root.path()).governor_state_dir();
    for actor in &actors {
        assert_eq!(tokens_used_on_every_day(&state_dir, actor), 450, "{actor}");
    }
    let governor = governor_of(root.path());
    assert!(governor.active_admissions().unwrap().is_empty());
    assert!(
        generation_of(&governor) >= 2,
        "a compaction happened during the run"
    );
}

// ---------------------------------------------------------------------------------------------
// A full disk (simulated by msg-core's test hook).

/// An admission whose record cannot be written is an error naming the journal, and leaves
/// no trace: no reserved tokens, no task counted, no half line that a later read trips on.
#[test]
fn an_admission_that_cannot_be_written_leaves_no_trace() {
    use msg_core::durable::fault::disk_full;
    let dir = TempDir::new().unwrap();
    let (governor, _clock) = governor_at(dir.path(), "", MORNING);
    admitted(governor.admit("user@x.com", 1000, 0).unwrap());
    let before = governor.usage("user@x.com").unwrap();
    for free in [0, 1, 20, 60] {
        let err = {
            let _full = disk_full(dir.path(), free);
            governor.admit("user@x.com", 2000, 0).unwrap_err()
        };
        let message = err.to_string();
        assert!(message.contains("governor"), "{free} bytes free: {message}");
        assert_eq!(
            governor.usage("user@x.com").unwrap(),
            before,
            "{free} bytes free"
        );
        assert_eq!(governor.active_admissions().unwrap().len(), 1);
        // Another process reading the files afresh sees the same.
        let (fresh, _) = governor_at(dir.path(), "", MORNING);
        assert_eq!(fresh.usage("user@x.com").unwrap(), before);
    }
    admitted(governor.admit("user@x.com", 2000, 0).unwrap());
    assert_eq!(governor.active_admissions().unwrap().len(), 2);
    // The first change of a fresh state directory writes a snapshot: the same holds.
    let fresh_dir = TempDir::new().unwrap();
    let (fresh, _) = governor_at(fresh_dir.path(), "", MORNING);
    for free in [0, 30, 300] {
        let _full = disk_full(fresh_dir.path(), free);
        let err = fresh.admit("user@x.com", 2000, 0).unwrap_err();
        assert!(err.to_string().contains("governor"), "{err}");
    }
    assert!(fresh.active_admissions().unwrap().is_empty());
    admitted(fresh.admit("user@x.com", 2000, 0).unwrap());
}
