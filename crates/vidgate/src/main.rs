//! `vidgate`: see `vidgate --help`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    vidgate::cli::run(vidgate::cli::Cli::parse())
}
