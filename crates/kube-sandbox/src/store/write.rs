//! Creates and replaces: names, metadata the server owns, defaults, validation, the
//! status subresource, generations and managed fields.

use super::{Inner, Store, WriteCtx, finalizers, is_terminating, with_version};
use crate::errors::ApiError;
use crate::fields::{self, WriteActor};
use crate::kinds;
use crate::resources::{Registry, ResourceType};
use crate::util::{self, meta_mut, now_rfc3339, str_at};
use serde_json::{Value, json};

fn without_meta_and_status(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    o
}

impl Store {
    // ------------------------------------------------------------ writes

    pub fn create(
        &self,
        rt: &ResourceType,
        ns: &str,
        mut obj: Value,
        ctx: &WriteCtx,
    ) -> Result<Value, ApiError> {
        let mut inner = self.lock();
        let now = now_rfc3339();
        {
            let meta = meta_mut(&mut obj);
            let name = meta.get("name").and_then(Value::as_str).unwrap_or_default();
            if name.is_empty()
                && let Some(g) = meta.get("generateName").and_then(Value::as_str)
                && !g.is_empty()
            {
                let generated = format!("{g}{}", util::random_suffix(5));
                meta.insert("name".into(), json!(generated));
            }
            if rt.namespaced {
                meta.insert("namespace".into(), json!(ns));
            } else {
                meta.remove("namespace");
            }
            meta.insert("uid".into(), json!(util::new_uid()));
            meta.insert("creationTimestamp".into(), json!(now));
            for k in [
                "resourceVersion",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "selfLink",
            ] {
                meta.remove(k);
            }
            if rt.tracks_generation() {
                meta.insert("generation".into(), json!(1));
            } else {
                meta.remove("generation");
            }
        }
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        if rt.has_subresource("status") || matches!(rt.resource.as_str(), "pods" | "namespaces") {
            kinds::initial_status(rt, &mut obj);
        }
        let key = rt.storage_key();
        let name = str_at(&obj, "metadata.name").to_string();
        if rt.custom {
            crate::crd_schema::admit(rt, &mut obj)?;
        }
        kinds::validate(rt, &obj)?;
        if rt.namespaced {
            match inner.get("/namespaces", "", ns) {
                None => return Err(ApiError::not_found("", "namespaces", ns)),
                Some(n) if is_terminating(&n) => {
                    return Err(ApiError::forbidden(format!(
                        "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                        crate::errors::qualified(&rt.group, &rt.resource)
                    ))
                    .with_details(json!({"name": name, "group": rt.group, "kind": rt.resource,
                        "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]})));
                }
                _ => {}
            }
        }
        if inner.get(&key, ns, &name).is_some() {
            return Err(ApiError::already_exists(&rt.group, &rt.resource, &name));
        }
        let next_ip = &mut inner.next_ip;
        kinds::apply_defaults(rt, &mut obj, || {
            let n = *next_ip;
            *next_ip += 1;
            format!("10.96.{}.{}", n / 250, n % 250 + 1)
        });
        if rt.group.is_empty() && rt.resource == "services" {
            kinds::allocate_node_ports(&mut obj, &inner.node_ports(&key, None));
        }
        if rt.group == "apiextensions.k8s.io" {
            check_crd_names(&inner.registry, &obj)?;
        }
        if obj["metadata"].get("managedFields").is_none() {
            let api_version = rt.api_version();
            let actor = actor(rt, &api_version, ctx, &now);
            fields::record_update(None, &mut obj, &actor);
        }
        if ctx.dry_run {
            return Ok(obj);
        }
        let stored = inner.put(rt, crate::convert::to_storage(rt, obj), None);
        if rt.group.is_empty() && rt.resource == "namespaces" {
            inner.create_default_service_account(str_at(&stored, "metadata.name"));
        }
        self.after_write(&mut inner, rt, &stored);
        let out = with_version(&stored, rt);
        self.flush(inner);
        Ok(out)
    }

    /// Replaces an object (PUT), honouring `metadata.resourceVersion` as a precondition.
    pub fn update(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        new: Value,
        ctx: &WriteCtx,
    ) -> Result<Value, ApiError> {
        self.modify(rt, ns, name, ctx, |old| match old {
            Some(_) => Ok(Modification::Update(new, true)),
            None => Err(ApiError::not_found(&rt.group, &rt.resource, name)),
        })
    }

    /// Read-modify-write under the store lock. The closure sees the current object (None when
    /// absent) and says what to do.
    pub fn modify(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        ctx: &WriteCtx,
        f: impl FnOnce(Option<&Value>) -> Result<Modification, ApiError>,
    ) -> Result<Value, ApiError> {
        let mut inner = self.lock();
        let key = rt.storage_key();
        let current = inner.get(&key, ns, name).map(|o| with_version(&o, rt));
        match f(current.as_ref())? {
            Modification::Create(obj) => {
                drop(inner);
                self.create(rt, ns, obj, ctx)
            }
            Modification::Update(new, record) => {
                let old =
                    current.ok_or_else(|| ApiError::not_found(&rt.group, &rt.resource, name))?;
                let now = now_rfc3339();
                let mut new = updated_object(rt, name, ctx, &old, new, record)?;
                let service = rt.group.is_empty() && rt.resource == "services";
                if service && ctx.subresource.is_empty() {
                    kinds::keep_allocated_service_values(&old, &mut new);
                }
                let next_ip = &mut inner.next_ip;
                kinds::apply_defaults(rt, &mut new, || {
                    let n = *next_ip;
                    *next_ip += 1;
                    format!("10.96.{}.{}", n / 250, n % 250 + 1)
                });
                if service {
                    let key = rt.storage_key();
                    kinds::allocate_node_ports(&mut new, &inner.node_ports(&key, Some((ns, name))));
                }
                kinds::validate(rt, &new)?;
                if ctx.subresource.is_empty() {
                    kinds::validate_update(rt, &old, &new)?;
                }
                if rt.group == "apiextensions.k8s.io" {
                    check_crd_names(&inner.registry, &new)?;
                }
                if rt.custom {
                    crate::crd_schema::admit(rt, &mut new)?;
                }
                if record {
                    let api_version = rt.api_version();
                    let actor = actor(rt, &api_version, ctx, &now);
                    fields::record_update(Some(&old), &mut new, &actor);
                } else {
                    // The managed fields were computed by server-side apply; drop fields that
                    // a reset (status) removed.
                    let present = fields::FieldSet::of(&new, false);
                    let mut ms = fields::managers_of(&new);
                    for m in &mut ms {
                        m.fields.0.retain(|p| present.0.contains(p));
                    }
                    fields::set_managers(&mut new, &ms);
                }
                if ctx.dry_run {
                    return Ok(new);
                }
                if is_terminating(&old) && finalizers(&new).is_empty() {
                    let gone = inner.remove(rt.storage_key(), ns, name);
                    inner.gc(self);
                    self.flush(inner);
                    return Ok(gone.map(|g| (*g).clone()).unwrap_or(new));
                }
                // Nothing changed: no new resourceVersion (as the real server).
                let mut cmp_old = old.clone();
                let mut cmp_new = new.clone();
                for o in [&mut cmp_old, &mut cmp_new] {
                    let m = meta_mut(o);
                    m.remove("resourceVersion");
                    m.remove("managedFields");
                }
                if cmp_old == cmp_new {
                    return Ok(old);
                }
                let stored = inner.put(rt, crate::convert::to_storage(rt, new), Some(old));
                self.after_write(&mut inner, rt, &stored);
                let out = with_version(&stored, rt);
                self.flush(inner);
                Ok(out)
            }
        }
    }

    fn after_write(&self, inner: &mut Inner, rt: &ResourceType, obj: &Value) {
        if rt.group == "apiextensions.k8s.io" && rt.resource == "customresourcedefinitions" {
            let types = crate::resources::from_crd(obj);
            let group = obj["spec"]["group"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let plural = obj["spec"]["names"]["plural"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            inner.registry.set_crd(&group, &plural, types);
        }
        let has_owners = obj["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|a| !a.is_empty());
        if has_owners || is_terminating(obj) {
            inner.gc(self);
        }
    }
}

/// The replacement `new` of `old` as [`Store::modify`] stores it, before defaults and
/// validation: the name and kind must match, a resourceVersion must be the current one, the
/// metadata the server owns is kept, the status follows the subresource written, and the
/// generation moves when the spec does.
fn updated_object(
    rt: &ResourceType,
    name: &str,
    ctx: &WriteCtx,
    old: &Value,
    mut new: Value,
    record: bool,
) -> Result<Value, ApiError> {
    // Identity and preconditions.
    let new_name = str_at(&new, "metadata.name");
    if !new_name.is_empty() && new_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({new_name}) does not match the name on the URL ({name})"
        )));
    }
    let kind = new["kind"].as_str().unwrap_or_default();
    if !kind.is_empty() && kind != rt.kind {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: kind mismatch",
            kind, rt.version, rt.kind
        )));
    }
    let new_rv = str_at(&new, "metadata.resourceVersion");
    if !new_rv.is_empty() && new_rv != str_at(old, "metadata.resourceVersion") {
        return Err(ApiError::conflict(
            &rt.group,
            &rt.resource,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        ));
    }
    if new_rv.is_empty() && ctx.subresource.is_empty() && !record_allows_unconditional(rt) && record
    {
        // Real PUTs without resourceVersion are unconditional for most kinds.
    }
    {
        let meta = meta_mut(&mut new);
        for k in [
            "uid",
            "creationTimestamp",
            "namespace",
            "name",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ] {
            match old["metadata"].get(k) {
                Some(v) => {
                    meta.insert(k.into(), v.clone());
                }
                None => {
                    meta.remove(k);
                }
            }
        }
    }
    new["apiVersion"] = json!(rt.api_version());
    new["kind"] = json!(rt.kind);
    // Subresource semantics.
    if ctx.subresource == "status" {
        let mut merged = old.clone();
        match new.get("status") {
            Some(s) => merged["status"] = s.clone(),
            None => {
                merged.as_object_mut().expect("object").remove("status");
            }
        }
        if let Some(mf) = new["metadata"].get("managedFields") {
            merged["metadata"]["managedFields"] = mf.clone();
        }
        new = merged;
    } else if rt.has_subresource("status") {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                new.as_object_mut().expect("object").remove("status");
            }
        }
    }
    if rt.tracks_generation() && without_meta_and_status(old) != without_meta_and_status(&new) {
        let g = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        new["metadata"]["generation"] = json!(g);
    }
    Ok(new)
}

