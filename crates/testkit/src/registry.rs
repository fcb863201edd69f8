//! A real `docker-registry` (CNCF distribution, v2) on `127.0.0.1:<free port>`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A running registry. Stopped (killed) and its storage deleted on drop.
pub struct Registry {
    child: Child,
    host: String,
    dir: TempDir,
    credentials: Option<(String, String)>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("host", &self.host)
            .field("auth", &self.credentials.is_some())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Starts a registry that accepts anonymous pushes and pulls.
    ///
    /// # Panics
    /// When `docker-registry` is not installed (run `scripts/test.sh`) or does not answer
    /// on `/v2/` within ten seconds.
    pub fn start() -> Registry {
        Self::start_inner(None)
    }

    /// Starts a registry that requires HTTP basic authentication with exactly this user and
    /// password (htpasswd file with a bcrypt hash).
    ///
    /// # Panics
    /// As [`Registry::start`]; also when `htpasswd` (apache2-utils) is missing.
    pub fn start_with_auth(user: &str, password: &str) -> Registry {
        Self::start_inner(Some((user.to_owned(), password.to_owned())))
    }

    fn start_inner(credentials: Option<(String, String)>) -> Registry {
        crate::require_tool("docker-registry");
        let dir = tempfile::Builder::new()
            .prefix("testkit-registry-")
            .tempdir()
            .expect("temporary directory for the registry");
        let htpasswd = credentials
            .as_ref()
            .map(|(user, password)| write_htpasswd(dir.path(), user, password));
        // The port is found by binding port 0 and releasing it; another process may take it
        // in between, in which case the registry exits at once and we try another port.
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            let host = format!("127.0.0.1:{port}");
            let config = write_config(dir.path(), &host, htpasswd.as_deref());
            let stdout = std::fs::File::create(dir.path().join("access.log")).expect("log file");
            let stderr = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|e| {
                    panic!("cannot start `docker-registry` ({e}): run `scripts/test.sh`")
                });
            match wait_ready(&host, &mut child) {
                Ok(()) => {
                    return Registry {
                        child,
                        host,
                        dir,
                        credentials,
                    };
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log = std::fs::read_to_string(dir.path().join("registry.log"))
                        .unwrap_or_default();
                    last_error = format!("{e}\n{log}");
                }
            }
        }
        panic!("docker-registry did not start: {last_error}");
    }

    /// `127.0.0.1:PORT`, the registry part of an image reference.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The user and password this registry accepts, when it requires authentication.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// Where the registry keeps its configuration, logs and blobs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The access log so far (one line per HTTP request, combined log format).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// How many blob uploads were started (`POST /v2/<name>/blobs/uploads/`) so far,
    /// excluding cross-repository mounts (`?mount=`). An independent oracle for "pushes
    /// only what is missing".
    pub fn blob_upload_count(&self) -> usize {
        self.access_log()
            .lines()
            .filter(|l| l.contains("\"POST /v2/") && l.contains("/blobs/uploads/"))
            .filter(|l| !l.contains("mount="))
            .count()
    }

    /// How many cross-repository mounts were requested so far.
    pub fn blob_mount_count(&self) -> usize {
        self.access_log()
            .lines()
            .filter(|l| l.contains("\"POST /v2/") && l.contains("mount="))
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("local address").port()
}

fn write_htpasswd(dir: &Path, user: &str, password: &str) -> PathBuf {
    crate::require_tool("htpasswd");
    // `-i` reads the password from stdin, `-B` bcrypt (the only hash the registry accepts).
    let mut child = Command::new("htpasswd")
        .args(["-B", "-i", "-n", user])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run htpasswd (apache2-utils): run `scripts/test.sh`");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(password.as_bytes())
        .expect("write password to htpasswd");
    let output = child.wait_with_output().expect("htpasswd output");
    assert!(
        output.status.success(),
        "htpasswd failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let path = dir.join("htpasswd");
    std::fs::write(&path, output.stdout).expect("write htpasswd file");
    path
}

fn write_config(dir: &Path, host: &str, htpasswd: Option<&Path>) -> PathBuf {
    let mut config = format!(
        "version: 0.1\n\
         log:\n  level: warn\n\
         storage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n\
         http:\n  addr: {host}\n  secret: testkit-not-a-secret\n",
        root = dir.join("data").display(),
    );
    if let Some(path) = htpasswd {
        config.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: testkit\n    path: {}\n",
            path.display()
        ));
    }
    let path = dir.join("config.yml");
    std::fs::write(&path, config).expect("write registry config");
    path
}

fn wait_ready(host: &str, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("docker-registry exited early with {status}"));
        }
        if let Some(code) = probe_v2(host) {
            // 200 without auth, 401 with auth: either way the API is serving.
            if code == 200 || code == 401 {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(format!("`http://{host}/v2/` did not answer within 10s"));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The HTTP status of `GET /v2/`, or None when nothing answers.
fn probe_v2(host: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    stream
        .write_all(format!("GET /v2/ HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .ok()?;
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).ok()?;
    let head = std::str::from_utf8(&buf[..n]).ok()?;
    head.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_registry_answers_v2_and_stops_on_drop() {
        let registry = Registry::start();
        let host = registry.host().to_owned();
        assert_eq!(probe_v2(&host), Some(200));
        drop(registry);
        assert_eq!(probe_v2(&host), None);
    }

    #[test]
    fn registry_with_auth_rejects_anonymous_requests() {
        let registry = Registry::start_with_auth("alice", "s3cret");
        assert_eq!(probe_v2(registry.host()), Some(401));
        assert_eq!(registry.credentials(), Some(("alice", "s3cret")));
        let htpasswd = std::fs::read_to_string(registry.dir().join("htpasswd")).unwrap();
        assert!(
            htpasswd.starts_with("alice:$2y$"),
            "bcrypt hash: {htpasswd}"
        );
    }
}
