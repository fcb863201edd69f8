//! Exit codes: one documented constant per outcome, and the one mapping from each error
//! of the lower crates to its code. `docs/cli.md` lists the same table (a test compares
//! them); scripts and CI pipelines branch on these numbers, so they never change meaning.

use slipway_deploy::cluster::ClusterError;
use slipway_deploy::engine::DeployError;
use slipway_deploy::lock::LockError;
use slipway_deploy::uninstall::UninstallError;

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
/// or the rollback itself failed); also a release that stopped because the cluster kept
/// failing a request of one of its steps, or because a release record is damaged.
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
/// The release paused at a canary step without a `pause`: its canary runs at that
/// step's weight until `deploy --resume` or `abort`.
pub const PAUSED: u8 = 11;
/// A release is paused: a new one is refused until it is resumed or aborted.
pub const RELEASE_PAUSED: u8 = 12;
/// `deploy --resume` or `abort` found no paused release.
pub const NOTHING_PAUSED: u8 = 13;
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
        PAUSED,
        "paused at a canary step; `deploy --resume` or `abort` continues",
    ),
    (
        RELEASE_PAUSED,
        "a release is paused; resume or abort it before a new one",
    ),
    (NOTHING_PAUSED, "no paused release to resume or abort"),
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

/// The code of a request to a cluster that failed outside the steps of a release
/// (reading records or status, storing a key): a refused object is a validation error,
/// a malformed one a bug, anything else means the cluster could not be used.
pub fn of_cluster(e: &ClusterError) -> u8 {
    match e {
        ClusterError::Api {
            code: 400 | 422, ..
        }
        | ClusterError::UnknownKind { .. } => VALIDATION,
        ClusterError::Malformed(_) => INTERNAL,
        ClusterError::Kubeconfig(_)
        | ClusterError::Unreachable(_)
        | ClusterError::Conflict { .. }
        | ClusterError::Api { .. } => UNREACHABLE,
    }
}

/// Whether the cluster could not be reached or refused the credentials or a right —
/// what running the same command again does not change.
pub fn is_access(e: &ClusterError) -> bool {
    matches!(
        e,
        ClusterError::Kubeconfig(_)
            | ClusterError::Unreachable(_)
            | ClusterError::Api {
                code: 401 | 403,
                ..
            }
    )
}

/// The code of a release that did not start, or stopped before its outcome.
pub fn of_deploy(e: &DeployError) -> u8 {
    match e {
        DeployError::Lock(e) => of_lock(e),
        DeployError::Cluster(e) => of_cluster(e),
        DeployError::Step { source, .. } if is_access(source) => UNREACHABLE,
        DeployError::Forbidden { .. } => UNREACHABLE,
        DeployError::Step { .. } | DeployError::Record(_) | DeployError::UnknownService { .. } => {
            DEPLOY_FAILED
        }
        DeployError::StillRunning { .. } => LOCKED,
        DeployError::HookFailed { .. } => HOOK_FAILED,
        DeployError::UnknownRevision(_) => USAGE,
        DeployError::Interrupted { .. } => INTERRUPTED,
        DeployError::Refused { .. } => VALIDATION,
        DeployError::Paused { .. } => RELEASE_PAUSED,
        DeployError::NothingPaused { .. } => NOTHING_PAUSED,
    }
}

/// The code of the deploy lock's errors.
pub fn of_lock(e: &LockError) -> u8 {
    match e {
        LockError::Held { .. } => LOCKED,
        LockError::Cluster(e) => of_cluster(e),
    }
}

