//! Every subcommand and flag of `msg`, defined once. `--root` and `--space` are global: they
//! are taken from anywhere on the command line before argh sees it (see `main`).

use std::path::PathBuf;

use argh::FromArgs;
use msg_hooks::MarkAction;

#[derive(FromArgs, Debug)]
/// The person's side of datacore-messaging: send and read messages, hand tasks to your
/// agent and decide on them, see what they cost. Exit 0 ok, 1 failure, 2 usage.
#[argh(help_triggers("-h", "--help"))]
pub(crate) struct Cli {
    /// the Datacore root, anywhere on the line (default: $DATACORE_ROOT, else ~/Data)
    #[argh(option)]
    pub(crate) root: Option<PathBuf>,
    /// the space, anywhere on the line (default: messaging.default_space, else 0-personal)
    #[argh(option)]
    pub(crate) space: Option<String>,
    #[argh(subcommand)]
    pub(crate) command: Command,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub(crate) enum Command {
    Send(Send),
    Inbox(Inbox),
    Show(Show),
    Read(Read),
    Unread(Unread),
    Archive(Archive),
    Thread(Thread),
    Tasks(Tasks),
    Task(TaskCmd),
    Usage(Usage),
    Contacts(Contacts),
    Init(Init),
    Doctor(Doctor),
    Hooks(Hooks),
    Migrate(Migrate),
    Relay(Relay),
    Intake(Intake),
    Demo(Demo),
}

#[derive(FromArgs, Debug)]
/// Send a message. To your agent (YOU-claude) it becomes a task, through the governor;
/// to yourself it lands in your inbox; to anyone else it waits in outbox.org for the relay.
#[argh(subcommand, name = "send", help_triggers("-h", "--help"))]
pub(crate) struct Send {
    /// the recipient: an actor ID, or @handle from contacts.yaml
    #[argh(positional)]
    pub(crate) to: String,
    /// the text, one argument (quote it)
    #[argh(positional)]
    pub(crate) text: String,
    /// the message this answers: its ID, or a unique prefix or suffix
    #[argh(option)]
    pub(crate) reply_to: Option<String>,
    /// high, normal (default) or low
    #[argh(option, default = "String::from(\"normal\")")]
    pub(crate) priority: String,
}

#[derive(FromArgs, Debug)]
/// List the messages in your inbox (not archived ones, unless --all).
#[argh(subcommand, name = "inbox", help_triggers("-h", "--help"))]
pub(crate) struct Inbox {
    /// only unread messages
    #[argh(switch)]
    pub(crate) unread: bool,
    /// only messages from this actor
    #[argh(option)]
    pub(crate) from: Option<String>,
    /// archived messages too
    #[argh(switch)]
    pub(crate) all: bool,
    /// print JSON
    #[argh(switch)]
    pub(crate) json: bool,
}

#[derive(FromArgs, Debug)]
/// Show one message (received or sent) or task in full.
#[argh(subcommand, name = "show", help_triggers("-h", "--help"))]
pub(crate) struct Show {
    /// the ID, or a unique prefix or suffix of it
    #[argh(positional)]
    pub(crate) id: String,
    /// whose tasks to search (default: your agent)
    #[argh(option)]
    pub(crate) agent: Option<String>,
    /// print JSON
    #[argh(switch)]
    pub(crate) json: bool,
}

#[derive(FromArgs, Debug)]
/// Mark a message read.
#[argh(subcommand, name = "read", help_triggers("-h", "--help"))]
pub(crate) struct Read {
    /// the ID, or a unique prefix or suffix of it
    #[argh(positional)]
    pub(crate) id: String,
}

#[derive(FromArgs, Debug)]
/// Mark a message unread again.
#[argh(subcommand, name = "unread", help_triggers("-h", "--help"))]
pub(crate) struct Unread {
    /// the ID, or a unique prefix or suffix of it
    #[argh(positional)]
    pub(crate) id: String,
}

#[derive(FromArgs, Debug)]
/// Archive a message.
#[argh(subcommand, name = "archive", help_triggers("-h", "--help"))]
pub(crate) struct Archive {
    /// the ID, or a unique prefix or suffix of it
    #[argh(positional)]
    pub(crate) id: String,
}

#[derive(FromArgs, Debug)]
/// Show the conversation a message belongs to, received and sent, in order.
#[argh(subcommand, name = "thread", help_triggers("-h", "--help"))]
pub(crate) struct Thread {
    /// any message of the thread: its ID, or a unique prefix or suffix
    #[argh(positional)]
    pub(crate) id: String,
    /// print JSON
    #[argh(switch)]
    pub(crate) json: bool,
}

#[derive(FromArgs, Debug)]
/// List an agent's tasks.
#[argh(subcommand, name = "tasks", help_triggers("-h", "--help"))]
pub(crate) struct Tasks {
    /// only tasks in this state (WAITING, QUEUED, WORKING, DONE, CANCELLED, ARCHIVED;
    /// repeat it or separate states with commas)
    #[argh(option)]
    pub(crate) state: Vec<String>,
    /// whose tasks (default: your agent)
    #[argh(option)]
    pub(crate) agent: Option<String>,
    /// print JSON
    #[argh(switch)]
    pub(crate) json: bool,
}

#[derive(FromArgs, Debug)]
/// Submit a task, or move one through its states.
#[argh(subcommand, name = "task", help_triggers("-h", "--help"))]
pub(crate) struct TaskCmd {
    /// whose tasks (default: your agent)
    #[argh(option)]
    pub(crate) agent: Option<String>,
    #[argh(subcommand)]
    pub(crate) command: TaskCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub(crate) enum TaskCommand {
    Submit(Submit),
    Approve(Approve),
    Reject(Reject),
    Cancel(Cancel),
    Claim(Claim),
    Complete(Complete),
    Retry(Retry),
    Revise(Revise),
    Accept(Accept),
}

#[derive(FromArgs, Debug)]
/// Submit a task for the agent. The governor admits it (reserving its estimated tokens) or
/// refuses it, saying which limit and when to retry; it is queued at once when the sender's
/// tier auto-accepts, else it waits for your approval.
#[argh(subcommand, name = "submit", help_triggers("-h", "--help"))]
pub(crate) struct Submit {
    /// the task text: the first line is its title, the rest its body
    #[argh(positional)]
    pub(crate) text: String,
    /// the sender (default: you)
    #[argh(option)]
    pub(crate) from: Option<String>,
    /// estimated tokens, reserved until the task ends (default 0)
    #[argh(option)]
    pub(crate) tokens: Option<u64>,
    /// estimated effort
    #[argh(option)]
    pub(crate) effort: Option<u32>,
    /// a tag (repeatable; default: AI)
    #[argh(option)]
    pub(crate) tag: Vec<String>,
}

#[derive(FromArgs, Debug)]
/// Approve a task that waits for you: WAITING → QUEUED.
#[argh(subcommand, name = "approve", help_triggers("-h", "--help"))]
pub(crate) struct Approve {
    /// the task: its ID, or a unique prefix or suffix
    #[argh(positional)]
    pub(crate) id: String,
}

#[derive(FromArgs, Debug)]
/// Reject a task that waits for you: WAITING → CANCELLED; its reservation is released.
#[argh(subcommand, name = "reject", help_triggers("-h", "--help"))]
pub(crate) struct Reject {
    /// the task: its ID, or a unique prefix or suffix
    #[argh(positional)]
    pub(crate) id: String,
    /// why, kept as REJECTION_REASON
    #[argh(option, default = "String::new()")]
    pub(crate) reason: String,
}

#[derive(FromArgs, Debug)]
/// Cancel a queued or working task: → CANCELLED; its reservation is released.
#[argh(subcommand, name = "cancel", help_triggers("-h", "--help"))]
pub(crate) struct Cancel {
    /// the task: its ID, or a unique prefix or suffix
    #[argh(positional)]
    pub(crate) id: String,
    /// why, kept as CANCELLATION_REASON
    #[argh(option, default = "String::new()")]
    pub(crate) reason: String,
}

#[derive(FromArgs, Debug)]
/// Claim a queued task (QUEUED → WORKING): the one given, else the next in line.
#[argh(subcommand, name = "claim", help_triggers("-h", "--help"))]
pub(crate) struct Claim {
    /// the task: its ID, or a unique prefix or suffix (default: the next)
    #[argh(positional)]
    pub(crate) id: Option<String>,
}

#[derive(FromArgs, Debug)]
/// Complete a working task (WORKING → DONE) and tell the governor the tokens used.
#[argh(subcommand, name = "complete", help_triggers("-h", "--help"))]
pub(crate) struct Complete {
    /// the task: its ID, or a unique prefix or suffix
    #[argh(positional)]
    pub(crate) id: String,
    /// tokens the task used
    #[argh(option)]
    pub(crate) tokens: Option<u64>,
    /// what it cost, as text (e.g. $0.08)
    #[argh(option, default = "String::new()")]
    pub(crate) cost: String,
    /// where the result is
    #[argh(option, default = "String::new()")]
    pub(crate) result: String,
}

#[derive(FromArgs, Debug)]
/// Put a working task back in the queue (WORKING → QUEUED), counting the retry.
#[argh(subcommand, name = "retry", help_triggers("-h", "--help"))]
pub(crate) struct Retry {
    /// the task: its ID, or a unique prefix or suffix
    #[argh(positional)]
    pub(crate) id: String,
    /// why, kept as RETRY_REASON
    #[argh(option, default = "String::new()")]
    pub(crate) reason: String,
}

#[derive(FromArgs, Debug)]
/// Ask for a revision of a done task (DONE → QUEUED), with feedback.
#[argh(subcommand, name = "revise", help_triggers("-h", "--help"))]
pub(crate) struct Revise {
    /// the task: its ID, or a unique prefix or suffix
    #[argh(positional)]
    pub(crate) id: String,
    /// what to change, kept as REVISION_FEEDBACK_N
    #[argh(option, default = "String::new()")]
    pub(crate) feedback: String,
}

#[derive(FromArgs, Debug)]
/// Accept a done task's result: DONE → ARCHIVED.
#[argh(subcommand, name = "accept", help_triggers("-h", "--help"))]
pub(crate) struct Accept {
    /// the task: its ID, or a unique prefix or suffix
    #[argh(positional)]
    pub(crate) id: String,
}

#[derive(FromArgs, Debug)]
/// Show the governor's figures for today: tokens used and reserved, active tasks.
#[argh(subcommand, name = "usage", help_triggers("-h", "--help"))]
pub(crate) struct Usage {
    /// one sender's figures instead
    #[argh(option)]
    pub(crate) actor: Option<String>,
    /// print JSON
    #[argh(switch)]
    pub(crate) json: bool,
    #[argh(subcommand)]
    pub(crate) explain: Option<Explain>,
}

#[derive(FromArgs, Debug)]
/// Say whether the governor would admit a task from ACTOR now, rule by rule, without
/// recording anything.
#[argh(subcommand, name = "explain", help_triggers("-h", "--help"))]
pub(crate) struct Explain {
    /// the sender
    #[argh(positional)]
    pub(crate) actor: String,
    /// estimated tokens of the task (default 0)
    #[argh(option, default = "0")]
    pub(crate) tokens: u64,
    /// estimated effort of the task (default 0)
    #[argh(option, default = "0")]
    pub(crate) effort: u64,
    /// print JSON
    #[argh(switch)]
    pub(crate) json: bool,
}

#[derive(FromArgs, Debug)]
/// List the space's contacts (contacts.yaml) and the trust tier each has (the settings'
/// override, else the one noted in contacts.yaml).
#[argh(subcommand, name = "contacts", help_triggers("-h", "--help"))]
pub(crate) struct Contacts {
    /// print JSON
    #[argh(switch)]
    pub(crate) json: bool,
}

#[derive(FromArgs, Debug)]
/// Create what is missing: the settings file (naming you, as owner) and the space (contacts,
/// inbox, outbox, your agent's task file). Nothing that exists is changed.
#[argh(subcommand, name = "init", help_triggers("-h", "--help"))]
pub(crate) struct Init {
    /// your name, the sender of your messages (default: $USER)
    #[argh(option)]
    pub(crate) name: Option<String>,
}

#[derive(FromArgs, Debug)]
/// Check the settings and every messaging file; exit 1 when something must be fixed.
#[argh(subcommand, name = "doctor", help_triggers("-h", "--help"))]
pub(crate) struct Doctor {
    /// print JSON
    #[argh(switch)]
    pub(crate) json: bool,
    /// apply the safe fixes (a missing header, undeclared keywords) and show each one
    #[argh(switch)]
    pub(crate) fix: bool,
}

#[derive(FromArgs, Debug)]
/// Move the v0.1.0 files (<space>/org/inboxes/: <you>.org, <you>-claude.org, USERS.yaml)
/// into inbox.org, agents/<you>-claude.org and contacts.yaml. The old files are moved to
/// <space>/org/migration-backup/v0.1.0-<date>/, never deleted; running it again changes
/// nothing.
#[argh(subcommand, name = "migrate", help_triggers("-h", "--help"))]
pub(crate) struct Migrate {
    /// print the plan and change nothing
    #[argh(switch)]
    pub(crate) dry_run: bool,
}

#[derive(FromArgs, Debug)]
/// Claude Code integration.
#[argh(subcommand, name = "hooks", help_triggers("-h", "--help"))]
pub(crate) struct Hooks {
    #[argh(subcommand)]
    pub(crate) command: HooksCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub(crate) enum HooksCommand {
    Install(Install),
}

#[derive(FromArgs, Debug)]
/// Register inbox-watcher in Claude Code's settings (UserPromptSubmit and SessionStart),
/// keeping everything else; a changed file is backed up first. Running it again changes
/// nothing.
#[argh(subcommand, name = "install", help_triggers("-h", "--help"))]
pub(crate) struct Install {
    /// the settings file (default: ~/.claude/settings.json)
    #[argh(option)]
    pub(crate) settings: Option<PathBuf>,
    /// the watcher to register (default: inbox-watcher next to this msg)
    #[argh(option)]
    pub(crate) command: Option<PathBuf>,
    /// show the result without writing
    #[argh(switch)]
    pub(crate) dry_run: bool,
}

#[derive(FromArgs, Debug)]
/// The connection to the relay.
#[argh(subcommand, name = "relay", help_triggers("-h", "--help"))]
pub(crate) struct Relay {
    #[argh(subcommand)]
    pub(crate) command: RelayCommand,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
pub(crate) enum RelayCommand {
    Connect(Connect),
}

#[derive(FromArgs, Debug)]
/// Connect to the relay (messaging.relay.url) as you and as each agent with a token
/// (messaging.relay.token, messaging.relay.agent_tokens): receive messages into inbox.org,
/// acknowledged once on disk; turn messages to an agent into its tasks; send what outbox.org
/// holds pending and record each delivery. Runs until Ctrl-C, reconnecting with backoff.
#[argh(subcommand, name = "connect", help_triggers("-h", "--help"))]
pub(crate) struct Connect {
    /// receive what is waiting, send what is pending, wait for the acks, and exit
    #[argh(switch)]
    pub(crate) once: bool,
    /// with --once: seconds to wait for the backlog and then for the acks (default 10)
    #[argh(option, default = "10")]
    pub(crate) timeout: u64,
}

#[derive(FromArgs, Debug)]
/// Turn unread messages addressed to your agents into tasks, through the governor; a
/// refused sender gets a reply saying why and when to retry. Safe to run any time, by any
/// number of processes: a message becomes at most one task.
#[argh(subcommand, name = "intake", help_triggers("-h", "--help"))]
pub(crate) struct Intake {
    /// print JSON
    #[argh(switch)]
    pub(crate) json: bool,
}

#[derive(FromArgs, Debug)]
/// Watch the whole system work on this machine: a relay, two people (alice and bob, each
/// with a root of their own) and bob's agent. alice sends bob a message and a task for his
/// agent; the governor admits it; the agent sees it, completes it and replies; alice gets
/// the result. Every org file is kept and its path printed. With --root DIR, the two roots
/// are DIR/alice and DIR/bob (DIR must be empty or new); else a new temporary directory.
#[argh(subcommand, name = "demo", help_triggers("-h", "--help"))]
pub(crate) struct Demo {}

/// `MarkAction` for the three message subcommands.
pub(crate) fn mark_action(command: &Command) -> Option<(MarkAction, &str)> {
    match command {
        Command::Read(args) => Some((MarkAction::Read, &args.id)),
        Command::Unread(args) => Some((MarkAction::Unread, &args.id)),
        Command::Archive(args) => Some((MarkAction::Archive, &args.id)),
        _ => None,
    }
}
