//! Starting Codex in a new worktree without its "Trust this folder?" screen, and without losing
//! the user's own Codex configuration.
//!
//! Codex 0.169 asks before working in any directory its configuration does not list as trusted.
//! Only an inline-table override of the whole `projects` table works (`-c 'projects={"<path>" =
//! {trust_level = "trusted"}}'`; the dotted form is ignored), and it replaces the user's own
//! table for that process. So the user's `projects` entries are read from their config and kept
//! in the override, with the worktree added.

use std::path::{Path, PathBuf};

/// The `config.toml` Codex reads: `$CODEX_HOME/config.toml`, else `~/.codex/config.toml`.
fn codex_config_file() -> Option<PathBuf> {
    match std::env::var_os("CODEX_HOME").filter(|v| !v.is_empty()) {
        Some(home) => Some(PathBuf::from(home).join("config.toml")),
        None => std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".codex/config.toml")),
    }
}

/// `-c projects={…}` trusting `dir` (its real path, as Codex compares) besides every project the
/// user's own configuration lists. A configuration that cannot be read or parsed contributes
/// nothing (Codex will say what is wrong with it itself).
pub(super) fn codex_trust_args(dir: &Path) -> Vec<String> {
    let user_projects = codex_config_file()
        .and_then(|file| std::fs::read_to_string(file).ok())
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|mut config| config.remove("projects"))
        .and_then(|projects| match projects {
            toml::Value::Table(table) => Some(table),
            _ => None,
        })
        .unwrap_or_default();
    trust_override(user_projects, dir)
}

fn trust_override(mut projects: toml::Table, dir: &Path) -> Vec<String> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut trusted = toml::Table::new();
    trusted.insert("trust_level".into(), toml::Value::String("trusted".into()));
    projects.insert(dir.display().to_string(), toml::Value::Table(trusted));
    vec![
        "-c".to_string(),
        format!("projects={}", toml::Value::Table(projects)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_override_keeps_the_users_projects_and_adds_the_worktree() {
        let user: toml::Table = r#"
            [projects."/home/u/own"]
            trust_level = "trusted"
            [projects."/home/u/untrusted"]
            trust_level = "untrusted"
        "#
        .parse::<toml::Table>()
        .unwrap()["projects"]
            .as_table()
            .unwrap()
            .clone();
        let args = trust_override(user, Path::new("/nonexistent/wt \"1\""));
        assert_eq!(args[0], "-c");
        let value = args[1].strip_prefix("projects=").unwrap();
        // One line, an inline table (the only form Codex applies), that reads back exactly.
        assert!(!value.contains('\n'), "{value}");
        let parsed: toml::Table = format!("projects = {value}").parse().unwrap();
        let projects = parsed["projects"].as_table().unwrap();
        assert_eq!(
            projects["/home/u/own"]["trust_level"].as_str(),
            Some("trusted")
        );
        assert_eq!(
            projects["/home/u/untrusted"]["trust_level"].as_str(),
            Some("untrusted")
        );
        assert_eq!(
            projects["/nonexistent/wt \"1\""]["trust_level"].as_str(),
            Some("trusted")
        );
    }
}
