//! The two glob dialects charts meet: Go's `filepath.Match` (`.helmignore`, `--show-only`)
//! and the `gobwas/glob` syntax of `.Files.Glob` (which adds `**` and `{a,b}`).
//!
//! Both are translated to an anchored regular expression; no crate implements either
//! dialect exactly (`globset` treats `**` and separators differently from both).

use regex::Regex;

/// A malformed pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("syntax error in pattern")]
pub struct BadPattern;

/// Go's `filepath.Match(pattern, name)` with `/` as the separator.
pub fn go_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    Ok(go_regex(pattern)?.is_match(name))
}

/// Compiles a `filepath.Match` pattern.
pub fn go_regex(pattern: &str) -> Result<Regex, BadPattern> {
    let mut out = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '\\' => {
                i += 1;
                let c = chars.get(i).ok_or(BadPattern)?;
                out.push_str(&regex::escape(&c.to_string()));
            }
            '[' => {
                let (class, next) = class(&chars, i, '^')?;
                out.push_str(&class);
                i = next;
                continue;
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    out.push('$');
    Regex::new(&out).map_err(|_| BadPattern)
}

/// Compiles a `.Files.Glob` pattern (`gobwas/glob` with `/` as the separator).
pub fn files_regex(pattern: &str) -> Result<Regex, BadPattern> {
    let mut out = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut depth = 0usize;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                out.push_str(".*");
                i += 1;
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '\\' => {
                i += 1;
                let c = chars.get(i).ok_or(BadPattern)?;
                out.push_str(&regex::escape(&c.to_string()));
            }
            '[' => {
                let (class, next) = class(&chars, i, '!')?;
                out.push_str(&class);
                i = next;
                continue;
            }
            '{' => {
                depth += 1;
                out.push_str("(?:");
            }
            '}' if depth > 0 => {
                depth -= 1;
                out.push(')');
            }
            ',' if depth > 0 => out.push('|'),
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    if depth > 0 {
        return Err(BadPattern);
    }
    out.push('$');
    Regex::new(&out).map_err(|_| BadPattern)
}

/// A `[...]` class starting at `chars[start]`; returns its regex and the index after it.
fn class(chars: &[char], start: usize, negation: char) -> Result<(String, usize), BadPattern> {
    let mut i = start + 1;
    let mut out = String::from("[");
    if chars.get(i) == Some(&negation) {
        out.push('^');
        i += 1;
    }
    let mut empty = true;
    loop {
        let c = *chars.get(i).ok_or(BadPattern)?;
        if c == ']' && !empty {
            out.push(']');
            return Ok((out, i + 1));
        }
        empty = false;
        let c = if c == '\\' {
            i += 1;
            *chars.get(i).ok_or(BadPattern)?
        } else {
            c
        };
        push_class_char(&mut out, c);
        if chars.get(i + 1) == Some(&'-') && chars.get(i + 2).is_some_and(|c| *c != ']') {
            out.push('-');
            let mut hi = chars[i + 2];
            i += 2;
            if hi == '\\' {
                i += 1;
                hi = *chars.get(i).ok_or(BadPattern)?;
            }
            push_class_char(&mut out, hi);
        }
        i += 1;
    }
}

fn push_class_char(out: &mut String, c: char) {
    if matches!(c, '[' | ']' | '\\' | '^' | '-' | '&' | '~') {
        out.push('\\');
    }
    out.push(c);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_star_stops_at_a_separator() {
        assert!(
            go_match(
                "templates/subdir/role*",
                "templates/subdir/rolebinding.yaml"
            )
            .unwrap()
        );
        assert!(!go_match("templates/*", "templates/subdir/role.yaml").unwrap());
        assert!(go_match("*.txt", "notes.txt").unwrap());
        assert!(go_match("[a-c]?.md", "b1.md").unwrap());
        assert!(!go_match("[^a-c]?.md", "b1.md").unwrap());
        assert!(go_match("\\*x", "*x").unwrap());
        assert_eq!(go_match("[", "a"), Err(BadPattern));
    }

    #[test]
    fn files_glob_has_double_star_and_alternatives() {
        let re = files_regex("collectors/presets/*.yaml").unwrap();
        assert!(re.is_match("collectors/presets/a.yaml"));
        assert!(!re.is_match("collectors/presets/x/a.yaml"));
        let re = files_regex("**.{yaml,json}").unwrap();
        assert!(re.is_match("a/b/c.json"));
        assert!(!re.is_match("a/b/c.txt"));
        assert!(files_regex("[!a]x").unwrap().is_match("bx"));
    }
}
