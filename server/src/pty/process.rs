//! A child process in a pseudo-terminal: output goes to a transcript file and a bounded ring of
//! retained output (for late viewers and previews); input, resize and process-group kill.

use crate::sync::LockOrRecover;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portable_pty::{native_pty_system, CommandBuilder, MasterPty, PtySize};
use tokio::sync::watch;

use super::osc::{OscScanner, TerminalSignal};
use super::output::Output;

/// The size a terminal starts with, in cells.
pub const DEFAULT_COLS: u16 = 120;
pub const DEFAULT_ROWS: u16 = 32;
/// Default retained output per terminal.
pub const DEFAULT_RING_BYTES: usize = 1024 * 1024;
/// Writes that may wait for a program to read its input before further input is refused.
const INPUT_QUEUE: usize = 256;
/// What a terminal that understands OSC 7501 state reports answers to the query.
const STATE_QUERY_ANSWER: &[u8] = b"\x1b]7501;?\x07";
/// How long a terminated process group gets before SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// What to start (also what a server asks the PTY host to start).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpawnSpec {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub cols: u16,
    pub rows: u16,
    /// Raw output is appended here as it arrives.
    pub transcript: Option<PathBuf>,
    pub ring_bytes: usize,
    /// Answer the program's OSC 7501 query, so agents that report their state only to a
    /// terminal that understands it (Claude Code) do.
    pub answer_state_query: bool,
    /// Start from this process's environment (plus `env`); off, `env` is the whole environment.
    pub inherit_env: bool,
}

impl SpawnSpec {
    pub fn new(program: impl Into<String>, args: Vec<String>, cwd: PathBuf) -> SpawnSpec {
        SpawnSpec {
            program: program.into(),
            args,
            cwd,
            env: Vec::new(),
            cols: DEFAULT_COLS,
            rows: DEFAULT_ROWS,
            transcript: None,
            ring_bytes: DEFAULT_RING_BYTES,
            answer_state_query: false,
            inherit_env: true,
        }
    }
}

/// One piece of a typed input sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputPart {
    Bytes(Vec<u8>),
    /// The writer waits this long before the next part (some programs treat input that arrives
    /// in one burst as a paste and do not submit it).
    Pause(Duration),
}

/// A unit of input: its parts are written in order with nothing else in between.
pub(super) struct InputJob {
    parts: Vec<InputPart>,
    /// Told once every part was written (or writing failed).
    done: Option<std::sync::mpsc::SyncSender<std::io::Result<()>>>,
}

/// Called on the reader thread for every signal the program announces.
pub type SignalHandler = Box<dyn Fn(TerminalSignal) + Send + 'static>;

/// Where a process's PTY is: in this process, or in a PTY host.
enum Backend {
    Local(Mutex<Box<dyn MasterPty + Send>>),
    Remote(Arc<dyn RemoteControl>),
}

/// What a hosted process's owner does for it on the host.
pub(super) trait RemoteControl: Send + Sync {
    fn resize(&self, cols: u16, rows: u16) -> anyhow::Result<()>;
    fn terminate(&self);
    fn kill(&self);
}

/// The mirrored state of a hosted process, fed from the host's stream.
pub(super) struct HostedMirror {
    pub output: Arc<Output>,
    pub size: watch::Sender<(u16, u16)>,
    pub title: watch::Sender<Option<String>>,
    pub exit: watch::Receiver<Option<i32>>,
}

/// Takes a terminal's output as it arrives: into the ring and screen, and through the signal
/// scanner (titles, agent states, state queries answered on `answers`).
pub(super) struct OutputConsumer {
    pub output: Arc<Output>,
    pub scanner: OscScanner,
    pub title: watch::Sender<Option<String>>,
    pub on_signal: SignalHandler,
    pub answers: Option<std::sync::mpsc::SyncSender<InputJob>>,
}

impl OutputConsumer {
    pub fn consume(&mut self, bytes: &[u8]) {
        self.output.append(bytes);
        for signal in self.scanner.scan(bytes) {
            match &signal {
                TerminalSignal::Title(text) => {
                    self.title.send_replace(Some(text.clone()));
                }
                TerminalSignal::StateQuery => {
                    if let Some(answers) = &self.answers {
                        let _ = answers.try_send(InputJob {
                            parts: vec![InputPart::Bytes(STATE_QUERY_ANSWER.to_vec())],
                            done: None,
                        });
                    }
                }
                TerminalSignal::AgentState(_) | TerminalSignal::Workspace(_) => {}
            }
            (self.on_signal)(signal);
        }
    }
}

