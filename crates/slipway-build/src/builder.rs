//! The Dockerfile builders — buildah, podman and `docker buildx` — behind one trait, so
//! that the build of a project chooses a builder once ([`BuilderKind`]) and then treats
//! them alike. Each builder's module keeps what only it needs (buildah's and podman's
//! private storage and authfile, docker's engine check and private configuration) and
//! implements [`DockerfileBuilder`] for its options.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::PathBuf;

use crate::credentials::Credentials;
use crate::platform::Platform;

/// Why a Dockerfile build did not produce an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildFailure {
    /// Stopped by SIGINT or SIGTERM; the builder's leftovers were removed.
    Interrupted,
    /// The builder's message (its output went to the sink).
    Failed(String),
}

/// A builder of Dockerfile images.
pub trait DockerfileBuilder {
    /// Builds `build` into the builder's own storage, tagged `build.image`.
    ///
    /// # Errors
    /// [`BuildFailure`].
    fn build(
        &self,
        build: &DockerfileBuild,
        credentials: Option<&Credentials>,
        sink: &mut dyn FnMut(&str),
    ) -> Result<(), BuildFailure>;

    /// Builds `build` and pushes it to its registry; returns the pushed manifest digest.
    ///
    /// # Errors
    /// [`BuildFailure`].
    fn build_and_push(
        &self,
        build: &DockerfileBuild,
        credentials: Option<&Credentials>,
        sink: &mut dyn FnMut(&str),
    ) -> Result<String, BuildFailure>;
}

/// Implements [`DockerfileBuilder`] for a builder's options type with the module's own
/// `build_image` and `build_and_push` (each builder module has both, with the same
/// signature); `$interrupted` is the variant of the module's error that means the build
/// was interrupted.
macro_rules! dockerfile_builder {
    ($options:ty, $interrupted:path) => {
        impl $crate::builder::DockerfileBuilder for $options {
            fn build(
                &self,
                build: &$crate::builder::DockerfileBuild,
                credentials: Option<&$crate::credentials::Credentials>,
                sink: &mut dyn FnMut(&str),
            ) -> Result<(), $crate::builder::BuildFailure> {
                build_image(build, self, credentials, sink).map_err(|e| {
                    let interrupted = matches!(e, $interrupted);
                    $crate::builder::BuildFailure::of(e, interrupted)
                })
            }

            fn build_and_push(
                &self,
                build: &$crate::builder::DockerfileBuild,
                credentials: Option<&$crate::credentials::Credentials>,
                sink: &mut dyn FnMut(&str),
            ) -> Result<String, $crate::builder::BuildFailure> {
                build_and_push(build, self, credentials, sink).map_err(|e| {
                    let interrupted = matches!(e, $interrupted);
                    $crate::builder::BuildFailure::of(e, interrupted)
                })
            }
        }
    };
}
pub(crate) use dockerfile_builder;

impl BuildFailure {
    /// A builder's error: `Interrupted` when `interrupted`, else its message.
    pub(crate) fn of(e: impl std::fmt::Display, interrupted: bool) -> BuildFailure {
        if interrupted {
            BuildFailure::Interrupted
        } else {
            BuildFailure::Failed(e.to_string())
        }
    }
}

/// Which program builds images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuilderKind {
    /// `buildah` (daemonless, rootless-friendly).
    Buildah,
    /// `docker buildx`.
    Docker,
    /// `podman`.
    Podman,
    /// slipway's own builder (no Dockerfile, files only).
    Native,
}

impl BuilderKind {
    /// The first of `buildah`, `podman`, `docker` found on `PATH`, else
    /// [`BuilderKind::Native`]: the order in which `builder: auto` picks a Dockerfile
    /// builder.
    pub fn detect() -> BuilderKind {
        Self::detect_in(std::env::var_os("PATH").as_deref())
    }

