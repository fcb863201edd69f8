//! `.dockerignore` with Docker's own semantics, so the files slipway hashes are exactly the
//! files a Docker-compatible builder sends.
//!
//! The rules (those of `moby/patternmatcher`, which docker, buildah and podman share):
//! - one pattern per line; blank lines and lines starting with `#` are skipped; surrounding
//!   whitespace is trimmed;
//! - patterns are relative to the context root: they are cleaned (`./a/../b` → `b`) and a
//!   leading `/` is dropped;
//! - `*` matches any run of characters except `/`, `?` one character except `/`, `[a-z]`
//!   and `[^a-z]` a class, `\` escapes the next character, and `**` any run of characters
//!   including `/` (`**/` may also match nothing, so `**/x` matches `x`);
//! - a pattern that matches a directory also matches everything below it;
//! - a line starting with `!` is an exception that re-includes what it matches;
//! - the last pattern that matches a path decides.
//!
//! The matcher is hand-written rather than built on `globset`: globset gives `**` a
//! different meaning when it is not next to a `/` (Docker treats it as "anything") and has
//! no notion of parent-directory matching, and both differences would change which files
//! are in the build context.

/// A parsed `.dockerignore`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    glob: Vec<char>,
    exception: bool,
}

impl DockerIgnore {
    /// Parses the text of a `.dockerignore` file.
    pub fn parse(text: &str) -> DockerIgnore {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| {
                let (exception, rest) = match line.strip_prefix('!') {
                    Some(rest) => (true, rest.trim()),
                    None => (false, line),
                };
                let cleaned = clean(rest);
                (!cleaned.is_empty()).then(|| Pattern {
                    glob: cleaned.chars().collect(),
                    exception,
                })
            })
            .collect();
        DockerIgnore { patterns }
    }

    /// Adds an exclusion pattern after the parsed ones, so it wins over them.
    #[must_use]
    pub fn with_excluded(mut self, pattern: &str) -> DockerIgnore {
        let cleaned = clean(pattern.trim());
        if !cleaned.is_empty() {
            self.patterns.push(Pattern {
                glob: cleaned.chars().collect(),
                exception: false,
            });
        }
        self
    }

    /// Whether there are exception (`!`) patterns: then an excluded directory must still be
    /// walked, because something below it may be re-included.
    pub fn has_exceptions(&self) -> bool {
        self.patterns.iter().any(|p| p.exception)
    }

    /// Whether `path` (relative to the context root, `/`-separated) is excluded.
    pub fn is_excluded(&self, path: &str) -> bool {
        let path: Vec<char> = path.chars().collect();
        let mut excluded = false;
        for pattern in &self.patterns {
            // A pattern can only change the outcome in one direction.
            if pattern.exception != excluded {
                continue;
            }
            if matches_self_or_parent(&pattern.glob, &path) {
                excluded = !pattern.exception;
            }
        }
        excluded
    }
}

