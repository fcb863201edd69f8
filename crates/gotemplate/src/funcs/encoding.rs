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

    reg(m, "semver", &[Str], None, |_, a| {
        Ok(V::Object(Rc::new(Semver::parse(a[0].s())?)))
    });
    reg(m, "semverCompare", &[Str, Str], None, |_, a| {
        let c = Constraints::parse(a[0].s())?;
        let v = Semver::parse(a[1].s())?;
        Ok(V::Bool(c.check(&v)))
    });
    reg(m, "bcrypt", &[Str], None, |_, a| {
        Ok(V::str(bcrypt_hash(a[0].s())))
    });
    reg(m, "htpasswd", &[Str, Str], None, |_, a| {
        if a[0].s().contains(':') {
            return Ok(V::str(format!("invalid username: {}", a[0].s())));
        }
        Ok(V::str(format!("{}:{}", a[0].s(), bcrypt_hash(a[1].s()))))
    });
    reg(m, "encryptAES", &[Str, Str], None, |_, a| {
        encrypt_aes(a[0].s(), a[1].s()).map(V::Str)
    });
    reg(m, "decryptAES", &[Str, Str], None, |_, a| {
        decrypt_aes(a[0].s(), a[1].s()).map(V::Str)
    });
    reg(
        m,
        "derivePassword",
        &[Ty::Int, Str, Str, Str, Str],
        None,
        |_, a| {
            Ok(V::str(derive_password(
                a[0].i() as u32,
                a[1].s(),
                a[2].s(),
                a[3].s(),
                a[4].s(),
            )))
        },
    );
}

/// Sprig's `derivePassword`: the Master Password algorithm (scrypt of the password
/// salted with the user, HMAC-SHA256 of the site and counter, a template of character
/// classes chosen and filled from that seed).
fn derive_password(counter: u32, kind: &str, password: &str, user: &str, site: &str) -> String {
    use hmac::Mac;
    const SEED: &str = "com.lyndir.masterpassword";
    let templates: &[&str] = match kind {
        "maximum" => &["anoxxxxxxxxxxxxxxxxx", "axxxxxxxxxxxxxxxxxno"],
        "long" => &[
            "CvcvnoCvcvCvcv",
            "CvcvCvcvnoCvcv",
            "CvcvCvcvCvcvno",
            "CvccnoCvcvCvcv",
            "CvccCvcvnoCvcv",
            "CvccCvcvCvcvno",
            "CvcvnoCvccCvcv",
            "CvcvCvccnoCvcv",
            "CvcvCvccCvcvno",
            "CvcvnoCvcvCvcc",
            "CvcvCvcvnoCvcc",
            "CvcvCvcvCvccno",
            "CvccnoCvccCvcv",
            "CvccCvccnoCvcv",
            "CvccCvccCvcvno",
            "CvcvnoCvccCvcc",
            "CvcvCvccnoCvcc",
            "CvcvCvccCvccno",
            "CvccnoCvcvCvcc",
            "CvccCvcvnoCvcc",
            "CvccCvcvCvccno",
        ],
        "medium" => &["CvcnoCvc", "CvcCvcno"],
        "short" => &["Cvcn"],
        "basic" => &["aaanaaan", "aannaaan", "aaannaaa"],
        "pin" => &["nnnn"],
        other => return format!("cannot find password template {other}"),
    };
    let mut salt = SEED.as_bytes().to_vec();
    salt.extend_from_slice(&(user.len() as u32).to_be_bytes());
    salt.extend_from_slice(user.as_bytes());
    let mut key = [0u8; 64];
    let derived = scrypt::Params::new(15, 8, 2, 64)
        .map_err(|e| e.to_string())
        .and_then(|p| {
            scrypt::scrypt(password.as_bytes(), &salt, &p, &mut key).map_err(|e| e.to_string())
        });
    if let Err(e) = derived {
        return format!("failed to derive password: {e}");
    }
    let mut data = SEED.as_bytes().to_vec();
    data.extend_from_slice(&(site.len() as u32).to_be_bytes());
    data.extend_from_slice(site.as_bytes());
    data.extend_from_slice(&counter.to_be_bytes());
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key) else {
        return "failed to derive password: bad key".to_string();
    };
    mac.update(&data);
    let seed = mac.finalize().into_bytes();
    let template = templates[usize::from(seed[0]) % templates.len()];
    template
        .bytes()
        .enumerate()
        .map(|(i, class)| {
            let chars: &[u8] = match class {
                b'V' => b"AEIOU",
                b'C' => b"BCDFGHJKLMNPQRSTVWXYZ",
                b'v' => b"aeiou",
                b'c' => b"bcdfghjklmnpqrstvwxyz",
                b'A' => b"AEIOUBCDFGHJKLMNPQRSTVWXYZ",
                b'a' => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz",
                b'n' => b"0123456789",
                b'o' => b"@&%?,=[]_:-+*$#!'^~;()/.",
                _ => b"AEIOUaeiouBCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz0123456789!@#$%^&*()",
            };
            chars[usize::from(seed[i + 1]) % chars.len()] as char
        })
        .collect()
}

