//! Stops `cargo leptos build --release` at once when it would fail later: cargo-leptos downloads
//! its own wasm-opt from GitHub unless one is on PATH, which offline fails only after the whole
//! wasm was built. This project builds with `cargo xtask build --release` instead.

use std::path::PathBuf;

fn main() {
    // cargo-leptos sets LEPTOS_SITE_ROOT for the builds it runs; `cargo xtask` does not.
    println!("cargo:rerun-if-env-changed=LEPTOS_SITE_ROOT");
    println!("cargo:rerun-if-env-changed=PATH");
    let by_cargo_leptos = std::env::var_os("LEPTOS_SITE_ROOT").is_some();
    let optimised = std::env::var("OPT_LEVEL").is_ok_and(|level| level != "0");
    if by_cargo_leptos && optimised && !wasm_opt_available() {
        println!(
            "cargo::error=cargo-leptos would download wasm-opt (offline it cannot): run `cargo xtask build --release` (or scripts/run.sh) instead"
        );
    }
}

/// wasm-opt on PATH, or in cargo-leptos' own download cache.
fn wasm_opt_available() -> bool {
    let on_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("wasm-opt").is_file()));
    let cached = std::env::var_os("HOME")
        .map(|home| PathBuf::from(home).join(".cache/cargo-leptos"))
        .and_then(|cache| std::fs::read_dir(cache).ok())
        .is_some_and(|mut entries| {
            entries
                .any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with("wasm-opt")))
        });
    on_path || cached
}
