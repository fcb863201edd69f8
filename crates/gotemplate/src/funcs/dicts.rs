//! Sprig's dictionary functions, the defaults (`default`, `empty`, `coalesce`, `ternary`)
//! and the reflection helpers (`typeOf`, `kindIs`, `deepEqual`).

use std::collections::BTreeMap;

use super::lists::{deep_equal, go_kind};
use super::{Funcs, Ty, empty, reg, strval};
use crate::exec::State;
use crate::value::{MapRef, V, type_name};

use Ty::{Any, Bool, Map, Str};

pub(crate) fn register(m: &mut Funcs) {
    reg(m, "dict", &[], Some(Any), |_, a| {
        let mut d = BTreeMap::new();
        for pair in a.chunks(2) {
            let v = pair.get(1).cloned().unwrap_or(V::str(""));
            d.insert(strval(&pair[0]), v);
        }
        Ok(V::map(d))
    });
    reg(m, "get", &[Map, Str], None, |_, a| {
        Ok(map_of(&a[0])
            .and_then(|d| d.borrow().get(a[1].s()).cloned())
            .unwrap_or(V::str("")))
    });
    reg(m, "set", &[Map, Str, Any], None, |_, a| {
        let d = map_or_panic(&a[0])?;
        d.borrow_mut().insert(a[1].s().to_string(), a[2].clone());
        Ok(a[0].clone())
    });
    reg(m, "unset", &[Map, Str], None, |_, a| {
        if let Some(d) = map_of(&a[0]) {
            d.borrow_mut().remove(a[1].s());
        }
        Ok(a[0].clone())
    });
    reg(m, "hasKey", &[Map, Str], None, |_, a| {
        Ok(V::Bool(
            map_of(&a[0]).is_some_and(|d| d.borrow().contains_key(a[1].s())),
        ))
    });
    reg(m, "pluck", &[Str], Some(Map), |_, a| {
        let k = a[0].s();
        Ok(V::list(
            a[1..]
                .iter()
                .filter_map(|d| map_of(d).and_then(|d| d.borrow().get(k).cloned()))
                .collect(),
        ))
    });
    reg(m, "keys", &[], Some(Map), |_, a| {
        let mut out = Vec::new();
        for d in a {
            if let Some(d) = map_of(d) {
                out.extend(d.borrow().keys().map(|k| V::str(k.clone())));
            }
        }
        Ok(V::list(out))
    });
    reg(m, "pick", &[Map], Some(Str), |_, a| {
        let d = map_of(&a[0])
            .map(|d| d.borrow().clone())
            .unwrap_or_default();
        Ok(V::map(
            a[1..]
                .iter()
                .filter_map(|k| d.get(k.s()).map(|v| (k.s().to_string(), v.clone())))
                .collect(),
        ))
    });
    reg(m, "omit", &[Map], Some(Str), |_, a| {
        let d = map_of(&a[0])
            .map(|d| d.borrow().clone())
            .unwrap_or_default();
        Ok(V::map(
            d.into_iter()
                .filter(|(k, _)| !a[1..].iter().any(|o| o.s() == k))
                .collect(),
        ))
    });
    reg(m, "values", &[Map], None, |_, a| {
        Ok(V::list(
            map_of(&a[0])
                .map(|d| d.borrow().values().cloned().collect())
                .unwrap_or_default(),
        ))
    });
    reg(m, "merge", &[Map], Some(Map), |_, a| merge(a, false));
    reg(m, "mustMerge", &[Map], Some(Map), |_, a| merge(a, false));
    reg(m, "mergeOverwrite", &[Map], Some(Map), |_, a| {
        merge(a, true)
    });
    reg(m, "mustMergeOverwrite", &[Map], Some(Map), |_, a| {
        merge(a, true)
    });
    reg(m, "deepCopy", &[Any], None, |_, a| Ok(a[0].deep_copy()));
    reg(m, "mustDeepCopy", &[Any], None, |_, a| {
        if a[0].is_nil() {
            return Err("copy: cannot deep copy nil".into());
        }
        Ok(a[0].deep_copy())
    });
    reg(m, "dig", &[], Some(Any), dig);

    reg(m, "default", &[Any], Some(Any), |_, a| {
        Ok(match a.get(1) {
            Some(given) if !empty(given) => given.clone(),
            _ => a[0].clone(),
        })
    });
    reg(m, "empty", &[Any], None, |_, a| Ok(V::Bool(empty(&a[0]))));
    reg(m, "coalesce", &[], Some(Any), |_, a| {
        Ok(a.iter().find(|x| !empty(x)).cloned().unwrap_or(V::Nil))
    });
    reg(m, "all", &[], Some(Any), |_, a| {
        Ok(V::Bool(a.iter().all(|x| !empty(x))))
    });
    reg(m, "any", &[], Some(Any), |_, a| {
        Ok(V::Bool(a.iter().any(|x| !empty(x))))
    });
    reg(m, "ternary", &[Any, Any, Bool], None, |_, a| {
        Ok(if matches!(a[2], V::Bool(true)) {
            a[0].clone()
        } else {
            a[1].clone()
        })
    });
    reg(m, "typeOf", &[Any], None, |_, a| {
        Ok(V::str(type_name(&a[0])))
    });
    reg(m, "typeIs", &[Str, Any], None, |_, a| {
        Ok(V::Bool(a[0].s() == type_name(&a[1])))
    });
    reg(m, "typeIsLike", &[Str, Any], None, |_, a| {
        let t = type_name(&a[1]);
        Ok(V::Bool(a[0].s() == t || a[0].s() == format!("*{t}")))
    });
    reg(m, "kindOf", &[Any], None, |_, a| Ok(V::str(go_kind(&a[0]))));
    reg(m, "kindIs", &[Str, Any], None, |_, a| {
        Ok(V::Bool(a[0].s() == go_kind(&a[1])))
    });
    reg(m, "deepEqual", &[Any, Any], None, |_, a| {
        Ok(V::Bool(deep_equal(&a[0], &a[1])))
    });
}

