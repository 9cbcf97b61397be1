//! The ferroprom binary: parses flags, sets up logging and runs the server.

use std::io::IsTerminal;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let flags = ferroprom::flags::Flags::parse();
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "{},h2=warn,hyper=warn,reqwest=warn",
        flags.log_level.as_str()
    ));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    tracing::info!(version = env!("CARGO_PKG_VERSION"), "starting ferroprom");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ferroprom")
        .build()?;
    rt.block_on(ferroprom::server::run(flags))?;
    Ok(())
}
