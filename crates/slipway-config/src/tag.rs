//! Tag templates: how a unique image tag is made for every build.
//!
//! A template is literal text with placeholders in braces, e.g.
//! `{timestamp}-{git.short_sha}` (the default). [`TagTemplate::parse`] checks the template
//! once; [`TagTemplate::render`] fills it from a [`TagContext`] and checks that the result
//! is a valid OCI tag (`[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`) and not `latest`.
//!
//! | placeholder       | value                                                              |
//! |-------------------|--------------------------------------------------------------------|
//! | `{timestamp}`     | UTC build time as `YYYYMMDD-HHMMSS`                                |
//! | `{git.sha}`       | the full commit id                                                 |
//! | `{git.short_sha}` | the first 7 characters of the commit id (or the given short id)    |
//! | `{git.branch}`    | the branch, with every character outside `[A-Za-z0-9_.-]` as `-`   |
//! | `{inputs}`        | the first 12 hex characters of the build-inputs digest             |
//! | `{ci.build_id}`   | the CI build number (see [`TagContext::ci_build_id_from_env`])     |
//!
//! ```
//! use slipway_config::tag::{TagContext, TagTemplate};
//!
//! let template = TagTemplate::parse("{timestamp}-{git.short_sha}").unwrap();
//! let ctx = TagContext {
//!     time: 1_700_000_000,
//!     git_sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
//!     ..TagContext::default()
//! };
//! assert_eq!(template.render(&ctx).unwrap(), "20231114-221320-0123456");
//! ```

use std::fmt;

/// The environment variables [`TagContext::ci_build_id_from_env`] reads, in order.
pub const CI_BUILD_ID_VARIABLES: [&str; 8] = [
    "SLIPWAY_BUILD_ID",
    "GITHUB_RUN_NUMBER",
    "BUILD_BUILDID",
    "CI_PIPELINE_IID",
    "BUILD_NUMBER",
    "CIRCLE_BUILD_NUM",
    "BUILDKITE_BUILD_NUMBER",
    "DRONE_BUILD_NUMBER",
];

/// The default template, used when `tag` is not set.
pub const DEFAULT_TEMPLATE: &str = "{timestamp}-{git.short_sha}";

/// The longest tag the OCI distribution specification allows.
pub const MAX_TAG_LEN: usize = 128;

/// A placeholder of a tag template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// `{timestamp}`
    Timestamp,
    /// `{git.sha}`
    GitSha,
    /// `{git.short_sha}`
    GitShortSha,
    /// `{git.branch}`
    GitBranch,
    /// `{inputs}`
    Inputs,
    /// `{ci.build_id}`
    CiBuildId,
}

impl Placeholder {
    /// Every placeholder, in the order the documentation lists them.
    pub const ALL: [Placeholder; 6] = [
        Placeholder::Timestamp,
        Placeholder::GitSha,
        Placeholder::GitShortSha,
        Placeholder::GitBranch,
        Placeholder::Inputs,
        Placeholder::CiBuildId,
    ];

    /// The name between the braces.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Timestamp => "timestamp",
            Placeholder::GitSha => "git.sha",
            Placeholder::GitShortSha => "git.short_sha",
            Placeholder::GitBranch => "git.branch",
            Placeholder::Inputs => "inputs",
            Placeholder::CiBuildId => "ci.build_id",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for Placeholder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.name())
    }
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// Text copied as is.
    Literal(String),
    /// A value filled in at render time.
    Placeholder(Placeholder),
}

/// A parsed tag template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagTemplate {
    source: String,
    parts: Vec<Part>,
    /// Whether a rendered `latest` is accepted (`allow-latest: true` in `slipway.yaml`).
    allow_latest: bool,
}

impl Default for TagTemplate {
    fn default() -> Self {
        Self::parse(DEFAULT_TEMPLATE).expect("the default template is valid")
    }
}

