//! Reading a Dockerfile: its logical lines, its stages and what each builds on or copies
//! from, and the `ARG`s a build of one target can see. The build checks a `target`
//! against [`named_stages`]; `slipway init` proposes images and build arguments from
//! [`stages`] and [`build_args`].

use std::collections::BTreeSet;

/// A Dockerfile `ARG`.
#[derive(Debug, Clone, PartialEq)]
pub struct BuildArg {
    pub name: String,
    pub default: Option<String>,
}

/// The named stages of a Dockerfile (`FROM image AS name`), in order, lowercased.
pub fn named_stages(text: &str) -> Vec<String> {
    stages(text).into_iter().filter_map(|s| s.name).collect()
}

/// `ARG`s that BuildKit sets by itself.
pub const PREDEFINED_ARGS: &[&str] = &[
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

/// One stage of a Dockerfile.
#[derive(Debug, PartialEq)]
pub struct Stage {
    /// Its name, lowercased (`FROM … AS name`).
    pub name: Option<String>,
    /// Stages this one builds on or copies from.
    pub uses: Vec<String>,
    /// Its `ARG` instructions.
    pub args: Vec<BuildArg>,
}

/// Reads the `FROM … AS name` stages of a Dockerfile and what each refers to
/// (`FROM <stage>`, `COPY --from=<stage>`, `RUN --mount=…,from=<stage>`).
pub fn stages(text: &str) -> Vec<Stage> {
    let mut stages: Vec<Stage> = Vec::new();
    for line in logical_lines(text) {
        let mut words = line.split_whitespace();
        let Some(instruction) = words.next() else {
            continue;
        };
        let words: Vec<&str> = words.collect();
        if instruction.eq_ignore_ascii_case("FROM") {
            let args: Vec<&str> = words
                .iter()
                .copied()
                .filter(|w| !w.starts_with("--"))
                .collect();
            let base = args.first().map(|b| b.to_ascii_lowercase());
            let name = match args.as_slice() {
                [_, as_kw, name, ..] if as_kw.eq_ignore_ascii_case("AS") => {
                    Some(name.to_ascii_lowercase())
                }
                _ => None,
            };
            stages.push(Stage {
                name,
                uses: base.into_iter().collect(),
                args: Vec::new(),
            });
        } else if let Some(stage) = stages.last_mut() {
            if instruction.eq_ignore_ascii_case("ARG") {
                stage.args.extend(words.iter().map(|w| parse_arg(w)));
                continue;
            }
            for word in &words {
                for part in word.split(',') {
                    if let Some(from) = part
                        .strip_prefix("--from=")
                        .or_else(|| part.strip_prefix("from="))
                    {
                        stage.uses.push(from.to_ascii_lowercase());
                    }
                }
            }
        }
    }
    stages
}

/// Build arguments every stage may use in `FROM`: the `ARG`s before the first `FROM`.
pub fn global_args(text: &str) -> Vec<BuildArg> {
    let mut args = Vec::new();
    for line in logical_lines(text) {
        let mut words = line.split_whitespace();
        match words.next() {
            Some(i) if i.eq_ignore_ascii_case("FROM") => break,
            Some(i) if i.eq_ignore_ascii_case("ARG") => args.extend(words.map(parse_arg)),
            _ => {}
        }
    }
    args
}

/// `NAME` or `NAME=default` (quotes around the default removed). A quoted default
/// with spaces is not split correctly; such defaults are rare in `ARG`s.
pub fn parse_arg(word: &str) -> BuildArg {
    match word.split_once('=') {
        Some((name, default)) => BuildArg {
            name: name.to_string(),
            default: Some(default.trim_matches(['"', '\'']).to_string()),
        },
        None => BuildArg {
            name: word.to_string(),
            default: None,
        },
    }
}

/// The `ARG`s that building `target` (the last stage when `None`) can use: those
/// before the first `FROM`, then those of the target stage and of every stage it
/// builds on or copies from, in file order. The platform `ARG`s BuildKit predefines
/// are left out, and a name declared twice is listed once (with the first default).
pub fn build_args(text: &str, target: Option<&str>) -> Vec<BuildArg> {
    let stages = stages(text);
    let visible = visible_stages(&stages, target);
    let mut out: Vec<BuildArg> = Vec::new();
    let declared = global_args(text).into_iter().chain(
        stages
            .into_iter()
            .enumerate()
            .filter(|(i, _)| visible.contains(i))
            .flat_map(|(_, stage)| stage.args),
    );
    for arg in declared {
        if PREDEFINED_ARGS.contains(&arg.name.as_str()) {
            continue;
        }
        match out.iter_mut().find(|a| a.name == arg.name) {
            Some(seen) if seen.default.is_none() => seen.default = arg.default,
            Some(_) => {}
            None => out.push(arg),
        }
    }
    out
}

/// The indices of `target` and of every stage it depends on.
pub fn visible_stages(stages: &[Stage], target: Option<&str>) -> BTreeSet<usize> {
    let start = match target {
        Some(t) => stages
            .iter()
            .position(|s| s.name.as_deref() == Some(&*t.to_ascii_lowercase())),
        None => stages.len().checked_sub(1),
    };
    let mut seen = BTreeSet::new();
    let mut todo: Vec<usize> = start.into_iter().collect();
    while let Some(i) = todo.pop() {
        if !seen.insert(i) {
            continue;
        }
        for used in &stages[i].uses {
            // A stage is named, or referred to by its index (`COPY --from=0`).
            let found = stages[..i]
                .iter()
                .position(|s| s.name.as_deref() == Some(used.as_str()))
                .or_else(|| used.parse::<usize>().ok().filter(|n| *n < i));
            todo.extend(found);
        }
    }
    seen
}

/// Joins `\` continuations and drops comments and blank lines.
pub fn logical_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let trimmed = raw.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(body) = trimmed.strip_suffix('\\') {
            current.push_str(body);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            lines.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        lines.push(current);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage_names(text: &str) -> Vec<Option<String>> {
        stages(text).into_iter().map(|s| s.name).collect()
    }

    #[test]
    fn stages_are_read_with_continuations_comments_and_platform_flags() {
        let text = "# syntax=docker/dockerfile:1\n\
                    FROM --platform=$BUILDPLATFORM golang:1.24 AS build\n\
                    RUN go build \\\n  ./...\n\
                    from alpine as API\n\
                    COPY --from=build /out/api /api\n\
                    FROM alpine\n";
        assert_eq!(
            stage_names(text),
            vec![Some("build".into()), Some("api".into()), None]
        );
        assert_eq!(stages(text)[1].uses, vec!["alpine", "build"]);
    }

    #[test]
    fn named_stages_are_read_from_from_lines() {
        let text = "# syntax=docker/dockerfile:1\nFROM --platform=$BUILDPLATFORM golang:1 AS Build\n\
                    RUN go build\nfrom scratch as runtime\nFROM alpine\nFROM busybox \\\n  AS debug\n";
        assert_eq!(named_stages(text), ["build", "runtime", "debug"]);
    }

    #[test]
    fn build_args_are_those_the_target_can_see() {
        let text = "ARG BASE=node:22\nARG BUILDPLATFORM\n\
                    FROM $BASE AS deps\nARG NPM_TOKEN\nARG TARGETARCH\n\
                    FROM $BASE AS builder\nARG NEXT_PUBLIC_API_URL\nARG NODE_ENV=\"production\" \\\n    CI=1\n\
                    COPY --from=deps /n /n\n\
                    FROM builder AS runner\nARG BASE\n\
                    FROM alpine AS tools\nARG TOOLS_ONLY\n";
        let names = |target| -> Vec<(String, Option<String>)> {
            build_args(text, target)
                .into_iter()
                .map(|a| (a.name, a.default))
                .collect()
        };
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            names(Some("runner")),
            [
                ("BASE".to_string(), some("node:22")),
                ("NPM_TOKEN".to_string(), None),
                ("NEXT_PUBLIC_API_URL".to_string(), None),
                ("NODE_ENV".to_string(), some("production")),
                ("CI".to_string(), some("1")),
            ]
        );
        assert_eq!(
            names(None),
            [
                ("BASE".to_string(), some("node:22")),
                ("TOOLS_ONLY".to_string(), None)
            ]
        );
        // `COPY --from=0` refers to a stage by its index.
        let indexed = "FROM a\nARG FIRST\nFROM b\nCOPY --from=0 /x /x\n";
        assert_eq!(build_args(indexed, None)[0].name, "FIRST");
    }
}