/// A decision of [`Store::modify`].
pub enum Modification {
    /// Store this object as a replacement; `true` records managed fields as an Update.
    Update(Value, bool),
    /// Create this object (server-side apply of something absent).
    Create(Value),
}

fn record_allows_unconditional(_rt: &ResourceType) -> bool {
    true
}

fn actor<'a>(
    rt: &ResourceType,
    api_version: &'a str,
    ctx: &'a WriteCtx,
    now: &'a str,
) -> WriteActor<'a> {
    WriteActor {
        manager: if ctx.manager.is_empty() {
            "unknown"
        } else {
            &ctx.manager
        },
        api_version,
        subresource: &ctx.subresource,
        time: now,
        skip_status: rt.has_subresource("status"),
    }
}

fn check_crd_names(reg: &Registry, crd: &Value) -> Result<(), ApiError> {
    let group = crd["spec"]["group"].as_str().unwrap_or_default();
    if reg.is_builtin_group(group) {
        return Err(ApiError::invalid(
            "apiextensions.k8s.io",
            "CustomResourceDefinition",
            str_at(crd, "metadata.name"),
            vec![(
                "spec.group".into(),
                format!("Invalid value: {group:?}: cannot be a built-in API group"),
                "FieldValueInvalid",
            )],
        ));
    }
    Ok(())
}

