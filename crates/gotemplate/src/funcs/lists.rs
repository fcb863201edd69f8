//! Sprig's list functions. Each has a `must` variant that returns an error where the
//! plain one panics (which the template reports as an error, with the same text).

use super::{Funcs, Ty, empty, reg};
use crate::exec::State;
use crate::value::{V, type_name};

use Ty::{Any, Int};

pub(crate) fn register(m: &mut Funcs) {
    reg(m, "list", &[], Some(Any), |_, a| Ok(V::list(a.to_vec())));
    reg(m, "tuple", &[], Some(Any), |_, a| Ok(V::list(a.to_vec())));
    for (name, f) in [
        ("append", push as super::FnImpl),
        ("push", push),
        ("mustAppend", push),
        ("mustPush", push),
    ] {
        reg(m, name, &[Any, Any], None, f);
    }
    reg(m, "prepend", &[Any, Any], None, prepend);
    reg(m, "mustPrepend", &[Any, Any], None, prepend);
    reg(m, "first", &[Any], None, first);
    reg(m, "mustFirst", &[Any], None, first);
    reg(m, "last", &[Any], None, last);
    reg(m, "mustLast", &[Any], None, last);
    reg(m, "rest", &[Any], None, rest);
    reg(m, "mustRest", &[Any], None, rest);
    reg(m, "initial", &[Any], None, initial);
    reg(m, "mustInitial", &[Any], None, initial);
    reg(m, "reverse", &[Any], None, reverse);
    reg(m, "mustReverse", &[Any], None, reverse);
    reg(m, "uniq", &[Any], None, uniq);
    reg(m, "mustUniq", &[Any], None, uniq);
    reg(m, "without", &[Any], Some(Any), without);
    reg(m, "mustWithout", &[Any], Some(Any), without);
    reg(m, "has", &[Any, Any], None, has);
    reg(m, "mustHas", &[Any, Any], None, has);
    reg(m, "compact", &[Any], None, compact);
    reg(m, "mustCompact", &[Any], None, compact);
    reg(m, "slice", &[Any], Some(Any), slice);
    reg(m, "mustSlice", &[Any], Some(Any), slice);
    reg(m, "concat", &[], Some(Any), concat);
    reg(m, "chunk", &[Int, Any], None, chunk);
    reg(m, "mustChunk", &[Int, Any], None, chunk);
}

/// The items of a list argument, or Sprig's error for anything else.
fn items<'a>(v: &'a V, what: &str) -> Result<&'a [V], String> {
    match v {
        V::List(l) => Ok(l),
        V::Nil => Err("runtime error: invalid memory address or nil pointer dereference".into()),
        other => Err(format!("Cannot {what} on type {}", go_kind(other))),
    }
}

/// Go's `reflect.Kind` name.
pub(crate) fn go_kind(v: &V) -> String {
    match v {
        V::Nil => "invalid".into(),
        V::Bool(_) => "bool".into(),
        V::Int(_) => "int".into(),
        V::Float(_) => "float64".into(),
        V::Str(_) => "string".into(),
        V::List(_) => "slice".into(),
        V::Map(_) => "map".into(),
        V::Object(_) => "ptr".into(),
    }
}

fn push(_: &mut State, a: &[V]) -> Result<V, String> {
    let mut l = items(&a[0], "push")?.to_vec();
    l.push(a[1].clone());
    Ok(V::list(l))
}

fn prepend(_: &mut State, a: &[V]) -> Result<V, String> {
    let mut l = vec![a[1].clone()];
    l.extend_from_slice(items(&a[0], "prepend")?);
    Ok(V::list(l))
}

fn first(_: &mut State, a: &[V]) -> Result<V, String> {
    Ok(items(&a[0], "find first")?
        .first()
        .cloned()
        .unwrap_or(V::Nil))
}

fn last(_: &mut State, a: &[V]) -> Result<V, String> {
    Ok(items(&a[0], "find last")?.last().cloned().unwrap_or(V::Nil))
}

fn rest(_: &mut State, a: &[V]) -> Result<V, String> {
    let l = items(&a[0], "find rest")?;
    if l.is_empty() {
        return Ok(V::Nil);
    }
    Ok(V::list(l[1..].to_vec()))
}

