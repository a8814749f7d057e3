//! `msg`: the person's command (see `msg_hooks::msg_main`).

fn main() -> std::process::ExitCode {
    msg_hooks::msg_main()
}
