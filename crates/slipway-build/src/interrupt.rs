//! Stopping a build on SIGINT or SIGTERM without leaving anything behind.
//!
//! A signal handler calls [`interrupt`]. From then on:
//!
//! - every builder process still running (buildah, with everything it started, such as
//!   the command of a `RUN` step) is sent SIGTERM as a whole process group, and no new
//!   one starts;
//! - the build notices at its next step, each builder cleans up after itself (buildah
//!   containers left by a builder that was stopped are removed, see [`crate::buildah`]),
//!   git exports and private temporary directories are removed as their guards drop,
//!   and [`crate::orchestrate::run`] returns a [`FailureKind::Interrupted`] error;
//! - [`interrupt`] returns `true` once the build has returned, so the handler lets the
//!   command exit with its own error. When the build does not return in time, the
//!   builders are killed (SIGKILL) and the handler removes what is left with
//!   [`remove_leftovers`] before it exits.
//!
//! Builders run in their own process group, so a Ctrl-C on the terminal reaches slipway
//! only, and slipway decides how they stop.
//!
//! [`FailureKind::Interrupted`]: crate::orchestrate::FailureKind::Interrupted

use std::collections::BTreeSet;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Process groups of running builders.
static CHILDREN: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// How many builds are running, and the condition [`wait_until_idle`] waits on.
static ACTIVE: Mutex<usize> = Mutex::new(0);
static IDLE: Condvar = Condvar::new();

/// Private temporary directories alive now, removed by [`remove_leftovers`].
static DIRS: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

fn lock<T>(mutex: &'static Mutex<T>) -> MutexGuard<'static, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// Whether the process is being interrupted.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Marks the process as interrupted and sends SIGTERM to every running builder's process
/// group. Builders that have not started yet never start.
pub fn request() {
    let children = lock(&CHILDREN);
    REQUESTED.store(true, Ordering::SeqCst);
    for group in children.iter() {
        let _ = killpg(Pid::from_raw(*group), Signal::SIGTERM);
    }
}

/// What a signal handler calls: [`request`], then waits up to `grace` for the running
/// build to return, and if it does not, kills the builders (SIGKILL) and waits a little
/// more.
///
/// Returns `true` when a build was running and has returned: its caller reports the
/// interruption. Returns `false` when no build was running, or one did not stop in time:
/// the handler should call [`remove_leftovers`] and exit.
pub fn interrupt(grace: Duration) -> bool {
    request();
    if *lock(&ACTIVE) == 0 {
        return false;
    }
    if wait_until_idle(grace) {
        return true;
    }
    for group in lock(&CHILDREN).iter() {
        let _ = killpg(Pid::from_raw(*group), Signal::SIGKILL);
    }
    wait_until_idle(Duration::from_secs(5))
}

/// Waits until no build is running, at most `timeout`; returns whether none is.
pub fn wait_until_idle(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut active = lock(&ACTIVE);
    while *active > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        active = IDLE
            .wait_timeout(active, left)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    true
}

/// What else [`remove_leftovers`] removes: each part that leaves files of its own (git's
/// exports) registers its cleanup here, so that this module depends on none of them.
static CLEANUPS: Mutex<Vec<fn()>> = Mutex::new(Vec::new());

/// Registers `cleanup` to run in [`remove_leftovers`] (once, however often it is
/// registered).
pub fn on_leftovers(cleanup: fn()) {
    let mut cleanups = lock(&CLEANUPS);
    if !cleanups.iter().any(|c| std::ptr::fn_addr_eq(*c, cleanup)) {
        cleanups.push(cleanup);
    }
}

/// Removes the private temporary directories still alive and runs every registered
/// cleanup (every git export): for a handler about to exit while a build is still
/// running.
pub fn remove_leftovers() {
    for dir in lock(&DIRS).iter() {
        let _ = std::fs::remove_dir_all(dir);
    }
    let cleanups = lock(&CLEANUPS).clone();
    for cleanup in cleanups {
        cleanup();
    }
}

/// A running build, counted while the guard lives (see [`wait_until_idle`]).
#[derive(Debug)]
pub struct Active(());

/// Starts counting a running build until the returned guard is dropped.
pub fn begin() -> Active {
    *lock(&ACTIVE) += 1;
    Active(())
}

impl Drop for Active {
    fn drop(&mut self) {
        let mut active = lock(&ACTIVE);
        *active = active.saturating_sub(1);
        IDLE.notify_all();
    }
}

/// The process was interrupted before a builder could start.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// [`request`] was called.
    #[error("interrupted")]
    Interrupted,
    /// The program could not be started.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A builder process in its own process group, signalled by [`request`]. Wait for it
/// with [`Builder::wait`].
#[derive(Debug)]
pub struct Builder {
    /// The process.
    pub child: Child,
    group: i32,
}

impl Builder {
    /// Starts `command` in a new process group, unless the process is interrupted.
    ///
    /// # Errors
    /// [`SpawnError::Interrupted`] after [`request`]; [`SpawnError::Io`] when the
    /// program cannot be started.
    pub fn spawn(command: &mut Command) -> Result<Builder, SpawnError> {
        let mut children = lock(&CHILDREN);
        if requested() {
            return Err(SpawnError::Interrupted);
        }
        let child = command.process_group(0).spawn()?;
        let group = i32::try_from(child.id()).unwrap_or(i32::MAX);
        children.insert(group);
        Ok(Builder { child, group })
    }

    /// Waits for the process to exit and stops tracking it.
    ///
    /// # Errors
    /// As [`Child::wait`].
    pub fn wait(mut self) -> std::io::Result<std::process::ExitStatus> {
        let status = self.child.wait();
        lock(&CHILDREN).remove(&self.group);
        status
    }
}

/// A private (0700) temporary directory, removed when dropped, and by
/// [`remove_leftovers`] if the process exits first.
#[derive(Debug)]
pub struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    /// Creates `<base>/<prefix><random>`.
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub fn new_in(base: &Path, prefix: &str) -> std::io::Result<PrivateDir> {
        let mut dirs = lock(&DIRS);
        let path = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(base)?
            .keep();
        dirs.insert(path.clone());
        Ok(PrivateDir { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
        lock(&DIRS).remove(&self.path);
    }
}
