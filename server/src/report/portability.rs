//! Portability preflight: machine-local references (home directories, drive letters, file
//! URIs) in the governance surfaces, with the reference tool's classification of examples.

use std::path::Path;

use anyhow::Result;
use app::api::{Classification, Decision, PortabilityMatch, PortabilityScan};
use globset::{Glob, GlobSetBuilder};

pub const SCOPE: &str = "active_governance_surfaces";

/// Fixed-text patterns, in report order.
const LITERALS: [(&str, &str); 4] = [
    ("POSIX_HOME", "/home/"),
    ("MAC_USERS", "/Users/"),
    ("FILE_URI", "file://"),
    ("HOME_SHORTCUT", "~/"),
];

/// Non-overlapping occurrences of `needle` as character offsets.
fn literal_matches(chars: &[char], needle: &str) -> Vec<usize> {
    let needle: Vec<char> = needle.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + needle.len() <= chars.len() {
        if chars[i..i + needle.len()] == needle[..] {
            out.push(i);
            i += needle.len();
        } else {
            i += 1;
        }
    }
    out
}

/// `(?<![A-Za-z0-9])[A-Za-z]:[\\/]` as character offsets.
fn drive_matches(chars: &[char]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 3 <= chars.len() {
        let starts = chars[i].is_ascii_alphabetic()
            && chars[i + 1] == ':'
            && (chars[i + 2] == '\\' || chars[i + 2] == '/')
            && (i == 0 || !chars[i - 1].is_ascii_alphanumeric());
        if starts {
            out.push(i);
            i += 3;
        } else {
            i += 1;
        }
    }
    out
}

/// Inside inline code: an odd number of backticks before, at least one after.
fn in_inline_code(chars: &[char], start: usize) -> bool {
    let before = chars[..start].iter().filter(|c| **c == '`').count();
    let after = chars[start..].iter().filter(|c| **c == '`').count();
    before % 2 == 1 && after >= 1
}

fn classify(line: &str, chars: &[char], start: usize, in_fence: bool) -> Classification {
    if in_fence || line.starts_with("    ") || in_inline_code(chars, start) {
        Classification::Example
    } else {
        // A Markdown link target is a violation too: readers follow it.
        Classification::Violation
    }
}

/// Scans one file's text; `path` is its repository-relative name.
pub fn scan_text(
    path: &str,
    text: &str,
    violations: &mut Vec<PortabilityMatch>,
    exceptions: &mut Vec<PortabilityMatch>,
) {
    let mut in_fence = false;
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        }
        let chars: Vec<char> = line.chars().collect();
        let mut found: Vec<(&str, usize)> = Vec::new();
        for (name, needle) in &LITERALS[..2] {
            found.extend(
                literal_matches(&chars, needle)
                    .into_iter()
                    .map(|s| (*name, s)),
            );
        }
        found.extend(
            drive_matches(&chars)
                .into_iter()
                .map(|s| ("WINDOWS_DRIVE", s)),
        );
        for (name, needle) in &LITERALS[2..] {
            found.extend(
                literal_matches(&chars, needle)
                    .into_iter()
                    .map(|s| (*name, s)),
            );
        }
        for (pattern, start) in found {
            let classification = classify(line, &chars, start, in_fence);
            let record = PortabilityMatch {
                path: path.to_string(),
                line: index as u32 + 1,
                column: start as u32 + 1,
                pattern: pattern.to_string(),
                excerpt: line.trim().to_string(),
                classification,
            };
            if classification == Classification::Violation {
                violations.push(record);
            } else {
                exceptions.push(record);
            }
        }
    }
}

/// The directory part of a glob before its first metacharacter (where a walk must start).
fn literal_base(pattern: &str) -> &str {
    let meta = pattern.find(['*', '?', '[', '{']).unwrap_or(pattern.len());
    match pattern[..meta].rfind('/') {
        Some(slash) => &pattern[..slash],
        None if meta == pattern.len() => pattern,
        None => "",
    }
}

fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            if entry.file_name() != ".git" {
                walk(&path, root, out);
            }
        } else if kind.is_file() {
            if let Ok(rel) = path.strip_prefix(root) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
}

