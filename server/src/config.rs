//! Command line and environment configuration (SPEC §Config), resolved once at start-up.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

pub const DEFAULT_PORT: u16 = 6211;

#[derive(Debug, Parser)]
#[command(
    name = "codex-governance",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("CODEX_GOVERNANCE_COMMIT"), ")"),
    about = "Local launcher and live dashboard for a governed team of coding-agent sessions.",
    long_about = "Local launcher and live dashboard for a governed team of coding-agent sessions \
        (Zhongshu 中书省 plans, departments execute) on one Git repository.\n\n\
        Without a subcommand, `serve` runs with its defaults.",
    after_long_help = "Run `codex-governance serve --help` for every option and environment variable."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the dashboard and the JSON API (default).
    #[command(after_long_help = ENV_HELP)]
    Serve(Box<ServeArgs>),
    /// Print the governance report of a repository (changed files by department, risks,
    /// verification, portability preflight).
    Report(ReportArgs),
    /// The built-in scripted agent (run by the launcher inside a session's terminal).
    DemoAgent,
    /// Prepares a department's worktree, then becomes its agent (run by the launcher inside the
    /// session's terminal; SPEC is the JSON file the launcher wrote).
    #[command(hide = true)]
    PrepareWorkspace { spec: PathBuf },
    /// Runs a department's verification commands (run by the launcher inside a read-only
    /// terminal; SPEC is the JSON file the launcher wrote).
    #[command(hide = true)]
    VerifyWorkspace { spec: PathBuf },
    /// The PTY host that keeps agent sessions running across server restarts (started by the
    /// server when it first needs one).
    #[command(hide = true)]
    PtyHost {
        #[arg(long)]
        state_dir: PathBuf,
    },
    /// Ends the PTY host of a state directory and every agent it runs.
    Stop(StopArgs),
}

#[derive(Debug, Clone, Args)]
pub struct StopArgs {
    /// Git repository whose launcher to stop (default: the repository containing the working
    /// directory).
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// The launcher's state directory (default: `<repo>/.tmp`).
    #[arg(long, env = "CODEX_GOVERNANCE_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

const ENV_HELP: &str = "\
Environment (each also settable by the option shown in [env: ...] above):
  LEPTOS_SITE_ADDR      host:port used when --host/--port are not given
  LEPTOS_SITE_ROOT      directory of the built site assets (default: found next to the binary)
  RUST_LOG              log filter, e.g. `info` or `server=debug`";

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Git repository (default: the repository containing the working directory).
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// Compare this ref's tree with the working tree instead of `git status`.
    #[arg(long, conflicts_with = "staged")]
    pub base: Option<String>,
    /// Only staged changes (index vs HEAD).
    #[arg(long)]
    pub staged: bool,
    /// Print the JSON report (the API's `report` object).
    #[arg(long)]
    pub json: bool,
    /// Exit with status 1 when the portability preflight decides REVIEW.
    #[arg(long)]
    pub preflight: bool,
    /// The launcher's state directory, left out of the change set (default: `<repo>/.tmp`).
    #[arg(long, env = "CODEX_GOVERNANCE_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DispatchMode {
    /// Plans wait for the user's confirmation.
    Confirm,
    /// Selected assignments start as soon as the plan registers.
    Auto,
}

impl DispatchMode {
    pub fn as_str(self) -> &'static str {
        match self {
            DispatchMode::Confirm => "confirm",
            DispatchMode::Auto => "auto",
        }
    }
}

/// Where department sessions work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkspaceChoice {
    /// A Git worktree of its own per department session, on a branch of its own.
    Worktree,
    /// Every session works in the repository itself.
    Shared,
}

