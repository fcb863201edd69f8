//! Sprig's encoding, hashing, JSON, path, URL, UUID and semver functions.

use std::collections::BTreeMap;
use std::rc::Rc;

use base64::Engine as _;
use rand::RngExt;
use sha1::Digest as _;

use super::{Funcs, Ty, reg, strval};
use crate::exec::State;
use crate::value::V;
use crate::{Object, Value, json};

use Ty::{Any, Str};

pub(crate) fn register(m: &mut Funcs) {
    reg(m, "b64enc", &[Str], None, |_, a| {
        Ok(V::str(
            base64::engine::general_purpose::STANDARD.encode(a[0].s()),
        ))
    });
    reg(m, "b64dec", &[Str], None, |_, a| {
        Ok(V::str(
            match base64::engine::general_purpose::STANDARD.decode(a[0].s()) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => go_base64_error(&e),
            },
        ))
    });
    reg(m, "b32enc", &[Str], None, |_, a| {
        Ok(V::str(data_encoding::BASE32.encode(a[0].s().as_bytes())))
    });
    reg(m, "b32dec", &[Str], None, |_, a| {
        Ok(V::str(
            match data_encoding::BASE32.decode(a[0].s().as_bytes()) {
                Ok(b) => String::from_utf8_lossy(&b).into_owned(),
                Err(e) => format!("illegal base32 data at input byte {}", e.position),
            },
        ))
    });
    reg(m, "sha1sum", &[Str], None, |_, a| {
        Ok(V::str(hex(&sha1::Sha1::digest(a[0].s().as_bytes()))))
    });
    reg(m, "sha256sum", &[Str], None, |_, a| {
        Ok(V::str(hex(&sha2::Sha256::digest(a[0].s().as_bytes()))))
    });
    reg(m, "sha512sum", &[Str], None, |_, a| {
        Ok(V::str(hex(&sha2::Sha512::digest(a[0].s().as_bytes()))))
    });
    reg(m, "adler32sum", &[Str], None, |_, a| {
        let mut h = adler2::Adler32::new();
        h.write_slice(a[0].s().as_bytes());
        Ok(V::str(h.checksum().to_string()))
    });
    reg(m, "uuidv4", &[], None, |_, _| Ok(V::str(uuidv4())));
    reg(m, "randBytes", &[Ty::Int], None, |_, a| {
        let mut b = vec![0u8; a[0].i().max(0) as usize];
        rand::rng().fill(&mut b[..]);
        Ok(V::str(base64::engine::general_purpose::STANDARD.encode(b)))
    });

    reg(m, "toJson", &[Any], None, |_, a| {
        Ok(V::str(json::encode(&a[0], None, true)))
    });
    reg(m, "mustToJson", &[Any], None, |_, a| {
        Ok(V::str(json::encode(&a[0], None, true)))
    });
    reg(m, "toPrettyJson", &[Any], None, |_, a| {
        Ok(V::str(json::encode(&a[0], Some("  "), true)))
    });
    reg(m, "mustToPrettyJson", &[Any], None, |_, a| {
        Ok(V::str(json::encode(&a[0], Some("  "), true)))
    });
    reg(m, "toRawJson", &[Any], None, |_, a| {
        Ok(V::str(json::encode(&a[0], None, false)))
    });
    reg(m, "mustToRawJson", &[Any], None, |_, a| {
        Ok(V::str(json::encode(&a[0], None, false)))
    });
    reg(m, "fromJson", &[Str], None, |_, a| {
        Ok(match json::decode(a[0].s()) {
            Ok(V::Map(m)) => V::Map(m),
            Ok(other) => {
                let mut m = BTreeMap::new();
                m.insert(
                    "Error".to_string(),
                    V::str(format!(
                        "json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                        json_kind(&other)
                    )),
                );
                V::map(m)
            }
            Err(e) => V::map([("Error".to_string(), V::str(e))].into_iter().collect()),
        })
    });
    reg(m, "mustFromJson", &[Str], None, |_, a| {
        json::decode(a[0].s())
    });
    reg(m, "fromJsonArray", &[Str], None, |_, a| {
        Ok(match json::decode(a[0].s()) {
            Ok(V::List(l)) => V::List(l),
            Ok(other) => V::list(vec![V::str(format!(
                "json: cannot unmarshal {} into Go value of type []interface {{}}",
                json_kind(&other)
            ))]),
            Err(e) => V::list(vec![V::str(e)]),
        })
    });

    reg(m, "base", &[Str], None, |_, a| {
        Ok(V::str(path_base(a[0].s())))
    });
    reg(m, "osBase", &[Str], None, |_, a| {
        Ok(V::str(path_base(a[0].s())))
    });
    reg(m, "dir", &[Str], None, |_, a| {
        Ok(V::str(path_dir(a[0].s())))
    });
    reg(m, "osDir", &[Str], None, |_, a| {
        Ok(V::str(path_dir(a[0].s())))
    });
    reg(m, "clean", &[Str], None, |_, a| {
        Ok(V::str(path_clean(a[0].s())))
    });
    reg(m, "osClean", &[Str], None, |_, a| {
        Ok(V::str(path_clean(a[0].s())))
    });
    reg(m, "ext", &[Str], None, |_, a| {
        Ok(V::str(path_ext(a[0].s())))
    });
    reg(m, "osExt", &[Str], None, |_, a| {
        Ok(V::str(path_ext(a[0].s())))
    });
    reg(m, "isAbs", &[Str], None, |_, a| {
        Ok(V::Bool(a[0].s().starts_with('/')))
    });
    reg(m, "osIsAbs", &[Str], None, |_, a| {
        Ok(V::Bool(a[0].s().starts_with('/')))
    });
    reg(m, "urlParse", &[Str], None, url_parse);
    reg(m, "urlJoin", &[Ty::Map], None, url_join);
    reg(m, "getHostByName", &[Str], None, |_, a| {
        Err(format!(
            "getHostByName {:?}: name resolution is not available while rendering",
            a[0].s()
        ))
    });

    reg(m, "semver", &[Str], None, |_, a| {
        Ok(V::Object(Rc::new(Semver::parse(a[0].s())?)))
    });
    reg(m, "semverCompare", &[Str, Str], None, |_, a| {
        let c = Constraints::parse(a[0].s())?;
        let v = Semver::parse(a[1].s())?;
        Ok(V::Bool(c.check(&v)))
    });
    for name in [
        "bcrypt",
        "htpasswd",
        "derivePassword",
        "encryptAES",
        "decryptAES",
    ] {
        reg(m, name, &[], Some(Any), not_supported);
    }
}

