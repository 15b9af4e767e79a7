//! `colloquy`: see `gateway::cli`.

/// mimalloc instead of glibc's allocator: a GraphQL response is many small allocations built
/// and freed per request, and under the nested-read benchmark glibc's malloc/free took about a
/// third of the server's CPU; mimalloc cut CPU per request by 10-35% there and returns memory to
/// the system after load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    gateway::cli::main()
}
