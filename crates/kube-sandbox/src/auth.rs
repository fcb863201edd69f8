//! Authentication: who sent a request. A client certificate issued by the sandbox's
//! authority (matched by its SHA-256 fingerprint), or a bearer token the sandbox handed
//! out — to a user at start, or to a ServiceAccount through the TokenRequest API
//! (`kubectl create token`). When authentication is on, a request with neither is
//! answered `401 Unauthorized`, except the public version and health endpoints.

use std::collections::HashMap;
use std::sync::RwLock;

use axum::http::{HeaderMap, header};
use base64::Engine;

/// SHA-256 of a certificate's DER encoding.
pub type Fingerprint = [u8; 32];

/// The verified client certificate of a TLS connection, as a request extension.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub Option<Fingerprint>);

/// A user and its groups, as the authorizer sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
}

/// The administrator every kubeconfig's `sandbox` user is.
pub const ADMIN: &str = "sandbox-admin";

impl Identity {
    /// `user` in `groups`, plus `system:authenticated` as every authenticated user.
    pub fn new(user: &str, groups: &[String]) -> Identity {
        let mut groups = groups.to_vec();
        if !groups.iter().any(|g| g == "system:authenticated") {
            groups.push("system:authenticated".into());
        }
        Identity {
            user: user.into(),
            groups,
        }
    }

    /// The administrator: `sandbox-admin` in `system:masters`.
    pub fn admin() -> Identity {
        Identity::new(ADMIN, &["system:masters".into()])
    }

    /// The ServiceAccount `name` of `namespace`, as its tokens authenticate.
    pub fn service_account(namespace: &str, name: &str) -> Identity {
        Identity::new(
            &format!("system:serviceaccount:{namespace}:{name}"),
            &[
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
            ],
        )
    }
}

/// A random bearer token: 32 bytes from the system's generator, base64url.
pub fn random_token() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random generator");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The credentials the sandbox knows. Tokens and certificates live in memory only.
#[derive(Default)]
pub struct Authenticator {
    certificates: RwLock<HashMap<Fingerprint, Identity>>,
    tokens: RwLock<HashMap<String, Identity>>,
}

impl Authenticator {
    pub fn add_certificate(&self, fingerprint: Fingerprint, identity: Identity) {
        self.certificates
            .write()
            .expect("certificates")
            .insert(fingerprint, identity);
    }

    pub fn add_token(&self, token: String, identity: Identity) {
        self.tokens.write().expect("tokens").insert(token, identity);
    }

    /// A new token for `identity`.
    pub fn issue_token(&self, identity: Identity) -> String {
        let token = random_token();
        self.add_token(token.clone(), identity);
        token
    }

    /// Who holds `token`, if anyone (the TokenReview API).
    pub fn token_identity(&self, token: &str) -> Option<Identity> {
        self.tokens.read().expect("tokens").get(token).cloned()
    }

    /// Who sent a request: its bearer token when it has an `Authorization` header (a wrong
    /// token is not made up for by a certificate, as on the real server the token is
    /// tried first and a failure is final), else its client certificate.
    pub fn authenticate(&self, headers: &HeaderMap, peer: Option<Fingerprint>) -> Option<Identity> {
        if let Some(value) = headers.get(header::AUTHORIZATION) {
            let token = value.to_str().ok()?.strip_prefix("Bearer ")?.trim();
            return self.token_identity(token);
        }
        let fingerprint = peer?;
        self.certificates
            .read()
            .expect("certificates")
            .get(&fingerprint)
            .cloned()
    }
}

/// Whom a request impersonates, and the `impersonate` rights that needs.
pub type Impersonation = (Identity, Vec<crate::rbac::Attributes>);

/// The identity a request asks to act as (`kubectl --as USER [--as-group GROUP]…`:
/// `Impersonate-User` and `Impersonate-Group` headers), with the rights the caller needs
/// for it: `impersonate` on `users`, `groups` or `serviceaccounts` (core group), as the
/// attributes the authorizer checks. `None` when the request impersonates no one; an error
/// message when it names groups without a user.
pub fn impersonation(headers: &HeaderMap) -> Result<Option<Impersonation>, String> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    };
    let users = values("impersonate-user");
    let groups = values("impersonate-group");
    let Some(user) = users.first() else {
        if groups.is_empty() {
            return Ok(None);
        }
        return Err("requested impersonation of groups without a user".into());
    };
    let check = |resource: &str, name: &str, namespace: &str| crate::rbac::Attributes::Resource {
        verb: "impersonate".into(),
        group: String::new(),
        resource: resource.into(),
        subresource: String::new(),
        name: name.into(),
        namespace: namespace.into(),
    };
    let mut checks = Vec::new();
    let mut identity = match user
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'))
    {
        Some((ns, name)) => {
            checks.push(check("serviceaccounts", name, ns));
            Identity::service_account(ns, name)
        }
        None => {
            checks.push(check("users", user, ""));
            Identity::new(user, &[])
        }
    };
    for g in &groups {
        checks.push(check("groups", g, ""));
        if !identity.groups.contains(g) {
            identity.groups.push(g.clone());
        }
    }
    Ok(Some((identity, checks)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_holder_and_a_wrong_token_is_nobody() {
        let auth = Authenticator::default();
        let token = auth.issue_token(Identity::new("alice", &["dev".into()]));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        let who = auth.authenticate(&headers, None).unwrap();
        assert_eq!(who.user, "alice");
        assert_eq!(who.groups, ["dev", "system:authenticated"]);
        headers.insert(header::AUTHORIZATION, "Bearer nope".parse().unwrap());
        assert_eq!(auth.authenticate(&headers, Some([1; 32])), None);
    }

    #[test]
    fn a_known_certificate_names_its_user() {
        let auth = Authenticator::default();
        auth.add_certificate([7; 32], Identity::admin());
        let who = auth.authenticate(&HeaderMap::new(), Some([7; 32])).unwrap();
        assert_eq!(who.user, ADMIN);
        assert_eq!(auth.authenticate(&HeaderMap::new(), Some([8; 32])), None);
        assert_eq!(auth.authenticate(&HeaderMap::new(), None), None);
    }
}
