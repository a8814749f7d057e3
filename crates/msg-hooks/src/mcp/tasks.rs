//! The task tools: `tasks` (the list), `claim_task`, `complete_task` and `return_task`,
//! through the task desk as `msg task …` and `send-reply` use it (the inbox's locks and
//! state machine, the governor's reservations).
//!
//! Approving, rejecting, accepting, revising and cancelling are the owner's decisions
//! (DESIGN.md §5): no tool does them, so text from a sender can never talk the agent into
//! approving its own task.

use msg_inbox::{Task, TaskState};

use super::door::Door;
use super::input::ToolError;
use super::text::{Line, MAX_TEXT_CHARS, at_most, first_line, framed, listing};
use crate::desk::{GovernorNote, MESSAGE_ID_PROPERTY, Reply, TASK_PROPERTY, TaskDesk, send_reply};
use crate::hook::untrusted::Boundary;
use msg_core::figures::{grouped, plural};

/// The states `tasks` lists when none are asked for: what the agent works on or waits on.
pub(crate) const OPEN_STATES: [&str; 3] = ["WORKING", "QUEUED", "WAITING"];
/// Every state a task can be in that the list can ask for.
pub(crate) const STATES: [&str; 6] = [
    "WAITING",
    "QUEUED",
    "WORKING",
    "DONE",
    "CANCELLED",
    "ARCHIVED",
];
/// The most tasks one list shows.
const MAX_LIST: usize = 50;
/// The most of a title a list shows.
const TITLE_CHARS: usize = 100;

fn desk(door: &Door) -> Result<TaskDesk, ToolError> {
    Ok(TaskDesk::open(door.ctx(), Some(door.agent()))?)
}

/// The agent's task whose ID is `given`, or the only one starting or ending with it.
pub(crate) fn find(door: &Door, given: &str) -> Result<Task, ToolError> {
    Ok(desk(door)?.find(given)?)
}

/// `tasks`: the agent's tasks in `states` (keywords), grouped by state in that order, each
/// state's oldest first.
pub(crate) fn list(door: &Door, states: &[&str]) -> Result<String, ToolError> {
    let states: Vec<TaskState> = states
        .iter()
        .filter_map(|keyword| TaskState::from_keyword(keyword))
        .collect();
    let all = door.tasks()?;
    let mut chosen: Vec<&Task> = Vec::new();
    for state in &states {
        chosen.extend(all.iter().filter(|t| t.state() == *state));
    }
    let asked = states
        .iter()
        .map(|s| s.keyword())
        .collect::<Vec<_>>()
        .join(", ");
    if chosen.is_empty() {
        return Ok(format!("No {asked} tasks for {}.", door.agent()));
    }
    let total = chosen.len();
    chosen.truncate(MAX_LIST);
    let mut head = format!(
        "{total} {} ({asked}) for {}",
        plural(total, "task", "tasks"),
        door.agent()
    );
    if total > chosen.len() {
        head.push_str(&format!(", the first {} shown", chosen.len()));
    }
    head.push_str(". `read` one for its whole text:");
    let lines: Vec<Line> = chosen.iter().map(|t| task_line(door, t)).collect();
    Ok(format!("{head}\n{}", listing(&lines, &Boundary::random())))
}

/// One line of a list: ID, state, sender, title.
fn task_line(door: &Door, task: &Task) -> Line {
    let (tier, trusted) = door.task_standing(task);
    let mut line = format!(
        "- {} {} from {} ({tier})",
        task.id(),
        task.state(),
        task.from().unwrap_or("?")
    );
    if task.is_awaiting_approval() {
        line.push_str(", awaiting your owner's approval");
    }
    if task.revision_count() > 0 {
        line.push_str(&format!(", revision {}", task.revision_count()));
    }
    line.push_str(&format!(": {}", first_line(task.title(), TITLE_CHARS)));
    Line {
        text: line,
        sender: task.from().unwrap_or("?").to_owned(),
        tier,
        trusted,
    }
}

