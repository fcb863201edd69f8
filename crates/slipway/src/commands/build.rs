//! `slipway build`: builds, tags and pushes the images of `slipway.yaml`.

use crate::cli::{BuildArgs, GlobalArgs};
use crate::error::CliError;
use crate::printer::Printer;

use super::{pending, project};

pub fn run(args: &BuildArgs, global: &GlobalArgs, printer: &Printer) -> Result<(), CliError> {
    let project = project::load(global, printer)?;
    if let Some(env) = &args.env {
        project.environment(env)?;
    }
    project.check_images(&args.images)?;
    Err(pending::engine(
        "build",
        "the image builder",
        &project,
        args.env.as_deref(),
    ))
}
