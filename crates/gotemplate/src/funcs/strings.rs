//! Sprig's string functions.

use std::collections::BTreeMap;

use rand::RngExt;
use regex::Regex;

use super::{Funcs, Ty, reg, strslice, strval, to_f64, to_i64};
use crate::exec::State;
use crate::fmt;
use crate::value::V;

use Ty::{Any, Int, Str};

pub(crate) fn register(m: &mut Funcs) {
    reg(m, "trim", &[Str], None, |_, a| {
        Ok(V::str(a[0].s().trim_matches(is_go_space)))
    });
    reg(m, "trimAll", &[Str, Str], None, |_, a| {
        Ok(V::str(trim_set(a[1].s(), a[0].s())))
    });
    reg(m, "trimall", &[Str, Str], None, |_, a| {
        Ok(V::str(trim_set(a[1].s(), a[0].s())))
    });
    reg(m, "trimSuffix", &[Str, Str], None, |_, a| {
        Ok(V::str(a[1].s().strip_suffix(a[0].s()).unwrap_or(a[1].s())))
    });
    reg(m, "trimPrefix", &[Str, Str], None, |_, a| {
        Ok(V::str(a[1].s().strip_prefix(a[0].s()).unwrap_or(a[1].s())))
    });
    reg(m, "upper", &[Str], None, |_, a| {
        Ok(V::str(a[0].s().to_uppercase()))
    });
    reg(m, "lower", &[Str], None, |_, a| {
        Ok(V::str(a[0].s().to_lowercase()))
    });
    reg(m, "title", &[Str], None, |_, a| Ok(V::str(title(a[0].s()))));
    reg(m, "untitle", &[Str], None, |_, a| {
        Ok(V::str(untitle(a[0].s())))
    });
    reg(m, "repeat", &[Int, Str], None, |_, a| {
        let n = a[0].i();
        if n < 0 {
            return Err("strings: negative Repeat count".into());
        }
        Ok(V::str(a[1].s().repeat(n as usize)))
    });
    reg(m, "substr", &[Int, Int, Str], None, |_, a| {
        Ok(V::str(substr(a[0].i(), a[1].i(), a[2].s())))
    });
    reg(m, "nospace", &[Str], None, |_, a| {
        Ok(V::str(
            a[0].s()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect::<String>(),
        ))
    });
    reg(m, "trunc", &[Int, Str], None, |_, a| {
        Ok(V::str(trunc(a[0].i(), a[1].s())))
    });
    reg(m, "abbrev", &[Int, Str], None, |_, a| {
        Ok(V::str(abbrev(a[0].i(), a[1].s())))
    });
    reg(m, "abbrevboth", &[Int, Int, Str], None, |_, a| {
        Ok(V::str(abbrevboth(a[0].i(), a[1].i(), a[2].s())))
    });
    reg(m, "initials", &[Str], None, |_, a| {
        Ok(V::str(
            a[0].s()
                .split_whitespace()
                .filter_map(|w| w.chars().next())
                .collect::<String>(),
        ))
    });
    reg(m, "randAlphaNum", &[Int], None, |_, a| {
        Ok(V::str(random(
            a[0].i(),
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        )))
    });
    reg(m, "randAlpha", &[Int], None, |_, a| {
        Ok(V::str(random(
            a[0].i(),
            b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
        )))
    });
    reg(m, "randNumeric", &[Int], None, |_, a| {
        Ok(V::str(random(a[0].i(), b"0123456789")))
    });
    reg(m, "randAscii", &[Int], None, |_, a| {
        let chars: Vec<u8> = (32u8..=126).collect();
        Ok(V::str(random(a[0].i(), &chars)))
    });
    reg(m, "wrap", &[Int, Str], None, |_, a| {
        Ok(V::str(wrap(a[1].s(), a[0].i(), "\n")))
    });
    reg(m, "wrapWith", &[Int, Str, Str], None, |_, a| {
        Ok(V::str(wrap(a[2].s(), a[0].i(), a[1].s())))
    });
    reg(m, "contains", &[Str, Str], None, |_, a| {
        Ok(V::Bool(a[1].s().contains(a[0].s())))
    });
    reg(m, "hasPrefix", &[Str, Str], None, |_, a| {
        Ok(V::Bool(a[1].s().starts_with(a[0].s())))
    });
    reg(m, "hasSuffix", &[Str, Str], None, |_, a| {
        Ok(V::Bool(a[1].s().ends_with(a[0].s())))
    });
    reg(m, "quote", &[], Some(Any), |_, a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|x| !x.is_nil())
            .map(|x| fmt::go_quote(&strval(x)))
            .collect();
        Ok(V::str(parts.join(" ")))
    });
    reg(m, "squote", &[], Some(Any), |_, a| {
        let parts: Vec<String> = a
            .iter()
            .filter(|x| !x.is_nil())
            .map(|x| format!("'{}'", strval(x)))
            .collect();
        Ok(V::str(parts.join(" ")))
    });
    reg(m, "cat", &[], Some(Any), |_, a| {
        let parts: Vec<String> = a.iter().filter(|x| !x.is_nil()).map(strval).collect();
        Ok(V::str(parts.join(" ")))
    });
    reg(m, "indent", &[Int, Str], None, |_, a| {
        Ok(V::str(indent(a[0].i(), a[1].s())))
    });
    reg(m, "nindent", &[Int, Str], None, |_, a| {
        Ok(V::str(format!("\n{}", indent(a[0].i(), a[1].s()))))
    });
    reg(m, "replace", &[Str, Str, Str], None, |_, a| {
        Ok(V::str(replace_all(a[2].s(), a[0].s(), a[1].s())))
    });
    reg(m, "plural", &[Str, Str, Int], None, |_, a| {
        Ok(if a[2].i() == 1 {
            a[0].clone()
        } else {
            a[1].clone()
        })
    });
    reg(m, "snakecase", &[Str], None, |_, a| {
        Ok(V::str(delimited_case(a[0].s(), '_')))
    });
    reg(m, "kebabcase", &[Str], None, |_, a| {
        Ok(V::str(delimited_case(a[0].s(), '-')))
    });
    reg(m, "camelcase", &[Str], None, |_, a| {
        Ok(V::str(camelcase(a[0].s())))
    });
    reg(m, "swapcase", &[Str], None, |_, a| {
        Ok(V::str(swapcase(a[0].s())))
    });
    reg(m, "shuffle", &[Str], None, |_, a| {
        let mut chars: Vec<char> = a[0].s().chars().collect();
        let mut rng = rand::rng();
        for i in (1..chars.len()).rev() {
            let j = rng.random_range(0..=i);
            chars.swap(i, j);
        }
        Ok(V::str(chars.into_iter().collect::<String>()))
    });
    reg(m, "toString", &[Any], None, |_, a| {
        Ok(V::str(strval(&a[0])))
    });
    reg(m, "toStrings", &[Any], None, |_, a| {
        Ok(V::list(strslice(&a[0]).into_iter().map(V::Str).collect()))
    });
    reg(m, "split", &[Str, Str], None, |_, a| {
        Ok(indexed_map(go_split(a[1].s(), a[0].s(), -1)))
    });
    reg(m, "splitn", &[Str, Int, Str], None, |_, a| {
        Ok(indexed_map(go_split(a[2].s(), a[0].s(), a[1].i())))
    });
    reg(m, "splitList", &[Str, Str], None, |_, a| {
        Ok(V::list(
            go_split(a[1].s(), a[0].s(), -1)
                .into_iter()
                .map(V::Str)
                .collect(),
        ))
    });
    reg(m, "join", &[Str, Any], None, |_, a| {
        Ok(V::str(strslice(&a[1]).join(a[0].s())))
    });
    reg(m, "sortAlpha", &[Any], None, |_, a| {
        let mut v = match &a[0] {
            V::List(_) => strslice(&a[0]),
            other => vec![strval(other)],
        };
        v.sort();
        Ok(V::list(v.into_iter().map(V::Str).collect()))
    });
    reg(m, "atoi", &[Str], None, |_, a| {
        Ok(V::Int(a[0].s().parse().unwrap_or(0)))
    });
    reg(m, "int", &[Any], None, |_, a| Ok(V::Int(to_i64(&a[0]))));
    reg(m, "int64", &[Any], None, |_, a| Ok(V::Int(to_i64(&a[0]))));
    reg(m, "float64", &[Any], None, |_, a| {
        Ok(V::Float(to_f64(&a[0])))
    });
    reg(m, "toDecimal", &[Any], None, |_, a| {
        Ok(V::Int(i64::from_str_radix(&strval(&a[0]), 8).unwrap_or(0)))
    });
    reg(m, "regexMatch", &[Str, Str], None, |_, a| {
        Ok(V::Bool(
            re(a[0].s()).map(|r| r.is_match(a[1].s())).unwrap_or(false),
        ))
    });
    reg(m, "mustRegexMatch", &[Str, Str], None, |_, a| {
        Ok(V::Bool(re(a[0].s())?.is_match(a[1].s())))
    });
    reg(m, "regexFindAll", &[Str, Str, Int], None, |_, a| {
        Ok(re(a[0].s())
            .map(|r| find_all(&r, a[1].s(), a[2].i()))
            .unwrap_or(V::list(vec![])))
    });
    reg(m, "mustRegexFindAll", &[Str, Str, Int], None, |_, a| {
        Ok(find_all(&re(a[0].s())?, a[1].s(), a[2].i()))
    });
    reg(m, "regexFind", &[Str, Str], None, |_, a| {
        Ok(V::str(
            re(a[0].s())
                .ok()
                .and_then(|r| r.find(a[1].s()).map(|m| m.as_str().to_string()))
                .unwrap_or_default(),
        ))
    });
    reg(m, "mustRegexFind", &[Str, Str], None, |_, a| {
        Ok(V::str(
            re(a[0].s())?
                .find(a[1].s())
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
        ))
    });
    reg(m, "regexReplaceAll", &[Str, Str, Str], None, |_, a| {
        Ok(V::str(
            re(a[0].s())
                .map(|r| {
                    r.replace_all(a[1].s(), go_expand(a[2].s()).as_str())
                        .into_owned()
                })
                .unwrap_or_default(),
        ))
    });
    reg(m, "mustRegexReplaceAll", &[Str, Str, Str], None, |_, a| {
        Ok(V::str(
            re(a[0].s())?
                .replace_all(a[1].s(), go_expand(a[2].s()).as_str())
                .into_owned(),
        ))
    });
    reg(
        m,
        "regexReplaceAllLiteral",
        &[Str, Str, Str],
        None,
        |_, a| {
            Ok(V::str(
                re(a[0].s())
                    .map(|r| {
                        r.replace_all(a[1].s(), regex::NoExpand(a[2].s()))
                            .into_owned()
                    })
                    .unwrap_or_default(),
            ))
        },
    );
    reg(
        m,
        "mustRegexReplaceAllLiteral",
        &[Str, Str, Str],
        None,
        |_, a| {
            Ok(V::str(
                re(a[0].s())?
                    .replace_all(a[1].s(), regex::NoExpand(a[2].s()))
                    .into_owned(),
            ))
        },
    );
    reg(m, "regexSplit", &[Str, Str, Int], None, |_, a| {
        Ok(re(a[0].s())
            .map(|r| regex_split(&r, a[1].s(), a[2].i()))
            .unwrap_or(V::list(vec![])))
    });
    reg(m, "mustRegexSplit", &[Str, Str, Int], None, |_, a| {
        Ok(regex_split(&re(a[0].s())?, a[1].s(), a[2].i()))
    });
    reg(m, "regexQuoteMeta", &[Str], None, |_, a| {
        Ok(V::str(regex::escape(a[0].s())))
    });
    reg(m, "hello", &[], None, |_, _| Ok(V::str("Hello!")));
    reg(m, "seq", &[], Some(Int), seq);
}

