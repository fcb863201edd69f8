//! Sprig's certificate functions (`genCA`, `genSelfSignedCert`, `genSignedCert`, ...),
//! through rcgen.
//!
//! Keys are ECDSA P-256: the ring backend cannot generate RSA keys, which Sprig uses.
//! Certificates are random in both, so no rendered output depends on the difference
//! except the PEM block names.

use std::net::IpAddr;
use std::rc::Rc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair, KeyUsagePurpose,
    SanType,
};

use super::{Funcs, Ty, reg, strval};
use crate::exec::State;
use crate::value::V;
use crate::{Object, Value};

use Ty::{Any, Int, Str};

pub(crate) fn register(m: &mut Funcs) {
    reg(m, "genCA", &[Str, Int], None, |_, a| {
        gen_ca(a[0].s(), a[1].i(), None)
    });
    reg(m, "genCAWithKey", &[Str, Int, Str], None, |_, a| {
        gen_ca(a[0].s(), a[1].i(), Some(a[2].s()))
    });
    reg(
        m,
        "genSelfSignedCert",
        &[Str, Any, Any, Int],
        None,
        |_, a| gen_cert(a, None, None),
    );
    reg(
        m,
        "genSelfSignedCertWithKey",
        &[Str, Any, Any, Int, Str],
        None,
        |_, a| gen_cert(a, None, Some(a[4].s())),
    );
    reg(
        m,
        "genSignedCert",
        &[Str, Any, Any, Int, Any],
        None,
        |_, a| gen_cert(a, Some(&a[4]), None),
    );
    reg(
        m,
        "genSignedCertWithKey",
        &[Str, Any, Any, Int, Any, Str],
        None,
        |_, a| gen_cert(a, Some(&a[4]), Some(a[5].s())),
    );
    reg(m, "genPrivateKey", &[Str], None, |_, a| {
        let alg = match a[0].s() {
            "ecdsa" => &rcgen::PKCS_ECDSA_P256_SHA256,
            "ed25519" => &rcgen::PKCS_ED25519,
            // Sprig's default type is RSA.
            "" | "rsa" => return Ok(V::str("rsa keys are not supported by this renderer")),
            "dsa" => return Ok(V::str("dsa keys are not supported by this renderer")),
            other => return Ok(V::str(format!("Unknown type {other}"))),
        };
        Ok(V::str(
            KeyPair::generate_for(alg)
                .map(|k| k.serialize_pem())
                .unwrap_or_else(|e| e.to_string()),
        ))
    });
    reg(m, "buildCustomCert", &[Str, Str], None, build_custom_cert);
}

/// Sprig's `certificate`: `.Cert` and `.Key`, PEM-encoded.
struct Certificate {
    cert: String,
    key: String,
    /// The certificate and key as rcgen holds them, to sign with when this is a CA.
    signer: Option<(rcgen::Certificate, KeyPair)>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("cert", &self.cert)
            .finish_non_exhaustive()
    }
}

impl Object for Certificate {
    fn type_name(&self) -> &str {
        "sprig.certificate"
    }
    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Cert" => Some(Value::String(self.cert.clone())),
            "Key" => Some(Value::String(self.key.clone())),
            _ => None,
        }
    }
    fn method(&self, _: &str, _: &[Value]) -> Option<Result<Value, String>> {
        None
    }
    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}

fn cert_value(cert: rcgen::Certificate, key: KeyPair) -> V {
    V::Object(Rc::new(Certificate {
        cert: cert.pem(),
        key: key.serialize_pem(),
        signer: Some((cert, key)),
    }))
}

fn key_pair(pem: Option<&str>) -> Result<KeyPair, String> {
    match pem {
        Some(p) => KeyPair::from_pem(p).map_err(|e| format!("error decoding key: {e}")),
        None => KeyPair::generate().map_err(|e| e.to_string()),
    }
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = jiff::Timestamp::now();
    let end = now
        .checked_add(jiff::SignedDuration::from_hours(24 * days.max(0)))
        .unwrap_or(now);
    let ymd = |t: jiff::Timestamp| {
        let d = t.to_zoned(jiff::tz::TimeZone::UTC).date();
        rcgen::date_time_ymd(i32::from(d.year()), d.month() as u8, d.day() as u8)
    };
    params.not_before = ymd(now);
    params.not_after = ymd(end);
}

fn gen_ca(cn: &str, days: i64, key: Option<&str>) -> Result<V, String> {
    let key = key_pair(key)?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, cn);
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
    ];
    validity(&mut params, days);
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    Ok(cert_value(cert, key))
}

fn strings(v: &V) -> Vec<String> {
    match v {
        V::List(l) => l.iter().map(strval).collect(),
        _ => Vec::new(),
    }
}

fn gen_cert(a: &[V], ca: Option<&V>, key: Option<&str>) -> Result<V, String> {
    let key = key_pair(key)?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, a[0].s());
    params.distinguished_name = name;
    for ip in strings(&a[1]) {
        let ip: IpAddr = ip.parse().map_err(|_| format!("error parsing ip: {ip}"))?;
        params.subject_alt_names.push(SanType::IpAddress(ip));
    }
    for dns in strings(&a[2]) {
        let n = dns
            .clone()
            .try_into()
            .map_err(|_| format!("invalid DNS name: {dns}"))?;
        params.subject_alt_names.push(SanType::DnsName(n));
    }
    params.key_usages = vec![
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
    ];
    validity(&mut params, a[3].i());
    let cert = match ca {
        None => params.self_signed(&key).map_err(|e| e.to_string())?,
        Some(V::Object(o)) => {
            let ca = o.as_any().and_then(|a| a.downcast_ref::<Certificate>());
            let Some((ca_cert, ca_key)) = ca.and_then(|c| c.signer.as_ref()) else {
                return Err("only certificates made by genCA can sign certificates here".into());
            };
            params
                .signed_by(&key, ca_cert, ca_key)
                .map_err(|e| e.to_string())?
        }
        Some(_) => return Err("the CA given is not a certificate".into()),
    };
    Ok(cert_value(cert, key))
}

fn build_custom_cert(_: &mut State, a: &[V]) -> Result<V, String> {
    use base64::Engine as _;
    let dec = |s: &str, what: &str| {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| format!("unable to decode base64 {what}: illegal base64 data"))
    };
    let cert = dec(a[0].s(), "certificate")?;
    let key = dec(a[1].s(), "private key")?;
    if !cert.contains("-----BEGIN CERTIFICATE-----") {
        return Err("unable to decode certificate".into());
    }
    Ok(V::Object(Rc::new(Certificate {
        cert,
        key,
        signer: None,
    })))
}
