//! The HTTP API server: discovery, OpenAPI, CRUD, watch, patch and apply.

use crate::errors::{ApiError, success_status};
use crate::fields::{self, WriteActor};
use crate::kinds;
use crate::openapi;
use crate::patch;
use crate::resources::{Registry, ResourceType};
use crate::selector::{FieldSelector, LabelSelector};
use crate::store::{
    DeleteOpts, Deleted, EventType, ListOpts, Modification, Store, StoreEvent, WriteCtx, rv_of,
};
use crate::table;
use crate::util::{now_rfc3339, str_at};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// Shared state of the server.
pub struct App {
    pub store: Arc<Store>,
    pub addr: String,
    pub bookmark_interval: Duration,
    /// Injected faults and latency, when any.
    pub faults: Option<Arc<crate::faults::Faults>>,
    /// Every watch is closed after this long.
    pub watch_drop_after: Option<Duration>,
    /// Authentication (and RBAC authorization), when on.
    pub auth: Option<Arc<crate::auth::Authenticator>>,
    /// What `/metrics` reports.
    pub metrics: crate::metrics::Metrics,
    /// Simulated durations (the service proxy's `latency=`) are divided by this.
    pub speed: f64,
}

type Query = HashMap<String, String>;

fn parse_query(uri: &Uri) -> Query {
    uri.query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn json_response(code: u16, v: &Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::OK))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::to_vec(v).unwrap_or_default()))
        .expect("response")
}

fn json_bytes_response(body: Vec<u8>) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("response")
}

fn error_response(e: &ApiError) -> Response {
    json_response(e.code, &e.to_status())
}

fn text(code: u16, s: &str) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::OK))
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(s.to_string()))
        .expect("response")
}

fn not_found_path() -> ApiError {
    ApiError::new(404, "NotFound", "the server could not find the requested resource")
        .with_details(json!({"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}))
}

/// The entry point of every request. `peer` is the fingerprint of the client certificate
/// a TLS connection presented.
pub async fn handle(
    app: Arc<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    peer: Option<crate::auth::Fingerprint>,
    body: Bytes,
) -> Response {
    let q = parse_query(&uri);
    let labels = crate::metrics::RequestLabels::of(
        &method,
        uri.path().trim_end_matches('/'),
        truthy(&q, "watch"),
        q.get("dryRun").is_some_and(|d| d == "All"),
        content_type(&headers).starts_with("application/apply-patch"),
    );
    let request = app.metrics.start(labels);
    let response = serve(&app, method, uri, headers, peer, body).await;
    app.metrics.finish(request, response.status().as_u16());
    response
}

/// A request that is not too large, once counted.
async fn serve(
    app: &Arc<App>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    peer: Option<crate::auth::Fingerprint>,
    body: Bytes,
) -> Response {
    if let Some(faults) = &app.faults
        && let Some(fault) = faults.apply(uri.path()).await
    {
        return fault;
    }
    // Like the real server's anonymous access to public info (system:public-info-viewer):
    // the version and health endpoints need no credentials.
    let public = matches!(uri.path(), "/version" | "/healthz" | "/readyz" | "/livez");
    let caller = match &app.auth {
        Some(authn) if !public => match authn.authenticate(&headers, peer) {
            Some(who) => Some(who),
            None => return error_response(&ApiError::new(401, "Unauthorized", "Unauthorized")),
        },
        _ => None,
    };
    let caller = match caller.map(|who| impersonated(&app.store, who, &headers)) {
        Some(Ok(who)) => Some(who),
        Some(Err(e)) => return error_response(&e),
        None => None,
    };
    if let Some(who) = &caller {
        let attrs = crate::rbac::Attributes::of_request(
            &method,
            uri.path().trim_end_matches('/'),
            truthy(&parse_query(&uri), "watch"),
        );
        if let Err(e) = crate::rbac::authorize(&app.store, who, &attrs) {
            return error_response(&e);
        }
    }
    let path = uri.path().trim_end_matches('/').to_string();
    let q = parse_query(&uri);
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let reg = app.store.registry();
    let result = match segs.as_slice() {
        [] => Ok(json_response(
            200,
            &json!({"paths": ["/api", "/api/v1", "/apis", "/healthz", "/livez", "/readyz", "/version", "/openapi/v3"]}),
        )),
        ["version"] => Ok(json_response(200, &version())),
        ["healthz" | "livez" | "readyz", ..] => Ok(text(200, "ok")),
        ["metrics"] if method == Method::GET => Ok(Response::builder()
            .status(200)
            .header(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )
            .body(Body::from(app.metrics.render(&app.store)))
            .expect("response")),
        ["openapi", "v3"] => Ok(json_response(200, &openapi::index(&reg))),
        ["openapi", "v3", "api", v] => gv_doc(&reg, "", v),
        ["openapi", "v3", "apis", g, v] => gv_doc(&reg, g, v),
        ["openapi", "v2"] => Ok(openapi_v2(&headers)),
        ["api"] => Ok(json_response(
            200,
            &json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": app.addr}]}),
        )),
        ["apis"] => Ok(json_response(200, &group_list(&reg))),
        ["apis", g] => match reg.groups().into_iter().find(|(name, _)| name == g) {
            Some(group) => Ok(json_response(200, &api_group(&group.0, &group.1))),
            None => Err(not_found_path()),
        },
        [
            "api",
            "v1",
            "namespaces",
            ns,
            "serviceaccounts",
            name,
            "token",
        ] if method == Method::POST => token_request(app, &reg, ns, name, &headers, &body),
        ["api", "v1", "namespaces", ns, "services", id, "proxy", ..] => {
            // What follows `/proxy`, from the raw path (keeping a trailing slash).
            let raw = uri.path();
            let marker = format!("/services/{id}/proxy");
            let rest = raw
                .find(&marker)
                .map(|i| &raw[i + marker.len()..])
                .unwrap_or_default();
            // Clients may escape the `:` of `NAME:PORT` (`%3A`), as the Python client does.
            let decode = crate::registry::names::percent_decode;
            let (id, rest) = (decode(id), decode(rest));
            crate::proxy::serve(&app.store, app.speed, &method, ns, &id, &rest).await
        }
        ["api", "v1", rest @ ..] => {
            let who = caller.as_ref();
            resource_request(app, &reg, "", "v1", rest, &method, &q, &headers, body, who).await
        }
        ["apis", g, v, rest @ ..] => {
            let who = caller.as_ref();
            resource_request(app, &reg, g, v, rest, &method, &q, &headers, body, who).await
        }
        _ => Err(not_found_path()),
    };
    result.unwrap_or_else(|e| error_response(&e))
}

/// The answer to a body that could not be read: over the size limit, the real server's
/// `413 RequestEntityTooLarge` Status.
pub fn body_rejected(
    rejected: &axum::extract::rejection::BytesRejection,
    limit: usize,
) -> Response {
    if rejected.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return error_response(&ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {limit}"),
        ));
    }
    error_response(&ApiError::bad_request(rejected.body_text()))
}

/// The identity a request acts as: the caller, or whom it impersonates when the caller
/// may (`403` naming the `impersonate` right otherwise, as the real server answers).
fn impersonated(
    store: &Store,
    caller: crate::auth::Identity,
    headers: &HeaderMap,
) -> Result<crate::auth::Identity, ApiError> {
    match crate::auth::impersonation(headers) {
        Ok(None) => Ok(caller),
        Ok(Some((target, checks))) => {
            for attrs in &checks {
                crate::rbac::authorize(store, &caller, attrs)?;
            }
            Ok(target)
        }
        Err(message) => Err(ApiError::bad_request(message)),
    }
}

/// `/openapi/v2`: an empty document. kubectl falls back to it for kinds the v3 documents
/// do not list and skips client-side validation of kinds it does not describe, so that an
/// unknown kind reaches the real "no matches for kind" error.
fn openapi_v2(headers: &HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains("protobuf") {
        // A protobuf `openapi_v2.Document` with no fields set.
        return Response::builder()
            .status(StatusCode::OK)
            .header(
                header::CONTENT_TYPE,
                "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            )
            .body(Body::empty())
            .expect("response");
    }
    json_response(
        200,
        &json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": crate::KUBERNETES_VERSION}, "paths": {}}),
    )
}

fn version() -> Value {
    let v = crate::KUBERNETES_VERSION;
    let minor = v.split('.').nth(1).unwrap_or("0");
    json!({
        "major": "1", "minor": minor, "gitVersion": v,
        "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
        "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.0", "compiler": "gc",
        "platform": "linux/amd64",
    })
}

fn gv_doc(reg: &Registry, g: &str, v: &str) -> Result<Response, ApiError> {
    if !reg.has_group_version(g, v) {
        return Err(not_found_path());
    }
    Ok(json_response(200, &openapi::document_and_hash(reg, g, v).0))
}

fn api_group(name: &str, versions: &[String]) -> Value {
    let vs: Vec<Value> = versions
        .iter()
        .map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v}))
        .collect();
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": name, "versions": vs, "preferredVersion": vs[0]})
}

