//! A change of a file's type (a file that became a symlink or a submodule, or the reverse), to
//! which libgit2 gives no lines: both sides read and diffed here.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use git2::{
    Blob, DiffDelta, DiffFile, DiffFlags, DiffOptions, FileMode, ObjectType, Oid, Patch, Repository,
};

use super::patch::Body;
use super::CONTEXT_LINES;

/// A file that became a symlink or a submodule, or the reverse. libgit2 gives such a change no
/// lines; it is shown as `git diff` shows it: the old side deleted, then the new side added (two
/// `diff --git` sections in the one entry), a symlink's side being its target text.
pub(super) fn typechange(
    repo: &Repository,
    delta: &DiffDelta<'_>,
    text: bool,
) -> Result<Body, git2::Error> {
    let (old, new) = (delta.old_file(), delta.new_file());
    let old_side = Side::read(repo, &old)?;
    let new_side = Side::read(repo, &new)?;
    let old_path = old.path_bytes().map(|p| Path::new(OsStr::from_bytes(p)));
    let new_path = new.path_bytes().map(|p| Path::new(OsStr::from_bytes(p)));
    let mut options = DiffOptions::new();
    options.context_lines(CONTEXT_LINES);
    let mut deleted = Patch::from_buffers(
        old_side.bytes(),
        old_path,
        b"",
        new_path,
        Some(&mut options),
    )?;
    let mut added = Patch::from_buffers(
        b"",
        old_path,
        new_side.bytes(),
        new_path,
        Some(&mut options),
    )?;
    let mut body = Body::default();
    for patch in [&deleted, &added] {
        body.binary |= patch.delta().flags().contains(DiffFlags::BINARY);
    }
    if body.binary {
        return Ok(body);
    }
    // The buffers' own headers give the `diff --git`, `---` and `+++` lines (quoted as Git
    // quotes them); the rest is what Git writes for a deleted and a new file.
    let old_mode = u32::from(old.mode());
    let old_id = abbrev(old_side.id(&old)?);
    let deleted_header = move |buffers: &str| {
        let (first, minus, _) = header_lines(buffers);
        format!("{first}deleted file mode {old_mode:06o}\nindex {old_id}..0000000\n{minus}+++ /dev/null\n")
    };
    let new_mode = u32::from(new.mode());
    let new_id = abbrev(new_side.id(&new)?);
    let added_header = move |buffers: &str| {
        let (first, _, plus) = header_lines(buffers);
        format!(
            "{first}new file mode {new_mode:06o}\nindex 0000000..{new_id}\n--- /dev/null\n{plus}"
        )
    };
    body.add(&mut deleted, text, Some(&deleted_header))?;
    body.add(&mut added, text, Some(&added_header))?;
    Ok(body)
}

/// The `diff --git`, `---` and `+++` lines of a file header (each with its newline).
fn header_lines(header: &str) -> (&str, &str, &str) {
    let mut lines = header.split_inclusive('\n');
    let first = lines.next().unwrap_or_default();
    let (mut minus, mut plus) = ("", "");
    for line in lines {
        if line.starts_with("--- ") {
            minus = line;
        } else if line.starts_with("+++ ") {
            plus = line;
        }
    }
    (first, minus, plus)
}

/// An object id as `git diff` abbreviates it in `index` lines.
fn abbrev(id: Oid) -> String {
    let mut text = id.to_string();
    text.truncate(7);
    text
}

/// One side of a type change: a blob of the object store, or what the working tree holds (a
/// symlink's target, never followed; a file's bytes), or a submodule's commit line.
enum Side<'r> {
    Blob(Blob<'r>),
    Bytes(Vec<u8>),
}

impl<'r> Side<'r> {
    fn read(repo: &'r Repository, file: &DiffFile<'_>) -> Result<Self, git2::Error> {
        if file.mode() == FileMode::Commit {
            return Ok(Side::Bytes(
                format!("Subproject commit {}\n", file.id()).into_bytes(),
            ));
        }
        if !file.id().is_zero() {
            if let Ok(blob) = repo.find_blob(file.id()) {
                return Ok(Side::Blob(blob));
            }
        }
        // The working tree's side, whose id libgit2 did not need to compute.
        let workdir = repo
            .workdir()
            .ok_or_else(|| git2::Error::from_str("the repository has no working tree"))?;
        let path = workdir.join(OsStr::from_bytes(file.path_bytes().unwrap_or_default()));
        let read = |path: &Path| -> std::io::Result<Vec<u8>> {
            if fs::symlink_metadata(path)?.file_type().is_symlink() {
                Ok(fs::read_link(path)?.into_os_string().into_vec())
            } else {
                fs::read(path)
            }
        };
        read(&path)
            .map(Side::Bytes)
            .map_err(|err| git2::Error::from_str(&format!("reading {}: {err}", path.display())))
    }

