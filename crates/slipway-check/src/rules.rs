//! The catalogue of rules: ids, default levels, one-line summaries, and how the
//! `slipway.yaml` overrides are applied. `docs/rules.md` documents every entry.

use std::collections::BTreeMap;

use crate::model::Level;

/// A rule the checker knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The id used in findings and in `slipway.yaml` (`rules.<id>`).
    pub id: &'static str,
    /// The level when `slipway.yaml` says nothing.
    pub default_level: Level,
    /// Whether `slipway.yaml` may change the level.
    pub configurable: bool,
    /// What the rule catches, in one line.
    pub summary: &'static str,
}

macro_rules! rules {
    ($($konst:ident = $id:literal, $level:ident, $configurable:literal, $summary:literal;)*) => {
        $(
            #[doc = $summary]
            pub const $konst: &str = $id;
        )*
        /// Every rule, in the order of `docs/rules.md`.
        pub const RULES: &[Rule] = &[$(Rule {
            id: $id,
            default_level: Level::$level,
            configurable: $configurable,
            summary: $summary,
        }),*];
    };
}

rules! {
    SCHEMA = "schema", Error, false,
        "an object that does not decode into its Kubernetes type or its CRD schema";
    DUPLICATE_OBJECT = "duplicate-object", Error, true,
        "the same object rendered twice";
    IMAGE_PINNED = "image-pinned", Error, true,
        "a container image without a digest, untagged or tagged `latest`";
    READINESS_PROBE = "readiness-probe", Warning, true,
        "a long-running workload container without a readiness probe";
    RESOURCES = "resources", Warning, true,
        "a container without CPU and memory requests or without a memory limit";
    LAST_REPLICA_DOWN = "last-replica-down", Warning, true,
        "a rollout that takes the last replica of a Deployment down";
    WORKLOAD_SELECTOR = "workload-selector", Error, true,
        "a workload whose selector does not match its own pod template";
    SERVICE_SELECTOR = "service-selector", Error, true,
        "a Service whose selector matches no rendered pod template";
    MISSING_REFERENCE = "missing-reference", Error, true,
        "a ConfigMap, Secret, ServiceAccount or PersistentVolumeClaim that is referenced but neither rendered nor expected to exist";
    PROBE_PORT = "probe-port", Error, true,
        "a probe whose port name is not among the container's ports";
    PROBE_PORT_NUMBER = "probe-port-number", Warning, true,
        "a probe whose port number is not among the container's declared ports";
    PRIVILEGED = "privileged", Error, true,
        "a privileged container, or one allowed to escalate privileges";
    RUN_AS_ROOT = "run-as-root", Warning, true,
        "a container that runs as root or is not required to run as non-root";
    PLAINTEXT_CREDENTIALS = "plaintext-credentials", Error, true,
        "a credential written as a literal value in a container's `env`";
    PDB_MISSING = "pdb-missing", Warning, true,
        "in production, a replicated workload without a PodDisruptionBudget";
}

/// The rule with this id.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// The level of `rule` after the overrides; [`Level::Off`] when switched off.
pub(crate) fn effective_level(rule: &Rule, overrides: &BTreeMap<String, Level>) -> Level {
    if !rule.configurable {
        return rule.default_level;
    }
    overrides
        .get(rule.id)
        .copied()
        .unwrap_or(rule.default_level)
}

/// A problem with the `rules` overrides of `slipway.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelProblem {
    /// The rule id as written.
    pub id: String,
    /// What is wrong, lowercase, values in backticks.
    pub message: String,
    /// What to do.
    pub fix: String,
}

/// Checks the rule ids of a `rules` override map: unknown ids (with a did-you-mean) and
/// rules whose level cannot be changed. The config loader leaves rule ids free-form; the
/// binary reports these next to the `slipway.yaml` location.
pub fn check_levels(levels: &BTreeMap<String, Level>) -> Vec<LevelProblem> {
    let mut problems = Vec::new();
    for (id, level) in levels {
        match rule(id) {
            Some(r) if !r.configurable && *level != r.default_level => {
                problems.push(LevelProblem {
                    id: id.clone(),
                    message: format!("the level of rule `{id}` cannot be changed"),
                    fix: format!("remove `rules.{id}`: it is always `{}`", r.default_level),
                })
            }
            Some(_) => {}
            None => {
                let fix = match crate::suggest(id, RULES.iter().map(|r| r.id)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "see `docs/rules.md` for the rule ids".to_owned(),
                };
                problems.push(LevelProblem {
                    id: id.clone(),
                    message: format!("unknown rule `{id}`"),
                    fix,
                });
            }
        }
    }
    problems
}
