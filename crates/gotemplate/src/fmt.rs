//! Go's `fmt` printing: `%v` of every value kind, `Sprint`, `Sprintln` and `Sprintf`.

use crate::value::V;
use crate::value::type_name;

/// Go's `%v`.
pub(crate) fn sprint_v(v: &V) -> String {
    let mut s = String::new();
    write_v(&mut s, v);
    s
}

pub(crate) fn write_v(out: &mut String, v: &V) {
    match v {
        V::Nil => out.push_str("<nil>"),
        V::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        V::Int(i) => out.push_str(&i.to_string()),
        V::Float(f) => out.push_str(&format_g_shortest(*f)),
        V::Str(s) => out.push_str(s),
        V::List(l) => {
            out.push('[');
            for (i, x) in l.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, x);
            }
            out.push(']');
        }
        V::Map(m) => {
            out.push_str("map[");
            for (i, (k, x)) in m.borrow().iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                write_v(out, x);
            }
            out.push(']');
        }
        V::Object(o) => match o.method("String", &[]) {
            Some(Ok(crate::Value::String(s))) => out.push_str(&s),
            _ => {
                out.push_str("&{");
                out.push_str(o.type_name());
                out.push('}');
            }
        },
    }
}

/// The shortest decimal digits of `f` and its decimal exponent (`d.ddd × 10^exp`).
fn shortest_digits(f: f64) -> (String, i32) {
    let e = format!("{:e}", f.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    (digits, exp.parse().unwrap_or(0))
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`, which is also `%v`.
pub(crate) fn format_g_shortest(f: f64) -> String {
    if let Some(s) = special_float(f) {
        return s;
    }
    if f == 0.0 {
        return if f.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let (digits, exp) = shortest_digits(f);
    let neg = if f < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        return format!("{neg}{}", e_form(&digits, exp, false));
    }
    format!("{neg}{}", f_form(&digits, exp))
}

fn special_float(f: f64) -> Option<String> {
    if f.is_nan() {
        Some("NaN".into())
    } else if f.is_infinite() {
        Some(if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        })
    } else {
        None
    }
}

/// `d.ddde±XX` from digits and exponent.
fn e_form(digits: &str, exp: i32, upper: bool) -> String {
    let mut s = String::new();
    s.push_str(&digits[..1]);
    if digits.len() > 1 {
        s.push('.');
        s.push_str(&digits[1..]);
    }
    s.push(if upper { 'E' } else { 'e' });
    s.push(if exp < 0 { '-' } else { '+' });
    let a = exp.unsigned_abs();
    if a < 10 {
        s.push('0');
    }
    s.push_str(&a.to_string());
    s
}

/// Plain decimal from digits and exponent, without trailing zeros.
fn f_form(digits: &str, exp: i32) -> String {
    let n = digits.len() as i32;
    if exp < 0 {
        format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
    } else if exp + 1 >= n {
        format!("{}{}", digits, "0".repeat((exp + 1 - n) as usize))
    } else {
        let (a, b) = digits.split_at((exp + 1) as usize);
        format!("{a}.{b}")
    }
}

/// Go's `fmt.Sprint`: spaces between operands when neither side is a string.
pub(crate) fn sprint(args: &[V]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        let is_str = matches!(a, V::Str(_));
        if i > 0 && !is_str && !matches!(args[i - 1], V::Str(_)) {
            out.push(' ');
        }
        write_v(&mut out, a);
    }
    out
}

/// Go's `fmt.Sprintln`.
pub(crate) fn sprintln(args: &[V]) -> String {
    let mut out = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_v(&mut out, a);
    }
    out.push('\n');
    out
}

#[derive(Default, Clone, Copy)]
pub(crate) struct Flags {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprintf`.
pub(crate) fn sprintf(format: &str, args: &[V]) -> String {
    let mut out = String::new();
    let mut argi = 0;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut fl = Flags::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => fl.minus = true,
                '+' => fl.plus = true,
                '#' => fl.sharp = true,
                ' ' => fl.space = true,
                '0' => fl.zero = true,
                _ => break,
            }
            chars.next();
        }
        let num =
            |chars: &mut std::iter::Peekable<std::str::Chars>, argi: &mut usize| -> Option<usize> {
                if chars.peek() == Some(&'*') {
                    chars.next();
                    let v = match args.get(*argi) {
                        Some(V::Int(i)) => Some((*i).max(0) as usize),
                        _ => None,
                    };
                    *argi += 1;
                    return v;
                }
                let mut n: Option<usize> = None;
                while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                    n = Some(n.unwrap_or(0) * 10 + d as usize);
                    chars.next();
                }
                n
            };
        fl.width = num(&mut chars, &mut argi);
        if chars.peek() == Some(&'.') {
            chars.next();
            fl.prec = Some(num(&mut chars, &mut argi).unwrap_or(0));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(argi) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        argi += 1;
        out.push_str(&format_one(verb, fl, arg));
    }
    if argi < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, a) in args[argi..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&format!("{}={}", type_name(a), sprint_v(a)));
        }
        out.push(')');
    }
    out
}