impl WorkspaceChoice {
    pub fn mode(self) -> app::api::WorkspaceMode {
        match self {
            WorkspaceChoice::Worktree => app::api::WorkspaceMode::Worktree,
            WorkspaceChoice::Shared => app::api::WorkspaceMode::Shared,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to bind. Anything but loopback also needs --allow-remote.
    #[arg(long)]
    pub host: Option<IpAddr>,
    /// Port to bind (0 picks a free port; the chosen URL is printed).
    #[arg(long)]
    pub port: Option<u16>,
    /// Acknowledge binding a non-loopback address; every request then needs the bearer token.
    #[arg(long)]
    pub allow_remote: bool,
    /// Bearer token required from remote clients (generated and printed when not set).
    #[arg(long, env = "CODEX_GOVERNANCE_API_TOKEN", hide_env_values = true)]
    pub api_token: Option<String>,
    /// Git repository to govern (default: the repository containing the working directory).
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// Where state, mailboxes, prompts, transcripts and the audit log are written.
    #[arg(long, env = "CODEX_GOVERNANCE_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Project name written into prompts (default: the repository directory name).
    #[arg(long, env = "CODEX_GOVERNANCE_PROJECT_NAME")]
    pub project_name: Option<String>,
    /// The entry document prompts ask agents to read.
    #[arg(
        long,
        env = "CODEX_GOVERNANCE_WORKFLOW_DOC",
        default_value = "AGENTS.md"
    )]
    pub workflow_doc: String,
    /// Model choices, comma separated.
    #[arg(
        long,
        env = "CODEX_GOVERNANCE_MODELS",
        value_delimiter = ',',
        default_value = "gpt-5.5,gpt-5.4"
    )]
    pub models: Vec<String>,
    /// Zhongshu default model (default: the first choice).
    #[arg(long, env = "CODEX_GOVERNANCE_ZHONGSHU_MODEL")]
    pub zhongshu_model: Option<String>,
    /// Department default model (default: the last choice).
    #[arg(long, env = "CODEX_GOVERNANCE_DEPARTMENT_MODEL")]
    pub department_model: Option<String>,
    /// Concurrent department sessions.
    #[arg(long, env = "CODEX_GOVERNANCE_MAX_DEPARTMENTS", default_value_t = 2,
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub max_departments: u32,
    /// Concurrent Zhongshu (planner) sessions: each is an agent process that runs until closed.
    #[arg(long, env = "CODEX_GOVERNANCE_MAX_ZHONGSHU_SESSIONS", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_zhongshu_sessions: u32,
    /// Extra allowed browser origins, comma separated (never `*`).
    #[arg(long, env = "CODEX_GOVERNANCE_ALLOW_ORIGIN", value_delimiter = ',')]
    pub allow_origin: Vec<String>,
    /// Extra allowed Host names (besides 127.0.0.1, localhost and [::1] on the bound port).
    #[arg(long, env = "CODEX_GOVERNANCE_ALLOW_HOST", value_delimiter = ',')]
    pub allow_host: Vec<String>,
    /// Launcher URL written into prompts (default: http://127.0.0.1:PORT).
    #[arg(long, env = "CODEX_GOVERNANCE_LAUNCHER_URL")]
    pub launcher_url: Option<String>,
    /// Idle seconds before a department's heartbeat turns `stalled`.
    #[arg(
        long,
        env = "CODEX_GOVERNANCE_DEPARTMENT_STALE_SECONDS",
        default_value_t = 300
    )]
    pub stale_seconds: u64,
    /// Terminal scrollback kept in memory per terminal, in KiB: what a viewer that connects late
    /// or reconnects is replayed first (16 to 65536).
    #[arg(long, env = "CODEX_GOVERNANCE_TERMINAL_SCROLLBACK_KIB",
          default_value_t = DEFAULT_SCROLLBACK_KIB,
          value_parser = clap::value_parser!(u32).range(16..=65536))]
    pub scrollback_kib: u32,
    /// Agent profile: `codex`, `claude`, `demo` (default: codex when on PATH, else demo).
    #[arg(long, env = "CODEX_GOVERNANCE_AGENT")]
    pub agent: Option<String>,
    /// A custom agent command template, e.g. `my-agent --model {model} {prompt_file}`
    /// (placeholders: {model} {repo} {prompt} {prompt_file}); selected by `--agent custom`, and by
    /// default when set.
    #[arg(long, env = "CODEX_GOVERNANCE_AGENT_COMMAND")]
    pub agent_command: Option<String>,
    /// Extra arguments for the agent program, shell-quoted, placed right after it (for example
    /// `--agent-args "-s workspace-write -a on-request"`). The launcher adds no sandbox or
    /// approval flags of its own, so the agent's own configuration applies unless set here.
    #[arg(long, env = "CODEX_GOVERNANCE_AGENT_ARGS", allow_hyphen_values = true)]
    pub agent_args: Option<String>,
    /// Seconds a department that has reported may keep running to finish its turn; it is closed
    /// as soon as its agent says it is idle, or when this ends (unless it says it is working).
    #[arg(
        long,
        env = "CODEX_GOVERNANCE_CLOSE_GRACE_SECONDS",
        default_value_t = 30
    )]
    pub close_grace_seconds: u64,
    /// Plan dispatch mode.
    #[arg(
        long,
        env = "CODEX_GOVERNANCE_DISPATCH",
        value_enum,
        default_value = "confirm"
    )]
    pub dispatch: DispatchMode,
    /// Where department sessions work: `worktree` gives each one a Git worktree of its own
    /// (under the state directory, on a branch `governance/<zhongshu>/<department>`), `shared`
    /// runs every session in the repository itself. A repository with no commit yet has no
    /// base for worktrees: its departments work in it, and the status payload says why.
    #[arg(
        long,
        env = "CODEX_GOVERNANCE_WORKSPACE",
        value_enum,
        default_value = "worktree"
    )]
    pub workspace: WorkspaceChoice,
    /// End every agent when the server stops (without it, agents keep running in the PTY host
    /// and the next server on the same state directory takes them over).
    #[arg(long, env = "CODEX_GOVERNANCE_STOP_AGENTS_ON_EXIT")]
    pub stop_agents_on_exit: bool,
    /// Run agent sessions inside the server process instead of the PTY host: they end with it.
    #[arg(long, env = "CODEX_GOVERNANCE_NO_PTY_HOST")]
    pub no_pty_host: bool,
}

