//! The OpenAPI v3 documents kubectl reads: an index of group-versions and, per
//! group-version, the paths with their operations. Enough for kubectl's check that the
//! server supports `fieldValidation` (so validation happens on the server); schemas are
//! open (`x-kubernetes-preserve-unknown-fields`).

use crate::resources::{Registry, ResourceType};
use serde_json::{Map, Value, json};

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
        let doc = document(reg, &g, &v);
        let h = hash(&doc.to_string());
        let p = gv_path(&g, &v);
        paths.insert(
            p.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{p}?hash={h}")}),
        );
    }
    json!({ "paths": paths })
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

fn query_param(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

/// `/openapi/v3/<gv path>`: one document per group-version.
pub fn document(reg: &Registry, group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let base = format!("/{}", gv_path(group, version));
    for rt in reg
        .all()
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        let gvk = json!({"group": rt.group, "version": rt.version, "kind": rt.kind});
        let sname = schema_name(rt);
        let reference = json!({"$ref": format!("#/components/schemas/{sname}")});
        schemas.insert(
            sname.clone(),
            json!({
                "type": "object",
                "x-kubernetes-group-version-kind": [gvk.clone()],
                "x-kubernetes-preserve-unknown-fields": true,
                "properties": {
                    "apiVersion": {"type": "string"},
                    "kind": {"type": "string"},
                    "metadata": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                },
            }),
        );
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
