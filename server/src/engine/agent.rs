//! Agent profiles: which CLI a session runs, as a command template.

use std::path::{Path, PathBuf};

/// A named command template with `{model}`, `{repo}`, `{prompt}`, `{prompt_file}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentProfile {
    pub name: String,
    pub template: Vec<String>,
}

impl AgentProfile {
    pub fn builtin(name: &str) -> Option<AgentProfile> {
        let template: &[&str] = match name {
            "codex" => &["codex", "-m", "{model}", "--cd", "{repo}", "{prompt}"],
            "claude" => &["claude", "--model", "{model}", "{prompt}"],
            "demo" => &["{self}", "demo-agent"],
            _ => return None,
        };
        Some(AgentProfile {
            name: name.to_string(),
            template: template.iter().map(|s| s.to_string()).collect(),
        })
    }

    /// The configured profile, or `codex` when it is on PATH, else the built-in demo agent.
    pub fn select(requested: Option<&str>) -> Result<AgentProfile, String> {
        match requested.map(str::trim).filter(|s| !s.is_empty()) {
            Some(name) => AgentProfile::builtin(name).ok_or_else(|| {
                format!("unknown agent profile {name:?} (known: codex, claude, demo)")
            }),
            None if find_on_path("codex").is_some() => Ok(AgentProfile::builtin("codex").unwrap()),
            None => Ok(AgentProfile::builtin("demo").unwrap()),
        }
    }

    /// The program the template starts (`{self}` is this binary).
    pub fn program(&self) -> &str {
        &self.template[0]
    }

    /// Whether the program can be started on this machine.
    pub fn available(&self) -> bool {
        self.program() == "{self}" || find_on_path(self.program()).is_some()
    }

    /// The template as one display line.
    pub fn command_line(&self) -> String {
        self.template.join(" ")
    }
}

/// Looks a program up on PATH the way a shell would (absolute paths are checked as they are).
pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let candidate = Path::new(program);
    if candidate.components().count() > 1 {
        return is_executable(candidate).then(|| candidate.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(program))
        .find(|path| is_executable(path))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_profiles_and_a_clear_error_for_others() {
        assert_eq!(AgentProfile::select(Some("demo")).unwrap().name, "demo");
        assert!(AgentProfile::select(Some("demo")).unwrap().available());
        let err = AgentProfile::select(Some("gpt-cli")).unwrap_err();
        assert!(err.contains("gpt-cli"), "{err}");
    }

    #[test]
    fn finds_programs_on_path() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("surely-not-a-real-program-4711").is_none());
    }
}
