//! `images`, `registry`, `registries` and tag templates.

use super::*;

impl Cx {
    /// `extra-tags`: each a valid tag.
    pub(super) fn extra_tags(&mut self, v: &Val<'_>) -> Vec<String> {
        let mut tags = Vec::new();
        for item in self.list(v).unwrap_or_default() {
            let Some(tag) = self.text(&item) else {
                continue;
            };
            match validate_tag(&tag) {
                Ok(()) => tags.push(tag),
                Err(e) => {
                    let hint = e.hint();
                    self.error(item.at(), &item.path, e.to_string(), hint);
                }
            }
        }
        tags
    }

    pub(super) fn registry(&mut self, v: &Val<'_>) -> Option<String> {
        let s = self.nonempty(v)?;
        if let Some((scheme, rest)) = s.split_once("://") {
            self.error(
                v.at(),
                &v.path,
                format!("registry `{s}` has a scheme"),
                Some(format!(
                    "leave out `{scheme}://`, e.g. `{rest}`; use `registries` to allow plain HTTP"
                )),
            );
            return None;
        }
        let s = s.trim_end_matches('/').to_owned();
        let host = s.split('/').next().unwrap_or_default();
        if !is_registry_host(host) {
            self.error(
                v.at(),
                &v.path,
                format!("registry `{s}` does not start with a registry host"),
                Some("write `host[:port][/path]`, e.g. `registry.example.com/team`".into()),
            );
            return None;
        }
        Some(s)
    }

    pub(super) fn tag_template(&mut self, v: &Val<'_>, allow_latest: bool) -> Option<TagTemplate> {
        let text = self.string(v)?;
        match TagTemplate::parse(&text) {
            Ok(_) if text == "latest" && !allow_latest => {
                self.error(
                    v.at(),
                    &v.path,
                    "tag template `latest` gives every build the same tag",
                    Some("use a unique tag and list `latest` in `extra-tags`, or set `allow-latest: true` to release as `latest` (deploys still pin the image by digest)".into()),
                );
                None
            }
            Ok(t) if !t.has_placeholders() && text != "latest" => {
                self.error(
                    v.at(),
                    &v.path,
                    format!("tag template `{text}` has no placeholder, so every build would get the same tag"),
                    Some(format!("add `{{git.short_sha}}` or `{{timestamp}}`, e.g. `{text}-{{git.short_sha}}`; fixed tags go in `extra-tags`")),
                );
                None
            }
            Ok(t) => Some(t),
            Err(e) => {
                let hint = e.hint();
                self.error(v.at(), &v.path, e.to_string(), hint);
                None
            }
        }
    }

    pub(super) fn registries(&mut self, v: &Val<'_>) -> BTreeMap<String, RegistrySettings> {
        let mut out = BTreeMap::new();
        let Some(map) = self.map(v, None) else {
            return out;
        };
        for entry in map.values() {
            if !self.entry_name(
                &entry,
                is_registry_host,
                "registry host",
                "write the host and optional port, e.g. `registry.example.com:5000`",
            ) {
                continue;
            }
            let Some(m) = self.map(&entry, Some(REGISTRY_KEYS)) else {
                continue;
            };
            let mut settings = RegistrySettings::default();
            if let Some(v) = m.get("insecure") {
                settings.insecure = self.bool(&v).unwrap_or_default();
            }
            if let Some(v) = m.get("credentials") {
                settings.credentials = self.credentials(&v).unwrap_or_default();
            }
            out.insert(entry.name().to_owned(), settings);
        }
        out
    }

    pub(super) fn credentials(&mut self, v: &Val<'_>) -> Option<Credentials> {
        let s = self.string(v)?;
        match s.as_str() {
            "docker-config" => return Some(Credentials::DockerConfig),
            "env" => return Some(Credentials::Env),
            "stdin" => return Some(Credentials::Stdin),
            _ => {}
        }
        if let Some(path) = s.strip_prefix("file:") {
            if path.is_empty() {
                self.error(
                    v.at(),
                    &v.path,
                    "`file:` credentials need a path",
                    Some("write `file:<path>`, e.g. `file:~/.config/registry-token`".into()),
                );
                return None;
            }
            let path = if path.starts_with('~') {
                PathBuf::from(path)
            } else {
                join_rel(&self.base_dir, path)
            };
            return Some(Credentials::File(path));
        }
        let words = ["docker-config", "env", "file:<path>", "stdin"];
        let hint = match suggest(&s, words) {
            Some(w) => format!("did you mean `{w}`?"),
            None => format!("use one of {}", backticked(&words)),
        };
        self.error(
            v.at(),
            &v.path,
            format!("unknown credentials source `{s}`"),
            Some(hint),
        );
        None
    }

