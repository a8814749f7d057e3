//! The tool catalogue: each tool's name, description and input schema, exactly as
//! `tools/list` sends them, and the dispatch of a call to its function.
//!
//! Every byte here is context the model pays for in every session, so descriptions are
//! short and the schemas are written by hand (no `$schema`, no generated titles). The
//! arguments are still checked by [`Args`] whatever a client sends: the schemas tell the
//! model what to give, the checks tell it what was wrong.

use msg_store::Priority;
use serde_json::{Map, Value, json};

use super::door::Door;
use super::input::{Args, ToolError};
use super::{messages, tasks, usage};

/// The description and input schema of every tool, in the order they are listed.
pub(crate) fn catalogue() -> Vec<Value> {
    let id = |what: &str| json!({"type": "string", "description": what});
    vec![
        tool(
            "inbox",
            "Messages addressed to you (never your owner's own mail), newest first, with the task each became; or one conversation.",
            json!({
                "unread_only": {"type": "boolean", "description": "only unread ones"},
                "thread": id("a message ID: show its whole conversation instead"),
                "limit": {"type": "integer", "minimum": 1, "maximum": messages::MAX_LIST, "description": "default 20"},
            }),
            &[],
            true,
        ),
        tool(
            "read",
            "One of your messages or tasks in full, by ID (or a unique prefix or suffix). A message to you is marked read.",
            json!({
                "id": id("message or task ID"),
                "archive": {"type": "boolean", "description": "archive the message after reading"},
            }),
            &["id"],
            false,
        ),
        tool(
            "send",
            "Send a message as yourself: to your owner's inbox, or through the relay to anyone else. To deliver a task's result use complete_task.",
            json!({
                "to": id("actor ID (alice, bob-claude) or @handle"),
                "text": {"type": "string"},
                "reply_to": id("the message ID this answers (keeps the thread)"),
                "priority": {"enum": ["high", "normal", "low"]},
            }),
            &["to", "text"],
            false,
        ),
        tool(
            "tasks",
            "Your tasks: WORKING, QUEUED and WAITING (for your owner's approval) unless `states` says otherwise.",
            json!({
                "states": {"type": "array", "items": {"enum": tasks::STATES}},
            }),
            &[],
            true,
        ),
        tool(
            "claim_task",
            "Start a task: claims the next queued one (highest trust, then oldest) or `id`, and returns its full text.",
            json!({"id": id("task ID; default: the next")}),
            &[],
            false,
        ),
        tool(
            "complete_task",
            "Finish a WORKING task: `result` goes to its sender as your reply, the task becomes DONE, `tokens` are charged to the sender's budget.",
            json!({
                "id": id("task ID"),
                "result": {"type": "string", "description": "what you did or found"},
                "tokens": {"type": "integer", "minimum": 0, "description": "tokens the task used"},
            }),
            &["id", "result"],
            false,
        ),
        tool(
            "return_task",
            "Give a WORKING task back to the queue, with the reason you cannot finish it now.",
            json!({"id": id("task ID"), "reason": {"type": "string"}}),
            &["id", "reason"],
            false,
        ),
        tool(
            "usage",
            "Today's token budget and tasks; with `sender`, theirs; with `tokens` too, whether a task that size from them would be admitted now.",
            json!({
                "sender": id("actor ID"),
                "tokens": {"type": "integer", "minimum": 0},
            }),
            &[],
            true,
        ),
    ]
}

/// One tool as `tools/list` shows it.
fn tool(
    name: &str,
    description: &str,
    properties: Value,
    required: &[&str],
    read_only: bool,
) -> Value {
    let mut schema =
        json!({"type": "object", "properties": properties, "additionalProperties": false});
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    let mut tool = json!({"name": name, "description": description, "inputSchema": schema});
    if read_only {
        tool["annotations"] = json!({"readOnlyHint": true});
    }
    tool
}

/// How the errors ask for an ID: whole, or a unique prefix or suffix.
fn id_of(what: &str) -> String {
    format!("the ID of {what} (or a unique prefix or suffix of it)")
}

