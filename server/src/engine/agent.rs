//! Agent profiles: which CLI a session runs (a command template), how a typed line is submitted
//! to it, and which of its optional flags the installed version supports.

use crate::sync::LockOrRecover;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use crate::pty::InputPart;

/// How long a composer-style agent waits between a line's text and its Enter. Measured with
/// Codex 0.169: raw text and Enter 0–10 ms apart are taken as one paste and stay unsent, the
/// pause needed grows with the length (300 ms at 1,000 characters) and raw text over 1,024 bytes
/// never submits; a bracketed paste followed by Enter submits at any length, even 0 ms apart.
/// The pause is a margin for other composers.
const ENTER_PAUSE: Duration = Duration::from_millis(60);

/// How typed input is submitted to an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typing {
    /// `text` and `\r` in one write (shells, line-reading programs, the demo agent).
    Line,
    /// A TUI composer (Codex, Claude Code): the text as a bracketed paste, then Enter as its own
    /// write after [`ENTER_PAUSE`].
    Composer,
}

impl Typing {
    /// The writes that type and submit `text`.
    pub fn parts(self, text: &str) -> Vec<InputPart> {
        match self {
            Typing::Line => vec![InputPart::Bytes(format!("{text}\r").into_bytes())],
            Typing::Composer => {
                // The paste end marker must not appear inside the paste.
                let text = text.replace("\x1b[201~", "");
                vec![
                    InputPart::Bytes(format!("\x1b[200~{text}\x1b[201~").into_bytes()),
                    InputPart::Pause(ENTER_PAUSE),
                    InputPart::Bytes(b"\r".to_vec()),
                ]
            }
        }
    }
}

/// A flag of a built-in template that older versions of the agent lack: left out (with a
/// warning) when the installed program's `--help` does not list it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct OptionalFlag {
    flag: &'static str,
    /// Whether the template token after the flag is its value.
    takes_value: bool,
    missing: &'static str,
}

/// A named command template with `{model}`, `{repo}`, `{prompt}`, `{prompt_file}`, `{mailbox}`
/// and `{mailbox_json}` (the mailbox as a JSON string) placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentProfile {
    pub name: String,
    pub template: Vec<String>,
    pub typing: Typing,
    /// Whether the agent announces its state on its terminal (Codex: OSC 7501).
    pub announces_state: bool,
    optional: Vec<OptionalFlag>,
    /// What the launcher had to leave out or change for the installed agent.
    pub warnings: Vec<String>,
}

impl AgentProfile {
    pub fn builtin(name: &str) -> Option<AgentProfile> {
        let (template, typing, announces_state, optional): (&[&str], _, _, Vec<OptionalFlag>) =
            match name {
                // --no-daemon: Codex's shared background server runs every session's tool
                // commands with the environment of whichever session started it.
                // --add-dir: the mailbox stays writable under the workspace-write sandbox.
                "codex" => (
                    &[
                        "codex",
                        "--no-daemon",
                        "--add-dir",
                        "{mailbox}",
                        "-m",
                        "{model}",
                        "--cd",
                        "{repo}",
                        "{prompt}",
                    ],
                    Typing::Composer,
                    true,
                    vec![
                        OptionalFlag {
                            flag: "--no-daemon",
                            takes_value: false,
                            missing: "this codex has no --no-daemon (added in 0.169): its shared \
                                      background server may run sessions' commands with another \
                                      session's environment; upgrade @openai/codex",
                        },
                        OptionalFlag {
                            flag: "--add-dir",
                            takes_value: true,
                            missing: "this codex has no --add-dir: under the workspace-write \
                                      sandbox agents cannot write their mailbox report",
                        },
                    ],
                ),
                // Claude Code reports its state (OSC 7501) once the launcher answers its query.
                // The mailbox is allowed through settings: `--add-dir` would ask whether to
                // trust a directory outside the repository, with "No, exit" preselected.
                "claude" => (
                    &[
                        "claude",
                        "--settings",
                        r#"{"permissions":{"additionalDirectories":[{mailbox_json}]}}"#,
                        "--model",
                        "{model}",
                        "{prompt}",
                    ],
                    Typing::Composer,
                    true,
                    vec![OptionalFlag {
                        flag: "--settings",
                        takes_value: true,
                        missing: "this claude has no --settings: agents may be asked whether to \
                                  trust the mailbox directory before they can report",
                    }],
                ),
                "demo" => (&["{self}", "demo-agent"], Typing::Line, true, Vec::new()),
                _ => return None,
            };
        Some(AgentProfile {
            name: name.to_string(),
            template: template.iter().map(|s| s.to_string()).collect(),
            typing,
            announces_state,
            optional,
            warnings: Vec::new(),
        })
    }