fn map_of(v: &V) -> Option<&MapRef> {
    match v {
        V::Map(m) => Some(m),
        _ => None,
    }
}

fn map_or_panic(v: &V) -> Result<&MapRef, String> {
    map_of(v).ok_or_else(|| "assignment to entry in nil map".to_string())
}

/// Sprig's `merge`/`mergeOverwrite` (mergo): deep-merges each source into the first
/// map, in place, and returns it.
fn merge(a: &[V], overwrite: bool) -> Result<V, String> {
    let dst = match &a[0] {
        V::Map(m) => m.clone(),
        _ => return Ok(a[0].clone()),
    };
    for src in &a[1..] {
        if let V::Map(s) = src {
            if std::rc::Rc::ptr_eq(s, &dst) {
                continue;
            }
            merge_into(&dst, &s.borrow(), overwrite);
        }
    }
    Ok(V::Map(dst))
}

fn merge_into(dst: &MapRef, src: &BTreeMap<String, V>, overwrite: bool) {
    for (k, sv) in src {
        // `merge` keeps what the destination has; `mergeOverwrite` writes a null over it,
        // as Helm's charts rely on (a value set to `null` to switch a default off).
        if sv.is_nil() {
            if overwrite {
                dst.borrow_mut().insert(k.clone(), V::Nil);
            }
            continue;
        }
        let dv = dst.borrow().get(k).cloned();
        if let (Some(V::Map(dm)), V::Map(sm)) = (&dv, sv) {
            if !std::rc::Rc::ptr_eq(dm, sm) {
                let s = sm.borrow().clone();
                merge_into(dm, &s, overwrite);
            }
            continue;
        }
        let dst_empty = dv.as_ref().is_none_or(empty);
        if !dst_empty && !overwrite {
            continue;
        }
        if !dst_empty && matches!(sv, V::Map(_)) {
            continue;
        }
        dst.borrow_mut().insert(k.clone(), sv.clone());
    }
}

fn dig(_: &mut State, a: &[V]) -> Result<V, String> {
    if a.len() < 3 {
        return Err("dig needs at least three arguments".into());
    }
    let mut dict = match &a[a.len() - 1] {
        V::Map(m) => m.clone(),
        other => {
            return Err(format!(
                "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                type_name(other)
            ));
        }
    };
    let def = &a[a.len() - 2];
    let keys = &a[..a.len() - 2];
    for (i, k) in keys.iter().enumerate() {
        let V::Str(k) = k else {
            return Err(format!(
                "interface conversion: interface {{}} is {}, not string",
                type_name(k)
            ));
        };
        let step = match dict.borrow().get(k) {
            None => return Ok(def.clone()),
            Some(v) => v.clone(),
        };
        if i + 1 == keys.len() {
            return Ok(step);
        }
        dict = match step {
            V::Map(m) => m,
            V::Nil => {
                return Err(
                    "interface conversion: interface {} is nil, not map[string]interface {}".into(),
                );
            }
            other => {
                return Err(format!(
                    "interface conversion: interface {{}} is {}, not map[string]interface {{}}",
                    type_name(&other)
                ));
            }
        };
    }
    Ok(def.clone())
}
