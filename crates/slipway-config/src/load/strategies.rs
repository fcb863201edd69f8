//! `strategies`: canary and blue-green rollouts of named Deployments (top level, and per
//! environment).

use super::*;

impl Cx {
    /// `strategies`: one entry per Deployment.
    pub(super) fn strategies(&mut self, v: &Val<'_>) -> BTreeMap<String, Strategy> {
        let mut out = BTreeMap::new();
        let Some(m) = self.map(v, None) else {
            return out;
        };
        for entry in m.values() {
            if !self.entry_name(
                &entry,
                is_dns_subdomain,
                "Deployment",
                "name a Deployment of the manifests, e.g. `api`",
            ) {
                continue;
            }
            if let Some(strategy) = self.strategy(&entry) {
                out.insert(entry.name().to_owned(), strategy);
            }
        }
        out
    }

    fn strategy(&mut self, entry: &Val<'_>) -> Option<Strategy> {
        let m = self.map(entry, Some(STRATEGY_KEYS))?;
        let rollout = match (m.get("canary"), m.get("blue-green")) {
            (Some(canary), None) => Rollout::Canary(self.canary(&canary)?),
            (None, Some(bg)) => Rollout::BlueGreen(self.blue_green(&bg)?),
            (Some(_), Some(bg)) => {
                self.error(
                    bg.key,
                    &bg.path,
                    "a Deployment rolls out as a canary or blue-green, not both",
                    Some("keep one of `canary` and `blue-green`".into()),
                );
                return None;
            }
            (None, None) => {
                self.missing(
                    &m,
                    "canary",
                    Some(
                        "a strategy is `canary:` (with `steps`) or `blue-green:` (with `service`)"
                            .into(),
                    ),
                );
                return None;
            }
        };
        Some(Strategy {
            workload: entry.name().to_owned(),
            at: position(entry.key),
            rollout,
        })
    }

    fn blue_green(&mut self, v: &Val<'_>) -> Option<BlueGreen> {
        let m = self.map(v, Some(BLUE_GREEN_KEYS))?;
        let Some(service) = m.get("service") else {
            self.missing(
                &m,
                "service",
                Some("name the Service whose traffic switches to the new version".into()),
            );
            return None;
        };
        let service = self.dns_label(&service, "service")?;
        let preview_service = match m.get("preview-service") {
            Some(v) => self.dns_label(&v, "preview-service")?,
            None => format!("{service}-preview"),
        };
        let pre_switch = match m.get("pre-switch") {
            Some(v) => self.duration(&v)?,
            None => Duration::ZERO,
        };
        let scale_down_delay = match m.get("scale-down-delay") {
            Some(v) => self.duration(&v)?,
            None => Duration::from_secs(30),
        };
        let pre_switch_analysis = match m.get("pre-switch-analysis") {
            Some(v) => self.analysis(&v, true)?,
            None => Vec::new(),
        };
        let post_switch_analysis = match m.get("post-switch-analysis") {
            Some(v) => self.analysis(&v, true)?,
            None => Vec::new(),
        };
        Some(BlueGreen {
            service,
            preview_service,
            pre_switch,
            scale_down_delay,
            pre_switch_analysis,
            post_switch_analysis,
        })
    }

