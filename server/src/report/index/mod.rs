//! The change index: the governed repository's changed paths kept current by a file watcher, so
//! `GET /api/report` (worktree mode) answers from memory instead of walking the tree.
//!
//! Two sets make the worktree report: staged paths (HEAD vs the Git index) and workdir paths
//! (the index vs the files, untracked included). File events mark workdir paths dirty; after a
//! short debounce only the dirty paths are asked of Git again (one status call with them as
//! literal pathspecs, directories included). Events that move the baseline (`.git/HEAD`,
//! `.git/index`, refs, `.gitignore` files, `info/exclude`) and watcher overflows trigger a full
//! rescan. Paths under the launcher's state directory and ignored paths cause no Git work. When
//! the watcher cannot be had (watch limit, no events), the index rescans periodically instead and
//! says so (`WatchMode::Polling`).

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::api::{GovernanceReport, ReportSource, ReportWatch};
use git2::Repository;

use super::git::{all_workdir_changes, staged_with_sides, workdir_changes};
use super::{own_prefix, portability, route, Mode, ReportError};
use crate::governance::GovernanceConfig;
use crate::sync::LockOrRecover;
use watch::{watch_tree, watch_unless_disabled};

mod base;
mod watch;

/// Quiet time that ends a burst of events.
const SETTLE: Duration = Duration::from_millis(20);
/// A burst is processed at the latest this long after its first event.
const MAX_DEBOUNCE: Duration = Duration::from_millis(50);
/// How often, at most, the index rescans when it has no file events.
const POLL_EVERY: Duration = Duration::from_secs(2);
/// Polling spends at most about a tenth of one core: the interval is at least this many times
/// the last full scan's duration (a large repository is rescanned less often).
const POLL_COST_FACTOR: u32 = 10;

/// What a file event asks of the index.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Work {
    /// Ask Git about this workdir path again (a file or a directory, relative, `/`-separated).
    Path(String),
    /// The baseline moved (HEAD, the Git index, refs, ignore rules) or events were lost.
    Rescan,
    /// The watcher cannot cover the tree (the watch limit): rescan periodically from now on.
    Poll,
    /// A directory appeared (relative path): watch it and what is inside, unless ignored.
    NewDir(String),
    /// Ignore rules changed: directories may have become watchable; rescan too.
    Rewatch,
}

/// Called after the report changed (its content, not its time), or HEAD moved (what the tree is
/// compared with in base mode).
pub type OnChange = Box<dyn Fn() + Send + Sync>;

struct Sets {
    /// The commit HEAD pointed at when the sets were scanned.
    head: Option<git2::Oid>,
    staged: BTreeSet<String>,
    /// Every path a staged change touches, on either side (a staged rename's old path too).
    staged_sides: BTreeSet<String>,
    /// Batches applied so far: answers derived from the sets (staged and base reports) hold
    /// while it stays the same. Every batch counts, even one that left the sets as they were (a
    /// file's content may have moved relative to a base).
    epoch: u64,
    /// The staged report as of an epoch.
    staged_report: Option<(u64, GovernanceReport)>,
    workdir: BTreeSet<String>,
    report: GovernanceReport,
}

struct Shared {
    repo_dir: PathBuf,
    /// The launcher's own state directory inside the repository (`.tmp/`), if it is inside.
    own_prefix: Option<String>,
    config: GovernanceConfig,
    sets: Mutex<Sets>,
    /// Work received but not yet applied; `report()` applies it before answering.
    pending: Mutex<(BTreeSet<String>, bool)>,
    mode: Mutex<ReportWatch>,
    /// How long the last full scan took.
    scan_cost: Mutex<Duration>,
    /// The watcher: one non-recursive watch per directory that is not ignored.
    watcher: Mutex<Option<notify::RecommendedWatcher>>,
    /// The last base report's base-vs-HEAD paths.
    base_diff: Mutex<Option<base::BaseDiff>>,
    on_change: OnChange,
    /// Set by [`ChangeIndex::stop`]: the index thread ends.
    stopped: std::sync::atomic::AtomicBool,
}

/// Handle to the index; cheap to clone.
#[derive(Clone)]
pub struct ChangeIndex {
    shared: Arc<Shared>,
}

