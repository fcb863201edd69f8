//! What a CI system shows of a command, in its own language: findings and failures as
//! annotations on the file and line they are about, collapsible groups per phase,
//! outputs for later steps, and a job summary. This is one output layer beside the
//! human lines and `-o json`; it adds to them and never replaces them.
//!
//! Three systems are spoken: GitHub Actions (`::error file=…::`, `::group::`,
//! `$GITHUB_OUTPUT`, `$GITHUB_STEP_SUMMARY`), Azure DevOps (`##vso[task.logissue …]`,
//! `##[group]`, `##vso[task.setvariable …]`, `##vso[task.uploadsummary]`) and GitLab CI
//! (`section_start`/`section_end` lines, a dotenv report and a Code Quality report).
//! Which one is detected from the variables each runner sets (`GITHUB_ACTIONS`,
//! `TF_BUILD`, `GITLAB_CI`), or chosen with `--ci` / `SLIPWAY_CI`.
//!
//! The commands go to standard output, where the runners read them, except with
//! `-o json`: standard output then carries the JSON stream alone, and the commands go
//! to standard error.

pub mod journal;
pub mod outputs;
pub mod pipeline;
pub mod provenance;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A CI system slipway speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum System {
    Github,
    Azure,
    Gitlab,
}

/// What `--ci` (or `SLIPWAY_CI`) asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Choice {
    /// Detected from the environment variables the runner sets
    Auto,
    Github,
    Azure,
    Gitlab,
    /// No CI output, wherever slipway runs
    None,
}

/// The system to speak: the one chosen, or with `auto` the one whose variable is set
/// (`GITHUB_ACTIONS=true`, `TF_BUILD=True`, `GITLAB_CI=true`).
pub fn detect(choice: Choice, var: impl Fn(&str) -> Option<String>) -> Option<System> {
    let set = |name: &str| {
        var(name).is_some_and(|v| {
            let v = v.trim();
            !v.is_empty() && !v.eq_ignore_ascii_case("false") && v != "0"
        })
    };
    match choice {
        Choice::None => None,
        Choice::Github => Some(System::Github),
        Choice::Azure => Some(System::Azure),
        Choice::Gitlab => Some(System::Gitlab),
        Choice::Auto if set("GITHUB_ACTIONS") => Some(System::Github),
        Choice::Auto if set("TF_BUILD") => Some(System::Azure),
        Choice::Auto if set("GITLAB_CI") => Some(System::Gitlab),
        Choice::Auto => None,
    }
}

/// How serious an annotation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warning,
}

impl Level {
    fn index(self) -> usize {
        match self {
            Level::Error => 0,
            Level::Warning => 1,
        }
    }
    fn word(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
        }
    }
}

/// A place in a file of the repository, for an annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// Relative to the repository's root, with `/` (as the runners want it).
    pub file: String,
    pub line: usize,
    pub column: Option<usize>,
}

/// One finding or failure to show on the pipeline's page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    pub level: Level,
    pub location: Option<Location>,
    /// A short title (the rule, or what failed).
    pub title: Option<String>,
    pub message: String,
}

/// GitHub shows this many annotations of one type per step; the rest are dropped.
pub const GITHUB_ANNOTATIONS_PER_TYPE: usize = 10;