impl fmt::Display for TagTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// What a template is rendered from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagContext {
    /// Build time, in seconds since the Unix epoch (UTC).
    pub time: i64,
    /// The full commit id (40 hex characters), if the build comes from git.
    pub git_sha: Option<String>,
    /// The short commit id; when `None`, the first 7 characters of `git_sha`.
    pub git_short_sha: Option<String>,
    /// The branch; `None` when HEAD is detached.
    pub git_branch: Option<String>,
    /// The build-inputs digest, hex, optionally prefixed by `sha256:`.
    pub inputs_digest: Option<String>,
    /// The CI build number, usually from [`TagContext::ci_build_id_from_env`].
    pub ci_build_id: Option<String>,
}

impl TagContext {
    /// The first non-empty CI build id among [`CI_BUILD_ID_VARIABLES`], in that order:
    /// `SLIPWAY_BUILD_ID`, `GITHUB_RUN_NUMBER`, `BUILD_BUILDID` (Azure DevOps),
    /// `CI_PIPELINE_IID` (GitLab), `BUILD_NUMBER` (Jenkins), `CIRCLE_BUILD_NUM`,
    /// `BUILDKITE_BUILD_NUMBER`, `DRONE_BUILD_NUMBER`.
    ///
    /// `lookup` is usually `|name| std::env::var(name).ok()`.
    pub fn ci_build_id_from_env(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
        CI_BUILD_ID_VARIABLES
            .iter()
            .filter_map(|name| lookup(name))
            .map(|v| v.trim().to_owned())
            .find(|v| !v.is_empty())
    }
}

/// Why a template or a tag is not acceptable. `Display` gives the message;
/// [`TagError::hint`] says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TagError {
    /// `{something}` that is not a known placeholder.
    #[error("unknown placeholder `{{{name}}}` in tag template")]
    UnknownPlaceholder {
        /// The name between the braces.
        name: String,
        /// The nearest known placeholder, if one is close.
        suggestion: Option<Placeholder>,
    },
    /// A `{` without `}` or a `}` without `{`.
    #[error("unbalanced `{brace}` in tag template `{template}`")]
    UnbalancedBrace {
        /// The template as written.
        template: String,
        /// The brace that has no partner.
        brace: char,
    },
    /// The tag (or template) is empty.
    #[error("tag is empty")]
    Empty,
    /// The tag has a character outside `[A-Za-z0-9_.-]`.
    #[error("tag `{tag}` contains `{ch}`, which is not allowed in a tag")]
    InvalidChar {
        /// The offending tag.
        tag: String,
        /// The first character not allowed.
        ch: char,
    },
    /// The tag starts with `.` or `-`.
    #[error("tag `{tag}` starts with `{ch}`")]
    InvalidStart {
        /// The offending tag.
        tag: String,
        /// The first character.
        ch: char,
    },
    /// The tag is longer than 128 characters.
    #[error("tag `{tag}` is {len} characters long; the limit is 128")]
    TooLong {
        /// The offending tag.
        tag: String,
        /// Its length.
        len: usize,
    },
    /// The tag rendered to `latest`.
    #[error("refusing to use `latest` as the release tag")]
    Latest,
    /// `{git.branch}` with a detached HEAD.
    #[error("no branch (detached HEAD); use `{{git.sha}}`")]
    DetachedHead,
    /// `{ci.build_id}` with none of the CI variables set.
    #[error("`{{ci.build_id}}` is used but no CI build id is set")]
    NoCiBuildId,
    /// `{git.sha}` or `{git.short_sha}` without a git commit.
    #[error("`{0}` is used but the build has no git commit")]
    NoGitCommit(Placeholder),
    /// `{inputs}` without an inputs digest.
    #[error("`{{inputs}}` is used but no build-inputs digest is known")]
    NoInputsDigest,
}

