//! The kustomization file: reading it into a typed form that remembers lines.
//!
//! Fields are read straight from the positioned YAML tree so that every error names the
//! file, the line and the field. Fields that kustomize knows but the native renderer
//! does not implement are refused with [`RenderError::Unsupported`]; fields kustomize
//! does not know at all are refused as invalid, as kustomize itself does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use slipway_config::yaml::{Node, NodeKind};

use crate::RenderError;
use crate::read::{parse_yaml, read_text};

/// The file names kustomize recognises, in its order.
pub(crate) const FILE_NAMES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Fields of a kustomization that kustomize supports and this renderer does not.
const UNSUPPORTED: &[&str] = &[
    "helmCharts",
    "helmChartInflationGenerator",
    "helmGlobals",
    "validators",
];

/// A string with the line it was written on.
#[derive(Debug, Clone)]
pub(crate) struct Located<T> {
    pub value: T,
    pub line: usize,
}

/// A `target` selector of a patch.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selector {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub label_selector: String,
    pub annotation_selector: String,
}

/// One entry of `patches`, `patchesStrategicMerge` or `patchesJson6902`.
#[derive(Debug, Clone)]
pub(crate) struct PatchEntry {
    pub line: usize,
    /// The field it came from, for messages (`patches[2]`).
    pub field: String,
    /// Inline patch text.
    pub patch: Option<String>,
    /// Or a file relative to the kustomization.
    pub path: Option<String>,
    pub target: Option<Selector>,
    /// `options.allowNameChange`: a strategic merge patch may rename its target.
    pub allow_name_change: bool,
    /// `options.allowKindChange`: a strategic merge patch may change its target's kind.
    pub allow_kind_change: bool,
}

/// `labels` entry.
#[derive(Debug, Clone)]
pub(crate) struct LabelEntry {
    pub pairs: BTreeMap<String, String>,
    pub include_selectors: bool,
    pub include_templates: bool,
    pub fields: Vec<super::fields::FieldSpec>,
}

/// `images` entry.
#[derive(Debug, Clone, Default)]
pub(crate) struct ImageEntry {
    pub name: String,
    pub new_name: String,
    pub new_tag: String,
    pub digest: String,
    pub tag_suffix: String,
}

/// `generatorOptions`, or the `options` of one generator.
#[derive(Debug, Clone, Default)]
pub(crate) struct GeneratorOptions {
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub disable_name_suffix_hash: bool,
    pub immutable: bool,
}

/// How a generated object meets an existing one of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Behavior {
    Create,
    Merge,
    Replace,
}

/// One `configMapGenerator` or `secretGenerator` entry.
#[derive(Debug, Clone)]
pub(crate) struct GeneratorEntry {
    pub line: usize,
    pub field: String,
    pub name: String,
    pub namespace: String,
    pub behavior: Behavior,
    pub literals: Vec<Located<String>>,
    pub files: Vec<Located<String>>,
    pub envs: Vec<Located<String>>,
    pub secret_type: String,
    pub options: Option<GeneratorOptions>,
}

/// The order of the final output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortOrder {
    Legacy,
    Fifo,
}