fn group_list(reg: &Registry) -> Value {
    let groups: Vec<Value> = reg
        .groups()
        .iter()
        .map(|(g, vs)| {
            let mut v = api_group(g, vs);
            v.as_object_mut().expect("object").remove("kind");
            v.as_object_mut().expect("object").remove("apiVersion");
            v
        })
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

fn resource_list(reg: &Registry, group: &str, version: &str) -> Value {
    let mut resources = Vec::new();
    for r in reg
        .all()
        .iter()
        .filter(|r| r.group == group && r.version == version)
    {
        resources.push(r.discovery());
        resources.extend(r.discovery_subresources());
    }
    let gv = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}

/// Which object(s) a resource path designates.
struct Target<'a> {
    rt: ResourceType,
    ns: Option<String>,
    name: Option<&'a str>,
    sub: Option<&'a str>,
}

fn parse_target<'a>(
    reg: &Registry,
    g: &str,
    v: &str,
    rest: &[&'a str],
) -> Result<Target<'a>, ApiError> {
    let find = |res: &str| reg.find(g, v, res).cloned().ok_or_else(not_found_path);
    let t = match rest {
        ["namespaces", ns, res, tail @ ..]
            if !(g.is_empty() && matches!(*res, "status" | "finalize")) =>
        {
            let rt = find(res)?;
            if !rt.namespaced {
                return Err(not_found_path());
            }
            match tail {
                [] => Target {
                    rt,
                    ns: Some(ns.to_string()),
                    name: None,
                    sub: None,
                },
                [name] => Target {
                    rt,
                    ns: Some(ns.to_string()),
                    name: Some(name),
                    sub: None,
                },
                [name, sub] => Target {
                    rt,
                    ns: Some(ns.to_string()),
                    name: Some(name),
                    sub: Some(sub),
                },
                _ => return Err(not_found_path()),
            }
        }
        [res] => Target {
            rt: find(res)?,
            ns: None,
            name: None,
            sub: None,
        },
        [res, name] => {
            let rt = find(res)?;
            if rt.namespaced {
                return Err(not_found_path());
            }
            Target {
                rt,
                ns: None,
                name: Some(name),
                sub: None,
            }
        }
        [res, name, sub] => {
            let rt = find(res)?;
            if rt.namespaced {
                return Err(not_found_path());
            }
            Target {
                rt,
                ns: None,
                name: Some(name),
                sub: Some(sub),
            }
        }
        _ => return Err(not_found_path()),
    };
    if let Some(sub) = t.sub
        && !t.rt.has_subresource(sub)
    {
        return Err(not_found_path());
    }
    Ok(t)
}

fn truthy(q: &Query, k: &str) -> bool {
    q.get(k).is_some_and(|v| v == "true" || v == "1")
}