/// Starts the thread that writes a terminal's input jobs to `writer` in order (parts of a job
/// with nothing in between, pauses kept); returns its queue.
fn spawn_input_pump(
    name: String,
    mut writer: Box<dyn Write + Send>,
) -> std::io::Result<std::sync::mpsc::SyncSender<InputJob>> {
    let (input, pending) = std::sync::mpsc::sync_channel::<InputJob>(INPUT_QUEUE);
    std::thread::Builder::new().name(name).spawn(move || {
        for job in pending {
            let mut outcome = Ok(());
            for part in job.parts {
                match part {
                    InputPart::Bytes(bytes) => {
                        outcome = writer.write_all(&bytes).and_then(|_| writer.flush());
                    }
                    InputPart::Pause(pause) => std::thread::sleep(pause),
                }
                if outcome.is_err() {
                    break;
                }
            }
            let failed = outcome.is_err();
            if let Some(done) = job.done {
                let _ = done.send(outcome);
            }
            if failed {
                break;
            }
        }
    })?;
    Ok(input)
}

/// A running (or finished) process on a PTY.
pub struct PtyProcess {
    pid: u32,
    output: Arc<Output>,
    /// Input goes through a bounded queue to a writer thread: a program that stops reading its
    /// terminal fills the PTY buffer, and that must block nobody but that thread.
    input: std::sync::mpsc::SyncSender<InputJob>,
    backend: Backend,
    /// The terminal's size in cells (cols, rows); viewers follow it.
    size: watch::Sender<(u16, u16)>,
    /// The window title the program set last (OSC 0 / 2).
    title: watch::Sender<Option<String>>,
    /// The viewer whose keystrokes reach the program (0: nobody), where viewers take turns.
    controller: watch::Sender<u64>,
    exit: watch::Receiver<Option<i32>>,
}

impl PtyProcess {
    /// Starts the process in a new session (its own process group) on a fresh PTY.
    /// `on_exit` runs once, after the process ended and its output was drained.
    pub fn spawn(
        spec: SpawnSpec,
        on_exit: impl FnOnce(i32) + Send + 'static,
    ) -> anyhow::Result<Arc<PtyProcess>> {
        Self::spawn_observed(spec, Box::new(|_| {}), on_exit)
    }

    /// Like [`PtyProcess::spawn`], and `on_signal` hears every title and agent state the
    /// program announces in its output (see [`super::osc`]).
    pub fn spawn_observed(
        spec: SpawnSpec,
        on_signal: SignalHandler,
        on_exit: impl FnOnce(i32) + Send + 'static,
    ) -> anyhow::Result<Arc<PtyProcess>> {
        let pair = native_pty_system().openpty(PtySize {
            rows: spec.rows,
            cols: spec.cols,
            pixel_width: 0,
            pixel_height: 0,
        })?;
        let mut command = CommandBuilder::new(&spec.program);
        command.args(&spec.args);
        command.cwd(&spec.cwd);
        if !spec.inherit_env {
            command.env_clear();
        }
        command.env("TERM", "xterm-256color");
        for (key, value) in &spec.env {
            command.env(key, value);
        }
        let mut transcript = match &spec.transcript {
            Some(path) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    // Never through a symlink planted under the transcript's name.
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(path)?,
            ),
            None => None,
        };
        let mut child = pair.slave.spawn_command(command)?;
        // Our copy of the slave must go, or the reader would never see end-of-file.
        drop(pair.slave);
        let pid = child.process_id().unwrap_or(0);
        let mut reader = pair.master.try_clone_reader()?;
        let writer = pair.master.take_writer()?;
        let input = spawn_input_pump(format!("pty-write-{pid}"), Box::new(writer))?;

