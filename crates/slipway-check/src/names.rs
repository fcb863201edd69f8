//! What the API server refuses of any object, whatever its spec: a name that is not a
//! DNS name of the form its kind needs, and a ConfigMap or Secret whose data is over
//! 1 MiB. Caught here, offline, so that `validate` says it with the file and line instead
//! of the cluster saying it at apply.

use serde_json::Value;

/// The most data a ConfigMap or Secret may hold: 1 MiB, as the API server enforces.
pub const MAX_DATA_BYTES: usize = 1024 * 1024;

/// The form of name a kind needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameForm {
    /// RFC 1123 subdomain: at most 253 characters of `a-z`, `0-9`, `-` and `.`,
    /// starting and ending with a letter or digit (most kinds).
    Subdomain,
    /// RFC 1123 label: at most 63 characters of `a-z`, `0-9` and `-`, starting and
    /// ending with a letter or digit (Namespace).
    Label,
    /// RFC 1035 label: an RFC 1123 label that starts with a letter (Service).
    Rfc1035Label,
    /// Any path segment: no `/` or `%`, not `.` or `..` (RBAC kinds, custom resources).
    PathSegment,
}

/// The form of name `kind` of core or built-in group `group` needs.
pub fn name_form(group: &str, kind: &str) -> NameForm {
    match (group, kind) {
        ("", "Namespace") => NameForm::Label,
        ("", "Service") => NameForm::Rfc1035Label,
        ("rbac.authorization.k8s.io", _) => NameForm::PathSegment,
        _ => NameForm::Subdomain,
    }
}

fn is_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Why `name` is not of `form`, or `None` when it is.
pub fn name_problem(name: &str, form: NameForm) -> Option<String> {
    let ok = match form {
        NameForm::Subdomain => name.len() <= 253 && name.split('.').all(is_label),
        NameForm::Label => is_label(name),
        NameForm::Rfc1035Label => {
            is_label(name) && name.starts_with(|c: char| c.is_ascii_lowercase())
        }
        NameForm::PathSegment => !name.contains(['/', '%']) && name != "." && name != "..",
    };
    if ok {
        return None;
    }
    Some(match form {
        NameForm::Subdomain => format!(
            "`{name}` is not a valid name: it must be an RFC 1123 subdomain (at most 253 characters of lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit)"
        ),
        NameForm::Label => format!(
            "`{name}` is not a valid name: it must be an RFC 1123 label (at most 63 characters of lower-case letters, digits and `-`, starting and ending with a letter or digit)"
        ),
        NameForm::Rfc1035Label => format!(
            "`{name}` is not a valid name: it must be an RFC 1035 label (at most 63 characters of lower-case letters, digits and `-`, starting with a letter and ending with a letter or digit)"
        ),
        NameForm::PathSegment => {
            format!(
                "`{name}` is not a valid name: it may not contain `/` or `%`, nor be `.` or `..`"
            )
        }
    })
}

/// The name a valid name closest to `name` would be, as a hint: lower case, `_` and
/// other characters as `-`.
pub fn suggested_name(name: &str) -> String {
    let lowered: String = name
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    lowered.trim_matches(['-', '.']).to_string()
}

/// The bytes of data a ConfigMap or Secret holds, as the API server counts them:
/// keys and values of `data` and `binaryData` (ConfigMap; `binaryData` decoded), or the
/// decoded values of `data` and the values of `stringData` (Secret).
pub fn data_bytes(kind: &str, obj: &Value) -> usize {
    let entries = |field: &str| {
        obj.get(field)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.len(), v.as_str().unwrap_or_default()))
            .collect::<Vec<_>>()
    };
    match kind {
        "ConfigMap" => {
            let data: usize = entries("data").iter().map(|(k, v)| k + v.len()).sum();
            let binary: usize = entries("binaryData")
                .iter()
                .map(|(k, v)| k + decoded_len(v))
                .sum();
            data + binary
        }
        "Secret" => {
            let data: usize = entries("data").iter().map(|(_, v)| decoded_len(v)).sum();
            let string: usize = entries("stringData").iter().map(|(_, v)| v.len()).sum();
            data + string
        }
        _ => 0,
    }
}

/// The length of the bytes a base64 text decodes to. Line breaks are skipped, as the API
/// server skips them (`kubectl kustomize` wraps long values in 70-character lines).
fn decoded_len(text: &str) -> usize {
    let text = text.trim_end();
    let len = text.bytes().filter(|b| !matches!(b, b'\r' | b'\n')).count();
    let padding = text.bytes().rev().take_while(|b| *b == b'=').count();
    (len / 4 * 3 + (len % 4).saturating_sub(1)).saturating_sub(padding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_by_kind() {
        let sub = name_form("apps", "Deployment");
        assert_eq!(name_problem("api", sub), None);
        assert_eq!(name_problem("api.v2", sub), None);
        assert!(
            name_problem("Api_Bad", sub)
                .unwrap()
                .contains("RFC 1123 subdomain")
        );
        assert!(name_problem("-api", sub).is_some());
        assert!(name_problem(&"a".repeat(254), sub).is_some());
        let ns = name_form("", "Namespace");
        assert!(name_problem("shop.prod", ns).is_some());
        let svc = name_form("", "Service");
        assert!(name_problem("1api", svc).unwrap().contains("RFC 1035"));
        assert_eq!(name_problem("api-1", svc), None);
        let role = name_form("rbac.authorization.k8s.io", "ClusterRole");
        assert_eq!(name_problem("system:reader", role), None);
        assert!(name_problem("a/b", role).is_some());
        assert_eq!(suggested_name("Api_Bad"), "api-bad");
    }

    #[test]
    fn data_is_counted_as_the_api_server_counts_it() {
        let cm = json!({"data": {"ab": "cde"}, "binaryData": {"b": "aGVsbG8="}});
        assert_eq!(data_bytes("ConfigMap", &cm), 2 + 3 + 1 + 5);
        let secret = json!({"data": {"k": "aGVsbG8gd29ybGQ="}, "stringData": {"s": "xyz"}});
        assert_eq!(data_bytes("Secret", &secret), 11 + 3);
        assert_eq!(decoded_len("aGk="), 2);
        assert_eq!(decoded_len("aGVs"), 3);
        assert_eq!(decoded_len("aGVs\nbG8gd29y\r\nbGQ=\n"), 11);
        assert_eq!(data_bytes("Deployment", &cm), 0);
    }
}