    fn canary(&mut self, v: &Val<'_>) -> Option<Canary> {
        let m = self.map(v, Some(CANARY_KEYS))?;
        let name = |cx: &mut Cx, key: &str| -> Option<String> {
            match m.get(key) {
                Some(v) => cx.dns_label(&v, key),
                None => None,
            }
        };
        let traffic = match m.get("traffic") {
            None => Some(TrafficKind::Replicas),
            Some(v) => self.keyword(&v, TrafficKind::ALL, "traffic split"),
        };
        let ingress = name(self, "ingress");
        let route = name(self, "route");
        let service = name(self, "service");
        let need = |cx: &mut Cx, key: &str, value: &Option<String>, why: &str| {
            if value.is_none() && m.get(key).is_none() {
                cx.missing(&m, key, Some(why.to_owned()));
            }
        };
        let traffic = match traffic? {
            TrafficKind::Replicas => {
                for key in ["ingress", "route", "service"] {
                    if let Some(v) = m.get(key) {
                        self.error(
                            v.key,
                            &v.path,
                            format!("`{key}` is for `traffic: nginx` or `traffic: gateway`"),
                            Some("with `traffic: replicas` (the default) the canary's pods sit behind the Deployment's own Service".into()),
                        );
                    }
                }
                Traffic::Replicas
            }
            TrafficKind::Nginx => {
                need(
                    self,
                    "ingress",
                    &ingress,
                    "name the Ingress whose traffic is split",
                );
                need(
                    self,
                    "service",
                    &service,
                    "name the Service the Ingress sends to",
                );
                Traffic::Nginx {
                    ingress: ingress?,
                    service: service?,
                }
            }
            TrafficKind::Gateway => {
                need(
                    self,
                    "route",
                    &route,
                    "name the HTTPRoute whose backends are weighted",
                );
                need(
                    self,
                    "service",
                    &service,
                    "name the Service the route sends to",
                );
                Traffic::Gateway {
                    route: route?,
                    service: service?,
                }
            }
        };
        let Some(steps) = m.get("steps") else {
            self.missing(
                &m,
                "steps",
                Some("add `steps:`, e.g. `- { weight: 10, pause: 2m }`".into()),
            );
            return None;
        };
        let steps = self.canary_steps(&steps);
        let analysis = match m.get("analysis") {
            Some(v) => self.analysis(&v, !matches!(traffic, Traffic::Replicas))?,
            None => Vec::new(),
        };
        Some(Canary {
            traffic,
            steps: steps?,
            analysis,
        })
    }

    fn canary_steps(&mut self, v: &Val<'_>) -> Option<Vec<CanaryStep>> {
        let items = self.list(v)?;
        if items.is_empty() {
            self.error(
                v.at(),
                &v.path,
                "a canary needs at least one step",
                Some("e.g. `- { weight: 10, pause: 2m }`".into()),
            );
            return None;
        }
        let mut steps = Vec::new();
        let mut ok = true;
        for item in &items {
            let Some(m) = self.map(item, Some(STEP_KEYS)) else {
                ok = false;
                continue;
            };
            let weight = match m.get("weight") {
                Some(w) => self.u32(&w).and_then(|n| {
                    if (1..=99).contains(&n) {
                        Some(n)
                    } else {
                        self.error(
                            w.at(),
                            &w.path,
                            format!("a weight is a percentage from 1 to 99, found `{n}`"),
                            Some("the last step is followed by the full rollout; it needs no `weight: 100`".into()),
                        );
                        None
                    }
                }),
                None => {
                    self.missing(&m, "weight", None);
                    None
                }
            };
            // Without a `pause` the step waits for `deploy --resume` or `abort`.
            let pause = match m.get("pause") {
                Some(p) => self.duration(&p).map(Some),
                None => Some(None),
            };
            match (weight, pause) {
                (Some(weight), Some(pause)) => {
                    if let Some(last) = steps.last().map(|s: &CanaryStep| s.weight)
                        && weight <= last
                        && let Some(w) = m.get("weight")
                    {
                        self.error(
                            w.at(),
                            &w.path,
                            format!("weights grow from step to step: `{weight}` follows `{last}`"),
                            None,
                        );
                        ok = false;
                    }
                    steps.push(CanaryStep { weight, pause });
                }
                _ => ok = false,
            }
        }
        ok.then_some(steps)
    }
}

/// The words of `traffic`.
#[derive(Debug, Clone, Copy)]
enum TrafficKind {
    Replicas,
    Nginx,
    Gateway,
}

impl TrafficKind {
    const ALL: &[(&'static str, TrafficKind)] = &[
        ("replicas", TrafficKind::Replicas),
        ("nginx", TrafficKind::Nginx),
        ("gateway", TrafficKind::Gateway),
    ];
}
