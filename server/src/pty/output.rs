//! A terminal's output as everyone in this process sees it: the bounded ring of retained bytes
//! (absolute stream offsets), the emulated screen that follows it on a thread of its own, the
//! progress watch viewers wait on, and the pacing readers the writer waits for.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::ring::Ring;
use super::screen::Screen;
use crate::sync::LockOrRecover;

/// The progress of a terminal's output stream, published to viewers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputProgress {
    /// Absolute offset one past the newest byte.
    pub end: u64,
    /// No more output will come (the PTY closed).
    pub closed: bool,
}

/// Bytes printed by every PTY of this process so far. Maintained views key on it: any output
/// may change what they show (previews, activity), and reading one atomic is cheaper than
/// asking every terminal.
static PRINTED: AtomicU64 = AtomicU64::new(0);

/// See [`PRINTED`].
pub fn bytes_printed() -> u64 {
    PRINTED.load(Ordering::Acquire)
}

/// The emulated screen, and the stream offset up to which it has read the output.
struct ScreenState {
    screen: Screen,
    at: u64,
}

/// Output read by the screen's thread at a time.
const SCREEN_CHUNK: usize = 256 * 1024;

/// Output shared between the reader thread and everyone who watches it.
///
/// The emulated screen reads the retained output on a thread of its own, so emulation never
/// slows the reader (nor, through the PTY, the program). A snapshot first brings the screen up
/// to the end of the stream, so it is exact unless the screen fell behind by more than the ring
/// holds (a flood of output faster than the emulator): it then goes on from the oldest byte kept.
/// Locks are taken screen first, then ring.
pub struct Output {
    ring: Mutex<Ring>,
    screen: Mutex<ScreenState>,
    /// Wakes the screen's thread when bytes arrive (one pending wake is enough).
    wake: std::sync::mpsc::SyncSender<()>,
    progress: watch::Sender<OutputProgress>,
    /// Unix milliseconds of the last output, 0 before any.
    last_output_ms: AtomicI64,
    /// Readers that new output waits for (see [`Output::pacer`]): the offsets they have taken.
    pacers: Mutex<Vec<std::sync::Weak<AtomicU64>>>,
}

/// How long new output waits, at most, for a pacing reader to make room.
const PACE_WAIT: Duration = Duration::from_millis(500);

impl Output {
    pub(super) fn new(capacity: usize, cols: u16, rows: u16) -> Arc<Output> {
        let (wake, woken) = std::sync::mpsc::sync_channel::<()>(1);
        let output = Arc::new(Output {
            ring: Mutex::new(Ring::new(capacity)),
            screen: Mutex::new(ScreenState {
                screen: Screen::new(cols, rows),
                at: 0,
            }),
            wake,
            progress: watch::channel(OutputProgress {
                end: 0,
                closed: false,
            })
            .0,
            last_output_ms: AtomicI64::new(0),
            pacers: Mutex::new(Vec::new()),
        });
        let weak = Arc::downgrade(&output);
        let spawned = std::thread::Builder::new()
            .name("pty-screen".into())
            .spawn(move || {
                // Ends when the output is dropped (and with it the sending side).
                while woken.recv().is_ok() {
                    let Some(output) = weak.upgrade() else { return };
                    let mut screen = output.screen.lock_or_recover();
                    output.catch_up(&mut screen);
                }
            });
        if let Err(err) = spawned {
            // Snapshots still bring the screen up to date themselves.
            tracing::warn!(%err, "no screen thread for a terminal");
        }
        output
    }

    /// Registers a reader that output waits for: while the offset it stores (the bytes it has
    /// taken) is so far behind that new bytes would push untaken ones out of the ring, the
    /// writer waits, up to [`PACE_WAIT`] per write. The PTY host paces its output this way to
    /// the server it streams to, as a terminal slows a program it cannot draw fast enough;
    /// viewers never pace (a slow one gets a snapshot). Dropping the handle ends the pacing.
    pub fn pacer(&self, offset: u64) -> Arc<AtomicU64> {
        let pacer = Arc::new(AtomicU64::new(offset));
        let mut pacers = self.pacers.lock_or_recover();
        pacers.retain(|p| p.strong_count() > 0);
        pacers.push(Arc::downgrade(&pacer));
        pacer
    }

