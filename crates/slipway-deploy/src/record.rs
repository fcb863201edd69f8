//! Release records: one Secret of type `slipway.dev/release.v1` per revision, in the
//! target namespace, labelled with app, environment, revision and status. They hold
//! what is needed to explain and to repeat a release — the rendered manifest, the
//! pinned images, the git commit, who, when, how long, and the outcome — and nothing
//! else is needed on the cluster for history, rollback, promotion and drift detection.
//!
//! Secret values never enter a record: the manifest is stored with the data of every
//! Secret replaced by the hash of its content. Generated Secrets carry that hash in
//! their name, so a rollback refers to the Secret the release used, which is kept on
//! the cluster as long as a record refers to it.

use std::io::{Read, Write};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The Secret type of release records.
pub const RECORD_TYPE: &str = "slipway.dev/release.v1";
pub const LABEL_APP: &str = "slipway.dev/app";
pub const LABEL_ENV: &str = "slipway.dev/environment";
pub const LABEL_REVISION: &str = "slipway.dev/revision";
pub const LABEL_STATUS: &str = "slipway.dev/status";
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The key of the record's data in the Secret.
const DATA_KEY: &str = "release";

/// Where a release stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReleaseStatus {
    /// Being applied or tracked; a record left in this state by a killed deploy is
    /// concluded by the next one.
    Pending,
    /// Rolled out and healthy; the current release.
    Deployed,
    /// Was deployed, then replaced by a newer release.
    Superseded,
    /// Did not roll out.
    Failed,
    /// Did not roll out, and the previous release was re-applied.
    RolledBack,
    /// Stopped at a canary step without a `pause`: the canary's objects run at that
    /// step's weight until `deploy --resume` or `abort` (see [`Release::paused`]).
    Paused,
}

impl ReleaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Pending => "pending",
            ReleaseStatus::Deployed => "deployed",
            ReleaseStatus::Superseded => "superseded",
            ReleaseStatus::Failed => "failed",
            ReleaseStatus::RolledBack => "rolled-back",
            ReleaseStatus::Paused => "paused",
        }
    }
}

/// One image as the release runs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseImage {
    /// The image's name in `slipway.yaml`.
    pub name: String,
    /// `repo:tag@sha256:…`.
    pub reference: String,
    /// How it came into this release: `build`, `override` (`--image`), `kept` (from the
    /// previous release in a partial deploy).
    pub source: String,
}

/// A release as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub app: String,
    pub environment: String,
    pub namespace: String,
    pub revision: u64,
    pub status: ReleaseStatus,
    /// RFC 3339, UTC.
    pub started: String,
    pub finished: Option<String>,
    /// Who ran the deploy (`user@host`, or the CI's identity).
    pub user: String,
    pub git_commit: Option<String>,
    pub git_dirty: bool,
    pub images: Vec<ReleaseImage>,
    /// The revision this release re-applies (rollback, promotion), if any.
    pub source_revision: Option<u64>,
    /// `deploy`, `rollback`, `promote`, `restart`.
    pub action: String,
    /// Seconds per phase (`apply`, `rollout`, `hooks`, …).
    pub durations: Vec<(String, f64)>,
    /// A line saying how it ended; for a failure, the diagnosis.
    pub outcome: String,
    /// The applied objects, Secret data replaced by content hashes.
    pub manifest: Vec<Value>,
    /// The analysis check that failed the release, if one did (absent from records
    /// written before checks existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_check: Option<FailedCheck>,
    /// Where a `paused` release stands (absent from records of other releases and from
    /// records written before pauses existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused: Option<PausedAt>,
    /// The blue-green switch whose scale-down delay is running, while the release is
    /// `pending` in it: what `rollback` switches back to in one write (absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_window: Option<SwitchWindow>,
}

/// A blue-green switch in its scale-down delay: the previous version's pods still run,
/// so the active Service can select them again in one write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SwitchWindow {
    /// The Deployment rolled out blue-green.
    pub deployment: String,
    /// The active Service.
    pub service: String,
    /// The preview Service.
    pub preview_service: String,
    /// The `pod-template-hash` of the previous version's pods.
    pub stable_hash: String,
    /// When the scale-down delay ends, RFC 3339 UTC.
    pub until: String,
}