/// The code of an uninstall that stopped.
pub fn of_uninstall(e: &UninstallError) -> u8 {
    match e {
        UninstallError::Lock(e) => of_lock(e),
        UninstallError::Step { source, .. } if is_access(source) => UNREACHABLE,
        UninstallError::Step { .. } | UninstallError::Record(_) => DEPLOY_FAILED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_deploy::record::RecordError;
    use slipway_deploy::track::Diagnosis;

    /// The rows of the exit-code table in `docs/cli.md`, as `(code, meaning)`.
    fn documented() -> Vec<(u8, String)> {
        let doc = include_str!("../../../docs/cli.md");
        let section = doc
            .split("## Exit codes")
            .nth(1)
            .expect("docs/cli.md has an `## Exit codes` section");
        section
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .filter_map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
                Some((cells[0].parse().ok()?, cells[1].to_owned()))
            })
            .collect()
    }

    #[test]
    fn the_table_in_the_docs_is_the_table_of_the_binary() {
        let table: Vec<(u8, String)> = TABLE.iter().map(|(c, m)| (*c, (*m).to_owned())).collect();
        assert_eq!(documented(), table);
    }

    fn api(code: u16) -> ClusterError {
        ClusterError::Api {
            code,
            reason: "Reason".into(),
            message: "message".into(),
        }
    }

    fn diagnosis() -> Box<Diagnosis> {
        Box::new(Diagnosis {
            workload: "Job/migrate".into(),
            reason: "BackoffLimitExceeded".into(),
            message: "failed".into(),
            pod: None,
            container: None,
            events: vec![],
            logs: vec![],
            check: None,
        })
    }

    #[test]
    fn every_deploy_error_has_the_documented_code() {
        let step = |source| DeployError::Step {
            step: "planning Deployment/api".into(),
            source,
        };
        let cases = [
            (
                DeployError::Lock(LockError::Held {
                    app: "shop".into(),
                    namespace: "shop".into(),
                    holder: "ci/1@runner".into(),
                    since: None,
                    expires_in: 20,
                }),
                LOCKED,
            ),
            (
                DeployError::Lock(LockError::Cluster(ClusterError::Unreachable("x".into()))),
                UNREACHABLE,
            ),
            (
                DeployError::Cluster(ClusterError::Unreachable("x".into())),
                UNREACHABLE,
            ),
            (DeployError::Cluster(api(403)), UNREACHABLE),
            (DeployError::Cluster(api(422)), VALIDATION),
            (step(api(401)), UNREACHABLE),
            (step(api(403)), UNREACHABLE),
            (step(ClusterError::Unreachable("x".into())), UNREACHABLE),
            (step(api(500)), DEPLOY_FAILED),
            (
                DeployError::HookFailed {
                    name: "migrate".into(),
                    diagnosis: diagnosis(),
                },
                HOOK_FAILED,
            ),
            (
                DeployError::Record(RecordError::Damaged {
                    name: "sh.slipway.release.shop.v3".into(),
                    reason: "bad base64".into(),
                }),
                DEPLOY_FAILED,
            ),
            (DeployError::UnknownRevision(9), USAGE),
            (
                DeployError::Paused {
                    revision: 4,
                    at: slipway_deploy::record::PausedAt {
                        deployment: "api".into(),
                        step: 2,
                        steps: 3,
                        weight: 50,
                        replicas: 2,
                        since: "2026-12-03T07:00:00Z".into(),
                        measurements: vec![],
                    },
                },
                RELEASE_PAUSED,
            ),
            (
                DeployError::NothingPaused {
                    namespace: "shop".into(),
                },
                NOTHING_PAUSED,
            ),
            (
                DeployError::Forbidden {
                    denied: vec!["`patch` Role objects in namespace `shop`".into()],
                },
                UNREACHABLE,
            ),
            (
                DeployError::Interrupted {
                    during: "while planning".into(),
                },
                INTERRUPTED,
            ),
            (
                DeployError::Refused {
                    object: "Deployment/api".into(),
                    message: "invalid".into(),
                },
                VALIDATION,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(of_deploy(&error), code, "{error}");
            assert!(TABLE.iter().any(|(c, _)| *c == code));
        }
    }

    #[test]
    fn uninstall_errors_have_the_documented_codes() {
        let step = |source| UninstallError::Step {
            step: "deleting Deployment/api".into(),
            source,
        };
        assert_eq!(of_uninstall(&step(api(403))), UNREACHABLE);
        assert_eq!(of_uninstall(&step(api(500))), DEPLOY_FAILED);
        assert_eq!(
            of_uninstall(&UninstallError::Lock(LockError::Cluster(api(401)))),
            UNREACHABLE
        );
    }
}
