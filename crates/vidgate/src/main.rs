//! `vidgate`: see `vidgate --help`.

use clap::Parser;

/// mimalloc instead of glibc's malloc: a request's buffers are often freed on another worker
/// thread than the one that allocated them, and glibc then takes the other thread's arena
/// lock, a futex call under load (the README's benchmark section has the figures); mimalloc
/// frees across threads without one. Built with `no_thp`, so idle arenas are not kept
/// resident as transparent huge pages.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    vidgate::cli::run(vidgate::cli::Cli::parse())
}
