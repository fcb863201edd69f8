//! Registry credentials and where they come from.
//!
//! A secret never comes from a command-line argument (it would land in shell history and
//! in `ps`), and is never printed: [`Secret`] and [`Credentials`] show `<redacted>` in
//! `Debug` and `Display`. Sources, in the order a caller would usually try them:
//! - the environment: `SLIPWAY_REGISTRY_USERNAME` and `SLIPWAY_REGISTRY_PASSWORD`
//!   ([`Credentials::from_env`]);
//! - a password file or standard input, with the user name given separately
//!   ([`Credentials::from_password_reader`], [`Credentials::from_password_file`]);
//! - the Docker config file (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`),
//!   which is what `docker login` and `az acr login` leave behind: `credHelpers.<host>`,
//!   then `credsStore`, both run `docker-credential-<name> get` with the host on stdin;
//!   then `auths.<host>.auth` (base64 `user:password`) ([`DockerConfig`]).

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use serde::Deserialize;

/// The environment variable holding the registry user name.
pub const USERNAME_ENV: &str = "SLIPWAY_REGISTRY_USERNAME";
/// The environment variable holding the registry password or token.
pub const PASSWORD_ENV: &str = "SLIPWAY_REGISTRY_PASSWORD";

/// A password or token. Shown as `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A user name and a secret for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name (not secret).
    pub username: String,
    /// The password or token.
    pub secret: Secret,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("secret", &self.secret)
            .finish()
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (secret <redacted>)", self.username)
    }
}

/// Errors while reading credentials. None of them contains the secret.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Only one of the two environment variables is set.
    #[error("`{set}` is set but `{missing}` is not")]
    IncompleteEnv {
        /// The variable that is set.
        set: &'static str,
        /// The variable that is missing.
        missing: &'static str,
    },
    /// A password file or stdin gave nothing.
    #[error("no password in {0}")]
    EmptyPassword(String),
    /// A file could not be read.
    #[error("cannot read `{}`", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The Docker config file is not valid JSON of the expected shape.
    #[error("invalid Docker config `{}`: {message}", path.display())]
    InvalidDockerConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The credential helper is not on the search path.
    #[error("credential helper `docker-credential-{0}` not found on PATH")]
    HelperNotFound(String),
    /// The credential helper failed or answered nonsense.
    #[error("credential helper `docker-credential-{helper}` failed: {message}")]
    HelperFailed {
        /// The helper's name.
        helper: String,
        /// What went wrong (the helper's message, never its answer).
        message: String,
    },
}

impl Credentials {
    /// Credentials from a user name and a secret.
    pub fn new(username: impl Into<String>, secret: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            secret: Secret::new(secret),
        }
    }

    /// From `SLIPWAY_REGISTRY_USERNAME` and `SLIPWAY_REGISTRY_PASSWORD`; `None` when
    /// neither is set.
    ///
    /// # Errors
    /// [`CredentialsError::IncompleteEnv`] when only one is set.
    pub fn from_env() -> Result<Option<Credentials>, CredentialsError> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// [`Credentials::from_env`] with an explicit variable lookup (for tests).
    ///
    /// # Errors
    /// [`CredentialsError::IncompleteEnv`] when only one variable is set.
    pub fn from_env_with(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Credentials>, CredentialsError> {
        let username = lookup(USERNAME_ENV).filter(|v| !v.is_empty());
        let password = lookup(PASSWORD_ENV).filter(|v| !v.is_empty());
        match (username, password) {
            (Some(username), Some(password)) => Ok(Some(Credentials::new(username, password))),
            (None, None) => Ok(None),
            (Some(_), None) => Err(CredentialsError::IncompleteEnv {
                set: USERNAME_ENV,
                missing: PASSWORD_ENV,
            }),
            (None, Some(_)) => Err(CredentialsError::IncompleteEnv {
                set: PASSWORD_ENV,
                missing: USERNAME_ENV,
            }),
        }
    }

    /// The password is the first line of `reader` (standard input, a pipe), without its
    /// line ending.
    ///
    /// # Errors
    /// [`CredentialsError::EmptyPassword`] when there is none; [`CredentialsError::Io`].
    pub fn from_password_reader(
        username: impl Into<String>,
        mut reader: impl Read,
        what: &str,
    ) -> Result<Credentials, CredentialsError> {
        let mut text = String::new();
        reader
            .read_to_string(&mut text)
            .map_err(|source| CredentialsError::Io {
                path: PathBuf::from(what),
                source,
            })?;
        let password = text.lines().next().unwrap_or("").trim_end_matches('\r');
        if password.is_empty() {
            return Err(CredentialsError::EmptyPassword(what.to_owned()));
        }
        Ok(Credentials::new(username, password))
    }

    /// The password is the first line of the file at `path`.
    ///
    /// # Errors
    /// As [`Credentials::from_password_reader`].
    pub fn from_password_file(
        username: impl Into<String>,
        path: &Path,
    ) -> Result<Credentials, CredentialsError> {
        let file = std::fs::File::open(path).map_err(|source| CredentialsError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_password_reader(username, file, &format!("`{}`", path.display()))
    }
}

/// The parts of Docker's `config.json` that hold credentials.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Clone, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, rename = "identitytoken")]
    identity_token: Option<String>,
}