impl TagError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            TagError::UnknownPlaceholder { suggestion, .. } => Some(match suggestion {
                Some(p) => format!("did you mean `{p}`?"),
                None => format!(
                    "placeholders are {}",
                    Placeholder::ALL
                        .iter()
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
            TagError::UnbalancedBrace { .. } => {
                Some("placeholders are written `{name}`; a tag cannot contain braces".into())
            }
            TagError::Empty => Some(format!("the default is `{DEFAULT_TEMPLATE}`")),
            TagError::InvalidChar { .. } => {
                Some("a tag may contain only letters, digits, `_`, `.` and `-`".into())
            }
            TagError::InvalidStart { .. } => {
                Some("a tag must start with a letter, a digit or `_`".into())
            }
            TagError::TooLong { .. } => Some("shorten the literal text of the template".into()),
            TagError::Latest => Some(
                "`latest` names a different image after every build; add it to `extra-tags` to push it in addition, or set `allow-latest: true`"
                    .into(),
            ),
            TagError::DetachedHead => {
                Some("check out a branch, or use `{git.sha}` in the tag template".into())
            }
            TagError::NoCiBuildId => Some(format!(
                "set one of {}",
                CI_BUILD_ID_VARIABLES
                    .iter()
                    .map(|v| format!("`{v}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            TagError::NoGitCommit(_) => {
                Some("build from a git repository, or use `{timestamp}` instead".into())
            }
            TagError::NoInputsDigest => None,
        }
    }
}

impl TagTemplate {
    /// Parse a template.
    ///
    /// # Errors
    ///
    /// [`TagError::UnknownPlaceholder`] (with the nearest name as a suggestion),
    /// [`TagError::UnbalancedBrace`], [`TagError::Empty`], or an invalid literal character
    /// ([`TagError::InvalidChar`]) or start ([`TagError::InvalidStart`]).
    pub fn parse(template: &str) -> Result<TagTemplate, TagError> {
        if template.is_empty() {
            return Err(TagError::Empty);
        }
        let unbalanced = |brace| TagError::UnbalancedBrace {
            template: template.into(),
            brace,
        };
        let mut parts = Vec::new();
        let mut rest = template;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    parts.push(Part::Literal(rest.into()));
                    break;
                }
                Some(i) if rest.as_bytes()[i] == b'}' => return Err(unbalanced('}')),
                Some(i) => {
                    if i > 0 {
                        parts.push(Part::Literal(rest[..i].into()));
                    }
                    let after = &rest[i + 1..];
                    let end = after.find('}').ok_or_else(|| unbalanced('{'))?;
                    let name = &after[..end];
                    if name.contains('{') {
                        return Err(unbalanced('{'));
                    }
                    let placeholder = Placeholder::from_name(name.trim()).ok_or_else(|| {
                        TagError::UnknownPlaceholder {
                            name: name.into(),
                            suggestion: crate::diagnostic::suggest(
                                name,
                                Placeholder::ALL.iter().map(|p| p.name()),
                            )
                            .and_then(Placeholder::from_name),
                        }
                    })?;
                    parts.push(Part::Placeholder(placeholder));
                    rest = &after[end + 1..];
                }
            }
        }
        for part in &parts {
            if let Part::Literal(text) = part
                && let Some(ch) = text.chars().find(|c| !is_tag_char(*c))
            {
                return Err(TagError::InvalidChar {
                    tag: template.into(),
                    ch,
                });
            }
        }
        if let Some(Part::Literal(first)) = parts.first() {
            let ch = first.chars().next().unwrap_or('_');
            if ch == '.' || ch == '-' {
                return Err(TagError::InvalidStart {
                    tag: template.into(),
                    ch,
                });
            }
        }
        Ok(TagTemplate {
            source: template.into(),
            parts,
            allow_latest: false,
        })
    }

    /// The same template, whose rendering may be `latest` (by default it is refused).
    #[must_use]
    pub fn allowing_latest(mut self) -> Self {
        self.allow_latest = true;
        self
    }

    /// Whether a rendered `latest` is accepted.
    pub fn allows_latest(&self) -> bool {
        self.allow_latest
    }

    /// The template as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The template's pieces in order.
    pub fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// Whether the template uses `placeholder`.
    pub fn uses(&self, placeholder: Placeholder) -> bool {
        self.parts.contains(&Part::Placeholder(placeholder))
    }

    /// Whether the template has any placeholder at all (a template without one would give
    /// every build the same tag).
    pub fn has_placeholders(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Placeholder(_)))
    }

    /// True when different builds can get the same tag: the template uses no placeholder
    /// other than `{git.branch}` (as `latest`, allowed by `allow-latest`, or `{git.branch}`
    /// alone). Such a tag must be moved to whichever image a build releases, even an image
    /// reused from an earlier build.
    pub fn shares_tags_between_builds(&self) -> bool {
        self.parts.iter().all(|p| {
            matches!(
                p,
                Part::Literal(_) | Part::Placeholder(Placeholder::GitBranch)
            )
        })
    }

    /// True when the tag depends only on the content built: the template uses only
    /// `{inputs}`, `{git.sha}`, `{git.short_sha}` and literal text (no time, build number
    /// or branch), so equal inputs may reuse an existing tag.
    pub fn is_content_based(&self) -> bool {
        self.has_placeholders()
            && self.parts.iter().all(|p| {
                matches!(
                    p,
                    Part::Literal(_)
                        | Part::Placeholder(
                            Placeholder::Inputs | Placeholder::GitSha | Placeholder::GitShortSha
                        )
                )
            })
    }

    /// Fill the template and check the result with [`validate_tag`]; `latest` is refused
    /// unless the template was made with [`TagTemplate::allowing_latest`].
    ///
    /// # Errors
    ///
    /// A placeholder whose value is missing from `ctx` ([`TagError::DetachedHead`],
    /// [`TagError::NoCiBuildId`], [`TagError::NoGitCommit`], [`TagError::NoInputsDigest`]),
    /// a rendered tag that is not a valid OCI tag, or [`TagError::Latest`].
    pub fn render(&self, ctx: &TagContext) -> Result<String, TagError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Placeholder(p) => out.push_str(&value(*p, ctx)?),
            }
        }
        validate_tag(&out)?;
        if out == "latest" && !self.allow_latest {
            return Err(TagError::Latest);
        }
        Ok(out)
    }
}