/// The annotation on a release record by which `rollback` asks the deploy running a
/// blue-green scale-down delay to switch back; its value names who asked.
pub const ROLLBACK_REQUESTED_BY: &str = "slipway.dev/rollback-requested-by";

/// The canary step a paused release waits at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PausedAt {
    /// The Deployment rolled out as a canary.
    pub deployment: String,
    /// 1-based, of `steps`.
    pub step: usize,
    pub steps: usize,
    /// Percent of the traffic the canary takes.
    pub weight: u32,
    /// Canary pods running.
    pub replicas: u64,
    /// When the pause began, RFC 3339 UTC.
    pub since: String,
    /// The last measurement of each analysis check at this step, one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub measurements: Vec<String>,
}

impl PausedAt {
    /// `canary api step 2/3 (50%, 1 pod)`.
    pub fn line(&self) -> String {
        format!(
            "canary {} step {}/{} ({}%, {} pod{})",
            self.deployment,
            self.step,
            self.steps,
            self.weight,
            self.replicas,
            if self.replicas == 1 { "" } else { "s" }
        )
    }
}

/// An analysis check that failed a canary step or a blue-green phase: which, what it
/// measured, against what condition, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedCheck {
    /// The Deployment rolled out by the strategy.
    pub deployment: String,
    /// `canary` or `blue-green`.
    pub strategy: String,
    /// `step 1/3 (10%)`, `pre-switch` or `post-switch`.
    pub phase: String,
    /// The check's name.
    pub check: String,
    /// `prometheus`, `http` or `job`.
    pub provider: String,
    /// What the last measurement found: a number, `no data`, a status, an error.
    pub value: String,
    /// What it had to meet.
    pub condition: String,
    /// When it was measured, RFC 3339 UTC.
    pub time: String,
    /// Failed measurements so far, and how many the check tolerates.
    pub failures: u32,
    pub failure_limit: u32,
}

impl FailedCheck {
    /// One line: `canary api step 1/3 (10%): prometheus check `success-rate` measured
    /// 0.81, needs result >= 0.95 (at …)`.
    pub fn line(&self) -> String {
        format!(
            "{} {} {}: {} check `{}` measured {}, needs {} (at {}; {} failed measurement(s), {} tolerated)",
            self.strategy,
            self.deployment,
            self.phase,
            self.provider,
            self.check,
            self.value,
            self.condition,
            self.time,
            self.failures,
            self.failure_limit
        )
    }
}

/// The prefix of the annotations every object of a release carries on its own
/// metadata (never on a pod template, which would roll the workload): which commit,
/// repository, CI run and job, user and revision put it there. Plans and drift
/// detection leave them out.
pub const PROVENANCE_PREFIX: &str = "provenance.slipway.dev/";

/// Where a release comes from, as its objects' annotations and its record say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Provenance {
    pub commit: Option<String>,
    /// The repository's address, without credentials.
    pub repository: Option<String>,
    /// The address of the CI run (pipeline) that released it.
    pub ci_run: Option<String>,
    /// The CI job (workflow and job names).
    pub ci_job: Option<String>,
    pub user: Option<String>,
    /// The release's revision.
    pub revision: Option<u64>,
    /// `deploy`, `rollback`, `promote`, `restart`.
    pub action: Option<String>,
}

impl Provenance {
    /// The annotations, each under [`PROVENANCE_PREFIX`]; absent values are left out.
    pub fn annotations(&self) -> Vec<(String, String)> {
        let fields = [
            ("commit", self.commit.clone()),
            ("repository", self.repository.clone()),
            ("ci-run", self.ci_run.clone()),
            ("ci-job", self.ci_job.clone()),
            ("user", self.user.clone()),
            ("revision", self.revision.map(|r| r.to_string())),
            ("action", self.action.clone()),
        ];
        fields
            .into_iter()
            .filter_map(|(k, v)| Some((format!("{PROVENANCE_PREFIX}{k}"), v?)))
            .collect()
    }

