//! The dashboard's site in `target/site`, as the server serves it: `pkg/` (the wasm, its JS glue
//! and the CSS) and the public assets, each file with a gzip and a brotli copy beside it.

use std::collections::hash_map::DefaultHasher;
use std::fs;
use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::run;

/// The file names the server's HTML shell asks for (`LEPTOS_OUTPUT_NAME` in .cargo/config.toml).
const OUTPUT_NAME: &str = "codex-governance";

/// Builds the site; returns its directory.
pub fn build(root: &Path, release: bool) -> Result<PathBuf> {
    let site = root.join("target/site");
    let pkg = site.join("pkg");
    fs::create_dir_all(&pkg).with_context(|| format!("cannot create {}", pkg.display()))?;
    let wasm = compile_wasm(root, release)?;
    bind_and_optimise(root, &wasm, &site, release)?;
    copy_if_changed(
        &root.join("style/main.css"),
        &pkg.join(format!("{OUTPUT_NAME}.css")),
    )?;
    copy_tree(&root.join("public"), &site)?;
    precompress(&site)?;
    Ok(site)
}

/// `frontend` for wasm32 (the same target directory cargo-leptos uses, so builds share it).
fn compile_wasm(root: &Path, release: bool) -> Result<PathBuf> {
    let profile = if release { "wasm-release" } else { "dev" };
    run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(root)
            .args([
                "build",
                "--package=frontend",
                "--lib",
                "--target=wasm32-unknown-unknown",
                "--no-default-features",
                "--target-dir=target/front",
            ])
            .arg(format!("--profile={profile}")),
    )?;
    let dir = if release { "wasm-release" } else { "debug" };
    Ok(root.join(format!(
        "target/front/wasm32-unknown-unknown/{dir}/frontend.wasm"
    )))
}

/// wasm-bindgen, then (release) wasm-opt; skipped when this very wasm was processed last time.
fn bind_and_optimise(root: &Path, wasm: &Path, site: &Path, release: bool) -> Result<()> {
    let pkg = site.join("pkg");
    let output = pkg.join(format!("{OUTPUT_NAME}.wasm"));
    let bytes = fs::read(wasm).with_context(|| format!("cannot read {}", wasm.display()))?;
    let stamp_path = site.join(".wasm-stamp");
    let stamp = format!("{:016x} release={release}", content_hash(&bytes));
    if output.exists() && fs::read_to_string(&stamp_path).ok().as_deref() == Some(&stamp) {
        return Ok(());
    }
    run(Command::new(tool(root, "wasm-bindgen")?)
        .arg("--target=web")
        .arg(format!("--out-name={OUTPUT_NAME}"))
        .arg(format!("--out-dir={}", pkg.display()))
        .arg(wasm))?;
    // The name the HTML shell asks for (as cargo-leptos renames it).
    fs::rename(pkg.join(format!("{OUTPUT_NAME}_bg.wasm")), &output)?;
    if release {
        run(Command::new(tool(root, "wasm-opt")?)
            .args([
                "-Oz",
                "--enable-bulk-memory",
                "--enable-nontrapping-float-to-int",
            ])
            .arg(&output)
            .arg("-o")
            .arg(&output))?;
    }
    fs::write(&stamp_path, stamp)?;
    Ok(())
}

/// A build tool: the repository's pinned npm copy first (wasm-opt from binaryen), then `PATH`.
fn tool(root: &Path, name: &str) -> Result<PathBuf> {
    let pinned = root.join("tools/node_modules/.bin").join(name);
    if pinned.is_file() {
        return Ok(pinned);
    }
    let found = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    match found {
        Some(path) => Ok(path),
        None => bail!("{name} is not installed: run scripts/setup.sh"),
    }
}

fn content_hash(bytes: &[u8]) -> u64 {
    let mut hasher = DefaultHasher::new();
    hasher.write(bytes);
    hasher.finish()
}

fn copy_if_changed(from: &Path, to: &Path) -> Result<()> {
    let new = fs::read(from).with_context(|| format!("cannot read {}", from.display()))?;
    if fs::read(to).ok().as_deref() != Some(&new[..]) {
        fs::write(to, new).with_context(|| format!("cannot write {}", to.display()))?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target)?;
        } else {
            copy_if_changed(&entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Files the server sends compressed when the browser accepts it; the rest go as they are.
fn is_served(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !name.starts_with('.')
        && !name.ends_with(".gz")
        && !name.ends_with(".br")
        && !name.ends_with(".d.ts")
}

/// Writes `X.gz` (gzip -9) and `X.br` (brotli 11) beside each served file they are older than.
fn precompress(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            precompress(&path)?;
            continue;
        }
        if !is_served(&path) {
            continue;
        }
        let modified = fs::metadata(&path)?.modified()?;
        let fresh = |suffix: &str| {
            fs::metadata(sibling(&path, suffix))
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= modified)
        };
        if fresh("gz") && fresh("br") {
            continue;
        }
        let bytes = fs::read(&path)?;
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gzip.write_all(&bytes)?;
        fs::write(sibling(&path, "gz"), gzip.finish()?)?;
        let mut brotli = Vec::new();
        let params = brotli::enc::BrotliEncoderParams {
            quality: 11,
            ..Default::default()
        };
        brotli::BrotliCompress(&mut &bytes[..], &mut brotli, &params)?;
        fs::write(sibling(&path, "br"), brotli)?;
    }
    Ok(())
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}