    pub(super) fn images(&mut self, v: &Val<'_>, registry: Option<&str>) -> Vec<Image> {
        let mut out = Vec::new();
        let Some(map) = self.map(v, None) else {
            return out;
        };
        for entry in map.values() {
            if !self.entry_name(
                &entry,
                is_image_name,
                "image",
                "use lowercase letters, digits and `-`, starting with a letter or digit",
            ) {
                continue;
            }
            if let Some(image) = self.image(&entry, registry) {
                out.push(image);
            }
        }
        out
    }

    pub(super) fn image(&mut self, entry: &Val<'_>, registry: Option<&str>) -> Option<Image> {
        let name = entry.name().to_owned();
        let m = self.map(entry, Some(IMAGE_KEYS))?;
        let git_ref = m.get("git-ref").and_then(|v| self.nonempty(&v));
        // Files of an image built from a git ref come from git, not the working tree.
        let check = git_ref.is_none();

        let context_written = match m.get("context") {
            Some(v) => self.nonempty(&v).map(PathBuf::from),
            None => Some(PathBuf::from(".")),
        };
        let context = match m.get("context") {
            Some(v) => self.local_path(&v, Path::new(""), PathKind::Dir, check, PATH_HINT),
            None => Some(join_rel(&self.base_dir, ".")),
        };

        let repository = self.repository(entry, &m, registry);

        let platform = match m.get("platform") {
            Some(v) => self.platform(&v),
            None => Some(Platform::default()),
        };
        let labels = m
            .get("labels")
            .map(|v| self.text_map(&v, |k| !k.is_empty(), "label keys must not be empty"))
            .unwrap_or_default();
        let builder = match m.get("builder") {
            Some(v) => self.keyword(&v, Builder::ALL, Builder::WHAT),
            None => Some(Builder::Auto),
        };

        let context_written = context_written.unwrap_or_default();
        let build = match m.get("files") {
            Some(files) => self.files_build(&m, &files, builder, &context_written, check),
            None => {
                let found = context.is_some();
                self.dockerfile_build(entry, &m, builder, &context_written, found, check)
            }
        };

        Some(Image {
            name,
            repository: repository?,
            context: context?,
            platform: platform?,
            labels,
            git_ref,
            builder: builder?,
            build: build?,
        })
    }

