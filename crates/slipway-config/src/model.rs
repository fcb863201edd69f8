//! The typed form of `slipway.yaml`.
//!
//! Everything here has been validated by the loader: names are valid, references resolve,
//! defaults are filled in, and local paths are joined to [`Config::base_dir`] (they are
//! relative when the config file was named by a relative path).

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::tag::TagTemplate;

/// A loaded `slipway.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The config file as it was named to the loader.
    pub file: PathBuf,
    /// The directory that holds the config file; relative paths in the file start here.
    pub base_dir: PathBuf,
    /// `app`: the application's name (a DNS label).
    pub app: String,
    /// `registry`: the prefix for relative image repositories.
    pub registry: Option<String>,
    /// `tag`: the tag template (default `{timestamp}-{git.short_sha}`).
    pub tag: TagTemplate,
    /// `extra-tags`: tags pushed in addition to the unique one.
    pub extra_tags: Vec<String>,
    /// `registries`: settings per registry host (`host[:port]`).
    pub registries: BTreeMap<String, RegistrySettings>,
    /// `images`, in file order.
    pub images: Vec<Image>,
    /// `manifests`, when it names a directory of manifests.
    pub manifests: Option<Manifests>,
    /// `manifests`, when it names a Helm chart (`manifests.chart`).
    pub chart: Option<Chart>,
    /// `config`: ConfigMap generators by name.
    pub config: BTreeMap<String, ConfigMapGenerator>,
    /// `secrets`: Secret generators by name.
    pub secrets: BTreeMap<String, SecretGenerator>,
    /// `hooks`, in file order.
    pub hooks: Vec<Hook>,
    /// `defaults`: policy settings every environment starts from.
    pub defaults: PolicyOverrides,
    /// `strategies`: how each named Deployment of the manifests is rolled out, when not
    /// by its own rolling update.
    pub strategies: BTreeMap<String, Strategy>,
    /// `environments`, in file order, with `defaults` and top-level config applied.
    pub environments: Vec<Environment>,
}

impl Config {
    /// The image called `name`.
    pub fn image(&self, name: &str) -> Option<&Image> {
        self.images.iter().find(|i| i.name == name)
    }

    /// The environment called `name`.
    pub fn environment(&self, name: &str) -> Option<&Environment> {
        self.environments.iter().find(|e| e.name == name)
    }

    /// The hook called `name`.
    pub fn hook(&self, name: &str) -> Option<&Hook> {
        self.hooks.iter().find(|h| h.name == name)
    }

    /// The settings for a registry host, or the defaults when it has none.
    pub fn registry_settings(&self, host: &str) -> RegistrySettings {
        self.registries.get(host).cloned().unwrap_or_default()
    }
}

/// `registries.<host>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrySettings {
    /// `insecure`: talk plain HTTP (loopback hosts may always do so).
    pub insecure: bool,
    /// `credentials`: where to get credentials.
    pub credentials: Credentials,
}

/// `registries.<host>.credentials`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    /// `docker-config`: `~/.docker/config.json` and its credential helpers.
    #[default]
    DockerConfig,
    /// `env`: `SLIPWAY_REGISTRY_USERNAME` / `SLIPWAY_REGISTRY_PASSWORD`.
    Env,
    /// `file:<path>`: a file holding `user:password` or a token. The path is as written
    /// (a leading `~/` is left for the reader to expand), or joined to the base directory
    /// when relative.
    File(PathBuf),
    /// `stdin`: read from standard input.
    Stdin,
}

/// `images.<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The image's name (the key under `images`).
    pub name: String,
    /// The full repository, registry included, without a tag.
    pub repository: String,
    /// `context`: the build context (default `.`).
    pub context: PathBuf,
    /// `platform` (default `linux/amd64`).
    pub platform: Platform,
    /// `labels`: image labels.
    pub labels: BTreeMap<String, String>,
    /// `git-ref`: build from this ref exported from git instead of the working tree.
    pub git_ref: Option<String>,
    /// `builder` (default `auto`).
    pub builder: Builder,
    /// How the image is built.
    pub build: ImageBuild,
}

/// How an image is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageBuild {
    /// From a Dockerfile.
    Dockerfile {
        /// `dockerfile` (default `<context>/Dockerfile`).
        dockerfile: PathBuf,
        /// `target`: the multi-stage target.
        target: Option<String>,
        /// `args`: build arguments, stringified.
        args: BTreeMap<String, String>,
    },
    /// From files, without a Dockerfile (`files`).
    Files(FilesImage),
}

