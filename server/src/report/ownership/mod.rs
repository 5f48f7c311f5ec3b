//! Plan ownership checks: paths a plan's assignments name that the governance rules route to
//! another department (`owned_by_other`), and paths two assignments both name (`overlap`).
//!
//! # What an assignment's path means
//!
//! Paths are normalised first (trimmed, `\` → `/`, runs of `/` collapsed, leading `./` removed;
//! empty ones and `.` are skipped, duplicates within one assignment dropped). Then:
//! - `a/b.rs` (no `*`, `?` or `[`): that file. For `owned_by_other` it is routed exactly as the
//!   report routes a changed file (same matchers, same function). Against another literal path
//!   below it, a bare name is taken as a directory too (`src` overlaps `src/a.rs`, not
//!   `srcx/a.rs`); against globs it is only the file (else `src/main.rs` would "overlap"
//!   `src/*.toml` through a directory `src/main.rs/`). Name directories as `dir/` or `dir/**`.
//! - `dir/` (trailing slash): everything below `dir`.
//! - a glob: the governance dialect (see `glob.rs`: fnmatch, `*` and `?` cross `/`, `**` is
//!   `*`, `[...]` classes, braces literal), without the department rules' "prefix" extension;
//!   a trailing `/` adds "and everything below".
//! - an absolute path or one with a `..` component: outside the repository. It is reported as
//!   given (normalised), never routed, and overlaps only the identical text.
//!
//! # How globs are compared (exact, with a bounded search)
//!
//! The globs of this dialect and the department rules (glob OR literal prefix) are regular
//! languages, so no sampling is needed: a breadth-first search over the product of their
//! automata (subsets built on the fly; the alphabet split into the character classes the
//! patterns can tell apart) finds the shortest well-formed repository path — non-empty
//! components, none `.` or `..`, no leading or trailing `/`, printable characters — that lies in
//! every "must" language and in no "must not" language, or proves there is none.
//! - `owned_by_other` for a glob or directory: warned iff some well-formed path it can match is
//!   routed to another department and not to the assignment's own (paths the own department
//!   shares are fine; uncategorized paths are fine). The example path in the message is that
//!   witness, and it is re-checked with the report's own matchers: a witness the report would
//!   route differently (possible only for non-ASCII text, as globset matches bytes) is dropped.
//! - `overlap`: warned iff some well-formed path is covered by both paths.
//!
//! Where this is not exact: a bare literal counts as a directory against literals below it but
//! as a file against globs (above); a search stops after [`STATE_LIMIT`] states (pathological
//! patterns only) and then reports nothing; paths with control characters are never
//! considered; non-ASCII text may differ from globset's byte matching (witnesses are re-checked
//! for `owned_by_other`); if a department glob does not compile (the report itself fails on
//! such a configuration) no `owned_by_other` warnings are computed at all.
//!
//! Menxia reviews and does not edit files: its assignments get neither `owned_by_other` nor
//! `overlap` warnings, and other assignments do not overlap it (the suggested plan puts every
//! risky path in Menxia's list, which would otherwise always overlap the departments' lists).

mod lang;

use std::collections::HashSet;

use app::api::{OwnershipKind, OwnershipWarning};

use self::lang::{department_lang, witness, Lang};
use super::glob::PatternSet;
use super::{department_matchers, routed_departments};
use crate::governance::{GovernanceConfig, MENXIA_KEY};

/// Most product states one witness search visits before it gives up (and warns nothing).
pub const STATE_LIMIT: usize = 20_000;

/// One assignment as ownership sees it: its department and the paths it says it will touch
/// (files or globs, repository-relative, `/`-separated).
#[derive(Debug, Clone, Copy)]
pub struct Intent<'a> {
    pub department: &'a str,
    pub paths: &'a [String],
}