/// A parsed kustomization file.
#[derive(Debug, Clone)]
pub(crate) struct Kustomization {
    pub file: PathBuf,
    pub dir: PathBuf,
    pub is_component: bool,
    pub resources: Vec<Located<String>>,
    pub components: Vec<Located<String>>,
    pub namespace: Option<Located<String>>,
    pub name_prefix: String,
    pub name_suffix: String,
    pub labels: Vec<LabelEntry>,
    pub common_labels: BTreeMap<String, String>,
    pub common_annotations: BTreeMap<String, String>,
    pub images: Vec<Located<ImageEntry>>,
    pub replicas: Vec<Located<(String, i64)>>,
    pub config_maps: Vec<GeneratorEntry>,
    pub secrets: Vec<GeneratorEntry>,
    pub generator_options: Option<GeneratorOptions>,
    pub patches: Vec<PatchEntry>,
    pub patches_strategic_merge: Vec<PatchEntry>,
    pub patches_json6902: Vec<PatchEntry>,
    pub sort: Option<Located<SortOrder>>,
    pub replacements: Vec<super::replace::Replacement>,
    /// Transformer configuration files, relative to `dir`.
    pub configurations: Vec<Located<String>>,
    pub vars: Vec<super::vars::Var>,
    /// Files or directories configuring built-in transformers.
    pub transformers: Vec<Located<String>>,
    /// Files or directories configuring built-in generators.
    pub generators: Vec<Located<String>>,
    /// `sortOptions.legacySortOptions`: kinds first and last, replacing kustomize's lists.
    pub sort_first_last: Option<(Vec<String>, Vec<String>)>,
    /// `buildMetadata: [managedByLabel]`.
    pub managed_by_label: bool,
    /// `crds`: OpenAPI definitions of custom kinds, relative to `dir`.
    pub crds: Vec<Located<String>>,
    /// List merge keys of the kinds an `openapi` schema describes.
    pub openapi: Option<std::sync::Arc<super::openapi::Schemas>>,
}

/// Reads fields of one file, producing positioned errors. Refused (unsupported) fields
/// are collected rather than returned, so that one error names them all.
struct Reader<'a> {
    file: &'a Path,
    refused: std::cell::RefCell<Vec<crate::Refused>>,
}

