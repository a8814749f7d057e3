//! Machine output (`--json`): messages, tasks and the governor's reports as JSON values.
//!
//! Field names are snake_case and stable; text fields hold what the files say (timestamps
//! as Org writes them, `[2026-11-24 Tue 10:02]`); absent values are `null`. Beside each Org
//! timestamp is the same time in ISO 8601 (`created_at: "2026-11-24T10:02:00"`, local time
//! as the file has it, which carries no offset), for programs.

use msg_governor::{ActiveAdmission, DailySummary, Explanation, RuleCheck, Usage};
use msg_inbox::Task;
use msg_store::{Message, MessageKind};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::contacts::ContactRow;
use crate::desk::messages::message_state;
use crate::desk::{Delivery, Sent, Submitted};

fn properties(pairs: &[(String, String)]) -> Value {
    let mut map = Map::new();
    for (key, value) in pairs {
        // The first of a repeated key wins, as in every lookup.
        map.entry(key.clone())
            .or_insert_with(|| Value::String(value.clone()));
    }
    Value::Object(map)
}

fn kind(message: &Message) -> &'static str {
    match message.kind {
        MessageKind::Message => "message",
        MessageKind::FileDelivery => "file_delivery",
        MessageKind::Other => "other",
    }
}

/// What a message is about: the first line of its text (the body holds the whole text; the
/// heading of older messages is only the time), else its heading.
fn subject(message: &Message) -> &str {
    message
        .body
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or(&message.title)
}

/// An Org timestamp (`[2026-11-24 Tue 10:02]`) in ISO 8601 (`2026-11-24T10:02:00`), or
/// `null` when there is none or it does not read.
fn iso(org: Option<&str>) -> Value {
    org.and_then(msg_core::timestamp::parse_org_timestamp)
        .map_or(Value::Null, iso_local)
}