/// Escapes the message of a GitHub workflow command.
fn github_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property of a GitHub workflow command.
fn github_property(text: &str) -> String {
    github_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Escapes the message or a property of an Azure logging command.
fn azure_data(text: &str) -> String {
    text.replace('%', "%AZP25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
        .replace(';', "%3B")
        .replace(']', "%5D")
}

impl Annotation {
    /// The annotation as the system's command, or for GitLab (which has none) as a
    /// plain `file:line:column: error: message` line.
    pub fn line(&self, system: System) -> String {
        match system {
            System::Github => {
                let mut props = Vec::new();
                if let Some(l) = &self.location {
                    props.push(format!("file={}", github_property(&l.file)));
                    props.push(format!("line={}", l.line));
                    if let Some(c) = l.column {
                        props.push(format!("col={c}"));
                    }
                }
                if let Some(t) = &self.title {
                    props.push(format!("title={}", github_property(t)));
                }
                let props = if props.is_empty() {
                    String::new()
                } else {
                    format!(" {}", props.join(","))
                };
                format!(
                    "::{}{props}::{}",
                    self.level.word(),
                    github_data(&self.message)
                )
            }
            System::Azure => {
                let mut props = vec![format!("type={}", self.level.word())];
                if let Some(l) = &self.location {
                    props.push(format!("sourcepath={}", azure_data(&l.file)));
                    props.push(format!("linenumber={}", l.line));
                    if let Some(c) = l.column {
                        props.push(format!("columnnumber={c}"));
                    }
                }
                if let Some(t) = &self.title {
                    props.push(format!("code={}", azure_data(t)));
                }
                format!(
                    "##vso[task.logissue {}]{}",
                    props.join(";"),
                    azure_data(&self.message)
                )
            }
            System::Gitlab => {
                let at = match &self.location {
                    Some(l) => match l.column {
                        Some(c) => format!("{}:{}:{c}: ", l.file, l.line),
                        None => format!("{}:{}: ", l.file, l.line),
                    },
                    None => String::new(),
                };
                let message = self.message.replace('\n', " ");
                format!("{at}{}: {message}", self.level.word())
            }
        }
    }
}

/// A group's start and end lines.
fn group_lines(system: System, id: &str, title: &str) -> (String, String) {
    match system {
        System::Github => (format!("::group::{title}"), "::endgroup::".into()),
        System::Azure => (format!("##[group]{title}"), "##[endgroup]".into()),
        System::Gitlab => {
            // A section name is letters, digits, `_`, `.` and `-`.
            let id: String = id
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            let now = unix_now();
            (
                format!("\x1b[0Ksection_start:{now}:{id}[collapsed=true]\r\x1b[0K{title}"),
                format!("\x1b[0Ksection_end:{}:{id}\r\x1b[0K", unix_now()),
            )
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// The CI output of one command: which system, where its commands go, and what it has
/// shown so far (annotations counted against the system's limit, the open group).
#[derive(Debug)]
pub struct Ci {
    pub system: System,
    /// Commands go to standard error (standard output carries `-o json`).
    to_stderr: bool,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Annotations shown, by level.
    shown: [usize; 2],
    /// Annotations left out because of the limit, by level.
    dropped: [usize; 2],
    /// The id and end line of the open group.
    group: Option<(String, String)>,
}

impl Ci {
    pub fn new(system: System, to_stderr: bool) -> Ci {
        Ci {
            system,
            to_stderr,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Writes one command line where the runner reads it.
    pub fn emit(&self, line: &str) {
        use std::io::Write;
        let text = format!("{line}\n");
        if self.to_stderr {
            crate::printer::stderr(&text);
        } else {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
        }
    }

    /// Shows `annotations`, the most serious first. GitHub shows at most
    /// [`GITHUB_ANNOTATIONS_PER_TYPE`] of a type per step: of each type, one place is
    /// kept for the command's own error and one for a line saying how many more there
    /// are (in the log above), said by [`Ci::finish`].
    pub fn annotate(&self, annotations: &[Annotation]) {
        let mut sorted: Vec<&Annotation> = annotations.iter().collect();
        sorted.sort_by_key(|a| a.level);
        for a in sorted {
            self.annotate_one(a, true);
        }
    }

    fn annotate_one(&self, a: &Annotation, keep_room: bool) {
        let i = a.level.index();
        {
            let mut state = self.state();
            if self.system == System::Github {
                // Room for the command's error and the summary line.
                let room = if keep_room {
                    GITHUB_ANNOTATIONS_PER_TYPE - 2
                } else {
                    GITHUB_ANNOTATIONS_PER_TYPE - 1
                };
                if state.shown[i] >= room {
                    state.dropped[i] += 1;
                    return;
                }
            }
            state.shown[i] += 1;
        }
        self.emit(&a.line(self.system));
    }

    /// The command's own failure, as an annotation (it always has its place).
    pub fn failure(&self, message: &str) {
        self.annotate_one(
            &Annotation {
                level: Level::Error,
                location: None,
                title: Some("slipway".into()),
                message: message.into(),
            },
            false,
        );
    }

    /// Opens a collapsible group (closing the open one).
    pub fn group(&self, id: &str, title: &str) {
        self.end_group();
        let (start, end) = group_lines(self.system, id, title);
        self.emit(&start);
        self.state().group = Some((id.into(), end));
    }

    /// The id of the open group.
    pub fn open_group(&self) -> Option<String> {
        self.state().group.as_ref().map(|(id, _)| id.clone())
    }

    /// Closes the open group, if any.
    pub fn end_group(&self) {
        let open = self.state().group.take();
        if let Some((_, end)) = open {
            self.emit(&end);
        }
    }

    /// Closes the open group and says how many annotations the limit left out.
    pub fn finish(&self) {
        self.end_group();
        let dropped = self.state().dropped;
        for (i, level) in [Level::Error, Level::Warning].into_iter().enumerate() {
            if dropped[i] > 0 {
                let what = if level == Level::Error {
                    "errors"
                } else {
                    "warnings"
                };
                self.emit(
                    &Annotation {
                        level,
                        location: None,
                        title: Some("slipway".into()),
                        message: format!(
                            "{} more {what}, not shown as annotations (GitHub shows {GITHUB_ANNOTATIONS_PER_TYPE} per type); the log lists them all",
                            dropped[i]
                        ),
                    }
                    .line(self.system),
                );
            }
        }
    }
}

/// The command's failure as annotations: each problem of `slipway.yaml` at its file,
/// line and column (from the error's details), then the error itself.
pub fn failed(ci: &Ci, err: &crate::error::CliError) {
    let details = err.json.as_deref().and_then(serde_json::Value::as_array);
    let annotations: Vec<Annotation> = details
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let file = d["file"].as_str()?;
            let hint = d["hint"]
                .as_str()
                .map(|h| format!(" ({h})"))
                .unwrap_or_default();
            Some(Annotation {
                level: Level::Error,
                location: Some(Location {
                    file: repository_path(Path::new(file)),
                    line: d["line"].as_u64()? as usize,
                    column: d["column"].as_u64().map(|c| c as usize),
                }),
                title: d["key"].as_str().map(str::to_owned),
                message: format!("{}{hint}", d["message"].as_str().unwrap_or("")),
            })
        })
        .collect();
    ci.annotate(&annotations);
    ci.failure(&err.message);
}

/// `file` as the runners want it: relative to the repository's root (the directory
/// holding `.git` above it, else the current directory), with `/`.
pub fn repository_path(file: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let absolute = if file.is_absolute() {
        file.to_path_buf()
    } else {
        cwd.join(file)
    };
    let root = cwd
        .ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(&cwd)
        .to_path_buf();
    let relative = absolute.strip_prefix(&root).unwrap_or(&absolute);
    let parts: Vec<String> = relative
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    parts.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn each_runner_is_detected_from_its_own_variable_and_none_wins() {
        assert_eq!(
            detect(Choice::Auto, vars(&[("GITHUB_ACTIONS", "true")])),
            Some(System::Github)
        );
        assert_eq!(
            detect(Choice::Auto, vars(&[("TF_BUILD", "True")])),
            Some(System::Azure)
        );
        assert_eq!(
            detect(Choice::Auto, vars(&[("GITLAB_CI", "true")])),
            Some(System::Gitlab)
        );
        assert_eq!(
            detect(Choice::Auto, vars(&[("GITHUB_ACTIONS", "false")])),
            None
        );
        assert_eq!(
            detect(Choice::None, vars(&[("GITHUB_ACTIONS", "true")])),
            None
        );
        assert_eq!(detect(Choice::Azure, vars(&[])), Some(System::Azure));
    }

    #[test]
    fn annotations_escape_what_would_end_their_fields() {
        let a = Annotation {
            level: Level::Error,
            location: Some(Location {
                file: "k8s/a,b.yaml".into(),
                line: 3,
                column: Some(7),
            }),
            title: Some("image-pinned".into()),
            message: "100% wrong\nsecond; line]".into(),
        };
        assert_eq!(
            a.line(System::Github),
            "::error file=k8s/a%2Cb.yaml,line=3,col=7,title=image-pinned::100%25 wrong%0Asecond; line]"
        );
        assert_eq!(
            a.line(System::Azure),
            "##vso[task.logissue type=error;sourcepath=k8s/a,b.yaml;linenumber=3;columnnumber=7;code=image-pinned]100%AZP25 wrong%0Asecond%3B line%5D"
        );
        assert_eq!(
            a.line(System::Gitlab),
            "k8s/a,b.yaml:3:7: error: 100% wrong second; line]"
        );
    }

    #[test]
    fn gitlab_sections_have_safe_names_and_times() {
        let (start, end) = group_lines(System::Gitlab, "plan shop-dev", "plan of `shop-dev`");
        assert!(start.starts_with("\x1b[0Ksection_start:"), "{start:?}");
        assert!(
            start.ends_with(":plan_shop-dev[collapsed=true]\r\x1b[0Kplan of `shop-dev`"),
            "{start:?}"
        );
        assert!(end.ends_with(":plan_shop-dev\r\x1b[0K"), "{end:?}");
    }
}