/// Lexical cleaning like Go's `filepath.Clean`, then dropping a leading `/`.
fn clean(pattern: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in pattern.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !pattern.starts_with('/') {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// The pattern matches the path or one of its parent directories.
fn matches_self_or_parent(glob: &[char], path: &[char]) -> bool {
    if glob_match(glob, path) {
        return true;
    }
    path.iter()
        .enumerate()
        .filter(|(_, c)| **c == '/')
        .any(|(i, _)| glob_match(glob, &path[..i]))
}

/// Matches a whole path against a glob (see the module docs for the syntax).
fn glob_match(glob: &[char], path: &[char]) -> bool {
    match glob.first() {
        None => path.is_empty(),
        Some('*') if glob.get(1) == Some(&'*') => {
            let mut rest = &glob[2..];
            while rest.first() == Some(&'*') {
                rest = &rest[1..];
            }
            // `**/` may match zero directories.
            if rest.first() == Some(&'/') && glob_match(&rest[1..], path) {
                return true;
            }
            (0..=path.len()).any(|i| glob_match(rest, &path[i..]))
        }
        Some('*') => {
            let rest = &glob[1..];
            for i in 0..=path.len() {
                if glob_match(rest, &path[i..]) {
                    return true;
                }
                if path.get(i) == Some(&'/') {
                    break;
                }
            }
            false
        }
        Some('?') => match path.first() {
            Some(c) if *c != '/' => glob_match(&glob[1..], &path[1..]),
            _ => false,
        },
        Some('[') => match path.first() {
            Some(c) if *c != '/' => match match_class(&glob[1..], *c) {
                Some((true, consumed)) => glob_match(&glob[1 + consumed..], &path[1..]),
                Some((false, _)) => false,
                // An unterminated class: match `[` literally.
                None => *c == '[' && glob_match(&glob[1..], &path[1..]),
            },
            _ => false,
        },
        Some('\\') if glob.len() > 1 => {
            path.first() == Some(&glob[1]) && glob_match(&glob[2..], &path[1..])
        }
        Some(literal) => path.first() == Some(literal) && glob_match(&glob[1..], &path[1..]),
    }
}

/// Matches `c` against a class body starting after `[`. Returns whether it matched and how
/// many glob characters the class used (including the closing `]`), or None when the class
/// is not terminated.
fn match_class(body: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 0;
    let negated = matches!(body.first(), Some('^') | Some('!'));
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    while i < body.len() {
        let mut lo = body[i];
        if lo == ']' && !first {
            return Some((matched != negated, i + 1));
        }
        first = false;
        if lo == '\\' && i + 1 < body.len() {
            i += 1;
            lo = body[i];
        }
        let mut hi = lo;
        if body.get(i + 1) == Some(&'-') && body.get(i + 2).is_some_and(|h| *h != ']') {
            hi = body[i + 2];
            if hi == '\\' && i + 3 < body.len() {
                hi = body[i + 3];
                i += 1;
            }
            i += 2;
        }
        if lo <= c && c <= hi {
            matched = true;
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excluded(rules: &str, path: &str) -> bool {
        DockerIgnore::parse(rules).is_excluded(path)
    }

    #[test]
    fn star_does_not_cross_directories() {
        assert!(excluded("*.md", "README.md"));
        assert!(!excluded("*.md", "docs/README.md"));
        assert!(excluded("*/*.md", "docs/README.md"));
    }

    #[test]
    fn double_star_crosses_directories_and_may_match_nothing() {
        assert!(excluded("**/*.md", "README.md"));
        assert!(excluded("**/*.md", "a/b/c/README.md"));
        assert!(excluded("a/**/z", "a/z"));
        assert!(excluded("a/**/z", "a/b/c/z"));
        assert!(excluded("a**z", "a/b/z"));
    }

    #[test]
    fn directory_pattern_excludes_its_contents() {
        assert!(excluded("node_modules", "node_modules/left-pad/index.js"));
        assert!(excluded("/build/", "build/out/bin"));
        assert!(!excluded("node_modules", "src/node_modules_like.js"));
    }

    #[test]
    fn last_matching_pattern_wins() {
        let rules = "*.log\n!keep.log\n";
        assert!(excluded(rules, "debug.log"));
        assert!(!excluded(rules, "keep.log"));
        assert!(excluded("!keep.log\n*.log\n", "keep.log"));
    }

    #[test]
    fn exception_reincludes_a_file_below_an_excluded_directory() {
        let rules = "docs\n!docs/keep.md\n";
        assert!(excluded(rules, "docs/other.md"));
        assert!(!excluded(rules, "docs/keep.md"));
        assert!(DockerIgnore::parse(rules).has_exceptions());
    }

    #[test]
    fn comments_blank_lines_and_dot_slash_are_ignored() {
        let rules = "# comment\n\n  ./tmp/../cache  \n";
        assert!(excluded(rules, "cache/x"));
        assert!(!excluded(rules, "# comment"));
        assert!(!excluded(rules, "tmp"));
    }

    #[test]
    fn question_mark_classes_and_escapes() {
        assert!(excluded("file?.txt", "file1.txt"));
        assert!(!excluded("file?.txt", "file/.txt"));
        assert!(excluded("v[0-9].txt", "v7.txt"));
        assert!(!excluded("v[0-9].txt", "vx.txt"));
        assert!(excluded("v[^0-9].txt", "vx.txt"));
        assert!(excluded("a\\*b", "a*b"));
        assert!(!excluded("a\\*b", "axb"));
    }
}
