//! `inbox-watcher`: see `msg_hooks::inbox_watcher_main`.

fn main() -> std::process::ExitCode {
    msg_hooks::inbox_watcher_main()
}