impl ChangeIndex {
    /// Scans the repository once, then keeps the index current from file events (or by
    /// periodic rescans when events cannot be had).
    pub fn start(
        repo_dir: &Path,
        state_dir: Option<&Path>,
        config: GovernanceConfig,
        on_change: OnChange,
    ) -> Result<ChangeIndex, ReportError> {
        let repo_dir = repo_dir
            .canonicalize()
            .unwrap_or_else(|_| repo_dir.to_path_buf());
        let own_prefix = own_prefix(&repo_dir, state_dir);
        let scan_started = Instant::now();
        let sets = with_retries(|| full_scan(&repo_dir, own_prefix.as_deref(), &config))?;
        let scan_cost = scan_started.elapsed();
        release_transient_memory();
        let shared = Arc::new(Shared {
            repo_dir: repo_dir.clone(),
            own_prefix,
            config,
            sets: Mutex::new(sets),
            pending: Mutex::new((BTreeSet::new(), false)),
            mode: Mutex::new(ReportWatch::Events),
            scan_cost: Mutex::new(scan_cost),
            watcher: Mutex::new(None),
            base_diff: Mutex::new(None),
            on_change,
            stopped: Default::default(),
        });
        let (events_tx, events_rx) = std::sync::mpsc::channel::<Vec<Work>>();
        let kick = events_tx.clone();
        match watch_unless_disabled(&shared, events_tx) {
            Ok(watcher) => {
                *shared.watcher.lock_or_recover() = Some(watcher);
                // Changes made between the first scan and the watches would show only at the
                // next event: one more scan, now that every change is seen.
                let _ = kick.send(vec![Work::Rescan]);
            }
            Err(err) => {
                tracing::warn!(%err, "no file events for the change index; rescanning every {}s", POLL_EVERY.as_secs());
                *shared.mode.lock_or_recover() = ReportWatch::Polling;
            }
        }
        // Only the watcher may hold the sender: dropping it is what stops the thread.
        drop(kick);
        let worker = shared.clone();
        std::thread::Builder::new()
            .name("change-index".into())
            .spawn(move || run(&worker, events_rx))
            .map_err(|err| ReportError::Repository(err.into()))?;
        Ok(ChangeIndex { shared })
    }

    /// The worktree report, with every event received so far applied.
    pub fn report(&self) -> Result<GovernanceReport, ReportError> {
        apply_pending(&self.shared)?;
        let mut report = self.shared.sets.lock_or_recover().report.clone();
        report.source = Some(self.source());
        Ok(report)
    }

    /// The staged report (the Git index against HEAD), from the same index.
    pub fn staged_report(&self) -> Result<GovernanceReport, ReportError> {
        apply_pending(&self.shared)?;
        let (staged, epoch) = {
            let sets = self.shared.sets.lock_or_recover();
            if let Some((at, report)) = &sets.staged_report {
                if *at == sets.epoch {
                    return Ok(report.clone());
                }
            }
            (sets.staged.clone(), sets.epoch)
        };
        let own = self.shared.own_prefix.as_deref();
        let paths: Vec<String> = staged
            .into_iter()
            .filter(|p| own.is_none_or(|own| !p.starts_with(own)))
            .collect();
        let preflight = portability::scan(
            &self.shared.repo_dir,
            &self.shared.config.portability_surfaces,
        )?;
        let mut report = route(&self.shared.config, &Mode::Staged, paths, preflight)?;
        report.computed_at = Some(now_millis());
        report.source = Some(self.source());
        let mut sets = self.shared.sets.lock_or_recover();
        if sets.epoch == epoch {
            sets.staged_report = Some((epoch, report.clone()));
        }
        Ok(report)
    }

    /// Ends the watcher and the index thread (the last answers stay readable).
    pub fn stop(&self) {
        self.shared
            .stopped
            .store(true, std::sync::atomic::Ordering::SeqCst);
        // Dropping the watcher closes the event channel, which wakes the thread.
        self.shared.watcher.lock_or_recover().take();
    }

    /// How the index learns of changes.
    pub fn mode(&self) -> ReportWatch {
        *self.shared.mode.lock_or_recover()
    }

    /// Where its answers come from: file events, or periodic scans.
    fn source(&self) -> ReportSource {
        match self.mode() {
            ReportWatch::Events => ReportSource::Index,
            ReportWatch::Polling => ReportSource::Scan,
        }
    }
}