fn not_supported(_: &mut State, _: &[V]) -> Result<V, String> {
    Err("this function is not supported by this renderer".into())
}

fn json_kind(v: &V) -> &'static str {
    match v {
        V::Nil => "null",
        V::Bool(_) => "bool",
        V::Int(_) | V::Float(_) => "number",
        V::Str(_) => "string",
        V::List(_) => "array",
        _ => "object",
    }
}

fn go_base64_error(e: &base64::DecodeError) -> String {
    let pos = match e {
        base64::DecodeError::InvalidByte(p, _) | base64::DecodeError::InvalidLastSymbol(p, _) => *p,
        base64::DecodeError::InvalidLength(p) => *p,
        base64::DecodeError::InvalidPadding => 0,
    };
    format!("illegal base64 data at input byte {pos}")
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn uuidv4() -> String {
    let mut b = [0u8; 16];
    rand::rng().fill(&mut b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// Go's `path.Clean`.
pub(crate) fn path_clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

fn path_base(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        return "/".into();
    }
    t.rsplit('/').next().unwrap_or(t).to_string()
}

fn path_dir(p: &str) -> String {
    let dir = match p.rfind('/') {
        Some(i) => &p[..=i],
        None => "",
    };
    path_clean(dir)
}

fn path_ext(p: &str) -> String {
    let base = p.rsplit('/').next().unwrap_or(p);
    match base.rfind('.') {
        Some(i) => base[i..].to_string(),
        None => String::new(),
    }
}

fn url_parse(_: &mut State, a: &[V]) -> Result<V, String> {
    let s = a[0].s();
    let (scheme, rest) = match s.find("://") {
        Some(i) => (&s[..i], &s[i + 3..]),
        None => ("", s),
    };
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = if scheme.is_empty() {
        ("", rest)
    } else {
        match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        }
    };
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (&authority[..i], &authority[i + 1..]),
        None => ("", authority),
    };
    let m: BTreeMap<String, V> = [
        ("scheme", scheme),
        ("host", host),
        ("hostname", host.rsplit_once(':').map_or(host, |(h, _)| h)),
        ("path", path),
        ("query", query),
        ("opaque", ""),
        ("fragment", fragment),
        ("userinfo", userinfo),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), V::str(v)))
    .collect();
    Ok(V::map(m))
}

