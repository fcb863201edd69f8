//! Go's builtin template functions (`and`, `or` and `call` are handled by the executor).

use super::{Funcs, Ty, reg};
use crate::exec::{State, is_true};
use crate::fmt;
use crate::value::{V, type_name};

pub(crate) fn register(m: &mut Funcs) {
    reg(m, "not", &[Ty::Any], None, |_, a| {
        Ok(V::Bool(!is_true(&a[0]).unwrap_or(false)))
    });
    reg(m, "len", &[Ty::Any], None, len);
    reg(m, "index", &[Ty::Any], Some(Ty::Any), index);
    reg(m, "slice", &[Ty::Any], Some(Ty::Any), slice);
    reg(m, "print", &[], Some(Ty::Any), |_, a| {
        Ok(V::Str(fmt::sprint(a)))
    });
    reg(m, "println", &[], Some(Ty::Any), |_, a| {
        Ok(V::Str(fmt::sprintln(a)))
    });
    reg(m, "printf", &[Ty::Str], Some(Ty::Any), |_, a| {
        Ok(V::Str(fmt::sprintf(a[0].s(), &a[1..])))
    });
    reg(m, "html", &[], Some(Ty::Any), |_, a| {
        Ok(V::Str(html_escape(&eval_args(a))))
    });
    reg(m, "js", &[], Some(Ty::Any), |_, a| {
        Ok(V::Str(js_escape(&eval_args(a))))
    });
    reg(m, "urlquery", &[], Some(Ty::Any), |_, a| {
        Ok(V::Str(query_escape(&eval_args(a))))
    });
    reg(m, "eq", &[Ty::Any], Some(Ty::Any), eq);
    reg(m, "ne", &[Ty::Any, Ty::Any], None, |_, a| {
        eq_one(&a[0], &a[1]).map(|b| V::Bool(!b))
    });
    reg(m, "lt", &[Ty::Any, Ty::Any], None, |_, a| {
        lt(&a[0], &a[1]).map(V::Bool)
    });
    reg(m, "le", &[Ty::Any, Ty::Any], None, |_, a| {
        le(&a[0], &a[1]).map(V::Bool)
    });
    reg(m, "gt", &[Ty::Any, Ty::Any], None, |_, a| {
        le(&a[0], &a[1]).map(|b| V::Bool(!b))
    });
    reg(m, "ge", &[Ty::Any, Ty::Any], None, |_, a| {
        lt(&a[0], &a[1]).map(|b| V::Bool(!b))
    });
}

fn eval_args(a: &[V]) -> String {
    if let [V::Str(s)] = a {
        return s.clone();
    }
    fmt::sprint(a)
}

fn len(_: &mut State, a: &[V]) -> Result<V, String> {
    Ok(V::Int(match &a[0] {
        V::Str(s) => s.len() as i64,
        V::List(l) => l.len() as i64,
        V::Map(m) => m.borrow().len() as i64,
        V::Nil => return Err("len of nil pointer".into()),
        other => return Err(format!("len of type {}", type_name(other))),
    }))
}