    /// Waits (briefly) until `incoming` more bytes fit without overwriting what a pacer has not
    /// taken yet.
    fn wait_for_pacers(&self, incoming: usize) {
        let deadline = std::time::Instant::now() + PACE_WAIT;
        loop {
            let slowest = self
                .pacers
                .lock_or_recover()
                .iter()
                .filter_map(|p| p.upgrade())
                .map(|p| p.load(Ordering::Acquire))
                .min();
            let Some(slowest) = slowest else { return };
            let (end, capacity) = {
                let ring = self.ring.lock_or_recover();
                (ring.end(), ring.capacity() as u64)
            };
            let fits = end + incoming as u64 <= slowest + capacity;
            if fits || std::time::Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    pub(super) fn append(&self, data: &[u8]) {
        self.wait_for_pacers(data.len());
        let end = {
            let mut ring = self.ring.lock_or_recover();
            ring.push(data);
            ring.end()
        };
        self.last_output_ms
            .store(chrono::Utc::now().timestamp_millis(), Ordering::Relaxed);
        self.progress.send_modify(|p| p.end = end);
        let _ = self.wake.try_send(());
        // After the ring and the clock: whoever sees the new count sees the new bytes.
        PRINTED.fetch_add(data.len() as u64, Ordering::Release);
    }

    /// Feeds the screen what the ring holds beyond it, a chunk at a time (the reader is held up
    /// only while a chunk is copied out).
    fn catch_up(&self, screen: &mut ScreenState) {
        loop {
            let (from, bytes) = self
                .ring
                .lock_or_recover()
                .read_from(screen.at, SCREEN_CHUNK);
            if from > screen.at {
                tracing::debug!(
                    lost = from - screen.at,
                    "a terminal's screen fell behind its retained output"
                );
            }
            screen.at = from + bytes.len() as u64;
            if bytes.is_empty() {
                return;
            }
            screen.screen.process(&bytes);
        }
    }

    pub(super) fn close(&self) {
        self.progress.send_modify(|p| p.closed = true);
    }

    /// A mirror told that the stream goes on at `offset` from the screen `snapshot` (escape
    /// sequences): what it retained is forgotten, the screen redrawn from the snapshot.
    pub(super) fn restart(&self, offset: u64, snapshot: &str) {
        let end = {
            let mut screen = self.screen.lock_or_recover();
            let mut ring = self.ring.lock_or_recover();
            ring.jump_to(offset);
            screen.screen.restore(snapshot);
            screen.at = offset;
            ring.end()
        };
        self.progress.send_modify(|p| p.end = end);
    }

    /// See [`Ring::read_from`].
    pub fn read_from(&self, offset: u64, max: usize) -> (u64, Vec<u8>) {
        self.ring.lock_or_recover().read_from(offset, max)
    }

    pub fn tail(&self, max: usize) -> Vec<u8> {
        self.ring.lock_or_recover().tail(max)
    }

    /// Escape sequences that reproduce the terminal as it is after the first `offset` bytes
    /// (see [`Screen::snapshot`]), and that offset: the stream goes on from there.
    pub fn snapshot(&self) -> (u64, String) {
        let mut screen = self.screen.lock_or_recover();
        self.catch_up(&mut screen);
        // The last bytes under the ring's lock: the end cannot move until the snapshot is made.
        let ring = self.ring.lock_or_recover();
        let (from, rest) = ring.read_from(screen.at, usize::MAX);
        screen.screen.process(&rest);
        screen.at = from + rest.len() as u64;
        (ring.end(), screen.screen.snapshot())
    }

    pub(super) fn resize_screen(&self, cols: u16, rows: u16) {
        let mut screen = self.screen.lock_or_recover();
        // What was printed before the resize is drawn at the old size.
        self.catch_up(&mut screen);
        screen.screen.resize(cols, rows);
    }

    /// Offset one past the newest byte: how much the program has printed.
    pub fn end(&self) -> u64 {
        self.progress.borrow().end
    }

    pub fn subscribe(&self) -> watch::Receiver<OutputProgress> {
        self.progress.subscribe()
    }

    /// When the process last printed something (unix ms), if ever.
    pub fn last_output_ms(&self) -> Option<i64> {
        Some(self.last_output_ms.load(Ordering::Relaxed)).filter(|ms| *ms > 0)
    }
}
