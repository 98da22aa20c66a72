//! `vidgate`: see `vidgate --help`.

use clap::Parser;

/// mimalloc instead of glibc's malloc: a request's buffers are often freed on another worker
/// thread than the one that allocated them, and glibc then takes the other thread's arena
/// lock; under load that contention was a futex call on most requests (measured with
/// `perf stat`, see the README's benchmark section). mimalloc frees across threads without one.
/// Built with `no_thp`: with transparent huge pages its arenas kept ~14 MB more resident when
/// idle.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    vidgate::cli::run(vidgate::cli::Cli::parse())
}
