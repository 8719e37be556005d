//! `.dockerignore` with Docker's semantics, ported from moby's
//! `patternmatcher` (`New`, `MatchesOrParentMatches`, `Pattern.compile`) and
//! `patternmatcher/ignorefile` (`ReadAll`).
//!
//! Written here rather than taken from a crate: the gitignore crates (`ignore`,
//! `globset`'s gitignore mode) differ from Docker in ways that change what gets
//! sent — unanchored basenames, `dir/` meaning "directories only", re-inclusion
//! blocked by an excluded parent — and a build that silently differs from
//! `docker build` is worse than a few hundred lines of tests.
//!
//! Where Docker is odd we follow Docker, and say so at the spot. One deliberate
//! difference: inside `[...]` we use `filepath.Match`'s reading (the syntax
//! Docker validates patterns with); Docker's regex translation garbles `*`, `?`
//! and `\d`-style escapes inside a class, which no real ignore file relies on.

/// A syntax error in one line of an ignore file. Docker refuses to build on
/// these, and so do we.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError {
    /// 1-based line in the ignore file.
    pub line: usize,
    pub pattern: String,
    pub reason: &'static str,
}

#[derive(Debug, Default, Clone)]
pub struct Dockerignore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone)]
struct Pattern {
    /// A `!` line: re-includes what earlier lines excluded.
    exception: bool,
    kind: Kind,
}

/// moby picks a cheap matcher when the pattern allows it; the results equal
/// the regex's except for `Suffix`, whose quirk is kept on purpose.
#[derive(Debug, Clone)]
enum Kind {
    /// No wildcard at all.
    Exact(String),
    /// `lit**`: plain string prefix.
    Prefix(String),
    /// `**lit`: plain string suffix. Unlike the regex, `**foo` also matches
    /// `barfoo` — that is what Docker does.
    Suffix(String),
    Glob(Vec<Tok>),
}

#[derive(Debug, Clone)]
enum Tok {
    Lit(char),
    /// `?`
    AnyButSlash,
    /// `*`: any run without `/`.
    Star,
    /// `**` followed by more pattern: regex `(.*/)?`.
    DirPrefix,
    /// `**` at the end: regex `.*`.
    AnyString,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Dockerignore {
    /// Parses the text of an ignore file. Invalid UTF-8 should be converted
    /// lossily by the caller: such a pattern can't match a UTF-8 path anyway.
    pub fn parse(text: &str) -> Result<Self, PatternError> {
        let mut patterns = Vec::new();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (idx, raw) in text.split('\n').enumerate() {
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let err = |reason| PatternError {
                line: idx + 1,
                pattern: raw.to_string(),
                reason,
            };
            // ignorefile.ReadAll: a comment only when `#` is the very first byte.
            if raw.starts_with('#') {
                continue;
            }
            let mut line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let invert = line.starts_with('!');
            if invert {
                line = line[1..].trim();
            }
            let mut p = String::new();
            if !line.is_empty() {
                p = go_clean(line);
                if p.len() > 1 && p.starts_with('/') {
                    p.remove(0);
                }
            }
            if invert {
                p.insert(0, '!');
            }
            // patternmatcher.New then trims and cleans once more, so e.g. `!/`
            // becomes the illegal `!` and `/!x` becomes an exception.
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let p = go_clean(p);
            let (exception, p) = match p.strip_prefix('!') {
                Some("") => return Err(err("illegal exclusion pattern \"!\"")),
                Some(rest) => (true, rest),
                None => (false, p.as_str()),
            };
            validate(p).map_err(err)?;
            patterns.push(Pattern {
                exception,
                kind: compile(p).map_err(err)?,
            });
        }
        Ok(Self { patterns })
    }

    /// Whether `path` ('/'-separated, relative, clean) is ignored: the last
    /// pattern that matches the path or any of its parent directories decides.
    /// This is moby's `MatchesOrParentMatches`; BuildKit's incremental
    /// variant disagrees with it only when an exception follows a pattern that
    /// matched a child but not its parent, where "last match wins" is what
    /// Docker documents.
    pub fn is_excluded(&self, path: &str) -> bool {
        self.patterns
            .iter()
            .rev()
            .find(|p| p.kind.matches_self_or_ancestor(path))
            .is_some_and(|p| !p.exception)
    }

    /// Whether some exception could re-include a path under the excluded
    /// directory `dir`, so the walk must still descend into it. Exact when the
    /// exceptions are literal paths; any wildcard exception answers yes, as
    /// BuildKit does, and the per-path match stays the authority.
    pub fn may_reinclude_under(&self, dir: &str) -> bool {
        self.patterns
            .iter()
            .filter(|p| p.exception)
            .any(|p| match &p.kind {
                Kind::Exact(lit) => {
                    lit.len() > dir.len()
                        && lit.starts_with(dir)
                        && lit.as_bytes()[dir.len()] == b'/'
                }
                _ => true,
            })
    }
}

impl Kind {
    fn matches_self_or_ancestor(&self, path: &str) -> bool {
        match self {
            Kind::Exact(lit) => {
                path == lit
                    || (path.len() > lit.len()
                        && path.starts_with(lit.as_str())
                        && path.as_bytes()[lit.len()] == b'/')
            }
            // Every ancestor is a prefix of the path, so checking the path suffices.
            Kind::Prefix(lit) => path.starts_with(lit.as_str()),
            Kind::Suffix(suffix) => self_and_ancestors(path).any(|p| {
                p.ends_with(suffix.as_str()) || suffix.strip_prefix('/').is_some_and(|s| p == s)
            }),
            Kind::Glob(toks) => glob_matches_self_or_ancestor(toks, path),
        }
    }
}

fn self_and_ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/')
        .map(move |(i, _)| &path[..i])
        .chain(std::iter::once(path))
}