fn url_join(_: &mut State, a: &[V]) -> Result<V, String> {
    let V::Map(m) = &a[0] else {
        return Ok(V::str(""));
    };
    let m = m.borrow();
    let get = |k: &str| m.get(k).map(strval).unwrap_or_default();
    let mut s = String::new();
    if !get("scheme").is_empty() {
        s.push_str(&get("scheme"));
        s.push_str("://");
    }
    if !get("userinfo").is_empty() {
        s.push_str(&get("userinfo"));
        s.push('@');
    }
    s.push_str(&get("host"));
    s.push_str(&get("path"));
    if !get("query").is_empty() {
        s.push('?');
        s.push_str(&get("query"));
    }
    if !get("fragment").is_empty() {
        s.push('#');
        s.push_str(&get("fragment"));
    }
    Ok(V::str(s))
}

/// A version as Masterminds/semver v3 reads it: lenient (`v1.2`, `1`), with
/// prerelease and metadata.
#[derive(Debug, Clone)]
pub(crate) struct Semver {
    major: u64,
    minor: u64,
    patch: u64,
    pre: String,
    meta: String,
    original: String,
}

impl Semver {
    pub(crate) fn parse(s: &str) -> Result<Semver, String> {
        let bad = || "Invalid Semantic Version".to_string();
        let body = s.strip_prefix('v').unwrap_or(s);
        let (body, meta) = body.split_once('+').unwrap_or((body, ""));
        let (nums, pre) = body.split_once('-').unwrap_or((body, ""));
        let parts: Vec<&str> = nums.split('.').collect();
        if parts.is_empty()
            || parts.len() > 3
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad());
        }
        let n = |i: usize| {
            parts
                .get(i)
                .map(|p| p.parse::<u64>().map_err(|_| bad()))
                .unwrap_or(Ok(0))
        };
        let valid_ids = |x: &str| {
            x.is_empty()
                || x.split('.').all(|id| {
                    !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        };
        if !valid_ids(pre) || !valid_ids(meta) {
            return Err(bad());
        }
        Ok(Semver {
            major: n(0)?,
            minor: n(1)?,
            patch: n(2)?,
            pre: pre.into(),
            meta: meta.into(),
            original: s.into(),
        })
    }

    fn cmp(&self, o: &Semver) -> std::cmp::Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(o.major, o.minor, o.patch))
            .then_with(|| cmp_pre(&self.pre, &o.pre))
    }
}

fn cmp_pre(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a.is_empty(), b.is_empty()) {
        (true, true) => return Equal,
        (true, false) => return Greater,
        (false, true) => return Less,
        _ => {}
    }
    let (mut x, mut y) = (a.split('.'), b.split('.'));
    loop {
        match (x.next(), y.next()) {
            (None, None) => return Equal,
            (None, Some(_)) => return Less,
            (Some(_), None) => return Greater,
            (Some(p), Some(q)) => {
                let o = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(i), Ok(j)) => i.cmp(&j),
                    (Ok(_), Err(_)) => Less,
                    (Err(_), Ok(_)) => Greater,
                    _ => p.cmp(q),
                };
                if o != Equal {
                    return o;
                }
            }
        }
    }
}

impl std::fmt::Display for Semver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.meta.is_empty() {
            write!(f, "+{}", self.meta)?;
        }
        Ok(())
    }
}

impl Object for Semver {
    fn type_name(&self) -> &str {
        "*semver.Version"
    }
    fn field(&self, _name: &str) -> Option<Value> {
        None
    }
    fn method(&self, name: &str, _args: &[Value]) -> Option<Result<Value, String>> {
        Some(Ok(match name {
            "Major" => Value::Int(self.major as i64),
            "Minor" => Value::Int(self.minor as i64),
            "Patch" => Value::Int(self.patch as i64),
            "Prerelease" => Value::String(self.pre.clone()),
            "Metadata" => Value::String(self.meta.clone()),
            "Original" => Value::String(self.original.clone()),
            "String" => Value::String(self.to_string()),
            _ => return None,
        }))
    }
}

/// One comparison of a constraint (`>=1.2.3`, `~1.2`, `1.x`).
struct Constraint {
    op: String,
    v: Semver,
    /// How many of major, minor, patch were given (a wildcard ends the count).
    given: usize,
}

/// A Masterminds/semver v3 constraint: `||`-separated groups of `,`/space-separated
/// comparisons.
pub(crate) struct Constraints(Vec<Vec<Constraint>>);

