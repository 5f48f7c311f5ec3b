//! Sets of paths as regular languages: governance globs parsed into token sequences exactly as
//! `glob::PatternSet` compiles them, and a bounded breadth-first search over the product of
//! their automata for a shortest well-formed path in some languages and in none of others (see
//! the parent module for what the ownership checks make of it).

use std::collections::{BTreeSet, HashMap, VecDeque};

use super::STATE_LIMIT;

/// A department's rules as `PatternSet` applies them: each glob, or a path starting with the
/// glob stripped of trailing `*`.
pub(super) fn department_lang(globs: &[String]) -> Lang {
    let mut alts = Vec::new();
    for glob in globs {
        // A glob globset accepts always parses here; the fallback only keeps this total.
        alts.push(parse_fnmatch(glob).unwrap_or_else(|| literal(glob, false)));
        alts.push(literal(glob.trim_end_matches('*'), true));
    }
    Lang { alts }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`: any one character.
    Any,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `*`: any string, `/` included.
    Star,
}

impl Tok {
    fn accepts(&self, c: char) -> bool {
        match self {
            Tok::Lit(l) => *l == c,
            Tok::Any | Tok::Star => true,
            Tok::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        }
    }
}

/// The text as literal tokens, optionally followed by `*`.
fn literal(text: &str, then_anything: bool) -> Vec<Tok> {
    let mut tokens: Vec<Tok> = text.chars().map(Tok::Lit).collect();
    if then_anything {
        tokens.push(Tok::Star);
    }
    tokens
}

/// Tokens of a governance glob, exactly as `glob::PatternSet` compiles it: its fnmatch rewrite
/// (runs of `*` are one `*`, braces literal) read by globset's parser (no escapes, `[!..]` and
/// `[^..]` negate, `]` first in a class is literal, `-` first or last is literal, POSIX
/// `[:name:]` classes). None where globset reports an error (unclosed class, reversed range).
fn parse_fnmatch(pattern: &str) -> Option<Vec<Tok>> {
    let mut rewritten = Vec::with_capacity(pattern.len());
    let mut previous_star = false;
    for c in pattern.chars() {
        match c {
            '*' if previous_star => continue,
            '{' | '}' => rewritten.extend(['[', c, ']']),
            _ => rewritten.push(c),
        }
        previous_star = c == '*';
    }
    let chars = rewritten;
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => tokens.push(Tok::Star),
            '?' => tokens.push(Tok::Any),
            '[' => {
                let (class, next) = parse_class(&chars, i + 1)?;
                tokens.push(class);
                i = next;
                continue;
            }
            c => tokens.push(Tok::Lit(c)),
        }
        i += 1;
    }
    Some(tokens)
}

/// A class whose `[` was at `i - 1`; returns it and the index after its `]`.
fn parse_class(chars: &[char], mut i: usize) -> Option<(Tok, usize)> {
    let negated = matches!(chars.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges: Vec<(char, char)> = Vec::new();
    let mut first = true;
    let mut in_range = false;
    let extend = |ranges: &mut Vec<(char, char)>, c: char| {
        let last = ranges.last_mut()?;
        last.1 = c;
        (last.0 <= last.1).then_some(())
    };
    loop {
        let c = *chars.get(i)?;
        i += 1;
        match c {
            ']' if first => ranges.push((']', ']')),
            ']' => break,
            '-' if first => ranges.push(('-', '-')),
            '-' if in_range => {
                extend(&mut ranges, '-')?;
                in_range = false;
            }
            '-' => in_range = true,
            '[' if !in_range && chars.get(i) == Some(&':') => {
                match posix_class(chars, i) {
                    Some((Some(class), next)) => {
                        ranges.extend_from_slice(class);
                        i = next;
                    }
                    // globset consumes an unknown `[:name:]` yet keeps only the `[`.
                    Some((None, next)) => {
                        ranges.push(('[', '['));
                        i = next;
                    }
                    None => ranges.push(('[', '[')),
                }
                in_range = false;
            }
            c if in_range => {
                extend(&mut ranges, c)?;
                in_range = false;
            }
            c => ranges.push((c, c)),
        }
        first = false;
    }
    if in_range {
        ranges.push(('-', '-'));
    }
    Some((Tok::Class { negated, ranges }, i))
}

/// Character ranges of a class.
type Ranges = &'static [(char, char)];

/// `:name:]` at `i`: the class's ranges (None for an unknown name) and the index after it; None
/// when this is no POSIX class syntax.
fn posix_class(chars: &[char], i: usize) -> Option<(Option<Ranges>, usize)> {
    let mut j = i + 1;
    let mut name = String::new();
    loop {
        match chars.get(j) {
            Some(':') if chars.get(j + 1) == Some(&']') => {
                let ranges: Option<Ranges> = match name.as_str() {
                    "alnum" => Some(&[('0', '9'), ('A', 'Z'), ('a', 'z')]),
                    "alpha" => Some(&[('A', 'Z'), ('a', 'z')]),
                    "blank" => Some(&[('\t', '\t'), (' ', ' ')]),
                    "cntrl" => Some(&[('\x00', '\x1f'), ('\x7f', '\x7f')]),
                    "digit" => Some(&[('0', '9')]),
                    "graph" => Some(&[('!', '~')]),
                    "lower" => Some(&[('a', 'z')]),
                    "print" => Some(&[(' ', '~')]),
                    "punct" => Some(&[('!', '/'), (':', '@'), ('[', '`'), ('{', '~')]),
                    "space" => Some(&[('\t', '\r'), (' ', ' ')]),
                    "upper" => Some(&[('A', 'Z')]),
                    "xdigit" => Some(&[('0', '9'), ('A', 'F'), ('a', 'f')]),
                    _ => None,
                };
                return Some((ranges, j + 2));
            }
            Some(&c) if c.is_ascii_lowercase() && name.len() < 8 => name.push(c),
            _ => return None,
        }
        j += 1;
    }
}

