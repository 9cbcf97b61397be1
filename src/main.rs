//! The ferroprom binary: parses flags, sets up logging and runs the server,
//! or one of the command-line tools (`ferroprom tsdb import ...`,
//! `ferroprom check config|rules ...`, `ferroprom test rules ...`).

use std::io::IsTerminal;

use anyhow::Context;
use ferroprom::flags::{CheckCommand, Command, ImportCommand, LogFormat, TestCommand, TsdbCommand};

/// Charges each query's allocations to its `--query.max-memory` budget.
#[global_allocator]
static ALLOCATOR: ferroprom::alloc::Counting = ferroprom::alloc::Counting;

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