    fn bytes(&self) -> &[u8] {
        match self {
            Side::Blob(blob) => blob.content(),
            Side::Bytes(bytes) => bytes,
        }
    }

    /// The side's id: the delta's when known (a submodule's commit), else its content's hash.
    fn id(&self, file: &DiffFile<'_>) -> Result<Oid, git2::Error> {
        match self {
            Side::Blob(blob) => Ok(blob.id()),
            Side::Bytes(_) if !file.id().is_zero() => Ok(file.id()),
            Side::Bytes(bytes) => Oid::hash_object(ObjectType::Blob, bytes),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;

    use app::api::{ChangeCounts, FileChangeStatus};
    use FileChangeStatus::{Added, Modified, Untracked};

    use super::super::test_repo::{entry, file, git, git_diff, repo_with, summary};
    use super::super::{change_counts, department_diff};

    #[test]
    fn symlinks_are_diffed_as_links_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.txt"), "do not read\n").unwrap();
        let base = repo_with(
            dir.path(),
            &[
                ("kind.txt", b"a file\n"),
                ("keep.txt", b"k\n"),
                ("staged.txt", b"s\n"),
            ],
        );
        std::os::unix::fs::symlink("../old", dir.path().join("was-link")).unwrap();
        git(dir.path(), &["add", "was-link"]);
        git(dir.path(), &["commit", "-q", "-m", "a link"]);
        let base_with_link = git(dir.path(), &["rev-parse", "HEAD"]).trim().to_string();

        // A new link to a directory outside the repository; a file that became a link (in the
        // working tree, and staged); a link whose target changed.
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        fs::remove_file(dir.path().join("kind.txt")).unwrap();
        std::os::unix::fs::symlink("keep.txt", dir.path().join("kind.txt")).unwrap();
        fs::remove_file(dir.path().join("staged.txt")).unwrap();
        std::os::unix::fs::symlink("kind.txt", dir.path().join("staged.txt")).unwrap();
        git(dir.path(), &["add", "staged.txt"]);
        fs::remove_file(dir.path().join("was-link")).unwrap();
        std::os::unix::fs::symlink("../new", dir.path().join("was-link")).unwrap();

        let files = department_diff(dir.path(), &base_with_link, None).unwrap();
        assert_eq!(
            summary(&files),
            vec![
                entry("kind.txt", None, Modified, 1, 1, false),
                entry("link", None, Untracked, 1, 0, false),
                entry("staged.txt", None, Modified, 1, 1, false),
                entry("was-link", None, Modified, 1, 1, false),
            ]
        );
        let target = outside.path().to_str().unwrap();
        let link = &files[1].patch;
        assert!(link.contains("new file mode 120000\n"), "{link}");
        assert!(
            link.ends_with(&format!(
                "@@ -0,0 +1 @@\n+{target}\n\\ No newline at end of file\n"
            )),
            "{link}"
        );
        assert!(!link.contains("do not read"));
        // A type change as Git shows it: the file deleted, then the link added.
        for path in ["kind.txt", "staged.txt", "was-link"] {
            assert_eq!(
                file(&files, path).patch,
                git_diff(dir.path(), &base_with_link, path),
                "{path}"
            );
        }
        assert!(file(&files, "kind.txt")
            .patch
            .contains("+keep.txt\n\\ No newline"));
        assert_eq!(
            change_counts(dir.path(), &base_with_link, None).unwrap(),
            ChangeCounts {
                files: 4,
                additions: 4,
                deletions: 3
            }
        );
        // From the first base, the link added since is new (staged), not a type change.
        let from_first = department_diff(dir.path(), &base, None).unwrap();
        assert_eq!(file(&from_first, "was-link").status, Added);
    }

    #[test]
    fn a_binary_file_that_became_a_link_is_a_binary_change() {
        let dir = tempfile::tempdir().unwrap();
        let base = repo_with(dir.path(), &[("data", b"\x00\x01bin\x00")]);
        fs::remove_file(dir.path().join("data")).unwrap();
        std::os::unix::fs::symlink("elsewhere", dir.path().join("data")).unwrap();
        let files = department_diff(dir.path(), &base, None).unwrap();
        assert_eq!(
            summary(&files),
            vec![entry("data", None, Modified, 0, 0, true)]
        );
        assert_eq!(files[0].patch, "");
    }
}
