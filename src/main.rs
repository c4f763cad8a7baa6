//! `async-patterns`: the one binary of every tool; see [`async_patterns::multicall`].

/// mimalloc, as ruff uses: parsing allocates a node at a time, and glibc's
/// malloc was a sixth of find_blocking_calls' time on real projects.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    async_patterns::multicall::main(std::env::args_os().collect())
}