/// `images.<name>.files`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesImage {
    /// `base`: `scratch` or an image reference.
    pub base: String,
    /// `copy`: files to add, `src` relative to the image's context.
    pub copy: Vec<CopySpec>,
    /// `entrypoint`.
    pub entrypoint: Option<Vec<String>>,
    /// `cmd`.
    pub cmd: Option<Vec<String>>,
    /// `env`.
    pub env: BTreeMap<String, String>,
    /// `workdir`.
    pub workdir: Option<String>,
    /// `user`.
    pub user: Option<String>,
    /// `labels`: labels of the image config.
    pub labels: BTreeMap<String, String>,
    /// `expose`: ports.
    pub expose: Vec<Port>,
}

/// One `copy` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySpec {
    /// `src`, joined to the context (a trailing `/` is kept: copy the directory's content).
    pub src: PathBuf,
    /// `dest`: an absolute path in the image.
    pub dest: String,
}

/// An exposed port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port {
    /// The port number.
    pub number: u16,
    /// `tcp` (default) or `udp`.
    pub udp: bool,
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}",
            self.number,
            if self.udp { "udp" } else { "tcp" }
        )
    }
}

/// `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// e.g. `linux`.
    pub os: String,
    /// e.g. `amd64`.
    pub architecture: String,
    /// e.g. `v8`.
    pub variant: Option<String>,
}

impl Default for Platform {
    fn default() -> Self {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Declares a keyword enum with its spellings in `slipway.yaml`.
macro_rules! keyword_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value with its spelling.
            pub const ALL: &'static [(&'static str, $name)] = &[$(($text, $name::$variant)),+];
            /// What a value of this kind is called in messages.
            pub const WHAT: &'static str = $what;

            /// The spelling in `slipway.yaml`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

keyword_enum!(
    /// `images.<name>.builder`.
    Builder, "builder" {
        /// Pick the first available: buildah, podman, docker, then native for `files`.
        Auto = "auto",
        /// `buildah`.
        Buildah = "buildah",
        /// `docker`.
        Docker = "docker",
        /// `podman`.
        Podman = "podman",
        /// The built-in builder (only for `files` images).
        Native = "native",
    }
);

keyword_enum!(
    /// `manifests.kustomize`.
    KustomizeMode, "kustomize mode" {
        /// The built-in kustomize subset.
        Native = "native",
        /// `kubectl kustomize`.
        Kubectl = "kubectl",
    }
);

keyword_enum!(
    /// `hooks.<name>.when`.
    HookWhen, "hook time" {
        /// Before anything is applied (default).
        PreDeploy = "pre-deploy",
        /// After the rollout succeeded.
        PostDeploy = "post-deploy",
    }
);

keyword_enum!(
    /// `dirty`: what to do with a dirty working tree.
    DirtyPolicy, "dirty policy" {
        /// Go on silently.
        Allow = "allow",
        /// Go on with a warning (default).
        Warn = "warn",
        /// Stop.
        Refuse = "refuse",
    }
);

keyword_enum!(
    /// `rules.<id>`: a rule's level.
    RuleLevel, "rule level" {
        /// Fail validation.
        Error = "error",
        /// Report and go on.
        Warning = "warning",
        /// Do not check.
        Off = "off",
    }
);

/// `manifests`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifests {
    /// `path`: a directory of YAML files or a kustomization directory.
    pub path: PathBuf,
    /// `kustomize` (default `native`).
    pub kustomize: KustomizeMode,
}

/// `manifests` when it has `chart`: a Helm chart rendered as the environment's
/// manifests. On an environment, its own `chart` keys are already applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    /// `chart`: a chart folder or a packaged `.tgz`.
    pub path: PathBuf,
    /// `release`: `.Release.Name` (default: `app`).
    pub release: String,
    /// `values`: values files, in order (the environment's after the top-level ones).
    pub values: Vec<PathBuf>,
    /// `set`: values by key path, each as JSON text, in order (the environment's after
    /// the top-level ones).
    pub set: Vec<ChartSet>,
    /// `images`: the chart values each image of `images` is written to.
    pub images: Vec<ChartImage>,
}

/// One entry of `manifests.set`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartSet {
    /// The key path, in `--set` syntax (`a.b`, `list[0].c`).
    pub key: String,
    /// The value, as JSON text.
    pub json: String,
}

