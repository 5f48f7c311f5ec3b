//! A server's side of the PTY host: connecting (starting the host when none runs), and
//! [`PtyProcess`]es whose PTYs live in the host. Their output, size, title and exit are mirrored
//! here from the host's stream, so the rest of the server uses them as it uses local ones.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::protocol::{read_frame, write_frame, Frame, FromHost, Hosted, ToHost, PROTOCOL_VERSION};
use super::server::socket_path;
use crate::pty::osc::OscScanner;
use crate::pty::output::Output;
use crate::pty::process::{HostedMirror, OutputConsumer, PtyProcess, RemoteControl, SignalHandler};
use crate::pty::SpawnSpec;
use crate::sync::LockOrRecover;

/// The exit code a hosted process gets when its host went away (it was SIGKILLed or crashed:
/// its PTYs closed, so every process in them got SIGHUP). Not a real exit code of any program.
pub const HOST_LOST: i32 = -129;
/// How long a request waits for the host's answer.
const ANSWER_WAIT: Duration = Duration::from_secs(10);
/// How long a server waits for a host it started to listen.
const START_WAIT: Duration = Duration::from_secs(5);

/// Why no host could be used.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("a PTY host of protocol version {version} (pid {pid}) runs for this state directory; this server speaks version {PROTOCOL_VERSION}. Stop it with `codex-governance stop --state-dir {state_dir}` (its agents end)", state_dir = .state_dir.display())]
    Incompatible {
        version: u32,
        pid: u32,
        state_dir: PathBuf,
    },
    #[error("cannot start the PTY host: {0}")]
    Start(String),
    #[error("PTY host: {0}")]
    Io(#[from] std::io::Error),
    #[error("PTY host: {0}")]
    Protocol(String),
}

/// Who the host is (the status payload shows it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    pub pid: u32,
    pub version: u32,
    pub started_at: String,
}

/// What the reader thread hands a hosted terminal's mirror, in stream order.
enum MirrorEvent {
    Bytes { offset: u64, data: Vec<u8> },
    Snapshot { offset: u64, data: String },
    Exit(i32),
}

/// A hosted terminal's mirror. Its own thread applies what the host sends (ring, screen, the
/// signal scanner and its callbacks, the exit), so a callback that waits for the engine never
/// holds up the reader, which also carries the answers the engine may be waiting for.
struct Mirror {
    consumer: OutputConsumer,
    exit: watch::Sender<Option<i32>>,
    on_exit: Option<Box<dyn FnOnce(i32) + Send>>,
}

impl Mirror {
    fn run(mut self, events: std::sync::mpsc::Receiver<MirrorEvent>) {
        for event in &events {
            match event {
                MirrorEvent::Bytes { offset, data } => {
                    let end = self.consumer.output.end();
                    // Never twice the same byte: skip what the mirror already has.
                    let skip = end.saturating_sub(offset).min(data.len() as u64) as usize;
                    if offset + (skip as u64) == end {
                        self.consumer.consume(&data[skip..]);
                    }
                }
                MirrorEvent::Snapshot { offset, data } => {
                    tracing::debug!(offset, "the host's stream fell behind; restarted");
                    self.consumer.output.restart(offset, &data);
                }
                MirrorEvent::Exit(code) => return self.finish(code),
            }
        }
        // The reader dropped us: the host is gone.
        self.finish(HOST_LOST);
    }

    fn finish(mut self, code: i32) {
        self.consumer.output.close();
        if let Some(on_exit) = self.on_exit.take() {
            on_exit(code);
        }
        let _ = self.exit.send(Some(code));
    }
}

/// A connection to the PTY host of a state directory.
pub struct HostClient {
    state_dir: PathBuf,
    writer: Mutex<UnixStream>,
    pending: Mutex<HashMap<u64, std::sync::mpsc::SyncSender<FromHost>>>,
    mirrors: Mutex<HashMap<String, std::sync::mpsc::Sender<MirrorEvent>>>,
    next_req: AtomicU64,
    connected: AtomicBool,
    info: HostInfo,
}