    /// Read back from an object's annotations; `None` when it has none of them.
    pub fn of_object(obj: &Value) -> Option<Provenance> {
        let annotations = obj.pointer("/metadata/annotations")?.as_object()?;
        let get = |k: &str| {
            annotations
                .get(&format!("{PROVENANCE_PREFIX}{k}"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let p = Provenance {
            commit: get("commit"),
            repository: get("repository"),
            ci_run: get("ci-run"),
            ci_job: get("ci-job"),
            user: get("user"),
            revision: get("revision").and_then(|r| r.parse().ok()),
            action: get("action"),
        };
        (p != Provenance::default()).then_some(p)
    }

    /// The object with these annotations on its own metadata (never its template).
    pub fn stamp(&self, obj: &mut Value) {
        let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
            return;
        };
        let annotations = meta.entry("annotations").or_insert_with(|| json!({}));
        let Some(annotations) = annotations.as_object_mut() else {
            return;
        };
        annotations.retain(|k, _| !k.starts_with(PROVENANCE_PREFIX));
        for (k, v) in self.annotations() {
            annotations.insert(k, Value::String(v));
        }
    }
}

impl Release {
    /// Where the release came from: the provenance its objects were applied with, as
    /// its manifest holds them (records of releases before provenance have none).
    pub fn provenance(&self) -> Option<Provenance> {
        self.manifest.iter().find_map(Provenance::of_object)
    }
}

/// The name of the record Secret of `app` at `revision`.
pub fn record_name(app: &str, revision: u64) -> String {
    format!("slipway.release.{app}.v{revision}")
}

/// The label selector that finds every record of `app` in `environment`.
pub fn selector(app: &str, environment: &str) -> String {
    format!("{LABEL_APP}={app},{LABEL_ENV}={environment}")
}

/// The key a recorded Secret carries instead of its values: the hash of its data.
pub const DATA_HASH_KEY: &str = "slipway.dev/data-sha256";

/// The objects of a recorded manifest that can be applied again: all but the Secrets,
/// which are recorded without their values. The release's own Secrets still exist on
/// the cluster (content-hashed names are kept while a record refers to them).
pub fn reappliable(manifest: &[Value]) -> Vec<Value> {
    manifest
        .iter()
        .filter(|o| o.get(DATA_HASH_KEY).is_none())
        .cloned()
        .collect()
}

/// Replaces the `data` and `stringData` of every Secret with a hash of its content, so
/// the record can show that a Secret changed without holding its values.
pub fn redact_secrets(objects: &[Value]) -> Vec<Value> {
    objects
        .iter()
        .map(|o| {
            if o.get("kind").and_then(Value::as_str) != Some("Secret") {
                return o.clone();
            }
            let mut redacted = o.clone();
            let map = redacted.as_object_mut().expect("a Secret is an object");
            let data = map.remove("data");
            let string_data = map.remove("stringData");
            let mut hasher = Sha256::new();
            hasher.update(serde_json::to_vec(&data).unwrap_or_default());
            hasher.update(serde_json::to_vec(&string_data).unwrap_or_default());
            let digest = hasher.finalize();
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            map.insert(DATA_HASH_KEY.into(), Value::String(hex));
            redacted
        })
        .collect()
}

/// The record as a Secret object, ready to be created or applied.
pub fn to_secret(release: &Release) -> Value {
    let json = serde_json::to_vec(release).expect("a release serialises");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&json).expect("writing to memory");
    let compressed = gz.finish().expect("writing to memory");
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": RECORD_TYPE,
        "metadata": {
            "name": record_name(&release.app, release.revision),
            "namespace": release.namespace,
            "labels": {
                MANAGED_BY: "slipway",
                LABEL_APP: release.app,
                LABEL_ENV: release.environment,
                LABEL_REVISION: release.revision.to_string(),
                LABEL_STATUS: release.status.as_str(),
            },
        },
        "data": {
            DATA_KEY: base64::engine::general_purpose::STANDARD.encode(compressed),
        },
    })
}

/// Why a Secret could not be read as a release record.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("secret `{0}` is not a slipway release record")]
    NotARecord(String),
    #[error("release record `{name}` is damaged: {reason}")]
    Damaged { name: String, reason: String },
}

