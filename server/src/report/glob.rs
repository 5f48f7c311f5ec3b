//! Department path matching, compatible with the reference tool: Python `fnmatch` semantics
//! (`*` and `?` also match `/`, `[seq]`, `[!seq]`, case-sensitive, no escapes, no braces) OR
//! "the path starts with the pattern stripped of trailing `*`". Built on globset.

use anyhow::{Context, Result};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

/// Several fnmatch patterns compiled into one matcher.
#[derive(Debug, Clone)]
pub struct PatternSet {
    set: GlobSet,
    prefixes: Vec<String>,
}

/// Rewrites an fnmatch pattern into a globset pattern with the same meaning: in fnmatch a run
/// of `*` is one `*` (globset would read `**` as "any directories"), and braces are literals.
fn fnmatch_to_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut previous_star = false;
    for c in pattern.chars() {
        match c {
            '*' if previous_star => continue,
            '{' => out.push_str("[{]"),
            '}' => out.push_str("[}]"),
            _ => out.push(c),
        }
        previous_star = c == '*';
    }
    out
}

impl PatternSet {
    pub fn new(patterns: &[String]) -> Result<PatternSet> {
        let mut builder = GlobSetBuilder::new();
        for pattern in patterns {
            let glob = GlobBuilder::new(&fnmatch_to_glob(pattern))
                .literal_separator(false)
                .backslash_escape(false)
                .case_insensitive(false)
                .build()
                .with_context(|| format!("invalid glob {pattern:?}"))?;
            builder.add(glob);
        }
        Ok(PatternSet {
            set: builder.build()?,
            prefixes: patterns
                .iter()
                .map(|p| p.trim_end_matches('*').to_string())
                .collect(),
        })
    }

    pub fn is_match(&self, path: &str) -> bool {
        self.set.is_match(path)
            || self
                .prefixes
                .iter()
                .any(|prefix| path.starts_with(prefix.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(patterns: &[&str]) -> PatternSet {
        PatternSet::new(&patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn star_crosses_slashes_like_fnmatch() {
        let s = set(&["*.py"]);
        assert!(s.is_match("a.py"));
        assert!(s.is_match("tools/deep/a.py"));
        assert!(!s.is_match("a.pyc"));
        assert!(set(&["tools/*/README.md"]).is_match("tools/a/b/README.md"));
    }

    #[test]
    fn double_star_is_just_a_star() {
        // fnmatch: `**/README.md` needs a slash, so a root README.md does not match it.
        let s = set(&["**/README.md"]);
        assert!(s.is_match("docs/README.md"));
        assert!(!s.is_match("README.md"));
        assert!(set(&["docs/**"]).is_match("docs/a/b.md"));
        assert!(!set(&["src/**"]).is_match("srcx/a.rs"));
    }

    #[test]
    fn prefix_rule_and_character_classes() {
        // `docs` (no glob) also matches everything below it through the prefix rule.
        assert!(set(&["docs"]).is_match("docs/x.md"));
        assert!(set(&["scripts/**"]).is_match("scripts/"));
        assert!(set(&["file[0-9].txt"]).is_match("file3.txt"));
        assert!(set(&["file[!0-9].txt"]).is_match("filea.txt"));
        assert!(!set(&["file[!0-9].txt"]).is_match("file3.txt"));
        assert!(set(&["?.md"]).is_match("a.md"));
        assert!(!set(&["*.MD"]).is_match("a.md"), "case-sensitive");
        assert!(
            set(&["{a,b}.txt"]).is_match("{a,b}.txt"),
            "braces are literal"
        );
        assert!(!set(&["{a,b}.txt"]).is_match("a.txt"));
    }
}
