//! `task-queue`: see `msg_hooks::task_queue_main`.

fn main() -> std::process::ExitCode {
    msg_hooks::task_queue_main()
}
