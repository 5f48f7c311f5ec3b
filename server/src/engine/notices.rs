//! Result notices: one concise line per batch, typed into the Zhongshu's terminal.

use std::time::{Duration, Instant};

use app::api::*;

use super::state::Notice;
use super::{prompts, text, Engine, State};

/// Notices to a Zhongshu are batched over this window.
const NOTICE_BATCH: Duration = Duration::from_millis(1_000);

impl Engine {
    pub(super) fn queue_notice(&self, state: &mut State, result: &DepartmentResult) {
        let owner = result.parent_session_id.clone();
        if !state.session(&owner).is_some_and(|s| s.is_running()) {
            return;
        }
        state
            .notices
            .entry(owner)
            .or_insert_with(|| Notice {
                first_at: Instant::now(),
                results: Vec::new(),
            })
            .results
            .push(result.clone());
    }

    /// Types one concise line per batch into each notified Zhongshu terminal.
    pub(super) fn flush_notices(&self, force: bool) {
        let mut state = self.lock();
        let due: Vec<String> = state
            .notices
            .iter()
            .filter(|(_, n)| force || n.first_at.elapsed() >= NOTICE_BATCH)
            .map(|(id, _)| id.clone())
            .collect();
        for owner in due {
            let Some(notice) = state.notices.remove(&owner) else {
                continue;
            };
            let line = self.notice_line(&state, &owner, &notice.results);
            let agent = state.session(&owner).map(|s| s.agent.clone());
            if let (Some(process), Some(agent)) = (state.processes.get(&owner), agent) {
                self.type_notice(process, &agent, &line);
            }
        }
    }

    fn notice_line(&self, state: &State, owner: &str, results: &[DepartmentResult]) -> String {
        let departments: Vec<&str> = results.iter().map(|r| r.department.as_str()).collect();
        let summary = results
            .iter()
            .map(|r| r.summary.as_str())
            .collect::<Vec<_>>()
            .join(" | ");
        let risks: Vec<String> = results
            .iter()
            .flat_map(|r| r.risks.iter().cloned())
            .take(3)
            .collect();
        let children = state
            .sessions
            .iter()
            .filter(|s| s.parent_session_id.as_deref() == Some(owner));
        let (mut completed, mut running) = (0, 0);
        for child in children {
            if child.is_reported() || !child.is_running() {
                completed += 1;
            } else {
                running += 1;
            }
        }
        let queued = state
            .queue
            .iter()
            .filter(|(_, q)| q.parent_session_id == owner)
            .count();
        let next = results
            .iter()
            .map(|r| r.next_action.as_str())
            .find(|a| !a.is_empty())
            .map(str::to_string)
            .unwrap_or_else(|| {
                if running + queued == 0 {
                    "summarise if all done".into()
                } else {
                    "wait for the remaining departments".into()
                }
            });
        let risks = if risks.is_empty() {
            String::new()
        } else {
            format!(" Risks: {}.", risks.join("; "))
        };
        text::normalize(&format!(
            "[launcher] Result from {}: {}.{risks} Completed {completed}, running {running}, queued {queued}. Inbox: {}. Next: {}",
            departments.join(", "),
            text::clip(&summary, 220),
            prompts::inbox_url(&self.prompt_context(), owner, true),
            text::clip(&next, 200),
        ))
    }
}