fn index_arg(v: &V, cap: usize) -> Result<usize, String> {
    let x = match v {
        V::Int(i) => *i,
        V::Nil => return Err("cannot index slice/array with nil".into()),
        other => {
            return Err(format!(
                "cannot index slice/array with type {}",
                type_name(other)
            ));
        }
    };
    if x < 0 || x as usize >= cap {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn index(_: &mut State, a: &[V]) -> Result<V, String> {
    let mut item = a[0].clone();
    if item.is_nil() {
        return Err("index of untyped nil".into());
    }
    for ix in &a[1..] {
        item = match &item {
            V::List(l) => l[index_arg(ix, l.len())?].clone(),
            V::Str(s) => V::Int(i64::from(s.as_bytes()[index_arg(ix, s.len())?])),
            V::Map(m) => match ix {
                V::Str(k) => m.borrow().get(k).cloned().unwrap_or(V::Nil),
                V::Nil => return Err("value is nil; should be of type string".into()),
                other => {
                    return Err(format!(
                        "value has type {}; should be string",
                        type_name(other)
                    ));
                }
            },
            V::Nil => return Err("index of nil pointer".into()),
            other => return Err(format!("can't index item of type {}", type_name(other))),
        };
    }
    Ok(item)
}

fn slice(_: &mut State, a: &[V]) -> Result<V, String> {
    let item = &a[0];
    if item.is_nil() {
        return Err("slice of untyped nil".into());
    }
    if a.len() > 4 {
        return Err(format!("too many slice indexes: {}", a.len() - 1));
    }
    let len = match item {
        V::Str(s) => {
            if a.len() > 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        V::List(l) => l.len(),
        other => return Err(format!("can't slice item of type {}", type_name(other))),
    };
    let mut idx = [0usize, len];
    for (i, x) in a[1..].iter().enumerate().take(2) {
        idx[i] = index_arg(x, len + 1)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    Ok(match item {
        V::Str(s) => V::Str(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into_owned()),
        V::List(l) => V::list(l[idx[0]..idx[1]].to_vec()),
        _ => unreachable!("checked above"),
    })
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Bool,
    Int,
    Float,
    Str,
    Other,
}

fn kind(v: &V) -> Kind {
    match v {
        V::Bool(_) => Kind::Bool,
        V::Int(_) => Kind::Int,
        V::Float(_) => Kind::Float,
        V::Str(_) => Kind::Str,
        _ => Kind::Other,
    }
}

const BAD_COMPARISON: &str = "incompatible types for comparison";
const BAD_COMPARISON_TYPE: &str = "invalid type for comparison";

fn eq(_: &mut State, a: &[V]) -> Result<V, String> {
    if a.len() < 2 {
        return Err("missing argument for comparison".into());
    }
    for b in &a[1..] {
        if eq_one(&a[0], b)? {
            return Ok(V::Bool(true));
        }
    }
    Ok(V::Bool(false))
}

fn eq_one(x: &V, y: &V) -> Result<bool, String> {
    let (k1, k2) = (kind(x), kind(y));
    if k1 != k2 {
        if !x.is_nil() && !y.is_nil() {
            return Err(BAD_COMPARISON.into());
        }
        return Ok(false);
    }
    Ok(match (x, y) {
        (V::Bool(a), V::Bool(b)) => a == b,
        (V::Int(a), V::Int(b)) => a == b,
        (V::Float(a), V::Float(b)) => a == b,
        (V::Str(a), V::Str(b)) => a == b,
        (V::Nil, V::Nil) => true,
        (V::Nil, _) | (_, V::Nil) => false,
        (V::List(_), _) | (V::Map(_), _) => {
            return Err(format!(
                "non-comparable type {}: {}",
                fmt::sprint_v(x),
                type_name(x)
            ));
        }
        (_, V::List(_)) | (_, V::Map(_)) => {
            return Err(format!(
                "non-comparable type {}: {}",
                fmt::sprint_v(y),
                type_name(y)
            ));
        }
        (V::Object(a), V::Object(b)) => std::rc::Rc::ptr_eq(a, b),
        _ => false,
    })
}

fn lt(x: &V, y: &V) -> Result<bool, String> {
    let (k1, k2) = (kind(x), kind(y));
    if matches!(k1, Kind::Bool | Kind::Other) || matches!(k2, Kind::Bool | Kind::Other) {
        return Err(BAD_COMPARISON_TYPE.into());
    }
    if k1 != k2 {
        return Err(BAD_COMPARISON.into());
    }
    Ok(match (x, y) {
        (V::Int(a), V::Int(b)) => a < b,
        (V::Float(a), V::Float(b)) => a < b,
        (V::Str(a), V::Str(b)) => a < b,
        _ => false,
    })
}

fn le(x: &V, y: &V) -> Result<bool, String> {
    Ok(lt(x, y)? || eq_one(x, y)?)
}

/// Go's `template.HTMLEscapeString`.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c.is_control() => {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