        let output = Output::new(spec.ring_bytes, spec.cols, spec.rows);
        let (drained_tx, drained_rx) = std::sync::mpsc::channel::<()>();
        let title = watch::channel(None).0;
        let mut consumer = OutputConsumer {
            output: output.clone(),
            scanner: OscScanner::default(),
            title: title.clone(),
            on_signal,
            answers: spec.answer_state_query.then(|| input.clone()),
        };
        std::thread::Builder::new()
            .name(format!("pty-read-{pid}"))
            .spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match reader.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            if let Some(file) = transcript.as_mut() {
                                if let Err(err) = file.write_all(&buf[..n]) {
                                    tracing::warn!(%err, pid, "transcript write failed; continuing without it");
                                    transcript = None;
                                }
                            }
                            consumer.consume(&buf[..n]);
                        }
                        Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                        // EIO: every slave descriptor is closed.
                        Err(_) => break,
                    }
                }
                consumer.output.close();
                let _ = drained_tx.send(());
            })?;

        let (exit_tx, exit_rx) = watch::channel(None);
        std::thread::Builder::new()
            .name(format!("pty-wait-{pid}"))
            .spawn(move || {
                // -1: ended by a signal (portable-pty names the signal but not its number).
                let code = match child.wait() {
                    Ok(status) if status.signal().is_some() => -1,
                    Ok(status) => status.exit_code() as i32,
                    Err(_) => -1,
                };
                // Let the reader drain what the process printed last; a grandchild holding the
                // terminal open must not delay the exit forever.
                let _ = drained_rx.recv_timeout(Duration::from_secs(2));
                // The owner records the exit before viewers learn of it, so anyone reacting to
                // the exit already sees the updated state.
                on_exit(code);
                let _ = exit_tx.send(Some(code));
            })?;

        Ok(Arc::new(PtyProcess {
            pid,
            output,
            input,
            backend: Backend::Local(Mutex::new(pair.master)),
            size: watch::channel((spec.cols, spec.rows)).0,
            title,
            controller: watch::channel(0).0,
            exit: exit_rx,
        }))
    }

    /// A process another process hosts (see `super::host`): its output, size, title and exit
    /// are mirrored here by whoever reads the host's stream; input, resizes and signals go to
    /// `remote`.
    pub(super) fn hosted(
        pid: u32,
        mirror: HostedMirror,
        input: Box<dyn Write + Send>,
        remote: Arc<dyn RemoteControl>,
    ) -> std::io::Result<Arc<PtyProcess>> {
        let input = spawn_input_pump(format!("pty-forward-{pid}"), input)?;
        Ok(Arc::new(PtyProcess {
            pid,
            output: mirror.output,
            input,
            backend: Backend::Remote(remote),
            size: mirror.size,
            title: mirror.title,
            controller: watch::channel(0).0,
            exit: mirror.exit,
        }))
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the PTY lives in the PTY host (and outlives this server).
    pub fn is_hosted(&self) -> bool {
        matches!(self.backend, Backend::Remote(_))
    }

    pub fn output(&self) -> &Arc<Output> {
        &self.output
    }

    /// Exit code once the process ended.
    pub fn exit_code(&self) -> Option<i32> {
        *self.exit.borrow()
    }

    pub fn is_running(&self) -> bool {
        self.exit_code().is_none()
    }

    /// A receiver that turns `Some(code)` when the process ends.
    pub fn exit_watch(&self) -> watch::Receiver<Option<i32>> {
        self.exit.clone()
    }

    /// Queues input for the process; never blocks. Fails when the process is gone or has left
    /// [`INPUT_QUEUE`] writes unread.
    pub fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        self.queue(InputJob {
            parts: vec![InputPart::Bytes(bytes.to_vec())],
            done: None,
        })
    }

    /// Queues a typed sequence (nothing else is written between its parts) and returns a
    /// receiver that is told once the last part was written. Never blocks.
    pub fn type_parts(
        &self,
        parts: Vec<InputPart>,
    ) -> std::io::Result<std::sync::mpsc::Receiver<std::io::Result<()>>> {
        let (done, written) = std::sync::mpsc::sync_channel(1);
        self.queue(InputJob {
            parts,
            done: Some(done),
        })?;
        Ok(written)
    }

    fn queue(&self, job: InputJob) -> std::io::Result<()> {
        use std::sync::mpsc::TrySendError;
        match self.input.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                "the program is not reading its terminal input",
            )),
            Err(TrySendError::Disconnected(_)) => Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the terminal is closed",
            )),
        }
    }

    /// Sets the terminal's size; viewers watching [`PtyProcess::size_watch`] hear of it.
    pub fn resize(&self, cols: u16, rows: u16) -> anyhow::Result<()> {
        let (cols, rows) = (cols.max(1), rows.max(1));
        match &self.backend {
            Backend::Local(master) => {
                let master = master.lock_or_recover();
                // The screen first: output the program draws for the new size comes after this.
                self.output.resize_screen(cols, rows);
                master.resize(PtySize {
                    rows,
                    cols,
                    pixel_width: 0,
                    pixel_height: 0,
                })?;
            }
            Backend::Remote(remote) => {
                self.output.resize_screen(cols, rows);
                remote.resize(cols, rows)?;
            }
        }
        self.size.send_if_modified(|size| {
            let changed = *size != (cols, rows);
            *size = (cols, rows);
            changed
        });
        Ok(())
    }

    /// The terminal's size in cells: (cols, rows).
    pub fn size(&self) -> (u16, u16) {
        *self.size.borrow()
    }

    pub fn size_watch(&self) -> watch::Receiver<(u16, u16)> {
        self.size.subscribe()
    }

    /// Gives control to `viewer` (taking it from whoever had it).
    pub fn take_control(&self, viewer: u64) {
        self.controller.send_replace(viewer);
    }

    /// Gives up control, if `viewer` still holds it.
    pub fn release_control(&self, viewer: u64) {
        self.controller.send_if_modified(|holder| {
            let held = *holder == viewer;
            if held {
                *holder = 0;
            }
            held
        });
    }

    /// Who holds control (0: nobody).
    pub fn controller_watch(&self) -> watch::Receiver<u64> {
        self.controller.subscribe()
    }

    /// The window title the program set last, if any.
    pub fn title_watch(&self) -> watch::Receiver<Option<String>> {
        self.title.subscribe()
    }

    /// Ends the whole process group: SIGHUP + SIGTERM now, SIGKILL after a grace period (also
    /// reaching children that outlived the leader).
    pub fn terminate(&self) {
        if let Backend::Remote(remote) = &self.backend {
            remote.terminate();
            return;
        }
        let pgid = self.pid as libc::pid_t;
        if pgid <= 1 {
            return;
        }
        signal_group(pgid, libc::SIGHUP);
        signal_group(pgid, libc::SIGTERM);
        let _ = std::thread::Builder::new()
            .name(format!("pty-kill-{pgid}"))
            .spawn(move || {
                std::thread::sleep(KILL_GRACE);
                signal_group(pgid, libc::SIGKILL);
            });
    }

    /// Immediate SIGKILL of the whole group (server shutdown).
    pub fn kill_now(&self) {
        if let Backend::Remote(remote) = &self.backend {
            remote.kill();
            return;
        }
        let pgid = self.pid as libc::pid_t;
        if pgid > 1 {
            signal_group(pgid, libc::SIGKILL);
        }
    }
}

