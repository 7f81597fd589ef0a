use clap::Parser;

fn main() -> std::process::ExitCode {
    anshang::cli::run(anshang::cli::Cli::parse())
}
