//! Base64 fields — those whose schema says `format: byte`: a Secret's `data`, a
//! ConfigMap's `binaryData`, a webhook's `caBundle` — read as the API server reads them.
//!
//! The API server decodes them with Go's `encoding/base64` (`StdEncoding`, through its
//! JSON decoder), which skips line breaks (`\r`, `\n`) anywhere in the text and does not
//! require the unused bits of the last character to be zero. `kubectl kustomize` writes
//! every generated Secret value longer than 70 characters of base64 wrapped over several
//! lines. `k8s-openapi` decodes with the strict RFC 4648 rules, which refuse both, so such
//! values are rewritten in their canonical form before an object is decoded.

use std::borrow::Cow;

use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use serde_json::Value;

use crate::schema::{MAX_DEPTH, resolve};

/// Go's `base64.StdEncoding`, once line breaks are removed: padding required, unused
/// trailing bits allowed.
const GO_STD_ENCODING: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// `value` with every base64 field the API server accepts in canonical form (`root` is
/// the schema of its kind). Borrowed when nothing needed rewriting, as for almost every
/// object.
pub(crate) fn as_the_server_reads<'v>(root: &Value, value: &'v Value) -> Cow<'v, Value> {
    let mut rewrites = Vec::new();
    collect(root, root, value, &mut String::new(), 0, &mut rewrites);
    if rewrites.is_empty() {
        return Cow::Borrowed(value);
    }
    let mut value = value.clone();
    for (pointer, text) in rewrites {
        if let Some(slot) = value.pointer_mut(&pointer) {
            *slot = Value::String(text);
        }
    }
    Cow::Owned(value)
}

/// Finds the base64 strings under `value` that need rewriting: (JSON pointer, new text).
fn collect(
    root: &Value,
    schema: &Value,
    value: &Value,
    pointer: &mut String,
    depth: usize,
    out: &mut Vec<(String, String)>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    let schema = resolve(root, schema);
    match value {
        Value::String(text) if schema.get("format").and_then(Value::as_str) == Some("byte") => {
            if let Some(text) = canonical(text) {
                out.push((pointer.clone(), text));
            }
        }
        Value::Object(map) => {
            let properties = schema.get("properties");
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, child) in map {
                let Some(child_schema) = properties.and_then(|p| p.get(key)).or(additional) else {
                    continue;
                };
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                collect(root, child_schema, child, pointer, depth + 1, out);
                pointer.truncate(len);
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    let len = pointer.len();
                    pointer.push_str(&format!("/{i}"));
                    collect(root, item_schema, item, pointer, depth + 1, out);
                    pointer.truncate(len);
                }
            }
        }
        _ => {}
    }
}

/// The canonical form of a base64 text, when it differs from `text`. A text the API
/// server refuses keeps its error, only without its line breaks, so that the error names
/// the character that is really wrong.
fn canonical(text: &str) -> Option<String> {
    let joined: Cow<'_, str> = if text.contains(['\r', '\n']) {
        Cow::Owned(text.replace(['\r', '\n'], ""))
    } else {
        Cow::Borrowed(text)
    };
    let canonical = match GO_STD_ENCODING.decode(joined.as_bytes()) {
        Ok(bytes) => STANDARD.encode(bytes),
        Err(_) => joined.into_owned(),
    };
    (canonical != text).then_some(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_base64_is_left_alone() {
        assert_eq!(canonical("aGVsbG8="), None);
        assert_eq!(canonical(""), None);
    }

    #[test]
    fn line_breaks_are_skipped_as_go_skips_them() {
        // As `kubectl kustomize` wraps a generated Secret's value, block scalar included.
        assert_eq!(canonical("aGVs\nbG8=\n").as_deref(), Some("aGVsbG8="));
        assert_eq!(canonical("aGVs\r\nbG8=").as_deref(), Some("aGVsbG8="));
    }

    #[test]
    fn nonzero_trailing_bits_are_accepted_as_go_accepts_them() {
        // `YR==` decodes to `a` in Go's (non-strict) StdEncoding; canonical is `YQ==`.
        assert_eq!(canonical("YR==").as_deref(), Some("YQ=="));
    }

    #[test]
    fn text_the_server_refuses_keeps_its_error_without_line_breaks() {
        assert_eq!(canonical("aGVs*G8="), None);
        assert_eq!(canonical("aGVs\n*G8=").as_deref(), Some("aGVs*G8="));
        // Missing padding: Go refuses it too.
        assert_eq!(canonical("aGVsbG8"), None);
    }

    #[test]
    fn only_fields_of_format_byte_are_rewritten() {
        let root = json!({
            "type": "object",
            "properties": {
                "data": {"type": "object", "additionalProperties": {"$ref": "#/$defs/bytes"}},
                "note": {"type": "string"},
                "list": {"type": "array", "items": {"type": "object", "properties": {
                    "caBundle": {"type": "string", "format": "byte"}}}},
            },
            "$defs": {"bytes": {"type": "string", "format": "byte"}},
        });
        let value = json!({"data": {"a/b": "aGVs\nbG8="}, "note": "aGVs\nbG8=",
            "list": [{"caBundle": "YR=="}]});
        let read = as_the_server_reads(&root, &value);
        assert_eq!(
            *read,
            json!({"data": {"a/b": "aGVsbG8="}, "note": "aGVs\nbG8=",
                "list": [{"caBundle": "YQ=="}]})
        );
        let untouched = json!({"data": {"a": "aGVsbG8="}});
        assert!(matches!(
            as_the_server_reads(&root, &untouched),
            Cow::Borrowed(_)
        ));
    }
}
