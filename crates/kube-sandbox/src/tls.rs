//! HTTPS for the API: a certificate authority generated at start, a server certificate
//! for loopback (`127.0.0.1`, `::1`, `localhost` and the address bound), client
//! certificates issued to the sandbox's users, and the accept loop that does the TLS
//! handshake and hands each connection, with the fingerprint of the certificate its client
//! presented, to the same router as plain HTTP.
//!
//! Keys live in memory only: a restarted sandbox has a new authority, and the kubeconfig
//! it writes then carries the new certificates.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

use crate::auth::Fingerprint;

/// A certificate and its private key, PEM-encoded, as a kubeconfig carries them.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    /// SHA-256 of the certificate's DER encoding.
    pub fingerprint: Fingerprint,
}

/// The sandbox's certificate authority.
pub struct Authority {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn tls_error(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(format!("TLS: {e}"))
}

/// The SHA-256 fingerprint of a certificate in DER.
pub fn fingerprint(der: &[u8]) -> Fingerprint {
    Sha256::digest(der).into()
}

impl Authority {
    /// A new authority (ECDSA P-256).
    pub fn generate() -> std::io::Result<Authority> {
        let key = KeyPair::generate().map_err(tls_error)?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "kube-sandbox-ca");
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).map_err(tls_error)?;
        Ok(Authority { cert, key })
    }

    /// The authority's certificate, PEM-encoded (a kubeconfig's
    /// `certificate-authority-data`, once base64-encoded).
    pub fn ca_pem(&self) -> String {
        self.cert.pem()
    }

    fn leaf(&self, params: CertificateParams) -> std::io::Result<(rcgen::Certificate, KeyPair)> {
        let key = KeyPair::generate().map_err(tls_error)?;
        let cert = params
            .signed_by(&key, &self.cert, &self.key)
            .map_err(tls_error)?;
        Ok((cert, key))
    }

    /// A client certificate for `user` in `groups`: CN is the user, each O a group, as
    /// the real API server reads them.
    pub fn issue_client(&self, user: &str, groups: &[String]) -> std::io::Result<Issued> {
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, user);
        for g in groups {
            name.push(DnType::OrganizationName, g.as_str());
        }
        params.distinguished_name = name;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let (cert, key) = self.leaf(params)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            fingerprint: fingerprint(cert.der()),
        })
    }

    /// The server's TLS configuration: a certificate for loopback and `addr`, client
    /// certificates of this authority asked for but not required (a client may use a
    /// token instead), HTTP/2 and HTTP/1.1 offered.
    pub fn server_config(&self, addr: SocketAddr) -> std::io::Result<Arc<rustls::ServerConfig>> {
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "kube-apiserver");
        params.distinguished_name = name;
        let mut ips: Vec<IpAddr> =
            vec![[127, 0, 0, 1].into(), std::net::Ipv6Addr::LOCALHOST.into()];
        if !addr.ip().is_unspecified() && !ips.contains(&addr.ip()) {
            ips.push(addr.ip());
        }
        params.subject_alt_names = ["localhost", "kubernetes", "kubernetes.default"]
            .iter()
            .map(|d| SanType::DnsName((*d).try_into().expect("a DNS name")))
            .chain(ips.into_iter().map(SanType::IpAddress))
            .collect();
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let (cert, key) = self.leaf(params)?;

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.cert.der().clone()).map_err(tls_error)?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .map_err(tls_error)?;
        let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone(), self.cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .map_err(tls_error)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// How long a client has to complete the TLS handshake.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serves `router` over TLS on `listener` until `shutdown` fires. Each connection runs in
/// a task of a set owned by this future, so stopping it closes them all (watches
/// included). The client certificate's fingerprint, when one was presented and verified,
/// reaches the handler as a request extension.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: Arc<rustls::ServerConfig>,
    router: axum::Router,
    shutdown: tokio::sync::oneshot::Receiver<()>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let tcp = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                // Out of file descriptors, say: wait a moment instead of spinning.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let acceptor = acceptor.clone();
        let router = router.clone();
        connections.spawn(async move {
            let _ = tcp.set_nodelay(true);
            // A client that connects and never completes the handshake is dropped.
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await;
            let Ok(Ok(stream)) = handshake else {
                return;
            };
            let peer = stream
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|certs| certs.first())
                .map(|c| fingerprint(c.as_ref()));
            let service = hyper::service::service_fn(
                move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request.extensions_mut().insert(crate::auth::Peer(peer));
                    let mut router = router.clone();
                    async move {
                        use tower_service::Service;
                        router.call(request.map(axum::body::Body::new)).await
                    }
                },
            );
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let _ = builder
                .serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}
