//! `.helmignore`: which files of a chart folder are left out when it is loaded.
//!
//! Helm's rules, kept exactly (including their surprises): patterns are Go
//! `filepath.Match` globs; a pattern without `/` is matched against the file's base
//! name, one with `/` against the whole path from the chart's root, one that starts
//! with `/` likewise; a trailing `/` matches folders only; `**` is refused; and a
//! negated pattern (`!x`) ignores every path it does *not* match, evaluated in order.

use regex::Regex;

use crate::glob;

/// A `.helmignore` that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IgnoreError {
    #[error("double-star (**) syntax is not supported")]
    DoubleStar,
    #[error("syntax error in pattern")]
    BadPattern,
}

#[derive(Debug)]
struct Pattern {
    regex: Regex,
    base_only: bool,
    negate: bool,
    must_dir: bool,
}

/// The rules of one `.helmignore`, plus Helm's default (dotfiles under `templates/`).
#[derive(Debug, Default)]
pub struct Rules {
    patterns: Vec<Pattern>,
}

impl Rules {
    /// Parses the text of a `.helmignore`.
    pub fn parse(text: &str) -> Result<Rules, IgnoreError> {
        let mut rules = Rules::default();
        for line in text.lines() {
            rules.add(line)?;
        }
        Ok(rules)
    }

    /// Adds Helm's default rule: hidden files in `templates/` are never templates.
    pub fn add_defaults(&mut self) {
        self.add("templates/.?*")
            .expect("the default pattern is valid");
    }

    fn add(&mut self, rule: &str) -> Result<(), IgnoreError> {
        let mut rule = rule.trim();
        if rule.is_empty() || rule.starts_with('#') {
            return Ok(());
        }
        if rule.contains("**") {
            return Err(IgnoreError::DoubleStar);
        }
        glob::go_regex(rule).map_err(|_| IgnoreError::BadPattern)?;
        let negate = rule.starts_with('!');
        if negate {
            rule = &rule[1..];
        }
        let must_dir = rule.ends_with('/');
        if must_dir {
            rule = &rule[..rule.len() - 1];
        }
        let base_only = !rule.contains('/');
        let rule = rule.strip_prefix('/').unwrap_or(rule);
        let regex = glob::go_regex(rule).map_err(|_| IgnoreError::BadPattern)?;
        self.patterns.push(Pattern {
            regex,
            base_only,
            negate,
            must_dir,
        });
        Ok(())
    }

    /// Whether `path` (relative to the chart's root, with `/`) is ignored.
    pub fn ignore(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for p in &self.patterns {
            let subject = if p.base_only {
                path.rsplit('/').next().unwrap_or(path)
            } else {
                path
            };
            if p.negate {
                if p.must_dir && !is_dir {
                    return true;
                }
                if !p.regex.is_match(subject) {
                    return true;
                }
                continue;
            }
            if p.must_dir && !is_dir {
                continue;
            }
            if p.regex.is_match(subject) {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_name_patterns_match_at_any_depth() {
        let rules = Rules::parse("# comment\n\n*.swp\n.git/\n").unwrap();
        assert!(rules.ignore("templates/a.yaml.swp", false));
        assert!(rules.ignore(".git", true));
        assert!(!rules.ignore(".git", false));
        assert!(!rules.ignore("templates/a.yaml", false));
    }

    #[test]
    fn path_patterns_match_from_the_root() {
        let rules = Rules::parse("examples/\n/ci/*.yaml\ndocs/*.md\n").unwrap();
        assert!(rules.ignore("examples", true));
        assert!(rules.ignore("ci/values.yaml", false));
        assert!(rules.ignore("docs/a.md", false));
        assert!(!rules.ignore("x/docs/a.md", false));
    }

    #[test]
    fn default_rule_hides_dotfiles_in_templates() {
        let mut rules = Rules::default();
        rules.add_defaults();
        assert!(rules.ignore("templates/.hidden.yaml", false));
        assert!(!rules.ignore("templates/shown.yaml", false));
    }

    #[test]
    fn negation_ignores_what_it_does_not_match() {
        let rules = Rules::parse("!*.yaml\n").unwrap();
        assert!(rules.ignore("README.md", false));
        assert!(!rules.ignore("values.yaml", false));
    }

    #[test]
    fn double_star_is_refused() {
        assert_eq!(Rules::parse("**/x").unwrap_err(), IgnoreError::DoubleStar);
    }
}
