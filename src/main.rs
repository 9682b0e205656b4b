fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(xexit::main_with_args(std::env::args_os().collect()))
}
