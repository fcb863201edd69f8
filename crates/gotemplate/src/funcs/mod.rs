//! The function library: Go's builtins, Sprig v3 and Helm's functions.
//!
//! Each function declares its Go parameter types ([`Ty`]); the executor converts and
//! checks arguments against them before the call, with Go's error texts, so a function
//! body only sees values of the declared kinds.

use std::collections::HashMap;

use crate::exec::State;
use crate::fmt;
use crate::value::V;

mod builtin;
mod crypto;
mod dates;
mod dicts;
mod encoding;
mod helm;
pub(crate) use helm::{helm_exec_error, helm_parse_error};
mod lists;
mod math;
mod strings;

/// A Go parameter type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    Any,
    Str,
    Int,
    Float,
    Bool,
    Map,
}

impl Ty {
    pub(crate) fn go_name(self) -> &'static str {
        match self {
            Ty::Any => "interface {}",
            Ty::Str => "string",
            Ty::Int => "int",
            Ty::Float => "float64",
            Ty::Bool => "bool",
            Ty::Map => "map[string]interface {}",
        }
    }
}

pub(crate) type FnImpl = fn(&mut State, &[V]) -> Result<V, String>;

/// A function: its parameters, an optional variadic tail, and its body.
pub(crate) struct Func {
    pub params: &'static [Ty],
    pub variadic: Option<Ty>,
    pub f: FnImpl,
}

pub(crate) type Funcs = HashMap<&'static str, Func>;

pub(crate) fn reg(
    m: &mut Funcs,
    name: &'static str,
    params: &'static [Ty],
    variadic: Option<Ty>,
    f: FnImpl,
) {
    m.insert(
        name,
        Func {
            params,
            variadic,
            f,
        },
    );
}

pub(crate) fn go_builtins() -> Funcs {
    let mut m = Funcs::new();
    builtin::register(&mut m);
    m
}

pub(crate) fn helm_funcs() -> Funcs {
    let mut m = go_builtins();
    strings::register(&mut m);
    math::register(&mut m);
    lists::register(&mut m);
    dicts::register(&mut m);
    encoding::register(&mut m);
    crypto::register(&mut m);
    dates::register(&mut m);
    helm::register(&mut m);
    m
}

// Conversions shared by the Sprig functions, following the rules of the Go libraries
// Sprig uses (`fmt` for strings, `spf13/cast` for numbers).

/// Sprig's `strval`: strings as they are, anything else as `%v` prints it.
pub(crate) fn strval(v: &V) -> String {
    match v {
        V::Str(s) => s.clone(),
        other => fmt::sprint_v(other),
    }
}

/// `cast.ToInt64`: numbers truncated, strings parsed (0 when they do not parse).
pub(crate) fn to_i64(v: &V) -> i64 {
    match v {
        V::Int(i) => *i,
        V::Float(f) => *f as i64,
        V::Bool(b) => i64::from(*b),
        V::Str(s) => parse_go_int(s.trim_end_matches(".0").trim_end_matches('.')).unwrap_or(0),
        _ => 0,
    }
}

/// `cast.ToFloat64`.
pub(crate) fn to_f64(v: &V) -> f64 {
    match v {
        V::Int(i) => *i as f64,
        V::Float(f) => *f,
        V::Bool(b) => f64::from(u8::from(*b)),
        V::Str(s) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

/// `strconv.ParseInt(s, 0, 64)`: decimal, `0x`, `0o`, `0b` and leading-zero octal.
pub(crate) fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let body = body.replace('_', "");
    let v = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = body.strip_prefix("0o").or_else(|| body.strip_prefix("0O")) {
        i64::from_str_radix(o, 8).ok()?
    } else if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        i64::from_str_radix(b, 2).ok()?
    } else if body.len() > 1 && body.starts_with('0') {
        i64::from_str_radix(&body[1..], 8).ok()?
    } else {
        if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        body.parse().ok()?
    };
    Some(if neg { -v } else { v })
}

/// Sprig's `empty`: nil, false, 0, and empty strings, lists and maps.
pub(crate) fn empty(v: &V) -> bool {
    match v {
        V::Nil => true,
        V::Bool(b) => !b,
        V::Int(i) => *i == 0,
        V::Float(f) => *f == 0.0,
        V::Str(s) => s.is_empty(),
        V::List(l) => l.is_empty(),
        V::Map(m) => m.borrow().is_empty(),
        V::Object(_) => false,
    }
}

/// Sprig's `strslice`: a list as strings (nil items dropped), or one string.
pub(crate) fn strslice(v: &V) -> Vec<String> {
    match v {
        V::List(l) => l.iter().filter(|x| !x.is_nil()).map(strval).collect(),
        V::Nil => Vec::new(),
        other => vec![strval(other)],
    }
}

impl V {
    pub(crate) fn is_nil(&self) -> bool {
        matches!(self, V::Nil)
    }

    /// The string of a parameter declared [`Ty::Str`].
    pub(crate) fn s(&self) -> &str {
        match self {
            V::Str(s) => s,
            _ => "",
        }
    }

    /// The integer of a parameter declared [`Ty::Int`].
    pub(crate) fn i(&self) -> i64 {
        match self {
            V::Int(i) => *i,
            _ => 0,
        }
    }
}