impl fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthEntry(<redacted>)")
    }
}

impl DockerConfig {
    /// Where Docker keeps its config: `$DOCKER_CONFIG/config.json`, else
    /// `~/.docker/config.json`.
    pub fn default_path() -> Option<PathBuf> {
        if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
            return Some(PathBuf::from(dir).join("config.json"));
        }
        std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
    }

    /// Reads the config at `path`; an absent file is an empty config.
    ///
    /// # Errors
    /// [`CredentialsError::Io`] or [`CredentialsError::InvalidDockerConfig`].
    pub fn load(path: &Path) -> Result<DockerConfig, CredentialsError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(DockerConfig::default());
            }
            Err(source) => {
                return Err(CredentialsError::Io {
                    path: path.to_path_buf(),
                    source,
                });
            }
        };
        serde_json::from_slice(&bytes).map_err(|e| CredentialsError::InvalidDockerConfig {
            path: path.to_path_buf(),
            // serde_json messages quote no values, only positions and types.
            message: e.to_string(),
        })
    }

    /// The credentials for registry `host` (`127.0.0.1:5000`, `myreg.azurecr.io`):
    /// `credHelpers.<host>`, then `credsStore`, then `auths.<host>`. Helpers are looked up
    /// as `docker-credential-<name>` in `search_path` (a `PATH`-like list), or in `PATH`
    /// when `None`.
    ///
    /// # Errors
    /// [`CredentialsError::HelperNotFound`] or [`CredentialsError::HelperFailed`] for a
    /// configured helper that cannot answer.
    pub fn credentials_for(
        &self,
        host: &str,
        search_path: Option<&OsStr>,
    ) -> Result<Option<Credentials>, CredentialsError> {
        let host = normalize_host(host);
        let helper = self
            .cred_helpers
            .iter()
            .find(|(key, _)| normalize_host(key) == host)
            .map(|(_, helper)| helper)
            .or(self.creds_store.as_ref());
        if let Some(helper) = helper
            && let Some(credentials) = run_helper(helper, &server_url(&host), search_path)?
        {
            return Ok(Some(credentials));
        }
        let Some(entry) = self
            .auths
            .iter()
            .find(|(key, _)| normalize_host(key) == host)
            .map(|(_, entry)| entry)
        else {
            return Ok(None);
        };
        if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok());
            if let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                return Ok(Some(Credentials::new(user, password)));
            }
        }
        if let (Some(user), Some(password)) = (&entry.username, &entry.password) {
            return Ok(Some(Credentials::new(user, password)));
        }
        if let Some(token) = &entry.identity_token {
            return Ok(Some(Credentials::new(
                "00000000-0000-0000-0000-000000000000",
                token,
            )));
        }
        Ok(None)
    }
}

/// `https://index.docker.io/v1/` → `docker.io`; `https://host:5000/v2/` → `host:5000`.
fn normalize_host(key: &str) -> String {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_owned(),
        other => other.to_owned(),
    }
}

/// The server URL a helper is asked about: Docker Hub has its historical key.
fn server_url(host: &str) -> String {
    if host == "docker.io" {
        "https://index.docker.io/v1/".to_owned()
    } else {
        host.to_owned()
    }
}