/// Go's `filepath.Clean` for '/'-separated paths.
fn go_clean(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for comp in p.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|last| *last != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            c => out.push(c),
        }
    }
    let joined = out.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_string()
    } else {
        joined
    }
}

/// The errors Go's `filepath.Match(pattern, ".")` reports, which is how Docker
/// rejects a pattern.
fn validate(p: &str) -> Result<(), &'static str> {
    let cs: Vec<char> = p.chars().collect();
    let mut i = 0;
    while i < cs.len() {
        match cs[i] {
            '\\' if i + 1 >= cs.len() => return Err("trailing backslash"),
            '\\' => i += 2,
            '[' => i = parse_class(&cs, i + 1)?.1,
            _ => i += 1,
        }
    }
    Ok(())
}

/// Parses a class body starting after `[`, with `filepath.Match`'s rules;
/// returns the class and the index after the closing `]`.
fn parse_class(cs: &[char], mut i: usize) -> Result<(Tok, usize), &'static str> {
    let negated = cs.get(i) == Some(&'^');
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        if cs.get(i) == Some(&']') && !ranges.is_empty() {
            return Ok((Tok::Class { negated, ranges }, i + 1));
        }
        let (lo, next) = class_char(cs, i)?;
        i = next;
        let mut hi = lo;
        if cs.get(i) == Some(&'-') {
            (hi, i) = class_char(cs, i + 1)?;
        }
        ranges.push((lo, hi));
    }
}

/// Go's `getEsc`: one possibly escaped class character, which must be followed
/// by more pattern (at least the closing `]`).
fn class_char(cs: &[char], mut i: usize) -> Result<(char, usize), &'static str> {
    match cs.get(i) {
        None => return Err("unterminated character class"),
        Some('-') | Some(']') => return Err("bad character class"),
        Some('\\') => i += 1,
        Some(_) => {}
    }
    let c = *cs.get(i).ok_or("unterminated character class")?;
    if i + 1 >= cs.len() {
        return Err("unterminated character class");
    }
    Ok((c, i + 1))
}

/// moby's `Pattern.compile`, producing match tokens instead of a regex.
fn compile(p: &str) -> Result<Kind, &'static str> {
    let special = |s: &str| s.contains(['*', '?', '[', ']', '\\']);
    if let Some(rest) = p.strip_prefix("**") {
        if !special(rest) {
            return Ok(Kind::Suffix(rest.to_string()));
        }
    }
    if !special(p) {
        return Ok(Kind::Exact(p.to_string()));
    }
    if let Some(lit) = p.strip_suffix("**") {
        if !special(lit) {
            return Ok(Kind::Prefix(lit.to_string()));
        }
    }
    let cs: Vec<char> = p.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        match cs[i] {
            '*' if cs.get(i + 1) == Some(&'*') => {
                i += 2;
                // `**/` is treated as `**`.
                if cs.get(i) == Some(&'/') {
                    i += 1;
                }
                toks.push(if i == cs.len() {
                    Tok::AnyString
                } else {
                    Tok::DirPrefix
                });
            }
            '*' => {
                toks.push(Tok::Star);
                i += 1;
            }
            '?' => {
                toks.push(Tok::AnyButSlash);
                i += 1;
            }
            '\\' if i + 1 < cs.len() => {
                toks.push(Tok::Lit(cs[i + 1]));
                i += 2;
            }
            '[' => {
                let (class, next) = parse_class(&cs, i + 1)?;
                toks.push(class);
                i = next;
            }
            c => {
                toks.push(Tok::Lit(c));
                i += 1;
            }
        }
    }
    Ok(Kind::Glob(toks))
}