impl Reader<'_> {
    fn invalid(&self, node: &Node, field: &str, message: impl Into<String>) -> RenderError {
        RenderError::Invalid {
            file: self.file.to_owned(),
            line: node.line,
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// Notes a refused field; [`load`] reports them all once the file is read.
    fn unsupported(&self, node: &Node, field: &str) {
        self.refused.borrow_mut().push(crate::Refused {
            file: self.file.to_owned(),
            line: node.line,
            field: field.to_owned(),
        });
    }

    /// A string value. kustomize decodes kustomization files by the YAML 1.1 rules into
    /// typed fields, so an unquoted `yes`, `n`, `1` or `1.0` where a string belongs is an
    /// error there; it is one here too, with the advice to quote it.
    fn string(&self, node: &Node, field: &str) -> Result<String, RenderError> {
        if let NodeKind::Scalar(s) = &node.kind
            && s.style == slipway_config::yaml::ScalarStyle::Plain
            && s.tag.is_none()
            && crate::emit::resolves_to_non_string(&s.text)
            && !crate::emit::is_timestamp(&s.text)
        {
            return Err(self.invalid(
                node,
                field,
                format!(
                    "expected a string, found `{}`, which kustomize reads as a boolean or a number; quote it",
                    s.text
                ),
            ));
        }
        self.text(node, field)
    }

    /// Any scalar's text (numbers and booleans keep their written form), for keys and
    /// numbers.
    fn text(&self, node: &Node, field: &str) -> Result<String, RenderError> {
        match &node.kind {
            NodeKind::Scalar(s) => Ok(s.text.clone()),
            NodeKind::Null => Ok(String::new()),
            _ => Err(self.invalid(
                node,
                field,
                format!("expected a string, found {}", node.describe()),
            )),
        }
    }

    fn bool(&self, node: &Node, field: &str) -> Result<bool, RenderError> {
        match node.as_scalar().map(|s| s.text.as_str()) {
            // The YAML 1.1 spellings too, as kustomize reads kustomization files by them.
            Some(
                "true" | "True" | "TRUE" | "y" | "Y" | "yes" | "Yes" | "YES" | "on" | "On" | "ON",
            ) => Ok(true),
            Some(
                "false" | "False" | "FALSE" | "n" | "N" | "no" | "No" | "NO" | "off" | "Off"
                | "OFF",
            ) => Ok(false),
            _ if node.is_null() => Ok(false),
            _ => Err(self.invalid(
                node,
                field,
                format!("expected `true` or `false`, found {}", node.describe()),
            )),
        }
    }

    fn items<'n>(&self, node: &'n Node, field: &str) -> Result<&'n [Node], RenderError> {
        match &node.kind {
            NodeKind::Seq(items) => Ok(items),
            NodeKind::Null => Ok(&[]),
            _ => Err(self.invalid(
                node,
                field,
                format!("expected a list, found {}", node.describe()),
            )),
        }
    }

    fn entries<'n>(&self, node: &'n Node, field: &str) -> Result<&'n [(Node, Node)], RenderError> {
        match &node.kind {
            NodeKind::Map(e) => Ok(e),
            NodeKind::Null => Ok(&[]),
            _ => Err(self.invalid(
                node,
                field,
                format!("expected a mapping, found {}", node.describe()),
            )),
        }
    }

    fn strings(&self, node: &Node, field: &str) -> Result<Vec<Located<String>>, RenderError> {
        self.items(node, field)?
            .iter()
            .enumerate()
            .map(|(i, n)| {
                Ok(Located {
                    value: self.string(n, &format!("{field}[{i}]"))?,
                    line: n.line,
                })
            })
            .collect()
    }

    fn string_map(
        &self,
        node: &Node,
        field: &str,
    ) -> Result<BTreeMap<String, String>, RenderError> {
        let mut out = BTreeMap::new();
        for (k, v) in self.entries(node, field)? {
            let key = self.text(k, field)?;
            let value = self.string(v, &format!("{field}.{key}"))?;
            out.insert(key, value);
        }
        Ok(out)
    }

    /// Walk a mapping's fields, refusing unknown ones.
    fn fields<'n>(
        &self,
        node: &'n Node,
        field: &str,
        known: &[&'static str],
        unsupported: &[&'static str],
        mut f: impl FnMut(&str, &'n Node) -> Result<(), RenderError>,
    ) -> Result<(), RenderError> {
        for (k, v) in self.entries(node, field)? {
            let written = self.text(k, field)?;
            let path = if field.is_empty() {
                written.clone()
            } else {
                format!("{field}.{written}")
            };
            // kustomize decodes the file through Go's `encoding/json`, which matches field
            // names without regard to case (`patchesJSON6902`, `NamePrefix`).
            let canonical = |names: &[&'static str]| {
                names
                    .iter()
                    .find(|n| **n == written)
                    .or_else(|| names.iter().find(|n| n.eq_ignore_ascii_case(&written)))
                    .copied()
            };
            if canonical(unsupported).is_some() {
                self.unsupported(k, &path);
                continue;
            }
            let Some(key) = canonical(known) else {
                return Err(self.invalid(k, &path, "unknown field"));
            };
            f(key, v)?;
        }
        Ok(())
    }

    fn selector(&self, node: &Node, field: &str) -> Result<Selector, RenderError> {
        let mut s = Selector::default();
        self.fields(
            node,
            field,
            &[
                "group",
                "version",
                "kind",
                "name",
                "namespace",
                "labelSelector",
                "annotationSelector",
            ],
            &[],
            |k, v| {
                let text = self.string(v, &format!("{field}.{k}"))?;
                match k {
                    "group" => s.group = text,
                    "version" => s.version = text,
                    "kind" => s.kind = text,
                    "name" => s.name = text,
                    "namespace" => s.namespace = text,
                    "labelSelector" => s.label_selector = text,
                    _ => s.annotation_selector = text,
                }
                Ok(())
            },
        )?;
        Ok(s)
    }

    fn options(&self, node: &Node, field: &str) -> Result<GeneratorOptions, RenderError> {
        let mut o = GeneratorOptions::default();
        self.fields(
            node,
            field,
            &[
                "labels",
                "annotations",
                "disableNameSuffixHash",
                "immutable",
            ],
            &[],
            |k, v| {
                let path = format!("{field}.{k}");
                match k {
                    "labels" => o.labels = self.string_map(v, &path)?,
                    "annotations" => o.annotations = self.string_map(v, &path)?,
                    "disableNameSuffixHash" => o.disable_name_suffix_hash = self.bool(v, &path)?,
                    _ => o.immutable = self.bool(v, &path)?,
                }
                Ok(())
            },
        )?;
        Ok(o)
    }

    fn generator(
        &self,
        node: &Node,
        field: &str,
        secret: bool,
    ) -> Result<GeneratorEntry, RenderError> {
        let mut g = GeneratorEntry {
            line: node.line,
            field: field.to_owned(),
            name: String::new(),
            namespace: String::new(),
            behavior: Behavior::Create,
            literals: Vec::new(),
            files: Vec::new(),
            envs: Vec::new(),
            secret_type: String::new(),
            options: None,
        };
        let known: &[&str] = if secret {
            &[
                "name",
                "namespace",
                "behavior",
                "literals",
                "files",
                "envs",
                "env",
                "options",
                "type",
            ]
        } else {
            &[
                "name",
                "namespace",
                "behavior",
                "literals",
                "files",
                "envs",
                "env",
                "options",
            ]
        };
        self.fields(node, field, known, &[], |k, v| {
            let path = format!("{field}.{k}");
            match k {
                "name" => g.name = self.string(v, &path)?,
                "namespace" => g.namespace = self.string(v, &path)?,
                "type" => g.secret_type = self.string(v, &path)?,
                "behavior" => {
                    g.behavior = match self.string(v, &path)?.as_str() {
                        "" | "create" => Behavior::Create,
                        "merge" => Behavior::Merge,
                        "replace" => Behavior::Replace,
                        other => {
                            return Err(self.invalid(
                                v,
                                &path,
                                format!("`{other}` is not one of `create`, `merge`, `replace`"),
                            ));
                        }
                    }
                }
                "literals" => g.literals = self.strings(v, &path)?,
                "files" => g.files = self.strings(v, &path)?,
                "envs" => g.envs.extend(self.strings(v, &path)?),
                "env" => {
                    let s = self.string(v, &path)?;
                    if !s.is_empty() {
                        g.envs.push(Located {
                            value: s,
                            line: v.line,
                        });
                    }
                }
                _ => g.options = Some(self.options(v, &path)?),
            }
            Ok(())
        })?;
        Ok(g)
    }

    fn patch(&self, node: &Node, field: &str, json6902: bool) -> Result<PatchEntry, RenderError> {
        let mut p = PatchEntry {
            line: node.line,
            field: field.to_owned(),
            patch: None,
            path: None,
            target: None,
            allow_name_change: false,
            allow_kind_change: false,
        };
        self.fields(
            node,
            field,
            &["path", "patch", "target", "options"],
            &[],
            |k, v| {
                let path = format!("{field}.{k}");
                match k {
                    "path" => p.path = Some(self.string(v, &path)?),
                    "patch" => p.patch = Some(self.string(v, &path)?),
                    "target" => p.target = Some(self.selector(v, &path)?),
                    _ => {
                        self.fields(
                            v,
                            &path,
                            &["allowNameChange", "allowKindChange"],
                            &[],
                            |ok, ov| {
                                let flag = self.bool(ov, &format!("{path}.{ok}"))?;
                                if ok == "allowNameChange" {
                                    p.allow_name_change = flag;
                                } else {
                                    p.allow_kind_change = flag;
                                }
                                Ok(())
                            },
                        )?;
                    }
                }
                Ok(())
            },
        )?;
        if p.path.is_none() && p.patch.is_none() {
            return Err(self.invalid(node, field, "needs `path` or `patch`"));
        }
        if json6902 && p.target.is_none() {
            return Err(self.invalid(node, field, "a JSON 6902 patch needs a `target`"));
        }
        Ok(p)
    }
}

/// The kustomization file of a directory, if there is exactly one.
pub(crate) fn find_file(dir: &Path) -> Result<Option<PathBuf>, RenderError> {
    let found: Vec<PathBuf> = FILE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .collect();
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.into_iter().next()),
        _ => Err(RenderError::Invalid {
            file: found[0].clone(),
            line: 1,
            field: "kustomization".into(),
            message: format!("found several kustomization files in `{}`", dir.display()),
        }),
    }
}