fn find_helper(name: &str, search_path: Option<&OsStr>) -> Option<PathBuf> {
    let program = format!("docker-credential-{name}");
    let path = match search_path {
        Some(path) => path.to_owned(),
        None => std::env::var_os("PATH")?,
    };
    std::env::split_paths(&path)
        .map(|dir| dir.join(&program))
        .find(|candidate| candidate.is_file())
}

/// Runs `docker-credential-<helper> get`; `None` when it has no credentials for `server`.
fn run_helper(
    helper: &str,
    server: &str,
    search_path: Option<&OsStr>,
) -> Result<Option<Credentials>, CredentialsError> {
    #[derive(Deserialize)]
    struct Answer {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let failed = |message: String| CredentialsError::HelperFailed {
        helper: helper.to_owned(),
        message,
    };
    let program = find_helper(helper, search_path)
        .ok_or_else(|| CredentialsError::HelperNotFound(helper.to_owned()))?;
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|e| failed(e.to_string()))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        let message = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        // The protocol's "not found" answer, printed on stdout.
        if message.contains("credentials not found") {
            return Ok(None);
        }
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(failed(if stderr.is_empty() { message } else { stderr }));
    }
    let answer: Answer = serde_json::from_slice(&output.stdout)
        .map_err(|_| failed("its answer is not the expected JSON".to_owned()))?;
    let username = if answer.username == "<token>" {
        // An identity token (ACR's refresh token) is sent as the password of this user.
        "00000000-0000-0000-0000-000000000000".to_owned()
    } else {
        answer.username
    };
    Ok(Some(Credentials::new(username, answer.secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_secret() {
        let credentials = Credentials::new("alice", "hunter2");
        for shown in [format!("{credentials:?}"), format!("{credentials}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("alice"), "{shown}");
        }
        assert_eq!(credentials.secret.expose(), "hunter2");
    }

    #[test]
    fn env_needs_both_variables() {
        let both = |name: &str| Some(format!("value-of-{name}"));
        let creds = Credentials::from_env_with(both).unwrap().unwrap();
        assert_eq!(creds.username, "value-of-SLIPWAY_REGISTRY_USERNAME");
        assert!(Credentials::from_env_with(|_| None).unwrap().is_none());
        let only_user = |name: &str| (name == USERNAME_ENV).then(|| "bob".to_owned());
        let err = Credentials::from_env_with(only_user).unwrap_err();
        assert!(matches!(
            err,
            CredentialsError::IncompleteEnv {
                missing: PASSWORD_ENV,
                ..
            }
        ));
    }

    #[test]
    fn password_reader_takes_the_first_line() {
        let creds =
            Credentials::from_password_reader("bob", &b"s3cret\r\nignored\n"[..], "stdin").unwrap();
        assert_eq!(creds.secret.expose(), "s3cret");
        let err = Credentials::from_password_reader("bob", &b"\n"[..], "stdin").unwrap_err();
        assert!(matches!(err, CredentialsError::EmptyPassword(_)));
    }

    #[test]
    fn docker_config_auth_is_decoded_for_a_matching_host() {
        // base64("alice:pa:ss")
        let config: DockerConfig = serde_json::from_str(
            r#"{"auths":{"https://reg.example:5000/v2/":{"auth":"YWxpY2U6cGE6c3M="}}}"#,
        )
        .unwrap();
        let creds = config
            .credentials_for("reg.example:5000", Some(OsStr::new("")))
            .unwrap()
            .unwrap();
        assert_eq!(creds.username, "alice");
        assert_eq!(creds.secret.expose(), "pa:ss");
        assert!(
            config
                .credentials_for("other.example", Some(OsStr::new("")))
                .unwrap()
                .is_none()
        );
        assert!(!format!("{config:?}").contains("YWxp"));
    }

    #[test]
    fn missing_helper_is_a_typed_error() {
        let config: DockerConfig =
            serde_json::from_str(r#"{"credHelpers":{"reg.example":"nope"}}"#).unwrap();
        let empty = tempfile::tempdir().unwrap();
        let err = config
            .credentials_for("reg.example", Some(empty.path().as_os_str()))
            .unwrap_err();
        assert!(matches!(err, CredentialsError::HelperNotFound(ref n) if n == "nope"));
    }
}
