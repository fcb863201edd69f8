//! The log buffers of simulated containers, read by the `pods/log` endpoint.
//!
//! Buffers are keyed by pod UID (unique across sandboxes in one process) and container
//! name; a restart keeps the previous run's lines for `kubectl logs --previous`.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

#[derive(Default)]
struct Buffer {
    current: Vec<String>,
    previous: Option<Vec<String>>,
    /// How many times the container has restarted (each restart begins a new run).
    run: u64,
}

type Key = (String, String);

fn book() -> &'static Mutex<HashMap<Key, Buffer>> {
    static BOOK: OnceLock<Mutex<HashMap<Key, Buffer>>> = OnceLock::new();
    BOOK.get_or_init(|| Mutex::new(HashMap::new()))
}

fn with<T>(f: impl FnOnce(&mut HashMap<Key, Buffer>) -> T) -> T {
    f(&mut book().lock().unwrap_or_else(|p| p.into_inner()))
}

pub(crate) fn append(uid: &str, container: &str, line: &str) {
    with(|b| {
        b.entry((uid.into(), container.into()))
            .or_default()
            .current
            .push(line.to_string())
    });
}

/// A container restarts: its lines become the previous run's.
pub(crate) fn rotate(uid: &str, container: &str) {
    with(|b| {
        let buf = b.entry((uid.into(), container.into())).or_default();
        buf.previous = Some(std::mem::take(&mut buf.current));
        buf.run += 1;
    });
}

/// The pod is gone.
pub(crate) fn forget(uid: &str) {
    with(|b| b.retain(|(u, _), _| u != uid));
}

/// The log of one container of `pod` (the first container when `container` is `None`), one
/// line per entry with trailing newlines; `previous` asks for the run before the last
/// restart. `None` when the container does not exist or has not started (yet).
pub fn logs(pod: &Value, container: Option<&str>, previous: bool) -> Option<String> {
    let uid = pod["metadata"]["uid"].as_str()?;
    let name = match container {
        Some(c) => c.to_string(),
        None => pod["spec"]["containers"][0]["name"].as_str()?.to_string(),
    };
    with(|b| {
        let buf = b.get(&(uid.to_string(), name))?;
        let lines = if previous {
            buf.previous.as_ref()?
        } else {
            &buf.current
        };
        Some(lines.iter().map(|l| format!("{l}\n")).collect())
    })
}

/// Where a reader following a container's log is: its run and how many lines it has read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor {
    run: u64,
    read: usize,
}

/// The lines of the current run of `container` after `cursor` (all of them, from the
/// current run, when `cursor` is `None`), and where the reader is then. `None` once the
/// run the cursor was reading has ended in a restart, or the pod is gone.
pub fn follow(uid: &str, container: &str, cursor: Option<Cursor>) -> Option<(String, Cursor)> {
    with(|b| {
        let buf = b.get(&(uid.to_string(), container.to_string()))?;
        let from = match cursor {
            Some(c) if c.run != buf.run => return None,
            Some(c) => c.read,
            None => 0,
        };
        let text = buf.current[from.min(buf.current.len())..]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect();
        Some((
            text,
            Cursor {
                run: buf.run,
                read: buf.current.len(),
            },
        ))
    })
}
