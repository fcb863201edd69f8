//! Errors found in a config file, each with its position, key path and hint.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;

use annotate_snippets::{AnnotationKind, Group, Level, Renderer, Snippet};

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Dotted key path, e.g. `environments.prod.timeout`; list items as `command[1]`.
    /// Empty for a problem with the file as a whole (such as a YAML syntax error).
    pub key: String,
    /// What is wrong: lowercase, values in backticks, no trailing period.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// Byte range in the source to underline (may be empty).
    pub span: Range<usize>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.column, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

/// Every problem found in one config file, with the source they point into.
///
/// `Display` prints one line per problem:
/// `slipway.yaml:12:5: unknown key `imagse` (hint: did you mean `images`?)`.
/// [`Diagnostics::render`] prints a source snippet per problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics {
    /// The file as it was named to the loader.
    pub file: PathBuf,
    /// The file's content.
    pub source: String,
    /// The problems, ordered by position.
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// Render every problem as a compiler-style snippet with `hint:` lines, separated by
    /// blank lines. `color` adds ANSI styles; without it the output is plain text.
    pub fn render(&self, color: bool) -> String {
        let renderer = if color {
            Renderer::styled()
        } else {
            Renderer::plain()
        };
        let path = self.file.display().to_string();
        let hint_level = Level::HELP.with_name("hint");
        let mut out = String::new();
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                out.push_str("\n\n");
            }
            let span = clamp_span(&self.source, item.span.clone());
            let mut title = Level::ERROR.primary_title(item.message.as_str()).element(
                Snippet::source(self.source.as_str())
                    .path(path.as_str())
                    .annotation(AnnotationKind::Primary.span(span)),
            );
            if let Some(hint) = &item.hint {
                title = title.element(hint_level.clone().message(hint.as_str()));
            }
            let report: [Group<'_>; 1] = [title];
            out.push_str(&renderer.render(&report));
        }
        out
    }
}

/// Keep a span inside the source and on character boundaries.
fn clamp_span(source: &str, span: Range<usize>) -> Range<usize> {
    let mut start = span.start.min(source.len());
    while !source.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, source.len());
    while !source.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{item}", self.file.display())?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// The candidate closest to `word`, if it is close enough to be a likely typo. The one
/// did-you-mean of slipway: configuration keys, placeholders, and the names given on the
/// command line all go through it.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // Close candidates are those Jaro-Winkler finds similar or that share a 3-character
    // prefix; among them the fewest edits wins, then the higher similarity.
    let mut best: Option<(usize, f64, &str)> = None;
    for c in candidates {
        let score = strsim::jaro_winkler(word, c);
        let common_prefix = word
            .chars()
            .zip(c.chars())
            .take_while(|(a, b)| a == b)
            .count();
        if score < 0.8 && common_prefix < 3 {
            continue;
        }
        let edits = strsim::levenshtein(word, c);
        if best.is_none_or(|(e, s, _)| edits < e || (edits == e && score > s)) {
            best = Some((edits, score, c));
        }
    }
    best.map(|(_, _, c)| c)
}