fn signal_group(pgid: libc::pid_t, signal: libc::c_int) {
    // SAFETY: killpg only sends a signal; ESRCH (group gone) is fine.
    unsafe {
        libc::killpg(pgid, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> SpawnSpec {
        SpawnSpec::new("sh", vec!["-c".into(), script.into()], std::env::temp_dir())
    }

    /// The output so far once it contains `needle` (or after 5 s).
    fn wait_for_output(process: &PtyProcess, needle: &str) -> String {
        let mut text = String::new();
        for _ in 0..500 {
            text = String::from_utf8_lossy(&process.output().tail(4096)).into_owned();
            if text.contains(needle) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        text
    }

    fn wait_exit(process: &PtyProcess) -> i32 {
        let mut exit = process.exit_watch();
        for _ in 0..500 {
            if let Some(code) = *exit.borrow_and_update() {
                return code;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("process did not exit");
    }

    #[test]
    fn output_of_a_fast_exit_is_kept_with_the_exit_code() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = sh("printf 'hello\\n'; exit 3");
        spec.transcript = Some(dir.path().join("t.log"));
        let (tx, rx) = std::sync::mpsc::channel();
        let process = PtyProcess::spawn(spec, move |code| tx.send(code).unwrap()).unwrap();
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 3);
        assert_eq!(wait_exit(&process), 3);
        assert_eq!(process.output().tail(100), b"hello\r\n");
        assert_eq!(
            std::fs::read(dir.path().join("t.log")).unwrap(),
            b"hello\r\n"
        );
        assert!(process.output().last_output_ms().is_some());
    }

    #[test]
    fn input_reaches_the_process_and_size_is_applied() {
        let process =
            PtyProcess::spawn(sh("stty size; read line; echo got:$line"), |_| {}).unwrap();
        process.write(b"ping\r").unwrap();
        // Waits for the answer itself, not the exit: this test is about input and size. (Output
        // at exit has its own tests; once in CI the exit came first here, cause unknown.)
        let text = wait_for_output(&process, "got:ping");
        let code = process.exit_code();
        assert!(text.contains("32 120"), "{text} (exit {code:?})");
        assert!(text.contains("got:ping"), "{text} (exit {code:?})");
        assert_eq!(wait_exit(&process), 0);
    }

    #[test]
    fn typed_parts_arrive_in_order_with_the_pause_between() {
        let process = PtyProcess::spawn(sh("read line; echo got:$line"), |_| {}).unwrap();
        let started = std::time::Instant::now();
        let written = process
            .type_parts(vec![
                InputPart::Bytes(b"pi".to_vec()),
                InputPart::Pause(Duration::from_millis(120)),
                InputPart::Bytes(b"ng\r".to_vec()),
            ])
            .unwrap();
        written
            .recv_timeout(Duration::from_secs(5))
            .unwrap()
            .unwrap();
        assert!(
            started.elapsed() >= Duration::from_millis(120),
            "told before the pause was over: {:?}",
            started.elapsed()
        );
        let text = wait_for_output(&process, "got:ping");
        assert!(text.contains("got:ping"), "{text}");
    }

    #[test]
    fn announced_signals_reach_the_handler_and_resizes_the_watchers() {
        let (tx, rx) = std::sync::mpsc::channel();
        let process = PtyProcess::spawn_observed(
            sh("printf '\\033]7501;state=working:app=x\\033\\\\\\033]0;busy\\007'; sleep 5"),
            Box::new(move |signal| {
                let _ = tx.send(signal);
            }),
            |_| {},
        )
        .unwrap();
        let first = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        let second = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(first, TerminalSignal::AgentState("working".into()));
        assert_eq!(second, TerminalSignal::Title("busy".into()));
        assert_eq!(*process.title_watch().borrow(), Some("busy".to_string()));
        let mut size = process.size_watch();
        assert_eq!(*size.borrow_and_update(), (120, 32));
        process.resize(90, 20).unwrap();
        assert!(size.has_changed().unwrap());
        assert_eq!(process.size(), (90, 20));
        process.kill_now();
    }

    #[test]
    fn a_program_that_never_reads_input_blocks_no_writer() {
        let process = PtyProcess::spawn(sh("sleep 30"), |_| {}).unwrap();
        let started = std::time::Instant::now();
        let chunk = vec![b'x'; 4096];
        let mut refused = false;
        for _ in 0..10_000 {
            if process.write(&chunk).is_err() {
                refused = true;
                break;
            }
        }
        assert!(
            refused,
            "input beyond the queue is refused, not buffered without bound"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "writes blocked for {:?}",
            started.elapsed()
        );
        process.kill_now();
    }

    #[test]
    fn terminate_ends_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("child.pid");
        let script = format!("sleep 300 & echo $! > {}; wait", pidfile.display());
        let process = PtyProcess::spawn(sh(&script), |_| {}).unwrap();
        let mut child_pid = String::new();
        for _ in 0..200 {
            child_pid = std::fs::read_to_string(&pidfile).unwrap_or_default();
            if child_pid.ends_with('\n') {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let child_pid: i32 = child_pid.trim().parse().unwrap();
        process.terminate();
        wait_exit(&process);
        let mut alive = true;
        for _ in 0..400 {
            // SAFETY: signal 0 only checks existence.
            alive = unsafe { libc::kill(child_pid, 0) } == 0;
            if !alive {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!alive, "grandchild {child_pid} survived");
    }
}