impl HostClient {
    /// Connects to the host of `state_dir`, starting one (`exe pty-host --state-dir …`, its log
    /// appended to `log`) when none listens.
    pub fn connect_or_start(
        state_dir: &Path,
        exe: &Path,
        log: &Path,
    ) -> Result<Arc<HostClient>, HostError> {
        match Self::connect(state_dir) {
            Ok(client) => return Ok(client),
            Err(HostError::Io(_)) => {}
            Err(other) => return Err(other),
        }
        start_host(state_dir, exe, log)?;
        let deadline = Instant::now() + START_WAIT;
        loop {
            match Self::connect(state_dir) {
                Err(HostError::Io(err)) if Instant::now() < deadline => {
                    tracing::debug!("waiting for the PTY host: {err}");
                    std::thread::sleep(Duration::from_millis(20));
                }
                outcome => return outcome,
            }
        }
    }

    /// Connects to a running host (an I/O error when none listens).
    pub fn connect(state_dir: &Path) -> Result<Arc<HostClient>, HostError> {
        let mut stream = UnixStream::connect(socket_path(state_dir))?;
        stream.set_read_timeout(Some(ANSWER_WAIT))?;
        write_frame(
            &mut stream,
            &Frame::Message(ToHost::Hello {
                version: PROTOCOL_VERSION,
            }),
        )?;
        let info = match read_frame::<FromHost>(&mut stream) {
            Ok(Frame::Message(FromHost::Welcome {
                version,
                pid,
                started_at,
            })) => HostInfo {
                pid,
                version,
                started_at,
            },
            Ok(Frame::Message(FromHost::Refused { version, pid })) => {
                return Err(HostError::Incompatible {
                    version,
                    pid,
                    state_dir: state_dir.to_path_buf(),
                })
            }
            Ok(other) => return Err(HostError::Protocol(format!("unexpected {other:?}"))),
            Err(err) => return Err(HostError::Protocol(err.to_string())),
        };
        stream.set_read_timeout(None)?;
        let reader = stream.try_clone()?;
        let client = Arc::new(HostClient {
            state_dir: state_dir.to_path_buf(),
            writer: Mutex::new(stream),
            pending: Mutex::new(HashMap::new()),
            mirrors: Mutex::new(HashMap::new()),
            next_req: AtomicU64::new(1),
            connected: AtomicBool::new(true),
            info,
        });
        let weak = Arc::downgrade(&client);
        std::thread::Builder::new()
            .name("pty-host-reader".into())
            .spawn(move || read_loop(reader, weak))?;
        Ok(client)
    }