/// Surface files of the working tree (sorted), matched with ordinary glob rules (`**` = any
/// directories), walking only below each pattern's literal directory.
pub fn surface_files(repo: &Path, surfaces: &[String]) -> Result<Vec<String>> {
    let mut builder = GlobSetBuilder::new();
    for surface in surfaces {
        builder.add(Glob::new(surface)?);
    }
    let set = builder.build()?;
    let mut candidates = Vec::new();
    for surface in surfaces {
        let base = literal_base(surface);
        let start = repo.join(base);
        if start.is_file() {
            candidates.push(base.to_string());
        } else if start.is_dir() {
            walk(&start, repo, &mut candidates);
        }
    }
    candidates.sort();
    candidates.dedup();
    candidates.retain(|c| set.is_match(c));
    Ok(candidates)
}

pub fn scan(repo: &Path, surfaces: &[String]) -> Result<PortabilityScan> {
    let files = surface_files(repo, surfaces)?;
    let (mut violations, mut exceptions) = (Vec::new(), Vec::new());
    for file in &files {
        if let Ok(bytes) = std::fs::read(repo.join(file)) {
            scan_text(
                file,
                &String::from_utf8_lossy(&bytes),
                &mut violations,
                &mut exceptions,
            );
        }
    }
    Ok(PortabilityScan {
        decision: if violations.is_empty() {
            Decision::Pass
        } else {
            Decision::Review
        },
        scope: SCOPE.into(),
        scanned_files: files,
        violations,
        exceptions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> (Vec<PortabilityMatch>, Vec<PortabilityMatch>) {
        let (mut v, mut e) = (Vec::new(), Vec::new());
        scan_text("README.md", text, &mut v, &mut e);
        (v, e)
    }

    #[test]
    fn every_pattern_is_found_with_char_columns() {
        let (v, _) =
            run("see /home/ann and /Users/bob, C:\\x, d:/y, file:///etc, ~/notes — 中文 /home/");
        let names: Vec<&str> = v.iter().map(|m| m.pattern.as_str()).collect();
        assert_eq!(
            names,
            [
                "POSIX_HOME",
                "POSIX_HOME",
                "MAC_USERS",
                "WINDOWS_DRIVE",
                "WINDOWS_DRIVE",
                "FILE_URI",
                "HOME_SHORTCUT"
            ]
        );
        assert_eq!(v[0].column, 5);
        // Columns count characters, not bytes: "中文" are two.
        let last = v
            .iter()
            .filter(|m| m.pattern == "POSIX_HOME")
            .nth(1)
            .unwrap();
        assert_eq!(
            last.column as usize,
            "see /home/ann and /Users/bob, C:\\x, d:/y, file:///etc, ~/notes — 中文 "
                .chars()
                .count()
                + 1
        );
        assert_eq!(
            v[0].excerpt,
            "see /home/ann and /Users/bob, C:\\x, d:/y, file:///etc, ~/notes — 中文 /home/"
        );
    }

    #[test]
    fn drive_letters_need_a_boundary() {
        let (v, _) = run("abc:/x 9c:/y http://h");
        assert!(v.is_empty(), "{v:?}");
        assert_eq!(run("(C:/x)").0.len(), 1);
    }

    #[test]
    fn examples_are_fences_indents_and_inline_code() {
        let text =
            "intro /home/a\n```\n/home/b\n```\n    /home/c\nuse `/home/d` here\n[link](/home/e)\n";
        let (v, e) = run(text);
        let lines = |ms: &[PortabilityMatch]| ms.iter().map(|m| m.line).collect::<Vec<_>>();
        // The reference toggles the fence before scanning the fence line itself.
        assert_eq!(lines(&e), [3, 5, 6]);
        assert_eq!(lines(&v), [1, 7]);
        assert!(e
            .iter()
            .all(|m| m.classification == Classification::Example));
        assert!(v
            .iter()
            .all(|m| m.classification == Classification::Violation));
    }

    #[test]
    fn surfaces_walk_only_their_directories() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("docs/governance/deep")).unwrap();
        std::fs::create_dir_all(root.join("docs/other")).unwrap();
        for f in [
            "README.md",
            "docs/governance/a.md",
            "docs/governance/deep/b.md",
            "docs/governance/c.txt",
            "docs/other/d.md",
        ] {
            std::fs::write(root.join(f), "x").unwrap();
        }
        let files = surface_files(root, &crate::governance::default_surfaces()).unwrap();
        assert_eq!(
            files,
            [
                "README.md",
                "docs/governance/a.md",
                "docs/governance/deep/b.md"
            ]
        );
    }
}