    /// Adapts a built-in template to the installed program: optional flags its `--help` does not
    /// list are left out, with a warning each. Then the user's extra arguments go right after
    /// the program. The help text is read once per program.
    pub fn for_installed(mut self, extra_args: &[String]) -> AgentProfile {
        if !self.optional.is_empty() {
            if let Some(help) = help_text(self.program()) {
                for optional in std::mem::take(&mut self.optional) {
                    if help_lists_flag(&help, optional.flag) {
                        continue;
                    }
                    if let Some(at) = self.template.iter().position(|t| t == optional.flag) {
                        let end =
                            (at + 1 + usize::from(optional.takes_value)).min(self.template.len());
                        self.template.drain(at..end);
                    }
                    self.warnings.push(optional.missing.to_string());
                }
            }
        }
        if !extra_args.is_empty() {
            self.template.splice(1..1, extra_args.iter().cloned());
        }
        self
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
            typing: Typing::Line,
            announces_state: false,
            optional: Vec::new(),
            warnings: Vec::new(),
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
                .replace("{mailbox}", values.mailbox)
                .replace(
                    "{mailbox_json}",
                    &serde_json::Value::from(values.mailbox).to_string(),
                )
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
    /// The mailbox directory the session reports into.
    pub mailbox: &'a str,
    pub self_exe: String,
}

/// The `--help` output of a program, read once per program (None when it cannot be run).
fn help_text(program: &str) -> Option<String> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<String>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(known) = cache.lock_or_recover().get(program) {
        return known.clone();
    }
    let help = run_help(program);
    cache
        .lock()
        .unwrap()
        .insert(program.to_string(), help.clone());
    help
}

fn run_help(program: &str) -> Option<String> {
    let path = find_on_path(program)?;
    let mut child = std::process::Command::new(path)
        .arg("--help")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?;
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut text);
        text
    });
    // A wrapper that hangs must not hold up the launcher's start.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                tracing::warn!(
                    program,
                    "`{program} --help` did not finish; assuming every flag"
                );
                return None;
            }
        }
    }
    reader.join().ok().filter(|t| !t.trim().is_empty())
}

/// Whether a help text documents `flag` as an option (not just mentions the word).
fn help_lists_flag(help: &str, flag: &str) -> bool {
    help.lines().any(|line| {
        line.split(|c: char| c.is_whitespace() || c == ',' || c == '=')
            .any(|word| word == flag)
    })
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
            mailbox: "/m",
            self_exe: "/bin/self".into(),
        });
        assert_eq!(program, "agent");
        assert_eq!(args, ["--model", "m1", "--file=/p.txt", "do it; now"]);
    }

    #[test]
    fn composer_typing_pastes_the_text_and_sends_enter_apart() {
        assert_eq!(
            Typing::Line.parts("go"),
            [InputPart::Bytes(b"go\r".to_vec())]
        );
        let parts = Typing::Composer.parts("hello there");
        assert_eq!(
            parts[0],
            InputPart::Bytes(b"\x1b[200~hello there\x1b[201~".to_vec())
        );
        assert!(matches!(parts[1], InputPart::Pause(p) if p >= Duration::from_millis(50)));
        assert_eq!(parts[2], InputPart::Bytes(b"\r".to_vec()));
        let InputPart::Bytes(pasted) = &Typing::Composer.parts("a\nb\x1b[201~c")[0] else {
            panic!("text first")
        };
        assert_eq!(pasted, b"\x1b[200~a\nbc\x1b[201~");
    }

    #[test]
    fn flags_the_installed_program_lacks_are_left_out_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("codex");
        std::fs::write(
            &old,
            "#!/bin/sh\necho 'Options:\n  -m, --model <MODEL>\n      --add-dir <DIR>'\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut profile = AgentProfile::builtin("codex").unwrap();
        profile.template[0] = old.display().to_string();
        let profile = profile.for_installed(&["-c".into(), "x=1".into()]);
        assert_eq!(
            profile.template[1..],
            [
                "-c",
                "x=1",
                "--add-dir",
                "{mailbox}",
                "-m",
                "{model}",
                "--cd",
                "{repo}",
                "{prompt}"
            ]
        );
        assert_eq!(profile.warnings.len(), 1);
        assert!(
            profile.warnings[0].contains("--no-daemon"),
            "{:?}",
            profile.warnings
        );
        assert!(help_lists_flag("  --no-daemon\n", "--no-daemon"));
        assert!(!help_lists_flag("  --no-daemon-ever\n", "--no-daemon"));
    }

    #[test]
    fn finds_programs_on_path() {
        assert!(find_on_path("sh").is_some());
        assert!(find_on_path("surely-not-a-real-program-4711").is_none());
    }
}