fn initial(_: &mut State, a: &[V]) -> Result<V, String> {
    let l = items(&a[0], "find initial")?;
    if l.is_empty() {
        return Ok(V::Nil);
    }
    Ok(V::list(l[..l.len() - 1].to_vec()))
}

fn reverse(_: &mut State, a: &[V]) -> Result<V, String> {
    let mut l = items(&a[0], "find reverse")?.to_vec();
    l.reverse();
    Ok(V::list(l))
}

fn uniq(_: &mut State, a: &[V]) -> Result<V, String> {
    let mut out: Vec<V> = Vec::new();
    for x in items(&a[0], "find uniq")? {
        if !out.iter().any(|y| deep_equal(x, y)) {
            out.push(x.clone());
        }
    }
    Ok(V::list(out))
}

fn without(_: &mut State, a: &[V]) -> Result<V, String> {
    let l = items(&a[0], "find without")?;
    Ok(V::list(
        l.iter()
            .filter(|x| !a[1..].iter().any(|o| deep_equal(x, o)))
            .cloned()
            .collect(),
    ))
}

fn has(_: &mut State, a: &[V]) -> Result<V, String> {
    match &a[1] {
        V::Nil => Ok(V::Bool(false)),
        V::List(l) => Ok(V::Bool(l.iter().any(|x| deep_equal(x, &a[0])))),
        other => Err(format!("Cannot find has on type {}", go_kind(other))),
    }
}

fn compact(_: &mut State, a: &[V]) -> Result<V, String> {
    let l = items(&a[0], "compact")?;
    Ok(V::list(l.iter().filter(|x| !empty(x)).cloned().collect()))
}

fn slice(_: &mut State, a: &[V]) -> Result<V, String> {
    let l = match &a[0] {
        V::List(l) => &l[..],
        other => {
            return Err(format!(
                "list should be type of slice or array but {}",
                go_kind(other)
            ));
        }
    };
    let idx: Vec<i64> = a[1..].iter().map(super::to_i64).collect();
    let (start, end) = match idx.as_slice() {
        [] => (0, l.len() as i64),
        [s] => (*s, l.len() as i64),
        [s, e, ..] => (*s, *e),
    };
    if start < 0 || end < start || end as usize > l.len() {
        return Err(format!(
            "runtime error: slice bounds out of range [{start}:{end}]"
        ));
    }
    Ok(V::list(l[start as usize..end as usize].to_vec()))
}

fn concat(_: &mut State, a: &[V]) -> Result<V, String> {
    let mut out = Vec::new();
    for x in a {
        match x {
            V::List(l) => out.extend(l.iter().cloned()),
            other => return Err(format!("Cannot concat type {} as list", go_kind(other))),
        }
    }
    Ok(V::list(out))
}

fn chunk(_: &mut State, a: &[V]) -> Result<V, String> {
    let size = a[0].i();
    let l = items(&a[1], "chunk")?;
    if size <= 0 {
        return Err("runtime error: integer divide by zero".into());
    }
    Ok(V::list(
        l.chunks(size as usize)
            .map(|c| V::list(c.to_vec()))
            .collect(),
    ))
}

/// Go's `reflect.DeepEqual` for template values.
pub(crate) fn deep_equal(x: &V, y: &V) -> bool {
    match (x, y) {
        (V::Nil, V::Nil) => true,
        (V::Bool(a), V::Bool(b)) => a == b,
        (V::Int(a), V::Int(b)) => a == b,
        (V::Float(a), V::Float(b)) => a == b,
        (V::Str(a), V::Str(b)) => a == b,
        (V::List(a), V::List(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(p, q)| deep_equal(p, q))
        }
        (V::Map(a), V::Map(b)) => {
            let (a, b) = (a.borrow(), b.borrow());
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| b.get(k).is_some_and(|w| deep_equal(v, w)))
        }
        (V::Object(a), V::Object(b)) => {
            std::rc::Rc::ptr_eq(a, b)
                || (a.type_name() == b.type_name() && format!("{a:?}") == format!("{b:?}"))
        }
        _ => {
            let _ = type_name(x);
            false
        }
    }
}