    pub fn info(&self) -> &HostInfo {
        &self.info
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// Terminals mirrored by this server.
    pub fn mirrored(&self) -> usize {
        self.mirrors.lock_or_recover().len()
    }

    fn send(&self, frame: &Frame<ToHost>) -> std::io::Result<()> {
        let mut writer = self.writer.lock_or_recover();
        write_frame(&mut *writer, frame)
    }

    fn message(&self, message: ToHost) -> std::io::Result<()> {
        self.send(&Frame::Message(message))
    }

    /// Sends a request and waits for its answer.
    fn ask(&self, make: impl FnOnce(u64) -> ToHost) -> Result<FromHost, HostError> {
        let req = self.next_req.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.pending.lock_or_recover().insert(req, tx);
        if let Err(err) = self.message(make(req)) {
            self.pending.lock_or_recover().remove(&req);
            return Err(err.into());
        }
        let answer = rx.recv_timeout(ANSWER_WAIT);
        self.pending.lock_or_recover().remove(&req);
        answer.map_err(|_| HostError::Protocol("no answer from the PTY host".into()))
    }

    /// Every terminal the host keeps.
    pub fn list(&self) -> Result<Vec<Hosted>, HostError> {
        match self.ask(|req| ToHost::List { req })? {
            FromHost::Listing { terminals, .. } => Ok(terminals),
            other => Err(HostError::Protocol(format!("unexpected {other:?}"))),
        }
    }

    /// Starts `spec` in the host as terminal `id` and mirrors it.
    pub fn spawn(
        self: &Arc<Self>,
        id: &str,
        spec: SpawnSpec,
        on_signal: SignalHandler,
        on_exit: impl FnOnce(i32) + Send + 'static,
    ) -> anyhow::Result<Arc<PtyProcess>> {
        let (cols, rows) = (spec.cols, spec.rows);
        let ring_bytes = spec.ring_bytes;
        // The environment the process would get from this server, whole.
        let mut env: Vec<(String, String)> = if spec.inherit_env {
            std::env::vars().collect()
        } else {
            Vec::new()
        };
        env.extend(spec.env);
        let request = SpawnSpec {
            env,
            inherit_env: false,
            ..spec
        };
        let pid = match self.ask(|req| ToHost::Spawn {
            req,
            id: id.to_string(),
            spec: request,
        })? {
            FromHost::Spawned { pid, .. } => pid,
            FromHost::Failed { error, .. } => anyhow::bail!("{error}"),
            other => anyhow::bail!("unexpected answer from the PTY host: {other:?}"),
        };
        self.mirror(id, pid, (cols, rows), ring_bytes, None, on_signal, on_exit)
    }

    /// Mirrors a terminal the host already runs (after a server restart), from `since` (or
    /// what the host retains; a snapshot when that starts in the middle).
    pub fn attach(
        self: &Arc<Self>,
        hosted: &Hosted,
        ring_bytes: usize,
        since: Option<u64>,
        on_signal: SignalHandler,
        on_exit: impl FnOnce(i32) + Send + 'static,
    ) -> anyhow::Result<Arc<PtyProcess>> {
        self.mirror(
            &hosted.id,
            hosted.pid,
            (hosted.cols, hosted.rows),
            ring_bytes,
            since,
            on_signal,
            on_exit,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn mirror(
        self: &Arc<Self>,
        id: &str,
        pid: u32,
        (cols, rows): (u16, u16),
        ring_bytes: usize,
        since: Option<u64>,
        on_signal: SignalHandler,
        on_exit: impl FnOnce(i32) + Send + 'static,
    ) -> anyhow::Result<Arc<PtyProcess>> {
        let output = Output::new(ring_bytes, cols, rows);
        let title = watch::channel(None).0;
        let size = watch::channel((cols, rows)).0;
        let (exit_tx, exit_rx) = watch::channel(None);
        let mirror = Mirror {
            consumer: OutputConsumer {
                output: output.clone(),
                scanner: OscScanner::default(),
                title: title.clone(),
                on_signal,
                // The host answers state queries itself.
                answers: None,
            },
            exit: exit_tx,
            on_exit: Some(Box::new(on_exit)),
        };
        let (events, received) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name(format!("pty-mirror-{pid}"))
            .spawn(move || mirror.run(received))?;
        self.mirrors
            .lock_or_recover()
            .insert(id.to_string(), events);
        let remote: Arc<dyn RemoteControl> = Arc::new(Remote {
            client: Arc::downgrade(self),
            id: id.to_string(),
        });
        let input = Box::new(RemoteInput {
            client: Arc::downgrade(self),
            id: id.to_string(),
        });
        let process = PtyProcess::hosted(
            pid,
            HostedMirror {
                output,
                size,
                title,
                exit: exit_rx,
            },
            input,
            remote,
        )?;
        self.message(ToHost::Attach {
            id: id.to_string(),
            since,
        })?;
        if !self.is_connected() {
            // The host went away before the mirror was registered: it ends as lost.
            self.mirrors.lock_or_recover().remove(id);
        }
        Ok(process)
    }

    /// Ends and drops a terminal the host keeps but no session wants (an orphan of an earlier
    /// server).
    pub fn discard(&self, id: &str) {
        let _ = self.message(ToHost::Kill { id: id.to_string() });
        let _ = self.message(ToHost::Forget { id: id.to_string() });
    }

    /// Ends the host and every process in it.
    pub fn stop_host(&self) -> Result<(), HostError> {
        self.message(ToHost::Stop)?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.is_connected() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// Hands `event` to terminal `id`'s mirror (its thread applies it).
    fn to_mirror(&self, id: &str, event: MirrorEvent) {
        let mut mirrors = self.mirrors.lock_or_recover();
        let ended = matches!(event, MirrorEvent::Exit(_));
        if let Some(mirror) = mirrors.get(id) {
            let _ = mirror.send(event);
        }
        if ended {
            mirrors.remove(id);
        }
    }
}

fn read_loop(mut reader: UnixStream, client: Weak<HostClient>) {
    loop {
        let frame = read_frame::<FromHost>(&mut reader);
        let Some(client) = client.upgrade() else {
            return;
        };
        match frame {
            Ok(Frame::Bytes { id, offset, data }) => {
                client.to_mirror(&id, MirrorEvent::Bytes { offset, data });
            }
            Ok(Frame::Message(FromHost::Snapshot { id, offset, data })) => {
                client.to_mirror(&id, MirrorEvent::Snapshot { offset, data });
            }
            Ok(Frame::Message(FromHost::Exit { id, code })) => {
                client.to_mirror(&id, MirrorEvent::Exit(code));
                let _ = client.message(ToHost::Forget { id });
            }
            Ok(Frame::Message(
                answer @ (FromHost::Spawned { req, .. }
                | FromHost::Failed { req, .. }
                | FromHost::Listing { req, .. }),
            )) => {
                if let Some(waiting) = client.pending.lock_or_recover().remove(&req) {
                    let _ = waiting.send(answer);
                }
            }
            Ok(Frame::Message(other)) => tracing::debug!("PTY host said {other:?}"),
            Err(err) => {
                if !err.is_closed() {
                    tracing::warn!("PTY host connection: {err}");
                }
                tracing::warn!(
                    "the PTY host (pid {}) is gone; its terminals ended",
                    client.info.pid
                );
                client.connected.store(false, Ordering::SeqCst);
                // Each mirror's thread sees its channel close and ends its process as lost.
                client.mirrors.lock_or_recover().clear();
                client.pending.lock_or_recover().clear();
                return;
            }
        }
    }
}

/// Keystrokes to a hosted terminal.
struct RemoteInput {
    client: Weak<HostClient>,
    id: String,
}

impl Write for RemoteInput {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let client = self
            .client
            .upgrade()
            .ok_or(std::io::ErrorKind::BrokenPipe)?;
        client.send(&Frame::Bytes {
            id: self.id.clone(),
            offset: 0,
            data: buf.to_vec(),
        })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Resizes and signals for a hosted terminal.
struct Remote {
    client: Weak<HostClient>,
    id: String,
}

impl Remote {
    fn tell(&self, message: ToHost) -> std::io::Result<()> {
        let client = self
            .client
            .upgrade()
            .ok_or(std::io::ErrorKind::BrokenPipe)?;
        client.message(message)
    }
}

impl RemoteControl for Remote {
    fn resize(&self, cols: u16, rows: u16) -> anyhow::Result<()> {
        Ok(self.tell(ToHost::Resize {
            id: self.id.clone(),
            cols,
            rows,
        })?)
    }

    fn terminate(&self) {
        let _ = self.tell(ToHost::Terminate {
            id: self.id.clone(),
        });
    }

    fn kill(&self) {
        let _ = self.tell(ToHost::Kill {
            id: self.id.clone(),
        });
    }
}

/// Starts `exe pty-host --state-dir DIR` in a session of its own, detached from this server
/// (a signal to the server's process group or terminal does not reach it).
fn start_host(state_dir: &Path, exe: &Path, log: &Path) -> Result<(), HostError> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(|err| HostError::Start(format!("{}: {err}", log.display())))?;
    let mut command = Command::new(exe);
    command
        .arg("pty-host")
        .arg("--state-dir")
        .arg(state_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: setsid is async-signal-safe; the child only calls it before exec.
    unsafe {
        command.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = command
        .spawn()
        .map_err(|err| HostError::Start(format!("{}: {err}", exe.display())))?;
    // The host outlives us; reap it if it ends first, so it never lingers as a zombie.
    std::thread::spawn(move || {
        let mut child = child;
        let _ = child.wait();
    });
    tracing::info!("started the PTY host for {}", state_dir.display());
    Ok(())
}

impl std::fmt::Debug for HostClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostClient")
            .field("state_dir", &self.state_dir)
            .field("info", &self.info)
            .finish()
    }
}
