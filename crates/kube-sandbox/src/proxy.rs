//! The service proxy subresource: `/api/v1/namespaces/NS/services/[SCHEME:]NAME[:PORT]/proxy[/PATH]`,
//! answered by a ready endpoint pod of the Service as its simulated app would answer
//! (see [`crate::node::traffic`]): after the pod's `latency=` (÷ speed), `200` with a small
//! JSON document naming the pod, or `500` for the share of requests its `errors=` says.
//!
//! The endpoint is found as the real API server finds it: a port *number* is looked up
//! among the Service's ports (`503` "no service port 81 found for service \"web\"" when it
//! has none); a port name (or none) is matched against the Endpoints' port names; no
//! ready address is `503` "no endpoints available for service \"web\"". A missing Service
//! (with a port number) or Endpoints object is the ordinary `404` Status.

use crate::errors::ApiError;
use crate::node::traffic::{self, Stream};
use crate::store::Store;
use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Splits `[scheme:]name[:port]` as the real server does; `None` when malformed.
pub fn split_scheme_name_port(id: &str) -> Option<(&str, &str, &str)> {
    let parts: Vec<&str> = id.split(':').collect();
    let (scheme, name, port) = match parts.as_slice() {
        [name] => ("", *name, ""),
        [name, port] => ("", *name, *port),
        [scheme, name, port] => (*scheme, *name, *port),
        _ => return None,
    };
    if name.is_empty() || !matches!(scheme, "" | "http" | "https") {
        return None;
    }
    Some((scheme, name, port))
}

/// A ready endpoint of a Service: the pod behind it.
pub struct Endpoint {
    pub pod: Value,
    pub ip: String,
    pub port: i64,
}

/// The ready endpoints of Service `name` whose Endpoints port is named `port_name`, in the
/// Endpoints object's order; the error the real proxy answers when there are none.
pub fn ready_endpoints(
    store: &Store,
    ns: &str,
    id: &str,
    name: &str,
    port_name: &str,
) -> Result<Vec<Endpoint>, ApiError> {
    let reg = store.registry();
    let ep_rt = reg
        .find("", "v1", "endpoints")
        .ok_or_else(|| ApiError::not_found("", "endpoints", name))?;
    let endpoints = store.get(ep_rt, ns, name)?;
    let subsets = endpoints["subsets"].as_array().cloned().unwrap_or_default();
    let unavailable = |what: &str| {
        ApiError::new(
            503,
            "ServiceUnavailable",
            format!("no endpoints available for service {what:?}"),
        )
    };
    if subsets.is_empty() {
        return Err(unavailable(name));
    }
    let pod_rt = reg.find("", "v1", "pods").cloned();
    let mut out = Vec::new();
    for ss in &subsets {
        let Some(port) = ss["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"].as_str().unwrap_or_default() == port_name)
        else {
            continue;
        };
        for addr in ss["addresses"].as_array().into_iter().flatten() {
            let pod_name = addr["targetRef"]["name"].as_str().unwrap_or_default();
            let Some(pod) = pod_rt
                .as_ref()
                .and_then(|rt| store.get(rt, ns, pod_name).ok())
            else {
                continue;
            };
            out.push(Endpoint {
                pod,
                ip: addr["ip"].as_str().unwrap_or_default().to_string(),
                port: port["port"].as_i64().unwrap_or_default(),
            });
        }
    }
    if out.is_empty() {
        return Err(unavailable(id));
    }
    Ok(out)
}

/// What a simulated app answers to one request.
pub struct Answer {
    pub status: u16,
    /// Simulated seconds it took.
    pub latency: f64,
    pub body: Value,
}

/// How `pod` answers `method path` as the `n`-th request of `stream`.
pub fn answer(pod: &Value, stream: Stream, method: &str, path: &str) -> Answer {
    let t = traffic::of_pod(pod);
    let uid = pod["metadata"]["uid"].as_str().unwrap_or_default();
    let status = if traffic::next_fails(uid, stream, t.errors) {
        500
    } else {
        200
    };
    let mut body = json!({
        "pod": pod["metadata"]["name"],
        "namespace": pod["metadata"]["namespace"],
        "image": pod["spec"]["containers"][0]["image"],
        "method": method,
        "path": path,
        "status": status,
    });
    if status >= 500 {
        body["error"] = json!("simulated error (behavior errors=)");
    }
    Answer {
        status,
        latency: t.latency,
        body,
    }
}

/// Serves one proxied request; `rest` is what follows `/proxy` in the path (`""` or
/// starting with `/`).
pub async fn serve(
    store: &Store,
    speed: f64,
    method: &Method,
    ns: &str,
    id: &str,
    rest: &str,
) -> Result<Response, ApiError> {
    let Some((_scheme, name, port)) = split_scheme_name_port(id) else {
        return Err(ApiError::bad_request(format!(
            "invalid service request {id:?}"
        )));
    };
    let mut port_name = port.to_string();
    if let Ok(number) = port.parse::<i64>() {
        let svc_rt = store
            .registry()
            .find("", "v1", "services")
            .cloned()
            .ok_or_else(|| ApiError::not_found("", "services", name))?;
        let svc = store.get(&svc_rt, ns, name)?;
        let found = svc["spec"]["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["port"].as_i64() == Some(number));
        match found {
            Some(p) => port_name = p["name"].as_str().unwrap_or_default().to_string(),
            None => {
                return Err(ApiError::new(
                    503,
                    "ServiceUnavailable",
                    format!("no service port {number} found for service {name:?}"),
                ));
            }
        }
    }
    let endpoints = ready_endpoints(store, ns, id, name, &port_name)?;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let pick = NEXT.fetch_add(1, Ordering::Relaxed) as usize % endpoints.len();
    let endpoint = &endpoints[pick];
    let path = if rest.is_empty() { "/" } else { rest };
    let a = answer(&endpoint.pod, Stream::Proxy, method.as_str(), path);
    if a.latency > 0.0 {
        let speed = if speed > 0.0 { speed } else { 1.0 };
        tokio::time::sleep(Duration::from_secs_f64(a.latency / speed)).await;
    }
    let body = if *method == Method::HEAD {
        Vec::new()
    } else {
        serde_json::to_vec(&a.body).unwrap_or_default()
    };
    Ok(Response::builder()
        .status(StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("response"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_ids_split_as_the_real_server_splits_them() {
        assert_eq!(split_scheme_name_port("web"), Some(("", "web", "")));
        assert_eq!(split_scheme_name_port("web:80"), Some(("", "web", "80")));
        assert_eq!(
            split_scheme_name_port("http:web:http"),
            Some(("http", "web", "http"))
        );
        assert_eq!(
            split_scheme_name_port("https:web:"),
            Some(("https", "web", ""))
        );
        assert_eq!(split_scheme_name_port("ftp:web:80"), None);
        assert_eq!(split_scheme_name_port(":80"), None);
        assert_eq!(split_scheme_name_port("a:b:c:d"), None);
    }
}