impl Default for ServeArgs {
    fn default() -> Self {
        match Cli::parse_from(["codex-governance", "serve"]).command {
            Some(Command::Serve(args)) => *args,
            _ => unreachable!("`serve` was given"),
        }
    }
}

/// Terminal output kept per terminal by default (the PTY ring's own default; a test keeps the
/// two equal, so the configuration needs nothing from the layers below it).
pub const DEFAULT_SCROLLBACK_KIB: u32 = 1024;

/// Fully resolved settings of one server run.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub allow_remote: bool,
    pub api_token: Option<String>,
    pub repo: PathBuf,
    pub state_dir: PathBuf,
    pub project_name: String,
    pub workflow_doc: String,
    pub models: Vec<String>,
    pub zhongshu_model: String,
    pub department_model: String,
    pub max_departments: u32,
    pub max_zhongshu_sessions: u32,
    pub allow_origins: Vec<String>,
    pub allow_hosts: Vec<String>,
    pub launcher_url: Option<String>,
    pub stale_seconds: u64,
    /// Terminal scrollback (ring) size in bytes.
    pub scrollback_bytes: usize,
    pub agent: Option<String>,
    pub agent_command: Option<String>,
    /// Extra agent arguments, already split.
    pub agent_args: Vec<String>,
    pub close_grace_seconds: u64,
    pub dispatch: DispatchMode,
    pub workspace: app::api::WorkspaceMode,
    /// Agent sessions run in the PTY host (they survive a server restart).
    pub pty_host: bool,
    /// End every agent when the server stops, even with a PTY host.
    pub stop_agents_on_exit: bool,
}