/// Runs the tokens as an NFA over `path` and accepts if the whole path or a
/// prefix ending at a `/` (an ancestor directory) matches. One pass covers all
/// ancestors, and most patterns die within a few characters.
fn glob_matches_self_or_ancestor(toks: &[Tok], path: &str) -> bool {
    let n = toks.len();
    // at[i]: positioned before token i (n = accepted). inside[i]: a DirPrefix
    // at i has consumed characters and still needs its closing '/'.
    let mut at = vec![false; n + 1];
    let mut inside = vec![false; n + 1];
    let mut next_at = vec![false; n + 1];
    let mut next_inside = vec![false; n + 1];
    at[0] = true;
    epsilon_closure(toks, &mut at);
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        next_at.fill(false);
        next_inside.fill(false);
        for i in 0..n {
            if inside[i] {
                next_inside[i] = true;
                if c == '/' {
                    next_at[i + 1] = true;
                }
            }
            if !at[i] {
                continue;
            }
            match &toks[i] {
                Tok::Lit(l) => next_at[i + 1] |= *l == c,
                Tok::AnyButSlash => next_at[i + 1] |= c != '/',
                Tok::Class { negated, ranges } => {
                    next_at[i + 1] |= ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
                }
                Tok::Star => next_at[i] |= c != '/',
                Tok::AnyString => next_at[i] = true,
                Tok::DirPrefix => {
                    next_inside[i] = true;
                    next_at[i + 1] |= c == '/';
                }
            }
        }
        epsilon_closure(toks, &mut next_at);
        std::mem::swap(&mut at, &mut next_at);
        std::mem::swap(&mut inside, &mut next_inside);
        if matches!(chars.peek(), None | Some('/')) && at[n] {
            return true;
        }
        if !at.iter().chain(inside.iter()).any(|&s| s) {
            return false;
        }
    }
    false
}