/// Staged and workdir paths from scratch, and their report.
fn full_scan(
    repo_dir: &Path,
    own_prefix: Option<&str>,
    config: &GovernanceConfig,
) -> Result<Sets, ReportError> {
    let repo = Repository::open(repo_dir)
        .map_err(|err| ReportError::Repository(anyhow::anyhow!("{}: {err}", repo_dir.display())))?;
    let (staged, staged_sides) = staged_with_sides(&repo)?;
    let workdir = all_workdir_changes(repo_dir, &repo)?;
    let report = report_of(repo_dir, own_prefix, config, &staged, &workdir)?;
    Ok(Sets {
        head: repo
            .head()
            .ok()
            .and_then(|head| head.peel_to_commit().ok())
            .map(|commit| commit.id()),
        staged,
        staged_sides,
        epoch: 0,
        staged_report: None,
        workdir,
        report,
    })
}

fn report_of(
    repo_dir: &Path,
    own_prefix: Option<&str>,
    config: &GovernanceConfig,
    staged: &BTreeSet<String>,
    workdir: &BTreeSet<String>,
) -> Result<GovernanceReport, ReportError> {
    let paths: Vec<String> = staged
        .union(workdir)
        .filter(|p| own_prefix.is_none_or(|own| !p.starts_with(own)))
        .cloned()
        .collect();
    let preflight = portability::scan(repo_dir, &config.portability_surfaces)?;
    let mut report = route(config, &Mode::Worktree, paths, preflight)?;
    report.computed_at = Some(now_millis());
    Ok(report)
}

/// Runs a scan again when Git was caught in the middle of a change (an index rewritten while it
/// was read, a file removed while it was hashed): a few times, briefly.
fn with_retries<T>(mut scan: impl FnMut() -> Result<T, ReportError>) -> Result<T, ReportError> {
    let mut attempt = 0;
    loop {
        match scan() {
            Err(ReportError::Repository(err)) if attempt < 5 => {
                attempt += 1;
                tracing::debug!("change index: {err}; trying again");
                std::thread::sleep(Duration::from_millis(20 * attempt));
            }
            outcome => return outcome,
        }
    }
}