/// Warnings for a plan, in assignment order then path order (per path: `owned_by_other` first,
/// then `overlap` by earlier assignment), no duplicates:
/// - `owned_by_other`: a path the governance rules route to other departments and not to the
///   assignment's; `owner` = the first such department in configuration order. For a glob or
///   directory: some path it can match is (see the module docs); `owner` = the department of
///   the shortest (least specific) example path, the message lists every such department with
///   an example. Uncategorized paths and Menxia assignments never get one.
/// - `overlap`: the first path of a later assignment that overlaps any path of an earlier one
///   (same file, file below a directory, file matched by a glob, two globs with a common path);
///   one warning per pair of assignments, on the later one, `owner` = the earlier one's
///   department.
pub fn ownership_warnings(config: &GovernanceConfig, intents: &[Intent]) -> Vec<OwnershipWarning> {
    let rules = Rules::new(config);
    let named: Vec<Vec<Named>> = intents.iter().map(|i| named_paths(i.paths)).collect();
    let mut out = Vec::new();
    for (j, intent) in intents.iter().enumerate() {
        if intent.department == MENXIA_KEY {
            continue;
        }
        let mut paired = HashSet::new();
        for path in &named[j] {
            if let Some((owner, message)) = rules
                .as_ref()
                .and_then(|r| r.owned_by_other(intent.department, path))
            {
                out.push(warning(
                    j,
                    intent,
                    path,
                    owner,
                    OwnershipKind::OwnedByOther,
                    message,
                ));
            }
            for (i, earlier) in intents[..j].iter().enumerate() {
                if earlier.department == MENXIA_KEY || paired.contains(&i) {
                    continue;
                }
                let Some((other, example)) = named[i]
                    .iter()
                    .find_map(|q| overlap(q, path).map(|w| (q, w)))
                else {
                    continue;
                };
                paired.insert(i);
                let both = if earlier.department == intent.department {
                    format!("two {} assignments", intent.department)
                } else {
                    format!("{} and {}", intent.department, earlier.department)
                };
                let message = if other.text == path.text {
                    format!(
                        "{} is also named by an earlier {} assignment, so {both} would touch the same files",
                        path.text, earlier.department
                    )
                } else if example == path.text || example == other.text {
                    format!(
                        "{} overlaps {} of an earlier {} assignment, so {both} could touch the same files",
                        path.text, other.text, earlier.department
                    )
                } else {
                    format!(
                        "{} overlaps {} of an earlier {} assignment (both cover {example}), so {both} could touch the same files",
                        path.text, other.text, earlier.department
                    )
                };
                out.push(warning(
                    j,
                    intent,
                    path,
                    earlier.department.to_string(),
                    OwnershipKind::Overlap,
                    message,
                ));
            }
        }
    }
    out
}

