//! One file's patch: its added and deleted lines, and its text as `git diff` prints it, kept up to
//! [`PATCH_LIMIT`].

use git2::{Delta, Diff, DiffFlags, DiffLineType, ErrorCode, Patch};

use super::PATCH_LIMIT;

/// What one file's change amounts to.
#[derive(Default)]
pub(super) struct Body {
    pub(super) additions: u32,
    pub(super) deletions: u32,
    pub(super) binary: bool,
    /// Empty when the text was not asked for, and for binary files.
    pub(super) patch: Capped,
}

impl Body {
    /// Adds the lines of `patch` (none when it is binary) and, when `text`, its printed form.
    pub(super) fn add(
        &mut self,
        patch: &mut Patch<'_>,
        text: bool,
        header: Option<&dyn Fn(&str) -> String>,
    ) -> Result<(), git2::Error> {
        // Loading the contents settled whether the file is binary (on the delta itself).
        if patch.delta().flags().contains(DiffFlags::BINARY) {
            self.binary = true;
            return Ok(());
        }
        let (_context, additions, deletions) = patch.line_stats()?;
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        self.additions = self.additions.saturating_add(count(additions));
        self.deletions = self.deletions.saturating_add(count(deletions));
        if text {
            self.patch.print(patch, header)?;
        }
        Ok(())
    }
}

/// A change libgit2 diffs itself: contents (of any of the statuses but a type change). `None`
/// when loading the contents showed the file unchanged after all (a stat-only difference).
pub(super) fn content_change(
    diff: &Diff<'_>,
    idx: usize,
    text: bool,
) -> Result<Option<Body>, git2::Error> {
    let mut body = Body::default();
    match Patch::from_diff(diff, idx)? {
        Some(patch) if patch.delta().status() == Delta::Unmodified => return Ok(None),
        Some(mut patch) => body.add(&mut patch, text, None)?,
        // libgit2 makes no patch for a delta it skips; a change without lines.
        None => {
            body.binary = diff
                .get_delta(idx)
                .is_some_and(|d| d.flags().contains(DiffFlags::BINARY));
        }
    }
    Ok(Some(body))
}

/// Patch text kept up to [`PATCH_LIMIT`] bytes, and whether it was cut (at a line end).
#[derive(Default)]
pub(super) struct Capped {
    pub(super) text: String,
    pub(super) truncated: bool,
}

impl Capped {
    /// Appends `parts` when they fit; otherwise cuts the text at its last line end (a line without
    /// a newline at the end of a file is followed by its marker: whole lines only), marks it
    /// truncated and answers false.
    fn push(&mut self, parts: &[&str]) -> bool {
        if self.truncated {
            return false;
        }
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if self.text.len() + len > PATCH_LIMIT {
            self.truncated = true;
            let keep = self.text.rfind('\n').map_or(0, |i| i + 1);
            self.text.truncate(keep);
            return false;
        }
        for part in parts {
            self.text.push_str(part);
        }
        true
    }