impl Constraints {
    pub(crate) fn parse(s: &str) -> Result<Constraints, String> {
        let mut groups = Vec::new();
        for group in s.split("||") {
            let mut cs = Vec::new();
            // Join an operator separated from its version by spaces (`>= 1.2`).
            let mut tokens: Vec<String> = Vec::new();
            for t in group.split([',', ' ']).filter(|t| !t.is_empty()) {
                if let Some(last) = tokens.last_mut()
                    && !last.is_empty()
                    && last.chars().all(|c| "<>=!~^".contains(c))
                {
                    last.push_str(t);
                    continue;
                }
                tokens.push(t.to_string());
            }
            // Hyphen ranges: `1.2 - 1.4.5`.
            let mut i = 0;
            while i < tokens.len() {
                if i + 2 < tokens.len() && tokens[i + 1] == "-" {
                    cs.push(Constraint::parse(&format!(">={}", tokens[i]))?);
                    cs.push(Constraint::parse(&format!("<={}", tokens[i + 2]))?);
                    i += 3;
                    continue;
                }
                cs.push(Constraint::parse(&tokens[i])?);
                i += 1;
            }
            if cs.is_empty() {
                return Err(format!("improper constraint: {s}"));
            }
            groups.push(cs);
        }
        Ok(Constraints(groups))
    }

    pub(crate) fn check(&self, v: &Semver) -> bool {
        self.0.iter().any(|g| g.iter().all(|c| c.check(v)))
    }
}

impl Constraint {
    fn parse(t: &str) -> Result<Constraint, String> {
        let op_len = t.find(|c: char| !"<>=!~^".contains(c)).unwrap_or(t.len());
        let (op, ver) = t.split_at(op_len);
        let ver = ver.trim();
        let bad = || format!("improper constraint: {t}");
        let body = ver.strip_prefix('v').unwrap_or(ver);
        let (nums, rest) = match body.find(['-', '+']) {
            Some(i) => (&body[..i], &body[i..]),
            None => (body, ""),
        };
        let mut given = 0;
        let mut fixed = Vec::new();
        for p in nums.split('.') {
            if matches!(p, "x" | "X" | "*") {
                break;
            }
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            fixed.push(p);
            given += 1;
        }
        if given > 3 {
            return Err(bad());
        }
        let mut full = fixed.join(".");
        if full.is_empty() {
            full = "0".into();
        }
        let v = Semver::parse(&format!("{full}{rest}")).map_err(|_| bad())?;
        let op = match op {
            "" | "=" | "==" => "=",
            "=>" => ">=",
            "=<" => "<=",
            "~>" => "~",
            o => o,
        };
        Ok(Constraint {
            op: op.to_string(),
            v,
            given,
        })
    }

    fn check(&self, v: &Semver) -> bool {
        use std::cmp::Ordering::*;
        // A version with a prerelease only matches constraints that carry one.
        if !v.pre.is_empty() && self.v.pre.is_empty() {
            return false;
        }
        let c = &self.v;
        let tuple =
            |x: &Semver, n: usize| -> Vec<u64> { [x.major, x.minor, x.patch][..n].to_vec() };
        let n = self.given;
        match self.op.as_str() {
            "=" => {
                if n < 3 {
                    tuple(v, n) == tuple(c, n)
                } else {
                    v.cmp(c) == Equal
                }
            }
            "!=" => {
                if n < 3 {
                    tuple(v, n) != tuple(c, n)
                } else {
                    v.cmp(c) != Equal
                }
            }
            ">" => {
                if n < 3 {
                    tuple(v, n) > tuple(c, n)
                } else {
                    v.cmp(c) == Greater
                }
            }
            ">=" => v.cmp(c) != Less,
            "<" => v.cmp(c) == Less,
            "<=" => {
                if n < 3 {
                    tuple(v, n) <= tuple(c, n)
                } else {
                    v.cmp(c) != Greater
                }
            }
            "~" => {
                if v.cmp(c) == Less {
                    return false;
                }
                if n >= 2 {
                    v.major == c.major && v.minor == c.minor
                } else {
                    v.major == c.major
                }
            }
            "^" => {
                if v.cmp(c) == Less {
                    return false;
                }
                if c.major > 0 || n < 2 {
                    v.major == c.major
                } else if c.minor > 0 || n < 3 {
                    v.major == 0 && v.minor == c.minor
                } else {
                    v.major == 0 && v.minor == 0 && v.patch == c.patch
                }
            }
            _ => false,
        }
    }
}