/// Gives the heap's free pages back to the system after a large computation (a full scan, a
/// base diff): they are transient, and glibc keeps them in its arenas otherwise, so the server's
/// resident memory would grow with the largest scan it ever did.
pub(super) fn release_transient_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the system; it takes no pointers.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn now_millis() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// The index thread: batches events (settled or at most `MAX_DEBOUNCE` old) and applies them;
/// in polling mode, rescans every `POLL_EVERY` (or less often when scans are expensive).
fn run(shared: &Arc<Shared>, events: Receiver<Vec<Work>>) {
    let stopped = || shared.stopped.load(std::sync::atomic::Ordering::SeqCst);
    loop {
        if stopped() {
            return;
        }
        let polling = *shared.mode.lock_or_recover() == ReportWatch::Polling;
        let first = if polling {
            let every = POLL_EVERY.max(*shared.scan_cost.lock_or_recover() * POLL_COST_FACTOR);
            match events.recv_timeout(every) {
                Ok(work) => work,
                Err(RecvTimeoutError::Timeout) => vec![Work::Rescan],
                Err(RecvTimeoutError::Disconnected) => {
                    let until = Instant::now() + every;
                    while Instant::now() < until && !stopped() {
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    vec![Work::Rescan]
                }
            }
        } else {
            match events.recv() {
                Ok(work) => work,
                Err(_) => return,
            }
        };
        let started = Instant::now();
        let mut batch = first;
        while started.elapsed() < MAX_DEBOUNCE {
            match events.recv_timeout(SETTLE) {
                Ok(more) => batch.extend(more),
                Err(_) => break,
            }
        }
        // New directories are watched before Git is asked about them, so nothing created in
        // them between the two is missed.
        for work in &batch {
            let root = match work {
                Work::NewDir(dir) => dir.as_str(),
                Work::Rewatch => "",
                _ => continue,
            };
            let mut watcher = shared.watcher.lock_or_recover();
            if let Some(watcher) = watcher.as_mut() {
                if watch_tree(watcher, shared, root).is_err() {
                    *shared.mode.lock_or_recover() = ReportWatch::Polling;
                }
            }
        }
        {
            let mut pending = shared.pending.lock_or_recover();
            for work in batch {
                match work {
                    Work::Path(path) => {
                        pending.0.insert(path);
                    }
                    Work::Rescan => pending.1 = true,
                    Work::NewDir(dir) => {
                        pending.0.insert(dir);
                    }
                    Work::Rewatch => pending.1 = true,
                    Work::Poll => {
                        tracing::warn!(
                            "too many directories to watch; the change index rescans every {}s",
                            POLL_EVERY.as_secs()
                        );
                        *shared.mode.lock_or_recover() = ReportWatch::Polling;
                        pending.1 = true;
                    }
                }
            }
        }
        if stopped() {
            return;
        }
        if let Err(err) = with_retries(|| apply_pending(shared)) {
            tracing::warn!("change index: {err}");
        }
    }
}

/// Applies pending work to the sets and recomputes the report; tells `on_change` when its
/// content changed.
fn apply_pending(shared: &Shared) -> Result<(), ReportError> {
    // The sets' lock serialises appliers; pending work is taken under it, so nothing is lost.
    let mut sets = shared.sets.lock_or_recover();
    let (dirty, rescan) = std::mem::take(&mut *shared.pending.lock_or_recover());
    if dirty.is_empty() && !rescan {
        return Ok(());
    }
    // Work that fails (Git caught mid-write: an index being rewritten, a file gone while it was
    // hashed) stays pending, so a retry or the next event does it.
    let keep = |err: ReportError| {
        let mut pending = shared.pending.lock_or_recover();
        pending.0.extend(dirty.iter().cloned());
        pending.1 |= rescan;
        err
    };
    let before = without_time(&sets.report);
    let own = shared.own_prefix.as_deref();
    // Only a rescan can move the staged set.
    let mut staged_changed = false;
    if rescan {
        let started = Instant::now();
        let fresh = full_scan(&shared.repo_dir, own, &shared.config).map_err(keep)?;
        *shared.scan_cost.lock_or_recover() = started.elapsed();
        staged_changed = fresh.staged != sets.staged || fresh.head != sets.head;
        let epoch = sets.epoch + 1;
        *sets = Sets { epoch, ..fresh };
        release_transient_memory();
    } else {
        let specs = relevant(&shared.repo_dir, dirty.clone());
        if specs.is_empty() {
            return Ok(());
        }
        sets.epoch += 1;
        let fresh = workdir_changes(&shared.repo_dir, &specs)
            .map_err(|err| keep(ReportError::Repository(err)))?;
        sets.workdir
            .retain(|path| !specs.iter().any(|spec| covers(spec, path)));
        sets.workdir.extend(fresh);
        let report = report_of(
            &shared.repo_dir,
            own,
            &shared.config,
            &sets.staged,
            &sets.workdir,
        )?;
        sets.report = report;
    }
    let changed = staged_changed || before != without_time(&sets.report);
    drop(sets);
    if changed {
        (shared.on_change)();
    }
    Ok(())
}

/// Dirty paths worth asking Git about: not ignored (ignored ones cannot be changes), and none
/// inside another one of the batch.
fn relevant(repo_dir: &Path, dirty: BTreeSet<String>) -> Vec<String> {
    let Ok(repo) = Repository::open(repo_dir) else {
        return dirty.into_iter().collect();
    };
    let mut ignored_dirs: HashSet<String> = HashSet::new();
    // Loaded once, and only when an ignored path may still be tracked.
    let mut index: Option<Option<git2::Index>> = None;
    let mut out: Vec<String> = Vec::new();
    for path in dirty {
        if out.iter().any(|kept| covers(kept, &path)) {
            continue;
        }
        let top = path.split('/').next().unwrap_or(&path).to_string();
        if ignored_dirs.contains(&top) {
            continue;
        }
        if path != top && repo.is_path_ignored(Path::new(&top)).unwrap_or(false) {
            ignored_dirs.insert(top);
            continue;
        }
        // An ignored path that Git tracks anyway still counts; `status` knows best for those.
        if repo.is_path_ignored(Path::new(&path)).unwrap_or(false) {
            let tracked = index
                .get_or_insert_with(|| repo.index().ok())
                .as_ref()
                .is_some_and(|index| index.get_path(Path::new(&path), 0).is_some());
            if !tracked {
                continue;
            }
        }
        out.push(path);
    }
    out
}

/// Whether the literal pathspec `spec` covers `path` (itself, or inside it as a directory).
fn covers(spec: &str, path: &str) -> bool {
    path == spec
        || path
            .strip_prefix(spec)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn without_time(report: &GovernanceReport) -> GovernanceReport {
    GovernanceReport {
        computed_at: None,
        source: None,
        ..report.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pathspecs_cover_themselves_and_what_is_inside() {
        assert!(covers("src", "src"));
        assert!(covers("src", "src/a.rs"));
        assert!(!covers("src", "src2/a.rs"));
        assert!(!covers("src/a.rs", "src"));
    }
}
