//! The Dockerfile builders — buildah, podman and `docker buildx` — behind one trait, so
//! that the build of a project chooses a builder once ([`BuilderKind`]) and then treats
//! them alike. Each builder's module keeps what only it needs (buildah's and podman's
//! private storage and authfile, docker's engine check and private configuration).

use crate::buildah::{self, BuildahOptions, BuilderKind, DockerfileBuild};
use crate::credentials::Credentials;
use crate::docker::{self, DockerOptions};
use crate::podman::{self, PodmanOptions};

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

/// A builder's error as a [`BuildFailure`]: each builder's error has its own
/// `Interrupted` variant.
macro_rules! failure {
    ($error:path) => {
        |e| match e {
            $error => BuildFailure::Interrupted,
            e => BuildFailure::Failed(e.to_string()),
        }
    };
}

impl DockerfileBuilder for BuildahOptions {
    fn build(
        &self,
        build: &DockerfileBuild,
        credentials: Option<&Credentials>,
        sink: &mut dyn FnMut(&str),
    ) -> Result<(), BuildFailure> {
        buildah::build_image(build, self, credentials, sink)
            .map_err(failure!(buildah::BuildahError::Interrupted))
    }

    fn build_and_push(
        &self,
        build: &DockerfileBuild,
        credentials: Option<&Credentials>,
        sink: &mut dyn FnMut(&str),
    ) -> Result<String, BuildFailure> {
        buildah::build_and_push(build, self, credentials, sink)
            .map_err(failure!(buildah::BuildahError::Interrupted))
    }
}

impl DockerfileBuilder for PodmanOptions {
    fn build(
        &self,
        build: &DockerfileBuild,
        credentials: Option<&Credentials>,
        sink: &mut dyn FnMut(&str),
    ) -> Result<(), BuildFailure> {
        podman::build_image(build, self, credentials, sink)
            .map_err(failure!(podman::PodmanError::Interrupted))
    }

    fn build_and_push(
        &self,
        build: &DockerfileBuild,
        credentials: Option<&Credentials>,
        sink: &mut dyn FnMut(&str),
    ) -> Result<String, BuildFailure> {
        podman::build_and_push(build, self, credentials, sink)
            .map_err(failure!(podman::PodmanError::Interrupted))
    }
}

impl DockerfileBuilder for DockerOptions {
    fn build(
        &self,
        build: &DockerfileBuild,
        credentials: Option<&Credentials>,
        sink: &mut dyn FnMut(&str),
    ) -> Result<(), BuildFailure> {
        docker::build_image(build, self, credentials, sink)
            .map_err(failure!(docker::DockerError::Interrupted))
    }

    fn build_and_push(
        &self,
        build: &DockerfileBuild,
        credentials: Option<&Credentials>,
        sink: &mut dyn FnMut(&str),
    ) -> Result<String, BuildFailure> {
        docker::build_and_push(build, self, credentials, sink)
            .map_err(failure!(docker::DockerError::Interrupted))
    }
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
    use crate::platform::Platform;

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
