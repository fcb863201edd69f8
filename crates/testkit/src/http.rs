//! A small HTTP file server on loopback that can hold requests unanswered: a build step
//! that downloads from it (a Dockerfile's `ADD <url>`) then waits, so a test knows the
//! build is under way and can interrupt it there.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct State {
    holding: bool,
    held: usize,
    stopped: bool,
}

struct Shared {
    files: BTreeMap<String, Vec<u8>>,
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Serves fixed files over HTTP/1.1 on `127.0.0.1:<free port>` until dropped.
pub struct HttpFiles {
    host: String,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for HttpFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpFiles")
            .field("host", &self.host)
            .finish_non_exhaustive()
    }
}

impl HttpFiles {
    /// Starts serving `files` (path such as `/web.txt` → contents); other paths are 404.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub fn start(files: &[(&str, &str)]) -> HttpFiles {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
        let host = listener.local_addr().expect("local address").to_string();
        let shared = Arc::new(Shared {
            files: files
                .iter()
                .map(|(path, body)| ((*path).to_owned(), body.as_bytes().to_vec()))
                .collect(),
            state: Mutex::new(State::default()),
            changed: Condvar::new(),
        });
        let accepting = Arc::clone(&shared);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accepting.lock().stopped {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let serving = Arc::clone(&accepting);
                std::thread::spawn(move || serve(&serving, stream));
            }
        });
        HttpFiles { host, shared }
    }

    /// `http://127.0.0.1:PORT<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.host)
    }

    /// From now on, requests are held: the connection stays open and nothing is answered
    /// until [`HttpFiles::release`].
    pub fn hold(&self) {
        self.shared.lock().holding = true;
    }

    /// Answers the held requests and every later one at once.
    pub fn release(&self) {
        self.shared.lock().holding = false;
        self.shared.changed.notify_all();
    }

    /// Waits until `count` requests are held at the same time; `false` when that did not
    /// happen within `timeout`.
    pub fn wait_for_held(&self, count: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.shared.lock();
        while state.held < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }
}

impl Drop for HttpFiles {
    fn drop(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.changed.notify_all();
        // Wakes the accept loop so it sees `stopped`.
        let _ = TcpStream::connect(&self.host);
    }
}

fn serve(shared: &Shared, mut stream: TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
    {
        let mut state = shared.lock();
        if state.holding {
            state.held += 1;
            shared.changed.notify_all();
            while state.holding && !state.stopped {
                state = shared
                    .changed
                    .wait(state)
                    .unwrap_or_else(|p| p.into_inner());
            }
            state.held -= 1;
            if state.stopped {
                return;
            }
        }
    }
    let response = match shared.files.get(&path) {
        Some(body) => {
            let mut response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                 Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            response.extend_from_slice(body);
            response
        }
        None => {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
        }
    };
    let _ = stream.write_all(&response);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(host: &str, path: &str) -> String {
        let mut stream = TcpStream::connect(host).unwrap();
        stream
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes())
            .unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn files_are_served_and_held_requests_wait_for_release() {
        let http = HttpFiles::start(&[("/a.txt", "alpha\n")]);
        let host = http.host.clone();
        assert!(get(&host, "/a.txt").ends_with("\r\n\r\nalpha\n"));
        assert!(get(&host, "/nope").starts_with("HTTP/1.1 404"));

        http.hold();
        let waiting = std::thread::spawn(move || get(&host, "/a.txt"));
        assert!(http.wait_for_held(1, Duration::from_secs(30)));
        assert!(!waiting.is_finished(), "a held request was answered");
        http.release();
        assert!(waiting.join().unwrap().ends_with("alpha\n"));
    }
}
