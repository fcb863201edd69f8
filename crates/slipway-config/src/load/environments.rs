//! `environments`: their clusters, namespaces, targets, policies and promotion.

use super::*;

impl Cx {
    pub(super) fn policy(&mut self, m: &Map<'_>) -> PolicyOverrides {
        let mut p = PolicyOverrides::default();
        if let Some(v) = m.get("timeout") {
            p.timeout = self.duration(&v);
        }
        if let Some(v) = m.get("rollback-on-failure") {
            p.rollback_on_failure = self.bool(&v);
        }
        if let Some(v) = m.get("require-approval") {
            p.require_approval = self.bool(&v);
        }
        if let Some(v) = m.get("dirty") {
            p.dirty = self.keyword(&v, DirtyPolicy::ALL, DirtyPolicy::WHAT);
        }
        if let Some(v) = m.get("crashloop-tolerance") {
            p.crashloop_tolerance = self.u32(&v);
        }
        if let Some(v) = m.get("settle") {
            p.settle = self.duration(&v);
        }
        if let Some(v) = m.get("recreate") {
            p.recreate = self.recreate(&v);
        }
        if let Some(v) = m.get("rules")
            && let Some(rules) = self.map(&v, None)
        {
            for rule in rules.values() {
                if !self.entry_name(
                    &rule,
                    is_kebab,
                    "rule",
                    "rule ids are kebab-case, e.g. `pdb-missing`",
                ) {
                    continue;
                }
                if let Some(level) = self.keyword(&rule, RuleLevel::ALL, RuleLevel::WHAT) {
                    p.rules.insert(rule.name().to_owned(), level);
                    p.rules_at
                        .insert(rule.name().to_owned(), position(rule.key));
                }
            }
        }
        p
    }

    /// `recreate`: `Kind/name` of objects of the manifests.
    fn recreate(&mut self, v: &Val<'_>) -> Option<Vec<String>> {
        let items = self.list(v)?;
        let mut out = Vec::new();
        for item in &items {
            let text = self.string(item)?;
            match text.split_once('/') {
                Some((kind, name))
                    if kind.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                        && kind.chars().all(|c| c.is_ascii_alphanumeric())
                        && is_dns_subdomain(name) =>
                {
                    out.push(text);
                }
                _ => {
                    self.error(
                        item.at(),
                        &item.path,
                        format!("expected `Kind/name`, found `{text}`"),
                        Some("e.g. `Job/db-seed` or `Deployment/api`".into()),
                    );
                    return None;
                }
            }
        }
        Some(out)
    }