fn bad_verb(verb: char, v: &V) -> String {
    match v {
        V::Nil => format!("%!{verb}(<nil>)"),
        _ => format!("%!{verb}({}={})", type_name(v), sprint_v(v)),
    }
}

fn pad(s: String, fl: Flags, numeric: bool) -> String {
    let Some(w) = fl.width else { return s };
    let n = s.chars().count();
    if n >= w {
        return s;
    }
    let fill = w - n;
    if fl.minus {
        return format!("{s}{}", " ".repeat(fill));
    }
    if fl.zero {
        if numeric && (s.starts_with('-') || s.starts_with('+') || s.starts_with(' ')) {
            let (sign, rest) = s.split_at(1);
            return format!("{sign}{}{rest}", "0".repeat(fill));
        }
        return format!("{}{s}", "0".repeat(fill));
    }
    format!("{}{s}", " ".repeat(fill))
}

fn sign(neg: bool, fl: Flags) -> &'static str {
    if neg {
        "-"
    } else if fl.plus {
        "+"
    } else if fl.space {
        " "
    } else {
        ""
    }
}

fn format_one(verb: char, fl: Flags, v: &V) -> String {
    // Lists and maps apply the verb to each element (except %v/%T/%q of strings).
    match (verb, v) {
        ('T', _) => return pad(type_name(v).to_string(), fl, false),
        ('v', _) => {
            if let (V::Float(f), Some(_)) = (v, fl.prec) {
                return format_float('g', fl, *f);
            }
            let s = if fl.sharp { go_syntax(v) } else { sprint_v(v) };
            return pad(s, fl, matches!(v, V::Int(_) | V::Float(_)));
        }
        // Any other verb applies to each element of a list or map, as Go's does.
        (_, V::List(l)) => {
            let inner: Vec<String> = l.iter().map(|x| format_one(verb, fl, x)).collect();
            return format!("[{}]", inner.join(" "));
        }
        (_, V::Map(m)) => {
            let inner: Vec<String> = m
                .borrow()
                .iter()
                .map(|(k, x)| {
                    format!(
                        "{}:{}",
                        format_one(verb, fl, &V::Str(k.clone())),
                        format_one(verb, fl, x)
                    )
                })
                .collect();
            return format!("map[{}]", inner.join(" "));
        }
        _ => {}
    }
    match v {
        V::Bool(b) => match verb {
            't' => pad(b.to_string(), fl, false),
            _ => bad_verb(verb, v),
        },
        V::Int(i) => format_int(verb, fl, *i).unwrap_or_else(|| bad_verb(verb, v)),
        V::Float(f) => match verb {
            'e' | 'E' | 'f' | 'F' | 'g' | 'G' => format_float(verb, fl, *f),
            _ => bad_verb(verb, v),
        },
        V::Str(s) => match verb {
            's' => {
                let s: String = match fl.prec {
                    Some(p) => s.chars().take(p).collect(),
                    None => s.clone(),
                };
                pad(s, fl, false)
            }
            'q' => pad(
                if fl.sharp && !s.contains('`') {
                    format!("`{s}`")
                } else {
                    go_quote(s)
                },
                fl,
                false,
            ),
            'x' | 'X' => {
                let mut h: String = s.bytes().map(|b| format!("{b:02x}")).collect();
                if verb == 'X' {
                    h = h.to_uppercase();
                }
                pad(h, fl, false)
            }
            _ => bad_verb(verb, v),
        },
        V::Nil => match verb {
            's' | 'd' | 'q' | 'x' | 'f' | 'g' | 'e' | 't' => bad_verb(verb, v),
            _ => pad("<nil>".into(), fl, false),
        },
        V::Object(_) => match verb {
            's' => pad(sprint_v(v), fl, false),
            _ => bad_verb(verb, v),
        },
        V::List(_) | V::Map(_) => pad(sprint_v(v), fl, false),
    }
}

