//! What `render` shows of a Secret: each value replaced by a keyed hash of it
//! (HMAC-SHA-256), so two renders made with the same key show which values changed, and
//! anyone with only the output cannot confirm a guessed value: that takes the key.
//!
//! The names of generated Secrets carry a hash of their content keyed the same way, with
//! the key each namespace keeps in the Secret [`key_secret_name`] (so every machine that
//! deploys computes the same names); this module makes and reads that Secret but does no
//! I/O. The CLI keeps a second key per project, `.slipway/render-key`, for what is shown
//! without reading a cluster.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The length of a key, in bytes.
pub const KEY_LEN: usize = 32;

/// The Secret that holds a namespace's key for the names of generated Secrets.
pub fn key_secret_name(app: &str) -> String {
    format!("{app}-slipway-key")
}

/// The Secret [`key_secret_name`] holding `key`. It is not part of any release: no
/// release applies, records or prunes it.
pub fn key_secret(app: &str, namespace: &str, key: &[u8]) -> Value {
    use base64::Engine;
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {
            "name": key_secret_name(app),
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "slipway"},
            "annotations": {
                "slipway.dev/purpose": "the key of the content hashes in the names of the Secrets slipway generates; deleting it renames them at the next deploy"
            },
        },
        "data": {"key": base64::engine::general_purpose::STANDARD.encode(key)},
    })
}

/// The key a [`key_secret`] holds, as read from a cluster; `None` when it holds none.
pub fn key_from_secret(secret: &Value) -> Option<Vec<u8>> {
    use base64::Engine;
    let text = secret.pointer("/data/key")?.as_str()?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    (key.len() == KEY_LEN).then_some(key)
}

/// HMAC-SHA-256 of `message` under `key` (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// `object` with every value of a Secret's `data` and `stringData` replaced by
/// `<redacted hmac:…>` (64 bits of the keyed hash); other objects unchanged.
pub fn redact_secret(object: &Value, key: &[u8]) -> Value {
    let mut object = object.clone();
    if object.get("kind").and_then(Value::as_str) != Some("Secret") {
        return object;
    }
    for field in ["data", "stringData"] {
        if let Some(map) = object.get_mut(field).and_then(Value::as_object_mut) {
            for v in map.values_mut() {
                let mac = hmac_sha256(key, v.to_string().as_bytes());
                let hex: String = mac.iter().take(8).map(|b| format!("{b:02x}")).collect();
                *v = Value::String(format!("<redacted hmac:{hex}>"));
            }
        }
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn hmac_matches_the_rfc_4231_vectors() {
        assert_eq!(
            hex(&hmac_sha256(&[0x0b; 20], b"Hi There")),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // A key longer than a block is hashed first (test case 6).
        assert_eq!(
            hex(&hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn the_key_secret_gives_back_its_key() {
        let secret = key_secret("shop", "ns", &[9; KEY_LEN]);
        assert_eq!(secret["metadata"]["name"], "shop-slipway-key");
        assert_eq!(key_from_secret(&secret), Some(vec![9; KEY_LEN]));
        assert_eq!(key_from_secret(&json!({"data": {"key": "c2hvcnQ="}})), None);
    }

    #[test]
    fn secret_values_are_keyed_so_a_guess_cannot_be_confirmed_without_the_key() {
        let secret =
            json!({"kind": "Secret", "data": {"P": "aHVudGVyMg=="}, "stringData": {"Q": "x"}});
        let one = redact_secret(&secret, &[1; KEY_LEN]);
        let other = redact_secret(&secret, &[2; KEY_LEN]);
        let shown = one["data"]["P"].as_str().unwrap();
        assert!(shown.starts_with("<redacted hmac:"), "{shown}");
        assert_eq!(shown.len(), "<redacted hmac:>".len() + 16);
        assert_ne!(one["data"]["P"], other["data"]["P"], "the key decides");
        assert_eq!(one, redact_secret(&secret, &[1; KEY_LEN]), "stable per key");
        assert!(!one.to_string().contains("aHVudGVyMg"));
        // The unkeyed hash of the value is nowhere in the output.
        let unkeyed = hex(&Sha256::digest(b"\"aHVudGVyMg==\""));
        assert!(!one.to_string().contains(&unkeyed[..12]));
        let map = json!({"kind": "ConfigMap", "data": {"K": "v"}});
        assert_eq!(redact_secret(&map, &[1; KEY_LEN]), map);
    }
}
