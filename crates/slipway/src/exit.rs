//! Exit codes: one documented constant per outcome. `docs/cli.md` lists the same table;
//! scripts and CI pipelines branch on these numbers, so they never change meaning.

/// Everything asked for was done.
pub const SUCCESS: u8 = 0;
/// An unexpected error inside slipway (a bug): the message says what happened.
pub const INTERNAL: u8 = 1;
/// The command line or `slipway.yaml` is wrong, an environment is unknown, or an image's
/// builder cannot run here (its tool or engine is missing). Nothing was written anywhere.
pub const USAGE: u8 = 2;
/// Manifests rendered but failed validation (schema or an error-level rule).
/// Nothing was written to a cluster.
pub const VALIDATION: u8 = 3;
/// The rollout failed and the previous release was re-applied and is healthy.
pub const ROLLED_BACK: u8 = 4;
/// The rollout failed and was not rolled back (`--no-rollback`, no previous release,
/// or the rollback itself failed).
pub const DEPLOY_FAILED: u8 = 5;
/// Another deploy holds the environment's lock.
pub const LOCKED: u8 = 6;
/// A cluster or registry could not be reached, or refused the credentials.
pub const UNREACHABLE: u8 = 7;
/// An image failed to build or push.
pub const BUILD_FAILED: u8 = 8;
/// A pre-deploy hook (for example a migration Job) failed; no workload was changed.
pub const HOOK_FAILED: u8 = 9;
/// The environment requires approval and none was given (`--yes` or a terminal answer).
pub const NOT_APPROVED: u8 = 10;
/// Interrupted by SIGINT/SIGTERM; the same command can be run again and converges.
pub const INTERRUPTED: u8 = 130;

/// Every exit code with a one-line meaning, for `--help`, the man page and the docs.
pub const TABLE: &[(u8, &str)] = &[
    (SUCCESS, "success"),
    (INTERNAL, "unexpected error inside slipway"),
    (
        USAGE,
        "usage or configuration error, unknown environment, or a builder that cannot run here",
    ),
    (
        VALIDATION,
        "validation failed; nothing was written to a cluster",
    ),
    (
        ROLLED_BACK,
        "deploy failed and the previous release was restored",
    ),
    (DEPLOY_FAILED, "deploy failed and was not rolled back"),
    (LOCKED, "another deploy holds the environment's lock"),
    (
        UNREACHABLE,
        "cluster or registry unreachable, or credentials refused",
    ),
    (BUILD_FAILED, "an image failed to build or push"),
    (
        HOOK_FAILED,
        "a pre-deploy hook (migration) failed; no workload changed",
    ),
    (NOT_APPROVED, "approval required and not given"),
    (
        INTERRUPTED,
        "interrupted; running the command again converges",
    ),
];

/// The table as text, for `--help` and the man page.
pub fn table_text() -> String {
    TABLE
        .iter()
        .map(|(code, meaning)| format!("  {code:>3}  {meaning}\n"))
        .collect()
}