    /// An image's `repository` (its name when absent), joined to the top-level
    /// `registry` when relative.
    fn repository(
        &mut self,
        entry: &Val<'_>,
        m: &Map<'_>,
        registry: Option<&str>,
    ) -> Option<String> {
        let name = entry.name();
        let repository = match m.get("repository") {
            Some(v) => self.nonempty(&v).map(|r| (r, v.at(), v.path.clone())),
            None => Some((name.to_owned(), entry.key, entry.path.clone())),
        };
        repository.and_then(|(repo, at, path)| {
            if repo.contains('@') || repo.rsplit('/').next().is_some_and(|last| last.contains(':')) {
                self.error(
                    at,
                    &path,
                    format!("repository `{repo}` includes a tag or digest"),
                    Some("leave the tag out; it comes from `tag`".into()),
                );
                return None;
            }
            let path_part = if is_absolute_repository(&repo) {
                repo.split_once('/').map_or("", |(_, p)| p)
            } else {
                repo.as_str()
            };
            if path_part.is_empty()
                || !path_part.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-' | b'/')
                })
            {
                self.error(
                    at,
                    &path,
                    format!("invalid repository `{repo}`"),
                    Some("repository paths are lowercase letters, digits, `.`, `_`, `-` and `/`".into()),
                );
                return None;
            }
            if is_absolute_repository(&repo) {
                return Some(repo);
            }
            match registry {
                Some(r) => Some(format!("{r}/{repo}")),
                None => {
                    self.error(
                        at,
                        &path,
                        format!("repository `{repo}` of image `{name}` is relative and no `registry` is set"),
                        Some(format!("set a top-level `registry`, or write the full repository, e.g. `registry.example.com/{repo}`")),
                    );
                    None
                }
            }
        })
    }

    /// How a `files` image is built; the Dockerfile keys and builders other than
    /// `native` are refused beside it.
    fn files_build(
        &mut self,
        m: &Map<'_>,
        files: &Val<'_>,
        builder: Option<Builder>,
        context_written: &Path,
        check: bool,
    ) -> Option<ImageBuild> {
        for key in ["dockerfile", "target", "args"] {
            if let Some(v) = m.get(key) {
                self.error(
                    v.key,
                    &v.path,
                    format!("`{key}` cannot be used with `files`"),
                    Some(
                        "an image is built either from a Dockerfile or from `files`; remove one"
                            .into(),
                    ),
                );
            }
        }
        if let (Some(b), Some(v)) = (builder, m.get("builder"))
            && !matches!(b, Builder::Auto | Builder::Native)
        {
            self.error(
                v.at(),
                &v.path,
                format!("a `files` image cannot be built with `{b}`"),
                Some("remove `builder` or set it to `native`".into()),
            );
        }
        self.files_image(files, context_written, check)
            .map(ImageBuild::Files)
    }

    /// How a Dockerfile image is built: its Dockerfile (by default `Dockerfile` in the
    /// context, which must exist when the context was found), target and build args.
    fn dockerfile_build(
        &mut self,
        entry: &Val<'_>,
        m: &Map<'_>,
        builder: Option<Builder>,
        context_written: &Path,
        context_found: bool,
        check: bool,
    ) -> Option<ImageBuild> {
        if let (Some(Builder::Native), Some(v)) = (builder, m.get("builder")) {
            self.error(
                    v.at(),
                    &v.path,
                    "the `native` builder builds only `files` images",
                    Some("use `auto`, `buildah`, `docker` or `podman`, or describe the image with `files`".into()),
                );
        }
        let dockerfile = match m.get("dockerfile") {
            Some(v) => self.local_path(&v, Path::new(""), PathKind::File, check, PATH_HINT),
            None => {
                let written = join_rel(
                    Path::new(""),
                    &context_written.join("Dockerfile").to_string_lossy(),
                );
                let resolved = join_rel(&self.base_dir, &written.to_string_lossy());
                if check && context_found && !resolved.is_file() {
                    let (at, path) = match m.get("context") {
                        Some(v) => (v.at(), v.path.clone()),
                        None => (entry.key, entry.path.clone()),
                    };
                    self.error(
                        at,
                        &path,
                        format!(
                            "image `{}` has no Dockerfile at `{}`",
                            entry.name(),
                            written.display()
                        ),
                        Some("add `dockerfile: <path>`, or describe the image with `files`".into()),
                    );
                    None
                } else {
                    Some(resolved)
                }
            }
        };
        let target = m.get("target").and_then(|v| self.nonempty(&v));
        let args = m
            .get("args")
            .map(|v| {
                self.text_map(
                    &v,
                    |k| !k.is_empty(),
                    "build argument names must not be empty",
                )
            })
            .unwrap_or_default();
        dockerfile.map(|dockerfile| ImageBuild::Dockerfile {
            dockerfile,
            target,
            args,
        })
    }

    pub(super) fn platform(&mut self, v: &Val<'_>) -> Option<Platform> {
        let s = self.string(v)?;
        let parts: Vec<&str> = s.split('/').collect();
        let part_ok = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| part_ok(p)) {
            self.error(
                v.at(),
                &v.path,
                format!("invalid platform `{s}`"),
                Some("write `os/arch[/variant]`, e.g. `linux/amd64` or `linux/arm64/v8`".into()),
            );
            return None;
        }
        Some(Platform {
            os: parts[0].into(),
            architecture: parts[1].into(),
            variant: parts.get(2).map(|s| (*s).to_owned()),
        })
    }

    /// A `files` image: its base, the files copied in from `context` (which must exist
    /// when `check`), and its configuration. `None` when any key is wrong.
    pub(super) fn files_image(
        &mut self,
        v: &Val<'_>,
        context: &Path,
        check: bool,
    ) -> Option<FilesImage> {
        let m = self.map(v, Some(FILES_KEYS))?;
        let mut ok = true;
        let mut image = FilesImage {
            base: "scratch".into(),
            copy: Vec::new(),
            entrypoint: None,
            cmd: None,
            env: BTreeMap::new(),
            workdir: None,
            user: None,
            labels: BTreeMap::new(),
            expose: Vec::new(),
        };
        if let Some(v) = m.get("base") {
            match self.files_base(&v) {
                Some(b) => image.base = b,
                None => ok = false,
            }
        }
        if let Some(v) = m.get("copy") {
            match self.files_copy(&v, context, check) {
                Some(copy) => image.copy = copy,
                None => ok = false,
            }
        }
        if let Some(v) = m.get("entrypoint") {
            image.entrypoint = self.string_list(&v);
            ok &= image.entrypoint.is_some();
        }
        if let Some(v) = m.get("cmd") {
            image.cmd = self.string_list(&v);
            ok &= image.cmd.is_some();
        }
        if let Some(v) = m.get("env") {
            image.env = self.text_map(
                &v,
                is_env_var_name,
                "environment variable names are letters, digits and `_`, not starting with a digit",
            );
        }
        if let Some(v) = m.get("workdir") {
            image.workdir = self.nonempty(&v);
            ok &= image.workdir.is_some();
        }
        if let Some(v) = m.get("user") {
            image.user = self.text(&v);
            ok &= image.user.is_some();
        }
        if let Some(v) = m.get("labels") {
            image.labels = self.text_map(&v, |k| !k.is_empty(), "label keys must not be empty");
        }
        if let Some(v) = m.get("expose") {
            match self.files_expose(&v) {
                Some(expose) => image.expose = expose,
                None => ok = false,
            }
        }
        ok.then_some(image)
    }

    /// A `files` image's `base`: `scratch` or an image reference, without whitespace.
    fn files_base(&mut self, v: &Val<'_>) -> Option<String> {
        let b = self.nonempty(v)?;
        if b.contains(char::is_whitespace) {
            self.error(
                v.at(),
                &v.path,
                format!("invalid base image `{b}`"),
                Some(
                    "use `scratch` or an image reference, e.g. `docker.io/library/alpine:3.20`"
                        .into(),
                ),
            );
            return None;
        }
        Some(b)
    }

    /// A `files` image's `copy` list; every entry is checked, and `None` when one is
    /// wrong. A `copy` that is no list is reported and copies nothing.
    fn files_copy(&mut self, v: &Val<'_>, context: &Path, check: bool) -> Option<Vec<CopySpec>> {
        let copy_hint = format!(
            "`src` is relative to the image's context `{}`",
            context.display()
        );
        let mut ok = true;
        let mut copy = Vec::new();
        for item in self.list(v).unwrap_or_default() {
            match self.copy_spec(&item, context, check, &copy_hint) {
                Some(spec) => copy.push(spec),
                None => ok = false,
            }
        }
        ok.then_some(copy)
    }

    /// One entry of `copy`: its `src` and its `dest`, both required.
    fn copy_spec(
        &mut self,
        item: &Val<'_>,
        context: &Path,
        check: bool,
        copy_hint: &str,
    ) -> Option<CopySpec> {
        let cm = self.map(item, Some(COPY_KEYS))?;
        let src = match cm.get("src") {
            Some(s) => self.copy_src(&s, context, check, copy_hint),
            None => {
                self.missing(&cm, "src", None);
                None
            }
        };
        let dest = match cm.get("dest") {
            Some(d) => self.copy_dest(&d),
            None => {
                self.missing(&cm, "dest", None);
                None
            }
        };
        Some(CopySpec {
            src: src?,
            dest: dest?,
        })
    }

    /// A `copy` entry's `src`, relative to `context`; it must exist when `check`.
    fn copy_src(
        &mut self,
        s: &Val<'_>,
        context: &Path,
        check: bool,
        copy_hint: &str,
    ) -> Option<PathBuf> {
        let p = self.local_path(s, context, PathKind::File, false, "")?;
        if check && std::fs::metadata(&p).is_err() {
            let written = s.node.as_str().unwrap_or_default();
            self.error(
                s.at(),
                &s.path,
                format!("path `{written}` does not exist"),
                Some(copy_hint.to_owned()),
            );
            return None;
        }
        Some(p)
    }

    /// A `copy` entry's `dest`: an absolute path in the image.
    fn copy_dest(&mut self, d: &Val<'_>) -> Option<String> {
        let dest = self.nonempty(d)?;
        if !dest.starts_with('/') {
            self.error(
                d.at(),
                &d.path,
                format!("`dest` must be an absolute path, found `{dest}`"),
                Some(format!("write `/{dest}`")),
            );
            return None;
        }
        Some(dest)
    }

    /// A `files` image's `expose` list of ports; every entry is checked, and `None`
    /// when one is wrong. An `expose` that is no list is reported and exposes nothing.
    fn files_expose(&mut self, v: &Val<'_>) -> Option<Vec<Port>> {
        let mut ok = true;
        let mut expose = Vec::new();
        for item in self.list(v).unwrap_or_default() {
            match self.port(&item) {
                Some(p) => expose.push(p),
                None => ok = false,
            }
        }
        ok.then_some(expose)
    }

    pub(super) fn port(&mut self, v: &Val<'_>) -> Option<Port> {
        let text = match v.node.as_scalar() {
            Some(s) => s.text.clone(),
            None => {
                self.type_error(v, "a port");
                return None;
            }
        };
        let (number, proto) = text.split_once('/').unwrap_or((&text, "tcp"));
        match (number.parse::<u16>(), proto) {
            (Ok(n), "tcp" | "udp") if n > 0 => Some(Port {
                number: n,
                udp: proto == "udp",
            }),
            _ => {
                self.error(
                    v.at(),
                    &v.path,
                    format!("invalid port `{text}`"),
                    Some(
                        "write a number from 1 to 65535, optionally followed by `/tcp` or `/udp`"
                            .into(),
                    ),
                );
                None
            }
        }
    }
}
