//! `patroni-control start|stop MEMBER_DIRECTORY`: how the tests' cluster restores start and
//! stop a harness member's Patroni (see `pitr_tests::ha::control`).

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let status = pitr_tests::ha::control::control_main(&args);
    std::process::ExitCode::from(u8::try_from(status).unwrap_or(1))
}
