//! Simulated ingress data-plane traffic and its metrics, as an ingress-nginx controller
//! and a Gateway API implementation in front of the cluster would report them.
//!
//! Every Ingress path (`spec.rules[].http.paths[]`, or `spec.defaultBackend` of an Ingress
//! without rules) and every HTTPRoute rule (`gateway.networking.k8s.io/v1`, once its CRD
//! is installed) receives a steady stream of `GET` requests — `rate` per simulated second
//! (so `rate × speed` per real second) — each served by a ready endpoint pod of the chosen
//! backend Service as its simulated app answers (see [`crate::node::traffic`]: status and
//! latency from `errors=` and `latency=`), or `503` when the Service has no ready endpoint.
//!
//! - **Ingress canaries** follow ingress-nginx: an Ingress annotated
//!   `nginx.ingress.kubernetes.io/canary: "true"` with the same host and path as an ordinary
//!   Ingress in its namespace takes `canary-weight` out of `canary-weight-total` (default
//!   100) of that path's requests. As ingress-nginx reports them, every request carries the
//!   ordinary Ingress's name and Service in `ingress` and `service`; `canary` is empty, or
//!   for a request the canary served the canary backend's upstream name
//!   `<namespace>-<service>-<port>`.
//! - **HTTPRoutes**: the requests of a rule are split by the `weight`s of its `backendRefs`
//!   (default 1). They are reported under the same metric names with `ingress` the route's
//!   name, `service` the backend that served the request, `canary` empty for the rule's
//!   first backend and `<namespace>-<service>-<port>` for the others, and
//!   `controller_class` [`GATEWAY_CLASS`].
//!
//! Requests are split without randomness (smooth weighted round robin), so over `N`
//! requests each backend's share is its weight's to within one request.
//!
//! The metrics are cumulative from the sandbox's start; the series of an Ingress or route
//! that is deleted disappear, as ingress-nginx removes them.

use crate::node::traffic::Stream;
use crate::store::{ListOpts, Store};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// The default requests per simulated second of every Ingress path and HTTPRoute rule.
pub const DEFAULT_RATE: f64 = 10.0;

/// ingress-nginx's default time buckets (Prometheus' default buckets).
pub const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// `controller_class` of the Ingress series.
pub const INGRESS_CLASS: &str = "k8s.io/ingress-nginx";
/// `controller_class` of the HTTPRoute series.
pub const GATEWAY_CLASS: &str = "gateway.networking.k8s.io/sandbox";
/// `controller_namespace` of every series.
pub const CONTROLLER_NAMESPACE: &str = "ingress-nginx";
/// `controller_pod` of every series.
pub const CONTROLLER_POD: &str = "ingress-nginx-controller-sandbox";

const CANARY: &str = "nginx.ingress.kubernetes.io/canary";
const CANARY_WEIGHT: &str = "nginx.ingress.kubernetes.io/canary-weight";
const CANARY_WEIGHT_TOTAL: &str = "nginx.ingress.kubernetes.io/canary-weight-total";

/// The labels of one series (besides the controller's constant ones).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Labels {
    class: &'static str,
    namespace: String,
    ingress: String,
    service: String,
    canary: String,
    status: u16,
    method: &'static str,
    path: String,
    host: String,
}

#[derive(Debug, Default, Clone)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

