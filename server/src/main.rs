//! `codex-governance`: command line entry point and wiring.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use server::config::{
    repo_or_cwd, state_dir, Cli, Command, Config, ReportArgs, ServeArgs, StopArgs,
};
use server::engine::Engine;
use server::governance::GovernanceConfig;
use server::http::{self, SecurityPolicy};
use server::report::{self, Mode};

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let outcome = match cli
        .command
        .unwrap_or_else(|| Command::Serve(Box::default()))
    {
        Command::Serve(args) => tokio::runtime::Runtime::new()
            .context("cannot start the async runtime")
            .and_then(|runtime| runtime.block_on(serve(*args)))
            .map(|()| ExitCode::SUCCESS),
        Command::Report(args) => report(args),
        Command::DemoAgent => server::demo_agent::run().map(|()| ExitCode::SUCCESS),
        Command::PrepareWorkspace { spec } => Ok(server::workspace::prepare::run(&spec)),
        Command::VerifyWorkspace { spec } => Ok(server::workspace::verify::run(&spec)),
        Command::PtyHost { state_dir } => {
            server::pty::host::server::run(&state_dir).map(|()| ExitCode::SUCCESS)
        }
        Command::Stop(args) => stop(args),
    };
    outcome.unwrap_or_else(|err| {
        // The whole chain of causes, as anyhow prints it.
        eprintln!("Error: {err:?}");
        ExitCode::FAILURE
    })
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

async fn serve(args: ServeArgs) -> Result<()> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let config = Config::resolve(args, &cwd)?;

    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    let addr = listener.local_addr()?;

    let api_token = match (config.allow_remote, &config.api_token) {
        (false, _) => None,
        (true, Some(token)) => Some(token.clone()),
        (true, None) => {
            let token = server::ids::random_token().context("cannot make an API token")?;
            eprintln!("remote access enabled; bearer token: {token}");
            Some(token)
        }
    };
    let policy = SecurityPolicy::new(
        addr.port(),
        &config.allow_hosts,
        &config.allow_origins,
        api_token,
    );

    let site = match http::Site::locate() {
        Ok(site) => site,
        Err(problem) => {
            tracing::warn!("{problem}; the API works but the dashboard cannot hydrate");
            http::Site::Disk("target/site".into())
        }
    };
    tracing::info!("dashboard files: {site}");

    let launcher_url = config
        .launcher_url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:{}", addr.port()));
    let config = Arc::new(config);
    let governance = GovernanceConfig::load(&config.repo)?;
    let engine = Engine::open(config.clone(), governance, launcher_url)?;
    engine.start_background();
    let app = http::router(engine.clone(), policy, &site);

    // The URL line is the contract with scripts and tests that wait for the server. Both lines
    // go in one write, and a closed stdout is no reason to stop: a caller that read the URL line
    // may close its end at once.
    let _ = write!(
        std::io::stdout(),
        "codex-governance listening on http://{addr}/ (repo {})\n\
         open http://{addr}/ in a browser; state directory: {}\n",
        config.repo.display(),
        config.state_dir.display()
    );
    let _ = std::io::stdout().flush();
    http::serve(listener, app, shutdown_signal()).await;
    // Shells and verifications end with the server; agents too, unless the PTY host keeps them
    // for the next server.
    engine.shutdown();
    Ok(())
}

/// `codex-governance stop`: ends the PTY host of a state directory and every agent in it.
fn stop(args: StopArgs) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let dir = match args.state_dir {
        Some(dir) => cwd.join(dir),
        None => {
            let repo = repo_or_cwd(args.repo.as_deref(), &cwd)?;
            state_dir(None, &repo, &cwd)
        }
    };
    let host = match server::pty::host::HostClient::connect(&dir) {
        Ok(host) => host,
        Err(server::pty::host::HostError::Io(_)) => {
            println!("no PTY host runs for {}", dir.display());
            return Ok(ExitCode::SUCCESS);
        }
        Err(err) => return Err(err.into()),
    };
    let pid = host.info().pid;
    host.stop_host()?;
    println!(
        "stopped the PTY host (pid {pid}) of {} and its agents",
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `codex-governance report`: exit 0, or 1 when `--preflight` decides REVIEW.
fn report(args: ReportArgs) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the working directory")?;
    let repo = repo_or_cwd(args.repo.as_deref(), &cwd)?;
    let governance = GovernanceConfig::load(&repo)?;
    let mode = match (args.base, args.staged) {
        (Some(base), _) => Mode::Base(base),
        (None, true) => Mode::Staged,
        (None, false) => Mode::Worktree,
    };
    // The launcher's state directory is not part of the change set.
    let state_dir = state_dir(args.state_dir, &repo, &cwd);
    let report = report::build(&repo, &governance, &mode, Some(&state_dir))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report::render_text(&report));
    }
    let review =
        report.preflight.checks.portability_reference_scan.decision != app::api::Decision::Pass;
    Ok(if args.preflight && review {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
        }
        Err(err) => {
            tracing::warn!(%err, "no SIGTERM handler; only Ctrl-C stops the server cleanly");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    tracing::info!("shutting down");
}