/// `dryRun`, checked as the real server checks a verb's options (`CreateOptions`,
/// `UpdateOptions`, `PatchOptions`, `DeleteOptions`): anything but `All` is a 422.
fn dry_run(q: &Query, options: &str) -> Result<bool, ApiError> {
    match q.get("dryRun").map(String::as_str) {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(invalid_options(
            options,
            "dryRun",
            format!("Unsupported value: []string{{{other:?}}}: supported values: \"All\""),
            "FieldValueNotSupported",
        )),
    }
}

/// The resourceVersion a list reads at (`None`: the objects as they are now), from its
/// `resourceVersion`, `resourceVersionMatch`, `continue` and `limit`, validated as the real
/// server validates `ListOptions`. `NotOlderThan` (and `Exact`) a version the store has
/// not reached waits for it a few seconds, then answers `504` as the real server does.
async fn list_resource_version(
    store: &crate::Store,
    q: &Query,
    limit: Option<usize>,
) -> Result<Option<u64>, ApiError> {
    let param = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    let (rv, matching, cont) = (
        param("resourceVersion"),
        param("resourceVersionMatch"),
        param("continue"),
    );
    let mut causes: Vec<(String, String, &'static str)> = Vec::new();
    let mut forbid = |message: &str| {
        causes.push((
            "resourceVersionMatch".into(),
            format!("Forbidden: {message}"),
            "FieldValueForbidden",
        ))
    };
    if !matching.is_empty() {
        if rv.is_empty() {
            forbid("resourceVersionMatch is forbidden unless resourceVersion is provided");
        }
        if !cont.is_empty() {
            forbid("resourceVersionMatch is forbidden when continue is provided");
        }
        if matching == "Exact" && rv == "0" {
            forbid("resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"");
        }
        if matching != "Exact" && matching != "NotOlderThan" {
            causes.push((
                "resourceVersionMatch".into(),
                format!("Unsupported value: {matching:?}: supported values: \"Exact\", \"NotOlderThan\", \"\""),
                "FieldValueNotSupported",
            ));
        }
    }
    if truthy(q, "sendInitialEvents") {
        causes.push((
            "sendInitialEvents".into(),
            "Forbidden: sendInitialEvents is forbidden for list".into(),
            "FieldValueForbidden",
        ));
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid("meta.k8s.io", "ListOptions", "", causes));
    }
    if !cont.is_empty() {
        if !rv.is_empty() && rv != "0" {
            return Err(ApiError::bad_request(
                "specifying resource version is not allowed when using continue",
            ));
        }
        return Ok(None);
    }
    if rv.is_empty() || rv == "0" {
        return Ok(None);
    }
    let n: u64 = rv.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "resourceVersion: Invalid value: {rv:?}: strconv.ParseUint: parsing {rv:?}: invalid syntax"
        ))
    })?;
    // Without a match, a version with a limit is read exactly (the legacy semantics).
    let exact = matching == "Exact" || (matching.is_empty() && limit.is_some());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while store.current_rv() < n {
        if tokio::time::Instant::now() >= deadline {
            return Err(crate::store::too_large_resource_version(
                n,
                store.current_rv(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(exact.then_some(n))
}

/// The answer to a request whose options (not its object) are wrong.
fn invalid_options(options: &str, field: &str, message: String, reason: &'static str) -> ApiError {
    ApiError::invalid(
        "meta.k8s.io",
        options,
        "",
        vec![(field.into(), message, reason)],
    )
}

fn manager(q: &Query, headers: &HeaderMap) -> String {
    if let Some(m) = q.get("fieldManager").filter(|m| !m.is_empty()) {
        return m.clone();
    }
    headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.split('/').next().unwrap_or(ua).to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn parse_body(ct: &str, body: &Bytes) -> Result<Value, ApiError> {
    if ct == "application/vnd.kubernetes.protobuf" {
        return crate::proto::decode(body).map_err(|e| {
            ApiError::unsupported_media_type(ct, &["application/json", "application/yaml"])
                .with_details(json!({"causes": [{"reason": "UnsupportedMediaType", "message": e}]}))
        });
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("request body is not UTF-8"))?;
    if ct.contains("json") {
        serde_json::from_str(text)
            .map_err(|e| ApiError::bad_request(format!("error decoding request body: {e}")))
    } else {
        match serde_json::from_str(text) {
            Ok(v) => Ok(v),
            Err(_) => crate::yaml::parse(text)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}"))),
        }
    }
}

fn accepts_table(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"))
}

fn accepts_partial(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=PartialObjectMetadata"))
}

/// Checks `fieldValidation` against the body; returns warnings for `Warn`.
fn field_validation(rt: &ResourceType, q: &Query, obj: &Value) -> Result<Vec<String>, ApiError> {
    let mode = q
        .get("fieldValidation")
        .map(String::as_str)
        .unwrap_or("Warn");
    if mode == "Ignore" {
        return Ok(vec![]);
    }
    if !matches!(mode, "Strict" | "Warn") {
        return Err(ApiError::bad_request(format!(
            "fieldValidation parameter unsupported value: {mode:?}, valid values are: \"Ignore\", \"Warn\", \"Strict\""
        )));
    }
    let unknown = kinds::unknown_fields(rt, obj);
    if unknown.is_empty() {
        return Ok(vec![]);
    }
    let described: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    if mode == "Strict" {
        return Err(ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: strict decoding error: {}",
            rt.kind,
            rt.version,
            rt.kind,
            described.join(", ")
        )));
    }
    Ok(described)
}

fn with_warnings(mut r: Response, warnings: &[String]) -> Response {
    for w in warnings {
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{}\"", w.replace('"', "\\\""))) {
            r.headers_mut().append(header::WARNING, v);
        }
    }
    r
}