/// `*`, `**` and `(.*/)?` may all match nothing.
fn epsilon_closure(toks: &[Tok], at: &mut [bool]) {
    for i in 0..toks.len() {
        if at[i] && matches!(toks[i], Tok::Star | Tok::AnyString | Tok::DirPrefix) {
            at[i + 1] = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excluded(ignore: &str, path: &str) -> bool {
        Dockerignore::parse(ignore).unwrap().is_excluded(path)
    }

    #[test]
    fn match_table() {
        // (ignore file, path, excluded?)
        let table: &[(&str, &str, bool)] = &[
            ("*.log", "a.log", true),
            ("*.log", "dir/a.log", false), // anchored at the root, `*` stops at '/'
            ("*.log", "a.logx", false),
            ("*.log", ".log", true),
            ("**/*.log", "a.log", true),
            ("**/*.log", "x/y/a.log", true),
            ("**/node_modules", "node_modules", true),
            ("**/node_modules", "node_modules/pkg/index.js", true),
            ("**/node_modules", "a/b/node_modules/c", true),
            ("**/node_modules", "node_modules_old", false),
            ("**/node_modules", "a/my_node_modules", false),
            ("*.log\n!keep.log", "keep.log", false),
            ("*.log\n!keep.log", "other.log", true),
            ("!keep.log\n*.log", "keep.log", true), // the last match wins
            ("dir/", "dir", true),
            ("dir/", "dir/a/b.txt", true),
            ("dir/", "dirx", false),
            ("dir/", "sub/dir", false),
            ("/foo", "foo", true),
            ("/foo", "a/foo", false),
            ("./foo/../bar", "bar", true),
            ("a//b/", "a/b/c", true),
            ("?.txt", "a.txt", true),
            ("?.txt", "ab.txt", false),
            ("?.txt", ".txt", false),
            ("a?b", "a/b", false),
            ("[a-c].md", "b.md", true),
            ("[a-c].md", "d.md", false),
            ("[^a-c].md", "d.md", true),
            ("[^a-c].md", "a.md", false),
            ("[\\]x].md", "].md", true),
            ("\\*.md", "*.md", true),
            ("\\*.md", "a.md", false),
            ("a.b", "axb", false), // regex metacharacters are literal
            ("a+(b)", "a+(b)", true),
            ("*", "anything", true),
            ("*", "dir/file", true), // via the parent `dir`
            ("*\n!src", "src/main.rs", false),
            ("*\n!src", "target/x", true),
            ("a/**", "a", false),
            ("a/**", "a/b/c", true),
            ("a/**/z", "a/z", true),
            ("a/**/z", "a/b/c/z", true),
            ("a/**/z", "a/b/cz", false),
            ("a/**/z", "a/z/inner", true),
            ("**", "x/y", true),
            ("**foo", "barfoo", true), // Docker's suffix shortcut, kept on purpose
            ("**/*", "x", true),
            ("dir/*/x", "dir/a/x", true),
            ("dir/*/x", "dir/a/b/x", false),
            ("dir\n!dir/keep", "dir/keep", false),
            ("dir\n!dir/keep", "dir/keep/inner", false),
            ("dir\n!dir/keep", "dir/other", true),
            ("# comment\n\n   \n*.tmp", "a.tmp", true),
            ("# *.tmp", "a.tmp", false),
            (" # not a comment", "# not a comment", true),
            ("\u{feff}*.tmp\r\n*.bak\r\n", "a.tmp", true),
            ("\u{feff}*.tmp\r\n*.bak\r\n", "a.bak", true),
            ("  spaced.txt  ", "spaced.txt", true),
            ("*\n! keep", "keep", false),
            ("/", "anything", false), // Docker: never matches a relative path
            ("*\n/!x", "x", false),   // cleaned twice by Docker: becomes the exception `!x`
            ("é*", "été", true),
        ];
        for (ignore, path, want) in table {
            assert_eq!(
                excluded(ignore, path),
                *want,
                "ignore {ignore:?} path {path:?}"
            );
        }
    }

    #[test]
    fn bad_patterns_name_their_line() {
        for (text, line) in [
            ("ok\n[", 2),
            ("[a-]", 1),
            ("x\ny\na\\", 3),
            ("!", 1),
            ("!/", 1),
            ("[]", 1),
            ("[^]a", 1),
        ] {
            let err = Dockerignore::parse(text).unwrap_err();
            assert_eq!(err.line, line, "{text:?}: {err:?}");
        }
        // Also rejected by Go's filepath.Match.
        for bad in ["[]a]x", "[a-c-]", "[a"] {
            assert!(Dockerignore::parse(bad).is_err(), "{bad:?}");
        }
        for ok in ["a]", "[*]", "\\[x", "[a-c]", "[\\-]"] {
            assert!(Dockerignore::parse(ok).is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn reinclusion_decides_whether_to_walk_into_excluded_dirs() {
        let ig = Dockerignore::parse("dir\n!dir/sub/keep").unwrap();
        assert!(ig.may_reinclude_under("dir"));
        assert!(ig.may_reinclude_under("dir/sub"));
        assert!(!ig.may_reinclude_under("dir/other"));
        assert!(!ig.may_reinclude_under("di"));
        let ig = Dockerignore::parse("node_modules\n!**/package.json").unwrap();
        assert!(ig.may_reinclude_under("node_modules"));
        assert!(!ig.is_excluded("node_modules/x/package.json"));
        assert!(ig.is_excluded("node_modules/x/index.js"));
        assert!(!Dockerignore::parse("node_modules")
            .unwrap()
            .may_reinclude_under("node_modules"));
    }

    #[test]
    fn clean_matches_go() {
        for (input, want) in [
            ("a/b/", "a/b"),
            ("./a", "a"),
            ("a//b", "a/b"),
            ("a/../..", ".."),
            ("/../a", "/a"),
            ("../../a", "../../a"),
            ("/", "/"),
            (".", "."),
            ("a/./b/../c", "a/c"),
        ] {
            assert_eq!(go_clean(input), want, "{input:?}");
        }
    }

    #[test]
    fn long_inputs_do_not_blow_up() {
        let pattern = "*a".repeat(200);
        let path = "a".repeat(5000);
        let ig = Dockerignore::parse(&pattern).unwrap();
        assert!(ig.is_excluded(&path));
        assert!(!ig.is_excluded(&format!("{path}b")));
    }
}