/// The cumulative counters, rendered in the Prometheus text format.
#[derive(Default)]
pub struct IngressMetrics {
    series: Mutex<BTreeMap<Labels, Series>>,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl IngressMetrics {
    fn observe(&self, labels: Labels, latency: f64) {
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let s = series.entry(labels).or_default();
        s.count += 1;
        s.sum += latency;
        for (i, le) in BUCKETS.iter().enumerate() {
            if latency <= *le {
                s.buckets[i] += 1;
            }
        }
    }

    /// Drops the series of Ingresses and routes (`(class, namespace, name)`) not in `live`.
    fn retain(&self, live: &std::collections::HashSet<(&'static str, String, String)>) {
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        series.retain(|l, _| live.contains(&(l.class, l.namespace.clone(), l.ingress.clone())));
    }

    /// The metrics in the Prometheus text exposition format (0.0.4).
    pub fn render(&self) -> String {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        let label_text = |l: &Labels| {
            format!(
                "canary=\"{}\",controller_class=\"{}\",controller_namespace=\"{CONTROLLER_NAMESPACE}\",controller_pod=\"{CONTROLLER_POD}\",host=\"{}\",ingress=\"{}\",method=\"{}\",namespace=\"{}\",path=\"{}\",service=\"{}\",status=\"{}\"",
                escape(&l.canary),
                l.class,
                escape(&l.host),
                escape(&l.ingress),
                l.method,
                escape(&l.namespace),
                escape(&l.path),
                escape(&l.service),
                l.status
            )
        };
        out.push_str(
            "# HELP nginx_ingress_controller_requests The total number of client requests\n",
        );
        out.push_str("# TYPE nginx_ingress_controller_requests counter\n");
        for (l, s) in series.iter() {
            let _ = writeln!(
                out,
                "nginx_ingress_controller_requests{{{}}} {}",
                label_text(l),
                s.count
            );
        }
        let name = "nginx_ingress_controller_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} The request processing time in milliseconds"
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (l, s) in series.iter() {
            let labels = label_text(l);
            for (le, n) in BUCKETS.iter().zip(s.buckets) {
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {n}");
            }
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", s.sum);
            let _ = writeln!(out, "{name}_count{{{labels}}} {}", s.count);
        }
        out
    }
}

/// One backend of a route: a Service and the port the route names.
#[derive(Debug, Clone, PartialEq)]
struct Backend {
    service: String,
    port: String,
    weight: f64,
    /// The `canary` label of requests it serves.
    canary: String,
    /// The `service` label of requests it serves.
    service_label: String,
}

/// One stream of requests: an Ingress path or an HTTPRoute rule on one host.
#[derive(Debug, Clone, PartialEq)]
struct Route {
    class: &'static str,
    namespace: String,
    name: String,
    host: String,
    path: String,
    backends: Vec<Backend>,
}

/// The state of one stream between ticks.
#[derive(Default)]
struct Flow {
    /// Requests due but not yet sent (a fraction of one).
    due: f64,
    /// Smooth weighted round robin state, per backend.
    current: Vec<f64>,
    /// Round robin over each backend's ready pods.
    next_pod: HashMap<String, usize>,
}

fn ann<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    obj["metadata"]["annotations"][key].as_str()
}

fn backend_port(b: &Value) -> String {
    match b["service"]["port"]["number"].as_i64() {
        Some(n) => n.to_string(),
        None => b["service"]["port"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    }
}

/// The (host, path, service, port) of each path of an Ingress.
fn ingress_paths(ing: &Value) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    let rules = ing["spec"]["rules"].as_array().cloned().unwrap_or_default();
    for rule in &rules {
        let host = rule["host"]
            .as_str()
            .filter(|h| !h.is_empty())
            .unwrap_or("_");
        for p in rule["http"]["paths"].as_array().into_iter().flatten() {
            let b = &p["backend"];
            let Some(svc) = b["service"]["name"].as_str() else {
                continue;
            };
            out.push((
                host.to_string(),
                p["path"].as_str().unwrap_or("/").to_string(),
                svc.to_string(),
                backend_port(b),
            ));
        }
    }
    let default = &ing["spec"]["defaultBackend"];
    if rules.is_empty()
        && let Some(svc) = default["service"]["name"].as_str()
    {
        out.push(("_".into(), "/".into(), svc.into(), backend_port(default)));
    }
    out
}

fn ingress_routes(ingresses: &[Arc<Value>]) -> Vec<Route> {
    let is_canary = |i: &Value| ann(i, CANARY) == Some("true");
    let mut routes = Vec::new();
    for ing in ingresses.iter().filter(|i| !is_canary(i)) {
        let ns = ing["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = ing["metadata"]["name"].as_str().unwrap_or_default();
        for (host, path, svc, port) in ingress_paths(ing) {
            let mut backends = vec![Backend {
                service: svc.clone(),
                port,
                weight: 1.0,
                canary: String::new(),
                service_label: svc.clone(),
            }];
            let canary = ingresses.iter().find_map(|c| {
                if !is_canary(c) || c["metadata"]["namespace"].as_str() != Some(ns) {
                    return None;
                }
                ingress_paths(c)
                    .into_iter()
                    .find(|(h, p, _, _)| *h == host && *p == path)
                    .map(|found| (c.clone(), found))
            });
            if let Some((c, (_, _, csvc, cport))) = canary {
                let total = ann(&c, CANARY_WEIGHT_TOTAL)
                    .and_then(|t| t.trim().parse::<f64>().ok())
                    .filter(|t| *t > 0.0)
                    .unwrap_or(100.0);
                let weight = ann(&c, CANARY_WEIGHT)
                    .and_then(|w| w.trim().parse::<f64>().ok())
                    .unwrap_or(0.0)
                    .clamp(0.0, total);
                backends[0].weight = total - weight;
                backends.push(Backend {
                    canary: format!("{ns}-{csvc}-{cport}"),
                    service: csvc,
                    port: cport,
                    weight,
                    service_label: svc.clone(),
                });
            }
            routes.push(Route {
                class: INGRESS_CLASS,
                namespace: ns.into(),
                name: name.into(),
                host,
                path,
                backends,
            });
        }
    }
    routes
}

fn http_routes(routes: &[Arc<Value>]) -> Vec<Route> {
    let mut out = Vec::new();
    for r in routes {
        let ns = r["metadata"]["namespace"].as_str().unwrap_or_default();
        let name = r["metadata"]["name"].as_str().unwrap_or_default();
        let mut hosts: Vec<String> = r["spec"]["hostnames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h.as_str().map(String::from))
            .collect();
        if hosts.is_empty() {
            hosts.push("_".into());
        }
        for host in &hosts {
            for rule in r["spec"]["rules"].as_array().into_iter().flatten() {
                let path = rule["matches"][0]["path"]["value"]
                    .as_str()
                    .unwrap_or("/")
                    .to_string();
                let backends: Vec<Backend> = rule["backendRefs"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|b| {
                        b["kind"].as_str().unwrap_or("Service") == "Service"
                            && b["group"].as_str().unwrap_or("").is_empty()
                    })
                    .enumerate()
                    .filter_map(|(i, b)| {
                        let svc = b["name"].as_str()?.to_string();
                        let port = b["port"]
                            .as_i64()
                            .map(|p| p.to_string())
                            .unwrap_or_default();
                        Some(Backend {
                            canary: if i == 0 {
                                String::new()
                            } else {
                                format!("{ns}-{svc}-{port}")
                            },
                            service_label: svc.clone(),
                            service: svc,
                            port,
                            weight: b["weight"].as_f64().unwrap_or(1.0).max(0.0),
                        })
                    })
                    .collect();
                if backends.is_empty() {
                    continue;
                }
                out.push(Route {
                    class: GATEWAY_CLASS,
                    namespace: ns.into(),
                    name: name.into(),
                    host: host.clone(),
                    path,
                    backends,
                });
            }
        }
    }
    out
}

fn list(store: &Store, group: &str, version: &str, resource: &str) -> Vec<Arc<Value>> {
    let Some(rt) = store.registry().find(group, version, resource).cloned() else {
        return Vec::new();
    };
    store
        .list(&rt, None, &ListOpts::default())
        .map(|p| p.items)
        .unwrap_or_default()
}

/// The ready pods behind Service `name` (the addresses of its Endpoints).
fn ready_pods(store: &Store, ns: &str, name: &str) -> Vec<Value> {
    let reg = store.registry();
    let (Some(ep_rt), Some(pod_rt)) = (reg.find("", "v1", "endpoints"), reg.find("", "v1", "pods"))
    else {
        return Vec::new();
    };
    let Ok(ep) = store.get(ep_rt, ns, name) else {
        return Vec::new();
    };
    let mut names: Vec<&str> = ep["subsets"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["addresses"].as_array().into_iter().flatten())
        .filter_map(|a| a["targetRef"]["name"].as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .filter_map(|n| store.get(pod_rt, ns, n).ok())
        .collect()
}

/// Picks the next backend by smooth weighted round robin; `None` when all weigh 0.
fn pick(current: &mut [f64], weights: &[f64]) -> Option<usize> {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let mut best = 0;
    for (i, w) in weights.iter().enumerate() {
        current[i] += w;
        if current[i] > current[best] {
            best = i;
        }
    }
    current[best] -= total;
    Some(best)
}

/// Sends the requests due for every route since the last tick.
struct Simulator {
    store: Arc<Store>,
    metrics: Arc<IngressMetrics>,
    /// Requests per real second of each stream.
    per_second: f64,
    flows: HashMap<(&'static str, String, String, String, String), Flow>,
}

impl Simulator {
    fn tick(&mut self, elapsed: f64) {
        let mut routes = ingress_routes(&list(&self.store, "networking.k8s.io", "v1", "ingresses"));
        routes.extend(http_routes(&list(
            &self.store,
            "gateway.networking.k8s.io",
            "v1",
            "httproutes",
        )));
        let live = routes
            .iter()
            .map(|r| (r.class, r.namespace.clone(), r.name.clone()))
            .collect();
        self.metrics.retain(&live);
        let keys: std::collections::HashSet<_> = routes
            .iter()
            .map(|r| {
                (
                    r.class,
                    r.namespace.clone(),
                    r.name.clone(),
                    r.host.clone(),
                    r.path.clone(),
                )
            })
            .collect();
        self.flows.retain(|k, _| keys.contains(k));
        let mut pods_of: HashMap<(String, String), Vec<Value>> = HashMap::new();
        for route in routes {
            let key = (
                route.class,
                route.namespace.clone(),
                route.name.clone(),
                route.host.clone(),
                route.path.clone(),
            );
            let flow = self.flows.entry(key).or_default();
            flow.current.resize(route.backends.len(), 0.0);
            flow.due += elapsed * self.per_second;
            let n = flow.due.floor();
            flow.due -= n;
            let weights: Vec<f64> = route.backends.iter().map(|b| b.weight).collect();
            for _ in 0..n as u64 {
                let Some(i) = pick(&mut flow.current, &weights) else {
                    let b = &route.backends[0];
                    self.metrics.observe(labels(&route, b, 500), 0.0);
                    continue;
                };
                let b = &route.backends[i];
                let pods = pods_of
                    .entry((route.namespace.clone(), b.service.clone()))
                    .or_insert_with(|| ready_pods(&self.store, &route.namespace, &b.service));
                if pods.is_empty() {
                    self.metrics.observe(labels(&route, b, 503), 0.0);
                    continue;
                }
                let next = flow.next_pod.entry(b.service.clone()).or_insert(0);
                let pod = &pods[*next % pods.len()];
                *next = next.wrapping_add(1);
                let a = crate::proxy::answer(pod, Stream::Ingress, "GET", &route.path);
                self.metrics.observe(labels(&route, b, a.status), a.latency);
            }
        }
    }
}

fn labels(route: &Route, b: &Backend, status: u16) -> Labels {
    Labels {
        class: route.class,
        namespace: route.namespace.clone(),
        ingress: route.name.clone(),
        service: b.service_label.clone(),
        canary: b.canary.clone(),
        status,
        method: "GET",
        path: route.path.clone(),
        host: route.host.clone(),
    }
}

/// The metrics listener and the traffic simulation.
pub struct IngressMetricsServer {
    addr: std::net::SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl IngressMetricsServer {
    /// Binds `listen` (plain HTTP, no authentication: use loopback) and starts sending
    /// `rate` requests per simulated second down every Ingress path and HTTPRoute rule.
    pub async fn start(
        listen: std::net::SocketAddr,
        store: Arc<Store>,
        rate: f64,
        speed: f64,
    ) -> std::io::Result<IngressMetricsServer> {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let metrics = Arc::new(IngressMetrics::default());
        let served = metrics.clone();
        let router = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let m = served.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        m.render(),
                    )
                }
            }),
        );
        let serve = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        let speed = if speed > 0.0 { speed } else { 1.0 };
        let mut sim = Simulator {
            store,
            metrics,
            per_second: rate.max(0.0) * speed,
            flows: HashMap::new(),
        };
        let generate = tokio::spawn(async move {
            let mut last = Instant::now();
            let mut interval = tokio::time::interval(Duration::from_millis(100));
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                let now = Instant::now();
                sim.tick(now.duration_since(last).as_secs_f64());
                last = now;
            }
        });
        Ok(IngressMetricsServer {
            addr,
            tasks: vec![serve, generate],
        })
    }