/// A union of token sequences: the paths any alternative matches as a whole.
#[derive(Debug, Clone, Default)]
pub(super) struct Lang {
    alts: Vec<Vec<Tok>>,
}

/// A set of automaton positions (alternative, token index), sorted.
type Positions = Vec<(u32, u32)>;

impl Lang {
    /// The paths a governance glob matches (see [`parse_fnmatch`]), and everything below them
    /// if `then_anything`; None where the glob does not parse.
    pub(super) fn glob(pattern: &str, then_anything: bool) -> Option<Lang> {
        let mut tokens = parse_fnmatch(pattern)?;
        if then_anything {
            tokens.push(Tok::Star);
        }
        Some(Lang { alts: vec![tokens] })
    }

    /// Exactly the text, and everything starting with it if `then_anything`.
    pub(super) fn literal(text: &str, then_anything: bool) -> Lang {
        Lang {
            alts: vec![literal(text, then_anything)],
        }
    }

    fn closure(&self, mut set: Positions) -> Positions {
        let mut i = 0;
        while i < set.len() {
            let (alt, pos) = set[i];
            if self.alts[alt as usize].get(pos as usize) == Some(&Tok::Star) {
                set.push((alt, pos + 1));
            }
            i += 1;
        }
        set.sort_unstable();
        set.dedup();
        set
    }

    fn start(&self) -> Positions {
        self.closure((0..self.alts.len() as u32).map(|alt| (alt, 0)).collect())
    }

    fn step(&self, set: &Positions, c: char) -> Positions {
        let next = set
            .iter()
            .filter_map(|&(alt, pos)| {
                let tok = self.alts[alt as usize].get(pos as usize)?;
                tok.accepts(c).then_some(if *tok == Tok::Star {
                    (alt, pos)
                } else {
                    (alt, pos + 1)
                })
            })
            .collect();
        self.closure(next)
    }

    pub(super) fn matches(&self, text: &str) -> bool {
        let end = text.chars().try_fold(self.start(), |set, c| {
            let next = self.step(&set, c);
            (!next.is_empty()).then_some(next)
        });
        end.is_some_and(|set| self.accepts(&set))
    }

    fn accepts(&self, set: &Positions) -> bool {
        set.iter()
            .any(|&(alt, pos)| pos as usize == self.alts[alt as usize].len())
    }

    /// Whether every continuation is accepted: an alternative sits on its final `*`.
    fn accepts_all(&self, set: &Positions) -> bool {
        set.iter().any(|&(alt, pos)| {
            let tokens = &self.alts[alt as usize];
            pos as usize + 1 == tokens.len() && tokens[pos as usize] == Tok::Star
        })
    }
}

/// Preferred characters for example paths, best first.
const PREFERRED: &str = "xabcdefghijklmnopqrstuvwyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_-.";

fn rank(c: char) -> u32 {
    match PREFERRED.find(c) {
        Some(i) => i as u32,
        None if c == '/' => 100,
        None => 200 + c as u32,
    }
}

/// One printable character per class of characters that no pattern tells apart.
fn alphabet(langs: &[&Lang]) -> Vec<char> {
    let mut cuts: BTreeSet<u32> = [0x20, 0x7f, 0x80, 0x11_0000].into_iter().collect();
    for c in ['/', '.', 'x'] {
        cuts.extend([c as u32, c as u32 + 1]);
    }
    for tok in langs.iter().flat_map(|l| &l.alts).flatten() {
        match tok {
            Tok::Lit(c) => cuts.extend([*c as u32, *c as u32 + 1]),
            Tok::Class { ranges, .. } => {
                for &(lo, hi) in ranges {
                    cuts.extend([lo as u32, hi as u32 + 1]);
                }
            }
            Tok::Any | Tok::Star => {}
        }
    }
    let cuts: Vec<u32> = cuts.into_iter().filter(|&c| c >= 0x20).collect();
    let mut chars: Vec<char> = cuts
        .windows(2)
        .filter_map(|w| {
            let (lo, hi) = (w[0], w[1]);
            if let Some(c) = PREFERRED.chars().find(|&c| (lo..hi).contains(&(c as u32))) {
                return Some(c);
            }
            let c = if (0xD800..0xE000).contains(&lo) {
                0xE000
            } else {
                lo
            };
            (c < hi && c != 0x7f).then(|| char::from_u32(c)).flatten()
        })
        .collect();
    chars.sort_by_key(|&c| rank(c));
    chars
}