/// One entry of `manifests.images`: where an image's pinned reference goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartImage {
    /// The image's name under `images`.
    pub image: String,
    /// The value path that receives the repository.
    pub repository: Option<String>,
    /// The value path that receives the tag (with `@sha256:…` when there is no `digest`).
    pub tag: Option<String>,
    /// The value path that receives the digest (`sha256:…`).
    pub digest: Option<String>,
    /// With the one-line form: `digest` is written only when the chart's values already
    /// have that key.
    pub digest_if_declared: bool,
    /// The value path that receives the whole reference (`repo:tag@sha256:…`).
    pub reference: Option<String>,
}

/// A file entry of a generator: `path` or `key=path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSource {
    /// The data key (default: the file name).
    pub key: String,
    /// The file.
    pub path: PathBuf,
}

/// `config.<name>`: a ConfigMap generated with a content-hash suffix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigMapGenerator {
    /// `env-file`: `KEY=value` lines.
    pub env_file: Option<PathBuf>,
    /// `literals`.
    pub literals: BTreeMap<String, String>,
    /// `files`.
    pub files: Vec<FileSource>,
}

/// Where something is written in `slipway.yaml`: line and column, from 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// The line.
    pub line: usize,
    /// The column.
    pub column: usize,
}

/// `secrets.<name>`: a Secret generated with a content-hash suffix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretGenerator {
    /// `env-file`.
    pub env_file: Option<PathBuf>,
    /// `from-env`: variables read from slipway's own environment at deploy time.
    pub from_env: Vec<String>,
    /// Where each name of `from-env` is written.
    pub from_env_at: BTreeMap<String, Position>,
    /// `files`.
    pub files: Vec<FileSource>,
    /// `type` (default `Opaque`).
    pub secret_type: String,
}

impl Default for SecretGenerator {
    fn default() -> Self {
        SecretGenerator {
            env_file: None,
            from_env: Vec::new(),
            from_env_at: BTreeMap::new(),
            files: Vec::new(),
            secret_type: "Opaque".into(),
        }
    }
}

/// `hooks.<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// The hook's name (the key under `hooks`).
    pub name: String,
    /// `when` (default `pre-deploy`).
    pub when: HookWhen,
    /// What runs.
    pub run: HookRun,
    /// `timeout` (default 10m).
    pub timeout: Duration,
    /// `backoff-limit` (default 0).
    pub backoff_limit: u32,
}

/// What a hook runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookRun {
    /// `job`: a Job manifest file.
    Job(PathBuf),
    /// A Job generated from an image of `images`.
    Image {
        /// `image`: the name of an image under `images`.
        image: String,
        /// `command` (default: the image's entrypoint).
        command: Option<Vec<String>>,
        /// `env-from`: names under `config` / `secrets`.
        env_from: Vec<String>,
    },
}

/// Policy keys as written under `defaults` or an environment; `None` when not set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyOverrides {
    /// `timeout`.
    pub timeout: Option<Duration>,
    /// `rollback-on-failure`.
    pub rollback_on_failure: Option<bool>,
    /// `require-approval`.
    pub require_approval: Option<bool>,
    /// `dirty`.
    pub dirty: Option<DirtyPolicy>,
    /// `crashloop-tolerance`.
    pub crashloop_tolerance: Option<u32>,
    /// `settle`.
    pub settle: Option<Duration>,
    /// `recreate`.
    pub recreate: Option<Vec<String>>,
    /// `rules`.
    pub rules: BTreeMap<String, RuleLevel>,
    /// Where each rule id of `rules` is written.
    pub rules_at: BTreeMap<String, Position>,
}

/// The default `settle` window: 15 s. A readiness probe often answers before the
/// application is healthy (a port that is open while a background worker dies), and such
/// a release turns ready and then crashes within seconds; the kubelet restarts a crashed
/// container at once the first time, so a window of 15 s sees the restart. Pods that
/// have been ready that long already (a workload the release did not change) are not
/// watched again.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(15);