fn check_identity(rt: &ResourceType, obj: &Value, ns: Option<&str>) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    let api_version = obj["apiVersion"].as_str().unwrap_or_default();
    if !api_version.is_empty() && api_version != rt.api_version() {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            rt.api_version()
        )));
    }
    let kind = obj["kind"].as_str().unwrap_or_default();
    if !kind.is_empty() && kind != rt.kind {
        return Err(ApiError::bad_request(format!(
            "{kind} in version \"{}\" cannot be handled as a {}: no kind \"{kind}\" is registered for version \"{}\"",
            rt.version,
            rt.kind,
            rt.api_version()
        )));
    }
    if let Some(ns) = ns {
        let body_ns = str_at(obj, "metadata.namespace");
        if rt.namespaced && !body_ns.is_empty() && body_ns != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn resource_request(
    app: &Arc<App>,
    reg: &Registry,
    g: &str,
    v: &str,
    rest: &[&str],
    method: &Method,
    q: &Query,
    headers: &HeaderMap,
    body: Bytes,
    caller: Option<&crate::auth::Identity>,
) -> Result<Response, ApiError> {
    if rest.is_empty() {
        if g.is_empty() || reg.has_group_version(g, v) {
            return Ok(json_response(200, &resource_list(reg, g, v)));
        }
        return Err(not_found_path());
    }
    if let ["namespaces", ns, "pods", name, "log"] = rest
        && g.is_empty()
        && *method == Method::GET
    {
        return pod_log(app, reg, ns, name, q);
    }
    let t = parse_target(reg, g, v, rest)?;
    let store = &app.store;
    let rt = &t.rt;
    let ns = t.ns.clone().unwrap_or_default();
    let table_wanted = accepts_table(headers);
    let include = q
        .get("includeObject")
        .map(String::as_str)
        .unwrap_or("PartialObjectMetadata")
        .to_string();
    if crate::reviews::is_review(rt) && (method != Method::POST || t.name.is_some()) {
        return Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        ));
    }
    match (method.clone(), t.name, t.sub) {
        (Method::GET, None, None) => {
            let labels =
                LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or(""))
                    .map_err(ApiError::bad_request)?;
            let fields =
                FieldSelector::parse(q.get("fieldSelector").map(String::as_str).unwrap_or(""))
                    .map_err(ApiError::bad_request)
                    .and_then(|f| crate::field_labels::resolve(rt, f))?;
            if truthy(q, "watch") {
                return watch(
                    app,
                    rt.clone(),
                    t.ns.clone(),
                    labels,
                    fields,
                    q,
                    table_wanted,
                    include,
                );
            }
            let limit = q
                .get("limit")
                .and_then(|l| l.parse::<usize>().ok())
                .filter(|l| *l > 0);
            let resource_version = list_resource_version(store, q, limit).await?;
            let opts = ListOpts {
                labels,
                fields,
                limit,
                continue_token: q.get("continue").cloned(),
                resource_version,
            };
            let page = store.list(rt, t.ns.as_deref(), &opts)?;
            let rv = page.resource_version.to_string();
            let objs: Vec<&Value> = page.items.iter().map(|a| a.as_ref()).collect();
            if table_wanted {
                let body = table::table_json(
                    rt,
                    &objs,
                    &rv,
                    &include,
                    page.continue_token.as_deref(),
                    page.remaining,
                );
                return Ok(json_bytes_response(body));
            }
            let partial = accepts_partial(headers);
            let mut meta = json!({"resourceVersion": rv});
            if let Some(c) = &page.continue_token {
                meta["continue"] = json!(c);
            }
            if let Some(r) = page.remaining {
                meta["remainingItemCount"] = json!(r);
            }
            let (kind, api_version) = if partial {
                (
                    "PartialObjectMetadataList".to_string(),
                    "meta.k8s.io/v1".to_string(),
                )
            } else {
                (format!("{}List", rt.kind), rt.api_version())
            };
            // Written with the items by reference: a large list is not copied first.
            let mut body = Vec::with_capacity(objs.len() * 2048 + 256);
            body.extend_from_slice(b"{\"kind\":");
            table::write_json(&mut body, &json!(kind));
            body.extend_from_slice(b",\"apiVersion\":");
            table::write_json(&mut body, &json!(api_version));
            body.extend_from_slice(b",\"metadata\":");
            table::write_json(&mut body, &meta);
            body.extend_from_slice(b",\"items\":[");
            for (i, o) in objs.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                if partial {
                    table::write_json(&mut body, &table::partial_metadata(o));
                } else {
                    table::write_json(&mut body, o);
                }
            }
            body.extend_from_slice(b"]}");
            Ok(json_bytes_response(body))
        }
        (Method::GET, Some(name), sub) => {
            let obj = store.get(rt, &ns, name)?;
            let obj = match sub {
                Some("scale") => to_scale(rt, &obj),
                _ => obj,
            };
            if table_wanted && sub.is_none() {
                let rv = str_at(&obj, "metadata.resourceVersion").to_string();
                return Ok(json_response(
                    200,
                    &table::table(rt, &[&obj], &rv, &include, None),
                ));
            }
            if accepts_partial(headers) {
                return Ok(json_response(200, &table::partial_metadata(&obj)));
            }
            Ok(json_response(200, &obj))
        }
        (Method::POST, None, None) => {
            if rt.namespaced && t.ns.is_none() {
                return Err(ApiError::method_not_allowed(
                    "the server does not allow this method on the requested resource",
                ));
            }
            let ct = content_type(headers);
            if crate::reviews::is_review(rt) {
                // kubectl sends reviews as protobuf (decoded in `proto`); a body that cannot
                // be read is answered as an empty question.
                dry_run(q, "CreateOptions")?;
                let question = parse_body(&ct, &body).unwrap_or_else(|_| json!({}));
                let judge = caller
                    .zip(app.auth.as_deref())
                    .map(|(who, authn)| crate::reviews::Judge { store, authn, who });
                return Ok(json_response(
                    201,
                    &crate::reviews::answer(rt, &question, judge.as_ref()),
                ));
            }
            let obj = parse_body(&ct, &body)?;
            check_identity(rt, &obj, t.ns.as_deref())?;
            let warnings = field_validation(rt, q, &obj)?;
            let ctx = WriteCtx {
                manager: manager(q, headers),
                dry_run: dry_run(q, "CreateOptions")?,
                subresource: String::new(),
            };
            let created = store.create(rt, &ns, obj, &ctx)?;
            Ok(with_warnings(json_response(201, &created), &warnings))
        }
        (Method::PUT, Some(name), sub) => {
            let ct = content_type(headers);
            let obj = parse_body(&ct, &body)?;
            let ctx = WriteCtx {
                manager: manager(q, headers),
                dry_run: dry_run(q, "UpdateOptions")?,
                subresource: sub.unwrap_or("").into(),
            };
            if sub == Some("scale") {
                let replicas = obj["spec"]["replicas"].as_i64().unwrap_or(0);
                let rv = str_at(&obj, "metadata.resourceVersion").to_string();
                let updated = scale_to(store, rt, &ns, name, replicas, &rv, &ctx)?;
                return Ok(json_response(200, &to_scale(rt, &updated)));
            }
            check_identity(rt, &obj, t.ns.as_deref())?;
            let warnings = field_validation(rt, q, &obj)?;
            let updated = store.update(rt, &ns, name, obj, &ctx)?;
            Ok(with_warnings(json_response(200, &updated), &warnings))
        }
        (Method::PATCH, Some(name), sub) => {
            patch_request(store, rt, &ns, name, sub, q, headers, &body)
        }
        (Method::DELETE, Some(name), None) => {
            let (opts, warnings) = job_orphans_by_default(rt, delete_opts(q, &body)?);
            let response = match store.delete(rt, &ns, name, &opts)? {
                Deleted::Gone(obj) => {
                    if rt.custom {
                        json_response(200, &obj)
                    } else {
                        json_response(
                            200,
                            &success_status(
                                &rt.group,
                                &rt.resource,
                                name,
                                str_at(&obj, "metadata.uid"),
                            ),
                        )
                    }
                }
                Deleted::Terminating(obj) => {
                    let code = if opts.propagation.as_deref() == Some("Foreground") {
                        202
                    } else {
                        200
                    };
                    json_response(code, &obj)
                }
            };
            Ok(with_warnings(response, &warnings))
        }
        (Method::DELETE, None, None) => {
            let labels =
                LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or(""))
                    .map_err(ApiError::bad_request)?;
            let fields =
                FieldSelector::parse(q.get("fieldSelector").map(String::as_str).unwrap_or(""))
                    .map_err(ApiError::bad_request)
                    .and_then(|f| crate::field_labels::resolve(rt, f))?;
            let (opts, warnings) = job_orphans_by_default(rt, delete_opts(q, &body)?);
            let deleted = store.delete_collection(
                rt,
                t.ns.as_deref(),
                &ListOpts {
                    labels,
                    fields,
                    ..Default::default()
                },
                &opts,
            )?;
            Ok(with_warnings(
                json_response(
                    200,
                    &json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(),
                    "metadata": {"resourceVersion": store.current_rv().to_string()}, "items": deleted}),
                ),
                &warnings,
            ))
        }
        _ => Err(ApiError::method_not_allowed(
            "the server does not allow this method on the requested resource",
        )),
    }
}

