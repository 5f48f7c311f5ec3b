//! The engine's background work: the mailbox watcher and the periodic tick (collect mailboxes,
//! close finished departments, fallbacks, the queue, notices), and ending every process on
//! shutdown.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Engine;
use crate::pty::PtyProcess;
use crate::sync::LockOrRecover;

/// How often the engine re-scans mailboxes, pumps the queue and flushes notifications.
const TICK: Duration = Duration::from_millis(500);
/// At most one `report` push per this long.
const REPORT_PUSH_GAP: Duration = Duration::from_millis(100);

impl Engine {
    /// Starts the mailbox watcher and the periodic tick; collects what arrived while down.
    pub fn start_background(&self) {
        self.start_change_index();
        self.tick();
        match self.watch_mailboxes() {
            Ok(watcher) => *self.shared.watcher.lock_or_recover() = Some(watcher),
            Err(err) => {
                tracing::warn!(%err, "mailbox watcher unavailable; relying on the periodic scan")
            }
        }
        let weak = Arc::downgrade(&self.shared);
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(TICK);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let Some(shared) = weak.upgrade() else { break };
                let engine = Engine { shared };
                // Mailbox scans touch the disk and the database: keep them off the reactor.
                if tokio::task::spawn_blocking(move || engine.tick())
                    .await
                    .is_err()
                {
                    tracing::error!("engine tick panicked");
                }
            }
        });
    }

    /// Keeps the worktree report current from file events; pushes `report` when it changes (at
    /// most every 100 ms). Without it, reports are computed on request.
    fn start_change_index(&self) {
        // The index only signals; a small thread pushes, at most once per gap, so neither the
        // index nor a request that applied pending changes ever waits for the push.
        let (changed, changes) = std::sync::mpsc::channel::<()>();
        let weak = Arc::downgrade(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("report-push".into())
            .spawn(move || {
                while changes.recv().is_ok() {
                    while changes.try_recv().is_ok() {}
                    let Some(shared) = weak.upgrade() else { return };
                    Engine { shared }.emit("report", None);
                    std::thread::sleep(REPORT_PUSH_GAP);
                }
            });
        if let Err(err) = spawned {
            tracing::warn!(%err, "no report push thread");
        }
        let changed = std::sync::Mutex::new(changed);
        let on_change = Box::new(move || {
            let _ = changed.lock_or_recover().send(());
        });
        let shared = &self.shared;
        match crate::report::index::ChangeIndex::start(
            &shared.config.repo,
            Some(&shared.paths.root),
            shared.governance.clone(),
            on_change,
        ) {
            Ok(index) => {
                let _ = shared.index.set(index);
            }
            Err(err) => tracing::warn!("no change index ({err}); reports are computed on request"),
        }
    }

    /// One round of housekeeping: collect mailboxes, decide fallbacks, pump the queue, flush
    /// notifications, see whether worktrees can be made.
    pub fn tick(&self) {
        self.collect_all_mailboxes();
        self.close_overdue_departments();
        self.apply_fallbacks();
        self.pump_queue();
        self.flush_notices(false);
        self.refresh_worktree_fallback();
    }

    fn watch_mailboxes(&self) -> notify::Result<notify::RecommendedWatcher> {
        use notify::{EventKind, RecursiveMode, Watcher};
        let weak = Arc::downgrade(&self.shared);
        let root = self.shared.paths.mailbox_root.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if matches!(event.kind, EventKind::Access(_))
                    && !matches!(
                        event.kind,
                        EventKind::Access(notify::event::AccessKind::Close(_))
                    )
                {
                    return;
                }
                let Some(shared) = weak.upgrade() else { return };
                let engine = Engine { shared };
                let mut zhongshu_ids: Vec<String> = event
                    .paths
                    .iter()
                    .filter_map(|p| p.strip_prefix(&root).ok())
                    .filter_map(|rel| rel.components().next())
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                zhongshu_ids.dedup();
                for id in zhongshu_ids {
                    engine.collect_mailbox(&id);
                }
            })?;
        watcher.watch(&self.shared.paths.mailbox_root, RecursiveMode::Recursive)?;
        Ok(watcher)
    }

    /// Ends every process group (server shutdown) except those the PTY host keeps for the next
    /// server (sessions and shells, unless `--stop-agents-on-exit`): SIGTERM, a short wait,
    /// SIGKILL.
    pub fn shutdown(&self) {
        self.shared
            .shutting_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let keep_hosted = self.sessions_outlive_server();
        let processes: Vec<Arc<PtyProcess>> = {
            let state = self.lock();
            state
                .processes
                .values()
                .cloned()
                .chain(state.terminals.iter().filter_map(|t| t.process.clone()))
                .filter(|p| !(keep_hosted && p.is_hosted()))
                .collect()
        };
        for process in &processes {
            process.terminate();
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while processes.iter().any(|p| p.is_running()) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Also reaches children that outlived their session's leader.
        for process in &processes {
            process.kill_now();
        }
        // Agents end with this server: its PTY host has nothing left to keep.
        if self.shared.config.stop_agents_on_exit {
            self.stop_pty_host();
        }
    }
}