/// Well-formed path tracking: 0 = at a component start, 1 = `.`, 2 = `..`, 3 = other
/// component text (the only accepting state). `strict` also refuses components starting with
/// `.`, for nicer examples.
fn path_step(state: u8, c: char, strict: bool) -> Option<u8> {
    match (state, c) {
        (3, '/') => Some(0),
        (_, '/') => None,
        (0, '.') if strict => None,
        (0, '.') => Some(1),
        (1, '.') => Some(2),
        _ => Some(3),
    }
}

/// A shortest well-formed path in every `must` language and in no `must_not` one (preferring
/// paths without dot-components), or None (also when the search exceeds [`STATE_LIMIT`]).
pub(super) fn witness(must: &[&Lang], must_not: &[&Lang]) -> Option<String> {
    let found = search(must, must_not, false)?;
    Some(search(must, must_not, true).unwrap_or(found))
}

fn search(must: &[&Lang], must_not: &[&Lang], strict: bool) -> Option<String> {
    type State = (Vec<Positions>, u8);
    let langs: Vec<&Lang> = must.iter().chain(must_not).copied().collect();
    let alphabet = alphabet(&langs);
    let start: State = (langs.iter().map(|l| l.start()).collect(), 0);
    let dead = |sets: &[Positions]| {
        sets[..must.len()].iter().any(Vec::is_empty)
            || must_not
                .iter()
                .zip(&sets[must.len()..])
                .any(|(lang, set)| lang.accepts_all(set))
    };
    if dead(&start.0) {
        return None;
    }
    // Each node: its state, its parent node and the character that led to it.
    let mut nodes: Vec<(State, usize, char)> = vec![(start.clone(), 0, ' ')];
    let mut seen: HashMap<State, ()> = HashMap::from([(start, ())]);
    let mut queue = VecDeque::from([0usize]);
    while let Some(n) = queue.pop_front() {
        let (sets, path_state) = &nodes[n].0;
        let accepted = *path_state == 3
            && must.iter().zip(sets).all(|(lang, set)| lang.accepts(set))
            && !must_not
                .iter()
                .zip(&sets[must.len()..])
                .any(|(lang, set)| lang.accepts(set));
        if accepted {
            let mut text = Vec::new();
            let mut at = n;
            while at != 0 {
                text.push(nodes[at].2);
                at = nodes[at].1;
            }
            return Some(text.into_iter().rev().collect());
        }
        for &c in &alphabet {
            let (sets, path_state) = &nodes[n].0;
            let Some(next_path) = path_step(*path_state, c, strict) else {
                continue;
            };
            let next_sets: Vec<Positions> = langs
                .iter()
                .zip(sets)
                .map(|(lang, set)| lang.step(set, c))
                .collect();
            if dead(&next_sets) {
                continue;
            }
            let state = (next_sets, next_path);
            if seen.contains_key(&state) {
                continue;
            }
            if seen.len() >= STATE_LIMIT {
                return None;
            }
            seen.insert(state.clone(), ());
            nodes.push((state, n, c));
            queue.push_back(nodes.len() - 1);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::glob::PatternSet;

    #[test]
    fn rule_languages_agree_with_the_report_matchers() {
        let globs: Vec<String> = [
            "*.py",
            "docs/**",
            "**/README.md",
            "tools/*/x",
            "file[0-9].txt",
            "file[!0-9].md",
            "[]a-]z",
            "{a,b}.txt",
            "c[[:digit:]x]",
            "d[[:nope:]]",
            "LICENSE",
            "q?",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let matcher = PatternSet::new(&globs).unwrap();
        let lang = department_lang(&globs);
        for path in [
            "a.py",
            "x/y.py",
            "a.pyc",
            "docs",
            "docs/a/b",
            "docsx",
            "README.md",
            "x/README.md",
            "tools/a/b/x",
            "file3.txt",
            "filea.txt",
            "filea.md",
            "file3.md",
            "]z",
            "az",
            "-z",
            "bz",
            "{a,b}.txt",
            "a.txt",
            "c5",
            "cx",
            "c:",
            "d[",
            "d[]",
            "d]",
            "LICENSE",
            "LICENSE/x",
            "q",
            "qq",
            "q/",
            "q/x",
            "zz",
        ] {
            let expected = matcher.is_match(path);
            assert_eq!(lang.matches(path), expected, "{path}");
            let found = witness(&[&Lang::literal(path, false), &lang], &[]);
            let well_formed = !path.ends_with('/');
            assert_eq!(
                found.is_some(),
                expected && well_formed,
                "{path}: matcher says {expected}"
            );
        }
    }

    #[test]
    fn unclosed_or_reversed_classes_do_not_parse() {
        assert_eq!(parse_fnmatch("a[b"), None);
        assert_eq!(parse_fnmatch("a[z-a]"), None);
        assert_eq!(
            parse_fnmatch("a**b?"),
            Some(vec![Tok::Lit('a'), Tok::Star, Tok::Lit('b'), Tok::Any])
        );
    }
}
