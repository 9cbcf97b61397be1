//! The ferroprom server binary. The scrape manager, config and HTTP API arrive
//! with issue 4; until then the binary only reports its version.

fn main() -> anyhow::Result<()> {
    println!("ferroprom {}", env!("CARGO_PKG_VERSION"));
    Ok(())
}