/// A task in full: its state, sender, history, text (framed unless the owner's), the
/// messages about it and what to do next.
pub(crate) fn full_task(
    door: &Door,
    task: &Task,
    boundary: &Boundary,
) -> Result<String, ToolError> {
    let from = task.from().unwrap_or("?");
    let (tier, trusted) = door.task_standing(task);
    let mut out = format!(
        "Task {} ({}) from {from} (tier {tier})",
        task.id(),
        task.state()
    );
    if let Some(submitted) = task.property("SUBMITTED") {
        out.push_str(&format!(", submitted {submitted}"));
    }
    if task.retry_count() > 0 {
        out.push_str(&format!(", returned {} times", task.retry_count()));
    }
    if let Some(message) = task.property(MESSAGE_ID_PROPERTY) {
        out.push_str(&format!(", came as message {message}"));
    }
    let mut text = task.title().to_owned();
    if !task.body().trim().is_empty() {
        text.push('\n');
        text.push_str(task.body());
    }
    let text = at_most(&text, MAX_TEXT_CHARS, "the whole text is in the org file");
    out.push_str(":\n");
    out.push_str(&framed(&text, trusted, from, &tier, boundary));
    // The owner's words when asking for a revision: the owner wrote them (`msg task revise`).
    for (n, feedback) in task.revision_feedback().iter().enumerate() {
        out.push_str(&format!(
            "\nYour owner's feedback for revision {}: {feedback}",
            n + 1
        ));
    }
    let replies: Vec<String> = door
        .messages()?
        .into_iter()
        .filter(|(_, m)| m.property(TASK_PROPERTY) == Some(task.id()))
        .map(|(_, m)| m.id)
        .collect();
    if !replies.is_empty() {
        out.push_str(&format!(
            "\nYour messages about it: {}.",
            replies.join(", ")
        ));
    }
    out.push_str("\n\n");
    out.push_str(&next_step(task));
    Ok(out)
}

/// What the agent can do with a task in its state.
fn next_step(task: &Task) -> String {
    let id = task.id();
    match task.state() {
        TaskState::Queued => format!("Start it with `claim_task` (id {id})."),
        TaskState::Working => format!(
            "Finish it with `complete_task` (id {id}, result, tokens), or give it back with `return_task`."
        ),
        TaskState::Waiting => format!(
            "It waits for your owner's approval and is not yours to start; your owner runs `msg task approve {id}` or `msg task reject {id}`."
        ),
        TaskState::Done => "It is done; your owner accepts it or asks for a revision.".to_owned(),
        _ => "Nothing is left to do with it.".to_owned(),
    }
}

/// `claim_task`: the task `given`, or the next one (`None`: nothing is queued).
pub(crate) fn claim(door: &Door, given: Option<&str>) -> Result<String, ToolError> {
    let desk = desk(door)?;
    let Some(task) = desk.claim(given)? else {
        return Ok(format!(
            "Nothing is queued for {}. `tasks` lists what there is.",
            door.agent()
        ));
    };
    let mut out = format!(
        "You claimed task {} (now WORKING).\n\n{}",
        task.id(),
        full_task(door, &task, &Boundary::random())?
    );
    let others: Vec<String> = door
        .tasks()?
        .into_iter()
        .filter(|t| t.state() == TaskState::Working && t.id() != task.id())
        .map(|t| t.id().to_owned())
        .collect();
    if !others.is_empty() {
        out.push_str(&format!(
            "\nAlso WORKING: {} (finish or return them too).",
            others.join(", ")
        ));
    }
    Ok(out)
}

/// `complete_task`: the WORKING task `given` becomes DONE; `result` goes to its sender as
/// the agent's reply (answering the message it came as), and the governor records
/// `tokens`. Everything is checked before anything is written (`send-reply`'s rules).
pub(crate) fn complete(
    door: &Door,
    given: &str,
    result: &str,
    tokens: Option<u64>,
) -> Result<String, ToolError> {
    let task = find(door, given)?;
    let Some(from) = task.from().filter(|from| !from.is_empty()) else {
        return Err(ToolError::new(format!(
            "task {} names no sender (no FROM), so there is nobody to send the result to; tell your owner with `send`",
            task.id()
        )));
    };
    let report = send_reply(
        door.ctx(),
        &Reply {
            to: from.to_owned(),
            content: result.to_owned(),
            complete_task: Some(task.id().to_owned()),
            tokens,
            sender: Some(door.agent().to_owned()),
            agent: Some(door.agent().to_owned()),
            ..Reply::default()
        },
    )?;
    let mut out = format!(
        "Task {} is DONE. {}.",
        task.id(),
        report.sent.confirmation()
    );
    if let Some((_, note)) = &report.completed {
        out.push_str(&governor_note(note));
    }
    Ok(out)
}

/// What the governor did, as a sentence (empty when nothing).
fn governor_note(note: &GovernorNote) -> String {
    match note {
        GovernorNote::Nothing => String::new(),
        GovernorNote::Completed { admission, tokens } => format!(
            " The governor recorded {} tokens used ({} were reserved).",
            grouped(*tokens),
            grouped(admission.reserved_tokens)
        ),
        GovernorNote::UsageRecorded { actor, tokens } => format!(
            " The governor recorded {} tokens against {actor}'s budget.",
            grouped(*tokens)
        ),
        GovernorNote::Released(admission) => format!(
            " The governor released {} reserved tokens.",
            grouped(admission.reserved_tokens)
        ),
    }
}

/// `return_task`: the WORKING task `given` goes back to the queue with `reason`.
pub(crate) fn give_back(door: &Door, given: &str, reason: &str) -> Result<String, ToolError> {
    let task = desk(door)?.retry(given, reason)?;
    Ok(format!(
        "Task {} is QUEUED again (returned {} times); your reason is kept with it.",
        task.id(),
        task.retry_count()
    ))
}
