//! `send-reply`: see `msg_hooks::send_reply_main`.

fn main() -> std::process::ExitCode {
    msg_hooks::send_reply_main()
}