fn is_go_space(c: char) -> bool {
    c.is_whitespace()
}

fn trim_set<'a>(s: &'a str, set: &str) -> &'a str {
    s.trim_matches(|c| set.contains(c))
}

/// Go's deprecated `strings.Title`: the first letter of each word upper-cased.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_sep = true;
    for c in s.chars() {
        if prev_sep {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        // Go's `isSeparator`: ASCII other than letters, digits and `_`; beyond
        // ASCII, only spaces.
        prev_sep = if c.is_ascii() {
            !(c.is_ascii_alphanumeric() || c == '_')
        } else {
            c.is_whitespace()
        };
    }
    out
}

fn untitle(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut prev_space = true;
    for c in s.chars() {
        if prev_space && c.is_alphabetic() {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
        prev_space = c.is_whitespace();
    }
    out
}

fn substr(start: i64, end: i64, s: &str) -> String {
    let b = s.as_bytes();
    let len = b.len() as i64;
    let (st, en) = if start < 0 {
        (0, end.clamp(0, len))
    } else if end < 0 || end > len {
        (start.min(len), len)
    } else {
        (start.min(end), end)
    };
    String::from_utf8_lossy(&b[st as usize..en as usize]).into_owned()
}

fn trunc(c: i64, s: &str) -> String {
    let len = s.len() as i64;
    let b = s.as_bytes();
    if c < 0 && len + c > 0 {
        return String::from_utf8_lossy(&b[(len + c) as usize..]).into_owned();
    }
    if c >= 0 && len > c {
        return String::from_utf8_lossy(&b[..c as usize]).into_owned();
    }
    s.to_string()
}

fn abbrev(width: i64, s: &str) -> String {
    if width < 4 || (s.chars().count() as i64) <= width {
        return s.to_string();
    }
    let keep: String = s.chars().take((width - 3) as usize).collect();
    format!("{keep}...")
}

fn abbrevboth(left: i64, right: i64, s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len() as i64;
    if right < 4 || (left > 0 && right < 7) || n <= right {
        return s.to_string();
    }
    let mut offset = left.max(0);
    if offset > n {
        offset = n;
    }
    if n - offset < right - 3 {
        offset = n - (right - 3);
    }
    if offset <= 4 {
        return abbrev(right, s);
    }
    if right < 7 {
        return s.to_string();
    }
    if offset + right - 3 < n {
        let rest: String = chars[offset as usize..].iter().collect();
        return format!("...{}", abbrev(right - 3, &rest));
    }
    let tail: String = chars[(n - (right - 3)) as usize..].iter().collect();
    format!("...{tail}")
}

fn random(n: i64, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..n.max(0))
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// Word wrapping as Sprig's `wrap` does it (goutils' `WrapCustom` without wrapping
/// long words): byte positions; a word longer than the width stays whole.
fn wrap(s: &str, width: i64, nl: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    let nl = if nl.is_empty() { "\n" } else { nl };
    let width = width.max(1) as usize;
    let b = s.as_bytes();
    let len = b.len();
    let sub = |from: usize, to: usize| {
        String::from_utf8_lossy(&b[from.min(len)..to.min(len)]).into_owned()
    };
    let mut out = String::new();
    let mut offset = 0;
    while len - offset > width {
        if b[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = (width + offset + 1).min(len);
        match b[offset..end].iter().rposition(|&c| c == b' ') {
            Some(i) => {
                let at = offset + i;
                out.push_str(&sub(offset, at));
                out.push_str(nl);
                offset = at + 1;
            }
            None => {
                let end = width + offset;
                match b[end..].iter().position(|&c| c == b' ') {
                    None => {
                        out.push_str(&sub(offset, len));
                        offset = len;
                    }
                    Some(index) => {
                        let at = index + end;
                        out.push_str(&sub(offset, at));
                        out.push_str(nl);
                        offset = at + 1;
                    }
                }
            }
        }
    }
    out.push_str(&sub(offset, len));
    out
}

fn indent(n: i64, s: &str) -> String {
    let pad = " ".repeat(n.max(0) as usize);
    format!("{pad}{}", s.replace('\n', &format!("\n{pad}")))
}

fn replace_all(s: &str, old: &str, new: &str) -> String {
    if old.is_empty() {
        // Go inserts `new` before every rune and at the end.
        let mut out = String::new();
        for c in s.chars() {
            out.push_str(new);
            out.push(c);
        }
        out.push_str(new);
        return out;
    }
    s.replace(old, new)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum WordType {
    Invalid,
    Number,
    Upper,
    Alphabet,
    Connector,
    Punct,
    Other,
}

fn is_connector(c: char) -> bool {
    c == '-' || c == '_' || c.is_whitespace()
}

/// Go's `unicode.IsPunct` for ASCII (Unicode category P); other scripts count as
/// "other" characters here.
fn is_punct(c: char) -> bool {
    matches!(
        c,
        '!' | '"'
            | '#'
            | '%'
            | '&'
            | '\''
            | '('
            | ')'
            | '*'
            | ','
            | '.'
            | '/'
            | ':'
            | ';'
            | '?'
            | '@'
            | '['
            | '\\'
            | ']'
            | '_'
            | '{'
            | '}'
            | '-'
    )
}

/// The next word of a string as the `xstrings` case functions split it: a run of
/// connectors, of punctuation, of digits, an upper-case word (`HTTP` of `HTTPServer`,
/// `First` of `FirstName`), a lower-case word, or other characters.
fn next_word(s: &str) -> (WordType, &str, &str) {
    let mut it = s.char_indices().peekable();
    let Some((_, c)) = it.next() else {
        return (WordType::Invalid, "", "");
    };
    let take_while = |start: usize, pred: &dyn Fn(char) -> bool| -> usize {
        s[start..]
            .char_indices()
            .find(|&(_, ch)| !pred(ch))
            .map_or(s.len(), |(i, _)| start + i)
    };
    let first = c.len_utf8();
    let end = if is_connector(c) {
        (WordType::Connector, take_while(first, &is_connector))
    } else if is_punct(c) {
        (WordType::Punct, take_while(first, &is_punct))
    } else if c.is_uppercase() {
        match s[first..].chars().next() {
            None => (WordType::Upper, first),
            Some(n) if n.is_uppercase() => {
                let run = take_while(first, &|ch: char| ch.is_uppercase());
                // `HTTPStatus` is `HTTP` and `Status`: the last capital starts the next word.
                let after = s[run..].chars().next();
                let end = match after {
                    Some(a) if a.is_ascii_alphabetic() => {
                        let last = s[..run].chars().next_back().map_or(0, char::len_utf8);
                        run - last
                    }
                    _ => run,
                };
                (WordType::Upper, end)
            }
            Some(n) if n.is_ascii_alphabetic() => (
                WordType::Upper,
                take_while(first, &|ch: char| {
                    ch.is_ascii_alphabetic() && !ch.is_uppercase()
                }),
            ),
            Some(_) => (WordType::Upper, first),
        }
    } else if c.is_ascii_alphabetic() {
        (
            WordType::Alphabet,
            take_while(first, &|ch: char| {
                ch.is_ascii_alphabetic() && !ch.is_uppercase()
            }),
        )
    } else if c.is_numeric() {
        (WordType::Number, take_while(first, &char::is_numeric))
    } else {
        (
            WordType::Other,
            take_while(first, &|ch: char| {
                !(is_connector(ch) || ch.is_ascii_alphabetic() || ch.is_numeric() || is_punct(ch))
            }),
        )
    };
    let (wt, end) = end;
    (wt, &s[..end], &s[end..])
}

fn push_lower(out: &mut String, wt: WordType, word: &str, connector: char) {
    if wt != WordType::Upper && wt != WordType::Connector {
        out.push_str(word);
        return;
    }
    for c in word.chars() {
        if is_connector(c) {
            out.push(connector);
        } else if c.is_uppercase() {
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
}

/// `xstrings.ToSnakeCase` / `ToKebabCase`: `HTTPServer` to `http_server`,
/// `http2xx` to `http_2xx`, `Bld4Floor3rd` to `bld4_floor_3rd`.
fn delimited_case(s: &str, connector: char) -> String {
    use WordType::*;
    let mut out = String::new();
    if s.is_empty() {
        return out;
    }
    let (mut wt, mut word, mut rest) = next_word(s);
    while !rest.is_empty() {
        if wt != Connector {
            push_lower(&mut out, wt, word, connector);
        }
        let prev = wt;
        let last = word;
        (wt, word, rest) = next_word(rest);
        match prev {
            Number => {
                while wt == Alphabet || wt == Number {
                    push_lower(&mut out, wt, word, connector);
                    (wt, word, rest) = next_word(rest);
                }
                if !matches!(wt, Invalid | Punct | Connector) {
                    out.push(connector);
                }
            }
            Connector => push_lower(&mut out, prev, last, connector),
            Punct => {}
            _ => {
                if wt != Number {
                    if !matches!(wt, Connector | Punct) {
                        out.push(connector);
                    }
                    continue;
                }
                if rest.is_empty() {
                    continue;
                }
                let number = word;
                (wt, word, rest) = next_word(rest);
                // A number followed by no letters belongs to the word before it.
                if wt != Alphabet {
                    push_lower(&mut out, Number, number, connector);
                    if !matches!(wt, Connector | Punct) {
                        out.push(connector);
                    }
                    continue;
                }
                out.push(connector);
                push_lower(&mut out, Number, number, connector);
                while wt == Alphabet || wt == Number {
                    push_lower(&mut out, wt, word, connector);
                    (wt, word, rest) = next_word(rest);
                }
                if !matches!(wt, Invalid | Connector | Punct) {
                    out.push(connector);
                }
            }
        }
    }
    push_lower(&mut out, wt, word, connector);
    out
}

/// Sprig's `camelcase` (`xstrings.ToPascalCase`): words separated by spaces,
/// underscores and hyphens joined with capitals; `http_server` to `HttpServer`.
fn camelcase(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    let mut r0 = '\0';
    let mut first_upper = false;
    let mut found = false;
    for c in chars.by_ref() {
        if !is_connector(c) {
            first_upper = c.is_uppercase();
            r0 = c.to_uppercase().next().unwrap_or(c);
            found = true;
            break;
        }
        out.push(c);
    }
    if !found {
        return out;
    }
    for c in chars {
        let r1 = r0;
        r0 = c;
        if is_connector(r0) && is_connector(r1) {
            out.push(r1);
            continue;
        }
        if is_connector(r1) {
            first_upper = r0.is_uppercase();
            r0 = r0.to_uppercase().next().unwrap_or(r0);
        } else {
            if first_upper {
                if r0.is_uppercase() {
                    r0 = r0.to_lowercase().next().unwrap_or(r0);
                } else {
                    first_upper = false;
                }
            }
            out.push(r1);
        }
    }
    out.push(r0);
    out
}

fn swapcase(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_uppercase() {
                c.to_lowercase().collect::<String>()
            } else if c.is_lowercase() {
                c.to_uppercase().collect()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Go's `strings.SplitN` (n < 0: all).
fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if sep.is_empty() {
        let chars: Vec<String> = s.chars().map(String::from).collect();
        if n > 0 && chars.len() > n as usize {
            let mut v: Vec<String> = chars[..n as usize - 1].to_vec();
            v.push(chars[n as usize - 1..].concat());
            return v;
        }
        return chars;
    }
    if n < 0 {
        return s.split(sep).map(String::from).collect();
    }
    s.splitn(n as usize, sep).map(String::from).collect()
}

fn indexed_map(parts: Vec<String>) -> V {
    let m: BTreeMap<String, V> = parts
        .into_iter()
        .enumerate()
        .map(|(i, p)| (format!("_{i}"), V::Str(p)))
        .collect();
    V::map(m)
}

fn re(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| {
        format!(
            "error parsing regexp: {}",
            e.to_string().lines().last().unwrap_or_default().trim()
        )
    })
}

fn find_all(r: &Regex, s: &str, n: i64) -> V {
    let it = r.find_iter(s).map(|m| V::str(m.as_str()));
    V::list(if n < 0 {
        it.collect()
    } else {
        it.take(n as usize).collect()
    })
}

fn regex_split(r: &Regex, s: &str, n: i64) -> V {
    if n == 0 {
        return V::list(vec![]);
    }
    let parts: Vec<V> = if n < 0 {
        r.split(s).map(V::str).collect()
    } else {
        r.splitn(s, n as usize).map(V::str).collect()
    };
    V::list(parts)
}

/// Go's `Regexp.Expand` template syntax (`$1`, `${name}`) in the regex crate's form.
fn go_expand(t: &str) -> String {
    // Both use `$name` and `${name}`; Go reads `$1x` as the group named `1x`, as the
    // regex crate does, so the syntax carries over unchanged.
    t.to_string()
}

/// Sprig's `seq`, like the `seq` command: `seq 3`, `seq 2 5`, `seq 0 2 10`.
fn seq(_: &mut State, a: &[V]) -> Result<V, String> {
    let p: Vec<i64> = a.iter().map(|x| x.i()).collect();
    let (start, step, end) = match p.as_slice() {
        [] => return Ok(V::str("")),
        [end] => (1, 1, *end),
        [start, end] => (*start, if end >= start { 1 } else { -1 }, *end),
        [start, step, end] => (*start, *step, *end),
        _ => return Ok(V::str("")),
    };
    let mut out = Vec::new();
    if step == 0 {
        return Ok(V::str(""));
    }
    let mut i = start;
    if p.len() == 1 && end < 1 {
        let mut j = 1;
        while j >= end {
            out.push(j.to_string());
            j -= 1;
        }
        return Ok(V::str(out.join(" ")));
    }
    while (step > 0 && i <= end) || (step < 0 && i >= end) {
        out.push(i.to_string());
        i += step;
    }
    Ok(V::str(out.join(" ")))
}