fn value(p: Placeholder, ctx: &TagContext) -> Result<String, TagError> {
    Ok(match p {
        Placeholder::Timestamp => format_timestamp(ctx.time),
        Placeholder::GitSha => ctx.git_sha.clone().ok_or(TagError::NoGitCommit(p))?,
        Placeholder::GitShortSha => match (&ctx.git_short_sha, &ctx.git_sha) {
            (Some(short), _) => short.clone(),
            (None, Some(sha)) => sha.chars().take(7).collect(),
            (None, None) => return Err(TagError::NoGitCommit(p)),
        },
        Placeholder::GitBranch => {
            sanitize_branch(ctx.git_branch.as_deref().ok_or(TagError::DetachedHead)?)
        }
        Placeholder::Inputs => {
            let digest = ctx
                .inputs_digest
                .as_deref()
                .ok_or(TagError::NoInputsDigest)?;
            let hex = digest.split_once(':').map_or(digest, |(_, hex)| hex);
            hex.chars().take(12).collect()
        }
        Placeholder::CiBuildId => ctx.ci_build_id.clone().ok_or(TagError::NoCiBuildId)?,
    })
}

/// Replace every character outside `[A-Za-z0-9_.-]` with `-` (`feature/x` → `feature-x`).
pub fn sanitize_branch(branch: &str) -> String {
    branch
        .chars()
        .map(|c| if is_tag_char(c) { c } else { '-' })
        .collect()
}

fn is_tag_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// Format Unix seconds as UTC `YYYYMMDD-HHMMSS`.
pub fn format_timestamp(unix_seconds: i64) -> String {
    let t = jiff::Timestamp::from_second(unix_seconds).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    t.strftime("%Y%m%d-%H%M%S").to_string()
}

