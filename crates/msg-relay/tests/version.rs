//! `msg-relay --version` (issue 19: every binary of the project has it).

use std::process::Command;

#[test]
fn the_relay_prints_its_version() {
    for flag in ["--version", "-V"] {
        let output = Command::new(env!("CARGO_BIN_EXE_msg-relay"))
            .arg(flag)
            .output()
            .unwrap();
        assert!(output.status.success());
        assert_eq!(
            String::from_utf8(output.stdout).unwrap(),
            format!("msg-relay {}\n", env!("CARGO_PKG_VERSION"))
        );
    }
}