fn format_int(verb: char, fl: Flags, i: i64) -> Option<String> {
    let neg = i < 0;
    let a = i.unsigned_abs();
    let body = match verb {
        'd' => a.to_string(),
        'x' => format!("{}{a:x}", if fl.sharp { "0x" } else { "" }),
        'X' => format!("{}{a:X}", if fl.sharp { "0X" } else { "" }),
        'o' => format!("{}{a:o}", if fl.sharp { "0" } else { "" }),
        'O' => format!("0o{a:o}"),
        'b' => format!("{a:b}"),
        'c' => {
            return Some(pad(
                char::from_u32(i as u32).unwrap_or('\u{fffd}').to_string(),
                fl,
                false,
            ));
        }
        'q' => {
            return Some(pad(
                go_quote_char(char::from_u32(i as u32).unwrap_or('\u{fffd}')),
                fl,
                false,
            ));
        }
        'U' => return Some(pad(format!("U+{a:04X}"), fl, false)),
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' | 's' | 't' => return None,
        _ => return None,
    };
    let body = match fl.prec {
        Some(p) if body.len() < p => format!("{}{body}", "0".repeat(p - body.len())),
        _ => body,
    };
    let s = format!("{}{body}", sign(neg, fl));
    let fl = if fl.prec.is_some() {
        Flags { zero: false, ..fl }
    } else {
        fl
    };
    Some(pad(s, fl, true))
}

/// Go's `%e`, `%f`, `%g` with flags, width and precision.
pub(crate) fn format_float(verb: char, fl: Flags, f: f64) -> String {
    if let Some(s) = special_float(f) {
        let s = if s == "+Inf" && !fl.plus {
            "+Inf".to_string()
        } else {
            s
        };
        return pad(s, Flags { zero: false, ..fl }, false);
    }
    let neg = f.is_sign_negative() && f != 0.0 || (f == 0.0 && f.is_sign_negative());
    let a = f.abs();
    let body = match verb {
        'f' | 'F' => format!("{:.*}", fl.prec.unwrap_or(6), a),
        'e' | 'E' => {
            let p = fl.prec.unwrap_or(6);
            let s = format!("{:.*e}", p, a);
            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
            let e: i32 = e.parse().unwrap_or(0);
            let ex = format!(
                "{}{}{:02}",
                if verb == 'E' { 'E' } else { 'e' },
                if e < 0 { '-' } else { '+' },
                e.unsigned_abs()
            );
            format!("{m}{ex}")
        }
        _ => match fl.prec {
            None => {
                let s = format_g_shortest(a);
                if verb == 'G' { s.to_uppercase() } else { s }
            }
            Some(p) => {
                let p = p.max(1);
                let s = format!("{:.*e}", p - 1, a);
                let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                let exp: i32 = e.parse().unwrap_or(0);
                let digits: String = m.chars().filter(|c| *c != '.').collect();
                let digits = digits.trim_end_matches('0');
                let digits = if digits.is_empty() { "0" } else { digits };
                if exp < -4 || exp >= p as i32 {
                    e_form(digits, exp, verb == 'G')
                } else {
                    f_form(digits, exp)
                }
            }
        },
    };
    pad(format!("{}{body}", sign(neg, fl)), fl, true)
}

/// Go's `strconv.Quote`.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c == '\u{fffd}' => out.push(c),
            c if is_go_printable(c) => out.push(c),
            c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('"');
    out
}

fn is_go_printable(c: char) -> bool {
    !c.is_control()
        && !matches!(
            c,
            '\u{2028}' | '\u{2029}' | '\u{200b}'..='\u{200f}' | '\u{feff}' | '\u{ad}'
        )
}

fn go_quote_char(c: char) -> String {
    match c {
        '\'' => "'\\''".into(),
        '\\' => "'\\\\'".into(),
        '\n' => "'\\n'".into(),
        '\t' => "'\\t'".into(),
        '\r' => "'\\r'".into(),
        c if is_go_printable(c) => format!("'{c}'"),
        c => format!("'\\u{:04x}'", c as u32),
    }
}

/// Go's `%#v`.
fn go_syntax(v: &V) -> String {
    match v {
        V::Nil => "<nil>".into(),
        V::Str(s) => go_quote(s),
        V::List(l) => format!(
            "[]interface {{}}{{{}}}",
            l.iter().map(go_syntax).collect::<Vec<_>>().join(", ")
        ),
        V::Map(m) => format!(
            "map[string]interface {{}}{{{}}}",
            m.borrow()
                .iter()
                .map(|(k, x)| format!("{}:{}", go_quote(k), go_syntax(x)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        V::Float(f) => format_g_shortest(*f),
        other => sprint_v(other),
    }
}
