//! Builds the dashboard's site and the server without cargo-leptos (README, Toolchain):
//!
//! ```text
//! cargo xtask site [--release]    target/site: the wasm (cargo, wasm-bindgen, wasm-opt), JS, CSS,
//!                                 public assets, each with .gz and .br beside it
//! cargo xtask build [--release]   the site, then the server binary; a release binary embeds the
//!                                 site and runs from any directory
//! ```
//!
//! Steps whose inputs did not change are skipped, so a second build with nothing changed takes
//! about as long as cargo's own no-op check.

mod site;

use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

/// The workspace root (this crate's parent directory).
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

/// Runs a command, failing with its name when it does not succeed.
fn run(command: &mut Command) -> Result<()> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}

fn usage() -> ! {
    eprintln!("usage: cargo xtask site|build [--release]");
    std::process::exit(2);
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let release = args.iter().any(|a| a == "--release");
    if args.iter().any(|a| a.starts_with('-') && a != "--release") {
        usage();
    }
    match args
        .iter()
        .find(|a| !a.starts_with('-'))
        .map(String::as_str)
    {
        Some("site") => site::build(&root(), release).map(|_| ()),
        Some("build") => {
            let site = site::build(&root(), release)?;
            build_server(&root(), release, &site)
        }
        _ => usage(),
    }
}

/// The server binary; a release build embeds the site (`server/build.rs` reads
/// `CODEX_GOVERNANCE_EMBED_SITE`).
fn build_server(root: &std::path::Path, release: bool, site: &std::path::Path) -> Result<()> {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(root)
        .args(["build", "--package=server", "--bin=codex-governance"]);
    if release {
        cargo
            .arg("--release")
            .env("CODEX_GOVERNANCE_EMBED_SITE", site);
    } else {
        cargo.env_remove("CODEX_GOVERNANCE_EMBED_SITE");
    }
    run(&mut cargo)
}
