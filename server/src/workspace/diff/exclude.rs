//! The paths under the exclude prefix (the launcher's state directory) left out: the diff made
//! again without them, so that rename detection neither reads nor pairs them.

use std::collections::BTreeSet;

use git2::{Diff, Repository, Tree};

use super::{delta_path, options};

/// The merged base→index→workdir diff, without the paths under `exclude`; `None` when nothing
/// else changed. When something under `exclude` changed, the diff is made again limited to the
/// other changed paths (by their shortest leading directories that do not lead into `exclude`),
/// so that rename detection neither reads nor pairs files under `exclude`.
///
/// `limit`: literal paths the diff is limited to (none: the whole tree).
pub(super) fn workspace_diff<'r>(
    repo: &'r Repository,
    tree: &Tree<'_>,
    exclude: Option<&Exclude>,
    limit: &BTreeSet<Vec<u8>>,
) -> Result<Option<Diff<'r>>, git2::Error> {
    let all = repo.diff_tree_to_workdir_with_index(Some(tree), Some(&mut options(limit)))?;
    let Some(exclude) = exclude else {
        return Ok(Some(all));
    };
    let mut any_excluded = false;
    let mut pathspecs = BTreeSet::new();
    for delta in all.deltas() {
        let path = delta_path(&delta);
        if exclude.covers(path) {
            any_excluded = true;
        } else {
            pathspecs.insert(exclude.pathspec(path).to_vec());
        }
    }
    if !any_excluded {
        return Ok(Some(all));
    }
    if pathspecs.is_empty() {
        return Ok(None);
    }
    drop(all);
    repo.diff_tree_to_workdir_with_index(Some(tree), Some(&mut options(&pathspecs)))
        .map(Some)
}

/// `exclude_prefix` as a directory, without its trailing `/` (`.tmp/`, `.tmp`, `./.tmp/` → `.tmp`).
pub(super) struct Exclude(Vec<u8>);

impl Exclude {
    pub(super) fn new(prefix: Option<&str>) -> Option<Self> {
        let prefix = prefix?;
        let prefix = prefix
            .strip_prefix("./")
            .unwrap_or(prefix)
            .trim_end_matches('/');
        (!prefix.is_empty()).then(|| Exclude(prefix.as_bytes().to_vec()))
    }

    /// Whether `path` lies under the excluded directory (the directory itself included, as an
    /// untracked nested repository is listed: `.tmp/`).
    pub(super) fn covers(&self, path: &[u8]) -> bool {
        path.len() > self.0.len() && path.starts_with(&self.0) && path[self.0.len()] == b'/'
    }

    /// Whether `part` (whole leading components of a path) is the excluded directory or one of
    /// its ancestors.
    fn leads_in(&self, part: &[u8]) -> bool {
        self.0 == part
            || (self.0.len() > part.len() && self.0.starts_with(part) && self.0[part.len()] == b'/')
    }

    /// The shortest leading components of `path` (not under the excluded directory) that do not
    /// lead into it: a literal pathspec that matches `path` and nothing under the excluded
    /// directory (unless `path` itself is an ancestor of it: a file where the directory's parent
    /// now is, matched whole).
    fn pathspec<'p>(&self, path: &'p [u8]) -> &'p [u8] {
        let path = path.strip_suffix(b"/").unwrap_or(path);
        let mut end = 0;
        loop {
            let next = path[end..]
                .iter()
                .position(|b| *b == b'/')
                .map_or(path.len(), |i| end + i);
            let part = &path[..next];
            if next == path.len() || !self.leads_in(part) {
                return part;
            }
            end = next + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use app::api::{ChangeCounts, FileChangeStatus};
    use FileChangeStatus::{Deleted, Renamed, Untracked};

    use super::super::test_repo::{entry, repo_with, summary, write, MOVED};
    use super::super::{change_counts, changed_paths, department_diff};

    #[test]
    fn paths_under_the_excluded_prefix_are_left_out_and_never_paired_as_renames() {
        let dir = tempfile::tempdir().unwrap();
        let base = repo_with(
            dir.path(),
            &[("notes.txt", MOVED.as_bytes()), ("keep.txt", b"k\n")],
        );
        // The launcher's state directory, with a copy of a file that was deleted elsewhere.
        write(dir.path(), ".tmp/state.json", b"{}\n");
        write(dir.path(), ".tmp/deep/log.txt", b"l\n");
        fs::rename(
            dir.path().join("notes.txt"),
            dir.path().join(".tmp/notes.txt"),
        )
        .unwrap();
        // Neighbours whose names merely start the same way stay.
        write(dir.path(), ".tmpfile", b"t\n");
        write(dir.path(), ".tmp2/x.txt", b"x\n");

        let files = department_diff(dir.path(), &base, Some(".tmp/")).unwrap();
        assert_eq!(
            summary(&files),
            vec![
                entry(".tmp2/x.txt", None, Untracked, 1, 0, false),
                entry(".tmpfile", None, Untracked, 1, 0, false),
                entry("notes.txt", None, Deleted, 0, 6, false),
            ]
        );
        assert_eq!(
            changed_paths(dir.path(), &base, Some(".tmp/")).unwrap(),
            [".tmp2/x.txt", ".tmpfile", "notes.txt"]
        );
        // Without the exclusion the move is a rename into .tmp/.
        let all = department_diff(dir.path(), &base, None).unwrap();
        assert_eq!(
            summary(&all),
            vec![
                entry(".tmp/deep/log.txt", None, Untracked, 1, 0, false),
                entry(".tmp/notes.txt", Some("notes.txt"), Renamed, 0, 0, false),
                entry(".tmp/state.json", None, Untracked, 1, 0, false),
                entry(".tmp2/x.txt", None, Untracked, 1, 0, false),
                entry(".tmpfile", None, Untracked, 1, 0, false),
            ]
        );
        // Only excluded changes: nothing.
        fs::remove_file(dir.path().join(".tmpfile")).unwrap();
        fs::remove_dir_all(dir.path().join(".tmp2")).unwrap();
        fs::rename(
            dir.path().join(".tmp/notes.txt"),
            dir.path().join("notes.txt"),
        )
        .unwrap();
        assert_eq!(
            department_diff(dir.path(), &base, Some(".tmp/")).unwrap(),
            vec![]
        );
        assert_eq!(
            change_counts(dir.path(), &base, Some(".tmp/")).unwrap(),
            ChangeCounts::default()
        );
        assert!(changed_paths(dir.path(), &base, Some(".tmp/"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn an_excluded_nested_directory_keeps_its_siblings() {
        let dir = tempfile::tempdir().unwrap();
        let base = repo_with(dir.path(), &[("a/b.txt", b"1\n"), ("a/c/d.txt", b"2\n")]);
        write(dir.path(), "a/b.txt", b"1\n2\n");
        write(dir.path(), "a/c/d.txt", b"2\n3\n");
        write(dir.path(), "a/state/x.json", b"{}\n");
        write(dir.path(), "z.txt", b"z\n");
        let paths = |exclude| {
            department_diff(dir.path(), &base, exclude)
                .unwrap()
                .into_iter()
                .map(|f| f.path)
                .collect::<Vec<_>>()
        };
        assert_eq!(paths(Some("a/state/")), ["a/b.txt", "a/c/d.txt", "z.txt"]);
        assert_eq!(paths(Some("./a/state")), ["a/b.txt", "a/c/d.txt", "z.txt"]);
        assert_eq!(
            paths(Some("")),
            ["a/b.txt", "a/c/d.txt", "a/state/x.json", "z.txt"]
        );
    }
}
