//! The `trailguard` command line.

fn main() -> std::process::ExitCode {
    trailguard::cli::main()
}
