//! RFC 6902 JSON patch: a list of `add`, `remove`, `replace`, `move`, `copy` and `test`
//! operations on JSON pointers (RFC 6901, `~1` for `/` and `~0` for `~`).
//!
//! The API server and kustomize differ in three small ways, chosen by [`Options`]:
//! kustomize adds a key that `replace` names in a mapping that lacks it, refuses an
//! operation without `value`, and reads the pointer `/` of `replace`, `copy` and `test`
//! as the whole document. The error messages are the API server's.

use serde_json::Value;

/// How the patch treats the cases where the API server and kustomize differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// `replace` of a key that an existing mapping lacks adds it, instead of failing.
    pub replace_adds_missing_key: bool,
    /// `add`, `replace` and `test` without `value` fail, instead of using `null`.
    pub value_required: bool,
    /// The pointer `/` in `replace`, `copy` (its `from`) and `test` names the whole
    /// document, instead of the key `""`.
    pub slash_is_root: bool,
}

/// As the API server applies `application/json-patch+json`.
pub const API_SERVER: Options = Options {
    replace_adds_missing_key: false,
    value_required: false,
    slash_is_root: false,
};

/// As kustomize applies `patchesJson6902` and JSON patches in `patches`.
pub const KUSTOMIZE: Options = Options {
    replace_adds_missing_key: true,
    value_required: true,
    slash_is_root: true,
};

/// Applies the operations `ops` (a JSON array) to `doc`, in order. On an error, `doc`
/// holds the operations before the failing one.
///
/// # Errors
///
/// The message of the first operation that does not apply.
pub fn apply(doc: &mut Value, ops: &Value, options: Options) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("json patch must be an array of operations")?;
    for op in ops {
        apply_one(doc, op, options)?;
    }
    Ok(())
}

/// Returns `doc` with the operations `ops` applied, as the API server does.
///
/// # Errors
///
/// The message of the first operation that does not apply.
pub fn patched(doc: &Value, ops: &Value) -> Result<Value, String> {
    let mut doc = doc.clone();
    apply(&mut doc, ops, API_SERVER)?;
    Ok(doc)
}

fn apply_one(doc: &mut Value, op: &Value, options: Options) -> Result<(), String> {
    let kind = op.get("op").and_then(Value::as_str).unwrap_or_default();
    let path = op
        .get("path")
        .and_then(Value::as_str)
        .ok_or("json patch operation without path")?;
    let value = || match op.get("value") {
        Some(v) => Ok(v.clone()),
        None if options.value_required => {
            Err(format!("{kind} operation does not apply: value is missing"))
        }
        None => Ok(Value::Null),
    };
    let whole = |p: &str| options.slash_is_root && p == "/";
    match kind {
        "add" => add(doc, path, value()?),
        "remove" => remove(doc, path).map(drop),
        "replace" => {
            let value = value()?;
            if whole(path) {
                *doc = value;
                return Ok(());
            }
            if get(doc, path).is_ok() {
                // In place, so that a mapping keeps the order of its keys.
                let slot = tokens(path)?
                    .iter()
                    .try_fold(doc, |cur, t| step_mut(cur, t))
                    .expect("the path was just read");
                *slot = value;
                Ok(())
            } else if options.replace_adds_missing_key && parent_is_mapping(doc, path) {
                add(doc, path, value)
            } else {
                Err(format!(
                    "replace operation does not apply: doc is missing key: {path}"
                ))
            }
        }
        "move" => {
            let from = from(op, "move")?;
            let v = remove(doc, from)?;
            add(doc, path, v)
        }
        "copy" => {
            let from = from(op, "copy")?;
            let v = if whole(from) {
                doc.clone()
            } else {
                get(doc, from)?.clone()
            };
            add(doc, path, v)
        }
        "test" => {
            // A `test` without `value` never holds (kustomize refuses it first).
            if op.get("value").is_none() && !options.value_required {
                return Err(format!("testing value {path} failed: test failed"));
            }
            let expected = value()?;
            let actual = if whole(path) {
                Some(&*doc)
            } else {
                get(doc, path).ok()
            };
            if actual.unwrap_or(&Value::Null) == &expected {
                Ok(())
            } else {
                Err(format!("testing value {path} failed: test failed"))
            }
        }
        other => Err(format!("Unexpected kind: {other}")),
    }
}

fn from<'a>(op: &'a Value, kind: &str) -> Result<&'a str, String> {
    op.get("from")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{kind} operation without from"))
}

/// The reference tokens of a JSON pointer, unescaped.
fn tokens(path: &str) -> Result<Vec<String>, String> {
    if path.is_empty() {
        return Ok(vec![]);
    }
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| format!("invalid JSON pointer {path:?}"))?;
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn step<'a>(cur: &'a Value, token: &str) -> Option<&'a Value> {
    match cur {
        Value::Object(m) => m.get(token),
        Value::Array(a) => token.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    }
}

fn step_mut<'a>(cur: &'a mut Value, token: &str) -> Option<&'a mut Value> {
    match cur {
        Value::Object(m) => m.get_mut(token),
        Value::Array(a) => token.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
        _ => None,
    }
}

/// The value at `path`.
fn get<'a>(doc: &'a Value, path: &str) -> Result<&'a Value, String> {
    let missing = || format!("doc is missing path: {path}");
    tokens(path)?
        .iter()
        .try_fold(doc, |cur, t| step(cur, t))
        .ok_or_else(missing)
}

