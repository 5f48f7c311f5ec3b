//! Base-mode reports (the base tree against the working tree) from the change index.
//!
//! A path can differ between the base and the working tree only if it differs between the base
//! and HEAD, between HEAD and the Git index, or between the index and the files. The first is a
//! tree diff, cached by the two trees' ids; the other two are the index's own sets. Asking Git
//! about just those paths gives the cold diff's answer without walking the tree, and the answer
//! is kept until the index applies another batch of events (a new epoch).

use std::collections::BTreeSet;
use std::sync::Arc;

use app::api::{GovernanceReport, ReportSource};
use git2::{Oid, Repository};

use super::{apply_pending, now_millis, release_transient_memory, with_retries, ChangeIndex};
use crate::report::git::{against_base_among, base_tree, tree_sides};
use crate::report::{changed_paths, portability, route, Mode, ReportError};
use crate::sync::LockOrRecover;

/// The last base report: the paths that differ between its base tree and HEAD's tree, and the
/// report itself as of an epoch of the index.
pub(super) struct BaseDiff {
    base_tree: Oid,
    head_tree: Option<Oid>,
    sides: Arc<BTreeSet<String>>,
    /// The last report: its epoch, the base name and the untracked flag it was asked with.
    report: Option<(u64, String, bool, GovernanceReport)>,
}

impl ChangeIndex {
    /// The report against `base` (a commit, tag or tree), with every event so far applied.
    /// Tracked files only, as `report --base` shows.
    pub fn base_report(&self, base: &str) -> Result<GovernanceReport, ReportError> {
        with_retries(|| self.base_report_of(base, false))
    }

    /// The same with untracked files counted as changes: what a department's worktree holds
    /// against its base commit, new files included.
    pub fn base_report_with_untracked(&self, base: &str) -> Result<GovernanceReport, ReportError> {
        with_retries(|| self.base_report_of(base, true))
    }

    /// Every path that may differ from `base` (on either side of a change, untracked files
    /// included), from the index without walking the tree; `None` when a name is not UTF-8 (it
    /// could not be asked for literally).
    pub fn base_candidates(&self, base: &str) -> Result<Option<BTreeSet<String>>, ReportError> {
        apply_pending(&self.shared)?;
        let repo = Repository::open(&self.shared.repo_dir)
            .map_err(|err| ReportError::Repository(err.into()))?;
        let tree = base_tree(&repo, base)?;
        let head_tree = repo.head().ok().and_then(|head| head.peel_to_tree().ok());
        let mut candidates = (*self.base_diff(&repo, &tree, head_tree.as_ref())?).clone();
        let sets = self.shared.sets.lock_or_recover();
        candidates.extend(sets.staged_sides.iter().cloned());
        candidates.extend(sets.workdir.iter().cloned());
        Ok((!candidates.iter().any(|p| p.contains('\u{FFFD}'))).then_some(candidates))
    }

    fn base_report_of(&self, base: &str, untracked: bool) -> Result<GovernanceReport, ReportError> {
        apply_pending(&self.shared)?;
        let shared = &self.shared;
        let repo = Repository::open(&shared.repo_dir)
            .map_err(|err| ReportError::Repository(err.into()))?;
        let tree = base_tree(&repo, base)?;
        let head_tree = repo.head().ok().and_then(|head| head.peel_to_tree().ok());
        let moved = self.base_diff(&repo, &tree, head_tree.as_ref())?;
        let mut candidates = (*moved).clone();
        let epoch = {
            let sets = shared.sets.lock_or_recover();
            candidates.extend(sets.staged_sides.iter().cloned());
            candidates.extend(sets.workdir.iter().cloned());
            sets.epoch
        };
        // Nothing was applied since the last answer for these trees: it still holds (the name
        // asked for is kept too, as the report shows it).
        if let Some(report) =
            self.cached_base_report(&tree, head_tree.as_ref(), epoch, base, untracked)
        {
            return Ok(report);
        }
        let mode = Mode::Base(base.to_string());
        // A name that is not UTF-8 cannot be asked for literally: the cold diff answers.
        let (paths, source) = if candidates.iter().any(|path| path.contains('\u{FFFD}')) {
            let mut paths = changed_paths(&shared.repo_dir, &mode)?;
            if untracked {
                // The workdir set's untracked files (those are all that differ from a scan).
                paths.extend(shared.sets.lock_or_recover().workdir.iter().cloned());
                paths.sort();
                paths.dedup();
            }
            (paths, ReportSource::Scan)
        } else {
            let paths = against_base_among(&repo, &tree, &candidates, untracked)
                .map_err(ReportError::Repository)?;
            (paths.into_iter().collect(), self.source())
        };
        let own = shared.own_prefix.as_deref();
        let paths: Vec<String> = paths
            .into_iter()
            .filter(|path| own.is_none_or(|own| !path.starts_with(own)))
            .collect();
        let preflight = portability::scan(&shared.repo_dir, &shared.config.portability_surfaces)?;
        let mut report = route(&shared.config, &mode, paths, preflight)?;
        report.source = Some(source);
        report.computed_at = Some(now_millis());
        release_transient_memory();
        if let Some(cached) = shared.base_diff.lock_or_recover().as_mut().filter(|c| {
            c.base_tree == tree.id() && c.head_tree == head_tree.as_ref().map(|t| t.id())
        }) {
            cached.report = Some((epoch, base.to_string(), untracked, report.clone()));
        }
        Ok(report)
    }

    fn cached_base_report(
        &self,
        base: &git2::Tree,
        head: Option<&git2::Tree>,
        epoch: u64,
        name: &str,
        untracked: bool,
    ) -> Option<GovernanceReport> {
        let cache = self.shared.base_diff.lock_or_recover();
        let cached = cache.as_ref()?;
        if cached.base_tree != base.id() || cached.head_tree != head.map(|t| t.id()) {
            return None;
        }
        let (at, cached_name, cached_untracked, report) = cached.report.as_ref()?;
        (*at == epoch && cached_name == name && *cached_untracked == untracked)
            .then(|| report.clone())
    }

    /// The base-vs-HEAD paths, computed once per pair of trees.
    fn base_diff(
        &self,
        repo: &Repository,
        base: &git2::Tree,
        head: Option<&git2::Tree>,
    ) -> Result<Arc<BTreeSet<String>>, ReportError> {
        let head_id = head.map(|tree| tree.id());
        let mut cache = self.shared.base_diff.lock_or_recover();
        if let Some(cached) = cache
            .as_ref()
            .filter(|c| c.base_tree == base.id() && c.head_tree == head_id)
        {
            return Ok(cached.sides.clone());
        }
        let sides = Arc::new(tree_sides(repo, base, head)?);
        *cache = Some(BaseDiff {
            base_tree: base.id(),
            head_tree: head_id,
            sides: sides.clone(),
            report: None,
        });
        Ok(sides)
    }
}
