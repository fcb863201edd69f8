//! Validation of rendered manifests, before anything reaches a cluster.
//!
//! Start at [`check`]: it takes the rendered objects (with the file and line each came
//! from) and the environment's [`CheckOptions`], and returns a [`Report`] of
//! [`Finding`]s. Two kinds of checks run:
//!
//! - **strict decoding** (rule `schema`, always an error): every built-in kind is decoded
//!   into its typed `k8s-openapi` form; unknown fields, wrong types and missing required
//!   fields are reported with their field path. Custom resources are validated against
//!   their CRD schema (from the input or from the cluster) or listed as unchecked.
//! - **policy rules** (`image-pinned`, `last-replica-down`, …): each with an id, a default
//!   level and a one-line fix, switchable per environment; see [`RULES`] and
//!   `docs/rules.md`.
//!
//! Each finding names the line and column of its field when the [`Manifest`] carries
//! the document it was read from and the field is still as written there; otherwise the
//! line of the object, with a note when a patch or transformer set the field.
//!
//! The crate is pure logic: no I/O, no cluster access. The caller reads the cluster's CRDs
//! (when it can) into [`CrdSchemas`].

mod bytes;
mod decode;
mod locate;
mod model;
mod names;
mod policy;
mod rules;
mod schema;
mod workload;

use std::collections::BTreeMap;

pub use model::{CheckOptions, Finding, Level, Manifest, ObjectRef, Report, Unchecked};
pub use rules::{LevelProblem, RULES, Rule, check_levels, rule};
pub use schema::CrdSchemas;

use decode::{Lookup, SchemaCache, Typed};
use locate::{Anchor, Place};
use serde_json::Value;

/// Checks rendered objects: strict decoding, then the policy rules.
///
/// Findings are sorted by file, line, rule, field and message, so the same input always
/// gives the same report. Rules switched off in `options.levels` report nothing; the
/// `schema` rule cannot be switched off.
///
/// # Usage
///
/// ```
/// use slipway_check::{check, CheckOptions, Manifest};
/// let object = serde_json::json!({
///     "apiVersion": "v1", "kind": "ConfigMap",
///     "metadata": {"name": "settings"}, "data": {"mode": "fast"},
/// });
/// let manifest = Manifest::new(object, "k8s/settings.yaml", 1);
/// let report = check(&[manifest], &CheckOptions::default());
/// assert!(!report.has_errors());
/// ```
pub fn check(manifests: &[Manifest], options: &CheckOptions) -> Report {
    let mut sink = Sink {
        levels: &options.levels,
        findings: Vec::new(),
    };
    let mut unchecked = Vec::new();
    // CRDs in the input describe their custom resources as well as the cluster would.
    let input_crds = CrdSchemas::from_crds(manifests.iter().map(|m| &m.object).filter(|o| {
        o["kind"] == "CustomResourceDefinition"
            && decode::group_of(o["apiVersion"].as_str().unwrap_or_default())
                == "apiextensions.k8s.io"
    }));
    let mut schemas = SchemaCache::default();
    let mut objects = Vec::with_capacity(manifests.len());
    for manifest in manifests {
        let mut object = Object {
            manifest,
            id: object_ref(&manifest.object),
            typed: None,
        };
        decode_one(
            &mut object,
            &input_crds,
            options,
            &mut schemas,
            &mut sink,
            &mut unchecked,
        );
        objects.push(object);
    }
    policy::run(&objects, options, &mut sink);
    let mut findings = sink.findings;
    findings.sort_by(|a, b| {
        (
            &a.file, a.line, a.column, a.rule, &a.field, &a.message, &a.object,
        )
            .cmp(&(
                &b.file, b.line, b.column, b.rule, &b.field, &b.message, &b.object,
            ))
    });
    findings.dedup();
    Report {
        findings,
        unchecked,
    }
}