impl Inner {
    /// What the service-account controller does for a new namespace.
    fn create_default_service_account(&mut self, ns: &str) {
        if self.get("/serviceaccounts", ns, "default").is_some() {
            return;
        }
        let Some(sa_rt) = self.registry.find("", "v1", "serviceaccounts").cloned() else {
            return;
        };
        let now = now_rfc3339();
        let mut sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": ns, "uid": util::new_uid(), "creationTimestamp": now}});
        let a = WriteActor {
            manager: "kube-controller-manager",
            api_version: "v1",
            subresource: "",
            time: &now,
            skip_status: false,
        };
        fields::record_update(None, &mut sa, &a);
        self.put(&sa_rt, sa, None);
    }

    /// The node ports that the Services stored under `key` hold, but for `except`.
    fn node_ports(
        &self,
        key: &str,
        except: Option<(&str, &str)>,
    ) -> std::collections::BTreeSet<i64> {
        self.objects
            .get(key)
            .into_iter()
            .flatten()
            .filter(|((ns, name), _)| except != Some((ns.as_str(), name.as_str())))
            .flat_map(|(_, svc)| svc["spec"]["ports"].as_array().cloned().unwrap_or_default())
            .filter_map(|p| p["nodePort"].as_i64())
            .collect()
    }
}
