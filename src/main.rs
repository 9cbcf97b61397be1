//! The ferroprom binary: parses flags, sets up logging and runs the server,
//! or one of the command-line tools (`ferroprom tsdb import ...`,
//! `ferroprom check config|rules ...`, `ferroprom test rules ...`).

use std::io::IsTerminal;

use anyhow::Context;
use ferroprom::flags::{CheckCommand, Command, ImportCommand, LogFormat, TestCommand, TsdbCommand};

/// Charges each query's allocations to its `--query.max-memory` budget.
#[global_allocator]
static ALLOCATOR: ferroprom::alloc::Counting = ferroprom::alloc::Counting;

/// jemalloc's options, read when it starts (before `main`): one arena per
/// CPU instead of one per thread (four per CPU by default). A query's pages
/// are freed into the arena of the CPU its threads ran on, and the next
/// query, whichever thread of the pool runs it, takes them from there
/// again instead of faulting in new ones while the old wait out their
/// decay in an arena no running thread uses; with eight arenas on two
/// cores, back-to-back dashboard queries kept ~100 MiB of such pages
/// (issue 17, peak RSS). The decay policy of `alloc::tune` is repeated
/// here so it holds from the first allocation on.
#[export_name = "_rjem_malloc_conf"]
static MALLOC_CONF: ferroprom::alloc::Conf = ferroprom::alloc::Conf::new(
    b"percpu_arena:percpu,background_thread:true,dirty_decay_ms:2000,muzzy_decay_ms:0\0",
);

fn main() -> anyhow::Result<()> {
    ferroprom::alloc::tune();
    let flags = ferroprom::flags::Flags::from_command_line(std::env::args_os())
        .unwrap_or_else(|e| e.exit());
    // Before logging is set up: rule evaluation logs nothing while testing,
    // as promtool's.
    if let Some(Command::Test(TestCommand::Rules(args))) = &flags.command {
        let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
        let status = ferroprom::tools::test_rules::rules(args, &mut out, &mut err)?;
        drop((out, err));
        std::process::exit(status);
    }
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "{},h2=warn,hyper=warn,reqwest=warn",
        flags.log_level.as_str()
    ));
    let logger = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match flags.log_format {
        LogFormat::Json => logger.json().init(),
        LogFormat::Logfmt => logger.with_ansi(std::io::stderr().is_terminal()).init(),
    }
    if let Some(Command::Tsdb(TsdbCommand::Import(ImportCommand::Openmetrics { file, data_dir }))) =
        &flags.command
    {
        let summary = ferroprom::import::import_file(file, data_dir, &mut std::io::stderr())
            .with_context(|| format!("importing {}", file.display()))?;
        eprintln!("{summary}");
        for b in &summary.blocks {
            eprintln!(
                "block {}: {} samples, {} series, [{}, {})",
                b.ulid, b.stats.num_samples, b.stats.num_series, b.min_time, b.max_time
            );
        }
        return Ok(());
    }
    if let Some(Command::Check(check)) = &flags.command {
        let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
        let status = match check {
            CheckCommand::Config {
                syntax_only,
                lint,
                files,
            } => ferroprom::tools::check::config(files, *syntax_only, lint, &mut out, &mut err)?,
            CheckCommand::Rules { lint, files } => {
                ferroprom::tools::check::rules(files, lint, &mut out, &mut err)?
            }
        };
        drop((out, err));
        std::process::exit(status);
    }
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting ferroprom");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ferroprom")
        .build()?;
    rt.block_on(ferroprom::server::run(flags))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// jemalloc found the options string (a misnamed symbol is silently
    /// ignored) and took every option of it.
    #[test]
    fn jemalloc_reads_the_options() {
        use tikv_jemalloc_ctl::raw;
        // SAFETY: NUL-terminated controls of the types read.
        unsafe {
            assert_eq!(raw::read_str(b"opt.percpu_arena\0").unwrap(), b"percpu\0");
            assert_eq!(
                raw::read::<isize>(b"opt.dirty_decay_ms\0").unwrap(),
                ferroprom::alloc::DIRTY_DECAY_MS
            );
            assert_eq!(raw::read::<isize>(b"opt.muzzy_decay_ms\0").unwrap(), 0);
            assert!(raw::read::<bool>(b"opt.background_thread\0").unwrap());
        }
    }
}