/// Strict decoding of one object; sets `object.typed` when it decodes.
fn decode_one(
    object: &mut Object<'_>,
    input_crds: &CrdSchemas,
    options: &CheckOptions,
    schemas: &mut SchemaCache,
    sink: &mut Sink<'_>,
    unchecked: &mut Vec<Unchecked>,
) {
    let value = &object.manifest.object;
    if !value.is_object() {
        sink.push(
            rules::SCHEMA,
            object,
            ".",
            format!(
                "expected a Kubernetes object, found {}",
                schema::describe(value)
            ),
            "each YAML document must be a mapping with `apiVersion`, `kind` and `metadata`",
        );
        return;
    }
    let mut shape_ok = true;
    for field in ["apiVersion", "kind"] {
        match &value[field] {
            Value::String(s) if !s.is_empty() => {}
            Value::Null => {
                sink.push(
                    rules::SCHEMA,
                    object,
                    field,
                    format!("missing required field `{field}`"),
                    format!("set `{field}`"),
                );
                shape_ok = false;
            }
            other => {
                sink.push(
                    rules::SCHEMA,
                    object,
                    field,
                    format!("expected a string, found {}", schema::describe(other)),
                    format!("set `{field}` to a string"),
                );
                shape_ok = false;
            }
        }
    }
    if !shape_ok {
        return;
    }
    let meta = &value["metadata"];
    if meta["name"].as_str().is_none_or(str::is_empty)
        && meta["generateName"].as_str().is_none_or(str::is_empty)
    {
        sink.push(
            rules::SCHEMA,
            object,
            "metadata.name",
            "missing required field `metadata.name`".to_owned(),
            "set `metadata.name`",
        );
    }
    let (api_version, kind) = (object.id.api_version.clone(), object.id.kind.clone());
    let lookup = decode::lookup(&api_version, &kind);
    if matches!(lookup, Lookup::Builtin(_) | Lookup::Undecoded) {
        refused_by_any_server(object, &api_version, &kind, sink);
    }
    match lookup {
        Lookup::Builtin(builtin) => {
            let (typed, violations) = decode::decode_builtin(builtin, value, schemas);
            report_violations(sink, object, violations);
            object.typed = typed;
        }
        Lookup::Undecoded => unchecked.push(Unchecked {
            object: object.id.clone(),
            file: object.manifest.file.clone(),
            line: object.manifest.line,
            reason: format!("`{kind}` in `{api_version}` is not decoded by slipway"),
        }),
        Lookup::Unknown { message, fix } => sink.push(rules::SCHEMA, object, "kind", message, fix),
        Lookup::Custom => {
            let schema = input_crds.get(&api_version, &kind).or_else(|| {
                options
                    .crd_schemas
                    .as_ref()
                    .and_then(|s| s.get(&api_version, &kind))
            });
            match schema {
                Some(schema) => {
                    let violations = schema::validate(schema, value, schema::Mode::Full);
                    report_violations(sink, object, violations);
                }
                None => {
                    let group = decode::group_of(&api_version);
                    let mut served = input_crds.api_versions(group, &kind);
                    if let Some(cluster) = &options.crd_schemas {
                        served.extend(cluster.api_versions(group, &kind));
                    }
                    served.sort_unstable();
                    served.dedup();
                    if let Some(first) = served.first() {
                        let list: Vec<String> = served.iter().map(|v| format!("`{v}`")).collect();
                        sink.push_at(
                            rules::SCHEMA,
                            object,
                            "apiVersion",
                            Anchor::Value,
                            format!(
                                "`{kind}` is not served as `{api_version}`; its CRD serves {}",
                                list.join(", ")
                            ),
                            format!("set `apiVersion: {first}`"),
                        );
                        return;
                    }
                    let reason = if options.crd_schemas.is_some() {
                        format!(
                            "no CRD in the input or on the cluster defines `{kind}` in `{api_version}`"
                        )
                    } else {
                        format!(
                            "custom resource `{kind}` in `{api_version}`: its CRD is not in the input and the cluster was not asked"
                        )
                    };
                    unchecked.push(Unchecked {
                        object: object.id.clone(),
                        file: object.manifest.file.clone(),
                        line: object.manifest.line,
                        reason,
                    });
                }
            }
        }
    }
}

/// What the API server refuses of a built-in object whatever its spec: a name not of the
/// form its kind needs, a ConfigMap or Secret over 1 MiB.
fn refused_by_any_server(object: &Object<'_>, api_version: &str, kind: &str, sink: &mut Sink<'_>) {
    let value = &object.manifest.object;
    let form = names::name_form(decode::group_of(api_version), kind);
    if let Some(name) = value["metadata"]["name"].as_str().filter(|n| !n.is_empty())
        && let Some(problem) = names::name_problem(name, form)
    {
        let suggestion = names::suggested_name(name);
        let fix = if suggestion.is_empty() || names::name_problem(&suggestion, form).is_some() {
            "rename it: the cluster refuses this name".to_owned()
        } else {
            format!("rename it, e.g. `{suggestion}`: the cluster refuses this name")
        };
        sink.push(rules::SCHEMA, object, "metadata.name", problem, fix);
    }
    let bytes = names::data_bytes(kind, value);
    if bytes > names::MAX_DATA_BYTES {
        let field = if value.get("data").is_some() {
            "data"
        } else if value.get("binaryData").is_some() {
            "binaryData"
        } else {
            "stringData"
        };
        sink.push_at(
            rules::SCHEMA,
            object,
            field,
            Anchor::Key,
            format!(
                "the {kind} holds {bytes} bytes of data, more than the 1 MiB ({} bytes) the cluster accepts",
                names::MAX_DATA_BYTES
            ),
            "keep large files out of ConfigMaps and Secrets: mount a volume or fetch them at start-up",
        );
    }
}

