//! `healthcode`: the one binary. `serve` runs the production server, `demo` a self-contained
//! county on embedded SQLite. Later commands (verify, keys, import, rules, trace, simulate,
//! bench, audit, sunset) join here as their issues land.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// mimalloc instead of glibc's malloc: bulk paths allocate and free millions of small records
/// per batch, where glibc spent a fifth of the CPU time consolidating chunks
/// (`docs/benchmarks.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// SQLite allocates through glibc's malloc (mimalloc serves Rust only). By default glibc hands
/// freed memory at the top of a heap back to the kernel once 128 KiB are free, so the page
/// cache of every bulk write (up to a GiB, freed when its connection closes) and the reader
/// caches came back as fresh pages the kernel zeroed one by one: a quarter of the CPU time of
/// recoloring a city of a million people went to page faults (`docs/benchmarks.md`). Keeping up to 1 GiB freed for reuse,
/// and serving blocks up to glibc's largest threshold from the heap rather than from `mmap`,
/// ends that; the cost is memory held after a bulk write, at most what it used.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only sets malloc's tunables; called first thing, before any thread.
    unsafe {
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
}

mod bench;
mod bench_recolor;
mod bench_tracing;
mod config;
mod demo;
mod foreign;
mod import;
mod keys;
mod rules;
mod serve;
mod store;
mod trace;
mod verify;

#[derive(Parser)]
#[command(name = "healthcode", version, about = "An open, self-hostable health code platform (健康码)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server: HEALTHCODE_DATABASE_URL = sqlite://… or postgres://…, HEALTHCODE_LISTEN = address.
    Serve {
        /// A TOML config file; environment variables override it.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Run the benchmark suite and print one table of figures, goals and ratios.
    Bench(bench::BenchArgs),
    /// Issuer signing keys: generate, rotate, list, and the signed trust list.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Import bulk facts (CSV or NDJSON) into the configured database; exit 1 if rows were rejected.
    Import(import::ImportArgs),
    /// Check a rule set, or run its examples.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// Contact tracing for a reported case: close and secondary contacts with evidence, written as exposures.
    Trace(trace::TraceArgs),
    /// Verify one credential offline (ours, EU DCC or SMART Health Card); exit 0 valid, 1 invalid.
    Verify(verify::VerifyArgs),
    /// Start a server on embedded SQLite with a small simulated city, and print the URL and logins.
    Demo {
        /// Port to listen on (0 picks a free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Data folder (default: a fresh folder under the system's temporary directory).
        #[arg(long)]
        data: Option<PathBuf>,
        /// How many people the simulated city has.
        #[arg(long, default_value_t = 200)]
        people: usize,
    },
}

fn main() -> Result<()> {
    keep_freed_memory();
    let cli = Cli::parse();
    match cli.command {
        Command::Keys(cmd) => return keys::run(cmd),
        Command::Rules(cmd) => {
            let ok = rules::run(cmd)?;
            std::process::exit(if ok { 0 } else { 1 });
        }
        Command::Bench(args) => {
            let ok = bench::run(args)?;
            std::process::exit(if ok { 0 } else { 1 });
        }
        Command::Verify(args) => {
            let valid = verify::run(args)?;
            std::process::exit(if valid { 0 } else { 1 });
        }
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        match cli.command {
            Command::Serve { config } => {
                let cfg = config::Config::load(config.as_deref())?;
                config::init_logging(&cfg.log);
                serve::serve(cfg).await
            }
            Command::Demo { port, data, people } => {
                config::init_logging("info");
                demo::demo(SocketAddr::from(([127, 0, 0, 1], port)), data, people).await
            }
            Command::Import(args) => {
                config::init_logging("warn");
                let clean = import::run(args).await?;
                std::process::exit(if clean { 0 } else { 1 });
            }
            Command::Trace(args) => {
                config::init_logging("warn");
                let found = trace::run(args).await?;
                std::process::exit(if found { 0 } else { 1 });
            }
            Command::Keys(_) | Command::Verify(_) | Command::Bench(_) | Command::Rules(_) => {
                unreachable!("handled before the runtime starts")
            }
        }
    })
}