/// Check a tag against the OCI distribution rule `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
/// `latest` passes this check (it is a valid tag; only release tags refuse it).
///
/// # Errors
///
/// [`TagError::Empty`], [`TagError::InvalidStart`], [`TagError::InvalidChar`] or
/// [`TagError::TooLong`].
pub fn validate_tag(tag: &str) -> Result<(), TagError> {
    let Some(first) = tag.chars().next() else {
        return Err(TagError::Empty);
    };
    if let Some(ch) = tag.chars().find(|c| !is_tag_char(*c)) {
        return Err(TagError::InvalidChar {
            tag: tag.into(),
            ch,
        });
    }
    if first == '.' || first == '-' {
        return Err(TagError::InvalidStart {
            tag: tag.into(),
            ch: first,
        });
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(TagError::TooLong {
            tag: tag.into(),
            len: tag.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn ctx() -> TagContext {
        TagContext {
            time: 1_700_000_000,
            git_sha: Some(SHA.into()),
            git_short_sha: None,
            git_branch: Some("feature/login page".into()),
            inputs_digest: Some(
                "sha256:aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899".into(),
            ),
            ci_build_id: Some("417".into()),
        }
    }

    fn render(template: &str) -> Result<String, TagError> {
        TagTemplate::parse(template)?.render(&ctx())
    }

    #[test]
    fn default_template_is_timestamp_and_short_sha() {
        let t = TagTemplate::default();
        assert_eq!(t.as_str(), "{timestamp}-{git.short_sha}");
        assert_eq!(t.render(&ctx()).unwrap(), "20231114-221320-0123456");
    }

    #[test]
    fn every_placeholder_renders() {
        assert_eq!(render("{timestamp}").unwrap(), "20231114-221320");
        assert_eq!(render("{git.sha}").unwrap(), SHA);
        assert_eq!(render("{git.short_sha}").unwrap(), "0123456");
        assert_eq!(render("{git.branch}").unwrap(), "feature-login-page");
        assert_eq!(render("{inputs}").unwrap(), "aabbccddeeff");
        assert_eq!(render("{ci.build_id}").unwrap(), "417");
        assert_eq!(
            render("v1.{ci.build_id}_{git.short_sha}").unwrap(),
            "v1.417_0123456"
        );
    }

    #[test]
    fn given_short_sha_wins_over_the_prefix() {
        let t = TagTemplate::parse("{git.short_sha}").unwrap();
        let mut c = ctx();
        c.git_short_sha = Some("0123456789".into());
        assert_eq!(t.render(&c).unwrap(), "0123456789");
    }

    #[test]
    fn inputs_digest_without_algorithm_prefix_is_accepted() {
        let t = TagTemplate::parse("{inputs}").unwrap();
        let mut c = ctx();
        c.inputs_digest = Some("ffeeddccbbaa99887766".into());
        assert_eq!(t.render(&c).unwrap(), "ffeeddccbbaa");
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(format_timestamp(0), "19700101-000000");
        assert_eq!(format_timestamp(951_782_400), "20000229-000000");
        assert_eq!(format_timestamp(4_102_444_799), "20991231-235959");
        assert_eq!(format_timestamp(-1), "19691231-235959");
    }

    #[test]
    fn branch_names_are_sanitised() {
        assert_eq!(sanitize_branch("feature/x"), "feature-x");
        assert_eq!(sanitize_branch("fix_1.2-b"), "fix_1.2-b");
        assert_eq!(sanitize_branch("ü@x"), "--x");
    }

    #[test]
    fn detached_head_refuses_branch_placeholder() {
        let t = TagTemplate::parse("{git.branch}-{git.short_sha}").unwrap();
        let mut c = ctx();
        c.git_branch = None;
        let err = t.render(&c).unwrap_err();
        assert_eq!(err, TagError::DetachedHead);
        assert_eq!(
            err.to_string(),
            "no branch (detached HEAD); use `{git.sha}`"
        );
    }

    #[test]
    fn missing_ci_build_id_names_the_variables() {
        let t = TagTemplate::parse("{ci.build_id}").unwrap();
        let mut c = ctx();
        c.ci_build_id = None;
        let err = t.render(&c).unwrap_err();
        assert_eq!(err, TagError::NoCiBuildId);
        assert_eq!(
            err.hint().unwrap(),
            "set one of `SLIPWAY_BUILD_ID`, `GITHUB_RUN_NUMBER`, `BUILD_BUILDID`, \
             `CI_PIPELINE_IID`, `BUILD_NUMBER`, `CIRCLE_BUILD_NUM`, \
             `BUILDKITE_BUILD_NUMBER`, `DRONE_BUILD_NUMBER`"
        );
    }

    #[test]
    fn missing_git_commit_is_an_error() {
        let t = TagTemplate::parse("{git.short_sha}").unwrap();
        let c = TagContext::default();
        assert_eq!(
            t.render(&c).unwrap_err().to_string(),
            "`{git.short_sha}` is used but the build has no git commit"
        );
    }

    #[test]
    fn ci_build_id_follows_the_documented_variable_order() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            TagContext::ci_build_id_from_env(env(&[
                ("DRONE_BUILD_NUMBER", "8"),
                ("GITHUB_RUN_NUMBER", "2"),
                ("BUILD_BUILDID", "3"),
            ])),
            Some("2".into())
        );
        assert_eq!(
            TagContext::ci_build_id_from_env(env(&[
                ("BUILD_NUMBER", "5"),
                ("SLIPWAY_BUILD_ID", "1"),
            ])),
            Some("1".into())
        );
        assert_eq!(
            TagContext::ci_build_id_from_env(env(&[
                ("CI_PIPELINE_IID", "4"),
                ("BUILD_NUMBER", "5")
            ])),
            Some("4".into())
        );
        assert_eq!(
            TagContext::ci_build_id_from_env(env(&[
                ("SLIPWAY_BUILD_ID", " "),
                ("BUILDKITE_BUILD_NUMBER", "7"),
            ])),
            Some("7".into())
        );
        assert_eq!(TagContext::ci_build_id_from_env(env(&[])), None);
        // Every variable is read, in the documented order.
        let seen = std::cell::RefCell::new(Vec::new());
        TagContext::ci_build_id_from_env(|name| {
            seen.borrow_mut().push(name.to_owned());
            None
        });
        assert_eq!(*seen.borrow(), CI_BUILD_ID_VARIABLES);
    }

    #[test]
    fn unknown_placeholder_suggests_the_nearest() {
        let err = TagTemplate::parse("{timestmp}-{git.short_sha}").unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown placeholder `{timestmp}` in tag template"
        );
        assert_eq!(err.hint().unwrap(), "did you mean `{timestamp}`?");
        let err = TagTemplate::parse("{git.sha1}").unwrap_err();
        assert_eq!(err.hint().unwrap(), "did you mean `{git.sha}`?");
    }

    #[test]
    fn unknown_placeholder_far_from_any_lists_them_all() {
        let err = TagTemplate::parse("{version}").unwrap_err();
        assert_eq!(
            err.hint().unwrap(),
            "placeholders are `{timestamp}`, `{git.sha}`, `{git.short_sha}`, \
             `{git.branch}`, `{inputs}`, `{ci.build_id}`"
        );
    }

    #[test]
    fn unbalanced_braces_are_refused() {
        for (template, brace) in [
            ("{timestamp", '{'),
            ("timestamp}", '}'),
            ("{{timestamp}}", '{'),
            ("a-{git.sha", '{'),
        ] {
            assert_eq!(
                TagTemplate::parse(template),
                Err(TagError::UnbalancedBrace {
                    template: template.into(),
                    brace
                }),
                "{template}"
            );
        }
    }

    #[test]
    fn invalid_literal_characters_are_refused_at_parse() {
        assert_eq!(
            TagTemplate::parse("v1/{git.sha}").unwrap_err().to_string(),
            "tag `v1/{git.sha}` contains `/`, which is not allowed in a tag"
        );
        assert!(matches!(
            TagTemplate::parse("-{git.sha}"),
            Err(TagError::InvalidStart { ch: '-', .. })
        ));
        assert_eq!(TagTemplate::parse(""), Err(TagError::Empty));
    }

    #[test]
    fn tags_of_128_characters_pass_and_129_fail() {
        assert_eq!(validate_tag(&"a".repeat(128)), Ok(()));
        let long = "a".repeat(129);
        assert_eq!(
            validate_tag(&long),
            Err(TagError::TooLong {
                tag: long.clone(),
                len: 129
            })
        );
        let t = TagTemplate::parse(&format!("{}-{{git.sha}}", "x".repeat(88))).unwrap();
        assert!(matches!(
            t.render(&ctx()),
            Err(TagError::TooLong { len: 129, .. })
        ));
    }

    #[test]
    fn tags_must_not_start_with_dot_or_dash() {
        assert!(matches!(
            validate_tag(".x"),
            Err(TagError::InvalidStart { ch: '.', .. })
        ));
        assert!(matches!(
            validate_tag("-x"),
            Err(TagError::InvalidStart { ch: '-', .. })
        ));
        assert_eq!(validate_tag("_x"), Ok(()));
        assert_eq!(validate_tag("9.x-y_z"), Ok(()));
    }

    #[test]
    fn invalid_characters_are_refused() {
        for (tag, ch) in [
            ("a:b", ':'),
            ("a b", ' '),
            ("ä", 'ä'),
            ("a+b", '+'),
            ("a@b", '@'),
        ] {
            assert_eq!(
                validate_tag(tag),
                Err(TagError::InvalidChar {
                    tag: tag.into(),
                    ch
                })
            );
        }
        assert_eq!(validate_tag(""), Err(TagError::Empty));
    }

    #[test]
    fn latest_is_a_valid_tag_but_never_a_release_tag() {
        assert_eq!(validate_tag("latest"), Ok(()));
        let t = TagTemplate::parse("{git.branch}").unwrap();
        let mut c = ctx();
        c.git_branch = Some("latest".into());
        let err = t.render(&c).unwrap_err();
        assert_eq!(err, TagError::Latest);
        assert_eq!(
            err.hint().unwrap(),
            "`latest` names a different image after every build; add it to `extra-tags` to push it in addition, or set `allow-latest: true`"
        );
        assert_eq!(t.allowing_latest().render(&c).unwrap(), "latest");
    }

    #[test]
    fn rendered_branch_starting_with_dash_is_refused() {
        let t = TagTemplate::parse("{git.branch}").unwrap();
        let mut c = ctx();
        c.git_branch = Some("/x".into());
        assert!(matches!(
            t.render(&c),
            Err(TagError::InvalidStart { ch: '-', .. })
        ));
    }

    #[test]
    fn templates_of_branch_and_text_share_tags_between_builds() {
        let shares = |t: &str| TagTemplate::parse(t).unwrap().shares_tags_between_builds();
        assert!(shares("latest"));
        assert!(shares("{git.branch}"));
        assert!(shares("release-{git.branch}"));
        assert!(!shares("{git.branch}-{git.short_sha}"));
        assert!(!shares("{timestamp}"));
        assert!(!shares("{inputs}"));
        assert!(!shares("b{ci.build_id}"));
    }

    #[test]
    fn content_based_templates_use_only_digests_and_commits() {
        let based = |t: &str| TagTemplate::parse(t).unwrap().is_content_based();
        assert!(based("{inputs}"));
        assert!(based("v-{git.sha}"));
        assert!(based("{git.short_sha}-{inputs}"));
        assert!(!based("{timestamp}-{git.short_sha}"));
        assert!(!based("{ci.build_id}-{inputs}"));
        assert!(!based("{git.branch}-{inputs}"));
        assert!(!based("fixed"));
    }
}