fn warning(
    index: usize,
    intent: &Intent,
    path: &Named,
    owner: String,
    kind: OwnershipKind,
    message: String,
) -> OwnershipWarning {
    OwnershipWarning {
        assignment_index: index as u32,
        department: intent.department.to_string(),
        path: path.text.clone(),
        owner,
        kind,
        message,
    }
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

// ---- paths ----

/// The normalised form of a path, or None for an empty one (or `.`, the whole repository).
fn normalise(raw: &str) -> Option<String> {
    let mut path = raw.trim().replace('\\', "/");
    while path.contains("//") {
        path = path.replace("//", "/");
    }
    let mut rest = path.as_str();
    while let Some(stripped) = rest.strip_prefix("./") {
        rest = stripped;
    }
    (!rest.is_empty() && rest != ".").then(|| rest.to_string())
}

/// Absolute (`/x`, `C:/x`) or with a `..` component: not a path inside the repository.
fn is_outside(path: &str) -> bool {
    let bytes = path.as_bytes();
    path.starts_with('/')
        || (bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
        || path.split('/').any(|part| part == "..")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Outside,
    File,
    Pattern,
}

/// One normalised path of an assignment and the set of repository paths it covers.
#[derive(Debug, Clone)]
struct Named {
    text: String,
    shape: Shape,
    lang: Lang,
}

fn named_paths(paths: &[String]) -> Vec<Named> {
    let mut seen = HashSet::new();
    paths
        .iter()
        .filter_map(|p| normalise(p))
        .filter(|p| seen.insert(p.clone()))
        .map(classify)
        .collect()
}

fn classify(text: String) -> Named {
    if is_outside(&text) {
        return Named {
            text,
            shape: Shape::Outside,
            lang: Lang::default(),
        };
    }
    let below = text.ends_with('/');
    let glob = text
        .contains(['*', '?', '['])
        .then(|| Lang::glob(&text, below))
        .flatten();
    let (shape, lang) = match glob {
        Some(lang) => (Shape::Pattern, lang),
        None if below => (Shape::Pattern, Lang::literal(&text, true)),
        None => (Shape::File, Lang::literal(&text, false)),
    };
    Named { text, shape, lang }
}

/// A shortest well-formed path both cover, if any.
fn overlap(a: &Named, b: &Named) -> Option<String> {
    match (a.shape, b.shape) {
        (Shape::Outside, Shape::Outside) => (a.text == b.text).then(|| a.text.clone()),
        (Shape::Outside, _) | (_, Shape::Outside) => None,
        (Shape::File, Shape::File) => {
            let below = |dir: &str, file: &str| {
                file.strip_prefix(dir)
                    .is_some_and(|rest| rest.starts_with('/'))
            };
            if a.text == b.text || below(&a.text, &b.text) {
                Some(b.text.clone())
            } else if below(&b.text, &a.text) {
                Some(a.text.clone())
            } else {
                None
            }
        }
        (Shape::File, Shape::Pattern) => b.lang.matches(&a.text).then(|| a.text.clone()),
        (Shape::Pattern, Shape::File) => a.lang.matches(&b.text).then(|| b.text.clone()),
        (Shape::Pattern, Shape::Pattern) => witness(&[&a.lang, &b.lang], &[]),
    }
}

// ---- the rules ----

/// The report's matchers and the same rules as languages.
struct Rules<'c> {
    config: &'c GovernanceConfig,
    matchers: Vec<PatternSet>,
    langs: Vec<Lang>,
}

impl<'c> Rules<'c> {
    /// None when a department glob does not compile (the report fails on such a configuration).
    fn new(config: &'c GovernanceConfig) -> Option<Rules<'c>> {
        let matchers = department_matchers(config).ok()?;
        let langs = config
            .departments
            .iter()
            .map(|d| department_lang(&d.globs))
            .collect();
        Some(Rules {
            config,
            matchers,
            langs,
        })
    }

    fn key(&self, index: usize) -> &str {
        &self.config.departments[index].key
    }

    /// The owner and message of an `owned_by_other` warning, if the path deserves one.
    fn owned_by_other(&self, department: &str, path: &Named) -> Option<(String, String)> {
        match path.shape {
            Shape::Outside => None,
            Shape::File => {
                let routed: Vec<String> = routed_departments(&self.matchers, &path.text)
                    .map(|i| self.key(i).to_string())
                    .collect();
                if routed.is_empty() || routed.iter().any(|k| k == department) {
                    return None;
                }
                let message = format!(
                    "{} is routed to {} by the governance rules, not to {department}",
                    path.text,
                    and_list(&routed)
                );
                Some((routed[0].clone(), message))
            }
            Shape::Pattern => {
                let own: Vec<&Lang> = (0..self.langs.len())
                    .filter(|&i| self.key(i) == department)
                    .map(|i| &self.langs[i])
                    .collect();
                let mut owners = Vec::new();
                for (i, lang) in self.langs.iter().enumerate() {
                    if self.key(i) == department {
                        continue;
                    }
                    let Some(example) = witness(&[&path.lang, lang], &own) else {
                        continue;
                    };
                    let routed: Vec<usize> = routed_departments(&self.matchers, &example).collect();
                    if routed.contains(&i) && !routed.iter().any(|&r| self.key(r) == department) {
                        owners.push((i, example));
                    }
                }
                // The shortest example is the least specific path: its department leads.
                owners.sort_by_key(|(i, example)| (example.chars().count(), *i));
                let (first, _) = owners.first()?;
                let listed: Vec<String> = owners
                    .iter()
                    .map(|(i, example)| format!("{} (e.g. {example})", self.key(*i)))
                    .collect();
                let message = format!(
                    "{} can match paths the governance rules route to {}, not to {department}",
                    path.text,
                    and_list(&listed)
                );
                Some((self.key(*first).to_string(), message))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// (assignment_index, kind, path, owner) of each warning.
    fn summary(warnings: &[OwnershipWarning]) -> Vec<(u32, &'static str, &str, &str)> {
        warnings
            .iter()
            .map(|w| {
                (
                    w.assignment_index,
                    w.kind.as_str(),
                    w.path.as_str(),
                    w.owner.as_str(),
                )
            })
            .collect()
    }

    fn check(config: &GovernanceConfig, plan: &[(&str, &[&str])]) -> Vec<OwnershipWarning> {
        let paths: Vec<Vec<String>> = plan.iter().map(|(_, p)| strings(p)).collect();
        let intents: Vec<Intent> = plan
            .iter()
            .zip(&paths)
            .map(|((department, _), paths)| Intent { department, paths })
            .collect();
        ownership_warnings(config, &intents)
    }

    fn custom() -> GovernanceConfig {
        GovernanceConfig::parse(
            "departments:\n  web:\n    globs: [\"web/**\", \"*.css\"]\n  api:\n    globs: [\"api/**\", \"*.proto\"]\n  docs:\n    globs: [docs, \"*.md\"]\n",
            "test",
        )
        .unwrap()
    }

    #[test]
    fn a_file_routed_only_elsewhere_is_owned_by_other() {
        let w = check(
            &GovernanceConfig::default(),
            &[("lingyubu", &["scripts/run.sh", "tools/README.md"])],
        );
        assert_eq!(
            summary(&w),
            [
                (0, "owned_by_other", "scripts/run.sh", "gongchengbu"),
                (0, "owned_by_other", "tools/README.md", "zhilibu"),
            ]
        );
        assert_eq!(w[0].department, "lingyubu");
        assert_eq!(
            w[0].message,
            "scripts/run.sh is routed to gongchengbu by the governance rules, not to lingyubu"
        );
        assert_eq!(
            w[1].message,
            "tools/README.md is routed to zhilibu and gongchengbu by the governance rules, not to lingyubu"
        );
        let w = check(&custom(), &[("web", &["api/v1.proto"])]);
        assert_eq!(
            w[0].message,
            "api/v1.proto is routed to api by the governance rules, not to web"
        );
    }

    #[test]
    fn a_glob_that_can_match_another_departments_paths_is_owned_by_other() {
        let config = GovernanceConfig::default();
        let w = check(&config, &[("gongchengbu", &["src/**", "src/**/*.rs"])]);
        // Every `src/**/*.rs` is also gongchengbu's (`*.rs`): no warning for it.
        assert_eq!(summary(&w), [(0, "owned_by_other", "src/**", "lingyubu")]);
        assert_eq!(
            w[0].message,
            "src/** can match paths the governance rules route to lingyubu (e.g. src/x) and zhilibu (e.g. src/README.md), not to gongchengbu"
        );
        let w = check(&config, &[("lingyubu", &["docs/"])]);
        assert_eq!(
            w[0].message,
            "docs/ can match paths the governance rules route to zhilibu (e.g. docs/x) and gongchengbu (e.g. docs/x.py), not to lingyubu"
        );
        assert_eq!(w[0].owner, "zhilibu");
        // A glob reaching into another department only through that department's globs.
        let w = check(
            &custom(),
            &[("web", &["vendor/**"]), ("api", &["web/*.css"])],
        );
        assert_eq!(
            summary(&w),
            [
                (0, "owned_by_other", "vendor/**", "docs"),
                (1, "owned_by_other", "web/*.css", "web"),
            ]
        );
        assert_eq!(
            w[0].message,
            "vendor/** can match paths the governance rules route to docs (e.g. vendor/x.md) and api (e.g. vendor/x.proto), not to web"
        );
    }

    #[test]
    fn own_shared_and_uncategorized_paths_are_fine() {
        let w = check(
            &GovernanceConfig::default(),
            &[
                (
                    "lingyubu",
                    &["src/main.rs", "app/**", "weird.bin", "assets/x.png"],
                ),
                ("zhilibu", &["README.md", "docs/**", "tools/README.md"]),
                ("gongchengbu", &["scripts/", "tests/**", "Cargo.toml"]),
            ],
        );
        assert_eq!(summary(&w), []);
        // `assets/*.png` can match only uncategorized paths.
        assert_eq!(
            summary(&check(&custom(), &[("api", &["assets/*.png", "api/**"])])),
            []
        );
    }

    #[test]
    fn overlaps_same_file_file_glob_directory_and_globs() {
        let config = custom();
        let w = check(
            &config,
            &[
                ("web", &["web/a.css", "web/app/", "web/*.js"]),
                ("web", &["web/a.css"]),
                ("web", &["web/app/x/y.ts"]),
                ("web", &["web/b.js"]),
                ("web", &["web/z?.[jt]s"]),
                ("web", &["web"]),
                ("web", &["webx/a.css"]),
            ],
        );
        assert_eq!(
            summary(&w),
            [
                (1, "overlap", "web/a.css", "web"),
                (2, "overlap", "web/app/x/y.ts", "web"),
                (3, "overlap", "web/b.js", "web"),
                (4, "overlap", "web/z?.[jt]s", "web"),
                // One warning per pair: the bare name `web` lies above the literal paths of
                // 0..=3; against the glob of 4 it is only a file.
                (5, "overlap", "web", "web"),
                (5, "overlap", "web", "web"),
                (5, "overlap", "web", "web"),
                (5, "overlap", "web", "web"),
            ]
        );
        assert_eq!(
            w[0].message,
            "web/a.css is also named by an earlier web assignment, so two web assignments would touch the same files"
        );
        assert_eq!(
            w[1].message,
            "web/app/x/y.ts overlaps web/app/ of an earlier web assignment, so two web assignments could touch the same files"
        );
        assert_eq!(
            w[3].message,
            "web/z?.[jt]s overlaps web/*.js of an earlier web assignment (both cover web/zx.js), so two web assignments could touch the same files"
        );
        let w = check(
            &config,
            &[
                ("web", &["web/*.css"]),
                ("api", &["**/a.*", "api/**"]),
                ("docs", &["*.md"]),
                ("api", &["*.proto"]),
            ],
        );
        assert_eq!(
            summary(&w),
            [
                (1, "owned_by_other", "**/a.*", "web"),
                (1, "overlap", "**/a.*", "web"),
                (2, "overlap", "*.md", "api"),
                (3, "overlap", "*.proto", "api"),
            ]
        );
        assert_eq!(
            w[1].message,
            "**/a.* overlaps web/*.css of an earlier web assignment (both cover web/a.css), so api and web could touch the same files"
        );
        assert_eq!(
            w[2].message,
            "*.md overlaps **/a.* of an earlier api assignment (both cover x/a.md), so docs and api could touch the same files"
        );
    }

    #[test]
    fn globs_without_a_common_path_do_not_overlap() {
        let w = check(
            &custom(),
            &[
                ("web", &["web/*.css", "web/a/"]),
                (
                    "web",
                    // `web/ab/x.js` is a file, not a directory holding `.css` files.
                    &["api/*.css", "srcx/a.css", "web/ab/x.js", "web/b/*.js"],
                ),
            ],
        );
        assert_eq!(summary(&w), []);
    }

    #[test]
    fn menxia_gets_no_warnings_and_overlaps_nobody() {
        let w = check(
            &GovernanceConfig::default(),
            &[
                ("menxia", &["scripts/run.sh", "src/**"]),
                ("lingyubu", &["src/main.rs"]),
                ("menxia", &["src/main.rs"]),
            ],
        );
        assert_eq!(summary(&w), []);
    }

    #[test]
    fn warnings_follow_assignment_then_path_order() {
        let config = GovernanceConfig::default();
        let plan: &[(&str, &[&str])] = &[
            ("zhilibu", &["docs/a.md", "src/lib.rs"]),
            ("lingyubu", &["scripts/b.sh", "src/lib.rs", "docs/a.md"]),
            ("gongchengbu", &["docs/**", "scripts/b.sh"]),
        ];
        let first = check(&config, plan);
        assert_eq!(
            summary(&first),
            [
                (0, "owned_by_other", "src/lib.rs", "gongchengbu"),
                (1, "owned_by_other", "scripts/b.sh", "gongchengbu"),
                (1, "overlap", "src/lib.rs", "zhilibu"),
                // Pair (0, 1) already warned on src/lib.rs: docs/a.md gets no second overlap.
                (1, "owned_by_other", "docs/a.md", "zhilibu"),
                (2, "owned_by_other", "docs/**", "zhilibu"),
                (2, "overlap", "docs/**", "zhilibu"),
                (2, "overlap", "docs/**", "lingyubu"),
            ]
        );
        assert_eq!(check(&config, plan), first);
    }

    #[test]
    fn paths_are_normalised_and_outside_paths_are_opaque() {
        let config = GovernanceConfig::default();
        let w = check(
            &config,
            &[
                ("lingyubu", &["./src/a.rs", "", "  ", "."]),
                (
                    "gongchengbu",
                    &[" .\\src\\a.rs ", "src//a.rs", "../x.rs", "/etc/x.rs"],
                ),
                ("gongchengbu", &["../x.rs", "C:\\x.rs", "src/../src/b.rs"]),
            ],
        );
        assert_eq!(
            summary(&w),
            [
                (1, "overlap", "src/a.rs", "lingyubu"),
                (2, "overlap", "../x.rs", "gongchengbu"),
            ]
        );
        assert!(w.iter().all(|w| !w.message.is_empty()));
        assert_eq!(normalise(" ././a\\\\b/ "), Some("a/b/".to_string()));
        assert!(is_outside("/x") && is_outside("C:/x") && is_outside("a/../b"));
        assert!(!is_outside("a/..b"));
    }

    #[test]
    fn an_invalid_rule_glob_disables_only_owned_by_other() {
        let config = GovernanceConfig::parse(
            "departments:\n  web:\n    globs: [\"web/[oops\"]\n  api:\n    globs: [\"api/**\"]\n",
            "test",
        )
        .unwrap();
        let w = check(&config, &[("web", &["api/x"]), ("web", &["api/*"])]);
        assert_eq!(summary(&w), [(1, "overlap", "api/*", "web")]);
    }
}