    /// [`BuilderKind::detect`] with an explicit search path.
    pub fn detect_in(search_path: Option<&OsStr>) -> BuilderKind {
        let found = |program: &str| {
            search_path.is_some_and(|path| {
                std::env::split_paths(path).any(|dir| dir.join(program).is_file())
            })
        };
        [
            ("buildah", BuilderKind::Buildah),
            ("podman", BuilderKind::Podman),
            ("docker", BuilderKind::Docker),
        ]
        .into_iter()
        .find(|(program, _)| found(program))
        .map_or(BuilderKind::Native, |(_, kind)| kind)
    }
}

/// A Dockerfile build and where its image goes.
#[derive(Debug, Clone)]
pub struct DockerfileBuild {
    /// The build context.
    pub context: PathBuf,
    /// The Dockerfile.
    pub dockerfile: PathBuf,
    /// `--target` stage.
    pub target: Option<String>,
    /// `--platform`.
    pub platform: Platform,
    /// `--build-arg`s.
    pub build_args: BTreeMap<String, String>,
    /// `--label`s.
    pub labels: BTreeMap<String, String>,
    /// Full image reference, `registry/repo:tag`.
    pub image: String,
    /// `--no-cache`.
    pub no_cache: bool,
}

impl BuilderKind {
    /// The program this builder runs.
    pub fn program(self) -> &'static str {
        match self {
            BuilderKind::Buildah | BuilderKind::Native => "buildah",
            BuilderKind::Podman => "podman",
            BuilderKind::Docker => "docker",
        }
    }

    /// What to do when its program is not installed.
    pub fn install_hint(self) -> &'static str {
        match self {
            BuilderKind::Buildah | BuilderKind::Native => {
                "install buildah (Debian, Ubuntu: `apt-get install buildah`) or choose another builder"
            }
            BuilderKind::Podman => {
                "install podman (Debian, Ubuntu: `apt-get install podman`) or choose another builder"
            }
            BuilderKind::Docker => {
                "install Docker, or choose another builder (`builder: buildah` or `builder: podman`)"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buildah::BuildahOptions;
    use crate::docker::DockerOptions;
    use crate::podman::PodmanOptions;

    #[test]
    fn detect_prefers_buildah_and_falls_back_to_native() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            BuilderKind::detect_in(Some(dir.path().as_os_str())),
            BuilderKind::Native
        );
        std::fs::write(dir.path().join("docker"), "").unwrap();
        assert_eq!(
            BuilderKind::detect_in(Some(dir.path().as_os_str())),
            BuilderKind::Docker
        );
        std::fs::write(dir.path().join("buildah"), "").unwrap();
        assert_eq!(
            BuilderKind::detect_in(Some(dir.path().as_os_str())),
            BuilderKind::Buildah
        );
    }

    #[test]
    fn every_builder_refuses_a_missing_dockerfile_through_the_trait() {
        let dir = tempfile::tempdir().unwrap();
        let build = DockerfileBuild {
            context: dir.path().to_owned(),
            dockerfile: dir.path().join("Dockerfile"),
            target: None,
            platform: Platform::linux_amd64(),
            build_args: Default::default(),
            labels: Default::default(),
            image: "127.0.0.1:5000/shop/api:1".into(),
            no_cache: false,
        };
        let builders: [(&str, Box<dyn DockerfileBuilder>); 3] = [
            ("buildah", Box::new(BuildahOptions::default())),
            ("podman", Box::new(PodmanOptions::default())),
            ("docker", Box::new(DockerOptions::default())),
        ];
        for (name, builder) in builders {
            let mut output = Vec::new();
            let failure = builder
                .build(&build, None, &mut |line| output.push(line.to_owned()))
                .unwrap_err();
            let BuildFailure::Failed(message) = failure else {
                panic!("{name}: {failure:?}");
            };
            assert!(message.contains("Dockerfile"), "{name}: {message}");
        }
        assert_eq!(BuilderKind::Native.program(), "buildah");
        assert!(
            BuilderKind::Podman
                .install_hint()
                .contains("apt-get install podman")
        );
    }
}
