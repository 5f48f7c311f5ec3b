//! Records the commit the binary is built from, for `codex-governance --version`, and embeds the
//! dashboard's site when `CODEX_GOVERNANCE_EMBED_SITE` names it (`cargo xtask build --release`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    // A source tree outside Git (a crate download, an archive) says so instead of failing.
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CODEX_GOVERNANCE_COMMIT={commit}");
    // Rebuilt when HEAD moves: a checkout, or a commit on the current branch.
    let mut watched = vec!["HEAD".to_string()];
    watched.extend(git(&["symbolic-ref", "-q", "HEAD"]));
    watched.push("packed-refs".into());
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--path-format=absolute", "--git-path", &name]) {
            if std::path::Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
    embed_site();
}

/// Writes `$OUT_DIR/embedded_site.rs`: every served file of the site with its `.gz` and `.br`
/// copies (`include_bytes!`), or no file at all.
fn embed_site() {
    println!("cargo:rerun-if-env-changed=CODEX_GOVERNANCE_EMBED_SITE");
    let mut files = Vec::new();
    if let Some(site) = std::env::var_os("CODEX_GOVERNANCE_EMBED_SITE").filter(|v| !v.is_empty()) {
        let site = PathBuf::from(site);
        assert!(
            site.join("pkg").is_dir(),
            "CODEX_GOVERNANCE_EMBED_SITE={} holds no pkg/: build the site first (cargo xtask site --release)",
            site.display()
        );
        collect(&site, &site, &mut files);
    }
    files.sort();
    let mut code = String::from("pub static FILES: &[EmbeddedFile] = &[\n");
    for (path, file) in &files {
        let copy = |suffix: &str| {
            let sibling = PathBuf::from(format!("{}.{suffix}", file.display()));
            if sibling.is_file() {
                println!("cargo:rerun-if-changed={}", sibling.display());
                format!("Some(include_bytes!({:?}))", sibling.display().to_string())
            } else {
                "None".to_string()
            }
        };
        println!("cargo:rerun-if-changed={}", file.display());
        let _ = writeln!(
            code,
            "    EmbeddedFile {{ path: {path:?}, bytes: include_bytes!({:?}), gzip: {}, brotli: {} }},",
            file.display().to_string(),
            copy("gz"),
            copy("br"),
        );
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("embedded_site.rs"), code).expect("OUT_DIR is writable");
}

/// The served files under `dir` as (URL path, file): not the compressed copies, type
/// declarations or hidden files.
fn collect(site: &Path, dir: &Path, into: &mut Vec<(String, PathBuf)>) {
    println!("cargo:rerun-if-changed={}", dir.display());
    for entry in std::fs::read_dir(dir).expect("the site is readable") {
        let path = entry.expect("the site is readable").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if path.is_dir() {
            collect(site, &path, into);
        } else if !name.starts_with('.')
            && !name.ends_with(".gz")
            && !name.ends_with(".br")
            && !name.ends_with(".d.ts")
        {
            let relative = path.strip_prefix(site).expect("under the site");
            into.push((format!("/{}", relative.display()), path));
        }
    }
}
