//! The PTY host process (`codex-governance pty-host --state-dir DIR`): owns the terminals of
//! every server that runs on the same state directory, so agents outlive a server restart.
//!
//! One host per state directory (an `flock` on `pty-host.lock`). It listens on
//! `pty-host.sock` (mode 0600; connections from other users are refused by their peer
//! credentials), runs only what a connected server asks for, writes each terminal's transcript,
//! and keeps its output ring and emulated screen for servers that attach later. It ends by
//! itself when no terminal runs and no server has been connected for [`IDLE_EXIT`], or at once
//! when its state directory is gone.

use std::collections::HashMap;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use super::protocol::{
    decode, encode, Frame, FrameError, FromHost, Hosted, ToHost, MAX_FRAME, PROTOCOL_VERSION,
};
use crate::pty::{PtyProcess, SpawnSpec};
use crate::sync::LockOrRecover;

/// How long a host with nothing running waits for a server before it ends (unless
/// `CODEX_GOVERNANCE_PTY_HOST_IDLE_SECONDS` says otherwise).
pub const IDLE_EXIT: Duration = Duration::from_secs(600);

fn idle_exit() -> Duration {
    std::env::var("CODEX_GOVERNANCE_PTY_HOST_IDLE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(IDLE_EXIT, Duration::from_secs)
}
/// How often the host looks at its state directory and its idleness.
const CHECK_EVERY: Duration = Duration::from_secs(2);
/// Largest output frame the host sends.
const CHUNK: usize = 64 * 1024;
/// Frames queued per connection before a terminal's stream waits (and may fall behind).
const QUEUED_FRAMES: usize = 64;
/// Output the host keeps beyond what a server retains, so a burst that outruns the hop to the
/// server does not cost the server's mirror any bytes (it grows only as output arrives).
const HOP_HEADROOM: usize = 1024 * 1024;

/// The socket and lock file names inside a state directory.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("pty-host.sock")
}

fn lock_path(state_dir: &Path) -> PathBuf {
    state_dir.join("pty-host.lock")
}

struct Host {
    state_dir: PathBuf,
    /// The state directory's device and inode: a directory made anew under the same name (a
    /// test fixture recreated, the state removed and started over) is not this host's.
    identity: (u64, u64),
    terminals: Mutex<HashMap<String, Arc<PtyProcess>>>,
    started_at: String,
    connections: AtomicUsize,
    /// When the last server connection closed (or the host started).
    last_detached: Mutex<Instant>,
}

impl Host {
    fn running(&self) -> usize {
        self.terminals
            .lock_or_recover()
            .values()
            .filter(|p| p.is_running())
            .count()
    }

    fn terminal(&self, id: &str) -> Option<Arc<PtyProcess>> {
        self.terminals.lock_or_recover().get(id).cloned()
    }

    /// Ends every process group: SIGTERM, a short wait, SIGKILL.
    fn stop_all(&self) {
        let all: Vec<Arc<PtyProcess>> =
            self.terminals.lock_or_recover().values().cloned().collect();
        for process in &all {
            process.terminate();
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while all.iter().any(|p| p.is_running()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        for process in &all {
            process.kill_now();
        }
    }
}

/// Runs the host for `state_dir` until it is stopped or idle. Returns at once (successfully)
/// when another host already serves that directory.
pub fn run(state_dir: &Path) -> Result<()> {
    let state_dir = state_dir
        .canonicalize()
        .with_context(|| format!("no state directory {}", state_dir.display()))?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        // Never through a symlink planted under the lock's name.
        .custom_flags(libc::O_NOFOLLOW)
        .open(lock_path(&state_dir))
        .context("cannot open the PTY host's lock file")?;
    // SAFETY: flock on a descriptor we own.
    if unsafe {
        libc::flock(
            std::os::fd::AsRawFd::as_raw_fd(&lock),
            libc::LOCK_EX | libc::LOCK_NB,
        )
    } != 0
    {
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(serve(state_dir));
    drop(lock);
    outcome
}

/// Binds the socket: a stale socket of an earlier host is replaced; anything else under its
/// name (a planted symlink, a file) is refused. Mode 0600 from the start.
fn bind(path: &Path) -> Result<UnixListener> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path)?,
        Ok(_) => bail!(
            "{} exists and is not a socket; not touching it",
            path.display()
        ),
        Err(_) => {}
    }
    // SAFETY: umask only changes this process's file creation mask; restored right after.
    let old = unsafe { libc::umask(0o177) };
    let listener = UnixListener::bind(path);
    unsafe { libc::umask(old) };
    let listener = listener.with_context(|| format!("cannot listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

async fn serve(state_dir: PathBuf) -> Result<()> {
    let socket = socket_path(&state_dir);
    let listener = bind(&socket)?;
    let host = Arc::new(Host {
        identity: identity(&state_dir).context("cannot read the state directory")?,
        state_dir: state_dir.clone(),
        terminals: Mutex::new(HashMap::new()),
        started_at: chrono::Utc::now().to_rfc3339(),
        connections: AtomicUsize::new(0),
        last_detached: Mutex::new(Instant::now()),
    });
    tracing::info!(
        pid = std::process::id(),
        "PTY host listening on {}",
        socket.display()
    );
    let idle_after = idle_exit();
    let mut check = tokio::time::interval(CHECK_EVERY);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let host = host.clone();
                tokio::spawn(async move {
                    host.connections.fetch_add(1, Ordering::SeqCst);
                    if let Err(err) = serve_connection(&host, stream).await {
                        tracing::debug!("server connection ended: {err}");
                    }
                    host.connections.fetch_sub(1, Ordering::SeqCst);
                    *host.last_detached.lock_or_recover() = Instant::now();
                });
            }
            _ = check.tick() => {
                if identity(&host.state_dir).ok() != Some(host.identity) {
                    tracing::info!("state directory gone or replaced; ending every terminal");
                    let host = host.clone();
                    let _ = tokio::task::spawn_blocking(move || host.stop_all()).await;
                    break;
                }
                let idle = host.connections.load(Ordering::SeqCst) == 0
                    && host.running() == 0
                    && host.last_detached.lock_or_recover().elapsed() >= idle_after;
                if idle {
                    tracing::info!("nothing running and no server for {idle_after:?}; ending");
                    break;
                }
            }
        }
    }
    let _ = std::fs::remove_file(&socket);
    Ok(())
}

