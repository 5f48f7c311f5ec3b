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

    /// A user-defined profile from a shell-quoted command template.
    pub fn custom(template: &str) -> Result<AgentProfile, String> {
        let template =
            shell_words::split(template).map_err(|e| format!("agent command template: {e}"))?;
        if template.is_empty() {
            return Err("agent command template is empty".into());
        }
        Ok(AgentProfile {
            name: "custom".into(),
            template,
        })
    }

    /// The requested profile; by default the custom template when one is configured, else
    /// `codex` when it is on PATH, else the built-in demo agent.
    pub fn select(requested: Option<&str>, custom: Option<&str>) -> Result<AgentProfile, String> {
        let custom = custom.map(str::trim).filter(|s| !s.is_empty());
        match (requested.map(str::trim).filter(|s| !s.is_empty()), custom) {
            (Some("custom") | None, Some(template)) => AgentProfile::custom(template),
            (Some("custom"), None) => Err("agent profile `custom` needs --agent-command".into()),
            (Some(name), _) => AgentProfile::builtin(name).ok_or_else(|| {
                format!("unknown agent profile {name:?} (known: codex, claude, demo, custom)")
            }),
            (None, None) if find_on_path("codex").is_some() => {
                Ok(AgentProfile::builtin("codex").unwrap())
            }
            (None, None) => Ok(AgentProfile::builtin("demo").unwrap()),
        }
    }

    /// Program and arguments with the placeholders filled in.
    pub fn command(&self, values: &CommandValues) -> (String, Vec<String>) {
        let fill = |token: &String| {
            token
                .replace("{self}", &values.self_exe)
                .replace("{model}", values.model)
                .replace("{repo}", values.repo)
                .replace("{prompt_file}", values.prompt_file)
                .replace("{prompt}", values.prompt)
        };
        let mut filled = self.template.iter().map(fill);
        let program = filled.next().unwrap_or_default();
        (program, filled.collect())
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

/// Values for the template placeholders.
pub struct CommandValues<'a> {
    pub model: &'a str,
    pub repo: &'a str,
    pub prompt: &'a str,
    pub prompt_file: &'a str,
    pub self_exe: String,
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
        assert_eq!(
            AgentProfile::select(Some("demo"), None).unwrap().name,
            "demo"
        );
        assert!(AgentProfile::select(Some("demo"), None)
            .unwrap()
            .available());
        let err = AgentProfile::select(Some("gpt-cli"), None).unwrap_err();
        assert!(err.contains("gpt-cli"), "{err}");
        assert_eq!(
            AgentProfile::select(None, Some("sh x.sh")).unwrap().name,
            "custom"
        );
        assert!(AgentProfile::select(Some("custom"), None).is_err());
    }

    #[test]
    fn placeholders_are_filled_per_token() {
        let profile =
            AgentProfile::custom("agent --model {model} --file={prompt_file} '{prompt}'").unwrap();
        let (program, args) = profile.command(&CommandValues {
            model: "m1",
            repo: "/r",
            prompt: "do it; now",
            prompt_file: "/p.txt",
            self_exe: "/bin/self".into(),
        });
        assert_eq!(program, "agent");
        assert_eq!(args, ["--model", "m1", "--file=/p.txt", "do it; now"]);
    }

    #[test]
    fn finds_programs_on_path() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("surely-not-a-real-program-4711").is_none());
    }
}