/// `POST …/serviceaccounts/<name>/token` (TokenRequest, `kubectl create token`): a new
/// bearer token that authenticates as the ServiceAccount. Tokens are opaque (not JWTs)
/// and do not expire while the sandbox runs.
fn token_request(
    app: &App,
    reg: &Registry,
    ns: &str,
    name: &str,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let rt = reg
        .find("", "v1", "serviceaccounts")
        .cloned()
        .ok_or_else(not_found_path)?;
    app.store.get(&rt, ns, name)?;
    let Some(authn) = &app.auth else {
        return Err(ApiError::new(
            404,
            "NotFound",
            "the sandbox issues tokens only with authentication on (TLS or users)",
        ));
    };
    let request = parse_body(&content_type(headers), body).unwrap_or_else(|_| json!({}));
    let token = authn.issue_token(crate::auth::Identity::service_account(ns, name));
    let expiration = request["spec"]["expirationSeconds"]
        .as_i64()
        .unwrap_or(3600);
    let expires = crate::util::now_secs() + expiration.max(600);
    Ok(json_response(
        201,
        &json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": ns, "creationTimestamp": now_rfc3339()},
            "spec": {"audiences": request["spec"]["audiences"].as_array().cloned().unwrap_or_default(),
                     "expirationSeconds": expiration, "boundObjectRef": null},
            "status": {"token": token, "expirationTimestamp": crate::util::format_rfc3339(expires)},
        }),
    ))
}

/// A Job deleted without a propagation policy orphans its pods, as `batch/v1` has always
/// done, and the answer carries the real server's warning about it. (kubectl asks for
/// background propagation, so its `delete job` removes the pods.)
fn job_orphans_by_default(rt: &ResourceType, mut opts: DeleteOpts) -> (DeleteOpts, Vec<String>) {
    if rt.group == "batch" && rt.resource == "jobs" && opts.propagation.is_none() {
        opts.propagation = Some("Orphan".into());
        let warning = "child pods are preserved by default when jobs are deleted; set propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress this warning";
        return (opts, vec![warning.to_string()]);
    }
    (opts, Vec::new())
}

