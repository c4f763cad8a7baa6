//! `async-patterns`: the one binary of every tool; see [`async_patterns::multicall`].

fn main() -> std::process::ExitCode {
    async_patterns::multicall::main(std::env::args_os().collect())
}