/// Load and check the kustomization file of `dir`.
pub(crate) fn load(dir: &Path) -> Result<Kustomization, RenderError> {
    let file = find_file(dir)?.ok_or_else(|| RenderError::MissingKustomization {
        dir: dir.to_owned(),
    })?;
    let text = read_text(&file)?;
    let docs = parse_yaml(&text, &file)?;
    let r = Reader {
        file: &file,
        refused: Default::default(),
    };
    let mut k = Kustomization {
        file: file.clone(),
        dir: dir.to_owned(),
        is_component: false,
        resources: Vec::new(),
        components: Vec::new(),
        namespace: None,
        name_prefix: String::new(),
        name_suffix: String::new(),
        labels: Vec::new(),
        common_labels: BTreeMap::new(),
        common_annotations: BTreeMap::new(),
        images: Vec::new(),
        replicas: Vec::new(),
        config_maps: Vec::new(),
        secrets: Vec::new(),
        generator_options: None,
        patches: Vec::new(),
        patches_strategic_merge: Vec::new(),
        patches_json6902: Vec::new(),
        sort: None,
        replacements: Vec::new(),
        configurations: Vec::new(),
        vars: Vec::new(),
        transformers: Vec::new(),
        generators: Vec::new(),
        sort_first_last: None,
        managed_by_label: false,
        crds: Vec::new(),
        openapi: None,
    };
    let text_info = super::load::Text::of(&text);
    let mut replacements = Vec::new();
    let mut image_tags = Vec::new();
    let Some(root) = docs.first() else {
        return Ok(k);
    };
    let known = [
        "apiVersion",
        "kind",
        "metadata",
        "resources",
        "bases",
        "components",
        "namespace",
        "namePrefix",
        "nameSuffix",
        "labels",
        "commonLabels",
        "commonAnnotations",
        "images",
        "replicas",
        "configMapGenerator",
        "secretGenerator",
        "generatorOptions",
        "patches",
        "patchesStrategicMerge",
        "patchesJson6902",
        "sortOptions",
        "replacements",
        "configurations",
        "vars",
        "transformers",
        "generators",
        "openapi",
        "imageTags",
        "buildMetadata",
        "crds",
    ];
    r.fields(root, "", &known, UNSUPPORTED, |key, v| {
        match key {
            "kind" => {
                let kind = r.string(v, key)?;
                match kind.as_str() {
                    "Component" => k.is_component = true,
                    "" | "Kustomization" => {}
                    other => {
                        return Err(r.invalid(
                            v,
                            key,
                            format!("`{other}` is neither `Kustomization` nor `Component`"),
                        ));
                    }
                }
            }
            "apiVersion" | "metadata" => {}
            "resources" | "bases" => k.resources.extend(r.strings(v, key)?),
            "components" => k.components = r.strings(v, key)?,
            "namespace" => {
                let ns = r.string(v, key)?;
                if !ns.is_empty() {
                    k.namespace = Some(Located {
                        value: ns,
                        line: v.line,
                    });
                }
            }
            "namePrefix" => k.name_prefix = r.string(v, key)?,
            "nameSuffix" => k.name_suffix = r.string(v, key)?,
            "commonLabels" => k.common_labels = r.string_map(v, key)?,
            "commonAnnotations" => k.common_annotations = r.string_map(v, key)?,
            "labels" => {
                for (i, item) in r.items(v, key)?.iter().enumerate() {
                    let field = format!("labels[{i}]");
                    let mut l = LabelEntry {
                        pairs: BTreeMap::new(),
                        include_selectors: false,
                        include_templates: false,
                        fields: Vec::new(),
                    };
                    r.fields(
                        item,
                        &field,
                        &["pairs", "includeSelectors", "includeTemplates", "fields"],
                        &[],
                        |lk, lv| {
                            let path = format!("{field}.{lk}");
                            match lk {
                                "pairs" => l.pairs = r.string_map(lv, &path)?,
                                "includeSelectors" => l.include_selectors = r.bool(lv, &path)?,
                                "includeTemplates" => l.include_templates = r.bool(lv, &path)?,
                                _ => {
                                    for (j, f) in r.items(lv, &path)?.iter().enumerate() {
                                        l.fields.push(field_spec(&r, f, &format!("{path}[{j}]"))?);
                                    }
                                }
                            }
                            Ok(())
                        },
                    )?;
                    k.labels.push(l);
                }
            }
            "buildMetadata" => {
                for (i, item) in r.items(v, key)?.iter().enumerate() {
                    match r.string(item, key)?.as_str() {
                        "managedByLabel" => k.managed_by_label = true,
                        other => r.unsupported(item, &format!("buildMetadata[{i}]: {other}")),
                    }
                }
            }
            "images" | "imageTags" => {
                for (i, item) in r.items(v, key)?.iter().enumerate() {
                    let field = format!("{key}[{i}]");
                    let mut e = ImageEntry::default();
                    r.fields(
                        item,
                        &field,
                        &["name", "newName", "newTag", "digest", "tagSuffix"],
                        &[],
                        |ik, iv| {
                            let text = r.string(iv, &format!("{field}.{ik}"))?;
                            match ik {
                                "name" => e.name = text,
                                "newName" => e.new_name = text,
                                "newTag" => e.new_tag = text,
                                "tagSuffix" => e.tag_suffix = text,
                                _ => e.digest = text,
                            }
                            Ok(())
                        },
                    )?;
                    let entry = Located {
                        value: e,
                        line: item.line,
                    };
                    // kustomize appends the old `imageTags` after `images`.
                    if key == "images" {
                        k.images.push(entry);
                    } else {
                        image_tags.push(entry);
                    }
                }
            }
            "replicas" => {
                for (i, item) in r.items(v, key)?.iter().enumerate() {
                    let field = format!("replicas[{i}]");
                    let (mut name, mut count) = (String::new(), 0);
                    r.fields(item, &field, &["name", "count"], &[], |rk, rv| {
                        let path = format!("{field}.{rk}");
                        if rk == "name" {
                            name = r.string(rv, &path)?;
                        } else {
                            count = r
                                .text(rv, &path)?
                                .parse()
                                .map_err(|_| r.invalid(rv, &path, "expected a whole number"))?;
                        }
                        Ok(())
                    })?;
                    k.replicas.push(Located {
                        value: (name, count),
                        line: item.line,
                    });
                }
            }
            "configMapGenerator" | "secretGenerator" => {
                let secret = key == "secretGenerator";
                for (i, item) in r.items(v, key)?.iter().enumerate() {
                    let g = r.generator(item, &format!("{key}[{i}]"), secret)?;
                    if secret {
                        k.secrets.push(g);
                    } else {
                        k.config_maps.push(g);
                    }
                }
            }
            "generatorOptions" => k.generator_options = Some(r.options(v, key)?),
            "patches" | "patchesJson6902" => {
                for (i, item) in r.items(v, key)?.iter().enumerate() {
                    let p = r.patch(item, &format!("{key}[{i}]"), key == "patchesJson6902")?;
                    if key == "patches" {
                        k.patches.push(p);
                    } else {
                        k.patches_json6902.push(p);
                    }
                }
            }
            "patchesStrategicMerge" => {
                for (i, item) in r.items(v, key)?.iter().enumerate() {
                    let field = format!("{key}[{i}]");
                    let text = r.string(item, &field)?;
                    // An entry is a file path unless it is an inline patch (several lines or
                    // a mapping written on one line).
                    let inline = text.contains('\n') || text.contains(": ");
                    k.patches_strategic_merge.push(PatchEntry {
                        line: item.line,
                        field,
                        patch: inline.then(|| text.clone()),
                        path: (!inline).then_some(text),
                        target: None,
                        allow_name_change: false,
                        allow_kind_change: false,
                    });
                }
            }
            "configurations" => k.configurations = r.strings(v, key)?,
            "transformers" => k.transformers = r.strings(v, key)?,
            "generators" => k.generators = r.strings(v, key)?,
            "crds" => k.crds = r.strings(v, key)?,
            "openapi" => {
                // `version` picks one of kustomize's built-in Kubernetes schemas; their merge
                // keys agree with the built-in table used here, so it changes nothing.
                r.fields(v, key, &["path", "version"], &[], |ok, pv| {
                    if ok == "version" {
                        r.string(pv, "openapi.version")?;
                        return Ok(());
                    }
                    let path = r.string(pv, "openapi.path")?;
                    let schemas = super::openapi::load(&dir.join(path), pv.line)?;
                    k.openapi = Some(std::sync::Arc::new(schemas));
                    Ok(())
                })?;
            }
            "vars" => {
                for (i, item) in r.items(v, key)?.iter().enumerate() {
                    let value = super::load::node_to_value(item, &file, text_info)?;
                    k.vars
                        .push(super::vars::Var::parse(&value, &file, item.line, i)?);
                }
            }
            "replacements" => {
                for item in r.items(v, key)? {
                    replacements.push((
                        super::load::node_to_value(item, &file, text_info)?,
                        item.line,
                    ));
                }
            }
            "sortOptions" => {
                let mut order = SortOrder::Legacy;
                r.fields(v, key, &["order", "legacySortOptions"], &[], |ok, ov| {
                    if ok == "legacySortOptions" {
                        let (mut first, mut last) = (Vec::new(), Vec::new());
                        let path = "sortOptions.legacySortOptions";
                        r.fields(ov, path, &["orderFirst", "orderLast"], &[], |lk, lv| {
                            let kinds = r
                                .strings(lv, &format!("{path}.{lk}"))?
                                .into_iter()
                                .map(|l| l.value)
                                .collect();
                            if lk == "orderFirst" {
                                first = kinds;
                            } else {
                                last = kinds;
                            }
                            Ok(())
                        })?;
                        k.sort_first_last = Some((first, last));
                        return Ok(());
                    }
                    order = match r.string(ov, "sortOptions.order")?.as_str() {
                        "legacy" => SortOrder::Legacy,
                        "fifo" => SortOrder::Fifo,
                        other => {
                            return Err(r.invalid(
                                ov,
                                "sortOptions.order",
                                format!("`{other}` is neither `legacy` nor `fifo`"),
                            ));
                        }
                    };
                    Ok(())
                })?;
                k.sort = Some(Located {
                    value: order,
                    line: v.line,
                });
            }
            _ => unreachable!("field list and match agree"),
        }
        Ok(())
    })?;
    if let Some(err) = RenderError::unsupported(r.refused.take()) {
        return Err(err);
    }
    k.replacements = super::replace::load_entries(replacements, &file, dir)?;
    k.images.extend(image_tags);
    Ok(k)
}

fn field_spec(
    r: &Reader<'_>,
    node: &Node,
    field: &str,
) -> Result<super::fields::FieldSpec, RenderError> {
    let mut fs = super::fields::FieldSpec::default();
    r.fields(
        node,
        field,
        &["group", "version", "kind", "path", "create"],
        &[],
        |k, v| {
            let path = format!("{field}.{k}");
            match k {
                "create" => fs.create = r.bool(v, &path)?,
                _ => {
                    let text = r.string(v, &path)?;
                    match k {
                        "group" => fs.group = text,
                        "version" => fs.version = text,
                        "kind" => fs.kind = text,
                        _ => fs.path = text,
                    }
                }
            }
            Ok(())
        },
    )?;
    Ok(fs)
}