fn delete_opts(q: &Query, body: &Bytes) -> Result<DeleteOpts, ApiError> {
    let b: Value = if body.is_empty() {
        json!({})
    } else if body.starts_with(b"k8s\0") {
        crate::proto::decode(body).map_err(ApiError::bad_request)?
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("error decoding DeleteOptions: {e}")))?
    };
    let mut propagation = q
        .get("propagationPolicy")
        .cloned()
        .or_else(|| b["propagationPolicy"].as_str().map(str::to_string));
    let orphan = q
        .get("orphanDependents")
        .map(|v| v == "true")
        .or(b["orphanDependents"].as_bool());
    if propagation.is_none() && orphan == Some(true) {
        propagation = Some("Orphan".into());
    }
    let dry = dry_run(q, "DeleteOptions")?
        || b["dryRun"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "All"));
    let grace_period = match q.get("gracePeriodSeconds") {
        Some(g) => Some(g.parse::<i64>().map_err(|_| {
            ApiError::bad_request(format!("strconv.ParseInt: parsing {g:?}: invalid syntax"))
        })?),
        None => b["gracePeriodSeconds"].as_i64(),
    };
    Ok(DeleteOpts {
        propagation,
        dry_run: dry,
        grace_period: grace_period.map(|g| g.max(0)),
        precondition_uid: b["preconditions"]["uid"].as_str().map(str::to_string),
        precondition_rv: b["preconditions"]["resourceVersion"]
            .as_str()
            .map(str::to_string),
    })
}

// ---------------------------------------------------------------- scale

fn to_scale(rt: &ResourceType, obj: &Value) -> Value {
    let (spec_path, status_path, sel_path) =
        rt.scale_paths
            .clone()
            .unwrap_or(("spec.replicas".into(), "status.replicas".into(), None));
    let selector = match sel_path {
        Some(p) => crate::util::get_path(obj, &p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        None => obj["spec"]["selector"]["matchLabels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default(),
    };
    let spec_replicas = crate::util::get_path(obj, &spec_path)
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let status_replicas = crate::util::get_path(obj, &status_path)
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let m = &obj["metadata"];
    json!({
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {"name": m["name"], "namespace": m["namespace"], "uid": m["uid"],
            "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"]},
        "spec": {"replicas": spec_replicas},
        "status": {"replicas": status_replicas, "selector": selector},
    })
}

fn set_path(obj: &mut Value, path: &str, v: Value) {
    let mut cur = obj;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        if i == parts.len() - 1 {
            cur[*p] = v;
            return;
        }
        if !cur[*p].is_object() {
            cur[*p] = json!({});
        }
        cur = &mut cur[*p];
    }
}

fn scale_to(
    store: &Store,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    replicas: i64,
    rv: &str,
    ctx: &WriteCtx,
) -> Result<Value, ApiError> {
    if replicas < 0 {
        return Err(ApiError::invalid(
            "autoscaling",
            "Scale",
            name,
            vec![(
                "spec.replicas".into(),
                format!("Invalid value: {replicas}: must be greater than or equal to 0"),
                "FieldValueInvalid",
            )],
        ));
    }
    let spec_path = rt
        .scale_paths
        .as_ref()
        .map(|p| p.0.clone())
        .unwrap_or_else(|| "spec.replicas".into());
    let rv = rv.to_string();
    store.modify(rt, ns, name, ctx, |cur| {
        let cur = cur.ok_or_else(|| ApiError::not_found(&rt.group, &rt.resource, name))?;
        let mut new = cur.clone();
        if !rv.is_empty() {
            new["metadata"]["resourceVersion"] = json!(rv);
        }
        set_path(&mut new, &spec_path, json!(replicas));
        Ok(Modification::Update(new, true))
    })
}

// ---------------------------------------------------------------- patch

#[allow(clippy::too_many_arguments)]
fn patch_request(
    store: &Store,
    rt: &ResourceType,
    ns: &str,
    name: &str,
    sub: Option<&str>,
    q: &Query,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let ct = content_type(headers);
    const ACCEPTED: &[&str] = &[
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
    ];
    if !ACCEPTED.contains(&ct.as_str())
        || (rt.custom && ct == "application/strategic-merge-patch+json")
    {
        let accepted: Vec<&str> = ACCEPTED
            .iter()
            .copied()
            .filter(|a| !(rt.custom && *a == "application/strategic-merge-patch+json"))
            .collect();
        return Err(ApiError::unsupported_media_type(&ct, &accepted));
    }
    let patch_body = parse_body(&ct, body)?;
    let dry = dry_run(q, "PatchOptions")?;
    if ct != "application/apply-patch+yaml" && q.contains_key("force") {
        return Err(invalid_options(
            "PatchOptions",
            "force",
            "Forbidden: may not be specified for non-apply patch".into(),
            "FieldValueForbidden",
        ));
    }
    let mgr = manager(q, headers);
    let sub = sub.unwrap_or("");
    let ctx = WriteCtx {
        manager: mgr.clone(),
        dry_run: dry,
        subresource: sub.into(),
    };
    let mut warnings = Vec::new();
    if ct != "application/json-patch+json" {
        warnings = field_validation(rt, q, &patch_body)?;
    }
    let invalid_patch = |e: String| ApiError::new(422, "Invalid", e);
    if ct == "application/apply-patch+yaml" {
        if q.get("fieldManager").is_none_or(|m| m.is_empty()) {
            return Err(invalid_options(
                "PatchOptions",
                "fieldManager",
                "Required value: is required for apply patch".into(),
                "FieldValueRequired",
            ));
        }
        if sub == "scale" {
            return Err(ApiError::unsupported_media_type(&ct, &ACCEPTED[..3]));
        }
        check_identity(rt, &patch_body, Some(ns))?;
        if patch_body["apiVersion"].as_str().unwrap_or("").is_empty()
            || patch_body["kind"].as_str().unwrap_or("").is_empty()
        {
            return Err(ApiError::bad_request(
                "apiVersion and kind must be set in an apply configuration",
            ));
        }
        let body_name = str_at(&patch_body, "metadata.name");
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let force = truthy(q, "force");
        let now = now_rfc3339();
        let api_version = rt.api_version();
        let actor = WriteActor {
            manager: &mgr,
            api_version: &api_version,
            subresource: sub,
            time: &now,
            skip_status: rt.has_subresource("status") && sub != "status",
        };
        let mut created = false;
        let out = store.modify(rt, ns, name, &ctx, |cur| {
            let merged = fields::server_side_apply(cur, &patch_body, &actor, force).map_err(|conflicts| {
                let causes: Vec<Value> = conflicts
                    .iter()
                    .map(|c| json!({"reason": "FieldManagerConflict", "message": format!("conflict with {}", c.manager), "field": c.path}))
                    .collect();
                ApiError::new(409, "Conflict", fields::conflict_message(&conflicts))
                    .with_details(json!({"causes": causes}))
            })?;
            match cur {
                None => {
                    created = true;
                    let mut m = merged;
                    m["metadata"]["name"] = json!(name);
                    Ok(Modification::Create(m))
                }
                Some(_) => Ok(Modification::Update(merged, false)),
            }
        })?;
        let code = if created { 201 } else { 200 };
        return Ok(with_warnings(json_response(code, &out), &warnings));
    }
    if sub == "scale" {
        let current = store.get(rt, ns, name)?;
        let scale = to_scale(rt, &current);
        let patched = apply_patch(&ct, &scale, &patch_body).map_err(invalid_patch)?;
        let replicas = patched["spec"]["replicas"].as_i64().unwrap_or(0);
        let rv = if patched["metadata"]["resourceVersion"] != scale["metadata"]["resourceVersion"] {
            str_at(&patched, "metadata.resourceVersion").to_string()
        } else {
            String::new()
        };
        let updated = scale_to(store, rt, ns, name, replicas, &rv, &ctx)?;
        return Ok(json_response(200, &to_scale(rt, &updated)));
    }
    let out = store.modify(rt, ns, name, &ctx, |cur| {
        let cur = cur.ok_or_else(|| ApiError::not_found(&rt.group, &rt.resource, name))?;
        let patched = apply_patch(&ct, cur, &patch_body).map_err(invalid_patch)?;
        if !patched.is_object() {
            return Err(ApiError::bad_request(
                "the patched object is not a JSON object",
            ));
        }
        Ok(Modification::Update(patched, true))
    })?;
    Ok(with_warnings(json_response(200, &out), &warnings))
}

