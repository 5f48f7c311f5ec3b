//! The journal of a merge into a checked-out base, and recovery from it after a crash.
//!
//! The journal is written (and fsynced, with its directory) before any file or index entry of
//! the working tree changes, and removed after the base ref moved. So a journal that does not
//! parse was cut short before anything changed; one that parses names the two commits, and the
//! base ref tells which of them the working tree must match.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use git2::build::CheckoutBuilder;
use git2::{ErrorCode, Oid, Repository, Tree};
use serde::{Deserialize, Serialize};

use super::{changed_paths, MergeError};

/// What a crash may leave half done: the base ref `base_ref` of the working tree `repo` moving
/// from `old_commit` to `new_commit`, with `files` (the merged paths, for people: recovery
/// computes them again from the two commits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Journal {
    pub version: u32,
    pub repo: PathBuf,
    pub base_ref: String,
    pub branch: String,
    pub old_commit: String,
    pub new_commit: String,
    pub files: Vec<String>,
}

impl Journal {
    /// Creates the journal at `path` (never over an existing one) and makes it durable.
    pub fn write(&self, path: &Path) -> Result<(), MergeError> {
        let io = |source| MergeError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = serde_json::to_vec_pretty(self).map_err(|err| io(err.into()))?;
        if let Some(dir) = parent(path) {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = match OpenOptions::new().write(true).create_new(true).open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == ErrorKind::AlreadyExists => {
                return Err(MergeError::InProgress(path.to_path_buf()))
            }
            Err(err) => return Err(io(err)),
        };
        let written = file
            .write_all(&text)
            .and_then(|()| file.sync_all())
            .and_then(|()| sync_dir(path));
        if let Err(err) = written {
            drop(file);
            let _ = fs::remove_file(path);
            return Err(io(err));
        }
        Ok(())
    }
}

/// Removes the journal (durably).
pub(super) fn remove(path: &Path) -> Result<(), MergeError> {
    fs::remove_file(path)
        .and_then(|()| sync_dir(path))
        .map_err(|source| MergeError::Io {
            path: path.to_path_buf(),
            source,
        })
}

/// Run at server start: finishes or undoes a merge a crash interrupted, from its journal; what it
/// did (for a log line), `None` when there was no journal. Afterwards the base ref, the index and
/// the files of the merged paths are all the old commit's or all the new one's, and the journal
/// is gone.
pub fn recover(journal: &Path) -> Result<Option<String>, MergeError> {
    let bytes = match fs::read(journal) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(MergeError::Io {
                path: journal.to_path_buf(),
                source,
            })
        }
    };
    let Ok(entry) = serde_json::from_slice::<Journal>(&bytes) else {
        remove(journal)?;
        return Ok(Some(format!(
            "removed the incomplete merge journal {}: its merge had not changed anything yet",
            journal.display()
        )));
    };
    let repo = Repository::open(&entry.repo)?;
    let (old, new) = (
        Oid::from_str(&entry.old_commit)?,
        Oid::from_str(&entry.new_commit)?,
    );
    let what = format!(
        "the interrupted merge of {} into {} ({} -> {})",
        entry.branch, entry.base_ref, entry.old_commit, entry.new_commit
    );
    let current = match repo.refname_to_id(&entry.base_ref) {
        Ok(id) => Some(id),
        Err(err) if err.code() == ErrorCode::NotFound => None,
        Err(err) => return Err(err.into()),
    };
    let head_is_base = repo
        .find_reference("HEAD")
        .ok()
        .is_some_and(|head| head.symbolic_target_bytes() == Some(entry.base_ref.as_bytes()));
    let message = if current == Some(new) {
        format!("{what} had completed; removed its journal")
    } else if current != Some(old) {
        format!(
            "{what}: {} has moved on since; left the working tree as it is",
            entry.base_ref
        )
    } else if !head_is_base {
        format!(
            "{what}: {} is no longer checked out there; left the working tree as it is",
            entry.base_ref
        )
    } else {
        let (old_tree, new_tree) = (
            repo.find_commit(old)?.tree()?,
            repo.find_commit(new)?.tree()?,
        );
        let restored = restore(&repo, &old_tree, &new_tree)?;
        format!("undid {what}: {restored} paths restored in the index and working tree")
    };
    remove(journal)?;
    Ok(Some(message))
}

/// Puts the paths that differ between the two trees back to `old`'s content in the index and the
/// working tree (force; files only `new` has are removed); the number of paths.
pub(super) fn restore(repo: &Repository, old: &Tree, new: &Tree) -> Result<usize, MergeError> {
    let paths = changed_paths(repo, old, new)?;
    let mut checkout = CheckoutBuilder::new();
    checkout
        .force()
        .remove_untracked(true)
        .disable_pathspec_match(true);
    for path in &paths {
        checkout.path(path.as_slice());
    }
    repo.checkout_tree(old.as_object(), Some(&mut checkout))?;
    Ok(paths.len())
}

fn parent(path: &Path) -> Option<&Path> {
    path.parent().filter(|dir| !dir.as_os_str().is_empty())
}

/// Makes a file's creation or removal durable: fsync of its directory.
fn sync_dir(path: &Path) -> std::io::Result<()> {
    File::open(parent(path).unwrap_or(Path::new(".")))?.sync_all()
}