/// Go's `bcrypt.GenerateFromPassword` with the default cost (10), in the `$2a$` form.
fn bcrypt_hash(password: &str) -> String {
    match bcrypt::hash_with_result(password, 10) {
        Ok(h) => h.format_for_version(bcrypt::Version::TwoA),
        Err(e) => e.to_string(),
    }
}

/// Sprig's AES key: the password's bytes, cut or zero-padded to 32.
fn aes_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let b = password.as_bytes();
    let n = b.len().min(32);
    key[..n].copy_from_slice(&b[..n]);
    key
}

/// Sprig's `encryptAES`: AES-256-CBC with a random IV and PKCS#7 padding, the IV
/// before the ciphertext, base64-encoded.
fn encrypt_aes(password: &str, plaintext: &str) -> Result<String, String> {
    if plaintext.is_empty() {
        return Ok(String::new());
    }
    use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
    let mut iv = [0u8; 16];
    rand::rng().fill(&mut iv);
    let msg = plaintext.as_bytes();
    let mut buf = vec![0u8; (msg.len() / 16 + 1) * 16];
    buf[..msg.len()].copy_from_slice(msg);
    let enc = cbc::Encryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv.into());
    let ct = enc
        .encrypt_padded_mut::<Pkcs7>(&mut buf, msg.len())
        .map_err(|e| e.to_string())?;
    let mut out = iv.to_vec();
    out.extend_from_slice(ct);
    Ok(base64::engine::general_purpose::STANDARD.encode(out))
}

/// Sprig's `decryptAES`.
fn decrypt_aes(password: &str, b64: &str) -> Result<String, String> {
    if b64.is_empty() {
        return Ok(String::new());
    }
    use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::NoPadding};
    let data = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| go_base64_error(&e))?;
    if data.len() < 16 || data.len() % 16 != 0 {
        return Err("crypto/cipher: input not full blocks".into());
    }
    let (iv, ct) = data.split_at(16);
    let mut buf = ct.to_vec();
    let iv: [u8; 16] = iv
        .try_into()
        .map_err(|_| "crypto/cipher: bad IV".to_string())?;
    let dec = cbc::Decryptor::<aes::Aes256>::new(&aes_key(password).into(), &iv.into());
    let pt = dec
        .decrypt_padded_mut::<NoPadding>(&mut buf)
        .map_err(|e| e.to_string())?;
    let pad = usize::from(pt.last().copied().unwrap_or(0));
    let end = pt.len().saturating_sub(pad);
    Ok(String::from_utf8_lossy(&pt[..end]).into_owned())
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
/// prerelease and metadata. Written here because the `semver` crate follows Cargo's
/// rules (strict versions, different constraint syntax and prerelease matching).
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
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
    fn method(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>> {
        let other = || match args {
            [Value::Object(o)] => o
                .as_any()
                .and_then(|a| a.downcast_ref::<Semver>())
                .cloned()
                .ok_or_else(|| "the argument is not a version".to_string()),
            [Value::String(s)] => Semver::parse(s),
            _ => Err(format!(
                "wrong number of args for {name}: want 1 got {}",
                args.len()
            )),
        };
        let bumped = |major: u64, minor: u64, patch: u64| Semver {
            major,
            minor,
            patch,
            pre: String::new(),
            meta: String::new(),
            original: format!("{major}.{minor}.{patch}"),
        };
        Some(Ok(match name {
            "Compare" | "LessThan" | "GreaterThan" | "Equal" => {
                let o = match other() {
                    Ok(o) => o,
                    Err(e) => return Some(Err(e)),
                };
                let c = self.cmp(&o);
                match name {
                    "Compare" => Value::Int(c as i64),
                    "LessThan" => Value::Bool(c.is_lt()),
                    "GreaterThan" => Value::Bool(c.is_gt()),
                    _ => Value::Bool(c.is_eq()),
                }
            }
            "IncMajor" => Value::Object(Rc::new(bumped(self.major + 1, 0, 0))),
            "IncMinor" => Value::Object(Rc::new(bumped(self.major, self.minor + 1, 0))),
            "IncPatch" => Value::Object(Rc::new(if self.pre.is_empty() {
                bumped(self.major, self.minor, self.patch + 1)
            } else {
                bumped(self.major, self.minor, self.patch)
            })),
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