    pub(super) fn environments(
        &mut self,
        v: &Val<'_>,
        config: &Config,
        names: &Names,
    ) -> Vec<Environment> {
        let mut out = Vec::new();
        let Some(map) = self.map(v, None) else {
            return out;
        };
        if map.fields.is_empty() && v.node.entries().is_some_and(|e| e.is_empty()) {
            self.error(
                v.at(),
                &v.path,
                "no environments defined",
                Some(
                    "add at least one, e.g. `dev: { cluster: sandbox, namespace: <name> }`".into(),
                ),
            );
            return out;
        }
        let mut promotions: Vec<(String, Val<'_>)> = Vec::new();
        for entry in map.values() {
            if !self.entry_name(&entry, is_dns_label, "environment", DNS_LABEL_HINT) {
                continue;
            }
            if let Some((env, promote)) = self.environment(&entry, config, names) {
                if let Some(p) = promote {
                    promotions.push((env.name.clone(), p));
                }
                out.push(env);
            }
        }
        self.promotion_cycles(&promotions);
        out
    }

    pub(super) fn promotion_cycles(&mut self, promotions: &[(String, Val<'_>)]) {
        let from: HashMap<&str, &str> = promotions
            .iter()
            .filter_map(|(env, v)| Some((env.as_str(), v.node.as_str()?)))
            .collect();
        let mut reported: BTreeSet<&str> = BTreeSet::new();
        for (env, v) in promotions {
            if reported.contains(env.as_str()) {
                continue;
            }
            let mut chain = vec![env.as_str()];
            let mut current = env.as_str();
            while let Some(next) = from.get(current) {
                if *next == env {
                    chain.push(next);
                    let shown = chain
                        .iter()
                        .map(|e| format!("`{e}`"))
                        .collect::<Vec<_>>()
                        .join(" → ");
                    self.error(
                        v.at(),
                        &v.path,
                        format!("`promote-from` makes a cycle: {shown}"),
                        Some(
                            "an environment cannot promote, directly or indirectly, from itself"
                                .into(),
                        ),
                    );
                    reported.extend(chain.iter().copied());
                    break;
                }
                if chain.contains(next) {
                    break; // a cycle that does not include `env`; reported from its own start
                }
                chain.push(next);
                current = next;
            }
        }
    }

    /// One environment `entry`: its own settings over the top-level ones, and its
    /// `promote-from` value, kept for the check of promotion cycles.
    pub(super) fn environment<'n>(
        &mut self,
        entry: &Val<'n>,
        config: &Config,
        names: &Names,
    ) -> Option<(Environment, Option<Val<'n>>)> {
        let name = entry.name().to_owned();
        let m = self.map(entry, Some(&env_keys()))?;
        let targets = self.env_targets(&m, &name);
        let overlay = self.env_overlay(&m, config);
        let chart = self.env_chart_applied(&m, config);
        let env_config = self.env_config(&m, config);
        let env_secrets = self.env_secrets(&m, config);
        let promote = m.get("promote-from");
        let promote_from = promote
            .as_ref()
            .and_then(|v| self.env_promote_from(v, &name, names));
        let production = match m.get("production") {
            Some(v) => self.bool(&v),
            None => Some(name == "prod" || name == "production"),
        };
        let overrides = self.policy(&m);
        let policy = Policy::default().with(&config.defaults).with(&overrides);
        let mut rules_at = config.defaults.rules_at.clone();
        rules_at.extend(overrides.rules_at.clone());
        let mut strategies = config.strategies.clone();
        if let Some(v) = m.get("strategies") {
            strategies.extend(self.strategies(&v));
        }

        let env = Environment {
            name,
            targets: targets?,
            overlay,
            chart,
            config: env_config,
            secrets: env_secrets,
            promote_from,
            production: production?,
            rules_at,
            policy,
            strategies,
        };
        Some((env, promote))
    }

    /// The environment's `overlay` directory, which builds on the top-level `manifests`
    /// (never on a Helm chart).
    fn env_overlay(&mut self, m: &Map<'_>, config: &Config) -> Option<PathBuf> {
        let v = m.get("overlay")?;
        let path = self.local_path(&v, Path::new(""), PathKind::Dir, true, PATH_HINT)?;
        if config.chart.is_some() {
            self.error(
                v.key,
                &v.path,
                "`overlay` cannot build on a Helm chart",
                Some("give the environment its own values with `chart: { values: [...], set: {...} }`".into()),
            );
        } else if config.manifests.is_none() {
            self.error(
                v.key,
                &v.path,
                "`overlay` needs top-level `manifests`",
                Some(
                    "add `manifests: <directory>` at the top level; the overlay builds on it"
                        .into(),
                ),
            );
        }
        Some(path)
    }

    /// The environment's chart: the top-level `chart` with the environment's `chart`
    /// settings applied over it.
    fn env_chart_applied(&mut self, m: &Map<'_>, config: &Config) -> Option<Chart> {
        match m.get("chart") {
            Some(v) => {
                let partial = self.env_chart(&v, config);
                config.chart.clone().map(|c| partial.apply(c))
            }
            None => config.chart.clone(),
        }
    }

    /// The environment's ConfigMaps: the top-level `config` with the environment's
    /// entries applied over it (an entry of its own must hold data).
    fn env_config(&mut self, m: &Map<'_>, config: &Config) -> BTreeMap<String, ConfigMapGenerator> {
        let mut env_config = config.config.clone();
        if let Some(v) = m.get("config")
            && let Some(cm) = self.map(&v, None)
        {
            for e in cm.values() {
                if !self.generator_name(&e) {
                    continue;
                }
                // An entry only this environment defines must hold data itself, as
                // a top-level one must.
                if !config.config.contains_key(e.name())
                    && e.node.entries().is_some_and(|entries| entries.is_empty())
                {
                    self.no_data(&e, "`env-file`, `literals` or `files`");
                }
                let partial = self.config_partial(&e);
                let base = env_config.remove(e.name()).unwrap_or_default();
                env_config.insert(e.name().to_owned(), partial.apply(base));
            }
        }
        env_config
    }

    /// The environment's Secrets: the top-level `secrets` with the environment's
    /// entries applied over it (an entry of its own must hold data, not only a `type`).
    fn env_secrets(&mut self, m: &Map<'_>, config: &Config) -> BTreeMap<String, SecretGenerator> {
        let mut env_secrets = config.secrets.clone();
        if let Some(v) = m.get("secrets")
            && let Some(sm) = self.map(&v, None)
        {
            for e in sm.values() {
                if !self.generator_name(&e) {
                    continue;
                }
                if !config.secrets.contains_key(e.name())
                    && e.node.entries().is_some_and(|entries| {
                        entries.iter().all(|(k, _)| k.as_str() == Some("type"))
                    })
                {
                    self.no_data(&e, "`env-file`, `from-env` or `files`");
                }
                let partial = self.secret_partial(&e);
                let base = env_secrets.remove(e.name()).unwrap_or_default();
                env_secrets.insert(e.name().to_owned(), partial.apply(base));
            }
        }
        env_secrets
    }

    /// `promote-from` of the environment `name`: itself or another defined environment.
    fn env_promote_from(&mut self, v: &Val<'_>, name: &str, names: &Names) -> Option<String> {
        let from = self.string(v)?;
        if from != name && !names.environments.contains(&from) {
            let others: Vec<String> = names
                .environments
                .iter()
                .filter(|e| **e != name)
                .cloned()
                .collect();
            let hint = self.reference_hint(&from, &others, "other environments");
            self.error(
                v.at(),
                &v.path,
                format!("unknown environment `{from}`"),
                Some(hint),
            );
            return None;
        }
        Some(from)
    }

    /// The environment's targets: from `targets`, or one from `cluster`/`context`.
    pub(super) fn env_targets(&mut self, m: &Map<'_>, env: &str) -> Option<Vec<Target>> {
        let Some(targets) = m.get("targets") else {
            return self
                .target(m, &format!("environment `{env}`"), true)
                .map(|t| vec![t]);
        };
        for key in [
            "cluster",
            "context",
            "kubeconfig",
            "namespace",
            "namespaces",
        ] {
            if let Some(v) = m.get(key) {
                self.error(
                    v.key,
                    &v.path,
                    format!("`{key}` cannot be used with `targets`"),
                    Some(format!("set `{key}` on each target instead")),
                );
            }
        }
        let items = self.list(&targets)?;
        if items.is_empty() {
            self.error(
                targets.at(),
                &targets.path,
                "`targets` is empty",
                Some(
                    "add at least one target, e.g. `- { context: <context>, namespace: <name> }`"
                        .into(),
                ),
            );
            return None;
        }
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let target = self
                .map(item, Some(TARGET_KEYS))
                .and_then(|tm| self.target(&tm, &format!("target {i}"), false));
            match target {
                Some(t) => out.push(t),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// One cluster with its namespaces, from the keys of an environment or a target.
    pub(super) fn target(&mut self, m: &Map<'_>, what: &str, env_level: bool) -> Option<Target> {
        let present: Vec<Val<'_>> = ["cluster", "context"]
            .iter()
            .filter_map(|k| m.get(k))
            .collect();
        let cluster = match present.as_slice() {
            [] => {
                let hint = if env_level {
                    "add `cluster: sandbox`, `context: <kubeconfig context>` or `targets`"
                } else {
                    "add `context: <kubeconfig context>` or `cluster: sandbox`"
                };
                self.error(
                    m.owner,
                    &m.path,
                    format!("{what} has no cluster"),
                    Some(hint.into()),
                );
                None
            }
            [one] => {
                if one.name() == "cluster" {
                    self.cluster(one, m)
                } else {
                    // Relative to the config file's directory, like every path; `~/`
                    // (the home directory) is expanded when the file is read.
                    let kubeconfig = m.get("kubeconfig").and_then(|v| self.nonempty(&v));
                    let kubeconfig = kubeconfig.map(|path| {
                        if path == "~" || path.starts_with("~/") {
                            PathBuf::from(path)
                        } else {
                            join_rel(&self.base_dir, &path)
                        }
                    });
                    self.nonempty(one)
                        .map(|name| Cluster::Context { name, kubeconfig })
                }
            }
            [_, second, ..] => {
                self.error(
                    second.key,
                    &second.path,
                    "`context` cannot be used with `cluster`",
                    Some(if env_level {
                        "choose one of `cluster`, `context` and `targets`".into()
                    } else {
                        "choose one of `cluster` and `context`".into()
                    }),
                );
                None
            }
        };
        let namespaces = match (m.get("namespace"), m.get("namespaces")) {
            (Some(_), Some(many)) => {
                self.error(
                    many.key,
                    &many.path,
                    "`namespace` and `namespaces` cannot be used together",
                    Some("list every namespace under `namespaces`".into()),
                );
                None
            }
            (Some(one), None) => self.dns_label(&one, "namespace").map(|n| vec![n]),
            (None, Some(many)) => self.list(&many).and_then(|items| {
                if items.is_empty() {
                    self.error(
                        many.at(),
                        &many.path,
                        "`namespaces` is empty",
                        Some("list at least one namespace".into()),
                    );
                    return None;
                }
                let names: Vec<Option<String>> = items
                    .iter()
                    .map(|i| self.dns_label(i, "namespace"))
                    .collect();
                names.into_iter().collect()
            }),
            (None, None) => {
                self.error(
                    m.owner,
                    &m.child_path("namespace"),
                    format!("{what} has no namespace"),
                    Some("add `namespace: <name>` or `namespaces: [<name>, ...]`".into()),
                );
                None
            }
        };
        Some(Target {
            cluster: cluster?,
            namespaces: namespaces?,
        })
    }

    pub(super) fn cluster(&mut self, v: &Val<'_>, m: &Map<'_>) -> Option<Cluster> {
        if let Some(k) = m.get("kubeconfig") {
            self.error(
                k.key,
                &k.path,
                "`kubeconfig` cannot be used with `cluster`",
                Some("`kubeconfig` goes with `context`; the sandbox needs none".into()),
            );
        }
        let name = self.string(v)?;
        if name == "sandbox" {
            return Some(Cluster::Sandbox);
        }
        self.error(
            v.at(),
            &v.path,
            format!("unknown cluster `{name}`"),
            Some(
                "the only built-in cluster is `sandbox`; use `context` for a kubeconfig context"
                    .into(),
            ),
        );
        None
    }
}