    /// Appends `patch` as `git diff` prints it, its file header replaced by `header(of it)` when
    /// given. Printing stops at the limit: the rest of a large file is never formatted.
    fn print(
        &mut self,
        patch: &mut Patch<'_>,
        header: Option<&dyn Fn(&str) -> String>,
    ) -> Result<(), git2::Error> {
        let printed = patch.print(&mut |_delta, _hunk, line| {
            let content = String::from_utf8_lossy(line.content());
            match line.origin_value() {
                DiffLineType::Context | DiffLineType::Addition | DiffLineType::Deletion => {
                    let mut origin = [0; 4];
                    self.push(&[line.origin().encode_utf8(&mut origin), &content])
                }
                DiffLineType::FileHeader => match header {
                    Some(header) => self.push(&[&header(&content)]),
                    None => self.push(&[&content]),
                },
                // Hunk headers and the "\ No newline at end of file" markers.
                _ => self.push(&[&content]),
            }
        });
        match printed {
            Ok(()) => Ok(()),
            // The callback stopped printing at the limit.
            Err(err) if self.truncated && err.code() == ErrorCode::User => Ok(()),
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use app::api::FileChangeStatus::Untracked;

    use super::super::test_repo::{file, git_diff, repo_with, workspace, write};
    use super::super::{department_diff, PATCH_LIMIT};

    #[test]
    fn patches_are_what_git_diff_prints() {
        let (_root, wt, base) = workspace();
        let files = department_diff(&wt, &base, None).unwrap();
        // Tracked changes: byte for byte what `git diff <base>` shows (committed + staged +
        // working tree together, 3 lines of context, two hunks for both.txt).
        for path in [
            "added.txt",
            "both.txt",
            "committed.txt",
            "delete.txt",
            "removed.txt",
            "uncommitted.txt",
        ] {
            assert_eq!(
                file(&files, path).patch,
                git_diff(&wt, &base, path),
                "{path}"
            );
        }
        assert_eq!(file(&files, "both.txt").patch.matches("\n@@ ").count(), 2);
        // An untracked file: all of it added, with its missing final newline marked.
        let untracked = &file(&files, "new/untracked.txt").patch;
        assert!(
            untracked.starts_with(
                "diff --git a/new/untracked.txt b/new/untracked.txt\nnew file mode 100644\n"
            ),
            "{untracked}"
        );
        assert!(
            untracked.ends_with(
                "--- /dev/null\n+++ b/new/untracked.txt\n@@ -0,0 +1,3 @@\n+u1\n+u2\n+u3\n\\ No newline at end of file\n"
            ),
            "{untracked}"
        );
        // Renames without content change: the rename header only.
        assert_eq!(
            file(&files, "renamed/plain.txt").patch,
            "diff --git a/plain.txt b/renamed/plain.txt\nsimilarity index 100%\nrename from plain.txt\nrename to renamed/plain.txt\n"
        );
        assert_eq!(
            file(&files, "dir/moved.txt").patch,
            "diff --git a/moved.txt b/dir/moved.txt\nsimilarity index 100%\nrename from moved.txt\nrename to dir/moved.txt\n"
        );
    }

    #[test]
    fn a_patch_beyond_the_limit_is_cut_at_a_line_end() {
        let dir = tempfile::tempdir().unwrap();
        let base = repo_with(dir.path(), &[("small.txt", b"s\n")]);
        let line = |i: usize| format!("line {i:06} of a long generated file\n");
        let lines = 20_000;
        let content: String = (0..lines).map(line).collect();
        assert!(content.len() > 2 * PATCH_LIMIT);
        write(dir.path(), "big.txt", content.as_bytes());
        write(dir.path(), "small.txt", b"s\nt\n");
        write(
            dir.path(),
            "wide.js",
            "x".repeat(PATCH_LIMIT + 10).as_bytes(),
        );

        let files = department_diff(dir.path(), &base, None).unwrap();
        let big = file(&files, "big.txt");
        assert_eq!(
            (big.status, big.additions, big.deletions),
            (Untracked, lines as u32, 0)
        );
        assert!(big.truncated);
        assert!(big.patch.len() <= PATCH_LIMIT, "{}", big.patch.len());
        assert!(big.patch.ends_with('\n'));
        let (head, body) = big.patch.split_once("@@ -0,0 +1,20000 @@\n").unwrap();
        assert!(
            head.starts_with("diff --git a/big.txt b/big.txt\n"),
            "{head}"
        );
        let kept: Vec<&str> = body.lines().collect();
        for (i, kept) in kept.iter().enumerate() {
            assert_eq!(format!("{kept}\n"), format!("+{}", line(i)));
        }
        // Cut as late as the limit allows: the next line would not have fit.
        assert!(big.patch.len() + 1 + line(kept.len()).len() > PATCH_LIMIT);
        // One line longer than the limit (minified code): the headers alone are kept.
        let wide = file(&files, "wide.js");
        assert_eq!((wide.additions, wide.truncated), (1, true));
        assert!(wide.patch.starts_with("diff --git a/wide.js b/wide.js\n"));
        assert!(
            wide.patch.ends_with("+++ b/wide.js\n@@ -0,0 +1 @@\n"),
            "{}",
            wide.patch
        );
        let small = file(&files, "small.txt");
        assert!(!small.truncated);
        assert_eq!(small.patch, git_diff(dir.path(), &base, "small.txt"));
    }
}
