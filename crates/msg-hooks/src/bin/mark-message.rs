//! `mark-message`: see `msg_hooks::mark_message_main`.

fn main() -> std::process::ExitCode {
    msg_hooks::mark_message_main()
}