fn apply_patch(ct: &str, cur: &Value, p: &Value) -> Result<Value, String> {
    match ct {
        "application/json-patch+json" => patch::json_patch(cur, p),
        "application/merge-patch+json" => Ok(patch::merge_patch(cur, p)),
        _ => patch::strategic_merge_patch(cur, p),
    }
}

// ---------------------------------------------------------------- watch

struct WatchFilter {
    ns: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl WatchFilter {
    fn matches(&self, o: &Value) -> bool {
        self.ns
            .as_deref()
            .is_none_or(|n| str_at(o, "metadata.namespace") == n)
            && self.labels.matches(o)
            && self.fields.matches(o)
    }

    /// The event type a watcher with this filter sees, if any.
    fn translate(&self, ev: &StoreEvent) -> Option<&'static str> {
        let now = self.matches(&ev.object);
        let before = ev.previous.as_ref().is_some_and(|p| self.matches(p));
        match ev.event_type {
            EventType::Added => now.then_some("ADDED"),
            EventType::Modified => match (before, now) {
                (true, true) => Some("MODIFIED"),
                (false, true) => Some("ADDED"),
                (true, false) => Some("DELETED"),
                (false, false) => None,
            },
            EventType::Deleted => (before || now).then_some("DELETED"),
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn watch(
    app: &Arc<App>,
    rt: ResourceType,
    ns: Option<String>,
    labels: LabelSelector,
    fields: FieldSelector,
    q: &Query,
    as_table: bool,
    include: String,
) -> Result<Response, ApiError> {
    let rv_param = q.get("resourceVersion").cloned().unwrap_or_default();
    let send_initial = truthy(q, "sendInitialEvents");
    let bookmarks = truthy(q, "allowWatchBookmarks");
    let matching = q
        .get("resourceVersionMatch")
        .map(String::as_str)
        .unwrap_or("");
    let mut causes: Vec<(String, String, &'static str)> = Vec::new();
    if send_initial && matching != "NotOlderThan" {
        causes.push((
            "resourceVersionMatch".into(),
            "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"
                .into(),
            "FieldValueForbidden",
        ));
    }
    if !matching.is_empty() {
        if !q.contains_key("sendInitialEvents") {
            causes.push((
                "resourceVersionMatch".into(),
                "Forbidden: resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided".into(),
                "FieldValueForbidden",
            ));
        }
        if matching != "NotOlderThan" {
            causes.push((
                "resourceVersionMatch".into(),
                format!("Unsupported value: {matching:?}: supported values: \"NotOlderThan\""),
                "FieldValueNotSupported",
            ));
        }
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid("meta.k8s.io", "ListOptions", "", causes));
    }
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(30 * 60));
    let timeout = app.watch_drop_after.map_or(timeout, |d| timeout.min(d));
    let from_rv =
        if send_initial || rv_param.is_empty() || rv_param == "0" {
            None
        } else {
            Some(rv_param.parse::<u64>().map_err(|_| {
                ApiError::bad_request(format!("invalid resource version {rv_param:?}"))
            })?)
        };
    let filter = WatchFilter {
        ns: ns.clone(),
        labels,
        fields,
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(256);
    let line = move |ty: &str, obj: &Value, rt: &ResourceType| -> Bytes {
        let object = if as_table && ty != "BOOKMARK" && ty != "ERROR" {
            let rv = str_at(obj, "metadata.resourceVersion").to_string();
            table::table(rt, &[obj], &rv, &include, None)
        } else {
            obj.clone()
        };
        let mut s = serde_json::to_vec(&json!({"type": ty, "object": object})).unwrap_or_default();
        s.push(b'\n');
        Bytes::from(s)
    };
    let start = match app.store.watch(&rt, ns.as_deref(), from_rv) {
        Ok(s) => s,
        Err(e) if e.code == 410 => {
            // Too old: HTTP 200 and an ERROR event, as the real server.
            let _ = tx.try_send(line("ERROR", &e.to_status(), &rt));
            drop(tx);
            return Ok(stream_response(rx));
        }
        Err(e) => return Err(e),
    };
    let bookmark_interval = app.bookmark_interval;
    tokio::spawn(async move {
        let mut last_rv = start.rv;
        let mut receiver = start.receiver;
        let bookmark = |rv: u64, initial_end: bool| {
            let mut meta = json!({"resourceVersion": rv.to_string()});
            if initial_end {
                meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
            }
            json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": meta})
        };
        for obj in &start.initial {
            if filter.matches(obj) && tx.send(line("ADDED", obj, &rt)).await.is_err() {
                return;
            }
        }
        if send_initial
            && bookmarks
            && tx
                .send(line("BOOKMARK", &bookmark(start.rv, true), &rt))
                .await
                .is_err()
        {
            return;
        }
        for ev in &start.backlog {
            if let Some(ty) = filter.translate(ev)
                && tx
                    .send(line(ty, &crate::convert::to_served(&rt, &ev.object), &rt))
                    .await
                    .is_err()
            {
                return;
            }
            last_rv = last_rv.max(ev.rv);
        }
        let key = rt.storage_key();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(bookmark_interval);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                _ = ticker.tick(), if bookmarks => {
                    if tx.send(line("BOOKMARK", &bookmark(last_rv, false), &rt)).await.is_err() {
                        return;
                    }
                }
                ev = receiver.recv() => match ev {
                    Ok(ev) => {
                        if ev.rv <= last_rv {
                            continue;
                        }
                        last_rv = ev.rv;
                        if ev.storage_key != key {
                            continue;
                        }
                        if let Some(ty) = filter.translate(&ev) {
                            let obj = crate::convert::to_served(&rt, &ev.object);
                            if tx.send(line(ty, &obj, &rt)).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        let e = ApiError::gone("too old resource version: the watch fell behind");
                        let _ = tx.send(line("ERROR", &e.to_status(), &rt)).await;
                        return;
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        }
    });
    Ok(stream_response(rx))
}

fn stream_response(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Response {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::io::Error>(b), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-cache, private")
        .body(Body::from_stream(stream))
        .expect("response")
}

/// The resourceVersion helper re-exported for tests.
pub fn object_rv(obj: &Value) -> u64 {
    rv_of(obj)
}

/// `GET /api/v1/namespaces/{ns}/pods/{name}/log`: the simulated container's lines, kept
/// by the node (`crate::node::logs`). Honours `container`, `previous` and `tailLines`.
/// The ID of `container`'s running instance in `pod`'s status, if it runs.
fn running_container_id<'a>(pod: &'a Value, container: &str) -> Option<&'a str> {
    pod["status"]["containerStatuses"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == container)
        .filter(|c| c["state"]["running"].is_object())
        .and_then(|c| c["containerID"].as_str())
}

/// `kubectl logs -f`: the running container's log, then its new lines as they come, until
/// that instance of the container ends (it exits, or the pod goes), as a kubelet streams it.
fn follow_log(
    app: &Arc<App>,
    pods: ResourceType,
    ns: &str,
    name: &str,
    pod: &Value,
    container: String,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let store = app.store.clone();
    let (ns, name) = (ns.to_string(), name.to_string());
    let uid = str_at(pod, "metadata.uid").to_string();
    let instance = running_container_id(pod, &container)
        .unwrap_or_default()
        .to_string();
    tokio::spawn(async move {
        let mut cursor = None;
        loop {
            // Read the store first: lines written before the container ended are sent.
            let still = store
                .get(&pods, &ns, &name)
                .ok()
                .filter(|p| str_at(p, "metadata.uid") == uid)
                .is_some_and(|p| running_container_id(&p, &container) == Some(instance.as_str()));
            let Some((text, at)) = crate::node::logs::follow(&uid, &container, cursor) else {
                return;
            };
            cursor = Some(at);
            if !text.is_empty() && tx.send(Bytes::from(text)).await.is_err() {
                return;
            }
            if !still {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut response = stream_response(rx);
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

fn pod_log(
    app: &Arc<App>,
    reg: &Registry,
    ns: &str,
    name: &str,
    q: &Query,
) -> Result<Response, ApiError> {
    let rt = reg.find("", "v1", "pods").ok_or_else(not_found_path)?;
    let pod = app.store.get(rt, ns, name)?;
    let container = match q.get("container").filter(|c| !c.is_empty()) {
        Some(c) => c.clone(),
        None => pod["spec"]["containers"][0]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    };
    let known = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["name"] == container.as_str());
    if !known {
        return Err(ApiError::bad_request(format!(
            "container {container} is not valid for pod {name}"
        )));
    }
    let previous = truthy(q, "previous");
    if truthy(q, "follow") && !previous && running_container_id(&pod, &container).is_some() {
        return Ok(follow_log(app, rt.clone(), ns, name, &pod, container));
    }
    let Some(mut out) = crate::node::logs(&pod, Some(&container), previous) else {
        if previous {
            return Err(ApiError::bad_request(format!(
                "previous terminated container \"{container}\" in pod \"{name}\" not found"
            )));
        }
        let waiting = pod["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["name"] == container.as_str())
            .and_then(|c| c["state"]["waiting"]["reason"].as_str())
            .unwrap_or("ContainerCreating");
        let why = match waiting {
            "ErrImagePull" | "ImagePullBackOff" => "trying and failing to pull image",
            other => other,
        };
        return Err(ApiError::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {why}"
        )));
    };
    if let Some(n) = q.get("tailLines").and_then(|n| n.parse::<usize>().ok()) {
        let lines: Vec<&str> = out.lines().collect();
        out = lines[lines.len().saturating_sub(n)..]
            .iter()
            .map(|l| format!("{l}\n"))
            .collect();
    }
    Ok(text(200, &out))
}