/// What became of a call.
#[derive(Debug)]
pub(crate) enum Called {
    /// The tool ran: its text for the model.
    Done(String),
    /// The tool refused or failed: what to change.
    Failed(ToolError),
    /// No tool has that name.
    Unknown,
}

/// Runs tool `name` with `arguments` for `door`'s agent.
pub(crate) fn call(door: &Door, name: &str, arguments: Option<&Map<String, Value>>) -> Called {
    let result = match name {
        "inbox" => inbox(door, arguments),
        "read" => read(door, arguments),
        "send" => send(door, arguments),
        "tasks" => list_tasks(door, arguments),
        "claim_task" => claim_task(door, arguments),
        "complete_task" => complete_task(door, arguments),
        "return_task" => return_task(door, arguments),
        "usage" => usage_of(door, arguments),
        _ => return Called::Unknown,
    };
    match result {
        Ok(text) => Called::Done(text),
        Err(err) => Called::Failed(err),
    }
}

fn inbox(door: &Door, arguments: Option<&Map<String, Value>>) -> Result<String, ToolError> {
    let args = Args::new(arguments, &["unread_only", "thread", "limit"])?;
    let unread_only = args.flag("unread_only", false)?;
    let thread = args.line("thread", &id_of("a message of the conversation"))?;
    let limit = args.number("limit", 1, messages::MAX_LIST)?.unwrap_or(20);
    messages::inbox(door, unread_only, thread.as_deref(), limit as usize)
}

fn read(door: &Door, arguments: Option<&Map<String, Value>>) -> Result<String, ToolError> {
    let args = Args::new(arguments, &["id", "archive"])?;
    let id = args.required_line("id", &id_of("a message or task of yours"))?;
    messages::read(door, &id, args.flag("archive", false)?)
}

fn send(door: &Door, arguments: Option<&Map<String, Value>>) -> Result<String, ToolError> {
    let args = Args::new(arguments, &["to", "text", "reply_to", "priority"])?;
    let to = args.required_line("to", "the recipient: an actor such as alice, or an @handle")?;
    let text = args.required_text("text", "the message's text")?;
    let reply_to = args.line("reply_to", &id_of("the message this answers"))?;
    let priority = args
        .choice("priority", &["high", "normal", "low"])?
        .and_then(Priority::parse)
        .unwrap_or(Priority::Normal);
    messages::send(door, &to, &text, reply_to.as_deref(), priority)
}

fn list_tasks(door: &Door, arguments: Option<&Map<String, Value>>) -> Result<String, ToolError> {
    let args = Args::new(arguments, &["states"])?;
    let states = args
        .choices("states", &tasks::STATES)?
        .unwrap_or_else(|| tasks::OPEN_STATES.to_vec());
    tasks::list(door, &states)
}

fn claim_task(door: &Door, arguments: Option<&Map<String, Value>>) -> Result<String, ToolError> {
    let args = Args::new(arguments, &["id"])?;
    tasks::claim(door, args.line("id", &id_of("a queued task"))?.as_deref())
}

fn complete_task(door: &Door, arguments: Option<&Map<String, Value>>) -> Result<String, ToolError> {
    let args = Args::new(arguments, &["id", "result", "tokens"])?;
    let id = args.required_line("id", &id_of("the WORKING task"))?;
    let result = args.required_text("result", "the result for the task's sender")?;
    let tokens = args.number("tokens", 0, u64::MAX)?;
    tasks::complete(door, &id, &result, tokens)
}

fn return_task(door: &Door, arguments: Option<&Map<String, Value>>) -> Result<String, ToolError> {
    let args = Args::new(arguments, &["id", "reason"])?;
    let id = args.required_line("id", &id_of("the WORKING task"))?;
    let reason = args.required_text("reason", "why you cannot finish it now")?;
    tasks::give_back(door, &id, &reason)
}

fn usage_of(door: &Door, arguments: Option<&Map<String, Value>>) -> Result<String, ToolError> {
    let args = Args::new(arguments, &["sender", "tokens"])?;
    let sender = args.line("sender", "an actor such as alice")?;
    let tokens = args.number("tokens", 0, u64::MAX)?;
    usage::usage(door, sender.as_deref(), tokens)
}