impl Config {
    /// Resolves CLI arguments against the environment and the filesystem.
    pub fn resolve(args: ServeArgs, cwd: &Path) -> Result<Config> {
        let bind = resolve_bind(args.host, args.port, std::env::var("LEPTOS_SITE_ADDR").ok())?;
        if !bind.ip().is_loopback() && !args.allow_remote {
            bail!(
                "refusing to bind {}: it is not a loopback address. The dashboard can start agents \
                 and shells on this machine; pass --allow-remote to acknowledge (a bearer token is \
                 then required on every request)",
                bind.ip()
            );
        }
        let repo = repo_or_cwd(args.repo.as_deref(), cwd)?;
        let models: Vec<String> = args
            .models
            .iter()
            .map(|m| m.trim().to_string())
            .filter(|m| !m.is_empty())
            .collect();
        if models.is_empty() {
            bail!("CODEX_GOVERNANCE_MODELS must name at least one model");
        }
        let pick = |chosen: Option<String>, default: &String, what: &str| -> Result<String> {
            let model = chosen.unwrap_or_else(|| default.clone());
            if !models.contains(&model) {
                bail!("{what} {model:?} is not one of the model choices {models:?}");
            }
            Ok(model)
        };
        let zhongshu_model = pick(args.zhongshu_model, &models[0], "Zhongshu model")?;
        let department_model = pick(
            args.department_model,
            models.last().unwrap(),
            "department model",
        )?;
        if args.allow_origin.iter().any(|o| o.trim() == "*") {
            bail!("CODEX_GOVERNANCE_ALLOW_ORIGIN may not contain `*`: list the exact origins");
        }
        let project_name = args.project_name.unwrap_or_else(|| {
            repo.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "project".into())
        });
        Ok(Config {
            bind,
            allow_remote: args.allow_remote,
            api_token: args.api_token.filter(|t| !t.is_empty()),
            state_dir: state_dir(args.state_dir, &repo, cwd),
            repo,
            project_name,
            workflow_doc: args.workflow_doc,
            models,
            zhongshu_model,
            department_model,
            max_departments: args.max_departments,
            max_zhongshu_sessions: args.max_zhongshu_sessions,
            allow_origins: clean_list(args.allow_origin),
            allow_hosts: clean_list(args.allow_host),
            launcher_url: args.launcher_url,
            stale_seconds: args.stale_seconds,
            scrollback_bytes: args.scrollback_kib as usize * 1024,
            agent: args.agent,
            agent_command: args.agent_command,
            agent_args: match args.agent_args.as_deref().map(str::trim) {
                None | Some("") => Vec::new(),
                Some(line) => shell_words::split(line)
                    .map_err(|err| anyhow::anyhow!("CODEX_GOVERNANCE_AGENT_ARGS: {err}"))?,
            },
            close_grace_seconds: args.close_grace_seconds,
            dispatch: args.dispatch,
            workspace: args.workspace.mode(),
            pty_host: !args.no_pty_host,
            stop_agents_on_exit: args.stop_agents_on_exit,
        })
    }
}