/// The policy in force for an environment: environment keys, then `defaults`, then the
/// built-in defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Rollout timeout (default 5m).
    pub timeout: Duration,
    /// Roll back when the rollout fails (default true).
    pub rollback_on_failure: bool,
    /// Ask before applying (default false).
    pub require_approval: bool,
    /// Dirty working tree policy (default `warn`).
    pub dirty: DirtyPolicy,
    /// Restarts tolerated before a crash loop is a failure (default 2).
    pub crashloop_tolerance: u32,
    /// How long the pods of a finished rollout are watched for a restart before the
    /// release counts as deployed (default [`DEFAULT_SETTLE`]).
    pub settle: Duration,
    /// Objects (`Kind/name`) deleted and created again when a release changes a field
    /// the cluster does not let change in place (a Job's template, a Deployment's
    /// selector); any other such change stops the release before anything is applied.
    pub recreate: Vec<String>,
    /// Rule level overrides; `defaults` merged with the environment's, rule by rule.
    pub rules: BTreeMap<String, RuleLevel>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            timeout: Duration::from_secs(300),
            rollback_on_failure: true,
            require_approval: false,
            dirty: DirtyPolicy::Warn,
            crashloop_tolerance: 2,
            settle: DEFAULT_SETTLE,
            recreate: Vec::new(),
            rules: BTreeMap::new(),
        }
    }
}

impl Policy {
    /// Apply overrides on top of this policy (`rules` merge rule by rule).
    pub fn with(mut self, o: &PolicyOverrides) -> Policy {
        if let Some(v) = o.timeout {
            self.timeout = v;
        }
        if let Some(v) = o.rollback_on_failure {
            self.rollback_on_failure = v;
        }
        if let Some(v) = o.require_approval {
            self.require_approval = v;
        }
        if let Some(v) = o.dirty {
            self.dirty = v;
        }
        if let Some(v) = o.crashloop_tolerance {
            self.crashloop_tolerance = v;
        }
        if let Some(v) = o.settle {
            self.settle = v;
        }
        if let Some(v) = &o.recreate {
            self.recreate = v.clone();
        }
        self.rules
            .extend(o.rules.iter().map(|(k, v)| (k.clone(), *v)));
        self
    }
}

/// `environments.<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    /// The environment's name.
    pub name: String,
    /// Where it deploys: one target for `cluster`/`context`, one per `targets` entry.
    pub targets: Vec<Target>,
    /// `overlay`: a kustomization directory built on `manifests`.
    pub overlay: Option<PathBuf>,
    /// The top-level chart with this environment's `chart` keys applied.
    pub chart: Option<Chart>,
    /// Top-level `config` with this environment's `config` merged in.
    pub config: BTreeMap<String, ConfigMapGenerator>,
    /// Top-level `secrets` with this environment's `secrets` merged in.
    pub secrets: BTreeMap<String, SecretGenerator>,
    /// `promote-from`: the environment whose release this one takes.
    pub promote_from: Option<String>,
    /// `production` (default: true when the name is `prod` or `production`).
    pub production: bool,
    /// Where each rule id of the policy's `rules` is written: the environment's own, else
    /// `defaults`'.
    pub rules_at: BTreeMap<String, Position>,
    /// The policy in force.
    pub policy: Policy,
    /// Top-level `strategies` with this environment's `strategies` replacing entries of
    /// the same Deployment.
    pub strategies: BTreeMap<String, Strategy>,
}

/// One cluster and the namespaces to deploy to there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The cluster.
    pub cluster: Cluster,
    /// The namespaces (at least one).
    pub namespaces: Vec<String>,
}

/// A cluster to talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cluster {
    /// `cluster: sandbox`: the built-in sandbox cluster and registry.
    Sandbox,
    /// `context`: a kubeconfig context.
    Context {
        /// The context's name.
        name: String,
        /// `kubeconfig`: a relative path joined to the config file's directory, `~/` kept
        /// as written (expanded when the file is read); `None` means `$KUBECONFIG` or
        /// `~/.kube/config`.
        kubeconfig: Option<PathBuf>,
    },
}

/// `strategies.<deployment>`: how a Deployment of the manifests is rolled out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Strategy {
    /// The Deployment's name.
    pub workload: String,
    /// Where the entry is written.
    pub at: Position,
    pub rollout: Rollout,
}

/// How a Deployment with a strategy rolls out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rollout {
    Canary(Canary),
    BlueGreen(BlueGreen),
}

/// `blue-green`: the new version runs fully ready behind a preview Service before any
/// user traffic reaches it; then one write of the active Service's selector sends all
/// traffic to it, never to both versions at once; the previous version's pods stay for
/// the scale-down delay, during which a failing check switches back in one write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlueGreen {
    /// The active Service in front of the Deployment.
    pub service: String,
    /// The preview Service slipway creates (default `<service>-preview`).
    pub preview_service: String,
    /// How long the new version is watched behind the preview Service before the switch.
    pub pre_switch: Duration,
    /// How long the previous version's pods stay after the switch, while the new version
    /// is watched under traffic.
    pub scale_down_delay: Duration,
    /// `pre-switch-analysis`: checks run on the preview before the switch.
    pub pre_switch_analysis: Vec<Check>,
    /// `post-switch-analysis`: checks run under traffic after the switch.
    pub post_switch_analysis: Vec<Check>,
}