fn identity(dir: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir)?;
    Ok((meta.dev(), meta.ino()))
}

async fn read_frame(stream: &mut (impl AsyncReadExt + Unpin)) -> Result<Frame<ToHost>, FrameError> {
    let len = stream.read_u32().await? as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body).await?;
    decode(&body)
}

type Outbox = mpsc::Sender<Vec<u8>>;

async fn send(outbox: &Outbox, message: FromHost) -> bool {
    outbox.send(encode(&Frame::Message(message))).await.is_ok()
}

async fn serve_connection(host: &Arc<Host>, stream: UnixStream) -> Result<()> {
    // Only our own user may drive the host.
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if stream.peer_cred()?.uid() != me {
        bail!("refused a connection from another user");
    }
    let (mut reader, mut writer) = stream.into_split();
    let (outbox, mut queued) = mpsc::channel::<Vec<u8>>(QUEUED_FRAMES);
    let writing = tokio::spawn(async move {
        while let Some(frame) = queued.recv().await {
            if writer.write_all(&frame).await.is_err() {
                break;
            }
        }
        let _ = writer.shutdown().await;
    });
    match read_frame(&mut reader).await? {
        Frame::Message(ToHost::Hello { version }) if version == PROTOCOL_VERSION => {
            send(
                &outbox,
                FromHost::Welcome {
                    version: PROTOCOL_VERSION,
                    pid: std::process::id(),
                    started_at: host.started_at.clone(),
                },
            )
            .await;
        }
        _ => {
            send(
                &outbox,
                FromHost::Refused {
                    version: PROTOCOL_VERSION,
                    pid: std::process::id(),
                },
            )
            .await;
            drop(outbox);
            let _ = writing.await;
            return Ok(());
        }
    }
    let mut streams = Vec::new();
    let outcome = loop {
        let frame = match read_frame(&mut reader).await {
            Ok(frame) => frame,
            Err(err) if err.is_closed() => break Ok(()),
            Err(err) => break Err(err.into()),
        };
        match frame {
            Frame::Bytes { id, data, .. } => {
                if let Some(process) = host.terminal(&id) {
                    let _ = process.write(&data);
                }
            }
            Frame::Message(message) => {
                if let Some(stream) = handle(host, message, &outbox).await {
                    streams.push(stream);
                }
            }
        }
    };
    for stream in streams {
        stream.abort();
    }
    drop(outbox);
    let _ = writing.await;
    outcome
}

