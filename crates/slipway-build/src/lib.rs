//! The build layer of slipway: from git sources to images pushed to a registry.
//!
//! Where to start:
//! - [`git`] opens a repository, tells which commit and branch a build comes from and
//!   whether the working tree is dirty, and exports any ref into a private temporary
//!   directory without touching the repository.
//! - [`inputs`] computes the digest of everything a build depends on, so an unchanged
//!   image is not rebuilt.
//! - [`native`] assembles a reproducible OCI image from files, on `scratch` or on a base
//!   image from a registry, without any daemon.
//! - [`registry`] pushes and pulls over the OCI distribution API; [`credentials`] finds
//!   the credentials for a registry without ever taking a secret from the command line.
//! - [`builder::DockerfileBuilder`] is what every Dockerfile builder does: [`buildah`]
//!   builds Dockerfiles with buildah and pushes them, after checking the Dockerfile and
//!   target stage ([`dockerfile`] reads its stages, for `slipway init` too);
//!   [`builder::BuilderKind`] picks a builder. [`podman`] and [`docker`]
//!   (`docker buildx`) implement the same trait.
//!
//! - [`interrupt`] stops a build on SIGINT or SIGTERM: builders are stopped, and what
//!   they and the build left (exports, temporary files, buildah and podman containers) is removed.
//!
//! - [`orchestrate`] runs the build of a whole `slipway.yaml` project with all of the
//!   above and records the result in `.slipway/artifacts.json`.
//!
//! Apart from [`orchestrate`], this crate knows nothing about `slipway.yaml`: the
//! orchestration maps the configuration onto the plain input types defined here.

pub mod buildah;
pub mod builder;
mod cli;
pub mod credentials;
pub mod docker;
pub mod dockerfile;
pub mod dockerignore;
pub mod git;
pub mod inputs;
pub mod interrupt;
pub mod native;
pub mod orchestrate;
pub mod platform;
pub mod podman;
pub mod registry;