/// `canary`: the new version runs beside the stable Deployment, which keeps its pods and
/// capacity, and takes a growing share of the traffic step by step; the built-in checks
/// (readiness, restarts and warning events of the new pods) run through every step and
/// abort it. After the last step the Deployment itself is rolled to the new version and
/// the canary's objects are removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Canary {
    pub traffic: Traffic,
    /// In order; each weight is larger than the one before.
    pub steps: Vec<CanaryStep>,
    /// `analysis`: checks run during every step's pause.
    pub analysis: Vec<Check>,
}

/// `canary.traffic`: how the share of traffic is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Traffic {
    /// The ratio of canary to stable pods behind the same Service (approximate).
    Replicas,
    /// ingress-nginx: a canary Ingress beside `ingress`, with `canary-weight`, pointing at
    /// a copy of `service` that selects only the canary's pods.
    Nginx { ingress: String, service: String },
    /// Gateway API: the weights of the `backendRefs` of the HTTPRoute `route`, between
    /// `service` and its canary copy.
    Gateway { route: String, service: String },
}

/// One step of a canary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanaryStep {
    /// Percent of the traffic, 1 to 99.
    pub weight: u32,
    /// How long the step is watched before the next one; `None` (no `pause`): the
    /// release pauses at this step until `deploy --resume` or `abort`.
    pub pause: Option<Duration>,
}

/// One analysis check: measured `count` times, `interval` apart; more than
/// `failure_limit` failed measurements abort the canary or blue-green release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// `name`, a DNS label.
    pub name: String,
    /// Where the check is written.
    pub at: Position,
    pub provider: Provider,
    /// `interval` (default 10s).
    pub interval: Duration,
    /// `count` (default 1).
    pub count: u32,
    /// `failure-limit` (default 0).
    pub failure_limit: u32,
    /// `no-data` (default `fail`).
    pub no_data: NoData,
}

keyword_enum! {
    /// `no-data`: what a measurement without data counts as.
    NoData, "no-data value" {
        Fail = "fail",
        Pass = "pass",
    }
}

/// What a check measures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    Prometheus(PrometheusCheck),
    Http(HttpCheck),
    Job(JobCheck),
}

impl Provider {
    /// `prometheus`, `http` or `job`.
    pub fn kind(&self) -> &'static str {
        match self {
            Provider::Prometheus(_) => "prometheus",
            Provider::Http(_) => "http",
            Provider::Job(_) => "job",
        }
    }
}

/// Where a secret value (a bearer token) is read from at deploy time; the value itself
/// is never in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable of slipway's own environment.
    Env(String),
    /// A file (relative to the config file's directory; `~/` is the home).
    File(PathBuf),
}

/// Where a Prometheus HTTP API is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `address`: written in the file.
    Url(String),
    /// `address-env`: the name of an environment variable holding it.
    Env(String),
}

/// `prometheus:`: an instant query (`/api/v1/query`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrometheusCheck {
    pub address: Address,
    /// With its placeholders as written.
    pub query: String,
    /// `success`: every sample must meet it.
    pub success: Option<crate::analysis::Condition>,
    /// `failure`: no sample may meet it.
    pub failure: Option<crate::analysis::Condition>,
    /// `token-env` or `token-file`: a bearer token.
    pub token: Option<SecretSource>,
}

/// `http:`: a request through the API server's service proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCheck {
    /// `service` (default: the canary's Service copy, or the preview Service).
    pub service: Option<String>,
    /// `port`: a number or a port name (default: the Service's first port).
    pub port: Option<String>,
    /// `path`, starting with `/` (default `/`).
    pub path: String,
    /// `status` (default 200).
    pub status: u16,
    /// `json`: a condition on the body.
    pub json: Option<crate::analysis::JsonCondition>,
}

/// `job:`: a Job that must succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobCheck {
    pub run: JobRun,
    /// `timeout` (default 5m).
    pub timeout: Duration,
}

/// What an analysis Job runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobRun {
    /// `manifest`: a file holding a Job manifest.
    Manifest(PathBuf),
    /// `image` (a reference, or the name of an image of `images`) and `command`.
    Image {
        image: String,
        command: Option<Vec<String>>,
    },
}
