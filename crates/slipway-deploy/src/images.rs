//! Which exact image each workload of a release runs. The rules, in order, per image:
//!
//! 1. `--image NAME=REF` (a hotfix) wins, and the release records it as an override;
//! 2. in a partial deploy (`--only api`), every image not named keeps what the current
//!    release runs — never what the manifest files say;
//! 3. an override recorded by the current release is kept until a newer build of that
//!    image supersedes it, so a full deploy after a hotfix does not undo the hotfix;
//! 4. otherwise the last build (`.slipway/artifacts.json`);
//! 5. otherwise what the current release runs — unless the current release took it from
//!    the manifests (a tag they name, pinned at deploy): then from the manifests again, so
//!    a new tag written there is what the next release runs;
//! 6. otherwise the image has nothing to deploy here, and the caller takes it from the
//!    manifests or reports it.

use crate::record::{Release, ReleaseImage};

/// A build of an image, as `.slipway/artifacts.json` records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    pub name: String,
    pub reference: String,
    /// RFC 3339, UTC.
    pub created: String,
}

/// The choice for each image of `names`, and the names that have none.
pub fn choose(
    names: &[String],
    overrides: &[(String, String)],
    only: &[String],
    built: &[Built],
    current: Option<&Release>,
) -> (Vec<ReleaseImage>, Vec<String>) {
    let mut chosen = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        let running = current.and_then(|r| r.images.iter().find(|i| &i.name == name));
        let build = built.iter().find(|b| &b.name == name);
        let pick = |reference: &str, source: &str| ReleaseImage {
            name: name.clone(),
            reference: reference.to_string(),
            source: source.to_string(),
        };
        let from_manifest =
            |r: &&ReleaseImage| r.source == "manifest" || r.source == "kept-manifest";
        let choice = if let Some((_, reference)) = overrides.iter().find(|(n, _)| n == name) {
            Some(pick(reference, "override"))
        } else if !only.is_empty() && !only.contains(name) && running.is_some() {
            running.map(|r| {
                let source = if from_manifest(&r) {
                    "kept-manifest"
                } else {
                    "kept"
                };
                pick(&r.reference, source)
            })
        } else if let Some(r) =
            running.filter(|r| r.source == "override" || r.source == "kept-override")
        {
            let started = current.map_or("", |c| c.started.as_str());
            match build {
                Some(b) if b.created.as_str() > started => Some(pick(&b.reference, "build")),
                _ => Some(pick(&r.reference, "kept-override")),
            }
        } else if let Some(b) = build {
            Some(pick(&b.reference, "build"))
        } else {
            running
                .filter(|r| !from_manifest(r))
                .map(|r| pick(&r.reference, "kept"))
        };
        match choice {
            Some(c) => chosen.push(c),
            None => missing.push(name.clone()),
        }
    }
    (chosen, missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::ReleaseStatus;

    fn names() -> Vec<String> {
        vec!["api".into(), "web".into()]
    }

    fn built(name: &str, tag: &str, created: &str) -> Built {
        Built {
            name: name.into(),
            reference: format!("r/{name}:{tag}"),
            created: created.into(),
        }
    }

    fn release(images: &[(&str, &str, &str)], started: &str) -> Release {
        Release {
            app: "shop".into(),
            environment: "prod".into(),
            namespace: "shop".into(),
            revision: 3,
            status: ReleaseStatus::Deployed,
            started: started.into(),
            finished: None,
            user: String::new(),
            git_commit: None,
            git_dirty: false,
            images: images
                .iter()
                .map(|(n, r, s)| ReleaseImage {
                    name: (*n).into(),
                    reference: (*r).into(),
                    source: (*s).into(),
                })
                .collect(),
            source_revision: None,
            action: "deploy".into(),
            durations: vec![],
            outcome: String::new(),
            manifest: vec![],
            failed_check: None,
            paused: None,
            switch_window: None,
        }
    }

    fn refs(chosen: &[ReleaseImage]) -> Vec<(&str, &str)> {
        chosen
            .iter()
            .map(|c| (c.reference.as_str(), c.source.as_str()))
            .collect()
    }

    #[test]
    fn a_full_deploy_takes_the_last_build() {
        let b = [built("api", "2", "t2"), built("web", "2", "t2")];
        let (chosen, missing) = choose(&names(), &[], &[], &b, None);
        assert_eq!(refs(&chosen), [("r/api:2", "build"), ("r/web:2", "build")]);
        assert!(missing.is_empty());
    }

    #[test]
    fn a_partial_deploy_keeps_what_the_other_images_run() {
        let b = [built("api", "2", "t2"), built("web", "2", "t2")];
        let current = release(
            &[("api", "r/api:1", "build"), ("web", "r/web:1", "build")],
            "t1",
        );
        let (chosen, _) = choose(&names(), &[], &["api".into()], &b, Some(&current));
        assert_eq!(refs(&chosen), [("r/api:2", "build"), ("r/web:1", "kept")]);
    }

    #[test]
    fn a_hotfix_survives_the_next_full_deploy_until_a_newer_build() {
        let current = release(
            &[
                ("api", "r/api:hotfix", "override"),
                ("web", "r/web:1", "build"),
            ],
            "2026-11-22T02:00:00Z",
        );
        let older = [
            built("api", "1", "2026-11-22T01:00:00Z"),
            built("web", "1", "2026-11-22T01:00:00Z"),
        ];
        let (chosen, _) = choose(&names(), &[], &[], &older, Some(&current));
        assert_eq!(
            refs(&chosen),
            [("r/api:hotfix", "kept-override"), ("r/web:1", "build")]
        );
        let newer = [built("api", "3", "2026-11-22T03:00:00Z")];
        let (chosen, _) = choose(&names(), &[], &[], &newer, Some(&current));
        assert_eq!(chosen[0].reference, "r/api:3");
    }

    #[test]
    fn an_image_taken_from_the_manifests_is_taken_from_them_again_except_in_a_partial_deploy() {
        let current = release(
            &[
                ("api", "r/api:1", "build"),
                ("web", "r/web:1.0@sha256:aa", "manifest"),
            ],
            "t1",
        );
        let (chosen, missing) = choose(&names(), &[], &[], &[], Some(&current));
        assert_eq!(refs(&chosen), [("r/api:1", "kept")]);
        assert_eq!(missing, ["web"]);
        let (chosen, _) = choose(&names(), &[], &["api".into()], &[], Some(&current));
        assert_eq!(
            refs(&chosen),
            [
                ("r/api:1", "kept"),
                ("r/web:1.0@sha256:aa", "kept-manifest")
            ]
        );
    }

    #[test]
    fn an_override_wins_over_everything() {
        let b = [built("api", "2", "t2")];
        let (chosen, missing) = choose(
            &names(),
            &[("api".into(), "r/api:fix".into())],
            &[],
            &b,
            None,
        );
        assert_eq!(refs(&chosen), [("r/api:fix", "override")]);
        assert_eq!(missing, ["web"]);
    }
}
