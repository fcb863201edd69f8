//! `hooks`: Jobs run before or after a rollout.

use super::*;

impl Cx {
    pub(super) fn hooks(&mut self, v: &Val<'_>, names: &Names) -> Vec<Hook> {
        let mut out = Vec::new();
        let Some(map) = self.map(v, None) else {
            return out;
        };
        for entry in map.values() {
            if !self.entry_name(&entry, is_dns_label, "hook", DNS_LABEL_HINT) {
                continue;
            }
            if let Some(hook) = self.hook(&entry, names) {
                out.push(hook);
            }
        }
        out
    }

    pub(super) fn hook(&mut self, entry: &Val<'_>, names: &Names) -> Option<Hook> {
        let m = self.map(entry, Some(HOOK_KEYS))?;
        let when = match m.get("when") {
            Some(v) => self.keyword(&v, HookWhen::ALL, HookWhen::WHAT),
            None => Some(HookWhen::PreDeploy),
        };
        let timeout = match m.get("timeout") {
            Some(v) => self.duration(&v),
            None => Some(DEFAULT_HOOK_TIMEOUT),
        };
        let backoff_limit = match m.get("backoff-limit") {
            Some(v) => self.u32(&v),
            None => Some(0),
        };
        let run = match (m.get("job"), m.get("image")) {
            (Some(job), image) => {
                if let Some(image) = &image {
                    self.error(
                        image.key,
                        &image.path,
                        "`image` cannot be used with `job`",
                        Some("a hook runs either a Job manifest (`job`) or a Job generated from an image (`image`)".into()),
                    );
                }
                for key in ["command", "env-from"] {
                    if let (Some(v), None) = (m.get(key), &image) {
                        self.error(
                            v.key,
                            &v.path,
                            format!("`{key}` needs `image`"),
                            Some("`command` and `env-from` describe a Job generated from an image; a `job` manifest sets them itself".into()),
                        );
                    }
                }
                self.local_path(&job, Path::new(""), PathKind::File, true, PATH_HINT)
                    .map(HookRun::Job)
            }
            (None, Some(image)) => {
                let image_name = self.string(&image).and_then(|name| {
                    if names.images.contains(&name) {
                        Some(name)
                    } else {
                        let hint = self.reference_hint(&name, &names.images, "images");
                        self.error(
                            image.at(),
                            &image.path,
                            format!("unknown image `{name}`"),
                            Some(hint),
                        );
                        None
                    }
                });
                let command = match m.get("command") {
                    Some(v) => self.string_list(&v).map(Some),
                    None => Some(None),
                };
                let env_from = match m.get("env-from") {
                    Some(v) => self.env_from(&v, names),
                    None => Some(Vec::new()),
                };
                match (image_name, command, env_from) {
                    (Some(image), Some(command), Some(env_from)) => Some(HookRun::Image {
                        image,
                        command,
                        env_from,
                    }),
                    _ => None,
                }
            }
            (None, None) => {
                self.error(
                    m.owner,
                    &m.path,
                    format!("hook `{}` needs `job` or `image`", entry.name()),
                    Some(
                        "set `job: <Job manifest file>`, or `image: <image name>` with `command`"
                            .into(),
                    ),
                );
                None
            }
        };
        Some(Hook {
            name: entry.name().to_owned(),
            when: when?,
            run: run?,
            timeout: timeout?,
            backoff_limit: backoff_limit?,
        })
    }

    pub(super) fn reference_hint(&self, name: &str, known: &[String], what: &str) -> String {
        match suggest(name, known.iter().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`?"),
            None if known.is_empty() => format!("no {what} are defined"),
            None => {
                let known: Vec<&str> = known.iter().map(String::as_str).collect();
                format!("{what} are {}", backticked(&known))
            }
        }
    }

    pub(super) fn env_from(&mut self, v: &Val<'_>, names: &Names) -> Option<Vec<String>> {
        let mut out = Vec::new();
        let mut ok = true;
        for item in self.list(v)? {
            let Some(name) = self.string(&item) else {
                ok = false;
                continue;
            };
            if names.generators.contains(&name) {
                out.push(name);
            } else {
                let hint =
                    self.reference_hint(&name, &names.generators, "`config` and `secrets` entries");
                self.error(
                    item.at(),
                    &item.path,
                    format!("`{name}` is not in `config` or `secrets`"),
                    Some(hint),
                );
                ok = false;
            }
        }
        ok.then_some(out)
    }
}
