//! Exports a git ref again and again, printing each export directory, until interrupted.
//! Used by the test that proves SIGINT leaves no temporary directory behind:
//! `export_and_wait <repository> <ref>`.

use std::io::Write;
use std::path::Path;

use slipway_build::git::{Repository, cleanup_all_exports};

fn main() {
    ctrlc::set_handler(|| {
        cleanup_all_exports();
        std::process::exit(130);
    })
    .expect("install the SIGINT handler");

    let mut args = std::env::args().skip(1);
    let repo = args
        .next()
        .expect("usage: export_and_wait <repository> <ref>");
    let rev = args
        .next()
        .expect("usage: export_and_wait <repository> <ref>");
    let repo = Repository::discover(Path::new(&repo)).expect("open repository");
    let commit = repo.resolve(&rev).expect("resolve ref");
    let mut exports = Vec::new();
    while exports.len() < 500 {
        match repo.export(&commit, None) {
            Ok(export) => {
                println!("{}", export.path().display());
                std::io::stdout().flush().expect("flush stdout");
                exports.push(export);
            }
            // Interrupted: the handler is about to exit the process.
            Err(_) => break,
        }
    }
    loop {
        std::thread::park();
    }
}