fn clean_list(items: Vec<String>) -> Vec<String> {
    items
        .into_iter()
        .map(|s| s.trim().trim_end_matches('/').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The state directory: the configured one (relative to `cwd`), else `<repo>/.tmp`.
pub fn state_dir(configured: Option<PathBuf>, repo: &Path, cwd: &Path) -> PathBuf {
    absolute(&configured.unwrap_or_else(|| repo.join(".tmp")), cwd)
}

fn absolute(path: &Path, cwd: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    }
}

/// `--host`/`--port` win over `LEPTOS_SITE_ADDR` (set by cargo-leptos), which wins over defaults.
fn resolve_bind(
    host: Option<IpAddr>,
    port: Option<u16>,
    site_addr: Option<String>,
) -> Result<SocketAddr> {
    let from_env = match site_addr.filter(|s| !s.trim().is_empty()) {
        Some(text) => Some(
            text.trim()
                .parse::<SocketAddr>()
                .with_context(|| format!("LEPTOS_SITE_ADDR={text:?} is not host:port"))?,
        ),
        None => None,
    };
    let default_host = from_env
        .map(|a| a.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let default_port = from_env.map(|a| a.port()).unwrap_or(DEFAULT_PORT);
    Ok(SocketAddr::new(
        host.unwrap_or(default_host),
        port.unwrap_or(default_port),
    ))
}

/// The repository named by `--repo`, or the one containing `cwd`, as a clear error otherwise.
pub fn repo_or_cwd(repo: Option<&Path>, cwd: &Path) -> Result<PathBuf> {
    match repo {
        Some(path) => find_repo(path)
            .with_context(|| format!("--repo {}: not a Git repository", path.display())),
        None => find_repo(cwd).with_context(|| {
            format!(
                "no Git repository contains {}; run inside one or pass --repo PATH",
                cwd.display()
            )
        }),
    }
}

/// The working tree root of the Git repository containing `path`.
fn find_repo(path: &Path) -> Result<PathBuf> {
    let repo = git2::Repository::discover(path)?;
    let workdir = repo
        .workdir()
        .context("bare repositories have no working tree to govern")?;
    Ok(workdir.canonicalize()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn flags_override_the_cargo_leptos_address() {
        let addr = resolve_bind(None, Some(7000), Some("127.0.0.1:3000".into())).unwrap();
        assert_eq!(addr, "127.0.0.1:7000".parse().unwrap());
        let addr = resolve_bind(None, None, None).unwrap();
        assert_eq!(addr, "127.0.0.1:6211".parse().unwrap());
        assert!(resolve_bind(None, None, Some("nonsense".into())).is_err());
    }

    #[test]
    fn scrollback_defaults_to_the_ring_size_and_has_bounds() {
        let parse = |extra: &[&str]| {
            let args = [&["codex-governance", "serve"], extra].concat();
            Cli::try_parse_from(args).map(|cli| match cli.command {
                Some(Command::Serve(args)) => args.scrollback_kib,
                _ => unreachable!("`serve` was given"),
            })
        };
        let ring_default = crate::pty::SpawnSpec::new("sh", Vec::new(), ".".into()).ring_bytes;
        assert_eq!(parse(&[]).unwrap() as usize * 1024, ring_default);
        assert_eq!(parse(&["--scrollback-kib", "16"]).unwrap(), 16);
        assert!(parse(&["--scrollback-kib", "1"]).is_err());
        assert!(parse(&["--scrollback-kib", "65537"]).is_err());
    }

    #[test]
    fn non_loopback_host_needs_the_acknowledgement() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        let mut args = ServeArgs {
            host: Some("0.0.0.0".parse().unwrap()),
            ..ServeArgs::default()
        };
        let err = Config::resolve(args.clone(), dir.path()).unwrap_err();
        assert!(err.to_string().contains("--allow-remote"), "{err}");
        args.allow_remote = true;
        assert!(Config::resolve(args, dir.path()).is_ok());
    }

    #[test]
    fn outside_a_repository_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::resolve(ServeArgs::default(), dir.path()).unwrap_err();
        assert!(err.to_string().contains("no Git repository"), "{err}");
    }

    #[test]
    fn wildcard_origin_and_unknown_models_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init(dir.path()).unwrap();
        let args = ServeArgs {
            allow_origin: vec!["*".into()],
            ..ServeArgs::default()
        };
        assert!(Config::resolve(args, dir.path()).is_err());
        let args = ServeArgs {
            zhongshu_model: Some("gpt-0".into()),
            ..ServeArgs::default()
        };
        assert!(Config::resolve(args, dir.path())
            .unwrap_err()
            .to_string()
            .contains("gpt-0"));
    }

    #[test]
    fn help_documents_every_environment_variable() {
        let help = Cli::command()
            .find_subcommand_mut("serve")
            .unwrap()
            .render_long_help()
            .to_string();
        for var in [
            "CODEX_GOVERNANCE_PROJECT_NAME",
            "CODEX_GOVERNANCE_WORKFLOW_DOC",
            "CODEX_GOVERNANCE_MODELS",
            "CODEX_GOVERNANCE_ZHONGSHU_MODEL",
            "CODEX_GOVERNANCE_DEPARTMENT_MODEL",
            "CODEX_GOVERNANCE_MAX_DEPARTMENTS",
            "CODEX_GOVERNANCE_ALLOW_ORIGIN",
            "CODEX_GOVERNANCE_LAUNCHER_URL",
            "CODEX_GOVERNANCE_DEPARTMENT_STALE_SECONDS",
            "CODEX_GOVERNANCE_AGENT",
            "CODEX_GOVERNANCE_STATE_DIR",
            "CODEX_GOVERNANCE_DISPATCH",
        ] {
            assert!(help.contains(var), "--help lacks {var}");
        }
    }
}