/// The container of the last token of `tokens`.
fn parent_mut<'a>(doc: &'a mut Value, tokens: &[String]) -> Result<&'a mut Value, String> {
    let missing = || format!("doc is missing path: /{}", tokens.join("/"));
    let mut cur = doc;
    for t in tokens {
        cur = step_mut(cur, t).ok_or_else(missing)?;
    }
    Ok(cur)
}

fn parent_is_mapping(doc: &Value, path: &str) -> bool {
    let Ok(tokens) = tokens(path) else {
        return false;
    };
    let Some((_, parents)) = tokens.split_last() else {
        return false;
    };
    parents
        .iter()
        .try_fold(doc, |cur, t| step(cur, t))
        .is_some_and(Value::is_object)
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let tokens = tokens(path)?;
    let Some((last, parents)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match parent_mut(doc, parents)? {
        Value::Object(m) => {
            m.insert(last.clone(), value);
        }
        Value::Array(a) if last == "-" => a.push(value),
        Value::Array(a) => {
            let i: usize = last
                .parse()
                .map_err(|_| format!("invalid index {last:?}"))?;
            if i > a.len() {
                return Err(format!(
                    "add operation does not apply: index {i} out of bounds"
                ));
            }
            a.insert(i, value);
        }
        _ => {
            return Err(format!(
                "add operation does not apply: doc is missing path: {path}"
            ));
        }
    }
    Ok(())
}

fn remove(doc: &mut Value, path: &str) -> Result<Value, String> {
    let tokens = tokens(path)?;
    let Some((last, parents)) = tokens.split_last() else {
        return Err("cannot remove the whole document".into());
    };
    let missing = || format!("remove operation does not apply: doc is missing path: \"{path}\"");
    match parent_mut(doc, parents).map_err(|_| missing())? {
        Value::Object(m) => m.remove(last).ok_or_else(missing),
        Value::Array(a) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => Ok(a.remove(i)),
            _ => Err(missing()),
        },
        _ => Err(missing()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn adds_replaces_removes_copies_moves_and_tests() {
        let doc = json!({"a": {"b": [1, 2]}, "c": "x"});
        let ops = json!([
            {"op": "add", "path": "/a/b/-", "value": 3},
            {"op": "replace", "path": "/c", "value": "y"},
            {"op": "remove", "path": "/a/b/0"},
            {"op": "test", "path": "/c", "value": "y"},
            {"op": "copy", "from": "/c", "path": "/d"},
            {"op": "move", "from": "/d", "path": "/a/m"},
            {"op": "add", "path": "/e~1f", "value": true},
            {"op": "add", "path": "/a/b/0", "value": 0}
        ]);
        assert_eq!(
            patched(&doc, &ops).unwrap(),
            json!({"a": {"b": [0, 2, 3], "m": "y"}, "c": "y", "e/f": true})
        );
    }

    #[test]
    fn fails_on_missing_paths_failed_tests_and_bad_indices() {
        let doc = json!({"a": 1, "l": [1]});
        let err = |ops: Value| patched(&doc, &ops).unwrap_err();
        assert_eq!(
            err(json!([{"op": "remove", "path": "/b"}])),
            "remove operation does not apply: doc is missing path: \"/b\""
        );
        assert_eq!(
            err(json!([{"op": "test", "path": "/a", "value": 2}])),
            "testing value /a failed: test failed"
        );
        assert_eq!(
            err(json!([{"op": "replace", "path": "/x", "value": 2}])),
            "replace operation does not apply: doc is missing key: /x"
        );
        assert_eq!(
            err(json!([{"op": "add", "path": "/l/5", "value": 2}])),
            "add operation does not apply: index 5 out of bounds"
        );
        assert_eq!(
            err(json!([{"op": "nope", "path": "/a"}])),
            "Unexpected kind: nope"
        );
        assert_eq!(
            err(json!([{"op": "test", "path": "/missing"}])),
            "testing value /missing failed: test failed"
        );
        assert!(patched(&doc, &json!({"op": "add"})).is_err());
    }

    #[test]
    fn kustomize_adds_a_replaced_missing_key_and_requires_values() {
        let mut doc = json!({"a": {"b": 1}, "l": [1]});
        apply(
            &mut doc,
            &json!([{"op": "replace", "path": "/a/c", "value": 2}]),
            KUSTOMIZE,
        )
        .unwrap();
        assert_eq!(doc, json!({"a": {"b": 1, "c": 2}, "l": [1]}));
        // A missing list index, or a key under a missing parent, still fails.
        for path in ["/l/3", "/x/y"] {
            let ops = json!([{"op": "replace", "path": path, "value": 2}]);
            assert!(apply(&mut doc, &ops, KUSTOMIZE).is_err(), "{path}");
        }
        let no_value = json!([{"op": "add", "path": "/z"}]);
        assert!(apply(&mut doc, &no_value, KUSTOMIZE).is_err());
        apply(&mut doc, &no_value, API_SERVER).unwrap();
        assert_eq!(doc["z"], Value::Null);
    }

    #[test]
    fn kustomize_reads_slash_as_the_whole_document() {
        let mut doc = json!({"a": 1});
        apply(
            &mut doc,
            &json!([{"op": "replace", "path": "/", "value": {"b": 2}}]),
            KUSTOMIZE,
        )
        .unwrap();
        assert_eq!(doc, json!({"b": 2}));
        // For the API server `/` is the key "".
        let mut doc = json!({"a": 1});
        apply(
            &mut doc,
            &json!([{"op": "add", "path": "/", "value": 3}]),
            API_SERVER,
        )
        .unwrap();
        assert_eq!(doc, json!({"a": 1, "": 3}));
    }
}
