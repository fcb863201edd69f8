//! The OpenAPI v3 documents kubectl reads: an index of group-versions and, per
//! group-version, the paths with their operations (each PATCH declares `fieldValidation`,
//! so kubectl leaves validation to the server) and the schemas: the built-in kinds' real
//! schemas ([`crate::schemas`]) and each custom resource's from its CRD, so `kubectl
//! explain` works. A kind with neither has an open schema.
//!
//! PATCH request bodies are declared as `*/*`, not as strategic merge patches: kubectl
//! then computes its client-side apply patches from its own built-in types, as it does
//! against a real server whose schemas carry the patch extensions these lack.

use crate::resources::{Registry, ResourceType};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// `api/v1` or `apis/<group>/<version>`.
pub fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn hash(s: &str) -> String {
    // FNV-1a, hex: a stable content hash for the `hash` query kubectl caches by.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016X}")
}

/// `/openapi/v3`.
pub fn index(reg: &Registry) -> Value {
    let mut paths = Map::new();
    let mut gvs: Vec<(String, String)> = Vec::new();
    for r in reg.all() {
        let gv = (r.group.clone(), r.version.clone());
        if !gvs.contains(&gv) {
            gvs.push(gv);
        }
    }
    for (g, v) in gvs {
        let (_, h) = document_and_hash(reg, &g, &v);
        let p = gv_path(&g, &v);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={h}")}),
        );
    }
    json!({ "paths": paths })
}

/// Documents and hashes by group-version.
type DocumentCache = HashMap<(String, String), (Arc<Value>, String)>;

/// A group-version's document and its content hash; those of group-versions with only
/// built-in kinds never change and are made once.
pub fn document_and_hash(reg: &Registry, group: &str, version: &str) -> (Arc<Value>, String) {
    static BUILTIN: OnceLock<Mutex<DocumentCache>> = OnceLock::new();
    let make = || {
        let doc = document(reg, group, version);
        let h = hash(&doc.to_string());
        (Arc::new(doc), h)
    };
    let builtin_only = !reg
        .all()
        .iter()
        .any(|r| r.custom && r.group == group && r.version == version);
    if !builtin_only {
        return make();
    }
    let cache = BUILTIN.get_or_init(Default::default);
    let key = (group.to_string(), version.to_string());
    if let Some(found) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return found.clone();
    }
    let made = make();
    cache
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, made.clone());
    made
}

fn schema_name(rt: &ResourceType) -> String {
    let group = if rt.group.is_empty() {
        "core".to_string()
    } else {
        rt.group.clone()
    };
    let reversed: Vec<&str> = group.split('.').rev().collect();
    format!(
        "io.k8s.api.{}.{}.{}",
        reversed.join("."),
        rt.version,
        rt.kind
    )
}

/// The schema of a kind without a built-in one: a custom resource's from its CRD (with
/// `apiVersion`, `kind` and `metadata` as the real server adds them), else open.
fn kind_schema(rt: &ResourceType, gvk: &Value) -> Value {
    let mut s = match &rt.schema {
        Some(crd) => (**crd).clone(),
        None => json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
    };
    s["x-kubernetes-group-version-kind"] = json!([gvk]);
    s["type"] = json!("object");
    let props = &mut s["properties"];
    props["apiVersion"] = json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"});
    props["kind"] = json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"});
    props["metadata"] = json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true,
        "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"});
    s
}

fn query_param(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

/// `/openapi/v3/<gv path>`: one document per group-version.
pub fn document(reg: &Registry, group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let base = format!("/{}", gv_path(group, version));
    let builtin = crate::schemas::of(group, version);
    if let Some(b) = builtin {
        schemas.extend(b.schemas.clone());
    }
    for rt in reg
        .all()
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let gvk = json!({"group": rt.group, "version": rt.version, "kind": rt.kind});
        let known = builtin.and_then(|b| b.kinds.get(rt.kind.as_str()));
        let sname = known.cloned().unwrap_or_else(|| schema_name(rt));
        let reference = json!({"$ref": format!("#/components/schemas/{sname}")});
        if known.is_none() {
            schemas.insert(sname.clone(), kind_schema(rt, &gvk));
        }
        let body = json!({"content": {"*/*": {"schema": reference.clone()}}, "required": true});
        let ok = json!({"200": {"description": "OK", "content": {"application/json": {"schema": reference.clone()}}}});
        let write_params = vec![
            query_param("dryRun"),
            query_param("fieldManager"),
            query_param("fieldValidation"),
        ];
        let mut patch_params = write_params.clone();
        patch_params.push(json!({"name": "force", "in": "query", "schema": {"type": "boolean", "uniqueItems": true}}));
        let op = |verb: &str, params: &Vec<Value>, with_body: bool| {
            let mut o = json!({
                "operationId": format!("{verb}{}", rt.kind),
                "x-kubernetes-action": verb,
                "x-kubernetes-group-version-kind": gvk.clone(),
                "parameters": params,
                "responses": ok.clone(),
            });
            if with_body {
                o["requestBody"] = body.clone();
            }
            o
        };
        let item = if rt.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}/{{name}}", rt.resource)
        } else {
            format!("{base}/{}/{{name}}", rt.resource)
        };
        let collection = if rt.namespaced {
            format!("{base}/namespaces/{{namespace}}/{}", rt.resource)
        } else {
            format!("{base}/{}", rt.resource)
        };
        paths.insert(
            item.clone(),
            json!({
                "get": op("get", &vec![], false),
                "put": op("put", &write_params, true),
                "patch": op("patch", &patch_params, true),
                "delete": op("delete", &vec![query_param("dryRun")], false),
            }),
        );
        paths.insert(
            collection,
            json!({
                "get": op("list", &vec![], false),
                "post": op("post", &write_params, true),
                "delete": op("deletecollection", &vec![query_param("dryRun")], false),
            }),
        );
        for sub in &rt.subresources {
            paths.insert(
                format!("{item}/{sub}"),
                json!({
                    "get": op("get", &vec![], false),
                    "put": op("put", &write_params, true),
                    "patch": op("patch", &patch_params, true),
                }),
            );
        }
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": crate::KUBERNETES_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_operations_declare_field_validation_for_their_kind() {
        let reg = Registry::default();
        let doc = document(&reg, "apps", "v1");
        let p = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(p["x-kubernetes-group-version-kind"]["kind"], "Deployment");
        assert!(
            p["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|x| x["name"] == "fieldValidation")
        );
        let idx = index(&reg);
        assert!(
            idx["paths"]["apis/apps/v1"]["serverRelativeURL"]
                .as_str()
                .unwrap()
                .starts_with("/openapi/v3/apis/apps/v1?hash=")
        );
    }
}
