//! Locating the built site (wasm, js, css, xterm assets) without cargo-leptos' environment.

use std::path::{Path, PathBuf};

/// The site root: `LEPTOS_SITE_ROOT` when set (cargo-leptos sets it), else `site/` next to the
/// binary's target directory (`target/release/../site`), else `site/` beside the binary.
pub fn locate_site_root() -> Result<PathBuf, String> {
    if let Some(root) = std::env::var_os("LEPTOS_SITE_ROOT").filter(|v| !v.is_empty()) {
        let root = PathBuf::from(root);
        return if has_bundle(&root) {
            Ok(root)
        } else {
            Err(format!(
                "LEPTOS_SITE_ROOT={} holds no pkg/ bundle",
                root.display()
            ))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))?;
    let exe_dir = exe.parent().unwrap_or(Path::new("."));
    let candidates = [
        exe_dir.join("../site"),
        exe_dir.join("../../site"),
        exe_dir.join("site"),
    ];
    candidates
        .iter()
        .find(|root| has_bundle(root))
        .map(|root| root.canonicalize().unwrap_or_else(|_| root.clone()))
        .ok_or_else(|| {
            format!(
                "site assets not found (looked in {}); build them with scripts/run.sh or \
                 `cargo xtask build --release`",
                candidates
                    .iter()
                    .map(|c| c.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

fn has_bundle(root: &Path) -> bool {
    root.join("pkg").is_dir()
}