/// Reads a record back from its Secret.
///
/// # Errors
///
/// [`RecordError::NotARecord`] for a Secret of another type, [`RecordError::Damaged`]
/// when its data cannot be decoded.
pub fn from_secret(secret: &Value) -> Result<Release, RecordError> {
    let name = secret
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if secret.get("type").and_then(Value::as_str) != Some(RECORD_TYPE) {
        return Err(RecordError::NotARecord(name));
    }
    let damaged = |reason: String| RecordError::Damaged {
        name: name.clone(),
        reason,
    };
    let encoded = secret
        .pointer(&format!("/data/{DATA_KEY}"))
        .and_then(Value::as_str)
        .ok_or_else(|| damaged(format!("no `{DATA_KEY}` key")))?;
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| damaged(e.to_string()))?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(compressed.as_slice())
        .read_to_end(&mut json)
        .map_err(|e| damaged(e.to_string()))?;
    serde_json::from_slice(&json).map_err(|e| damaged(e.to_string()))
}

/// The current release among `records`: the highest revision that is `deployed`.
pub fn current(records: &[Release]) -> Option<&Release> {
    records
        .iter()
        .filter(|r| r.status == ReleaseStatus::Deployed)
        .max_by_key(|r| r.revision)
}

/// The paused release among `records`, if one is.
pub fn paused(records: &[Release]) -> Option<&Release> {
    records
        .iter()
        .filter(|r| r.status == ReleaseStatus::Paused)
        .max_by_key(|r| r.revision)
}