/// One request; an attach returns its streaming task.
async fn handle(
    host: &Arc<Host>,
    message: ToHost,
    outbox: &Outbox,
) -> Option<tokio::task::JoinHandle<()>> {
    match message {
        ToHost::Hello { .. } => {}
        ToHost::Spawn { req, id, spec } => {
            let reply = match spawn(host, &id, spec) {
                Ok(pid) => FromHost::Spawned { req, id, pid },
                Err(err) => FromHost::Failed {
                    req,
                    error: format!("{err:#}"),
                },
            };
            send(outbox, reply).await;
        }
        ToHost::List { req } => {
            let terminals = host
                .terminals
                .lock_or_recover()
                .iter()
                .map(|(id, p)| {
                    let (cols, rows) = p.size();
                    Hosted {
                        id: id.clone(),
                        pid: p.pid(),
                        exit_code: p.exit_code(),
                        end: p.output().end(),
                        cols,
                        rows,
                    }
                })
                .collect();
            send(outbox, FromHost::Listing { req, terminals }).await;
        }
        ToHost::Attach { id, since } => {
            let process = host.terminal(&id)?;
            let outbox = outbox.clone();
            return Some(tokio::spawn(stream_terminal(id, process, since, outbox)));
        }
        ToHost::Resize { id, cols, rows } => {
            if let Some(process) = host.terminal(&id) {
                let _ = process.resize(cols.clamp(2, 1000), rows.clamp(1, 500));
            }
        }
        ToHost::Terminate { id } => {
            if let Some(process) = host.terminal(&id) {
                process.terminate();
            }
        }
        ToHost::Kill { id } => {
            if let Some(process) = host.terminal(&id) {
                process.kill_now();
            }
        }
        ToHost::Forget { id } => {
            let mut terminals = host.terminals.lock_or_recover();
            if terminals.get(&id).is_some_and(|p| !p.is_running()) {
                terminals.remove(&id);
            }
        }
        ToHost::Stop => {
            let stopping = host.clone();
            let _ = tokio::task::spawn_blocking(move || stopping.stop_all()).await;
            send(outbox, FromHost::Stopping).await;
            // Let the reply go out, then end the whole host.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let _ = std::fs::remove_file(socket_path(&host.state_dir));
            std::process::exit(0);
        }
    }
    None
}

fn spawn(host: &Host, id: &str, mut spec: SpawnSpec) -> Result<u32> {
    if !crate::ids::is_valid_id(id) {
        bail!("invalid terminal id");
    }
    if host.terminal(id).is_some() {
        bail!("terminal {id} exists");
    }
    // The server's whole environment, never the host's: a host started by an earlier server
    // must not hand its environment to agents of a later one.
    spec.inherit_env = false;
    spec.ring_bytes = spec.ring_bytes.saturating_add(HOP_HEADROOM);
    let process = PtyProcess::spawn(spec, |_| {})?;
    let pid = process.pid();
    host.terminals
        .lock_or_recover()
        .insert(id.to_string(), process);
    Ok(pid)
}

/// Streams a terminal to one server: from `since` (or what is retained), a snapshot first
/// when that would start in the middle, and again whenever the server falls behind; then the
/// exit. Ends when the connection's queue closes.
async fn stream_terminal(id: String, process: Arc<PtyProcess>, since: Option<u64>, outbox: Outbox) {
    let output = process.output().clone();
    let mut progress = output.subscribe();
    let mut exit = process.exit_watch();
    let (retained_start, _) = output.read_from(0, 0);
    let lost = match since {
        Some(since) => since < retained_start,
        None => retained_start > 0,
    };
    let mut offset = since.unwrap_or(retained_start).min(output.end());
    if lost {
        offset = send_snapshot(&id, &output, &outbox).await;
    }
    // The program waits for this stream rather than lose bytes the server has not taken.
    let pacer = output.pacer(offset);
    loop {
        let (from, bytes) = output.read_from(offset, CHUNK);
        if from > offset {
            offset = send_snapshot(&id, &output, &outbox).await;
            pacer.store(offset, std::sync::atomic::Ordering::Release);
            continue;
        }
        if !bytes.is_empty() {
            offset += bytes.len() as u64;
            pacer.store(offset, std::sync::atomic::Ordering::Release);
            let frame = Frame::<FromHost>::Bytes {
                id: id.clone(),
                offset: from,
                data: bytes,
            };
            if outbox.send(encode(&frame)).await.is_err() {
                return;
            }
            continue;
        }
        let state = *progress.borrow_and_update();
        let code = *exit.borrow_and_update();
        if state.closed && offset >= state.end {
            if let Some(code) = code {
                send(&outbox, FromHost::Exit { id, code }).await;
                return;
            }
            if exit.changed().await.is_err() {
                return;
            }
            continue;
        }
        if progress.changed().await.is_err() {
            let _ = exit.changed().await;
        }
    }
}

async fn send_snapshot(id: &str, output: &crate::pty::Output, outbox: &Outbox) -> u64 {
    let (offset, data) = output.snapshot();
    send(
        outbox,
        FromHost::Snapshot {
            id: id.to_string(),
            offset,
            data,
        },
    )
    .await;
    offset
}