fn report_violations(sink: &mut Sink<'_>, object: &Object<'_>, violations: Vec<schema::Violation>) {
    use schema::ViolationKind;
    for v in violations {
        let fix = match v.kind {
            ViolationKind::Unknown => {
                "remove the field or fix its spelling; check its parent's indentation".to_owned()
            }
            ViolationKind::Type => format!("give `{}` a value of the expected type", v.path),
            ViolationKind::Required => "add the missing field".to_owned(),
            ViolationKind::Enum => format!("set `{}` to one of the allowed values", v.path),
        };
        let anchor = match v.kind {
            ViolationKind::Unknown | ViolationKind::Required => Anchor::Key,
            ViolationKind::Type | ViolationKind::Enum => Anchor::Value,
        };
        sink.push_at(rules::SCHEMA, object, v.path, anchor, v.message, fix);
    }
}

fn object_ref(value: &Value) -> ObjectRef {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    ObjectRef {
        api_version: text(&value["apiVersion"]),
        kind: text(&value["kind"]),
        namespace: value["metadata"]["namespace"].as_str().map(str::to_owned),
        name: value["metadata"]["name"]
            .as_str()
            .or(value["metadata"]["generateName"].as_str())
            .unwrap_or_default()
            .to_owned(),
    }
}

/// One input object while it is being checked.
pub(crate) struct Object<'a> {
    pub manifest: &'a Manifest,
    pub id: ObjectRef,
    /// The typed form, for the kinds the policy rules look into, when it decodes.
    pub typed: Option<Typed>,
}

/// Collects findings at their effective level; drops those switched off.
pub(crate) struct Sink<'o> {
    levels: &'o BTreeMap<String, Level>,
    findings: Vec<Finding>,
}

/// The note of a finding whose field is not in its file as written.
const NOT_WRITTEN: &str = "set by a patch or transformer: not as written in this file";

impl Sink<'_> {
    /// Reports a finding on `field`, placed at its value when that is a scalar.
    pub(crate) fn push(
        &mut self,
        rule_id: &'static str,
        object: &Object<'_>,
        field: impl Into<String>,
        message: String,
        fix: impl Into<String>,
    ) {
        self.push_at(rule_id, object, field, Anchor::Value, message, fix);
    }

    /// Reports a finding on `field`, placed at `anchor`: the field's line and column
    /// when it is written in the object's document, else the document's line with a
    /// note.
    pub(crate) fn push_at(
        &mut self,
        rule_id: &'static str,
        object: &Object<'_>,
        field: impl Into<String>,
        anchor: Anchor,
        message: String,
        fix: impl Into<String>,
    ) {
        let rule = rules::rule(rule_id).expect("every reported rule is in the catalogue");
        let level = rules::effective_level(rule, self.levels);
        if level == Level::Off {
            return;
        }
        let field = field.into();
        let manifest = object.manifest;
        let (line, column, note) = match &manifest.document {
            None => (manifest.line, None, None),
            Some(document) => match locate::locate(document, &manifest.object, &field, anchor) {
                Place::Written { line, column } => (line, Some(column), None),
                Place::NotWritten => (manifest.line, None, Some(NOT_WRITTEN.to_owned())),
            },
        };
        self.findings.push(Finding {
            rule: rule.id,
            level,
            object: object.id.clone(),
            file: manifest.file.clone(),
            line,
            column,
            field,
            message,
            fix: fix.into(),
            note,
        });
    }
}

/// The candidate closest to `word`, if it is close enough to be a likely typo.
pub(crate) fn suggest<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let word = word.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::normalized_damerau_levenshtein(&word, &c.to_lowercase()),
                c,
            )
        })
        .filter(|(score, _)| *score >= 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0).then_with(|| b.1.cmp(a.1)))
        .map(|(_, c)| c)
}