/// The revision a new release gets: one more than any recorded.
pub fn next_revision(records: &[Release]) -> u64 {
    records.iter().map(|r| r.revision).max().unwrap_or(0) + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(revision: u64, status: ReleaseStatus) -> Release {
        Release {
            app: "shop".into(),
            environment: "prod".into(),
            namespace: "shop".into(),
            revision,
            status,
            started: "2026-11-22T01:00:00Z".into(),
            finished: None,
            user: "ci@runner".into(),
            git_commit: Some("0123456789abcdef0123456789abcdef01234567".into()),
            git_dirty: false,
            images: vec![ReleaseImage {
                name: "api".into(),
                reference: "r.example.com/shop/api:20261122-010000-0123456@sha256:00".into(),
                source: "build".into(),
            }],
            source_revision: None,
            action: "deploy".into(),
            durations: vec![("rollout".into(), 12.5)],
            outcome: "3 workloads rolled out".into(),
            manifest: vec![],
            failed_check: None,
            paused: None,
            switch_window: None,
        }
    }

    #[test]
    fn a_record_survives_the_round_trip_through_its_secret() {
        let r = release(7, ReleaseStatus::Deployed);
        let secret = to_secret(&r);
        assert_eq!(secret["metadata"]["name"], "slipway.release.shop.v7");
        assert_eq!(secret["metadata"]["labels"][LABEL_STATUS], "deployed");
        assert_eq!(secret["metadata"]["labels"][LABEL_REVISION], "7");
        assert_eq!(from_secret(&secret).unwrap(), r);
    }

    #[test]
    fn a_failed_check_is_recorded_and_records_without_one_still_load() {
        let mut r = release(8, ReleaseStatus::RolledBack);
        // A record written before checks existed has no `failed_check` at all.
        let mut old = serde_json::to_value(&r).unwrap();
        old.as_object_mut().unwrap().remove("failed_check");
        assert!(
            !serde_json::to_string(&old)
                .unwrap()
                .contains("failed_check")
        );
        assert_eq!(serde_json::from_value::<Release>(old).unwrap(), r);
        r.failed_check = Some(FailedCheck {
            deployment: "api".into(),
            strategy: "canary".into(),
            phase: "step 1/3 (10%)".into(),
            check: "success-rate".into(),
            provider: "prometheus".into(),
            value: "0.81".into(),
            condition: "result >= 0.95".into(),
            time: "2026-11-22T01:02:03Z".into(),
            failures: 1,
            failure_limit: 0,
        });
        let back = from_secret(&to_secret(&r)).unwrap();
        assert_eq!(back, r);
        assert_eq!(
            back.failed_check.unwrap().line(),
            "canary api step 1/3 (10%): prometheus check `success-rate` measured 0.81, needs result >= 0.95 (at 2026-11-22T01:02:03Z; 1 failed measurement(s), 0 tolerated)"
        );
    }

    #[test]
    fn a_paused_release_keeps_its_step_and_records_without_one_still_load() {
        let mut r = release(9, ReleaseStatus::Paused);
        r.paused = Some(PausedAt {
            deployment: "api".into(),
            step: 2,
            steps: 3,
            weight: 50,
            replicas: 2,
            since: "2026-12-03T07:00:00Z".into(),
            measurements: vec!["http health [1/1] = status 200 (status 200) ok".into()],
        });
        let secret = to_secret(&r);
        assert_eq!(secret["metadata"]["labels"][LABEL_STATUS], "paused");
        assert_eq!(from_secret(&secret).unwrap(), r);
        assert_eq!(
            r.paused.as_ref().unwrap().line(),
            "canary api step 2/3 (50%, 2 pods)"
        );
        let deployed = release(8, ReleaseStatus::Deployed);
        assert_eq!(
            paused(&[deployed.clone(), r.clone()]).map(|p| p.revision),
            Some(9)
        );
        assert!(paused(std::slice::from_ref(&deployed)).is_none());
        // A record written before pauses existed has no `paused` at all.
        let old = serde_json::to_value(&deployed).unwrap();
        assert!(old.get("paused").is_none());
        assert_eq!(serde_json::from_value::<Release>(old).unwrap(), deployed);
    }

    #[test]
    fn secret_values_never_enter_a_record() {
        let objects = vec![json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db-5f7c"},
            "data": {"DB_PASSWORD": "c3VwZXItc2VjcmV0"},
            "stringData": {"TOKEN": "super-secret-token"}
        })];
        let redacted = redact_secrets(&objects);
        let text = serde_json::to_string(&redacted).unwrap();
        assert!(!text.contains("c3VwZXItc2VjcmV0"), "{text}");
        assert!(!text.contains("super-secret-token"), "{text}");
        assert_eq!(redacted[0]["metadata"]["name"], "db-5f7c");
        // A changed value changes the recorded hash.
        let mut changed = objects.clone();
        changed[0]["data"]["DB_PASSWORD"] = json!("b3RoZXI=");
        assert_ne!(
            redact_secrets(&changed)[0]["slipway.dev/data-sha256"],
            redacted[0]["slipway.dev/data-sha256"]
        );
    }

    #[test]
    fn provenance_is_stamped_on_the_objects_metadata_only_and_read_back_from_the_record() {
        let p = Provenance {
            commit: Some("0123456".into()),
            repository: Some("https://git.example.com/shop.git".into()),
            ci_run: None,
            ci_job: Some("deploy".into()),
            user: Some("ci@runner".into()),
            revision: Some(7),
            action: Some("deploy".into()),
        };
        let mut obj = json!({"kind": "Deployment", "metadata": {"name": "api", "annotations": {
            "provenance.slipway.dev/ci-run": "stale", "keep": "me"}},
            "spec": {"template": {"metadata": {}}}});
        p.stamp(&mut obj);
        let ann = &obj["metadata"]["annotations"];
        assert_eq!(ann["provenance.slipway.dev/commit"], "0123456");
        assert_eq!(ann["provenance.slipway.dev/revision"], "7");
        assert_eq!(ann["keep"], "me");
        assert!(ann.get("provenance.slipway.dev/ci-run").is_none(), "{ann}");
        assert_eq!(obj["spec"]["template"]["metadata"], json!({}));
        let mut r = release(7, ReleaseStatus::Deployed);
        r.manifest = vec![obj];
        assert_eq!(r.provenance(), Some(p));
        assert_eq!(release(1, ReleaseStatus::Deployed).provenance(), None);
    }

    #[test]
    fn other_secrets_are_not_records() {
        let s = json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": "x"}});
        assert!(matches!(from_secret(&s), Err(RecordError::NotARecord(n)) if n == "x"));
    }

    #[test]
    fn damaged_record_is_reported_with_its_name() {
        let mut s = to_secret(&release(1, ReleaseStatus::Deployed));
        s["data"][DATA_KEY] = json!("bm90IGd6aXA=");
        let err = from_secret(&s).unwrap_err().to_string();
        assert!(
            err.starts_with("release record `slipway.release.shop.v1` is damaged"),
            "{err}"
        );
    }

    #[test]
    fn current_is_the_newest_deployed_and_revisions_only_grow() {
        let records = vec![
            release(1, ReleaseStatus::Superseded),
            release(2, ReleaseStatus::Deployed),
            release(3, ReleaseStatus::RolledBack),
        ];
        assert_eq!(current(&records).map(|r| r.revision), Some(2));
        assert_eq!(next_revision(&records), 4);
        assert_eq!(next_revision(&[]), 1);
    }
}