    /// The bound address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Stops serving and sending.
    pub async fn shutdown(self) {
        for t in self.tasks {
            t.abort();
            let _ = t.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn smooth_weighted_round_robin_keeps_the_shares() {
        let weights = [90.0, 10.0];
        let mut current = vec![0.0; 2];
        let picks: Vec<usize> = (0..100)
            .map(|_| pick(&mut current, &weights).unwrap())
            .collect();
        assert_eq!(picks.iter().filter(|i| **i == 1).count(), 10);
        // Spread out, not in one burst.
        assert_eq!(picks[..50].iter().filter(|i| **i == 1).count(), 5);
        assert_eq!(pick(&mut [0.0], &[0.0]), None);
    }

    #[test]
    fn a_canary_ingress_joins_the_route_of_its_host_and_path() {
        let ing = |name: &str, svc: &str, ann: Value| {
            Arc::new(json!({
                "metadata": {"name": name, "namespace": "shop", "annotations": ann},
                "spec": {"rules": [{"host": "shop.example", "http": {"paths": [
                    {"path": "/", "pathType": "Prefix",
                     "backend": {"service": {"name": svc, "port": {"number": 80}}}}]}}]}
            }))
        };
        let routes = ingress_routes(&[
            ing("web", "web", json!({})),
            ing(
                "web-canary",
                "web-canary",
                json!({CANARY: "true", CANARY_WEIGHT: "10"}),
            ),
        ]);
        assert_eq!(routes.len(), 1);
        let r = &routes[0];
        assert_eq!(
            (r.name.as_str(), r.host.as_str(), r.path.as_str()),
            ("web", "shop.example", "/")
        );
        assert_eq!(r.backends[0].weight, 90.0);
        assert_eq!(r.backends[1].weight, 10.0);
        assert_eq!(r.backends[1].canary, "shop-web-canary-80");
        assert_eq!(r.backends[1].service_label, "web");
    }

    #[test]
    fn the_exposition_has_the_counter_and_the_histogram() {
        let m = IngressMetrics::default();
        let l = Labels {
            class: INGRESS_CLASS,
            namespace: "shop".into(),
            ingress: "web".into(),
            service: "web".into(),
            canary: String::new(),
            status: 200,
            method: "GET",
            path: "/".into(),
            host: "shop.example".into(),
        };
        m.observe(l.clone(), 0.3);
        m.observe(l, 0.0);
        let text = m.render();
        assert!(text.contains("nginx_ingress_controller_requests{canary=\"\",controller_class=\"k8s.io/ingress-nginx\",controller_namespace=\"ingress-nginx\",controller_pod=\"ingress-nginx-controller-sandbox\",host=\"shop.example\",ingress=\"web\",method=\"GET\",namespace=\"shop\",path=\"/\",service=\"web\",status=\"200\"} 2\n"), "{text}");
        assert!(text.contains("le=\"0.25\"} 1\n"), "{text}");
        assert!(text.contains("le=\"0.5\"} 2\n"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 2\n"), "{text}");
        assert!(
            text.contains("nginx_ingress_controller_request_duration_seconds_sum{"),
            "{text}"
        );
    }
}
