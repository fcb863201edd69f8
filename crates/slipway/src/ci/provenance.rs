//! Where a release comes from: the repository (its address without credentials), the
//! CI run and job that released it, read from the variables each runner sets. The
//! commit, user and revision come from the release itself.

use slipway_deploy::record::Provenance;

/// The repository and the CI run and job of this process, from `var` (the
/// environment): GitHub Actions, Azure DevOps, GitLab CI; the repository, outside CI,
/// from the `origin` remote of the git repository at `dir`.
pub fn of_environment(var: impl Fn(&str) -> Option<String>, dir: &std::path::Path) -> Provenance {
    let get = |k: &str| var(k).filter(|v| !v.trim().is_empty());
    let mut p = Provenance::default();
    if let (Some(server), Some(repo)) = (get("GITHUB_SERVER_URL"), get("GITHUB_REPOSITORY")) {
        let server = server.trim_end_matches('/');
        p.repository = Some(format!("{server}/{repo}"));
        if let Some(run) = get("GITHUB_RUN_ID") {
            let attempt = get("GITHUB_RUN_ATTEMPT")
                .map(|a| format!("/attempts/{a}"))
                .unwrap_or_default();
            p.ci_run = Some(format!("{server}/{repo}/actions/runs/{run}{attempt}"));
        }
        p.ci_job = match (get("GITHUB_WORKFLOW"), get("GITHUB_JOB")) {
            (Some(w), Some(j)) => Some(format!("{w} / {j}")),
            (w, j) => w.or(j),
        };
    } else if let Some(build) = get("BUILD_BUILDID") {
        p.repository = get("BUILD_REPOSITORY_URI");
        if let (Some(collection), Some(project)) =
            (get("SYSTEM_COLLECTIONURI"), get("SYSTEM_TEAMPROJECT"))
        {
            p.ci_run = Some(format!(
                "{}/{}/_build/results?buildId={build}",
                collection.trim_end_matches('/'),
                project.replace(' ', "%20")
            ));
        }
        p.ci_job = get("SYSTEM_JOBDISPLAYNAME").or_else(|| get("SYSTEM_JOBNAME"));
    } else if let Some(job_url) = get("CI_JOB_URL") {
        p.repository = get("CI_PROJECT_URL");
        p.ci_run = get("CI_PIPELINE_URL").or(Some(job_url));
        p.ci_job = get("CI_JOB_NAME");
    }
    if p.repository.is_none()
        && let Ok(repo) = slipway_build::git::Repository::discover(dir)
        && let Ok(Some(url)) = repo.remote_url("origin")
    {
        p.repository = Some(url);
    }
    // Never a token or password, wherever the address came from.
    p.repository = p
        .repository
        .map(|r| slipway_build::orchestrate::strip_userinfo(&r));
    p.ci_run = p
        .ci_run
        .map(|r| slipway_build::orchestrate::strip_userinfo(&r));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn each_runner_names_its_run_and_job_and_no_credentials_leak() {
        let dir = tempfile::tempdir().unwrap();
        let gh = of_environment(
            env(&[
                ("GITHUB_SERVER_URL", "https://github.com"),
                ("GITHUB_REPOSITORY", "acme/shop"),
                ("GITHUB_RUN_ID", "42"),
                ("GITHUB_RUN_ATTEMPT", "2"),
                ("GITHUB_WORKFLOW", "release"),
                ("GITHUB_JOB", "deploy"),
            ]),
            dir.path(),
        );
        assert_eq!(
            gh.repository.as_deref(),
            Some("https://github.com/acme/shop")
        );
        assert_eq!(
            gh.ci_run.as_deref(),
            Some("https://github.com/acme/shop/actions/runs/42/attempts/2")
        );
        assert_eq!(gh.ci_job.as_deref(), Some("release / deploy"));
        let az = of_environment(
            env(&[
                ("BUILD_BUILDID", "7"),
                (
                    "BUILD_REPOSITORY_URI",
                    "https://user:s3cret@dev.azure.com/acme/shop/_git/shop",
                ),
                ("SYSTEM_COLLECTIONURI", "https://dev.azure.com/acme/"),
                ("SYSTEM_TEAMPROJECT", "shop"),
                ("SYSTEM_JOBDISPLAYNAME", "Deploy dev"),
            ]),
            dir.path(),
        );
        assert_eq!(
            az.ci_run.as_deref(),
            Some("https://dev.azure.com/acme/shop/_build/results?buildId=7")
        );
        let repo = az.repository.unwrap();
        assert!(
            !repo.contains("s3cret") && repo.contains("dev.azure.com"),
            "{repo}"
        );
        let gl = of_environment(
            env(&[
                ("CI_JOB_URL", "https://gitlab.com/acme/shop/-/jobs/9"),
                (
                    "CI_PIPELINE_URL",
                    "https://gitlab.com/acme/shop/-/pipelines/3",
                ),
                ("CI_PROJECT_URL", "https://gitlab.com/acme/shop"),
                ("CI_JOB_NAME", "deploy-dev"),
            ]),
            dir.path(),
        );
        assert_eq!(
            gl.ci_run.as_deref(),
            Some("https://gitlab.com/acme/shop/-/pipelines/3")
        );
        assert_eq!(gl.ci_job.as_deref(), Some("deploy-dev"));
    }
}
