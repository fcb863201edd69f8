//! Ctrl-C and SIGTERM, for the whole process (a process has one handler).
//!
//! What a signal does depends on what runs:
//!
//! - a build: its builders are stopped and cleaned up, and the build returns its own
//!   interrupted error (see [`slipway_build::interrupt`]); what does not stop in time is
//!   removed here before exiting;
//! - a release ([`releasing`]): the first signal cancels [`token`], so the engine stops
//!   waiting, fails the release and restores the previous one (if there is one and
//!   the release rolls back on failure), releases the lock and
//!   records the outcome (see [`slipway_deploy::engine::INTERRUPTED`]); a second signal
//!   exits at once, leaving the lock to expire and the pending record to the next deploy;
//! - anything else: exit at once.
//!
//! Every way out exits with [`exit::INTERRUPTED`].

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error::CliError;
use crate::exit;

/// How long an interrupted build may take to stop its builders and clean up.
const BUILD_GRACE: Duration = Duration::from_secs(20);

static TOKEN: OnceLock<CancellationToken> = OnceLock::new();
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
static RELEASING: AtomicBool = AtomicBool::new(false);
static RESTORES: AtomicBool = AtomicBool::new(false);
static SIGNALS: AtomicUsize = AtomicUsize::new(0);

/// Installs the handler; calling it again does nothing.
pub fn install() -> Result<(), CliError> {
    INSTALLED
        .get_or_init(|| ctrlc::set_handler(on_signal).map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| CliError::internal(format!("cannot handle interrupts: {e}")))
}

/// Cancelled by the first signal while a release runs.
pub fn token() -> CancellationToken {
    TOKEN.get_or_init(CancellationToken::new).clone()
}

/// While the guard lives, a first signal stops the release instead of the process.
/// `restores`: whether a stopped release restores a previous one (there is one, and
/// the release rolls back on failure), so that the message says what happens.
pub fn releasing(restores: bool) -> Releasing {
    RESTORES.store(restores, Ordering::SeqCst);
    RELEASING.store(true, Ordering::SeqCst);
    Releasing(())
}

/// See [`releasing`].
pub struct Releasing(());

impl Drop for Releasing {
    fn drop(&mut self) {
        RELEASING.store(false, Ordering::SeqCst);
    }
}

fn on_signal() {
    let count = SIGNALS.fetch_add(1, Ordering::SeqCst) + 1;
    if RELEASING.load(Ordering::SeqCst) && count == 1 {
        crate::printer::stderr_line(if RESTORES.load(Ordering::SeqCst) {
            "interrupted: stopping the release and restoring the previous one; \
             interrupt again to leave at once"
        } else {
            "interrupted: stopping the release; there is no previous release to restore, \
             so what was applied stays; interrupt again to leave at once"
        });
        token().cancel();
        return;
    }
    if slipway_build::interrupt::interrupt(BUILD_GRACE) {
        return;
    }
    slipway_build::interrupt::remove_leftovers();
    crate::printer::stderr_line("interrupted");
    std::process::exit(i32::from(exit::INTERRUPTED));
}