fn iso_local(at: time::PrimitiveDateTime) -> Value {
    const FORMAT: &[time::format_description::FormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    at.format(FORMAT).map_or(Value::Null, Value::String)
}

/// When a message or task was written: the time in its ID (to the second), else `CREATED`.
fn created_at(id: &str, created: Option<&str>) -> Value {
    match msg_core::id::parse_id(id).created {
        Some(at) => iso_local(at),
        None => iso(created),
    }
}

/// A message.
pub(crate) fn message(message: &Message) -> Value {
    json!({
        "id": message.id,
        "kind": kind(message),
        "subject": subject(message),
        "state": message_state(message),
        "keyword": message.keyword,
        "unread": message.is_unread(),
        "from": message.from,
        "to": message.to,
        "created": message.created,
        "reply_to": message.reply_to,
        "thread": message.thread,
        "priority": message.priority.as_str(),
        "tags": message.tags,
        "title": message.title,
        "body": message.body,
        "line": message.line,
        "properties": properties(&message.properties),
        "created_at": created_at(&message.id, message.created.as_deref()),
        "delivery": message.property("DELIVERY"),
        "delivery_error": message.property("DELIVERY_ERROR"),
        "queued_at": iso(message.property("QUEUED_AT")),
        "delivered_at": iso(message.property("DELIVERED_AT")),
    })
}

/// A list of messages.
pub(crate) fn messages(list: &[Message]) -> Value {
    Value::Array(list.iter().map(message).collect())
}

/// A task.
pub(crate) fn task(task: &Task) -> Value {
    json!({
        "id": task.id(),
        "kind": "task",
        "state": task.state().keyword(),
        "title": task.title(),
        "body": task.body(),
        "tags": task.tags(),
        "from": task.from(),
        "trust_tier": task.trust_tier(),
        "awaiting_approval": task.is_awaiting_approval(),
        "retry_count": task.retry_count(),
        "revision_count": task.revision_count(),
        "closed": task.closed(),
        "properties": properties(task.properties()),
        "created_at": created_at(task.id(), task.property("CREATED")),
        "submitted_at": iso(task.property("SUBMITTED")),
        "started_at": iso(task.property("STARTED")),
        "completed_at": iso(task.property("COMPLETED")),
        "closed_at": iso(task.closed()),
    })
}

/// A message `msg send` wrote, and where it went (`local_inbox` or `pending_relay`).
pub(crate) fn sent(sent: &Sent) -> Value {
    json!({
        "delivery": match sent.delivery {
            Delivery::LocalInbox => "local_inbox",
            Delivery::PendingRelay => "pending_relay",
        },
        "message": message(&sent.message),
    })
}

/// A task submitted through the governor, and its admission.
pub(crate) fn submitted(submitted: &Submitted) -> Value {
    json!({
        "admission": submitted.admission,
        "task": task(&submitted.task),
    })
}

/// A list of tasks.
pub(crate) fn tasks(list: &[Task]) -> Value {
    Value::Array(list.iter().map(task).collect())
}

fn time(at: OffsetDateTime) -> Value {
    at.format(&Rfc3339)
        .map(Value::String)
        .unwrap_or(Value::Null)
}

/// An active admission.
pub(crate) fn admission(admission: &ActiveAdmission) -> Value {
    json!({
        "id": admission.id,
        "actor": admission.actor,
        "reserved_tokens": admission.reserved_tokens,
        "effort": admission.effort,
        "admitted_at": time(admission.admitted_at),
        "legacy": admission.legacy,
    })
}

/// One sender's usage.
pub(crate) fn usage(usage: &Usage) -> Value {
    json!({
        "actor": usage.actor,
        "date": usage.date.to_string(),
        "trust_tier": usage.trust_tier,
        "daily_token_limit": (usage.tier.daily_token_limit > 0).then_some(usage.tier.daily_token_limit),
        "tokens_used": usage.tokens_used,
        "tokens_reserved": usage.tokens_reserved,
        "tokens_remaining": usage.tokens_remaining(),
        "tasks_today": usage.tasks_today,
        "tasks_this_hour": usage.tasks_this_hour,
        "active": usage.active.iter().map(admission).collect::<Vec<_>>(),
    })
}

/// The day's summary and the active admissions.
pub(crate) fn summary(summary: &DailySummary, active: &[ActiveAdmission]) -> Value {
    let mut senders = Map::new();
    for (actor, sender) in &summary.by_sender {
        senders.insert(
            actor.clone(),
            json!({
                "tokens_used": sender.tokens_used,
                "tokens_reserved": sender.tokens_reserved,
                "tasks_today": sender.tasks_today,
                "active_tasks": sender.active_tasks,
            }),
        );
    }
    json!({
        "date": summary.date.to_string(),
        "total_tokens_used": summary.total_tokens_used,
        "total_tokens_reserved": summary.total_tokens_reserved,
        "daily_budget_tokens": summary.daily_budget_tokens,
        "active_tasks": summary.active_tasks,
        "max_queue_depth": summary.max_queue_depth,
        "by_sender": senders,
        "active": active.iter().map(admission).collect::<Vec<_>>(),
    })
}

fn check(check: &RuleCheck) -> Value {
    json!({
        "rule": check.rule.key(),
        "used": check.used,
        "reserved": check.reserved,
        "requested": check.requested,
        "limit": check.limit,
        "passed": check.passed,
        "retry_after": check.retry_after.map(time),
        "reason": check.reason(),
    })
}

/// A dry run of the rules.
pub(crate) fn explanation(explanation: &Explanation) -> Value {
    json!({
        "actor": explanation.actor,
        "trust_tier": explanation.trust_tier,
        "auto_accept": explanation.tier.auto_accept,
        "date": explanation.date.to_string(),
        "allowed": explanation.allowed(),
        "checks": explanation.checks.iter().map(check).collect::<Vec<_>>(),
    })
}

/// The contacts.
pub(crate) fn contacts(rows: &[ContactRow]) -> Value {
    Value::Array(
        rows.iter()
            .map(|row| {
                json!({
                    "id": row.id,
                    "name": row.name,
                    "handles": row.handles,
                    "trust_tier": row.tier,
                    "noted_tier": row.noted_tier,
                    "added": row.added,
                    "in_contacts_file": row.in_contacts_file,
                    "groups": row.groups,
                })
            })
            .collect(),
    )
}

/// `value` as pretty JSON with a final newline.
pub(crate) fn to_text(value: &Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialise");
    text.push('\n');
    text
}
